"""X transform: tiny, scrubbed API v2 bodies in, whole frames out; and X's own checks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import polars as pl
from polars.testing import assert_frame_equal

from socmed.rawzone import StoredResponse
from transforms.common import ChannelRef
from transforms.schemas import KEYS, SCHEMAS
from transforms.x import transform_x
from validation.validate import validate_table

CHANNEL = ChannelRef(platform="x", channel_id="1183612405226008576", handle="pemkottangerang")
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
        raw_file = f"raw/platform=x/account={CHANNEL.channel_id}/run={RUN}/{seq:05d}-{stream}.json.gz"
        meta = {"stream": stream, "status": status, "fetched_at": fetched_at, "run_id": RUN, "context": {}}
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        self.responses.append(StoredResponse(meta=meta, body=data, raw_file=raw_file))
        return raw_file


def user() -> dict[str, Any]:
    return {
        "data": {
            "id": CHANNEL.channel_id,
            "name": "Pemerintah Kota Tangerang",
            "username": "PemkotTangerang",
            "public_metrics": {
                "followers_count": 86412,
                "following_count": 312,
                "tweet_count": 5917,
                "listed_count": 214,
            },
        }
    }


def post(pid: str, text: str, created: str, **metrics: int) -> dict[str, Any]:
    return {
        "id": pid,
        "text": text,
        "edit_history_tweet_ids": [pid],
        "created_at": created,
        "public_metrics": metrics,
    }


def frame(table: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SCHEMAS[table]).sort(KEYS[table])


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


FULL = {
    "retweet_count": 3,
    "reply_count": 4,
    "like_count": 50,
    "quote_count": 2,
    "bookmark_count": 1,
    "impression_count": 2400,
}


def test_whole_frames_from_the_user_a_timeline_page_and_a_lookup() -> None:
    run = Run()
    u = run.add("user", user())
    page = run.add(
        "posts",
        {
            "data": [
                post("1990000000000000001", "Info #SiagaBanjir hari ini", "2026-11-26T23:30:00.000Z", **FULL)
            ],
            "meta": {"result_count": 1, "newest_id": "1990000000000000001"},
        },
    )
    run.add("posts", {"meta": {"result_count": 0}})  # the end of the timeline: valid, empty
    looked = run.add(
        "posts_lookup",
        {
            "data": [
                post("1700000000000000002", "Lama", "2023-11-14T01:02:03.000Z", like_count=9, reply_count=0)
            ],
            "errors": [{"resource_id": "1700000000000000003", "title": "Not Found Error"}],
        },
    )
    result = transform_x(run.responses, CHANNEL)
    assert result.problems == []
    prov = {"fetched_at": utc(T1), "run_id": RUN}
    assert_frame_equal(
        result.frames["channel"],
        frame(
            "channel",
            [
                {
                    "platform": "x",
                    "channel_id": CHANNEL.channel_id,
                    "handle": "PemkotTangerang",
                    "display_name": "Pemerintah Kota Tangerang",
                    "url": "https://x.com/PemkotTangerang",
                    "timezone": "Asia/Jakarta",
                    **prov,
                    "raw_file": u,
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
                    "platform": "x",
                    "channel_id": CHANNEL.channel_id,
                    "snapshot_date": dt.date(2026, 11, 27),
                    "followers": 86412,
                    "following": 312,
                    "posts_count": 5917,
                    "views": None,
                    "reach": None,
                    **prov,
                    "raw_file": u,
                }
            ],
        ),
    )
    base = {
        "platform": "x",
        "channel_id": CHANNEL.channel_id,
        "content_type": "post",
        "media_type": "post",
        "title": None,
        **prov,
    }
    assert_frame_equal(
        result.frames["content"],
        frame(
            "content",
            [
                {
                    **base,
                    "content_id": "1990000000000000001",
                    "published_at": utc("2026-11-26T23:30:00+00:00"),
                    "caption": "Info #SiagaBanjir hari ini",
                    "hashtags": ["siagabanjir"],
                    "raw_file": page,
                    "url": "https://x.com/PemkotTangerang/status/1990000000000000001",
                },
                {
                    **base,
                    "content_id": "1700000000000000002",
                    "published_at": utc("2023-11-14T01:02:03+00:00"),
                    "caption": "Lama",
                    "hashtags": [],
                    "raw_file": looked,
                    "url": "https://x.com/PemkotTangerang/status/1700000000000000002",
                },
            ],
        ),
    )
    day = {
        "platform": "x",
        "channel_id": CHANNEL.channel_id,
        "snapshot_date": dt.date(2026, 11, 27),
        "reach": None,
        **prov,
    }
    assert_frame_equal(
        result.frames["content_metrics_daily"],
        frame(
            "content_metrics_daily",
            [
                {
                    **day,
                    "content_id": "1990000000000000001",
                    "views": 2400,
                    "likes": 50,
                    "comments": 4,
                    "shares": 5,
                    "saves": 1,
                    "raw_file": page,
                },
                {
                    **day,
                    "content_id": "1700000000000000002",
                    "views": None,
                    "likes": 9,
                    "comments": 0,
                    "shares": None,
                    "saves": None,
                    "raw_file": looked,
                },
            ],
        ),
    )


def test_the_latest_observation_wins_and_shares_count_a_missing_part_as_zero() -> None:
    run = Run()
    run.add("posts", {"data": [post("1990000000000000001", "a", "2026-11-26T23:30:00.000Z", **FULL)]})
    later = run.add(
        "posts_lookup",
        {
            "data": [
                post("1990000000000000001", "a", "2026-11-26T23:30:00.000Z", retweet_count=7, like_count=60)
            ]
        },
        T2,
    )
    metrics = transform_x(run.responses, CHANNEL).frames["content_metrics_daily"]
    assert metrics.select("likes", "shares", "views", "raw_file").rows() == [(60, 7, None, later)]


def test_bad_bodies_are_problems_and_urls_fall_back_to_the_configured_handle() -> None:
    run = Run()
    cut = run.add("posts", b'{"data": [{"id": "19')
    stranger = run.add("user", {"data": {"id": "42", "username": "someone"}})
    run.add(
        "posts",
        {
            "data": [
                post("1990000000000000001", "a", "kemarin"),
                {"text": "no id"},
                post("1990000000000000002", "b", "2026-11-26T23:30:00.000Z"),
            ]
        },
    )
    result = transform_x(run.responses, CHANNEL)
    assert result.frames["content"]["url"].to_list() == [
        "https://x.com/pemkottangerang/status/1990000000000000002"
    ]
    problems = sorted(result.problems)
    assert problems[0].startswith(f"{cut}: body is not valid JSON")
    assert problems[1] == f"{stranger}: no user {CHANNEL.channel_id} in the answer"
    assert problems[2].endswith("post 1990000000000000001 has no readable created_at ('kemarin'); skipped")
    assert problems[3].endswith("post without an 'id' skipped")


def test_x_rules_quarantine_rows_no_x_answer_can_produce() -> None:
    run = Run()
    run.add("posts", {"data": [post("1990000000000000001", "a", "2026-11-26T23:30:00.000Z", **FULL)]})
    frames = transform_x(run.responses, CHANNEL).frames
    now = dt.datetime(2026, 11, 27, 2, tzinfo=dt.UTC)
    bad = frames["content"].with_columns(content_type=pl.lit("video"), content_id=pl.lit("abc"))
    assert validate_table("content", bad, now).failures == {
        'expect_column_values_to_be_in_set(content_type) if platform=="x"': 1,
        'expect_column_values_to_match_regex(content_id) if platform=="x"': 1,
    }
    facts = frames["content_metrics_daily"].with_columns(reach=pl.lit(3, dtype=pl.Int64()))
    assert validate_table("content_metrics_daily", facts, now).failures == {
        'expect_column_values_to_be_null(reach) if platform=="x"': 1
    }
    assert validate_table("content", frames["content"], now).failures == {}


def test_a_long_post_takes_its_caption_and_hashtags_from_note_tweet() -> None:
    run = Run()
    whole = "Jadwal Festival Cisadane 2026 " + "hari demi hari, " * 20 + "#FestivalCisadane #AyoKeTangerang"
    long_post = post("1990000000000000001", f"{whole[:279]}…", "2026-11-26T23:30:00.000Z", **FULL)
    short = post("1990000000000000002", "Pendek #SiagaBanjir", "2026-11-26T22:00:00.000Z")
    run.add("posts", {"data": [{**long_post, "note_tweet": {"text": whole}}, short]})
    content = transform_x(run.responses, CHANNEL).frames["content"]
    assert len(whole) > 280 and "#FestivalCisadane" not in whole[:279]
    assert content.select("content_id", "caption", "hashtags").rows() == [
        ("1990000000000000001", whole, ["festivalcisadane", "ayoketangerang"]),
        ("1990000000000000002", "Pendek #SiagaBanjir", ["siagabanjir"]),
    ]
