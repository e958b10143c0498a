"""The Facebook Pages sandbox: the Graph API sandbox, seen from the Pages' side.

Pages live on the same Graph host as Instagram, so ``FacebookSandbox`` is the Instagram
``Sandbox`` (same routes, errors, usage headers and faults) with the Page options and truth:
``posts_per_page`` sizes every Page's listing, ``deny_insights`` takes ``read_insights`` away
from a Page's token, and ``expected`` gives the generator's truth for a Page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sandbox.base import DEFAULT_TOKEN
from sandbox.pages import FbPage, PageData
from sandbox.server import Sandbox


class FacebookSandbox(Sandbox):
    """A local Graph API whose Facebook Pages have a chosen number of posts."""

    def __init__(self, as_of: dt.date | None = None, seed: int = 7, token: str = DEFAULT_TOKEN, *,
                 posts_per_page: int | None = None, **options: Any) -> None:
        super().__init__(as_of, seed, token, **options)
        if posts_per_page is not None:
            self.api.pages = PageData(self.data, posts_per_page)

    @property
    def pages(self) -> list[FbPage]:
        """Every Page served."""
        return self.api.pages.pages

    def deny_insights(self, page_id: str) -> None:
        """Serve this Page as if its token lacked the read_insights permission."""
        self.api.pages.insights_denied.add(page_id)

    def expected(self, page_id: str) -> dict[str, Any]:
        """The generator's truth for a full fetch of one Page."""
        return self.api.pages.expected(page_id)

    def daily(self, page_id: str, day: dt.date) -> dict[str, int]:
        """Page insights of one platform day."""
        return self.api.pages.daily(page_id, day)
