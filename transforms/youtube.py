"""One run's YouTube Data API responses -> frames of the common schema.

Streams (``meta["stream"]``) and what they feed:

* ``channel``: ``channels.list`` -> ``channel`` and the subscriber/video-count snapshot in
  ``channel_metrics_daily`` (snapshot_date = local date of fetched_at in the channel's zone).
  A hidden subscriber count (``hiddenSubscriberCount``) is NULL; the channel's lifetime
  ``viewCount`` is not a daily figure and is not mapped to the daily ``views`` column.
* ``playlist_items``: the uploads listing; it only drives the connector's lookups.
* ``videos``: ``videos.list`` -> ``content`` and ``content_metrics_daily`` (lifetime counters at
  fetch time). Counts arrive as strings; an absent ``likeCount``/``commentCount`` (likes hidden,
  comments off) is NULL, and YouTube reports no reach, shares or saves (NULL).

Content type: ``live`` while ``liveBroadcastContent`` is live or upcoming; otherwise ``short``
for a duration of at most 60 s, or at most 180 s if published from 2024-10-15 (when Shorts
grew to three minutes); otherwise ``video``. The Data API does not flag Shorts, so this is a
duration rule: a landscape upload under the limit also counts as a short.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl

from socmed.rawzone import StoredResponse
from transforms.common import (
    RESP,
    ChannelRef,
    Numbered,
    TransformResult,
    decode_json,
    hashtags,
    latest,
    problem,
    read_json_pages,
    rfc3339_timestamp,
    with_provenance,
)
from transforms.runs import SLICE, NumberedRuns, RunInput, RunsResult, begin, finish, one_run

PLATFORM = "youtube"
STREAMS = ("channel", "playlist_items", "videos")
SHORT_SECONDS = 60
LONG_SHORT_SECONDS = 180
LONG_SHORTS_FROM = dt.datetime(2024, 10, 15, tzinfo=dt.UTC)
LIVE_STATES = ("live", "upcoming")
WATCH_URL = "https://www.youtube.com/watch?v="
SHORTS_URL = "https://www.youtube.com/shorts/"

_VIDEO = pl.Struct(
    {
        "id": pl.Utf8(),
        "snippet": pl.Struct(
            {
                "publishedAt": pl.Utf8(),
                "title": pl.Utf8(),
                "description": pl.Utf8(),
                "liveBroadcastContent": pl.Utf8(),
            }
        ),
        "contentDetails": pl.Struct({"duration": pl.Utf8()}),
        "statistics": pl.Struct({"viewCount": pl.Utf8(), "likeCount": pl.Utf8(), "commentCount": pl.Utf8()}),
    }
)
_VIDEOS_PAGE = {"items": pl.List(_VIDEO)}
_CHANNEL = {
    RESP: pl.Int64(),
    "handle": pl.Utf8(),
    "display_name": pl.Utf8(),
    "followers": pl.Int64(),
    "posts_count": pl.Int64(),
}


def transform_youtube(responses: Iterable[StoredResponse], channel: ChannelRef) -> TransformResult:
    """One run's raw YouTube responses (arrival order) -> the four common-schema frames."""
    return one_run(transform_youtube_runs, responses, channel)


def transform_youtube_runs(runs: Sequence[RunInput]) -> RunsResult:
    """Several runs at once, each exactly as alone: frames with ``SLICE``, problems per run."""
    numbered, problems = begin(PLATFORM, runs, STREAMS)
    streams, prov = numbered.streams, numbered.prov
    account = _channel_rows(streams.get("channel", []), numbered, problems).join(prov, on=RESP)
    videos = _videos(streams.get("videos", []), prov, problems)
    frames = {
        "channel": _channel(account),
        "content": _content(videos),
        "content_metrics_daily": latest(
            videos, [SLICE, "content_id", "snapshot_date"], "content_metrics_daily"
        ),
        "channel_metrics_daily": _channel_metrics(account),
    }
    return RunsResult({t: finish(t, f, PLATFORM) for t, f in frames.items()}, numbered.split(problems))


def _count(value: Any) -> int | None:
    """A YouTube count (a decimal string, or an int) as int; anything else as None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    return None


def _channel_rows(pages: list[Numbered], runs: NumberedRuns, problems: list[str]) -> pl.DataFrame:
    """The channel items of every channels.list answer: handle, title and two counters."""
    rows = []
    for number, response in pages:
        channel = runs.channel(number)
        body, error = decode_json(response)
        items = body.get("items") if isinstance(body, dict) else None
        mine = [i for i in items or [] if isinstance(i, dict) and i.get("id") == channel.channel_id]
        if error is not None or not mine:
            problems.append(error or problem(response, f"no channel {channel.channel_id} in the answer"))
            continue
        rows.append({RESP: number, **_channel_fields(mine[0])})
    return pl.DataFrame(rows, schema=_CHANNEL)


def _obj(value: Any) -> dict[str, Any]:
    """A JSON object, or an empty one."""
    return value if isinstance(value, dict) else {}


def _channel_fields(item: Mapping[str, Any]) -> dict[str, Any]:
    """Handle, display name, followers (NULL when hidden) and video count of a channel item."""
    snippet, stats = _obj(item.get("snippet")), _obj(item.get("statistics"))
    custom = snippet.get("customUrl")
    hidden = stats.get("hiddenSubscriberCount") is True
    return {
        "handle": custom.removeprefix("@") if isinstance(custom, str) and custom else None,
        "display_name": snippet.get("title") if isinstance(snippet.get("title"), str) else None,
        "followers": None if hidden else _count(stats.get("subscriberCount")),
        "posts_count": _count(stats.get("videoCount")),
    }


def _channel(account: pl.DataFrame) -> pl.DataFrame:
    """Each run's channel row, from its latest channel answer."""
    return account.with_columns(
        handle=pl.coalesce(pl.col("handle"), pl.col("channel_handle")),
        url=pl.lit("https://www.youtube.com/channel/") + pl.col("channel_id"),
    ).pipe(latest, [SLICE, "channel_id"])


def _channel_metrics(account: pl.DataFrame) -> pl.DataFrame:
    """One snapshot per run and local day: the day's latest subscriber and video counts."""
    return account.with_columns(snapshot_date=pl.col("local_date")).pipe(latest, [SLICE, "snapshot_date"])


def _videos(pages: list[Numbered], prov: pl.DataFrame, problems: list[str]) -> pl.DataFrame:
    """Every video observation of the runs: fields, counters, type and provenance."""
    frame, errors = read_json_pages(pages, _VIDEOS_PAGE)
    problems.extend(errors)
    items = with_provenance(frame.explode("items").unnest("items").drop_nulls("id"), prov)
    items = items.unnest("snippet", "contentDetails", "statistics").with_columns(
        content_id=pl.col("id"),
        published_at=rfc3339_timestamp(pl.col("publishedAt")),
        snapshot_date=pl.col("local_date"),
        views=pl.col("viewCount").cast(pl.Int64(), strict=False),
        likes=pl.col("likeCount").cast(pl.Int64(), strict=False),
        comments=pl.col("commentCount").cast(pl.Int64(), strict=False),
    )
    problems.extend(
        f"{raw_file}: video {vid} has no readable publishedAt ({when!r}); skipped"
        for raw_file, vid, when in items.filter(pl.col("published_at").is_null())
        .select("raw_file", "id", "publishedAt")
        .iter_rows()
    )
    return items.filter(pl.col("published_at").is_not_null())


def duration_seconds(duration: pl.Expr) -> pl.Expr:
    """An ISO 8601 duration (``PT1M30S``, ``P1DT2H``, ``P0D``) in seconds; null if absent."""
    days = duration.str.extract(r"^P(\d+)D", 1)
    parts = [(duration.str.extract(rf"T(?:.*?)(\d+){unit}", 1), factor)
             for unit, factor in (("H", 3600), ("M", 60), ("S", 1))]
    total = days.cast(pl.Int64()).fill_null(0) * 86_400
    for part, factor in parts:
        total = total + part.cast(pl.Int64()).fill_null(0) * factor
    return pl.when(duration.str.starts_with("P")).then(total)


def content_type(duration: pl.Expr, published_at: pl.Expr, live: pl.Expr) -> pl.Expr:
    """live, short or video by the rule in the module docstring."""
    seconds = duration_seconds(duration)
    limit = pl.when(published_at >= LONG_SHORTS_FROM).then(LONG_SHORT_SECONDS).otherwise(SHORT_SECONDS)
    return (
        pl.when(live.is_in(LIVE_STATES))
        .then(pl.lit("live"))
        .when((seconds > 0) & (seconds <= limit))
        .then(pl.lit("short"))
        .otherwise(pl.lit("video"))
    )


def _content(videos: pl.DataFrame) -> pl.DataFrame:
    """One content row per video and run, from its latest observation."""
    kind = content_type(pl.col("duration"), pl.col("published_at"), pl.col("liveBroadcastContent"))
    text = pl.concat_str([pl.col("title"), pl.col("description")], separator="\n", ignore_nulls=True)
    return (
        videos.pipe(latest, [SLICE, "content_id"])
        .with_columns(content_type=kind, media_type=pl.lit("VIDEO"), caption=pl.col("description"))
        .with_columns(
            url=pl.when(pl.col("content_type") == "short")
            .then(pl.lit(SHORTS_URL) + pl.col("content_id"))
            .otherwise(pl.lit(WATCH_URL) + pl.col("content_id")),
            hashtags=hashtags(text),
        )
    )
