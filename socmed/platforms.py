"""The platform registry: which connector and which transform serve each platform.

Adding a platform means one connector module, one transform module and one entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from connectors.base import RawResponse
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
    open_connector: Callable[..., Connector]
    make_window: Callable[[Window], Any]
    transform: Callable[[Iterable[StoredResponse], ChannelRef], TransformResult]


def _instagram() -> Platform:
    from connectors.instagram import FetchWindow, open_instagram
    from transforms.instagram import transform_instagram

    def window(w: Window) -> FetchWindow:
        return FetchWindow(w.media_since, w.media_until, w.insights_since, w.insights_until)

    return Platform("instagram", open_instagram, window, transform_instagram)


_FACTORIES: dict[str, Callable[[], Platform]] = {"instagram": _instagram}


def get_platform(name: str) -> Platform:
    """The registry entry of a platform."""
    try:
        return _FACTORIES[name]()
    except KeyError:
        raise ValueError(f"unknown platform {name!r} (supported: {', '.join(_FACTORIES)})") from None
