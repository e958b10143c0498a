"""Bad rows from the platform are quarantined with the failed expectation; good rows still load."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from connectors.base import RawResponse
from flows.reprocess import reprocess
from socmed.rawzone import RawWriter
from tests.e2e_helpers import query
from transforms.parquet import read_table

pytestmark = pytest.mark.slow
FETCHED = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
ACCOUNT = "17841409999999999"


def media(i: int, comments: int, timestamp: str = "2026-11-20T03:15:00+0000") -> dict[str, object]:
    return {
        "id": f"1790000000000{i:04d}",
        "caption": f"Car Free Day #{i} #CFDTangerang",
        "media_type": "IMAGE",
        "media_product_type": "FEED",
        "timestamp": timestamp,
        "permalink": f"https://www.instagram.com/p/abc{i}/",
        "like_count": 10 * i,
        "comments_count": comments,
    }


def land(data_dir: Path, pages: list[tuple[str, object]]) -> None:
    writer = RawWriter(data_dir, "instagram", ACCOUNT, "glitch-run", FETCHED.date())
    for stream, body in pages:
        writer.write(
            RawResponse(
                "instagram",
                ACCOUNT,
                stream,
                "GET",
                f"http://127.0.0.1/v24.0/{ACCOUNT}",
                200,
                FETCHED,
                json.dumps(body).encode(),
                context={"insights": "safe"},
            )
        )


def config(tmp_path: Path, share: float) -> Path:
    path = tmp_path / "socmed.toml"
    path.write_text(
        f'[pipeline]\ndata_dir = "data"\nmax_failure_share = {share}\n'
        f'[[channels]]\nplatform = "instagram"\nhandle = "glitchy"\naccount_id = "{ACCOUNT}"\n'
        'token_env = "UNUSED_BY_REPROCESS"\n'
    )
    return path


def glitch(tmp_path: Path) -> None:
    account = {
        "id": ACCOUNT,
        "username": "glitchy",
        "name": "Glitchy",
        "followers_count": 1000,
        "follows_count": 10,
        "media_count": 4,
    }
    page = {"data": [media(1, 3), media(2, -7), media(3, 5, "2036-01-01T00:00:00+0000"), media(4, 0)]}
    land(tmp_path / "data", [("account", account), ("media", page)])


def test_bad_rows_are_quarantined_and_good_rows_loaded(prefect_server: None, tmp_path: Path) -> None:
    glitch(tmp_path)
    reports = asyncio.run(reprocess(str(config(tmp_path, 0.9))))
    assert reports[0].status == "succeeded"
    assert reports[0].process is not None
    assert reports[0].process.quarantined == {
        "channel": 0,
        "content": 1,
        "content_metrics_daily": 2,
        "channel_metrics_daily": 0,
    }
    url = f"sqlite:///{tmp_path / 'data' / 'warehouse.db'}"
    assert query(url, "SELECT content_id, comments FROM content_metrics_daily ORDER BY content_id") == [
        ("17900000000000001", 3),
        ("17900000000000004", 0),
    ]
    quarantined = read_table(tmp_path / "data", "content_metrics_daily", zone="quarantine")
    reasons = dict(zip(quarantined["content_id"], quarantined["failed_expectations"], strict=True))
    assert "expect_column_values_to_be_between(comments)" in reasons["17900000000000002"]
    assert reasons["17900000000000003"] == "parent content quarantined"
    audit = query(url, "SELECT status, rows_quarantined, quarantine_reasons FROM load_audit")
    assert audit[0][:2] == ("succeeded", 3)
    assert json.loads(audit[0][2])["content_metrics_daily: expect_column_values_to_be_between(comments)"] == 1


def test_run_above_failure_threshold_fails_and_loads_nothing(prefect_server: None, tmp_path: Path) -> None:
    glitch(tmp_path)
    reports = asyncio.run(reprocess(str(config(tmp_path, 0.1))))
    assert reports[0].status == "failed"
    assert "above the 10.0% threshold" in reports[0].errors[0]
    url = f"sqlite:///{tmp_path / 'data' / 'warehouse.db'}"
    assert query(url, "SELECT count(*) FROM content") == [(0,)]
    assert query(url, "SELECT status FROM load_audit") == [("failed",)]
    assert pl.read_parquet(next((tmp_path / "data" / "quarantine").rglob("*.parquet"))).height >= 1
