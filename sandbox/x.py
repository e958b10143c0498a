"""The X API v2 on loopback: the user, the user's posts timeline and posts by id.

Routes under ``/2/`` (app-only ``Authorization: Bearer``):

* ``users/{id}?user.fields=...``: the user object; an unknown id answers 200 with ``errors``;
* ``users/{id}/tweets?max_results=5..100&pagination_token=&start_time=&end_time=&exclude=``:
  the own posts, newest first, at most ``TIMELINE_REACH`` of them (3,200 unless replies are
  excluded); ``meta.next_token`` while more remain; an empty page is ``{"meta":
  {"result_count": 0}}``;
* ``tweets?ids=<1..100>``: posts by id; deleted ones come back in ``errors`` next to ``data``.

Fields appear only when asked for in ``tweet.fields``/``user.fields`` (``id``, ``text`` and
``edit_history_tweet_ids`` always). A long post (over 280 characters) has its first 279 and
"…" in ``text`` and its whole text in ``note_tweet.text`` when ``note_tweet`` is asked for.
Every reply carries ``x-rate-limit-limit``,
``-remaining`` and ``-reset`` per endpoint (15-minute windows, wall-clock time). Faults take
X's shapes: ``status`` (a problem object), ``rate_limit`` (429 with ``remaining`` 0; the
legacy ``{"errors":[{"code":88}]}`` body when ``Fault.code`` is 88), ``token_expired`` (401)
and ``usage_high`` (few requests left in the window).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import time
from typing import Any

from sandbox.base import DEFAULT_TOKEN, FakeApi, Fault, Reply, Request
from sandbox.x_data import NAME, TIMELINE_REACH, USER_ID, USERNAME, AccountData, Post

WINDOW_SECONDS = 900
LIMITS = {"timeline": 1500, "user": 300, "lookup": 450, "other": 300}
FULL_REACH = 3200
PROBLEMS = "https://api.twitter.com/2/problems/"


class XError(Exception):
    """An X error reply: a problem object, optionally with an ``errors`` list."""

    def __init__(self, status: int, title: str, detail: str, kind: str = "about:blank",
                 **extra: Any) -> None:
        super().__init__(detail)
        self.reply = Reply(status, {**extra, "title": title, "detail": detail, "type": kind,
                                    **({"status": status} if kind == "about:blank" else {})})


def _invalid(name: str, value: str) -> XError:
    """400 for a bad query parameter, as X words it."""
    return XError(400, "Invalid Request", "One or more parameters to your request was invalid.",
                  PROBLEMS + "invalid-request",
                  errors=[{"parameters": {name: [value]},
                           "message": f"The `{name}` query parameter value [{value}] is not valid"}])


def _not_found(value: str, resource: str, parameter: str) -> dict[str, Any]:
    """One partial error of a lookup: the resource does not exist (any more)."""
    return {"value": value, "detail": f"Could not find {resource} with {parameter}: [{value}].",
            "title": "Not Found Error", "resource_type": resource, "parameter": parameter,
            "resource_id": value, "type": PROBLEMS + "resource-not-found"}


def _token(offset: int) -> str:
    return base64.b32encode(f"o{offset}".encode()).decode().rstrip("=").lower()


def _offset(token: str) -> int:
    try:
        raw = base64.b32decode(token.upper() + "=" * (-len(token) % 8)).decode()
        if not raw.startswith("o"):
            raise ValueError(raw)
        return int(raw[1:])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _invalid("pagination_token", token) from None


def _when(query: dict[str, str], name: str) -> dt.datetime | None:
    """An ISO 8601 ``start_time``/``end_time``."""
    if name not in query:
        return None
    try:
        value = dt.datetime.fromisoformat(query[name])
    except ValueError:
        raise _invalid(name, query[name]) from None
    if value.tzinfo is None:
        raise _invalid(name, query[name])
    return value


class XSandbox(FakeApi):
    """The city's X account behind the API v2, with per-endpoint rate-limit windows."""

    def __init__(self, as_of: dt.date | None = None, seed: int = 7, token: str = DEFAULT_TOKEN, *,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(token, host=host, port=port)
        self.data = AccountData(as_of or dt.datetime.now(dt.UTC).date(), seed)
        self._windows: dict[str, tuple[float, int]] = {}  # endpoint -> (window start, used)

    def expected(self, posts: list[Post] | None = None) -> dict[str, Any]:
        """The account's truth for end-to-end tests (see ``AccountData.expected``)."""
        return self.data.expected(posts)

    def account_of(self, request: Request) -> str | None:
        """Every request concerns the one account."""
        return self.data.user_id

    def route(self, request: Request) -> Reply:
        """Authenticate, then dispatch on the path."""
        if request.token != self.token:
            return XError(401, "Unauthorized", "Unauthorized").reply
        parts = [p for p in request.path.split("/") if p]
        try:
            if request.method == "GET" and parts[:2] == ["2", "users"] and len(parts) == 3:
                return Reply(200, self._user(parts[2], request.query))
            if request.method == "GET" and parts[:2] == ["2", "users"] and parts[3:] == ["tweets"]:
                return Reply(200, self._timeline(parts[2], request.query))
            if request.method == "GET" and parts == ["2", "tweets"]:
                return Reply(200, self._lookup(request.query))
            raise XError(404, "Not Found Error", "Sorry, that page does not exist.")
        except XError as exc:
            return exc.reply

    def fault_reply(self, fault: Fault, request: Request) -> Reply | None:
        """X's shapes of a server error, a rate limit and a rejected token."""
        if fault.kind == "status":
            return XError(fault.status, "Service Unavailable", "Service Unavailable").reply
        if fault.kind == "rate_limit":
            reset = int(time.time()) + (fault.regain_minutes * 60 or WINDOW_SECONDS)
            body: Any = ({"errors": [{"code": 88, "message": "Rate limit exceeded"}]} if fault.code == 88
                         else XError(429, "Too Many Requests", "Too Many Requests").reply.body)
            headers = {"x-rate-limit-limit": str(LIMITS[_endpoint(request.path)]),
                       "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)}
            return Reply(429, body, headers=headers)
        if fault.kind == "token_expired":
            return XError(401, "Unauthorized", "Unauthorized").reply
        return None

    def decorate(self, reply: Reply, request: Request, fault: Fault | None) -> Reply:
        """The endpoint's rate-limit headers (a fault's own headers win)."""
        endpoint = _endpoint(request.path)
        now = time.time()
        start, used = self._windows.get(endpoint, (now, 0))
        if now - start >= WINDOW_SECONDS:
            start, used = now, 0
        used += 1
        self._windows[endpoint] = (start, used)
        limit = LIMITS[endpoint]
        remaining = max(0, limit - used)
        if fault is not None and fault.kind == "usage_high":
            remaining = min(remaining, round(limit * (100 - fault.usage) / 100))
        headers = {"x-rate-limit-limit": str(limit), "x-rate-limit-remaining": str(remaining),
                   "x-rate-limit-reset": str(int(start) + WINDOW_SECONDS)}
        return Reply(reply.status, reply.body, reply.account_id, {**headers, **reply.headers})

    def _user(self, user_id: str, query: dict[str, str]) -> dict[str, Any]:
        """The user object with the fields asked for."""
        if not user_id.isdigit():
            raise _invalid("id", user_id)
        if user_id != self.data.user_id:
            return {"errors": [_not_found(user_id, "user", "id")]}
        fields = _fields(query, "user.fields")
        user: dict[str, Any] = {"id": user_id, "name": NAME, "username": USERNAME}
        extra = {"created_at": "2011-05-19T02:14:37.000Z", "description": "Akun resmi Pemkot Tangerang",
                 "public_metrics": {"followers_count": self.data.expected()["followers"],
                                    "following_count": self.data.expected()["following"],
                                    "tweet_count": self.data.tweet_count, "listed_count": 214,
                                    "like_count": 1_905, "media_count": 2_344},
                 "verified": True}
        user.update({k: v for k, v in extra.items() if k in fields})
        return {"data": user}

    def _timeline(self, user_id: str, query: dict[str, str]) -> dict[str, Any]:
        """One page of the user's own posts, newest first."""
        if user_id != self.data.user_id:
            return {"errors": [_not_found(user_id, "user", "id")]}
        size = query.get("max_results", "10")
        if not size.isdigit() or not 5 <= int(size) <= 100:
            raise _invalid("max_results", size)
        # without replies excluded the reach is 3,200 posts, but replies would fill it: not modelled
        reach = self.data.reachable(TIMELINE_REACH if "replies" in query.get("exclude", "") else FULL_REACH)
        since, until = _when(query, "start_time"), _when(query, "end_time")
        posts = [p for p in reach if (since is None or p.created_at >= since)
                 and (until is None or p.created_at < until)]
        start = _offset(query["pagination_token"]) if query.get("pagination_token") else 0
        chosen = posts[start:start + int(size)]
        if not chosen:
            return {"meta": {"result_count": 0}}
        meta: dict[str, Any] = {"next_token": _token(start + int(size))} \
            if start + int(size) < len(posts) else {}
        meta = {"result_count": len(chosen), "newest_id": chosen[0].id, "oldest_id": chosen[-1].id, **meta}
        fields = _fields(query, "tweet.fields")
        return {"data": [_post(p, fields) for p in chosen], "meta": meta}

    def _lookup(self, query: dict[str, str]) -> dict[str, Any]:
        """Posts by id; deleted or unknown ids become partial errors."""
        ids = [i for i in query.get("ids", "").split(",") if i]
        if not 1 <= len(ids) <= 100 or not all(i.isdigit() for i in ids):
            raise _invalid("ids", query.get("ids", ""))
        fields = _fields(query, "tweet.fields")
        known = self.data.posts_by_id
        found = [known[i] for i in ids if i in known and i not in self.data.deleted]
        missing = [i for i in ids if i not in known or i in self.data.deleted]
        body: dict[str, Any] = {"data": [_post(p, fields) for p in found]} if found else {}
        return {**body, "errors": [_not_found(i, "tweet", "ids") for i in missing]} if missing else body


def _endpoint(path: str) -> str:
    """The rate-limit bucket of a path."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["2", "users"]:
        return "timeline" if parts[3:] == ["tweets"] else "user"
    return "lookup" if parts == ["2", "tweets"] else "other"


def _fields(query: dict[str, str], name: str) -> set[str]:
    """The comma-separated field list of a ``*.fields`` parameter."""
    return {f.strip() for f in query.get(name, "").split(",") if f.strip()}


def _post(post: Post, fields: set[str]) -> dict[str, Any]:
    """A post object with the fields asked for (id, text and edit history always)."""
    out: dict[str, Any] = {"id": post.id, "text": post.text, "edit_history_tweet_ids": [post.id]}
    if "created_at" in fields:
        out["created_at"] = post.created
    if "public_metrics" in fields:
        out["public_metrics"] = post.public_metrics
    if "author_id" in fields:
        out["author_id"] = USER_ID
    if "note_tweet" in fields and post.note is not None:  # only long posts carry one
        out["note_tweet"] = {"text": post.note}
    return out
