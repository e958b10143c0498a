"""End to end, what operators meet: artifacts, Secret blocks, malformed bodies, crash repair."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort

from flows.ingest import ingest
from sandbox.server import Fault, Sandbox
from socmed import pipeline
from socmed.config import load_settings
from tests.e2e_helpers import TOKEN_ENV, assert_matches_truth, dump, query, write_config

pytestmark = pytest.mark.slow
TOKEN = "sandbox-ops-token-9876543210"


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with Sandbox(now=dt.datetime.now(dt.UTC), token=TOKEN) as sb:
        yield sb


def jakarta_today() -> dt.date:
    return dt.datetime.now(zoneinfo.ZoneInfo("Asia/Jakarta")).date()


async def _artifact(key: str) -> str:
    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
        return str(found[0].data) if found else ""


def test_each_channel_run_publishes_a_markdown_summary(
    prefect_server: None, sandbox: Sandbox, sqlite_url: str, tmp_path: Path
) -> None:
    ingest(str(write_config(tmp_path, sandbox.base_url, sqlite_url, sandbox.data)))
    kota = sandbox.data.expected(sandbox.data.accounts[0].id)
    markdown = asyncio.run(_artifact("instagram-tangerangkota-run"))
    assert markdown.startswith("# instagram/@tangerangkota: succeeded")
    assert (
        f"| content | {kota['media_count']} | {kota['media_count']} | {kota['media_count']} | 0 |" in markdown
    )
    made = sum(r.account_id == kota["account_id"] for r in sandbox.requests)
    assert f"Requests made: **{made}**" in markdown


def test_token_from_a_prefect_secret_block(
    prefect_server: None, sandbox: Sandbox, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Secret(value=TOKEN).save("socmed-e2e-instagram-token", overwrite=True)
    monkeypatch.delenv(TOKEN_ENV)
    config = write_config(tmp_path, sandbox.base_url, sqlite_url, sandbox.data)
    config.write_text(
        config.read_text().replace(f'token_env = "{TOKEN_ENV}"', 'token_block = "socmed-e2e-instagram-token"')
    )
    assert [r.status for r in ingest(str(config))] == ["succeeded", "succeeded"]
    assert_matches_truth(sqlite_url, sandbox.data, jakarta_today())


def test_malformed_body_is_kept_and_reported_not_crashed_on(
    prefect_server: None, sandbox: Sandbox, sqlite_url: str, tmp_path: Path
) -> None:
    tv = sandbox.data.accounts[1]
    sandbox.inject(Fault(kind="malformed", path_contains=f"{tv.id}/media"))
    config = write_config(tmp_path, sandbox.base_url, sqlite_url, sandbox.data)
    reports = {r.channel: r for r in ingest(str(config))}
    report = reports[f"instagram/@{tv.username}"]
    assert report.fetch is not None and any("media" in p for p in report.fetch.problems)
    bodies = [gzip.decompress(p.read_bytes()) for p in report.fetch.run_dir.glob("*-media.json.gz")]
    assert any(not body.rstrip().endswith(b"}") for body in bodies)  # the truncated body, as received
    # the account snapshot and insights still landed and loaded
    assert query(
        sqlite_url,
        "SELECT followers FROM channel_metrics_daily WHERE channel_id = :c AND followers IS NOT NULL",
        c=tv.id,
    ) == [(sandbox.data.expected(tv.id)["followers_count"],)]


def test_a_crash_after_fetch_is_repaired_by_the_next_run(
    prefect_server: None, sandbox: Sandbox, sqlite_url: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, sandbox.base_url, sqlite_url, sandbox.data)
    settings = load_settings(config)
    engine = pipeline.warehouse(sqlite_url)
    now = dt.datetime.now(dt.UTC)
    for channel in settings.channels:  # the fetch lands raw data, then the process "dies"
        window, _ = pipeline.plan(settings, channel, engine, now)
        pipeline.fetch(settings, channel, pipeline.new_run_id(now), window, now)
    assert dump(sqlite_url)["sync_state"] == []  # nothing advanced past what was loaded
    assert [r.status for r in ingest(str(config))] == ["succeeded", "succeeded"]
    assert_matches_truth(sqlite_url, sandbox.data, jakarta_today())
