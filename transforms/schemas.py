"""The common schema: one explicit Polars schema per warehouse table.

Every transform casts its output to these schemas (no inferred types). Timestamps are UTC;
``snapshot_date`` is the date in the channel's own time zone. A metric a platform does not
report is null, never 0. ``run_id`` and ``raw_file`` carry provenance to the warehouse:
the flow run that fetched the data and the raw file (relative to the data directory) the
row was parsed from.
"""

from __future__ import annotations

import polars as pl

UTC_TS = pl.Datetime("us", "UTC")

PROVENANCE: dict[str, pl.DataType] = {
    "fetched_at": UTC_TS,
    "run_id": pl.Utf8(),
    "raw_file": pl.Utf8(),
}

CHANNEL = pl.Schema(
    {
        "platform": pl.Utf8(),
        "channel_id": pl.Utf8(),
        "handle": pl.Utf8(),
        "display_name": pl.Utf8(),
        "url": pl.Utf8(),
        "timezone": pl.Utf8(),
        **PROVENANCE,
    }
)

CONTENT = pl.Schema(
    {
        "platform": pl.Utf8(),
        "content_id": pl.Utf8(),
        "channel_id": pl.Utf8(),
        "content_type": pl.Utf8(),  # post, reel, video, short, story, article, carousel
        "media_type": pl.Utf8(),  # the platform's native type, e.g. IMAGE, VIDEO, CAROUSEL_ALBUM
        "published_at": UTC_TS,
        "title": pl.Utf8(),
        "caption": pl.Utf8(),
        "url": pl.Utf8(),
        "hashtags": pl.List(pl.Utf8()),  # lower-case, without '#', in order of first use
        **PROVENANCE,
    }
)

CONTENT_METRICS_DAILY = pl.Schema(
    {
        "platform": pl.Utf8(),
        "content_id": pl.Utf8(),
        "snapshot_date": pl.Date(),
        "channel_id": pl.Utf8(),
        "views": pl.Int64(),
        "reach": pl.Int64(),
        "likes": pl.Int64(),
        "comments": pl.Int64(),
        "shares": pl.Int64(),
        "saves": pl.Int64(),
        **PROVENANCE,
    }
)

CHANNEL_METRICS_DAILY = pl.Schema(
    {
        "platform": pl.Utf8(),
        "channel_id": pl.Utf8(),
        "snapshot_date": pl.Date(),
        "followers": pl.Int64(),
        "following": pl.Int64(),
        "posts_count": pl.Int64(),
        "views": pl.Int64(),  # account-level, for the platform day ending on snapshot_date
        "reach": pl.Int64(),  # account-level unique reach for that platform day
        **PROVENANCE,
    }
)

SCHEMAS: dict[str, pl.Schema] = {
    "channel": CHANNEL,
    "content": CONTENT,
    "content_metrics_daily": CONTENT_METRICS_DAILY,
    "channel_metrics_daily": CHANNEL_METRICS_DAILY,
}

KEYS: dict[str, tuple[str, ...]] = {
    "channel": ("platform", "channel_id"),
    "content": ("platform", "content_id"),
    "content_metrics_daily": ("platform", "content_id", "snapshot_date"),
    "channel_metrics_daily": ("platform", "channel_id", "snapshot_date"),
}

METRIC_COLUMNS: dict[str, tuple[str, ...]] = {
    "content_metrics_daily": ("views", "reach", "likes", "comments", "shares", "saves"),
    "channel_metrics_daily": ("followers", "following", "posts_count", "views", "reach"),
}

# Load order respects foreign keys: channel before content before facts.
TABLE_ORDER: tuple[str, ...] = (
    "channel",
    "content",
    "channel_metrics_daily",
    "content_metrics_daily",
)

KNOWN_PLATFORMS: frozenset[str] = frozenset(
    {"instagram", "facebook", "tiktok", "youtube", "x", "website", "manual"}
)


def empty(table: str) -> pl.DataFrame:
    """An empty frame with the table's schema."""
    return pl.DataFrame(schema=SCHEMAS[table])


def conform(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Select and cast a frame to the table's schema, in schema order; missing columns are null."""
    schema = SCHEMAS[table]
    extra = [c for c in frame.columns if c not in schema]
    if extra:
        raise ValueError(f"{table}: unexpected columns {extra}")
    exprs = [
        (pl.col(name) if name in frame.columns else pl.lit(None)).cast(dtype, strict=True).alias(name)
        for name, dtype in schema.items()
    ]
    return frame.select(exprs)
