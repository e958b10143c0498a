"""The TikTok connector over real HTTP against the loopback sandbox: paging, refreshes, tokens.

The fault matrix shared by every platform is in test_connector_faults.py; this file covers
what is TikTok's own: the envelope, POST reads with ``fields`` in the query, the body cursor,
incremental stops, video queries of known videos, and tokens that expire and rotate.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.base import RawResponse
from connectors.errors import (
    AuthError,
    MalformedResponse,
    PermissionDenied,
    RateLimited,
    RepeatedCursor,
    RequestRejected,
    RetriesExhausted,
)
from connectors.http import ACCEPT, RetryPolicy
from connectors.paging import BodyCursor
from connectors.state import StateFile
from connectors.tiktok import MAX_COUNT, TikTokConnector, TikTokWindow, classify, open_tiktok
from connectors.tiktok_auth import Credentials, fingerprint
from sandbox.tiktok import CLIENT_KEY, CLIENT_SECRET, REFRESH_TOKEN, TikTokSandbox

AS_OF = dt.date(2026, 11, 27)
LABEL = "environment variable SOCMED_TIKTOK_REFRESH_TOKEN"
FAST = RetryPolicy(max_attempts=5, base_delay=0.001, max_delay=0.01, max_wait=900.0)
FULL = TikTokWindow(None)
WEEK = TikTokWindow(dt.datetime(2026, 11, 20, tzinfo=dt.UTC))


@dataclass
class Run:
    """One connector on the sandbox, with what it landed, yielded, slept and raised."""

    connector: TikTokConnector
    landed: list[RawResponse] = field(default_factory=list)
    yielded: list[RawResponse] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)
    error: Exception | None = None

    def fetch(self, window: TikTokWindow) -> Run:
        """Run fetch_all to its end (or the stop error), keeping everything."""
        try:
            self.yielded.extend(self.connector.fetch_all(window))
        except Exception as exc:
            self.error = exc
        return self

    def videos(self, stream: str | None = None) -> list[dict[str, Any]]:
        """Every video object yielded (of one stream, or all), in order."""
        return [v for r in self.yielded if r.stream in ((stream,) if stream else ("videos", "video_query"))
                for v in json.loads(r.body)["data"]["videos"]]


@pytest.fixture
def sb() -> Iterator[TikTokSandbox]:
    """A fresh sandbox per test (it starts in milliseconds)."""
    with TikTokSandbox(as_of=AS_OF, seed=7) as sandbox:
        yield sandbox


def connect(sb: TikTokSandbox, state: Path, *, access: str | None = None,
            refresh: str | None = REFRESH_TOKEN, key: str | None = CLIENT_KEY) -> Run:
    """A connector keeping its token and known videos under ``state``; no access token by default."""
    landed: list[RawResponse] = []
    sleeps: list[float] = []
    connector = open_tiktok(
        base_url=sb.base_url, credentials=Credentials(key, CLIENT_SECRET, refresh, access),
        token_label=LABEL, account_id=sb.data.open_id, sink=landed.append,
        token_file=state / "tiktok-token.json", known_file=state / "tiktok-videos.json",
        policy=FAST, timeout=5.0, sleep=sleeps.append)
    return Run(connector, landed=landed, sleeps=sleeps)


def assert_clean(run: Run, sb: TikTokSandbox) -> None:
    """No secret anywhere it lands or is told; the sandbox saw what the connector counted."""
    secrets = [sb.token, CLIENT_SECRET, REFRESH_TOKEN, sb.refresh_token, *sb.issued]
    for raw in run.landed:
        assert not [s for s in secrets if s in raw.url or s.encode() in raw.body], raw.stream
    told = " ".join([str(run.error), *run.connector.problems])
    assert not [s for s in secrets if s in told]
    assert len(sb.requests) == run.connector.request_count
    assert sb.pending_faults == []


def test_first_full_fetch_refreshes_then_lists_everything_at_the_floor(
        sb: TikTokSandbox, tmp_path: Path) -> None:
    run = connect(sb, tmp_path).fetch(FULL)
    truth = sb.data.expected()
    assert run.error is None and run.connector.problems == []
    pages = math.ceil(truth["video_count"] / MAX_COUNT)
    assert run.connector.requests == {"oauth_token": 1, "user": 1, "videos": pages}
    assert run.connector.request_count == 1 + (1 + pages)  # a refresh, then the API floor
    listed = run.videos("videos")
    assert [v["id"] for v in listed] == list(truth["videos"])  # newest first, each once
    assert {v["id"]: v["view_count"] for v in listed} == {k: v["views"] for k, v in truth["videos"].items()}
    lists = [r for r in sb.requests if r.path == "/v2/video/list/"]
    assert all(r.method == "POST" and "view_count" in r.query["fields"] for r in lists)
    bodies = [json.loads(r.body) for r in lists]
    assert bodies[0] == {"max_count": 20} and all(b["max_count"] == 20 for b in bodies)
    assert [b.get("cursor") for b in bodies[1:]] == [
        json.loads(r.body)["data"]["cursor"] for r in run.yielded if r.stream == "videos"][:-1]
    assert_clean(run, sb)


def test_rotated_tokens_are_stored_0600_and_used_by_the_next_run(sb: TikTokSandbox, tmp_path: Path) -> None:
    connect(sb, tmp_path).fetch(WEEK)
    path = tmp_path / "tiktok-token.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert stored["refresh_token"] == sb.refresh_token != REFRESH_TOKEN  # rotated, and kept
    assert stored["access_token"] == sb.issued[-1] and stored["seed"] == fingerprint(REFRESH_TOKEN)
    assert stored["open_id"] == sb.data.open_id and "expires_at" in stored
    sb.clear_requests()
    again = connect(sb, tmp_path).fetch(WEEK)  # the environment still has the spent refresh token
    assert again.error is None and again.connector.requests == {"user": 1, "videos": 1}
    sb.expire_tokens()  # a day later: the stored access token is refused, the stored refresh works
    sb.clear_requests()
    later = connect(sb, tmp_path).fetch(WEEK)
    assert later.error is None
    assert later.connector.requests == {"user": 1, "auth_rejected": 1, "oauth_token": 1, "videos": 1}
    assert [r.status for r in later.landed][:3] == [401, 200, 200]  # the refusal lands, redacted
    assert json.loads(path.read_text())["refresh_token"] == sb.refresh_token
    assert_clean(later, sb)


def test_access_token_expiring_mid_run_is_refreshed_once_and_the_call_retried(
        sb: TikTokSandbox, tmp_path: Path) -> None:
    run = connect(sb, tmp_path, access=sb.token)
    stream = run.connector.fetch_all(WEEK)
    run.yielded.append(next(stream))  # the user, with the environment's access token
    sb.expire_tokens()
    run.yielded.extend(stream)
    assert run.connector.requests == {"user": 1, "videos": 1, "auth_rejected": 1, "oauth_token": 1}
    assert [r.path for r in sb.requests] == ["/v2/user/info/", "/v2/video/list/", "/v2/oauth/token/",
                                            "/v2/video/list/"]
    assert [r.stream for r in run.yielded] == ["user", "videos"] and run.sleeps == []
    assert_clean(run, sb)


def test_a_new_refresh_token_in_the_environment_wins_over_the_file(sb: TikTokSandbox, tmp_path: Path) -> None:
    StateFile(tmp_path / "tiktok-token.json").write(
        {"access_token": "act.old", "refresh_token": "rft.old", "seed": fingerprint("rft.older")})
    run = connect(sb, tmp_path).fetch(WEEK)  # the operator re-authorised: REFRESH_TOKEN is new
    assert run.error is None and run.connector.requests["oauth_token"] == 1
    assert json.loads((tmp_path / "tiktok-token.json").read_text())["seed"] == fingerprint(REFRESH_TOKEN)


def test_refused_refresh_stops_the_channel_naming_the_source(sb: TikTokSandbox, tmp_path: Path) -> None:
    run = connect(sb, tmp_path, refresh="rft.revoked-by-the-user").fetch(FULL)
    assert isinstance(run.error, AuthError)
    message = str(run.error)
    assert "invalid_grant" in message and LABEL in message and "re-authorise" in message
    assert "rft.revoked-by-the-user" not in message
    assert run.connector.request_count == 1 and run.sleeps == []
    assert [r.stream for r in run.landed] == ["oauth_token"]
    assert_clean(run, sb)


def test_missing_client_credentials_stop_before_any_request(sb: TikTokSandbox, tmp_path: Path) -> None:
    run = connect(sb, tmp_path, key=None).fetch(FULL)
    assert isinstance(run.error, AuthError) and "client_key_env" in str(run.error)
    assert sb.requests == [] and run.connector.request_count == 0


def test_incremental_and_backfill_windows_stop_paging_at_since(sb: TikTokSandbox, tmp_path: Path) -> None:
    run = connect(sb, tmp_path, access=sb.token).fetch(WEEK)
    week = [v.id for v in sb.data.videos if v.create_time >= WEEK.since.timestamp()]  # type: ignore[union-attr]
    assert [v["id"] for v in run.videos()][: len(week)] == week
    assert run.connector.requests == {"user": 1, "videos": 1}
    until = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    since = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    back = connect(sb, tmp_path, access=sb.token).fetch(TikTokWindow(since, until))
    inside = [v.id for v in sb.data.videos if since.timestamp() <= v.create_time < until.timestamp()]
    got = [v["id"] for v in back.videos()]
    assert got[: len(inside)] == inside and len(got) <= len(inside) + MAX_COUNT
    lists = [json.loads(r.body) for r in sb.requests if r.path == "/v2/video/list/"]
    first = lists[-back.connector.requests["videos"]]
    assert first == {"max_count": 20, "cursor": int(until.timestamp() * 1000)}
    assert back.connector.requests["videos"] == math.ceil(len(got) / MAX_COUNT)


def test_full_refresh_of_known_videos_uses_queries_of_twenty(sb: TikTokSandbox, tmp_path: Path) -> None:
    connect(sb, tmp_path, access=sb.token).fetch(FULL)  # the first run learns every video
    gone = sb.data.videos[100].id
    sb.data.remove(gone)  # made private since
    sb.clear_requests()
    run = connect(sb, tmp_path, access=sb.token).fetch(FULL)
    known = len(sb.data.videos) + 1
    assert run.error is None and run.connector.problems == []
    # the first list page (20 newest, all known) ends the listing; the rest come by id
    assert run.connector.requests == {"user": 1, "videos": 1, "video_query": math.ceil((known - 20) / 20)}
    assert run.connector.request_count == 1 + math.ceil(known / MAX_COUNT)  # the API floor
    queries = [json.loads(r.body)["filters"]["video_ids"] for r in sb.requests
               if r.path == "/v2/video/query/"]
    assert all(len(ids) <= 20 for ids in queries) and sum(map(len, queries)) == known - 20
    refreshed = {v["id"]: v["view_count"] for v in run.videos()}
    assert refreshed == {k: v["views"] for k, v in sb.data.expected()["videos"].items()}
    assert run.connector.gone == [gone]
    assert gone not in json.loads((tmp_path / "tiktok-videos.json").read_text())["videos"]
    assert_clean(run, sb)


def test_short_pages_with_has_more_keep_paging(tmp_path: Path) -> None:
    with TikTokSandbox(as_of=AS_OF, seed=7, short_pages=True) as sb:
        run = connect(sb, tmp_path, access=sb.token).fetch(FULL)
        sizes = [len(json.loads(r.body)["data"]["videos"]) for r in run.yielded if r.stream == "videos"]
        assert 10 in sizes[:-1] and [v["id"] for v in run.videos()] == [v.id for v in sb.data.videos]
        assert_clean(run, sb)


def test_requests_per_thousand_videos_stay_at_the_floor(tmp_path: Path) -> None:
    """A full refresh of an account with 1,000 known videos: 1 + 50 requests, the API floor."""
    sandbox = TikTokSandbox(as_of=AS_OF, seed=7)
    newest = sandbox.data.videos[0].create_time
    sandbox.data.videos = [  # distinct ids and times, newest first
        type(video)(**{**vars(video), "id": str(9_000_000 + n), "create_time": newest - n * 3600})
        for n, video in enumerate((sandbox.data.videos * 3)[:1000])]
    sandbox.data.by_id = {v.id: v for v in sandbox.data.videos}
    with sandbox as sb:
        first = connect(sb, tmp_path, access=sb.token).fetch(FULL)
        again = connect(sb, tmp_path, access=sb.token).fetch(FULL)
    assert first.connector.request_count == again.connector.request_count == 1 + 50
    assert len({v["id"] for v in again.videos()}) == 1000


# -- pieces, on hand-built responses ------------------------------------------------------


def reply(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    """A literal response to a TikTok request."""
    request = httpx.Request("POST", "https://open.tiktokapis.com/v2/video/list/?fields=id")
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers=headers, request=request)


def envelope(code: str, message: str = "", data: Any = None) -> dict[str, Any]:
    """TikTok's reply envelope."""
    return {"data": data or {}, "error": {"code": code, "message": message, "log_id": "202611270000AB"}}


@pytest.mark.parametrize(("status", "code", "kind", "retry"), [
    (200, "ok", None, False),
    (401, "access_token_invalid", AuthError, False),
    (401, "scope_not_authorized", PermissionDenied, False),
    (200, "scope_permission_missed", PermissionDenied, False),
    (400, "invalid_params", RequestRejected, False),
    (429, "rate_limit_exceeded", RateLimited, True),
    (500, "internal_error", RetriesExhausted, True),
    (200, "internal_error", RetriesExhausted, True),  # HTTP 200 is not success without "ok"
    (400, "ok", RequestRejected, False),
])
def test_classify_reads_the_envelope_first(status: int, code: str, kind: type | None, retry: bool) -> None:
    verdict = classify(reply(status, envelope(code, "why")), LABEL)
    if kind is None:
        assert verdict == ACCEPT
        return
    assert isinstance(verdict.error, kind) and verdict.retry is retry
    assert "log_id 202611270000AB" in verdict.error.message or code == "ok"


def test_rate_limit_waits_a_minute_unless_told_otherwise() -> None:
    assert classify(reply(429, envelope("rate_limit_exceeded")), LABEL).wait == 60.0
    assert classify(reply(429, envelope("rate_limit_exceeded"), {"Retry-After": "7"}), LABEL).wait == 7.0
    bare = classify(reply(429, b"Too Many Requests"), LABEL)
    assert isinstance(bare.error, RateLimited) and bare.wait == 60.0 and bare.rate_limit


@pytest.mark.parametrize(("status", "kind"),
                         [(502, RetriesExhausted), (401, AuthError), (404, RequestRejected)])
def test_replies_without_an_envelope_fall_back_to_the_status(status: int, kind: type) -> None:
    verdict = classify(reply(status, b"<html>Bad Gateway</html>"), LABEL)
    assert isinstance(verdict.error, kind) and verdict.retry is (status == 502)
    assert classify(reply(200, b'{"data":'), LABEL) == ACCEPT  # the shared layer reports it malformed


def test_body_cursor_pages_until_has_more_is_false() -> None:
    cursor = BodyCursor(start=1_800_000_000_000)
    assert cursor.params() == {} and cursor.body() == {"cursor": 1_800_000_000_000}
    more = {"videos": [], "cursor": 1_790_000_000_000, "has_more": True}
    cursor.update(reply(200, envelope("ok", data=more)))
    assert cursor.body() == {"cursor": 1_790_000_000_000} and not cursor.finished
    cursor.update(reply(200, envelope("ok", data={"videos": [], "cursor": 0, "has_more": False})))
    assert cursor.finished and cursor.pages == 2


def test_body_cursor_refuses_a_repeat_or_a_missing_cursor() -> None:
    cursor = BodyCursor()
    assert cursor.body() == {}
    page = envelope("ok", data={"cursor": 5, "has_more": True})
    cursor.update(reply(200, page))
    with pytest.raises(RepeatedCursor):
        cursor.update(reply(200, page))
    with pytest.raises(MalformedResponse, match=r"data\.cursor"):
        BodyCursor().update(reply(200, envelope("ok", data={"has_more": True})))


def test_state_file_is_private_from_the_start_and_replaced_atomically(tmp_path: Path) -> None:
    file = StateFile(tmp_path / "state" / "token.json")
    assert file.read() == {}
    file.write({"a": 1})
    file.write({"a": 2})
    assert file.read() == {"a": 2} and stat.S_IMODE(file.path.stat().st_mode) == 0o600
    assert sorted(p.name for p in file.path.parent.iterdir()) == ["token.json"]
    file.path.write_text("not json")
    assert file.read() == {}
