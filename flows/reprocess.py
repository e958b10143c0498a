"""Reprocessing: rebuild Parquet and the warehouse from the raw landing zone, no API call.

Raw runs are replayed oldest first, each under its original run id, so provenance still
points at the fetch that produced the data and the newest observation wins. They stream in
bounded batches (``socmed.batches``): one task per batch, never one per run or record, and
never a whole run or raw zone in memory. Sync state is left alone: only a fetch moves it.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from prefect import flow, get_run_logger
from prefect.context import SyncClientContext
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.utilities.annotations import quote

from flows.tasks import campaigns_task, load_batch_task, prepare_batch_task, untraversed
from socmed.batches import DEFAULT_BATCH_BYTES, Batch, PreparedBatch, channel_for, plan_batches
from socmed.config import Settings, load_settings, parse_date
from socmed.heap import long_lived_frozen
from socmed.rawzone import list_runs
from socmed.summary import ChannelReport, summary_table
from validation.validate import ValidationThresholdExceeded

MIB = 1024 * 1024


def _reprocess_run_name() -> str:
    params = flow_run.parameters
    span = f"{params.get('since') or 'start'}..{params.get('until') or 'today'}"
    return f"reprocess/{params.get('platform') or 'all-platforms'}/{span}"


def _loaded(settings: Settings, batch: Batch, future: PrefectFuture[PreparedBatch]) -> list[ChannelReport]:
    """The reports of a batch once its load finished (or failed)."""
    try:
        prepared = future.result()
    except Exception as exc:
        return _batch_reports(settings, batch, None, f"{type(exc).__name__}: {exc}")
    return _batch_reports(settings, batch, prepared, None)


def _batch_reports(
    settings: Settings, batch: Batch, prepared: PreparedBatch | None, error: str | None
) -> list[ChannelReport]:
    """One report per slice: its outcome, or the error that stopped its batch or its load."""
    reports = []
    for index, piece in enumerate(batch.slices):
        meta = piece.metas[0]
        channel = channel_for(settings, str(meta["platform"]), str(meta["account"]))
        report = ChannelReport(channel.key, piece.run_id, "succeeded")
        if prepared is not None:
            report.process = prepared.outcomes[index]
            if prepared.errors[index] is not None:
                report.errors.append(f"{ValidationThresholdExceeded.__name__}: {prepared.errors[index]}")
        if error is not None:
            report.errors.append(error)
        report.status = "failed" if report.errors else "succeeded"
        reports.append(report)
    return reports


def stage_seconds(reports: list[ChannelReport]) -> dict[str, float]:
    """Seconds per stage over the reports (read, transform, parquet, validate, load)."""
    totals: dict[str, float] = {}
    for report in reports:
        for stage, seconds in (report.process.seconds if report.process else {}).items():
            totals[stage] = totals.get(stage, 0.0) + seconds
    return {stage: round(seconds, 2) for stage, seconds in totals.items()}


def _replay(
    settings: Settings, runs: list[Path], batch_mb: int, flow_run_id: str | None, url: str
) -> list[ChannelReport]:
    """Prepare batch n+1 while batch n loads; every slice's report."""
    reports: list[ChannelReport] = []
    loading: tuple[Batch, PrefectFuture[PreparedBatch]] | None = None
    for batch in plan_batches(runs, batch_mb * MIB):
        try:
            # quote(): Prefect would otherwise walk every response meta of the batch (and every
            # frame and audit of a prepared batch) looking for futures, for each task call.
            prepared = prepare_batch_task(untraversed(settings), cast(Batch, quote(batch)), flow_run_id)
        except Exception as exc:
            reports += _batch_reports(settings, batch, None, f"{type(exc).__name__}: {exc}")
            continue
        if loading is not None:
            reports += _loaded(settings, *loading)
        loading = (batch, load_batch_task.submit(url, cast(PreparedBatch, quote(prepared))))
    if loading is not None:
        reports += _loaded(settings, *loading)
    return reports


# An async flow, though its work is synchronous: Prefect's sync engine joins its heartbeat
# thread when a flow run ends, which waits out the thread's current one-second sleep (about
# 0.5 s a run, up to 1 s); the async engine lets that thread end on its own.
@flow(name="socmed-reprocess", flow_run_name=_reprocess_run_name, log_prints=False)
async def reprocess(
    config_path: str = "socmed.toml",
    platform: str | None = None,
    since: str | None = None,
    until: str | None = None,
    batch_mb: int = DEFAULT_BATCH_BYTES // MIB,
) -> list[ChannelReport]:
    """Replay raw runs (optionally one platform, fetch dates since/until) into the warehouse.

    Runs stream in batches of about ``batch_mb`` MiB of response bodies: one task prepares a
    batch (transform, Parquet, validation) while the previous batch loads in another. From
    synchronous code: ``asyncio.run(reprocess(...))``.
    """
    settings = load_settings(config_path)
    data_dir = settings.pipeline.data_dir
    runs = list_runs(data_dir, platform, None, parse_date(since, "--since"), parse_date(until, "--until"))
    flow_run_id = str(flow_run.id) if flow_run.id else None
    url = settings.warehouse_url()
    # One API client for every task run of the flow: without it each sync task run (and the
    # load task's worker thread, which sees this context too) opens a client of its own.
    with SyncClientContext.get_or_create(), long_lived_frozen():
        reports = _replay(settings, runs, batch_mb, flow_run_id, url)
    get_run_logger().info("reprocessed %d raw runs\n%s", len(reports), summary_table(reports))
    get_run_logger().info("seconds per stage: %s", stage_seconds(reports))
    get_run_logger().info("campaign content: %s", campaigns_task(settings))
    return reports
