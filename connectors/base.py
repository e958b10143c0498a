"""Types shared by every connector: the raw response a connector yields."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RawResponse:
    """One HTTP response exactly as received, secrets already redacted.

    ``url`` holds the full request URL with secrets redacted; ``body`` the response body
    bytes with secrets redacted (Meta embeds the access token in ``paging.next``).
    ``stream`` names the endpoint kind (``account``, ``media``, ``media_insights``,
    ``account_insights``); ``context`` carries request facts a transform needs that are not
    in the body (for example ``media_id`` of a per-media insights call, or ``period``).
    """

    platform: str
    account: str
    stream: str
    method: str
    url: str
    status: int
    fetched_at: dt.datetime
    body: bytes
    elapsed_ms: float = 0.0
    attempt: int = 1
    context: dict[str, str] = field(default_factory=dict)
