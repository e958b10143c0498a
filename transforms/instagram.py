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

from collections.abc import Iterable, Mapping
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
    group_streams,
    hashtags,
    latest,
    local_date,
    meta_platform_day,
    meta_requested_day,
    meta_timestamp,
    problem,
    provenance,
    read_json_pages,
)
from transforms.graph_pages import INSIGHT, insight_column, read_media_items
from transforms.schemas import KEYS, METRIC_COLUMNS, SCHEMAS, conform

PLATFORM = "instagram"
STREAMS = ("account", "media", "media_insights", "media_insights_multi", "account_insights")
STORY_STREAMS = {"stories": "media", "story_insights": "media_insights"}  # read like these
CONTENT_METRICS = METRIC_COLUMNS["content_metrics_daily"]
# Media insight name -> column; likes/comments back up the like_count/comments_count fields.
MEDIA_INSIGHTS = {
    "views": "views",
    "reach": "reach",
    "saved": "saves",
    "shares": "shares",
    "likes": "likes",
    "comments": "comments",
    "replies": "comments",  # stories only: replies are a story's comments
}
# Account insights. follower_count (time_series) is NEW followers per day, not the follower
# total (that is followers_count on the account): deliberately not mapped yet.
ACCOUNT_TIME_SERIES = {"reach": "reach"}
ACCOUNT_TOTAL_VALUE = {"views": "views"}
PRODUCT_TYPES = {"REELS": "reel", "STORY": "story", "AD": "ad"}
FEED_TYPES = {"CAROUSEL_ALBUM": "carousel", "VIDEO": "video", "IMAGE": "post"}

_MEDIA_ITEM = pl.Struct(
    {
        "id": pl.Utf8(),
        "caption": pl.Utf8(),
        "media_type": pl.Utf8(),
        "media_product_type": pl.Utf8(),
        "timestamp": pl.Utf8(),
        "permalink": pl.Utf8(),
        "like_count": pl.Int64(),
        "comments_count": pl.Int64(),
        "insights": pl.Struct({"data": pl.List(INSIGHT)}),
    }
)
_INSIGHTS_PAGE = {"data": pl.List(INSIGHT)}
_ACCOUNT = {
    RESP: pl.Int64(),
    "handle": pl.Utf8(),
    "display_name": pl.Utf8(),
    "followers": pl.Int64(),
    "following": pl.Int64(),
    "posts_count": pl.Int64(),
}
_LOOKUP = {RESP: pl.Int64(), "content_id": pl.Utf8(), "name": pl.Utf8(), "value": pl.Int64()}
_DAILY = {RESP: pl.Int64(), "end_time": pl.Utf8(), "day": pl.Date(), "views": pl.Int64(), "reach": pl.Int64()}


def transform_instagram(responses: Iterable[StoredResponse], channel: ChannelRef) -> TransformResult:
    """One run's raw Instagram responses (arrival order) -> the four common-schema frames."""
    if channel.platform != PLATFORM:
        raise ValueError(f"transform_instagram got a {channel.platform!r} channel")
    streams = _merge_stories(group_streams(responses))
    prov = provenance(pair for pages in streams.values() for pair in pages)
    problems = _unhandled_streams(streams)
    account = _account(streams.get("account", []), channel, problems).join(prov, on=RESP)
    media = _media(streams.get("media", []), prov, channel, problems)
    insights = pl.concat([
        _media_insights(streams.get("media_insights", []), prov, problems),
        _media_lookups(streams.get("media_insights_multi", []), prov, problems),
    ])
    daily = _account_insights(streams.get("account_insights", []), prov, problems)
    frames = {
        "channel": _channel(account, channel),
        "content": _content(media, channel),
        "content_metrics_daily": _content_metrics(media, insights, channel, problems),
        "channel_metrics_daily": _channel_metrics(account, daily, channel),
    }
    return TransformResult({t: _finish(t, f) for t, f in frames.items()}, problems)


def _finish(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The table's columns, cast to its schema, sorted by its key."""
    columns = [name for name in SCHEMAS[table] if name in frame.columns]
    return conform(table, frame.select(columns)).sort(KEYS[table])


def _merge_stories(streams: dict[str, list[Numbered]]) -> dict[str, list[Numbered]]:
    """Story pages join the media pages, story insights the media insights (same shapes)."""
    merged = {name: list(pages) for name, pages in streams.items() if name not in STORY_STREAMS}
    for story, into in STORY_STREAMS.items():
        merged.setdefault(into, []).extend(streams.get(story, []))
    return merged


def _unhandled_streams(streams: Mapping[str, list[Numbered]]) -> list[str]:
    """One problem per stream this transform does not read."""
    return [
        problem(pages[0][1], f"{len(pages)} response(s) of stream {name!r} not transformed")
        for name, pages in streams.items()
        if name not in STREAMS
    ]


def _text(value: Any) -> str | None:
    """A JSON string, or None."""
    return value if isinstance(value, str) else None


def _account(pages: list[Numbered], channel: ChannelRef, problems: list[str]) -> pl.DataFrame:
    """The account bodies: handle, name and the three profile counters, one row per response."""
    rows = []
    for number, response in pages:
        body, error = decode_json(response)
        if error is None and (not isinstance(body, dict) or "id" not in body):
            error = problem(response, "account body without 'id'")
        elif error is None and str(body["id"]) != channel.channel_id:
            error = problem(response, f"account {body['id']} is not channel {channel.channel_id}")
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


def _channel(account: pl.DataFrame, channel: ChannelRef) -> pl.DataFrame:
    """The channel row from the latest account response."""
    handle = pl.coalesce(pl.col("handle"), pl.lit(channel.handle))
    return account.with_columns(
        platform=pl.lit(PLATFORM),
        channel_id=pl.lit(channel.channel_id),
        handle=handle,
        url=pl.concat_str(pl.lit("https://www.instagram.com/"), handle, pl.lit("/")),
        timezone=pl.lit(channel.timezone),
    ).pipe(latest, KEYS["channel"])


def _media(
    pages: list[Numbered], prov: pl.DataFrame, channel: ChannelRef, problems: list[str]
) -> pl.DataFrame:
    """Every media observation of the run: fields, nested insights and provenance."""
    found, errors = read_media_items(pages, _MEDIA_ITEM, MEDIA_INSIGHTS)
    problems.extend(errors)
    items = found.join(prov, on=RESP)
    problems.extend(_media_problems(items))
    return (
        items.drop_nulls("id")
        .with_columns(
            content_id=pl.col("id"),
            published_at=meta_timestamp(pl.col("timestamp")),
            snapshot_date=local_date(pl.col("fetched_at"), channel.timezone),
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


def _media_insights(pages: list[Numbered], prov: pl.DataFrame, problems: list[str]) -> pl.DataFrame:
    """Per-media insight responses, long: content_id, metric, value and provenance."""
    if not pages:
        return _empty_long(prov)
    media_ids = {n: (r.meta.get("context") or {}).get("media_id") for n, r in pages}
    problems.extend(
        problem(r, "media_insights without context media_id") for n, r in pages if not media_ids[n]
    )
    frame, errors = read_json_pages([(n, r) for n, r in pages if media_ids[n]], _INSIGHTS_PAGE)
    problems.extend(errors)
    ids = pl.DataFrame(
        [(n, str(v)) for n, v in media_ids.items() if v],
        orient="row",
        schema={RESP: pl.Int64(), "content_id": pl.Utf8()},
    )
    return (
        frame.explode("data")
        .unnest("data")
        .with_columns(
            metric=pl.col("name").replace_strict(MEDIA_INSIGHTS, default=None, return_dtype=pl.Utf8()),
            value=pl.col("values").list.first().struct.field("value").cast(pl.Int64(), strict=False),
        )
        .drop_nulls(["metric", "value"])
        .join(ids, on=RESP)
        .join(prov, on=RESP)
        .select("content_id", "metric", "value", RESP, *PROVENANCE_COLUMNS)
    )


def _media_lookups(pages: list[Numbered], prov: pl.DataFrame, problems: list[str]) -> pl.DataFrame:
    """Multi-id lookup responses, long like ``_media_insights``: content_id, metric, value, provenance."""
    if not pages:
        return _empty_long(prov)
    rows = [row for number, response in pages for row in _lookup_rows(number, response, problems)]
    return (
        pl.DataFrame(rows, schema=_LOOKUP)
        .with_columns(
            metric=pl.col("name").replace_strict(MEDIA_INSIGHTS, default=None, return_dtype=pl.Utf8())
        )
        .drop_nulls(["metric", "value"])
        .join(prov, on=RESP)
        .select("content_id", "metric", "value", RESP, *PROVENANCE_COLUMNS)
    )


def _empty_long(prov: pl.DataFrame) -> pl.DataFrame:
    """No insight values: the long frame's columns, empty (most runs have nested insights only)."""
    return pl.DataFrame(schema={"content_id": pl.Utf8(), "metric": pl.Utf8(), "value": pl.Int64()}).hstack(
        prov.select(RESP, *PROVENANCE_COLUMNS).clear()
    )


def _lookup_rows(number: int, response: StoredResponse, problems: list[str]) -> list[dict[str, Any]]:
    """One row per insight value of a body keyed by media id (``{"<id>": {"insights": {"data": [...]}}}``)."""
    body, error = decode_json(response)
    if error is None and not isinstance(body, dict):
        error = problem(response, "media_insights_multi body is not an object keyed by media id")
    if error is not None:
        problems.append(error)
        return []
    rows: list[dict[str, Any]] = []
    for key, node in body.items():
        insights = node.get("insights") if isinstance(node, dict) else None
        data = insights.get("data") if isinstance(insights, dict) else None
        if not isinstance(data, list):
            problems.append(problem(response, f"media {key} without insights.data"))
            continue
        rows += [
            {RESP: number, "content_id": str(key), "name": _text(i.get("name")), "value": _first_value(i)}
            for i in data
            if isinstance(i, dict)
        ]
    return rows


def _first_value(item: dict[str, Any]) -> int | None:
    """The integer value of a lifetime insight item (``values[0].value``), or None."""
    values = item.get("values")
    first = values[0] if isinstance(values, list) and values else None
    return as_int(first.get("value")) if isinstance(first, dict) else None


def _insight_fill(insights: pl.DataFrame) -> pl.DataFrame:
    """Per media: each metric's latest per-media insight value, and the latest response's provenance."""
    return (
        insights.sort("fetched_at", RESP)
        .group_by("content_id")
        .agg(
            *[
                pl.col("value").filter(pl.col("metric") == m).last().alias(f"{m}_fill")
                for m in CONTENT_METRICS
            ],
            *[pl.col(c).last().alias(f"{c}_fill") for c in PROVENANCE_COLUMNS],
        )
    )


def _content(media: pl.DataFrame, channel: ChannelRef) -> pl.DataFrame:
    """One content row per media, from its latest observation."""
    product, kind = pl.col("media_product_type"), pl.col("media_type")
    feed = kind.replace_strict(FEED_TYPES, default=None, return_dtype=pl.Utf8())
    content_type = pl.coalesce(
        product.replace_strict(PRODUCT_TYPES, default=None, return_dtype=pl.Utf8()),
        pl.when(product.is_null() | (product == "FEED")).then(feed),
    )
    return media.pipe(latest, ["content_id"]).with_columns(
        platform=pl.lit(PLATFORM),
        channel_id=pl.lit(channel.channel_id),
        content_type=content_type,
        url=pl.col("permalink"),
        hashtags=hashtags(pl.col("caption")),
    )


def _content_metrics(
    media: pl.DataFrame, insights: pl.DataFrame, channel: ChannelRef, problems: list[str]
) -> pl.DataFrame:
    """One metrics row per media and local day: latest observation, NULLs filled by insights."""
    base = media.pipe(latest, ["content_id", "snapshot_date"])
    fill = _insight_fill(insights)
    problems.extend(_orphan_problems(fill, base))
    filled = pl.any_horizontal(
        pl.col(m).is_null() & pl.col(f"{m}_fill").is_not_null() for m in CONTENT_METRICS
    )
    return base.join(fill, on="content_id", how="left").with_columns(
        *[pl.coalesce(m, f"{m}_fill").alias(m) for m in CONTENT_METRICS],
        *[
            pl.when(filled).then(pl.col(f"{c}_fill")).otherwise(pl.col(c)).alias(c)
            for c in PROVENANCE_COLUMNS
        ],
        platform=pl.lit(PLATFORM),
        channel_id=pl.lit(channel.channel_id),
    )


def _orphan_problems(fill: pl.DataFrame, base: pl.DataFrame, limit: int = 10) -> list[str]:
    """Problems for per-media insights of media that no media page of the run listed."""
    orphans = fill.join(base, on="content_id", how="anti").sort("content_id")
    found = [
        f"{raw_file}: media_insights for media {content_id} not in any media page of the run; ignored"
        for content_id, raw_file in orphans.select("content_id", "raw_file_fill").head(limit).iter_rows()
    ]
    if orphans.height > limit:
        found.append(f"{orphans.height - limit} more media_insights for media not in any media page ignored")
    return found


def _account_insights(pages: list[Numbered], prov: pl.DataFrame, problems: list[str]) -> pl.DataFrame:
    """Account insight values keyed by platform day (views, reach), with provenance."""
    if not pages:
        return pl.DataFrame(schema={RESP: pl.Int64(), "snapshot_date": pl.Date(), "views": pl.Int64(),
                                    "reach": pl.Int64(), **prov.select(PROVENANCE_COLUMNS).schema})
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
    return frame.drop_nulls("snapshot_date").select(
        RESP, "snapshot_date", "views", "reach", *PROVENANCE_COLUMNS
    )


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


def _channel_metrics(account: pl.DataFrame, daily: pl.DataFrame, channel: ChannelRef) -> pl.DataFrame:
    """One row per day: profile counters on the local day, insights on their platform day."""
    snapshots = account.with_columns(snapshot_date=local_date(pl.col("fetched_at"), channel.timezone)).select(
        RESP, "snapshot_date", "followers", "following", "posts_count", *PROVENANCE_COLUMNS
    )
    metrics = METRIC_COLUMNS["channel_metrics_daily"]
    return (
        pl.concat([snapshots, daily], how="diagonal_relaxed")
        .sort("fetched_at", RESP)
        .group_by("snapshot_date")
        .agg(
            *[pl.col(m).drop_nulls().last() for m in metrics], *[pl.col(c).last() for c in PROVENANCE_COLUMNS]
        )
        .with_columns(platform=pl.lit(PLATFORM), channel_id=pl.lit(channel.channel_id))
    )
