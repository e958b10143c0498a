"""Incremental windows: lookback, full-refresh cadence, backfills, platform days."""

from __future__ import annotations

import datetime as dt

import pytest

from socmed.incremental import SyncPoint, Window, backfill_window, incremental_window

NOW = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)  # 10:00 in Jakarta; 19:00 on 26 Nov in LA
KW = {"lookback_days": 7, "full_refresh_days": 7, "insights_days": 2}


def test_first_run_is_a_full_refresh() -> None:
    assert incremental_window(NOW, None, **KW) == Window(
        None, None, dt.date(2026, 11, 24), dt.date(2026, 11, 25), full_refresh=True, backfill=False,
        platform_today=dt.date(2026, 11, 26),
    )


def test_recent_full_refresh_reads_lookback_window() -> None:
    state = SyncPoint(watermark=NOW - dt.timedelta(hours=5), last_full_refresh_at=NOW - dt.timedelta(days=2))
    window = incremental_window(NOW, state, **KW)
    assert (window.media_since, window.full_refresh) == (NOW - dt.timedelta(days=7), False)


def test_stale_watermark_reaches_back_to_it() -> None:
    old = NOW - dt.timedelta(days=12)
    state = SyncPoint(watermark=old, last_full_refresh_at=NOW - dt.timedelta(days=1))
    assert incremental_window(NOW, state, **KW).media_since == old


def test_full_refresh_comes_back_on_cadence() -> None:
    state = SyncPoint(watermark=NOW, last_full_refresh_at=NOW - dt.timedelta(days=7))
    assert incremental_window(NOW, state, **KW).full_refresh is True


def test_backfill_uses_channel_local_days() -> None:
    window = backfill_window(NOW, "Asia/Jakarta", dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert window.media_since == dt.datetime(2026, 9, 30, 17, 0, tzinfo=dt.UTC)
    assert window.media_until == dt.datetime(2026, 10, 31, 17, 0, tzinfo=dt.UTC)
    assert (window.insights_since, window.insights_until) == (dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert window.backfill and not window.full_refresh


def test_backfill_rejects_reversed_range() -> None:
    with pytest.raises(ValueError, match="before --since"):
        backfill_window(NOW, "Asia/Jakarta", dt.date(2026, 11, 2), dt.date(2026, 11, 1))
