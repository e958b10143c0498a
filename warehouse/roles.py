"""A read-only role for BI tools: SELECT on the facts, the campaigns and the marts, nothing else.

PostgreSQL only. The role gets ``CONNECT`` on the database, ``USAGE`` on the schema and
``SELECT`` on the tables and views listed in :data:`READABLE`; its sessions default to
read-only transactions. Operational tables (``load_audit``, ``sync_state``,
``time_zone_offset``, ``alembic_version``) stay private. Granting is idempotent: re-run it after
an upgrade that adds marts. On SQLite there are no roles: a BI tool reads the file opened
read-only (``mode=ro``), see :func:`sqlite_read_only_hint`.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Connection, Engine, String, text
from sqlalchemy.engine import make_url

from warehouse.engine import begin_write
from warehouse.marts import VIEW_SQL

FACT_TABLES = (
    "channel",
    "content",
    "content_metrics_daily",
    "channel_metrics_daily",
    "campaign",
    "campaign_content",
)
READABLE: tuple[str, ...] = (*FACT_TABLES, *VIEW_SQL)
_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class RoleError(ValueError):
    """A role that cannot be created as asked."""


def grant_readonly(engine: Engine, role: str, password: str | None = None) -> list[str]:
    """Create role if missing (LOGIN when a password is given) and grant read access; the SQL run."""
    if engine.dialect.name != "postgresql":
        raise RoleError(f"roles exist on PostgreSQL only, not {engine.dialect.name}")
    if not _ROLE.match(role):
        raise RoleError(f"role name {role!r}: use lower-case letters, digits and _ (at most 63)")
    with begin_write(engine) as conn:
        secret = _literal(conn, password) if password else None
        statements = _role_statements(conn, role, secret) + _grant_statements(conn, role)
        for statement in statements:
            conn.execute(text(statement))
    return [s.replace(secret, "'***'") if secret else s for s in statements]


def _literal(conn: Connection, value: str) -> str:
    """A SQL string literal, quoted by the dialect."""
    process = String().literal_processor(conn.dialect)
    if process is None:  # pragma: no cover - every dialect quotes strings
        raise RoleError("cannot quote a password literal")
    return str(process(value))


def _role_statements(conn: Connection, role: str, password_literal: str | None) -> list[str]:
    """CREATE the role (or set its password), and make its sessions read-only by default."""
    exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
    login = f"LOGIN PASSWORD {password_literal}" if password_literal else "NOLOGIN"
    statements = []
    if not exists:
        statements.append(f'CREATE ROLE "{role}" {login}')
    elif password_literal:
        statements.append(f'ALTER ROLE "{role}" {login}')
    return [*statements, f'ALTER ROLE "{role}" SET default_transaction_read_only = on']


def _grant_statements(conn: Connection, role: str) -> list[str]:
    """CONNECT, schema USAGE and SELECT on the readable relations (nothing more)."""
    database = conn.execute(text("SELECT current_database()")).scalar_one()
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    relations = ", ".join(f'"{schema}"."{name}"' for name in READABLE)
    return [
        f'REVOKE ALL ON ALL TABLES IN SCHEMA "{schema}" FROM "{role}"',
        f'GRANT CONNECT ON DATABASE "{database}" TO "{role}"',
        f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"',
        f'GRANT SELECT ON {relations} TO "{role}"',
    ]


def sqlite_read_only_hint(url: str) -> str:
    """How to open an embedded warehouse read-only, for a BI tool or SQLAlchemy."""
    path = Path(make_url(url).database or "warehouse.db").resolve()
    return (
        "SQLite has no roles: read-only access means opening the file read-only.\n"
        f"  SQLAlchemy / pandas:  sqlite:///file:{path}?mode=ro&uri=true\n"
        f"  sqlite3 shell:        sqlite3 'file:{path}?mode=ro'\n"
        f"  Python:               sqlite3.connect('file:{path}?mode=ro', uri=True)\n"
        "  DBeaver / Metabase:   tick the connection's read-only option, or use the URI above.\n"
        "The file is in WAL mode: readers never block the pipeline; keep the folder readable\n"
        "(the -wal and -shm files beside it are shared with the writer)."
    )
