"""Helpers every platform transform reuses: run bookkeeping, bulk JSON parsing, time, hashtags.

Bodies are parsed in bulk: :func:`read_json_pages` hands many response bodies to Polars' NDJSON
reader with one explicit schema, and only when a batch fails does it parse body by body to name
the bad ones. A bad body becomes a problem string (``"<raw_file>: <what was wrong>"``), never
an exception.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import polars as pl

from socmed.rawzone import StoredResponse
from transforms.schemas import KEYS, SCHEMAS, conform

DEFAULT_TIMEZONE = "Asia/Jakarta"
# Meta buckets daily insights on US Pacific days (end_time is Pacific midnight).
META_PLATFORM_TIMEZONE = "America/Los_Angeles"
META_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S%z"  # 2026-11-20T03:15:00+0000
# '#' or full-width '＃', then word characters with at least one that is not a digit:
# Instagram does not link all-digit tags such as #2026. \w is Unicode-aware in Polars' regex.
HASHTAG_PATTERN = r"[#＃]\w*[^\W\d]\w*"

RESP = "_resp"  # arrival number of the response a row came from (order among 2xx responses)
PROVENANCE_COLUMNS = ("fetched_at", "run_id", "raw_file")
_CHUNK_BYTES = 64 * 1024 * 1024

Numbered = tuple[int, StoredResponse]


@dataclass(frozen=True)
class ChannelRef:
    """The account one run belongs to, as a transform needs it."""

    platform: str
    channel_id: str
    handle: str
    timezone: str = DEFAULT_TIMEZONE


@dataclass(frozen=True)
class TransformResult:
    """A transform's output frames, keyed by table name, and its non-fatal problems."""

    frames: dict[str, pl.DataFrame]
    problems: list[str] = field(default_factory=list)


def is_success(response: StoredResponse) -> bool:
    """True for a 2xx response (errors and retried attempts are landed too)."""
    status = response.meta.get("status")
    return isinstance(status, int) and 200 <= status < 300


def problem(response: StoredResponse, what: str) -> str:
    """A problem message naming the raw file it concerns."""
    return f"{response.raw_file}: {what}"


def group_streams(responses: Iterable[StoredResponse], start: int = 0) -> dict[str, list[Numbered]]:
    """The 2xx responses by stream, numbered in arrival order across all streams (from ``start``)."""
    streams: dict[str, list[Numbered]] = {}
    ok = (r for r in responses if is_success(r))
    for number, response in enumerate(ok, start):
        streams.setdefault(response.stream, []).append((number, response))
    return streams


def provenance(numbered: Iterable[Numbered]) -> pl.DataFrame:
    """One row per response: its arrival number, fetched_at (UTC), run_id and raw_file."""
    rows = list(numbered)
    return pl.DataFrame(
        {
            RESP: [n for n, _ in rows],
            "fetched_at": [as_utc(r.fetched_at) for _, r in rows],
            "run_id": [r.run_id for _, r in rows],
            "raw_file": [r.raw_file for _, r in rows],
        },
        schema={
            RESP: pl.Int64(),
            "fetched_at": pl.Datetime("us", "UTC"),
            "run_id": pl.Utf8(),
            "raw_file": pl.Utf8(),
        },
    )


def as_utc(value: dt.datetime) -> dt.datetime:
    """An aware UTC datetime (a naive one is taken to be UTC already)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def decode_json(response: StoredResponse) -> tuple[Any, str | None]:
    """The decoded body, or None and a problem message when it is not valid JSON."""
    try:
        return orjson.loads(response.body), None
    except orjson.JSONDecodeError as exc:
        return None, problem(response, f"body is not valid JSON ({exc})")


def read_json_pages(
    pages: Sequence[Numbered], schema: Mapping[str, pl.DataType]
) -> tuple[pl.DataFrame, list[str]]:
    """Parse JSON object bodies with one explicit schema: one row per good body plus ``_resp``.

    Every top-level field of ``schema`` is required (a body without it is a problem); fields
    not in the schema are ignored.
    """
    problems: list[str] = []
    frames: list[pl.DataFrame] = []
    for chunk in _chunks(pages, problems):
        frames.append(_read_chunk(chunk, schema, problems))
    out = pl.concat(frames) if frames else _empty_pages(schema)
    missing = out.filter(pl.any_horizontal(pl.col(name).is_null() for name in schema))
    if missing.height:
        by_number = dict(pages)
        what = f"body lacks {', '.join(repr(n) for n in schema)}"
        problems.extend(problem(by_number[n], what) for n in missing[RESP])
    return out.drop_nulls(list(schema)), problems


def _empty_pages(schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """An empty page frame."""
    return pl.DataFrame(schema={**schema, RESP: pl.Int64()})


def _chunks(
    pages: Sequence[Numbered], problems: list[str]
) -> Iterable[list[tuple[int, StoredResponse, bytes]]]:
    """Bodies as single NDJSON lines, in chunks of about ``_CHUNK_BYTES``."""
    chunk: list[tuple[int, StoredResponse, bytes]] = []
    size = 0
    for number, response in pages:
        line = _one_line(response, problems)
        if line is None:
            continue
        chunk.append((number, response, line))
        size += len(line)
        if size >= _CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _one_line(response: StoredResponse, problems: list[str]) -> bytes | None:
    """The body on one line (re-serialised only if it spans lines), or None with a problem."""
    body = response.body
    if not body or body.isspace():
        problems.append(problem(response, "empty body"))
        return None
    if b"\n" not in body and b"\r" not in body:
        return body
    value, error = decode_json(response)
    if error is not None:
        problems.append(error)
        return None
    return orjson.dumps(value)


def _read_chunk(
    chunk: list[tuple[int, StoredResponse, bytes]],
    schema: Mapping[str, pl.DataType],
    problems: list[str],
) -> pl.DataFrame:
    """Read a chunk in one go; if that fails, body by body so only the bad ones are dropped."""
    numbers = pl.Series(RESP, [n for n, _, _ in chunk], dtype=pl.Int64())
    try:
        frame = pl.read_ndjson(io.BytesIO(b"\n".join(line for _, _, line in chunk)), schema=schema)
        if frame.height == len(chunk):
            return frame.with_columns(numbers)
    except pl.exceptions.PolarsError:
        pass
    frames = [_read_one(number, response, line, schema, problems) for number, response, line in chunk]
    return pl.concat([f for f in frames if f is not None] or [_empty_pages(schema)])


def _read_one(
    number: int,
    response: StoredResponse,
    line: bytes,
    schema: Mapping[str, pl.DataType],
    problems: list[str],
) -> pl.DataFrame | None:
    """Read one body, or None with a problem saying why it could not be read."""
    try:
        frame = pl.read_ndjson(io.BytesIO(line), schema=schema)
        if frame.height == 1:
            return frame.with_columns(pl.lit(number, dtype=pl.Int64()).alias(RESP))
        reason = f"{frame.height} JSON values in one body"
    except pl.exceptions.PolarsError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    _, error = decode_json(response)
    problems.append(error or problem(response, f"unexpected body shape ({reason})"))
    return None


def meta_timestamp(ts: pl.Expr) -> pl.Expr:
    """Meta's ``2026-11-20T03:15:00+0000`` strings as UTC datetimes (null if unparseable)."""
    return ts.str.to_datetime(META_TIMESTAMP_FORMAT, time_unit="us", time_zone="UTC", strict=False)


def local_date(ts: pl.Expr, timezone: str) -> pl.Expr:
    """The calendar date of a UTC datetime in the given time zone."""
    return ts.dt.convert_time_zone(timezone).dt.date()


def meta_platform_day(end_time: pl.Expr) -> pl.Expr:
    """The Meta 'platform day' (a US Pacific day) that ends at a daily insight's end_time."""
    # end_time is Pacific midnight (07:00/08:00 UTC); stepping back half a day lands inside
    # the day it closes, whichever of the two offsets Meta used.
    return (end_time.dt.convert_time_zone(META_PLATFORM_TIMEZONE) - pl.duration(hours=12)).dt.date()


def meta_requested_day(context: Mapping[str, Any]) -> tuple[dt.date | None, str]:
    """The one platform day a Meta total_value request covered, or None and why not.

    The connector records ``since`` and ``until`` as the first and last platform day of the
    request, inclusive: a one-day request has ``since == until``.
    """
    since, until = _context_day(context.get("since")), _context_day(context.get("until"))
    if since is None:
        return None, "no readable 'since' in the request context"
    if until is not None and until != since:
        return None, f"window {since}..{until} is not one day"
    return since, ""


def _context_day(value: Any) -> dt.date | None:
    """A request-context day: ISO date, or unix seconds read as a US Pacific (platform) date."""
    text = str(value) if value is not None else ""
    try:
        if text.isdigit():
            moment = dt.datetime.fromtimestamp(int(text), dt.UTC)
            return moment.astimezone(ZoneInfo(META_PLATFORM_TIMEZONE)).date()
        return dt.date.fromisoformat(text[:10])
    except (ValueError, OverflowError, OSError):
        return None


def hashtags(text: pl.Expr) -> pl.Expr:
    """Hashtags of a text column: lower-case, without '#', unique, in order of first use."""
    # Tags are found first and only they are normalised: NFC keeps every character a word
    # character or not, so the same tags come out as from normalising the whole text, at a
    # fraction of the cost on long captions. An ASCII tag is its own NFC form: only the others
    # go through the normaliser, which costs the same per character either way (it was half
    # of this expression's time on the benchmark's captions, whose tags are ASCII).
    tag = pl.element()
    others = pl.when(tag.str.len_bytes() != tag.str.len_chars()).then(tag)  # null for ASCII tags
    return (
        text.str.extract_all(HASHTAG_PATTERN)
        .list.eval(pl.coalesce(others.str.normalize("NFC"), tag).str.slice(1).str.to_lowercase())
        .list.unique(maintain_order=True)
        .fill_null(pl.lit([], dtype=pl.List(pl.Utf8())))
    )


def extract_hashtags(text: str | None) -> list[str]:
    """Hashtags of one text (same rules as :func:`hashtags`)."""
    found = pl.select(hashtags(pl.lit(text, dtype=pl.Utf8()))).item()
    return list(found)


def with_provenance(frame: pl.DataFrame, prov: pl.DataFrame) -> pl.DataFrame:
    """``frame.join(prov, on=RESP)``, the frame's rows in their order.

    Where ``prov`` holds the responses numbered 0, 1, ... in order (as a transform's numbering
    gives them), each row's response columns are gathered by its number instead: the frame's
    own columns, captions above all, are not copied as a join copies them.
    """
    numbers, rows = prov[RESP], frame[RESP]
    in_range = rows.null_count() == 0 and rows.is_between(0, numbers.len() - 1).all()
    by_number = (
        bool((numbers == pl.int_range(numbers.len(), eager=True)).all())
        and not set(frame.columns) & (set(prov.columns) - {RESP})
        and (rows.is_empty() or in_range)
    )
    if not by_number:
        return frame.join(prov, on=RESP, maintain_order="left")
    return frame.hstack(prov.drop(RESP).select(pl.all().gather(rows)))


def latest(frame: pl.DataFrame, key: Sequence[str], table: str | None = None) -> pl.DataFrame:
    """One row per key: the latest observation (by fetched_at, then arrival order).

    The order is found on the key and order columns alone, and the kept rows are gathered once:
    sorting the whole frame would copy every column (captions above all) twice. With ``table``,
    only the key and that table's columns are gathered: a post's daily facts need not copy
    its caption once more.
    """
    narrow = frame.select(*dict.fromkeys([*key, "fetched_at", RESP])).with_row_index(_ROW)
    ordered = narrow.sort("fetched_at", RESP, _ROW)
    kept = ordered.unique(subset=list(key), keep="last", maintain_order=True)[_ROW]
    if table is None:
        return frame.select(pl.all().gather(kept))
    wanted = [c for c in dict.fromkeys([*key, *SCHEMAS[table]]) if c in frame.columns]
    return frame.select(pl.col(wanted).gather(kept))


_ROW = "__latest_row"  # a row's position, for latest()


def as_int(value: Any) -> int | None:
    """A JSON integer as int; anything else (absent, null, text, bool, float) as None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


RFC3339_FORMAT = "%Y-%m-%dT%H:%M:%S%.fZ"  # 2026-11-20T03:15:00Z or ...:00.000Z (YouTube, X)


def rfc3339_timestamp(ts: pl.Expr) -> pl.Expr:
    """RFC 3339 UTC strings ending in ``Z`` as UTC datetimes (null if unparseable)."""
    return ts.str.to_datetime(RFC3339_FORMAT, time_unit="us", time_zone="UTC", strict=False)


def meta_daily_values(
    pages: Sequence[Numbered], names: Mapping[str, str], problems: list[str]
) -> pl.DataFrame:
    """Meta ``period=day`` insight bodies -> ``_resp``, platform day and one column per mapped metric.

    ``names`` maps a metric name to its column; other metrics and periods are skipped. A value
    whose ``end_time`` is unreadable is dropped with a problem.
    """
    rows: list[dict[str, Any]] = []
    for number, response in pages:
        body, error = decode_json(response)
        data = body.get("data") if isinstance(body, dict) else None
        if error is not None or not isinstance(data, list):
            problems.append(error or problem(response, "insights body without 'data' list"))
            continue
        rows += [
            {RESP: number, "raw_file": response.raw_file, "metric": names[item["name"]],
             "end_time": value.get("end_time"), "value": as_int(value.get("value"))}
            for item in data
            if isinstance(item, dict) and item.get("name") in names and item.get("period", "day") == "day"
            for value in item.get("values") or ()
            if isinstance(value, dict)
        ]
    schema = {RESP: pl.Int64(), "raw_file": pl.Utf8(), "metric": pl.Utf8(), "end_time": pl.Utf8(),
              "value": pl.Int64()}
    frame = pl.DataFrame(rows, schema=schema).with_columns(
        snapshot_date=meta_platform_day(meta_timestamp(pl.col("end_time")))
    )
    bad = frame.filter(pl.col("snapshot_date").is_null())
    problems.extend(
        f"{raw_file}: insight value with unreadable end_time {end_time!r} skipped"
        for raw_file, end_time in bad.select("raw_file", "end_time").iter_rows()
    )
    columns = list(dict.fromkeys(names.values()))
    return (
        frame.drop_nulls("snapshot_date")
        .group_by(RESP, "snapshot_date", maintain_order=True)
        .agg(*[pl.col("value").filter(pl.col("metric") == c).last().alias(c) for c in columns])
    )


def finish_table(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """A transform's frame as its table has it: the table's columns, cast to its schema, sorted by key."""
    columns = [name for name in SCHEMAS[table] if name in frame.columns]
    return conform(table, frame.select(columns)).sort(KEYS[table])
