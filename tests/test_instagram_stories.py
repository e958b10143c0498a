"""Instagram stories and the account insights the API keeps only 30 days, against the sandbox."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from connectors.base import RawResponse
from connectors.http import RetryPolicy
from connectors.instagram import FetchWindow, InstagramConnector, open_instagram
from sandbox.base import Fault
from sandbox.server import Sandbox
from socmed.rawzone import RawWriter, read_run
from transforms.common import ChannelRef
from transforms.instagram import transform_instagram

AS_OF = dt.date(2026, 11, 27)
TODAY = dt.date(2026, 11, 26)  # the platform (US Pacific) day of the sandbox's now
KOTA = "17841401000000001"
FAST = RetryPolicy(max_attempts=5, base_delay=0.001, max_delay=0.01, max_wait=900.0)
STORIES = FetchWindow(None, None, TODAY, TODAY, TODAY, frozenset({"stories"}))


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(as_of=AS_OF, seed=7) as sandbox:
        yield sandbox


def connect(sb: Sandbox, landed: list[RawResponse]) -> InstagramConnector:
    return open_instagram(base_url=sb.base_url, token=sb.token, token_label="environment variable IG",
                          account_id=KOTA, sink=landed.append, policy=FAST, timeout=5.0,
                          sleep=lambda _s: None)


def test_stories_and_their_insights_in_one_request_each(sb: Sandbox) -> None:
    landed: list[RawResponse] = []
    with connect(sb, landed) as connector:
        yielded = list(connector.fetch_all(STORIES))
    truth = sb.api.stories.expected(KOTA)
    listed = [item["id"] for r in yielded if r.stream == "stories" for item in json.loads(r.body)["data"]]
    assert listed == truth["ids"] and truth["stories"] >= 4
    asked = [r.context["media_id"] for r in landed if r.stream == "story_insights"]
    assert asked == truth["ids"]  # one insights call per story, the account snapshot, the list
    assert connector.request_count == 2 + truth["stories"]
    assert [r.stream for r in yielded][:2] == ["account", "stories"]
    # the newest story has fewer than five viewers: code 10 leaves it without metrics, not a failure
    assert connector.problems == []
    assert connector.skipped == [f"insights for story {truth['ids'][0]}: Meta error 10: (#10) Not enough "
                                 "viewers for the media to show insights"]
    first = json.loads(next(r.body for r in yielded if r.stream == "story_insights"))
    assert [m["name"] for m in first["data"]] == ["views", "reach", "replies", "shares", "total_interactions",
                                                  "navigation"]


def test_stories_become_story_content_with_replies_as_comments(sb: Sandbox, tmp_path: Path) -> None:
    writer = RawWriter(tmp_path, "instagram", KOTA, "run-1", AS_OF)
    with connect(sb, []) as connector:
        connector.api.sink = writer.land
        list(connector.fetch_all(STORIES))
    channel = ChannelRef("instagram", KOTA, "kota")
    result = transform_instagram(list(read_run(tmp_path, writer.run_dir)), channel)
    truth = sb.api.stories.expected(KOTA)
    content = result.frames["content"]
    assert content["content_type"].unique().to_list() == ["story"]
    assert sorted(content["content_id"]) == sorted(truth["ids"])
    assert content["url"].str.starts_with("https://www.instagram.com/stories/tangerangkota/").all()
    facts = result.frames["content_metrics_daily"]
    sums = facts.select(pl.col("views", "reach", "comments", "shares").sum()).row(0)
    assert sums == (truth["views_sum"], truth["reach_sum"], truth["replies_sum"], truth["shares_sum"])
    assert facts.filter(pl.col("views").is_null())["content_id"].to_list() == [truth["ids"][0]]
    assert facts["likes"].null_count() == facts["saves"].null_count() == facts.height
    assert result.problems == []


def test_a_refused_story_metric_falls_back_to_the_mapped_ones(sb: Sandbox) -> None:
    sb.inject(Fault("unsupported_metric", path_contains="/insights"))
    landed: list[RawResponse] = []
    with connect(sb, landed) as connector:
        yielded = list(connector.fetch_all(STORIES))
    truth = sb.api.stories.expected(KOTA)
    retried = next(r for r in yielded if r.stream == "story_insights")
    assert retried.context == {"media_id": truth["ids"][1]}  # the first with enough viewers
    assert "metric=views%2Creach%2Creplies%2Cshares" in retried.url
    assert connector.request_count == 3 + truth["stories"]


def test_a_malformed_story_insight_is_reported_and_the_others_kept(sb: Sandbox) -> None:
    truth = sb.api.stories.expected(KOTA)
    sb.inject(Fault("malformed", path_contains=f"{truth['ids'][2]}/insights"))
    with connect(sb, []) as connector:
        yielded = list(connector.fetch_all(STORIES))
    assert len(connector.problems) == 1
    assert f"insights for story {truth['ids'][2]} not read" in connector.problems[0]
    assert len([r for r in yielded if r.stream == "story_insights"]) == truth["stories"] - 2


def test_account_insights_older_than_30_days_are_named_not_requested(sb: Sandbox) -> None:
    window = FetchWindow(None, None, dt.date(2026, 9, 1), dt.date(2026, 11, 1), TODAY,
                         frozenset({"account_insights"}))
    with connect(sb, []) as connector:
        yielded = list(connector.fetch_all(window))
    assert connector.problems == [
        "account insights before 2026-10-27 are no longer available from the API (Instagram keeps about "
        "30 days); 2026-09-01..2026-10-26 not fetched"
    ]
    series = [r.context for r in yielded if r.context.get("metric_type") == "time_series"]
    assert [(c["since"], c["until"]) for c in series] == [("2026-10-27", "2026-11-01")]
    assert len(yielded) == 1 + 1 + 6  # account, one series, one total_value call a day


def test_the_api_refuses_what_it_no_longer_keeps(sb: Sandbox) -> None:
    window = FetchWindow(None, None, dt.date(2026, 10, 1), dt.date(2026, 10, 2),
                         streams=frozenset({"account_insights"}))  # no today: nothing is left out
    with connect(sb, []) as connector:
        list(connector.fetch_all(window))
    assert len(connector.problems) == 1
    assert "Insights are kept for 30 days: since must not be before 2026-10-27" in connector.problems[0]
