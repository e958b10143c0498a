"""A WordPress news site on loopback: the REST API (``/wp-json/``), an RSS feed and an Atom feed.

Routes, as WordPress 6 answers them to a visitor without credentials:

* ``/wp-json/`` (and ``/?rest_route=/``): the REST index with the site's name and namespaces;
* ``/wp-json/wp/v2/posts`` (and ``/?rest_route=/wp/v2/posts``): ``per_page`` 1-100, ``page``
  (beyond the last: 400 ``rest_post_invalid_page_number``), ``orderby``/``order``, ``after``,
  ``before``, ``modified_after``, ``modified_before`` (ISO 8601; naive values are site-local),
  ``_fields`` and ``_embed``; headers ``X-WP-Total``, ``X-WP-TotalPages`` and ``Link``;
* ``/feed/`` (RSS 2.0) and ``/feed/atom/`` (Atom): the 10 newest articles; ``/rss`` redirects.

With ``pretty=False`` pretty permalinks are off and only ``?rest_route=`` reaches the API.
With ``wordpress=False`` the site is a custom CMS instead: every ``/wp-json`` route and ``/feed``
answer an HTML 404; ``/rss`` serves the RSS feed and ``/atom`` the Atom one. Faults take the
shapes a web server or firewall gives: HTML 5xx pages, 429 with ``Retry-After``; there is no
token to expire.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import math
from typing import Any
from urllib.parse import urlencode
from xml.sax.saxutils import escape, quoteattr

from sandbox.base import DEFAULT_TOKEN, FakeApi, Fault, Reply, Request
from sandbox.website_data import HOME, JAKARTA, SITE_ID, Article, SiteData

FEED_ITEMS = 10  # WordPress's default posts_per_rss
ORDERBY = ("date", "modified", "id", "title", "slug")
SPANS = {"after": ("date_gmt", 1), "before": ("date_gmt", -1),
         "modified_after": ("modified_gmt", 1), "modified_before": ("modified_gmt", -1)}
RSS_TYPE = "application/rss+xml; charset=UTF-8"
ATOM_TYPE = "application/atom+xml; charset=UTF-8"
HTML_TYPE = "text/html; charset=UTF-8"


class WpError(Exception):
    """A WordPress REST error: ``{"code", "message", "data": {"status"}}``."""

    def __init__(self, status: int, code: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.reply = Reply(status, {"code": code, "message": message, "data": {"status": status, **data}})


def _html(status: int, title: str) -> Reply:
    """A web server's HTML error page."""
    page = f"<html><head><title>{status} {title}</title></head><body><h1>{title}</h1></body></html>"
    return Reply(status, page, headers={"Content-Type": HTML_TYPE})


def _when(value: str, name: str) -> dt.datetime:
    """An ISO 8601 date-time parameter; a naive one is site-local (Asia/Jakarta)."""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise WpError(400, "rest_invalid_param", f"Invalid parameter(s): {name}",
                      params={name: "Invalid date."}) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=JAKARTA)


def _int(query: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer parameter within [low, high]."""
    raw = query.get(name, str(default))
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise WpError(400, "rest_invalid_param", f"Invalid parameter(s): {name}",
                      params={name: f"{name} must be between {low} (inclusive) and {high} (inclusive)"})
    return int(raw)


def _gmt(value: dt.datetime) -> str:
    """WordPress's ``*_gmt`` spelling: UTC without an offset."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


class WebsiteSandbox(FakeApi):
    """tangerangkota.go.id as a WordPress site (or, ``wordpress=False``, a feed-only CMS)."""

    def __init__(self, as_of: dt.date | None = None, seed: int = 7, token: str = DEFAULT_TOKEN, *,
                 months: int = 6, wordpress: bool = True, pretty: bool = True, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        super().__init__(token, host=host, port=port)
        self.data = SiteData(as_of or dt.datetime.now(dt.UTC).date(), seed, months)
        self.wordpress = wordpress
        self.pretty = pretty  # False: pretty permalinks off, only /?rest_route= reaches the API
        self.account_id = SITE_ID

    def expected(self) -> dict[str, Any]:
        """The site's truth for end-to-end tests (see ``SiteData.expected``)."""
        return self.data.expected()

    def account_of(self, request: Request) -> str | None:
        """Every request concerns the one site."""
        return self.account_id

    def route(self, request: Request) -> Reply:
        """Dispatch on the REST route (pretty or ``rest_route``) or the feed path."""
        rest = request.query.get("rest_route") if request.path == "/" else None
        if rest is None and request.path.startswith("/wp-json") and self.pretty:
            rest = request.path.removeprefix("/wp-json") or "/"
        if rest is not None:
            return self._rest(rest, request) if self.wordpress else _html(404, "Not Found")
        return self._page(request.path.rstrip("/") or "/")

    def fault_reply(self, fault: Fault, request: Request) -> Reply | None:
        """A web server's 5xx page, or a firewall's 429 with Retry-After; no token faults."""
        if fault.kind == "status":
            return _html(fault.status, "Service Temporarily Unavailable")
        if fault.kind == "rate_limit":
            reply = _html(429, "Too Many Requests")
            return Reply(429, reply.body, headers={**reply.headers,
                                                   "Retry-After": str(fault.regain_minutes * 60 or 30)})
        return None

    def encode(self, body: Any) -> bytes:
        """JSON as ``wp_json_encode`` writes it: ASCII with escaped slashes."""
        return json.dumps(body, separators=(",", ":")).replace("/", "\\/").encode("ascii")

    def _rest(self, route: str, request: Request) -> Reply:
        """A REST route, or WordPress's error body."""
        try:
            if route.rstrip("/") == "":
                return Reply(200, self._index(request.base))
            if route.rstrip("/") == "/wp/v2/posts":
                return self._posts(request)
            raise WpError(404, "rest_no_route", "No route was found matching the URL and request method.")
        except WpError as exc:
            return exc.reply

    def _page(self, path: str) -> Reply:
        """The feeds (WordPress or custom CMS layout) and the /rss redirect."""
        if self.wordpress and path == "/feed":
            return self._rss()
        if self.wordpress and path == "/feed/atom":
            return self._atom()
        if path == "/rss":
            return self._rss() if not self.wordpress else Reply(301, "", headers={"Location": "/feed/"})
        if path == "/atom" and not self.wordpress:
            return self._atom()
        return _html(404, "Not Found")

    def _index(self, base: str) -> dict[str, Any]:
        """The REST index, trimmed to what a client reads (the real one lists every route)."""
        return {
            "name": self.data.name, "description": self.data.description, "url": HOME, "home": HOME,
            "gmt_offset": "7", "timezone_string": "Asia/Jakarta",
            "namespaces": ["oembed/1.0", "wp/v2", "wp-site-health/v1"], "authentication": [],
            "routes": {"/wp/v2/posts": {"namespace": "wp/v2", "methods": ["GET"]}},
            "_links": {"help": [{"href": "https://developer.wordpress.org/rest-api/"}]},
        }

    def _posts(self, request: Request) -> Reply:
        """One page of the posts collection with WordPress's paging headers."""
        query = request.query
        per_page = _int(query, "per_page", 10, 1, 100)
        page = _int(query, "page", 1, 1, 10**6)
        items = self._filtered(query)
        pages = math.ceil(len(items) / per_page)
        if page > max(pages, 1):
            raise WpError(400, "rest_post_invalid_page_number",
                          "The page number requested is larger than the number of pages available.")
        chosen = items[(page - 1) * per_page: page * per_page]
        fields = [f for f in query.get("_fields", "").split(",") if f]
        body = [self._post(a, request.base, "_embed" in query, fields) for a in chosen]
        headers = {"X-WP-Total": str(len(items)), "X-WP-TotalPages": str(pages),
                   "Link": self._links(request, page, pages)}
        return Reply(200, body, headers={k: v for k, v in headers.items() if v})

    def _filtered(self, query: dict[str, str]) -> list[Article]:
        """The articles matching the date filters, in the requested order."""
        items = list(self.data.articles)
        for name, (column, sign) in SPANS.items():
            if name in query:
                bound = _when(query[name], name)
                items = [a for a in items if (getattr(a, column) - bound).total_seconds() * sign > 0]
        orderby = query.get("orderby", "date")
        if orderby not in ORDERBY:
            raise WpError(400, "rest_invalid_param", "Invalid parameter(s): orderby",
                          params={"orderby": f"orderby is not one of {', '.join(ORDERBY)}."})
        key = {"date": "date_gmt", "modified": "modified_gmt"}.get(orderby, orderby)
        items.sort(key=lambda a: (getattr(a, key), a.id), reverse=query.get("order", "desc") == "desc")
        return items

    def _post(self, article: Article, base: str, embed: bool, fields: list[str]) -> dict[str, Any]:
        """One post object as the REST API renders it, reduced to ``_fields`` when given."""
        terms = [self.data.terms[t] for t in (*article.categories, *article.tags)]
        post: dict[str, Any] = {
            "id": article.id, "date": article.date_gmt.astimezone(JAKARTA).strftime("%Y-%m-%dT%H:%M:%S"),
            "date_gmt": _gmt(article.date_gmt), "modified_gmt": _gmt(article.modified_gmt),
            "slug": article.slug, "status": "publish", "type": "post", "link": article.link,
            "title": {"rendered": article.title},
            "excerpt": {"rendered": article.excerpt, "protected": False},
            "author": 2, "categories": list(article.categories), "tags": list(article.tags),
            "_links": {"self": [{"href": f"{base}/wp-json/wp/v2/posts/{article.id}"}],
                       "wp:term": [{"taxonomy": tax, "embeddable": True,
                                    "href": f"{base}/wp-json/wp/v2/{name}?post={article.id}"}
                                   for tax, name in (("category", "categories"), ("post_tag", "tags"))]},
        }
        if embed:
            post["_embedded"] = {"wp:term": [
                [self._term(t, base) for t in terms if t.taxonomy == tax] for tax in ("category", "post_tag")
            ]}
        return {k: v for k, v in post.items() if k in fields} if fields else post

    def _term(self, term: Any, base: str) -> dict[str, Any]:
        """An embedded term."""
        kind = "category" if term.taxonomy == "category" else "tag"
        return {"id": term.id, "link": f"{HOME}/{kind}/{term.slug}/", "name": term.name,
                "slug": term.slug, "taxonomy": term.taxonomy}

    def _links(self, request: Request, page: int, pages: int) -> str:
        """The ``Link`` header with prev/next pages."""
        def url(number: int) -> str:
            return f"<{request.base}{request.path}?{urlencode({**request.query, 'page': number})}>"

        links = [f'{url(page - 1)}; rel="prev"'] if page > 1 else []
        links += [f'{url(page + 1)}; rel="next"'] if page < pages else []
        return ", ".join(links)

    def _newest(self) -> list[Article]:
        """The articles a feed lists: the newest by publish date."""
        return sorted(self.data.articles, key=lambda a: a.date_gmt, reverse=True)[:FEED_ITEMS]

    def _rss(self) -> Reply:
        """RSS 2.0 as WordPress writes it (titles keep numeric character references)."""
        items = "".join(self._rss_item(a) for a in self._newest())
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
            f"<title>{escape(self.data.name)}</title><link>{HOME}</link>"
            f"<description>{escape(self.data.description)}</description>"
            f"<language>id</language>{items}</channel></rss>"
        )
        return Reply(200, body, headers={"Content-Type": RSS_TYPE})

    def _rss_item(self, article: Article) -> str:
        """One RSS ``item``."""
        cats = "".join(f"<category><![CDATA[{self.data.terms[t].name}]]></category>"
                       for t in (*article.categories, *article.tags))
        return (
            f"<item><title>{article.title}</title><link>{article.link}</link>"
            f"<dc:creator><![CDATA[Admin]]></dc:creator>"
            f"<pubDate>{email.utils.format_datetime(article.date_gmt)}</pubDate>{cats}"
            f'<guid isPermaLink="false">{HOME}/?p={article.id}</guid>'
            f"<description><![CDATA[{_plain(article.excerpt)}]]></description></item>"
        )

    def _atom(self) -> Reply:
        """The Atom variant (``/feed/atom/``)."""
        newest = self._newest()
        entries = "".join(self._atom_entry(a) for a in newest)
        updated = max(a.modified_gmt for a in newest).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
            f'xml:lang="id"><title type="text">{escape(self.data.name)}</title>'
            f"<updated>{updated}</updated><id>{HOME}/feed/atom/</id>"
            f'<link rel="alternate" type="text/html" href="{HOME}"/>{entries}</feed>'
        )
        return Reply(200, body, headers={"Content-Type": ATOM_TYPE})

    def _atom_entry(self, article: Article) -> str:
        """One Atom ``entry``."""
        cats = "".join(f"<category scheme={quoteattr(HOME)} term={quoteattr(self.data.terms[t].name)}/>"
                       for t in (*article.categories, *article.tags))
        return (
            f'<entry><author><name>Admin</name></author><title type="html">{escape(article.title)}</title>'
            f'<link rel="alternate" type="text/html" href="{article.link}"/>'
            f"<id>{HOME}/?p={article.id}</id>"
            f"<updated>{article.modified_gmt.strftime('%Y-%m-%dT%H:%M:%SZ')}</updated>"
            f"<published>{article.date_gmt.strftime('%Y-%m-%dT%H:%M:%SZ')}</published>{cats}"
            f'<summary type="html">{escape(article.excerpt)}</summary></entry>'
        )


def _plain(rendered: str) -> str:
    """An excerpt's text without its paragraph tags (what WordPress puts in RSS descriptions)."""
    return rendered.removeprefix("<p>").removesuffix("</p>\n").replace("&hellip;", "&#8230;")
