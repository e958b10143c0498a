"""The errors every connector raises, as one small tree.

::

    ConnectorError                  base; the message is always redacted
    ├── StopChannel                 ends the channel's run: fetch_all lets it propagate
    │   ├── AuthError               token invalid or expired (Meta code 190); never retried
    │   ├── PermissionDenied        a permission/scope is missing (Meta code 10, 200-299)
    │   ├── RateLimited             throttled for longer than RetryPolicy.max_wait allows
    │   └── RetriesExhausted        5xx, timeouts or dropped connections on every attempt
    └── StreamError                 ends one stream: fetch_all records it and goes on
        ├── RequestRejected         the API refused this request (Meta code 100, other 4xx)
        │   └── UnsupportedMetric   ... because a metric is not valid for the object
        └── MalformedResponse       a 2xx body that is not the JSON expected
            └── RepeatedCursor      the API handed back a cursor it already gave

Which response becomes which error is decided in one place per platform (for Meta,
``connectors.meta.classify``); the shared HTTP layer (``connectors.http.ApiClient``) only
acts on that decision.
"""

from __future__ import annotations

import datetime as dt


class ConnectorError(Exception):
    """Base of all connector errors; carries the platform's code and where it happened."""

    def __init__(self, message: str, *, code: int | None = None, subcode: int | None = None,
                 status: int | None = None, url: str | None = None,
                 stream: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.subcode = subcode
        self.status = status
        self.url = url  # always the redacted URL
        self.stream = stream

    def __str__(self) -> str:
        where = f"{self.stream}: " if self.stream else ""
        request = f" [GET {self.url}]" if self.url else ""
        return f"{where}{self.message}{request}"


class StopChannel(ConnectorError):
    """An error after which no further request for this channel makes sense."""


class AuthError(StopChannel):
    """The access token is invalid or expired; an operator must act."""


class PermissionDenied(StopChannel):
    """The token lacks a permission the request needs."""


class RateLimited(StopChannel):
    """The platform throttles us for longer than we agreed to wait."""

    def __init__(self, message: str, *, resume_at: dt.datetime | None = None,
                 **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.resume_at = resume_at

    def until(self, resume_at: dt.datetime, reason: str) -> RateLimited:
        """Return a copy that names the time the channel can resume."""
        when = resume_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        return RateLimited(f"{self.message}; {reason}; resume after {when}",
                           resume_at=resume_at, code=self.code, subcode=self.subcode,
                           status=self.status, url=self.url, stream=self.stream)


class RetriesExhausted(StopChannel):
    """Transient failures (5xx, timeouts, dropped connections) outlasted every attempt."""


class StreamError(ConnectorError):
    """An error that ends one stream while the channel's other streams still run."""


class RequestRejected(StreamError):
    """The API rejected the request itself; repeating it cannot help."""


class UnsupportedMetric(RequestRejected):
    """A requested metric is deprecated or not supported for this object."""


class MalformedResponse(StreamError):
    """A success status with a body that is not the JSON expected."""


class RepeatedCursor(MalformedResponse):
    """Paging returned a cursor seen before; following it would loop forever."""
