"""The shared HTTP layer and Meta's rules: classification, retries, throttle, redaction."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
from typing import Any

import httpx
import pytest

from connectors.base import RawResponse
from connectors.errors import (
    AuthError,
    ConnectorError,
    MalformedResponse,
    PermissionDenied,
    RateLimited,
    RequestRejected,
    RetriesExhausted,
    UnsupportedMetric,
)
from connectors.http import ApiClient, Call, RetryPolicy, retry_after
from connectors.meta import (
    GraphTokenAuth,
    classify,
    day_start,
    day_windows,
    graph_rules,
    regain_seconds,
    usage_percent,
)
from connectors.paging import GraphCursor

TOKEN = "EAAGtestTOKENvalue1234567890"
LABEL = "environment variable SOCMED_IG_TOKEN_TANGERANGKOTA"
BASE = "https://graph.test/v24.0/"
FAST = RetryPolicy(max_attempts=5, base_delay=0.01, max_delay=0.05, max_wait=900.0)
Reply = httpx.Response | Exception


def meta_error(code: int, message: str = "boom", status: int = 400,
               headers: dict[str, str] | None = None, **extra: Any) -> httpx.Response:
    """A literal Meta error reply."""
    body = {"error": {"message": message, "type": "OAuthException", "code": code,
                      "fbtrace_id": "AbC", **extra}}
    return httpx.Response(status, json=body, headers=headers)


def buc(minutes: float = 0, call_count: int = 20) -> dict[str, str]:
    """An X-Business-Use-Case-Usage header."""
    usage = {"17841401000000001": [{"type": "instagram", "call_count": call_count,
                                    "total_cputime": 5, "total_time": 5,
                                    "estimated_time_to_regain_access": minutes}]}
    return {"X-Business-Use-Case-Usage": json.dumps(usage)}


OK = httpx.Response(200, json={"id": "1"})


class Harness:
    """An ApiClient over a scripted transport, recording requests, sleeps and landed pages."""

    def __init__(self, replies: list[Reply], policy: RetryPolicy = FAST) -> None:
        self.replies = list(replies)
        self.sent: list[httpx.Request] = []
        self.sleeps: list[float] = []
        self.landed: list[RawResponse] = []
        client = httpx.Client(base_url=BASE, auth=GraphTokenAuth(TOKEN),
                              transport=httpx.MockTransport(self._handle))
        self.api = ApiClient(client, graph_rules("instagram", LABEL), account="1784",
                             secrets=(TOKEN,), sink=self.landed.append, policy=policy,
                             sleep=self.sleeps.append, rng=random.Random(1))

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return httpx.Response(reply.status_code, headers=reply.headers, content=reply.content)

    def get(self, **params: str) -> Any:
        return self.api.get(Call("1784/media", "media", params, {"insights": "nested"}))


@pytest.mark.parametrize(("reply", "error", "retry"), [
    (meta_error(190, "Error validating access token", error_subcode=463), AuthError, False),
    (meta_error(10, "Application does not have permission"), PermissionDenied, False),
    (meta_error(200, "Requires instagram_manage_insights"), PermissionDenied, False),
    (meta_error(100, "(#100) The Media Insights API does not support the views metric for "
                     "this media product type"), UnsupportedMetric, False),
    (meta_error(100, "(#100) metric[0] must be one of the following values: reach"),
     UnsupportedMetric, False),
    (meta_error(100, "(#100) Tried accessing nonexisting field (foo)"), RequestRejected, False),
    (meta_error(10, "insights unavailable", error_subcode=2108006), RequestRejected, False),
    *[(meta_error(code, "throttled"), RateLimited, True) for code in (4, 17, 32, 613, 80001,
                                                                      80002, 341)],
    (meta_error(1, "An unknown error occurred", status=500), RetriesExhausted, True),
    (meta_error(2, "Service temporarily unavailable"), RetriesExhausted, True),
    (meta_error(9007, "try again", is_transient=True), RetriesExhausted, True),
    (httpx.Response(503, content=b"<html>Service Unavailable</html>"), RetriesExhausted, True),
    (httpx.Response(429, content=b""), RateLimited, True),
    (httpx.Response(404, content=b"not found"), RequestRejected, False),
])
def test_classify_meta_error_bodies(reply: httpx.Response, error: type[ConnectorError],
                                    retry: bool) -> None:
    verdict = classify(reply, LABEL)
    assert type(verdict.error) is error
    assert verdict.retry is retry


@pytest.mark.parametrize("body", [b'{"id": "1"}', b"not json at all"])
def test_classify_accepts_2xx_without_error_object(body: bytes) -> None:
    assert classify(httpx.Response(200, content=body), LABEL).error is None


@pytest.mark.parametrize(("subcode", "hint"), [
    (463, "expired; create a new long-lived token"),
    (460, "password was changed"),
    (467, "invalid"),
    (None, "invalid"),
])
def test_auth_error_names_the_token_label_and_the_fix(subcode: int | None, hint: str) -> None:
    error = classify(meta_error(190, f"token {TOKEN} bad", error_subcode=subcode), LABEL).error
    assert isinstance(error, AuthError)
    assert LABEL in str(error) and hint in str(error) and TOKEN not in str(error)


def test_usage_headers() -> None:
    headers = httpx.Headers({"X-App-Usage": '{"call_count":28,"total_cputime":81,"total_time":25}',
                             **buc(minutes=3, call_count=95)})
    assert usage_percent(headers) == 95
    assert regain_seconds(headers) == 180
    assert usage_percent(httpx.Headers({"X-App-Usage": "garbage"})) is None
    assert regain_seconds(httpx.Headers(buc(minutes=0))) is None


def test_retry_after_seconds_and_date() -> None:
    now = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
    assert retry_after(httpx.Headers({"Retry-After": "7"}), now) == 7
    assert retry_after(httpx.Headers({"Retry-After": "Fri, 27 Nov 2026 12:01:00 GMT"}), now) == 60
    assert retry_after(httpx.Headers(), now) is None


def test_backoff_is_full_jitter_and_capped() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0)
    rng = random.Random(3)
    for attempt in range(1, 12):
        bound = min(30.0, 0.5 * 2 ** (attempt - 1))
        assert all(0 <= policy.backoff(attempt, rng) <= bound for _ in range(50))


@pytest.mark.parametrize(("usage", "pause"), [
    (None, 0.0), (50, 0.0), (74.9, 0.0), (75, 0.5), (90, 10.8), (100, 30.0), (140, 30.0),
])
def test_usage_pause_formula(usage: float | None, pause: float) -> None:
    assert RetryPolicy().usage_pause(usage) == pytest.approx(pause)


def test_day_windows_fit_thirty_days_across_dst() -> None:
    windows = day_windows(dt.date(2026, 9, 20), dt.date(2026, 11, 27), 2_592_000)
    assert windows[0][0] == dt.date(2026, 9, 20) and windows[-1][1] == dt.date(2026, 11, 27)
    for (_, last), (following, _) in itertools.pairwise(windows):
        assert following == last + dt.timedelta(days=1)
    spans = [day_start(last + dt.timedelta(days=1)) - day_start(first) for first, last in windows]
    assert max(spans) <= 2_592_000
    assert windows[:2] == [(dt.date(2026, 9, 20), dt.date(2026, 10, 19)),  # 30 days
                           (dt.date(2026, 10, 20), dt.date(2026, 11, 17))]  # 29: DST ends Nov 1


@pytest.mark.parametrize("failures", [
    [httpx.Response(503, content=b"busy")] * 2,
    [httpx.ReadTimeout("timed out"), httpx.RemoteProtocolError("peer closed")],
    [httpx.ConnectError("refused"), meta_error(2, "Service temporarily unavailable")],
], ids=["503", "timeout-drop", "connect-transient"])
def test_transient_failures_are_retried_with_backoff(failures: list[Reply]) -> None:
    harness = Harness([*failures, OK])
    page = harness.get()
    assert page.data == {"id": "1"} and page.raw.attempt == 3
    assert len(harness.sent) == 3 and harness.api.requests == {"media": 3}
    assert len(harness.sleeps) == 2 and all(0 <= s <= 0.05 for s in harness.sleeps)
    assert [r.attempt for r in harness.landed] == list(range(4 - len(harness.landed), 4))


def test_retries_are_capped() -> None:
    harness = Harness([httpx.Response(500, content=b"")] * 5)
    with pytest.raises(RetriesExhausted, match="after 5 attempts"):
        harness.get()
    assert len(harness.sent) == 5 and len(harness.sleeps) == 4


@pytest.mark.parametrize(("reply", "wait"), [
    (meta_error(80002, "too many calls", headers=buc(minutes=2)), 120.0),
    (meta_error(4, "app limit", headers={"Retry-After": "30"}), 30.0),
])
def test_rate_limit_waits_what_the_api_asks(reply: httpx.Response, wait: float) -> None:
    harness = Harness([reply, OK])
    harness.get()
    assert harness.sleeps == [wait]


def test_rate_limit_without_a_hint_backs_off() -> None:
    harness = Harness([meta_error(17, "user limit"), OK])
    harness.get()
    assert len(harness.sleeps) == 1 and 0 <= harness.sleeps[0] <= 0.01


def test_rate_limit_longer_than_max_wait_stops_with_resume_time() -> None:
    harness = Harness([meta_error(80002, "too many calls", headers=buc(minutes=60))])
    with pytest.raises(RateLimited, match="resume after 20") as caught:
        harness.get()
    assert caught.value.resume_at is not None and harness.sleeps == []


def test_rate_limit_waits_add_up_to_max_wait() -> None:
    limited = meta_error(613, "custom", headers=buc(minutes=10))
    harness = Harness([limited, limited, OK])
    with pytest.raises(RateLimited, match="beyond the 900 s allowed"):
        harness.get()
    assert harness.sleeps == [600.0]


@pytest.mark.parametrize(("reply", "error"), [
    (meta_error(190, "Error validating access token", error_subcode=463), AuthError),
    (meta_error(200, "missing permission"), PermissionDenied),
    (meta_error(100, "(#100) Invalid parameter"), RequestRejected),
])
def test_stop_errors_are_not_retried(reply: httpx.Response, error: type[ConnectorError]) -> None:
    harness = Harness([reply])
    with pytest.raises(error) as caught:
        harness.get()
    assert len(harness.sent) == 1 and harness.sleeps == [] and len(harness.landed) == 1
    assert caught.value.stream == "media" and TOKEN not in str(caught.value)


def test_malformed_body_is_landed_before_it_is_rejected() -> None:
    harness = Harness([httpx.Response(200, content=b'{"data": [tru')])
    with pytest.raises(MalformedResponse, match="media: body is not JSON"):
        harness.get()
    assert [r.body for r in harness.landed] == [b'{"data": [tru']


def test_high_usage_pauses_before_the_next_request() -> None:
    busy = httpx.Response(200, json={"id": "1"}, headers=buc(call_count=90))
    harness = Harness([busy, OK, OK])
    harness.get(), harness.get(), harness.get()
    assert harness.sleeps == [pytest.approx(FAST.usage_pause(90))]
    assert FAST.usage_pause(90) > 0


def test_token_is_redacted_everywhere_and_sent_only_as_bearer() -> None:
    body = {"data": [{"id": "1", "note": TOKEN}], "paging": {
        "cursors": {"after": "c1"},
        "next": f"https://graph.test/v24.0/1784/media?access_token={TOKEN}&after=c1"}}
    harness = Harness([httpx.Response(200, json=body),
                       meta_error(100, f"bad token {TOKEN} in request")])
    pages = harness.api.paginate(GraphCursor(), Call("1784/media", "media", {"limit": "100"}))
    with pytest.raises(RequestRejected) as caught:
        list(pages)
    assert TOKEN not in str(caught.value)
    for raw in harness.landed:
        assert TOKEN not in raw.url and TOKEN.encode() not in raw.body
    assert b"access_token=REDACTED" in harness.landed[0].body
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in harness.sent)
    assert all("access_token" not in str(r.url) for r in harness.sent)
    assert harness.sent[1].url.params["after"] == "c1"


def test_landed_response_carries_request_facts() -> None:
    harness = Harness([OK])
    raw = harness.get(limit="100").raw
    assert (raw.platform, raw.account, raw.stream, raw.method, raw.status, raw.attempt) == (
        "instagram", "1784", "media", "GET", 200, 1)
    assert raw.url == f"{BASE}1784/media?limit=100" and raw.context == {"insights": "nested"}
    assert raw.fetched_at.tzinfo is dt.UTC


def test_paginate_refetches_a_rejected_page_with_the_fallback_call() -> None:
    first = {"data": [{"id": "1"}], "paging": {"cursors": {"after": "c1"}, "next": "x"}}
    unsupported = meta_error(100, "(#100) The Media Insights API does not support the views "
                                  "metric for this media product type")
    harness = Harness([httpx.Response(200, json=first), unsupported,
                       httpx.Response(200, json={"data": [{"id": "2"}]})])
    nested = Call("1784/media", "media", {"fields": "a,views"}, {"insights": "nested"})
    safe = Call("1784/media", "media", {"fields": "a"}, {"insights": "safe"})
    pages = list(harness.api.paginate(GraphCursor(), nested, safe))
    assert [p.raw.context["insights"] for p in pages] == ["nested", "safe"]
    assert [dict(r.url.params) for r in harness.sent] == [
        {"fields": "a,views"}, {"fields": "a,views", "after": "c1"}, {"fields": "a", "after": "c1"}]
    assert [r.status for r in harness.landed] == [200, 400, 200]

