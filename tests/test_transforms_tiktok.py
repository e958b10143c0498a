"""TikTok transform: tiny, scrubbed Display API bodies in, whole frames out."""

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
from transforms.tiktok import transform_tiktok

OPEN_ID = "b50766c6-5165-5adc-8ce0-199bce8fa2ff"
CHANNEL = ChannelRef(platform="tiktok", channel_id=OPEN_ID, handle="kotatest")
RUN = "run-20261126-0100"
T1 = "2026-11-26T01:00:00+00:00"
T2 = "2026-11-26T18:30:00+00:00"  # already 27 November in Jakarta
OK = {"code": "ok", "message": "", "log_id": "20261126010000ABCDEF"}


class Run:
    """Builds one run's StoredResponses in arrival order."""

    def __init__(self) -> None:
        self.responses: list[StoredResponse] = []

    def add(self, stream: str, body: Any, fetched_at: str = T1, status: int = 200) -> str:
        """Append a response; body is JSON-encoded unless already bytes; returns its raw_file."""
        seq = len(self.responses) + 1
        folder = f"raw/platform=tiktok/account={OPEN_ID}/date=2026-11-26/run={RUN}"
        raw_file = f"{folder}/{seq:05d}-{stream}.json.gz"
        meta = {"platform": "tiktok", "account": OPEN_ID, "stream": stream,
                "url": f"https://open.tiktokapis.com/v2/{stream}/", "status": status,
                "fetched_at": fetched_at, "run_id": RUN, "context": {}, "seq": seq}
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        self.responses.append(StoredResponse(meta=meta, body=data, raw_file=raw_file))
        return raw_file


def user(**extra: Any) -> dict[str, Any]:
    """A user/info body."""
    values = {"open_id": OPEN_ID, "display_name": "Pemkot Test", "username": "kotatest",
              "follower_count": 15_214, "following_count": 43, "likes_count": 99_999, "video_count": 2}
    return {"data": {"user": {**values, **extra}}, "error": OK}


def video(video_id: str, created: int, views: int, description: str = "", title: str = "") -> dict[str, Any]:
    """One video object with every field the connector asks for."""
    return {"id": video_id, "create_time": created, "title": title, "video_description": description,
            "duration": 15, "share_url": f"https://www.tiktok.com/@kotatest/video/{video_id}",
            "cover_image_url": "https://p16.example/c.jpeg", "view_count": views,
            "like_count": views // 10, "comment_count": 3, "share_count": 2}


def page(*videos: dict[str, Any], more: bool = False) -> dict[str, Any]:
    """A video/list or video/query body."""
    return {"data": {"videos": list(videos), "cursor": 1795600000000, "has_more": more}, "error": OK}


def utc(text: str) -> dt.datetime:
    """An aware UTC datetime."""
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


def frame(table: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Expected rows as a frame of the table's schema, sorted by its key."""
    return pl.DataFrame(rows, schema=SCHEMAS[table]).sort(KEYS[table])


A, B = "7712449939992311318", "7712068502020588041"
A_TIME, B_TIME = 1795694683, 1795605873


def test_user_list_and_query_make_the_four_tables() -> None:
    run = Run()
    u = run.add("user", user())
    p = run.add("videos", page(video(A, A_TIME, 380, "Pagi di #TangerangKota ☀️", "Pagi"),
                               video(B, B_TIME, 1200), more=True))
    q = run.add("video_query", page(video(B, B_TIME, 1250)), fetched_at=T2)
    run.add("oauth_token", {"access_token": "REDACTED", "refresh_token": "REDACTED"})
    result = transform_tiktok(run.responses, CHANNEL)
    assert result.problems == []
    prov1 = {"fetched_at": utc(T1), "run_id": RUN}
    assert_frame_equal(result.frames["channel"], frame("channel", [{
        "platform": "tiktok", "channel_id": OPEN_ID, "handle": "kotatest", "display_name": "Pemkot Test",
        "url": "https://www.tiktok.com/@kotatest", "timezone": "Asia/Jakarta", **prov1, "raw_file": u}]))
    content = [
        {"content_id": A, "published_at": dt.datetime.fromtimestamp(A_TIME, dt.UTC), "title": "Pagi",
         "caption": "Pagi di #TangerangKota ☀️", "hashtags": ["tangerangkota"], **prov1, "raw_file": p},
        {"content_id": B, "published_at": dt.datetime.fromtimestamp(B_TIME, dt.UTC), "title": None,
         "caption": None, "hashtags": [], "fetched_at": utc(T2), "run_id": RUN, "raw_file": q},
    ]
    assert_frame_equal(result.frames["content"], frame("content", [
        {"platform": "tiktok", "channel_id": OPEN_ID, "content_type": "video", "media_type": None,
         "url": f"https://www.tiktok.com/@kotatest/video/{row['content_id']}", **row} for row in content]))
    metrics = [
        (A, dt.date(2026, 11, 26), 380, T1, p),
        (B, dt.date(2026, 11, 26), 1200, T1, p),
        (B, dt.date(2026, 11, 27), 1250, T2, q),  # the query ran after Jakarta midnight
    ]
    assert_frame_equal(result.frames["content_metrics_daily"], frame("content_metrics_daily", [
        {"platform": "tiktok", "content_id": cid, "snapshot_date": day, "channel_id": OPEN_ID,
         "views": views, "reach": None, "likes": views // 10, "comments": 3, "shares": 2, "saves": None,
         "fetched_at": utc(at), "run_id": RUN, "raw_file": raw} for cid, day, views, at, raw in metrics]))
    assert_frame_equal(result.frames["channel_metrics_daily"], frame("channel_metrics_daily", [{
        "platform": "tiktok", "channel_id": OPEN_ID, "snapshot_date": dt.date(2026, 11, 26),
        "followers": 15_214, "following": 43, "posts_count": 2, "views": None, "reach": None,
        **prov1, "raw_file": u}]))


def test_same_video_twice_on_one_day_keeps_the_latest() -> None:
    run = Run()
    run.add("videos", page(video(A, A_TIME, 380)))
    later = run.add("video_query", page(video(A, A_TIME, 390)), fetched_at="2026-11-26T02:00:00+00:00")
    result = transform_tiktok(run.responses, CHANNEL)
    metrics = result.frames["content_metrics_daily"]
    assert metrics.select("views", "raw_file").rows() == [(390, later)]
    assert result.frames["content"]["raw_file"].to_list() == [later]


def test_envelope_errors_and_bad_bodies_are_problems_not_rows() -> None:
    run = Run()
    bad_code = run.add("videos", {"data": {"videos": [video(A, A_TIME, 1)]},
                                  "error": {"code": "internal_error", "message": "x", "log_id": "1"}})
    cut = run.add("videos", b'{"data":{"videos":[{"id":"1"')
    rejected = run.add("videos", page(video(B, B_TIME, 5)), status=429)
    other = run.add("user", user(open_id="someone-else"))
    run.add("auth_rejected", {"data": {}, "error": {"code": "access_token_invalid"}}, status=401)
    odd = run.add("comments", {"data": {}})
    result = transform_tiktok(run.responses, CHANNEL)
    assert all(f.height == 0 for f in result.frames.values())
    assert len(result.problems) == 4 and rejected not in " ".join(result.problems)
    assert result.problems[0] == f"{odd}: 1 response(s) of stream 'comments' not transformed"
    assert result.problems[1] == f"{other}: user someone-else is not channel {OPEN_ID}"
    assert result.problems[2].startswith(f"{cut}: body is not valid JSON")
    assert result.problems[3] == f"{bad_code}: reply whose error.code is not 'ok' skipped"


def test_video_without_create_time_is_skipped_with_a_problem() -> None:
    run = Run()
    raw = run.add("videos", page({"id": A, "view_count": 3}, video(B, B_TIME, 5)))
    result = transform_tiktok(run.responses, CHANNEL)
    assert result.frames["content"]["content_id"].to_list() == [B]
    assert result.problems == [f"{raw}: video without id or create_time skipped"]


def test_wrong_platform_is_refused() -> None:
    with pytest.raises(ValueError, match="transform_tiktok got a 'instagram' channel"):
        transform_tiktok([], ChannelRef("instagram", "1", "x"))


def test_transform_output_passes_validation_and_tiktok_rules_catch_mapping_bugs() -> None:
    from validation.validate import validate_batch

    run = Run()
    run.add("user", user())
    run.add("videos", page(video(A, A_TIME, 380, "#TangerangKota"), video(B, B_TIME, 1200)))
    frames = transform_tiktok(run.responses, CHANNEL).frames
    now = dt.datetime(2026, 11, 26, 2, tzinfo=dt.UTC)
    quarantined = {t: r.quarantined.height for t, r in validate_batch(frames, now).items()}
    assert quarantined == dict.fromkeys(frames, 0)
    wrong = {**frames, "content_metrics_daily": frames["content_metrics_daily"].with_columns(
        reach=pl.when(pl.col("content_id") == A).then(7).cast(pl.Int64))}
    result = validate_batch(wrong, now)["content_metrics_daily"]
    assert result.quarantined["content_id"].to_list() == [A]
    assert result.failures == {'expect_column_values_to_be_null(reach) if platform=="tiktok"': 1}
