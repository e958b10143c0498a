"""Graph API (Instagram, Facebook) page reading: nested insights, and a fast path for media pages.

A media listing page in the shape the API documents (``{"data": [{"id": "...", ...}]}`` with
string ids and texts, integer counters and ``insights.data[].values[].value`` integers) is
read with exactly that shape as its schema, skipping every field the transform does not read:
by Arrow's JSON reader, many pages at once in native threads without holding the GIL, and
where Arrow declines a group of pages, by msgspec page by page into typed structs turned into
columns (about as fast as decoding the JSON at all, where Polars' NDJSON reader spends several
times that on Meta's ASCII-escaped captions).

Anything else (a string where an integer belongs, a missing ``data``, an item that is not an
object, a body that is not JSON) fails the strict decode, and that page goes to the general
reader (``transforms.common.read_json_pages``), which names what was wrong. Both paths give the
same columns: the item fields plus one ``_insight_<name>`` column per insight name, the first
value of the first insight of that name, NULL when there is none.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Annotated

import msgspec
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

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
_CHUNK_ROWS = 4096  # decoded items turned into a frame at a time (``_strict_items``)
# Bodies handed to Arrow's JSON reader at a time: its joined input and its table are about
# twice this (16 MiB groups added 60 MB to a 24 MiB batch's peak; 4 MiB and the system
# allocator, which returns freed memory at once, none).
_ARROW_BYTES = 4 * 1024 * 1024
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
# The same page shape for Arrow's JSON reader: the item fields plus the nested insights.
_ARROW_VALUE = pa.struct([("value", pa.int64())])
_ARROW_INSIGHT = pa.struct([("name", pa.string()), ("values", pa.list_(_ARROW_VALUE))])
_ARROW_ITEM = pa.struct(
    [
        *((name, pa.int64() if dtype == pl.Int64() else pa.string()) for name, dtype in ITEM_FIELDS.items()),
        ("insights", pa.struct([("data", pa.list_(_ARROW_INSIGHT))])),
    ]
)
_ARROW_PARSE = pj.ParseOptions(
    explicit_schema=pa.schema([("data", pa.list_(_ARROW_ITEM))]), unexpected_field_behavior="ignore"
)


def insight_column(name: str) -> str:
    """The column holding one insight's value, e.g. ``_insight_views``."""
    return INSIGHT_PREFIX + name


def decode_media_pages(
    pages: Sequence[Numbered], insight_names: Iterable[str]
) -> tuple[pl.DataFrame, list[Numbered]]:
    """Items of the pages that decode strictly, one row each with ``_resp``; the pages that do not.

    Pages go to Arrow's JSON reader ``_ARROW_BYTES`` of bodies at a time (``_arrow_items``),
    which parses and builds the columns in native threads without holding the GIL; a group in
    which any page is not plainly in the documented shape goes page by page to msgspec
    (``_strict_items``) instead, which refuses exactly the pages it cannot read. Both give the
    same rows, in arrival order.
    """
    names = tuple(dict.fromkeys(insight_names))
    frames: list[pl.DataFrame] = []
    rejected: list[Numbered] = []
    for group in _groups(pages):
        frame = _arrow_items(group, names)
        if frame is None:
            frame, refused = _strict_items(group, names)
            rejected += refused
        frames.append(frame)
    if not frames:
        return _strict_items([], names)
    return (pl.concat(frames) if len(frames) > 1 else frames[0]), rejected


def _groups(pages: Sequence[Numbered]) -> Iterator[list[Numbered]]:
    """Consecutive pages, about ``_ARROW_BYTES`` of bodies a group."""
    group: list[Numbered] = []
    size = 0
    for page in pages:
        if group and size + len(page[1].body) > _ARROW_BYTES:
            yield group
            group, size = [], 0
        group.append(page)
        size += len(page[1].body)
    if group:
        yield group


def _arrow_items(pages: Sequence[Numbered], names: tuple[str, ...]) -> pl.DataFrame | None:
    """The pages' items read by Arrow's JSON reader, or None unless every page is plainly valid.

    Arrow reads newline-delimited JSON, with the explicit page schema: any value of another
    type, an integer outside int64, a float or a boolean where an integer belongs, a key given
    twice, invalid UTF-8 or a malformed body fails the whole group. So do a body that does not
    start with ``{`` or holds a newline (the framing), a missing or null ``data`` and a null
    item: msgspec then decides page by page, as it always did.
    """
    bodies = [response.body for _, response in pages]
    if not bodies or any(not body.startswith(b"{") or b"\n" in body for body in bodies):
        return None
    block = max(1 << 20, 2 * max(len(body) for body in bodies))
    try:
        table = pj.read_json(
            pa.py_buffer(b"\n".join(bodies)),
            read_options=pj.ReadOptions(block_size=block),
            parse_options=_ARROW_PARSE,
            memory_pool=pa.system_memory_pool(),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    data = table["data"]
    if table.num_rows != len(bodies) or data.null_count or pc.list_flatten(data).null_count:
        return None
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    numbered = frame.with_columns(pl.Series(RESP, [number for number, _ in pages], dtype=pl.Int64()))
    items = numbered.explode("data").filter(pl.col("data").is_not_null()).unnest("data")
    return items.select(
        RESP,
        *(pl.col(field).cast(dtype) for field, dtype in ITEM_FIELDS.items()),
        *(nested_insight(name).alias(insight_column(name)) for name in names),
    )


def _strict_items(pages: Sequence[Numbered], names: tuple[str, ...]) -> tuple[pl.DataFrame, list[Numbered]]:
    """msgspec, page by page: the items of the pages that decode strictly; the pages that do not.

    The items become columns ``_CHUNK_ROWS`` at a time: the decoded Python values (captions
    above all) live only until their chunk is a frame, not for the whole group.
    """
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
