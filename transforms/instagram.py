"""One run's Instagram Graph API responses -> frames of the common schema.

Streams (``meta["stream"]``) and what they feed:

* ``account``: the IG User fields -> ``channel`` and the follower/following/posts snapshot in
  ``channel_metrics_daily`` (snapshot_date = local date of fetched_at in the channel's zone).
* ``media``: ``/media`` pages, insights nested or not -> ``content`` and
  ``content_metrics_daily`` (lifetime counters at fetch time, snapshot_date as above).
* ``media_insights``: one media's ``/insights`` (context ``media_id``) -> fills NULL metrics.
* ``stories`` and ``story_insights``: read exactly like ``media`` and ``media_insights``; a
  story is content_type ``story`` and its ``replies`` fill ``comments`` (its only comments).
* ``media_insights_multi``: a multi-id lookup ``/?ids=...&fields=insights.metric(...)``, a body
  keyed by media id -> fills NULL metrics exactly like ``media_insights``.
* ``account_insights``: daily ``reach`` (time_series) and ``views`` (total_value) ->
  ``channel_metrics_daily`` keyed by the Meta *platform day* (a US Pacific day), which is not
  the channel's local day and cannot be re-cut into one.

Only 2xx responses are read. A metric the API did not return is NULL, never 0. Repeated
observations within the run collapse to the latest one per key (by fetched_at, then arrival).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl

from socmed.rawzone import StoredResponse
from transforms.common import (
    PROVENANCE_COLUMNS,
    RESP,
    ChannelRef,
    Numbered,
    TransformResult,
    as_int,
    decode_json,
    hashtags,
    latest,
    meta_platform_day,
    meta_requested_day,
    meta_timestamp,
    problem,
    with_provenance,
)
from transforms.graph_pages import INSIGHT, ITEM_FIELDS, insight_column, read_media_items
from transforms.instagram_insights import (
    CONTENT_METRICS,
    MEDIA_INSIGHTS,
    insight_fill,
    media_insights,
    media_lookups,
    orphan_problems,
)
from transforms.runs import (
    SLICE,
    NumberedRuns,
    RunInput,
    RunsResult,
    finish,
    numbered_for,
    one_run,
    unhandled_streams,
)
from transforms.schemas import KEYS, METRIC_COLUMNS

PLATFORM = "instagram"
STREAMS = ("account", "media", "media_insights", "media_insights_multi", "account_insights")
STORY_STREAMS = {"stories": "media", "story_insights": "media_insights"}  # read like these
# Account insights. follower_count (time_series) is NEW followers per day, not the follower
# total (that is followers_count on the account): deliberately not mapped yet.
ACCOUNT_TIME_SERIES = {"reach": "reach"}
ACCOUNT_TOTAL_VALUE = {"views": "views"}
PRODUCT_TYPES = {"REELS": "reel", "STORY": "story", "AD": "ad"}
FEED_TYPES = {"CAROUSEL_ALBUM": "carousel", "VIDEO": "video", "IMAGE": "post"}

_MEDIA_ITEM = pl.Struct({**ITEM_FIELDS, "insights": pl.Struct({"data": pl.List(INSIGHT)})})
_ACCOUNT = {
    RESP: pl.Int64(),
    "handle": pl.Utf8(),
    "display_name": pl.Utf8(),
    "followers": pl.Int64(),
    "following": pl.Int64(),
    "posts_count": pl.Int64(),
}
_DAILY = {RESP: pl.Int64(), "end_time": pl.Utf8(), "day": pl.Date(), "views": pl.Int64(), "reach": pl.Int64()}
_DAILY_OUT = {RESP: pl.Int64(), "snapshot_date": pl.Date(), "views": pl.Int64(), "reach": pl.Int64()}


def transform_instagram(responses: Iterable[StoredResponse], channel: ChannelRef) -> TransformResult:
    """One run's raw Instagram responses (arrival order) -> the four common-schema frames."""
    return one_run(transform_instagram_runs, responses, channel)


def transform_instagram_runs(runs: Sequence[RunInput]) -> RunsResult:
    """Several runs at once, each exactly as alone: frames with ``SLICE``, problems per run."""
    numbered = numbered_for(PLATFORM, runs)
    streams, prov = _merge_stories(numbered.streams), numbered.prov
    problems = [p for mine in numbered.per_run for p in unhandled_streams(_merge_stories(mine), STREAMS)]
    account = _account(streams.get("account", []), numbered, problems).join(prov, on=RESP)
    media = _media(streams.get("media", []), prov, problems)
    insights = pl.concat([
        media_insights(streams.get("media_insights", []), prov, problems),
        media_lookups(streams.get("media_insights_multi", []), prov, problems),
    ])
    daily = _account_insights(streams.get("account_insights", []), prov, problems)
    frames = {
        "channel": _channel(account),
        "content": _content(media),
        "content_metrics_daily": _content_metrics(media, insights, problems),
        "channel_metrics_daily": _channel_metrics(account, daily),
    }
    return RunsResult({t: finish(t, f) for t, f in frames.items()}, numbered.split(problems))


def _merge_stories(streams: dict[str, list[Numbered]]) -> dict[str, list[Numbered]]:
    """Story pages join the media pages, story insights the media insights (same shapes)."""
    merged = {name: list(pages) for name, pages in streams.items() if name not in STORY_STREAMS}
    for story, into in STORY_STREAMS.items():
        merged.setdefault(into, []).extend(streams.get(story, []))
    return merged


def _text(value: Any) -> str | None:
    """A JSON string, or None."""
    return value if isinstance(value, str) else None


def _account(pages: list[Numbered], runs: NumberedRuns, problems: list[str]) -> pl.DataFrame:
    """The account bodies: handle, name and the three profile counters, one row per response."""
    rows = []
    for number, response in pages:
        body, error = decode_json(response)
        channel_id = runs.channel(number).channel_id
        if error is None and (not isinstance(body, dict) or "id" not in body):
            error = problem(response, "account body without 'id'")
        elif error is None and str(body["id"]) != channel_id:
            error = problem(response, f"account {body['id']} is not channel {channel_id}")
        if error is not None:
            problems.append(error)
            continue
        rows.append(
            {
                RESP: number,
                "handle": _text(body.get("username")),
                "display_name": _text(body.get("name")),
                "followers": as_int(body.get("followers_count")),
                "following": as_int(body.get("follows_count")),
                "posts_count": as_int(body.get("media_count")),
            }
        )
    return pl.DataFrame(rows, schema=_ACCOUNT)


def _channel(account: pl.DataFrame) -> pl.DataFrame:
    """The channel row of each run, from its latest account response."""
    handle = pl.coalesce(pl.col("handle"), pl.col("channel_handle"))
    return account.with_columns(
        platform=pl.lit(PLATFORM),
        handle=handle,
        url=pl.concat_str(pl.lit("https://www.instagram.com/"), handle, pl.lit("/")),
    ).pipe(latest, [SLICE, *KEYS["channel"]])


def _media(pages: list[Numbered], prov: pl.DataFrame, problems: list[str]) -> pl.DataFrame:
    """Every media observation of the run: fields, nested insights and provenance."""
    found, errors = read_media_items(pages, _MEDIA_ITEM, MEDIA_INSIGHTS)
    problems.extend(errors)
    items = with_provenance(found, prov)
    problems.extend(_media_problems(items))
    return (
        items.drop_nulls("id")
        .with_columns(
            content_id=pl.col("id"),
            published_at=meta_timestamp(pl.col("timestamp")),
            snapshot_date=pl.col("local_date"),
            **{column: pl.col(insight_column(name)) for name, column in MEDIA_INSIGHTS.items()},
        )
        .with_columns(
            likes=pl.coalesce("like_count", "likes"), comments=pl.coalesce("comments_count", "comments")
        )
    )


def _media_problems(items: pl.DataFrame) -> list[str]:
    """Problems for media items without an id or with an unreadable timestamp."""
    no_id = items.filter(pl.col("id").is_null())["raw_file"].unique(maintain_order=True)
    bad_time = items.filter(pl.col("id").is_not_null() & meta_timestamp(pl.col("timestamp")).is_null())
    return [f"{raw_file}: media item without 'id' skipped" for raw_file in no_id] + [
        f"{row['raw_file']}: media {row['id']} has no readable timestamp ({row['timestamp']!r})"
        for row in bad_time.select("raw_file", "id", "timestamp").iter_rows(named=True)
    ]


def _content(media: pl.DataFrame) -> pl.DataFrame:
    """One content row per media, from its latest observation."""
    product, kind = pl.col("media_product_type"), pl.col("media_type")
    feed = kind.replace_strict(FEED_TYPES, default=None, return_dtype=pl.Utf8())
    content_type = pl.coalesce(
        product.replace_strict(PRODUCT_TYPES, default=None, return_dtype=pl.Utf8()),
        pl.when(product.is_null() | (product == "FEED")).then(feed),
    )
    return media.pipe(latest, [SLICE, "content_id"]).with_columns(
        platform=pl.lit(PLATFORM),
        content_type=content_type,
        url=pl.col("permalink"),
        hashtags=hashtags(pl.col("caption")),
    )


def _content_metrics(media: pl.DataFrame, insights: pl.DataFrame, problems: list[str]) -> pl.DataFrame:
    """One metrics row per media and local day: latest observation, NULLs filled by insights."""
    base = latest(media, [SLICE, "content_id", "snapshot_date"], "content_metrics_daily")
    fill = insight_fill(insights)
    problems.extend(orphan_problems(fill, base))
    filled = pl.any_horizontal(
        pl.col(m).is_null() & pl.col(f"{m}_fill").is_not_null() for m in CONTENT_METRICS
    )
    return base.join(fill, on=[SLICE, "content_id"], how="left").with_columns(
        *[pl.coalesce(m, f"{m}_fill").alias(m) for m in CONTENT_METRICS],
        *[
            pl.when(filled).then(pl.col(f"{c}_fill")).otherwise(pl.col(c)).alias(c)
            for c in PROVENANCE_COLUMNS
        ],
        platform=pl.lit(PLATFORM),
    )


def _account_insights(pages: list[Numbered], prov: pl.DataFrame, problems: list[str]) -> pl.DataFrame:
    """Account insight values keyed by platform day (views, reach), with provenance."""
    if not pages:
        empty = prov.select(SLICE, "channel_id", *PROVENANCE_COLUMNS).clear()
        return pl.DataFrame(schema=_DAILY_OUT).hstack(empty)
    rows = [row for number, response in pages for row in _account_insight_rows(number, response, problems)]
    frame = (
        pl.DataFrame(rows, schema=_DAILY)
        .with_columns(snapshot_date=pl.coalesce("day", meta_platform_day(meta_timestamp(pl.col("end_time")))))
        .join(prov, on=RESP)
    )
    problems.extend(
        f"{raw_file}: account insight value with unreadable end_time {end_time!r} skipped"
        for raw_file, end_time in frame.filter(pl.col("snapshot_date").is_null())
        .select("raw_file", "end_time")
        .iter_rows()
    )
    return frame.drop_nulls("snapshot_date").select(*_DAILY_OUT, SLICE, "channel_id", *PROVENANCE_COLUMNS)


def _account_insight_rows(number: int, response: StoredResponse, problems: list[str]) -> list[dict[str, Any]]:
    """The daily values of one account insights body (other periods and metrics are skipped)."""
    body, error = decode_json(response)
    data = body.get("data") if isinstance(body, dict) else None
    if error is not None or not isinstance(data, list):
        problems.append(error or problem(response, "account_insights body without 'data' list"))
        return []
    rows: list[dict[str, Any]] = []
    for item in data:
        if isinstance(item, dict) and item.get("period", "day") == "day":
            found, reason = _item_rows(number, item, response.meta.get("context") or {})
            rows += found
            if reason:
                problems.append(problem(response, reason))
    return rows


def _item_rows(
    number: int, item: dict[str, Any], context: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], str]:
    """Rows of one daily account insight item, and why it was skipped if it was."""
    name, values, total = _text(item.get("name")), item.get("values"), item.get("total_value")
    if name in ACCOUNT_TIME_SERIES and isinstance(values, list):
        column = ACCOUNT_TIME_SERIES[name]
        rows = [
            {RESP: number, "end_time": _text(v.get("end_time")), column: as_int(v.get("value"))}
            for v in values
            if isinstance(v, dict)
        ]
        return rows, ""
    if name in ACCOUNT_TOTAL_VALUE and isinstance(total, dict):
        day, reason = meta_requested_day(context)
        if day is None:
            return [], f"total_value {name!r} skipped: {reason}"
        return [{RESP: number, "day": day, ACCOUNT_TOTAL_VALUE[name]: as_int(total.get("value"))}], ""
    return [], ""


def _channel_metrics(account: pl.DataFrame, daily: pl.DataFrame) -> pl.DataFrame:
    """One row per run and day: profile counters on the local day, insights on their platform day."""
    snapshots = account.select(
        RESP, SLICE, "channel_id", pl.col("local_date").alias("snapshot_date"),
        "followers", "following", "posts_count", *PROVENANCE_COLUMNS,
    )
    metrics = METRIC_COLUMNS["channel_metrics_daily"]
    return (
        pl.concat([snapshots, daily], how="diagonal_relaxed")
        .sort("fetched_at", RESP)
        .group_by(SLICE, "channel_id", "snapshot_date")
        .agg(
            *[pl.col(m).drop_nulls().last() for m in metrics], *[pl.col(c).last() for c in PROVENANCE_COLUMNS]
        )
        .with_columns(platform=pl.lit(PLATFORM))
    )
