"""Paging state objects, driven by hand-built httpx responses."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors.errors import MalformedResponse, RepeatedCursor
from connectors.paging import GraphCursor, PageNumberPaginator, TokenPaginator

URL = "https://graph.example/v24.0/1784/media"


def page(body: Any = None, *, content: bytes | None = None,
         headers: dict[str, str] | None = None) -> httpx.Response:
    """A response as the paginator sees it."""
    request = httpx.Request("GET", URL)
    if content is not None:
        return httpx.Response(200, content=content, request=request, headers=headers)
    return httpx.Response(200, json=body, request=request, headers=headers)


def graph_page(n: int, after: str | None, next_: bool) -> httpx.Response:
    """A Meta listing page with n items, an ``after`` cursor and maybe a ``next`` link."""
    paging: dict[str, Any] = {}
    if after is not None:
        paging["cursors"] = {"before": "b", "after": after}
    if next_:
        paging["next"] = f"{URL}?access_token=EAAsecret&after={after}"
    return page({"data": [{"id": str(i)} for i in range(n)], "paging": paging})


def test_graph_cursor_follows_after_until_next_is_absent() -> None:
    paginator = GraphCursor()
    assert paginator.params() == {}
    paginator.update(graph_page(100, "c1", True))
    assert paginator.params() == {"after": "c1"} and not paginator.finished
    paginator.update(graph_page(100, "c2", False))
    assert paginator.finished and paginator.pages == 2


@pytest.mark.parametrize("n", [0, 3], ids=["empty", "short"])
def test_graph_cursor_short_or_empty_page_with_next_is_not_the_end(n: int) -> None:
    paginator = GraphCursor()
    paginator.update(graph_page(n, "c1", True))
    assert not paginator.finished
    assert paginator.params() == {"after": "c1"}


def test_graph_cursor_page_without_paging_is_the_end() -> None:
    paginator = GraphCursor()
    paginator.update(page({"data": []}))
    assert paginator.finished


def test_graph_cursor_raises_on_repeated_cursor() -> None:
    paginator = GraphCursor()
    paginator.update(graph_page(100, "c1", True))
    paginator.update(graph_page(100, "c2", True))
    with pytest.raises(RepeatedCursor, match="repeated after 3 pages"):
        paginator.update(graph_page(100, "c1", True))


@pytest.mark.parametrize("response", [
    graph_page(5, None, True),
    page(content=b"<html>oops</html>"),
], ids=["next-without-cursor", "not-json"])
def test_graph_cursor_malformed(response: httpx.Response) -> None:
    with pytest.raises(MalformedResponse) as caught:
        GraphCursor().update(response)
    assert caught.value.url == URL


def test_token_paginator_ends_when_token_absent() -> None:
    paginator = TokenPaginator("pageToken", ("nextPageToken",))
    paginator.update(page({"items": [1], "nextPageToken": "t1"}))
    assert paginator.params() == {"pageToken": "t1"}
    paginator.update(page({"items": [2]}))
    assert paginator.finished


def test_token_paginator_with_more_flag() -> None:
    paginator = TokenPaginator("cursor", ("data", "cursor"), more_path=("data", "has_more"))
    paginator.update(page({"data": {"videos": [], "cursor": "17", "has_more": True}}))
    assert paginator.params() == {"cursor": "17"}
    paginator.update(page({"data": {"videos": [], "cursor": "18", "has_more": False}}))
    assert paginator.finished


@pytest.mark.parametrize(("pages", "total", "expected_pages"), [
    ([[1, 2], [3, 4], [5]], "3", 3),
    ([[1, 2], [3, 4], []], None, 3),
])
def test_page_number_paginator(pages: list[list[int]], total: str | None,
                               expected_pages: int) -> None:
    paginator = PageNumberPaginator()
    seen = []
    for items in pages:
        seen.append(paginator.params()["page"])
        paginator.update(page(items, headers={"X-WP-TotalPages": total} if total else None))
        if paginator.finished:
            break
    assert seen == [str(n) for n in range(1, expected_pages + 1)]
    assert paginator.finished
