"""The stages of one channel's run as plain functions: plan, fetch, transform, validate, load.

Flows in ``flows/`` wrap these as Prefect tasks; tests call them directly. Each stage reads
the output of the one before it from disk (raw zone -> Parquet -> warehouse), so any stage
can be re-run from what the previous one left.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from connectors.base import ConnectorContext, RawResponse
from connectors.errors import ConnectorError
from connectors.http import RetryPolicy
from socmed.config import ChannelSettings, Settings, TokenSource, resolve_token
from socmed.incremental import (
    SyncPoint,
    Window,
    backfill_window,
    incremental_window,
    platform_day_end,
    platform_day_ended,
)
from socmed.platforms import get_platform, secret_fields
from socmed.rawzone import RawWriter, StoredResponse, read_run
from transforms.common import ChannelRef, TransformResult
from transforms.parquet import write_tables
from validation.validate import ValidationResult, check_threshold, validate_batch
from warehouse.engine import make_engine
from warehouse.load import AuditInfo, LoadResult, SyncUpdate, get_sync_state, load_batch
from warehouse.migrate import upgrade

MEDIA_STREAM = "media"
INSIGHTS_STREAM = "account_insights"  # watermark: the end of the last platform day loaded


def new_run_id(now: dt.datetime) -> str:
    """A sortable, unique run id such as 20261127T071502Z-3f9a2c."""
    return f"{now.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


@functools.cache
def warehouse(url: str) -> Engine:
    """One engine per warehouse URL per process, migrated to the latest schema."""
    upgrade(url)
    return make_engine(url)


def channel_ref(channel: ChannelSettings) -> ChannelRef:
    """What a transform needs to know about a channel."""
    return ChannelRef(channel.platform, channel.account_id, channel.handle, channel.timezone)


def plan(
    settings: Settings,
    channel: ChannelSettings,
    engine: Engine,
    now: dt.datetime,
    since: dt.date | None = None,
    until: dt.date | None = None,
    streams: tuple[str, ...] = (),
) -> tuple[Window, dt.datetime | None]:
    """The window this run fetches (a backfill if dates are given), and the stored watermark.

    ``streams`` limits the run to those streams; such a run is never a full refresh.
    """
    state = get_sync_state(engine, channel.platform, channel.account_id, MEDIA_STREAM)
    watermark = state.watermark if state else None
    if since is not None:
        window = backfill_window(now, channel.timezone, since, until)
    else:
        loaded = get_sync_state(engine, channel.platform, channel.account_id, INSIGHTS_STREAM)
        plat = settings.platform(channel.platform)
        window = incremental_window(
            now,
            SyncPoint(watermark, state.last_full_refresh_at) if state else None,
            lookback_days=plat.lookback_days,
            full_refresh_days=plat.full_refresh_days,
            insights_days=plat.insights_days,
            insights_after=platform_day_ended(loaded.watermark) if loaded and loaded.watermark else None,
        )
    if streams:
        window = replace(window, streams=tuple(streams), full_refresh=False)
    return window, watermark


@dataclass(frozen=True)
class FetchOutcome:
    """What a fetch landed, and the error that stopped it, if any."""

    run_dir: Path
    responses: int
    requests: int
    problems: list[str]
    error: str | None
    window: Window
    quota_units: int | None = None  # units spent, where the platform counts a daily quota (YouTube)
    quota_budget: int | None = None  # the platform's daily quota, from quota_units_per_day


def connector_context(
    settings: Settings,
    channel: ChannelSettings,
    sink: Callable[[RawResponse], None],
) -> ConnectorContext:
    """Resolve the channel's settings and secrets into what its connector factory needs."""
    plat = settings.platform(channel.platform)
    where = f"{settings.source}: channel {channel.key}"
    source = settings.token_source(channel)
    token = None
    if source.token_env or source.token_block:
        token = resolve_token(source, where).get_secret_value()
    extra = {}
    for name in secret_fields(channel.platform):
        env = getattr(plat, name)
        if env:
            extra[name] = resolve_token(TokenSource(token_env=env), where).get_secret_value()
    return ConnectorContext(
        account_id=channel.account_id,
        handle=channel.handle,
        base_url=channel.base_url or plat.base_url or "",
        api_version=plat.api_version,
        token=token,
        token_label=source.describe(),
        sink=sink,
        policy=RetryPolicy(max_attempts=plat.max_attempts, max_wait=plat.max_wait_seconds),
        timeout=plat.timeout_seconds,
        settings=plat,
        channel=channel,
        secrets=extra,
        state_dir=settings.pipeline.data_dir / "state" / channel.platform / channel.account_id,
    )


def fetch(
    settings: Settings, channel: ChannelSettings, run_id: str, window: Window, now: dt.datetime
) -> FetchOutcome:
    """Fetch one channel's window, landing every response in the raw zone."""
    writer = RawWriter(
        settings.pipeline.data_dir,
        channel.platform,
        channel.account_id,
        run_id,
        now.astimezone(dt.UTC).date(),
    )
    platform = get_platform(channel.platform)
    connector = platform.open_connector(connector_context(settings, channel, writer.land))
    error = None
    try:
        for _ in connector.fetch_all(platform.make_window(window)):
            pass
    except ConnectorError as exc:
        error = f"{type(exc).__name__}: {exc}"
    finally:
        connector.close()
    return FetchOutcome(
        writer.run_dir, len(writer.files), connector.request_count, list(connector.problems), error, window,
        getattr(connector, "quota_units", None), getattr(connector, "quota_budget", None),
    )


@dataclass
class ProcessOutcome:
    """What transform, validation and load made of one raw run."""

    run_id: str
    rows_in: dict[str, int] = field(default_factory=dict)
    loaded: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    parquet_files: list[Path] = field(default_factory=list)
    quarantine_files: list[Path] = field(default_factory=list)
    load_id: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per stage (reprocess batches)


def read_raw(data_dir: Path, run_dir: Path) -> list[StoredResponse]:
    """All responses of one raw run, in arrival order."""
    return list(read_run(data_dir, run_dir))


def transform(
    settings: Settings, channel: ChannelSettings, responses: list[StoredResponse], run_id: str
) -> tuple[TransformResult, list[Path]]:
    """Raw responses -> common-schema frames, written as Parquet."""
    result = get_platform(channel.platform).transform(responses, channel_ref(channel))
    files = write_tables(settings.pipeline.data_dir, result.frames, run_id)
    return result, files


def validate(
    settings: Settings, frames: dict[str, pl.DataFrame], run_id: str, now: dt.datetime
) -> tuple[dict[str, ValidationResult], list[Path]]:
    """Great Expectations suites per table; failing rows are written to quarantine."""
    results = validate_batch(frames, now)
    quarantine = {t: r.quarantined for t, r in results.items() if r.quarantined.height}
    files = write_tables(settings.pipeline.data_dir, quarantine, run_id, zone="quarantine")
    return results, files


def quarantine_reasons(results: dict[str, ValidationResult]) -> dict[str, int]:
    """Failed expectation -> rows, over all tables ('table: expectation')."""
    reasons: Counter[str] = Counter()
    for table, result in results.items():
        for label, count in result.failures.items():
            reasons[f"{table}: {label}"] += count
    return dict(reasons)


def enforce_threshold(settings: Settings, results: dict[str, ValidationResult]) -> None:
    """Fail the run when the quarantined share is above the configured threshold."""
    check_threshold(results, settings.pipeline.max_failure_share)


def sync_updates(
    channel: ChannelSettings,
    frames: dict[str, pl.DataFrame],
    fetch_out: FetchOutcome,
    previous: dt.datetime | None,
    now: dt.datetime,
) -> list[SyncUpdate]:
    """Advance the media watermark to the newest post loaded; mark a complete full refresh.

    A run limited to some streams leaves the media state alone; the insights watermark moves
    to the end of the newest platform day with account-level views or reach.
    """
    insights = _insights_update(channel, frames.get("channel_metrics_daily"))
    if fetch_out.window.streams:
        return insights
    content = frames.get("content")
    newest = content["published_at"].max() if content is not None and content.height else None
    marks = [m for m in (previous, newest) if isinstance(m, dt.datetime)]
    watermark = max(marks) if marks else None
    complete = fetch_out.error is None and not fetch_out.problems
    full_at = now if (fetch_out.window.full_refresh and complete) else None
    return [SyncUpdate(channel.platform, channel.account_id, MEDIA_STREAM, watermark, full_at), *insights]


def _insights_update(channel: ChannelSettings, daily: pl.DataFrame | None) -> list[SyncUpdate]:
    """The insights watermark update, if the run has account-level insights."""
    if daily is None or not {"views", "reach"} <= set(daily.columns):
        return []
    days = daily.filter(pl.col("views").is_not_null() | pl.col("reach").is_not_null())["snapshot_date"]
    newest = days.max() if days.len() else None
    if not isinstance(newest, dt.date):
        return []
    end = platform_day_end(newest)
    return [SyncUpdate(channel.platform, channel.account_id, INSIGHTS_STREAM, end, None)]


def load(
    engine: Engine, results: dict[str, ValidationResult], audit: AuditInfo, sync: list[SyncUpdate]
) -> LoadResult:
    """Upsert the good rows, the audit row and the sync state in one transaction."""
    good = {table: result.good for table, result in results.items()}
    return load_batch(engine, good, audit, sync)
