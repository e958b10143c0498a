"""Facebook Page (Graph API): the Page snapshot, published posts with counts and insights, Page insights.

Same host, versioning, error model, usage headers and cursor paging as Instagram, all from
``connectors.meta``. Use a Page access token. Streams and the ``context`` each RawResponse
carries (the transform relies on both):

* ``page``: ``GET /{page-id}?fields=id,name,followers_count,fan_count,link``; context ``{}``.
* ``posts``: ``GET /{page-id}/published_posts`` pages of 100 with ``shares`` (absent when 0),
  reaction and comment totals (``.limit(0).summary(total_count)``) and the post insights by
  field expansion; context ``{"insights": "nested"}``, or ``{"insights": "none"}`` for a page
  fetched without insights because the API refused them: a metric it does not support (that
  page only) or a missing ``read_insights`` permission (every page after it too).
* ``page_insights``: ``GET /{page-id}/insights?period=day`` in windows of at most 93 days;
  context ``{"period": "day", "since", "until"}``, the first and last platform (US Pacific)
  day covered, inclusive. The body's ``paging.next`` names another window and carries the
  token: it is never followed. Meta keeps two years of insights; older days are left out and
  named in ``problems`` (``FetchWindow.today`` dates the limit). A metric the API no longer
  supports is dropped (the others are asked one by one) and named in ``problems``.

Requests for N posts: 1 + ceil(N/100) + one per 93-day insights window, plus one refetch of
a page whose insights were refused.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType

from connectors.base import RawResponse
from connectors.errors import PermissionDenied, StreamError, UnsupportedMetric
from connectors.http import ApiClient, Call, RetryPolicy, Sink
from connectors.meta import day_start, day_windows, graph_api, retained
from connectors.paging import GraphCursor

PLATFORM = "facebook"
DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v24.0"
PAGE_SIZE = 100  # the documented maximum of published_posts
PAGE_FIELDS = "id,name,followers_count,fan_count,link"
POST_FIELDS = ("id,created_time,message,permalink_url,status_type,shares,"
               "reactions.limit(0).summary(total_count),comments.limit(0).summary(total_count)")
POST_INSIGHTS = "insights.metric(post_media_view,post_total_media_view_unique)"
PAGE_METRICS = ("page_media_view", "page_total_media_view_unique")
MAX_INSIGHTS_SECONDS = 8_035_200  # "There cannot be more than 93 days (8035200 s) between ..."
INSIGHTS_KEPT_DAYS = 730  # "Only the last two years of insights data is available"
ALL_STREAMS = frozenset({"page", "posts", "page_insights"})


@dataclass(frozen=True)
class FetchWindow:
    """What one run fetches: posts by publish time, Page insights by platform day."""

    posts_since: dt.datetime | None  # None = the whole listing
    posts_until: dt.datetime | None
    insights_since: dt.date  # Page insights days [since, until], inclusive
    insights_until: dt.date
    today: dt.date | None = None  # the current platform day, for the two-year limit
    streams: frozenset[str] = ALL_STREAMS  # the Page snapshot always runs

    def wants(self, stream: str) -> bool:
        """Whether this run fetches a stream."""
        return stream == "page" or stream in self.streams


class FacebookConnector:
    """One Facebook Page: one generator per endpoint over ApiClient.

    Every response (errors and retries included) has already gone to the ApiClient's sink
    when a generator yields; the yielded pages are the successful ones.
    """

    platform = PLATFORM

    def __init__(self, api: ApiClient, page_id: str) -> None:
        self.api = api
        self.page_id = page_id
        self.problems: list[str] = []  # streams ended early, data out of reach (redacted)

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far, retries included."""
        return self.api.request_count

    @property
    def requests(self) -> Counter[str]:
        """HTTP requests sent per stream."""
        return self.api.requests

    def iter_page(self) -> Iterator[RawResponse]:
        """The Page's snapshot fields (one request)."""
        yield self.api.get(Call(self.page_id, "page", {"fields": PAGE_FIELDS})).raw

    def iter_posts(self, since: dt.datetime | None = None,
                   until: dt.datetime | None = None) -> Iterator[RawResponse]:
        """Every published post to the end; without insights where the API refuses them."""
        span = {key: str(int(value.timestamp()))
                for key, value in (("since", since), ("until", until)) if value is not None}
        nested = Call(f"{self.page_id}/published_posts", "posts",
                      {"fields": f"{POST_FIELDS},{POST_INSIGHTS}", "limit": str(PAGE_SIZE), **span},
                      {"insights": "nested"})
        plain = Call(nested.path, nested.stream, {**nested.params, "fields": POST_FIELDS},
                     {"insights": "none"})
        paging = GraphCursor()
        try:
            for page in self.api.paginate(paging, nested, plain):
                yield page.raw
        except PermissionDenied as exc:  # no read_insights: the counts are still readable
            self._problem("post insights not permitted; posts read without them", exc)
            yield from (page.raw for page in self.api.paginate(paging, plain))

    def iter_page_insights(self, since: dt.date, until: dt.date,
                           today: dt.date | None = None) -> Iterator[RawResponse]:
        """Daily Page insights in windows of at most 93 days, within the two years Meta keeps."""
        since, note = retained(since, until, today, INSIGHTS_KEPT_DAYS, "Page insights",
                               "Facebook keeps two years")
        if note:
            self.problems.append(note)
        try:
            for first, last in day_windows(since, until, MAX_INSIGHTS_SECONDS):
                yield from self._page_insights(first, last)
        except PermissionDenied as exc:  # Page insights need read_insights; posts did not
            self._problem("page_insights not permitted", exc)

    def fetch_all(self, window: FetchWindow) -> Iterator[RawResponse]:
        """All streams in order; a stream error is recorded in ``problems`` and the next runs."""
        streams: list[tuple[str, Callable[[], Iterator[RawResponse]]]] = [
            ("page", self.iter_page),
            ("posts", lambda: self.iter_posts(window.posts_since, window.posts_until)),
            ("page_insights", lambda: self.iter_page_insights(
                window.insights_since, window.insights_until, window.today)),
        ]
        for name, stream in streams:
            if not window.wants(name):
                continue
            try:
                yield from stream()
            except StreamError as exc:
                self._problem(f"{name} stream ended early", exc)

    def close(self) -> None:
        """Close the underlying HTTP client."""
        self.api.client.close()

    def __enter__(self) -> FacebookConnector:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _problem(self, what: str, exc: StreamError | PermissionDenied) -> None:
        """Record a stream-level problem, redacted, naming the error and the URL."""
        self.problems.append(self.api.redact(
            f"{what} ({type(exc).__name__}): {exc.message} [GET {exc.url}]"))

    def _page_insights(self, first: dt.date, last: dt.date) -> Iterator[RawResponse]:
        """One window of every metric; if one is refused, each metric alone."""
        try:
            yield self.api.get(self._insights_call(PAGE_METRICS, first, last)).raw
        except UnsupportedMetric:
            for metric in PAGE_METRICS:
                try:
                    yield self.api.get(self._insights_call((metric,), first, last)).raw
                except UnsupportedMetric as exc:  # deprecated: an operator must replace it
                    self._problem(f"Page insight {metric} refused", exc)

    def _insights_call(self, metrics: tuple[str, ...], first: dt.date, last: dt.date) -> Call:
        """A Page insights request for platform days [first, last]."""
        params = {"metric": ",".join(metrics), "period": "day", "since": str(day_start(first)),
                  "until": str(day_start(last + dt.timedelta(days=1)))}
        context = {"period": "day", "since": first.isoformat(), "until": last.isoformat()}
        return Call(f"{self.page_id}/insights", "page_insights", params, context)


def open_facebook(*, base_url: str = DEFAULT_BASE_URL, api_version: str = DEFAULT_API_VERSION,
                  token: str, token_label: str, page_id: str, sink: Sink | None,
                  policy: RetryPolicy | None = None, timeout: float = 30.0,
                  sleep: Callable[[float], None] = time.sleep) -> FacebookConnector:
    """Build the configured HTTP client and ApiClient, and the connector over them."""
    api = graph_api(PLATFORM, base_url=base_url, api_version=api_version, token=token,
                    token_label=token_label, account_id=page_id, sink=sink, policy=policy,
                    timeout=timeout, sleep=sleep)
    return FacebookConnector(api, page_id)
