"""Several runs in one transform call give exactly what each run gives alone."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from socmed.batches import transform_slices
from socmed.config import ChannelSettings
from socmed.rawzone import StoredResponse
from tests.test_transforms_instagram import insights, media, page
from transforms.common import ChannelRef, TransformResult
from transforms.facebook import transform_facebook, transform_facebook_runs
from transforms.instagram import transform_instagram, transform_instagram_runs
from transforms.runs import SLICE, RunsResult
from transforms.tiktok import transform_tiktok, transform_tiktok_runs
from transforms.x import transform_x, transform_x_runs
from transforms.youtube import transform_youtube, transform_youtube_runs

JAKARTA = ChannelRef("instagram", "17841400000000001", "kotatest")
AMSTERDAM = ChannelRef("instagram", "17841400000000002", "kotanl", "Europe/Amsterdam")


class Run:
    """One run's responses for a channel, in arrival order."""

    def __init__(self, channel: ChannelRef, run_id: str) -> None:
        self.channel, self.run_id = channel, run_id
        self.responses: list[StoredResponse] = []

    def add(self, stream: str, body: Any, fetched_at: str, status: int = 200, **context: str) -> Run:
        """Append a response (body JSON-encoded unless bytes)."""
        seq = len(self.responses) + 1
        where = f"raw/platform={self.channel.platform}/account={self.channel.channel_id}/run={self.run_id}"
        raw_file = f"{where}/{seq:05d}-{stream}.json.gz"
        meta = {
            "stream": stream,
            "status": status,
            "fetched_at": fetched_at,
            "run_id": self.run_id,
            "seq": seq,
            "context": context,
        }
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        self.responses.append(StoredResponse(meta=meta, body=data, raw_file=raw_file))
        return self


def account(channel: ChannelRef, followers: int) -> dict[str, Any]:
    """An IG User body."""
    return {
        "id": channel.channel_id,
        "username": channel.handle,
        "name": "Kota",
        "followers_count": followers,
        "follows_count": 12,
        "media_count": 3,
    }


def daily_reach(end_time: str, value: int) -> dict[str, Any]:
    """An account insights body with one day of reach."""
    return {"data": [{"name": "reach", "period": "day", "values": [{"value": value, "end_time": end_time}]}]}


def instagram_runs() -> list[Run]:
    """Runs that share media ids and days across channels and days, with every stream and problem kind."""
    day1, day2 = "2026-11-26T01:00:00+00:00", "2026-11-27T01:00:00+00:00"
    a = (
        Run(JAKARTA, "run-a")
        .add("account", account(JAKARTA, 217_000), day1)
        .add("media", page(media("1801", insights=insights(views=100, reach=50)), media("1802")), day1)
        .add("media", page(media("1803")), day1, status=400)
        .add("media", page(media("1803", insights=insights(reach=9))), day1, insights="safe")
        .add("media_insights_multi", {"1803": {"insights": insights(views=70)}}, day1, media_ids="1803")
        .add("media_insights", insights(saved=4), day1, media_id="1802")
        .add("media_insights", insights(saved=5), day1, media_id="9999")
        .add("account_insights", daily_reach("2026-11-25T08:00:00+0000", 4000), day1)
    )
    b = (
        Run(AMSTERDAM, "run-b")  # the same media ids as run a: nothing may leak between runs
        .add("account", account(AMSTERDAM, 114_000), "2026-11-26T23:30:00+00:00")
        .add(
            "media",
            page(media("1801", like_count=99), media("1802", caption="#Lain")),
            "2026-11-26T23:30:00+00:00",
        )
        .add("stories", page(media("1901", media_product_type="STORY", like_count=None)), day1)
        .add("story_insights", insights(replies=3, reach=7), day1, media_id="1901")
        .add("media", b'{"data": [', day1)
        .add("comments", {"data": []}, day1)
    )
    c = (
        Run(JAKARTA, "run-c")  # channel a, next day
        .add("account", account(JAKARTA, 217_100), day2)
        .add("account", account(AMSTERDAM, 1), day2)
        .add("media", page(media("1801", like_count=11, insights=insights(views=120))), day2)
        .add("media", page(media("1801", like_count=12)), day2)
    )
    return [a, b, c]


def alone(runs: list[Run]) -> tuple[dict[str, pl.DataFrame], list[list[str]]]:
    """Each run transformed alone, frames concatenated with the run's position."""
    results = [transform_instagram(r.responses, r.channel) for r in runs]
    frames = {
        t: pl.concat(
            [r.frames[t].with_columns(pl.lit(i, pl.UInt32).alias(SLICE)) for i, r in enumerate(results)]
        )
        for t in results[0].frames
    }
    return frames, [r.problems for r in results]


def test_several_instagram_runs_at_once_equal_each_alone() -> None:
    runs = instagram_runs()
    together = transform_instagram_runs([(r.responses, r.channel) for r in runs])
    frames, problems = alone(runs)
    assert together.problems == problems
    assert all(problems), "every run has problems of its own to keep apart"
    for table, expected in frames.items():
        assert_frame_equal(together.frames[table], expected, check_row_order=True)
    assert together.frames["content_metrics_daily"].height == 7
    assert together.frames["channel"]["timezone"].to_list() == [
        "Asia/Jakarta",
        "Europe/Amsterdam",
        "Asia/Jakarta",
    ]


def test_a_batch_of_several_platforms_keeps_positions_and_problems() -> None:
    runs = instagram_runs()
    tiktok = ChannelSettings(platform="tiktok", handle="kotatiktok", account_id="tt-1")
    video = {
        "data": {
            "videos": [
                {
                    "id": "7001",
                    "create_time": 1764100000,
                    "title": "Halo #Kota",
                    "video_description": "Halo #Kota",
                    "share_url": "https://www.tiktok.com/@k/video/7001",
                    "view_count": 10,
                    "like_count": 2,
                    "comment_count": 1,
                    "share_count": 0,
                }
            ],
            "cursor": 0,
            "has_more": False,
        },
        "error": {"code": "ok", "message": "", "log_id": "x"},
    }
    tt = Run(ChannelRef("tiktok", "tt-1", "kotatiktok"), "run-t").add(
        "videos", video, "2026-11-26T01:00:00+00:00"
    )
    settings = [
        ChannelSettings(
            platform="instagram",
            handle=r.channel.handle,
            account_id=r.channel.channel_id,
            timezone=r.channel.timezone,
        )
        for r in runs
    ]
    batch = [(runs[0].responses, settings[0]), (tt.responses, tiktok), (runs[1].responses, settings[1])]
    together = transform_slices(batch)
    want_tt = transform_tiktok(tt.responses, ChannelRef("tiktok", "tt-1", "kotatiktok"))
    assert together.problems[1] == want_tt.problems
    assert want_tt.frames["content"]["content_id"].to_list() == ["7001"]
    assert_frame_equal(
        together.frames["content"].filter(pl.col(SLICE) == 1).drop(SLICE), want_tt.frames["content"]
    )
    ig, ig_problems = alone(runs[:2])
    assert [together.problems[0], together.problems[2]] == ig_problems
    assert_frame_equal(
        together.frames["content_metrics_daily"].filter(pl.col(SLICE) != 1),
        ig["content_metrics_daily"].with_columns(pl.col(SLICE) * 2),
    )
    assert together.frames["content"][SLICE].is_sorted()


def assert_each_as_alone(together: RunsResult, results: list[TransformResult]) -> None:
    """A several-run result equals the runs' results alone, frames tagged with the run's position."""
    assert together.problems == [r.problems for r in results]
    assert all(together.problems[:2]), "runs with problems of their own to keep apart"
    for table in results[0].frames:
        expected = pl.concat(
            [r.frames[table].with_columns(pl.lit(i, pl.UInt32).alias(SLICE)) for i, r in enumerate(results)]
        )
        assert_frame_equal(together.frames[table], expected, check_row_order=True)


TT_JAKARTA = ChannelRef("tiktok", "tt-1", "kotatiktok")
TT_AMSTERDAM = ChannelRef("tiktok", "tt-2", "kotatiktoknl", "Europe/Amsterdam")


def tiktok_user(channel: ChannelRef, followers: int, **extra: Any) -> dict[str, Any]:
    """A TikTok user/info body."""
    values = {"open_id": channel.channel_id, "display_name": "Kota", "username": channel.handle,
              "follower_count": followers, "following_count": 4, "video_count": 2}
    return {"data": {"user": values | extra}, "error": {"code": "ok", "message": "", "log_id": "x"}}


def tiktok_page(*videos: tuple[str, int], code: str = "ok") -> dict[str, Any]:
    """A TikTok video/list body: (id, views) pairs, one create_time each (None for id '-')."""
    items = [
        {"id": None if vid == "-" else vid, "create_time": 1795600000 + views, "title": "Halo",
         "video_description": f"Halo #Kota {vid}", "share_url": f"https://www.tiktok.com/@k/video/{vid}",
         "view_count": views, "like_count": views // 10, "comment_count": 1, "share_count": 0}
        for vid, views in videos
    ]
    return {"data": {"videos": items, "cursor": 0, "has_more": False},
            "error": {"code": code, "message": "", "log_id": "x"}}


def tiktok_runs() -> list[Run]:
    """TikTok runs sharing video ids across channels and days, two time zones, every problem kind."""
    # late: already 27 November in Jakarta (06:30) and in Amsterdam (00:30)
    day1, late = "2026-11-26T01:00:00+00:00", "2026-11-26T23:30:00+00:00"
    a = (
        Run(TT_JAKARTA, "run-ta")
        .add("user", tiktok_user(TT_JAKARTA, 15_000), day1)
        .add("videos", tiktok_page(("7001", 10), ("7002", 20)), day1)
        .add("video_query", tiktok_page(("7001", 12)), late)  # the same video later: a new local day
        .add("videos", tiktok_page(("7003", 5), code="rate_limit_exceeded"), day1)
        .add("videos", b"{not json", day1)
        .add("comments", {"data": {}}, day1)  # a stream TikTok's transform does not read
    )
    b = (
        Run(TT_AMSTERDAM, "run-tb")
        .add("user", tiktok_user(TT_JAKARTA, 99), day1)  # another account's user: a problem
        .add("user", tiktok_user(TT_AMSTERDAM, 800, username=""), late)
        .add("videos", tiktok_page(("7001", 30), ("-", 1)), late)
        .add("oauth_token", {"access_token": "x"}, day1)
    )
    c = (
        Run(TT_JAKARTA, "run-tc")
        .add("videos", tiktok_page(("7001", 40), ("7002", 41)), late)
        .add("videos", tiktok_page(("7002", 42)), late)  # twice in one run: the latest wins
    )
    return [a, b, c]


def test_several_tiktok_runs_at_once_equal_each_alone() -> None:
    runs = tiktok_runs()
    together = transform_tiktok_runs([(r.responses, r.channel) for r in runs])
    assert_each_as_alone(together, [transform_tiktok(r.responses, r.channel) for r in runs])
    facts = together.frames["content_metrics_daily"]
    assert facts.select(SLICE, "content_id", "snapshot_date", "views").rows() == [
        (0, "7001", dt.date(2026, 11, 26), 10),
        (0, "7001", dt.date(2026, 11, 27), 12),
        (0, "7002", dt.date(2026, 11, 26), 20),
        (1, "7001", dt.date(2026, 11, 27), 30),
        (2, "7001", dt.date(2026, 11, 27), 40),
        (2, "7002", dt.date(2026, 11, 27), 42),
    ]
    assert together.frames["channel"].select("channel_id", "handle", "timezone").rows() == [
        ("tt-1", "kotatiktok", "Asia/Jakarta"),
        ("tt-2", "kotatiktoknl", "Europe/Amsterdam"),
    ]


YT_JAKARTA = ChannelRef("youtube", "UC-kota", "kota")
YT_AMSTERDAM = ChannelRef("youtube", "UC-nl", "kotanl", "Europe/Amsterdam")


def youtube_channel(channel: ChannelRef, subscribers: str, custom: str | None = None) -> dict[str, Any]:
    """A channels.list answer about one channel."""
    snippet = {"title": "Kota"} | ({"customUrl": custom} if custom else {})
    stats = {"subscriberCount": subscribers, "hiddenSubscriberCount": False, "videoCount": "5"}
    return {"items": [{"id": channel.channel_id, "snippet": snippet, "statistics": stats}]}


def youtube_videos(*videos: tuple[str, str, str]) -> dict[str, Any]:
    """A videos.list answer: (id, duration, views) triples; an id of '-' has no readable publishedAt."""
    return {
        "items": [
            {
                "id": vid,
                "snippet": {"publishedAt": "not a time" if vid == "-" else "2026-11-20T03:15:00Z",
                            "title": f"Judul {vid}", "description": "#Kota", "liveBroadcastContent": "none"},
                "contentDetails": {"duration": duration},
                "statistics": {"viewCount": views, "likeCount": "1"},
            }
            for vid, duration, views in videos
        ]
    }


def youtube_runs() -> list[Run]:
    """YouTube runs sharing video ids across channels and days, two time zones, every problem kind."""
    day1, late = "2026-11-26T01:00:00+00:00", "2026-11-26T23:30:00+00:00"
    a = (
        Run(YT_JAKARTA, "run-ya")
        .add("channel", youtube_channel(YT_JAKARTA, "45200", "@kota"), day1)
        .add("playlist_items", {"items": []}, day1)
        .add("videos", youtube_videos(("v1", "PT45S", "10"), ("v2", "PT10M", "20")), day1)
        .add("videos", youtube_videos(("v1", "PT45S", "12")), late)
        .add("videos", b"[1, 2", day1)
        .add("captions", {"items": []}, day1)
    )
    b = (
        Run(YT_AMSTERDAM, "run-yb")
        .add("channel", youtube_channel(YT_JAKARTA, "1"), day1)  # about another channel: a problem
        .add("channel", youtube_channel(YT_AMSTERDAM, "800"), late)
        .add("videos", youtube_videos(("v1", "PT45S", "30"), ("-", "PT1M", "1")), late)
    )
    twice = youtube_videos(("v1", "PT45S", "40"), ("v1", "PT45S", "41"))  # one page: the later item wins
    c = Run(YT_JAKARTA, "run-yc").add("videos", twice, late)
    return [a, b, c]


def test_several_youtube_runs_at_once_equal_each_alone() -> None:
    runs = youtube_runs()
    together = transform_youtube_runs([(r.responses, r.channel) for r in runs])
    assert_each_as_alone(together, [transform_youtube(r.responses, r.channel) for r in runs])
    facts = together.frames["content_metrics_daily"]
    assert facts.select(SLICE, "content_id", "snapshot_date", "views").rows() == [
        (0, "v1", dt.date(2026, 11, 26), 10),
        (0, "v1", dt.date(2026, 11, 27), 12),
        (0, "v2", dt.date(2026, 11, 26), 20),
        (1, "v1", dt.date(2026, 11, 27), 30),
        (2, "v1", dt.date(2026, 11, 27), 41),
    ]
    assert together.frames["channel"].select("channel_id", "handle", "url", "timezone").rows() == [
        ("UC-kota", "kota", "https://www.youtube.com/channel/UC-kota", "Asia/Jakarta"),
        ("UC-nl", "kotanl", "https://www.youtube.com/channel/UC-nl", "Europe/Amsterdam"),
    ]


FB_JAKARTA = ChannelRef("facebook", "1049001", "PemkotTangerang")
FB_AMSTERDAM = ChannelRef("facebook", "1049002", "GemeenteNL", "Europe/Amsterdam")


def fb_page(channel: ChannelRef, followers: int) -> dict[str, Any]:
    """A Page snapshot body."""
    return {"id": channel.channel_id, "name": "Kota", "followers_count": followers,
            "link": f"https://www.facebook.com/{channel.handle}"}


def fb_posts(*posts: tuple[str | None, str, int]) -> dict[str, Any]:
    """A published_posts page: (id, created_time, reactions) triples; a None id is a post without one."""
    return {"data": [
        {"id": pid, "created_time": created, "message": "Halo #Kota", "status_type": "added_photos",
         "permalink_url": f"https://www.facebook.com/p/{pid}", "shares": {"count": 1},
         "reactions": {"summary": {"total_count": likes}}, "comments": {"summary": {"total_count": 2}},
         "insights": {"data": [{"name": "post_media_view", "period": "lifetime",
                                "values": [{"value": likes * 9}]}]}}
        for pid, created, likes in posts
    ]}


def fb_insights(end_time: str, views: int) -> dict[str, Any]:
    """Daily Page insights for one platform day."""
    values = [{"value": views, "end_time": end_time}]
    return {"data": [{"name": "page_media_view", "period": "day", "values": values}]}


def facebook_runs() -> list[Run]:
    """Facebook runs sharing post ids and days across channels, two time zones, every problem kind."""
    day1, late = "2026-11-26T01:00:00+00:00", "2026-11-26T23:30:00+00:00"
    made = "2026-11-20T03:15:00+0000"
    a = (
        Run(FB_JAKARTA, "run-fa")
        .add("page", fb_page(FB_JAKARTA, 186_000), day1)
        .add("page", fb_page(FB_JAKARTA, 186_100), late)  # a second local day
        .add("posts", fb_posts(("p1", made, 10), ("p2", made, 20)), day1)
        .add("posts", fb_posts(("p1", made, 12)), late)
        .add("page_insights", fb_insights("2026-11-25T08:00:00+0000", 5000), day1)
        .add("posts", b"{oops", day1)
        .add("videos", {"data": []}, day1)
    )
    b = (
        Run(FB_AMSTERDAM, "run-fb")
        .add("page", fb_page(FB_JAKARTA, 1), day1)  # about another Page: a problem
        .add("page", fb_page(FB_AMSTERDAM, 900), late)
        .add("posts", fb_posts(("p1", made, 30), (None, made, 1), ("p3", "not a time", 1)), late)
        .add("page_insights", fb_insights("2026-11-25T08:00:00+0000", 70), late)
    )
    c = Run(FB_JAKARTA, "run-fc").add("posts", fb_posts(("p1", made, 40), ("p2", made, 41)), late)
    return [a, b, c]


def test_several_facebook_runs_at_once_equal_each_alone() -> None:
    runs = facebook_runs()
    together = transform_facebook_runs([(r.responses, r.channel) for r in runs])
    assert_each_as_alone(together, [transform_facebook(r.responses, r.channel) for r in runs])
    facts = together.frames["content_metrics_daily"]
    assert facts.select(SLICE, "content_id", "snapshot_date", "likes").rows() == [
        (0, "p1", dt.date(2026, 11, 26), 10),
        (0, "p1", dt.date(2026, 11, 27), 12),
        (0, "p2", dt.date(2026, 11, 26), 20),
        (1, "p1", dt.date(2026, 11, 27), 30),
        (2, "p1", dt.date(2026, 11, 27), 40),
        (2, "p2", dt.date(2026, 11, 27), 41),
    ]
    daily = together.frames["channel_metrics_daily"]
    assert daily.select(SLICE, "channel_id", "snapshot_date", "followers", "views").rows() == [
        (0, "1049001", dt.date(2026, 11, 24), None, 5000),  # the platform day the end_time closes
        (0, "1049001", dt.date(2026, 11, 26), 186_000, None),
        (0, "1049001", dt.date(2026, 11, 27), 186_100, None),
        (1, "1049002", dt.date(2026, 11, 24), None, 70),
        (1, "1049002", dt.date(2026, 11, 27), 900, None),
    ]


X_JAKARTA = ChannelRef("x", "1001", "PemkotTangerang")
X_AMSTERDAM = ChannelRef("x", "1002", "gemeente", "Europe/Amsterdam")


def x_user(channel: ChannelRef, followers: int, username: str | None) -> dict[str, Any]:
    """A users/:id answer."""
    data = {"id": channel.channel_id, "name": "Kota",
            "public_metrics": {"followers_count": followers, "following_count": 3, "tweet_count": 9}}
    return {"data": data | ({"username": username} if username else {})}


def x_posts(*posts: tuple[str | None, str, int]) -> dict[str, Any]:
    """A timeline page: (id, created_at, likes) triples; a None id is a post without one."""
    return {"data": [
        {"id": pid, "created_at": created, "text": "Halo #Kota",
         "public_metrics": {"like_count": likes, "retweet_count": 1, "reply_count": 0, "quote_count": 2}}
        for pid, created, likes in posts
    ]}


def x_runs() -> list[Run]:
    """X runs sharing post ids and days across channels, two time zones, every problem kind."""
    day1, late = "2026-11-26T01:00:00+00:00", "2026-11-26T23:30:00+00:00"
    made = "2026-11-20T03:15:00.000Z"
    a = (
        Run(X_JAKARTA, "run-xa")
        .add("user", x_user(X_JAKARTA, 50_000, "kota_renamed"), day1)
        .add("user", x_user(X_JAKARTA, 50_100, None), late)  # no username: the earlier one names URLs
        .add("posts", x_posts(("t1", made, 10), ("t2", made, 20)), day1)
        .add("posts_lookup", x_posts(("t1", made, 12)), late)
        .add("posts", b"[", day1)
        .add("spaces", {"data": []}, day1)
    )
    b = (
        Run(X_AMSTERDAM, "run-xb")
        .add("user", x_user(X_JAKARTA, 1, "other"), day1)  # about another account: a problem
        .add("posts", x_posts(("t1", made, 30), (None, made, 1), ("t3", "not a time", 1)), late)
    )
    c = Run(X_JAKARTA, "run-xc").add("posts", x_posts(("t1", made, 40), ("t2", made, 41)), late)
    return [a, b, c]


def test_several_x_runs_at_once_equal_each_alone() -> None:
    runs = x_runs()
    together = transform_x_runs([(r.responses, r.channel) for r in runs])
    assert_each_as_alone(together, [transform_x(r.responses, r.channel) for r in runs])
    facts = together.frames["content_metrics_daily"]
    assert facts.select(SLICE, "content_id", "snapshot_date", "likes", "shares").rows() == [
        (0, "t1", dt.date(2026, 11, 26), 10, 3),
        (0, "t1", dt.date(2026, 11, 27), 12, 3),
        (0, "t2", dt.date(2026, 11, 26), 20, 3),
        (1, "t1", dt.date(2026, 11, 27), 30, 3),
        (2, "t1", dt.date(2026, 11, 27), 40, 3),
        (2, "t2", dt.date(2026, 11, 27), 41, 3),
    ]
    assert together.frames["content"].select(SLICE, "url").rows() == [
        (0, "https://x.com/kota_renamed/status/t1"),
        (0, "https://x.com/kota_renamed/status/t2"),
        (1, "https://x.com/gemeente/status/t1"),
        (2, "https://x.com/PemkotTangerang/status/t1"),
        (2, "https://x.com/PemkotTangerang/status/t2"),
    ]



def test_problems_go_to_the_run_of_their_raw_file_and_unknown_files_raise() -> None:
    """A problem lands on the run whose response it names, a failed (non-2xx) response's included;
    one naming no response of the runs is the transform's mistake and raises."""
    from transforms.runs import number_runs

    at = "2025-06-02T03:00:00+00:00"
    first = Run(JAKARTA, "run-a").add("media", page([]), at).add("media", {"error": {}}, at, status=500)
    second = Run(AMSTERDAM, "run-b").add("media", {"error": {}}, at, status=404)
    numbered = number_runs([(iter(first.responses), JAKARTA), (iter(second.responses), AMSTERDAM)])
    a_ok, a_failed = (r.raw_file for r in first.responses)
    b_failed = second.responses[0].raw_file

    split = numbered.split([f"{b_failed}: gone", f"{a_failed}: failed", f"{a_ok}: empty"])

    assert split == [[f"{a_failed}: failed", f"{a_ok}: empty"], [f"{b_failed}: gone"]]
    assert [len(pages) for pages in numbered.streams.values()] == [1]  # only 2xx responses are numbered
    with pytest.raises(ValueError, match="names no raw file of its runs"):
        numbered.split(["raw/elsewhere/00001-media.json.gz: stray"])
