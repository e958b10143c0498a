"""Bulk staging for warehouse loads: a frame lands in a temporary table in one pass.

PostgreSQL: ``COPY ... FROM STDIN (FORMAT csv)`` fed by Polars' CSV writer in chunks, into a
temporary table dropped at commit. SQLite (the embedded default): one ``executemany`` of plain tuples
into a temporary table, with values already in the text forms SQLAlchemy's SQLite types
store, so set-based merges compare like with like. Either way the rows then reach the real
table through set-based ``INSERT ... SELECT ... ON CONFLICT`` statements (``warehouse.merge``),
never row by row from Python.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import polars as pl
from sqlalchemy import Column, Connection, Integer, MetaData, Table
from sqlalchemy.types import TypeEngine

STAGE_PREFIX = "_stage_"
# Rows per CSV chunk handed to COPY: small enough that the server parses one chunk while Polars
# writes the next (a third less wall time than one large write for captions), and bounds memory.
COPY_ROWS = 4_000
# The text forms SQLAlchemy's SQLite DATETIME and DATE types store and compare.
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%6f"
SQLITE_DATE = "%Y-%m-%d"


def stage(
    conn: Connection,
    name: str,
    like: Table,
    frame: pl.DataFrame,
    index_on: str | None = None,
    types: Mapping[str, TypeEngine[Any]] | None = None,
) -> Table:
    """A temporary table holding ``frame``: columns typed as ``types`` says, else as ``like``'s of the
    same name, else integer."""
    typed = {c.name: c.type for c in like.columns} | dict(types or {})
    staged = _staging_table(name, tuple((c, typed.get(c, Integer())) for c in frame.columns))
    if conn.dialect.name == "postgresql":
        _copy_postgres(conn, staged, frame)
    elif conn.dialect.name == "sqlite":
        _insert_sqlite(conn, staged, frame)
    else:
        raise NotImplementedError(f"bulk staging supports postgresql and sqlite, not {conn.dialect.name}")
    if index_on is not None:
        # After the rows (faster), and as SQL: an Index object would join the shared table object.
        conn.exec_driver_sql(f"CREATE INDEX {staged.name}_{index_on} ON {staged.name} ({index_on})")
    return staged


_TABLES: dict[tuple[str, tuple[tuple[str, str], ...]], Table] = {}
_TABLES_LOCK = threading.Lock()


def _staging_table(name: str, columns: tuple[tuple[str, TypeEngine[Any]], ...]) -> Table:
    """The staging table of this name and columns, one object per shape for the process.

    SQLAlchemy caches a statement's compiled SQL by the identity of the tables in it: with one
    object per shape, each batch's statements reuse the SQL compiled for the first batch.
    The table itself is created per transaction (temporary, dropped at commit).
    """
    key = (name, tuple((column, repr(kind)) for column, kind in columns))
    with _TABLES_LOCK:
        if key not in _TABLES:
            _TABLES[key] = Table(
                STAGE_PREFIX + name,
                MetaData(),
                *(Column(column, kind) for column, kind in columns),
                prefixes=["TEMPORARY"],
                postgresql_on_commit="DROP",
            )
        return _TABLES[key]


def drop(conn: Connection, staged: Table) -> None:
    """Drop a staging table now (PostgreSQL would drop it at commit anyway)."""
    staged.drop(conn)


def _copy_postgres(conn: Connection, staged: Table, frame: pl.DataFrame) -> None:
    """Create the staging table (dropped at commit) and COPY the frame into it as CSV."""
    staged.create(conn)
    columns = ", ".join(frame.columns)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {staged.name} ({columns}) FROM STDIN (FORMAT csv)") as copy:
        for chunk in frame.iter_slices(COPY_ROWS):
            copy.write(chunk.write_csv(include_header=False))


def _insert_sqlite(conn: Connection, staged: Table, frame: pl.DataFrame) -> None:
    """Create the staging table and insert the frame's rows as SQLite stores them."""
    staged.create(conn)
    values = frame.with_columns(
        pl.col(pl.Datetime).dt.strftime(SQLITE_DATETIME), pl.col(pl.Date).dt.strftime(SQLITE_DATE)
    )
    marks = ", ".join("?" for _ in values.columns)
    insert = f"INSERT INTO {staged.name} ({', '.join(values.columns)}) VALUES ({marks})"
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    for chunk in values.iter_slices(COPY_ROWS):
        cursor.executemany(insert, chunk.rows())
