"""The merge of staged rows into a warehouse table: merge rules, waves and exact per-run counts.

A batch holds many runs, and runs share keys (the same post is observed every day). Rows of
different keys are independent; only rows of one key must merge in arrival order. So each row
gets its *wave*: the rank of its run among the runs holding its key, runs ordered by their
first row in the frame. Wave 1 holds every key of the batch once, wave 2 the keys seen a
second time, and so on; each wave is one set-based upsert, so a batch of 40 daily runs of
1,000 posts takes five statements for ``content`` where it took eighty, and one for the
daily facts. Merging wave by wave is merging run by run: a key's rows meet the stored row in
the same order, and no key is touched twice by one statement.

Every wave is one ``INSERT ... SELECT ... ON CONFLICT (key) DO UPDATE SET <merge> WHERE <merge
differs from the stored row>``, in key order (concurrent loads lock rows in the same order and
wave 1 takes every lock a batch needs, so overlapping loads wait, never deadlock). Counts stay
exact per run:

- PostgreSQL: ``RETURNING run_id, xmax = 0``, counted in the same statement. The new version
  of a row updated by ``ON CONFLICT`` keeps the updater's row lock in ``xmax``; a freshly
  inserted row has none, so ``xmax = 0`` is true exactly for inserts (PostgreSQL 9.5 and
  later, checked on 15). Rows the ``WHERE`` leaves alone are not returned: they are the
  unchanged ones. Where the newest observation supplies the whole row (``content``,
  ``content_metrics_daily``), a changed row's ``run_id`` is the incoming one, so it names the
  run. Where an older observation can change a stored row (a channel's ``first_seen_at``, a
  gap in ``channel_metrics_daily``) the merged ``run_id`` may be the stored one, so the
  returned keys are joined back to the wave's staged rows, whose ``run_id`` names the run.
- SQLite: one writer at a time (the load holds the write lock from ``BEGIN IMMEDIATE``), so
  before each wave's upsert one query counts its rows without a stored row (inserts) and
  those whose merge differs from the stored row (updates), exactly.

Staged rows carry a source number in place of their provenance (fetch time, run, raw file),
which a page's rows share; the sources are staged once and joined back in the merge.

The merge rules make loads order-independent and re-runs no-ops: the observation with the
newer ``fetched_at`` (``last_seen_at`` for channels) supplies the row, provenance included,
but only when one of its values differs (a re-fetch of unchanged values changes nothing);
``channel_metrics_daily`` merges partial observations column by column (a newer non-null value
wins, an older one only fills gaps); a channel's ``first_seen_at`` only moves earlier.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import polars as pl
import xxhash
from psycopg.errors import UniqueViolation
from sqlalchemy import (
    ColumnCollection,
    ColumnElement,
    Connection,
    Select,
    Subquery,
    Table,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from transforms.schemas import KEYS, METRIC_COLUMNS, TABLE_ORDER
from transforms.schemas import PROVENANCE as PROVENANCE_COLUMNS
from warehouse import bulk
from warehouse.models import CHECKED_REFERENCES, DEFAULT_TIMEZONE, Base

TABLES: dict[str, Table] = {name: Base.metadata.tables[name] for name in TABLE_ORDER}
DIGEST = "_digest"  # the suffix of the unchanged-rows check's staging table
WAVE = "_wave"  # a staged row's wave: the rank of its run among the runs holding its key
SOURCE = "_source"  # a staged row's source: its (fetched_at, run_id, raw_file)
PROVENANCE = tuple(PROVENANCE_COLUMNS)  # the columns a staged row takes from its source
MERGE_WORK_MEM = "64MB"  # a wave's key-order sort of a 64 MiB batch, in memory rather than spilled
# A stored table this many times larger than the rows a statement looks for is searched by key
# lookups, not hash-joined whole (``by_lookup``).
LOOKUP_RATIO = 4.0

Merge = Callable[[Table, ColumnCollection[str, Any]], dict[str, ColumnElement[Any]]]
Written = dict[str, tuple[int, int]]  # run_id -> (inserted, updated)
Tally = Counter[tuple[str, bool]]  # (run_id, inserted) -> rows changed

# Tables that store a digest of each row's values (``VALUES_DIGEST``): the unchanged-rows check
# compares an incoming row's digest with the stored one instead of its values.
VALUES_DIGEST = "values_xxh3"
DIGESTED = frozenset({"content"})

# When only these differ, the row is left alone: a new fetch of unchanged values changes nothing,
# and provenance keeps pointing at the observation that established the stored values.
OBSERVATION_COLUMNS = frozenset({"fetched_at", "run_id", "raw_file", "last_seen_at"})
# Columns derived from the others: never a change of their own.
DERIVED_COLUMNS = frozenset({VALUES_DIGEST})


def upsert_table(
    conn: Connection, name: str, frame: pl.DataFrame, skip_unchanged: bool = True, insert_first: bool = True
) -> Written:
    """Stage one table's rows in bulk, then merge them wave by wave; (inserted, updated) per run_id.

    With ``skip_unchanged`` (tables in ``DIGESTED``), the keys whose every row equals the stored
    row are left out first: merging them would change nothing (``changing_rows``). With
    ``insert_first`` (PostgreSQL), the first wave is tried as a plain insert (``_insert_new``).
    """
    table, keys = TABLES[name], KEYS[name]
    postgres = conn.dialect.name == "postgresql"
    values = table_frame(name, frame)
    stored = False
    if skip_unchanged and name in DIGESTED:
        values, stored = changing_rows(conn, name, values)
        if values.is_empty():
            return {}
    rows, sources = by_source(with_waves(values, keys), table)
    staged = bulk.stage(conn, name, table, rows, index_on=WAVE)
    source = bulk.stage(conn, name + SOURCE, table, sources, index_on=SOURCE)
    check_references(conn, table, staged, rows)
    waves, joined = int(rows[WAVE].max() or 0), _joined(table, staged, source)  # type: ignore[arg-type]
    if postgres:
        tally = _merge_postgres(conn, name, joined, waves, insert_first)
    else:
        tally = _merge_sqlite(conn, name, joined, waves)
    if stored:
        fill_digests(conn, name, staged)
    for temporary in (staged, source):
        bulk.drop(conn, temporary)
    return {run: (tally[run, True], tally[run, False]) for run, _ in tally}


class MissingReferenceError(ValueError):
    """Rows of a load refer to rows that do not exist (a reference in ``CHECKED_REFERENCES``)."""


def check_references(conn: Connection, table: Table, staged: Table, rows: pl.DataFrame) -> None:
    """Lock the rows the staged rows refer to and check that every one exists, one statement each.

    PostgreSQL: each reference's referred rows are locked ``FOR KEY SHARE`` (no load or user
    can delete them or change their key until commit). For a foreign key, its per-row check
    then finds the lock held and only looks the row up (a fifth less time for 200k daily facts).
    A reference in ``CHECKED_REFERENCES`` has no foreign key: the count of referred rows found
    must equal the staged rows' distinct references, else ``MissingReferenceError`` names the
    missing ones and the transaction rolls back. SQLite (one writer at a time) only counts the
    checked references, looking each up by key.
    """
    postgres = conn.dialect.name == "postgresql"
    for referred, pairs in _references(table, staged):
        checked = CHECKED_REFERENCES.get(table.name, ("", ()))[0] == referred.name
        if not (postgres or checked):
            continue
        names = [mine.name for mine, _ in pairs]
        distinct = rows.select(names).n_unique()
        wanted = select(*(mine for mine, _ in pairs)).distinct().subquery("wanted")
        match = [wanted.c[mine.name] == theirs for mine, theirs in pairs]
        one: ColumnElement[Any] = literal_column("1")
        query: Select[Any]
        if postgres and by_lookup(conn, referred, distinct):
            # A locking subquery is never flattened into a join: each reference is one key lookup.
            lookup = select(one.label("one")).select_from(referred).where(*match)
            locked = lookup.with_for_update(read=True, key_share=True, of=referred).lateral("locked")
            query = select(func.count()).select_from(wanted.join(locked, true()))
        elif postgres:
            staged_has = select(one).select_from(wanted).where(*match).exists()
            found = select(one.label("one")).select_from(referred).where(staged_has)
            locked_rows = found.with_for_update(read=True, key_share=True, of=referred).subquery()
            query = select(func.count()).select_from(locked_rows)
        else:
            exists = select(one).select_from(referred).where(*match).exists()
            query = select(func.count()).select_from(wanted).where(exists)
        count = conn.execute(query).scalar_one()
        if checked and count < distinct:
            raise MissingReferenceError(_missing(conn, table, referred, pairs))


def by_lookup(conn: Connection, stored: Table, wanted: int) -> bool:
    """PostgreSQL: whether to find ``wanted`` rows of ``stored`` by one key lookup each rather
    than by a hash join, which reads the whole table.

    The planner's cost model prefers the hash join far past the point where the lookups are
    cheaper on a cached table, and a batch's rows are a shrinking part of a growing table; so
    the choice is made here, from the planner's own estimate of the table's rows (``EXPLAIN``:
    its statistics scaled to the table's current size, or a guess from the size before the
    table's first analyse, which a first backfill may not see for minutes).
    """
    plan = conn.execute(text(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {stored.name}")).scalar_one()
    return float(plan[0]["Plan"]["Plan Rows"]) > LOOKUP_RATIO * wanted


def _references(table: Table, staged: Table) -> list[tuple[Table, list[tuple[Any, Any]]]]:
    """Each referred table with its (staged, referred) column pairs: foreign keys, then checked ones."""
    found = [
        (c.referred_table, [(staged.c[e.parent.name], e.column) for e in c.elements])
        for c in table.foreign_key_constraints
    ]
    if table.name in CHECKED_REFERENCES:
        name, columns = CHECKED_REFERENCES[table.name]
        referred = TABLES[name]
        found.append((referred, [(staged.c[c], referred.c[c]) for c in columns]))
    return found


def _missing(conn: Connection, table: Table, referred: Table, pairs: list[tuple[Any, Any]]) -> str:
    """What a load's rows refer to that does not exist: rows, and the first few missing keys."""
    mine = [m for m, _ in pairs]
    exists = select(literal_column("1")).select_from(referred).where(*(m == t for m, t in pairs)).exists()
    query = select(*mine, func.count()).where(~exists).group_by(*mine).order_by(*mine)
    missing = conn.execute(query).all()
    rows = sum(r[-1] for r in missing)
    shown = ", ".join(repr(tuple(r[:-1])) for r in missing[:5])
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    columns = ", ".join(m.name for m in mine)
    return (
        f"{table.name}: {rows} row(s) refer to {referred.name} rows that do not exist, "
        f"({columns}) = {shown}{more}"
    )


def changing_rows(conn: Connection, name: str, values: pl.DataFrame) -> tuple[pl.DataFrame, bool]:
    """The rows of the keys a merge may change, and whether any of those keys has a stored row.

    A key may change when it has no stored row, or a stored row whose ``VALUES_DIGEST`` is NULL
    or differs from one of the key's incoming rows. A key whose every row has the stored digest
    is left alone by every wave (its values are the stored values), so it is dropped before its
    rows are staged whole: the check stages only keys and digests. Loads of the same channel
    hold its advisory lock (``warehouse.load``), so no other load changes a stored row between
    this check and the merge.
    """
    table, keys = TABLES[name], KEYS[name]
    slim = values.select(*keys, VALUES_DIGEST)
    staged = bulk.stage(conn, name + DIGEST, table, slim)
    alias = table.alias("stored")
    same_key = [alias.c[k] == staged.c[k] for k in keys]
    stored: Any
    if conn.dialect.name == "postgresql" and by_lookup(conn, table, slim.height):
        # A subquery with LIMIT is not flattened into a join: one key lookup per staged row.
        stored = select(alias.c[keys[0]], alias.c[VALUES_DIGEST]).where(*same_key).limit(1).lateral("stored")
        joined = staged.outerjoin(stored, true())
    else:
        stored = alias
        joined = staged.outerjoin(stored, and_(*same_key))
    differs = stored.c[VALUES_DIGEST].is_distinct_from(staged.c[VALUES_DIGEST])  # NULL differs too
    query = (
        select(*(staged.c[k] for k in keys), stored.c[keys[0]].is_not(None).label("stored"))
        .select_from(joined)
        .where(or_(stored.c[keys[0]].is_(None), differs))
        .distinct()
    )
    found = conn.execute(query).all()
    bulk.drop(conn, staged)
    any_stored = any(row[-1] for row in found)
    changing = pl.DataFrame(
        [row[:-1] for row in found], schema={k: values.schema[k] for k in keys}, orient="row"
    )
    if changing.is_empty():
        return values.clear(), False  # a daily re-read: nothing changed, and no keys to count
    if changing.height == values.select(keys).n_unique():
        return values, any_stored  # every key may change (new posts): the frame as it is, not a copy
    return values.join(changing, on=list(keys), how="semi", maintain_order="left"), any_stored


def fill_digests(conn: Connection, name: str, staged: Table) -> None:
    """Correct the digest of stored rows whose values equal a staged row's but whose digest does not.

    The merge writes the digest of every row it changes; a row it leaves alone keeps its own.
    One loaded before its table had ``VALUES_DIGEST`` (NULL), or edited by hand since its digest
    was written, gets the right one at its next observation, merged or not, and the next
    load's check skips it again.
    """
    table, keys = TABLES[name], KEYS[name]
    same = [table.c[k] == staged.c[k] for k in keys]
    equal = [~table.c[c].is_distinct_from(staged.c[c]) for c in watched(table)]
    fill = (
        update(table)
        .where(*same, table.c[VALUES_DIGEST].is_distinct_from(staged.c[VALUES_DIGEST]), *equal)
        .values({VALUES_DIGEST: staged.c[VALUES_DIGEST]})
    )
    conn.execute(fill)


def values_digest(frame: pl.DataFrame, columns: Sequence[str]) -> pl.Series:
    """The XXH3-64 hash of each row's values in ``columns`` (``VALUES_DIGEST``), as a signed integer.

    The hashed text is each value's length in UTF-8 bytes (``-`` for NULL), comma-separated,
    then a colon and the values one after another: timestamps as microseconds since the epoch,
    other values as their text. The lengths, which hold no colon, tell where
    each value ends, so no two different rows give the same text. XXH3 is the standard fast
    non-cryptographic hash (python-xxhash wraps its reference C code): a change goes unseen only
    if the changed row hashes alike, one chance in 2**64.
    """
    texts = []
    for column in columns:
        value = pl.col(column)
        if isinstance(frame.schema[column], pl.Datetime):
            value = value.dt.epoch("us")
        texts.append(value.cast(pl.String))
    lengths = [text.str.len_bytes().cast(pl.String).fill_null("-") for text in texts]
    hashed = pl.concat_str(
        pl.concat_str(lengths, separator=","), pl.lit(":"), *(t.fill_null("") for t in texts)
    )
    data = frame.select(hashed.cast(pl.Binary)).to_series().to_list()
    xxh3 = xxhash.xxh3_64_intdigest
    return pl.Series(VALUES_DIGEST, [xxh3(b) for b in data], dtype=pl.UInt64).reinterpret(signed=True)


def with_waves(frame: pl.DataFrame, keys: tuple[str, ...]) -> pl.DataFrame:
    """The frame sorted by key, each row with its wave: its run's rank among the runs of its key."""
    runs = frame["run_id"].unique(maintain_order=True)  # arrival order: each run's first row
    order = pl.int_range(runs.len(), eager=True)
    arrival = pl.col("run_id").replace_strict(runs, order, return_dtype=pl.Int32).alias(WAVE)
    ranked = frame.with_columns(arrival).sort(*keys, WAVE)
    # Sorted, a key's rows are adjacent in arrival order: the wave is the offset from its first row.
    first = pl.any_horizontal(*(pl.col(k).ne_missing(pl.col(k).shift(1)) for k in keys))
    row = pl.int_range(pl.len(), dtype=pl.Int32)
    return ranked.with_columns((row - pl.when(first).then(row).forward_fill() + 1).alias(WAVE))


def by_source(rows: pl.DataFrame, table: Table) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The rows with their provenance replaced by a source number, and the sources.

    A page's rows share fetch time, run and raw file (a third of a fact row's bytes), so they
    are staged once per source and joined back in the merge.
    """
    columns = [c for c in PROVENANCE if c in table.c]
    provenance = rows.select(columns)
    sources = provenance.unique(maintain_order=True).with_row_index(SOURCE)
    sources = sources.with_columns(pl.col(SOURCE).cast(pl.Int32))
    # The number is found on the provenance columns alone: joining the whole frame would copy
    # every column (a batch's new captions above all) once more.
    numbers = provenance.join(sources, on=columns, how="left", nulls_equal=True, maintain_order="left")
    return rows.drop(columns).with_columns(numbers[SOURCE]), sources


def _joined(table: Table, values: Table, sources: Table) -> Subquery:
    """The staged rows with their provenance joined back, named as the table's, plus wave and source."""
    columns = [(values.c if c.name in values.c else sources.c)[c.name] for c in table.columns]
    both = values.join(sources, values.c[SOURCE] == sources.c[SOURCE])
    return select(*columns, values.c[WAVE], values.c[SOURCE]).select_from(both).subquery("staged")


def _wave_source(table: Table, staged: Subquery, ordered: bool) -> Any:
    """The staged rows of one wave (bind parameter ``wave``), in key order if ``ordered``.

    PostgreSQL locks rows as it merges them, so the order must be explicit. SQLite locks the
    database, and staged rows already sit in rowid order by key (``with_waves``).
    """
    keys = KEYS[table.name]
    wave = select(*(staged.c[c.name] for c in table.columns)).where(staged.c[WAVE] == bindparam("wave"))
    return wave.order_by(*(staged.c[k] for k in keys)) if ordered else wave


def dialect_insert(conn: Connection, table: Table) -> Any:
    """The dialect's INSERT construct, which knows ON CONFLICT."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"warehouse upserts support postgresql and sqlite, not {conn.dialect.name}")


def _wave_insert(conn: Connection, table: Table, staged: Subquery) -> Any:
    """``INSERT INTO table SELECT <one wave>`` (bind parameter ``wave``), in the dialect's construct."""
    source = _wave_source(table, staged, ordered=conn.dialect.name == "postgresql")
    return dialect_insert(conn, table).from_select([c.name for c in table.columns], source)


def _upsert(conn: Connection, name: str, staged: Subquery) -> Any:
    """INSERT ... SELECT <one wave> ON CONFLICT (key) DO UPDATE SET merge WHERE merge differs."""
    table = TABLES[name]
    stmt = _wave_insert(conn, table, staged)
    merged = MERGES[name](table, stmt.excluded)
    return stmt.on_conflict_do_update(
        index_elements=list(KEYS[name]), set_=merged, where=_differs(name, stmt.excluded)
    )


def _differs(name: str, incoming: ColumnCollection[str, Any]) -> ColumnElement[bool]:
    """True where merging the incoming row changes a value of the stored row (not just provenance)."""
    table = TABLES[name]
    merged = MERGES[name](table, incoming)
    return or_(*(merged[col].is_distinct_from(table.c[col]) for col in watched(table)))


def watched(table: Table) -> list[str]:
    """The columns whose change is a change of the row: neither key, observation nor derived."""
    return [
        c.name
        for c in table.columns
        if not (c.primary_key or c.name in OBSERVATION_COLUMNS or c.name in DERIVED_COLUMNS)
    ]


def _merge_postgres(
    conn: Connection, name: str, staged: Subquery, waves: int, insert_first: bool = True
) -> Tally:
    """Each wave in one statement, its changed rows counted per source and kind in the same statement.

    With ``insert_first``, wave 1 is first tried as a plain insert (``_insert_new``).
    """
    counted = _counted_upsert(conn, name, staged)
    conn.exec_driver_sql(f"SET LOCAL work_mem = '{MERGE_WORK_MEM}'")  # until commit: sorts in memory
    tally: Tally = Counter()
    for wave in range(1, waves + 1):
        found = _insert_new(conn, name, staged) if wave == 1 and insert_first else None
        if found is None:
            found = list(conn.execute(counted, {"wave": wave}))
        for run_id, was_inserted, count in found:
            tally[run_id, was_inserted] += count
    return tally


def _insert_new(conn: Connection, name: str, staged: Subquery) -> list[Any] | None:
    """Wave 1 as a plain ``INSERT`` under a savepoint, counted per run; None if a key is stored.

    Where no key of the wave is stored (a new day's facts, a first load, new posts), the upsert
    inserts every row as it is staged: a plain insert does the same without ``ON CONFLICT``'s
    speculative insertion (about a fifth of a fact row's insert). The first stored key it meets
    raises a unique violation; the insert is rolled back to the savepoint and the wave goes
    through the upsert as always. Rows go in key order, so a re-run fails at its first row.
    """
    table = TABLES[name]
    inserted = _wave_insert(conn, table, staged).returning(table.c.run_id).cte("inserted")
    counted = select(inserted.c.run_id, true(), func.count()).group_by(inserted.c.run_id)
    try:
        with conn.begin_nested():
            return list(conn.execute(counted, {"wave": 1}))
    except IntegrityError as exc:
        if not isinstance(exc.orig, UniqueViolation):
            raise
        return None


def _counted_upsert(conn: Connection, name: str, staged: Subquery) -> Select[Any]:
    """``WITH changed AS (<upsert> RETURNING run_id or key, xmax = 0) SELECT run_id, inserted, count(*)``.

    Where the merged row's run_id may be the stored one (``NEWEST_SUPPLIES_ROW`` does not hold
    the table), the returned keys are joined to the wave's staged rows, whose run_id is the run
    whose observation changed the row.
    """
    table, keys = TABLES[name], KEYS[name]
    inserted = (literal_column("xmax") == literal_column("'0'::xid")).label("inserted")
    upsert = _upsert(conn, name, staged)
    if name in NEWEST_SUPPLIES_ROW:
        changed = upsert.returning(table.c.run_id, inserted).cte("changed")
        return select(changed.c.run_id, changed.c.inserted, func.count()).group_by(
            changed.c.run_id, changed.c.inserted
        )
    changed = upsert.returning(*(table.c[k] for k in keys), inserted).cte("changed")
    same_key = and_(*(changed.c[k] == staged.c[k] for k in keys), staged.c[WAVE] == bindparam("wave"))
    return (
        select(staged.c.run_id, changed.c.inserted, func.count())
        .select_from(changed.join(staged, same_key))
        .group_by(staged.c.run_id, changed.c.inserted)
    )


def _merge_sqlite(conn: Connection, name: str, staged: Subquery, waves: int) -> Tally:
    """Per wave, the rows that will insert or change counted first, then merged in one statement."""
    table, keys = TABLES[name], KEYS[name]
    stored = table.c[keys[0]].is_not(None)
    joined = staged.outerjoin(table, and_(*(table.c[k] == staged.c[k] for k in keys)))
    counted = (
        select(staged.c.run_id, stored, func.count())
        .select_from(joined)
        .where(staged.c[WAVE] == bindparam("wave"), or_(~stored, _differs(name, staged.c)))
        .group_by(staged.c.run_id, stored)
    )
    upsert = _upsert(conn, name, staged)
    tally: Tally = Counter()
    for wave in range(1, waves + 1):
        for run_id, was_stored, count in conn.execute(counted, {"wave": wave}):
            tally[run_id, not was_stored] += count
        conn.execute(upsert, {"wave": wave})
    return tally


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
# Tables whose merge takes every column from the newer observation or leaves the row alone: a
# row they change carries the incoming run_id.
NEWEST_SUPPLIES_ROW = frozenset(name for name, merge in MERGES.items() if merge is _merge_observed)


def table_frame(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with the table's columns: channel observation times, hashtags as JSON text."""
    if name == "channel":
        frame = frame.with_columns(
            pl.col("timezone").fill_null(DEFAULT_TIMEZONE), pl.col("fetched_at").alias("last_seen_at")
        ).rename({"fetched_at": "first_seen_at"})
    if name == "content":
        frame = frame.with_columns(_json_list(pl.col("hashtags")).alias("hashtags"))
    if name in DIGESTED:
        frame = frame.with_columns(values_digest(frame, watched(TABLES[name])))
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
