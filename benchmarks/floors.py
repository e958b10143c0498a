"""The floors: parsing the raw zone's gzip JSON alone, and a bare PostgreSQL COPY of the final rows.

The bodies are decompressed as the pipeline reads them (``socmed.rawzone.read_body``).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import orjson
import polars as pl
import psycopg

from socmed.rawzone import list_runs, read_body

FINAL_TABLES = ("channel", "content", "channel_metrics_daily", "content_metrics_daily")


def _bodies(data_dir: Path) -> list[Path]:
    """Every raw body file of the Instagram raw zone."""
    return [body for run in list_runs(data_dir, "instagram") for body in sorted(run.glob("*.json.gz"))]


def parse_orjson(data_dir: Path) -> dict[str, Any]:
    """Decompress and decode every body with orjson (full Python objects)."""
    return _parse_each(data_dir, orjson.loads)


def parse_msgspec(data_dir: Path) -> dict[str, Any]:
    """Decompress and decode every body with msgspec's untyped decoder (full Python objects)."""
    return _parse_each(data_dir, msgspec.json.decode)


def _parse_each(data_dir: Path, decode: Callable[[bytes], Any]) -> dict[str, Any]:
    """Decompress and decode every body, one at a time; seconds, files and media items seen."""
    files = _bodies(data_dir)
    start = time.perf_counter()
    items = 0
    for path in files:
        body = decode(read_body(path))
        items += len(body.get("data", ())) if isinstance(body, dict) else 0
    return {"seconds": time.perf_counter() - start, "files": len(files), "items": items}


def parse_polars(data_dir: Path) -> dict[str, Any]:
    """Decompress every body and decode each run's bodies at once with Polars' NDJSON reader."""
    runs = list_runs(data_dir, "instagram")
    start = time.perf_counter()
    rows = 0
    for run in runs:
        lines = [read_body(p) for p in sorted(run.glob("*.json.gz"))]
        rows += pl.read_ndjson(io.BytesIO(b"\n".join(lines)), infer_schema_length=None).height
    return {"seconds": time.perf_counter() - start, "files": rows}


def copy_final_rows(source_dsn: str, target_dsn: str) -> dict[str, Any]:
    """COPY the final warehouse rows (exported from ``source_dsn`` untimed) into bare tables."""
    exported = {}
    with psycopg.connect(source_dsn) as src:
        for table in FINAL_TABLES:
            buffer = io.BytesIO()
            with src.cursor().copy(f"COPY {table} TO STDOUT (FORMAT binary)") as copy:
                for chunk in copy:
                    buffer.write(chunk)
            exported[table] = (buffer.getvalue(), _columns(src, table))
    with psycopg.connect(target_dsn) as dst:
        for table, (_, columns) in exported.items():
            dst.execute(f"CREATE TABLE floor_{table} ({columns})")
        dst.commit()
        start = time.perf_counter()
        for table, (data, _) in exported.items():
            with dst.cursor().copy(f"COPY floor_{table} FROM STDIN (FORMAT binary)") as copy:
                copy.write(data)
        dst.commit()
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "bytes": sum(len(d) for d, _ in exported.values())}


def _columns(conn: psycopg.Connection[Any], table: str) -> str:
    """The column definitions of a table, for a bare copy of it (no keys, no indexes)."""
    rows = conn.execute(
        "SELECT column_name, format_type(a.atttypid, a.atttypmod) FROM information_schema.columns c "
        "JOIN pg_attribute a ON a.attrelid = c.table_name::regclass AND a.attname = c.column_name "
        "WHERE c.table_schema = 'public' AND c.table_name = %s ORDER BY c.ordinal_position",
        (table,),
    ).fetchall()
    return ", ".join(f'"{name}" {kind}' for name, kind in rows)
