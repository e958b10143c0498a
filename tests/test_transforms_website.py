"""Website transform: tiny WordPress REST, RSS and Atom bodies in, whole frames out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import polars as pl
from polars.testing import assert_frame_equal

from socmed.rawzone import StoredResponse
from transforms.common import ChannelRef
from transforms.schemas import KEYS, SCHEMAS
from transforms.website import transform_website
from validation.validate import validate_table

CHANNEL = ChannelRef(platform="website", channel_id="kota.example.go.id", handle="kota.example.go.id")
RUN = "run-20261126-0100"
T1 = "2026-11-26T01:00:00+00:00"
T2 = "2026-11-26T01:05:00+00:00"
HOME = "https://kota.example.go.id"


class Run:
    """Builds one run's StoredResponses in arrival order."""

    def __init__(self) -> None:
        self.responses: list[StoredResponse] = []

    def add(self, stream: str, body: Any, fetched_at: str = T1, status: int = 200,
            context: dict[str, str] | None = None) -> str:
        """Append a response (JSON-encoded unless bytes); returns its raw_file."""
        seq = len(self.responses) + 1
        raw_file = f"raw/platform=website/account=x/date=2026-11-26/run={RUN}/{seq:05d}-{stream}.json.gz"
        meta = {"platform": "website", "account": CHANNEL.channel_id, "stream": stream,
                "url": f"{HOME}/wp-json/", "status": status, "fetched_at": fetched_at, "run_id": RUN,
                "context": context or {}, "seq": seq}
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        self.responses.append(StoredResponse(meta=meta, body=data, raw_file=raw_file))
        return raw_file

    def frames(self) -> tuple[dict[str, pl.DataFrame], list[str]]:
        """The transform's frames and problems."""
        result = transform_website(self.responses, CHANNEL)
        return result.frames, result.problems


def utc(text: str) -> dt.datetime:
    """An aware UTC datetime."""
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


def frame(table: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Expected rows as a frame of the table's schema, sorted by its key."""
    return pl.DataFrame(rows, schema=SCHEMAS[table]).sort(KEYS[table])


def post(post_id: int, title: str = "Wali Kota &#8211; Apel Pagi", **fields: Any) -> dict[str, Any]:
    """One /wp/v2/posts item as requested with _fields and _embed=wp:term."""
    item: dict[str, Any] = {
        "id": post_id,
        "date_gmt": "2026-11-20T03:15:00",
        "modified_gmt": "2026-11-20T03:20:00",
        "slug": f"post-{post_id}",
        "link": f"{HOME}/berita/{post_id}/",
        "title": {"rendered": title},
        "excerpt": {"rendered": "<p>Warga &amp; pejabat hadir #AyoKeTangerang [&hellip;]</p>\n",
                    "protected": False},
        "categories": [3],
        "tags": [101],
        "_links": {"self": [{"href": f"{HOME}/wp-json/wp/v2/posts/{post_id}"}]},
        "_embedded": {"wp:term": [[{"id": 3, "name": "Pemerintahan", "taxonomy": "category"}],
                                  [{"id": 101, "name": "CFD Tangerang", "taxonomy": "post_tag"}]]},
    }
    item.update(fields)
    return item


def content_row(content_id: str, raw_file: str, **fields: Any) -> dict[str, Any]:
    """An expected content row for a post() default item."""
    row = {
        "platform": "website", "content_id": content_id, "channel_id": CHANNEL.channel_id,
        "content_type": "article", "media_type": "post", "published_at": utc("2026-11-20T03:15:00+00:00"),
        "title": "Wali Kota – Apel Pagi", "caption": "Warga & pejabat hadir #AyoKeTangerang […]",
        "url": f"{HOME}/berita/{content_id}/", "hashtags": ["pemerintahan", "cfdtangerang", "ayoketangerang"],
        "fetched_at": utc(T1), "run_id": RUN, "raw_file": raw_file,
    }
    row.update(fields)
    return row


SITE = {"name": "Pemerintah Kota &amp; Warga", "home": HOME, "namespaces": ["wp/v2"]}


def test_rest_pages_become_articles_channel_and_post_total() -> None:
    run = Run()
    site = run.add("site", SITE)
    page = run.add("posts", [post(7), post(8, title="<b>Bold</b> news", tags=[], _embedded=None)],
                   context={"listing": "all", "x-wp-total": "2", "x-wp-totalpages": "1"})
    frames, problems = run.frames()
    assert problems == []
    assert_frame_equal(frames["content"], frame("content", [
        content_row("7", page),
        content_row("8", page, title="Bold news", hashtags=["ayoketangerang"]),
    ]))
    assert_frame_equal(frames["channel"], frame("channel", [{
        "platform": "website", "channel_id": CHANNEL.channel_id, "handle": CHANNEL.handle,
        "display_name": "Pemerintah Kota & Warga", "url": HOME, "timezone": "Asia/Jakarta",
        "fetched_at": utc(T1), "run_id": RUN, "raw_file": site,
    }]))
    assert_frame_equal(frames["channel_metrics_daily"], frame("channel_metrics_daily", [{
        "platform": "website", "channel_id": CHANNEL.channel_id, "snapshot_date": dt.date(2026, 11, 26),
        "posts_count": 2, "fetched_at": utc(T1), "run_id": RUN, "raw_file": page,
    }]))
    assert frames["content_metrics_daily"].height == 0  # WordPress core reports no metric


def test_filtered_listings_give_no_post_total_and_the_latest_observation_wins() -> None:
    run = Run()
    run.add("site", SITE)
    run.add("posts", [post(7)], context={"listing": "modified_after", "x-wp-total": "1"})
    later = run.add("posts", [post(7, title="Edited")], fetched_at=T2,
                    context={"listing": "modified_after", "x-wp-total": "1"})
    frames, problems = run.frames()
    assert problems == []
    assert frames["channel_metrics_daily"].height == 0
    assert_frame_equal(frames["content"], frame("content", [
        content_row("7", later, title="Edited", fetched_at=utc(T2)),
    ]))


def test_failed_probes_and_errors_are_ignored_and_bad_bodies_reported() -> None:
    run = Run()
    run.add("site", b"<html>404</html>", status=404)
    run.add("site", b"<html>not json</html>")  # a custom CMS answering 200 HTML: the connector said so
    run.add("site", SITE)
    run.add("posts", {"code": "rest_post_invalid_page_number"}, status=400)
    bad = run.add("posts", b'[{"id": 1, "date_gmt": "2026-11-2', context={"listing": "all"})
    odd = run.add("posts", [post(9, date_gmt="yesterday"), {"title": "no id"}], context={"listing": "all"})
    frames, problems = run.frames()
    assert frames["content"].height == 0
    assert frames["channel"].height == 1
    assert len(problems) == 3
    assert problems[0].startswith(f"{bad}: body is not valid JSON")
    assert problems[1] == f"{odd}: 1 post(s) without an integer id skipped"
    assert problems[2] == f"{odd}: article '9' without an id or a readable date skipped"


RSS = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Kota &amp; Warga</title><link>{HOME}</link>
<item><title>Apel Pagi &#8211; Senin</title><link>{HOME}/berita/7/</link>
<pubDate>Tue, 02 Sep 2025 10:00:00 +0700</pubDate><category><![CDATA[Pemerintahan]]></category>
<guid isPermaLink="false">{HOME}/?p=7</guid>
<description><![CDATA[<p>Ringkas #CFDTangerang</p>]]></description></item>
<item><title>Tanpa guid</title><link>{HOME}/berita/detail/67001/tanpa-guid</link>
<pubDate>Tue, 02 Sep 2025 11:00:00 +0700</pubDate></item>
</channel></rss>""".encode()

ATOM = f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title type="text">Kota</title>
<link rel="alternate" type="text/html" href="{HOME}"/><id>{HOME}/feed/atom/</id>
<entry><title type="html">Apel &amp;#8211; Pagi</title><link rel="alternate" href="{HOME}/berita/7/"/>
<id>{HOME}/?p=7</id><updated>2025-09-03T00:00:00Z</updated><published>2025-09-02T03:00:00Z</published>
<category term="Ayo ke Tangerang"/><summary type="html">&lt;p&gt;Ringkas&lt;/p&gt;</summary></entry>
</feed>""".encode()


def test_rss_items_become_articles_with_wordpress_ids_where_the_guid_has_one() -> None:
    run = Run()
    feed = run.add("feed", RSS)
    frames, problems = run.frames()
    assert problems == []
    expected = [
        content_row("7", feed, media_type="rss", published_at=utc("2025-09-02T03:00:00+00:00"),
                    title="Apel Pagi – Senin", caption="Ringkas #CFDTangerang",
                    hashtags=["pemerintahan", "cfdtangerang"]),
        content_row(f"{HOME}/berita/detail/67001/tanpa-guid", feed, media_type="rss",
                    published_at=utc("2025-09-02T04:00:00+00:00"), title="Tanpa guid", caption=None,
                    url=f"{HOME}/berita/detail/67001/tanpa-guid", hashtags=[]),
    ]
    assert_frame_equal(frames["content"], frame("content", expected))
    assert frames["channel"]["display_name"].to_list() == ["Kota & Warga"]
    assert frames["channel_metrics_daily"].height == 0  # a feed gives no total


def test_atom_entries_become_articles() -> None:
    run = Run()
    feed = run.add("feed", ATOM)
    frames, problems = run.frames()
    assert problems == []
    assert_frame_equal(frames["content"], frame("content", [
        content_row("7", feed, media_type="atom", published_at=utc("2025-09-02T03:00:00+00:00"),
                    title="Apel – Pagi", caption="Ringkas", hashtags=["ayoketangerang"]),
    ]))
    assert frames["channel"].select("display_name", "url").row(0) == ("Kota", HOME)


def test_a_feed_that_is_not_one_is_reported() -> None:
    run = Run()
    html = run.add("feed", b"<html><body>Beranda</body></html>")
    broken = run.add("feed", RSS[:80])
    frames, problems = run.frames()
    assert frames["content"].height == 0
    assert problems[0] == f"{html}: <html> is neither an RSS 2.0 nor an Atom feed"
    assert problems[1].startswith(f"{broken}: feed is not XML")


def test_the_website_rules_quarantine_what_an_article_cannot_be() -> None:
    run = Run()
    run.add("site", SITE)
    run.add("posts", [post(7), post(8)], context={"listing": "all", "x-wp-total": "2"})
    frames, _ = run.frames()
    now = dt.datetime.now(dt.UTC)
    assert validate_table("content", frames["content"], now).failures == {}
    assert validate_table("channel_metrics_daily", frames["channel_metrics_daily"], now).failures == {}
    bad = frames["content"].with_columns(
        content_type=pl.Series(["post", "article"]), title=pl.Series([None, "t"], dtype=pl.Utf8()))
    assert validate_table("content", bad, now).failures == {
        'expect_column_values_to_be_in_set(content_type) if platform=="website"': 1,
        'expect_column_values_to_not_be_null(title) if platform=="website"': 1,
    }
    followers = frames["channel_metrics_daily"].with_columns(followers=pl.lit(5, dtype=pl.Int64()))
    assert validate_table("channel_metrics_daily", followers, now).failures == {
        'expect_column_values_to_be_null(followers) if platform=="website"': 1}
