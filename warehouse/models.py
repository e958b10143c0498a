"""The warehouse tables users query: typed declarative models, the single source of the schema.

Every column carries a ``comment``: together they are the data dictionary, and on PostgreSQL
they become ``COMMENT ON COLUMN``. The schema reaches a database only through the Alembic
revisions in ``warehouse/migrations``. Timestamps are UTC (``UTCDateTime`` returns aware UTC
datetimes on every dialect); ids are strings because platform ids exceed 2**53.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DEFAULT_TIMEZONE = "Asia/Jakarta"

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """The current time as an aware UTC datetime."""
    return dt.datetime.now(dt.UTC)


def new_load_id() -> str:
    """A fresh load id (uuid4 as text)."""
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[dt.datetime]):
    """``TIMESTAMP WITH TIME ZONE`` that accepts only aware datetimes and returns aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        """Convert to UTC (SQLite stores the text without an offset); reject naive values."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the warehouse stores aware UTC times")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        """Return an aware UTC datetime (SQLite hands back naive UTC text)."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base holding the warehouse ``MetaData``."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _provenance_comment(what: str) -> dict[str, str]:
    """Comments of the provenance columns, shared by every data table."""
    return {
        "fetched_at": f"UTC time the API response holding this {what} was received",
        "run_id": "Pipeline run id of the observation that set the current values",
        "raw_file": "Raw response file the current values were parsed from, relative to the data directory",
    }


class Channel(Base):
    """One account on one platform (Instagram account, TikTok user, YouTube channel, site)."""

    __tablename__ = "channel"
    __table_args__ = ({"comment": "One account on one platform; one row per platform + channel_id"},)

    platform: Mapped[str] = mapped_column(
        String,
        primary_key=True,
        comment="Platform name: instagram, facebook, tiktok, youtube, x, website, manual",
    )
    channel_id: Mapped[str] = mapped_column(
        String, primary_key=True, comment="The platform's own account id, as text"
    )
    handle: Mapped[str | None] = mapped_column(String, comment="Username or handle, without '@'")
    display_name: Mapped[str | None] = mapped_column(String, comment="Display name shown on the profile")
    url: Mapped[str | None] = mapped_column(String, comment="Public profile URL")
    timezone: Mapped[str] = mapped_column(
        String,
        server_default=DEFAULT_TIMEZONE,
        comment="IANA time zone defining the channel's snapshot_date (default Asia/Jakarta)",
    )
    first_seen_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, comment="UTC time of the earliest observation of this channel loaded"
    )
    last_seen_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, comment="UTC time of the newest observation that changed this row"
    )
    run_id: Mapped[str] = mapped_column(
        String, comment="Pipeline run id of the observation that set the current values"
    )
    raw_file: Mapped[str] = mapped_column(
        String, comment="Raw file that set the current values, relative to the data directory"
    )


_CT = _provenance_comment("content item")


VALUES_XXH3_COMMENT = (
    "XXH3-64 hash of the row's other values, key and provenance aside, as a signed bigint "
    "(warehouse.merge.values_digest); loads skip an observation with the same hash. NULL: not "
    "known yet (the next load compares the values and sets it)"
)


class Content(Base):
    """One published item: post, reel, video, short, story, article."""

    __tablename__ = "content"
    __table_args__ = (
        ForeignKeyConstraint(["platform", "channel_id"], ["channel.platform", "channel.channel_id"]),
        {"comment": "One published item (post, reel, video, short, story, article) of a channel"},
    )

    platform: Mapped[str] = mapped_column(String, primary_key=True, comment="Platform name")
    content_id: Mapped[str] = mapped_column(
        String, primary_key=True, comment="The platform's own content id, as text"
    )
    channel_id: Mapped[str] = mapped_column(String, comment="Owning channel (platform + channel_id)")
    content_type: Mapped[str | None] = mapped_column(
        String, comment="Common type: post, reel, video, short, story, article, carousel"
    )
    media_type: Mapped[str | None] = mapped_column(
        String, comment="The platform's native media type, e.g. IMAGE, VIDEO, CAROUSEL_ALBUM"
    )
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, comment="UTC publication time")
    title: Mapped[str | None] = mapped_column(Text, comment="Title (videos, articles); NULL if none")
    caption: Mapped[str | None] = mapped_column(Text, comment="Caption or description text")
    url: Mapped[str | None] = mapped_column(String, comment="Public permalink")
    hashtags: Mapped[str | None] = mapped_column(
        Text, comment="JSON array of lower-case hashtags without '#', in order of first use"
    )
    fetched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, comment=_CT["fetched_at"])
    run_id: Mapped[str] = mapped_column(String, comment=_CT["run_id"])
    raw_file: Mapped[str] = mapped_column(String, comment=_CT["raw_file"])
    values_xxh3: Mapped[int | None] = mapped_column(BigInteger, comment=VALUES_XXH3_COMMENT)


_LIFETIME = "as observed on snapshot_date; NULL = not reported by the platform, never 0"
CONTENT_REFERENCE = "Content id; (platform, content_id) is a row of content, checked by every load"
# References every load checks for the whole batch instead of a foreign key: table -> (referred
# table, columns named alike in both). content_metrics_daily gains a row per post and day, and
# PostgreSQL checks a foreign key with a trigger per inserted row, half the time of the insert;
# the load checks the batch in the statement that locks the referred rows (warehouse.merge).
CHECKED_REFERENCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "content_metrics_daily": ("content", ("platform", "content_id")),
}
_CM = _provenance_comment("snapshot")


class ContentMetricsDaily(Base):
    """Lifetime counters of one content item as observed on one local date."""

    __tablename__ = "content_metrics_daily"
    __table_args__ = ({"comment": "Lifetime counters of one content item as observed on one local date"},)

    platform: Mapped[str] = mapped_column(String, primary_key=True, comment="Platform name")
    content_id: Mapped[str] = mapped_column(String, primary_key=True, comment=CONTENT_REFERENCE)
    snapshot_date: Mapped[dt.date] = mapped_column(
        Date, primary_key=True, comment="Date of the observation in the channel's time zone"
    )
    channel_id: Mapped[str] = mapped_column(String, comment="Owning channel id")
    views: Mapped[int | None] = mapped_column(BigInteger, comment=f"Lifetime views (plays), {_LIFETIME}")
    reach: Mapped[int | None] = mapped_column(
        BigInteger, comment=f"Lifetime unique accounts reached, {_LIFETIME}"
    )
    likes: Mapped[int | None] = mapped_column(BigInteger, comment=f"Lifetime likes, {_LIFETIME}")
    comments: Mapped[int | None] = mapped_column(BigInteger, comment=f"Lifetime comments, {_LIFETIME}")
    shares: Mapped[int | None] = mapped_column(BigInteger, comment=f"Lifetime shares, {_LIFETIME}")
    saves: Mapped[int | None] = mapped_column(BigInteger, comment=f"Lifetime saves, {_LIFETIME}")
    fetched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, comment=_CM["fetched_at"])
    run_id: Mapped[str] = mapped_column(String, comment=_CM["run_id"])
    raw_file: Mapped[str] = mapped_column(String, comment=_CM["raw_file"])


_NR = "NULL = not reported by the platform, never 0"


class ChannelMetricsDaily(Base):
    """Account-level counters of one channel on one local date, merged from partial snapshots."""

    __tablename__ = "channel_metrics_daily"
    __table_args__ = (
        ForeignKeyConstraint(["platform", "channel_id"], ["channel.platform", "channel.channel_id"]),
        {"comment": "Account-level counters of one channel on one local date (merged observations)"},
    )

    platform: Mapped[str] = mapped_column(String, primary_key=True, comment="Platform name")
    channel_id: Mapped[str] = mapped_column(String, primary_key=True, comment="Channel id")
    snapshot_date: Mapped[dt.date] = mapped_column(
        Date, primary_key=True, comment="Date of the observation in the channel's time zone"
    )
    followers: Mapped[int | None] = mapped_column(
        BigInteger, comment=f"Followers (subscribers) as observed; {_NR}"
    )
    following: Mapped[int | None] = mapped_column(BigInteger, comment=f"Accounts followed as observed; {_NR}")
    posts_count: Mapped[int | None] = mapped_column(
        BigInteger, comment=f"Lifetime published items as observed; {_NR}"
    )
    views: Mapped[int | None] = mapped_column(
        BigInteger, comment=f"Account views during the platform day ending on snapshot_date; {_NR}"
    )
    reach: Mapped[int | None] = mapped_column(
        BigInteger, comment=f"Account unique reach during the platform day ending on snapshot_date; {_NR}"
    )
    fetched_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, comment="UTC receive time of the newest observation merged into this row"
    )
    run_id: Mapped[str] = mapped_column(String, comment="Pipeline run id of the newest observation merged")
    raw_file: Mapped[str] = mapped_column(
        String, comment="Raw file of the newest observation merged, relative to the data directory"
    )


class LoadAudit(Base):
    """One load of one batch into the warehouse, succeeded or failed."""

    __tablename__ = "load_audit"
    __table_args__ = (
        CheckConstraint("status IN ('succeeded', 'failed')", name="status"),
        Index(None, "platform", "channel_id", "finished_at"),
        {"comment": "One load of one batch (one channel of one run) into the warehouse"},
    )

    load_id: Mapped[str] = mapped_column(
        String, primary_key=True, default=new_load_id, comment="Load id (uuid4)"
    )
    run_id: Mapped[str] = mapped_column(String, comment="Pipeline run id whose data was loaded")
    flow_run_id: Mapped[str | None] = mapped_column(
        String, comment="Prefect flow run id; NULL outside Prefect"
    )
    platform: Mapped[str] = mapped_column(String, comment="Platform of the batch")
    channel_id: Mapped[str] = mapped_column(String, comment="Channel of the batch")
    raw_files: Mapped[str] = mapped_column(
        Text, comment="JSON array of raw file paths relative to the data directory"
    )
    rows_in: Mapped[int] = mapped_column(Integer, comment="Rows that came in: loaded + quarantined")
    rows_loaded: Mapped[int] = mapped_column(
        Integer, comment="Rows passed to the upserts (inserted + updated + unchanged)"
    )
    rows_quarantined: Mapped[int] = mapped_column(Integer, comment="Rows held back by validation")
    rows_changed: Mapped[int] = mapped_column(
        Integer, comment="Rows inserted or updated (0 on a re-run of the same data)"
    )
    table_counts: Mapped[str] = mapped_column(
        Text, comment="JSON: per table {in, loaded, inserted, updated, unchanged, quarantined}"
    )
    quarantine_reasons: Mapped[str | None] = mapped_column(
        Text, comment="JSON object: quarantine reason -> rows"
    )
    status: Mapped[str] = mapped_column(String, comment="succeeded or failed")
    error: Mapped[str | None] = mapped_column(
        Text, comment="Error message of a failed load (secrets redacted)"
    )
    started_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, comment="UTC time the run's processing of the batch started"
    )
    finished_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, default=utcnow, comment="UTC time the load committed or failed"
    )


class SyncState(Base):
    """Incremental-sync state of one stream of one channel, advanced with the load it came from."""

    __tablename__ = "sync_state"
    __table_args__ = ({"comment": "Incremental-sync state per channel and stream; moves only forward"},)

    platform: Mapped[str] = mapped_column(String, primary_key=True, comment="Platform name")
    channel_id: Mapped[str] = mapped_column(String, primary_key=True, comment="Channel id")
    stream: Mapped[str] = mapped_column(String, primary_key=True, comment="Connector stream, e.g. media")
    watermark: Mapped[dt.datetime | None] = mapped_column(
        UTCDateTime, comment="Newest published_at loaded for this stream (UTC); NULL = none yet"
    )
    last_full_refresh_at: Mapped[dt.datetime | None] = mapped_column(
        UTCDateTime, comment="UTC time of the newest full refresh loaded; NULL = never"
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, default=utcnow, comment="UTC time this state last changed"
    )
    run_id: Mapped[str] = mapped_column(String, comment="Pipeline run id of the load that last changed it")


class Campaign(Base):
    """A public campaign as configured in socmed.toml; the config is the source of truth."""

    __tablename__ = "campaign"
    __table_args__ = ({"comment": "One campaign from the configuration file; one row per name"},)

    name: Mapped[str] = mapped_column(String, primary_key=True, comment="Campaign name, as configured")
    hashtags: Mapped[str] = mapped_column(
        Text, comment="JSON array of matched hashtags: lower-case, without '#'"
    )
    keywords: Mapped[str] = mapped_column(
        Text, comment="JSON array of matched keywords or phrases (case-insensitive, whole words)"
    )
    start_date: Mapped[dt.date] = mapped_column(
        Date, comment="First publication date matched, in the channel's time zone"
    )
    end_date: Mapped[dt.date | None] = mapped_column(
        Date, comment="Last publication date matched, channel-local; NULL = open-ended"
    )
    channels: Mapped[str | None] = mapped_column(
        Text, comment="JSON array of channel keys like instagram/@handle; NULL = every channel"
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, default=utcnow, comment="UTC time the definition last changed in the warehouse"
    )


class CampaignContent(Base):
    """Content matching a campaign: recomputed from the configuration after every run."""

    __tablename__ = "campaign_content"
    __table_args__ = (
        ForeignKeyConstraint(["campaign_name"], ["campaign.name"], ondelete="CASCADE"),
        ForeignKeyConstraint(["platform", "content_id"], ["content.platform", "content.content_id"]),
        Index(None, "platform", "content_id"),
        {"comment": "Content matching a campaign; one row per campaign + content item"},
    )

    campaign_name: Mapped[str] = mapped_column(String, primary_key=True, comment="Campaign name")
    platform: Mapped[str] = mapped_column(String, primary_key=True, comment="Platform name")
    content_id: Mapped[str] = mapped_column(String, primary_key=True, comment="Content id")
    channel_id: Mapped[str] = mapped_column(String, comment="Owning channel id")
    matched_hashtags: Mapped[str | None] = mapped_column(
        Text, comment="JSON array of the campaign hashtags found; NULL = none"
    )
    matched_keywords: Mapped[str | None] = mapped_column(
        Text, comment="JSON array of the campaign keywords found; NULL = none"
    )
    matched_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, default=utcnow, comment="UTC time of the refresh that first matched it"
    )


class TimeZoneOffset(Base):
    """UTC offsets of the channels' time zones, so SQLite views can compute local dates."""

    __tablename__ = "time_zone_offset"
    __table_args__ = (
        {"comment": "UTC offset of a time zone over a span of UTC time (for local dates on SQLite)"},
    )

    timezone: Mapped[str] = mapped_column(String, primary_key=True, comment="IANA time zone name")
    valid_from: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, primary_key=True, comment="UTC start of the span (inclusive)"
    )
    valid_until: Mapped[dt.datetime] = mapped_column(UTCDateTime, comment="UTC end of the span (exclusive)")
    utc_offset_seconds: Mapped[int] = mapped_column(
        Integer, comment="Seconds to add to UTC for local time during the span"
    )
