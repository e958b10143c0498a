"""Warehouse: migrations, engines and idempotent loads, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import xxhash
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, Text, cast, func, insert, inspect, select, text

from transforms.schemas import SCHEMAS
from warehouse import merge
from warehouse.engine import WarehouseURLError, begin_write, make_engine
from warehouse.load import (
    AuditInfo,
    LoadResult,
    SyncUpdate,
    get_sync_state,
    load_batch,
    record_failed_load,
)
from warehouse.merge import MissingReferenceError
from warehouse.migrate import alembic_config, current, head, upgrade
from warehouse.models import Base

UTC = dt.UTC
T1 = dt.datetime(2025, 3, 1, 1, 0, 0, 123456, tzinfo=UTC)
T2 = dt.datetime(2025, 3, 1, 13, 0, tzinfo=UTC)
T3 = dt.datetime(2025, 3, 2, 1, 0, tzinfo=UTC)
PUB = dt.datetime(2025, 2, 27, 10, 30, tzinfo=UTC)
D1 = dt.date(2025, 3, 1)
D2 = dt.date(2025, 3, 2)
DATA_TABLES = ("channel", "content", "channel_metrics_daily", "content_metrics_daily", "sync_state")
DIGESTS = frozenset({"values_xxh3"})
ALL_TABLES = {*DATA_TABLES, "load_audit", "campaign", "campaign_content", "time_zone_offset"}


@pytest.fixture
def engine(warehouse_url: str) -> Iterator[Engine]:
    """A migrated warehouse on each dialect."""
    upgrade(warehouse_url)
    eng = make_engine(warehouse_url)
    yield eng
    eng.dispose()


def prov(fetched_at: dt.datetime, run: str = "run-1") -> dict[str, Any]:
    """Provenance columns of one observation."""
    return {"fetched_at": fetched_at, "run_id": run, "raw_file": f"raw/{run}/00001-media.json.gz"}


def frame(table: str, *rows: dict[str, Any]) -> pl.DataFrame:
    """A literal frame with the table's exact schema."""
    return pl.DataFrame(list(rows), schema=SCHEMAS[table])


def channel_row(at: dt.datetime = T1, run: str = "run-1", **kw: Any) -> dict[str, Any]:
    """One channel observation."""
    base = {"platform": "instagram", "channel_id": "17841400000000001", "handle": "kota"}
    return (
        base
        | {"display_name": "Kota", "url": "https://i.example/kota", "timezone": None}
        | prov(at, run)
        | kw
    )


def content_row(
    cid: str = "18000000000000001", at: dt.datetime = T1, run: str = "run-1", **kw: Any
) -> dict[str, Any]:
    """One content observation."""
    base = {"platform": "instagram", "content_id": cid, "channel_id": "17841400000000001"}
    desc = {"content_type": "post", "media_type": "IMAGE", "published_at": PUB, "title": None}
    more = {"caption": "Halo #Kota", "url": f"https://i.example/p/{cid}", "hashtags": ["kota", "jakarta"]}
    return base | desc | more | prov(at, run) | kw


def cmd_row(
    cid: str = "18000000000000001", day: dt.date = D1, at: dt.datetime = T1, run: str = "run-1", **kw: Any
) -> dict[str, Any]:
    """One content_metrics_daily observation."""
    base = {
        "platform": "instagram",
        "content_id": cid,
        "snapshot_date": day,
        "channel_id": "17841400000000001",
    }
    metrics = {"views": 1000, "reach": 800, "likes": 50, "comments": 5, "shares": None, "saves": 3}
    return base | metrics | prov(at, run) | kw


def chmd_row(day: dt.date = D1, at: dt.datetime = T1, run: str = "run-1", **kw: Any) -> dict[str, Any]:
    """One channel_metrics_daily observation (all metrics NULL unless given)."""
    base = {"platform": "instagram", "channel_id": "17841400000000001", "snapshot_date": day}
    metrics = dict.fromkeys(("followers", "following", "posts_count", "views", "reach"))
    return base | metrics | prov(at, run) | kw


def batch(*, at: dt.datetime = T1, run: str = "run-1") -> dict[str, pl.DataFrame]:
    """A small full batch: one channel, two posts, their metrics and a channel snapshot."""
    return {
        "channel": frame("channel", channel_row(at, run)),
        "content": frame(
            "content", content_row(at=at, run=run), content_row("18000000000000002", at, run, hashtags=[])
        ),
        "channel_metrics_daily": frame(
            "channel_metrics_daily", chmd_row(D1, at, run, followers=217000, following=12, posts_count=900)
        ),
        "content_metrics_daily": frame(
            "content_metrics_daily",
            cmd_row(at=at, run=run),
            cmd_row("18000000000000002", at=at, run=run, views=None),
        ),
    }


def audit(run: str = "run-1", **kw: Any) -> AuditInfo:
    """Audit facts of a batch."""
    return AuditInfo(
        run_id=run,
        flow_run_id="flow-" + run,
        platform="instagram",
        channel_id="17841400000000001",
        raw_files=[f"raw/{run}/00001-media.json.gz"],
        started_at=T3,
        **kw,
    )


def counts(inserted: int = 0, updated: int = 0, unchanged: int = 0, quarantined: int = 0) -> dict[str, int]:
    """One table's expected counts: {in, loaded, inserted, updated, unchanged, quarantined}."""
    loaded = inserted + updated + unchanged
    values = (loaded + quarantined, loaded, inserted, updated, unchanged, quarantined)
    return dict(zip(("in", "loaded", "inserted", "updated", "unchanged", "quarantined"), values, strict=True))


def rows(engine: Engine, table: str) -> list[dict[str, Any]]:
    """All rows of a table in key order, as dicts of Python values."""
    t = Base.metadata.tables[table]
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]


def stored_channel(at: dt.datetime = T1, run: str = "run-1", **kw: Any) -> dict[str, Any]:
    """The channel row expected from channel_row(at, run, **kw) seen once."""
    row = channel_row(at, run, timezone="Asia/Jakarta") | {"first_seen_at": at, "last_seen_at": at} | kw
    del row["fetched_at"]
    return row


def stored_content(*args: Any, **kw: Any) -> dict[str, Any]:
    """The content row expected from content_row(*args, **kw): hashtags as JSON text, its digest."""
    row = content_row(*args, **kw)
    row |= {"hashtags": json.dumps(row["hashtags"])}
    return row | {"values_xxh3": values_xxh3(row)}


def values_xxh3(row: dict[str, Any]) -> int:
    """content.values_xxh3 as ``merge.values_digest`` defines it, by hand."""
    columns = (
        "channel_id",
        "content_type",
        "media_type",
        "published_at",
        "title",
        "caption",
        "url",
        "hashtags",
    )
    values = []
    for column in columns:
        value = row[column]
        if isinstance(value, dt.datetime):
            value = str((value - dt.datetime(1970, 1, 1, tzinfo=UTC)) // dt.timedelta(microseconds=1))
        values.append(None if value is None else value.encode())
    lengths = ",".join("-" if v is None else str(len(v)) for v in values)
    unsigned = xxhash.xxh3_64_intdigest(lengths.encode() + b":" + b"".join(v or b"" for v in values))
    return unsigned - 2**64 if unsigned >= 2**63 else unsigned


def dump(engine: Engine, without: frozenset[str] = frozenset()) -> dict[str, list[tuple[Any, ...]]]:
    """Every data table as stored text, in key order (a byte-level snapshot), columns ``without`` left out."""
    out = {}
    with engine.connect() as conn:
        for name in DATA_TABLES:
            t = Base.metadata.tables[name]
            columns = [cast(c, Text) for c in t.columns if c.name not in without]
            stmt = select(*columns).order_by(*t.primary_key.columns)
            out[name] = [tuple(r) for r in conn.execute(stmt)]
    return out


def downgrade(engine: Engine, revision: str) -> None:
    """Downgrade the warehouse to ``revision`` in one transaction."""
    with begin_write(engine) as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def _audit_rows(engine: Engine) -> list[dict[str, Any]]:
    """load_audit rows as dicts, oldest first."""
    t = Base.metadata.tables["load_audit"]
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(t).order_by(t.c.finished_at))]


def row_count(engine: Engine, table: str) -> int:
    """Rows in a table."""
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(Base.metadata.tables[table])) or 0)


# --- migrations -------------------------------------------------------------------------------


def test_upgrade_from_empty_creates_exactly_the_models(warehouse_url: str) -> None:
    assert current(warehouse_url) is None
    upgrade(warehouse_url)
    assert current(warehouse_url) == head() == "0004"
    upgrade(warehouse_url)  # already at head: a no-op
    eng = make_engine(warehouse_url)
    try:
        with eng.connect() as conn:
            assert set(inspect(conn).get_table_names()) == ALL_TABLES | {"alembic_version"}
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            if conn.dialect.name == "postgresql":
                comments = {
                    c["name"]: c["comment"] for c in inspect(conn).get_columns("content_metrics_daily")
                }
                assert str(comments["saves"]).startswith("Lifetime saves, as observed on snapshot_date; NULL")
                assert all(comments.values())
    finally:
        eng.dispose()


def test_upgrade_to_0003_keeps_the_facts_and_drops_their_foreign_key(warehouse_url: str) -> None:
    """0003 replaces the facts' foreign key by the load's check; rows and views survive both ways."""
    upgrade(warehouse_url)
    eng = make_engine(warehouse_url)
    try:
        load_batch(eng, batch(), audit())  # by today's loader, then back to 0002
        downgrade(eng, "0002")
        before = dump(eng, without=DIGESTS)

        def facts_fks() -> list[list[str]]:
            with eng.connect() as conn:
                fks = inspect(conn).get_foreign_keys("content_metrics_daily")
                return [fk["referred_columns"] for fk in fks]

        assert facts_fks() == [["platform", "content_id"]]
        upgrade(warehouse_url, "0003")
        assert (current(warehouse_url), facts_fks(), dump(eng, DIGESTS)) == ("0003", [], before)
        with eng.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM mart_content_performance")).scalar_one() == 2
        downgrade(eng, "0002")
        assert facts_fks() == [["platform", "content_id"]]
        assert (current(warehouse_url), dump(eng, DIGESTS)) == ("0002", before)
    finally:
        eng.dispose()


def test_upgrade_to_0004_adds_content_digests_that_the_next_load_fills(warehouse_url: str) -> None:
    """Rows stored before 0004 have no digest: the next load of them changes nothing and fills it,
    and the load after that leaves them out before staging them."""
    upgrade(warehouse_url)
    eng = make_engine(warehouse_url)
    try:
        load_batch(eng, batch(), audit())
        stored = dump(eng)
        downgrade(eng, "0003")
        upgrade(warehouse_url)
        with eng.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            assert conn.execute(text("SELECT count(*) FROM mart_content_performance")).scalar_one() == 2
            assert conn.execute(text("SELECT count(values_xxh3) FROM content")).scalar_one() == 0
        again = load_batch(eng, batch(at=T2, run="run-2"), audit("run-2"))
        assert again.table_counts["content"] == {
            **again.table_counts["content"],
            "unchanged": 2,
            "updated": 0,
        }
        assert dump(eng) == stored  # digests as a load computes them, provenance untouched
        with begin_write(eng) as conn:
            third = merge.table_frame("content", batch(at=T3, run="run-3")["content"])
            assert merge.changing_rows(conn, "content", third)[0].is_empty()
    finally:
        eng.dispose()


@pytest.mark.parametrize("ratio", [float("inf"), float("-inf")], ids=["join", "lookup"])
def test_facts_without_their_content_are_refused_naming_them(
    engine: Engine, ratio: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(merge, "LOOKUP_RATIO", ratio)  # content found by hash join or by key lookups
    load_batch(engine, batch(), audit())
    before = dump(engine)
    orphans = [cmd_row(f"gone-{i}", at=T2, run="run-2") for i in range(6)]
    orphans.append(cmd_row("gone-0", D2, at=T2, run="run-2"))
    facts = frame("content_metrics_daily", cmd_row(at=T2, run="run-2", likes=51), *orphans)
    message = (
        "content_metrics_daily: 7 row(s) refer to content rows that do not exist, (platform, content_id) = "
        "('instagram', 'gone-0'), ('instagram', 'gone-1'), ('instagram', 'gone-2'), ('instagram', 'gone-3'), "
        "('instagram', 'gone-4') and 1 more"
    )
    with pytest.raises(MissingReferenceError) as raised:
        load_batch(engine, {"content_metrics_daily": facts}, audit("run-2"))
    assert str(raised.value) == message
    assert dump(engine) == before
    assert row_count(engine, "load_audit") == 1


def test_compare_metadata_sees_a_missing_table(warehouse_url: str) -> None:
    eng = make_engine(warehouse_url)
    try:
        with eng.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert {d[1].name for d in diff if d[0] == "add_table"} == ALL_TABLES
    finally:
        eng.dispose()


def test_every_column_and_table_is_documented() -> None:
    for table in Base.metadata.tables.values():
        assert table.comment, table.name
        assert [c.name for c in table.columns if not c.comment] == [], table.name


# --- loads ------------------------------------------------------------------------------------


def test_load_then_reload_same_frames_changes_nothing(engine: Engine) -> None:
    sync = [SyncUpdate("instagram", "17841400000000001", "media", PUB, T1)]
    first = load_batch(
        engine,
        batch(),
        audit(
            rows_quarantined=2,
            quarantine_reasons={"reach_negative": 2},
            quarantined_by_table={"content_metrics_daily": 2},
        ),
        sync,
    )
    assert first.table_counts == {
        "channel": counts(inserted=1),
        "content": counts(inserted=2),
        "channel_metrics_daily": counts(inserted=1),
        "content_metrics_daily": counts(inserted=2, quarantined=2),
    }
    assert (first.rows_in, first.rows_loaded, first.rows_changed) == (8, 6, 6)
    before = dump(engine)

    second = load_batch(engine, batch(), audit(run="run-2"), sync)
    assert second == LoadResult(
        second.load_id,
        {
            "channel": counts(unchanged=1),
            "content": counts(unchanged=2),
            "channel_metrics_daily": counts(unchanged=1),
            "content_metrics_daily": counts(unchanged=2),
        },
        rows_in=6,
        rows_loaded=6,
        rows_changed=0,
    )
    assert dump(engine) == before
    assert rows(engine, "channel") == [stored_channel()]
    assert rows(engine, "content") == [stored_content(), stored_content("18000000000000002", hashtags=[])]
    assert rows(engine, "content")[0]["hashtags"] == '["kota", "jakarta"]'
    assert rows(engine, "channel_metrics_daily") == [
        chmd_row(D1, followers=217000, following=12, posts_count=900)
    ]
    assert rows(engine, "content_metrics_daily") == [cmd_row(), cmd_row("18000000000000002", views=None)]
    audits = _audit_rows(engine)
    assert [
        (a["run_id"], a["status"], a["rows_in"], a["rows_loaded"], a["rows_quarantined"], a["rows_changed"])
        for a in audits
    ] == [
        ("run-1", "succeeded", 8, 6, 2, 6),
        ("run-2", "succeeded", 6, 6, 0, 0),
    ]
    assert json.loads(audits[0]["table_counts"]) == first.table_counts
    assert json.loads(audits[0]["quarantine_reasons"]) == {"reach_negative": 2}
    assert json.loads(audits[0]["raw_files"]) == ["raw/run-1/00001-media.json.gz"]
    assert audits[0]["flow_run_id"] == "flow-run-1" and audits[0]["started_at"] == T3
    assert audits[0]["finished_at"].tzinfo == UTC and audits[0]["error"] is None


def test_newer_snapshot_updates_and_older_one_does_not_overwrite(engine: Engine) -> None:
    load_batch(engine, batch(), audit())
    newer = {
        "channel": frame("channel", channel_row(T2, "run-2", display_name="Kota Baru")),
        "content": frame("content", content_row(at=T2, run="run-2", caption="Halo lagi")),
        "content_metrics_daily": frame(
            "content_metrics_daily", cmd_row(at=T2, run="run-2", likes=60, views=1100)
        ),
    }
    result = load_batch(engine, newer, audit("run-2"))
    assert {t: result.table_counts[t] for t in newer} == dict.fromkeys(newer, counts(updated=1))
    after_newer = dump(engine)
    newest_channel = stored_channel(T2, "run-2", display_name="Kota Baru", first_seen_at=T1)
    assert rows(engine, "channel") == [newest_channel]
    assert rows(engine, "content")[0] == stored_content(at=T2, run="run-2", caption="Halo lagi")
    assert rows(engine, "content_metrics_daily")[0] == cmd_row(at=T2, run="run-2", likes=60, views=1100)

    # the older observation arrives late (reprocessing): nothing moves
    late = load_batch(engine, batch(), audit("run-1-reprocessed"))
    assert late.rows_changed == 0
    assert late.table_counts["content_metrics_daily"] == counts(unchanged=2)
    assert dump(engine) == after_newer

    # an even earlier channel sighting moves only first_seen_at
    t0 = T1 - dt.timedelta(days=1)
    early = load_batch(
        engine,
        {"channel": frame("channel", channel_row(t0, "run-0", display_name="Kota Lama"))},
        audit("run-0"),
    )
    assert early.table_counts["channel"] == counts(updated=1)
    assert rows(engine, "channel") == [newest_channel | {"first_seen_at": t0}]


def test_channel_metrics_partial_observations_merge(engine: Engine) -> None:
    load_batch(engine, {"channel": frame("channel", channel_row())}, audit())
    snapshot = dict(followers=217000, following=12, posts_count=900)
    insights = dict(views=50000, reach=30000)
    # D1: account snapshot first, then insights; D2: the other way round
    for rows_in_order in (
        [chmd_row(D1, T1, "run-1", **snapshot), chmd_row(D1, T2, "run-2", **insights)],
        [chmd_row(D2, T3, "run-3", **insights), chmd_row(D2, T2, "run-2", **snapshot)],
    ):
        for row in rows_in_order:
            load_batch(
                engine, {"channel_metrics_daily": frame("channel_metrics_daily", row)}, audit(row["run_id"])
            )
    assert rows(engine, "channel_metrics_daily") == [
        chmd_row(D1, T2, "run-2", **snapshot, **insights),
        chmd_row(D2, T3, "run-3", **snapshot, **insights),
    ]
    # a newer partial observation replaces only what it reports; re-loading either part is a no-op
    again = load_batch(
        engine,
        {"channel_metrics_daily": frame("channel_metrics_daily", chmd_row(D1, T1, "run-1", **snapshot))},
        audit(),
    )
    assert again.table_counts["channel_metrics_daily"] == counts(unchanged=1)
    newer = frame("channel_metrics_daily", chmd_row(D1, T3, "run-3", followers=217050))
    load_batch(engine, {"channel_metrics_daily": newer}, audit("run-3"))
    merged = chmd_row(D1, T3, "run-3", **(snapshot | insights | {"followers": 217050}))
    assert rows(engine, "channel_metrics_daily")[0] == merged


def test_null_metrics_stay_null(engine: Engine) -> None:
    load_batch(engine, batch(), audit())
    cmd = Base.metadata.tables["content_metrics_daily"]
    with engine.connect() as conn:
        stored = conn.execute(
            select(cmd.c.content_id, cmd.c.views, cmd.c.shares, cmd.c.saves).order_by(cmd.c.content_id)
        ).all()
        zeros = conn.scalar(
            select(func.count()).select_from(cmd).where((cmd.c.views == 0) | (cmd.c.shares == 0))
        )
    assert [tuple(r) for r in stored] == [
        ("18000000000000001", 1000, None, 3),
        ("18000000000000002", None, None, 3),
    ]
    assert zeros == 0
    chmd = rows(engine, "channel_metrics_daily")[0]
    assert (chmd["views"], chmd["reach"]) == (None, None)


def test_failure_rolls_back_everything_and_failed_load_is_recorded(engine: Engine) -> None:
    sync_1 = [SyncUpdate("instagram", "17841400000000001", "media", PUB, None)]
    load_batch(engine, batch(), audit(), sync_1)
    before = dump(engine)
    bad = batch(at=T2, run="run-2")  # updates every table ...
    bad["content_metrics_daily"] = frame(
        "content_metrics_daily", cmd_row(at=T2, run="run-2"), cmd_row("unknown-content", at=T2, run="run-2")
    )  # ... but the last table refers to content that does not exist
    later = [SyncUpdate("instagram", "17841400000000001", "media", T2, T2)]
    with pytest.raises(MissingReferenceError, match=r"\('instagram', 'unknown-content'\)"):
        load_batch(engine, bad, audit("run-2"), later)
    assert dump(engine) == before
    assert row_count(engine, "load_audit") == 1

    load_id = record_failed_load(
        engine, audit("run-2", rows_quarantined=1), "boom at https://x/?access_token=SECRET123"
    )
    failed = [a for a in _audit_rows(engine) if a["status"] == "failed"]
    assert len(failed) == 1
    row = failed[0]
    assert row["load_id"] == load_id
    totals = {k: row[k] for k in ("run_id", "rows_in", "rows_loaded", "rows_quarantined", "rows_changed")}
    assert totals == {
        "run_id": "run-2",
        "rows_in": 1,
        "rows_loaded": 0,
        "rows_quarantined": 1,
        "rows_changed": 0,
    }
    assert row["error"] == "boom at https://x/?access_token=REDACTED"
    assert json.loads(row["table_counts"])["content"] == counts()


def test_empty_database_failure_leaves_nothing(engine: Engine) -> None:
    frames = {"content_metrics_daily": frame("content_metrics_daily", cmd_row())}
    with pytest.raises(MissingReferenceError, match="content_metrics_daily: 1 row"):
        load_batch(engine, frames, audit(), [SyncUpdate("instagram", "17841400000000001", "media", PUB, T1)])
    empty = sorted(ALL_TABLES - {"time_zone_offset"})  # reference data the migration fills
    assert {t: row_count(engine, t) for t in empty} == dict.fromkeys(empty, 0)


def test_duplicate_keys_raise_naming_the_table(engine: Engine) -> None:
    frames = {"content_metrics_daily": frame("content_metrics_daily", cmd_row(), cmd_row(likes=99))}
    with pytest.raises(
        ValueError,
        match=r"content_metrics_daily: duplicate key \('platform', 'content_id', 'snapshot_date'\)",
    ):
        load_batch(engine, frames, audit())
    with pytest.raises(ValueError, match="sync_state: duplicate"):
        load_batch(engine, {}, audit(), [SyncUpdate("ig", "1", "media", None, None)] * 2)
    assert row_count(engine, "load_audit") == 0


def test_wrong_schema_or_table_raises(engine: Engine) -> None:
    with pytest.raises(ValueError, match="content: frame does not match"):
        load_batch(engine, {"content": frame("content", content_row()).drop("hashtags")}, audit())
    with pytest.raises(ValueError, match="unknown table 'posts'"):
        load_batch(engine, {"posts": frame("content", content_row())}, audit())


def test_sync_state_round_trip(engine: Engine) -> None:
    assert get_sync_state(engine, "instagram", "17841400000000001", "media") is None
    load_batch(engine, {}, audit(), [SyncUpdate("instagram", "17841400000000001", "media", PUB, T1)])
    state = get_sync_state(engine, "instagram", "17841400000000001", "media")
    assert state is not None
    assert (state.watermark, state.last_full_refresh_at, state.run_id) == (PUB, T1, "run-1")
    assert state.updated_at.tzinfo == UTC
    first_update = state.updated_at

    # an older watermark (reprocessing old raw data) never moves it back, and changes nothing
    load_batch(
        engine,
        {},
        audit("run-2"),
        [SyncUpdate("instagram", "17841400000000001", "media", PUB - dt.timedelta(days=3), None)],
    )
    state = get_sync_state(engine, "instagram", "17841400000000001", "media")
    assert state is not None
    assert (state.watermark, state.last_full_refresh_at, state.run_id, state.updated_at) == (
        PUB,
        T1,
        "run-1",
        first_update,
    )

    load_batch(engine, {}, audit("run-3"), [SyncUpdate("instagram", "17841400000000001", "media", T2, None)])
    state = get_sync_state(engine, "instagram", "17841400000000001", "media")
    assert state is not None
    assert (state.watermark, state.last_full_refresh_at, state.run_id) == (T2, T1, "run-3")
    assert state.updated_at > first_update


# --- engines ----------------------------------------------------------------------------------


def test_sqlite_is_wal_and_readable_during_a_write(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    eng = make_engine(sqlite_url)
    path = sqlite_url.removeprefix("sqlite:///")
    try:
        with eng.connect() as conn:
            pragmas = [
                conn.exec_driver_sql(f"PRAGMA {p}").scalar()
                for p in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
            ]
        assert pragmas == ["wal", 30000, 1, 1]
        channel = Base.metadata.tables["channel"]
        values = {
            "platform": "x",
            "channel_id": "1",
            "first_seen_at": T1,
            "last_seen_at": T1,
            "run_id": "r",
            "raw_file": "f",
        }
        with begin_write(eng) as conn:
            conn.execute(insert(channel), values)
            reader = sqlite3.connect(path, timeout=0.1)  # like a BI tool: its own connection
            try:
                assert reader.execute("SELECT count(*) FROM channel").fetchone() == (0,)
            finally:
                reader.close()
        reader = sqlite3.connect(path, timeout=0.1)
        try:
            assert reader.execute("SELECT platform, channel_id, timezone FROM channel").fetchall() == [
                ("x", "1", "Asia/Jakarta")
            ]
        finally:
            reader.close()
    finally:
        eng.dispose()


def test_make_engine_normalises_and_creates_folders(tmp_path: Path) -> None:
    for url in ("postgres://u:pw@db.example/wh", "postgresql://u:pw@db.example/wh"):
        eng = make_engine(url)
        assert eng.url.drivername == "postgresql+psycopg"
        eng.dispose()
    eng = make_engine(f"sqlite:///{tmp_path / 'a' / 'b' / 'warehouse.db'}")
    eng.dispose()
    assert (tmp_path / "a" / "b").is_dir()


@pytest.mark.parametrize(
    "url",
    [
        "nosuchdb://user:s3cr3tpw@host/db",
        "postgresql+nosuchdriver://user:s3cr3tpw@host/db",
        "postgresql://user:s3cr3tpw@host:notaport/db",
    ],
)
def test_bad_url_errors_redact_the_password(url: str) -> None:
    with pytest.raises(WarehouseURLError) as info:
        make_engine(url)
    assert "s3cr3tpw" not in str(info.value)
    assert "***" in str(info.value)
