"""One run's TikTok Display API responses -> frames of the common schema.

Streams (``meta["stream"]``) and what they feed:

* ``user``: ``data.user`` -> ``channel`` and the followers/following/video-count snapshot in
  ``channel_metrics_daily`` (snapshot_date = local date of fetched_at in the channel's zone).
  ``likes_count`` (likes received, lifetime) has no common column and is not mapped.
* ``videos`` and ``video_query``: ``data.videos`` -> ``content`` (type ``video``) and
  ``content_metrics_daily``: ``view_count``, ``like_count``, ``comment_count``,
  ``share_count`` as views, likes, comments, shares (lifetime counters at fetch time). The
  Display API has no reach and no saves: those stay NULL, as do the account's views/reach.
* ``oauth_token`` and ``auth_rejected``: token refresh bookkeeping, not read.

A 2xx body whose envelope is not ``error.code == "ok"`` is a problem, never data. Repeated
observations within the run collapse to the latest one per key (by fetched_at, then arrival).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl

from socmed.rawzone import StoredResponse
from transforms.common import (
    RESP,
    ChannelRef,
    Numbered,
    TransformResult,
    as_int,
    decode_json,
    hashtags,
    latest,
    problem,
    read_json_pages,
    with_provenance,
)
from transforms.runs import SLICE, NumberedRuns, RunInput, RunsResult, begin, finish, one_run

PLATFORM = "tiktok"
VIDEO_STREAMS = ("videos", "video_query")
IGNORED = ("oauth_token", "auth_rejected")
_VIDEO = pl.Struct({
    "id": pl.Utf8(),
    "create_time": pl.Int64(),
    "title": pl.Utf8(),
    "video_description": pl.Utf8(),
    "share_url": pl.Utf8(),
    "view_count": pl.Int64(),
    "like_count": pl.Int64(),
    "comment_count": pl.Int64(),
    "share_count": pl.Int64(),
})
_PAGE = {"data": pl.Struct({"videos": pl.List(_VIDEO)}), "error": pl.Struct({"code": pl.Utf8()})}
_USER = {
    RESP: pl.Int64(),
    "handle": pl.Utf8(),
    "display_name": pl.Utf8(),
    "followers": pl.Int64(),
    "following": pl.Int64(),
    "posts_count": pl.Int64(),
}
_METRICS = {"view_count": "views", "like_count": "likes", "comment_count": "comments",
            "share_count": "shares"}


def transform_tiktok(responses: Iterable[StoredResponse], channel: ChannelRef) -> TransformResult:
    """One run's raw TikTok responses (arrival order) -> the four common-schema frames."""
    return one_run(transform_tiktok_runs, responses, channel)


def transform_tiktok_runs(runs: Sequence[RunInput]) -> RunsResult:
    """Several runs at once, each exactly as alone: frames with ``SLICE``, problems per run."""
    numbered, problems = begin(PLATFORM, runs, ("user", *VIDEO_STREAMS, *IGNORED))
    streams, prov = numbered.streams, numbered.prov
    user = _user(streams.get("user", []), numbered, problems).join(prov, on=RESP)
    pages = [pair for name in VIDEO_STREAMS for pair in streams.get(name, [])]
    videos = _videos(sorted(pages, key=lambda pair: pair[0]), prov, problems)
    frames = {
        "channel": _channel(user),
        "content": _content(videos),
        "content_metrics_daily": latest(
            videos, [SLICE, "content_id", "snapshot_date"], "content_metrics_daily"
        ),
        "channel_metrics_daily": _channel_metrics(user),
    }
    return RunsResult({t: finish(t, f, PLATFORM) for t, f in frames.items()}, numbered.split(problems))


def _ok(body: Any) -> bool:
    """Whether a body is TikTok's envelope with ``error.code == "ok"``."""
    error = body.get("error") if isinstance(body, dict) else None
    return isinstance(error, dict) and error.get("code") == "ok"


def _user(pages: list[Numbered], runs: NumberedRuns, problems: list[str]) -> pl.DataFrame:
    """The user bodies: handle, name and the three profile counters, one row per response."""
    rows = []
    for number, response in pages:
        user, error = _user_body(response, runs.channel(number))
        if user is None:
            problems.append(error)
            continue
        rows.append(_user_row(number, user))
    return pl.DataFrame(rows, schema=_USER)


def _user_body(response: StoredResponse, channel: ChannelRef) -> tuple[dict[str, Any] | None, str]:
    """``data.user`` of an ok reply about this channel, or None and the problem."""
    body, error = decode_json(response)
    if error is not None:
        return None, error
    data = body.get("data") if _ok(body) else None
    user = data.get("user") if isinstance(data, dict) else None
    if not isinstance(user, dict):
        return None, problem(response, "user body without an ok envelope and data.user")
    if user.get("open_id") not in (None, channel.channel_id):
        return None, problem(response, f"user {user['open_id']} is not channel {channel.channel_id}")
    return user, ""


def _user_row(number: int, user: Mapping[str, Any]) -> dict[str, Any]:
    """One user snapshot row."""
    name = user.get("display_name")
    handle = user.get("username")
    return {
        RESP: number,
        "handle": handle if isinstance(handle, str) and handle else None,
        "display_name": name if isinstance(name, str) else None,
        "followers": as_int(user.get("follower_count")),
        "following": as_int(user.get("following_count")),
        "posts_count": as_int(user.get("video_count")),
    }


def _channel(user: pl.DataFrame) -> pl.DataFrame:
    """Each run's channel row, from its latest user response."""
    handle = pl.coalesce(pl.col("handle"), pl.col("channel_handle"))
    return user.with_columns(
        handle=handle, url=pl.concat_str(pl.lit("https://www.tiktok.com/@"), handle)
    ).pipe(latest, [SLICE])


def _videos(pages: list[Numbered], prov: pl.DataFrame, problems: list[str]) -> pl.DataFrame:
    """Every video observation of the runs (list pages and queries), with provenance."""
    frame, errors = read_json_pages(pages, _PAGE)
    problems.extend(errors)
    bad = frame.filter(pl.col("error").struct.field("code") != "ok")
    by_number = dict(pages)
    problems.extend(problem(by_number[n], "reply whose error.code is not 'ok' skipped") for n in bad[RESP])
    videos = (
        frame.filter(pl.col("error").struct.field("code") == "ok")
        .select(RESP, pl.col("data").struct.field("videos"))
        .explode("videos")
        .unnest("videos")
    )
    items = with_provenance(videos, prov)
    missing = items.filter(pl.col("id").is_null() | pl.col("create_time").is_null())
    problems.extend(f"{raw_file}: video without id or create_time skipped" for raw_file in
                    missing["raw_file"].unique(maintain_order=True))
    return items.drop_nulls(["id", "create_time"]).with_columns(
        content_id=pl.col("id"),
        published_at=pl.from_epoch("create_time", time_unit="s").dt.replace_time_zone("UTC"),
        snapshot_date=pl.col("local_date"),
        **{column: pl.col(name) for name, column in _METRICS.items()},
    )


def _content(videos: pl.DataFrame) -> pl.DataFrame:
    """One content row per video and run, from its latest observation."""
    return videos.pipe(latest, [SLICE, "content_id"]).with_columns(
        content_type=pl.lit("video"),
        title=pl.when(pl.col("title") != "").then(pl.col("title")),
        caption=pl.when(pl.col("video_description") != "").then(pl.col("video_description")),
        url=pl.col("share_url"),
        hashtags=hashtags(pl.col("video_description")),
    )


def _channel_metrics(user: pl.DataFrame) -> pl.DataFrame:
    """One snapshot row per run and local day, from the latest user response of that day."""
    return user.with_columns(snapshot_date=pl.col("local_date")).pipe(latest, [SLICE, "snapshot_date"])
