"""Campaigns, campaign content, time zone offsets and the mart views.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 09:00:00.000000

The view SQL comes from ``warehouse.marts`` and the view comments from
``warehouse.mart_columns``: a later change to a view goes into a new revision that drops and
recreates the views (``marts.drop_view_statements`` / ``create_view_statements``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from warehouse.mart_columns import comment_statements
from warehouse.marts import create_view_statements, drop_view_statements
from warehouse.timezones import ensure_time_zones

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _campaign() -> None:
    """The campaign table."""
    op.create_table(
        "campaign",
        sa.Column("name", sa.String(), nullable=False, comment="Campaign name, as configured"),
        sa.Column(
            "hashtags",
            sa.Text(),
            nullable=False,
            comment="JSON array of matched hashtags: lower-case, without '#'",
        ),
        sa.Column(
            "keywords",
            sa.Text(),
            nullable=False,
            comment="JSON array of matched keywords or phrases (case-insensitive, whole words)",
        ),
        sa.Column(
            "start_date",
            sa.Date(),
            nullable=False,
            comment="First publication date matched, in the channel's time zone",
        ),
        sa.Column(
            "end_date",
            sa.Date(),
            nullable=True,
            comment="Last publication date matched, channel-local; NULL = open-ended",
        ),
        sa.Column(
            "channels",
            sa.Text(),
            nullable=True,
            comment="JSON array of channel keys like instagram/@handle; NULL = every channel",
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="UTC time the definition last changed in the warehouse",
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_campaign")),
        comment="One campaign from the configuration file; one row per name",
    )


def _campaign_content() -> None:
    """The campaign_content table and its index."""
    op.create_table(
        "campaign_content",
        sa.Column("campaign_name", sa.String(), nullable=False, comment="Campaign name"),
        sa.Column("platform", sa.String(), nullable=False, comment="Platform name"),
        sa.Column("content_id", sa.String(), nullable=False, comment="Content id"),
        sa.Column("channel_id", sa.String(), nullable=False, comment="Owning channel id"),
        sa.Column(
            "matched_hashtags",
            sa.Text(),
            nullable=True,
            comment="JSON array of the campaign hashtags found; NULL = none",
        ),
        sa.Column(
            "matched_keywords",
            sa.Text(),
            nullable=True,
            comment="JSON array of the campaign keywords found; NULL = none",
        ),
        sa.Column(
            "matched_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="UTC time of the refresh that first matched it",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_name"],
            ["campaign.name"],
            name=op.f("fk_campaign_content_campaign_name_campaign"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["platform", "content_id"],
            ["content.platform", "content.content_id"],
            name=op.f("fk_campaign_content_platform_content_id_content"),
        ),
        sa.PrimaryKeyConstraint("campaign_name", "platform", "content_id", name=op.f("pk_campaign_content")),
        comment="Content matching a campaign; one row per campaign + content item",
    )
    op.create_index(
        op.f("ix_campaign_content_platform_content_id"), "campaign_content", ["platform", "content_id"]
    )


def _time_zone_offset() -> None:
    """The time_zone_offset table, filled for the zones in use and the default."""
    op.create_table(
        "time_zone_offset",
        sa.Column("timezone", sa.String(), nullable=False, comment="IANA time zone name"),
        sa.Column(
            "valid_from",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="UTC start of the span (inclusive)",
        ),
        sa.Column(
            "valid_until",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="UTC end of the span (exclusive)",
        ),
        sa.Column(
            "utc_offset_seconds",
            sa.Integer(),
            nullable=False,
            comment="Seconds to add to UTC for local time during the span",
        ),
        sa.PrimaryKeyConstraint("timezone", "valid_from", name=op.f("pk_time_zone_offset")),
        comment="UTC offset of a time zone over a span of UTC time (for local dates on SQLite)",
    )
    ensure_time_zones(op.get_bind())


def upgrade() -> None:
    """Upgrade schema."""
    _campaign()
    _campaign_content()
    _time_zone_offset()
    dialect = op.get_bind().dialect.name
    for statement in create_view_statements(dialect):
        op.execute(statement)
    if dialect == "postgresql":
        for statement in comment_statements():
            op.execute(statement)


def downgrade() -> None:
    """Downgrade schema."""
    for statement in drop_view_statements():
        op.execute(statement)
    op.drop_table("time_zone_offset")
    op.drop_index(op.f("ix_campaign_content_platform_content_id"), table_name="campaign_content")
    op.drop_table("campaign_content")
    op.drop_table("campaign")
