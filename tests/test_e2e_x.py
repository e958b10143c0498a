"""End to end: X over real HTTP from its sandbox, into SQLite and PostgreSQL.

The first run reads the user and pages the timeline to its reach (800 own posts) at the
API's floor and remembers the posts it saw (under the data directory, outside the raw
zone); the second re-reads only the look-back window and changes nothing. A later full
refresh looks up by id the known posts the timeline no longer reaches, 100 to a call.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.state import StateFile
from connectors.x import KNOWN_FILE
from flows.ingest import ingest
from sandbox.x import XSandbox
from sandbox.x_data import TIMELINE_REACH, USERNAME, Post
from tests.e2e_helpers import dump, files_containing, query

pytestmark = pytest.mark.slow
TOKEN_ENV = "SOCMED_E2E_X_TOKEN"
TOKEN = "AAAAAAAAAAAAAAAAAAAAAe2e-x-bearer-0123456789"


@pytest.fixture
def x(monkeypatch: pytest.MonkeyPatch) -> Iterator[XSandbox]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with XSandbox(as_of=dt.datetime.now(dt.UTC).date(), token=TOKEN) as sb:
        yield sb


def write_config(tmp_path: Path, warehouse_url: str, sb: XSandbox) -> Path:
    """A socmed.toml with the sandbox's account as the one X channel."""
    path = tmp_path / "socmed.toml"
    path.write_text(
        f'[pipeline]\ndata_dir = "data"\n[warehouse]\nurl = "{warehouse_url}"\n'
        'url_env = "SOCMED_E2E_NO_SUCH_VAR"\n'
        f'[platforms.x]\nbase_url = "{sb.base_url}"\ntoken_env = "{TOKEN_ENV}"\ntimeout_seconds = 5\n'
        f'[[channels]]\nplatform = "x"\nhandle = "{USERNAME}"\naccount_id = "{sb.data.user_id}"\n'
    )
    return path


def today() -> dt.date:
    return dt.datetime.now(zoneinfo.ZoneInfo("Asia/Jakarta")).date()


def assert_matches_truth(url: str, sb: XSandbox, snapshot: dt.date, posts: list[Post] | None = None) -> None:
    """The warehouse holds exactly the sandbox's account and the posts read: counts and sums."""
    truth, c = sb.expected(posts), sb.data.user_id
    n = truth["posts"]
    assert query(
        url,
        "SELECT content_type, count(*), count(DISTINCT content_id) FROM content "
        "WHERE platform = 'x' AND channel_id = :c GROUP BY content_type",
        c=c,
    ) == [("post", n, n)]
    facts = query(
        url,
        "SELECT count(*), sum(views), sum(likes), sum(comments), sum(shares), sum(saves), "
        "count(reach) FROM content_metrics_daily "
        "WHERE platform = 'x' AND channel_id = :c AND snapshot_date = :d",
        c=c,
        d=snapshot,
    )
    assert [tuple(int(v) for v in facts[0])] == [
        (
            n,
            truth["views_sum"],
            truth["likes_sum"],
            truth["comments_sum"],
            truth["shares_sum"],
            truth["saves_sum"],
            0,
        )
    ]
    assert query(
        url,
        "SELECT followers, following, posts_count, views, reach FROM channel_metrics_daily "
        "WHERE platform = 'x' AND channel_id = :c AND snapshot_date = :d",
        c=c,
        d=snapshot,
    ) == [(truth["followers"], truth["following"], truth["tweet_count"], None, None)]
    assert query(url, "SELECT handle, display_name, url FROM channel WHERE platform = 'x'") == [
        (USERNAME, "Pemerintah Kota Tangerang", f"https://x.com/{USERNAME}")
    ]
    # long posts: the whole text of note_tweet, not the 280 characters of text
    read = posts if posts is not None else sb.data.reachable()
    long_posts = sorted((p.id, p.note) for p in read if p.note is not None)
    assert len(long_posts) == truth["long_posts"] > 0 and all(len(note) > 280 for _, note in long_posts)
    assert sorted(query(url, "SELECT content_id, caption FROM content WHERE platform = 'x' AND "
                             "length(caption) > 280")) == long_posts


def test_ingest_matches_truth_and_rerun_changes_nothing(
    prefect_server: None, x: XSandbox, warehouse_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    config = write_config(tmp_path, warehouse_url, x)
    [report] = ingest(str(config))
    assert report.status == "succeeded" and report.fetch is not None and report.fetch.problems == []
    assert report.fetch.requests == len(x.requests) == 1 + math.ceil(TIMELINE_REACH / 100)
    assert_matches_truth(warehouse_url, x, today())
    known = StateFile(tmp_path / "data" / "state" / "x" / x.data.user_id / KNOWN_FILE).read()["posts"]
    assert set(known) == {p.id for p in x.data.reachable()}
    before = dump(warehouse_url)

    x.clear_requests()
    [again] = ingest(str(config))  # the look-back week: the user and one timeline page
    assert again.status == "succeeded"
    assert [r.path for r in x.requests] == [f"/2/users/{x.data.user_id}", f"/2/users/{x.data.user_id}/tweets"]
    assert "start_time" in x.requests[1].query
    assert dump(warehouse_url) == before
    assert files_containing(tmp_path / "data", TOKEN.encode()) == [] and TOKEN not in caplog.text


def test_full_refresh_looks_up_known_posts_beyond_the_timeline(
    prefect_server: None, x: XSandbox, sqlite_url: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path, sqlite_url, x)
    older = x.data.posts[TIMELINE_REACH:]  # seen by runs long ago, out of the timeline's reach now
    state = StateFile(tmp_path / "data" / "state" / "x" / x.data.user_id / KNOWN_FILE)
    state.write({"posts": [p.id for p in older]})
    [report] = ingest(str(config))
    assert report.status == "succeeded" and report.fetch is not None and report.fetch.problems == []
    lookups = [r for r in x.requests if r.path == "/2/tweets"]
    assert len(lookups) == math.ceil(len(older) / 100)
    assert report.fetch.requests == 1 + math.ceil(TIMELINE_REACH / 100) + len(lookups)
    assert_matches_truth(sqlite_url, x, today(), x.data.reachable() + older)
    assert len(state.read()["posts"]) == len(x.data.posts)
