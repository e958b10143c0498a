"""X API v2: the user's public metrics, the user's posts, and lookups of known posts by id.

Streams and the ``context`` each RawResponse carries:

* ``user``: ``GET users/{id}?user.fields=created_at,public_metrics,username,name``; context ``{}``.
* ``posts``: ``GET users/{id}/tweets?max_results=100&tweet.fields=created_at,public_metrics,
  note_tweet&exclude=retweets,replies`` (plus ``start_time``/``end_time`` for a window), paged with
  ``pagination_token`` = the previous ``meta.next_token`` until it is absent; context ``{}``.
  The timeline reaches only the most recent posts (800 when replies are excluded).
* ``posts_lookup``: ``GET tweets?ids=<up to 100>&tweet.fields=created_at,public_metrics,note_tweet``;
  context ``{"post_ids": "<id>,<id>,..."}``. On a full refresh, posts seen by earlier runs that
  the timeline no longer returns are refreshed this way (ids kept in the channel's state
  directory, never in the raw zone). Deleted posts come back in a top-level ``errors`` array
  next to ``data`` and are forgotten.

Rate limits: every response carries ``x-rate-limit-limit/remaining/reset`` (per endpoint,
15-minute windows). The shared throttle slows down as the window fills and pauses until
``reset`` once ``remaining`` reaches 0; a 429 (``{"errors":[{"code":88}]}`` or a problem
object) waits until ``reset``. A 401 is a token error and stops the channel.

Requests for N posts: 1 + ceil(N/100) on the timeline, + ceil(M/100) for M known posts
beyond its reach on a full refresh: the API's floor.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from connectors.auth import BearerAuth
from connectors.base import RawResponse
from connectors.errors import (
    AuthError,
    ConnectorError,
    PermissionDenied,
    RateLimited,
    RequestRejected,
    RetriesExhausted,
    StreamError,
)
from connectors.http import ACCEPT, ApiClient, Call, Page, RetryPolicy, Rules, Sink, Verdict
from connectors.paging import TokenPaginator
from connectors.state import StateFile
from socmed import __version__

PLATFORM = "x"
DEFAULT_BASE_URL = "https://api.x.com"
DEFAULT_API_VERSION = "2"
PAGE_SIZE = 100  # max_results 5-100
MAX_IDS = 100  # GET /2/tweets?ids=
USER_FIELDS = "created_at,public_metrics,username,name"
TWEET_FIELDS = "created_at,public_metrics,note_tweet"  # note_tweet: a long post's whole text
EXCLUDE = "retweets,replies"
RATE_LIMITED_CODE = 88
TOKEN_HINT = "create a new bearer token for the app in the X developer portal"
KNOWN_FILE = "known_posts.json"


@dataclass(frozen=True)
class FetchWindow:
    """Posts created in [since, until); since None is a full refresh of the timeline."""

    since: dt.datetime | None
    until: dt.datetime | None


def _int_header(headers: httpx.Headers, name: str) -> int | None:
    """An integer header, or None."""
    value = headers.get(name, "")
    return int(value) if value.strip().isdigit() else None


def usage_percent(headers: httpx.Headers) -> float | None:
    """Share of the endpoint's rate-limit window used, from ``x-rate-limit-*`` headers."""
    limit = _int_header(headers, "x-rate-limit-limit")
    remaining = _int_header(headers, "x-rate-limit-remaining")
    if not limit or remaining is None:
        return None
    return 100.0 * (limit - remaining) / limit


def reset_wait(headers: httpx.Headers, now: dt.datetime | None = None) -> float | None:
    """Seconds until ``x-rate-limit-reset`` (unix seconds), plus one for clock skew."""
    reset = _int_header(headers, "x-rate-limit-reset")
    if reset is None:
        return None
    moment = (now or dt.datetime.now(dt.UTC)).timestamp()
    return max(0.0, reset - moment) + 1.0


def exhausted_wait(headers: httpx.Headers) -> float | None:
    """Seconds to pause before the next request when the window has no request left."""
    return reset_wait(headers) if _int_header(headers, "x-rate-limit-remaining") == 0 else None


def problem_text(response: httpx.Response) -> tuple[str, int | None]:
    """The message of a problem object or ``errors`` body, and its numeric code if any."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return f"HTTP {response.status_code}", None
    if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
        first = body["errors"][0] if isinstance(body["errors"][0], dict) else {}
        code = first.get("code")
        text = first.get("message") or first.get("detail") or first.get("title")
        return str(text or "no message"), code if isinstance(code, int) else None
    if isinstance(body, dict) and (body.get("title") or body.get("detail")):
        return " - ".join(str(body[k]) for k in ("title", "detail") if body.get(k)), None
    return f"HTTP {response.status_code}", None


def classify(response: httpx.Response, token_label: str) -> Verdict:
    """Decide accept, retry or stop for one X response (status, then the problem body)."""
    status = response.status_code
    if status < 400:
        return ACCEPT
    text, code = problem_text(response)
    message = f"X error {status}{f' (code {code})' if code else ''}: {text}"
    if status == 429 or code == RATE_LIMITED_CODE:
        return Verdict(RateLimited(message, code=code, status=status), retry=True,
                       wait=reset_wait(response.headers), rate_limit=True)
    if status == 401:
        return Verdict(AuthError(f"X rejected the bearer token from {token_label}: {message}; "
                                 f"{TOKEN_HINT} and store it in {token_label}", code=code, status=status))
    if status in (402, 403):  # 402: the pay-per-use credits are spent; 403: access level
        return Verdict(PermissionDenied(f"{message}; check the app's access level and credits "
                                        "in the X developer portal", code=code, status=status))
    if status >= 500:
        return Verdict(RetriesExhausted(message, code=code, status=status), retry=True)
    return Verdict(RequestRejected(message, code=code, status=status))


def x_rules(token_label: str) -> Rules:
    """The shared layer's rules for X: classifier, window usage, and the pause at 0 remaining."""
    return Rules(platform=PLATFORM, classify=lambda r: classify(r, token_label),
                 usage=usage_percent, exhausted=exhausted_wait)


class KnownPosts:
    """Ids of posts earlier runs saw, kept in a state file of the channel (outside the raw zone)."""

    def __init__(self, file: StateFile | None) -> None:
        self.file = file

    def load(self) -> set[str]:
        """The ids saved by the last run (none without a readable file)."""
        ids = self.file.read().get("posts") if self.file is not None else None
        return {i for i in ids if isinstance(i, str) and i.isdigit()} if isinstance(ids, list) else set()

    def save(self, ids: set[str]) -> None:
        """Replace the saved ids."""
        if self.file is not None:
            self.file.write({"posts": sorted(ids, key=_id_order)})


class XConnector:
    """One X account: one generator per endpoint over ApiClient."""

    platform = PLATFORM

    def __init__(self, api: ApiClient, user_id: str, known: KnownPosts | None = None) -> None:
        self.api = api
        self.user_id = user_id
        self.known = known or KnownPosts(None)
        self.problems: list[str] = []  # streams ended early (redacted), for the run summary
        self.seen: set[str] = set()  # post ids listed or looked up in this run
        self.gone: set[str] = set()  # known post ids the API says no longer exist

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far, retries included."""
        return self.api.request_count

    @property
    def requests(self) -> Counter[str]:
        """HTTP requests sent per stream."""
        return self.api.requests

    def iter_user(self) -> Iterator[RawResponse]:
        """The user's profile and public metrics (one request)."""
        page = self.api.get(Call(f"users/{self.user_id}", "user", {"user.fields": USER_FIELDS}))
        if not isinstance(page.data, dict) or not isinstance(page.data.get("data"), dict):
            raise RequestRejected(f"user {self.user_id}: {problem_text(page.response)[0]}",
                                  url=page.raw.url, stream="user")
        yield page.raw

    def iter_posts(self, since: dt.datetime | None = None,
                   until: dt.datetime | None = None) -> Iterator[RawResponse]:
        """The user's own posts, newest first, to the end of the timeline's reach."""
        span = {key: _rfc3339(value) for key, value in (("start_time", since), ("end_time", until))
                if value is not None}
        call = Call(f"users/{self.user_id}/tweets", "posts",
                    {"max_results": str(PAGE_SIZE), "tweet.fields": TWEET_FIELDS, "exclude": EXCLUDE,
                     **span})
        for page in self.api.paginate(TokenPaginator("pagination_token", ("meta", "next_token")), call):
            self.seen.update(_post_ids(page))
            yield page.raw

    def iter_lookups(self, ids: list[str]) -> Iterator[RawResponse]:
        """Known posts by id, 100 to a call; deleted ones are noted in ``gone``."""
        for start in range(0, len(ids), MAX_IDS):
            joined = ",".join(ids[start:start + MAX_IDS])
            call = Call("tweets", "posts_lookup", {"ids": joined, "tweet.fields": TWEET_FIELDS},
                        {"post_ids": joined})
            page = self.api.get(call)
            self.seen.update(_post_ids(page))
            self.gone.update(_missing_ids(page))
            yield page.raw

    def fetch_all(self, window: FetchWindow) -> Iterator[RawResponse]:
        """All streams in order; a stream error is recorded in ``problems`` and the next runs."""
        known = self.known.load()
        streams: list[tuple[str, Callable[[], Iterator[RawResponse]]]] = [
            ("user", self.iter_user),
            ("posts", lambda: self.iter_posts(window.since, window.until)),
        ]
        if window.since is None and window.until is None:
            streams.append(("posts_lookup", lambda: self.iter_lookups(_newest_first(known - self.seen))))
        try:
            for name, stream in streams:
                try:
                    yield from stream()
                except StreamError as exc:
                    self._problem(f"{name} stream ended early", exc)
        finally:
            self.known.save((known | self.seen) - self.gone)

    def close(self) -> None:
        """Close the underlying HTTP client."""
        self.api.client.close()

    def __enter__(self) -> XConnector:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _problem(self, what: str, exc: ConnectorError) -> None:
        """Record a stream-level problem, redacted, naming the error and the URL."""
        self.problems.append(self.api.redact(
            f"{what} ({type(exc).__name__}): {exc.message} [GET {exc.url}]"))


def _rfc3339(moment: dt.datetime) -> str:
    """A UTC timestamp as X wants it: ``2026-11-20T03:15:00Z``."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _newest_first(ids: set[str]) -> list[str]:
    """Post ids, newest first (ids are time-ordered snowflakes)."""
    return sorted(ids, key=_id_order, reverse=True)


def _id_order(post_id: str) -> tuple[int, str]:
    """Sort key of a numeric id string: by length, then digits (numeric order without int())."""
    return len(post_id), post_id


def _post_ids(page: Page) -> list[str]:
    """Ids of the posts in a page's ``data`` (absent when a page is empty)."""
    data = page.data.get("data") if isinstance(page.data, dict) else None
    return [str(p["id"]) for p in data or [] if isinstance(p, dict) and p.get("id")]


def _missing_ids(page: Page) -> list[str]:
    """Ids a lookup reports as not found (``errors[].resource_id`` of resource-not-found)."""
    errors: Any = page.data.get("errors") if isinstance(page.data, dict) else None
    return [str(e.get("resource_id") or e.get("value")) for e in errors or []
            if isinstance(e, dict) and str(e.get("type", "")).endswith("resource-not-found")]


def open_x(*, base_url: str = DEFAULT_BASE_URL, api_version: str = DEFAULT_API_VERSION, token: str,
           token_label: str, user_id: str, sink: Sink | None, policy: RetryPolicy | None = None,
           timeout: float = 30.0, state_dir: Path | None = None,
           sleep: Callable[[float], None] = time.sleep) -> XConnector:
    """Build the configured HTTP client and ApiClient, and the connector over them."""
    client = httpx.Client(
        base_url=f"{base_url.rstrip('/')}/{api_version.strip('/')}/",
        auth=BearerAuth(token),
        headers={"User-Agent": f"socmed-pipeline/{__version__}", "Accept": "application/json"},
        timeout=timeout,
    )
    api = ApiClient(client, x_rules(token_label), account=user_id, secrets=(token,), sink=sink,
                    policy=policy, sleep=sleep)
    return XConnector(api, user_id, KnownPosts(StateFile(state_dir / KNOWN_FILE) if state_dir else None))
