"""content_metrics_daily refers to content through a check in every load, not a foreign key.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 18:30:00.000000

PostgreSQL checks a foreign key with a trigger per inserted row: for the daily facts, a row per
post and day, that was half the time of their insert. Every load now checks the batch's
references in one statement, under a lock on the referred rows (``warehouse.merge``). SQLite
rebuilds the table to drop the constraint, and its views refer to the table, so they are
dropped first and created again (same SQL as 0002).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from warehouse.marts import create_view_statements, drop_view_statements

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FK = "fk_content_metrics_daily_platform_content_id_content"
_BEFORE = "Content id"
_AFTER = "Content id; (platform, content_id) is a row of content, checked by every load"


def _rebuild(change: str) -> None:
    """Drop or add the foreign key and set the content_id comment to match."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for statement in drop_view_statements():
            op.execute(statement)
    with op.batch_alter_table("content_metrics_daily") as batch:
        if change == "drop":
            batch.drop_constraint(_FK, type_="foreignkey")
        else:
            batch.create_foreign_key(
                _FK, "content", ["platform", "content_id"], ["platform", "content_id"]
            )
        batch.alter_column(
            "content_id",
            existing_type=sa.String(),
            existing_nullable=False,
            comment=_AFTER if change == "drop" else _BEFORE,
            existing_comment=_BEFORE if change == "drop" else _AFTER,
        )
    if sqlite:
        for statement in create_view_statements("sqlite"):
            op.execute(statement)


def upgrade() -> None:
    """Upgrade schema."""
    _rebuild("drop")


def downgrade() -> None:
    """Downgrade schema."""
    _rebuild("add")
