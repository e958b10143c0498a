"""Instagram per-media insight responses: the values that fill a media page's NULL metrics.

Two streams carry them: ``media_insights`` (one media's ``/insights``, the media id in the
request context) and ``media_insights_multi`` (a multi-id lookup, a body keyed by media id).
Both become one long frame (content_id, metric, value, provenance, ``SLICE``); per run and
media the latest value of each metric fills the media's NULLs.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from socmed.rawzone import StoredResponse
from transforms.common import (
    PROVENANCE_COLUMNS,
    RESP,
    Numbered,
    as_int,
    decode_json,
    problem,
    read_json_pages,
)
from transforms.graph_pages import INSIGHT
from transforms.runs import SLICE
from transforms.schemas import METRIC_COLUMNS

CONTENT_METRICS = METRIC_COLUMNS["content_metrics_daily"]
# Media insight name -> column; likes/comments back up the like_count/comments_count fields.
MEDIA_INSIGHTS = {
    "views": "views",
    "reach": "reach",
    "saved": "saves",
    "shares": "shares",
    "likes": "likes",
    "comments": "comments",
    "replies": "comments",  # stories only: replies are a story's comments
}
_INSIGHTS_PAGE = {"data": pl.List(INSIGHT)}
_LOOKUP = {RESP: pl.Int64(), "content_id": pl.Utf8(), "name": pl.Utf8(), "value": pl.Int64()}
_LONG = ("content_id", "metric", "value", RESP, SLICE, *PROVENANCE_COLUMNS)
ORPHANS_LISTED = 10  # per run; the rest are counted in one more problem


def media_insights(pages: list[Numbered], prov: pl.DataFrame, problems: list[str]) -> pl.DataFrame:
    """Per-media insight responses, long: content_id, metric, value and provenance."""
    if not pages:
        return _empty_long(prov)
    media_ids = {n: (r.meta.get("context") or {}).get("media_id") for n, r in pages}
    problems.extend(
        problem(r, "media_insights without context media_id") for n, r in pages if not media_ids[n]
    )
    frame, errors = read_json_pages([(n, r) for n, r in pages if media_ids[n]], _INSIGHTS_PAGE)
    problems.extend(errors)
    ids = pl.DataFrame(
        [(n, str(v)) for n, v in media_ids.items() if v],
        orient="row",
        schema={RESP: pl.Int64(), "content_id": pl.Utf8()},
    )
    return (
        frame.explode("data")
        .unnest("data")
        .with_columns(
            metric=_metric(pl.col("name")),
            value=pl.col("values").list.first().struct.field("value").cast(pl.Int64(), strict=False),
        )
        .drop_nulls(["metric", "value"])
        .join(ids, on=RESP)
        .join(prov, on=RESP)
        .select(_LONG)
    )


def media_lookups(pages: list[Numbered], prov: pl.DataFrame, problems: list[str]) -> pl.DataFrame:
    """Multi-id lookup responses, long like ``media_insights``: content_id, metric, value, provenance."""
    if not pages:
        return _empty_long(prov)
    rows = [row for number, response in pages for row in _lookup_rows(number, response, problems)]
    return (
        pl.DataFrame(rows, schema=_LOOKUP)
        .with_columns(metric=_metric(pl.col("name")))
        .drop_nulls(["metric", "value"])
        .join(prov, on=RESP)
        .select(_LONG)
    )


def _metric(name: pl.Expr) -> pl.Expr:
    """The common column an insight name feeds (NULL for names not mapped)."""
    return name.replace_strict(MEDIA_INSIGHTS, default=None, return_dtype=pl.Utf8())


def _empty_long(prov: pl.DataFrame) -> pl.DataFrame:
    """No insight values: the long frame's columns, empty (most runs have nested insights only)."""
    return pl.DataFrame(schema={"content_id": pl.Utf8(), "metric": pl.Utf8(), "value": pl.Int64()}).hstack(
        prov.select(RESP, SLICE, *PROVENANCE_COLUMNS).clear()
    )


def _lookup_rows(number: int, response: StoredResponse, problems: list[str]) -> list[dict[str, Any]]:
    """One row per insight value of a body keyed by media id (``{"<id>": {"insights": {"data": [...]}}}``)."""
    body, error = decode_json(response)
    if error is None and not isinstance(body, dict):
        error = problem(response, "media_insights_multi body is not an object keyed by media id")
    if error is not None:
        problems.append(error)
        return []
    rows: list[dict[str, Any]] = []
    for key, node in body.items():
        insights = node.get("insights") if isinstance(node, dict) else None
        data = insights.get("data") if isinstance(insights, dict) else None
        if not isinstance(data, list):
            problems.append(problem(response, f"media {key} without insights.data"))
            continue
        rows += [
            {RESP: number, "content_id": str(key), "name": _text(i.get("name")), "value": _first_value(i)}
            for i in data
            if isinstance(i, dict)
        ]
    return rows


def _text(value: Any) -> str | None:
    """A JSON string, or None."""
    return value if isinstance(value, str) else None


def _first_value(item: dict[str, Any]) -> int | None:
    """The integer value of a lifetime insight item (``values[0].value``), or None."""
    values = item.get("values")
    first = values[0] if isinstance(values, list) and values else None
    return as_int(first.get("value")) if isinstance(first, dict) else None


def insight_fill(insights: pl.DataFrame) -> pl.DataFrame:
    """Per run and media: each metric's latest insight value, and the latest response's provenance."""
    return (
        insights.sort("fetched_at", RESP)
        .group_by(SLICE, "content_id")
        .agg(
            *[
                pl.col("value").filter(pl.col("metric") == m).last().alias(f"{m}_fill")
                for m in CONTENT_METRICS
            ],
            *[pl.col(c).last().alias(f"{c}_fill") for c in PROVENANCE_COLUMNS],
        )
    )


def orphan_problems(fill: pl.DataFrame, base: pl.DataFrame) -> list[str]:
    """Problems for per-media insights of media that no media page of their run listed."""
    orphans = fill.join(base, on=[SLICE, "content_id"], how="anti").sort(SLICE, "content_id")
    found = []
    for (_,), run in orphans.group_by(SLICE, maintain_order=True):
        rows = run.select("content_id", "raw_file_fill").rows()
        found += [
            f"{raw_file}: media_insights for media {content_id} not in any media page of the run; ignored"
            for content_id, raw_file in rows[:ORPHANS_LISTED]
        ]
        if len(rows) > ORPHANS_LISTED:
            found.append(
                f"{rows[ORPHANS_LISTED][1]}: {len(rows) - ORPHANS_LISTED} more media_insights for media"
                " not in any media page ignored"
            )
    return found
