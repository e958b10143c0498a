"""Idempotent batch loads: the four upserts, sync state and the audit row in one transaction.

Per table and chunk, two dialect upserts, both with ``RETURNING`` so counts are exact on every
dialect and under concurrent loads:

1. ``INSERT ... ON CONFLICT (key) DO NOTHING RETURNING key``: the rows inserted;
2. the other rows: ``INSERT ... ON CONFLICT (key) DO UPDATE SET <merge> WHERE <merge differs
   from the stored row> RETURNING key``: the rows updated. The rest are unchanged.

The merge rules make loads order-independent and re-runs no-ops: the observation with the
newer ``fetched_at`` (``last_seen_at`` for channels) supplies the row, provenance included,
but only when one of its values differs (a re-fetch of unchanged values changes nothing);
``channel_metrics_daily`` merges partial observations column by column (a newer non-null value
wins, an older one only fills gaps); a channel's ``first_seen_at`` only moves earlier. A row is
written only when the merge changes something, so re-loading the same data changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import (
    ColumnCollection,
    ColumnElement,
    Connection,
    Engine,
    Select,
    Table,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from socmed.redact import redact
from transforms.schemas import KEYS, METRIC_COLUMNS, SCHEMAS, TABLE_ORDER
from warehouse import bulk
from warehouse.engine import begin_write
from warehouse.models import DEFAULT_TIMEZONE, Base, SyncState, new_load_id, utcnow

MAX_ERROR_CHARS = 20_000
COUNT_FIELDS = ("in", "loaded", "inserted", "updated", "unchanged", "quarantined")

TABLES: dict[str, Table] = {name: Base.metadata.tables[name] for name in TABLE_ORDER}
_AUDIT = Base.metadata.tables["load_audit"]
_SYNC = Base.metadata.tables["sync_state"]

Merge = Callable[[Table, ColumnCollection[str, Any]], dict[str, ColumnElement[Any]]]


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
        written = {name: _upsert_table(conn, name, checked[name]) for name in TABLE_ORDER if name in checked}
        _advance_sync(conn, sync, audits[0].run_id)
        for index, audit in enumerate(audits):
            heights = {
                n: _owned(f.group_by("run_id").len().iter_rows(), owner, index) for n, f in checked.items()
            }
            mine = {n: _owned_pairs(w, owner, index) for n, w in written.items()}
            result = _result(new_load_id(), _table_counts(heights, mine, audit), audit)
            conn.execute(insert(_AUDIT), _audit_row(result.load_id, audit, result, "succeeded", None))
            results.append(result)
    return results


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


def _owned(counts: Iterable[tuple[str, int]], owner: Callable[[str], int], index: int) -> int:
    """The sum of the per-run counts belonging to audit ``index``."""
    return sum(count for run, count in counts if owner(run) == index)


def _owned_pairs(
    written: Mapping[str, tuple[int, int]], owner: Callable[[str], int], index: int
) -> tuple[int, int]:
    """(inserted, updated) summed over the runs belonging to audit ``index``."""
    mine = [pair for run, pair in written.items() if owner(run) == index]
    return sum(p[0] for p in mine), sum(p[1] for p in mine)


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

    Rows of several runs may share a key: they are merged run by run, in the frame's order.
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


def _upsert_table(conn: Connection, name: str, frame: pl.DataFrame) -> dict[str, tuple[int, int]]:
    """Stage one table's rows in bulk, then merge them run by run; (inserted, updated) per run_id."""
    table = TABLES[name]
    keys = KEYS[name]
    staged = bulk.stage(conn, table, _table_frame(name, frame), index_on="run_id")
    # Key order makes concurrent loads of overlapping keys lock rows in the same order (no deadlock).
    source = (
        select(*staged.c).where(staged.c.run_id == bindparam("run")).order_by(*(staged.c[k] for k in keys))
    )
    insert_new = _insert_new_statement(conn, table, keys, source)
    update_old = _update_statement(conn, name, table, keys, source)
    written: dict[str, tuple[int, int]] = {}
    for run, rows in frame.group_by("run_id", maintain_order=True).len().iter_rows():
        inserted = conn.execute(insert_new, {"run": run}).rowcount
        updated = conn.execute(update_old, {"run": run}).rowcount if inserted < rows else 0
        written[run] = (inserted, updated)
    bulk.drop(conn, staged)
    return written


def _dialect_insert(conn: Connection, table: Table) -> Any:
    """The dialect's INSERT construct, which knows ON CONFLICT."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"warehouse upserts support postgresql and sqlite, not {conn.dialect.name}")


# When only these differ, the row is left alone: a new fetch of unchanged values changes nothing,
# and provenance keeps pointing at the observation that established the stored values.
OBSERVATION_COLUMNS = frozenset({"fetched_at", "run_id", "raw_file", "last_seen_at"})


def _insert_new_statement(conn: Connection, table: Table, keys: tuple[str, ...], source: Select[Any]) -> Any:
    """INSERT ... SELECT ... ON CONFLICT DO NOTHING: the rows inserted are the rowcount."""
    stmt = _dialect_insert(conn, table).from_select([c.name for c in table.columns], source)
    return stmt.on_conflict_do_nothing(index_elements=list(keys)).execution_options(preserve_rowcount=True)


def _update_statement(
    conn: Connection, name: str, table: Table, keys: tuple[str, ...], source: Select[Any]
) -> Any:
    """INSERT ... SELECT ... ON CONFLICT DO UPDATE SET merge WHERE merge differs: rowcount = updated.

    Rows the first statement just inserted conflict with themselves, merge to the same values
    and are left alone, so only stored rows that really change are counted.
    """
    stmt = _dialect_insert(conn, table).from_select([c.name for c in table.columns], source)
    merged = MERGES[name](table, stmt.excluded)
    watched = {col: expr for col, expr in merged.items() if col not in OBSERVATION_COLUMNS}
    differs = or_(*(expr.is_distinct_from(table.c[col]) for col, expr in watched.items()))
    stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=merged, where=differs)
    return stmt.execution_options(preserve_rowcount=True)  # INSERT rowcounts are dropped otherwise


def _newest_wins(table: Table, ex: ColumnCollection[str, Any], ts: str) -> dict[str, ColumnElement[Any]]:
    """Every non-key column from the observation with the newer ts (ties: the incoming one)."""
    newer = ex[ts] >= table.c[ts]
    return {col.name: case((newer, ex[col.name]), else_=col) for col in table.columns if not col.primary_key}


def _merge_observed(table: Table, ex: ColumnCollection[str, Any]) -> dict[str, ColumnElement[Any]]:
    """content and content_metrics_daily: the newest observation wins."""
    return _newest_wins(table, ex, "fetched_at")


def _merge_channel(table: Table, ex: ColumnCollection[str, Any]) -> dict[str, ColumnElement[Any]]:
    """channel: newest observation wins; first_seen_at is the least, last_seen_at the greatest."""
    merged = _newest_wins(table, ex, "last_seen_at")
    first = table.c.first_seen_at
    merged["first_seen_at"] = case((ex.first_seen_at < first, ex.first_seen_at), else_=first)
    return merged


def _merge_channel_metrics(table: Table, ex: ColumnCollection[str, Any]) -> dict[str, ColumnElement[Any]]:
    """channel_metrics_daily: per metric, newer non-null value wins; older values fill gaps."""
    merged = _newest_wins(table, ex, "fetched_at")
    newer = ex.fetched_at >= table.c.fetched_at
    for col in METRIC_COLUMNS["channel_metrics_daily"]:
        current, incoming = table.c[col], ex[col]
        merged[col] = case((newer, func.coalesce(incoming, current)), else_=func.coalesce(current, incoming))
    return merged


MERGES: dict[str, Merge] = {
    "channel": _merge_channel,
    "content": _merge_observed,
    "content_metrics_daily": _merge_observed,
    "channel_metrics_daily": _merge_channel_metrics,
}


def _table_frame(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with the table's columns: channel observation times, hashtags as JSON text."""
    if name == "channel":
        frame = frame.with_columns(
            pl.col("timezone").fill_null(DEFAULT_TIMEZONE), pl.col("fetched_at").alias("last_seen_at")
        ).rename({"fetched_at": "first_seen_at"})
    if name == "content":
        frame = frame.with_columns(_json_list(pl.col("hashtags")).alias("hashtags"))
    return frame.select(c.name for c in TABLES[name].columns)


def _json_list(tags: pl.Expr) -> pl.Expr:
    """A list of hashtags as ``json.dumps(tags, ensure_ascii=False)`` writes it; null stays null.

    Hashtags are word characters only (transforms.common.HASHTAG_PATTERN), so escaping quote
    and backslash is all JSON needs here.
    """
    quoted = pl.concat_str(
        pl.lit('"'),
        pl.element().str.replace_all("\\", "\\\\", literal=True).str.replace_all('"', '\\"', literal=True),
        pl.lit('"'),
    )
    return pl.concat_str(pl.lit("["), tags.list.eval(quoted).list.join(", "), pl.lit("]"))


def _later(incoming: ColumnElement[Any], current: ColumnElement[Any]) -> ColumnElement[Any]:
    """The later of two nullable timestamps (NULL only when both are NULL)."""
    return case((or_(current.is_(None), incoming > current), incoming), else_=current)


def _advance_sync(conn: Connection, sync: Sequence[SyncUpdate], run_id: str) -> None:
    """Upsert sync_state; watermark and full refresh only move forward, no-op if unchanged."""
    if not sync:
        return
    stmt = _dialect_insert(conn, _SYNC)
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
