"""What the report shows, read from the marts: one query per section, shaped with Polars."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Engine, text

DAILY_SQL = """SELECT platform, handle, day, followers, followers_change, posts_published,
  views_delta, interactions_delta FROM mart_channel_daily ORDER BY platform, handle, day"""

POSTS_SQL = """SELECT platform, handle, content_id, content_type, published_date, caption, title, url,
  views, reach, interactions, engagement_rate_by_followers, engagement_rate_by_reach,
  engagement_rate_by_views FROM mart_content_performance WHERE published_date >= :since"""

CAMPAIGN_SQL = """SELECT campaign, platform, handle, SUM(posts_published) AS posts,
  SUM(reach_delta) AS reach, SUM(views_delta) AS views, SUM(interactions_delta) AS interactions
  FROM mart_campaign_daily GROUP BY campaign, platform, handle"""

DEFINITIONS_SQL = "SELECT name, hashtags, keywords, start_date, end_date FROM campaign ORDER BY name"

DAILY_SCHEMA = {
    "platform": pl.Utf8,
    "handle": pl.Utf8,
    "day": pl.Date,
    "followers": pl.Int64,
    "followers_change": pl.Int64,
    "posts_published": pl.Int64,
    "views_delta": pl.Int64,
    "interactions_delta": pl.Int64,
}
POST_SCHEMA = {
    "platform": pl.Utf8,
    "handle": pl.Utf8,
    "content_id": pl.Utf8,
    "content_type": pl.Utf8,
    "published_date": pl.Date,
    "caption": pl.Utf8,
    "title": pl.Utf8,
    "url": pl.Utf8,
    "views": pl.Int64,
    "reach": pl.Int64,
    "interactions": pl.Int64,
    "engagement_rate_by_followers": pl.Float64,
    "engagement_rate_by_reach": pl.Float64,
    "engagement_rate_by_views": pl.Float64,
}
CAMPAIGN_SCHEMA = {
    "campaign": pl.Utf8,
    "platform": pl.Utf8,
    "handle": pl.Utf8,
    "posts": pl.Int64,
    "reach": pl.Int64,
    "views": pl.Int64,
    "interactions": pl.Int64,
}


@dataclass(frozen=True)
class Campaign:
    """A campaign's definition, for the report's table."""

    name: str
    hashtags: list[str]
    keywords: list[str]
    start: dt.date
    end: dt.date | None


@dataclass(frozen=True)
class ReportData:
    """Everything the charts and tables need."""

    latest: dt.date | None
    since: dt.date | None
    daily: pl.DataFrame  # mart_channel_daily, whole history
    posts: pl.DataFrame  # mart_content_performance, content published since `since`
    campaigns: pl.DataFrame  # per campaign and channel: posts, reach, views, interactions
    definitions: list[Campaign]


def _value(value: Any) -> Any:
    """A database value as Python: ISO text from SQLite becomes a date; Decimal sums become ints."""
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        return dt.date.fromisoformat(value)
    if value is not None and type(value).__name__ == "Decimal":
        return int(value)
    return value


def _frame(engine: Engine, sql: str, schema: dict[str, Any], **params: Any) -> pl.DataFrame:
    """Rows of a query as a frame with an explicit schema, plus a ``channel`` label column."""
    with engine.connect() as conn:
        result = conn.execute(text(sql), params)
        rows = [{k: _value(v) for k, v in row._mapping.items()} for row in result]
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    label = pl.col("platform") + "/@" + pl.col("handle").fill_null("?")
    return frame.with_columns(channel=label)


def _definitions(engine: Engine) -> list[Campaign]:
    """The configured campaigns as stored in the warehouse."""
    with engine.connect() as conn:
        rows = conn.execute(text(DEFINITIONS_SQL)).all()
    return [
        Campaign(
            r.name, json.loads(r.hashtags), json.loads(r.keywords), _value(r.start_date), _value(r.end_date)
        )
        for r in rows
    ]


def load_report_data(engine: Engine, days: int) -> ReportData:
    """Read the report's data; the period is the last `days` days up to the newest day."""
    daily = _frame(engine, DAILY_SQL, DAILY_SCHEMA)
    latest = daily["day"].max() if daily.height else None
    since = latest - dt.timedelta(days=days - 1) if isinstance(latest, dt.date) else None
    posts = _frame(engine, POSTS_SQL, POST_SCHEMA, since=since or dt.date.max)
    return ReportData(
        latest if isinstance(latest, dt.date) else None,
        since,
        daily,
        posts,
        _frame(engine, CAMPAIGN_SQL, CAMPAIGN_SCHEMA),
        _definitions(engine),
    )


def nullable_sum(column: str) -> pl.Expr:
    """Sum of a column, NULL (not 0) when every value is NULL, as in SQL."""
    return pl.when(pl.col(column).is_not_null().any()).then(pl.col(column).sum()).alias(column)


def channel_summary(data: ReportData) -> pl.DataFrame:
    """Per channel over the period: latest followers, change, posts, views, interactions, rates."""
    period = data.daily.filter(pl.col("day") >= data.since) if data.since else data.daily.clear()
    sums = period.group_by("channel").agg(
        nullable_sum("followers_change"),
        nullable_sum("posts_published").alias("posts"),
        nullable_sum("views_delta").alias("views"),
        nullable_sum("interactions_delta").alias("interactions"),
    )
    latest = (
        data.daily.drop_nulls("followers").sort("day").group_by("channel").agg(pl.col("followers").last())
    )
    rates = data.posts.group_by("channel").agg(
        pl.col(f"engagement_rate_by_{d}").median().alias(f"median_rate_by_{d}")
        for d in ("followers", "reach", "views")
    )
    return sums.join(latest, on="channel", how="left").join(rates, on="channel", how="left").sort("channel")


def top_posts(data: ReportData, limit: int = 10) -> pl.DataFrame:
    """The period's posts with the most interactions."""
    return (
        data.posts.drop_nulls("interactions")
        .sort(["interactions", "content_id"], descending=[True, False])
        .head(limit)
    )


def weekly_posts(data: ReportData, weeks: int = 26) -> pl.DataFrame:
    """Posts published per channel and ISO week (weeks starting Monday), the last `weeks` weeks."""
    if data.latest is None:
        return pl.DataFrame(schema={"channel": pl.Utf8, "week": pl.Date, "posts": pl.Int64})
    first = data.latest - dt.timedelta(days=data.latest.weekday() + 7 * (weeks - 1))
    return (
        data.daily.filter(pl.col("day") >= first)
        .with_columns(week=pl.col("day").dt.truncate("1w"))
        .group_by("channel", "week")
        .agg(pl.col("posts_published").sum().alias("posts"))
        .sort("channel", "week")
    )
