"""The Instagram connector over real HTTP against the loopback sandbox, faults included."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from connectors.base import RawResponse
from connectors.errors import AuthError, RateLimited
from connectors.http import RetryPolicy
from connectors.instagram import FetchWindow, InstagramConnector, open_instagram
from connectors.instagram_views import NO_VIEWS_TYPES
from sandbox.data import Media, platform_day_end
from sandbox.server import Fault, Sandbox

AS_OF = dt.date(2026, 11, 27)
TOKEN = "sandbox-token-not-a-secret"
KOTA, TV = "17841401000000001", "17841401000000002"
LABEL = "environment variable SOCMED_IG_TOKEN_TANGERANGKOTA"
FAST = RetryPolicy(max_attempts=5, base_delay=0.001, max_delay=0.01, max_wait=900.0)
# 30 platform days; the November DST change splits the time series into 29 + 1 days
FULL = FetchWindow(None, None, dt.date(2026, 10, 27), dt.date(2026, 11, 25))
# one media page of the last days and one insights day: 1 + 1 + 1 + 1 requests
SMALL = FetchWindow(dt.datetime(2026, 11, 20, tzinfo=dt.UTC), None,
                    dt.date(2026, 11, 25), dt.date(2026, 11, 25))
# the oldest media: legacy feed videos without views, and a few posts after them
LEGACY = FetchWindow(dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
                     dt.datetime(2025, 6, 10, tzinfo=dt.UTC),
                     dt.date(2026, 11, 25), dt.date(2026, 11, 25))


@dataclass
class Run:
    """One connector on the sandbox, with what it landed, yielded, slept and raised."""

    connector: InstagramConnector
    landed: list[RawResponse] = field(default_factory=list)
    yielded: list[RawResponse] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)
    error: Exception | None = None

    def fetch(self, window: FetchWindow) -> Run:
        """Run fetch_all to its end (or the stop error), keeping everything."""
        try:
            for raw in self.connector.fetch_all(window):
                self.yielded.append(raw)
        except Exception as exc:
            self.error = exc
        return self

    def pages(self, stream: str) -> list[dict[str, Any]]:
        """Parsed bodies of the successful responses of one stream."""
        return [json.loads(r.body) for r in self.yielded if r.stream == stream]

    def media_ids(self) -> list[str]:
        """Every media id listed, in order."""
        return [item["id"] for page in self.pages("media") for item in page["data"]]


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    """A fresh sandbox per test (it starts in milliseconds)."""
    with Sandbox(as_of=AS_OF, seed=7, token=TOKEN) as sandbox:
        yield sandbox


def connect(sb: Sandbox, account: str = KOTA, timeout: float = 5.0,
            views_file: Path | None = None) -> Run:
    """A connector over the sandbox with a recording sink and sleep (and a views memory)."""
    landed: list[RawResponse] = []
    sleeps: list[float] = []
    connector = open_instagram(base_url=sb.base_url, api_version="v24.0", token=sb.token,
                               token_label=LABEL, account_id=account, sink=landed.append,
                               policy=FAST, timeout=timeout, sleep=sleeps.append,
                               views_file=views_file)
    return Run(connector, landed=landed, sleeps=sleeps)


def in_window(sb: Sandbox, account: str, window: FetchWindow) -> list[Media]:
    """The account's media the window selects, newest first."""
    return [m for m in sb.data.media_for(account)
            if (window.media_since is None or m.timestamp >= window.media_since)
            and (window.media_until is None or m.timestamp < window.media_until)]


def lookups(ids: list[str], refused: set[str]) -> int:
    """Multi-id views lookups for ids: chunks of 50, a chunk holding a refused id split in halves."""
    if len(ids) > 50:
        return sum(lookups(ids[i:i + 50], refused) for i in range(0, len(ids), 50))
    if not ids:
        return 0
    if len(ids) == 1 or not refused.intersection(ids):
        return 1
    half = (len(ids) + 1) // 2
    return 1 + lookups(ids[:half], refused) + lookups(ids[half:], refused)


def expected_requests(media: list[Media], insight_calls: int) -> tuple[int, int]:
    """(minimum, exact) requests: profile + pages + insights, plus the views fallback."""
    pages = [media[i:i + 100] for i in range(0, len(media), 100)] or [[]]
    minimum = 1 + len(pages) + insight_calls
    fallback = 0
    for page in pages:
        if not all(m.supports("views") for m in page):
            asked = [m for m in page if (m.media_type, m.media_product_type) not in NO_VIEWS_TYPES]
            refused = {m.id for m in asked if not m.supports("views")}
            fallback += 1 + lookups([m.id for m in asked], refused)
    return minimum, minimum + fallback


def listed_views(run: Run) -> dict[str, int | None]:
    """views per media id as a transform would read them (nested or multi-id lookup)."""
    views: dict[str, int | None] = {}
    for page in run.pages("media"):
        for item in page["data"]:
            found = [i["values"][0]["value"] for i in item["insights"]["data"]
                     if i["name"] == "views"]
            views[item["id"]] = found[0] if found else None
    for body in run.pages("media_insights_multi"):
        for media_id, node in body.items():
            assert node["id"] == media_id
            views[media_id] = node["insights"]["data"][0]["values"][0]["value"]
    return views


def assert_clean(run: Run, sb: Sandbox) -> None:
    """No token anywhere; every yielded page landed; the sandbox saw every request."""
    for raw in run.landed:
        assert sb.token not in raw.url and sb.token.encode() not in raw.body
    assert sb.token not in str(run.error) and all(sb.token not in p for p in run.connector.problems)
    assert all(any(y is r for r in run.landed) for y in run.yielded)
    assert len(sb.requests) == run.connector.request_count
    assert sb.pending_faults == []


@pytest.mark.parametrize(("account", "pages", "total"), [(KOTA, 4, 39), (TV, 3, 38)])
def test_full_fetch_is_complete_and_near_the_minimum(sb: Sandbox, account: str,
                                                     pages: int, total: int) -> None:
    run = connect(sb, account).fetch(FULL)
    truth = sb.data.expected(account)
    media = sb.data.media_for(account)
    minimum, exact = expected_requests(media, 2 + 30)
    assert run.error is None and run.connector.problems == [] and run.connector.skipped == []
    assert sorted(run.media_ids()) == sorted(truth["media"]) and len(run.media_ids()) == len(media)
    assert minimum == 1 + pages + 32
    # the last page holds the legacy videos: one refetch and one lookup for its other items
    assert run.connector.request_count == exact == minimum + 2 == total
    assert run.connector.requests == {"account": 1, "media": pages + 1, "media_insights_multi": 1,
                                      "account_insights": 32}
    assert listed_views(run) == {mid: m["views"] for mid, m in truth["media"].items()}
    assert [m for m, v in listed_views(run).items() if v is None] == [
        m.id for m in media if not m.supports("views")]
    account_page = run.pages("account")[0]
    assert (account_page["followers_count"], account_page["media_count"]) == (
        truth["followers_count"], truth["media_count"])
    assert len(run.landed) == len(run.yielded) + 1  # the rejected nested page landed too
    assert_clean(run, sb)


def test_account_insights_cover_each_platform_day_once(sb: Sandbox) -> None:
    run = connect(sb, TV)
    list(run.connector.iter_account_insights(FULL.insights_since, FULL.insights_until))
    contexts = [r.context for r in run.landed]
    assert contexts[:2] == [
        {"metric_type": "time_series", "period": "day", "since": "2026-10-27",
         "until": "2026-11-24"},
        {"metric_type": "time_series", "period": "day", "since": "2026-11-25",
         "until": "2026-11-25"},
    ]
    days = [FULL.insights_since + dt.timedelta(days=n) for n in range(30)]
    assert [(c["since"], c["until"]) for c in contexts[2:]] == [(d.isoformat(),) * 2 for d in days]
    ends = [v["end_time"] for raw in run.landed[:2] for v in json.loads(raw.body)["data"][0]["values"]]
    assert ends == [platform_day_end(d).strftime("%Y-%m-%dT%H:%M:%S+0000") for d in days]
    for day, raw in zip(days, run.landed[2:], strict=True):
        got = {m["name"]: m["total_value"]["value"] for m in json.loads(raw.body)["data"]}
        assert got == {m: sb.data.window_total(TV, m, [day])
                       for m in ("views", "accounts_engaged", "total_interactions")}


def test_views_fallback_on_legacy_media_is_one_lookup(sb: Sandbox) -> None:
    media = in_window(sb, KOTA, LEGACY)
    supported = [m.id for m in media if m.supports("views")]
    assert len(supported) >= 2 and len(media) > len(supported)
    run = connect(sb).fetch(LEGACY)
    assert [r.context for r in run.yielded if r.stream == "media"] == [{"insights": "safe"}]
    lookup = [r for r in run.yielded if r.stream == "media_insights_multi"]
    assert [r.context for r in lookup] == [{"media_ids": ",".join(supported)}]
    assert sb.requests[3].path == "/v24.0/"
    assert sb.requests[3].query == {"ids": ",".join(supported), "fields": "insights.metric(views)"}
    assert listed_views(run) == {m.id: m.insights.get("views") for m in media}
    assert run.connector.requests == {"account": 1, "media": 2, "media_insights_multi": 1,
                                      "account_insights": 2}
    assert run.error is None and run.connector.problems == [] and run.connector.skipped == []
    assert_clean(run, sb)


def test_refused_lookup_is_bisected_down_to_the_media_without_views(sb: Sandbox) -> None:
    media = sb.data.media_for(KOTA)
    refused = media[60]  # second chunk of 50 on the first page
    assert (refused.media_type, refused.media_product_type) not in NO_VIEWS_TYPES
    refused.insights.pop("views")  # the API now refuses views for a media the connector asks
    minimum, exact = expected_requests(media, 2 + 30)
    run = connect(sb).fetch(FULL)
    assert run.error is None and run.connector.problems == []
    assert len(run.connector.skipped) == 1 and f"views for media {refused.id}: " in run.connector.skipped[0]
    assert "does not support the views metric" in run.connector.skipped[0]
    # first page: refetch, chunk 1, then chunk 2 refused at 50, 25, 13, 6, 3, 2 and 1 ids
    assert lookups([m.id for m in media[50:100]], {refused.id}) == 13
    assert run.connector.requests["media_insights_multi"] == 1 + 13 + 1
    assert run.connector.request_count == exact == minimum + 2 + 15
    refusals = [r for r in run.landed if r.stream == "media_insights_multi" and r.status == 400]
    assert len(refusals) == 7 and refusals[-1].context == {"media_ids": refused.id}
    truth = sb.data.expected(KOTA)["media"]
    assert truth[refused.id]["views"] is None
    assert listed_views(run) == {mid: m["views"] for mid, m in truth.items()}
    assert_clean(run, sb)


def test_unexpected_refusal_of_a_lookup_costs_two_more_requests(sb: Sandbox) -> None:
    media = in_window(sb, KOTA, LEGACY)
    run = connect(sb)
    stream = run.connector.iter_media(LEGACY.media_since, LEGACY.media_until)
    run.yielded.append(next(stream))  # the safe page; the next request is its lookup
    sb.inject(Fault(kind="unsupported_metric"))
    run.yielded.extend(stream)
    asked = sum(m.supports("views") for m in media)
    assert run.connector.requests == {"media": 2, "media_insights_multi": 3}
    assert [len(r.context["media_ids"].split(",")) for r in run.landed[2:]] == [
        asked, (asked + 1) // 2, asked // 2]
    assert listed_views(run) == {m.id: m.insights.get("views") for m in media}
    assert run.connector.skipped == [] and run.connector.problems == []
    assert_clean(run, sb)


def test_malformed_lookup_is_a_problem_and_the_stream_goes_on(sb: Sandbox) -> None:
    run = connect(sb)
    stream = run.connector.iter_media(LEGACY.media_since, LEGACY.media_until)
    run.yielded.append(next(stream))
    sb.inject(Fault(kind="malformed"))
    run.yielded.extend(stream)
    asked = sum(m.supports("views") for m in in_window(sb, KOTA, LEGACY))
    assert run.connector.requests == {"media": 2, "media_insights_multi": 1}
    assert len(run.connector.problems) == 1 and run.connector.skipped == []
    assert run.connector.problems[0].startswith(f"views for {asked} media not read (MalformedResponse)")
    assert [r.stream for r in run.yielded] == ["media"]
    assert_clean(run, sb)


@pytest.mark.parametrize(("fault", "extra", "timeout"), [
    (Fault(kind="status", path_contains="/media", times=2, status=503), 2, 5.0),
    (Fault(kind="timeout", path_contains="/media", delay=1.0), 1, 0.5),
    (Fault(kind="drop", path_contains="/media"), 1, 5.0),
    *[(Fault(kind="rate_limit", path_contains="/media", code=code), 1, 5.0)
      for code in (4, 17, 32, 613)],
    (Fault(kind="rate_limit", path_contains="/insights", code=80002, regain_minutes=2), 1, 5.0),
], ids=["503x2", "timeout", "drop", "rate4", "rate17", "rate32", "rate613", "rate80002-2min"])
def test_transient_faults_are_retried_and_the_fetch_completes(
        sb: Sandbox, fault: Fault, extra: int, timeout: float) -> None:
    sb.inject(fault)
    run = connect(sb, timeout=timeout).fetch(SMALL)
    assert run.error is None and run.connector.problems == []
    assert run.media_ids() == [m.id for m in in_window(sb, KOTA, SMALL)]
    assert run.connector.request_count == 4 + extra
    assert len(run.sleeps) == extra
    if fault.regain_minutes:
        assert run.sleeps == [fault.regain_minutes * 60.0]
    assert_clean(run, sb)


def test_rate_limit_beyond_max_wait_stops_the_channel(sb: Sandbox) -> None:
    sb.inject(Fault(kind="rate_limit", code=80002, regain_minutes=20))
    run = connect(sb).fetch(SMALL)
    assert isinstance(run.error, RateLimited) and run.error.resume_at is not None
    assert "resume after" in str(run.error) and run.sleeps == []
    assert run.connector.request_count == 1
    assert_clean(run, sb)


def test_high_usage_pauses_before_the_next_request(sb: Sandbox) -> None:
    sb.inject(Fault(kind="usage_high", path_contains="/media", usage=90))
    run = connect(sb).fetch(SMALL)
    assert run.error is None and run.connector.request_count == 4
    assert run.sleeps == [FAST.usage_pause(90)] and run.sleeps[0] > 0
    assert_clean(run, sb)


def test_expired_token_stops_after_one_request(sb: Sandbox) -> None:
    sb.inject(Fault(kind="token_expired"))
    run = connect(sb).fetch(SMALL)
    assert isinstance(run.error, AuthError)
    assert LABEL in str(run.error) and "create a new long-lived token" in str(run.error)
    assert len(sb.requests) == 1 and run.sleeps == [] and len(run.landed) == 1
    assert_clean(run, sb)


def test_malformed_body_ends_its_stream_only(sb: Sandbox) -> None:
    sb.inject(Fault(kind="malformed", path_contains="/media"))
    run = connect(sb).fetch(SMALL)
    assert run.error is None
    assert len(run.connector.problems) == 1
    assert run.connector.problems[0].startswith("media stream ended early (MalformedResponse)")
    assert "/v24.0/17841401000000001/media?" in run.connector.problems[0]
    bad = [r for r in run.landed if r.stream == "media"]
    assert len(bad) == 1 and bad[0].status == 200 and not bad[0].body.endswith(b"}")
    assert [r.stream for r in run.yielded] == ["account", "account_insights", "account_insights"]
    assert_clean(run, sb)


def test_short_and_empty_pages_with_next_keep_paging() -> None:
    window = FetchWindow(None, None, dt.date(2026, 11, 25), dt.date(2026, 11, 25))
    with Sandbox(as_of=AS_OF, seed=7, token=TOKEN, short_pages=True) as sb:
        run = connect(sb, TV).fetch(window)
        media = sb.data.media_for(TV)
        assert run.media_ids() == [m.id for m in media]
        sizes = [len(page["data"]) for page in run.pages("media")]
        assert 0 in sizes[:-1] and 50 in sizes
        assert listed_views(run) == {m.id: m.insights.get("views") for m in media}
        assert math.ceil(len(media) / 100) < len(sizes)
        assert_clean(run, sb)
