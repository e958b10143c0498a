"""Row counts and sums each contender left behind, in one shape, compared with the generator's truth."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, text

from benchmarks.generate import METRICS, Truth

_WAREHOUSE = {
    "snapshots": "SELECT count(*) FROM {p}content_metrics_daily",
    **{m: f"SELECT sum({m}) FROM {{p}}content_metrics_daily" for m in METRICS},
    "content": "SELECT count(*) FROM {p}content",
    "channel": "SELECT count(*) FROM {p}channel",
    "channel_snapshots": "SELECT count(*) FROM {p}channel_metrics_daily",
    "followers": "SELECT sum(followers) FROM {p}channel_metrics_daily",
}
_INSIGHT = (
    "SELECT sum(v.value) FROM {s}.media__insights__data d "
    "JOIN {s}.media__insights__data__values v ON v._dlt_parent_id = d._dlt_id WHERE d.name = '{name}'"
)
_DLT_COMMON = {
    "snapshots": "SELECT count(*) FROM {s}.media",
    "likes": "SELECT sum(like_count) FROM {s}.media",
    "comments": "SELECT sum(comments_count) FROM {s}.media",
    "content": "SELECT count(DISTINCT id) FROM {s}.media",
    "channel": "SELECT count(DISTINCT id) FROM {s}.account",
    "channel_snapshots": "SELECT count(*) FROM {s}.account",
    "followers": "SELECT sum(followers_count) FROM {s}.account",
}
_DLT_NESTED = {
    **_DLT_COMMON,
    **{
        column: _INSIGHT.replace("{name}", name)
        for name, column in (("views", "views"), ("reach", "reach"), ("saved", "saves"), ("shares", "shares"))
    },
}
_DLT_FLAT = {
    **_DLT_COMMON,
    **{m: f"SELECT sum({m}) FROM {{s}}.media" for m in ("views", "reach", "shares", "saves")},
}


def totals(url: str, kind: str) -> dict[str, int]:
    """Counts and sums of one destination: kind ``warehouse``, ``floor``, ``dlt_nested`` or ``dlt_flat``."""
    queries = {
        "warehouse": (_WAREHOUSE, {"p": ""}),
        "floor": (_WAREHOUSE, {"p": "floor_"}),
        "dlt_nested": (_DLT_NESTED, {"s": "dlt_nested"}),
        "dlt_flat": (_DLT_FLAT, {"s": "dlt_flat"}),
    }[kind]
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                k: int(conn.execute(text(q.format(**queries[1]))).scalar() or 0)
                for k, q in queries[0].items()
            }
    finally:
        engine.dispose()


def expected(truth: Truth) -> dict[str, int]:
    """What every contender must end with."""
    return {
        "snapshots": truth.content_metrics_daily,
        **truth.sums,
        "content": truth.content,
        "channel": truth.channel,
        "channel_snapshots": truth.channel_metrics_daily,
        "followers": truth.followers,
    }


def differences(found: dict[str, int], want: dict[str, int]) -> dict[str, Any]:
    """The totals that differ from the truth: name -> (found, expected)."""
    return {k: (found.get(k), v) for k, v in want.items() if found.get(k) != v}
