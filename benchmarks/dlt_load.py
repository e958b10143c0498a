"""dlt loading the same raw pages into PostgreSQL, merged on the same keys: the way a user writes it.

``nested``: each media item as the API returns it, insights left for dlt to unpack into child
tables. ``flat``: the insights flattened into columns first. Both read the raw zone (gzip +
orjson), add the snapshot date in the channel's time zone, and merge media on
``(id, snapshot_date)`` and account snapshots on ``(id, snapshot_date)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from socmed.rawzone import list_runs, read_run

JAKARTA = ZoneInfo("Asia/Jakarta")
INSIGHT_COLUMNS = {"views": "views", "reach": "reach", "saved": "saves", "shares": "shares"}


def _pages(data_dir: Path, stream: str) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(meta, decoded body) of every 2xx response of a stream, oldest run first."""
    for run_dir in list_runs(data_dir, "instagram"):
        for response in read_run(data_dir, run_dir):
            if response.stream == stream and response.meta.get("status") == 200:
                yield response.meta, orjson.loads(response.body)


def _observed(meta: dict[str, Any]) -> dict[str, Any]:
    """The columns every record gets: account, snapshot date (Jakarta) and fetch time."""
    fetched = dt.datetime.fromisoformat(meta["fetched_at"])
    return {
        "account_id": meta["account"],
        "snapshot_date": fetched.astimezone(JAKARTA).date(),
        "fetched_at": fetched,
    }


def media_nested(data_dir: Path) -> Iterator[dict[str, Any]]:
    """Media items as returned, plus account, snapshot date and fetch time."""
    for meta, body in _pages(data_dir, "media"):
        extra = _observed(meta)
        for item in body["data"]:
            yield {**item, **extra}


def media_flat(data_dir: Path) -> Iterator[dict[str, Any]]:
    """Media items with their insights flattened into metric columns."""
    for item in media_nested(data_dir):
        insights = item.pop("insights", {}).get("data", [])
        for insight in insights:
            column = INSIGHT_COLUMNS.get(insight["name"])
            if column:
                item[column] = insight["values"][0]["value"]
        yield item


def accounts(data_dir: Path) -> Iterator[dict[str, Any]]:
    """Account bodies with their snapshot date."""
    for meta, body in _pages(data_dir, "account"):
        yield {**body, **_observed(meta)}


def _with_password(dsn: str) -> str:
    """dlt insists on a password; a trust-auth server ignores the placeholder."""
    scheme, _, rest = dsn.partition("://")
    user, at, host = rest.partition("@")
    return dsn if not at or ":" in user else f"{scheme}://{user}:unused@{host}"


def load(data_dir: Path, work_dir: Path, dsn: str, mode: str) -> dict[str, Any]:
    """Run one dlt pipeline (mode ``nested`` or ``flat``) into the database at ``dsn``."""
    import dlt  # benchmark-only dependency (requirements-bench.txt)

    keys = ("id", "snapshot_date")
    media_rows = media_nested if mode == "nested" else media_flat
    media = dlt.resource(media_rows(data_dir), name="media", write_disposition="merge", primary_key=keys)
    account = dlt.resource(accounts(data_dir), name="account", write_disposition="merge", primary_key=keys)
    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{mode}",
        pipelines_dir=str(work_dir / "dlt"),
        destination=dlt.destinations.postgres(credentials=_with_password(dsn)),
        dataset_name=f"dlt_{mode}",
    )
    info = pipeline.run([account, media])
    return {"dataset": f"dlt_{mode}", "load_packages": len(info.load_packages)}
