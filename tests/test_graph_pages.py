"""Graph API media pages: the strict fast path gives exactly what the general reader gives."""

from __future__ import annotations

import json
import random
import unicodedata
from typing import Any

import orjson
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from benchmarks.captions import caption
from socmed.rawzone import StoredResponse
from tests.test_transforms_instagram import media
from transforms import graph_pages
from transforms.common import HASHTAG_PATTERN, RESP, hashtags, latest
from transforms.graph_pages import (
    _arrow_items,
    _strict_items,
    decode_media_pages,
    insight_column,
    read_media_items,
)
from transforms.instagram import _MEDIA_ITEM, MEDIA_INSIGHTS

NAMES = tuple(MEDIA_INSIGHTS)


def response(seq: int, body: Any) -> StoredResponse:
    """A stored media page (body JSON-encoded unless already bytes)."""
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    meta = {
        "stream": "media",
        "status": 200,
        "fetched_at": "2026-11-26T01:00:00+00:00",
        "run_id": "r",
        "seq": seq,
    }
    return StoredResponse(meta=meta, body=data, raw_file=f"raw/run=r/{seq:05d}-media.json.gz")


def item(media_id: str, **fields: Any) -> dict[str, Any]:
    """A reel with an emoji caption and nested insights (``media()`` with other defaults)."""
    views_reach = {
        "data": [{"name": "views", "values": [{"value": 90}]}, {"name": "reach", "values": [{"value": 40}]}]
    }
    defaults = {
        "caption": "Pagi di #Tangerang 😀\n#CarFreeDay",
        "media_type": "VIDEO",
        "media_product_type": "REELS",
    }
    return media(media_id, **{**defaults, "insights": views_reach, **fields})


# Items the fast path must read exactly as the general reader does.
EDGE_ITEMS = [
    item("1"),
    item("2", like_count=None, caption=None),
    {k: v for k, v in item("3").items() if k not in ("like_count", "insights", "permalink")},
    item("4", insights=None),
    item("5", insights={"data": []}),
    item(
        "6", insights={"data": [{"name": "views", "values": []}, {"name": "views", "values": [{"value": 7}]}]}
    ),
    item("7", insights={"data": [{"name": "saved", "values": [{"value": None}]}, {"name": "shares"}]}),
    item(
        "8",
        insights={"data": [{"name": "replies", "values": [{"value": 3}]}, {"name": "other", "values": []}]},
    ),
    item("9", extra={"nested": [1, 2]}, shortcode="x"),
]
# Pages the fast path must refuse (the general reader then decides, and names the problem).
REFUSED = [
    {"data": [item("20", like_count="10")]},
    {"data": [item("21", insights={"data": [{"name": "views", "values": [{"value": "12"}]}]})]},
    {"data": [item("22", insights={"data": [{"name": "views", "values": [{"value": 2**63}]}]})]},
    {"data": [item("23", id=23)]},
    {"data": [None, item("24")]},
    {"data": None},
    {"paging": {}},
    b"not json",
    b"",
]


def general(pages: list[tuple[int, StoredResponse]]) -> pl.DataFrame:
    """The general reader's items, with the same columns as the fast path."""
    frame, _ = read_media_items(pages, _MEDIA_ITEM, NAMES)
    return frame


def test_fast_path_equals_the_general_reader_on_every_edge_shape() -> None:
    pages = [(n, response(n, {"data": [i], "paging": {"next": "x"}})) for n, i in enumerate(EDGE_ITEMS)]
    fast, rejected = decode_media_pages(pages, NAMES)
    assert rejected == []
    # Force the general reader by making every page fail the strict decode: a trailing item
    # with a numeric id is read by the general reader as text; the rest must be equal.
    forced = [(n, response(n, {"data": [i, {"id": 777}]})) for n, i in enumerate(EDGE_ITEMS)]
    assert decode_media_pages(forced, NAMES)[1] == forced
    slow = general(forced).filter(pl.col("id") != "777")
    assert_frame_equal(fast, slow)
    assert fast.select(insight_column("views"), insight_column("replies")).rows()[5:8] == [
        (None, None),
        (None, None),
        (None, 3),
    ]


def test_refused_pages_go_to_the_general_reader_in_arrival_order() -> None:
    pages = [(0, response(0, {"data": [item("10")]}))]
    pages += [(n + 1, response(n + 1, body)) for n, body in enumerate(REFUSED)]
    pages.append((99, response(99, {"data": [item("11")]})))
    fast, rejected = decode_media_pages(pages, NAMES)
    assert fast["id"].to_list() == ["10", "11"]
    assert [n for n, _ in rejected] == list(range(1, len(REFUSED) + 1))
    items, problems = read_media_items(pages, _MEDIA_ITEM, NAMES)
    assert items["_resp"].to_list() == sorted(items["_resp"].to_list())
    assert items.filter(pl.col("id") == "21")[insight_column("views")].to_list() == [12]
    assert items.filter(pl.col("id") == "22")[insight_column("views")].to_list() == [None]
    assert {"10", "11", "21", "22", "24"} <= set(items["id"].drop_nulls().to_list())
    assert any("not valid JSON" in p for p in problems) and any("empty body" in p for p in problems)


def reference_hashtags(text: str | None) -> list[str]:
    """Hashtags by the original definition: normalise the whole text, then extract."""
    found = pl.select(
        pl.lit(text, dtype=pl.Utf8()).str.normalize("NFC").str.extract_all(HASHTAG_PATTERN)
    ).item()
    return list(dict.fromkeys(tag[1:].lower() for tag in ([] if found is None else found.to_list())))


TRICKY = [
    "#Cafe\u0301 dan #Café",
    "#e\u0301\u0323 #\u1100\u1161\u11a8 #한국",
    "#\u212bngstrom #\u2126hm",
    "#2026 #2026x #x2026 ＃ＴａｎｇｅｒａｎｇＫｏｔａ",
    "#tag=\u0338 #a\u0338b",
    "#İstanbul #ǅemal #ß",
    None,
    "",
]


@pytest.mark.parametrize("text", TRICKY)
def test_hashtags_normalise_only_the_tags_with_the_same_result(text: str | None) -> None:
    found = pl.select(hashtags(pl.lit(text, dtype=pl.Utf8()))).item().to_list()
    assert found == reference_hashtags(text)
    assert all(unicodedata.is_normalized("NFC", tag) for tag in found)


def test_hashtags_of_ascii_and_other_tags_in_one_column_match_the_reference() -> None:
    """Only non-ASCII tags go through the normaliser: rows and tags of both kinds side by side."""
    texts = [*TRICKY, "#Kota #Cafe\u0301 #kota #CAFÉ #x", "#plain #ascii", *TRICKY]
    found = pl.DataFrame({"t": texts}, schema={"t": pl.Utf8()}).select(hashtags(pl.col("t")))
    assert [list(tags) for tags in found.to_series().to_list()] == [reference_hashtags(t) for t in texts]
    assert found.to_series()[len(TRICKY)].to_list() == ["kota", "café", "x"]


def test_hashtags_of_generated_captions_match_the_reference() -> None:
    rng = random.Random(7)
    texts = [caption(rng, 2026) for _ in range(500)]
    found = pl.DataFrame({"t": texts}, schema={"t": pl.Utf8()}).select(hashtags(pl.col("t")))
    assert [list(tags) for tags in found.to_series().to_list()] == [reference_hashtags(t) for t in texts]
    assert sum(map(len, found.to_series().to_list())) > 500


def _meta_json(body: Any) -> bytes:
    """A body as Meta sends it: compact, every non-ASCII character escaped."""
    return json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode()


def test_arrow_reads_clean_pages_exactly_as_msgspec_does() -> None:
    rng = random.Random(7)
    generated = [
        item(str(100 + n), caption=caption(rng, 2026), like_count=rng.choice([None, n])) for n in range(300)
    ]
    bodies = [{"data": [i], "paging": {"next": "x"}} for i in EDGE_ITEMS]
    bodies += [{"data": generated[k : k + 50]} for k in range(0, 300, 50)] + [{"data": []}]
    pages = [(n, response(n, _meta_json(body))) for n, body in enumerate(bodies)]

    arrow = _arrow_items(pages, NAMES)
    strict, refused = _strict_items(pages, NAMES)

    assert arrow is not None and refused == []
    assert arrow.height == len(EDGE_ITEMS) + 300
    assert_frame_equal(arrow, strict)


@pytest.mark.parametrize(
    "bad",
    [
        *REFUSED,
        b'\xef\xbb\xbf{"data":[]}',  # a byte-order mark
        b'{"data":\n[]}',  # a newline between tokens: valid JSON, but not one line
        b'{"data":[{"id":"1","id":"2"}]}',  # a key given twice
        b'{"data":[{"id":"1","like_count":1.0}]}',
        b'{"data":[{"id":"1","like_count":true}]}',
    ],
    ids=repr,
)
def test_arrow_declines_a_group_with_any_page_msgspec_might_refuse(bad: Any) -> None:
    good = (0, response(0, {"data": [item("1")]}))
    assert _arrow_items([good], NAMES) is not None
    assert _arrow_items([good, (1, response(1, bad))], NAMES) is None


def test_groups_that_arrow_declines_go_page_by_page_to_msgspec(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graph_pages, "_ARROW_BYTES", 1)  # one page a group
    pages = [(0, response(0, {"data": [item("10")]}))]
    pages += [(n + 1, response(n + 1, body)) for n, body in enumerate(REFUSED)]
    pages.append((99, response(99, {"data": [item("11"), item("12")]})))

    fast, rejected = decode_media_pages(pages, NAMES)

    assert fast["id"].to_list() == ["10", "11", "12"] and fast["_resp"].to_list() == [0, 99, 99]
    assert [n for n, _ in rejected] == list(range(1, len(REFUSED) + 1))


def test_latest_of_a_table_keeps_the_same_rows_with_only_the_key_and_its_columns() -> None:
    """The daily facts' latest rows need not carry (and copy) the captions of the media rows."""
    from datetime import UTC, datetime

    at = [datetime(2026, 11, 20, h, tzinfo=UTC) for h in (3, 1, 3, 2)]
    media_rows = pl.DataFrame(
        {
            "__slice": [0, 0, 0, 1],
            RESP: [1, 2, 3, 4],
            "content_id": ["a", "a", "a", "a"],
            "snapshot_date": [at[0].date()] * 4,
            "views": [5, 9, 7, 1],
            "caption": ["long " * 400] * 4,
            "fetched_at": at,
        }
    )
    key = ["__slice", "content_id", "snapshot_date"]
    whole = latest(media_rows, key)
    narrow = latest(media_rows, key, "content_metrics_daily")
    assert narrow.columns == [*key, "views", "fetched_at"]
    assert_frame_equal(narrow, whole.select(narrow.columns))
    assert narrow.sort("__slice")["views"].to_list() == [7, 1]  # same time: the later arrival wins


def test_provenance_by_number_equals_the_join_and_falls_back_to_it() -> None:
    """Rows get their response's provenance by position where the numbering is 0, 1, ..."""
    from transforms.common import with_provenance

    prov = pl.DataFrame({RESP: [0, 1, 2], "run_id": ["r0", "r1", "r2"], "raw_file": ["f0", "f1", "f2"]})
    items = pl.DataFrame({RESP: [2, 0, 2, 1], "caption": ["c", "a", "d", "b"]})
    joined = items.join(prov, on=RESP, maintain_order="left")
    assert_frame_equal(with_provenance(items, prov), joined)
    assert with_provenance(items, prov)["run_id"].to_list() == ["r2", "r0", "r2", "r1"]
    gaps = prov.with_columns(pl.col(RESP) * 2)  # 0, 2, 4: not by position, a join
    assert_frame_equal(with_provenance(items, gaps), items.join(gaps, on=RESP, maintain_order="left"))
    stray = items.vstack(pl.DataFrame({RESP: [7], "caption": ["e"]}))  # no such response: dropped
    assert_frame_equal(with_provenance(stray, prov), joined)
    assert with_provenance(items.clear(), prov).columns == joined.columns
