"""Every raw, Parquet and quarantine path comes from here, for writers and readers alike.

Layout under a data directory::

    raw/platform=<p>/account=<id>/date=<YYYY-MM-DD>/run=<run_id>/<seq>-<stream>.json.gz
    raw/.../run=<run_id>/<seq>-<stream>.meta.json
    parquet/<table>/platform=<p>/snapshot_date=<YYYY-MM-DD>/run=<run_id>.parquet
    quarantine/<table>/platform=<p>/snapshot_date=<YYYY-MM-DD>/run=<run_id>.parquet

``date`` in the raw path is the fetch date in UTC; ``snapshot_date`` is the channel's local date.
A re-run of the same run id overwrites the same Parquet partition file; raw files are never
overwritten.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

_SAFE = re.compile(r"[^A-Za-z0-9_.@-]")


def _part(value: str) -> str:
    """Make a value safe as one path segment (no separators, no '=')."""
    cleaned = _SAFE.sub("_", value)
    if not cleaned or cleaned in {".", ".."}:
        raise ValueError(f"cannot use {value!r} as a path segment")
    return cleaned


def raw_run_dir(data_dir: Path, platform: str, account: str, fetch_date: dt.date, run_id: str) -> Path:
    """Folder holding one run's raw responses for one account."""
    return (
        data_dir
        / "raw"
        / f"platform={_part(platform)}"
        / f"account={_part(account)}"
        / f"date={fetch_date.isoformat()}"
        / f"run={_part(run_id)}"
    )


def raw_body_name(seq: int, stream: str) -> str:
    """File name of one response body inside a run folder."""
    return f"{seq:05d}-{_part(stream)}.json.gz"


def raw_meta_name(seq: int, stream: str) -> str:
    """File name of one response's request metadata inside a run folder."""
    return f"{seq:05d}-{_part(stream)}.meta.json"


def raw_root(data_dir: Path) -> Path:
    """Root of the raw landing zone."""
    return data_dir / "raw"


def table_file(
    data_dir: Path, zone: str, table: str, platform: str, snapshot_date: dt.date, run_id: str
) -> Path:
    """Parquet file of one table partition for one run; zone is 'parquet' or 'quarantine'."""
    if zone not in {"parquet", "quarantine"}:
        raise ValueError(f"unknown zone {zone!r}")
    return (
        data_dir
        / zone
        / _part(table)
        / f"platform={_part(platform)}"
        / f"snapshot_date={snapshot_date.isoformat()}"
        / f"run={_part(run_id)}.parquet"
    )


def table_root(data_dir: Path, zone: str, table: str) -> Path:
    """Root folder of one table in a zone (what DuckDB/Polars scan with hive partitioning)."""
    return data_dir / zone / _part(table)


def default_warehouse_url(data_dir: Path) -> str:
    """The embedded default warehouse: a SQLite file in WAL mode inside the data directory."""
    return f"sqlite:///{(data_dir / 'warehouse.db').resolve()}"
