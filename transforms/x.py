"""One run's X API v2 responses -> frames of the common schema.

Streams (``meta["stream"]``) and what they feed:

* ``user``: ``users/{id}`` -> ``channel`` and the followers/following/posts snapshot in
  ``channel_metrics_daily`` (snapshot_date = local date of fetched_at in the channel's zone).
  ``posts_count`` is X's ``tweet_count``: every post, replies and reposts included.
* ``posts`` (timeline pages) and ``posts_lookup`` (posts by id) -> ``content`` (type ``post``)
  and ``content_metrics_daily``: ``impression_count`` -> views, ``like_count`` -> likes,
  ``reply_count`` -> comments, ``retweet_count + quote_count`` -> shares (a quote is a repost
  with a comment; both put the post in front of the reposter's followers),
  ``bookmark_count`` -> saves; X reports no reach (NULL). A page without ``data`` (the end of
  the timeline, or a lookup of deleted posts) is valid and holds no post. The caption is
  ``note_tweet.text`` where there is one (a long post: ``text`` holds only its first 280
  characters), else ``text``; hashtags come from the caption.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
    rfc3339_timestamp,
    with_provenance,
)
from transforms.runs import SLICE, NumberedRuns, RunInput, RunsResult, begin, finish, one_run

PLATFORM = "x"
POST_STREAMS = ("posts", "posts_lookup")
STREAMS = ("user", *POST_STREAMS)
PROFILE_URL = "https://x.com/"
_HANDLE = "_user_handle"  # a run's username from its latest user answer

_USER = {
    RESP: pl.Int64(),
    "handle": pl.Utf8(),
    "display_name": pl.Utf8(),
    "followers": pl.Int64(),
    "following": pl.Int64(),
    "posts_count": pl.Int64(),
}
_POST = {
    RESP: pl.Int64(),
    "content_id": pl.Utf8(),
    "created_at": pl.Utf8(),
    "caption": pl.Utf8(),
    "views": pl.Int64(),
    "likes": pl.Int64(),
    "comments": pl.Int64(),
    "retweets": pl.Int64(),
    "quotes": pl.Int64(),
    "saves": pl.Int64(),
}


def transform_x(responses: Iterable[StoredResponse], channel: ChannelRef) -> TransformResult:
    """One run's raw X responses (arrival order) -> the four common-schema frames."""
    return one_run(transform_x_runs, responses, channel)


def transform_x_runs(runs: Sequence[RunInput]) -> RunsResult:
    """Several runs at once, each exactly as alone: frames with ``SLICE``, problems per run."""
    numbered, problems = begin(PLATFORM, runs, STREAMS)
    streams, prov = numbered.streams, numbered.prov
    user = _user_rows(streams.get("user", []), numbered, problems).join(prov, on=RESP)
    pages = sorted(pair for name in POST_STREAMS for pair in streams.get(name, []))
    posts = _posts(pages, prov, problems)
    frames = {
        "channel": _channel(user),
        "content": _content(posts, _post_handles(user)),
        "content_metrics_daily": latest(
            posts, [SLICE, "content_id", "snapshot_date"], "content_metrics_daily"
        ),
        "channel_metrics_daily": user.with_columns(snapshot_date=pl.col("local_date")).pipe(
            latest, [SLICE, "snapshot_date"]
        ),
    }
    return RunsResult({t: finish(t, f, PLATFORM) for t, f in frames.items()}, numbered.split(problems))


def _user_rows(pages: list[Numbered], runs: NumberedRuns, problems: list[str]) -> pl.DataFrame:
    """The user objects: handle, name and the three profile counters, one row per response."""
    rows = []
    for number, response in pages:
        channel = runs.channel(number)
        body, error = decode_json(response)
        data = _obj(body.get("data") if isinstance(body, dict) else None)
        if error is None and str(data.get("id")) != channel.channel_id:
            error = problem(response, f"no user {channel.channel_id} in the answer")
        if error is not None:
            problems.append(error)
            continue
        metrics = _obj(data.get("public_metrics"))
        rows.append(
            {
                RESP: number,
                "handle": _text(data.get("username")),
                "display_name": _text(data.get("name")),
                "followers": as_int(metrics.get("followers_count")),
                "following": as_int(metrics.get("following_count")),
                "posts_count": as_int(metrics.get("tweet_count")),
            }
        )
    return pl.DataFrame(rows, schema=_USER)


def _obj(value: Any) -> dict[str, Any]:
    """A JSON object, or an empty one."""
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    """A JSON string, or None."""
    return value if isinstance(value, str) else None


def _post_rows(number: int, response: StoredResponse, problems: list[str]) -> list[dict[str, Any]]:
    """One row per post object in a page's ``data`` (no ``data`` is an empty page)."""
    body, error = decode_json(response)
    data = body.get("data", []) if isinstance(body, dict) else None
    if error is not None or not isinstance(data, list):
        problems.append(error or problem(response, "posts body without a 'data' list"))
        return []
    rows = []
    for post in data:
        if not isinstance(post, dict) or not isinstance(post.get("id"), str):
            problems.append(problem(response, "post without an 'id' skipped"))
            continue
        metrics = _obj(post.get("public_metrics"))
        rows.append(
            {
                RESP: number,
                "content_id": post["id"],
                "created_at": _text(post.get("created_at")),
                "caption": _text(_obj(post.get("note_tweet")).get("text")) or _text(post.get("text")),
                "views": as_int(metrics.get("impression_count")),
                "likes": as_int(metrics.get("like_count")),
                "comments": as_int(metrics.get("reply_count")),
                "retweets": as_int(metrics.get("retweet_count")),
                "quotes": as_int(metrics.get("quote_count")),
                "saves": as_int(metrics.get("bookmark_count")),
            }
        )
    return rows


def _posts(pages: list[Numbered], prov: pl.DataFrame, problems: list[str]) -> pl.DataFrame:
    """Every post observation of the runs, with shares, publish time and provenance."""
    rows = [row for number, response in pages for row in _post_rows(number, response, problems)]
    posts = (
        with_provenance(pl.DataFrame(rows, schema=_POST), prov)
        .with_columns(
            published_at=rfc3339_timestamp(pl.col("created_at")),
            snapshot_date=pl.col("local_date"),
            # NULL only when neither count came back; one missing counts as 0
            shares=pl.when(pl.col("retweets").is_not_null() | pl.col("quotes").is_not_null()).then(
                pl.col("retweets").fill_null(0) + pl.col("quotes").fill_null(0)
            ),
        )
    )
    problems.extend(
        f"{raw_file}: post {post_id} has no readable created_at ({when!r}); skipped"
        for raw_file, post_id, when in posts.filter(pl.col("published_at").is_null())
        .select("raw_file", "content_id", "created_at")
        .iter_rows()
    )
    return posts.filter(pl.col("published_at").is_not_null())


def _channel(user: pl.DataFrame) -> pl.DataFrame:
    """Each run's channel row, from its latest user answer."""
    handle = pl.coalesce(pl.col("handle"), pl.col("channel_handle"))
    return user.with_columns(handle=handle, url=pl.lit(PROFILE_URL) + handle).pipe(
        latest, [SLICE, "channel_id"]
    )


def _post_handles(user: pl.DataFrame) -> pl.DataFrame:
    """Each run's username from its latest user answer that has one (for post URLs)."""
    return user.drop_nulls("handle").pipe(latest, [SLICE]).select(SLICE, pl.col("handle").alias(_HANDLE))


def _content(posts: pl.DataFrame, handles: pl.DataFrame) -> pl.DataFrame:
    """One content row per post and run, from its latest observation; URLs by the run's username,
    else its configured handle."""
    handle = pl.coalesce(pl.col(_HANDLE), pl.col("channel_handle"))
    return (
        posts.pipe(latest, [SLICE, "content_id"])
        .join(handles, on=SLICE, how="left", maintain_order="left")
        .with_columns(
            content_type=pl.lit("post"),
            media_type=pl.lit("post"),
            url=pl.lit(PROFILE_URL) + handle + pl.lit("/status/") + pl.col("content_id"),
            hashtags=hashtags(pl.col("caption")),
        )
    )
