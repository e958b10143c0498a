"""Settings, read once at the edge from one TOML file and validated into typed objects.

Secrets never come from the file: a channel names the environment variable
(``token_env``) or the Prefect Secret block (``token_block``) that holds its token, and
:func:`resolve_token` reads it when the fetch starts. Every error names the file and key.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
import zoneinfo
from pathlib import Path
from typing import Annotated, Any, cast
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from socmed.platforms import needs_token, platform_defaults, platform_names

DEFAULT_TIMEZONE = "Asia/Jakarta"


class ConfigError(ValueError):
    """A configuration problem, naming the file and the key."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {value!r}")
    if parts.password:
        raise ValueError("must not contain a password; put secrets in environment variables")
    return value.rstrip("/")


def _check_timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name like Asia/Jakarta)") from None
    return value


class TokenSource(_Model):
    """Where a token lives: an environment variable or a Prefect Secret block."""

    token_env: str | None = None
    token_block: str | None = None

    def describe(self) -> str:
        """Human-readable location of the token, never its value."""
        if self.token_block:
            return f"Prefect Secret block {self.token_block!r}"
        return f"environment variable {self.token_env}"


class PlatformSettings(TokenSource):
    """Per-platform settings: API location, credentials' sources, incremental windows, limits.

    ``base_url`` and ``api_version`` default per platform (``socmed.platforms``). Only the
    names of environment variables or Prefect blocks appear here, never secret values.
    """

    base_url: str | None = None
    api_version: str | None = None
    client_key_env: str | None = None  # OAuth apps (TikTok): client key / id
    client_secret_env: str | None = None  # OAuth apps: client secret, or Meta app secret
    refresh_token_env: str | None = None  # OAuth refresh token, where the platform rotates tokens
    token_file: Path | None = None  # where rotated tokens are kept (outside the raw zone)
    api_key_env: str | None = None  # API-key platforms (YouTube Data API)
    quota_units_per_day: int = Field(10_000, ge=1)  # YouTube's daily quota
    timeout_seconds: float = Field(30.0, gt=0)
    page_size: int = Field(100, ge=1, le=100)
    lookback_days: int = Field(7, ge=0, description="posts this recent are re-read every run")
    full_refresh_days: int = Field(7, ge=1, description="older posts are re-read this often")
    insights_days: int = Field(2, ge=1, le=30, description="account-insight days fetched per run")
    max_attempts: int = Field(5, ge=1, le=10)
    max_wait_seconds: float = Field(900.0, ge=0)
    # Prefect global concurrency limit socmed-fetch-<platform>, shared by every worker
    max_concurrent_fetches: int = Field(2, ge=1, le=100)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value)

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9._/-]+", value):
            raise ValueError(f"API version must look like v24.0 or v2, got {value!r}")
        return value


class ChannelSettings(TokenSource):
    """One account to ingest."""

    platform: str
    handle: str = Field(min_length=1)
    account_id: str = Field(min_length=1, pattern=r"^[0-9A-Za-z_.:-]+$")
    timezone: str = DEFAULT_TIMEZONE
    enabled: bool = True
    base_url: str | None = None  # per-channel API root (a news website's own URL)
    feed_url: str | None = None  # RSS/Atom fallback for websites without the WordPress API
    watch_dir: Path | None = None  # manual imports: the folder CSV files are dropped into

    @field_validator("base_url", "feed_url")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return _check_timezone(value)

    @field_validator("platform")
    @classmethod
    def _platform(cls, value: str) -> str:
        names = platform_names()
        if value not in names:
            raise ValueError(f"unknown platform {value!r} (supported: {', '.join(names)})")
        return value

    @field_validator("handle")
    @classmethod
    def _handle(cls, value: str) -> str:
        return value.removeprefix("@")

    @property
    def key(self) -> str:
        """Stable name of the channel, e.g. instagram/@tangerangkota."""
        return f"{self.platform}/@{self.handle}"


class WarehouseSettings(_Model):
    """Where loads land; the URL may also come from SOCMED_WAREHOUSE_URL."""

    url: str | None = None
    url_env: str = "SOCMED_WAREHOUSE_URL"


class PipelineSettings(_Model):
    """Run-wide settings."""

    data_dir: Path = Path("data")
    max_failure_share: float = Field(0.05, ge=0, le=1)


class CampaignSettings(_Model):
    """A public campaign: content matching its hashtags or keywords within its dates."""

    name: str = Field(min_length=1)
    hashtags: list[str] = []
    keywords: list[str] = []
    start: dt.date
    end: dt.date | None = None
    channels: list[str] | None = None  # channel keys like instagram/@tangerangkota; None = all

    @field_validator("hashtags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return [tag.strip().removeprefix("#").lower() for tag in value if tag.strip()]

    @model_validator(mode="after")
    def _span(self) -> CampaignSettings:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        if not (self.hashtags or self.keywords):
            raise ValueError("a campaign needs hashtags or keywords to match content")
        return self


class WebhookSettings(_Model):
    """The Meta webhook receiver: where it listens and which variables hold its two secrets."""

    app_secret_env: str = "SOCMED_META_APP_SECRET"
    verify_token_env: str = "SOCMED_META_VERIFY_TOKEN"
    host: str = "127.0.0.1"
    port: int = Field(8780, ge=1, le=65535)
    path: str = Field("/webhooks/meta", pattern=r"^/[A-Za-z0-9/_-]*$")
    max_body_bytes: int = Field(1_048_576, ge=1024)


class NotificationSettings(_Model):
    """Where automations notify: a webhook URL from an environment variable, else a log line."""

    url_env: str = "SOCMED_NOTIFY_URL"
    block_name: str = "socmed-notify"


class HousekeepingSettings(_Model):
    """Retention: Prefect flow runs always; raw files only when raw_retention_days is set."""

    flow_run_retention_days: int = Field(30, ge=1)
    raw_retention_days: int | None = Field(None, ge=1)
    token_warn_days: int = Field(10, ge=1, description="event this many days before a token expires")


class Settings(_Model):
    """The whole configuration file."""

    pipeline: PipelineSettings = PipelineSettings()
    warehouse: WarehouseSettings = WarehouseSettings()
    platforms: dict[Annotated[str, Field()], PlatformSettings] = {}
    channels: list[ChannelSettings] = Field(min_length=1)
    campaigns: list[CampaignSettings] = []
    webhooks: WebhookSettings = WebhookSettings()
    notifications: NotificationSettings = NotificationSettings()
    housekeeping: HousekeepingSettings = HousekeepingSettings()
    source: Path = Path("socmed.toml")

    def platform(self, name: str) -> PlatformSettings:
        """Settings of one platform, with the platform's default base URL and API version."""
        own = self.platforms.get(name, PlatformSettings())
        defaults = platform_defaults(name)
        return own.model_copy(update={
            "base_url": own.base_url or defaults.get("base_url"),
            "api_version": own.api_version or defaults.get("api_version"),
        })

    def token_source(self, channel: ChannelSettings) -> TokenSource:
        """The channel's own token source, else its platform's."""
        if channel.token_env or channel.token_block:
            return TokenSource(token_env=channel.token_env, token_block=channel.token_block)
        plat = self.platform(channel.platform)
        return TokenSource(token_env=plat.token_env, token_block=plat.token_block)

    def warehouse_url(self) -> str:
        """The warehouse URL: environment, then file, then the embedded default."""
        from socmed.paths import default_warehouse_url

        return (
            os.environ.get(self.warehouse.url_env)
            or self.warehouse.url
            or default_warehouse_url(self.pipeline.data_dir)
        )


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_settings(data: dict[str, Any], source: Path) -> Settings:
    """Validate parsed TOML; relative data_dir and watch_dir are resolved against the file's folder."""
    unknown = sorted(set(data.get("platforms", {})) - set(platform_names()))
    if unknown:
        raise ConfigError(
            f"{source}: platforms.{unknown[0]}: unknown platform "
            f"(supported: {', '.join(platform_names())})"
        )
    try:
        settings = Settings.model_validate({**data, "source": source})
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{source}: {_loc(first['loc'])}: {message}") from None
    data_dir = settings.pipeline.data_dir
    if not data_dir.is_absolute():
        data_dir = (source.parent / data_dir).resolve()
    pipeline = settings.pipeline.model_copy(update={"data_dir": data_dir})
    _check_channels(settings, source)
    channels = [  # a relative watch_dir (manual imports) is relative to the file, like data_dir
        c.model_copy(update={"watch_dir": (source.parent / c.watch_dir.expanduser()).resolve()})
        if c.watch_dir is not None else c
        for c in settings.channels
    ]
    return settings.model_copy(update={"pipeline": pipeline, "channels": channels})


def _check_channels(settings: Settings, source: Path) -> None:
    seen: set[str] = set()
    for i, channel in enumerate(settings.channels):
        if channel.key in seen:
            raise ConfigError(f"{source}: channels[{i}].handle: duplicate channel {channel.key}")
        seen.add(channel.key)
        tokens = settings.token_source(channel)
        if needs_token(channel.platform) and not (tokens.token_env or tokens.token_block):
            raise ConfigError(
                f"{source}: channels[{i}].token_env: no token source for "
                f"{channel.key}; set token_env or token_block on the channel "
                f"or under [platforms.{channel.platform}]"
            )


def load_settings(path: str | Path) -> Settings:
    """Read and validate a configuration file."""
    source = Path(path)
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{source}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    return parse_settings(data, source)


def resolve_token(source: TokenSource, where: str) -> SecretStr:
    """Read a token from its environment variable or Prefect Secret block."""
    if source.token_block:
        from prefect.blocks.system import Secret

        try:
            block = cast(Secret, Secret.load(source.token_block))
            return SecretStr(str(block.get()))
        except ValueError as exc:
            raise ConfigError(
                f"{where}: token_block: Prefect Secret block "
                f"{source.token_block!r} could not be loaded: {exc}"
            ) from None
    value = os.environ.get(source.token_env or "")
    if not value:
        raise ConfigError(
            f"{where}: token_env: environment variable {source.token_env} "
            "is not set (export it with the access token; tokens never go in the file)"
        )
    return SecretStr(value)


def parse_date(value: str | None, option: str) -> dt.date | None:
    """Parse a YYYY-MM-DD command-line date, naming the option on error."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{option}: bad date {value!r} (expected YYYY-MM-DD)") from None
