"""Every platform's sandbox in one place: what ``socmed demo`` serves and configures.

Each ``HubEntry`` says how to make a platform's ``FakeApi`` (``make(as_of, token)``, not
started), what the demo's ``socmed.toml`` needs to reach it (``config(fake)``: the
``[platforms.<name>]`` table and ``[[channels]]`` entries, plus the environment variables
they name, holding the sandbox's secrets), and how many requests the demo made per channel
against the API's minimum (``usage(fake, platform_settings)``).

A new platform appends one entry to ``SANDBOXES``.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sandbox.base import FakeApi


@dataclass(frozen=True)
class DemoChannels:
    """A platform's part of the demo config: TOML text and the environment it names."""

    toml: str
    env: dict[str, str] = field(default_factory=dict)


Usage = Callable[[FakeApi, Any], dict[str, tuple[int, int]]]


@dataclass(frozen=True)
class HubEntry:
    """One platform's sandbox: how to make it, configure the demo for it, and judge its cost."""

    platform: str
    make: Callable[[dt.date, str, int], FakeApi]  # (as_of, token, port: 0 = ephemeral)
    config: Callable[[FakeApi], DemoChannels]
    usage: Usage | None = None  # channel label -> (requests made, API minimum)


def token_for(platform: str) -> str:
    """The sandbox's (not secret) access token for a platform; distinct per platform."""
    return f"sandbox-{platform}-token-not-a-secret"


def channel_toml(platform: str, handle: str, account_id: str, **extra: str) -> str:
    """One ``[[channels]]`` entry."""
    lines = [f'platform = "{platform}"', f'handle = "{handle}"', f'account_id = "{account_id}"']
    lines += [f'{key} = "{value}"' for key, value in extra.items()]
    return "\n[[channels]]\n" + "\n".join(lines) + "\n"


def platform_toml(platform: str, **settings: str | int) -> str:
    """One ``[platforms.<name>]`` table."""
    values = [f"{k} = {v}" if isinstance(v, int) else f'{k} = "{v}"' for k, v in settings.items()]
    return f"\n[platforms.{platform}]\n" + "\n".join(values) + "\n"


# -- Instagram ----------------------------------------------------------------------------

INSTAGRAM_TOKEN_ENV = "SOCMED_DEMO_TOKEN"


def _instagram(as_of: dt.date, token: str, port: int) -> FakeApi:
    from sandbox.server import Sandbox

    return Sandbox(as_of=as_of, token=token, port=port)


def _instagram_config(fake: FakeApi) -> DemoChannels:
    from sandbox.server import Sandbox

    assert isinstance(fake, Sandbox)
    toml = platform_toml("instagram", base_url=fake.base_url, api_version="v24.0",
                         token_env=INSTAGRAM_TOKEN_ENV)
    toml += "".join(channel_toml("instagram", a.username, a.id) for a in fake.data.accounts)
    return DemoChannels(toml, {INSTAGRAM_TOKEN_ENV: fake.token})


def _instagram_usage(fake: FakeApi, settings: Any) -> dict[str, tuple[int, int]]:
    from sandbox.server import Sandbox

    assert isinstance(fake, Sandbox)
    days = int(settings.insights_days)
    return {
        f"instagram/@{a.username}": (
            sum(r.account_id == a.id for r in fake.requests),
            # profile, pages of 100, a series, a call a day; the stories list, a call a story
            1 + -(-a.media_count // 100) + 1 + days + 1 + len(fake.api.stories.stories_for(a.id)),
        )
        for a in fake.data.accounts
    }


# -- Facebook Pages (the Graph sandbox again, seen from the Pages) ------------------------

FACEBOOK_TOKEN_ENV = "SOCMED_DEMO_FACEBOOK_TOKEN"


def _facebook(as_of: dt.date, token: str, port: int) -> FakeApi:
    from sandbox.facebook import FacebookSandbox

    return FacebookSandbox(as_of=as_of, token=token, port=port)


def _facebook_config(fake: FakeApi) -> DemoChannels:
    from sandbox.facebook import FacebookSandbox

    assert isinstance(fake, FacebookSandbox)
    toml = platform_toml("facebook", base_url=fake.base_url, api_version="v24.0",
                         token_env=FACEBOOK_TOKEN_ENV)
    toml += "".join(channel_toml("facebook", page.username, page.id) for page in fake.pages)
    return DemoChannels(toml, {FACEBOOK_TOKEN_ENV: fake.token})


def _facebook_usage(fake: FakeApi, settings: Any) -> dict[str, tuple[int, int]]:
    from sandbox.facebook import FacebookSandbox

    assert isinstance(fake, FacebookSandbox)
    return {
        f"facebook/@{page.username}": (
            sum(r.account_id == page.id for r in fake.requests),
            # the Page, posts pages of 100, one Page insights window (insights_days <= 93)
            1 + -(-fake.expected(page.id)["posts"] // 100) + 1,
        )
        for page in fake.pages
    }


# -- TikTok -------------------------------------------------------------------------------

TIKTOK_ENV = ("SOCMED_DEMO_TIKTOK_CLIENT_KEY", "SOCMED_DEMO_TIKTOK_CLIENT_SECRET",
              "SOCMED_DEMO_TIKTOK_REFRESH_TOKEN")


def _tiktok(as_of: dt.date, token: str, port: int) -> FakeApi:
    from sandbox.tiktok import TikTokSandbox

    # a fresh refresh token per start: a demo re-run must not reuse the last run's rotation
    return TikTokSandbox(as_of=as_of, token=token, refresh_token=f"rft.{secrets.token_hex(12)}",
                         port=port)


def _tiktok_config(fake: FakeApi) -> DemoChannels:
    from sandbox.tiktok import TikTokSandbox

    assert isinstance(fake, TikTokSandbox)
    key, secret, refresh = TIKTOK_ENV
    toml = platform_toml("tiktok", base_url=fake.base_url, api_version="v2", client_key_env=key,
                         client_secret_env=secret, refresh_token_env=refresh)
    toml += channel_toml("tiktok", fake.data.user()["username"], fake.data.open_id)
    return DemoChannels(toml, {key: fake.client_key, secret: fake.client_secret, refresh: fake.refresh_token})


def _tiktok_usage(fake: FakeApi, settings: Any) -> dict[str, tuple[int, int]]:
    from sandbox.tiktok import MAX_COUNT, TikTokSandbox

    assert isinstance(fake, TikTokSandbox)
    floor = 1 + -(-len(fake.data.videos) // MAX_COUNT)  # user/info, then 20 videos a request
    return {f"tiktok/@{fake.data.user()['username']}": (len(fake.requests), floor)}


# -- News website (WordPress) and channels with no API (CSV drops) ------------------------


def _website(as_of: dt.date, token: str, port: int) -> FakeApi:
    from sandbox.website import WebsiteSandbox

    return WebsiteSandbox(as_of=as_of, token=token, port=port)


def _website_config(fake: FakeApi) -> DemoChannels:
    from sandbox.website import WebsiteSandbox

    assert isinstance(fake, WebsiteSandbox)
    return DemoChannels(channel_toml("website", fake.account_id, fake.account_id, base_url=fake.base_url))


def _website_usage(fake: FakeApi, settings: Any) -> dict[str, tuple[int, int]]:
    from sandbox.website import WebsiteSandbox

    assert isinstance(fake, WebsiteSandbox)
    floor = -(-len(fake.data.articles) // int(settings.page_size))  # pages of 100, no profile call
    return {f"website/@{fake.account_id}": (len(fake.requests), floor)}


def _manual(as_of: dt.date, token: str, port: int) -> FakeApi:  # a folder: no port
    from sandbox.manual import ManualDrop

    return ManualDrop(as_of, token)


def _manual_config(fake: FakeApi) -> DemoChannels:
    from sandbox.manual import ACCOUNT_ID, HANDLE, ManualDrop

    assert isinstance(fake, ManualDrop) and fake.folder is not None
    return DemoChannels(channel_toml("manual", HANDLE, ACCOUNT_ID, watch_dir=fake.folder.as_posix()))


# -- YouTube and X ------------------------------------------------------------------------

YOUTUBE_KEY_ENV = "SOCMED_DEMO_YOUTUBE_KEY"
X_TOKEN_ENV = "SOCMED_DEMO_X_TOKEN"


def _youtube(as_of: dt.date, token: str, port: int) -> FakeApi:
    from sandbox.youtube import YouTubeSandbox

    return YouTubeSandbox(as_of=as_of, token=token, port=port)


def _youtube_config(fake: FakeApi) -> DemoChannels:
    from sandbox.youtube import YouTubeSandbox
    from sandbox.youtube_data import HANDLE

    assert isinstance(fake, YouTubeSandbox)
    toml = platform_toml("youtube", base_url=f"{fake.base_url}/youtube", api_key_env=YOUTUBE_KEY_ENV)
    toml += channel_toml("youtube", HANDLE, fake.data.channel_id)
    return DemoChannels(toml, {YOUTUBE_KEY_ENV: fake.token})


def _youtube_usage(fake: FakeApi, settings: Any) -> dict[str, tuple[int, int]]:
    from sandbox.youtube import MAX_IDS, YouTubeSandbox
    from sandbox.youtube_data import HANDLE

    assert isinstance(fake, YouTubeSandbox)
    floor = 1 + 2 * -(-len(fake.data.videos) // MAX_IDS)  # channel, playlist pages and videos of 50
    return {f"youtube/@{HANDLE}": (len(fake.requests), floor)}


def _x(as_of: dt.date, token: str, port: int) -> FakeApi:
    from sandbox.x import XSandbox

    return XSandbox(as_of=as_of, token=token, port=port)


def _x_config(fake: FakeApi) -> DemoChannels:
    from sandbox.x import XSandbox
    from sandbox.x_data import USERNAME

    assert isinstance(fake, XSandbox)
    toml = platform_toml("x", base_url=fake.base_url, token_env=X_TOKEN_ENV)
    toml += channel_toml("x", USERNAME, fake.data.user_id)
    return DemoChannels(toml, {X_TOKEN_ENV: fake.token})


def _x_usage(fake: FakeApi, settings: Any) -> dict[str, tuple[int, int]]:
    from sandbox.x import XSandbox
    from sandbox.x_data import USERNAME

    assert isinstance(fake, XSandbox)
    floor = 1 + -(-len(fake.data.reachable()) // 100)  # user, then timeline pages of 100
    return {f"x/@{USERNAME}": (len(fake.requests), floor)}


SANDBOXES: list[HubEntry] = [
    HubEntry("instagram", _instagram, _instagram_config, _instagram_usage),
    HubEntry("facebook", _facebook, _facebook_config, _facebook_usage),
    HubEntry("tiktok", _tiktok, _tiktok_config, _tiktok_usage),
    HubEntry("website", _website, _website_config, _website_usage),
    HubEntry("manual", _manual, _manual_config),
    HubEntry("youtube", _youtube, _youtube_config, _youtube_usage),
    HubEntry("x", _x, _x_config, _x_usage),
]


def entry(platform: str) -> HubEntry:
    """The hub entry of one platform."""
    for item in SANDBOXES:
        if item.platform == platform:
            return item
    raise KeyError(f"no sandbox for platform {platform!r}")


def start_all(as_of: dt.date, port: int = 0,
              platforms: Sequence[str] | None = None) -> dict[str, FakeApi]:
    """Start the sandboxes (all, or those named), the n-th on ``port + n`` unless ``port`` is 0."""
    started: dict[str, FakeApi] = {}
    chosen = [item for item in SANDBOXES if platforms is None or item.platform in platforms]
    try:
        for number, item in enumerate(chosen):
            fake = item.make(as_of, token_for(item.platform), port + number if port else 0)
            started[item.platform] = fake.start()
    except BaseException:
        stop_all(started)
        raise
    return started


def stop_all(fakes: dict[str, FakeApi]) -> None:
    """Stop sandboxes started by ``start_all``."""
    for fake in fakes.values():
        fake.stop()


@contextmanager
def serving(as_of: dt.date, port: int = 0,
            platforms: Sequence[str] | None = None) -> Iterator[dict[str, FakeApi]]:
    """``start_all`` as a context manager that stops every sandbox on exit."""
    fakes = start_all(as_of, port, platforms)
    try:
        yield fakes
    finally:
        stop_all(fakes)


def base_urls(fakes: dict[str, FakeApi]) -> dict[str, str]:
    """Each started sandbox's base URL as its ``[platforms.<name>]`` or channel names it."""
    urls = {}
    for platform, fake in fakes.items():
        urls[platform] = f"{fake.base_url}/youtube" if platform == "youtube" else fake.base_url
    return urls


def demo_channels(fakes: dict[str, FakeApi]) -> DemoChannels:
    """The config text and environment for every started sandbox, in hub order."""
    toml, env = "", {}
    for item in SANDBOXES:
        if item.platform in fakes:
            part = item.config(fakes[item.platform])
            toml += part.toml
            env.update(part.env)
    return DemoChannels(toml, env)


def request_usage(fakes: dict[str, FakeApi], settings: Any) -> dict[str, tuple[int, int]]:
    """Requests made and the API minimum per channel, for platforms whose entry reports them."""
    usage: dict[str, tuple[int, int]] = {}
    for item in SANDBOXES:
        if item.usage is not None and item.platform in fakes:
            usage.update(item.usage(fakes[item.platform], settings.platform(item.platform)))
    return usage
