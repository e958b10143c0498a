"""TikTok Display API v2: user info, the video list and video queries of one account.

Every reply carries the envelope ``{"data": {...}, "error": {"code", "message", "log_id"}}``
and HTTP 200 is success only when ``error.code == "ok"``; ``classify`` reads the envelope
first and the status second. Reads of videos are POSTs with ``fields`` in the query string.

Streams and the ``context`` each RawResponse carries (the transform relies on both):

* ``user``: ``GET /v2/user/info/?fields=...``; context ``{}``.
* ``videos``: ``POST /v2/video/list/?fields=...`` with ``{"max_count": 20, "cursor": <ms>}``,
  newest first, while ``data.has_more``; context ``{}``.
* ``video_query``: ``POST /v2/video/query/?fields=...`` with
  ``{"filters": {"video_ids": [...]}}``, at most 20 ids; context ``{"video_ids": "a,b,..."}``.
* ``oauth_token`` (a refresh: tokens redacted) and ``auth_rejected`` (the 401 that caused it):
  landed for the record; the transform ignores them.

What a run reads (``TikTokWindow``):

* incremental or backfill (``since`` set): list pages from ``until`` (or now) back to the
  first page reaching past ``since``;
* full refresh (``since`` None): list until the newest video already known (new videos),
  then refresh every other known video by ``video/query`` in batches of 20 (the list's
  reach into old videos is not documented; a query reaches any id). Known videos are kept
  in the channel's state folder; the first run lists the whole archive.

Requests: 1 + ceil(new/20) + ceil((known - already listed)/20) on a full refresh, which is
the API floor 1 + ceil(N/20) while fewer than 20 videos are new; 1 + pages to ``since``
otherwise. A token refresh adds 1 (2 when a 401 caused it).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

from connectors.base import RawResponse
from connectors.errors import (
    AuthError,
    ConnectorError,
    MalformedResponse,
    PermissionDenied,
    RateLimited,
    RequestRejected,
    RetriesExhausted,
    StreamError,
)
from connectors.http import ACCEPT, ApiClient, Call, Page, RetryPolicy, Rules, Sink, Verdict, retry_after
from connectors.paging import BodyCursor
from connectors.state import StateFile
from connectors.tiktok_auth import Clock, Credentials, TikTokAuth, TokenStore, json_object
from socmed import __version__

PLATFORM = "tiktok"
DEFAULT_BASE_URL = "https://open.tiktokapis.com"
DEFAULT_API_VERSION = "v2"
USER_FIELDS = ("open_id,union_id,display_name,username,avatar_url,profile_deep_link,"
               "follower_count,following_count,likes_count,video_count")
VIDEO_FIELDS = ("id,create_time,title,video_description,duration,share_url,cover_image_url,"
                "view_count,like_count,comment_count,share_count")
MAX_COUNT = 20  # video/list max_count and video/query ids per call
RATE_LIMIT_WAIT = 60.0  # TikTok's window is one sliding minute and it sends no Retry-After
SCOPE_HINT = "grant user.info.basic, user.info.profile, user.info.stats and video.list, then re-authorise"


@dataclass(frozen=True)
class TikTokWindow:
    """What one run reads: videos published in [since, until); since None = full refresh."""

    since: dt.datetime | None
    until: dt.datetime | None = None


def classify(response: httpx.Response, token_label: str) -> Verdict:
    """Accept, retry or stop for one reply: the envelope's ``error.code`` first, then the status."""
    status = response.status_code
    error = json_object(response).get("error")
    if not isinstance(error, dict) or not isinstance(error.get("code"), str):
        return _classify_status(response, token_label)
    code, message = error["code"], str(error.get("message") or "no message")
    if code == "ok" and status < 400:
        return ACCEPT
    text = f"TikTok error {code}: {message}" + (f" (log_id {error['log_id']})" if error.get("log_id") else "")
    if code == "access_token_invalid":
        return Verdict(AuthError(f"TikTok rejected the access token even after a refresh ({text}); "
                                 f"re-authorise the app and store the new refresh token in {token_label}",
                                 status=status))
    if code in ("scope_not_authorized", "scope_permission_missed"):
        return Verdict(PermissionDenied(f"{text}; {SCOPE_HINT}", status=status))
    if code == "rate_limit_exceeded" or status == 429:
        return _rate_limited(response, text)
    if code == "internal_error" or status >= 500:
        return Verdict(RetriesExhausted(text, status=status), retry=True)
    return Verdict(RequestRejected(text, status=status))


def _classify_status(response: httpx.Response, token_label: str) -> Verdict:
    """Replies without TikTok's envelope (a proxy's error page, a truncated body)."""
    status = response.status_code
    if status < 300:  # a 2xx that is not the envelope: the shared layer reports it malformed
        return ACCEPT
    if status == 429:
        return _rate_limited(response, f"HTTP {status}")
    if status >= 500:
        return Verdict(RetriesExhausted(f"HTTP {status}", status=status), retry=True)
    if status == 401:
        return Verdict(AuthError(f"HTTP 401 from TikTok; check the token in {token_label}", status=status))
    return Verdict(RequestRejected(f"HTTP {status}", status=status))


def _rate_limited(response: httpx.Response, text: str) -> Verdict:
    """A throttled reply: wait what Retry-After asks, else TikTok's one-minute window."""
    wait = retry_after(response.headers, dt.datetime.now(dt.UTC)) or RATE_LIMIT_WAIT
    return Verdict(RateLimited(text, status=response.status_code), retry=True, wait=wait, rate_limit=True)


class KnownVideos:
    """Video ids (and publish times, unix seconds) seen in earlier runs of this account."""

    def __init__(self, file: StateFile | None) -> None:
        self.file = file
        self.videos: dict[str, int] = {}
        self._loaded = False

    def load(self) -> dict[str, int]:
        """The stored ids (read once)."""
        if not self._loaded and self.file is not None:
            stored = self.file.read().get("videos")
            self.videos = {str(k): int(v) for k, v in (stored or {}).items() if isinstance(v, int)}
        self._loaded = True
        return self.videos

    def save(self) -> None:
        """Persist the ids (the next full refresh queries them)."""
        if self.file is not None and self._loaded:
            self.file.write({"videos": self.videos})


class TikTokConnector:
    """One TikTok account: one generator per endpoint over ApiClient."""

    platform = PLATFORM

    def __init__(self, api: ApiClient, account_id: str, known: KnownVideos) -> None:
        self.api = api
        self.account_id = account_id
        self.known = known
        self.problems: list[str] = []
        self.gone: list[str] = []  # known videos a query no longer returns (deleted or private)
        self.listed: set[str] = set()  # videos the list pages of this run returned

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far, token refreshes and retries included."""
        return self.api.request_count

    @property
    def requests(self) -> Counter[str]:
        """HTTP requests sent per stream."""
        return self.api.requests

    def iter_user(self) -> Iterator[RawResponse]:
        """The profile and its four counters (one request)."""
        yield self.api.get(Call("user/info/", "user", {"fields": USER_FIELDS})).raw

    def iter_videos(self, since: dt.datetime | None = None, until: dt.datetime | None = None,
                    stop_at: int | None = None) -> Iterator[RawResponse]:
        """List pages newest first, from ``until`` back past ``since`` (or to a known video)."""
        floor = int(since.timestamp()) - 1 if since else stop_at  # stop once a page reaches it
        start = int(until.timestamp() * 1000) if until else None
        call = Call("video/list/", "videos", {"fields": VIDEO_FIELDS}, method="POST",
                    json={"max_count": MAX_COUNT})
        for page in self.api.paginate(BodyCursor(start=start), call):
            yield page.raw
            found = self._remember(page)
            self.listed.update(video_id for video_id, _ in found)
            if floor is not None and found and min(t for _, t in found) <= floor:
                return

    def iter_video_query(self, ids: list[str]) -> Iterator[RawResponse]:
        """Current counters of known videos, 20 ids a request."""
        for first in range(0, len(ids), MAX_COUNT):
            chunk = ids[first:first + MAX_COUNT]
            call = Call("video/query/", "video_query", {"fields": VIDEO_FIELDS},
                        {"video_ids": ",".join(chunk)}, method="POST",
                        json={"filters": {"video_ids": chunk}})
            page = self.api.get(call)
            yield page.raw
            found = {video_id for video_id, _ in self._remember(page)}
            self.gone += [video_id for video_id in chunk if video_id not in found]

    def fetch_all(self, window: TikTokWindow) -> Iterator[RawResponse]:
        """All streams in order; a stream error is recorded in ``problems`` and the next runs."""
        known = dict(self.known.load())
        full = window.since is None
        newest = max(known.values(), default=None) if full else None
        streams: list[tuple[str, Callable[[], Iterator[RawResponse]]]] = [
            ("user", self.iter_user),
            ("videos", lambda: self.iter_videos(window.since, window.until, newest)),
            ("video_query", lambda: self.iter_video_query(
                [v for v in sorted(known, key=known.__getitem__, reverse=True)
                 if full and v not in self.listed])),
        ]
        try:
            for name, stream in streams:
                try:
                    yield from stream()
                except StreamError as exc:
                    self._problem(f"{name} stream ended early", exc)
        finally:
            for video_id in self.gone:
                self.known.videos.pop(video_id, None)
            self.known.save()

    def close(self) -> None:
        """Close the underlying HTTP client."""
        self.api.client.close()

    def __enter__(self) -> TikTokConnector:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _remember(self, page: Page) -> list[tuple[str, int]]:
        """The (id, create_time) of a page's videos, added to the known videos."""
        videos = page.data.get("data", {}).get("videos") if isinstance(page.data, dict) else None
        if not isinstance(videos, list):
            raise MalformedResponse("reply without data.videos", url=page.raw.url, stream=page.raw.stream)
        found = [(str(v["id"]), v["create_time"]) for v in videos
                 if isinstance(v, dict) and v.get("id") and isinstance(v.get("create_time"), int)]
        self.known.videos.update(found)
        return found

    def _problem(self, what: str, exc: ConnectorError) -> None:
        """Record a stream-level problem, redacted, naming the error and the URL."""
        self.problems.append(self.api.redact(f"{what} ({type(exc).__name__}): {exc.message} [{exc.url}]"))


def open_tiktok(*, base_url: str = DEFAULT_BASE_URL, api_version: str = DEFAULT_API_VERSION,
                credentials: Credentials, token_label: str, account_id: str, sink: Sink | None,
                token_file: Path | None = None, known_file: Path | None = None,
                policy: RetryPolicy | None = None, timeout: float = 30.0,
                sleep: Callable[[float], None] = time.sleep, clock: Clock | None = None) -> TikTokConnector:
    """Build the token store, the auth, the HTTP client and ApiClient, and the connector."""
    root = f"{base_url.rstrip('/')}/{api_version.strip('/')}/"
    creds = credentials
    secrets = [s for s in (creds.client_secret, creds.refresh_token, creds.access_token) if s]
    headers = {"User-Agent": f"socmed-pipeline/{__version__}", "Accept": "application/json"}
    client = httpx.Client(base_url=root, timeout=timeout, headers=headers)
    rules = Rules(platform=PLATFORM, classify=lambda r: classify(r, token_label))
    api = ApiClient(client, rules, account=account_id, secrets=secrets, sink=sink, policy=policy, sleep=sleep)
    store = TokenStore(credentials, StateFile(token_file) if token_file else None, token_label,
                       api.add_secrets, clock)
    client.auth = TikTokAuth(store, f"{root}oauth/token/", api)
    return TikTokConnector(api, account_id, KnownVideos(StateFile(known_file) if known_file else None))
