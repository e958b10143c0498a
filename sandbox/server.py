"""The Instagram Graph API sandbox: Graph replies, usage headers and Meta's fault shapes.

``Sandbox`` is a ``sandbox.base.FakeApi`` serving ``GraphApi`` over real HTTP on 127.0.0.1
from a background thread. Faults are matched in injection order against the request path;
each one affects ``times`` matching requests and is then spent. Every request is recorded
(without its access token) in ``Sandbox.requests``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections import Counter
from dataclasses import replace
from typing import Any, ClassVar

from sandbox.base import DEFAULT_TOKEN, FakeApi, Fault, Reply, Request, RequestRecord
from sandbox.data import PACIFIC, SandboxData
from sandbox.graph import VERSION, GraphApi
from sandbox.wire import unsupported_metric

__all__ = ["DEFAULT_TOKEN", "Fault", "Reply", "Request", "RequestRecord", "Sandbox", "encode"]

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


def encode(body: Any) -> bytes:
    """JSON the way the Graph API writes it: compact, ASCII-escaped, slashes escaped."""
    return json.dumps(body, separators=(",", ":")).replace("/", "\\/").encode("ascii")


def _compact(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"))


def _error(message: str, code: int, **extra: Any) -> dict[str, Any]:
    return {"error": {"message": message, "type": "OAuthException", "code": code, **extra}}


class Sandbox(FakeApi):
    """A local Instagram Graph API (Facebook Login flavour) on an ephemeral loopback port."""

    extra_fault_kinds: ClassVar[tuple[str, ...]] = ("unsupported_metric",)

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
        now: dt.datetime | None = None,
    ) -> None:
        super().__init__(token, host=host, port=port)
        as_of = now.astimezone(dt.UTC).date() if now else (as_of or dt.datetime.now(dt.UTC).date())
        self.data = SandboxData(as_of, seed, extra_accounts, media_per_account, now)
        self.api = GraphApi(self.data, token, short_pages)
        self._calls: Counter[str] = Counter()

    def prepare(self, request: Request) -> Request:
        """Meta also takes the token as ``access_token`` in the query; it is never recorded."""
        query = dict(request.query)
        token = query.pop("access_token", None) or request.token
        return replace(request, query=query, token=token)

    def route(self, request: Request) -> Reply:
        """Graph reads; writes are rejected the way Meta rejects unsupported operations."""
        if request.method == "GET":
            return self.api.handle(request, request.token)
        return Reply(400, _unsupported_method(request.method, request.path), self.account_of(request))

    def account_of(self, request: Request) -> str | None:
        """The IG user a request concerns."""
        return self.api.account_of(request.path, request.query)

    def fault_reply(self, fault: Fault, request: Request) -> Reply | None:
        """Meta's error bodies for injected faults (usage_high only changes the headers)."""
        if fault.kind == "status":
            return Reply(fault.status, _error(TRANSIENT_MESSAGE, 2, is_transient=True))
        if fault.kind == "rate_limit":
            message = RATE_LIMIT_MESSAGES.get(fault.code, f"(#{fault.code}) Request limit reached")
            return Reply(400, _error(message, fault.code, is_transient=True))
        if fault.kind == "token_expired":
            return Reply(400, _error(self._expired_message(), 190, error_subcode=463))
        if fault.kind == "unsupported_metric":
            return Reply(400, {"error": unsupported_metric(_first_metric(request.query)).error})
        return None

    def decorate(self, reply: Reply, request: Request, fault: Fault | None) -> Reply:
        """Count the call; add fbtrace_id, WWW-Authenticate and the usage headers."""
        self._calls["app"] += 1
        if reply.account_id is not None:
            self._calls[reply.account_id] += 1
        body = reply.body
        if isinstance(body, dict) and "error" in body:
            body = {"error": {**body["error"], "fbtrace_id": self._trace()}}
        kind = fault.kind if fault else None
        usage = 100 if kind == "rate_limit" else (fault.usage if fault and kind == "usage_high" else None)
        regain = fault.regain_minutes if fault and kind == "rate_limit" else 0
        headers = {**self._headers(reply.account_id, request.path, usage, regain), **reply.headers}
        if isinstance(body, dict) and body.get("error", {}).get("code") == 190:
            headers["WWW-Authenticate"] = WWW_AUTHENTICATE
        return replace(reply, body=body, headers=headers)

    def encode(self, body: Any) -> bytes:
        """Meta's JSON spelling."""
        return encode(body)

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
