"""The YouTube connector: Google's error reasons, quota, and full and incremental reads of the sandbox."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
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
from connectors.youtube import FetchWindow, YouTubeConnector, classify, open_youtube, quota_reset
from sandbox.base import Fault
from sandbox.youtube import YouTubeSandbox
from sandbox.youtube_data import CHANNEL_ID

AS_OF = dt.date(2026, 11, 27)
KEY = "AIzaSy-sandbox-key-0123456789"
LABEL = "environment variable SOCMED_YOUTUBE_KEY"
FAST = RetryPolicy(max_attempts=5, base_delay=0.001, max_delay=0.01, max_wait=900.0)


def google(status: int, *reasons: str, details: tuple[str, ...] = ()) -> httpx.Response:
    """A Google error body with the given errors[].reason values (and ErrorInfo reasons)."""
    error = {
        "code": status,
        "message": "boom",
        "errors": [{"message": "boom", "domain": "global", "reason": r} for r in reasons],
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": r} for r in details],
    }
    return httpx.Response(status, json={"error": error})


@pytest.mark.parametrize(
    ("reply", "error", "retry"),
    [
        (google(403, "rateLimitExceeded"), RateLimited, True),
        (google(403, "userRateLimitExceeded"), RateLimited, True),
        (google(429, details=("RATE_LIMIT_EXCEEDED",)), RateLimited, True),
        (httpx.Response(429, content=b""), RateLimited, True),
        (google(400, "keyInvalid"), AuthError, False),
        (google(400, "badRequest", details=("API_KEY_INVALID",)), AuthError, False),
        (google(401, "authError"), AuthError, False),
        (google(403, "accessNotConfigured"), PermissionDenied, False),
        (google(403, "forbidden"), PermissionDenied, False),
        (google(500, "backendError"), RetriesExhausted, True),
        (google(503, "backendError"), RetriesExhausted, True),
        (httpx.Response(502, content=b"<html>Bad Gateway</html>"), RetriesExhausted, True),
        (google(400, "invalidPageToken"), RequestRejected, False),
        (google(404, "playlistNotFound"), RequestRejected, False),
    ],
)
def test_classify_by_reason(reply: httpx.Response, error: type[ConnectorError], retry: bool) -> None:
    verdict = classify(reply, LABEL)
    assert type(verdict.error) is error and verdict.retry is retry
    assert verdict.rate_limit is (error is RateLimited)


@pytest.mark.parametrize("reason", ["quotaExceeded", "dailyLimitExceeded"])
def test_spent_quota_stops_until_pacific_midnight_without_retry(reason: str) -> None:
    verdict = classify(google(403, reason), LABEL)
    assert isinstance(verdict.error, RateLimited) and not verdict.retry
    assert verdict.error.resume_at == quota_reset(dt.datetime.now(dt.UTC))
    assert "midnight US Pacific" in str(verdict.error) and "resume after" in str(verdict.error)


@pytest.mark.parametrize(("reason", "hint"), [("keyInvalid", "API key"), ("authError", "youtube.readonly")])
def test_credential_errors_name_the_source_and_the_fix(reason: str, hint: str) -> None:
    error = classify(google(400 if reason == "keyInvalid" else 401, reason), LABEL).error
    assert isinstance(error, AuthError) and LABEL in str(error) and hint in str(error)


@pytest.mark.parametrize(
    ("now", "reset"),
    [
        (dt.datetime(2026, 11, 27, 7, 59, tzinfo=dt.UTC), dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)),
        (dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC), dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.UTC)),
        (dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC), dt.datetime(2026, 7, 2, 7, 0, tzinfo=dt.UTC)),  # PDT
    ],
)
def test_quota_resets_at_midnight_us_pacific(now: dt.datetime, reset: dt.datetime) -> None:
    assert quota_reset(now) == reset


@dataclass
class Run:
    """One connector on the sandbox, with what it landed, yielded and slept."""

    connector: YouTubeConnector
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

    def asked(self) -> list[list[str]]:
        """The ids of every videos call, in order."""
        return [r.context["video_ids"].split(",") for r in self.yielded if r.stream == "videos"]

    def bodies(self, stream: str) -> list[dict[str, Any]]:
        """Parsed bodies of one stream's successful responses."""
        return [json.loads(r.body) for r in self.yielded if r.stream == stream]


@pytest.fixture
def sb() -> Iterator[YouTubeSandbox]:
    with YouTubeSandbox(as_of=AS_OF, token=KEY) as sandbox:
        yield sandbox


def connect(sb: YouTubeSandbox, **kwargs: Any) -> Run:
    """A connector over the sandbox with the API key, a recording sink and sleep."""
    run = Run(None)  # type: ignore[arg-type]
    options: dict[str, Any] = {"api_key": KEY, "token": None, **kwargs}
    run.connector = open_youtube(
        base_url=f"{sb.base_url}/youtube",
        label=LABEL,
        channel_id=CHANNEL_ID,
        sink=run.landed.append,
        policy=FAST,
        timeout=5.0,
        sleep=run.sleeps.append,
        **options,
    )
    return run


def test_full_read_is_complete_at_the_floor_and_counts_quota(sb: YouTubeSandbox) -> None:
    run = connect(sb).fetch(FetchWindow(None, None))
    videos = sb.data.videos
    pages = math.ceil(len(videos) / 50)
    assert run.error is None and run.connector.problems == []
    assert run.connector.requests == {"channel": 1, "playlist_items": pages, "videos": pages}
    assert run.connector.quota_units == run.connector.request_count == 1 + 2 * pages == sb.units_used
    asked = run.asked()
    assert [i for ids in asked for i in ids] == [v.id for v in videos]
    assert all(len(ids) <= 50 for ids in asked)
    listed = [i["id"] for body in run.bodies("videos") for i in body["items"]]
    assert listed == [v.id for v in videos]
    assert len(sb.requests) == run.connector.request_count


def test_incremental_read_stops_at_the_first_page_reaching_since(sb: YouTubeSandbox) -> None:
    since = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    run = connect(sb).fetch(FetchWindow(since, None))
    recent = [v.id for v in sb.data.videos if v.published_at >= since]
    assert [i for ids in run.asked() for i in ids] == recent
    pages = math.ceil((len(recent) + 1) / 50)
    assert run.connector.requests == {
        "channel": 1,
        "playlist_items": pages,
        "videos": math.ceil(len(recent) / 50),
    }


def test_backfill_asks_only_videos_inside_the_window_packed_fifty_a_call(sb: YouTubeSandbox) -> None:
    since, until = dt.datetime(2025, 6, 1, tzinfo=dt.UTC), dt.datetime(2025, 12, 1, tzinfo=dt.UTC)
    run = connect(sb).fetch(FetchWindow(since, until))
    inside = [v.id for v in sb.data.videos if since <= v.published_at < until]
    assert [i for ids in run.asked() for i in ids] == inside
    assert run.connector.requests["videos"] == math.ceil(len(inside) / 50)
    assert [len(ids) for ids in run.asked()][:-1] == [50] * (len(run.asked()) - 1)


def test_quota_exceeded_stops_the_channel_at_once(sb: YouTubeSandbox) -> None:
    sb.inject(Fault("quota_exceeded", "/playlistItems"))
    run = connect(sb).fetch(FetchWindow(None, None))
    assert isinstance(run.error, RateLimited) and run.error.resume_at is not None
    assert "midnight US Pacific" in str(run.error)
    assert run.connector.request_count == 2 and run.sleeps == []


def test_a_spent_daily_quota_answers_quota_exceeded_and_stops(sb: YouTubeSandbox) -> None:
    sb.quota_per_day = 4
    run = connect(sb).fetch(FetchWindow(None, None))
    assert isinstance(run.error, RateLimited) and run.connector.quota_units == 5 == sb.units_used


def test_the_key_is_sent_as_key_and_never_lands(sb: YouTubeSandbox) -> None:
    run = connect(sb).fetch(FetchWindow(dt.datetime(2026, 11, 20, tzinfo=dt.UTC), None))
    assert run.error is None and run.landed
    for raw in run.landed:
        assert KEY not in raw.url and KEY.encode() not in raw.body and "key=" not in raw.url
    assert all("key" not in r.query for r in sb.requests)


def test_an_oauth_token_is_sent_as_bearer(sb: YouTubeSandbox) -> None:
    run = connect(sb, api_key=None, token=KEY).fetch(
        FetchWindow(dt.datetime(2026, 11, 20, tzinfo=dt.UTC), None)
    )
    assert run.error is None and run.connector.request_count == 3


def test_no_credentials_is_a_token_error_before_any_request(sb: YouTubeSandbox) -> None:
    with pytest.raises(AuthError, match="api_key_env"):
        connect(sb, api_key=None, token=None)
    assert sb.requests == []


def test_a_broken_channel_answer_still_reads_the_uploads_by_naming_rule(sb: YouTubeSandbox) -> None:
    sb.inject(Fault("malformed", "/channels"))
    run = connect(sb).fetch(FetchWindow(dt.datetime(2026, 11, 20, tzinfo=dt.UTC), None))
    assert run.error is None and len(run.connector.problems) == 1
    assert "channel stream ended early (MalformedResponse)" in run.connector.problems[0]
    assert {r.stream for r in run.yielded} == {"playlist_items", "videos"}


def test_an_unknown_channel_is_reported_and_its_playlist_rejected(sb: YouTubeSandbox) -> None:
    run = Run(None)  # type: ignore[arg-type]
    run.connector = open_youtube(
        base_url=f"{sb.base_url}/youtube",
        api_key=KEY,
        token=None,
        label=LABEL,
        channel_id="UCxxxxxxxxxxxxxxxxxxxxxx",
        sink=run.landed.append,
        policy=FAST,
    )
    run.fetch(FetchWindow(None, None))
    assert run.error is None
    assert [p[:14].rstrip() for p in run.connector.problems] == ["channel stream", "videos stream"]
    assert "not found" in run.connector.problems[0] and "playlistNotFound" in run.connector.problems[1]


def test_requests_per_thousand_videos_refreshed_are_the_api_floor() -> None:
    with YouTubeSandbox(as_of=AS_OF, token=KEY, days=1460) as big:  # about 1,000 uploads
        run = connect(big).fetch(FetchWindow(None, None))
        videos = len(big.data.videos)
    floor = 1 + 2 * math.ceil(videos / 50)  # platform-apis.md section 8
    assert videos >= 1000 and run.error is None
    assert run.connector.request_count == floor
    assert run.connector.request_count * 1000 / videos <= 1.1 * (1 + 2 * 1000 / 50)


def test_a_key_in_a_url_is_redacted_in_logs_even_when_unknown(caplog: pytest.LogCaptureFixture) -> None:
    from socmed.redact import redact

    assert redact("videos?id=a&key=AIzaUnknown&part=x") == "videos?id=a&key=REDACTED&part=x"
    assert redact('{"key": "ordinary data", "monkey=1": 2}') == '{"key": "ordinary data", "monkey=1": 2}'
    with caplog.at_level("INFO", logger="httpx"):
        logging.getLogger("httpx").info(
            'HTTP Request: GET %s "%s"', "https://g/v3/videos?key=AIzaUnknown", "200"
        )
    assert "AIzaUnknown" not in caplog.text and "key=REDACTED" in caplog.text
