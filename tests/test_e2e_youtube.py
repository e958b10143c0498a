"""End to end: YouTube over real HTTP from its sandbox, into SQLite and PostgreSQL.

The first run reads the whole uploads playlist at the API's floor (one unit per call) and
reports the quota units it spent; the second re-reads only the look-back window and changes
nothing. A spent daily quota stops the channel at once, saying when it resets, and what was
read before it is still loaded.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows.ingest import ingest
from sandbox.youtube import YouTubeSandbox
from sandbox.youtube_data import HANDLE
from socmed.summary import channel_markdown
from tests.e2e_helpers import dump, files_containing, query

pytestmark = pytest.mark.slow
KEY_ENV = "SOCMED_E2E_YOUTUBE_KEY"
KEY = "AIzaSy-e2e-sandbox-key-0123456789"


@pytest.fixture
def youtube(monkeypatch: pytest.MonkeyPatch) -> Iterator[YouTubeSandbox]:
    monkeypatch.setenv(KEY_ENV, KEY)
    with YouTubeSandbox(as_of=dt.datetime.now(dt.UTC).date(), token=KEY) as sb:
        yield sb


def write_config(tmp_path: Path, warehouse_url: str, sb: YouTubeSandbox) -> Path:
    """A socmed.toml with the sandbox's channel as the one YouTube channel, read with an API key."""
    path = tmp_path / "socmed.toml"
    path.write_text(
        f'[pipeline]\ndata_dir = "data"\n[warehouse]\nurl = "{warehouse_url}"\n'
        'url_env = "SOCMED_E2E_NO_SUCH_VAR"\n'
        f'[platforms.youtube]\nbase_url = "{sb.base_url}/youtube"\napi_key_env = "{KEY_ENV}"\n'
        f'timeout_seconds = 5\n[[channels]]\nplatform = "youtube"\nhandle = "{HANDLE}"\n'
        f'account_id = "{sb.data.channel_id}"\n'
    )
    return path


def today() -> dt.date:
    return dt.datetime.now(zoneinfo.ZoneInfo("Asia/Jakarta")).date()


def assert_matches_truth(url: str, sb: YouTubeSandbox, snapshot: dt.date) -> None:
    """The warehouse holds exactly the sandbox's channel and videos: counts and sums."""
    truth, c = sb.expected(), sb.data.channel_id
    assert query(
        url,
        "SELECT content_type, count(*), count(DISTINCT content_id) FROM content "
        "WHERE platform = 'youtube' AND channel_id = :c GROUP BY content_type ORDER BY 1",
        c=c,
    ) == [
        ("short", truth["shorts"], truth["shorts"]),
        ("video", truth["video_count"] - truth["shorts"], truth["video_count"] - truth["shorts"]),
    ]
    facts = query(
        url,
        "SELECT count(*), sum(views), sum(likes), sum(comments), count(likes), count(comments), "
        "count(reach) + count(shares) + count(saves) FROM content_metrics_daily "
        "WHERE platform = 'youtube' AND channel_id = :c AND snapshot_date = :d",
        c=c,
        d=snapshot,
    )
    n = truth["video_count"]
    assert [tuple(int(v) for v in facts[0])] == [
        (
            n,
            truth["views_sum"],
            truth["likes_sum"],
            truth["comments_sum"],
            n - truth["hidden_likes"],
            n - truth["comments_off"],
            0,
        )
    ]
    assert query(
        url,
        "SELECT followers, following, posts_count, views, reach FROM channel_metrics_daily "
        "WHERE platform = 'youtube' AND channel_id = :c AND snapshot_date = :d",
        c=c,
        d=snapshot,
    ) == [(truth["followers"], None, n, None, None)]
    assert query(url, "SELECT handle, display_name, url FROM channel WHERE platform = 'youtube'") == [
        (HANDLE, "Pemerintah Kota Tangerang", f"https://www.youtube.com/channel/{c}")
    ]


def test_ingest_matches_truth_reports_quota_and_rerun_changes_nothing(
    prefect_server: None,
    youtube: YouTubeSandbox,
    warehouse_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    config = write_config(tmp_path, warehouse_url, youtube)
    [report] = ingest(str(config))
    assert report.status == "succeeded" and report.fetch is not None and report.fetch.problems == []
    floor = 1 + 2 * math.ceil(len(youtube.data.videos) / 50)
    assert report.fetch.requests == report.fetch.quota_units == youtube.units_used == floor
    assert f"Quota units spent: **{floor}** of the daily budget of 10000" in channel_markdown(
        report, tmp_path
    )
    assert_matches_truth(warehouse_url, youtube, today())
    before = dump(warehouse_url)

    youtube.clear_requests()
    [again] = ingest(str(config))  # the look-back week: the first uploads page and one videos call
    assert again.status == "succeeded"
    assert [r.path for r in youtube.requests] == [
        "/youtube/v3/channels",
        "/youtube/v3/playlistItems",
        "/youtube/v3/videos",
    ]
    assert dump(warehouse_url) == before
    assert files_containing(tmp_path / "data", KEY.encode()) == [] and KEY not in caplog.text


def test_a_spent_quota_stops_the_channel_and_keeps_what_was_read(
    prefect_server: None, youtube: YouTubeSandbox, sqlite_url: str, tmp_path: Path
) -> None:
    youtube.quota_per_day = 3  # the channel, one uploads page and its videos call
    config = write_config(tmp_path, sqlite_url, youtube)
    state = ingest(str(config), return_state=True)
    assert state.is_failed()
    assert "quotaExceeded" in str(state.message) and "midnight US Pacific" in str(state.message)
    assert len(youtube.requests) == 4  # no retry of a spent quota
    assert query(sqlite_url, "SELECT count(*) FROM content WHERE platform = 'youtube'") == [(50,)]
    assert query(sqlite_url, "SELECT status FROM load_audit") == [("succeeded",)]
