"""The Meta webhook receiver: handshake, signature before parsing, every rejection, no secrets logged."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette

from flows.events import WEBHOOK_RECEIVED, SocmedEvent
from socmed import webhooks
from socmed.config import parse_settings
from socmed.webhooks import WebhookSecrets, create_app, sign

APP_SECRET = "app-secret-0123456789abcdef"
VERIFY_TOKEN = "verify-me-0123456789"
KOTA, TV, PAGE = "17841401000000001", "17841401000000002", "104000000000001"
PATH = "/webhooks/meta"


@pytest.fixture
def emitted() -> list[SocmedEvent]:
    return []


class Client:
    """A synchronous client of the ASGI app over httpx's ASGI transport (no server, no socket)."""

    def __init__(self, app: Starlette, peer: str = "203.0.113.7") -> None:
        self.app, self.peer = app, peer

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=(self.peer, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
                return await client.request(method, url, **kwargs)

        return asyncio.run(send())

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)


async def chunked(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
    """A request body without Content-Length."""
    for part in parts:
        yield part


@pytest.fixture
def client(emitted: list[SocmedEvent], caplog: pytest.LogCaptureFixture) -> Client:
    caplog.set_level(logging.INFO, logger="socmed.webhooks")
    settings = parse_settings(
        {
            "platforms": {"instagram": {"token_env": "T"}, "facebook": {"token_env": "T"}},
            "webhooks": {"max_body_bytes": 2048},
            "channels": [
                {"platform": "instagram", "handle": "tangerangkota", "account_id": KOTA},
                {"platform": "instagram", "handle": "tangerangtv", "account_id": TV},
                {"platform": "facebook", "handle": "pemkot", "account_id": PAGE},
            ],
        },
        Path("socmed.toml"),
    )
    secrets = WebhookSecrets(SecretStr(APP_SECRET), SecretStr(VERIFY_TOKEN))
    return Client(create_app(settings, secrets, emitted.append))


def callback(*entries: tuple[str, str], obj: str = "instagram") -> bytes:
    """A callback body: (account id, changed field) per entry, the way Meta writes it."""
    entry = [
        {"id": i, "time": 1764230400, "changes": [{"field": f, "value": {"id": "1"}}]} for i, f in entries
    ]
    return json.dumps({"object": obj, "entry": entry}, separators=(",", ":")).encode()


def post(client: Client, body: bytes, signature: str | None = "auto", **headers: str) -> tuple[int, str]:
    sent = {"Content-Type": "application/json", **headers}
    if signature == "auto":
        sent["X-Hub-Signature-256"] = sign(body, APP_SECRET)
    elif signature is not None:
        sent["X-Hub-Signature-256"] = signature
    response = client.post(PATH, content=body, headers=sent)
    return response.status_code, response.text


def test_handshake_answers_the_challenge_only_with_the_right_token(client: Client) -> None:
    ok = client.get(
        PATH,
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
    )
    assert (ok.status_code, ok.text) == (200, "1158201444")
    for params, status in [
        ({"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"}, 403),
        ({"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"}, 403),
        ({"hub.mode": "subscribe", "hub.challenge": "1"}, 403),
        ({"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN}, 400),
        ({"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "9" * 300}, 400),
    ]:
        assert client.get(PATH, params=params).status_code == status, params


def test_a_signed_callback_becomes_one_event_per_configured_channel(
    client: Client, emitted: list[SocmedEvent]
) -> None:
    body = callback((TV, "comments"), (TV, "mentions"), ("999", "comments"), (KOTA, "story_insights"))
    assert post(client, body) == (200, "EVENT_RECEIVED")
    assert [
        (e.event, e.resource["prefect.resource.id"], e.resource["socmed.channel"], e.payload) for e in emitted
    ] == [
        (
            WEBHOOK_RECEIVED,
            f"socmed.channel.instagram.{TV}",
            "instagram/@tangerangtv",
            {"source": "meta/instagram", "fields": ["comments", "mentions"], "entries": 2},
        ),
        (
            WEBHOOK_RECEIVED,
            f"socmed.channel.instagram.{KOTA}",
            "instagram/@tangerangkota",
            {"source": "meta/instagram", "fields": ["story_insights"], "entries": 1},
        ),
    ]


def test_page_callbacks_map_to_facebook_channels(client: Client, emitted: list[SocmedEvent]) -> None:
    assert post(client, callback((PAGE, "feed"), obj="page"))[0] == 200
    assert post(client, callback((PAGE, "feed"), obj="whatsapp_business_account"))[0] == 200
    assert [e.resource["socmed.channel"] for e in emitted] == ["facebook/@pemkot"]


@pytest.mark.parametrize(
    ("case", "signature", "headers", "status"),
    [
        ("unsigned", None, {}, 401),
        ("sha1 only", None, {"X-Hub-Signature": "sha1=" + "0" * 40}, 401),
        ("not hex", "sha256=" + "z" * 64, {}, 401),
        ("short digest", "sha256=abcdef", {}, 401),
        ("other scheme", "md5=" + "0" * 64, {}, 401),
        ("forged", "sha256=" + hmac.new(b"wrong-secret", b"x", hashlib.sha256).hexdigest(), {}, 403),
    ],
)
def test_unsigned_and_forged_callbacks_are_refused_and_emit_nothing(
    client: Client,
    emitted: list[SocmedEvent],
    case: str,
    signature: str | None,
    headers: dict[str, str],
    status: int,
) -> None:
    assert post(client, callback((TV, "comments")), signature, **headers)[0] == status, case
    assert emitted == []


def test_a_body_changed_after_signing_is_forged(client: Client, emitted: list[SocmedEvent]) -> None:
    body = callback((TV, "comments"))
    tampered = body.replace(TV.encode(), KOTA.encode())
    assert post(client, tampered, sign(body, APP_SECRET))[0] == 403
    assert emitted == []


def test_the_signature_is_checked_before_the_body_is_parsed(
    client: Client, emitted: list[SocmedEvent], monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[str] = []
    real = webhooks.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append("x")
        return real(a, b)

    monkeypatch.setattr(webhooks.hmac, "compare_digest", spy)
    monkeypatch.setattr(webhooks.json, "loads", lambda *_: pytest.fail("parsed before verification"))
    assert post(client, b"{not json", "sha256=" + "0" * 64)[0] == 403
    assert compared == ["x"]  # the constant-time comparison decided


@pytest.mark.parametrize(
    ("case", "body", "content_type", "status"),
    [
        ("not json", b"{not json", "application/json", 400),
        ("not utf-8", b"\xff\xfe{}", "application/json", 400),
        ("a list", b"[]", "application/json", 400),
        ("no entry", b'{"object":"instagram"}', "application/json", 400),
        ("entry not a list", b'{"object":"instagram","entry":{}}', "application/json", 400),
        ("no object", b'{"entry":[]}', "application/json", 400),
        ("entry not an object", b'{"object":"instagram","entry":[1]}', "application/json", 400),
        ("form body", b"a=1", "application/x-www-form-urlencoded", 415),
    ],
)
def test_malformed_signed_callbacks_are_refused(
    client: Client, emitted: list[SocmedEvent], case: str, body: bytes, content_type: str, status: int
) -> None:
    assert post(client, body, **{"Content-Type": content_type})[0] == status, case
    assert emitted == []


def test_oversized_callbacks_are_refused_before_they_are_read(
    client: Client, emitted: list[SocmedEvent]
) -> None:
    big = callback(*[(TV, "comments")] * 40)
    assert len(big) > 2048
    assert post(client, big)[0] == 413  # Content-Length says so
    streamed = client.post(
        PATH,
        content=chunked([big[:1500], big[1500:]]),
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(big, APP_SECRET)},
    )
    assert streamed.status_code == 413  # no Content-Length: counted while reading
    assert post(client, callback((TV, "x")), **{"Content-Length": "12abc"})[0] == 400
    assert emitted == []


def test_other_methods_and_paths(client: Client) -> None:
    assert client.put(PATH, content=b"{}").status_code == 405
    assert client.get("/webhooks/other").status_code == 404
    assert client.get("/healthz").text == "ok"


def test_log_lines_name_the_outcome_but_never_a_secret(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    body = callback((TV, "comments"))
    client.get(PATH, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "7"})
    client.get(
        PATH, params={"hub.mode": "subscribe", "hub.verify_token": "wrong-guess", "hub.challenge": "7"}
    )
    post(client, body)
    post(client, body, None)
    post(client, body, sign(body, "forger"))
    post(client, b"{not json")
    lines = [r.getMessage() for r in caplog.records if r.name == "socmed.webhooks"]
    assert [line.split()[3] for line in lines if line.startswith("webhook")] == [
        "200",
        "403",
        "200",
        "401",
        "403",
        "400",
    ]
    text = "\n".join(lines)
    for secret in (APP_SECRET, VERIFY_TOKEN, "wrong-guess", sign(body, APP_SECRET)[7:], body.decode()):
        assert secret not in text


def test_notifications_are_logged_from_loopback_only(
    client: Client, caplog: pytest.LogCaptureFixture, emitted: list[SocmedEvent]
) -> None:
    payload = {"subject": "socmed: flow run x Failed", "body": "line one\nline two"}
    assert Client(client.app, "127.0.0.1").post("/notifications", json=payload).status_code == 200
    assert client.post("/notifications", json=payload).status_code == 403  # not from loopback
    notes = [r.getMessage() for r in caplog.records if r.getMessage().startswith("prefect notification")]
    assert notes == ["prefect notification: socmed: flow run x Failed | line one line two"]
