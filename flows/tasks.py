"""The pipeline's stages as Prefect tasks, and the processing sequence shared by the flows.

Tasks carry no cache (inputs are frames and settings; every run must really run) and only
the load retries, and only on transient database errors: HTTP retries live in the
connector layer and must not stack with task retries.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, cast

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote
from sqlalchemy.exc import OperationalError

from flows.events import announce_load, announce_validation
from socmed import batches, pipeline
from socmed.automations import fetch_slot
from socmed.batches import Batch, PreparedBatch
from socmed.config import ChannelSettings, Settings
from socmed.incremental import Window
from socmed.pipeline import FetchOutcome, ProcessOutcome
from validation.validate import ValidationResult, ValidationThresholdExceeded
from warehouse.campaigns import refresh_campaigns
from warehouse.load import AuditInfo, LoadResult, SyncUpdate, record_failed_load


def untraversed(settings: Settings) -> Settings:
    """The settings as a task argument Prefect hands over without walking it.

    Prefect visits every task argument, field by field, looking for futures to wait on: the
    settings of a national agency's 400 channels took 10 to 30 ms a task call, several calls a
    channel or batch. ``quote`` tells it there is none; the task still receives the settings.
    """
    return cast(Settings, quote(settings))


def _transient_db_error(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a load only when the database connection itself failed."""
    try:
        state.result()
    except OperationalError:
        return True
    except Exception:
        return False
    return False


@task(name="plan", cache_policy=NO_CACHE)
def plan_task(
    settings: Settings,
    channel: ChannelSettings,
    now: dt.datetime,
    since: dt.date | None,
    until: dt.date | None,
    streams: tuple[str, ...] = (),
) -> tuple[Window, dt.datetime | None]:
    """Decide the window from the sync state (or the backfill dates), limited to ``streams``."""
    engine = pipeline.warehouse(settings.warehouse_url())
    return pipeline.plan(settings, channel, engine, now, since, until, streams)


@task(name="fetch", cache_policy=NO_CACHE)
def fetch_task(
    settings: Settings, channel: ChannelSettings, run_id: str, window: Window, now: dt.datetime
) -> FetchOutcome:
    """Fetch from the API into the raw zone, holding a slot of the platform's concurrency limit."""
    with fetch_slot(channel.platform):
        return pipeline.fetch(settings, channel, run_id, window, now)


@task(name="transform", cache_policy=NO_CACHE)
def transform_task(
    settings: Settings, channel: ChannelSettings, run_dir: Path, run_id: str
) -> tuple[dict[str, pl.DataFrame], list[str], list[Path], list[str]]:
    """Raw zone -> frames -> Parquet."""
    responses = pipeline.read_raw(settings.pipeline.data_dir, run_dir)
    result, files = pipeline.transform(settings, channel, responses, run_id)
    return result.frames, result.problems, files, [r.raw_file for r in responses]


@task(name="validate", cache_policy=NO_CACHE)
def validate_task(
    settings: Settings, frames: dict[str, pl.DataFrame], run_id: str, now: dt.datetime
) -> tuple[dict[str, ValidationResult], list[Path]]:
    """Great Expectations suites; failing rows to quarantine."""
    return pipeline.validate(settings, frames, run_id, now)


@task(
    name="load",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=[1, 5],
    retry_condition_fn=_transient_db_error,
)
def load_task(
    url: str, results: dict[str, ValidationResult], audit: AuditInfo, sync: list[SyncUpdate]
) -> LoadResult:
    """Upsert into the warehouse in one transaction."""
    return pipeline.load(pipeline.warehouse(url), results, audit, sync)


@task(name="prepare-batch", cache_policy=NO_CACHE)
def prepare_batch_task(settings: Settings, batch: Batch, flow_run_id: str | None) -> PreparedBatch:
    """Raw zone -> frames -> Parquet for each run of a reprocessing batch; one validation."""
    return batches.prepare_batch(settings, batch, flow_run_id)


@task(
    name="load-batch",
    cache_policy=NO_CACHE,
    retries=2,
    retry_delay_seconds=[1, 5],
    retry_condition_fn=_transient_db_error,
)
def load_batch_task(url: str, prepared: PreparedBatch) -> PreparedBatch:
    """Upsert a reprocessing batch in one transaction, one audit row per run."""
    batches.load_prepared(pipeline.warehouse(url), prepared)
    return prepared


def process_run(
    settings: Settings,
    channel: ChannelSettings,
    run_dir: Path,
    run_id: str,
    now: dt.datetime,
    flow_run_id: str | None,
    fetched: FetchOutcome | None = None,
    previous_watermark: dt.datetime | None = None,
) -> ProcessOutcome:
    """Transform, validate and load one raw run; sync state moves only after a fetch."""
    frames, problems, parquet, raw_files = transform_task(untraversed(settings), channel, run_dir, run_id)
    results, quarantine = validate_task(untraversed(settings), frames, run_id, now)
    announce_validation(channel, run_id, results, settings.pipeline.max_failure_share)
    out = ProcessOutcome(run_id, problems=problems, parquet_files=parquet, quarantine_files=quarantine)
    out.rows_in = {t: r.rows_in for t, r in results.items()}
    out.quarantined = {t: r.quarantined.height for t, r in results.items()}
    out.reasons = pipeline.quarantine_reasons(results)
    audit = AuditInfo(
        run_id=run_id,
        flow_run_id=flow_run_id,
        platform=channel.platform,
        channel_id=channel.account_id,
        raw_files=raw_files,
        started_at=now,
        rows_quarantined=sum(out.quarantined.values()),
        quarantine_reasons=out.reasons,
    )
    url = settings.warehouse_url()
    try:
        pipeline.enforce_threshold(settings, results)
    except ValidationThresholdExceeded as exc:
        out.load_id = record_failed_load(pipeline.warehouse(url), audit, str(exc))
        raise
    sync = (
        pipeline.sync_updates(channel, frames, fetched, previous_watermark, now)
        if fetched is not None
        else []
    )
    loaded = load_task(url, results, audit, sync)
    announce_load(channel, run_id, loaded)
    out.load_id = loaded.load_id
    out.loaded = {t: c.get("loaded", 0) for t, c in loaded.table_counts.items()}
    out.changed = {t: c.get("inserted", 0) + c.get("updated", 0) for t, c in loaded.table_counts.items()}
    return out


@task(name="campaigns", cache_policy=NO_CACHE)
def campaigns_task(settings: Settings) -> dict[str, int]:
    """Upsert the configured campaigns and recompute their content (matches per campaign)."""
    return refresh_campaigns(pipeline.warehouse(settings.warehouse_url()), list(settings.campaigns))
