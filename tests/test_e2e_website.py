"""End to end: the news website over real HTTP from the WordPress sandbox, into SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.ingest import ingest
from sandbox.website import WebsiteSandbox
from tests.e2e_helpers import dump, query

pytestmark = pytest.mark.slow
SITE = "tangerangkota.go.id"
# The per-month article count, as docs/website.md shows it (mart_content_dates works on both dialects).
PER_MONTH = (
    "SELECT publish_month, count(*) FROM mart_content_dates WHERE platform = 'website' "
    "AND channel_id = :c GROUP BY publish_month ORDER BY publish_month"
)


@pytest.fixture
def site() -> Iterator[WebsiteSandbox]:
    with WebsiteSandbox(as_of=dt.datetime.now(dt.UTC).date()) as sb:
        yield sb


def write_config(tmp_path: Path, warehouse_url: str, base_url: str, feed_url: str | None = None) -> Path:
    """A socmed.toml with the sandbox site as one website channel (no token)."""
    feed = f'feed_url = "{feed_url}"\n' if feed_url else ""
    path = tmp_path / "socmed.toml"
    path.write_text(
        f'[pipeline]\ndata_dir = "data"\n[warehouse]\nurl = "{warehouse_url}"\n'
        'url_env = "SOCMED_E2E_NO_SUCH_VAR"\n[platforms.website]\ntimeout_seconds = 5\n'
        f'[[channels]]\nplatform = "website"\nhandle = "{SITE}"\naccount_id = "{SITE}"\n'
        f'base_url = "{base_url}"\n{feed}'
    )
    return path


def test_articles_per_month_match_the_site_and_a_rerun_changes_nothing(
    prefect_server: None, site: WebsiteSandbox, warehouse_url: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, warehouse_url, site.base_url)
    [report] = ingest(str(config))
    assert report.status == "succeeded" and report.fetch is not None and report.fetch.problems == []
    truth = site.expected()
    articles = truth["articles"]
    assert len(site.requests) == 1 + math.ceil(articles / 100)  # the REST index, then pages of 100

    months = query(warehouse_url, PER_MONTH, c=SITE)
    assert [(dt.date.fromisoformat(str(m)[:10]), n) for m, n in months] == list(truth["per_month"].items())

    def one(sql: str, **params: str) -> list[tuple[object, ...]]:
        return query(warehouse_url, f"{sql} WHERE platform = 'website'{params.pop('where', '')}", **params)

    assert one("SELECT count(*), count(DISTINCT content_id), min(CAST(content_id AS INTEGER)), "
               "max(CAST(content_id AS INTEGER)) FROM content") == [
        (articles, articles, truth["first_id"], truth["last_id"])]
    assert one("SELECT DISTINCT content_type, media_type FROM content") == [("article", "post")]
    for tag, count in truth["by_hashtag"].items():
        assert one("SELECT count(*) FROM content", where=" AND hashtags LIKE :t", t=f'%"{tag}"%') == [
            (count,)], tag
    today = dt.datetime.now(zoneinfo.ZoneInfo("Asia/Jakarta")).date()
    assert one("SELECT snapshot_date, followers, posts_count FROM channel_metrics_daily") in (
        [(today, None, articles)], [(str(today), None, articles)])
    assert one("SELECT count(*) FROM content_metrics_daily") == [(0,)]
    assert one("SELECT display_name, url FROM channel") == [
        ("Pemerintah Kota Tangerang", "https://www.tangerangkota.go.id")]
    before = dump(warehouse_url)

    site.clear_requests()
    [again] = ingest(str(config))  # incremental: what was edited within the look-back
    assert again.status == "succeeded" and again.fetch is not None and again.fetch.problems == []
    # no REST index this time: the detected route was kept in the channel's state folder
    assert [(r.path, r.query.get("modified_after") is not None) for r in site.requests] == [
        ("/wp-json/wp/v2/posts", True)]
    assert dump(warehouse_url) == before
    audits = query(warehouse_url, "SELECT status, rows_changed FROM load_audit ORDER BY finished_at")
    assert [a[0] for a in audits] == ["succeeded"] * 2 and audits[1][1] == 0


def test_a_site_without_wordpress_is_read_from_its_feed_and_the_run_says_what_is_missing(
    prefect_server: None, sqlite_url: str, tmp_path: Path
) -> None:
    with WebsiteSandbox(as_of=dt.datetime.now(dt.UTC).date(), months=1, wordpress=False) as sb:
        config = write_config(tmp_path, sqlite_url, sb.base_url, feed_url=f"{sb.base_url}/atom")
        [report] = ingest(str(config))
    assert report.status == "succeeded" and report.fetch is not None
    note = report.fetch.problems[-1]
    assert "only the latest items (no older articles, no backfill) and no metrics" in note
    assert query(sqlite_url, "SELECT count(*), min(media_type) FROM content WHERE platform = 'website'") == [
        (10, "atom")]
