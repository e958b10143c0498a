"""The X connector: problem bodies, x-rate-limit headers, the timeline and known-post lookups."""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.base import RawResponse
from connectors.errors import (
    AuthError,
    ConnectorError,
    PermissionDenied,
    RateLimited,
    RequestRejected,
    RetriesExhausted,
)
from connectors.http import RetryPolicy
from connectors.state import StateFile
from connectors.x import (
    KNOWN_FILE,
    FetchWindow,
    KnownPosts,
    XConnector,
    classify,
    exhausted_wait,
    open_x,
    reset_wait,
    usage_percent,
)
from sandbox.base import Fault
from sandbox.x import XSandbox
from sandbox.x_data import TIMELINE_REACH, USER_ID

AS_OF = dt.date(2026, 11, 27)
TOKEN = "AAAAAAAAAAAAAAAAAAAAAsandbox-bearer-0123456789"
LABEL = "environment variable SOCMED_X_TOKEN"
FAST = RetryPolicy(max_attempts=5, base_delay=0.001, max_delay=0.01, max_wait=900.0)
NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


def problem(status: int, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
    """An X error reply (a problem object unless body says otherwise)."""
    content = body or {
        "title": "Some Title",
        "detail": "Some detail",
        "type": "about:blank",
        "status": status,
    }
    return httpx.Response(status, json=content, headers=headers)


@pytest.mark.parametrize(
    ("reply", "error", "retry"),
    [
        (problem(429), RateLimited, True),
        (problem(429, errors=[{"code": 88, "message": "Rate limit exceeded"}]), RateLimited, True),
        (problem(401), AuthError, False),
        (problem(403, title="Client Forbidden", reason="client-not-enrolled"), PermissionDenied, False),
        (problem(402), PermissionDenied, False),
        (problem(503), RetriesExhausted, True),
        (httpx.Response(500, content=b"<html>oops</html>"), RetriesExhausted, True),
        (
            problem(
                400, title="Invalid Request", detail="One or more parameters to your request was invalid."
            ),
            RequestRejected,
            False,
        ),
    ],
)
def test_classify(reply: httpx.Response, error: type[ConnectorError], retry: bool) -> None:
    verdict = classify(reply, LABEL)
    assert type(verdict.error) is error and verdict.retry is retry


def test_classify_accepts_partial_errors_next_to_data() -> None:
    body = {"data": [{"id": "1", "text": "x"}], "errors": [{"title": "Not Found Error"}]}
    assert classify(httpx.Response(200, json=body), LABEL).error is None


def test_429_waits_until_the_reset_and_401_names_the_token_source() -> None:
    reset = str(int(time.time()) + 120)
    verdict = classify(problem(429, {"x-rate-limit-reset": reset, "x-rate-limit-remaining": "0"}), LABEL)
    assert verdict.rate_limit and verdict.wait is not None and 119 <= verdict.wait <= 121
    error = classify(problem(401), LABEL).error
    assert isinstance(error, AuthError) and LABEL in str(error) and "bearer token" in str(error)


def test_rate_limit_headers() -> None:
    headers = httpx.Headers(
        {
            "x-rate-limit-limit": "1500",
            "x-rate-limit-remaining": "150",
            "x-rate-limit-reset": str(int(NOW.timestamp()) + 300),
        }
    )
    assert usage_percent(headers) == 90.0
    assert reset_wait(headers, NOW) == 301.0
    assert exhausted_wait(headers) is None
    assert usage_percent(httpx.Headers({"x-rate-limit-limit": "abc"})) is None
    spent = httpx.Headers({"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(time.time()) + 60)})
    wait = exhausted_wait(spent)
    assert wait is not None and 59 <= wait <= 61


@dataclass
class Run:
    """One connector on the sandbox, with what it landed, yielded and slept."""

    connector: XConnector
    landed: list[RawResponse] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)
    yielded: list[RawResponse] = field(default_factory=list)
    error: Exception | None = None

    def fetch(self, window: FetchWindow) -> Run:
        """fetch_all to its end or its stop."""
        try:
            self.yielded.extend(self.connector.fetch_all(window))
        except ConnectorError as exc:
            self.error = exc
        return self

    def ids(self, stream: str) -> list[str]:
        """Post ids of one stream's pages, in order."""
        bodies = [json.loads(r.body) for r in self.yielded if r.stream == stream]
        return [p["id"] for body in bodies for p in body.get("data", [])]


@pytest.fixture
def sb() -> Iterator[XSandbox]:
    with XSandbox(as_of=AS_OF, token=TOKEN) as sandbox:
        yield sandbox


def connect(sb: XSandbox, state: Path | None = None) -> Run:
    """A connector over the sandbox with a recording sink and sleep."""
    run = Run(None)  # type: ignore[arg-type]
    run.connector = open_x(
        base_url=sb.base_url,
        token=TOKEN,
        token_label=LABEL,
        user_id=USER_ID,
        sink=run.landed.append,
        policy=FAST,
        timeout=5.0,
        state_dir=state,
        sleep=run.sleeps.append,
    )
    return run


def test_full_read_pages_the_timeline_to_its_reach_at_the_floor(sb: XSandbox, tmp_path: Path) -> None:
    run = connect(sb, tmp_path).fetch(FetchWindow(None, None))
    reach = [p.id for p in sb.data.reachable()]
    assert len(reach) == TIMELINE_REACH < len(sb.data.posts)
    assert run.error is None and run.connector.problems == [] and run.sleeps == []
    assert run.ids("posts") == reach
    assert run.connector.requests == {"user": 1, "posts": math.ceil(len(reach) / 100)}
    tokens = [r.query.get("pagination_token") for r in sb.requests if r.path.endswith("/tweets")]
    assert tokens[0] is None and len(set(tokens[1:])) == len(tokens) - 1
    assert StateFile(tmp_path / KNOWN_FILE).read()["posts"] == sorted(reach, key=lambda i: (len(i), i))
    for raw in run.landed:
        assert TOKEN not in raw.url and TOKEN.encode() not in raw.body


def test_incremental_read_asks_from_start_time_and_looks_nothing_up(sb: XSandbox, tmp_path: Path) -> None:
    KnownPosts(StateFile(tmp_path / KNOWN_FILE)).save({p.id for p in sb.data.posts})
    since = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    run = connect(sb, tmp_path).fetch(FetchWindow(since, None))
    assert run.ids("posts") == [p.id for p in sb.data.posts if p.created_at >= since]
    assert [r.query["start_time"] for r in sb.requests if r.path.endswith("/tweets")] == [
        "2026-11-01T00:00:00Z"
    ]
    assert "posts_lookup" not in run.connector.requests


def test_full_refresh_looks_up_known_posts_beyond_the_timeline(sb: XSandbox, tmp_path: Path) -> None:
    older = [p.id for p in sb.data.posts[TIMELINE_REACH:]]
    sb.data.deleted.add(older[3])
    state = StateFile(tmp_path / KNOWN_FILE)
    KnownPosts(state).save(set(older))
    run = connect(sb, tmp_path).fetch(FetchWindow(None, None))
    reach = sb.data.reachable()
    beyond = [i for i in older if i not in {p.id for p in reach}]
    assert run.error is None and run.connector.problems == []
    assert run.connector.requests["posts_lookup"] == math.ceil(len(beyond) / 100)
    looked = [r.context["post_ids"].split(",") for r in run.yielded if r.stream == "posts_lookup"]
    assert [i for ids in looked for i in ids] == beyond  # newest first, 100 to a call
    gone = older[3] if older[3] in beyond else None
    assert set(run.ids("posts_lookup")) == set(beyond) - {gone}
    assert set(state.read()["posts"]) == ({p.id for p in reach} | set(beyond)) - {gone}


def test_few_requests_left_slow_down_and_none_left_waits_for_the_reset(sb: XSandbox) -> None:
    since = dt.datetime(2026, 8, 1, tzinfo=dt.UTC)  # a few timeline pages
    sb.inject(Fault("usage_high", "/tweets", usage=90))
    run = connect(sb).fetch(FetchWindow(since, None))
    assert run.error is None and run.sleeps == [pytest.approx(FAST.usage_pause(90))]
    sb.inject(Fault("usage_high", "/tweets", usage=100))
    spent = connect(sb).fetch(FetchWindow(since, None))
    assert spent.error is None and len(spent.sleeps) == 1 and 800 <= spent.sleeps[0] <= 901


def test_a_legacy_code_88_body_waits_like_a_problem_object(sb: XSandbox) -> None:
    sb.inject(Fault("rate_limit", "/tweets", code=88, regain_minutes=2))
    run = connect(sb).fetch(FetchWindow(dt.datetime(2026, 11, 20, tzinfo=dt.UTC), None))
    assert run.error is None and len(run.sleeps) == 1 and 119 <= run.sleeps[0] <= 122


def test_a_rate_limit_beyond_max_wait_stops_the_channel(sb: XSandbox) -> None:
    sb.inject(Fault("rate_limit", "/tweets", regain_minutes=30))
    run = connect(sb).fetch(FetchWindow(None, None))
    assert isinstance(run.error, RateLimited) and "resume after" in str(run.error) and run.sleeps == []


def test_an_unknown_user_is_a_problem_and_the_timeline_still_runs(sb: XSandbox) -> None:
    run = Run(None)  # type: ignore[arg-type]
    run.connector = open_x(
        base_url=sb.base_url,
        token=TOKEN,
        token_label=LABEL,
        user_id="42",
        sink=run.landed.append,
        policy=FAST,
    )
    run.fetch(FetchWindow(None, None))
    assert run.error is None and len(run.connector.problems) == 1
    assert "Could not find user with id: [42]" in run.connector.problems[0]


def test_requests_per_thousand_posts_refreshed_are_the_api_floor(sb: XSandbox, tmp_path: Path) -> None:
    older = [p.id for p in sb.data.posts[TIMELINE_REACH : TIMELINE_REACH + 200]]  # 800 + 200 = 1,000 posts
    KnownPosts(StateFile(tmp_path / KNOWN_FILE)).save(set(older))
    run = connect(sb, tmp_path).fetch(FetchWindow(None, None))
    assert len(run.ids("posts")) + len(run.ids("posts_lookup")) == 1000
    assert run.connector.request_count == 1 + 1000 // 100  # platform-apis.md section 8: 11
