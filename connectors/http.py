"""The one HTTP layer every connector shares: retries, backoff, throttling, redaction, sink.

``ApiClient`` wraps a configured ``httpx.Client`` (base URL, auth, timeouts are the
caller's) and sends every request of a connector. For each attempt it

1. pauses first if the last response reported quota usage above the threshold,
2. sends the request and turns whatever came back into a redacted ``RawResponse`` that
   goes to the sink *before* anything is parsed (so malformed bodies and errors land too),
3. asks the platform's classifier (``Rules.classify``) for a ``Verdict``: accept, retry
   or raise, and acts on it: waits the time the API asks for (``Verdict.wait`` or
   ``Retry-After``) or else an exponential backoff with full jitter, for at most
   ``RetryPolicy.max_attempts`` attempts and ``RetryPolicy.max_wait`` seconds of
   rate-limit waiting.

Retries happen here and nowhere else; connectors never sleep. Sleeping goes through the
injectable ``sleep`` so tests record pauses instead of taking them.

Usage throttle: with ``u`` the highest usage percentage the platform reports and ``T``
the policy's ``usage_threshold``, the pause before the next request is
``max(base_delay, max_delay * ((u - T) / (100 - T)) ** 2)`` once ``u >= T`` (0 below):
0.5 s at 75 %, about 10.8 s at 90 %, 30 s at 100 % with the default policy.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from connectors.base import RawResponse
from connectors.errors import (
    ConnectorError,
    RateLimited,
    RetriesExhausted,
    UnsupportedMetric,
)
from connectors.paging import Paginator, json_body
from socmed.redact import RedactingFilter, redact, redact_bytes

log = logging.getLogger(__name__)
# httpx logs every request URL at INFO; a query-string credential (Google's key=) must not reach logs
logging.getLogger("httpx").addFilter(RedactingFilter())

Sink = Callable[[RawResponse], None]
TRANSPORT_ERRORS = (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError,
                    httpx.ConnectError, httpx.WriteError)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard the client tries: attempts, backoff bounds, rate-limit patience, throttle."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_wait: float = 900.0  # total seconds ever waited for one rate limit
    usage_threshold: float = 75.0  # percent of quota at which the client slows down

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter exponential backoff after the given (1-based) failed attempt."""
        return rng.uniform(0.0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))

    def usage_pause(self, usage: float | None) -> float:
        """Pause before the next request for a reported usage percentage (formula above)."""
        if usage is None or usage < self.usage_threshold:
            return 0.0
        share = min(1.0, (usage - self.usage_threshold) / (100.0 - self.usage_threshold))
        return max(self.base_delay, self.max_delay * share**2)


@dataclass(frozen=True)
class Verdict:
    """A classifier's decision: accept (no error), retry, or raise ``error``."""

    error: ConnectorError | None = None
    retry: bool = False
    wait: float | None = None  # seconds the API asks us to wait before retrying
    rate_limit: bool = False  # waits count against RetryPolicy.max_wait


ACCEPT = Verdict()


@dataclass(frozen=True)
class Rules:
    """What a platform contributes to the shared layer: its classifier and usage reader."""

    platform: str
    classify: Callable[[httpx.Response], Verdict]
    usage: Callable[[httpx.Headers], float | None] = lambda _headers: None  # no usage headers
    # seconds until the platform's rate-limit window resets, when a response says none is left
    exhausted: Callable[[httpx.Headers], float | None] = lambda _headers: None
    headers: tuple[str, ...] = ()  # response headers kept in the landed context (X-WP-Total)


@dataclass(frozen=True)
class Call:
    """One request a connector wants made: path, stream name, params and landing context."""

    path: str
    stream: str
    params: Mapping[str, str] = field(default_factory=dict)
    context: Mapping[str, str] = field(default_factory=dict)
    parse: Callable[[httpx.Response], Any] = json_body  # a 2xx body -> Page.data (XML feeds differ)
    method: str = "GET"
    json: Mapping[str, Any] | None = None  # a JSON request body (TikTok's POST reads)


@dataclass(frozen=True)
class Page:
    """A successful response: as landed (``raw``), as parsed (``data``) and redacted."""

    raw: RawResponse
    data: Any
    response: httpx.Response


def _paged(call: Call, paging: Mapping[str, str], body: Mapping[str, Any] | None) -> Call:
    """A call with a paginator's query parameters and JSON body fields merged in."""
    json = {**(call.json or {}), **body} if body else call.json
    return replace(call, params={**call.params, **paging}, json=json)


def _gave_up(error: ConnectorError, attempts: int, delay: float) -> ConnectorError:
    """The error to raise once the last attempt failed, saying so."""
    reason = f"still failing after {attempts} attempts"
    if isinstance(error, RateLimited):
        return error.until(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delay), reason)
    error.message = f"{error.message}; {reason}"
    return error


def _elapsed_ms(response: httpx.Response) -> float:
    """Round-trip time; 0 for responses a custom transport built already read."""
    try:
        return response.elapsed.total_seconds() * 1000.0
    except RuntimeError:
        return 0.0


def retry_after(headers: httpx.Headers, now: dt.datetime) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or HTTP date), if any."""
    value = headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - now).total_seconds())


class ApiClient:
    """Sends a connector's requests with retries, throttling, redaction and landing."""

    def __init__(self, client: httpx.Client, rules: Rules, *, account: str,
                 secrets: Sequence[str] = (), sink: Sink | None = None,
                 policy: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> None:
        self.client = client
        self.rules = rules
        self.account = account
        self.secrets = tuple(secrets)
        self.sink = sink
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.requests: Counter[str] = Counter()  # requests sent per stream, retries included
        self._pause = 0.0

    @property
    def request_count(self) -> int:
        """All HTTP requests sent so far."""
        return sum(self.requests.values())

    def redact(self, text: str) -> str:
        """The project's redaction with this client's secrets."""
        return redact(text, self.secrets)

    def get(self, call: Call) -> Page:
        """Send one request (a GET unless ``call.method`` says otherwise), retrying as allowed."""
        request = self.client.build_request(call.method, call.path, params=dict(call.params),
                                            json=call.json)
        waited = 0.0
        for attempt in range(1, self.policy.max_attempts + 1):
            self._throttle()
            verdict, page = self._attempt(request, call, attempt)
            if verdict.error is None and page is not None:
                return page
            error = verdict.error
            assert error is not None
            error.stream = error.stream or call.stream
            if not verdict.retry:
                raise error
            delay = self._delay(verdict, page, attempt, waited)
            if attempt == self.policy.max_attempts:
                raise _gave_up(error, attempt, delay)
            waited += delay if verdict.rate_limit else 0.0
            delay, self._pause = max(delay, self._pause), 0.0  # one wait covers both
            log.warning("%s; retry %d in %.1f s", error, attempt + 1, delay)
            self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def paginate(self, paginator: Paginator, call: Call, *fallbacks: Call) -> Iterator[Page]:
        """Yield every page of a listing; on UnsupportedMetric retry that page with fallbacks."""
        while not paginator.finished:
            page = self._first_accepted(paginator.params(), (call, *fallbacks), paginator.body())
            yield page
            try:
                paginator.update(page.response)
            except ConnectorError as exc:
                exc.stream = exc.stream or page.raw.stream
                raise

    def _first_accepted(self, paging: dict[str, str], calls: Sequence[Call],
                        body: Mapping[str, Any] | None = None) -> Page:
        """Fetch one page with the first call the API accepts (same paging params and body)."""
        for call in calls[:-1]:
            try:
                return self.get(_paged(call, paging, body))
            except UnsupportedMetric as exc:
                log.info("%s; refetching the page with fewer metrics", exc)
        return self.get(_paged(calls[-1], paging, body))

    def record(self, response: httpx.Response, stream: str) -> RawResponse:
        """Count and land a response an auth flow received on its own (a token refresh)."""
        self.requests[stream] += 1
        url = self.redact(str(response.request.url))
        return self._land(response, Call(response.request.url.path, stream), 1, url)


    def add_secrets(self, *values: str) -> None:
        """Redact further known secrets from now on (tokens obtained during the run)."""
        self.secrets = (*self.secrets, *(v for v in values if v))

    def _attempt(self, request: httpx.Request, call: Call,
                 attempt: int) -> tuple[Verdict, Page | None]:
        """Send once; land the response; classify it."""
        url = self.redact(str(request.url))
        try:
            response = self.client.send(request)
        except TRANSPORT_ERRORS as exc:
            self.requests[call.stream] += 1
            reason = self.redact(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            return Verdict(RetriesExhausted(reason, url=url, stream=call.stream), retry=True), None
        self.requests[call.stream] += 1  # not when an auth flow gave up (it counts what it sent)
        raw = self._land(response, call, attempt, url)
        safe = httpx.Response(response.status_code, headers=response.headers, content=raw.body,
                              request=httpx.Request(request.method, url))
        self._pause = max(self.policy.usage_pause(self.rules.usage(response.headers)),
                          min(self.rules.exhausted(response.headers) or 0.0, self.policy.max_wait))
        verdict = self.rules.classify(safe)
        if verdict.error is not None:
            verdict.error.url = verdict.error.url or url
            return verdict, Page(raw, None, safe)
        try:
            return ACCEPT, Page(raw, call.parse(safe), safe)
        except ConnectorError as exc:  # a 2xx that is not JSON; the body has landed already
            return Verdict(exc), Page(raw, None, safe)

    def _land(self, response: httpx.Response, call: Call, attempt: int, url: str) -> RawResponse:
        """Turn a response into a redacted RawResponse and hand it to the sink."""
        raw = RawResponse(
            platform=self.rules.platform, account=self.account, stream=call.stream,
            method=response.request.method, url=url, status=response.status_code,
            fetched_at=dt.datetime.now(dt.UTC), body=redact_bytes(response.content, self.secrets),
            elapsed_ms=_elapsed_ms(response), attempt=attempt,
            context={**call.context, **{h.lower(): response.headers[h] for h in self.rules.headers
                                        if h in response.headers}})
        if self.sink is not None:
            self.sink(raw)
        return raw

    def _delay(self, verdict: Verdict, page: Page | None, attempt: int, waited: float) -> float:
        """Seconds to wait before the next attempt; RateLimited if beyond max_wait."""
        now = dt.datetime.now(dt.UTC)
        asked = verdict.wait
        if asked is None and page is not None:
            asked = retry_after(page.response.headers, now)
        delay = asked if asked else self.policy.backoff(attempt, self.rng)
        error = verdict.error
        if verdict.rate_limit and waited + delay > self.policy.max_wait and error is not None:
            limited = error if isinstance(error, RateLimited) else RateLimited(
                error.message, code=error.code, subcode=error.subcode, status=error.status,
                url=error.url, stream=error.stream)
            raise limited.until(now + dt.timedelta(seconds=delay),
                                f"the API asks to wait {delay:.0f} s more (after {waited:.0f} s),"
                                f" beyond the {self.policy.max_wait:.0f} s allowed")
        return delay

    def _throttle(self) -> None:
        """Take the pause the last reported usage calls for."""
        if self._pause > 0:
            log.info("quota usage high; pausing %.1f s", self._pause)
            self.sleep(self._pause)
            self._pause = 0.0
