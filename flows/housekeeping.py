"""Scheduled upkeep: pruning old Prefect runs and (opt-in) raw files, and token health.

``housekeeping`` deletes the socmed flow runs (flows named ``socmed-*``) that ended more
than ``[housekeeping] flow_run_retention_days`` ago; the Prefect server deletes their logs
with them. Events are pruned by the server itself (``PREFECT_SERVER_EVENTS_RETENTION_PERIOD``,
7 days by default); no API deletes them. Raw files are pruned only when the user sets
``raw_retention_days`` (off by default: the raw zone is what rebuilds everything), and
only runs that have a succeeded load.

``token_health`` checks every channel's token where the platform says when it expires and
emits ``socmed.token.expiring`` / ``socmed.token.expired``; the results feed `socmed status`.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from flows.events import channel_of, emit, token_health
from socmed import pipeline
from socmed.config import ConfigError, Settings, load_settings
from socmed.rawzone import list_runs
from socmed.status import TokenInfo, check_token, succeeded_load, write_token_health

PAGE = 200


def old_flow_runs(cutoff: dt.datetime, prefix: str = "socmed-") -> list[str]:
    """Ids of finished runs of the flows named ``prefix*`` that ended before ``cutoff``."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterId,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterEndTime,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    finished = [StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED, StateType.CRASHED]
    run_filter = FlowRunFilter(
        end_time=FlowRunFilterEndTime(before_=cutoff), state={"type": FlowRunFilterStateType(any_=finished)}
    )
    found: list[str] = []
    with get_client(sync_client=True) as client:
        flows = client.read_flows(flow_filter=FlowFilter(name=FlowFilterName(like_=prefix)))
        ours = [flow.id for flow in flows if flow.name.startswith(prefix)]  # like_ means "contains"
        if not ours:
            return []
        while True:
            page = client.read_flow_runs(
                flow_filter=FlowFilter(id=FlowFilterId(any_=ours)),
                flow_run_filter=run_filter,
                limit=PAGE,
                offset=len(found),
            )
            found += [str(run.id) for run in page]
            if len(page) < PAGE:
                return found


@task(name="prune-flow-runs", cache_policy=NO_CACHE)
def prune_flow_runs(cutoff: dt.datetime, dry_run: bool, prefix: str = "socmed-") -> int:
    """Delete the old runs (and so their logs); how many."""
    from uuid import UUID

    from prefect.client.orchestration import get_client

    ids = old_flow_runs(cutoff, prefix)
    if not dry_run:
        with get_client(sync_client=True) as client:
            for run_id in ids:
                client.delete_flow_run(UUID(run_id))
    return len(ids)


def prune_raw(settings: Settings, before: dt.date, dry_run: bool) -> tuple[int, int]:
    """Delete raw runs fetched before ``before`` that were loaded: (runs removed, runs kept unloaded)."""
    engine = pipeline.warehouse(settings.warehouse_url())
    removed = kept = 0
    for run_dir in list_runs(settings.pipeline.data_dir, until=before - dt.timedelta(days=1)):
        if succeeded_load(engine, run_dir.name.removeprefix("run=")) is None:
            kept += 1
            continue
        removed += 1
        if not dry_run:
            shutil.rmtree(run_dir)
            _remove_empty(run_dir.parent, settings.pipeline.data_dir / "raw")
    return removed, kept


def _remove_empty(folder: Path, root: Path) -> None:
    """Remove now-empty partition folders up to the raw root."""
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


@task(name="prune-raw", cache_policy=NO_CACHE)
def prune_raw_task(settings: Settings, before: dt.date, dry_run: bool) -> tuple[int, int]:
    """The raw pruning as a task."""
    return prune_raw(settings, before, dry_run)


@flow(name="socmed-housekeeping", log_prints=False)
def housekeeping(config_path: str = "socmed.toml", dry_run: bool = False) -> dict[str, int]:
    """Prune old socmed flow runs (with their logs) and, only if a retention is set, old raw runs."""
    settings = load_settings(config_path)
    keep = settings.housekeeping
    now = dt.datetime.now(dt.UTC)
    done = {"flow_runs": prune_flow_runs(now - dt.timedelta(days=keep.flow_run_retention_days), dry_run)}
    if keep.raw_retention_days is not None:
        before = now.date() - dt.timedelta(days=keep.raw_retention_days)
        done["raw_runs"], done["raw_runs_kept_unloaded"] = prune_raw_task(settings, before, dry_run)
    verb = "would delete" if dry_run else "deleted"
    lines = [
        f"# Housekeeping: {verb}",
        "",
        *[f"- {k}: {v}" for k, v in done.items()],
        "",
        "Events are pruned by the Prefect server (PREFECT_SERVER_EVENTS_RETENTION_PERIOD).",
    ]
    if keep.raw_retention_days is None:
        lines.append("Raw files are kept: no [housekeeping] raw_retention_days is set.")
    create_markdown_artifact("\n".join(lines), key="socmed-housekeeping")
    get_run_logger().info("housekeeping %s %s", verb, done)
    return done


@flow(name="socmed-token-health", log_prints=False)
def token_health_check(config_path: str = "socmed.toml") -> dict[str, str]:
    """Check the channels' tokens; emit an event for each that expires soon or has expired."""
    settings = load_settings(config_path)
    now = dt.datetime.now(dt.UTC)
    logger = get_run_logger()
    checks: dict[str, TokenInfo] = {}
    for channel in (c for c in settings.channels if c.enabled):
        try:
            info = check_token(settings, channel, now)
        except Exception as exc:  # one channel's check never stops the others
            reason = str(exc) if isinstance(exc, ConfigError) else type(exc).__name__  # no URLs: tokens
            logger.warning("%s: token check failed: %s", channel.key, reason)
            continue
        if info is None:
            continue
        checks[channel.key] = info
        if info.status in ("expiring", "expired"):
            expires = dt.datetime.fromisoformat(info.expires_at) if info.expires_at else None
            emit(token_health(channel_of(channel), expires, now, info.source, info.detail))
        logger.info("%s: token %s (expires %s)", channel.key, info.status, info.expires_at or "never")
    write_token_health(settings.pipeline.data_dir, checks)
    return {key: info.status for key, info in checks.items()}
