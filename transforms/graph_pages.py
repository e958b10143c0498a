"""Graph API (Instagram, Facebook) page reading: nested insights, and a fast path for media pages.

A media listing page in the shape the API documents (``{"data": [{"id": "...", ...}]}`` with
string ids and texts, integer counters and ``insights.data[].values[].value`` integers) is
decoded by msgspec into typed structs, skipping every field the transform does not read, and
turned into columns in one pass: about as fast as decoding the JSON at all, where Polars'
NDJSON reader spends several times that on Meta's ASCII-escaped captions.

Anything else (a string where an integer belongs, a missing ``data``, an item that is not an
object, a body that is not JSON) fails the strict decode, and that page goes to the general
reader (``transforms.common.read_json_pages``), which names what was wrong. Both paths give the
same columns: the item fields plus one ``_insight_<name>`` column per insight name, the first
value of the first insight of that name, NULL when there is none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated

import msgspec
import polars as pl

from transforms.common import RESP, Numbered, read_json_pages

INSIGHT_PREFIX = "_insight_"
# Insight values are read as text: a few metrics carry objects; anything not an integer -> NULL.
INSIGHT = pl.Struct({"name": pl.Utf8(), "values": pl.List(pl.Struct({"value": pl.Utf8()}))})
# A counter outside Int64 fails the strict decode (the general reader makes it NULL).
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class _Value(msgspec.Struct):
    value: Int64 | None = None


class _Insight(msgspec.Struct):
    name: str | None = None
    values: list[_Value] | None = None


class _Insights(msgspec.Struct):
    data: list[_Insight] | None = None


class _Item(msgspec.Struct):
    id: str | None = None
    caption: str | None = None
    media_type: str | None = None
    media_product_type: str | None = None
    timestamp: str | None = None
    permalink: str | None = None
    like_count: Int64 | None = None
    comments_count: Int64 | None = None
    insights: _Insights | None = None


class _Page(msgspec.Struct):
    data: list[_Item]


_DECODER = msgspec.json.Decoder(_Page)
_CHUNK_ROWS = 4096  # decoded items turned into a frame at a time (``decode_media_pages``)
ITEM_FIELDS = {
    "id": pl.Utf8(),
    "caption": pl.Utf8(),
    "media_type": pl.Utf8(),
    "media_product_type": pl.Utf8(),
    "timestamp": pl.Utf8(),
    "permalink": pl.Utf8(),
    "like_count": pl.Int64(),
    "comments_count": pl.Int64(),
}


def insight_column(name: str) -> str:
    """The column holding one insight's value, e.g. ``_insight_views``."""
    return INSIGHT_PREFIX + name


def decode_media_pages(
    pages: Sequence[Numbered], insight_names: Iterable[str]
) -> tuple[pl.DataFrame, list[Numbered]]:
    """Items of the pages that decode strictly, one row each with ``_resp``; the pages that do not.

    The items become columns ``_CHUNK_ROWS`` at a time: the decoded Python values (captions
    above all) live only until their chunk is a frame, not for the whole batch.
    """
    names = tuple(dict.fromkeys(insight_names))
    schema = {RESP: pl.Int64(), **ITEM_FIELDS, **{insight_column(n): pl.Int64() for n in names}}
    chunks: list[pl.DataFrame] = []
    columns: dict[str, list[object]] = {name: [] for name in schema}
    rejected: list[Numbered] = []
    for number, response in pages:
        try:
            items = _DECODER.decode(response.body).data
        except (msgspec.DecodeError, msgspec.ValidationError):
            rejected.append((number, response))
            continue
        _add_items(columns, number, items, names)
        if len(columns[RESP]) >= _CHUNK_ROWS:
            chunks.append(pl.DataFrame(columns, schema=schema))
            columns = {name: [] for name in schema}
    if columns[RESP] or not chunks:
        chunks.append(pl.DataFrame(columns, schema=schema))
    return pl.concat(chunks) if len(chunks) > 1 else chunks[0], rejected


def _add_items(
    columns: dict[str, list[object]], number: int, items: list[_Item], names: tuple[str, ...]
) -> None:
    """Append one page's items to the columns."""
    columns[RESP] += [number] * len(items)
    for field in ITEM_FIELDS:
        columns[field] += [getattr(item, field) for item in items]
    found = [_first_values(item.insights) for item in items]
    for name in names:
        columns[insight_column(name)] += [values.get(name) for values in found]


def _first_values(insights: _Insights | None) -> dict[str | None, int | None]:
    """Per insight name, the first value of its first occurrence."""
    values: dict[str | None, int | None] = {}
    for insight in (insights.data or ()) if insights is not None else ():
        if insight.name not in values:
            values[insight.name] = insight.values[0].value if insight.values else None
    return values


def read_media_items(
    pages: Sequence[Numbered], item: pl.Struct, insight_names: Iterable[str]
) -> tuple[pl.DataFrame, list[str]]:
    """Media items of listing pages in arrival order: strict fast path, general reader for the rest.

    ``item`` is the general reader's schema of one item (``ITEM_FIELDS`` plus ``insights``).
    """
    fast, rejected = decode_media_pages(pages, insight_names)
    if not rejected:
        return fast, []
    frame, problems = read_json_pages(rejected, {"data": pl.List(item)})
    general = (
        frame.explode("data")
        .unnest("data")
        .with_columns(
            nested_insight(name).alias(insight_column(name)) for name in dict.fromkeys(insight_names)
        )
    )
    items = pl.concat([fast, general.select(fast.columns)]).sort(RESP, maintain_order=True)
    return items, problems


def nested_insight(name: str) -> pl.Expr:
    """One metric's value from an item's nested ``insights.data`` (NULL when absent)."""
    element = pl.element()
    return (
        pl.col("insights")
        .struct.field("data")
        .list.eval(
            element.filter(element.struct.field("name") == name)
            .struct.field("values")
            .list.first()
            .struct.field("value")
        )
        .list.first()
        .cast(pl.Int64(), strict=False)
    )
