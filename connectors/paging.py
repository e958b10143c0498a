"""Paging state objects: one small class per strategy, driven by ``ApiClient.paginate``.

A paginator answers three questions: which query parameters the next request adds
(``params``), what the response just received says about the next page (``update``), and
whether the listing is over (``finished``). It never sends a request itself, so it can be
tested with hand-built ``httpx.Response`` objects.

* ``TokenPaginator``: the next page is named by a token in the body (YouTube
  ``nextPageToken`` -> ``pageToken``; TikTok-style cursors with a ``has_more`` flag).
* ``GraphCursor``: Meta Graph cursor paging. The listing ends only when ``paging.next`` is
  absent (short and even empty pages may still have a next page); the next request is our
  own with ``after=<paging.cursors.after>``, never the ``next`` URL, which carries the token.
* ``PageNumberPaginator``: numbered pages (WordPress ``page`` with ``X-WP-TotalPages``).
* ``BodyCursor``: a cursor sent in the JSON body of a POST (TikTok ``video/list``: ``cursor``
  from ``data.cursor`` while ``data.has_more``); it may be a number, and may start from a
  value of the caller's (TikTok: a millisecond timestamp, "videos before this moment").
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import httpx

from connectors.errors import MalformedResponse, RepeatedCursor


def json_body(response: httpx.Response) -> Any:
    """Return the parsed body, or raise MalformedResponse naming the URL."""
    try:
        return response.json()
    except ValueError as exc:
        raise MalformedResponse(f"body is not JSON ({exc})", status=response.status_code,
                                url=str(response.request.url)) from None


def dig(body: Any, path: Sequence[str]) -> Any:
    """Return the value at a key path in nested dicts, or None where any key is missing."""
    for key in path:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body


class Paginator(ABC):
    """Paging state for one listing: next request parameters, update, finished."""

    def __init__(self) -> None:
        self.finished = False
        self.pages = 0

    @abstractmethod
    def params(self) -> dict[str, str]:
        """Query parameters that select the next page (empty for the first)."""

    @abstractmethod
    def update(self, response: httpx.Response) -> None:
        """Advance the state from the page just received."""

    def body(self) -> dict[str, Any]:
        """JSON body fields that select the next page (none for query-string paging)."""
        return {}


class TokenPaginator(Paginator):
    """Next page named by a token in the body; ends when the token (or ``more``) is absent."""

    def __init__(self, param: str, token_path: Sequence[str],
                 more_path: Sequence[str] | None = None) -> None:
        super().__init__()
        self.param = param
        self.token_path = tuple(token_path)
        self.more_path = tuple(more_path) if more_path else None
        self.token: str | None = None
        self._seen: set[str] = set()

    def params(self) -> dict[str, str]:
        """The token parameter once a first page was read."""
        return {self.param: self.token} if self.token else {}

    def update(self, response: httpx.Response) -> None:
        """Read the next token; raise RepeatedCursor if the API repeats one."""
        body = json_body(response)
        self.pages += 1
        token = dig(body, self.token_path)
        more = dig(body, self.more_path) if self.more_path else token
        if not more:
            self.finished = True
            return
        url = str(response.request.url)
        if not isinstance(token, str) or not token:
            raise MalformedResponse(f"a next page is announced without {'.'.join(self.token_path)}",
                                    status=response.status_code, url=url)
        if token in self._seen:
            raise RepeatedCursor(f"cursor repeated after {self.pages} pages; paging stopped",
                                 status=response.status_code, url=url)
        self._seen.add(token)
        self.token = token


class GraphCursor(TokenPaginator):
    """Meta Graph cursor paging: ``after`` from ``paging.cursors.after`` while ``paging.next``."""

    def __init__(self) -> None:
        super().__init__("after", ("paging", "cursors", "after"), more_path=("paging", "next"))


class PageNumberPaginator(Paginator):
    """Numbered pages; ends on an empty page or at the total the API announces in a header."""

    def __init__(self, param: str = "page", start: int = 1,
                 total_header: str | None = "X-WP-TotalPages") -> None:
        super().__init__()
        self.param = param
        self.page = start
        self.total_header = total_header

    def params(self) -> dict[str, str]:
        """The page number of the next request."""
        return {self.param: str(self.page)}

    def update(self, response: httpx.Response) -> None:
        """Move to the next page number unless this page was the last."""
        body = json_body(response)
        self.pages += 1
        total = response.headers.get(self.total_header) if self.total_header else None
        items = body.get("data", body) if isinstance(body, dict) else body
        last = total is not None and total.isdigit() and self.page >= int(total)
        if last or not items:
            self.finished = True
            return
        self.page += 1


class BodyCursor(Paginator):
    """A cursor in the JSON request body, read back from the response while ``more`` is true."""

    def __init__(self, field: str = "cursor", cursor_path: Sequence[str] = ("data", "cursor"),
                 more_path: Sequence[str] = ("data", "has_more"), start: int | str | None = None) -> None:
        super().__init__()
        self.field = field
        self.cursor_path = tuple(cursor_path)
        self.more_path = tuple(more_path)
        self.cursor = start
        self._seen: set[int | str] = set()

    def params(self) -> dict[str, str]:
        """No query parameters: the cursor travels in the body."""
        return {}

    def body(self) -> dict[str, Any]:
        """The cursor field, once there is a cursor."""
        return {self.field: self.cursor} if self.cursor is not None else {}

    def update(self, response: httpx.Response) -> None:
        """Read the next cursor; raise RepeatedCursor if the API repeats one."""
        body = json_body(response)
        self.pages += 1
        if dig(body, self.more_path) is not True:
            self.finished = True
            return
        cursor = dig(body, self.cursor_path)
        url = str(response.request.url)
        if isinstance(cursor, bool) or not isinstance(cursor, int | str) or cursor == "":
            raise MalformedResponse(f"a next page is announced without {'.'.join(self.cursor_path)}",
                                    status=response.status_code, url=url)
        if cursor in self._seen or cursor == self.cursor:
            raise RepeatedCursor(f"cursor repeated after {self.pages} pages; paging stopped",
                                 status=response.status_code, url=url)
        self._seen.add(cursor)
        self.cursor = cursor
