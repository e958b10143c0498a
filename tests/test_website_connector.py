"""The website connector over real HTTP against the WordPress sandbox: paging, windows, fallbacks."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from connectors.base import RawResponse
from connectors.errors import RateLimited, RequestRejected
from connectors.http import RetryPolicy
from connectors.website import SLACK, FetchWindow, PastLastPage, WebsiteConnector, classify, open_website
from sandbox.base import Fault
from sandbox.website import WebsiteSandbox

AS_OF = dt.date(2026, 11, 27)
SITE = "tangerangkota.go.id"
FAST = RetryPolicy(max_attempts=5, base_delay=0.001, max_delay=0.01, max_wait=900.0)


@dataclass
class Run:
    """One connector on the sandbox, with what it landed, yielded, slept and raised."""

    connector: WebsiteConnector
    landed: list[RawResponse] = field(default_factory=list)
    yielded: list[RawResponse] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)
    error: Exception | None = None

    def fetch(self, window: FetchWindow) -> Run:
        """Run fetch_all to its end (or the stop error), keeping everything."""
        try:
            self.yielded.extend(self.connector.fetch_all(window))
        except Exception as exc:
            self.error = exc
        return self

    def post_ids(self) -> list[int]:
        """Ids of every post yielded, in order."""
        return [p["id"] for r in self.yielded if r.stream == "posts" for p in json.loads(r.body)]


@pytest.fixture
def site() -> Iterator[WebsiteSandbox]:
    with WebsiteSandbox(as_of=AS_OF) as sb:
        yield sb


def connect(sb: WebsiteSandbox, feed_url: str | None = None, policy: RetryPolicy = FAST) -> Run:
    """A connector on the sandbox with a recording sink and sleep."""
    run = Run(None)  # type: ignore[arg-type]
    run.connector = open_website(base_url=sb.base_url, account_id=SITE, sink=run.landed.append,
                                 feed_url=feed_url, policy=policy, timeout=2.0, sleep=run.sleeps.append)
    return run


def test_full_listing_pages_to_the_end_at_the_api_minimum(site: WebsiteSandbox) -> None:
    run = connect(site).fetch(FetchWindow())
    articles = site.data.articles
    assert run.error is None and run.connector.problems == []
    assert sorted(run.post_ids()) == [a.id for a in articles]
    pages = math.ceil(len(articles) / 100)
    assert run.connector.request_count == 1 + pages  # the REST index, then pages of 100
    assert run.connector.requests == {"site": 1, "posts": pages}
    first = site.requests[1].query
    assert first["per_page"] == "100" and first["orderby"] == "modified" and first["order"] == "asc"
    assert first["_embed"] == "wp:term" and "_embedded" in first["_fields"]
    posts = [r for r in run.yielded if r.stream == "posts"]
    assert {r.context["listing"] for r in posts} == {"all"}
    assert posts[0].context["x-wp-total"] == str(len(articles))
    assert posts[0].context["x-wp-totalpages"] == str(pages)


def test_requests_per_thousand_articles_stay_within_ten_percent_of_the_floor() -> None:
    with WebsiteSandbox(as_of=AS_OF, months=4) as sb:  # about 1,000 articles
        run = connect(sb).fetch(FetchWindow())
        count = len(sb.data.articles)
    assert 950 <= count <= 1_050
    floor = math.ceil(count / 100)
    assert run.connector.request_count == floor + 1
    assert run.connector.request_count / floor <= 1.1


def test_incremental_run_reads_what_was_edited_since(site: WebsiteSandbox) -> None:
    since = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    run = connect(site).fetch(FetchWindow(modified_after=since))
    edited = [a for a in site.data.articles if a.modified_gmt > since - SLACK]
    assert sorted(run.post_ids()) == sorted(a.id for a in edited)
    assert any(a.date_gmt < since - dt.timedelta(days=1) for a in edited)  # older articles edited lately
    assert site.requests[1].query["modified_after"] == "2026-11-19T10:00:00+00:00"
    assert run.connector.request_count == 2
    assert {r.context["listing"] for r in run.yielded if r.stream == "posts"} == {"modified_after"}


def test_backfill_lists_by_publish_date(site: WebsiteSandbox) -> None:
    after, before = dt.datetime(2026, 9, 1, tzinfo=dt.UTC), dt.datetime(2026, 9, 8, tzinfo=dt.UTC)
    run = connect(site).fetch(FetchWindow(published_after=after, published_before=before))
    wanted = [a.id for a in site.data.articles if after - SLACK < a.date_gmt < before + SLACK]
    assert sorted(run.post_ids()) == wanted
    query = site.requests[1].query
    assert (query["after"], query["before"]) == ("2026-08-31T10:00:00+00:00", "2026-09-08T14:00:00+00:00")


def test_plain_permalinks_use_rest_route() -> None:
    with WebsiteSandbox(as_of=AS_OF, months=1, pretty=False) as sb:
        run = connect(sb).fetch(FetchWindow())
        paths = [(r.path, r.query.get("rest_route"), r.status) for r in sb.requests]
    assert run.error is None
    assert paths[:3] == [("/wp-json/", None, 404), ("/", "/", 200), ("/", "/wp/v2/posts", 200)]
    assert len(run.post_ids()) == len(sb.data.articles)
    assert len(run.connector.problems) == 1 and "/wp-json/" in run.connector.problems[0]


def test_a_site_without_wordpress_falls_back_to_its_rss_feed_and_says_what_is_missing() -> None:
    with WebsiteSandbox(as_of=AS_OF, months=1, wordpress=False) as sb:
        run = connect(sb).fetch(FetchWindow())
        paths = [(r.path, r.status) for r in sb.requests]
    assert run.error is None
    assert paths == [("/wp-json/", 404), ("/", 404), ("/feed", 404), ("/rss", 200)]
    assert [r.stream for r in run.yielded] == ["feed"]
    assert b"<rss" in run.yielded[0].body
    note = run.connector.problems[-1]
    assert "RSS feed" in note and "only the latest items" in note and "no metrics" in note


def test_a_configured_atom_feed_is_read_as_it_is() -> None:
    with WebsiteSandbox(as_of=AS_OF, months=1, wordpress=False) as sb:
        run = connect(sb, feed_url=f"{sb.base_url}/atom").fetch(FetchWindow())
        assert [r.path for r in sb.requests] == ["/wp-json/", "/", "/atom"]
    assert b"http://www.w3.org/2005/Atom" in run.yielded[0].body
    assert "ATOM feed" in run.connector.problems[-1]


def test_no_api_and_no_feed_stops_with_a_clear_error() -> None:
    with WebsiteSandbox(as_of=AS_OF, months=1, wordpress=False) as sb:
        run = connect(sb, feed_url=f"{sb.base_url}/nothing-here").fetch(FetchWindow())
    assert isinstance(run.error, RequestRejected)
    assert "neither a WordPress REST API nor an RSS/Atom feed" in str(run.error)
    assert "feed_url" in str(run.error)


def test_wordpress_redirects_are_followed(site: WebsiteSandbox) -> None:
    with httpx.Client(base_url=site.base_url, follow_redirects=True) as client:
        assert client.get("/rss").status_code == 200
    run = connect(site)
    assert [r.stream for r in run.connector.iter_feed("rss")] == ["feed"]


def test_a_listing_that_shrinks_while_paging_ends_and_says_so(site: WebsiteSandbox) -> None:
    run = connect(site)
    pages = math.ceil(len(site.data.articles) / 100)
    stream = run.connector.fetch_all(FetchWindow())
    run.yielded += [next(stream) for _ in range(pages)]  # the index and all pages but the last
    del site.data.articles[:150]  # unpublished meanwhile: one page fewer than announced
    run.yielded += list(stream)
    last = site.requests[-1]
    assert (last.status, last.query["page"]) == (400, str(pages))
    assert len(run.post_ids()) == (pages - 1) * 100
    assert len(run.connector.problems) == 1 and "PastLastPage" in run.connector.problems[0]
    assert "may be missed until the next full listing" in run.connector.problems[0]


def test_maintenance_503_with_retry_after_counts_against_max_wait(site: WebsiteSandbox) -> None:
    site.inject(Fault("rate_limit", "/wp/v2/posts", regain_minutes=30))
    run = connect(site, policy=RetryPolicy(max_attempts=5, base_delay=0.001, max_wait=600.0))
    run.fetch(FetchWindow(modified_after=dt.datetime(2026, 11, 25, tzinfo=dt.UTC)))
    assert isinstance(run.error, RateLimited)
    assert "1800 s" in str(run.error) and run.sleeps == []


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "retry", "rate_limit"),
    [
        (200, b"[]", {}, None, False, False),
        (429, b"<html>", {"Retry-After": "30"}, RateLimited, True, True),
        (503, b"<html>", {"Retry-After": "600"}, Exception, True, True),
        (502, b"<html>", {}, Exception, True, False),
        (400, b'{"code":"rest_post_invalid_page_number","message":"too far","data":{"status":400}}', {},
         PastLastPage, False, False),
        (401, b'{"code":"rest_login_required","message":"login","data":{"status":401}}', {},
         RequestRejected, False, False),
        (404, b"<html>not found</html>", {}, RequestRejected, False, False),
    ],
)
def test_classify(status: int, body: bytes, headers: dict[str, str], kind: type | None, retry: bool,
                  rate_limit: bool) -> None:
    response = httpx.Response(status, content=body, headers=headers,
                              request=httpx.Request("GET", "https://example.org/wp-json/wp/v2/posts"))
    verdict = classify(response)
    assert (verdict.retry, verdict.rate_limit) == (retry, rate_limit)
    if kind is None:
        assert verdict.error is None
    else:
        assert isinstance(verdict.error, kind)
    if status == 401:
        assert "rest_login_required" in str(verdict.error)
