"""Manual imports: CSV files of the documented templates -> frames of the common schema.

One landed file is one response; its stream names its table (``channel_metrics_daily``,
``content``, ``content_metrics_daily``). A file is all or nothing: one bad cell (not a whole
number, not a date, an unknown column, a key repeated within the file) rejects the whole file
with a problem naming the file, the line and the column, so a corrected copy can simply be
dropped again; the other files of the run still load. Rows carry the file's provenance
(``fetched_at`` = when it was landed), so a later file with corrected values wins.

Conventions: dates are ``YYYY-MM-DD`` in the channel's time zone; ``published_at`` is ISO 8601,
read in the channel's time zone when it has no offset; numbers are whole, without thousands
separators; an empty cell is NULL (not reported), never 0; hashtags are separated by spaces,
commas or semicolons, with or without ``#``. Cells are UTF-8 (a spreadsheet's BOM is fine),
separated by commas, or by semicolons when the header row has no comma.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from socmed.rawzone import StoredResponse
from transforms.common import (
    RESP,
    ChannelRef,
    TransformResult,
    finish_table,
    group_streams,
    latest,
    provenance,
)
from transforms.schemas import KEYS, SCHEMAS, empty

PLATFORM = "manual"
INT_METRICS = {
    "channel_metrics_daily": ("followers", "following", "posts_count", "views", "reach"),
    "content_metrics_daily": ("views", "reach", "likes", "comments", "shares", "saves"),
}
TEXT = ("title", "caption", "url", "media_type")


class CellError(ValueError):
    """A cell that does not fit its column."""


def whole_number(text: str, _tz: ZoneInfo) -> int:
    """A non-negative or negative whole number written with digits only."""
    if not re.fullmatch(r"-?\d+", text):
        raise CellError(f"{text!r} is not a whole number (write 12000, without separators or decimals)")
    return int(text)


def day(text: str, _tz: ZoneInfo) -> dt.date:
    """A ``YYYY-MM-DD`` date."""
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
    except ValueError:
        pass
    raise CellError(f"{text!r} is not a date (write YYYY-MM-DD, e.g. 2026-05-31)")


def moment(text: str, tz: ZoneInfo) -> dt.datetime:
    """An ISO 8601 date-time (or date) as UTC; without an offset it is the channel's local time."""
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CellError(f"{text!r} is not a date-time (write 2026-05-02T08:00:00+07:00 or 2026-05-02 08:00)"
                        ) from None
    return (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(dt.UTC)


def lower(text: str, _tz: ZoneInfo) -> str:
    """A code such as a content type, lower case (the content suite checks the allowed values)."""
    return text.lower()


def tag_list(text: str, _tz: ZoneInfo) -> list[str]:
    """Hashtags separated by spaces, commas or semicolons; '#' optional; lower case, unique."""
    tags = [t.lstrip("#＃").lower() for t in re.split(r"[\s,;]+", text) if t.lstrip("#＃")]
    return list(dict.fromkeys(tags))


def text_cell(text: str, _tz: ZoneInfo) -> str:
    """Free text, as written."""
    return text


Parser = Callable[[str, ZoneInfo], Any]


@dataclass(frozen=True)
class Template:
    """One table's CSV template: its columns, the required ones, and how each cell is read."""

    table: str
    columns: dict[str, Parser]
    required: tuple[str, ...]
    key: tuple[str, ...]


TEMPLATES = {
    "channel_metrics_daily": Template(
        "channel_metrics_daily",
        {"snapshot_date": day, **dict.fromkeys(INT_METRICS["channel_metrics_daily"], whole_number)},
        ("snapshot_date",), ("snapshot_date",)),
    "content": Template(
        "content",
        {"content_id": text_cell, "content_type": lower, "published_at": moment,
         **dict.fromkeys(TEXT, text_cell), "hashtags": tag_list},
        ("content_id", "content_type", "published_at"), ("content_id",)),
    "content_metrics_daily": Template(
        "content_metrics_daily",
        {"content_id": text_cell, "snapshot_date": day,
         **dict.fromkeys(INT_METRICS["content_metrics_daily"], whole_number)},
        ("content_id", "snapshot_date"), ("content_id", "snapshot_date")),
}


def transform_manual(responses: Iterable[StoredResponse], channel: ChannelRef) -> TransformResult:
    """One run's landed CSV files -> the common-schema frames; a bad file becomes a problem."""
    if channel.platform != PLATFORM:
        raise ValueError(f"transform_manual got a {channel.platform!r} channel")
    streams = group_streams(responses)
    prov = provenance(pair for pages in streams.values() for pair in pages)
    problems: list[str] = []
    rows: dict[str, list[dict[str, Any]]] = {table: [] for table in TEMPLATES}
    tz = ZoneInfo(channel.timezone)
    for stream, files in streams.items():
        for number, response in files:
            found, error = read_file(stream, response, tz)
            if error is not None:
                problems.append(error)
                continue
            rows[stream] += [{**row, RESP: number} for row in found]
    frames = {table: _frame(table, rows[table], prov, channel) for table in TEMPLATES}
    frames["channel"] = _channel(rows, prov, channel)
    return TransformResult({t: finish_table(t, frames[t]) for t in SCHEMAS}, problems)


def _where(response: StoredResponse) -> str:
    """A file as problems name it: the dropped file's name and its raw-zone copy."""
    name = (response.meta.get("context") or {}).get("file", "?")
    return f"file {name!r} (raw copy {response.raw_file})"


def read_file(stream: str, response: StoredResponse, tz: ZoneInfo) -> tuple[list[dict[str, Any]], str | None]:
    """A file's rows, or none and one problem naming the file, the line and the column."""
    template = TEMPLATES.get(stream)
    if template is None:
        names = ", ".join(f"{t}: {', '.join(tpl.required)}" for t, tpl in TEMPLATES.items())
        return [], f"{_where(response)}: line 1: the header row matches no template (needs {names})"
    try:
        text = response.body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], f"{_where(response)}: not UTF-8 text (byte {exc.start}); save it as CSV UTF-8"
    try:
        return _rows(template, text, tz), None
    except CellError as exc:
        return [], f"{_where(response)}: {exc}"


def _rows(template: Template, text: str, tz: ZoneInfo) -> list[dict[str, Any]]:
    """Parse and check every row; CellError names the line and column of the first bad cell."""
    first = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text), delimiter=";" if ";" in first and "," not in first else ",")
    header = [c.strip().lower() for c in next(reader, [])]
    _check_header(template, header)
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[Any, ...], int] = {}
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        line = reader.line_num
        row = _row(template, header, cells, line, tz)
        key = tuple(row[k] for k in template.key)
        if key in seen:
            named = ", ".join(f"{k}={v}" for k, v in zip(template.key, key, strict=True))
            raise CellError(f"line {line}, column {template.key[-1]!r}: {named} repeats line {seen[key]}")
        seen[key] = line
        rows.append(row)
    return rows


def _check_header(template: Template, header: list[str]) -> None:
    """Every column known and no required one missing."""
    unknown = [c for c in header if c not in template.columns]
    if unknown:
        raise CellError(f"line 1, column {unknown[0]!r}: not a column of the {template.table} template "
                        f"(columns: {', '.join(template.columns)})")
    missing = [c for c in template.required if c not in header]
    if missing or len(set(header)) < len(header):
        what = f"required column {missing[0]!r} is missing" if missing else "a column appears twice"
        raise CellError(f"line 1: {what}")


def _row(template: Template, header: list[str], cells: list[str], line: int, tz: ZoneInfo) -> dict[str, Any]:
    """One data row, typed."""
    if len(cells) > len(header):
        raise CellError(f"line {line}: {len(cells)} cells but {len(header)} columns (a separator too many?)")
    row: dict[str, Any] = dict.fromkeys(template.columns)
    for column, cell in zip(header, cells, strict=False):
        value = cell.strip()
        if value:
            try:
                row[column] = template.columns[column](value, tz)
            except CellError as exc:
                raise CellError(f"line {line}, column {column!r}: {exc}") from None
    for column in template.required:
        if row[column] is None:
            raise CellError(f"line {line}, column {column!r}: a value is required")
    if "hashtags" in row and row["hashtags"] is None:
        row["hashtags"] = []
    return row


def _frame(table: str, rows: list[dict[str, Any]], prov: pl.DataFrame, channel: ChannelRef) -> pl.DataFrame:
    """One table's rows with provenance; the latest file wins where two give the same key."""
    if not rows:
        return empty(table)
    frame = pl.DataFrame(rows, schema={**_row_schema(table), RESP: pl.Int64()}).join(prov, on=RESP)
    return frame.with_columns(platform=pl.lit(PLATFORM), channel_id=pl.lit(channel.channel_id)).pipe(
        latest, KEYS[table])


def _row_schema(table: str) -> dict[str, pl.DataType]:
    """The schema of a template's parsed rows (the table's own column types)."""
    return {name: SCHEMAS[table][name] for name in TEMPLATES[table].columns}


def _channel(rows: dict[str, list[dict[str, Any]]], prov: pl.DataFrame, channel: ChannelRef) -> pl.DataFrame:
    """The channel row (from the configuration) once any file of the run was read."""
    numbers = sorted({row[RESP] for table in rows.values() for row in table})
    if not numbers:
        return empty("channel")
    first = prov.filter(pl.col(RESP) == numbers[0])
    return first.with_columns(platform=pl.lit(PLATFORM), channel_id=pl.lit(channel.channel_id),
                              handle=pl.lit(channel.handle), timezone=pl.lit(channel.timezone))

