"""Parquet zone: partitioned writes, atomic re-run overwrite, round trips via Polars and DuckDB."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from transforms.parquet import QUARANTINE_COLUMN, read_table, table_files, write_slices, write_tables
from transforms.runs import SLICE
from transforms.schemas import KEYS, SCHEMAS

RUN = "run-20261126-0100"
T1 = dt.datetime(2026, 11, 26, 1, 0, tzinfo=dt.UTC)
T2 = dt.datetime(2026, 11, 26, 23, 30, tzinfo=dt.UTC)  # next UTC day for channel/content


def metrics(views: int | None = 100) -> pl.DataFrame:
    """Three content metric rows over two days, one platform."""
    rows: list[dict[str, Any]] = [
        {
            "platform": "instagram",
            "content_id": content_id,
            "snapshot_date": day,
            "channel_id": "178",
            "views": v,
            "reach": None,
            "likes": 3,
            "comments": 0,
            "shares": None,
            "saves": 1,
            "fetched_at": T1,
            "run_id": RUN,
            "raw_file": "raw/x/00002-media.json.gz",
        }
        for content_id, day, v in [
            ("1801", dt.date(2026, 11, 25), views),
            ("1802", dt.date(2026, 11, 26), None),
            ("1803", dt.date(2026, 11, 26), 7),
        ]
    ]
    return pl.DataFrame(rows, schema=SCHEMAS["content_metrics_daily"])


def channels() -> pl.DataFrame:
    """Two channel rows on two platforms fetched on different UTC days."""
    return pl.DataFrame(
        [
            {
                "platform": "instagram",
                "channel_id": "178",
                "handle": "kotatest",
                "display_name": "Kota Test",
                "url": "https://www.instagram.com/kotatest/",
                "timezone": "Asia/Jakarta",
                "fetched_at": T1,
                "run_id": RUN,
                "raw_file": "raw/a",
            },
            {
                "platform": "facebook",
                "channel_id": "100",
                "handle": "kotatest",
                "display_name": "Kota Test",
                "url": None,
                "timezone": "Asia/Jakarta",
                "fetched_at": T2,
                "run_id": RUN,
                "raw_file": "raw/b",
            },
        ],
        schema=SCHEMAS["channel"],
    )


def sort(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """Rows in key order."""
    return frame.sort(KEYS[table])


def test_one_file_per_table_platform_and_date(tmp_path: Path) -> None:
    files = write_tables(tmp_path, {"content_metrics_daily": metrics(), "channel": channels()}, RUN)
    assert sorted(f.relative_to(tmp_path).as_posix() for f in files) == [
        f"parquet/channel/platform=facebook/snapshot_date=2026-11-26/run={RUN}.parquet",
        f"parquet/channel/platform=instagram/snapshot_date=2026-11-26/run={RUN}.parquet",
        f"parquet/content_metrics_daily/platform=instagram/snapshot_date=2026-11-25/run={RUN}.parquet",
        f"parquet/content_metrics_daily/platform=instagram/snapshot_date=2026-11-26/run={RUN}.parquet",
    ]
    # every file is complete on its own: partition columns are inside, with exact types
    one = pl.read_parquet(files[0])
    assert one.schema == SCHEMAS[_table_of(files[0])]


def _table_of(path: Path) -> str:
    """The table folder of a zone file."""
    return path.parents[2].name


def test_round_trip_read_table(tmp_path: Path) -> None:
    write_tables(tmp_path, {"content_metrics_daily": metrics(), "channel": channels()}, RUN)
    for table, expected in [("content_metrics_daily", metrics()), ("channel", channels())]:
        got = read_table(tmp_path, table)
        assert got.schema == SCHEMAS[table]
        assert_frame_equal(sort(got, table), sort(expected, table))


def test_round_trip_polars_hive_scan(tmp_path: Path) -> None:
    write_tables(tmp_path, {"content_metrics_daily": metrics()}, RUN)
    root = tmp_path / "parquet" / "content_metrics_daily"
    got = pl.scan_parquet(root, hive_partitioning=True).collect()
    assert_frame_equal(sort(got, "content_metrics_daily"), metrics())


def test_round_trip_duckdb_hive_scan(tmp_path: Path) -> None:
    write_tables(tmp_path, {"content_metrics_daily": metrics()}, RUN)
    root = tmp_path / "parquet" / "content_metrics_daily"
    with duckdb.connect() as con:
        rel = con.sql(
            f"SELECT * FROM read_parquet('{root}/**/*.parquet', hive_partitioning=true) ORDER BY content_id"
        )
        types = dict(zip(rel.columns, [str(t) for t in rel.types], strict=True))
        got = pl.from_arrow(rel.to_arrow_table())
    assert types == {
        "platform": "VARCHAR",
        "content_id": "VARCHAR",
        "snapshot_date": "DATE",
        "channel_id": "VARCHAR",
        "views": "BIGINT",
        "reach": "BIGINT",
        "likes": "BIGINT",
        "comments": "BIGINT",
        "shares": "BIGINT",
        "saves": "BIGINT",
        "fetched_at": "TIMESTAMP WITH TIME ZONE",
        "run_id": "VARCHAR",
        "raw_file": "VARCHAR",
    }
    assert isinstance(got, pl.DataFrame)
    got = got.with_columns(pl.col("fetched_at").dt.convert_time_zone("UTC"))
    assert_frame_equal(got, metrics())


def test_channel_partitions_by_utc_fetch_date_for_hive_readers(tmp_path: Path) -> None:
    write_tables(tmp_path, {"channel": channels()}, RUN)
    root = tmp_path / "parquet" / "channel"
    got = pl.scan_parquet(root, hive_partitioning=True).collect().sort("channel_id")
    # hive readers add the partition date as an extra column; read_table drops it
    assert got["snapshot_date"].to_list() == [dt.date(2026, 11, 26), dt.date(2026, 11, 26)]
    assert_frame_equal(got.drop("snapshot_date"), channels().sort("channel_id"))


def test_rerun_replaces_the_partition_file(tmp_path: Path) -> None:
    first = write_tables(tmp_path, {"content_metrics_daily": metrics(views=100)}, RUN)
    second = write_tables(tmp_path, {"content_metrics_daily": metrics(views=150)}, RUN)
    assert first == second
    assert table_files(tmp_path, "content_metrics_daily") == sorted(first)
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".parquet"]
    assert leftovers == []
    got = read_table(tmp_path, "content_metrics_daily")
    assert_frame_equal(sort(got, "content_metrics_daily"), metrics(views=150))


def test_other_runs_are_kept_side_by_side(tmp_path: Path) -> None:
    write_tables(tmp_path, {"content_metrics_daily": metrics()}, RUN)
    write_tables(tmp_path, {"content_metrics_daily": metrics().with_columns(run_id=pl.lit("r2"))}, "r2")
    got = read_table(tmp_path, "content_metrics_daily")
    assert got.height == 6
    assert got.group_by("run_id").len().sort("run_id")["len"].to_list() == [3, 3]


def test_write_slices_writes_each_slice_as_write_tables_would(tmp_path: Path) -> None:
    """Slices of a batch (one without channel rows) land in the files write_tables gives each alone."""
    second = metrics(views=9).with_columns(run_id=pl.lit("r2"))
    batch = {
        "content_metrics_daily": pl.concat(
            [
                second.with_columns(pl.lit(1, pl.UInt32).alias(SLICE)),
                metrics().with_columns(pl.lit(0, pl.UInt32).alias(SLICE)),
            ]
        ),
        "channel": channels().with_columns(pl.lit(0, pl.UInt32).alias(SLICE)),
    }
    written = write_slices(tmp_path / "batch", batch, [RUN, "r2"])
    alone = [
        write_tables(tmp_path / "alone", {"content_metrics_daily": metrics(), "channel": channels()}, RUN),
        write_tables(tmp_path / "alone", {"content_metrics_daily": second}, "r2"),
    ]
    assert [sorted(p.relative_to(tmp_path / "batch") for p in files) for files in written] == [
        sorted(p.relative_to(tmp_path / "alone") for p in files) for files in alone
    ]
    for files in alone:
        for path in files:
            twin = tmp_path / "batch" / path.relative_to(tmp_path / "alone")
            assert_frame_equal(pl.read_parquet(twin), pl.read_parquet(path))


def test_write_slices_refuses_a_frame_without_slice(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=SLICE):
        write_slices(tmp_path, {"content_metrics_daily": metrics()}, [RUN])


def test_quarantine_zone_keeps_the_reason(tmp_path: Path) -> None:
    bad = (
        metrics()
        .head(1)
        .with_columns(pl.lit("views >= 0; fetched_at not in future").alias(QUARANTINE_COLUMN))
    )
    files = write_tables(tmp_path, {"content_metrics_daily": bad}, RUN, zone="quarantine")
    assert [f.relative_to(tmp_path).parts[0] for f in files] == ["quarantine"]
    got = read_table(tmp_path, "content_metrics_daily", zone="quarantine")
    assert_frame_equal(got, bad)
    assert read_table(tmp_path, "content_metrics_daily").height == 0


def test_quarantine_without_reason_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=QUARANTINE_COLUMN):
        write_tables(tmp_path, {"content_metrics_daily": metrics()}, RUN, zone="quarantine")


def test_quarantine_takes_rows_without_partition_values(tmp_path: Path) -> None:
    bad = (
        metrics()
        .head(2)
        .with_columns(
            snapshot_date=pl.lit(None, dtype=pl.Date()),
            platform=pl.Series([None, "instagram"]),
            fetched_at=pl.Series([None, T2], dtype=pl.Datetime("us", "UTC")),
        )
        .with_columns(pl.lit("snapshot_date not null").alias(QUARANTINE_COLUMN))
    )
    files = write_tables(tmp_path, {"content_metrics_daily": bad}, RUN, zone="quarantine")
    assert sorted(f.parent.relative_to(files[0].parents[2]).as_posix() for f in files) == [
        "platform=instagram/snapshot_date=2026-11-26",
        "platform=unknown/snapshot_date=1970-01-01",
    ]
    got = read_table(tmp_path, "content_metrics_daily", zone="quarantine")
    assert_frame_equal(got.sort("content_id"), bad)


def test_rows_without_partition_are_refused_before_any_write(tmp_path: Path) -> None:
    broken = metrics().with_columns(snapshot_date=pl.lit(None, dtype=pl.Date()))
    with pytest.raises(ValueError, match="partition"):
        write_tables(tmp_path, {"channel": channels(), "content_metrics_daily": broken}, RUN)
    assert not (tmp_path / "parquet").exists()


def test_frames_are_cast_to_the_schema(tmp_path: Path) -> None:
    loose = (
        metrics()
        .with_columns(pl.col("views").cast(pl.Int32()))
        .select(reversed(SCHEMAS["content_metrics_daily"].names()))
    )
    write_tables(tmp_path, {"content_metrics_daily": loose}, RUN)
    assert_frame_equal(
        sort(read_table(tmp_path, "content_metrics_daily"), "content_metrics_daily"), metrics()
    )
    with pytest.raises(ValueError, match="unexpected columns"):
        write_tables(tmp_path, {"content_metrics_daily": metrics().with_columns(x=pl.lit(1))}, RUN)


def test_empty_frames_write_nothing_and_missing_tables_read_empty(tmp_path: Path) -> None:
    empty = pl.DataFrame(schema=SCHEMAS["content"])
    assert write_tables(tmp_path, {"content": empty}, RUN) == []
    got = read_table(tmp_path, "content")
    assert got.height == 0
    assert got.schema == SCHEMAS["content"]
    quarantined = read_table(tmp_path, "content", zone="quarantine")
    assert quarantined.columns == [*SCHEMAS["content"].names(), QUARANTINE_COLUMN]


def test_unknown_zone_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="zone"):
        write_tables(tmp_path, {"channel": channels()}, RUN, zone="raw")
