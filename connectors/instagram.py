"""Instagram Graph API (Facebook Login flavour): account, media with insights, account insights.

Streams and the ``context`` each RawResponse carries (the transform relies on both):

* ``account``: ``GET /{id}?fields=...``; context ``{}``.
* ``media``: ``GET /{id}/media`` pages of 100 with per-media insights by field expansion;
  context ``{"insights": "nested"}``, or ``{"insights": "safe"}`` for a page listed without
  ``views`` (refetched so after the API rejected a metric for one of its items, or listed so
  at once below the remembered newest media without ``views``, see below).
* ``media_insights_multi``: multi-id lookups ``GET /?ids=<id>,...&fields=insights.metric(views)``
  of the ``safe`` pages' media whose type supports ``views``, pooled across pages (50 ids
  each but the last); the body is keyed by media id (``{"<id>": {"insights": {"data":
  [...]}, "id": "<id>"}, ...}``); context ``{"media_ids": "<id>,<id>,..."}``, the ids asked,
  in order. A lookup may follow a later page than the one listing its media.
* ``account_insights``: ``GET /{id}/insights``; context ``{"metric_type", "period": "day",
  "since", "until"}`` where since/until are the first and last platform (US Pacific) day
  covered, inclusive. ``time_series`` calls cover up to 30 days each; ``total_value``
  calls cover exactly one day (since == until). The API keeps only the last 30 days: older
  days are left out and named in ``problems`` (``FetchWindow.today`` dates the limit).
* ``stories`` (only when ``FetchWindow.streams`` names it): ``GET /{id}/stories``, the
  stories of the last 24 hours; then ``story_insights``: one ``GET /{story-id}/insights`` per
  story, context ``{"media_id": "<story id>"}``. A story seen by fewer than five accounts
  answers code 10 "Not enough viewers": its metrics stay NULL (listed in ``skipped``).

A lookup fails as a whole (code 100) when one of its media does not support ``views`` or no
longer exists; such a chunk is split in halves down to single ids, and a single id's
rejection leaves that media's ``views`` NULL (listed in ``skipped``).

Media without ``views`` (legacy feed videos) are the oldest. The publish time of the newest
one is kept between runs (``instagram-views.json`` in the channel's state folder): later
runs list media newer than it nested and the older ones with the safe set at once, so no
request is refused, and forget it when a complete listing finds no such media any more.

Requests for N media, b of them at or before that remembered time and k of those b with
``views``: 1 + ceil((N-b)/100) + ceil(b/100) + ceil(k/50), plus the time-series windows and
insight days; 1 + ceil(N/100) when nothing is remembered and no page is refused. A refused
page (first run, or a media newer than the remembered one) costs one more request, and
ceil(k/50) lookups for the k media with ``views`` of the pages listed safe. Stories: 1 + one
per story.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from connectors.base import RawResponse
from connectors.errors import MalformedResponse, RequestRejected, StreamError, UnsupportedMetric
from connectors.http import ApiClient, Call, RetryPolicy, Sink
from connectors.instagram_views import ViewsLookups, ViewsMemory, page_items
from connectors.meta import day_start, day_windows, graph_api, retained
from connectors.paging import GraphCursor
from connectors.state import StateFile

PLATFORM = "instagram"
DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v24.0"
PAGE_SIZE = 100
ACCOUNT_FIELDS = ("id,username,name,website,profile_picture_url,followers_count,follows_count,"
                  "media_count")
MEDIA_FIELDS = ("id,caption,media_type,media_product_type,timestamp,permalink,shortcode,"
                "like_count,comments_count")
NESTED_INSIGHTS = "insights.metric(views,reach,saved,shares)"
SAFE_INSIGHTS = "insights.metric(reach,saved,shares)"  # valid for every listed media type
TIME_SERIES_METRICS = "reach,follower_count"
TOTAL_VALUE_METRICS = "views,accounts_engaged,total_interactions"
MAX_INSIGHTS_SECONDS = 30 * 86_400  # "(#100) There cannot be more than 30 days ..."
INSIGHTS_KEPT_DAYS = 30  # account insights older than this are refused
STORY_FIELDS = "id,media_type,media_product_type,timestamp,permalink,shortcode"
STORY_METRICS = "views,reach,replies,shares,total_interactions,navigation"
STORY_CORE_METRICS = "views,reach,replies,shares"  # the ones the transform maps
FEED_STREAMS = frozenset({"account", "media", "account_insights"})  # a run's default


@dataclass(frozen=True)
class FetchWindow:
    """What one run fetches: media by publish time, account insights by platform day."""

    media_since: dt.datetime | None  # None = full listing (no since param)
    media_until: dt.datetime | None
    insights_since: dt.date  # account insights days [since, until], inclusive
    insights_until: dt.date
    today: dt.date | None = None  # the current platform day, for the API's 30-day limit
    streams: frozenset[str] = FEED_STREAMS  # the account snapshot always runs

    def wants(self, stream: str) -> bool:
        """Whether this run fetches a stream."""
        return stream == "account" or stream in self.streams


class InstagramConnector:
    """One Instagram professional account: one generator per endpoint over ApiClient.

    Every response (errors and retries included) has already gone to the ApiClient's sink
    when a generator yields; the yielded pages are the successful ones, not to be landed again.
    """

    platform = PLATFORM

    def __init__(self, api: ApiClient, account_id: str, views_memory: ViewsMemory | None = None) -> None:
        self.api = api
        self.account_id = account_id
        self.views_memory = views_memory or ViewsMemory(None)
        self.problems: list[str] = []  # streams ended early (redacted), for the run summary
        self.skipped: list[str] = []  # per-media metrics the API does not answer (left NULL)

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far, retries included."""
        return self.api.request_count

    @property
    def requests(self) -> Counter[str]:
        """HTTP requests sent per stream."""
        return self.api.requests

    def iter_account(self) -> Iterator[RawResponse]:
        """The account's profile fields (one request)."""
        yield self.api.get(Call(self.account_id, "account", {"fields": ACCOUNT_FIELDS})).raw

    def iter_media(self, since: dt.datetime | None = None,
                   until: dt.datetime | None = None) -> Iterator[RawResponse]:
        """Every media page to the end, insights nested where the API allows; views looked up."""
        lookups = ViewsLookups(self.api, self.skipped, self._problem)
        try:
            for calls in self._media_listings(since, until):
                for page in self.api.paginate(GraphCursor(), *calls):
                    yield page.raw
                    if page.raw.context["insights"] == "safe":
                        yield from lookups.add(page)
        except StreamError:
            yield from lookups.flush()
            self.views_memory.learn(lookups.newest_without, since, until, complete=False)
            raise
        yield from lookups.flush()
        self.views_memory.learn(lookups.newest_without, since, until, complete=True)

    def _media_listings(self, since: dt.datetime | None,
                        until: dt.datetime | None) -> list[tuple[Call, ...]]:
        """Media newer than the remembered split nested (safe on refusal), older ones safe."""
        split = self.views_memory.split()
        if split is None:
            return [self._media_calls(since, until, nested=True)]
        newer = (max(since, split) if since else split, until, True)
        older = (since, min(until, split) if until else split, False)
        return [self._media_calls(first, last, nested)
                for first, last, nested in (newer, older)
                if first is None or last is None or first < last]

    def _media_calls(self, since: dt.datetime | None, until: dt.datetime | None,
                     nested: bool) -> tuple[Call, ...]:
        """The listing calls for [since, until): nested then safe, or safe alone."""
        span = {key: str(int(value.timestamp()))
                for key, value in (("since", since), ("until", until)) if value is not None}
        params = {"fields": f"{MEDIA_FIELDS},{SAFE_INSIGHTS}", "limit": str(PAGE_SIZE), **span}
        safe = Call(f"{self.account_id}/media", "media", params, {"insights": "safe"})
        if not nested:
            return (safe,)
        fields = f"{MEDIA_FIELDS},{NESTED_INSIGHTS}"
        return Call(safe.path, "media", {**params, "fields": fields}, {"insights": "nested"}), safe

    def iter_stories(self) -> Iterator[RawResponse]:
        """The live stories (last 24 h), then each story's insights."""
        call = Call(f"{self.account_id}/stories", "stories",
                    {"fields": STORY_FIELDS, "limit": str(PAGE_SIZE)})
        for page in self.api.paginate(GraphCursor(), call):
            yield page.raw
            for item in page_items(page):
                yield from self._story_insights(str(item["id"]))

    def iter_account_insights(self, since: dt.date, until: dt.date,
                              today: dt.date | None = None) -> Iterator[RawResponse]:
        """Daily time series in windows of at most 30 days, then one total_value call a day."""
        since, note = retained(since, until, today, INSIGHTS_KEPT_DAYS, "account insights",
                               "Instagram keeps about 30 days")
        if note:
            self.problems.append(note)
        for first, last in day_windows(since, until, MAX_INSIGHTS_SECONDS):
            yield self._account_insights("time_series", TIME_SERIES_METRICS, first, last)
        day = since
        while day <= until:
            yield self._account_insights("total_value", TOTAL_VALUE_METRICS, day, day)
            day += dt.timedelta(days=1)

    def fetch_all(self, window: FetchWindow) -> Iterator[RawResponse]:
        """All streams in order; a stream error is recorded in ``problems`` and the next runs."""
        streams: list[tuple[str, Callable[[], Iterator[RawResponse]]]] = [
            ("account", self.iter_account),
            ("media", lambda: self.iter_media(window.media_since, window.media_until)),
            ("stories", self.iter_stories),
            ("account_insights", lambda: self.iter_account_insights(
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

    def __enter__(self) -> InstagramConnector:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _problem(self, what: str, exc: StreamError) -> None:
        """Record a stream-level problem, redacted, naming the error and the URL."""
        self.problems.append(self.api.redact(
            f"{what} ({type(exc).__name__}): {exc.message} [GET {exc.url}]"))

    def _account_insights(self, metric_type: str, metrics: str, first: dt.date,
                          last: dt.date) -> RawResponse:
        """One account insights call for platform days [first, last]."""
        params = {"metric": metrics, "period": "day", "metric_type": metric_type,
                  "since": str(day_start(first)),
                  "until": str(day_start(last + dt.timedelta(days=1)))}
        context = {"metric_type": metric_type, "period": "day", "since": first.isoformat(),
                   "until": last.isoformat()}
        call = Call(f"{self.account_id}/insights", "account_insights", params, context)
        return self.api.get(call).raw

    def _story_insights(self, story_id: str) -> Iterator[RawResponse]:
        """One story's insights; none (NULL metrics) when the API has none for it."""
        try:
            yield self._story_insights_call(story_id, STORY_METRICS)
        except RequestRejected as exc:  # code 10 "Not enough viewers", or the story expired
            self.skipped.append(f"insights for story {story_id}: {exc.message}")
        except MalformedResponse as exc:
            self._problem(f"insights for story {story_id} not read", exc)

    def _story_insights_call(self, story_id: str, metrics: str) -> RawResponse:
        """One story insights request; the mapped metrics alone if one of the others is refused."""
        call = Call(f"{story_id}/insights", "story_insights", {"metric": metrics},
                    {"media_id": story_id})
        try:
            return self.api.get(call).raw
        except UnsupportedMetric:
            if metrics == STORY_CORE_METRICS:
                raise
            return self._story_insights_call(story_id, STORY_CORE_METRICS)


def open_instagram(*, base_url: str = DEFAULT_BASE_URL, api_version: str = DEFAULT_API_VERSION,
                   token: str, token_label: str, account_id: str, sink: Sink | None,
                   policy: RetryPolicy | None = None, timeout: float = 30.0,
                   sleep: Callable[[float], None] = time.sleep,
                   views_file: Path | None = None) -> InstagramConnector:
    """Build the configured HTTP client and ApiClient, and the connector over them."""
    api = graph_api(PLATFORM, base_url=base_url, api_version=api_version, token=token,
                    token_label=token_label, account_id=account_id, sink=sink, policy=policy,
                    timeout=timeout, sleep=sleep)
    return InstagramConnector(api, account_id, ViewsMemory(StateFile(views_file) if views_file else None))
