"""Schema upgrades through Alembic, configured in code so they work from an installed package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import pool, text

from warehouse.engine import begin_write, make_engine

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
        with begin_write(engine) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    finally:
        engine.dispose()


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
