"""Data the APIs keep only for a while: insights catch-up, partial (stories-only) runs, stream choice."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from flows.ingest import offering
from socmed import pipeline
from socmed.config import ConfigError, Settings, parse_settings
from socmed.incremental import SyncPoint, Window, incremental_window, platform_day_end, platform_day_ended
from transforms.schemas import SCHEMAS
from warehouse.load import AuditInfo, SyncUpdate, load_batch

NOW = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)  # 10:00 in Jakarta; 19:00 on 26 Nov in LA
KW = {"lookback_days": 7, "full_refresh_days": 7, "insights_days": 2}
KOTA = "17841401000000001"


def test_platform_day_end_round_trips_across_daylight_saving() -> None:
    for day in (dt.date(2026, 6, 1), dt.date(2026, 11, 1), dt.date(2026, 11, 25)):
        assert platform_day_ended(platform_day_end(day)) == day
    assert platform_day_end(dt.date(2026, 11, 25)) == dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC)


def test_scheduled_runs_catch_up_from_the_last_insights_day_loaded() -> None:
    recent = incremental_window(NOW, None, **KW, insights_after=dt.date(2026, 11, 25))
    assert (recent.insights_since, recent.insights_until) == (dt.date(2026, 11, 24), dt.date(2026, 11, 25))
    # the pipeline was down for twelve days: the next run asks for every day since
    late = incremental_window(NOW, None, **KW, insights_after=dt.date(2026, 11, 13))
    assert (late.insights_since, late.insights_until) == (dt.date(2026, 11, 14), dt.date(2026, 11, 25))
    assert late.platform_today == dt.date(2026, 11, 26)


def settings_for(tmp_path: Path, url: str) -> Settings:
    data = {
        "warehouse": {"url": url},
        "platforms": {"instagram": {"token_env": "T"}, "facebook": {"token_env": "T"}},
        "channels": [
            {"platform": "instagram", "handle": "kota", "account_id": KOTA},
            {"platform": "facebook", "handle": "PemkotTangerang", "account_id": "104900000000001"},
        ],
    }
    return parse_settings(data, tmp_path / "socmed.toml")


def audit() -> AuditInfo:
    return AuditInfo("run-1", None, "instagram", KOTA, [], NOW)


def test_plan_reads_the_insights_watermark_and_partial_runs_are_never_full(
    tmp_path: Path, sqlite_url: str
) -> None:
    settings = settings_for(tmp_path, sqlite_url)
    engine = pipeline.warehouse(sqlite_url)
    channel = settings.channels[0]
    first, _ = pipeline.plan(settings, channel, engine, NOW)
    assert first.insights_since == dt.date(2026, 11, 24) and first.full_refresh
    loaded = platform_day_end(dt.date(2026, 11, 10))
    load_batch(engine, {}, audit(), [SyncUpdate("instagram", KOTA, pipeline.INSIGHTS_STREAM, loaded, None)])
    caught_up, _ = pipeline.plan(settings, channel, engine, NOW)
    assert caught_up.insights_since == dt.date(2026, 11, 11)
    stories, _ = pipeline.plan(settings, channel, engine, NOW, streams=("stories",))
    assert stories.streams == ("stories",) and not stories.full_refresh


def fetch_outcome(window: Window) -> pipeline.FetchOutcome:
    return pipeline.FetchOutcome(Path("raw"), 3, 3, [], None, window)


def test_insights_watermark_moves_to_the_newest_day_with_views_or_reach(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "sqlite:///unused.db")
    daily = pl.DataFrame(
        [
            {"snapshot_date": dt.date(2026, 11, 24), "views": 10, "reach": None},
            {"snapshot_date": dt.date(2026, 11, 25), "views": None, "reach": 7},
            {"snapshot_date": dt.date(2026, 11, 27), "followers": 5, "views": None, "reach": None},
        ],
        schema=SCHEMAS["channel_metrics_daily"],
    )
    content = pl.DataFrame(
        [{"published_at": dt.datetime(2026, 11, 26, 22, 0, tzinfo=dt.UTC)}], schema=SCHEMAS["content"]
    )
    frames = {"channel_metrics_daily": daily, "content": content}
    window = incremental_window(NOW, None, **KW)
    updates = pipeline.sync_updates(settings.channels[0], frames, fetch_outcome(window), None, NOW)
    newest = platform_day_end(dt.date(2026, 11, 25))
    insights = SyncUpdate("instagram", KOTA, "account_insights", newest, None)
    assert updates == [
        SyncUpdate("instagram", KOTA, "media", dt.datetime(2026, 11, 26, 22, 0, tzinfo=dt.UTC), NOW), insights
    ]
    # a stories-only run must not move the media watermark past posts it never listed
    partial = incremental_window(NOW, SyncPoint(NOW, NOW), **KW)
    partial = replace(partial, streams=("stories",), full_refresh=False)
    channel = settings.channels[0]
    assert pipeline.sync_updates(channel, frames, fetch_outcome(partial), None, NOW) == [insights]


def test_streams_select_the_channels_of_platforms_that_offer_them(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "sqlite:///unused.db")
    chosen = offering(settings, list(settings.channels), ["stories"])
    assert [c.key for c in chosen] == ["instagram/@kota"]
    assert [c.key for c in offering(settings, list(settings.channels), ["stories", "posts"])] == [
        "instagram/@kota",
        "facebook/@PemkotTangerang",
    ]
    with pytest.raises(ConfigError, match=r"streams \['storys'\]: no configured platform offers them"):
        offering(settings, list(settings.channels), ["storys"])
