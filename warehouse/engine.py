"""Engines for the warehouse: PostgreSQL in production, a SQLite file in WAL mode embedded.

SQLite runs in WAL mode so a BI tool can read while the pipeline writes. Python's
``sqlite3`` (before 3.12) only opens transactions before DML; SQLAlchemy takes over ``BEGIN``
here so DDL, reads and savepoints are transactional too (the recipe in SQLAlchemy's SQLite
dialect docs).
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

SQLITE_PRAGMAS: tuple[str, ...] = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
)

SQLITE_BEGIN_OPTION = "sqlite_begin"
_BEGIN_MODES = ("DEFERRED", "IMMEDIATE", "EXCLUSIVE")
_USERINFO_PASSWORD = re.compile(r"(://[^/:@\s]*:)\S*@")


class WarehouseURLError(ValueError):
    """A warehouse URL that cannot be used; the message names it with the password hidden."""


def redact_url(url: str | URL) -> str:
    """The URL as text with any password replaced by ***."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return _USERINFO_PASSWORD.sub(r"\1***@", url)


def normalise_url(url: str) -> URL:
    """Parse a URL, sending bare ``postgres(ql)://`` to the psycopg 3 driver."""
    for bare in ("postgres://", "postgresql://"):
        if url.startswith(bare):
            url = "postgresql+psycopg://" + url[len(bare) :]
    try:
        return make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise WarehouseURLError(f"invalid warehouse URL {redact_url(url)}: {exc}") from None


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for the warehouse URL; SQLite files get WAL, busy timeout and foreign keys."""
    parsed = normalise_url(url)
    safe = redact_url(parsed)
    try:
        if parsed.get_backend_name() == "sqlite":
            _ensure_sqlite_folder(parsed)
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, NoSuchModuleError, ImportError, OSError, TypeError) as exc:
        message = str(exc)
        if parsed.password:
            message = message.replace(str(parsed.password), "***")
        raise WarehouseURLError(f"cannot use warehouse URL {safe}: {message}") from None
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def _ensure_sqlite_folder(url: URL) -> None:
    """Create the folder of a SQLite database file (not for in-memory databases)."""
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: Engine) -> None:
    """Set the pragmas on every new connection and let SQLAlchemy emit BEGIN."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in SQLITE_PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        if mode not in _BEGIN_MODES:
            raise ValueError(f"{SQLITE_BEGIN_OPTION} must be one of {_BEGIN_MODES}, not {mode!r}")
        conn.exec_driver_sql(f"BEGIN {mode}")


def begin_write(engine: Engine) -> AbstractContextManager[Connection]:
    """``engine.begin()`` for a write transaction: SQLite takes the write lock at BEGIN.

    A deferred SQLite transaction that reads before it writes fails at once (no busy wait)
    when another writer committed in between; ``BEGIN IMMEDIATE`` waits its turn instead.
    PostgreSQL ignores the option.
    """
    return engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"}).begin()
