"""Schema upgrades through Alembic, configured in code so they work from an installed package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, pool, text

from warehouse.engine import SQLITE_BEGIN_OPTION, make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Serialises concurrent upgrades of one PostgreSQL database (several workers starting at once).
_PG_LOCK_KEY = 0x50C_3ED_0001


def alembic_config() -> Config:
    """An Alembic Config pointing at the packaged migrations; no ini file needed."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the warehouse at url to revision (default: the newest), in one transaction."""
    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                # Batch migrations recreate tables; SQLite's FK actions would fire on the DROP.
                # The pragma is ignored inside a transaction, so set it before BEGIN.
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
            with conn.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"}).begin():
                _lock_and_upgrade(conn, revision)
    finally:
        engine.dispose()


def _lock_and_upgrade(conn: Connection, revision: str) -> None:
    """Run the Alembic upgrade on conn; serialised per database, FKs verified on SQLite."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    config = alembic_config()
    config.attributes["connection"] = conn
    command.upgrade(config, revision)
    if conn.dialect.name == "sqlite":
        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
        if broken:
            raise RuntimeError(f"upgrade to {revision} would break foreign keys: {broken[:10]}")


def current(url: str) -> str | None:
    """The revision the warehouse at url is at, or None for an empty database."""
    engine = make_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head() -> str | None:
    """The newest revision shipped with this package."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
