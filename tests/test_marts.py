"""The marts on both warehouses: exact numbers for the fixed data set in tests/marts_dataset.py."""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import InternalError, OperationalError, ProgrammingError
from typer.testing import CliRunner

from socmed.cli import app
from tests import marts_dataset
from warehouse.engine import make_engine
from warehouse.mart_columns import VIEW_DOCS
from warehouse.marts import Sql, median
from warehouse.migrate import alembic_config, current, head, upgrade
from warehouse.roles import RoleError, grant_readonly

README = Path(__file__).resolve().parents[1] / "README.md"
A = marts_dataset.A


@pytest.fixture
def engine(warehouse_url: str) -> Iterator[Engine]:
    """A migrated warehouse holding the fixed data set and its campaigns."""
    upgrade(warehouse_url)
    eng = make_engine(warehouse_url)
    marts_dataset.load(eng)
    yield eng
    eng.dispose()


def plain(value: Any) -> Any:
    """A value comparable across dialects: ISO dates, ints for Decimal sums, rates to 6 places."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value)
    if isinstance(value, float):
        return round(value, 6)
    return value


def rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """A query's rows as plain tuples."""
    with engine.connect() as conn:
        return [tuple(plain(v) for v in row) for row in conn.execute(text(sql), params)]


def test_views_have_exactly_the_documented_columns(warehouse_url: str) -> None:
    upgrade(warehouse_url)
    eng = make_engine(warehouse_url)
    try:
        with eng.connect() as conn:
            assert set(inspect(conn).get_view_names()) == set(VIEW_DOCS)
            for name, doc in VIEW_DOCS.items():
                columns = list(conn.execute(text(f"SELECT * FROM {name} WHERE 1 = 0")).keys())
                assert columns == [c.name for c in doc.columns], name
                assert all(c.comment and c.unit and c.measure for c in doc.columns)
            if conn.dialect.name == "postgresql":
                comments = {c["name"]: c["comment"] for c in inspect(conn).get_columns("mart_channel_daily")}
                assert comments["followers_change"] == (
                    "Change of followers, spread evenly over the days a snapshot interval covers; "
                    "may be negative [followers; daily]"
                )
                assert all(comments.values())
                view = conn.execute(text("SELECT obj_description('mart_campaign_daily'::regclass)")).scalar()
                assert str(view).endswith("Grain: campaign + platform + channel_id + day")
    finally:
        eng.dispose()


def test_downgrade_removes_views_and_campaign_tables_then_upgrade_restores(warehouse_url: str) -> None:
    upgrade(warehouse_url)
    eng = make_engine(warehouse_url)
    try:
        with eng.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, "0001")
        with eng.connect() as conn:
            assert inspect(conn).get_view_names() == []
            assert "campaign" not in inspect(conn).get_table_names()
    finally:
        eng.dispose()
    upgrade(warehouse_url)
    assert current(warehouse_url) == head()


def test_channel_daily_spreads_gaps_keeps_negative_deltas_and_conserves_totals(engine: Engine) -> None:
    got = rows(
        engine,
        "SELECT day, days_before_latest, followers, followers_basis, followers_change, posts_published, "
        "views_delta, likes_delta, comments_delta, shares_delta, saves_delta, interactions_delta, "
        "account_reach, content_observed, delta_basis, engagement_rate_by_followers, "
        "engagement_rate_by_reach, engagement_rate_by_views FROM mart_channel_daily "
        "WHERE channel_id = :a AND day >= '2026-10-31' ORDER BY day",
        a=A,
    )
    assert got == [
        (
            "2026-10-31",
            5,
            None,
            900,
            3,
            0,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            0,
            None,
            None,
            None,
            None,
        ),
        ("2026-11-01", 4, 1000, 1000, 4, 2, 125, 12, 1, 0, 2, 15, None, 1, "spread", 0.015, None, 0.12),
        (
            "2026-11-02",
            3,
            1010,
            1010,
            10,
            0,
            228,
            23,
            2,
            3,
            2,
            30,
            None,
            1,
            "spread",
            round(30 / 1010, 6),
            None,
            round(30 / 228, 6),
        ),
        (
            "2026-11-03",
            2,
            None,
            1010,
            10,
            0,
            113,
            6,
            1,
            0,
            1,
            8,
            None,
            0,
            "spread",
            round(8 / 1010, 6),
            None,
            round(8 / 113, 6),
        ),
        (
            "2026-11-04",
            1,
            1030,
            1030,
            10,
            0,
            114,
            7,
            1,
            0,
            2,
            10,
            5000,
            1,
            "spread",
            round(10 / 1030, 6),
            0.002,
            round(10 / 114, 6),
        ),
        ("2026-11-05", 0, 1025, 1025, -5, 0, 30, -1, 1, 0, 0, 0, None, 1, "spread", 0.0, None, 0.0),
    ]
    backfill = rows(
        engine,
        "SELECT day, posts_published, views_delta, interactions_delta, delta_basis FROM mart_channel_daily "
        "WHERE channel_id = :a AND delta_basis = 'backfill'",
        a=A,
    )
    assert backfill == [("2026-09-15", 1, 1000, 120, "backfill")]
    totals = rows(
        engine,
        "SELECT handle, MIN(day), MAX(day), COUNT(*), SUM(views_delta), SUM(likes_delta), "
        "SUM(followers_change), SUM(posts_published) FROM mart_channel_daily GROUP BY handle ORDER BY handle",
    )
    # Deltas add up to the lifetime counters last observed; follower changes to last minus first.
    assert totals == [
        ("berita", "2026-10-20", "2026-11-05", 17, None, None, None, 2),  # every channel to the newest day
        ("kota", "2026-09-15", "2026-11-05", 52, 520 + 80 + 1010, 38 + 8 + 101, 1025 - 900, 3),
        ("tv", "2026-10-30", "2026-11-05", 7, 400, 22 + 20, 520 - 500, 2),
    ]


def test_content_deltas_explain_each_interval(engine: Engine) -> None:
    got = rows(
        engine,
        "SELECT content_id, snapshot_date, delta_basis, period_start, period_end, period_days, views_delta, "
        "likes_delta, shares_delta, interactions_delta FROM mart_content_deltas "
        "ORDER BY content_id, snapshot_date",
    )
    assert got == [
        ("a1", "2026-11-01", "first", "2026-11-01", "2026-11-01", 1, 100, 10, 0, 13),
        ("a1", "2026-11-02", "interval", "2026-11-02", "2026-11-02", 1, 200, 20, 2, 26),
        ("a1", "2026-11-04", "interval", "2026-11-03", "2026-11-04", 2, 200, 10, 0, 14),
        ("a1", "2026-11-05", "interval", "2026-11-05", "2026-11-05", 1, 20, -2, 0, -2),
        ("a2", "2026-11-02", "first", "2026-11-01", "2026-11-02", 2, 50, 5, 1, 6),
        ("a2", "2026-11-05", "interval", "2026-11-03", "2026-11-05", 3, 30, 3, 0, 4),
        ("a3", "2026-11-01", "backfill", "2026-09-15", "2026-09-15", 1, 1000, 100, 5, 120),
        ("a3", "2026-11-04", "interval", "2026-11-02", "2026-11-04", 3, 10, 1, 0, 2),
        ("b0", "2026-11-01", "backfill", "2026-10-30", "2026-10-30", 1, None, 20, None, 25),
        ("b0", "2026-11-05", "interval", "2026-11-02", "2026-11-05", 4, None, 2, None, 2),
        ("b1", "2026-11-05", "first", "2026-11-03", "2026-11-05", 3, 400, 20, 3, 26),
    ]


def test_content_performance_latest_metrics_age_rates_and_rank(engine: Engine) -> None:
    got = rows(
        engine,
        "SELECT content_id, published_date, publish_month, latest_snapshot_date, age_days, views, reach, "
        "interactions, followers_basis, engagement_rate_by_followers, engagement_rate_by_reach, "
        "engagement_rate_by_views, rank_in_channel_month FROM mart_content_performance ORDER BY content_id",
    )
    assert got == [
        (
            "a1",
            "2026-11-01",
            "2026-11-01",
            "2026-11-05",
            4,
            520,
            310,
            51,
            1025,
            round(51 / 1025, 6),
            round(51 / 310, 6),
            round(51 / 520, 6),
            1,
        ),
        # published 2026-10-31 18:30 UTC: 11-01 in Jakarta
        (
            "a2",
            "2026-11-01",
            "2026-11-01",
            "2026-11-05",
            4,
            80,
            60,
            10,
            1025,
            round(10 / 1025, 6),
            round(10 / 60, 6),
            0.125,
            2,
        ),
        (
            "a3",
            "2026-09-15",
            "2026-09-01",
            "2026-11-04",
            50,
            1010,
            705,
            122,
            1030,
            round(122 / 1030, 6),
            round(122 / 705, 6),
            round(122 / 1010, 6),
            1,
        ),
        (
            "b0",
            "2026-10-30",
            "2026-10-01",
            "2026-11-05",
            6,
            None,
            220,
            27,
            520,
            round(27 / 520, 6),
            round(27 / 220, 6),
            None,
            1,
        ),
        (
            "b1",
            "2026-11-03",
            "2026-11-01",
            "2026-11-05",
            2,
            400,
            300,
            26,
            520,
            0.05,
            round(26 / 300, 6),
            0.065,
            1,
        ),
        ("w1", "2026-11-02", "2026-11-01", None, None, None, None, None, None, None, None, None, 1),
        ("w2", "2026-10-20", "2026-10-01", None, None, None, None, None, None, None, None, None, 1),
    ]


def test_platform_monthly_counts_articles_and_takes_medians(engine: Engine) -> None:
    got = rows(engine, "SELECT * FROM mart_platform_monthly ORDER BY platform, month")
    none = (None,) * 10
    assert got == [
        (
            "instagram",
            "2026-09-01",
            1,
            1,
            1010,
            705,
            101,
            10,
            5,
            6,
            122,
            round(122 / 1030, 6),
            round(122 / 705, 6),
            round(122 / 1010, 6),
        ),
        (
            "instagram",
            "2026-10-01",
            1,
            1,
            None,
            220,
            22,
            2,
            None,
            3,
            27,
            round(27 / 520, 6),
            round(27 / 220, 6),
            None,
        ),
        (
            "instagram",
            "2026-11-01",
            2,
            3,
            1000,
            670,
            66,
            8,
            6,
            7,
            87,
            round(51 / 1025, 6),
            round(51 / 310, 6),
            round(51 / 520, 6),
        ),
        ("website", "2026-10-01", 1, 1, *none),
        ("website", "2026-11-01", 1, 1, *none),
    ]


def test_median_of_an_even_count_is_the_mean_of_the_middle_two(warehouse_url: str) -> None:
    eng = make_engine(warehouse_url)
    try:
        with eng.begin() as conn:
            conn.execute(text("CREATE TABLE t (g TEXT, v DOUBLE PRECISION)"))
            values = [("x", 4.0), ("x", 1.0), ("x", 3.0), ("x", 10.0), ("x", None), ("y", 2.0)]
            conn.execute(text("INSERT INTO t VALUES (:g, :v)"), [{"g": g, "v": v} for g, v in values])
            got = conn.execute(text(f"SELECT g, median FROM {median('t', 'v', 'g')} m ORDER BY g")).all()
        assert [tuple(r) for r in got] == [("x", 3.5), ("y", 2.0)]
    finally:
        eng.dispose()


def test_campaign_daily_per_channel_and_day(engine: Engine) -> None:
    got = rows(
        engine,
        "SELECT campaign, handle, day, posts_published, views_delta, reach_delta, interactions_delta, "
        "delta_basis, engagement_rate_by_reach FROM mart_campaign_daily ORDER BY campaign, handle, day",
    )
    assert got == [
        ("Car Free Day", "berita", "2026-11-02", 1, None, None, None, None, None),
        ("Car Free Day", "kota", "2026-11-01", 1, 100, 80, 13, "observed", 0.1625),
        ("Car Free Day", "kota", "2026-11-02", 0, 200, 120, 26, "observed", round(26 / 120, 6)),
        ("Car Free Day", "kota", "2026-11-03", 0, 100, 50, 7, "spread", 0.14),
        ("Car Free Day", "kota", "2026-11-04", 0, 100, 50, 7, "spread", 0.14),
        ("Car Free Day", "kota", "2026-11-05", 0, 20, 10, -2, "observed", -0.2),
        ("Car Free Day", "tv", "2026-11-03", 1, 133, 100, 7, "spread", 0.07),
        ("Car Free Day", "tv", "2026-11-04", 0, 133, 100, 9, "spread", 0.09),
        ("Car Free Day", "tv", "2026-11-05", 0, 134, 100, 10, "spread", 0.1),
        ("Siaga Banjir", "kota", "2026-11-01", 1, 25, 20, 2, "spread", 0.1),
        ("Siaga Banjir", "kota", "2026-11-02", 0, 25, 20, 4, "spread", 0.2),
        ("Siaga Banjir", "kota", "2026-11-03", 0, 10, 6, 1, "spread", round(1 / 6, 6)),
        ("Siaga Banjir", "kota", "2026-11-04", 0, 10, 7, 1, "spread", round(1 / 7, 6)),
        ("Siaga Banjir", "kota", "2026-11-05", 0, 10, 7, 2, "spread", round(2 / 7, 6)),
    ]


def readme_queries() -> dict[str, str]:
    """The SQL blocks of the README's marts section, keyed by their first comment line."""
    section = README.read_text(encoding="utf-8").split("## Marts, campaigns and the report", 1)[1]
    section = section.split("\n## ", 1)[0]
    blocks = re.findall(r"```sql\n(.*?)```", section, flags=re.S)
    return {block.splitlines()[0].removeprefix("-- ").strip(): block for block in blocks}


def test_readme_answers_the_common_questions(engine: Engine) -> None:
    queries = readme_queries()
    growth = rows(engine, queries["follower growth last 30 days per channel"])
    # kota: 84 of the 100 gained from 10-01 to 11-01 fall in the last 30 days, then +10 +10 +10 -5
    assert growth == [
        ("instagram", "kota", 109, 1025),
        ("instagram", "tv", 20, 520),
        ("website", "berita", None, None),
    ]
    top = rows(engine, queries["top 10 posts this month by engagement rate"])
    assert [(r[0], r[1], r[-1]) for r in top] == [
        ("tv", "2026-11-03", 0.05),
        ("kota", "2026-11-01", round(51 / 1025, 6)),
        ("kota", "2026-11-01", round(10 / 1025, 6)),
    ]
    reach = rows(engine, queries["campaign Car Free Day reach by channel"])
    assert reach == [
        ("instagram", "kota", 1, 310, 520, 51),
        ("instagram", "tv", 1, 300, 400, 26),
        ("website", "berita", 1, None, None, None),
    ]
    monthly = rows(engine, queries["posts and median engagement rate per platform and month"])
    assert monthly[:2] == [
        ("instagram", "2026-11-01", 3, 87, round(51 / 1025, 6)),
        ("website", "2026-11-01", 1, None, None),
    ]


@pytest.mark.parametrize(
    ("published", "local"),
    [
        (dt.datetime(2026, 3, 8, 6, 0, tzinfo=dt.UTC), "2026-03-07"),  # 22:00 PST
        (dt.datetime(2026, 3, 8, 9, 30, tzinfo=dt.UTC), "2026-03-08"),  # 01:30 PST, before the switch
        (dt.datetime(2026, 7, 1, 7, 30, tzinfo=dt.UTC), "2026-07-01"),  # 00:30 PDT (UTC-7, not -8)
    ],
)
def test_local_publication_date_follows_daylight_saving(
    warehouse_url: str, published: dt.datetime, local: str
) -> None:
    upgrade(warehouse_url)
    eng = make_engine(warehouse_url)
    try:
        data = marts_dataset.frames()
        data["channel"] = data["channel"].head(1).with_columns(timezone=pl.lit("America/Los_Angeles"))
        data["content"] = data["content"].head(1).with_columns(published_at=pl.lit(published))
        data = {k: v for k, v in data.items() if k in ("channel", "content")}
        marts_dataset.load(eng, data)
        assert rows(eng, "SELECT published_date FROM mart_content_dates") == [(local,)]
    finally:
        eng.dispose()


def test_sqlite_fragments_match_postgres_semantics() -> None:
    sqlite, pg = Sql("sqlite"), Sql("postgresql")
    assert sqlite.add_days("d", -1) == "date(d, '-1 days')"
    assert pg.add_days("d", 1) == "(d + 1)"
    assert "time_zone_offset" in sqlite.local_date("ts", "tz")
    assert pg.local_date("ts", "tz") == "CAST(ts AT TIME ZONE tz AS DATE)"


@pytest.fixture
def bi_role(pg_url: str) -> Iterator[str]:
    """A role name unique to the test; dropped (with its grants) afterwards."""
    role = f"bi_{uuid.uuid4().hex[:10]}"
    yield role
    eng = make_engine(pg_url)
    try:
        with eng.begin() as conn:
            if conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
                conn.execute(text(f'DROP OWNED BY "{role}"'))
                conn.execute(text(f'DROP ROLE "{role}"'))
    finally:
        eng.dispose()


def test_grant_readonly_reads_marts_and_facts_and_nothing_else(pg_url: str, bi_role: str) -> None:
    upgrade(pg_url)
    eng = make_engine(pg_url)
    marts_dataset.load(eng)
    shown = grant_readonly(eng, bi_role, "s3cret'pw")
    assert f"CREATE ROLE \"{bi_role}\" LOGIN PASSWORD '***'" in shown
    assert grant_readonly(eng, bi_role)[0] == f'ALTER ROLE "{bi_role}" SET default_transaction_read_only = on'
    eng.dispose()
    reader = make_engine(re.sub(r"://postgres@", f"://{bi_role}@", pg_url))  # trust auth on loopback
    try:
        with reader.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM mart_channel_daily")).scalar() == 76
            assert conn.execute(text("SELECT count(*) FROM content")).scalar() == 7
            assert conn.execute(text("SELECT count(*) FROM campaign_content")).scalar() == 4
        for sql in ("SELECT * FROM load_audit", "SELECT * FROM sync_state", "SELECT * FROM alembic_version"):
            with reader.connect() as conn, pytest.raises(ProgrammingError, match="permission denied"):
                conn.execute(text(sql))
        with reader.connect() as conn, pytest.raises(InternalError, match="read-only transaction"):
            conn.execute(text("DELETE FROM content"))
        with reader.connect() as conn, pytest.raises(ProgrammingError, match="permission denied"):
            conn.execute(text("SET TRANSACTION READ WRITE"))  # even then, no write privilege
            conn.execute(text("DELETE FROM content"))
    finally:
        reader.dispose()


def test_grant_readonly_rejects_odd_role_names_and_sqlite(pg_url: str, sqlite_url: str) -> None:
    with pytest.raises(RoleError, match="role name 'bi; drop'"):
        grant_readonly(make_engine(pg_url), "bi; drop")
    with pytest.raises(RoleError, match="PostgreSQL only"):
        grant_readonly(make_engine(sqlite_url), "bi")


def test_grant_readonly_on_sqlite_explains_read_only_files(tmp_path: Path) -> None:
    config = tmp_path / "socmed.toml"
    config.write_text(
        '[pipeline]\ndata_dir = "d"\n[warehouse]\nurl_env = "SOCMED_TEST_NO_SUCH_VAR"\n'
        '[[channels]]\nplatform = "instagram"\nhandle = "x"\naccount_id = "1"\ntoken_env = "T"\n'
    )
    result = CliRunner().invoke(app, ["db", "grant-readonly", "--role", "bi", "--config", str(config)])
    assert result.exit_code == 0, result.output
    database = (tmp_path / "d" / "warehouse.db").resolve()
    uri = f"sqlite:///file:{database}?mode=ro&uri=true"
    assert uri in result.output
    reader = make_engine(uri)
    try:
        with reader.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM mart_channel_daily")).scalar() == 0
            with pytest.raises(OperationalError, match="readonly"):
                conn.execute(text("DELETE FROM content"))
    finally:
        reader.dispose()
