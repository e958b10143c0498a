"""The platform registry: which connector and which transform serve each platform.

Adding a platform means one connector module, one transform module, its expectations, its
sandbox routes, and one ``PlatformInfo`` entry in ``REGISTRY`` below (defaults, whether it
needs a token, and a factory that imports its modules lazily).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from connectors.base import ConnectorContext, RawResponse
from socmed.incremental import Window
from socmed.rawzone import StoredResponse
from transforms.common import ChannelRef, TransformResult
from transforms.runs import RunsTransform


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
    # Several runs in one call, each as if alone (transforms.runs); None: run by run.
    transform_runs: RunsTransform | None = None


@dataclass(frozen=True)
class PlatformInfo:
    """A registry entry: configuration defaults and the lazily imported implementation."""

    factory: Callable[[], Platform]
    defaults: dict[str, str] = field(default_factory=dict)
    needs_token: bool = True
    # PlatformSettings fields naming further secrets (environment variables) the connector needs
    secret_fields: tuple[str, ...] = ()
    # streams a run can be limited to (the ``streams`` flow parameter); () = not selectable
    streams: tuple[str, ...] = ()


def _instagram() -> Platform:
    from connectors.instagram import FEED_STREAMS, FetchWindow, open_instagram
    from transforms.instagram import transform_instagram, transform_instagram_runs

    def window(w: Window) -> FetchWindow:
        # stories only when asked for: the ingest-stories deployment runs every two hours
        streams = frozenset(w.streams) if w.streams else FEED_STREAMS
        return FetchWindow(w.media_since, w.media_until, w.insights_since, w.insights_until,
                           w.platform_today, streams)

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
            views_file=ctx.state_dir / "instagram-views.json" if ctx.state_dir else None,
        )

    return Platform("instagram", connect, window, transform_instagram, transform_instagram_runs)


def _facebook() -> Platform:
    from connectors.facebook import ALL_STREAMS, FetchWindow, open_facebook
    from transforms.facebook import transform_facebook, transform_facebook_runs

    def window(w: Window) -> FetchWindow:
        streams = frozenset(w.streams) if w.streams else ALL_STREAMS
        return FetchWindow(w.media_since, w.media_until, w.insights_since, w.insights_until,
                           w.platform_today, streams)

    def connect(ctx: ConnectorContext) -> Connector:
        return open_facebook(
            base_url=ctx.base_url,
            api_version=ctx.api_version or "v24.0",
            token=ctx.token or "",
            token_label=ctx.token_label,
            page_id=ctx.account_id,
            sink=ctx.sink,
            policy=ctx.policy,
            timeout=ctx.timeout,
        )

    return Platform("facebook", connect, window, transform_facebook, transform_facebook_runs)


def _tiktok() -> Platform:
    from connectors.tiktok import TikTokWindow, open_tiktok
    from connectors.tiktok_auth import Credentials
    from transforms.tiktok import transform_tiktok, transform_tiktok_runs

    def window(w: Window) -> TikTokWindow:
        return TikTokWindow(w.media_since, w.media_until)

    def connect(ctx: ConnectorContext) -> Connector:
        state = ctx.state_dir
        file = ctx.settings.token_file
        token_file = Path(str(file).format(account_id=ctx.account_id)) if file else (
            state / "tiktok-token.json" if state else None)
        label = f"environment variable {ctx.settings.refresh_token_env}" + (
            f" (rotated copies kept in {token_file})" if token_file else "")
        return open_tiktok(
            base_url=ctx.base_url,
            api_version=ctx.api_version or "v2",
            credentials=Credentials(ctx.secrets.get("client_key_env"), ctx.secrets.get("client_secret_env"),
                                    ctx.secrets.get("refresh_token_env"), ctx.token),
            token_label=label,
            account_id=ctx.account_id,
            sink=ctx.sink,
            token_file=token_file,
            known_file=state / "tiktok-videos.json" if state else None,
            policy=ctx.policy,
            timeout=ctx.timeout,
        )

    return Platform("tiktok", connect, window, transform_tiktok, transform_tiktok_runs)


def _youtube() -> Platform:
    from connectors.youtube import FetchWindow, open_youtube
    from transforms.youtube import transform_youtube, transform_youtube_runs

    def window(w: Window) -> FetchWindow:
        return FetchWindow(w.media_since, w.media_until)

    def connect(ctx: ConnectorContext) -> Connector:
        api_key = ctx.secrets.get("api_key_env")
        label = (f"environment variable {ctx.settings.api_key_env}" if api_key
                 else ctx.token_label if ctx.token else "[platforms.youtube]")
        return open_youtube(
            base_url=ctx.base_url,
            api_version=ctx.api_version or "v3",
            api_key=api_key,
            token=ctx.token,
            label=label,
            channel_id=ctx.account_id,
            sink=ctx.sink,
            policy=ctx.policy,
            timeout=ctx.timeout,
            quota_budget=ctx.settings.quota_units_per_day,
        )

    return Platform("youtube", connect, window, transform_youtube, transform_youtube_runs)


def _x() -> Platform:
    from connectors.x import FetchWindow, open_x
    from transforms.x import transform_x, transform_x_runs

    def window(w: Window) -> FetchWindow:
        return FetchWindow(w.media_since, w.media_until)

    def connect(ctx: ConnectorContext) -> Connector:
        return open_x(
            base_url=ctx.base_url,
            api_version=ctx.api_version or "2",
            token=ctx.token or "",
            token_label=ctx.token_label,
            user_id=ctx.account_id,
            sink=ctx.sink,
            policy=ctx.policy,
            timeout=ctx.timeout,
            state_dir=ctx.state_dir,
        )

    return Platform("x", connect, window, transform_x, transform_x_runs)


def _website() -> Platform:
    from connectors.website import FetchWindow, open_website
    from transforms.website import transform_website

    def window(w: Window) -> FetchWindow:
        if w.backfill:  # by publish date; other runs re-read what was edited since
            return FetchWindow(published_after=w.media_since, published_before=w.media_until)
        return FetchWindow(modified_after=w.media_since)

    def connect(ctx: ConnectorContext) -> Connector:
        return open_website(
            base_url=ctx.base_url,
            account_id=ctx.account_id,
            sink=ctx.sink,
            feed_url=ctx.channel.feed_url,
            page_size=ctx.settings.page_size,
            policy=ctx.policy,
            timeout=ctx.timeout,
            source_file=ctx.state_dir / "website-source.json" if ctx.state_dir else None,
        )

    return Platform("website", connect, window, transform_website)


def _manual() -> Platform:
    from connectors.manual import open_manual
    from transforms.manual import transform_manual

    def connect(ctx: ConnectorContext) -> Connector:
        return open_manual(
            watch_dir=ctx.channel.watch_dir, state_dir=ctx.state_dir, account_id=ctx.account_id, sink=ctx.sink
        )

    return Platform("manual", connect, lambda w: w, transform_manual)


REGISTRY: dict[str, PlatformInfo] = {
    "instagram": PlatformInfo(
        _instagram,
        {"base_url": "https://graph.facebook.com", "api_version": "v24.0"},
        streams=("account", "media", "stories", "account_insights"),
    ),
    # a Page access token (token_env); same Graph host and version as Instagram
    "facebook": PlatformInfo(
        _facebook,
        {"base_url": "https://graph.facebook.com", "api_version": "v24.0"},
        streams=("page", "posts", "page_insights"),
    ),
    # TikTok refreshes its day-long access tokens itself: the OAuth app's client key and secret
    # and the account's refresh token; token_env (an access token) is optional
    "tiktok": PlatformInfo(
        _tiktok,
        {"base_url": "https://open.tiktokapis.com", "api_version": "v2"},
        needs_token=False,
        secret_fields=("client_key_env", "client_secret_env", "refresh_token_env"),
    ),
    # YouTube reads public statistics with an API key (api_key_env); token_env is for OAuth
    "youtube": PlatformInfo(
        _youtube,
        {"base_url": "https://www.googleapis.com/youtube", "api_version": "v3"},
        needs_token=False,
        secret_fields=("api_key_env",),
    ),
    "x": PlatformInfo(_x, {"base_url": "https://api.x.com", "api_version": "2"}),
    # a news website: the channel's base_url is the site; no token (public REST API or feed)
    "website": PlatformInfo(_website, needs_token=False),
    # channels with no API: CSV files dropped in the channel's watch_dir (socmed import)
    "manual": PlatformInfo(_manual, needs_token=False),
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


def platform_streams(name: str) -> tuple[str, ...]:
    """The streams a run of this platform can be limited to (empty: none)."""
    return REGISTRY[name].streams if name in REGISTRY else ()


def needs_token(name: str) -> bool:
    """Whether channels of this platform must name a token source."""
    return REGISTRY[name].needs_token if name in REGISTRY else True


def get_platform(name: str) -> Platform:
    """The implementation of a platform."""
    try:
        return REGISTRY[name].factory()
    except KeyError:
        raise ValueError(f"unknown platform {name!r} (supported: {', '.join(REGISTRY)})") from None
