"""The Facebook Page connector over real HTTP against the Graph sandbox.

The faults common to every connector (5xx, timeouts, drops, rate limits, expired token,
malformed bodies) run in tests/test_connector_faults.py; here: paging to the end, request
counts against the API minimum, insights where permitted, windows and retention.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from connectors.base import RawResponse
from connectors.facebook import FacebookConnector, FetchWindow, open_facebook
from connectors.http import RetryPolicy
from sandbox.base import Fault
from sandbox.facebook import FacebookSandbox

AS_OF = dt.date(2026, 11, 27)  # the sandbox's now: 2026-11-27 00:00 UTC, 11-26 in Los Angeles
TODAY = dt.date(2026, 11, 26)  # the current platform day
PAGE = "104900000000001"
LABEL = "environment variable SOCMED_FB_PAGE_TOKEN"
FAST = RetryPolicy(max_attempts=5, base_delay=0.001, max_delay=0.01, max_wait=900.0)
YESTERDAY = dt.date(2026, 11, 25)
FULL = FetchWindow(None, None, dt.date(2026, 11, 24), YESTERDAY, TODAY)


@dataclass
class Run:
    """One connector on the sandbox, with what it landed and yielded."""

    connector: FacebookConnector
    landed: list[RawResponse] = field(default_factory=list)
    yielded: list[RawResponse] = field(default_factory=list)

    def fetch(self, window: FetchWindow) -> Run:
        """Run fetch_all to its end."""
        self.yielded.extend(self.connector.fetch_all(window))
        return self

    def pages(self, stream: str) -> list[dict[str, Any]]:
        """Parsed bodies of the successful responses of one stream."""
        return [json.loads(r.body) for r in self.yielded if r.stream == stream]

    def posts(self) -> list[dict[str, Any]]:
        """Every post listed, in order."""
        return [item for page in self.pages("posts") for item in page["data"]]


@pytest.fixture
def sb() -> Iterator[FacebookSandbox]:
    with FacebookSandbox(as_of=AS_OF, seed=7) as sandbox:
        yield sandbox


def connect(sb: FacebookSandbox, page: str = PAGE) -> Run:
    landed: list[RawResponse] = []
    connector = open_facebook(base_url=sb.base_url, api_version="v24.0", token=sb.token, token_label=LABEL,
                              page_id=page, sink=landed.append, policy=FAST, timeout=5.0,
                              sleep=lambda _s: None)
    return Run(connector, landed)


def test_full_listing_matches_the_truth_at_the_api_minimum(sb: FacebookSandbox) -> None:
    run = connect(sb).fetch(FULL)
    truth = sb.expected(PAGE)
    posts = run.posts()
    assert len(posts) == len({p["id"] for p in posts}) == truth["posts"]
    assert sum(p["reactions"]["summary"]["total_count"] for p in posts) == truth["reactions_sum"]
    assert sum(p["comments"]["summary"]["total_count"] for p in posts) == truth["comments_sum"]
    assert sum(p.get("shares", {}).get("count", 0) for p in posts) == truth["shares_sum"]
    assert sum("shares" not in p for p in posts) == truth["posts_without_shares"] > 0
    views = [i["values"][0]["value"] for p in posts for i in p["insights"]["data"]
             if i["name"] == "post_media_view"]
    assert sum(views) == truth["views_sum"]
    # page, posts pages of 100, one Page insights window
    assert run.connector.request_count == 1 + math.ceil(truth["posts"] / 100) + 1
    assert run.connector.problems == []
    assert [r.context for r in run.yielded if r.stream == "page_insights"] == [
        {"period": "day", "since": "2026-11-24", "until": "2026-11-25"}]


def test_thousand_posts_take_twelve_requests() -> None:
    with FacebookSandbox(as_of=AS_OF, posts_per_page=1000) as sb:
        run = connect(sb).fetch(FULL)
        posts = sb.expected(PAGE)["posts"]
        assert len(run.posts()) == posts
        assert run.connector.requests == {"page": 1, "posts": math.ceil(posts / 100), "page_insights": 1}
        assert len(sb.requests) == run.connector.request_count


def test_incremental_window_lists_only_recent_posts(sb: FacebookSandbox) -> None:
    since = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    run = connect(sb).fetch(FetchWindow(since, None, YESTERDAY, YESTERDAY, TODAY))
    created = [dt.datetime.strptime(p["created_time"], "%Y-%m-%dT%H:%M:%S%z") for p in run.posts()]
    expected = [p for p in sb.api.pages.posts_for(PAGE) if p.created >= since]
    assert len(created) == len(expected) > 0 and min(created) >= since
    assert run.connector.request_count == 3
    assert sb.requests[1].query["since"] == str(int(since.timestamp()))


def test_page_insights_come_in_windows_of_at_most_93_days(sb: FacebookSandbox) -> None:
    first = dt.date(2026, 5, 1)
    run = connect(sb).fetch(FetchWindow(dt.datetime(2026, 11, 25, tzinfo=dt.UTC), None, first, YESTERDAY,
                                        TODAY, frozenset({"page_insights"})))
    spans = [(r.context["since"], r.context["until"]) for r in run.yielded if r.stream == "page_insights"]
    # the November DST change makes 93 platform days an hour too long: that window keeps 92
    assert spans == [("2026-05-01", "2026-08-01"), ("2026-08-02", "2026-11-01"), ("2026-11-02", "2026-11-25")]
    values = {v["end_time"]: v["value"] for body in run.pages("page_insights") for item in body["data"]
              if item["name"] == "page_media_view" for v in item["values"]}
    assert len(values) == (YESTERDAY - first).days + 1
    assert values["2026-11-26T08:00:00+0000"] == sb.daily(PAGE, YESTERDAY)["page_media_view"]
    # the bodies' paging.next (another window, token inside) is never followed
    assert len(sb.requests) == run.connector.request_count == 1 + 3
    assert all(sb.token.encode() not in r.body for r in run.landed)


def test_a_backfill_beyond_two_years_says_what_it_could_not_get(sb: FacebookSandbox) -> None:
    window = FetchWindow(None, None, dt.date(2024, 10, 1), dt.date(2024, 12, 31), TODAY,
                         frozenset({"page_insights"}))
    run = connect(sb).fetch(window)
    assert run.connector.problems == [
        "Page insights before 2024-11-26 are no longer available from the API (Facebook keeps two years); "
        "2024-10-01..2024-11-25 not fetched"
    ]
    assert [r.context["since"] for r in run.yielded if r.stream == "page_insights"] == ["2024-11-26"]


def test_posts_without_insights_permission_are_still_read(sb: FacebookSandbox) -> None:
    sb.deny_insights(PAGE)
    run = connect(sb).fetch(FULL)
    truth = sb.expected(PAGE)
    posts = run.posts()
    assert len(posts) == truth["posts"] and all("insights" not in p for p in posts)
    assert {r.context["insights"] for r in run.yielded if r.stream == "posts"} == {"none"}
    pages = math.ceil(truth["posts"] / 100)
    # one refused first page, then every page without insights; Page insights refused too
    assert run.connector.requests == {"page": 1, "posts": 1 + pages, "page_insights": 1}
    assert len(run.connector.problems) == 2
    assert "post insights not permitted" in run.connector.problems[0]
    assert "page_insights not permitted" in run.connector.problems[1]
    assert "read_insights" in run.connector.problems[1]


def test_an_unsupported_post_metric_refetches_that_page_without_insights(sb: FacebookSandbox) -> None:
    sb.inject(Fault("unsupported_metric", path_contains="/published_posts"))
    run = connect(sb).fetch(FULL)
    kinds = [r.context["insights"] for r in run.yielded if r.stream == "posts"]
    assert kinds[0] == "none" and set(kinds[1:]) == {"nested"}
    assert len(run.posts()) == sb.expected(PAGE)["posts"]
    assert run.connector.problems == []


def test_a_refused_page_metric_is_dropped_and_the_others_kept(sb: FacebookSandbox) -> None:
    sb.inject(Fault("unsupported_metric", path_contains=f"{PAGE}/insights"))  # names page_media_view
    sb.inject(Fault("unsupported_metric", path_contains=f"{PAGE}/insights"))
    run = connect(sb).fetch(FetchWindow(dt.datetime(2026, 11, 25, tzinfo=dt.UTC), None, YESTERDAY,
                                        YESTERDAY, TODAY))
    metrics = [r.url.split("metric=")[1].split("&")[0] for r in run.yielded if r.stream == "page_insights"]
    assert metrics == ["page_total_media_view_unique"]
    assert len(run.connector.problems) == 1
    assert "Page insight page_media_view refused" in run.connector.problems[0]
    assert run.connector.requests["page_insights"] == 3


def test_streams_limit_the_run_to_the_page_snapshot_and_insights(sb: FacebookSandbox) -> None:
    window = FetchWindow(None, None, YESTERDAY, YESTERDAY, TODAY, frozenset({"page_insights"}))
    run = connect(sb).fetch(window)
    assert [r.stream for r in run.yielded] == ["page", "page_insights"]
    assert json.loads(run.yielded[0].body) == {
        "id": PAGE, "name": "Pemerintah Kota Tangerang", "followers_count": 186_420, "fan_count": 171_305,
        "link": "https://www.facebook.com/PemkotTangerang"}
