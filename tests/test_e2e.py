"""End to end: the real flows over real HTTP against the sandbox, into SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.ingest import ingest
from flows.reprocess import reprocess
from sandbox.server import Fault, Sandbox
from socmed import pipeline
from tests.e2e_helpers import TOKEN_ENV, assert_matches_truth, dump, files_containing, query, write_config

pytestmark = pytest.mark.slow
TOKEN = "sandbox-e2e-token-0123456789"


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with Sandbox(now=dt.datetime.now(dt.UTC), token=TOKEN) as sb:
        yield sb


def today_in_jakarta() -> dt.date:
    return dt.datetime.now(zoneinfo.ZoneInfo("Asia/Jakarta")).date()


def test_ingest_matches_truth_and_rerun_changes_nothing(
    prefect_server: None,
    sandbox: Sandbox,
    warehouse_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    config = write_config(tmp_path, sandbox.base_url, warehouse_url, sandbox.data)
    reports = ingest(str(config))
    assert [r.status for r in reports] == ["succeeded", "succeeded"]
    assert_matches_truth(warehouse_url, sandbox.data, today_in_jakarta())
    before = dump(warehouse_url)

    ingest(str(config))  # same data again: nothing may change
    assert dump(warehouse_url) == before
    audits = query(warehouse_url, "SELECT status, rows_changed FROM load_audit ORDER BY finished_at")
    assert [a[0] for a in audits] == ["succeeded"] * 4
    assert [a[1] for a in audits[2:]] == [0, 0]

    token = TOKEN.encode()
    assert files_containing(tmp_path / "data", token) == []
    assert TOKEN not in caplog.text


def test_reprocess_rebuilds_the_same_warehouse_without_api_calls(
    prefect_server: None, sandbox: Sandbox, sqlite_url: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, sandbox.base_url, sqlite_url, sandbox.data)
    ingest(str(config))
    before = dump(sqlite_url, ("channel", "content", "content_metrics_daily", "channel_metrics_daily"))
    pipeline.warehouse(sqlite_url).dispose()  # drop the warehouse file and its process-wide engine
    pipeline.warehouse.cache_clear()
    Path(sqlite_url.removeprefix("sqlite:///")).unlink()
    for suffix in ("-wal", "-shm"):
        Path(sqlite_url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    sandbox.clear_requests()
    reports = asyncio.run(reprocess(str(config)))
    assert [r.status for r in reports] == ["succeeded", "succeeded"]
    assert sandbox.requests == []
    assert (
        dump(sqlite_url, ("channel", "content", "content_metrics_daily", "channel_metrics_daily")) == before
    )


def test_one_failing_channel_does_not_stop_the_other(
    prefect_server: None, sandbox: Sandbox, sqlite_url: str, tmp_path: Path
) -> None:
    tv = sandbox.data.accounts[1]
    sandbox.inject(Fault(kind="token_expired", path_contains=tv.id, times=100))
    config = write_config(tmp_path, sandbox.base_url, sqlite_url, sandbox.data)
    state = ingest(str(config), return_state=True)
    assert state.is_failed()
    assert f"instagram/@{tv.username}" in str(state.message)
    assert "environment variable SOCMED_E2E_TOKEN" in str(state.message)
    tv_requests = [r for r in sandbox.requests if r.account_id == tv.id]
    assert len(tv_requests) == 1  # no retry storm on an expired token
    kota = sandbox.data.accounts[0]
    counts = query(sqlite_url, "SELECT channel_id, count(*) FROM content GROUP BY channel_id")
    assert counts == [(kota.id, sandbox.data.expected(kota.id)["media_count"])]
