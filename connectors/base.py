"""Types shared by every connector: the raw response a connector yields."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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


@dataclass(frozen=True)
class ConnectorContext:
    """Everything a connector factory needs, resolved at the edge by the pipeline.

    ``token`` and ``secrets`` hold resolved secret values (from environment variables or
    Prefect Secret blocks); connectors must pass them to the redaction helper and never log
    them. ``secrets`` maps a settings field name (e.g. ``client_secret_env``) to its value.
    ``state_dir`` is where a connector may keep state between runs, such as rotated OAuth
    tokens: inside the data directory but outside the raw zone.
    """

    account_id: str
    handle: str
    base_url: str
    api_version: str | None
    token: str | None
    token_label: str
    sink: Callable[[RawResponse], None] | None
    policy: Any
    timeout: float
    settings: Any  # socmed.config.PlatformSettings
    channel: Any  # socmed.config.ChannelSettings
    secrets: dict[str, str] = field(default_factory=dict)
    state_dir: Path | None = None
