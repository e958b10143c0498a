"""Meta Graph API specifics shared by Instagram and Facebook Pages.

Meta puts the real error in the body (``error.code`` / ``error_subcode``), not in the HTTP
status, so ``classify`` reads the body first and falls back to the status only when there
is no Graph error object. Usage headers (``X-App-Usage``, ``X-Business-Use-Case-Usage``,
``X-Page-Usage``) are JSON with percentages of quota used; ``usage_percent`` returns the
highest one for the shared throttle, and ``estimated_time_to_regain_access`` (minutes)
becomes the wait of a throttling error.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from connectors.errors import (
    AuthError,
    ConnectorError,
    PermissionDenied,
    RateLimited,
    RequestRejected,
    RetriesExhausted,
    UnsupportedMetric,
)
from connectors.http import ACCEPT, ApiClient, RetryPolicy, Rules, Sink, Verdict
from socmed import __version__

RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80001, 80002, 341, 368})
TRANSIENT_CODES = frozenset({1, 2})
PLATFORM_TZ = ZoneInfo("America/Los_Angeles")  # Meta's daily insights are US Pacific days
PERMISSION_CODES = frozenset({10, *range(200, 300)})
INSIGHTS_UNAVAILABLE_SUBCODE = 2108006  # media from before the account went professional
# Code 10 is a missing permission, except on stories seen by fewer than five accounts.
NOT_ENOUGH_VIEWERS = "not enough viewers"
USAGE_HEADERS = ("X-App-Usage", "X-Business-Use-Case-Usage", "X-Page-Usage")
USAGE_KEYS = ("call_count", "total_cputime", "total_time")
UNSUPPORTED_METRIC_MARKERS = ("does not support the", "not supported", "no longer supported",
                              "must be one of", "valid insights metric")

TOKEN_HINTS = {
    458: "the app was removed from the account; re-authorise the app and create a new token",
    459: "the account is checkpointed; log in to Facebook to clear it, then create a new token",
    460: "the password was changed; log in again and create a new long-lived token",
    463: "the token has expired; create a new long-lived token",
    464: "the user is unconfirmed; confirm the account, then create a new token",
    467: "the token is invalid; create a new long-lived token",
}
DEFAULT_TOKEN_HINT = "the token is invalid; create a new long-lived token"
SCOPE_HINT = ("grant the token instagram_basic, instagram_manage_insights, pages_read_engagement "
              "and pages_show_list (plus read_insights for Pages) and create it again")


class GraphTokenAuth(httpx.Auth):
    """Sends a Graph access token as ``Authorization: Bearer``, never in the URL.

    Facebook-Login tokens cannot be refreshed by the API once expired (they are exchanged
    by an operator), so there is nothing to refresh lazily: code 190 stops the channel.
    """

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Attach the bearer header."""
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


def graph_error(response: httpx.Response) -> dict[str, Any] | None:
    """The Graph ``error`` object of a response, if its body has one."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else None


def _int(value: Any) -> int | None:
    """An int from a JSON value that should be one, else None."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _usage_entries(headers: httpx.Headers) -> Iterator[dict[str, Any]]:
    """Every usage object in Meta's usage headers (malformed headers are skipped)."""
    for name in USAGE_HEADERS:
        try:
            value = json.loads(headers.get(name) or "null")
        except ValueError:
            continue
        if isinstance(value, dict) and any(key in value for key in USAGE_KEYS):
            yield value
        elif isinstance(value, dict):  # BUC: {"<business id>": [{...}, ...]}
            for entries in value.values():
                yield from (e for e in entries or () if isinstance(e, dict))


def usage_percent(headers: httpx.Headers) -> float | None:
    """Highest call_count/total_cputime/total_time percentage Meta reports, if any."""
    values = [float(entry[key]) for entry in _usage_entries(headers) for key in USAGE_KEYS
              if isinstance(entry.get(key), int | float)]
    return max(values) if values else None


def regain_seconds(headers: httpx.Headers) -> float | None:
    """Seconds until access returns per ``estimated_time_to_regain_access`` (minutes)."""
    minutes = [float(entry["estimated_time_to_regain_access"]) for entry in _usage_entries(headers)
               if isinstance(entry.get("estimated_time_to_regain_access"), int | float)]
    return max(minutes) * 60.0 if minutes and max(minutes) > 0 else None


def _auth_error(error: dict[str, Any], status: int, token_label: str) -> AuthError:
    """AuthError naming the token (never its value) and what the operator should do."""
    subcode = _int(error.get("error_subcode"))
    hint = TOKEN_HINTS.get(subcode or 0, DEFAULT_TOKEN_HINT)
    return AuthError(f"Meta rejected the access token from {token_label} (code 190"
                     f"{f', subcode {subcode}' if subcode else ''}): {hint} and store it in "
                     f"{token_label}", code=190, subcode=subcode, status=status)


def _error_for(error: dict[str, Any], status: int) -> ConnectorError:
    """The non-auth error type for a Graph error object."""
    code, subcode = _int(error.get("code")), _int(error.get("error_subcode"))
    text = str(error.get("message") or "no message")
    message = f"Meta error {code}{f'/{subcode}' if subcode else ''}: {text}"
    kwargs: dict[str, Any] = {"code": code, "subcode": subcode, "status": status}
    if subcode == INSIGHTS_UNAVAILABLE_SUBCODE or (code == 10 and NOT_ENOUGH_VIEWERS in text.lower()):
        return RequestRejected(message, **kwargs)
    if code in RATE_LIMIT_CODES:
        return RateLimited(message, **kwargs)
    if code in PERMISSION_CODES:
        return PermissionDenied(f"{message}; {SCOPE_HINT}", **kwargs)
    if code in TRANSIENT_CODES or error.get("is_transient") is True or status >= 500:
        return RetriesExhausted(message, **kwargs)
    if code == 100 and "metric" in text.lower() and any(
            marker in text.lower() for marker in UNSUPPORTED_METRIC_MARKERS):
        return UnsupportedMetric(message, **kwargs)
    return RequestRejected(message, **kwargs)


def classify(response: httpx.Response, token_label: str) -> Verdict:
    """Decide accept, retry or stop for one Graph response (body first, status second)."""
    status = response.status_code
    error = graph_error(response)
    if error is None:
        return _classify_status(response)
    if _int(error.get("code")) == 190:
        return Verdict(_auth_error(error, status, token_label))
    exc = _error_for(error, status)
    if isinstance(exc, RateLimited):
        return Verdict(exc, retry=True, wait=regain_seconds(response.headers), rate_limit=True)
    return Verdict(exc, retry=isinstance(exc, RetriesExhausted))


def _classify_status(response: httpx.Response) -> Verdict:
    """Fallback for responses without a Graph error object: decide by HTTP status."""
    status = response.status_code
    if status < 400:
        return ACCEPT
    if status == 429:
        return Verdict(RateLimited(f"HTTP {status}", status=status), retry=True,
                       wait=regain_seconds(response.headers), rate_limit=True)
    if status >= 500:
        return Verdict(RetriesExhausted(f"HTTP {status}", status=status), retry=True)
    if status in (401, 403):
        return Verdict(PermissionDenied(f"HTTP {status}; {SCOPE_HINT}", status=status))
    return Verdict(RequestRejected(f"HTTP {status}", status=status))


def graph_rules(platform: str, token_label: str) -> Rules:
    """The shared layer's rules for a Meta Graph platform (instagram, facebook)."""
    return Rules(platform=platform, classify=lambda r: classify(r, token_label),
                 usage=usage_percent)


def day_start(day: dt.date) -> int:
    """Unix seconds at the start of a platform (US Pacific) day."""
    return int(dt.datetime.combine(day, dt.time(0), PLATFORM_TZ).timestamp())


def day_windows(since: dt.date, until: dt.date, max_seconds: int) -> list[tuple[dt.date, dt.date]]:
    """Split platform days [since, until] into windows whose span fits max_seconds.

    A window's span runs from its first day's start to its last day's end, so a window
    crossing the November DST change is an hour longer than its days times 86,400 s.
    """
    windows: list[tuple[dt.date, dt.date]] = []
    start = since
    while start <= until:
        end = min(until, start + dt.timedelta(days=max_seconds // 86_400 - 1))
        while end > start and day_start(end + dt.timedelta(days=1)) - day_start(start) > max_seconds:
            end -= dt.timedelta(days=1)
        windows.append((start, end))
        start = end + dt.timedelta(days=1)
    return windows


def graph_api(platform: str, *, base_url: str, api_version: str, token: str, token_label: str,
              account_id: str, sink: Sink | None, policy: RetryPolicy | None, timeout: float,
              sleep: Callable[[float], None] = time.sleep) -> ApiClient:
    """The configured HTTP client of one Graph account (versioned base URL, bearer token)."""
    client = httpx.Client(
        base_url=f"{base_url.rstrip('/')}/{api_version.strip('/')}/",
        auth=GraphTokenAuth(token),
        headers={"User-Agent": f"socmed-pipeline/{__version__}", "Accept": "application/json"},
        timeout=timeout,
    )
    return ApiClient(client, graph_rules(platform, token_label), account=account_id,
                     secrets=(token,), sink=sink, policy=policy, sleep=sleep)


def retained(since: dt.date, until: dt.date, today: dt.date | None, keep_days: int,
             what: str, keeps: str) -> tuple[dt.date, str | None]:
    """The first of platform days [since, until] the API still serves, and a note if any are lost.

    The API serves the ``keep_days`` platform days before ``today`` (None: no limit known);
    asking for older ones fails the whole call, so they are left out and named instead.
    """
    if today is None or since >= (first := today - dt.timedelta(days=keep_days)):
        return since, None
    lost = f"{since}..{min(until, first - dt.timedelta(days=1))}"
    return first, (f"{what} before {first} are no longer available from the API ({keeps}); "
                   f"{lost} not fetched")
