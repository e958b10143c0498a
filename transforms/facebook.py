"""One run's Facebook Page responses -> frames of the common schema.

Streams (``meta["stream"]``) and what they feed:

* ``page``: the Page fields -> ``channel`` and the follower snapshot in
  ``channel_metrics_daily`` (``followers_count``, the Page's follows; ``fan_count``, the
  legacy Page likes, stays in the raw zone). Following and posts count: NULL (the API has
  neither).
* ``posts``: ``/published_posts`` pages -> ``content`` (content_type ``post``, media_type the
  ``status_type``) and ``content_metrics_daily``: likes = all reactions
  (``reactions.summary.total_count``), comments = ``comments.summary.total_count``, shares =
  ``shares.count`` (absent means 0), views = ``post_media_view``, reach =
  ``post_total_media_view_unique`` (NULL when fetched without insights), saves NULL.
* ``page_insights``: daily ``page_media_view`` -> views and ``page_total_media_view_unique``
  -> reach in ``channel_metrics_daily``, keyed by the Meta platform day (US Pacific).

Only 2xx responses are read. Repeated observations within the run collapse to the latest
one per key (by fetched_at, then arrival).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
    meta_daily_values,
    meta_timestamp,
    problem,
    read_json_pages,
    with_provenance,
)
from transforms.graph_pages import INSIGHT, nested_insight
from transforms.runs import SLICE, NumberedRuns, RunInput, RunsResult, begin, finish, one_run

PLATFORM = "facebook"
STREAMS = ("page", "posts", "page_insights")
POST_INSIGHTS = {"post_media_view": "views", "post_total_media_view_unique": "reach"}
PAGE_INSIGHTS = {"page_media_view": "views", "page_total_media_view_unique": "reach"}

_TOTAL = pl.Struct({"summary": pl.Struct({"total_count": pl.Int64()})})
_POST = pl.Struct(
    {
        "id": pl.Utf8(),
        "created_time": pl.Utf8(),
        "message": pl.Utf8(),
        "permalink_url": pl.Utf8(),
        "status_type": pl.Utf8(),
        "shares": pl.Struct({"count": pl.Int64()}),
        "reactions": _TOTAL,
        "comments": _TOTAL,
        "insights": pl.Struct({"data": pl.List(INSIGHT)}),
    }
)
_POSTS_PAGE = {"data": pl.List(_POST)}
_PAGE = {RESP: pl.Int64(), "display_name": pl.Utf8(), "link": pl.Utf8(), "followers": pl.Int64()}


def transform_facebook(responses: Iterable[StoredResponse], channel: ChannelRef) -> TransformResult:
    """One run's raw Facebook Page responses (arrival order) -> the four common-schema frames."""
    return one_run(transform_facebook_runs, responses, channel)


def transform_facebook_runs(runs: Sequence[RunInput]) -> RunsResult:
    """Several runs at once, each exactly as alone: frames with ``SLICE``, problems per run."""
    numbered, problems = begin(PLATFORM, runs, STREAMS)
    streams, prov = numbered.streams, numbered.prov
    page = _page(streams.get("page", []), numbered, problems).join(prov, on=RESP)
    posts = _posts(streams.get("posts", []), prov, problems)
    daily = meta_daily_values(streams.get("page_insights", []), PAGE_INSIGHTS, problems).join(prov, on=RESP)
    frames = {
        "channel": _channel(page),
        "content": _content(posts),
        "content_metrics_daily": latest(
            posts, [SLICE, "content_id", "snapshot_date"], "content_metrics_daily"
        ),
        "channel_metrics_daily": _channel_metrics(page, daily),
    }
    return RunsResult({t: finish(t, f, PLATFORM) for t, f in frames.items()}, numbered.split(problems))


def _page(pages: list[Numbered], runs: NumberedRuns, problems: list[str]) -> pl.DataFrame:
    """The Page bodies: name, link and follower count, one row per response."""
    rows = []
    for number, response in pages:
        channel = runs.channel(number)
        body, error = decode_json(response)
        if error is None and (not isinstance(body, dict) or "id" not in body):
            error = problem(response, "page body without 'id'")
        elif error is None and str(body["id"]) != channel.channel_id:
            error = problem(response, f"page {body['id']} is not channel {channel.channel_id}")
        if error is not None:
            problems.append(error)
            continue
        rows.append({RESP: number, "display_name": _text(body.get("name")), "link": _text(body.get("link")),
                     "followers": as_int(body.get("followers_count"))})
    return pl.DataFrame(rows, schema=_PAGE)


def _text(value: Any) -> str | None:
    """A JSON string, or None."""
    return value if isinstance(value, str) else None


def _channel(page: pl.DataFrame) -> pl.DataFrame:
    """Each run's channel row, from its latest Page response."""
    fallback = pl.lit("https://www.facebook.com/") + pl.col("channel_id")
    return page.with_columns(
        handle=pl.col("channel_handle"), url=pl.coalesce(pl.col("link"), fallback)
    ).pipe(latest, [SLICE, "channel_id"])


def _posts(pages: list[Numbered], prov: pl.DataFrame, problems: list[str]) -> pl.DataFrame:
    """Every post observation of the runs: fields, counts, nested insights and provenance."""
    frame, errors = read_json_pages(pages, _POSTS_PAGE)
    problems.extend(errors)
    items = with_provenance(frame.explode("data").unnest("data"), prov)
    no_id = items.filter(pl.col("id").is_null())["raw_file"].unique(maintain_order=True)
    problems.extend(f"{raw_file}: post without 'id' skipped" for raw_file in no_id)
    items = items.drop_nulls("id").with_columns(published_at=meta_timestamp(pl.col("created_time")))
    problems.extend(
        f"{raw_file}: post {post_id} has no readable created_time ({created!r}); skipped"
        for raw_file, post_id, created in items.filter(pl.col("published_at").is_null())
        .select("raw_file", "id", "created_time")
        .iter_rows()
    )
    return items.drop_nulls("published_at").with_columns(
        content_id=pl.col("id"),
        snapshot_date=pl.col("local_date"),
        likes=pl.col("reactions").struct.field("summary").struct.field("total_count"),
        comments=pl.col("comments").struct.field("summary").struct.field("total_count"),
        shares=pl.col("shares").struct.field("count").fill_null(0),  # absent when 0
        **{column: nested_insight(name) for name, column in POST_INSIGHTS.items()},
    )


def _content(posts: pl.DataFrame) -> pl.DataFrame:
    """One content row per post and run, from its latest observation."""
    return posts.pipe(latest, [SLICE, "content_id"]).with_columns(
        content_type=pl.lit("post"),
        media_type=pl.col("status_type"),
        caption=pl.col("message"),
        url=pl.col("permalink_url"),
        hashtags=hashtags(pl.col("message")),
    )


def _channel_metrics(page: pl.DataFrame, daily: pl.DataFrame) -> pl.DataFrame:
    """One row per run and day: the follower snapshot on the local day, insights on their platform day."""
    snapshots = page.with_columns(snapshot_date=pl.col("local_date")).select(
        RESP, SLICE, "channel_id", "snapshot_date", "followers", *PROVENANCE_COLUMNS
    )
    daily = daily.select(RESP, SLICE, "channel_id", "snapshot_date", "views", "reach", *PROVENANCE_COLUMNS)
    metrics = ("followers", "views", "reach")  # following and posts count: not in the API
    return (
        pl.concat([snapshots, daily], how="diagonal_relaxed")
        .sort("fetched_at", RESP)
        .group_by(SLICE, "channel_id", "snapshot_date", maintain_order=True)
        .agg(
            *[pl.col(m).drop_nulls().last() for m in metrics], *[pl.col(c).last() for c in PROVENANCE_COLUMNS]
        )
    )
