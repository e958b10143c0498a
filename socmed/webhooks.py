"""The Meta webhook receiver: an ASGI app on Starlette, served by uvicorn (both ship with Prefect).

Routes (``path`` from ``[webhooks]``, default ``/webhooks/meta``):

* ``GET  <path>``: the verification handshake. ``hub.mode=subscribe`` with the right
  ``hub.verify_token`` (compared in constant time) gets 200 and the bare ``hub.challenge``.
* ``POST <path>``: a change notification. Checked in this order, and nothing of the body is
  parsed before the signature is verified:

  ====================================================  ======
  no ``X-Hub-Signature-256``, or not ``sha256=<hex>``   401
  ``Content-Length`` not a number                       400
  body larger than ``max_body_bytes``                   413
  HMAC-SHA256(app secret, raw body) differs (forged)    403
  ``Content-Type`` not JSON                             415
  body not a JSON object with an ``entry`` list         400
  ====================================================  ======

  A valid callback is answered 200 at once; each configured channel it names becomes one
  ``socmed.webhook.received`` Prefect event (the ``ingest-channel`` deployment's trigger
  debounces them into one ingestion). Entries for unknown accounts are acknowledged and
  logged, so Meta does not retry them.
* ``POST /notifications``: from loopback only, a Prefect notification (the default
  ``socmed-notify`` block) becomes one log line.
* ``GET /healthz``.

Every request is logged as one line: method, path, status, reason, client, size. Never the
signature, the secrets or the body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from flows.events import ChannelRef, Emitter, SocmedEvent, emit, webhook_received
from socmed.config import Settings, TokenSource, resolve_token

log = logging.getLogger("socmed.webhooks")

SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
OBJECT_PLATFORMS = {"instagram": "instagram", "page": "facebook"}  # Meta's "object" -> our platform
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
NOTIFY_MAX_BYTES = 65_536


class Rejected(Exception):
    """A request refused with an HTTP status and a reason that is safe to log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class WebhookSecrets:
    """The app secret (signs callbacks) and the verify token (the handshake)."""

    app_secret: SecretStr
    verify_token: SecretStr


def load_secrets(settings: Settings) -> WebhookSecrets:
    """Read both secrets from the environment variables named in ``[webhooks]``."""
    hooks = settings.webhooks
    where = f"{settings.source}: [webhooks]"
    return WebhookSecrets(
        resolve_token(TokenSource(token_env=hooks.app_secret_env), f"{where} app_secret_env"),
        resolve_token(TokenSource(token_env=hooks.verify_token_env), f"{where} verify_token_env"),
    )


def sign(body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends for ``body``."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def channel_index(settings: Settings) -> dict[tuple[str, str], ChannelRef]:
    """(platform, account id) -> channel, for the enabled channels Meta can notify about."""
    return {
        (c.platform, c.account_id): ChannelRef(c.platform, c.account_id, c.handle)
        for c in settings.channels
        if c.enabled and c.platform in OBJECT_PLATFORMS.values()
    }


def _client(request: Request) -> str:
    return request.client.host if request.client else "-"


def _signature(request: Request) -> str:
    """The hex digest of the signature header, or 401 when it is missing or malformed."""
    header = request.headers.get("x-hub-signature-256")
    if header is None:
        raise Rejected(401, "unsigned: no X-Hub-Signature-256")
    match = SIGNATURE.fullmatch(header.strip())
    if match is None:
        raise Rejected(401, "unsigned: X-Hub-Signature-256 is not sha256=<64 hex digits>")
    return match.group(1).lower()


async def read_limited(request: Request, limit: int) -> bytes:
    """The raw body, refusing (413) before reading more than ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Rejected(400, "malformed: Content-Length is not a number")
        if int(declared) > limit:
            raise Rejected(413, f"oversized: Content-Length {declared} > {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Rejected(413, f"oversized: body > {limit} bytes")
    return bytes(body)


def verify(body: bytes, digest: str, app_secret: str) -> None:
    """Raise 403 unless ``digest`` is the HMAC-SHA256 of ``body`` (constant-time compare)."""
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, digest):
        raise Rejected(403, "forged: signature does not match the body")


def parse_callback(body: bytes, content_type: str) -> dict[str, Any]:
    """The verified body as a callback object, or 415/400."""
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise Rejected(415, f"malformed: Content-Type {content_type[:40]!r} is not application/json")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise Rejected(400, "malformed: body is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("entry"), list):
        raise Rejected(400, "malformed: no entry list")
    if not isinstance(data.get("object"), str):
        raise Rejected(400, "malformed: no object")
    return data


def _changed_fields(entry: dict[str, Any]) -> list[str]:
    changes = entry.get("changes")
    if isinstance(changes, list):
        return [str(c.get("field")) for c in changes if isinstance(c, dict) and c.get("field")]
    return ["messaging"] if entry.get("messaging") else []


def callback_events(data: dict[str, Any], index: dict[tuple[str, str], ChannelRef]) -> Iterator[SocmedEvent]:
    """One ``socmed.webhook.received`` event per configured channel named in the callback."""
    platform = OBJECT_PLATFORMS.get(data["object"])
    touched: dict[str, tuple[ChannelRef, list[str], int]] = {}
    for entry in data["entry"]:
        if not isinstance(entry, dict):
            raise Rejected(400, "malformed: an entry is not an object")
        channel = index.get((platform or "", str(entry.get("id", ""))))
        if channel is None:
            log.info(
                "webhook entry ignored: no enabled channel for object %r id %r",
                str(data["object"])[:20],
                str(entry.get("id", ""))[:40],
            )
            continue
        _, fields, count = touched.get(channel.key, (channel, [], 0))
        touched[channel.key] = (channel, fields + _changed_fields(entry), count + 1)
    for channel, fields, count in touched.values():
        yield webhook_received(channel, f"meta/{data['object']}", fields, count)


class MetaWebhook:
    """The request handlers, holding the secrets, the channel index and the emitter."""

    def __init__(self, settings: Settings, secrets: WebhookSecrets, emitter: Emitter) -> None:
        self.secrets = secrets
        self.index = channel_index(settings)
        self.limit = settings.webhooks.max_body_bytes
        self.emit = emitter

    async def handshake(self, request: Request) -> Response:
        """Answer Meta's subscription check."""
        query = request.query_params
        mode, token, challenge = (
            query.get("hub.mode"),
            query.get("hub.verify_token"),
            query.get("hub.challenge"),
        )
        if not challenge or len(challenge) > 256:
            return _reply(request, 400, "malformed: hub.challenge missing or too long")
        expected = self.secrets.verify_token.get_secret_value().encode()
        if mode != "subscribe" or not hmac.compare_digest(expected, (token or "").encode()):
            return _reply(request, 403, "handshake refused: wrong hub.mode or hub.verify_token")
        return _reply(request, 200, "handshake ok", body=challenge)

    async def callback(self, request: Request) -> Response:
        """Verify, parse and turn a change notification into Prefect events."""
        try:
            digest = _signature(request)
            body = await read_limited(request, self.limit)
            verify(body, digest, self.secrets.app_secret.get_secret_value())
            data = parse_callback(body, request.headers.get("content-type", ""))
            events = list(callback_events(data, self.index))
        except Rejected as exc:
            return _reply(request, exc.status, exc.reason)
        for event in events:
            self.emit(event)
        channels = ", ".join(e.resource["socmed.channel"] for e in events) or "none"
        return _reply(
            request, 200, f"accepted ({len(body)} bytes): channels {channels}", body="EVENT_RECEIVED"
        )


async def notification(request: Request) -> Response:
    """A Prefect notification (the default block) as one log line; loopback clients only."""
    if _client(request) not in LOOPBACK:
        return _reply(request, 403, "notifications are accepted from loopback only")
    try:
        raw = await read_limited(request, NOTIFY_MAX_BYTES)
        data = json.loads(raw or b"{}")
    except Rejected as exc:
        return _reply(request, exc.status, exc.reason)
    except ValueError:
        return _reply(request, 400, "malformed: notification is not JSON")
    subject = _one_line(str(data.get("subject", "") if isinstance(data, dict) else ""))
    text = _one_line(str(data.get("body", "") if isinstance(data, dict) else data))
    log.warning("prefect notification: %s | %s", subject, text[:500])
    return _reply(request, 200, "notification logged")


def _one_line(text: str) -> str:
    return " ".join(text.split())


async def healthz(request: Request) -> Response:
    """Liveness probe."""
    return PlainTextResponse("ok")


def _reply(request: Request, status: int, reason: str, body: str | None = None) -> Response:
    """Log one line without secrets and answer."""
    level = logging.INFO if status < 400 else logging.WARNING
    declared = request.headers.get("content-length", "-")
    size = declared if declared.isdigit() or declared == "-" else "invalid"
    log.log(
        level,
        "webhook %s %s %d %s client=%s bytes=%s",
        request.method,
        request.url.path,
        status,
        reason,
        _client(request),
        size,
    )
    return PlainTextResponse(body if body is not None else reason.split(":")[0], status_code=status)


def create_app(settings: Settings, secrets: WebhookSecrets, emitter: Emitter = emit) -> Starlette:
    """The ASGI app."""
    hook = MetaWebhook(settings, secrets, emitter)
    path = settings.webhooks.path
    return Starlette(
        routes=[
            Route(path, hook.handshake, methods=["GET"]),
            Route(path, hook.callback, methods=["POST"]),
            Route("/notifications", notification, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """Serve the receiver with uvicorn until interrupted (put HTTPS in front of it)."""
    import prefect.events  # noqa: F401  (imported now, not on the first callback)
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings, load_secrets(settings))
    uvicorn.run(
        app,
        host=host or settings.webhooks.host,
        port=port or settings.webhooks.port,
        log_level="warning",
        access_log=False,
        server_header=False,
    )
