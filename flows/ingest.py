"""Ingestion: one parent flow run per invocation, one subflow run per channel.

A channel's subflow is named ``<platform>/@<handle>/<date>`` and tagged with its platform
and handle; it plans, fetches, transforms, validates and loads, then publishes a markdown
artifact. One failing channel never stops the others: the parent runs every channel, then
fails with the list of channels that failed and why.
"""

from __future__ import annotations

import datetime as dt
import re

from prefect import flow, get_run_logger, tags
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from flows.tasks import fetch_task, plan_task, process_run
from socmed import pipeline
from socmed.config import ChannelSettings, ConfigError, Settings, load_settings, parse_date
from socmed.summary import ChannelReport, channel_markdown, summary_table


class ChannelFailed(RuntimeError):
    """A channel's run ended with an error (after landing and loading what it could)."""


class RunFailed(RuntimeError):
    """At least one channel of an ingestion run failed."""


def _channel_run_name() -> str:
    params = flow_run.parameters
    since, until = params.get("since"), params.get("until")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    span = f"{since}..{until or today}" if since else today
    return f"{params['channel']}/{span}"


def _artifact_key(channel: ChannelSettings) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", f"{channel.platform}-{channel.handle}-run".lower())


def find_channel(settings: Settings, key: str) -> ChannelSettings:
    """The configured channel named like instagram/@tangerangkota."""
    for channel in settings.channels:
        if channel.key == key:
            return channel
    raise ConfigError(
        f"{settings.source}: no channel {key!r} (configured: {', '.join(c.key for c in settings.channels)})"
    )


def _run_channel(
    settings: Settings, channel: ChannelSettings, since: str | None, until: str | None
) -> ChannelReport:
    now = dt.datetime.now(dt.UTC)
    run_id = pipeline.new_run_id(now)
    report = ChannelReport(channel.key, run_id, "failed")
    window, watermark = plan_task(
        settings, channel, now, parse_date(since, "--since"), parse_date(until, "--until")
    )
    report.window = window
    fetched = fetch_task(settings, channel, run_id, window, now)
    report.fetch = fetched
    if fetched.error:
        report.errors.append(fetched.error)
    try:
        report.process = process_run(
            settings,
            channel,
            fetched.run_dir,
            run_id,
            now,
            str(flow_run.id) if flow_run.id else None,
            fetched,
            watermark,
        )
    except Exception as exc:
        report.errors.append(f"{type(exc).__name__}: {exc}")
    report.status = "failed" if report.errors else "succeeded"
    return report


@flow(name="socmed-ingest-channel", flow_run_name=_channel_run_name, log_prints=False)
def ingest_channel(
    config_path: str, channel: str, since: str | None = None, until: str | None = None
) -> ChannelReport:
    """Ingest one channel: plan, fetch, transform, validate, load, report."""
    settings = load_settings(config_path)
    target = find_channel(settings, channel)
    report = _run_channel(settings, target, since, until)
    create_markdown_artifact(
        channel_markdown(report, settings.pipeline.data_dir),
        key=_artifact_key(target),
        description=f"{target.key} run {report.run_id}",
    )
    logger = get_run_logger()
    if report.status == "failed":
        raise ChannelFailed(f"{target.key}: " + "; ".join(report.errors))
    logger.info("%s: loaded %s", target.key, report.process.loaded if report.process else {})
    return report


def _ingest_run_name() -> str:
    params = flow_run.parameters
    span = (
        f"{params['since']}..{params.get('until') or 'today'}"
        if params.get("since")
        else dt.datetime.now(dt.UTC).date().isoformat()
    )
    chosen = params.get("channels")
    return f"ingest/{span}/" + (",".join(chosen) if chosen else "all-channels")


@flow(name="socmed-ingest", flow_run_name=_ingest_run_name, log_prints=False)
def ingest(
    config_path: str = "socmed.toml",
    channels: list[str] | None = None,
    since: str | None = None,
    until: str | None = None,
) -> list[ChannelReport]:
    """Ingest every enabled channel (or the ones named), each in its own subflow run."""
    settings = load_settings(config_path)
    parse_date(since, "--since"), parse_date(until, "--until")
    selected = (
        [find_channel(settings, key) for key in channels]
        if channels
        else [c for c in settings.channels if c.enabled]
    )
    reports = []
    for channel in selected:
        with tags(channel.platform, f"@{channel.handle}"):
            state = ingest_channel(config_path, channel.key, since, until, return_state=True)
        if state.is_completed():
            reports.append(state.result())
        else:
            reports.append(ChannelReport(channel.key, "-", "failed", errors=[state.message or "failed"]))
    get_run_logger().info("ingestion summary\n%s", summary_table(reports))
    failed = [r for r in reports if r.status == "failed"]
    if failed:
        raise RunFailed("; ".join(f"{r.channel}: {r.errors[0] if r.errors else 'failed'}" for r in failed))
    return reports
