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
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from socmed import paths
from transforms.runs import SLICE
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
    tagged = {table: frame.with_columns(pl.lit(0, pl.UInt32).alias(SLICE)) for table, frame in frames.items()}
    return write_slices(data_dir, tagged, [run_id], zone, writers=1)[0]


def write_slices(
    data_dir: Path,
    frames: Mapping[str, pl.DataFrame],
    file_ids: Sequence[str],
    zone: str = "parquet",
    writers: int = 8,
) -> list[list[Path]]:
    """``write_tables`` for several runs at once: rows carry ``SLICE``, slice k goes to ``file_ids[k]``.

    The frames are checked and cast once for the whole batch, split once by (slice, platform,
    partition date), and written ``writers`` files at a time (their fsyncs share journal
    commits). Returns the files written per slice.
    """
    prepared = {table: _prepare_slices(table, frame, zone) for table, frame in frames.items()}
    parts = [
        (int(index), table, str(platform), _as_date(day), part.drop(SLICE, _PLATFORM, _PARTITION))
        for table, frame in prepared.items()
        for (index, platform, day), part in frame.partition_by(
            SLICE, _PLATFORM, _PARTITION, as_dict=True, maintain_order=True
        ).items()
    ]

    def write(item: tuple[int, str, str, dt.date, pl.DataFrame]) -> Path:
        index, table, platform, day, part = item
        path = paths.table_file(data_dir, zone, table, platform, day, file_ids[index])
        _write_atomic(part, path)
        return path

    written: list[list[Path]] = [[] for _ in file_ids]
    with ThreadPoolExecutor(max(1, writers)) as pool:
        for (index, *_), path in zip(parts, pool.map(write, parts), strict=True):
            written[index].append(path)
    return written


def _prepare_slices(table: str, frame: pl.DataFrame, zone: str) -> pl.DataFrame:
    """``_prepare`` of a frame that carries ``SLICE``, which it keeps."""
    if SLICE not in frame.columns:
        raise ValueError(f"{table}: frame without {SLICE!r}")
    return _prepare(table, frame.drop(SLICE), zone).hstack(frame.select(SLICE))


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
