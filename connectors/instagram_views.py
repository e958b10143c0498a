"""Instagram ``views`` where a media page cannot nest it, and where such media begin.

The API refuses ``views`` for legacy feed videos (code 100), and one refused item fails a
whole media page with nested insights. Such a page is listed with the safe metric set and
its other media get ``views`` by multi-id lookups (``GET /?ids=...``, at most 50 ids).

* ``ViewsLookups`` pools those ids across pages: every lookup but the last of a listing
  holds 50 ids. A refused lookup is bisected down to the single media that refuses.
* ``ViewsMemory`` keeps, between runs, the publish time of the newest media without
  ``views``. Legacy videos are the oldest media, so the next run lists media newer than
  that with nested insights and the rest with the safe set at once: no refused request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from connectors.base import RawResponse
from connectors.errors import MalformedResponse, RequestRejected, StreamError
from connectors.http import ApiClient, Call, Page
from connectors.state import StateFile

# Legacy feed videos answer code 100 for views (Airbyte asks them reach,saved only).
NO_VIEWS_TYPES = frozenset({("VIDEO", "FEED")})
VIEWS_INSIGHTS = "insights.metric(views)"
MAX_IDS = 50  # per multi-id lookup: "(#100) Too many IDs. Maximum: 50"
TIMESTAMP = "%Y-%m-%dT%H:%M:%S%z"  # Meta's +0000 offset has no colon

Problem = Callable[[str, StreamError], None]


def page_items(page: Page) -> list[dict[str, Any]]:
    """The ``data`` items of a listing page that carry an id."""
    data = page.data.get("data") if isinstance(page.data, dict) else None
    if not isinstance(data, list):
        raise MalformedResponse("listing page without a data list", url=page.raw.url,
                                stream=page.raw.stream)
    return [item for item in data if isinstance(item, dict) and item.get("id")]


def _published(item: dict[str, Any]) -> int | None:
    """A media item's publish time in unix seconds (None when absent or unreadable)."""
    try:
        return int(dt.datetime.strptime(str(item.get("timestamp")), TIMESTAMP).timestamp())
    except ValueError:
        return None


class ViewsLookups:
    """``views`` of the media of safe pages: lookups of 50 ids pooled across pages."""

    def __init__(self, api: ApiClient, skipped: list[str], problem: Problem) -> None:
        self.api = api
        self.skipped = skipped  # per-media metrics the API does not answer (left NULL)
        self.problem = problem
        self.pending: list[str] = []
        self.published: dict[str, int | None] = {}
        self.newest_without: int | None = None  # newest publish time of a media without views

    def add(self, page: Page) -> Iterator[RawResponse]:
        """Queue a safe page's media that support ``views``; send every full lookup."""
        for item in page_items(page):
            media_id, when = str(item["id"]), _published(item)
            if (item.get("media_type"), item.get("media_product_type")) in NO_VIEWS_TYPES:
                self._without_views(when)
            else:
                self.published[media_id] = when
                self.pending.append(media_id)
        while len(self.pending) >= MAX_IDS:
            chunk, self.pending = self.pending[:MAX_IDS], self.pending[MAX_IDS:]
            yield from self._lookup(chunk)

    def flush(self) -> Iterator[RawResponse]:
        """Send the last, partial lookup."""
        chunk, self.pending = self.pending, []
        if chunk:
            yield from self._lookup(chunk)

    def _without_views(self, when: int | None) -> None:
        """Note a media without ``views``."""
        if when is not None:
            self.newest_without = max(when, self.newest_without or when)

    def _lookup(self, ids: list[str]) -> Iterator[RawResponse]:
        """One lookup; a code-100 rejection is bisected, and leaves a single id's views NULL."""
        joined = ",".join(ids)
        call = Call("", "media_insights_multi", {"ids": joined, "fields": VIEWS_INSIGHTS},
                    {"media_ids": joined})
        try:
            yield self.api.get(call).raw
        except RequestRejected as exc:
            if len(ids) == 1:
                self.skipped.append(f"views for media {ids[0]}: {exc}")
                self._without_views(self.published.get(ids[0]))
            elif exc.code == 100:  # one item refused fails the lookup: find it
                half = (len(ids) + 1) // 2
                yield from self._lookup(ids[:half])
                yield from self._lookup(ids[half:])
            else:
                self.problem(f"views for {len(ids)} media not read", exc)
        except MalformedResponse as exc:
            self.problem(f"views for {len(ids)} media not read", exc)


class ViewsMemory:
    """The publish time (unix seconds) of the newest media without ``views``, between runs."""

    KEY = "newest_without_views"

    def __init__(self, file: StateFile | None) -> None:
        self.file = file
        self.newest: int | None = None
        if file is not None:
            stored = file.read().get(self.KEY)
            self.newest = stored if isinstance(stored, int) else None

    def split(self) -> dt.datetime | None:
        """Where nested listing ends: one second after the newest media without views."""
        if self.newest is None:
            return None
        return dt.datetime.fromtimestamp(self.newest + 1, dt.UTC)

    def learn(self, found: int | None, since: dt.datetime | None, until: dt.datetime | None,
              complete: bool) -> None:
        """Keep what a listing found; a complete one over the remembered media may forget it."""
        covered = complete and self._covers(since, until)
        known = [v for v in (found, self.newest) if v is not None]
        newest = found if covered else max(known, default=None)
        if newest != self.newest and self.file is not None:
            self.file.write({self.KEY: newest} if newest is not None else {})
        self.newest = newest

    def _covers(self, since: dt.datetime | None, until: dt.datetime | None) -> bool:
        """Whether a listing over [since, until) reached the remembered media (any, if none)."""
        if self.newest is None:
            return since is None and until is None
        return ((since is None or since.timestamp() <= self.newest)
                and (until is None or until.timestamp() > self.newest))
