"""Instagram ``views`` without refused requests: pooled lookups and the memory of legacy media."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from connectors.http import Call
from connectors.instagram import MEDIA_FIELDS, SAFE_INSIGHTS
from connectors.instagram_views import ViewsLookups
from connectors.paging import GraphCursor
from sandbox.data import Media
from sandbox.server import Sandbox
from tests.test_instagram_connector import (
    AS_OF,
    FULL,
    KOTA,
    TOKEN,
    TV,
    assert_clean,
    connect,
    expected_requests,
    listed_views,
    lookups,
)

INSIGHTS = 2 + 30  # FULL's account-insights calls


def fresh() -> Sandbox:
    """The same sandbox data as the ``sb`` fixture, unstarted."""
    return Sandbox(as_of=AS_OF, seed=7, token=TOKEN)


def split_requests(media: list[Media], newest_without: int) -> int:
    """Requests of a run that remembers the newest media without views (FULL window)."""
    newer = [m for m in media if m.timestamp.timestamp() > newest_without]
    older = [m for m in media if m.timestamp.timestamp() <= newest_without]
    asked = [m.id for m in older if m.media_type != "VIDEO" or m.media_product_type != "FEED"]
    refused = {m.id for m in older if not m.supports("views")} & set(asked)
    pages = math.ceil(len(newer) / 100) + math.ceil(len(older) / 100)
    return 1 + pages + lookups(asked, refused) + INSIGHTS


@pytest.mark.parametrize("account", [KOTA, TV])
def test_a_second_full_run_pays_no_refused_request(account: str, tmp_path: Path) -> None:
    memory = tmp_path / "instagram-views.json"
    with fresh() as sb:
        media = sb.data.media_for(account)
        first = connect(sb, account, views_file=memory).fetch(FULL)
        assert first.connector.request_count == expected_requests(media, INSIGHTS)[1]
    newest = max(int(m.timestamp.timestamp()) for m in media if not m.supports("views"))
    assert json.loads(memory.read_text()) == {"newest_without_views": newest}
    with fresh() as sb:
        run = connect(sb, account, views_file=memory).fetch(FULL)
        truth = sb.data.expected(account)["media"]
        assert run.error is None and run.connector.problems == [] and run.connector.skipped == []
        assert [r.status for r in run.landed] == [200] * len(run.landed)
        assert run.connector.request_count == split_requests(media, newest)
        assert run.media_ids() == [m.id for m in media]  # each once, newest first
        assert listed_views(run) == {mid: m["views"] for mid, m in truth.items()}
        contexts = [r.context["insights"] for r in run.yielded if r.stream == "media"]
        assert contexts == ["nested"] * (len(contexts) - 1) + ["safe"]
        assert_clean(run, sb)
    assert json.loads(memory.read_text()) == {"newest_without_views": newest}


def test_a_stale_memory_is_corrected_by_the_next_complete_listing(tmp_path: Path) -> None:
    memory = tmp_path / "instagram-views.json"
    with fresh() as sb:
        media = sb.data.media_for(KOTA)
        stale = int(media[150].timestamp.timestamp())  # a newer media than any legacy one
        memory.write_text(json.dumps({"newest_without_views": stale}))
        run = connect(sb, KOTA, views_file=memory).fetch(FULL)
        truth = sb.data.expected(KOTA)["media"]
        assert run.error is None and run.connector.skipped == []
        assert run.connector.request_count == split_requests(media, stale)
        assert run.media_ids() == [m.id for m in media]
        assert listed_views(run) == {mid: m["views"] for mid, m in truth.items()}
        assert_clean(run, sb)
    newest = max(int(m.timestamp.timestamp()) for m in media if not m.supports("views"))
    assert json.loads(memory.read_text()) == {"newest_without_views": newest}


def test_lookups_are_pooled_across_pages_fifty_ids_each() -> None:
    with fresh() as sb:
        run = connect(sb)
        api = run.connector.api
        pool = ViewsLookups(api, run.connector.skipped, lambda what, exc: run.connector.problems.append(what))
        params = {"fields": f"{MEDIA_FIELDS},{SAFE_INSIGHTS}", "limit": "30"}
        call = Call(f"{KOTA}/media", "media", params, {"insights": "safe"})
        for number, page in enumerate(api.paginate(GraphCursor(), call)):
            run.yielded.extend([page.raw, *pool.add(page)])
            if number == 4:
                break
        run.yielded.extend(pool.flush())
        newest = [m.id for m in sb.data.media_for(KOTA)[:150]]
        asked = [r.context["media_ids"].split(",") for r in run.yielded if r.stream == "media_insights_multi"]
        assert asked == [newest[:50], newest[50:100], newest[100:]]  # not one lookup per page of 30
        assert api.requests == {"media": 5, "media_insights_multi": 3}
        truth = sb.data.expected(KOTA)["media"]
        assert listed_views(run) == {mid: truth[mid]["views"] for mid in newest}
        assert pool.newest_without is None and run.connector.problems == []
        assert_clean(run, sb)
