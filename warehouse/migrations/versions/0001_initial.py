"""Initial warehouse schema: channel, content, daily metrics, load audit, sync state.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-27 06:48:07.251834
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOT_REPORTED = "NULL = not reported by the platform, never 0"


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "channel",
        sa.Column(
            "platform",
            sa.String(),
            nullable=False,
            comment="Platform name: instagram, facebook, tiktok, youtube, x, website, manual",
        ),
        sa.Column(
            "channel_id", sa.String(), nullable=False, comment="The platform's own account id, as text"
        ),
        sa.Column("handle", sa.String(), nullable=True, comment="Username or handle, without '@'"),
        sa.Column("display_name", sa.String(), nullable=True, comment="Display name shown on the profile"),
        sa.Column("url", sa.String(), nullable=True, comment="Public profile URL"),
        sa.Column(
            "timezone",
            sa.String(),
            server_default="Asia/Jakarta",
            nullable=False,
            comment="IANA time zone defining the channel's snapshot_date (default Asia/Jakarta)",
        ),
        sa.Column(
            "first_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="UTC time of the earliest observation of this channel loaded",
        ),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="UTC time of the newest observation that changed this row",
        ),
        sa.Column(
            "run_id",
            sa.String(),
            nullable=False,
            comment="Pipeline run id of the observation that set the current values",
        ),
        sa.Column(
            "raw_file",
            sa.String(),
            nullable=False,
            comment="Raw file that set the current values, relative to the data directory",
        ),
        sa.PrimaryKeyConstraint("platform", "channel_id", name=op.f("pk_channel")),
        comment="One account on one platform; one row per platform + channel_id",
    )
    op.create_table(
        "load_audit",
        sa.Column("load_id", sa.String(), nullable=False, comment="Load id (uuid4)"),
        sa.Column("run_id", sa.String(), nullable=False, comment="Pipeline run id whose data was loaded"),
        sa.Column(
            "flow_run_id", sa.String(), nullable=True, comment="Prefect flow run id; NULL outside Prefect"
        ),
        sa.Column("platform", sa.String(), nullable=False, comment="Platform of the batch"),
        sa.Column("channel_id", sa.String(), nullable=False, comment="Channel of the batch"),
        sa.Column(
            "raw_files",
            sa.Text(),
            nullable=False,
            comment="JSON array of raw file paths relative to the data directory",
        ),
        sa.Column("rows_in", sa.Integer(), nullable=False, comment="Rows that came in: loaded + quarantined"),
        sa.Column(
            "rows_loaded",
            sa.Integer(),
            nullable=False,
            comment="Rows passed to the upserts (inserted + updated + unchanged)",
        ),
        sa.Column("rows_quarantined", sa.Integer(), nullable=False, comment="Rows held back by validation"),
        sa.Column(
            "rows_changed",
            sa.Integer(),
            nullable=False,
            comment="Rows inserted or updated (0 on a re-run of the same data)",
        ),
        sa.Column(
            "table_counts",
            sa.Text(),
            nullable=False,
            comment="JSON: per table {in, loaded, inserted, updated, unchanged, quarantined}",
        ),
        sa.Column(
            "quarantine_reasons", sa.Text(), nullable=True, comment="JSON object: quarantine reason -> rows"
        ),
        sa.Column("status", sa.String(), nullable=False, comment="succeeded or failed"),
        sa.Column(
            "error", sa.Text(), nullable=True, comment="Error message of a failed load (secrets redacted)"
        ),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="UTC time the run's processing of the batch started",
        ),
        sa.Column(
            "finished_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="UTC time the load committed or failed",
        ),
        sa.CheckConstraint("status IN ('succeeded', 'failed')", name=op.f("ck_load_audit_status")),
        sa.PrimaryKeyConstraint("load_id", name=op.f("pk_load_audit")),
        comment="One load of one batch (one channel of one run) into the warehouse",
    )
    op.create_index(
        op.f("ix_load_audit_platform_channel_id_finished_at"),
        "load_audit",
        ["platform", "channel_id", "finished_at"],
        unique=False,
    )
    op.create_table(
        "sync_state",
        sa.Column("platform", sa.String(), nullable=False, comment="Platform name"),
        sa.Column("channel_id", sa.String(), nullable=False, comment="Channel id"),
        sa.Column("stream", sa.String(), nullable=False, comment="Connector stream, e.g. media"),
        sa.Column(
            "watermark",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="Newest published_at loaded for this stream (UTC); NULL = none yet",
        ),
        sa.Column(
            "last_full_refresh_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="UTC time of the newest full refresh loaded; NULL = never",
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="UTC time this state last changed",
        ),
        sa.Column(
            "run_id", sa.String(), nullable=False, comment="Pipeline run id of the load that last changed it"
        ),
        sa.PrimaryKeyConstraint("platform", "channel_id", "stream", name=op.f("pk_sync_state")),
        comment="Incremental-sync state per channel and stream; moves only forward",
    )
    op.create_table(
        "channel_metrics_daily",
        sa.Column("platform", sa.String(), nullable=False, comment="Platform name"),
        sa.Column("channel_id", sa.String(), nullable=False, comment="Channel id"),
        sa.Column(
            "snapshot_date",
            sa.Date(),
            nullable=False,
            comment="Date of the observation in the channel's time zone",
        ),
        sa.Column(
            "followers",
            sa.BigInteger(),
            nullable=True,
            comment=f"Followers (subscribers) as observed; {NOT_REPORTED}",
        ),
        sa.Column(
            "following",
            sa.BigInteger(),
            nullable=True,
            comment=f"Accounts followed as observed; {NOT_REPORTED}",
        ),
        sa.Column(
            "posts_count",
            sa.BigInteger(),
            nullable=True,
            comment=f"Lifetime published items as observed; {NOT_REPORTED}",
        ),
        sa.Column(
            "views",
            sa.BigInteger(),
            nullable=True,
            comment=f"Account views during the platform day ending on snapshot_date; {NOT_REPORTED}",
        ),
        sa.Column(
            "reach",
            sa.BigInteger(),
            nullable=True,
            comment=f"Account unique reach during the platform day ending on snapshot_date; {NOT_REPORTED}",
        ),
        sa.Column(
            "fetched_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="UTC receive time of the newest observation merged into this row",
        ),
        sa.Column(
            "run_id", sa.String(), nullable=False, comment="Pipeline run id of the newest observation merged"
        ),
        sa.Column(
            "raw_file",
            sa.String(),
            nullable=False,
            comment="Raw file of the newest observation merged, relative to the data directory",
        ),
        sa.ForeignKeyConstraint(
            ["platform", "channel_id"],
            ["channel.platform", "channel.channel_id"],
            name=op.f("fk_channel_metrics_daily_platform_channel_id_channel"),
        ),
        sa.PrimaryKeyConstraint(
            "platform", "channel_id", "snapshot_date", name=op.f("pk_channel_metrics_daily")
        ),
        comment="Account-level counters of one channel on one local date (merged observations)",
    )
    op.create_table(
        "content",
        sa.Column("platform", sa.String(), nullable=False, comment="Platform name"),
        sa.Column(
            "content_id", sa.String(), nullable=False, comment="The platform's own content id, as text"
        ),
        sa.Column(
            "channel_id", sa.String(), nullable=False, comment="Owning channel (platform + channel_id)"
        ),
        sa.Column(
            "content_type",
            sa.String(),
            nullable=True,
            comment="Common type: post, reel, video, short, story, article, carousel",
        ),
        sa.Column(
            "media_type",
            sa.String(),
            nullable=True,
            comment="The platform's native media type, e.g. IMAGE, VIDEO, CAROUSEL_ALBUM",
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True, comment="UTC publication time"),
        sa.Column("title", sa.Text(), nullable=True, comment="Title (videos, articles); NULL if none"),
        sa.Column("caption", sa.Text(), nullable=True, comment="Caption or description text"),
        sa.Column("url", sa.String(), nullable=True, comment="Public permalink"),
        sa.Column(
            "hashtags",
            sa.Text(),
            nullable=True,
            comment="JSON array of lower-case hashtags without '#', in order of first use",
        ),
        sa.Column(
            "fetched_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="UTC time the API response holding this content item was received",
        ),
        sa.Column(
            "run_id",
            sa.String(),
            nullable=False,
            comment="Pipeline run id of the observation that set the current values",
        ),
        sa.Column(
            "raw_file",
            sa.String(),
            nullable=False,
            comment="Raw response file the current values were parsed from, relative to the data directory",
        ),
        sa.ForeignKeyConstraint(
            ["platform", "channel_id"],
            ["channel.platform", "channel.channel_id"],
            name=op.f("fk_content_platform_channel_id_channel"),
        ),
        sa.PrimaryKeyConstraint("platform", "content_id", name=op.f("pk_content")),
        comment="One published item (post, reel, video, short, story, article) of a channel",
    )
    op.create_table(
        "content_metrics_daily",
        sa.Column("platform", sa.String(), nullable=False, comment="Platform name"),
        sa.Column("content_id", sa.String(), nullable=False, comment="Content id"),
        sa.Column(
            "snapshot_date",
            sa.Date(),
            nullable=False,
            comment="Date of the observation in the channel's time zone",
        ),
        sa.Column("channel_id", sa.String(), nullable=False, comment="Owning channel id"),
        sa.Column(
            "views",
            sa.BigInteger(),
            nullable=True,
            comment=f"Lifetime views (plays), as observed on snapshot_date; {NOT_REPORTED}",
        ),
        sa.Column(
            "reach",
            sa.BigInteger(),
            nullable=True,
            comment=f"Lifetime unique accounts reached, as observed on snapshot_date; {NOT_REPORTED}",
        ),
        sa.Column(
            "likes",
            sa.BigInteger(),
            nullable=True,
            comment=f"Lifetime likes, as observed on snapshot_date; {NOT_REPORTED}",
        ),
        sa.Column(
            "comments",
            sa.BigInteger(),
            nullable=True,
            comment=f"Lifetime comments, as observed on snapshot_date; {NOT_REPORTED}",
        ),
        sa.Column(
            "shares",
            sa.BigInteger(),
            nullable=True,
            comment=f"Lifetime shares, as observed on snapshot_date; {NOT_REPORTED}",
        ),
        sa.Column(
            "saves",
            sa.BigInteger(),
            nullable=True,
            comment=f"Lifetime saves, as observed on snapshot_date; {NOT_REPORTED}",
        ),
        sa.Column(
            "fetched_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="UTC time the API response holding this snapshot was received",
        ),
        sa.Column(
            "run_id",
            sa.String(),
            nullable=False,
            comment="Pipeline run id of the observation that set the current values",
        ),
        sa.Column(
            "raw_file",
            sa.String(),
            nullable=False,
            comment="Raw response file the current values were parsed from, relative to the data directory",
        ),
        sa.ForeignKeyConstraint(
            ["platform", "content_id"],
            ["content.platform", "content.content_id"],
            name=op.f("fk_content_metrics_daily_platform_content_id_content"),
        ),
        sa.PrimaryKeyConstraint(
            "platform", "content_id", "snapshot_date", name=op.f("pk_content_metrics_daily")
        ),
        comment="Lifetime counters of one content item as observed on one local date",
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("content_metrics_daily")
    op.drop_table("content")
    op.drop_table("channel_metrics_daily")
    op.drop_table("sync_state")
    op.drop_index(op.f("ix_load_audit_platform_channel_id_finished_at"), table_name="load_audit")
    op.drop_table("load_audit")
    op.drop_table("channel")
