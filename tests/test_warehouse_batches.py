"""A batch of many runs loads exactly as its runs would, one transaction after another.

``load_runs`` merges every run of a batch in a few set-based statements; these tests pin it
to the reference semantics, the same runs loaded one by one with ``load_batch``: the same
stored rows and the same per-run audit counts, on both dialects. The runs share keys, arrive
out of time order, tie on ``fetched_at``, re-send unchanged values and report partial
channel snapshots, so every merge rule is exercised more than once per key.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import polars as pl
import psycopg
import pytest
from sqlalchemy import Engine, Text, cast, event, select, text

from transforms.schemas import SCHEMAS, TABLE_ORDER
from warehouse import merge
from warehouse.engine import begin_write, make_engine
from warehouse.load import AuditInfo, channel_lock_key, load_batch, load_runs, lock_channels
from warehouse.merge import changing_rows, table_frame, upsert_table
from warehouse.migrate import upgrade
from warehouse.models import Base

UTC = dt.UTC
T0 = dt.datetime(2025, 3, 1, tzinfo=UTC)
CHANNELS = ("17841400000000001", "17841400000000002")
DAYS = (dt.date(2025, 3, 1), dt.date(2025, 3, 2))
TABLES = ("channel", "content", "channel_metrics_daily", "content_metrics_daily")
RUNS = 7


@pytest.fixture(params=["join", "lookup"])
def found_by(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Stored rows found by hash join or by key lookups (``merge.by_lookup``), whatever the sizes."""
    monkeypatch.setattr(merge, "LOOKUP_RATIO", float("inf") if request.param == "join" else float("-inf"))
    return str(request.param)


@pytest.fixture
def engines(warehouse_url: str) -> Iterator[tuple[Engine, Engine]]:
    """Two migrated warehouses of the same dialect: one loaded run by run, one batch at once."""
    with _migrated_pair(warehouse_url) as pair:
        yield pair


@contextmanager
def _migrated_pair(url: str) -> Iterator[tuple[Engine, Engine]]:
    """Engines on this warehouse and on a second, empty one of the same dialect, both migrated."""
    with _twin(url) as second:
        made = []
        for each in (url, second):
            upgrade(each)
            made.append(make_engine(each))
        try:
            yield made[0], made[1]
        finally:
            for engine in made:
                engine.dispose()


@contextmanager
def _twin(url: str) -> Iterator[str]:
    """A second, empty database of the same dialect (a file beside it, or a PG database)."""
    if url.startswith("sqlite"):
        yield url.replace("warehouse.db", "batched.db")
        return
    base, _, name = url.rpartition("/")
    admin = base.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}_b"')
    try:
        yield f"{base}/{name}_b"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}_b" WITH (FORCE)')


def _runs(seed: int) -> list[tuple[str, dict[str, pl.DataFrame]]]:
    """Random runs over a few shared keys, values from small sets so repeats and ties happen."""
    rng = random.Random(seed)
    runs = []
    for index in range(RUNS):
        run = f"run-{seed}-{index}"
        at = T0 + dt.timedelta(hours=rng.choice((0, 1, 1, 2, 3)))  # out of order, with ties
        prov = {"fetched_at": at, "run_id": run, "raw_file": f"raw/{run}.json.gz"}
        channels = [c for c in CHANNELS if rng.random() < 0.8] or [CHANNELS[0]]
        posts = [(c, f"{c[-1]}00{p}") for c in channels for p in range(3) if rng.random() < 0.7]
        frames = {
            "channel": [
                {
                    "platform": "instagram",
                    "channel_id": c,
                    "handle": rng.choice(("kota", "kota2")),
                    "display_name": "Kota",
                    "url": None,
                    "timezone": rng.choice((None, "Asia/Jakarta")),
                }
                | prov
                for c in channels
            ],
            "content": [
                {
                    "platform": "instagram",
                    "content_id": p,
                    "channel_id": c,
                    "content_type": "post",
                    "media_type": "IMAGE",
                    "published_at": T0,
                    "title": None,
                    "caption": rng.choice(("Halo #Kota", "Halo lagi", None)),
                    "url": None,
                    "hashtags": rng.choice((["kota"], [], None)),
                }
                | prov
                for c, p in posts
            ],
            "channel_metrics_daily": [
                {"platform": "instagram", "channel_id": c, "snapshot_date": d}
                | {m: rng.choice((None, 10, 11)) for m in ("followers", "following", "posts_count")}
                | {m: rng.choice((None, 5)) for m in ("views", "reach")}
                | prov
                for c in channels
                for d in DAYS
                if rng.random() < 0.7
            ],
            "content_metrics_daily": [
                {"platform": "instagram", "content_id": p, "snapshot_date": d, "channel_id": c}
                | {
                    m: rng.choice((None, 1, 2))
                    for m in ("views", "reach", "likes", "comments", "shares", "saves")
                }
                | prov
                for c, p in posts
                for d in DAYS
                if rng.random() < 0.7
            ],
        }
        runs.append((run, {t: pl.DataFrame(rows, schema=SCHEMAS[t]) for t, rows in frames.items()}))
    return runs


def _audit(run: str) -> AuditInfo:
    """Audit facts of one run."""
    return AuditInfo(run, None, "instagram", CHANNELS[0], [f"raw/{run}.json.gz"], T0)


def _dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every data table as stored text, in key order."""
    with engine.connect() as conn:
        out = {}
        for name in TABLES:
            t = Base.metadata.tables[name]
            stmt = select(*(cast(c, Text) for c in t.columns)).order_by(*t.primary_key.columns)
            out[name] = [tuple(r) for r in conn.execute(stmt)]
        return out


def _audit_counts(engine: Engine) -> list[tuple[Any, ...]]:
    """Every load_audit row's run, per-table counts and totals, sorted."""
    t = Base.metadata.tables["load_audit"]
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.run_id, t.c.table_counts, t.c.rows_loaded, t.c.rows_changed))
        return sorted(((r.run_id, json.loads(r.table_counts), *r[2:]) for r in rows), key=repr)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_batch_of_runs_loads_as_its_runs_would_one_by_one(
    engines: tuple[Engine, Engine], seed: int, found_by: str
) -> None:
    one_by_one, batched = engines
    earlier, later = _runs(seed), _runs(seed + 100)
    for runs in (earlier, later, earlier):  # the last pass re-sends older observations
        for run, frames in runs:
            load_batch(one_by_one, frames, _audit(run))
        joined = {t: pl.concat([f[t] for _, f in runs]) for t in TABLES}
        load_runs(batched, joined, [_audit(run) for run, _ in runs])
    assert _dump(batched) == _dump(one_by_one)
    assert _audit_counts(batched) == _audit_counts(one_by_one)


def test_runs_merge_in_the_order_of_their_first_rows(engines: tuple[Engine, Engine]) -> None:
    one_by_one, batched = engines
    runs = _runs(7)
    order = [runs[i] for i in (3, 0, 6, 1, 5, 2, 4)]
    for run, frames in order:
        load_batch(one_by_one, frames, _audit(run))
    joined = {t: pl.concat([f[t] for _, f in order]) for t in TABLES}
    load_runs(batched, joined, [_audit(run) for run, _ in runs])  # audits in another order
    assert _dump(batched) == _dump(one_by_one)
    assert _audit_counts(batched) == _audit_counts(one_by_one)


@pytest.mark.parametrize("seed", [4, 5])
def test_leaving_out_unchanged_keys_merges_as_the_whole_merge(
    engines: tuple[Engine, Engine], seed: int, found_by: str
) -> None:
    """The unchanged-rows check (PostgreSQL) drops only keys whose merge would change nothing."""
    whole, checked = engines
    _merge_alike(whole, checked, seed, "skip_unchanged")


def _merge_alike(without: Engine, with_it: Engine, seed: int, option: str) -> None:
    """Random runs merged twice over into both warehouses, ``option`` off and on: the same
    counts per run from every merge, and the same rows after each."""
    earlier, later = _runs(seed), _runs(seed + 100)
    for runs in (earlier, later, earlier, later):
        joined = {t: pl.concat([f[t] for _, f in runs]) for t in TABLES}
        counts = []
        for engine, value in ((without, False), (with_it, True)):
            with begin_write(engine) as conn:
                counts.append([upsert_table(conn, t, joined[t], **{option: value}) for t in TABLE_ORDER])
        assert counts[0] == counts[1]
        assert _dump(with_it) == _dump(without)


TRICKY = ("Halo 👋🏽 #Kota\r\nbaris", 'e\u0301 vs é, "quoted", back\\slash\ttab', "", None, "x" * 3000)


def _content(captions: tuple[str | None, ...], run: str) -> pl.DataFrame:
    rows = [
        {
            "platform": "instagram",
            "content_id": f"c{i}",
            "channel_id": CHANNELS[0],
            "content_type": "post",
            "media_type": "IMAGE",
            "published_at": T0,
            "title": None,
            "caption": caption,
            "url": None,
            "hashtags": ["kota"],
            "fetched_at": T0 + dt.timedelta(hours=len(run)),
            "run_id": run,
            "raw_file": f"raw/{run}.json.gz",
        }
        for i, caption in enumerate(captions)
    ]
    return pl.DataFrame(rows, schema=SCHEMAS["content"])


def test_the_unchanged_check_compares_digests(warehouse_url: str, found_by: str) -> None:
    """Tricky stored texts compare equal to themselves; a changed text or a new key is kept; a
    stored row without its right digest is kept, and its load corrects the digest."""
    upgrade(warehouse_url)
    engine = make_engine(warehouse_url)
    channel = _runs(1)[0][1]["channel"].filter(pl.col("channel_id") == CHANNELS[0])
    load_batch(engine, {"channel": channel, "content": _content(TRICKY, "r1")}, _audit("r1"))
    with begin_write(engine) as conn:
        same = table_frame("content", _content(TRICKY, "r22"))  # newer fetch, same values
        assert changing_rows(conn, "content", same)[0].is_empty()
        edited = table_frame(
            "content", _content((*TRICKY[:2], "now edited", None, "x" * 3000, "new"), "r333")
        )
        found, stored = changing_rows(conn, "content", edited)
        assert (found["content_id"].to_list(), stored) == (["c2", "c5"], True)
        new_only = table_frame("content", _content(("a", "b", "c", "d", "e", "f"), "r4444")[5:])
        assert changing_rows(conn, "content", new_only)[1] is False
        digests = "SELECT content_id, values_xxh3 FROM content ORDER BY content_id"
        right = conn.execute(text(digests)).all()
        conn.execute(text("UPDATE content SET values_xxh3 = NULL WHERE content_id IN ('c0', 'c1')"))
        conn.execute(text("UPDATE content SET values_xxh3 = 12345 WHERE content_id = 'c3'"))
        found, stored = changing_rows(conn, "content", same)
        assert (found["content_id"].to_list(), stored) == (["c0", "c1", "c3"], True)
        assert upsert_table(conn, "content", _content(TRICKY, "r22")) == {}  # nothing changed ...
        assert conn.execute(text(digests)).all() == right  # ... and the digests are right again
        assert changing_rows(conn, "content", same)[0].is_empty()
    engine.dispose()


@pytest.mark.parametrize(
    "one, other",
    [
        ({"title": "", "caption": None}, {"title": None, "caption": ""}),
        ({"title": "ab", "caption": "c"}, {"title": "a", "caption": "bc"}),
        ({"title": "1:a", "caption": None}, {"title": None, "caption": "1:a"}),
        ({"title": "-", "caption": None}, {"title": None, "caption": "-"}),
    ],
)
def test_values_digest_tells_apart_rows_whose_values_join_alike(
    one: dict[str, str | None], other: dict[str, str | None]
) -> None:
    """No two different rows give the same digested text: NULL, empty and split texts differ."""
    frames = [
        table_frame(
            "content", _content(("x",), "r1").with_columns(**{k: pl.lit(v, pl.String) for k, v in kw.items()})
        )
        for kw in (one, other)
    ]
    first, second = (f["values_xxh3"].item() for f in frames)
    assert first != second


def test_loads_of_one_channel_follow_one_another(pg_url: str) -> None:
    """A load waits for the channel's advisory lock that another open load holds."""
    upgrade(pg_url)
    engine = make_engine(pg_url)
    runs = _runs(2)
    done = threading.Event()

    def second_load() -> None:
        run, frames = runs[1]
        load_runs(engine, frames, [_audit(run)])
        done.set()

    with begin_write(engine) as first:
        lock_channels(first, runs[0][1], [_audit(runs[0][0])])
        worker = threading.Thread(target=second_load)
        worker.start()
        with engine.connect() as watch:
            for _ in range(200):  # until the second load waits on the advisory lock (at most 10 s)
                waiting = watch.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                    )
                ).scalar_one()
                if waiting:
                    break
                time.sleep(0.05)
        assert waiting == 1
        assert not done.is_set()
    worker.join(timeout=30)
    assert done.is_set()
    engine.dispose()


def test_a_load_locks_the_content_its_facts_refer_to(pg_url: str, found_by: str) -> None:
    """Until a load commits, the content rows its daily facts refer to cannot be deleted (no foreign
    key guards them: the load's check does, under this lock)."""
    upgrade(pg_url)
    engine = make_engine(pg_url)
    run, frames = _runs(3)[0]
    load_runs(engine, {t: f for t, f in frames.items() if t != "content_metrics_daily"}, [_audit(run)])
    next_day = pl.col("snapshot_date") + dt.timedelta(days=1)
    facts = frames["content_metrics_daily"].with_columns(next_day.alias("snapshot_date"))
    referred = facts["content_id"][0]
    with begin_write(engine) as conn:
        upsert_table(conn, "content_metrics_daily", facts)
        with psycopg.connect(pg_url.replace("+psycopg", "")) as other:
            other.execute("SET lock_timeout = '200ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute("DELETE FROM content WHERE content_id = %s", (referred,))
    engine.dispose()


def test_a_load_takes_its_channels_locks_in_key_order(pg_url: str) -> None:
    """With the greater of two channels' locks held elsewhere, a load of both holds the lesser one
    and waits on the greater (taken in the other order, it would hold neither)."""
    upgrade(pg_url)
    engine = make_engine(pg_url)
    low, high = sorted(channel_lock_key("instagram", c) for c in CHANNELS)
    audits = [AuditInfo(f"r{i}", None, "instagram", c, [], T0) for i, c in enumerate(CHANNELS)]
    with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (high,))
        query = (
            "SELECT (classid::bigint << 32 | objid::bigint)::bigint, granted FROM pg_locks"
            " WHERE locktype = 'advisory' AND pid <> pg_backend_pid()"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        with begin_write(engine) as conn:
            worker = threading.Thread(target=lock_channels, args=(conn, {}, audits))
            worker.start()
            for _ in range(200):  # until the load waits (at most 10 s)
                held = holder.execute(query).fetchall()
                if any(not granted for _, granted in held):
                    break
                time.sleep(0.05)
            holder.execute("SELECT pg_advisory_unlock(%s)", (high,))
            worker.join(timeout=30)
    as_signed = {(key - (1 << 64) if key >= 1 << 63 else key, granted) for key, granted in held}
    assert as_signed == {(low, True), (high, False)}
    engine.dispose()


@pytest.mark.parametrize("seed", [8, 9])
def test_a_first_wave_inserted_plainly_merges_as_the_upsert(pg_url: str, seed: int) -> None:
    """Wave 1 tried as a plain insert (``merge._insert_new``) gives the upsert's rows and counts:
    new keys through the insert, and the whole wave through the upsert once a key is stored."""
    seen: list[str] = []
    with _migrated_pair(pg_url) as (upsert, plain):
        event.listen(plain, "before_cursor_execute", lambda *args: seen.append(str(args[2])))
        _merge_alike(upsert, plain, seed, "insert_first")
    inserts = [s for s in seen if s.lstrip().startswith("WITH inserted AS")]
    assert inserts and all("ON CONFLICT" not in s for s in inserts)  # the plain insert was tried
    assert any(s.startswith("ROLLBACK TO SAVEPOINT") for s in seen)  # and gave way to the upsert
    assert any("ON CONFLICT" in s for s in seen)


def test_a_plain_insert_that_meets_a_stored_key_leaves_nothing_behind(pg_url: str) -> None:
    """A plain insert that already inserted rows when it met a stored key is rolled back to its
    savepoint: the upsert then merges the wave once, with exact counts."""
    upgrade(pg_url)
    engine = make_engine(pg_url)
    try:
        channel = _runs(1)[0][1]["channel"].filter(pl.col("channel_id") == CHANNELS[0])
        stored = _content(("a", "b"), "run-1").filter(pl.col("content_id") == "c1")
        with begin_write(engine) as conn:
            upsert_table(conn, "channel", channel)
            assert upsert_table(conn, "content", stored) == {"run-1": (1, 0)}
        # In key order c0 is new and c1 stored: the plain insert adds c0, then fails on c1.
        again = _content(("new", "changed", "new too"), "run-22")
        with begin_write(engine) as conn:
            assert upsert_table(conn, "content", again) == {"run-22": (2, 1)}
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT content_id, caption, run_id FROM content ORDER BY 1")).all()
        assert [tuple(r) for r in rows] == [
            ("c0", "new", "run-22"),
            ("c1", "changed", "run-22"),
            ("c2", "new too", "run-22"),
        ]
    finally:
        engine.dispose()
