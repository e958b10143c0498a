"""End to end, Instagram stories: the frequent stories-only run, then the daily run, on both warehouses."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.ingest import ingest
from sandbox.server import Sandbox
from tests.e2e_helpers import TOKEN_ENV, dump, query, write_config

pytestmark = pytest.mark.slow
TOKEN = "sandbox-e2e-stories-token-0123456789"



@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    # the sandbox on the real clock, so the platform day that ended hours ago is complete there too
    with Sandbox(now=dt.datetime.now(dt.UTC), token=TOKEN) as sb:
        yield sb


def story_facts(url: str, account_id: str) -> list[tuple[int, ...]]:
    """Stories loaded for an account: count, views, reach, comments (replies), shares, NULL views."""
    rows = query(
        url,
        "SELECT count(*), sum(m.views), sum(m.reach), sum(m.comments), sum(m.shares), "
        "sum(CASE WHEN m.views IS NULL THEN 1 ELSE 0 END), count(m.likes), count(m.saves) "
        "FROM content c JOIN content_metrics_daily m USING (platform, content_id) "
        "WHERE c.content_type = 'story' AND c.channel_id = :c",
        c=account_id,
    )
    return [tuple(int(v) for v in rows[0])]


def test_stories_run_then_daily_run(prefect_server: None, sandbox: Sandbox, warehouse_url: str,
                                    tmp_path: Path) -> None:
    config = write_config(tmp_path, sandbox.base_url, warehouse_url, sandbox.data)
    reports = ingest(str(config), streams=["stories"])
    assert [r.status for r in reports] == ["succeeded", "succeeded"]
    for report, account in zip(reports, sandbox.data.accounts, strict=True):
        truth = sandbox.api.stories.expected(account.id)
        assert report.fetch is not None and report.fetch.problems == []
        assert report.fetch.requests == 2 + truth["stories"]  # profile, the list, one call a story
        assert story_facts(warehouse_url, account.id) == [(
            truth["stories"], truth["views_sum"], truth["reach_sum"], truth["replies_sum"],
            truth["shares_sum"], truth["without_insights"], 0, 0,
        )]
    # only stories came in, and a stories run claims no full refresh and moves no watermark
    assert query(warehouse_url, "SELECT DISTINCT content_type FROM content") == [("story",)]
    assert query(warehouse_url, "SELECT count(*) FROM sync_state") == [(0,)]
    jakarta = dt.datetime.now(zoneinfo.ZoneInfo("Asia/Jakarta")).date()
    kota = sandbox.data.accounts[0]
    assert query(warehouse_url, "SELECT followers FROM channel_metrics_daily WHERE channel_id = :c "
                                "AND snapshot_date = :d", c=kota.id, d=jakarta) == [(kota.followers_count,)]
    before = dump(warehouse_url)
    ingest(str(config), streams=["stories"])  # two hours later, the same stories: nothing changes
    assert dump(warehouse_url) == before

    assert [r.status for r in ingest(str(config))] == ["succeeded", "succeeded"]  # the daily run
    for account in sandbox.data.accounts:
        feed = query(warehouse_url, "SELECT count(*) FROM content WHERE channel_id = :c AND "
                                    "content_type <> 'story'", c=account.id)
        assert feed == [(account.media_count,)]
        stories = sandbox.api.stories.expected(account.id)["stories"]
        assert story_facts(warehouse_url, account.id)[0][0] == stories
    full = query(warehouse_url, "SELECT count(*) FROM sync_state WHERE stream = 'media' "
                                "AND last_full_refresh_at IS NOT NULL")
    assert full == [(2,)]
