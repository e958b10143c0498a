"""Graph API routes of the sandbox: a pure mapping from (path, query) to a Meta-shaped reply."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from sandbox.base import Reply, Request
from sandbox.data import PACIFIC, Media, SandboxData, platform_days
from sandbox.pages import MAX_PAGE_WINDOW, PageData, page_insights, page_node, post_insights, post_values
from sandbox.stories import StoryData, story_fields, story_insights
from sandbox.wire import (
    INVALID_TOKEN,
    MAX_IDS,
    MEDIA_METRIC_NAMES,
    MISSING_OBJECT,
    UNSUPPORTED_GET,
    USER_FIELDS,
    GraphError,
    check_supported,
    insight,
    media_values,
    nonexisting,
    page_values,
    parse_metrics,
    pick_fields,
    series,
    split_fields,
    total_value,
)

T = TypeVar("T")
Handler = Callable[[], dict[str, Any]]
VERSION = re.compile(r"v\d+\.\d+")
MAX_WINDOW = 2_592_000
TOTAL_VALUE_ONLY = ("views", "accounts_engaged", "total_interactions")
INSIGHTS_KEPT_DAYS = 30  # Instagram account insights older than this are refused


def _timestamp(value: str, name: str) -> dt.datetime:
    """A ``since``/``until`` value: unix seconds or an ISO date/time (strtotime-like)."""
    try:
        if value.lstrip("-").isdigit():
            return dt.datetime.fromtimestamp(int(value), dt.UTC)
        parsed = dt.datetime.fromisoformat(value)
    except (ValueError, OverflowError) as exc:
        raise GraphError(f"(#100) The parameter {name} is not a valid timestamp") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _cursor(offset: int, page: int) -> str:
    raw = f"sandbox:{offset}:{page}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _uncursor(value: str) -> tuple[int, int]:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        tag, offset, page = raw.split(":")
        if tag != "sandbox":
            raise ValueError(tag)
        return int(offset), int(page)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise GraphError("(#100) Invalid cursor") from exc


class GraphApi:
    """Answers Graph API GET requests from a ``SandboxData``."""

    def __init__(self, data: SandboxData, token: str, short_pages: bool = False) -> None:
        self.data = data
        self.token = token
        self.short_pages = short_pages
        self.pages = PageData(data)  # the Facebook Pages owning the accounts, with posts
        self.stories = StoryData(data)  # each account's stories of the last 24 hours

    def handle(self, request: Request, token: str | None) -> Reply:
        """Authenticate and route one request; errors come back as Meta error bodies."""
        try:
            if token != self.token:
                raise GraphError(INVALID_TOKEN, code=190)
            return self._route(request)
        except GraphError as err:
            return Reply(err.status, {"error": err.error}, self.account_of(request.path, request.query))

    def account_of(self, path: str, query: dict[str, str] | None = None) -> str | None:
        """The IG user a request concerns: its node's, or the one owner of all ``ids``."""
        parts = [part for part in path.split("/") if part]
        if len(parts) == 1 and query and "ids" in query:
            owners = {self._owner(node) for node in _ids(query)}
            return owners.pop() if len(owners) == 1 else None
        return self._owner(parts[1] if len(parts) > 1 else "")

    def _owner(self, node: str) -> str | None:
        """The IG user an object id is (an account) or belongs to (a media), if any."""
        if node in self.data.accounts_by_id or node in self.pages.pages_by_id:
            return node
        if post := self.pages.posts_by_id.get(node):
            return post.page_id
        media = self.data.media_by_id.get(node) or self.stories.by_id.get(node)
        return media.account_id if media else None

    def _route(self, request: Request) -> Reply:
        parts = [part for part in request.path.split("/") if part]
        if len(parts) == 1 and VERSION.fullmatch(parts[0]):
            return Reply(200, self._lookup(request), self.account_of(request.path, request.query))
        if len(parts) not in (2, 3) or not VERSION.fullmatch(parts[0]):
            raise GraphError(f"Unknown path components: {request.path}", code=2500)
        node, edge = parts[1], (parts[2] if len(parts) == 3 else None)
        node_type, table = self._edges(node, request)
        handler = table.get(edge)
        if handler is None:
            raise nonexisting(str(edge), node_type)
        return Reply(200, handler(), self.account_of(request.path))

    def _lookup(self, request: Request) -> dict[str, Any]:
        """Multi-id lookup ``/{v}/?ids=a,b&fields=...``: each node's fields, keyed by id.

        One id Meta cannot serve, or one media that does not support a requested metric,
        fails the whole call, as on the real API.
        """
        ids = _ids(request.query)
        if not ids:
            raise GraphError(UNSUPPORTED_GET, kind="GraphMethodException")
        if len(ids) > MAX_IDS:
            raise GraphError(f"(#100) Too many IDs. Maximum: {MAX_IDS}")
        return {node: self._node(node, request) for node in ids}

    def _node(self, node: str, request: Request) -> dict[str, Any]:
        """One node's requested fields; Meta always adds the ``id``."""
        _, table = self._edges(node, request)
        values = table[None]()
        return values if "id" in values else {**values, "id": node}

    def _edges(self, node: str, request: Request) -> tuple[str, dict[str | None, Handler]]:
        """The node type and the edges (None = the node itself) served for an object id."""
        if node == "me":
            me = {"id": "10000000000000099", "name": "Sandbox Operator"}
            return "User", {
                None: lambda: _pick(request, me, "User"),
                "accounts": lambda: self._pages(request),
            }
        if account := self.data.accounts_by_id.get(node):
            user = {field: getattr(account, field) for field in USER_FIELDS}
            return "IGUser", {
                None: lambda: _pick(request, user, "IGUser"),
                "media": lambda: self._media_list(request, node),
                "insights": lambda: self._account_insights(request, node),
                "stories": lambda: self._stories(request, node),
            }
        if story := self.stories.by_id.get(node):
            return "IGMedia", {
                None: lambda: story_fields(story, split_fields(request.query.get("fields", "id"))),
                "insights": lambda: story_insights(story, request.query.get("metric")),
            }
        if media := self.data.media_by_id.get(node):
            return "IGMedia", {
                None: lambda: self._media_fields(request, [media])[0],
                "insights": lambda: self._media_insights(request, media),
            }
        if page := self.data.pages_by_id.get(node):
            values = {**page_values(page), **page_node(self.pages.pages_by_id[node])}
            return "Page", {
                None: lambda: _pick(request, values, "Page"),
                "published_posts": lambda: self._posts(request, node),
                "insights": lambda: self._page_insights(request, node),
            }
        if post := self.pages.posts_by_id.get(node):
            denied = post.page_id in self.pages.insights_denied
            return "PagePost", {
                None: lambda: post_values(post, split_fields(request.query.get("fields", "id")), denied),
                "insights": lambda: post_insights(post, request.query.get("metric"), denied),
            }
        raise GraphError(MISSING_OBJECT.format(node), subcode=33, kind="GraphMethodException")

    def _pages(self, request: Request) -> dict[str, Any]:
        pages = [page_values(account) for account in self.data.accounts]
        data, paging = self._paginate(pages, request)
        fields = split_fields(request.query.get("fields", "id,name"))
        return _listing([pick_fields(page, fields, "Page") for page in data], paging)

    def _media_list(self, request: Request, account_id: str) -> dict[str, Any]:
        items = self.data.media_for(account_id)
        if "since" in request.query:
            since = _timestamp(request.query["since"], "since")
            items = [item for item in items if item.timestamp >= since]
        if "until" in request.query:
            until = _timestamp(request.query["until"], "until")
            items = [item for item in items if item.timestamp < until]
        page, paging = self._paginate(items, request)
        return _listing(self._media_fields(request, page), paging)

    def _media_fields(self, request: Request, items: Sequence[Media]) -> list[dict[str, Any]]:
        """Render the requested fields; a nested insights field fails the whole request."""
        fields = split_fields(request.query.get("fields", "id"))
        for field in fields:
            if field.startswith("insights"):
                found = re.search(r"\.metric\(([^)]*)\)", field)
                metrics = parse_metrics(found.group(1) if found else None, MEDIA_METRIC_NAMES)
                check_supported(items, metrics)
        return [media_values(item, fields) for item in items]

    def _media_insights(self, request: Request, media: Media) -> dict[str, Any]:
        metrics = parse_metrics(request.query.get("metric"), MEDIA_METRIC_NAMES)
        check_supported([media], metrics)
        return {"data": [insight(media, metric) for metric in metrics]}

    def _account_insights(self, request: Request, account_id: str) -> dict[str, Any]:
        allowed = ("reach", "follower_count", *TOTAL_VALUE_ONLY)
        metrics = parse_metrics(request.query.get("metric"), allowed)
        period = request.query.get("period")
        if period != "day":
            raise GraphError(
                f"(#100) Incompatible period ({period}) for the requested metrics; "
                "the sandbox serves period=day"
            )
        metric_type = request.query.get("metric_type", "time_series")
        wrong = TOTAL_VALUE_ONLY if metric_type == "time_series" else ("follower_count",)
        if bad := [m for m in metrics if m in wrong]:
            needed = "total_value" if metric_type == "time_series" else "time_series"
            raise GraphError(
                f"(#100) The following metrics ({', '.join(bad)}) should be "
                f"specified with parameter metric_type={needed}"
            )
        days = self._window(request.query)
        oldest = (self.data.now.astimezone(PACIFIC).date()) - dt.timedelta(days=INSIGHTS_KEPT_DAYS)
        if days and days[0] < oldest:
            raise GraphError(f"(#100) Insights are kept for {INSIGHTS_KEPT_DAYS} days: since must not "
                             f"be before {oldest.isoformat()}")
        make = series if metric_type == "time_series" else total_value
        return {"data": [make(self.data, account_id, metric, days) for metric in metrics]}

    def _stories(self, request: Request, account_id: str) -> dict[str, Any]:
        """The account's live stories (last 24 h), newest first."""
        page, paging = self._paginate(self.stories.stories_for(account_id), request)
        fields = split_fields(request.query.get("fields", "id"))
        return _listing([story_fields(story, fields) for story in page], paging)

    def _posts(self, request: Request, page_id: str) -> dict[str, Any]:
        """A Page's published posts in ``since``/``until``, newest first, fields expanded."""
        items = self.pages.posts_for(page_id)
        if "since" in request.query:
            since = _timestamp(request.query["since"], "since")
            items = [item for item in items if item.created >= since]
        if "until" in request.query:
            until = _timestamp(request.query["until"], "until")
            items = [item for item in items if item.created < until]
        page, paging = self._paginate(items, request)
        fields = split_fields(request.query.get("fields", "id,created_time,message"))
        denied = page_id in self.pages.insights_denied
        return _listing([post_values(post, fields, denied) for post in page], paging)

    def _page_insights(self, request: Request, page_id: str) -> dict[str, Any]:
        """Daily Page insights; ``paging`` names the windows around this one (token included)."""
        if request.query.get("period") != "day":
            raise GraphError("(#100) The sandbox serves Page insights with period=day only")
        days = self._window(request.query, MAX_PAGE_WINDOW, "93 days (8035200 s)")
        data = page_insights(self.pages, page_id, request.query.get("metric"), days)
        if not ("since" in request.query and "until" in request.query):
            return {"data": data}
        since, until = int(request.query["since"]), int(request.query["until"])
        link = {"access_token": self.token, **request.query}
        url = f"{request.base}{request.path}?"
        paging = {
            "previous": url + urlencode({**link, "since": 2 * since - until, "until": since}),
            "next": url + urlencode({**link, "since": until, "until": 2 * until - since}),
        }
        return {"data": data, "paging": paging}

    def _window(self, query: dict[str, str], max_window: int = MAX_WINDOW,
                span: str = "30 days (2592000 s)") -> list[dt.date]:
        """Platform days in ``since``/``until`` (default: the last 24 h before ``now``)."""
        now = self.data.now
        until = _timestamp(query["until"], "until") if "until" in query else None
        since = _timestamp(query["since"], "since") if "since" in query else None
        until = until or (since + dt.timedelta(days=1) if since else now)
        since = since or until - dt.timedelta(days=1)
        if (until - since).total_seconds() > max_window:
            raise GraphError(f"(#100) There cannot be more than {span} between since and until")
        return platform_days(since, min(until, now))

    def _paginate(self, items: Sequence[T], request: Request) -> tuple[Sequence[T], dict[str, Any]]:
        """One cursor page; ``short_pages`` serves short pages and one empty page like Meta."""
        query = request.query
        try:
            limit = min(max(int(query.get("limit", "25")), 1), 100)
        except ValueError as exc:
            raise GraphError("(#100) Param limit must be a number") from exc
        start, page = _uncursor(query["after"]) if "after" in query else (0, 0)
        if "before" in query:
            end, page = _uncursor(query["before"])
            start = max(end - limit, 0)
        chunk = items[start : start + self._page_size(limit, page)]
        if not items:
            return chunk, {}
        stop = start + len(chunk)
        before, after = _cursor(start, page), _cursor(stop, page + 1)
        paging: dict[str, Any] = {"cursors": {"before": before, "after": after}}
        base = {key: value for key, value in query.items() if key not in ("after", "before")}
        link = {"access_token": self.token, **base, "limit": str(limit)}
        url = f"{request.base}{request.path}?"
        if start > 0:
            paging["previous"] = url + urlencode({**link, "before": before})
        if stop < len(items):
            paging["next"] = url + urlencode({**link, "after": after})
        return chunk, paging

    def _page_size(self, limit: int, page: int) -> int:
        """Items on the page-th page: ``limit``, or with short pages half of it (page 2 empty)."""
        if self.short_pages and page == 2:
            return 0
        if self.short_pages and page % 2 == 1:
            return max(limit // 2, 1)
        return limit


def _ids(query: dict[str, str]) -> list[str]:
    """The distinct ids of a multi-id lookup, in request order."""
    return list(dict.fromkeys(part.strip() for part in query.get("ids", "").split(",") if part.strip()))


def _listing(data: list[dict[str, Any]], paging: dict[str, Any]) -> dict[str, Any]:
    return {"data": data, "paging": paging} if paging else {"data": data}


def _pick(request: Request, values: dict[str, Any], node: str) -> dict[str, Any]:
    """The requested fields of a node (``id`` alone when ``fields`` is absent)."""
    return pick_fields(values, split_fields(request.query.get("fields", "id")), node)
