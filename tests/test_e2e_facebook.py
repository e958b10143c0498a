"""End to end, Facebook Pages: the real flows over loopback HTTP into SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.ingest import ingest
from sandbox.facebook import FacebookSandbox
from tests.e2e_helpers import dump, files_containing, query

pytestmark = pytest.mark.slow
TOKEN = "sandbox-e2e-facebook-token-0123456789"
TOKEN_ENV = "SOCMED_E2E_FB_TOKEN"



@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[FacebookSandbox]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    # the sandbox on the real clock, so the platform day that ended hours ago is complete there too
    with FacebookSandbox(now=dt.datetime.now(dt.UTC), token=TOKEN) as sb:
        yield sb


def write_config(tmp_path: Path, sandbox: FacebookSandbox, warehouse_url: str) -> Path:
    """A socmed.toml for the sandbox's two Pages."""
    channels = "".join(
        f'\n[[channels]]\nplatform = "facebook"\nhandle = "{page.username}"\naccount_id = "{page.id}"\n'
        for page in sandbox.pages
    )
    path = tmp_path / "socmed.toml"
    path.write_text(
        f'[pipeline]\ndata_dir = "data"\n[warehouse]\nurl = "{warehouse_url}"\n'
        'url_env = "SOCMED_E2E_NO_SUCH_VAR"\n'
        f'[platforms.facebook]\nbase_url = "{sandbox.base_url}"\ntoken_env = "{TOKEN_ENV}"\n'
        f"timeout_seconds = 5\n{channels}"
    )
    return path


def assert_pages_match_truth(url: str, sandbox: FacebookSandbox, snapshot: dt.date) -> None:
    """Every Page's posts, counts, followers and Page insights, exactly as generated."""
    for page in sandbox.pages:
        truth = sandbox.expected(page.id)
        content = query(url, "SELECT count(*), count(DISTINCT content_type), min(content_type) FROM content "
                             "WHERE platform = 'facebook' AND channel_id = :c", c=page.id)
        assert content == [(truth["posts"], 1, "post")], page.username
        facts = query(
            url,
            "SELECT count(*), sum(likes), sum(comments), sum(shares), sum(views), sum(reach), "
            "sum(CASE WHEN shares = 0 THEN 1 ELSE 0 END), count(saves) FROM content_metrics_daily "
            "WHERE platform = 'facebook' AND channel_id = :c AND snapshot_date = :d",
            c=page.id, d=snapshot,
        )
        assert [tuple(int(v) for v in facts[0])] == [(
            truth["posts"], truth["reactions_sum"], truth["comments_sum"], truth["shares_sum"],
            truth["views_sum"], truth["reach_sum"], truth["posts_without_shares"], 0,
        )], page.username
        followers = query(url, "SELECT followers, following, posts_count FROM channel_metrics_daily "
                               "WHERE channel_id = :c AND snapshot_date = :d", c=page.id, d=snapshot)
        assert followers == [(truth["followers_count"], None, None)]
        days = query(url, "SELECT snapshot_date, views, reach FROM channel_metrics_daily "
                          "WHERE channel_id = :c AND views IS NOT NULL ORDER BY snapshot_date", c=page.id)
        assert len(days) == 2, days  # insights_days: the last two complete platform days
        for day, views, reach in days:
            daily = sandbox.daily(page.id, dt.date.fromisoformat(str(day)))
            assert (views, reach) == (daily["page_media_view"], daily["page_total_media_view_unique"])
        channel = query(url, "SELECT handle, display_name, url FROM channel WHERE channel_id = :c", c=page.id)
        assert channel == [(page.username, truth["name"], truth["link"])]


def test_pages_match_truth_and_a_rerun_changes_nothing(
    prefect_server: None,
    sandbox: FacebookSandbox,
    warehouse_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    config = write_config(tmp_path, sandbox, warehouse_url)
    reports = ingest(str(config))
    assert [r.status for r in reports] == ["succeeded", "succeeded"]
    assert all(r.fetch is not None and r.fetch.problems == [] for r in reports)
    # the Page, its posts in pages of 100 and one Page insights window: the API's minimum
    for report, page in zip(reports, sandbox.pages, strict=True):
        assert report.fetch is not None
        assert report.fetch.requests == 1 + -(-sandbox.expected(page.id)["posts"] // 100) + 1
    jakarta = dt.datetime.now(zoneinfo.ZoneInfo("Asia/Jakarta")).date()
    assert_pages_match_truth(warehouse_url, sandbox, jakarta)
    marks = query(warehouse_url, "SELECT stream, count(*) FROM sync_state GROUP BY stream ORDER BY stream")
    assert marks == [("account_insights", 2), ("media", 2)]
    before = dump(warehouse_url)

    ingest(str(config))  # the same data again: nothing may change
    assert dump(warehouse_url) == before
    audits = query(warehouse_url, "SELECT status, rows_changed FROM load_audit ORDER BY finished_at")
    assert [a[0] for a in audits] == ["succeeded"] * 4
    assert [a[1] for a in audits[2:]] == [0, 0]
    assert files_containing(tmp_path / "data", TOKEN.encode()) == []
    assert TOKEN not in caplog.text


def test_a_page_without_insights_permission_still_loads_its_posts(
    prefect_server: None, sandbox: FacebookSandbox, sqlite_url: str, tmp_path: Path
) -> None:
    city, tv = sandbox.pages
    sandbox.deny_insights(tv.id)
    reports = {r.channel: r for r in ingest(str(write_config(tmp_path, sandbox, sqlite_url)))}
    report = reports[f"facebook/@{tv.username}"]
    assert report.status == "succeeded" and report.fetch is not None
    assert [p.split(" (")[0] for p in report.fetch.problems] == [
        "post insights not permitted; posts read without them", "page_insights not permitted"]
    rows = query(sqlite_url, "SELECT count(*), count(views), count(reach), sum(likes) "
                             "FROM content_metrics_daily WHERE channel_id = :c", c=tv.id)
    truth = sandbox.expected(tv.id)
    assert rows == [(truth["posts"], 0, 0, truth["reactions_sum"])]
    assert truth["views_sum"] is None  # the truth agrees: not reported, not zero
    assert reports[f"facebook/@{city.username}"].fetch.problems == []  # type: ignore[union-attr]
