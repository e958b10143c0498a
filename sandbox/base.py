"""What every platform's fake API shares: a loopback HTTP server, fault injection, records.

``FakeApi`` serves one platform over real HTTP on 127.0.0.1 (port 0 = ephemeral) from a
daemon thread. A subclass supplies the platform:

* ``route(request) -> Reply``: the normal answer (authentication included);
* ``fault_reply(fault, request) -> Reply | None``: the platform's own shape of the faults
  ``status`` (5xx), ``rate_limit``, ``token_expired``, ``usage_high`` and its own kinds
  (``None`` serves the normal reply, e.g. for ``usage_high`` signalled only in headers);
* ``account_of(request) -> str | None``: the account a request concerns (for the records);
* optionally ``prepare`` (take credentials out of the query), ``decorate`` (headers on every
  reply, such as usage or rate-limit headers), ``encode`` (the platform's JSON spelling) and
  ``recorded_body`` (strip credentials sent in request bodies from the records).

A platform fault replaces the reply without calling ``route``, so a route's side effects
(a token rotation) do not happen for a request the fault answers.

The base handles the transport faults itself: ``timeout`` (the reply is held ``delay``
seconds), ``drop`` (the connection closes without a reply) and ``malformed`` (status 200 with
the reply's body cut in half). Faults match in injection order on ``path_contains``; each
affects ``times`` matching requests and is then spent. Every request is recorded, without
its credentials, in ``requests``.

A subclass names further fault kinds in ``extra_fault_kinds``; defining the subclass makes
them valid for ``Fault``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self
from urllib.parse import parse_qsl, urlsplit

DEFAULT_TOKEN = "sandbox-token-not-a-secret"
TRANSPORT_FAULTS = ("timeout", "drop", "malformed")
PLATFORM_FAULTS = ("status", "rate_limit", "usage_high", "token_expired")
FAULT_KINDS: set[str] = {*TRANSPORT_FAULTS, *PLATFORM_FAULTS}
JSON_TYPE = "application/json; charset=UTF-8"


@dataclass
class Fault:
    """A misbehaviour applied to the next ``times`` requests whose path contains ``path_contains``.

    ``status`` is the HTTP status of a ``status`` fault; ``code`` a platform's numeric error
    code and ``reason`` its string one; ``delay`` the seconds a ``timeout`` holds the reply;
    ``regain_minutes`` how long a ``rate_limit`` lasts; ``usage`` the percent a
    ``usage_high`` reports.
    """

    kind: str
    path_contains: str = ""
    times: int = 1
    status: int = 500
    code: int = 4
    delay: float = 2.0
    regain_minutes: int = 0
    usage: int = 90
    reason: str = ""

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {sorted(FAULT_KINDS)}")


@dataclass(frozen=True)
class RequestRecord:
    """One served request; ``status`` is 0 when the connection was dropped without a reply."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    account_id: str | None
    fault: str | None
    body: bytes = b""


@dataclass(frozen=True)
class Request:
    """What a route needs from the HTTP request; ``headers`` keys are lower-case.

    ``token`` is the bearer token of the Authorization header (or whatever ``prepare``
    took out of the query); it is never recorded.
    """

    path: str
    query: dict[str, str]
    base: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    token: str | None = None

    def json(self) -> Any:
        """The request body parsed as JSON (None when empty or not JSON)."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    def form(self) -> dict[str, str]:
        """The request body parsed as an urlencoded form."""
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))


@dataclass(frozen=True)
class Reply:
    """A route's answer before serialisation.

    ``body`` is a JSON value (serialised by ``FakeApi.encode``), or ``bytes``/``str`` sent
    as they are (then set Content-Type in ``headers``); ``account_id`` names the account the
    request concerns when the route knows it better than ``account_of``.
    """

    status: int
    body: Any
    account_id: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    """What the handler sends: ``body`` None means close the connection without a reply."""

    status: int
    body: bytes | None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` (or ``OAuth <token>``) header."""
    scheme, _, value = (authorization or "").partition(" ")
    return (value.strip() or None) if scheme.lower() in ("bearer", "oauth") else None


class FakeApi:
    """A platform API on an ephemeral loopback port; subclasses supply routes and shapes."""

    extra_fault_kinds: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        FAULT_KINDS.update(cls.extra_fault_kinds)

    def __init__(self, token: str = DEFAULT_TOKEN, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.token = token
        self._address = (host, port)
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._requests: list[RequestRecord] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- the platform's part -------------------------------------------------------------

    def route(self, request: Request) -> Reply:
        """The normal answer to a request (authentication included)."""
        raise NotImplementedError

    def fault_reply(self, fault: Fault, request: Request) -> Reply | None:
        """The platform's shape of a fault; None serves the normal reply (generic default)."""
        if fault.kind == "status":
            return Reply(fault.status, {"error": {"message": "Internal error; retry later."}})
        if fault.kind == "rate_limit":
            headers = {"Retry-After": str(fault.regain_minutes * 60)} if fault.regain_minutes else {}
            return Reply(429, {"error": {"message": "Too many requests"}}, headers=headers)
        if fault.kind == "token_expired":
            return Reply(401, {"error": {"message": "The access token has expired."}})
        return None

    def account_of(self, request: Request) -> str | None:
        """The account a request concerns, for the records (None when none or unknown)."""
        return None

    def prepare(self, request: Request) -> Request:
        """Adjust a parsed request before routing (e.g. move a query-string token to ``token``)."""
        return request

    def decorate(self, reply: Reply, request: Request, fault: Fault | None) -> Reply:
        """Last touch on every reply, called once per request under the lock (headers)."""
        return reply

    def encode(self, body: Any) -> bytes:
        """A JSON body as the platform writes it (compact UTF-8 by default)."""
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (no version segment)."""
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        """Bind the port and serve from a daemon thread."""
        self._server = _Server(self._address, _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- faults and records ----------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        """Queue a fault; faults apply in injection order."""
        with self._lock:
            self._faults.append(fault)

    @property
    def pending_faults(self) -> list[Fault]:
        """Faults not yet spent."""
        with self._lock:
            return list(self._faults)

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the requests served so far."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._requests.clear()

    # -- serving ---------------------------------------------------------------------------

    def respond(self, method: str, target: str, headers: Mapping[str, str], body: bytes = b"") -> Outcome:
        """Answer one HTTP request (called from the handler thread)."""
        split = urlsplit(target)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        lower = {name.lower(): value for name, value in headers.items()}
        base = f"http://{lower['host']}" if lower.get("host") else self.base_url
        request = self.prepare(Request(split.path, query, base, method, lower, body,
                                       bearer(lower.get("authorization"))))
        with self._lock:
            fault = self._take_fault(request.path)
        # a platform fault replaces the reply: the route (and its side effects) is skipped
        replaced = self.fault_reply(fault, request) if fault and fault.kind not in TRANSPORT_FAULTS else None
        reply = replaced or self.route(request)
        if reply.account_id is None:
            reply = replace(reply, account_id=self.account_of(request))
        with self._lock:
            reply = self.decorate(reply, request, fault)
            outcome = self._outcome(reply, fault)
            status = 0 if outcome.body is None else outcome.status
            self._requests.append(RequestRecord(method, request.path, request.query, status, reply.account_id,
                                                fault.kind if fault else None, self.recorded_body(request)))
        return outcome

    def recorded_body(self, request: Request) -> bytes:
        """The request body as recorded; a subclass strips credentials sent in bodies."""
        return request.body

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.path_contains in path:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _outcome(self, reply: Reply, fault: Fault | None) -> Outcome:
        """Bytes and headers of a reply, with the transport faults applied."""
        headers = dict(reply.headers)
        if isinstance(reply.body, bytes | str):
            data = reply.body.encode("utf-8") if isinstance(reply.body, str) else reply.body
        else:
            data = self.encode(reply.body)
            headers.setdefault("Content-Type", JSON_TYPE)
        kind = fault.kind if fault else None
        status = reply.status
        if kind == "malformed":
            status, data = 200, data[: max(len(data) // 2, 1)]
        delay = fault.delay if fault and kind == "timeout" else 0.0
        return Outcome(status, None if kind == "drop" else data, headers, delay)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeApi

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (timeouts, drops) are expected; stay quiet."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server_version = "SocmedSandbox/1"
    timeout = 30

    def do_GET(self) -> None:
        """Serve a read."""
        self._serve("GET", b"")

    def do_POST(self) -> None:
        """Serve a POST (TikTok reads, OAuth token exchanges)."""
        self._serve("POST", self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    def _serve(self, method: str, body: bytes) -> None:
        headers = {name: value for name, value in self.headers.items()}
        outcome = self.server.fake.respond(method, self.path, headers, body)
        if outcome.delay:
            time.sleep(outcome.delay)
        if outcome.body is None:
            self.close_connection = True
            return
        try:
            self.send_response(outcome.status)
            for name, value in {**outcome.headers, "Content-Length": str(len(outcome.body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(outcome.body)
        except OSError:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are recorded on the FakeApi instead of logged to stderr."""
