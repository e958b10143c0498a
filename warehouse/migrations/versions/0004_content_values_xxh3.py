"""content gains values_xxh3: a hash of each row's values, for the loads' unchanged-rows check.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08 00:00:00.000000

A daily run re-reads every post a channel has, and most are unchanged. Each load compared every
incoming post with its stored row (short columns staged, and the MD5 of the stored caption
computed by the server). It now compares one stored hash per post (``warehouse.merge``).
Rows stored before this revision have NULL: their next observation is compared value by value,
as before, and sets it. SQLite rebuilds the table to drop the column on downgrade, and its views
refer to the table, so they are dropped first and created again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from warehouse.marts import create_view_statements, drop_view_statements

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COMMENT = (
    "XXH3-64 hash of the row's other values, key and provenance aside, as a signed bigint "
    "(warehouse.merge.values_digest); loads skip an observation with the same hash. NULL: not "
    "known yet (the next load compares the values and sets it)"
)


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column("content", sa.Column("values_xxh3", sa.BigInteger(), nullable=True, comment=_COMMENT))


def downgrade() -> None:
    """Downgrade schema."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for statement in drop_view_statements():
            op.execute(statement)
    with op.batch_alter_table("content") as batch:
        batch.drop_column("values_xxh3")
    if sqlite:
        for statement in create_view_statements("sqlite"):
            op.execute(statement)
