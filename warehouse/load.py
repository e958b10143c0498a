"""Idempotent batch loads: the four upserts, sync state and the audit row in one transaction.

Rows reach the tables through ``warehouse.merge`` (bulk staging, then a few set-based upserts
with exact per-run counts); this module checks the frames, advances sync state and writes one
``load_audit`` row per run with its inserted, updated and unchanged rows per table. A row is
written only when the merge changes something, so re-loading the same data changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import ColumnElement, Connection, Engine, case, insert, or_, text
from sqlalchemy.orm import Session

from socmed.redact import redact
from transforms.schemas import KEYS, SCHEMAS, TABLE_ORDER
from warehouse.engine import begin_write
from warehouse.merge import dialect_insert, upsert_table
from warehouse.models import Base, SyncState, new_load_id, utcnow

MAX_ERROR_CHARS = 20_000
COUNT_FIELDS = ("in", "loaded", "inserted", "updated", "unchanged", "quarantined")

_AUDIT = Base.metadata.tables["load_audit"]
_SYNC = Base.metadata.tables["sync_state"]


@dataclass(frozen=True)
class AuditInfo:
    """What the caller knows about a batch: provenance and validation results."""

    run_id: str
    flow_run_id: str | None
    platform: str
    channel_id: str
    raw_files: list[str]
    started_at: dt.datetime
    rows_quarantined: int = 0
    quarantine_reasons: dict[str, int] | None = None
    # Per-table split of rows_quarantined, for table_counts[...]["quarantined"]; optional.
    quarantined_by_table: dict[str, int] | None = None


@dataclass(frozen=True)
class SyncUpdate:
    """Advance one stream's incremental-sync state; values only ever move forward."""

    platform: str
    channel_id: str
    stream: str
    watermark: dt.datetime | None
    full_refresh_at: dt.datetime | None


@dataclass(frozen=True)
class LoadResult:
    """Outcome of a committed load."""

    load_id: str
    table_counts: dict[str, dict[str, int]]
    rows_in: int
    rows_loaded: int
    rows_changed: int


def load_batch(
    engine: Engine,
    frames: Mapping[str, pl.DataFrame],
    audit: AuditInfo,
    sync: Sequence[SyncUpdate] = (),
) -> LoadResult:
    """Upsert frames in TABLE_ORDER, advance sync state and write the audit row, atomically."""
    return load_runs(engine, frames, [audit], sync)[0]


def load_runs(
    engine: Engine,
    frames: Mapping[str, pl.DataFrame],
    audits: Sequence[AuditInfo],
    sync: Sequence[SyncUpdate] = (),
) -> list[LoadResult]:
    """Load several runs' rows (keys disjoint across runs) in one transaction, one audit row per run.

    A row belongs to the audit of its ``run_id``; with a single audit, every row is its.
    """
    checked = {name: _checked_frame(name, frame) for name, frame in frames.items()}
    _check_sync_keys(sync)
    owner = _owners(checked, audits)
    results = []
    with begin_write(engine) as conn:
        lock_channels(conn, checked, audits)
        written = {name: upsert_table(conn, name, checked[name]) for name in TABLE_ORDER if name in checked}
        _advance_sync(conn, sync, audits[0].run_id)
        sizes = {
            n: {run: (rows, 0) for run, rows in f.group_by("run_id").len().iter_rows()}
            for n, f in checked.items()
        }
        heights, pairs = _per_audit(sizes, owner, len(audits)), _per_audit(written, owner, len(audits))
        for index, audit in enumerate(audits):
            loaded = {n: rows for n, (rows, _) in heights[index].items()}
            results.append(_result(new_load_id(), _table_counts(loaded, pairs[index], audit), audit))
        rows = [_audit_row(r.load_id, a, r, "succeeded", None) for r, a in zip(results, audits, strict=True)]
        conn.execute(insert(_AUDIT), rows)
    return results


def lock_channels(conn: Connection, frames: Mapping[str, pl.DataFrame], audits: Sequence[AuditInfo]) -> None:
    """PostgreSQL: take each channel's advisory lock until commit, in one global order.

    Loads of the same channel (a scheduled run and a reprocess, say) then follow one another,
    and no load changes a stored row between another's unchanged-rows check and its merge
    (``warehouse.merge``). The order makes waiting loads queue, never deadlock. SQLite has one
    writer at a time already.
    """
    if conn.dialect.name != "postgresql":
        return
    channels = {(a.platform, a.channel_id) for a in audits}
    for frame in frames.values():
        if {"platform", "channel_id"} <= set(frame.columns):
            channels |= set(frame.select("platform", "channel_id").unique().iter_rows())
    keys = sorted(channel_lock_key(platform, channel) for platform, channel in channels)
    # One statement: a function scan of the array yields its elements in order, so the locks
    # are taken in that order, as one statement per key would.
    conn.execute(_LOCK_CHANNELS, {"keys": keys})


_LOCK_CHANNELS = text("SELECT count(pg_advisory_xact_lock(key)) FROM unnest(CAST(:keys AS bigint[])) AS key")


def channel_lock_key(platform: str, channel_id: str) -> int:
    """A channel's advisory lock key: a signed 64-bit digest of ``channel:<platform>/<channel_id>``."""
    digest = hashlib.blake2b(f"channel:{platform}/{channel_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _owners(frames: Mapping[str, pl.DataFrame], audits: Sequence[AuditInfo]) -> Callable[[str], int]:
    """Which audit (by position) a row's run_id belongs to; ValueError for a run without one."""
    if len(audits) == 1:
        return lambda run: 0
    position = {audit.run_id: index for index, audit in enumerate(audits)}
    if len(position) != len(audits):
        raise ValueError("load_runs: two audits of the same run_id in one load")
    runs = {run for frame in frames.values() for run in frame["run_id"].unique()}
    if runs - position.keys():
        raise ValueError(f"load_runs: rows of run(s) {sorted(runs - position.keys())} without an audit")
    return position.__getitem__


def _per_audit(
    per_run: Mapping[str, Mapping[str, tuple[int, int]]], owner: Callable[[str], int], audits: int
) -> list[dict[str, tuple[int, int]]]:
    """Per audit (by position), per table: the pairs of counts of the runs it owns, summed."""
    summed: list[dict[str, tuple[int, int]]] = [dict.fromkeys(per_run, (0, 0)) for _ in range(audits)]
    for name, runs in per_run.items():
        for run, (first, second) in runs.items():
            mine = summed[owner(run)]
            mine[name] = (mine[name][0] + first, mine[name][1] + second)
    return summed


def record_failed_load(engine: Engine, audit: AuditInfo, error: str) -> str:
    """Write a 'failed' load_audit row (in its own transaction) and return its load id."""
    load_id = new_load_id()
    result = _result(load_id, _table_counts({}, {}, audit), audit)
    message = redact(error)[:MAX_ERROR_CHARS]
    with begin_write(engine) as conn:
        conn.execute(insert(_AUDIT), _audit_row(load_id, audit, result, "failed", message))
    return load_id


def get_sync_state(engine: Engine, platform: str, channel_id: str, stream: str) -> SyncState | None:
    """The stored sync state of one stream, or None if it never ran."""
    with Session(engine) as session:
        return session.get(SyncState, (platform, channel_id, stream))


def _checked_frame(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The frame if it has the table's exact schema and non-null keys unique per run; else ValueError.

    Rows of several runs may share a key: they are merged run by run, runs in the order of
    their first rows in the frame.
    """
    if name not in SCHEMAS:
        raise ValueError(f"unknown table {name!r}; expected one of {list(TABLE_ORDER)}")
    expected = SCHEMAS[name]
    if dict(frame.schema) != dict(expected):
        got = {c: str(t) for c, t in frame.schema.items() if expected.get(c) != t}
        missing = [c for c in expected if c not in frame.schema]
        raise ValueError(f"{name}: frame does not match transforms.schemas ({got=}, {missing=})")
    keys = list(KEYS[name])
    key_frame = frame.select(*keys, "run_id")
    if key_frame.null_count().sum_horizontal().item():
        raise ValueError(f"{name}: null in key columns {tuple(keys)} or run_id")
    duplicated = key_frame.filter(key_frame.is_duplicated()).select(keys)
    if duplicated.height:
        raise ValueError(
            f"{name}: duplicate key {tuple(keys)}={duplicated.row(0)} "
            f"({duplicated.height} rows share a key); deduplicate before loading"
        )
    return frame


def _check_sync_keys(sync: Sequence[SyncUpdate]) -> None:
    """Reject two updates of the same stream in one batch."""
    seen = [(s.platform, s.channel_id, s.stream) for s in sync]
    if len(seen) != len(set(seen)):
        raise ValueError(f"sync_state: duplicate (platform, channel_id, stream) in {seen}")


def _later(incoming: ColumnElement[Any], current: ColumnElement[Any]) -> ColumnElement[Any]:
    """The later of two nullable timestamps (NULL only when both are NULL)."""
    return case((or_(current.is_(None), incoming > current), incoming), else_=current)


def _advance_sync(conn: Connection, sync: Sequence[SyncUpdate], run_id: str) -> None:
    """Upsert sync_state; watermark and full refresh only move forward, no-op if unchanged."""
    if not sync:
        return
    stmt = dialect_insert(conn, _SYNC)
    ex, cur = stmt.excluded, _SYNC.c
    watermark = _later(ex.watermark, cur.watermark)
    refresh = _later(ex.last_full_refresh_at, cur.last_full_refresh_at)
    stmt = stmt.on_conflict_do_update(
        index_elements=["platform", "channel_id", "stream"],
        set_={
            "watermark": watermark,
            "last_full_refresh_at": refresh,
            "updated_at": ex.updated_at,
            "run_id": ex.run_id,
        },
        where=or_(
            watermark.is_distinct_from(cur.watermark), refresh.is_distinct_from(cur.last_full_refresh_at)
        ),
    )
    now = utcnow()
    conn.execute(stmt, [_sync_row(s, run_id, now) for s in sync])


def _sync_row(update: SyncUpdate, run_id: str, now: dt.datetime) -> dict[str, Any]:
    """Bind parameters of one sync_state row."""
    return {
        "platform": update.platform,
        "channel_id": update.channel_id,
        "stream": update.stream,
        "watermark": update.watermark,
        "last_full_refresh_at": update.full_refresh_at,
        "updated_at": now,
        "run_id": run_id,
    }


def _table_counts(
    heights: Mapping[str, int], written: Mapping[str, tuple[int, int]], audit: AuditInfo
) -> dict[str, dict[str, int]]:
    """Per table {in, loaded, inserted, updated, unchanged, quarantined}, every table listed."""
    quarantined = audit.quarantined_by_table or {}
    counts: dict[str, dict[str, int]] = {}
    for name in TABLE_ORDER:
        loaded = heights.get(name, 0)
        inserted, updated = written.get(name, (0, 0))
        held = quarantined.get(name, 0)
        values = (loaded + held, loaded, inserted, updated, loaded - inserted - updated, held)
        counts[name] = dict(zip(COUNT_FIELDS, values, strict=True))
    return counts


def _result(load_id: str, table_counts: dict[str, dict[str, int]], audit: AuditInfo) -> LoadResult:
    """Totals over the per-table counts."""
    loaded = sum(c["loaded"] for c in table_counts.values())
    changed = sum(c["inserted"] + c["updated"] for c in table_counts.values())
    return LoadResult(load_id, table_counts, loaded + audit.rows_quarantined, loaded, changed)


def _audit_row(
    load_id: str, audit: AuditInfo, result: LoadResult, status: str, error: str | None
) -> dict[str, Any]:
    """Bind parameters of one load_audit row."""
    reasons = audit.quarantine_reasons
    return {
        "load_id": load_id,
        "run_id": audit.run_id,
        "flow_run_id": audit.flow_run_id,
        "platform": audit.platform,
        "channel_id": audit.channel_id,
        "raw_files": json.dumps(list(audit.raw_files), ensure_ascii=False),
        "rows_in": result.rows_in,
        "rows_loaded": result.rows_loaded,
        "rows_quarantined": audit.rows_quarantined,
        "rows_changed": result.rows_changed,
        "table_counts": json.dumps(result.table_counts),
        "quarantine_reasons": None if reasons is None else json.dumps(reasons, ensure_ascii=False),
        "status": status,
        "error": error,
        "started_at": audit.started_at,
        "finished_at": utcnow(),
    }
