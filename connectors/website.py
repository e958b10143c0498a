"""News websites: the WordPress REST API first, an RSS 2.0 or Atom feed where there is none.

Streams and the ``context`` each RawResponse carries (the transform relies on both):

* ``site``: ``GET /wp-json/`` (or ``/?rest_route=/`` where pretty links are off), the REST
  index: detects WordPress and names the channel; context ``{}``. A probe that fails lands too.
* ``posts``: ``GET /wp-json/wp/v2/posts`` in pages of 100 (``page`` up to ``X-WP-TotalPages``),
  ordered by ``modified`` ascending (an item edited while paging moves to the end: seen twice,
  never lost) with categories and tags embedded (``_embed=wp:term``); context
  ``{"listing": "all" | "modified_after" | "published", "x-wp-total", "x-wp-totalpages"}``.
  Only an ``all`` listing's ``X-WP-Total`` counts every published article.
* ``feed``: one RSS 2.0 or Atom document, from the channel's ``feed_url`` or else probed at
  ``/feed`` and ``/rss``, when the site has no WordPress API. A feed holds only the latest
  items (WordPress: 10) and no metrics; the run says so in ``problems``.

WordPress core has no rate limit of its own; hosts and firewalls answer 429 (or 503 in
maintenance mode) with ``Retry-After``, which the shared layer honours. No token is used.

What a site serves is remembered in the channel's state folder (``website-source.json``:
the REST route or the feed URL, and the day it was found). Later runs go there directly and
probe again only when it fails before yielding anything (the remembered failure lands and is
named in ``problems``) or when it was found ``REPROBE_AFTER`` (30 days) ago. A run without
the probe carries no ``site`` body: the warehouse keeps the channel row of the last one.

Requests for N articles: ceil(N/100), the API floor (the first run and one run a month: 1 +
ceil(N/100)); a daily incremental run: ceil(M/100) for the M articles published or edited
within the look-back. A feed site: 1 (the first run: the probes plus 1).
"""

from __future__ import annotations

import datetime as dt
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

from connectors.base import RawResponse
from connectors.errors import (
    MalformedResponse,
    RateLimited,
    RequestRejected,
    RetriesExhausted,
    StreamError,
)
from connectors.http import ACCEPT, ApiClient, Call, RetryPolicy, Rules, Sink, Verdict
from connectors.paging import PageNumberPaginator
from connectors.state import StateFile
from socmed import __version__

PLATFORM = "website"
PAGE_SIZE = 100  # WordPress caps per_page at 100
POST_FIELDS = "id,date_gmt,modified_gmt,slug,link,title,excerpt,categories,tags,_links,_embedded"
EMBED = "wp:term"  # categories and tags with their names, in the same request
FEED_PATHS = ("feed", "rss")
PAST_LAST_PAGE = "rest_post_invalid_page_number"
ATOM = "{http://www.w3.org/2005/Atom}feed"
FEED_NOTE = ("no WordPress REST API: read the {kind} feed at {url}, which lists only the latest "
             "items (no older articles, no backfill) and no metrics")
KEPT_HEADERS = ("X-WP-Total", "X-WP-TotalPages")
# Whether WordPress honours the offset of after/before values is unverified (it may read them as
# site-local time): widening every bound by the largest UTC offset keeps the listing a superset.
SLACK = dt.timedelta(hours=14)
REPROBE_AFTER = dt.timedelta(days=30)  # re-detect now and then: the site's name, a move to WordPress


class PastLastPage(RequestRejected):
    """WordPress refused a page number beyond the last (the listing shrank while paging)."""


@dataclass(frozen=True)
class FetchWindow:
    """What one run lists: edited since, published within, or (both None) every article."""

    modified_after: dt.datetime | None = None
    published_after: dt.datetime | None = None
    published_before: dt.datetime | None = None


@dataclass(frozen=True)
class Route:
    """How the site's REST API is addressed: under ``/wp-json`` or by ``?rest_route=``."""

    plain: bool  # pretty permalinks off (or /wp-json/ blocked): /?rest_route=/wp/v2/posts

    @property
    def label(self) -> str:
        """The REST index URL path, as problems name it."""
        return "/?rest_route=/" if self.plain else "/wp-json/"

    def call(self, route: str, stream: str, params: dict[str, str] | None = None,
             context: dict[str, str] | None = None) -> Call:
        """A request for a REST route such as ``/wp/v2/posts``."""
        if self.plain:
            return Call("", stream, {"rest_route": route, **(params or {})}, context or {})
        return Call(f"wp-json{route}", stream, params or {}, context or {})


ROUTES = (Route(plain=False), Route(plain=True))


ROUTE_BY_LABEL = {route.label: route for route in ROUTES}


@dataclass(frozen=True)
class Source:
    """What a site was found to serve: a REST route (by label) or a feed URL, and when."""

    kind: str  # "wordpress" or "feed"
    where: str  # Route.label, or the feed URL as asked
    checked: dt.date


class SourceMemory:
    """The source a site was last found to serve, kept in the channel's state folder."""

    def __init__(self, file: StateFile | None, today: dt.date) -> None:
        self.file = file
        self.today = today

    def recall(self) -> Source | None:
        """The remembered source while it is younger than ``REPROBE_AFTER``."""
        stored = self.file.read() if self.file is not None else {}
        try:
            source = Source(str(stored["kind"]), str(stored["where"]),
                            dt.date.fromisoformat(str(stored["checked"])))
        except (KeyError, ValueError):
            return None
        known = source.kind == "feed" or source.where in ROUTE_BY_LABEL
        return source if known and self.today - source.checked < REPROBE_AFTER else None

    def keep(self, kind: str, where: str) -> None:
        """Remember a source found today."""
        if self.file is not None:
            self.file.write({"kind": kind, "where": where, "checked": self.today.isoformat()})

    def forget(self) -> None:
        """Drop the remembered source (the next run probes)."""
        if self.file is not None:
            self.file.write({})


def _wp_error(response: httpx.Response) -> tuple[str, str]:
    """WordPress's error ``code`` and ``message`` (empty when the body is not a WP error)."""
    try:
        body = response.json()
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    return str(body.get("code") or ""), str(body.get("message") or "")


def classify(response: httpx.Response) -> Verdict:
    """Accept, retry or stop for one response of a website (status first, then WP's code)."""
    status = response.status_code
    if status < 400:
        return ACCEPT
    code, message = _wp_error(response)
    text = f"HTTP {status}{f' {code}' if code else ''}{f': {message}' if message else ''}"
    waits = "Retry-After" in response.headers  # maintenance-mode 503s say how long, too
    if status == 429:
        return Verdict(RateLimited(text, status=status), retry=True, rate_limit=True)
    if status >= 500:
        return Verdict(RetriesExhausted(text, status=status), retry=True, rate_limit=waits)
    if code == PAST_LAST_PAGE:
        return Verdict(PastLastPage(text, status=status))
    return Verdict(RequestRejected(text, status=status))


def feed_kind(response: httpx.Response) -> str:
    """``rss`` or ``atom`` for a feed body; MalformedResponse for anything else."""
    try:
        root = ET.fromstring(response.content)  # expat >= 2.4 refuses entity-expansion bombs
    except ET.ParseError as exc:
        raise MalformedResponse(f"feed is not XML ({exc})", status=response.status_code,
                                url=str(response.request.url)) from None
    kinds = {"rss": "rss", ATOM: "atom"}
    if root.tag in kinds:
        return kinds[root.tag]
    raise MalformedResponse(f"<{root.tag}> is neither an RSS 2.0 nor an Atom feed",
                            status=response.status_code, url=str(response.request.url))


def website_rules() -> Rules:
    """The shared layer's rules for websites: classification and the WordPress total headers."""
    return Rules(platform=PLATFORM, classify=classify, headers=KEPT_HEADERS)


def _posts_params(window: FetchWindow, page_size: int) -> tuple[dict[str, str], str]:
    """The listing's query parameters and its kind (``all``, ``modified_after``, ``published``)."""
    params = {"per_page": str(page_size), "orderby": "modified", "order": "asc",
              "_fields": POST_FIELDS, "_embed": EMBED}
    spans = {"modified_after": (window.modified_after, -SLACK), "after": (window.published_after, -SLACK),
             "before": (window.published_before, SLACK)}
    params |= {k: (v + pad).astimezone(dt.UTC).isoformat() for k, (v, pad) in spans.items() if v is not None}
    if window.published_after or window.published_before:
        return params, "published"
    return params, "modified_after" if window.modified_after else "all"


class WebsiteConnector:
    """One news website: REST index, post pages, or the feed; one generator per endpoint."""

    platform = PLATFORM

    def __init__(self, api: ApiClient, account_id: str, feed_url: str | None = None,
                 page_size: int = PAGE_SIZE, memory: SourceMemory | None = None) -> None:
        self.api = api
        self.account_id = account_id
        self.feed_url = feed_url
        self.page_size = min(page_size, PAGE_SIZE)
        self.memory = memory or SourceMemory(None, dt.date.today())
        self.problems: list[str] = []  # detection notes and streams ended early, redacted

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far, retries included."""
        return self.api.request_count

    @property
    def requests(self) -> Counter[str]:
        """HTTP requests sent per stream."""
        return self.api.requests

    def iter_site(self, route: Route) -> Iterator[RawResponse]:
        """The REST index at one route; MalformedResponse unless it serves ``wp/v2``."""
        page = self.api.get(route.call("/", "site"))
        namespaces = page.data.get("namespaces") if isinstance(page.data, dict) else None
        if not isinstance(namespaces, list) or "wp/v2" not in namespaces:
            raise MalformedResponse("not a WordPress REST index (no wp/v2 namespace)",
                                    url=page.raw.url, stream="site")
        yield page.raw

    def iter_posts(self, route: Route, window: FetchWindow) -> Iterator[RawResponse]:
        """Every page of the listing to ``X-WP-TotalPages``; a page past the end ends it too."""
        params, listing = _posts_params(window, self.page_size)
        call = route.call("/wp/v2/posts", "posts", params, {"listing": listing})
        try:
            for page in self.api.paginate(PageNumberPaginator(), call):
                yield page.raw
        except PastLastPage as exc:  # unpublished while paging: later items moved to pages read
            self._problem("posts listing shrank while paging; articles may be missed until the next "
                          "full listing", exc)

    def iter_feed(self, url: str) -> Iterator[RawResponse]:
        """One feed document (RSS 2.0 or Atom)."""
        page = self.api.get(Call(url, "feed", parse=feed_kind))
        self.problems.append(FEED_NOTE.format(kind=page.data.upper(), url=page.raw.url))
        yield page.raw

    def fetch_all(self, window: FetchWindow) -> Iterator[RawResponse]:
        """The remembered source, else the REST API if the site has one, else its feed."""
        known = self.memory.recall()
        if known is not None and (known.kind != "feed" or known.where == (self.feed_url or known.where)):
            done = yield from self._read_known(known, window)
            if done:
                return
        route = yield from self._detect()
        if route is not None:
            try:
                yield from self.iter_posts(route, window)
            except RequestRejected as exc:  # REST locked down for visitors (rest_login_required)
                self._problem("posts listing refused; reading the feed instead", exc)
            except StreamError as exc:
                self._problem("posts stream ended early", exc)
                return
            else:
                self.memory.keep("wordpress", route.label)
                return
        url = yield from self._first_feed()
        self.memory.keep("feed", url)

    def close(self) -> None:
        """Close the underlying HTTP client."""
        self.api.client.close()

    def __enter__(self) -> WebsiteConnector:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _detect(self) -> Generator[RawResponse, None, Route | None]:
        """Yield the REST index of the first route that serves one; return that route or None."""
        for route in ROUTES:
            try:
                yield from self.iter_site(route)
            except StreamError as exc:
                self._problem(f"no WordPress REST index at {route.label}", exc)
                continue
            return route
        return None

    def _read_known(self, known: Source, window: FetchWindow) -> Generator[RawResponse, None, bool]:
        """Read the remembered source; False (probe again) when it fails before yielding."""
        yielded = False
        try:
            if known.kind == "feed":
                yield from self.iter_feed(known.where)
                return True
            for raw in self.iter_posts(ROUTE_BY_LABEL[known.where], window):
                yielded = True
                yield raw
        except StreamError as exc:
            if yielded:
                self._problem("posts stream ended early", exc)
                return True
            self._problem(f"the {known.kind} source found on {known.checked} failed; probing again", exc)
            self.memory.forget()
            return False
        return True

    def _first_feed(self) -> Generator[RawResponse, None, str]:
        """The configured feed, else the first of /feed and /rss that serves one; its URL."""
        urls = [self.feed_url] if self.feed_url else list(FEED_PATHS)
        for url in urls:
            try:
                yield from self.iter_feed(url)
                return url
            except StreamError as exc:
                self._problem(f"no feed at {url if '://' in url else '/' + url}", exc)
        raise RequestRejected(f"neither a WordPress REST API nor an RSS/Atom feed at "
                              f"{', '.join(urls)}; set feed_url on the channel", stream="feed")

    def _problem(self, what: str, exc: StreamError) -> None:
        """Record a stream-level problem, redacted, naming the error and the URL."""
        where = f" [GET {exc.url}]" if exc.url else ""
        self.problems.append(self.api.redact(f"{what} ({type(exc).__name__}): {exc.message}{where}"))


def _client(base_url: str, timeout: float) -> httpx.Client:
    """The site's HTTP client: redirects followed (http -> https, /feed -> /feed/)."""
    headers = {"User-Agent": f"socmed-pipeline/{__version__}",
               "Accept": "application/json, application/rss+xml, application/atom+xml;q=0.9, */*;q=0.5"}
    return httpx.Client(base_url=f"{base_url.rstrip('/')}/", headers=headers, timeout=timeout,
                        follow_redirects=True)


def open_website(*, base_url: str, account_id: str, sink: Sink | None, feed_url: str | None = None,
                 page_size: int = PAGE_SIZE, policy: RetryPolicy | None = None, timeout: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep, source_file: Path | None = None,
                 today: dt.date | None = None) -> WebsiteConnector:
    """Build the site's HTTP client and ApiClient, and the connector over them."""
    if not base_url:
        raise ValueError(f"website channel {account_id}: set base_url to the site's address")
    api = ApiClient(_client(base_url, timeout), website_rules(), account=account_id, sink=sink,
                    policy=policy, sleep=sleep)
    memory = SourceMemory(StateFile(source_file) if source_file else None,
                          today or dt.datetime.now(dt.UTC).date())
    return WebsiteConnector(api, account_id, feed_url, page_size, memory)
