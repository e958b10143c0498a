"""The loopback HTTP server: Graph API replies, usage headers and injected faults.

``Sandbox`` serves ``GraphApi`` over real HTTP on 127.0.0.1 from a background thread.
Faults are matched in injection order against the request path; each one affects
``times`` matching requests and is then spent. Every request is recorded (without its
access token) in ``Sandbox.requests``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sandbox.data import PACIFIC, SandboxData
from sandbox.graph import VERSION, GraphApi, Reply, Request
from sandbox.wire import unsupported_metric

DEFAULT_TOKEN = "sandbox-token-not-a-secret"
FAULT_KINDS = (
    "status",
    "timeout",
    "drop",
    "rate_limit",
    "usage_high",
    "token_expired",
    "malformed",
    "unsupported_metric",
)
RATE_LIMIT_MESSAGES = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    341: "(#341) Application limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
    80001: "(#80001) There have been too many calls to this Page account. Wait a bit and try again.",
    80002: "(#80002) There have been too many calls to this Instagram account. Wait a bit and try again.",
}
WWW_AUTHENTICATE = 'OAuth "Facebook Platform" "invalid_token" "Invalid OAuth access token"'
TRANSIENT_MESSAGE = "An unexpected error has occurred. Please retry your request later."


@dataclass
class Fault:
    """A misbehaviour applied to the next ``times`` requests whose path contains ``path_contains``."""

    kind: str
    path_contains: str = ""
    times: int = 1
    status: int = 500
    code: int = 4
    delay: float = 2.0
    regain_minutes: int = 0
    usage: int = 90

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")


@dataclass(frozen=True)
class RequestRecord:
    """One served request; ``status`` is 0 when the connection was dropped without a reply."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    account_id: str | None
    fault: str | None


@dataclass
class Outcome:
    """What the handler sends: ``body`` None means close the connection without a reply."""

    status: int
    body: bytes | None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def encode(body: dict[str, Any]) -> bytes:
    """JSON the way the Graph API writes it: compact, ASCII-escaped, slashes escaped."""
    return json.dumps(body, separators=(",", ":")).replace("/", "\\/").encode("ascii")


def _compact(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"))


def _error(message: str, code: int, **extra: Any) -> dict[str, Any]:
    return {"error": {"message": message, "type": "OAuthException", "code": code, **extra}}


class Sandbox:
    """A local Instagram Graph API (Facebook Login flavour) on an ephemeral loopback port."""

    def __init__(
        self,
        as_of: dt.date | None = None,
        seed: int = 7,
        token: str = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        short_pages: bool = False,
        extra_accounts: int = 0,
        media_per_account: int | None = None,
    ) -> None:
        as_of = as_of or dt.datetime.now(dt.UTC).date()
        self.data = SandboxData(as_of, seed, extra_accounts, media_per_account)
        self.token = token
        self.api = GraphApi(self.data, token, short_pages)
        self._address = (host, port)
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._requests: list[RequestRecord] = []
        self._calls: Counter[str] = Counter()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (no version segment)."""
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Sandbox:
        """Bind the port and serve from a daemon thread."""
        self._server = _Server(self._address, _Handler)
        self._server.sandbox = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

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

    def respond(self, method: str, target: str, authorization: str | None, host: str | None) -> Outcome:
        """Answer one HTTP request (called from the handler thread)."""
        split = urlsplit(target)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        token = query.pop("access_token", None) or _bearer(authorization)
        base = f"http://{host}" if host else self.base_url
        if method == "GET":
            reply = self.api.handle(Request(split.path, query, base), token)
        else:
            reply = Reply(400, _unsupported_method(method, split.path), self.api.account_of(split.path))
        with self._lock:
            fault = self._take_fault(split.path)
            self._calls["app"] += 1
            if reply.account_id is not None:
                self._calls[reply.account_id] += 1
            outcome = self._outcome(reply, fault, split.path, query)
            status = 0 if outcome.body is None else outcome.status
            kind = fault.kind if fault else None
            self._requests.append(RequestRecord(method, split.path, query, status, reply.account_id, kind))
        return outcome

    def _take_fault(self, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.path_contains in path:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _outcome(self, reply: Reply, fault: Fault | None, path: str, query: dict[str, str]) -> Outcome:
        """Turn a reply and an optional fault into bytes and headers."""
        status, body, usage, regain = reply.status, reply.body, None, 0
        if fault is not None:
            status, body, usage, regain = self._apply(fault, reply, query)
        if "error" in body:
            body = {"error": {**body["error"], "fbtrace_id": self._trace()}}
        headers = self._headers(reply.account_id, path, usage, regain)
        if body.get("error", {}).get("code") == 190:
            headers["WWW-Authenticate"] = (
                'OAuth "Facebook Platform" "invalid_token" "Invalid OAuth access token"'
            )
        data = encode(body)
        kind = fault.kind if fault else None
        if kind == "malformed":
            status, data = 200, data[: max(len(data) // 2, 1)]
        delay = fault.delay if fault and kind == "timeout" else 0.0
        return Outcome(status, None if kind == "drop" else data, headers, delay)

    def _apply(
        self, fault: Fault, reply: Reply, query: dict[str, str]
    ) -> tuple[int, dict[str, Any], int | None, int]:
        """Status, body, forced usage percent and regain minutes for one fault."""
        if fault.kind == "status":
            return fault.status, _error(TRANSIENT_MESSAGE, 2, is_transient=True), None, 0
        if fault.kind == "rate_limit":
            message = RATE_LIMIT_MESSAGES.get(fault.code, f"(#{fault.code}) Request limit reached")
            return 400, _error(message, fault.code, is_transient=True), 100, fault.regain_minutes
        if fault.kind == "token_expired":
            return 400, _error(self._expired_message(), 190, error_subcode=463), None, 0
        if fault.kind == "unsupported_metric":
            return 400, {"error": unsupported_metric(_first_metric(query)).error}, None, 0
        usage = fault.usage if fault.kind == "usage_high" else None
        return reply.status, reply.body, usage, 0

    def _headers(self, account_id: str | None, path: str, usage: int | None, regain: int) -> dict[str, str]:
        """Content type, version and the two usage headers (percent of quota used)."""
        app = usage if usage is not None else min(20, self._calls["app"] // 50)
        headers = {
            "Content-Type": "application/json; charset=UTF-8",
            "X-App-Usage": _compact({"call_count": app, "total_cputime": app, "total_time": app}),
            "x-fb-trace-id": self._trace()[:11],
        }
        version = path.strip("/").split("/")[0]
        if VERSION.fullmatch(version):
            headers["facebook-api-version"] = version
        if account_id is not None:
            own = usage if usage is not None else min(20, self._calls[account_id] // 50)
            entry = {"type": "instagram", "call_count": own, "total_cputime": own, "total_time": own}
            entry["estimated_time_to_regain_access"] = regain
            headers["X-Business-Use-Case-Usage"] = _compact({account_id: [entry]})
        return headers

    def _trace(self) -> str:
        """An fbtrace_id-shaped string, deterministic per request number."""
        seed = f"{self.data.seed}:{self._calls['app']}".encode()
        return "A" + base64.urlsafe_b64encode(hashlib.sha1(seed).digest()).decode()[:22]

    def _expired_message(self) -> str:
        expired = dt.datetime.combine(self.data.as_of - dt.timedelta(days=1), dt.time(0), PACIFIC)
        now = self.data.now.astimezone(PACIFIC)
        stamp = "%A, %d-%b-%y %H:%M:%S %Z"
        return (
            f"Error validating access token: Session has expired on {expired.strftime(stamp)}. "
            f"The current time is {now.strftime(stamp)}."
        )


def _bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` (or ``OAuth <token>``) header."""
    scheme, _, value = (authorization or "").partition(" ")
    return (value.strip() or None) if scheme.lower() in ("bearer", "oauth") else None


def _first_metric(query: dict[str, str]) -> str:
    """The metric an unsupported-metric fault names: the first one requested, else views."""
    spec = query.get("metric") or query.get("fields", "").partition(".metric(")[2]
    first = spec.split(",")[0].strip(" )")
    return first or "views"


def _unsupported_method(method: str, path: str) -> dict[str, Any]:
    node = path.strip("/").split("/")[-1]
    message = (
        f"Unsupported {method.lower()} request. Object with ID '{node}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation."
    )
    return {"error": {"message": message, "type": "GraphMethodException", "code": 100, "error_subcode": 33}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    sandbox: Sandbox

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (timeouts, drops) are expected; stay quiet."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server_version = "SocmedSandbox/1"
    timeout = 30

    def do_GET(self) -> None:
        """Serve a Graph API read."""
        self._serve("GET")

    def do_POST(self) -> None:
        """Reject writes the way Meta rejects unsupported operations."""
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._serve("POST")

    def _serve(self, method: str) -> None:
        outcome = self.server.sandbox.respond(
            method, self.path, self.headers.get("Authorization"), self.headers.get("Host")
        )
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
        """Requests are recorded on the Sandbox instead of logged to stderr."""
