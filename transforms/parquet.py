"""The Parquet and quarantine zones: one file per (table, platform, partition date, run).

Paths come from ``socmed.paths.table_file``:
``<zone>/<table>/platform=<p>/snapshot_date=<YYYY-MM-DD>/run=<run_id>.parquet``.

The partition columns are also kept inside each file, with the same values and their exact
types, so a file read alone is a complete slice of the table, and hive-aware readers
(``pl.scan_parquet(root, hive_partitioning=True)``, DuckDB ``read_parquet(...,
hive_partitioning=true)``) take the file's types rather than guessing them from the path.
``channel`` and ``content`` have no ``snapshot_date`` column: they are partitioned by the UTC
date of ``fetched_at``, which hive readers show as an extra ``snapshot_date`` column.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Mapping
from pathlib import Path

import polars as pl

from socmed import paths
from transforms.schemas import SCHEMAS, conform

ZONES = ("parquet", "quarantine")
QUARANTINE_COLUMN = "failed_expectations"  # quarantine files only: why the row failed
_PLATFORM, _PARTITION = "__partition_platform", "__partition_date"
# Quarantine accepts every row validation rejected, even one without a partition value: such a
# row goes to its fetch date, else to these (in-file values stay null; hive readers show the path's).
UNKNOWN_PLATFORM, UNKNOWN_DATE = "unknown", dt.date(1970, 1, 1)


def partition_date(table: str) -> pl.Expr:
    """A table's partition date: snapshot_date, or the UTC date of fetched_at without one."""
    if "snapshot_date" in SCHEMAS[table]:
        return pl.col("snapshot_date")
    return _fetch_day()


def _fetch_day() -> pl.Expr:
    """The UTC date of fetched_at."""
    return pl.col("fetched_at").dt.convert_time_zone("UTC").dt.date()


def write_tables(
    data_dir: Path, frames: Mapping[str, pl.DataFrame], run_id: str, zone: str = "parquet"
) -> list[Path]:
    """Write each frame as one file per (platform, partition date); return the files written.

    A frame must hold the run's whole output for its table: writing the same run id again
    atomically replaces that run's files partition by partition. Every frame is checked
    before any file is written. Quarantine frames carry a ``failed_expectations`` column.
    """
    prepared = {table: _prepare(table, frame, zone) for table, frame in frames.items()}
    written: list[Path] = []
    for table, frame in prepared.items():
        for (platform, day), part in frame.group_by(_PLATFORM, _PARTITION, maintain_order=True):
            path = paths.table_file(data_dir, zone, table, str(platform), _as_date(day), run_id)
            _write_atomic(part.drop(_PLATFORM, _PARTITION), path)
            written.append(path)
    return written


def _as_date(value: object) -> dt.date:
    """A partition key as a date."""
    if not isinstance(value, dt.date):
        raise TypeError(f"partition date {value!r} is not a date")
    return value


def _prepare(table: str, frame: pl.DataFrame, zone: str) -> pl.DataFrame:
    """The frame cast to the table's schema (plus the quarantine column), with its partition."""
    if zone not in ZONES:
        raise ValueError(f"unknown zone {zone!r}")
    extra = [QUARANTINE_COLUMN] if zone == "quarantine" else []
    if zone == "quarantine" and QUARANTINE_COLUMN not in frame.columns:
        raise ValueError(f"{table}: quarantine frame without {QUARANTINE_COLUMN!r}")
    out = conform(table, frame.drop(extra)).hstack(frame.select(extra))
    out = out.with_columns(pl.col("platform").alias(_PLATFORM), partition_date(table).alias(_PARTITION))
    if zone == "quarantine":
        return out.with_columns(
            pl.col(_PLATFORM).fill_null(UNKNOWN_PLATFORM),
            pl.coalesce(_PARTITION, _fetch_day(), pl.lit(UNKNOWN_DATE)).alias(_PARTITION),
        )
    if out.select(pl.any_horizontal(pl.col(_PLATFORM, _PARTITION).is_null()).any()).item():
        raise ValueError(f"{table}: rows without platform or partition date cannot be written")
    return out


def _write_atomic(frame: pl.DataFrame, path: Path) -> None:
    """Write a Parquet file under a temporary name, then rename it over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as fh:
            frame.write_parquet(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def table_files(data_dir: Path, table: str, zone: str = "parquet") -> list[Path]:
    """Every run's file of a table in a zone, in path order."""
    return sorted(paths.table_root(data_dir, zone, table).glob("platform=*/snapshot_date=*/*.parquet"))


def read_table(data_dir: Path, table: str, zone: str = "parquet") -> pl.DataFrame:
    """Every run's rows of a table, cast to its schema (quarantine: plus failed_expectations)."""
    if zone not in ZONES:
        raise ValueError(f"unknown zone {zone!r}")
    extra = [QUARANTINE_COLUMN] if zone == "quarantine" else []
    files = table_files(data_dir, table, zone)
    if not files:
        empty = pl.DataFrame(schema=SCHEMAS[table])
        return empty.with_columns(pl.lit(None, dtype=pl.Utf8()).alias(c) for c in extra)
    frame = pl.scan_parquet(
        files, hive_partitioning=False, missing_columns="insert", extra_columns="ignore"
    ).collect()
    return conform(table, frame.drop(extra, strict=False)).hstack(frame.select(extra))
