"""Instagram transform: tiny, scrubbed Graph API bodies in, whole frames out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from socmed.rawzone import StoredResponse
from transforms.common import (
    ChannelRef,
    extract_hashtags,
    local_date,
    meta_platform_day,
    meta_timestamp,
)
from transforms.instagram import transform_instagram
from transforms.schemas import KEYS, SCHEMAS

CHANNEL = ChannelRef(platform="instagram", channel_id="17841400000000001", handle="kotatest")
RUN = "run-20261126-0100"
T1 = "2026-11-26T01:00:00+00:00"
T2 = "2026-11-26T01:05:00+00:00"


class Run:
    """Builds one run's StoredResponses in arrival order."""

    def __init__(self) -> None:
        self.responses: list[StoredResponse] = []

    def add(
        self,
        stream: str,
        body: Any,
        fetched_at: str = T1,
        status: int = 200,
        context: dict[str, str] | None = None,
    ) -> str:
        """Append a response; body is JSON-encoded unless already bytes; returns its raw_file."""
        seq = len(self.responses) + 1
        raw_file = (
            f"raw/platform=instagram/account={CHANNEL.channel_id}/date=2026-11-26/"
            f"run={RUN}/{seq:05d}-{stream}.json.gz"
        )
        meta = {
            "platform": "instagram",
            "account": CHANNEL.channel_id,
            "stream": stream,
            "url": f"https://graph.facebook.com/v24.0/{stream}?access_token=REDACTED",
            "status": status,
            "fetched_at": fetched_at,
            "run_id": RUN,
            "context": context or {},
            "seq": seq,
        }
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        self.responses.append(StoredResponse(meta=meta, body=data, raw_file=raw_file))
        return raw_file


def utc(text: str) -> dt.datetime:
    """An aware UTC datetime."""
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


def frame(table: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Expected rows as a frame of the table's schema, sorted by its key."""
    return pl.DataFrame(rows, schema=SCHEMAS[table]).sort(KEYS[table])


def insights(**values: int) -> dict[str, Any]:
    """A nested/per-media insights object with lifetime values."""
    return {
        "data": [
            {
                "name": name,
                "period": "lifetime",
                "values": [{"value": value}],
                "title": name,
                "description": "…",
                "id": f"1/insights/{name}/lifetime",
            }
            for name, value in values.items()
        ]
    }


def media(media_id: str, **fields: Any) -> dict[str, Any]:
    """One /media item with sensible defaults."""
    item: dict[str, Any] = {
        "id": media_id,
        "caption": "Pagi di #Tangerang",
        "media_type": "IMAGE",
        "media_product_type": "FEED",
        "timestamp": "2026-11-20T03:15:00+0000",
        "permalink": f"https://www.instagram.com/p/{media_id}/",
        "shortcode": media_id,
        "like_count": 10,
        "comments_count": 2,
    }
    item.update(fields)
    return item


def page(*items: dict[str, Any]) -> dict[str, Any]:
    """A /media page with a scrubbed paging block."""
    return {"data": list(items), "paging": {"cursors": {"before": "QVFIUb", "after": "QVFIUa"}}}


def content_row(media_id: str, raw_file: str, fetched_at: str = T1, **fields: Any) -> dict:
    """An expected content row for a media() default item."""
    row = {
        "platform": "instagram",
        "content_id": media_id,
        "channel_id": CHANNEL.channel_id,
        "content_type": "post",
        "media_type": "IMAGE",
        "published_at": utc("2026-11-20T03:15:00+00:00"),
        "title": None,
        "caption": "Pagi di #Tangerang",
        "url": f"https://www.instagram.com/p/{media_id}/",
        "hashtags": ["tangerang"],
        "fetched_at": utc(fetched_at),
        "run_id": RUN,
        "raw_file": raw_file,
    }
    row.update(fields)
    return row


def metrics_row(media_id: str, raw_file: str, fetched_at: str = T1, **metrics: int | None) -> dict:
    """An expected content_metrics_daily row (Jakarta date of fetched_at)."""
    day = utc(fetched_at).astimezone(dt.timezone(dt.timedelta(hours=7))).date()
    row = {
        "platform": "instagram",
        "content_id": media_id,
        "snapshot_date": day,
        "channel_id": CHANNEL.channel_id,
        "views": None,
        "reach": None,
        "likes": None,
        "comments": None,
        "shares": None,
        "saves": None,
        "fetched_at": utc(fetched_at),
        "run_id": RUN,
        "raw_file": raw_file,
    }
    row.update(metrics)
    return row


def test_account_gives_channel_and_profile_snapshot() -> None:
    run = Run()
    # 17:30 UTC is already the next day (00:30) in Jakarta.
    raw = run.add(
        "account",
        {
            "id": CHANNEL.channel_id,
            "username": "kotatest",
            "name": "Kota Test",
            "website": "https://kota.example",
            "profile_picture_url": "https://cdn.example/p.jpg",
            "followers_count": 12500,
            "follows_count": 80,
            "media_count": 930,
        },
        fetched_at="2026-11-26T17:30:00+00:00",
    )
    result = transform_instagram(run.responses, CHANNEL)
    assert result.problems == []
    assert_frame_equal(
        result.frames["channel"],
        frame(
            "channel",
            [
                {
                    "platform": "instagram",
                    "channel_id": CHANNEL.channel_id,
                    "handle": "kotatest",
                    "display_name": "Kota Test",
                    "url": "https://www.instagram.com/kotatest/",
                    "timezone": "Asia/Jakarta",
                    "fetched_at": utc("2026-11-26T17:30:00+00:00"),
                    "run_id": RUN,
                    "raw_file": raw,
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
                    "platform": "instagram",
                    "channel_id": CHANNEL.channel_id,
                    "snapshot_date": dt.date(2026, 11, 27),
                    "followers": 12500,
                    "following": 80,
                    "posts_count": 930,
                    "views": None,
                    "reach": None,
                    "fetched_at": utc("2026-11-26T17:30:00+00:00"),
                    "run_id": RUN,
                    "raw_file": raw,
                }
            ],
        ),
    )
    assert result.frames["content"].height == 0
    assert result.frames["content"].schema == SCHEMAS["content"]


def test_media_page_with_nested_insights() -> None:
    run = Run()
    raw = run.add(
        "media",
        page(
            media("1801", insights=insights(views=500, reach=300, saved=7, shares=4)),
            media(
                "1802",
                media_type="VIDEO",
                media_product_type="REELS",
                caption="#CFD2026 seru!! #Tangerang🎉#kotaTangerang #cfd2026",
                timestamp="2026-11-26T18:30:00+0000",
                like_count=0,
                comments_count=0,
                insights=insights(views=0, reach=0, saved=0),
            ),
            media("1803", media_type="CAROUSEL_ALBUM", caption=None),
        ),
        context={"insights": "nested"},
    )
    result = transform_instagram(run.responses, CHANNEL)
    assert result.problems == []
    assert_frame_equal(
        result.frames["content"],
        frame(
            "content",
            [
                content_row("1801", raw),
                content_row(
                    "1802",
                    raw,
                    content_type="reel",
                    media_type="VIDEO",
                    published_at=utc("2026-11-26T18:30:00+00:00"),
                    caption="#CFD2026 seru!! #Tangerang🎉#kotaTangerang #cfd2026",
                    hashtags=["cfd2026", "tangerang", "kotatangerang"],
                ),
                content_row(
                    "1803",
                    raw,
                    content_type="carousel",
                    media_type="CAROUSEL_ALBUM",
                    caption=None,
                    hashtags=[],
                ),
            ],
        ),
    )
    assert_frame_equal(
        result.frames["content_metrics_daily"],
        frame(
            "content_metrics_daily",
            [
                metrics_row("1801", raw, views=500, reach=300, likes=10, comments=2, saves=7, shares=4),
                # zeros the API reported stay zeros; the shares it did not report stay NULL
                metrics_row("1802", raw, views=0, reach=0, likes=0, comments=0, saves=0),
                metrics_row("1803", raw, likes=10, comments=2),
            ],
        ),
    )


def test_hidden_like_count_is_null_not_zero() -> None:
    run = Run()
    item = media("1801", insights=insights(reach=40))
    del item["like_count"]
    raw = run.add("media", page(item))
    metrics = transform_instagram(run.responses, CHANNEL).frames["content_metrics_daily"]
    assert_frame_equal(
        metrics, frame("content_metrics_daily", [metrics_row("1801", raw, reach=40, comments=2)])
    )


def test_content_types_follow_product_and_media_type() -> None:
    run = Run()
    kinds = [
        ("REELS", "VIDEO"),
        ("STORY", "IMAGE"),
        ("AD", "VIDEO"),
        ("FEED", "VIDEO"),
        ("FEED", "IMAGE"),
        ("FEED", "CAROUSEL_ALBUM"),
        (None, "IMAGE"),
    ]
    run.add(
        "media", page(*[media(str(i), media_product_type=p, media_type=m) for i, (p, m) in enumerate(kinds)])
    )
    content = transform_instagram(run.responses, CHANNEL).frames["content"]
    assert content["content_type"].to_list() == ["reel", "story", "ad", "video", "post", "carousel", "post"]


def test_per_media_insights_fill_nulls_of_a_safe_page() -> None:
    run = Run()
    run.add("media", page(media("1801")), status=400, context={"insights": "nested"})
    page_file = run.add(
        "media",
        page(media("1801", insights=insights(reach=300, saved=7)), media("1802", insights=insights(reach=9))),
        context={"insights": "safe"},
    )
    views_file = run.add(
        "media_insights",
        insights(views=500, shares=4, reach=999),
        fetched_at=T2,
        context={"media_id": "1801"},
    )
    run.add("media_insights", {"data": []}, fetched_at=T2, context={"media_id": "1802"})
    result = transform_instagram(run.responses, CHANNEL)
    assert result.problems == []
    assert_frame_equal(
        result.frames["content_metrics_daily"],
        frame(
            "content_metrics_daily",
            [
                # the page's reach wins; views and shares come from the per-media call, so does provenance
                metrics_row(
                    "1801", views_file, T2, views=500, reach=300, likes=10, comments=2, saves=7, shares=4
                ),
                metrics_row("1802", page_file, reach=9, likes=10, comments=2),
            ],
        ),
    )


def test_multi_id_lookup_fills_nulls_of_a_safe_page() -> None:
    run = Run()
    run.add("media", page(media("1801")), status=400, context={"insights": "nested"})
    page_file = run.add(
        "media",
        page(media("1801", insights=insights(reach=300)), media("1802", insights=insights(reach=9))),
        context={"insights": "safe"},
    )
    run.add("media_insights_multi", {"error": {"code": 100}}, status=400, context={"media_ids": "1801,1802"})
    lookup = {"1801": {"insights": insights(views=500), "id": "1801"}, "1802": {"id": "1802"}}
    views_file = run.add("media_insights_multi", lookup, fetched_at=T2, context={"media_ids": "1801,1802"})
    run.add("media_insights_multi", b"[]", fetched_at=T2, context={"media_ids": "1802"})
    result = transform_instagram(run.responses, CHANNEL)
    assert [p.split(": ", 1)[1] for p in result.problems] == [
        "media 1802 without insights.data",
        "media_insights_multi body is not an object keyed by media id",
    ]
    assert_frame_equal(
        result.frames["content_metrics_daily"],
        frame(
            "content_metrics_daily",
            [
                metrics_row("1801", views_file, T2, views=500, reach=300, likes=10, comments=2),
                metrics_row("1802", page_file, reach=9, likes=10, comments=2),
            ],
        ),
    )


def test_metric_by_metric_fallback_calls_combine() -> None:
    run = Run()
    run.add("media", page(media("1801")))
    run.add("media_insights", insights(views=500), fetched_at=T2, context={"media_id": "1801"})
    last = run.add("media_insights", insights(saved=3), fetched_at=T2, context={"media_id": "1801"})
    metrics = transform_instagram(run.responses, CHANNEL).frames["content_metrics_daily"]
    assert_frame_equal(
        metrics,
        frame(
            "content_metrics_daily", [metrics_row("1801", last, T2, views=500, likes=10, comments=2, saves=3)]
        ),
    )


def test_duplicate_media_keep_latest_observation() -> None:
    run = Run()
    run.add("media", page(media("1801", like_count=10, insights=insights(views=100))))
    newer = run.add(
        "media",
        page(media("1801", like_count=12, caption="Edit #Baru", insights=insights(views=150))),
        fetched_at=T2,
    )
    run.add("media", page(media("1801", like_count=11)), fetched_at=T1)  # older, arrived last
    result = transform_instagram(run.responses, CHANNEL)
    assert_frame_equal(
        result.frames["content"],
        frame("content", [content_row("1801", newer, T2, caption="Edit #Baru", hashtags=["baru"])]),
    )
    assert_frame_equal(
        result.frames["content_metrics_daily"],
        frame("content_metrics_daily", [metrics_row("1801", newer, T2, views=150, likes=12, comments=2)]),
    )


def test_fetch_across_jakarta_midnight_gives_two_snapshot_days() -> None:
    run = Run()
    run.add("media", page(media("1801")), fetched_at="2026-11-26T16:59:00+00:00")
    late = run.add("media", page(media("1801", like_count=11)), fetched_at="2026-11-26T17:30:00+00:00")
    metrics = transform_instagram(run.responses, CHANNEL).frames["content_metrics_daily"]
    assert metrics["snapshot_date"].to_list() == [dt.date(2026, 11, 26), dt.date(2026, 11, 27)]
    assert metrics.row(1, named=True)["raw_file"] == late


def test_account_insights_land_on_the_platform_day() -> None:
    run = Run()
    account = run.add(
        "account",
        {
            "id": CHANNEL.channel_id,
            "username": "kotatest",
            "followers_count": 100,
            "follows_count": 5,
            "media_count": 9,
        },
    )
    reach = run.add(
        "account_insights",
        {
            "data": [
                {
                    "name": "reach",
                    "period": "day",
                    "title": "Reach",
                    "id": "x/insights/reach/day",
                    "values": [
                        {"value": 410, "end_time": "2026-11-25T08:00:00+0000"},
                        {"value": 420, "end_time": "2026-11-26T08:00:00+0000"},
                    ],
                },
                {
                    "name": "follower_count",
                    "period": "day",
                    "values": [{"value": 3, "end_time": "2026-11-26T08:00:00+0000"}],
                },
            ]
        },
        context={"metric_type": "time_series", "period": "day"},
    )
    views = run.add(
        "account_insights",
        {
            "data": [
                {"name": "views", "period": "day", "total_value": {"value": 2300}, "id": "x"},
            ]
        },
        fetched_at=T2,
        context={"metric_type": "total_value", "since": "2026-11-25", "until": "2026-11-25"},
    )
    result = transform_instagram(run.responses, CHANNEL)
    assert result.problems == []
    base = {
        "platform": "instagram",
        "channel_id": CHANNEL.channel_id,
        "followers": None,
        "following": None,
        "posts_count": None,
        "views": None,
        "run_id": RUN,
    }
    assert_frame_equal(
        result.frames["channel_metrics_daily"],
        frame(
            "channel_metrics_daily",
            [
                {
                    **base,
                    "snapshot_date": dt.date(2026, 11, 24),
                    "reach": 410,
                    "fetched_at": utc(T1),
                    "raw_file": reach,
                },
                # Pacific day 2026-11-25 (ends 2026-11-26 08:00 UTC): reach and views merged in one row
                {
                    **base,
                    "snapshot_date": dt.date(2026, 11, 25),
                    "reach": 420,
                    "views": 2300,
                    "fetched_at": utc(T2),
                    "raw_file": views,
                },
                {
                    **base,
                    "snapshot_date": dt.date(2026, 11, 26),
                    "followers": 100,
                    "following": 5,
                    "posts_count": 9,
                    "reach": None,
                    "fetched_at": utc(T1),
                    "raw_file": account,
                },
            ],
        ),
    )


def test_total_value_over_several_days_is_not_a_daily_value() -> None:
    run = Run()
    raw = run.add(
        "account_insights",
        {"data": [{"name": "views", "period": "day", "total_value": {"value": 9000}}]},
        context={"metric_type": "total_value", "since": "2026-11-19", "until": "2026-11-26"},
    )
    result = transform_instagram(run.responses, CHANNEL)
    assert result.frames["channel_metrics_daily"].height == 0
    assert result.problems == [
        f"{raw}: total_value 'views' skipped: window 2026-11-19..2026-11-26 is not one day"
    ]


def test_total_value_since_as_unix_seconds_is_a_pacific_day() -> None:
    run = Run()
    # 1795593600 = 2026-11-25T08:00:00Z = Pacific midnight starting 2026-11-25
    run.add(
        "account_insights",
        {"data": [{"name": "views", "period": "day", "total_value": {"value": 7}}]},
        context={"metric_type": "total_value", "since": "1795593600", "until": "1795593600"},
    )
    result = transform_instagram(run.responses, CHANNEL)
    assert result.problems == []
    daily = result.frames["channel_metrics_daily"]
    assert daily.select("snapshot_date", "views").rows() == [(dt.date(2026, 11, 25), 7)]


def test_foreign_account_and_bad_end_time_are_problems() -> None:
    run = Run()
    foreign = run.add("account", {"id": "17841499999999999", "username": "lain"})
    bad_end = run.add(
        "account_insights",
        {"data": [{"name": "reach", "period": "day", "values": [{"value": 1, "end_time": "kemarin"}]}]},
    )
    result = transform_instagram(run.responses, CHANNEL)
    assert result.problems == [
        f"{foreign}: account 17841499999999999 is not channel {CHANNEL.channel_id}",
        f"{bad_end}: account insight value with unreadable end_time 'kemarin' skipped",
    ]
    assert all(frame.height == 0 for frame in result.frames.values())


def test_non_2xx_responses_are_skipped() -> None:
    run = Run()
    error = {
        "error": {
            "message": "(#4) Application request limit reached",
            "code": 4,
            "type": "OAuthException",
            "fbtrace_id": "AbCdEf",
        }
    }
    run.add("media", error, status=400)
    run.add("account", b"<html>Bad Gateway</html>", status=502)
    raw = run.add("media", page(media("1801")))
    result = transform_instagram(run.responses, CHANNEL)
    assert result.problems == []
    assert result.frames["content"]["raw_file"].to_list() == [raw]
    assert result.frames["channel"].height == 0


def test_malformed_bodies_become_problems() -> None:
    run = Run()
    truncated = run.add("media", b'{"data":[{"id":"1801","caption":"Pagi')
    not_json = run.add("account", b"<html>oops</html>")
    no_data = run.add("media", {"error": {"message": "x", "code": 1}})
    bad_type = run.add("media", page(media("1802", like_count="many")))
    no_id = run.add("media", page({"caption": "tanpa id"}, media("1803")))
    good = run.add("media", orjson.dumps(page(media("1804")), option=orjson.OPT_INDENT_2))
    empty = run.add("media_insights", b"", context={"media_id": "1804"})
    result = transform_instagram(run.responses, CHANNEL)
    assert result.frames["content"]["content_id"].to_list() == ["1803", "1804"]
    assert result.frames["content"]["raw_file"].to_list() == [no_id, good]
    problems = "\n".join(result.problems)
    assert len(result.problems) == 6, problems
    for raw in (truncated, not_json, no_data, bad_type, no_id, empty):
        assert raw in problems
    assert f"{truncated}: body is not valid JSON" in problems
    assert f"{no_data}: body lacks 'data'" in problems
    assert f"{bad_type}: unexpected body shape" in problems
    assert f"{no_id}: media item without 'id' skipped" in problems


def test_insights_for_unknown_media_are_reported() -> None:
    run = Run()
    run.add("media", page(media("1801")))
    run.add("media_insights", insights(views=1), context={"media_id": "1999"})
    run.add("live_media", {"data": []})
    result = transform_instagram(run.responses, CHANNEL)
    assert result.frames["content_metrics_daily"]["content_id"].to_list() == ["1801"]
    assert any(p.endswith("media 1999 not in any media page of the run; ignored") for p in result.problems)
    assert any("stream 'live_media' not transformed" in p for p in result.problems)


def test_output_schemas_and_unique_keys() -> None:
    run = Run()
    run.add("account", {"id": CHANNEL.channel_id, "username": "kotatest", "followers_count": 1})
    run.add(
        "account", {"id": CHANNEL.channel_id, "username": "kotatest", "followers_count": 2}, fetched_at=T2
    )
    run.add("media", page(media("1801"), media("1801"), media("1802")))
    result = transform_instagram(run.responses, CHANNEL)
    for table, out in result.frames.items():
        assert out.schema == SCHEMAS[table]
        assert out.select(KEYS[table]).is_duplicated().sum() == 0
    assert result.frames["channel_metrics_daily"]["followers"].to_list() == [2]


def test_wrong_platform_channel_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="facebook"):
        transform_instagram([], ChannelRef("facebook", "1", "x"))


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("Pagi di #Tangerang bersama #Warga", ["tangerang", "warga"]),
        ("#CFD2026 dan #cfd2026 lagi #CFD2026", ["cfd2026"]),
        ("Seru🎉#Tangerang🎉 #KotaKita!", ["tangerang", "kotakita"]),
        ("#satu,#dua.#tiga;(#empat) #lima:", ["satu", "dua", "tiga", "empat", "lima"]),
        ("#a#b", ["a", "b"]),
        ("Tahun #2026 bukan tag, #2026tangerang iya", ["2026tangerang"]),
        ("Hari #Pahlawan_Nasional", ["pahlawan_nasional"]),
        ("#ÖffentlicheVerwaltung #MAKANAN_Enak #日本", ["öffentlicheverwaltung", "makanan_enak", "日本"]),
        ("#Cafe\u0301 dan #Café", ["café"]),
        ("＃Jakarta", ["jakarta"]),
        ("tanpa tag # saja", []),
        ("", []),
        (None, []),
    ],
)
def test_hashtag_extraction(text: str | None, tags: list[str]) -> None:
    assert extract_hashtags(text) == tags


def test_time_helpers() -> None:
    stamps = pl.DataFrame(
        {
            "ts": ["2026-11-26T18:30:00+0000", "2026-11-26T16:59:59+0000", "bad"],
            "end": ["2026-11-26T08:00:00+0000", "2026-07-26T07:00:00+0000", "2026-11-26T07:00:00+0000"],
        }
    )
    out = stamps.select(
        ts=meta_timestamp(pl.col("ts")),
        local=local_date(meta_timestamp(pl.col("ts")), "Asia/Jakarta"),
        platform_day=meta_platform_day(meta_timestamp(pl.col("end"))),
    )
    assert_frame_equal(
        out,
        pl.DataFrame(
            {
                "ts": [utc("2026-11-26T18:30:00+00:00"), utc("2026-11-26T16:59:59+00:00"), None],
                # a post at 18:30 UTC is already the next day in Jakarta (UTC+7)
                "local": [dt.date(2026, 11, 27), dt.date(2026, 11, 26), None],
                # Pacific midnight in winter (08:00 UTC) and summer (07:00 UTC) closes the previous day
                "platform_day": [dt.date(2026, 11, 25), dt.date(2026, 7, 25), dt.date(2026, 11, 25)],
            },
            schema={"ts": pl.Datetime("us", "UTC"), "local": pl.Date(), "platform_day": pl.Date()},
        ),
    )
