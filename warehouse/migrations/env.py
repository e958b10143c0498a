"""Alembic environment for the warehouse; target metadata is ``warehouse.models.Base``.

Programmatic callers (``warehouse.migrate``) hand over an open connection in
``config.attributes["connection"]``. From the command line the URL comes from
``-x url=...``, else ``$SOCMED_WAREHOUSE_URL``, else ``sqlalchemy.url`` in the ini file.
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, pool

from warehouse.engine import make_engine, normalise_url
from warehouse.models import Base

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None and "connection" not in config.attributes:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    """The warehouse URL for command-line use."""
    url = (
        config.attributes.get("url")
        or context.get_x_argument(as_dictionary=True).get("url")
        or os.environ.get("SOCMED_WAREHOUSE_URL")
        or config.get_main_option("sqlalchemy.url")
    )
    if not url:
        raise SystemExit("no warehouse URL: pass -x url=... or set SOCMED_WAREHOUSE_URL")
    return str(url)


def _configure(connection: Connection) -> None:
    """Configure the context; SQLite needs batch mode for ALTER."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # warehouse.engine has SQLAlchemy emit BEGIN on SQLite too, so DDL is transactional.
        transactional_ddl=True,
    )


def run_migrations_offline() -> None:
    """Emit the SQL of the migrations instead of running them."""
    context.configure(
        url=normalise_url(_url()),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the caller's connection, or on a fresh engine."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
