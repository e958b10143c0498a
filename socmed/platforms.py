"""The platform registry: which connector and which transform serve each platform.

Adding a platform means one connector module, one transform module, its expectations, its
sandbox routes, and one ``PlatformInfo`` entry in ``REGISTRY`` below (defaults, whether it
needs a token, and a factory that imports its modules lazily).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from connectors.base import ConnectorContext, RawResponse
from socmed.incremental import Window
from socmed.rawzone import StoredResponse
from transforms.common import ChannelRef, TransformResult


class Connector(Protocol):
    """What the pipeline needs of a connector."""

    problems: list[str]

    @property
    def request_count(self) -> int: ...

    def fetch_all(self, window: Any) -> Iterator[RawResponse]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Platform:
    """How to fetch and transform one platform."""

    name: str
    open_connector: Callable[[ConnectorContext], Connector]
    make_window: Callable[[Window], Any]
    transform: Callable[[Iterable[StoredResponse], ChannelRef], TransformResult]


@dataclass(frozen=True)
class PlatformInfo:
    """A registry entry: configuration defaults and the lazily imported implementation."""

    factory: Callable[[], Platform]
    defaults: dict[str, str] = field(default_factory=dict)
    needs_token: bool = True
    # PlatformSettings fields naming further secrets (environment variables) the connector needs
    secret_fields: tuple[str, ...] = ()


def _instagram() -> Platform:
    from connectors.instagram import FetchWindow, open_instagram
    from transforms.instagram import transform_instagram

    def window(w: Window) -> FetchWindow:
        return FetchWindow(w.media_since, w.media_until, w.insights_since, w.insights_until)

    def connect(ctx: ConnectorContext) -> Connector:
        return open_instagram(
            base_url=ctx.base_url,
            api_version=ctx.api_version or "v24.0",
            token=ctx.token or "",
            token_label=ctx.token_label,
            account_id=ctx.account_id,
            sink=ctx.sink,
            policy=ctx.policy,
            timeout=ctx.timeout,
        )

    return Platform("instagram", connect, window, transform_instagram)


REGISTRY: dict[str, PlatformInfo] = {
    "instagram": PlatformInfo(_instagram, {"base_url": "https://graph.facebook.com", "api_version": "v24.0"}),
}


def platform_names() -> tuple[str, ...]:
    """Every platform the pipeline can ingest."""
    return tuple(REGISTRY)


def platform_defaults(name: str) -> dict[str, str]:
    """Default settings (base URL, API version) of a platform."""
    return REGISTRY[name].defaults if name in REGISTRY else {}


def secret_fields(name: str) -> tuple[str, ...]:
    """Settings fields whose environment variables hold further secrets of this platform."""
    return REGISTRY[name].secret_fields if name in REGISTRY else ()


def needs_token(name: str) -> bool:
    """Whether channels of this platform must name a token source."""
    return REGISTRY[name].needs_token if name in REGISTRY else True


def get_platform(name: str) -> Platform:
    """The implementation of a platform."""
    try:
        return REGISTRY[name].factory()
    except KeyError:
        raise ValueError(f"unknown platform {name!r} (supported: {', '.join(REGISTRY)})") from None
