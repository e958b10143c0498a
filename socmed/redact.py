"""One redaction helper for logs, the raw zone and error messages alike.

It removes two kinds of secret: values the caller knows (the tokens in use) wherever they
appear, and the values of secret-bearing query parameters or JSON keys (``access_token``,
``client_secret``, ``appsecret_proof``, ``refresh_token``, ``fb_exchange_token``, ``code``
of OAuth exchanges; Google's ``key`` in query strings only) even when the value is not known,
as in Meta's ``paging.next`` URLs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

REDACTED = "REDACTED"

SECRET_PARAMS = (
    "access_token",
    "client_secret",
    "appsecret_proof",
    "refresh_token",
    "fb_exchange_token",
    "input_token",
    "password",
)

_names = "|".join(SECRET_PARAMS)
# Google's API key travels as key=...; only in query strings (a JSON "key" is ordinary data)
QUERY_ONLY_PARAMS = ("key",)
# query-string form: access_token=abc (also URL-escaped inside JSON: access_token\u003Dabc is rare)
_QUERY = re.compile(rf"(?i)(\b(?:{_names}|{'|'.join(QUERY_ONLY_PARAMS)})=)[^&\s\"'#\\]+")
# JSON form: "access_token": "abc"
_JSON = re.compile(rf"(?i)(\"(?:{_names})\"\s*:\s*\")[^\"]*(\")")
# Authorization header values
_BEARER = re.compile(r"(?i)\b(Bearer|OAuth)\s+[A-Za-z0-9._~+/=-]{8,}")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return text with known secrets and secret-bearing parameters replaced by REDACTED."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    text = _QUERY.sub(rf"\g<1>{REDACTED}", text)
    text = _JSON.sub(rf"\g<1>{REDACTED}\g<2>", text)
    return _BEARER.sub(rf"\g<1> {REDACTED}", text)


class RedactingFilter(logging.Filter):
    """A logging filter that passes each record's message through ``redact`` (e.g. httpx's URLs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the message if it holds a secret-bearing parameter; never drop the record."""
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


def redact_bytes(body: bytes, secrets: Iterable[str] = ()) -> bytes:
    """Redact a response body, keeping bytes that are not valid UTF-8 as they were."""
    text = body.decode("utf-8", errors="surrogateescape")
    return redact(text, secrets).encode("utf-8", errors="surrogateescape")
