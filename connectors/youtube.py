"""YouTube Data API v3: channel statistics, the uploads playlist, and videos in batches of 50.

Streams and the ``context`` each RawResponse carries:

* ``channel``: ``GET channels?part=snippet,statistics,contentDetails&id=UC...``; context ``{}``.
  It names the uploads playlist (``contentDetails.relatedPlaylists.uploads``, ``UU...``).
* ``playlist_items``: ``GET playlistItems?part=contentDetails&playlistId=UU...&maxResults=50``
  pages, newest upload first; context ``{}``. Only the ids and publish times are used.
* ``videos``: ``GET videos?part=snippet,statistics,contentDetails&id=<up to 50 ids>``;
  context ``{"video_ids": "<id>,<id>,..."}``, the ids asked, in order. Private and deleted
  videos are simply missing from the answer.

Incremental runs: the uploads playlist lists newest first, so a run with ``since`` stops
paging after the first page that reaches a video published before it; only videos inside
``[since, until)`` are looked up, packed 50 to a call across pages.

Quota: every call of these three methods costs 1 unit, errors and retries included (Google
charges invalid requests too), so ``quota_units`` is the number of requests sent. For N
videos a full read costs 1 + 2 * ceil(N/50) units, the API's floor. ``quotaExceeded``
stops the channel without a retry until the quota resets at midnight US Pacific.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from connectors.auth import BearerAuth, QueryKeyAuth
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
from connectors.http import ACCEPT, ApiClient, Call, Page, RetryPolicy, Rules, Sink, Verdict
from connectors.paging import TokenPaginator, dig
from socmed import __version__

PLATFORM = "youtube"
DEFAULT_BASE_URL = "https://www.googleapis.com/youtube"
DEFAULT_API_VERSION = "v3"
PAGE_SIZE = 50  # playlistItems maxResults is 0-50
MAX_IDS = 50  # videos.list: more than 50 ids is an error
CHANNEL_PARTS = "snippet,statistics,contentDetails"
VIDEO_PARTS = "snippet,statistics,contentDetails"
QUOTA_TZ = ZoneInfo("America/Los_Angeles")  # the daily quota resets at midnight US Pacific
# error.errors[].reason (and google.rpc.ErrorInfo reasons in error.details[])
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
THROTTLE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"})
KEY_REASONS = frozenset({"keyInvalid", "keyExpired", "API_KEY_INVALID", "API_KEY_EXPIRED"})
TOKEN_REASONS = frozenset({"authError", "invalidCredentials", "ACCESS_TOKEN_EXPIRED"})
SETUP_REASONS = frozenset({"accessNotConfigured", "SERVICE_DISABLED", "API_KEY_SERVICE_BLOCKED"})
FORBIDDEN_REASONS = frozenset({"forbidden", "insufficientPermissions",
                               "ACCESS_TOKEN_SCOPE_INSUFFICIENT"})
TRANSIENT_REASONS = frozenset({"backendError", "internalError"})
KEY_HINT = ("create an API key in the Google Cloud console for a project with the YouTube "
            "Data API v3 enabled")
TOKEN_HINT = "authorise again with the youtube.readonly scope and store the new access token"


@dataclass(frozen=True)
class FetchWindow:
    """Videos published in [since, until); since None reads the whole uploads playlist."""

    since: dt.datetime | None
    until: dt.datetime | None


def quota_reset(now: dt.datetime) -> dt.datetime:
    """The next midnight US Pacific after ``now``, in UTC: when the daily quota resets."""
    tomorrow = now.astimezone(QUOTA_TZ).date() + dt.timedelta(days=1)
    return dt.datetime.combine(tomorrow, dt.time(0), QUOTA_TZ).astimezone(dt.UTC)


def google_error(response: httpx.Response) -> tuple[set[str], str] | None:
    """The reasons and message of a Google error body, if the body is one."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    items = [*(error.get("errors") or []), *(error.get("details") or [])]
    reasons = {str(i["reason"]) for i in items if isinstance(i, dict) and i.get("reason")}
    return reasons, str(error.get("message") or "no message")


def classify(response: httpx.Response, label: str) -> Verdict:
    """Decide accept, retry or stop for one response, by ``error.errors[].reason`` first."""
    status = response.status_code
    if status < 400:
        return ACCEPT
    reasons, message = google_error(response) or (set(), f"HTTP {status}")
    text = f"YouTube error {status} ({', '.join(sorted(reasons)) or 'no reason'}): {message}"
    kwargs: dict[str, Any] = {"status": status}
    if reasons & QUOTA_REASONS:
        limited = RateLimited(f"{text}; the daily quota is spent", **kwargs)
        return Verdict(limited.until(quota_reset(dt.datetime.now(dt.UTC)),
                                     "the quota resets at midnight US Pacific"))
    if reasons & THROTTLE_REASONS or status == 429:
        return Verdict(RateLimited(text, **kwargs), retry=True, rate_limit=True)
    if reasons & (KEY_REASONS | TOKEN_REASONS) or status == 401:
        hint = KEY_HINT if reasons & KEY_REASONS else TOKEN_HINT
        return Verdict(AuthError(f"YouTube rejected the credentials from {label}: {text}; "
                                 f"{hint} and store it in {label}", **kwargs))
    if reasons & (SETUP_REASONS | FORBIDDEN_REASONS):
        return Verdict(PermissionDenied(f"{text}; enable the YouTube Data API v3 for the "
                                        "project and check the credentials' scope", **kwargs))
    if status >= 500 or reasons & TRANSIENT_REASONS:
        return Verdict(RetriesExhausted(text, **kwargs), retry=True)
    return Verdict(RequestRejected(text, **kwargs))


def youtube_rules(label: str) -> Rules:
    """The shared layer's rules for YouTube (no usage headers: quota is counted here)."""
    return Rules(platform=PLATFORM, classify=lambda r: classify(r, label))


class YouTubeConnector:
    """One YouTube channel: one generator per endpoint over ApiClient."""

    platform = PLATFORM

    def __init__(self, api: ApiClient, channel_id: str, quota_budget: int = 10_000) -> None:
        self.api = api
        self.channel_id = channel_id
        self.quota_budget = quota_budget  # units per day, for the run summary
        self.problems: list[str] = []  # streams ended early (redacted), for the run summary
        self.uploads = default_uploads(channel_id)  # replaced by the channel's own answer

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far, retries included."""
        return self.api.request_count

    @property
    def requests(self) -> Counter[str]:
        """HTTP requests sent per stream."""
        return self.api.requests

    @property
    def quota_units(self) -> int:
        """Quota units spent by this run: one per request sent (list calls cost 1 unit)."""
        return self.api.request_count

    def iter_channel(self) -> Iterator[RawResponse]:
        """The channel's snippet, statistics and uploads playlist (one request)."""
        page = self.api.get(Call("channels", "channel", {"part": CHANNEL_PARTS, "id": self.channel_id}))
        self.uploads = _uploads_playlist(page, self.channel_id)
        yield page.raw

    def iter_uploads(self, since: dt.datetime | None = None) -> Iterator[Page]:
        """Uploads playlist pages, newest first, to the end or to the first video before since."""
        if self.uploads is None:
            raise RequestRejected("no uploads playlist known: the channel stream did not name one",
                                  stream="playlist_items")
        call = Call("playlistItems", "playlist_items",
                    {"part": "contentDetails", "playlistId": self.uploads, "maxResults": str(PAGE_SIZE)})
        for page in self.api.paginate(TokenPaginator("pageToken", ("nextPageToken",)), call):
            yield page
            published = [when for _, when in _entries(page)]
            if since is not None and published and min(published) < since:
                return

    def iter_videos(self, window: FetchWindow) -> Iterator[RawResponse]:
        """Playlist pages, and statistics of the videos in the window, 50 ids to a call."""
        pending: list[str] = []
        for page in self.iter_uploads(window.since):
            yield page.raw
            pending += [vid for vid, when in _entries(page) if _inside(when, window)]
            while len(pending) >= MAX_IDS:
                yield self._videos(pending[:MAX_IDS])
                pending = pending[MAX_IDS:]
        if pending:
            yield self._videos(pending)

    def fetch_all(self, window: FetchWindow) -> Iterator[RawResponse]:
        """All streams in order; a stream error is recorded in ``problems`` and the next runs."""
        streams: list[tuple[str, Callable[[], Iterator[RawResponse]]]] = [
            ("channel", self.iter_channel),
            ("videos", lambda: self.iter_videos(window)),
        ]
        for name, stream in streams:
            try:
                yield from stream()
            except StreamError as exc:
                self._problem(f"{name} stream ended early", exc)

    def close(self) -> None:
        """Close the underlying HTTP client."""
        self.api.client.close()

    def __enter__(self) -> YouTubeConnector:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _videos(self, ids: list[str]) -> RawResponse:
        """One videos.list call for at most 50 ids."""
        joined = ",".join(ids)
        call = Call("videos", "videos", {"part": VIDEO_PARTS, "id": joined}, {"video_ids": joined})
        return self.api.get(call).raw

    def _problem(self, what: str, exc: ConnectorError) -> None:
        """Record a stream-level problem, redacted, naming the error and the URL."""
        self.problems.append(self.api.redact(
            f"{what} ({type(exc).__name__}): {exc.message} [GET {exc.url}]"))


def _inside(when: dt.datetime, window: FetchWindow) -> bool:
    """Whether a publish time falls in the window."""
    return (window.since is None or when >= window.since) and (window.until is None or when < window.until)


def _uploads_playlist(page: Page, channel_id: str) -> str:
    """The uploads playlist id of the channel answer; RequestRejected if the channel is unknown."""
    items = (page.data.get("items") or []) if isinstance(page.data, dict) else None
    if not isinstance(items, list):
        raise MalformedResponse("channel answer without an items list", url=page.raw.url,
                                stream=page.raw.stream)
    found = [i for i in items if isinstance(i, dict) and i.get("id") == channel_id]
    if not found:  # YouTube answers 200 without items for an unknown or terminated channel
        raise RequestRejected(f"channel {channel_id} not found", url=page.raw.url, stream=page.raw.stream)
    uploads = dig(found[0], ("contentDetails", "relatedPlaylists", "uploads"))
    if not isinstance(uploads, str) or not uploads:
        raise MalformedResponse("no contentDetails.relatedPlaylists.uploads in the channel answer",
                                url=page.raw.url, stream=page.raw.stream)
    return uploads


def default_uploads(channel_id: str) -> str | None:
    """The uploads playlist by YouTube's naming rule (UC... -> UU...), when the channel call failed."""
    return f"UU{channel_id[2:]}" if channel_id.startswith("UC") and len(channel_id) > 2 else None


def _entries(page: Page) -> list[tuple[str, dt.datetime]]:
    """(video id, publish time) of each playlist item; MalformedResponse if there is no list."""
    items = page.data.get("items") if isinstance(page.data, dict) else None
    if not isinstance(items, list):
        raise MalformedResponse("playlist page without an items list", url=page.raw.url,
                                stream=page.raw.stream)
    entries = []
    for item in items:
        details = item.get("contentDetails") if isinstance(item, dict) else None
        when = _rfc3339((details or {}).get("videoPublishedAt"))
        if isinstance(details, dict) and isinstance(details.get("videoId"), str) and when:
            entries.append((details["videoId"], when))
    return entries


def _rfc3339(value: Any) -> dt.datetime | None:
    """An RFC 3339 timestamp (``2026-11-20T03:15:00Z``) as an aware datetime, else None."""
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def open_youtube(*, base_url: str = DEFAULT_BASE_URL, api_version: str = DEFAULT_API_VERSION,
                 api_key: str | None, token: str | None, label: str, channel_id: str,
                 sink: Sink | None, policy: RetryPolicy | None = None, timeout: float = 30.0,
                 quota_budget: int = 10_000,
                 sleep: Callable[[float], None] = time.sleep) -> YouTubeConnector:
    """Build the client (API key as ``key=``, else an OAuth bearer token) and the connector."""
    secret = api_key or token
    if not secret:
        raise AuthError(f"no YouTube credentials: set api_key_env (an API key) or token_env (an OAuth "
                        f"access token) under {label}")
    auth: httpx.Auth = QueryKeyAuth(api_key) if api_key else BearerAuth(secret)
    client = httpx.Client(
        base_url=f"{base_url.rstrip('/')}/{api_version.strip('/')}/",
        auth=auth,
        headers={"User-Agent": f"socmed-pipeline/{__version__}", "Accept": "application/json"},
        timeout=timeout,
    )
    api = ApiClient(client, youtube_rules(label), account=channel_id, secrets=(secret,), sink=sink,
                    policy=policy, sleep=sleep)
    return YouTubeConnector(api, channel_id, quota_budget)
