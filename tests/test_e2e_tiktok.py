"""End to end: TikTok over real HTTP from its sandbox, into SQLite and PostgreSQL.

The first run has no access token: it refreshes with the refresh token, stores the rotated
pair under the data directory (mode 0600, outside the raw zone) and lists every video. The
second run finds the stored token and re-reads only the look-back window; nothing changes.
A later full refresh, after the access token expired, refreshes again with the *stored*
refresh token (the environment's has been spent) and refreshes known videos by id.
"""

from __future__ import annotations

import datetime as dt
import math
import stat
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from flows.ingest import ingest
from sandbox.tiktok import TikTokSandbox
from tests.e2e_helpers import dump, files_containing, query

pytestmark = pytest.mark.slow
ENV = {"key": "SOCMED_E2E_TIKTOK_KEY", "secret": "SOCMED_E2E_TIKTOK_SECRET",
       "refresh": "SOCMED_E2E_TIKTOK_REFRESH"}


@pytest.fixture
def tiktok(monkeypatch: pytest.MonkeyPatch) -> Iterator[TikTokSandbox]:
    with TikTokSandbox(as_of=dt.datetime.now(dt.UTC).date()) as sb:
        monkeypatch.setenv(ENV["key"], sb.client_key)
        monkeypatch.setenv(ENV["secret"], sb.client_secret)
        monkeypatch.setenv(ENV["refresh"], sb.refresh_token)
        yield sb


def write_config(tmp_path: Path, warehouse_url: str, sb: TikTokSandbox, extra: str = "") -> Path:
    """A socmed.toml with the sandbox's account as the one TikTok channel."""
    path = tmp_path / "socmed.toml"
    path.write_text(
        f'[pipeline]\ndata_dir = "data"\n[warehouse]\nurl = "{warehouse_url}"\n'
        'url_env = "SOCMED_E2E_NO_SUCH_VAR"\n'
        f'[platforms.tiktok]\nbase_url = "{sb.base_url}"\ntimeout_seconds = 5\n'
        f'client_key_env = "{ENV["key"]}"\nclient_secret_env = "{ENV["secret"]}"\n'
        f'refresh_token_env = "{ENV["refresh"]}"\n{extra}'
        f'[[channels]]\nplatform = "tiktok"\nhandle = "tangerangkota"\naccount_id = "{sb.data.open_id}"\n'
    )
    return path


def assert_matches_truth(url: str, sb: TikTokSandbox, snapshot: dt.date) -> None:
    """The warehouse holds exactly the sandbox's account and videos: counts and sums."""
    truth = sb.data.expected()
    c = sb.data.open_id
    assert query(url, "SELECT count(*), count(DISTINCT content_id) FROM content "
                      "WHERE platform = 'tiktok' AND channel_id = :c AND content_type = 'video'",
                 c=c) == [(truth["video_count"], truth["video_count"])]
    where = "WHERE platform = 'tiktok' AND channel_id = :c AND snapshot_date = :d"
    facts = query(url, "SELECT count(*), sum(views), sum(likes), sum(comments), sum(shares), "
                       f"count(reach), count(saves) FROM content_metrics_daily {where}", c=c, d=snapshot)
    assert [tuple(int(v) for v in facts[0])] == [(
        truth["video_count"], truth["views_sum"], truth["likes_sum"], truth["comments_sum"],
        truth["shares_sum"], 0, 0)]
    channel = query(url, "SELECT followers, following, posts_count, views, reach "
                         f"FROM channel_metrics_daily {where}", c=c, d=snapshot)
    assert channel == [(truth["followers"], truth["following"], truth["video_count"], None, None)]
    assert query(url, "SELECT handle, display_name, url FROM channel WHERE platform = 'tiktok'") == [
        ("tangerangkota", "Pemkot Tangerang", "https://www.tiktok.com/@tangerangkota")]


def test_ingest_matches_truth_rotates_tokens_and_rerun_changes_nothing(
    prefect_server: None, tiktok: TikTokSandbox, warehouse_url: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, warehouse_url, tiktok)
    first_refresh = tiktok.refresh_token
    [report] = ingest(str(config))
    assert report.status == "succeeded" and report.fetch is not None and report.fetch.problems == []
    videos = tiktok.data.expected()["video_count"]
    assert len(tiktok.requests) == 1 + 1 + math.ceil(videos / 20)  # a refresh, then the API floor
    today = dt.datetime.now(zoneinfo.ZoneInfo("Asia/Jakarta")).date()
    assert_matches_truth(warehouse_url, tiktok, today)

    state = tmp_path / "data" / "state" / "tiktok" / tiktok.data.open_id
    token_file = state / "tiktok-token.json"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert tiktok.refresh_token != first_refresh and tiktok.refresh_token in token_file.read_text()
    secrets = [first_refresh, tiktok.refresh_token, tiktok.client_secret, *tiktok.issued]
    raw = tmp_path / "data" / "raw"
    assert [s for s in secrets if files_containing(raw, s.encode())] == []
    before = dump(warehouse_url)

    tiktok.clear_requests()
    [again] = ingest(str(config))  # the stored token; only the look-back window is listed
    assert again.status == "succeeded"
    assert [r.path for r in tiktok.requests] == ["/v2/user/info/", "/v2/video/list/"]
    assert dump(warehouse_url) == before


def test_full_refresh_after_expiry_uses_the_stored_refresh_token_and_queries_by_id(
    prefect_server: None, tiktok: TikTokSandbox, sqlite_url: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, sqlite_url, tiktok)
    ingest(str(config))
    engine = create_engine(sqlite_url)
    with engine.begin() as conn:  # the weekly full refresh is due
        conn.execute(text("UPDATE sync_state SET last_full_refresh_at = '2020-01-01 00:00:00.000000'"))
    engine.dispose()
    tiktok.expire_tokens()
    tiktok.clear_requests()
    [report] = ingest(str(config))
    assert report.status == "succeeded" and report.fetch is not None and report.fetch.problems == []
    videos = tiktok.data.expected()["video_count"]
    paths = [r.path for r in tiktok.requests]
    assert paths[:3] == ["/v2/user/info/", "/v2/oauth/token/", "/v2/user/info/"]
    assert paths[3:] == ["/v2/video/list/"] + ["/v2/video/query/"] * math.ceil((videos - 20) / 20)
    today = dt.datetime.now(zoneinfo.ZoneInfo("Asia/Jakarta")).date()
    assert_matches_truth(sqlite_url, tiktok, today)
