"""YouTube transform: tiny, scrubbed Data API bodies in, whole frames out; and YouTube's own checks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from socmed.rawzone import StoredResponse
from transforms.common import ChannelRef
from transforms.schemas import KEYS, SCHEMAS
from transforms.youtube import content_type, duration_seconds, transform_youtube
from validation.validate import validate_table

CHANNEL = ChannelRef(platform="youtube", channel_id="UCw2s1TsVjqNRnU1eXvDgZ4A", handle="kota")
RUN = "20261127T010000Z-abcdef"
T1 = "2026-11-27T01:00:00+00:00"
T2 = "2026-11-27T01:05:00+00:00"


class Run:
    """One run's StoredResponses in arrival order."""

    def __init__(self) -> None:
        self.responses: list[StoredResponse] = []

    def add(self, stream: str, body: Any, fetched_at: str = T1, status: int = 200) -> str:
        """Append a response; returns its raw_file."""
        seq = len(self.responses) + 1
        raw_file = f"raw/platform=youtube/account={CHANNEL.channel_id}/run={RUN}/{seq:05d}-{stream}.json.gz"
        meta = {"stream": stream, "status": status, "fetched_at": fetched_at, "run_id": RUN, "context": {}}
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        self.responses.append(StoredResponse(meta=meta, body=data, raw_file=raw_file))
        return raw_file


def channel_body(hidden: bool = False) -> dict[str, Any]:
    """A channels.list answer with snippet and statistics."""
    stats: dict[str, Any] = {
        "viewCount": "15244347",
        "subscriberCount": "45200",
        "hiddenSubscriberCount": hidden,
        "videoCount": "510",
    }
    if hidden:
        del stats["subscriberCount"]
    item = {
        "kind": "youtube#channel",
        "id": CHANNEL.channel_id,
        "statistics": stats,
        "snippet": {"title": "Pemerintah Kota Tangerang", "customUrl": "@tangerangkota"},
    }
    return {"kind": "youtube#channelListResponse", "items": [item]}


def video(
    vid: str,
    published: str,
    duration: str,
    views: str = "100",
    likes: str | None = "7",
    comments: str | None = "2",
    title: str = "Judul",
    description: str = "",
    live: str = "none",
) -> dict:
    """A video resource; likes/comments None are absent, as YouTube leaves them out."""
    stats = {"viewCount": views, "favoriteCount": "0"}
    stats.update({k: v for k, v in (("likeCount", likes), ("commentCount", comments)) if v is not None})
    return {
        "kind": "youtube#video",
        "id": vid,
        "statistics": stats,
        "contentDetails": {"duration": duration},
        "snippet": {
            "publishedAt": published,
            "title": title,
            "description": description,
            "liveBroadcastContent": live,
        },
    }


def frame(table: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Expected rows as a frame of the table's schema, sorted by its key."""
    return pl.DataFrame(rows, schema=SCHEMAS[table]).sort(KEYS[table])


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


def test_whole_frames_from_a_channel_answer_and_a_videos_page() -> None:
    run = Run()
    ch = run.add("channel", channel_body())
    run.add("playlist_items", {"items": [{"contentDetails": {"videoId": "aaaaaaaaaaa"}}]})
    page = run.add(
        "videos",
        {
            "items": [
                video(
                    "aaaaaaaaaaa",
                    "2026-11-20T03:15:00Z",
                    "PT45S",
                    "1200",
                    None,
                    "3",
                    "Pagi di Taman Potret #shorts",
                    "Sehat selalu #TangerangKota",
                ),
                video("bbbbbbbbbbb", "2024-01-02T10:00:00Z", "PT12M3S", "98765", "4321", None),
            ]
        },
    )
    result = transform_youtube(run.responses, CHANNEL)
    assert result.problems == []
    prov = {"fetched_at": utc(T1), "run_id": RUN}
    assert_frame_equal(
        result.frames["channel"],
        frame(
            "channel",
            [
                {
                    "platform": "youtube",
                    "channel_id": CHANNEL.channel_id,
                    "handle": "tangerangkota",
                    "display_name": "Pemerintah Kota Tangerang",
                    "url": f"https://www.youtube.com/channel/{CHANNEL.channel_id}",
                    "timezone": "Asia/Jakarta",
                    **prov,
                    "raw_file": ch,
                }
            ],
        ),
    )
    assert_frame_equal(
        result.frames["channel_metrics_daily"],
        frame(
            "channel_metrics_daily",
            [
                {
                    "platform": "youtube",
                    "channel_id": CHANNEL.channel_id,
                    "snapshot_date": dt.date(2026, 11, 27),
                    "followers": 45200,
                    "following": None,
                    "posts_count": 510,
                    "views": None,
                    "reach": None,
                    **prov,
                    "raw_file": ch,
                }
            ],
        ),
    )
    assert_frame_equal(
        result.frames["content"],
        frame(
            "content",
            [
                {
                    "platform": "youtube",
                    "content_id": "aaaaaaaaaaa",
                    "channel_id": CHANNEL.channel_id,
                    "content_type": "short",
                    "media_type": "VIDEO",
                    "published_at": utc("2026-11-20T03:15:00+00:00"),
                    "title": "Pagi di Taman Potret #shorts",
                    "caption": "Sehat selalu #TangerangKota",
                    "url": "https://www.youtube.com/shorts/aaaaaaaaaaa",
                    "hashtags": ["shorts", "tangerangkota"],
                    **prov,
                    "raw_file": page,
                },
                {
                    "platform": "youtube",
                    "content_id": "bbbbbbbbbbb",
                    "channel_id": CHANNEL.channel_id,
                    "content_type": "video",
                    "media_type": "VIDEO",
                    "published_at": utc("2024-01-02T10:00:00+00:00"),
                    "title": "Judul",
                    "caption": "",
                    "url": "https://www.youtube.com/watch?v=bbbbbbbbbbb",
                    "hashtags": [],
                    **prov,
                    "raw_file": page,
                },
            ],
        ),
    )
    assert_frame_equal(
        result.frames["content_metrics_daily"],
        frame(
            "content_metrics_daily",
            [
                {
                    "platform": "youtube",
                    "content_id": "aaaaaaaaaaa",
                    "snapshot_date": dt.date(2026, 11, 27),
                    "channel_id": CHANNEL.channel_id,
                    "views": 1200,
                    "reach": None,
                    "likes": None,
                    "comments": 3,
                    "shares": None,
                    "saves": None,
                    **prov,
                    "raw_file": page,
                },
                {
                    "platform": "youtube",
                    "content_id": "bbbbbbbbbbb",
                    "snapshot_date": dt.date(2026, 11, 27),
                    "channel_id": CHANNEL.channel_id,
                    "views": 98765,
                    "reach": None,
                    "likes": 4321,
                    "comments": None,
                    "shares": None,
                    "saves": None,
                    **prov,
                    "raw_file": page,
                },
            ],
        ),
    )


def test_hidden_subscribers_are_null_not_zero() -> None:
    run = Run()
    run.add("channel", channel_body(hidden=True))
    metrics = transform_youtube(run.responses, CHANNEL).frames["channel_metrics_daily"]
    assert metrics.select("followers", "posts_count").rows() == [(None, 510)]


def test_the_latest_observation_of_a_day_wins_and_errors_are_skipped() -> None:
    run = Run()
    run.add("videos", {"items": [video("aaaaaaaaaaa", "2026-11-20T03:15:00Z", "PT5M", "100")]})
    run.add("videos", {"error": {"code": 503}}, status=503)
    later = run.add("videos", {"items": [video("aaaaaaaaaaa", "2026-11-20T03:15:00Z", "PT5M", "150")]}, T2)
    metrics = transform_youtube(run.responses, CHANNEL).frames["content_metrics_daily"]
    assert metrics.select("views", "raw_file").rows() == [(150, later)]


def test_bad_bodies_and_timestamps_are_problems_not_rows() -> None:
    run = Run()
    cut = run.add("videos", b'{"items": [{"id": "aaa')
    run.add("videos", {"items": [video("ccccccccccc", "yesterday", "PT1M")]})
    other = run.add("channel", {"kind": "youtube#channelListResponse"})
    result = transform_youtube(run.responses, CHANNEL)
    assert result.frames["content"].height == 0
    problems = sorted(result.problems)
    assert problems[0].startswith(f"{cut}: body is not valid JSON")
    assert "video ccccccccccc has no readable publishedAt ('yesterday'); skipped" in problems[1]
    assert problems[2] == f"{other}: no channel {CHANNEL.channel_id} in the answer"


@pytest.mark.parametrize(
    ("duration", "seconds"),
    [
        ("PT45S", 45),
        ("PT1M", 60),
        ("PT1M30S", 90),
        ("PT1H2M3S", 3723),
        ("P1DT2H", 93600),
        ("P0D", 0),
        ("PT10H", 36000),
        (None, None),
        ("garbage", None),
    ],
)
def test_iso_durations(duration: str | None, seconds: int | None) -> None:
    assert pl.select(duration_seconds(pl.lit(duration, dtype=pl.Utf8()))).item() == seconds


@pytest.mark.parametrize(
    ("duration", "published", "live", "kind"),
    [
        ("PT59S", "2024-01-01T00:00:00Z", "none", "short"),
        ("PT60S", "2024-01-01T00:00:00Z", "none", "short"),
        ("PT2M", "2024-10-14T23:59:59Z", "none", "video"),  # before Shorts grew to three minutes
        ("PT2M", "2024-10-15T00:00:00Z", "none", "short"),
        ("PT3M1S", "2026-01-01T00:00:00Z", "none", "video"),
        ("P0D", "2026-01-01T00:00:00Z", "upcoming", "live"),
        ("PT2H", "2026-01-01T00:00:00Z", "live", "live"),
        ("P0D", "2026-01-01T00:00:00Z", "none", "video"),
    ],
)
def test_content_type_rule(duration: str, published: str, live: str, kind: str) -> None:
    when = pl.lit(published).str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC")
    assert pl.select(content_type(pl.lit(duration), when, pl.lit(live))).item() == kind


def test_youtube_rules_quarantine_rows_no_youtube_answer_can_produce() -> None:
    run = Run()
    run.add("videos", {"items": [video("aaaaaaaaaaa", "2026-11-20T03:15:00Z", "PT5M")]})
    frames = transform_youtube(run.responses, CHANNEL).frames
    bad = pl.concat(
        [
            frames["content"],
            frames["content"].with_columns(
                content_id=pl.lit("UUw2s1TsVjqNRnU1eXvDgZ4A.aaaa"), content_type=pl.lit("post")
            ),
        ]
    )
    result = validate_table("content", bad, dt.datetime(2026, 11, 27, 2, tzinfo=dt.UTC))
    assert result.good.height == 1
    assert result.failures == {
        'expect_column_values_to_be_in_set(content_type) if platform=="youtube"': 1,
        'expect_column_values_to_match_regex(content_id) if platform=="youtube"': 1,
    }
    facts = frames["content_metrics_daily"].with_columns(reach=pl.lit(5, dtype=pl.Int64()))
    failures = validate_table(
        "content_metrics_daily", facts, dt.datetime(2026, 11, 27, 2, tzinfo=dt.UTC)
    ).failures
    assert failures == {'expect_column_values_to_be_null(reach) if platform=="youtube"': 1}
