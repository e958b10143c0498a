"""UTC offsets of the channels' time zones, kept in ``time_zone_offset`` for SQLite's views.

PostgreSQL knows time zones (``AT TIME ZONE``); SQLite does not, so the marts look a
timestamp's offset up in this table. Rows exist for every time zone a channel uses: the
migration adds the default zone and those present, and :func:`ensure_time_zones` (run with the
campaign refresh after every ingestion) adds new ones.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from warehouse.models import DEFAULT_TIMEZONE, Channel, TimeZoneOffset

UTC = dt.UTC
SCAN_FROM = dt.datetime(1970, 1, 1, tzinfo=UTC)
SCAN_UNTIL = dt.datetime(2100, 1, 1, tzinfo=UTC)
EARLIEST = dt.datetime(1, 1, 1, tzinfo=UTC)
LATEST = dt.datetime(9999, 12, 31, tzinfo=UTC)
_STEP = dt.timedelta(days=1)

Span = tuple[dt.datetime, dt.datetime, int]


def _offset(zone: ZoneInfo, at: dt.datetime) -> int:
    """Seconds east of UTC in zone at the UTC instant at."""
    delta = at.astimezone(zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def _change_point(zone: ZoneInfo, low: dt.datetime, high: dt.datetime) -> dt.datetime:
    """The first second in (low, high] whose offset differs from low's (bisection)."""
    before = _offset(zone, low)
    while high - low > dt.timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if _offset(zone, middle) == before:
            low = middle
        else:
            high = middle
    return high


def offset_spans(name: str) -> list[Span]:
    """Constant-offset spans (from, until, seconds) of a zone, covering all time."""
    zone = ZoneInfo(name)
    spans: list[Span] = []
    start, current, at = EARLIEST, _offset(zone, SCAN_FROM), SCAN_FROM
    while at < SCAN_UNTIL:
        nxt = at + _STEP
        if _offset(zone, nxt) != current:
            change = _change_point(zone, at, nxt)
            spans.append((start, change, current))
            start, current = change, _offset(zone, change)
        at = nxt
    spans.append((start, LATEST, current))
    return spans


def ensure_time_zones(conn: Connection, extra: tuple[str, ...] = (DEFAULT_TIMEZONE,)) -> int:
    """Add offset spans for every channel's time zone not yet in the table; returns zones added."""
    table: Table = TimeZoneOffset.__table__  # type: ignore[assignment]
    known = set(conn.scalars(select(table.c.timezone).distinct()))
    used = set(conn.scalars(select(Channel.__table__.c.timezone).distinct())) | set(extra)
    missing = sorted(used - known)
    for name in missing:
        rows = [
            {"timezone": name, "valid_from": a, "valid_until": b, "utc_offset_seconds": s}
            for a, b, s in offset_spans(name)
        ]
        conn.execute(insert_ignoring_conflicts(conn, table), rows)
    return len(missing)


def insert_ignoring_conflicts(conn: Connection, table: Table) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING on either dialect (concurrent refreshes race)."""
    module: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing()
