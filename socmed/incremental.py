"""Incremental windows: what one run of one channel asks the API for.

Every run re-reads posts published within ``lookback_days`` (counters keep moving for days
after publication) and anything newer than the channel's watermark; every
``full_refresh_days`` it re-reads the whole listing so older posts are refreshed on a
slower cadence. A backfill (``since``/``until``) asks for exactly the dates given.
Account insights are bucketed by the platform on US-Pacific days, so their window is
counted in Pacific dates and ends with the last complete one. APIs keep them only for a
while (Instagram about 30 days), so a scheduled run starts the day after the last one loaded
whenever that is earlier than its ``insights_days``: a missed day is caught up, not lost.
A run limited to some streams (``streams``, e.g. the frequent stories run) never counts as a
full refresh.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

PLATFORM_DAY_TZ = zoneinfo.ZoneInfo("America/Los_Angeles")


@dataclass(frozen=True)
class Window:
    """What one run fetches; media_since None means the whole listing."""

    media_since: dt.datetime | None
    media_until: dt.datetime | None
    insights_since: dt.date
    insights_until: dt.date
    full_refresh: bool
    backfill: bool
    streams: tuple[str, ...] = ()  # only these streams (and the profile); () = every stream
    platform_today: dt.date | None = None  # the current platform day, for retention limits


@dataclass(frozen=True)
class SyncPoint:
    """The stored sync state of one channel's media stream."""

    watermark: dt.datetime | None
    last_full_refresh_at: dt.datetime | None


def platform_day_end(day: dt.date) -> dt.datetime:
    """The UTC moment a platform (US Pacific) day ends: how its insights watermark is stored."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), PLATFORM_DAY_TZ).astimezone(dt.UTC)


def platform_day_ended(moment: dt.datetime) -> dt.date:
    """The platform day that ends at ``moment`` (inverse of :func:`platform_day_end`)."""
    return (moment.astimezone(PLATFORM_DAY_TZ) - dt.timedelta(hours=12)).date()


def _local_midnight_utc(day: dt.date, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tz).astimezone(dt.UTC)


def backfill_window(now: dt.datetime, tz_name: str, since: dt.date, until: dt.date | None) -> Window:
    """Window of a backfill over channel-local dates [since, until]."""
    tz = zoneinfo.ZoneInfo(tz_name)
    last = until or now.astimezone(tz).date()
    if last < since:
        raise ValueError(f"--until {last} is before --since {since}")
    media_until = min(now, _local_midnight_utc(last + dt.timedelta(days=1), tz))
    today = now.astimezone(PLATFORM_DAY_TZ).date()
    yesterday = today - dt.timedelta(days=1)
    return Window(
        media_since=_local_midnight_utc(since, tz),
        media_until=media_until,
        insights_since=min(since, yesterday),
        insights_until=min(last, yesterday),
        full_refresh=False,
        backfill=True,
        platform_today=today,
    )


def incremental_window(
    now: dt.datetime,
    state: SyncPoint | None,
    *,
    lookback_days: int,
    full_refresh_days: int,
    insights_days: int,
    insights_after: dt.date | None = None,
) -> Window:
    """Window of a scheduled run, from the stored sync state.

    ``insights_after`` is the last platform day whose insights were loaded: the insights
    window reaches back to the day after it when that is earlier than ``insights_days``.
    """
    today = now.astimezone(PLATFORM_DAY_TZ).date()
    yesterday = today - dt.timedelta(days=1)
    insights_since = yesterday - dt.timedelta(days=insights_days - 1)
    if insights_after is not None:
        insights_since = min(insights_since, insights_after + dt.timedelta(days=1))
    due = (
        state is None
        or state.last_full_refresh_at is None
        or now - state.last_full_refresh_at >= dt.timedelta(days=full_refresh_days)
        or state.watermark is None
    )
    if due:
        return Window(None, None, insights_since, yesterday, full_refresh=True, backfill=False,
                      platform_today=today)
    assert state is not None and state.watermark is not None
    since = min(state.watermark, now - dt.timedelta(days=lookback_days))
    return Window(since, None, insights_since, yesterday, full_refresh=False, backfill=False,
                  platform_today=today)
