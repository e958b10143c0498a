"""The website connector remembers what a site serves: later runs pay no detection probe."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

from connectors.website import REPROBE_AFTER, FetchWindow, open_website
from sandbox.website import WebsiteSandbox
from tests.test_website_connector import AS_OF, FAST, SITE, Run


def connect(sb: WebsiteSandbox, memory: Path, today: dt.date = AS_OF, feed_url: str | None = None) -> Run:
    """A connector on the sandbox that keeps its detected source in ``memory``."""
    run = Run(None)  # type: ignore[arg-type]
    run.connector = open_website(base_url=sb.base_url, account_id=SITE, sink=run.landed.append,
                                 feed_url=feed_url, policy=FAST, timeout=2.0, sleep=run.sleeps.append,
                                 source_file=memory, today=today)
    return run


def requested(sb: WebsiteSandbox, skip: int = 0) -> list[tuple[str, str | None, int]]:
    """The requests the sandbox saw after the first ``skip``: path, rest_route, status."""
    return [(r.path, r.query.get("rest_route"), r.status) for r in sb.requests[skip:]]


def test_a_wordpress_site_is_detected_once_then_listed_at_the_floor(tmp_path: Path) -> None:
    memory = tmp_path / "website-source.json"
    with WebsiteSandbox(as_of=AS_OF, months=4) as sb:  # about 1,000 articles
        first = connect(sb, memory).fetch(FetchWindow())
        pages = math.ceil(len(sb.data.articles) / 100)
        assert first.connector.requests == {"site": 1, "posts": pages}
        assert json.loads(memory.read_text()) == {"kind": "wordpress", "where": "/wp-json/",
                                                  "checked": AS_OF.isoformat()}
        second = connect(sb, memory, AS_OF + dt.timedelta(days=1)).fetch(FetchWindow())
        assert second.error is None and second.connector.problems == []
        assert second.connector.requests == {"posts": pages}  # no probe: the API floor
        assert sorted(second.post_ids()) == [a.id for a in sb.data.articles]
        assert len(sb.requests) == 1 + 2 * pages
    assert json.loads(memory.read_text())["checked"] == AS_OF.isoformat()  # detected, not re-checked


def test_plain_permalinks_are_remembered_too(tmp_path: Path) -> None:
    memory = tmp_path / "website-source.json"
    with WebsiteSandbox(as_of=AS_OF, months=1, pretty=False) as sb:
        connect(sb, memory).fetch(FetchWindow())
        seen = len(sb.requests)
        run = connect(sb, memory).fetch(FetchWindow())
        assert requested(sb, seen) == [("/", "/wp/v2/posts", 200)] * math.ceil(len(sb.data.articles) / 100)
    assert run.error is None and run.connector.problems == []


def test_a_feed_site_reads_its_remembered_feed_with_one_request(tmp_path: Path) -> None:
    memory = tmp_path / "website-source.json"
    with WebsiteSandbox(as_of=AS_OF, months=1, wordpress=False) as sb:
        first = connect(sb, memory).fetch(FetchWindow())
        assert first.connector.request_count == 4  # two REST probes, /feed, /rss
        assert json.loads(memory.read_text())["where"] == "rss"
        seen = len(sb.requests)
        run = connect(sb, memory).fetch(FetchWindow())
        assert requested(sb, seen) == [("/rss", None, 200)]
    assert [r.stream for r in run.yielded] == ["feed"] and run.error is None
    assert len(run.connector.problems) == 1 and "only the latest items" in run.connector.problems[0]


def test_a_remembered_source_that_fails_is_probed_again(tmp_path: Path) -> None:
    memory = tmp_path / "website-source.json"
    memory.write_text(json.dumps({"kind": "wordpress", "where": "/wp-json/", "checked": AS_OF.isoformat()}))
    with WebsiteSandbox(as_of=AS_OF, months=1, wordpress=False) as sb:  # the site left WordPress
        run = connect(sb, memory).fetch(FetchWindow())
        assert [(p, s) for p, _, s in requested(sb)] == [
            ("/wp-json/wp/v2/posts", 404), ("/wp-json/", 404), ("/", 404), ("/feed", 404), ("/rss", 200)]
    assert run.error is None and [r.stream for r in run.yielded] == ["feed"]
    assert run.connector.problems[0].startswith(
        f"the wordpress source found on {AS_OF.isoformat()} failed; probing again (RequestRejected)")
    assert json.loads(memory.read_text()) == {"kind": "feed", "where": "rss", "checked": AS_OF.isoformat()}


def test_an_old_detection_is_checked_again(tmp_path: Path) -> None:
    memory = tmp_path / "website-source.json"
    checked = AS_OF - REPROBE_AFTER
    memory.write_text(json.dumps({"kind": "feed", "where": "rss", "checked": checked.isoformat()}))
    with WebsiteSandbox(as_of=AS_OF, months=1) as sb:  # the feed site moved to WordPress
        run = connect(sb, memory).fetch(FetchWindow())
        assert run.connector.requests["site"] == 1 and run.connector.problems == []
        assert sorted(run.post_ids()) == [a.id for a in sb.data.articles]
    assert json.loads(memory.read_text())["kind"] == "wordpress"
