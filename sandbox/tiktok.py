"""The TikTok Display API v2 on loopback: user info, video list, video query, token refresh.

Routes (``fields`` in the query string, also for the POSTs, as on the real API):

* ``GET /v2/user/info/?fields=...``: ``data.user`` with the fields asked for;
* ``POST /v2/video/list/?fields=...`` with ``{"max_count": <=20, "cursor": <ms>}``: public
  videos published before the cursor (a UTC millisecond timestamp; default now), newest
  first; ``data.cursor`` is the oldest one's time in ms, ``data.has_more`` whether older
  ones remain. ``short_pages`` serves every third page half full, as TikTok may;
* ``POST /v2/video/query/?fields=...`` with ``{"filters": {"video_ids": [<=20 ids]}}``: the
  videos that still exist, in the order asked;
* ``POST /v2/oauth/token/`` (form: ``client_key``, ``client_secret``,
  ``grant_type=refresh_token``, ``refresh_token``): a new access token and a *rotated*
  refresh token; the old refresh token stops working.

Every API reply has the envelope ``{"data": ..., "error": {"code", "message", "log_id"}}``
with ``code == "ok"`` on success; OAuth errors are ``{"error", "error_description",
"log_id"}``. ``expire_tokens()`` expires every access token issued so far. Faults take
TikTok's shapes: ``status`` (``internal_error``), ``rate_limit`` (429
``rate_limit_exceeded``, no Retry-After), ``token_expired`` (401 ``access_token_invalid``;
on the token endpoint 400 ``invalid_grant``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any
from urllib.parse import urlencode

from sandbox.base import DEFAULT_TOKEN, FakeApi, Fault, Reply, Request
from sandbox.tiktok_data import USER_FIELDS, VIDEO_FIELDS, TikTokData, Video

CLIENT_KEY = "sbawtiktoksandboxkey"
CLIENT_SECRET = "sandbox-tiktok-client-secret-not-a-secret"
REFRESH_TOKEN = "rft.sandbox-tiktok-refresh-token-not-a-secret"
TOKEN_PATH = "/v2/oauth/token/"
SCOPE = "user.info.basic,user.info.profile,user.info.stats,video.list"
MAX_COUNT = 20
INVALID_TOKEN = "The access token is invalid or not found in the request."
BAD_GRANT = "Refresh token is invalid or expired."


class TikTokError(Exception):
    """An API error reply in the envelope."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class TikTokSandbox(FakeApi):
    """A local TikTok Display API for one account (@tangerangkota) on an ephemeral port."""

    def __init__(self, as_of: dt.date | None = None, seed: int = 7, token: str = DEFAULT_TOKEN, *,
                 host: str = "127.0.0.1", port: int = 0, short_pages: bool = False,
                 refresh_token: str = REFRESH_TOKEN, expires_in: int = 86_400) -> None:
        super().__init__(token, host=host, port=port)
        self.data = TikTokData(as_of or dt.datetime.now(dt.UTC).date(), seed)
        self.short_pages = short_pages
        self.client_key, self.client_secret = CLIENT_KEY, CLIENT_SECRET
        self.refresh_token = refresh_token
        self.expires_in = expires_in
        self.access_tokens = {token}
        self.issued: list[str] = []  # access tokens issued by refreshes, in order
        self._serial = 0

    def expire_tokens(self) -> None:
        """Every access token issued so far expires (as a day passing would do)."""
        self.access_tokens.clear()

    # -- FakeApi hooks -----------------------------------------------------------------

    def route(self, request: Request) -> Reply:
        """Token refreshes, then authenticated API reads."""
        if request.path == TOKEN_PATH:
            return self._oauth(request)
        try:
            if request.token not in self.access_tokens:
                raise TikTokError(401, "access_token_invalid", INVALID_TOKEN)
            return self._envelope(200, self._read(request))
        except TikTokError as err:
            return self._envelope(err.status, {}, err.code, err.message)

    def fault_reply(self, fault: Fault, request: Request) -> Reply | None:
        """TikTok's shapes of the injected faults."""
        if fault.kind == "status":
            return self._envelope(fault.status, {}, "internal_error",
                                  "Something went wrong. Please try again later.")
        if fault.kind == "rate_limit":
            return self._envelope(429, {}, "rate_limit_exceeded",
                                  "API rate limit exceeded. Please slow down.")
        if fault.kind == "token_expired" and request.path == TOKEN_PATH:
            return Reply(400, {"error": "invalid_grant", "error_description": BAD_GRANT,
                               "log_id": self._log_id()})
        if fault.kind == "token_expired":
            return self._envelope(401, {}, "access_token_invalid", INVALID_TOKEN)
        return None

    def account_of(self, request: Request) -> str | None:
        """Every route concerns the one account."""
        return self.data.open_id

    def recorded_body(self, request: Request) -> bytes:
        """The token endpoint's form without its secrets."""
        if request.path != TOKEN_PATH:
            return request.body
        secret = ("client_secret", "refresh_token")
        form = {k: ("REDACTED" if k in secret else v) for k, v in request.form().items()}
        return urlencode(form).encode()

    # -- routes --------------------------------------------------------------------------

    def _read(self, request: Request) -> dict[str, Any]:
        """The ``data`` of one API read."""
        route = (request.method, request.path)
        if route == ("GET", "/v2/user/info/"):
            fields = self._fields(request, USER_FIELDS)
            return {"user": {name: self.data.user()[name] for name in fields}}
        if route == ("POST", "/v2/video/list/"):
            return self._list(request, self._fields(request, VIDEO_FIELDS))
        if route == ("POST", "/v2/video/query/"):
            return self._query(request, self._fields(request, VIDEO_FIELDS))
        raise TikTokError(404, "invalid_params", f"Unsupported {request.method} {request.path}")

    def _fields(self, request: Request, known: tuple[str, ...]) -> list[str]:
        """The ``fields`` query parameter, checked against the known field names."""
        fields = [f.strip() for f in request.query.get("fields", "").split(",") if f.strip()]
        if not fields:
            raise TikTokError(400, "invalid_params", "fields is required")
        if unknown := [f for f in fields if f not in known]:
            raise TikTokError(400, "invalid_params", f"Invalid fields: {','.join(unknown)}")
        return fields

    def _list(self, request: Request, fields: list[str]) -> dict[str, Any]:
        """One page of the video list, before ``cursor`` (ms), newest first."""
        body = request.json() or {}
        size, cursor = body.get("max_count", 10), body.get("cursor")
        if not isinstance(size, int) or not 1 <= size <= MAX_COUNT:
            raise TikTokError(400, "invalid_params", f"max_count must be between 1 and {MAX_COUNT}")
        if cursor is not None and not isinstance(cursor, int):
            raise TikTokError(400, "invalid_params", "cursor must be an int64 timestamp in milliseconds")
        before = [v for v in self.data.videos if cursor is None or v.create_time * 1000 < cursor]
        page = before[: self._page_size(size, cursor)]
        more = len(before) > len(page)
        last = page[-1].create_time * 1000 if page else (cursor or 0)
        return {"videos": [_values(v, fields) for v in page], "cursor": last, "has_more": more}

    def _page_size(self, size: int, cursor: int | None) -> int:
        """``max_count``, or with short pages half of it on every third page."""
        if self.short_pages and cursor is not None and (cursor // 1000) % 3 == 0:
            return max(size // 2, 1)
        return size

    def _query(self, request: Request, fields: list[str]) -> dict[str, Any]:
        """The asked videos that exist, at most 20 ids."""
        filters = (request.json() or {}).get("filters") or {}
        ids = filters.get("video_ids") if isinstance(filters, dict) else None
        if not isinstance(ids, list) or not ids:
            raise TikTokError(400, "invalid_params", "filters.video_ids is required")
        if len(ids) > MAX_COUNT:
            raise TikTokError(400, "invalid_params", f"at most {MAX_COUNT} video_ids per request")
        found = [self.data.by_id[str(i)] for i in ids if str(i) in self.data.by_id]
        return {"videos": [_values(v, fields) for v in found], "cursor": 0, "has_more": False}

    def _oauth(self, request: Request) -> Reply:
        """Refresh: a new access token and a rotated refresh token."""
        form = request.form()
        if (form.get("client_key"), form.get("client_secret")) != (self.client_key, self.client_secret):
            return Reply(401, {"error": "invalid_client", "log_id": self._log_id(),
                               "error_description": "Client key or secret is incorrect."})
        if form.get("grant_type") != "refresh_token":
            return Reply(400, {"error": "unsupported_grant_type", "log_id": self._log_id(),
                               "error_description": "The grant type is not supported."})
        if form.get("refresh_token") != self.refresh_token:
            return Reply(400, {"error": "invalid_grant", "error_description": BAD_GRANT,
                               "log_id": self._log_id()})
        self._serial += 1
        access = f"act.{self._secret('access')}!{self._serial}.va"
        self.refresh_token = f"rft.{self._secret('refresh')}!{self._serial}.va"
        self.access_tokens.add(access)
        self.issued.append(access)
        return Reply(200, {"access_token": access, "expires_in": self.expires_in,
                           "open_id": self.data.open_id, "refresh_expires_in": 31_536_000,
                           "refresh_token": self.refresh_token, "scope": SCOPE, "token_type": "Bearer"})

    def _envelope(self, status: int, data: dict[str, Any], code: str = "ok", message: str = "") -> Reply:
        """A reply in TikTok's envelope."""
        return Reply(status, {"data": data, "error": {"code": code, "message": message,
                                                     "log_id": self._log_id()}})

    def _secret(self, kind: str) -> str:
        return hashlib.sha1(f"{self.data.seed}:{kind}:{self._serial}".encode()).hexdigest()[:32]

    def _log_id(self) -> str:
        """A log_id shaped like TikTok's: a timestamp and 18 hex digits."""
        digest = hashlib.sha1(f"{self.data.seed}:{len(self.requests)}".encode()).hexdigest()[:18].upper()
        return f"{self.data.now:%Y%m%d%H%M%S}{digest}"


def _values(video: Video, fields: list[str]) -> dict[str, Any]:
    """The requested fields of a video."""
    return {name: video.field(name) for name in fields}
