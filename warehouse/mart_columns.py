"""Documentation of the mart views: grain and every column's type, unit, measure and meaning.

The single source for the data dictionary's view sections and for PostgreSQL's ``COMMENT ON
VIEW`` / ``COMMENT ON COLUMN`` (so BI tools show it); a test checks that each view has exactly
these columns on both dialects. Measures: ``key`` (identifies the row), ``attribute``,
``lifetime`` (counter as last observed), ``daily`` (change during the day), ``level`` (value
as observed that day), ``ratio``, ``flag``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ViewColumn:
    """One documented view column."""

    name: str
    type: str
    unit: str
    measure: str
    comment: str


@dataclass(frozen=True)
class ViewDoc:
    """One documented view."""

    name: str
    grain: str
    comment: str
    columns: tuple[ViewColumn, ...]


def col(name: str, type_: str, unit: str, measure: str, comment: str) -> ViewColumn:
    """Shorthand for a ViewColumn."""
    return ViewColumn(name, type_, unit, measure, comment)


LOCAL = "date (channel-local)"
_SPREAD = "spread evenly over the days a snapshot interval covers; may be negative"
KEYS = (
    col("platform", "text", "-", "key", "Platform name"),
    col("content_id", "text", "-", "key", "The platform's own content id"),
    col("channel_id", "text", "-", "attribute", "Owning channel id"),
)
CHANNEL_KEYS = (
    col("platform", "text", "-", "key", "Platform name"),
    col("channel_id", "text", "-", "key", "Channel id"),
    col("handle", "text", "-", "attribute", "Channel handle, without '@'"),
    col("day", "date", LOCAL, "key", "The day, in the channel's time zone"),
)


def _deltas(names: tuple[str, ...], what: str) -> tuple[ViewColumn, ...]:
    """Daily delta columns for the given counters."""
    return tuple(
        col(f"{n}_delta", "bigint", n, "daily", f"Change of {what} lifetime {n} that day, {_SPREAD}")
        for n in names
    )


def _rates(followers: str, reach: str, views: str) -> tuple[ViewColumn, ...]:
    """The three engagement-rate columns, each named by its denominator."""
    num = "interactions"
    return (
        col("engagement_rate_by_followers", "double", "ratio", "ratio", f"{num} / {followers}"),
        col("engagement_rate_by_reach", "double", "ratio", "ratio", f"{num} / {reach}"),
        col("engagement_rate_by_views", "double", "ratio", "ratio", f"{num} / {views}; NULL if 0"),
    )


_INTERACTIONS = "likes + comments + shares + saves, over those reported; NULL if none is"
_BASIS = col(
    "followers_basis",
    "bigint",
    "followers",
    "level",
    "Followers observed that day, else the latest before, else the earliest after",
)
_DELTA_BASIS = col(
    "delta_basis",
    "text",
    "-",
    "flag",
    "observed (daily snapshots), spread (some deltas spread over a gap), "
    "backfill (first observations dated to publication); NULL = no deltas",
)
_METRICS = ("views", "reach", "likes", "comments", "shares", "saves")

CONTENT_DATES = ViewDoc(
    "mart_content_dates",
    "platform + content_id",
    "Each content item with its publication date and month in its channel's time zone",
    (
        *KEYS,
        col("handle", "text", "-", "attribute", "Channel handle, without '@'"),
        col("content_type", "text", "-", "attribute", "Common type: post, reel, video, article, ..."),
        col("published_at", "timestamp (UTC)", "UTC time", "attribute", "UTC publication time"),
        col("published_date", "date", LOCAL, "attribute", "Publication date in the channel's zone"),
        col("publish_month", "date", "first day of month", "attribute", "Month of published_date"),
    ),
)

CONTENT_DELTAS = ViewDoc(
    "mart_content_deltas",
    "platform + content_id + snapshot_date",
    "Change of each content item's lifetime counters since its previous snapshot",
    (
        *KEYS,
        col("snapshot_date", "date", LOCAL, "key", "Date of the snapshot"),
        col("published_date", "date", LOCAL, "attribute", "Publication date in the channel's zone"),
        col(
            "delta_basis",
            "text",
            "-",
            "flag",
            "interval (since the previous snapshot), first (first snapshot of content published "
            "since tracking began: since publication), backfill (published before: all on publication date)",
        ),
        col("period_start", "date", LOCAL, "attribute", "First day the change is spread over"),
        col("period_end", "date", LOCAL, "attribute", "Last day the change is spread over"),
        col("period_days", "integer", "days", "attribute", "Days from period_start to period_end, inclusive"),
        *(
            col(f"{n}_delta", "bigint", n, "daily", f"Change of lifetime {n} over the period; may be < 0")
            for n in _METRICS
        ),
        col("interactions_delta", "bigint", "interactions", "daily", f"Change of {_INTERACTIONS}"),
    ),
)

CONTENT_PERFORMANCE = ViewDoc(
    "mart_content_performance",
    "platform + content_id",
    "Each content item with its latest metrics, age, engagement rates and rank in its channel and month",
    (
        *KEYS,
        *CONTENT_DATES.columns[3:],
        col("title", "text", "-", "attribute", "Title (videos, articles); NULL if none"),
        col("caption", "text", "-", "attribute", "Caption or description text"),
        col("url", "text", "-", "attribute", "Public permalink"),
        col("latest_snapshot_date", "date", LOCAL, "attribute", "Date of the newest snapshot; NULL = none"),
        col("age_days", "integer", "days", "attribute", "Days from published_date to latest_snapshot_date"),
        *(col(n, "bigint", n, "lifetime", f"Lifetime {n} at the newest snapshot") for n in _METRICS),
        col("interactions", "bigint", "interactions", "lifetime", _INTERACTIONS),
        _BASIS,
        *_rates("followers_basis", "reach", "views"),
        col(
            "rank_in_channel_month",
            "bigint",
            "rank",
            "attribute",
            "Rank by interactions among the channel's content of the same publish_month (1 = most)",
        ),
    ),
)

CHANNEL_DAILY = ViewDoc(
    "mart_channel_daily",
    "platform + channel_id + day",
    "Each channel's day: followers and their change, posts published, daily deltas, engagement rates",
    (
        *CHANNEL_KEYS,
        col(
            "days_before_latest",
            "integer",
            "days",
            "attribute",
            "Days before the newest day of the view; every channel has rows up to it (0)",
        ),
        col("followers", "bigint", "followers", "level", "Followers observed that day; NULL = not observed"),
        _BASIS,
        col("followers_change", "bigint", "followers", "daily", f"Change of followers, {_SPREAD}"),
        col("posts_published", "integer", "items", "daily", "Content items published that day"),
        *_deltas(("views", "likes", "comments", "shares", "saves"), "the channel's content"),
        col("interactions_delta", "bigint", "interactions", "daily", f"Change of {_INTERACTIONS}"),
        col("account_reach", "bigint", "accounts", "daily", "Account reach of the platform day; NULL = none"),
        col("account_views", "bigint", "views", "daily", "Account views of the platform day; NULL = none"),
        col("content_observed", "integer", "0/1", "flag", "1 if the channel's content was observed that day"),
        _DELTA_BASIS,
        *_rates("followers_basis", "account_reach", "views_delta"),
    ),
)

PLATFORM_MONTHLY = ViewDoc(
    "mart_platform_monthly",
    "platform + month",
    "Each platform's month: content published (articles included), its totals and median rates",
    (
        col("platform", "text", "-", "key", "Platform name"),
        col("month", "date", "first day of month", "key", "Publication month, channel-local"),
        col("channels", "integer", "channels", "attribute", "Channels that published that month"),
        col("posts_published", "integer", "items", "attribute", "Content items published that month"),
        *(
            col(n, "bigint", n, "lifetime", f"Sum of the latest lifetime {n} of that month's content")
            for n in (*_METRICS, "interactions")
        ),
        *(
            col(f"median_engagement_rate_by_{r}", "double", "ratio", "ratio", f"Median per-item rate by {r}")
            for r in ("followers", "reach", "views")
        ),
    ),
)

CAMPAIGN_DAILY = ViewDoc(
    "mart_campaign_daily",
    "campaign + platform + channel_id + day",
    "Each campaign's day per channel (sum over channels for the whole campaign): "
    "posts, reach, views, interactions, engagement rates",
    (
        col("campaign", "text", "-", "key", "Campaign name"),
        *CHANNEL_KEYS,
        col("posts_published", "integer", "items", "daily", "Matching items published that day"),
        *_deltas((*_METRICS,), "matching content's"),
        col("interactions_delta", "bigint", "interactions", "daily", f"Change of {_INTERACTIONS}"),
        _BASIS,
        _DELTA_BASIS,
        *_rates("followers_basis", "reach_delta", "views_delta"),
    ),
)

VIEW_DOCS: dict[str, ViewDoc] = {
    doc.name: doc
    for doc in (
        CONTENT_DATES,
        CONTENT_DELTAS,
        CONTENT_PERFORMANCE,
        CHANNEL_DAILY,
        PLATFORM_MONTHLY,
        CAMPAIGN_DAILY,
    )
}


def comment_statements() -> list[str]:
    """PostgreSQL COMMENT ON VIEW / COLUMN statements for every mart."""

    def quoted(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    statements = []
    for doc in VIEW_DOCS.values():
        statements.append(f"COMMENT ON VIEW {doc.name} IS {quoted(f'{doc.comment}. Grain: {doc.grain}')}")
        statements += [
            f"COMMENT ON COLUMN {doc.name}.{c.name} IS {quoted(f'{c.comment} [{c.unit}; {c.measure}]')}"
            for c in doc.columns
        ]
    return statements
