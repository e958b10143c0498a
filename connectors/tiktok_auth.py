"""TikTok user access tokens: refreshed lazily with the refresh token, rotations persisted.

TikTok access tokens live a day (2 hours in the Nov 2026 docs) and each refresh returns a
new refresh token while the old one stops working. So:

* ``TokenStore`` holds the current pair. It prefers the token file (``state_dir`` or the
  platform's ``token_file``, mode 0600, outside the raw zone), which holds the latest
  rotation, over the environment; but when the operator puts a *different* refresh token in
  the environment (a re-authorisation), that one wins. The file records a fingerprint of
  the environment's refresh token to tell the two cases apart; it never holds it in clear.
* ``TikTokAuth`` (an ``httpx.Auth``) refreshes before a request when no unexpired access
  token is known, and after a 401 ``access_token_invalid`` refreshes once and retries the
  request once. A refused refresh (``invalid_grant``) raises ``AuthError`` naming where the
  refresh token comes from, never its value. The shared layer (a ``Recorder``) counts and
  lands the reply the flow ends with; the auth counts and lands the others: the token
  endpoint's answer (stream ``oauth_token``) and the refused reply (``auth_rejected``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from connectors.errors import AuthError
from connectors.state import StateFile

EARLY = dt.timedelta(minutes=5)  # refresh this long before the stated expiry
REAUTHORISE = ("re-authorise the app for the account (authorization-code flow) and store the new "
               "refresh token in")
Clock = Callable[[], dt.datetime]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def fingerprint(secret: str | None) -> str | None:
    """A short one-way fingerprint of a secret (to recognise it, not to recover it)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16] if secret else None


@dataclass
class Credentials:
    """What the token endpoint needs besides the refresh token; all secret."""

    client_key: str | None
    client_secret: str | None
    refresh_token: str | None  # the environment's (the operator's) refresh token
    access_token: str | None = None  # optional: the environment's access token


class TokenStore:
    """The current access/refresh token pair of one account, and where it is persisted."""

    def __init__(self, credentials: Credentials, file: StateFile | None, label: str,
                 on_tokens: Callable[[str, str], None], clock: Clock | None = None) -> None:
        self.credentials = credentials
        self.file = file
        self.label = label  # where the refresh token comes from, for messages
        self.on_tokens = on_tokens  # told every new token pair, to redact it
        self.clock = clock or _now
        self.access_token: str | None = None
        self.refresh_token: str | None = None
        self.expires_at: dt.datetime | None = None
        self.refreshes = 0
        self._loaded = False

    def load(self) -> None:
        """Read the token file once (lazily): its pair, unless the environment has a new one."""
        if self._loaded:
            return
        self._loaded = True
        stored = self.file.read() if self.file else {}
        seed = fingerprint(self.credentials.refresh_token)
        if stored.get("refresh_token") and (seed is None or stored.get("seed") == seed):
            self.access_token = stored.get("access_token")
            self.refresh_token = stored["refresh_token"]
            self.expires_at = _parse_time(stored.get("expires_at"))
        else:
            self.access_token = self.credentials.access_token
            self.refresh_token = self.credentials.refresh_token
        for token in (self.access_token, self.refresh_token):
            if token:
                self.on_tokens(token, "")

    def stale(self) -> bool:
        """Whether the access token must be refreshed before use."""
        self.load()
        if not self.access_token:
            return True
        return self.expires_at is not None and self.expires_at - EARLY <= self.clock()

    def refresh_request(self, url: str) -> httpx.Request:
        """The token endpoint request, or AuthError when a credential is missing."""
        self.load()
        creds = self.credentials
        if not (creds.client_key and creds.client_secret and self.refresh_token):
            raise AuthError(f"TikTok access token expired or missing and it cannot be refreshed: "
                            f"set client_key_env, client_secret_env and refresh_token_env under "
                            f"[platforms.tiktok] ({self.label})")
        form = {"client_key": creds.client_key, "client_secret": creds.client_secret,
                "grant_type": "refresh_token", "refresh_token": self.refresh_token}
        return httpx.Request("POST", url, data=form, headers={"Cache-Control": "no-cache"})

    def rotate(self, response: httpx.Response) -> None:
        """Take the new pair from a token endpoint answer and persist it; AuthError if refused."""
        body = json_object(response)
        access, refresh = body.get("access_token"), body.get("refresh_token")
        if response.status_code != 200 or not isinstance(access, str) or not access:
            raise AuthError(_refused(body, response.status_code, self.label), status=response.status_code)
        self.access_token = access
        self.refresh_token = refresh if isinstance(refresh, str) and refresh else self.refresh_token
        self.on_tokens(access, self.refresh_token or "")
        expires = body.get("expires_in")
        self.expires_at = (self.clock() + dt.timedelta(seconds=expires)
                           if isinstance(expires, int) and not isinstance(expires, bool) else None)
        self.refreshes += 1
        self._persist(body)

    def _persist(self, body: dict[str, Any]) -> None:
        """Write the pair atomically (mode 0600) where the next run looks first."""
        if self.file is None:
            return
        refresh_in = body.get("refresh_expires_in")
        self.file.write({
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "refresh_expires_at": (self.clock() + dt.timedelta(seconds=refresh_in)).isoformat()
            if isinstance(refresh_in, int) else None,
            "open_id": body.get("open_id"),
            "scope": body.get("scope"),
            "seed": fingerprint(self.credentials.refresh_token),
            "refreshed_at": self.clock().isoformat(),
        })


class Recorder(Protocol):
    """What the auth needs of the shared layer (``connectors.http.ApiClient``)."""

    def record(self, response: httpx.Response, stream: str) -> object: ...


class TikTokAuth(httpx.Auth):
    """Bearer access token; refreshes lazily, and once after a 401, retrying the request once."""

    requires_response_body = True

    def __init__(self, store: TokenStore, token_url: str, recorder: Recorder) -> None:
        self.store = store
        self.token_url = token_url
        self.recorder = recorder

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Send with the current token; on ``access_token_invalid`` refresh and resend once."""
        if self.store.stale():
            yield from self._refresh()
        request.headers["Authorization"] = f"Bearer {self.store.access_token}"
        response = yield request
        if not token_rejected(response):
            return
        self.recorder.record(response, "auth_rejected")
        yield from self._refresh()
        request.headers["Authorization"] = f"Bearer {self.store.access_token}"
        yield request

    def _refresh(self) -> Generator[httpx.Request, httpx.Response, None]:
        """One token endpoint round trip; the answer lands once its new tokens are known secrets."""
        response = yield self.store.refresh_request(self.token_url)
        try:
            self.store.rotate(response)
        finally:
            self.recorder.record(response, "oauth_token")


def token_rejected(response: httpx.Response) -> bool:
    """A 401 whose envelope says the access token is invalid or expired."""
    if response.status_code != 401:
        return False
    error = json_object(response).get("error")
    return isinstance(error, dict) and error.get("code") == "access_token_invalid"


def _refused(body: dict[str, Any], status: int, label: str) -> str:
    """The message of a refused refresh: TikTok's OAuth error, where the token is, what to do."""
    error = body.get("error")
    code = error if isinstance(error, str) else error.get("code") if isinstance(error, dict) else None
    what = f"{code or f'HTTP {status}'}: {body.get('error_description') or 'no description'}"
    log_id = f", log_id {body['log_id']}" if body.get("log_id") else ""
    return (f"TikTok refused to refresh the access token ({what}{log_id}); the refresh token from "
            f"{label} is invalid, expired or already rotated: {REAUTHORISE} {label}")


def json_object(response: httpx.Response) -> dict[str, Any]:
    """A response body as a JSON object ({} when it is not one)."""
    try:
        value = json.loads(response.content)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _parse_time(value: Any) -> dt.datetime | None:
    """An ISO timestamp from the token file, or None."""
    try:
        return dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
