"""Ingestion: one parent flow run per invocation, one subflow run per channel.

A channel's subflow is named ``<platform>/@<handle>/<date>`` and tagged with its platform
and handle; it plans, fetches, transforms, validates and loads, then publishes a markdown
artifact. One failing channel never stops the others: the parent runs every channel, then
fails with the list of channels that failed and why. ``streams`` limits a run to some
streams (the ``ingest-stories`` deployment fetches only Instagram stories, every two hours):
only channels whose platform offers one of them run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re

from prefect import State, flow, get_run_logger, tags
from prefect.artifacts import acreate_markdown_artifact
from prefect.context import SyncClientContext
from prefect.runtime import flow_run

from flows.events import INLINE, announce_landing
from flows.tasks import campaigns_task, fetch_task, plan_task, process_run, untraversed
from socmed import pipeline
from socmed.config import ChannelSettings, ConfigError, Settings, load_settings, parse_date
from socmed.platforms import platform_names, platform_streams
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
    streams = params.get("streams")
    return f"{params['channel']}/{span}" + (f"/{'+'.join(streams)}" if streams else "")


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


def select_channels(
    settings: Settings, channels: list[str] | None, platform: str | None
) -> list[ChannelSettings]:
    """The channels named, else the enabled channels (of one platform, if given)."""
    if channels:
        return [find_channel(settings, key) for key in channels]
    if platform is not None and platform not in platform_names():
        raise ConfigError(f"platform {platform!r}: unknown (supported: {', '.join(platform_names())})")
    return [c for c in settings.channels if c.enabled and platform in (None, c.platform)]


def offering(
    settings: Settings, channels: list[ChannelSettings], streams: list[str]
) -> list[ChannelSettings]:
    """The channels whose platform offers one of the streams; a stream no platform offers is an error."""
    offered = {stream for c in settings.channels for stream in platform_streams(c.platform)}
    if unknown := sorted(set(streams) - offered):
        raise ConfigError(
            f"{settings.source}: streams {unknown}: no configured platform offers them "
            f"(offered: {', '.join(sorted(offered)) or 'none'})"
        )
    return [c for c in channels if set(streams) & set(platform_streams(c.platform))]


def _run_channel(
    settings: Settings,
    channel: ChannelSettings,
    since: str | None,
    until: str | None,
    streams: list[str] | None = None,
) -> ChannelReport:
    now = dt.datetime.now(dt.UTC)
    run_id = pipeline.new_run_id(now)
    report = ChannelReport(channel.key, run_id, "failed")
    own = tuple(s for s in streams or () if s in platform_streams(channel.platform))
    window, watermark = plan_task(
        untraversed(settings), channel, now, parse_date(since, "--since"), parse_date(until, "--until"), own
    )
    report.window = window
    fetched = fetch_task(untraversed(settings), channel, run_id, window, now)
    report.fetch = fetched
    announce_landing(settings, channel, fetched, INLINE)
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


# An async flow, though its work is synchronous: Prefect's sync engine joins its heartbeat
# thread when a flow run ends, waiting out the thread's current one-second sleep (about 0.8 s
# a channel measured), which for hundreds of channels is minutes a run; the async engine
# lets that thread end on its own. Its tasks run one after another, as before.
@flow(name="socmed-ingest-channel", flow_run_name=_channel_run_name, log_prints=False)
async def ingest_channel(
    config_path: str,
    channel: str,
    since: str | None = None,
    until: str | None = None,
    streams: list[str] | None = None,
) -> ChannelReport:
    """Ingest one channel (only ``streams``, if given): plan, fetch, transform, validate, load, report."""
    settings = load_settings(config_path)
    target = find_channel(settings, channel)
    if streams:
        offering(settings, [target], streams)
    report = _run_channel(settings, target, since, until, streams)
    await acreate_markdown_artifact(
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
    chosen, streams = params.get("channels"), params.get("streams")
    name = f"ingest/{span}/" + (",".join(chosen) if chosen else params.get("platform") or "all-channels")
    return name + (f"/{'+'.join(streams)}" if streams else "")


@flow(name="socmed-ingest", flow_run_name=_ingest_run_name, log_prints=False)
def ingest(
    config_path: str = "socmed.toml",
    channels: list[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    streams: list[str] | None = None,
    platform: str | None = None,
) -> list[ChannelReport]:
    """Ingest every enabled channel (or the ones named, or one platform's), each in its own subflow run.

    ``streams`` limits the run to those streams, on the channels whose platform offers them.
    """
    settings = load_settings(config_path)
    parse_date(since, "--since"), parse_date(until, "--until")
    selected = select_channels(settings, channels, platform)
    if streams:
        selected = offering(settings, selected, streams)
    reports = []
    # One API client for the sync task runs of every channel (each would open its own).
    with SyncClientContext.get_or_create():
        states = asyncio.run(_each_channel(config_path, selected, since, until, streams))
    for channel, state in zip(selected, states, strict=True):
        if state.is_completed():
            reports.append(state.result())
        else:
            reports.append(ChannelReport(channel.key, "-", "failed", errors=[state.message or "failed"]))
    get_run_logger().info("ingestion summary\n%s", summary_table(reports))
    get_run_logger().info("campaign content: %s", campaigns_task(settings))
    failed = [r for r in reports if r.status == "failed"]
    if failed:
        raise RunFailed("; ".join(f"{r.channel}: {r.errors[0] if r.errors else 'failed'}" for r in failed))
    return reports


async def _each_channel(
    config_path: str,
    selected: list[ChannelSettings],
    since: str | None,
    until: str | None,
    streams: list[str] | None,
) -> list[State[ChannelReport]]:
    """Each channel's subflow run, one after another; their final states."""
    states = []
    for channel in selected:
        with tags(channel.platform, f"@{channel.handle}"):
            states.append(
                await ingest_channel(config_path, channel.key, since, until, streams, return_state=True)
            )
    return states


def _backfill_run_name() -> str:
    params = flow_run.parameters
    who = ",".join(params.get("channels") or []) or params.get("platform") or "all-channels"
    return f"backfill/{params['since']}..{params.get('until') or 'today'}/{who}"


@flow(name="socmed-backfill", flow_run_name=_backfill_run_name, log_prints=False)
def backfill(
    since: str,
    until: str | None = None,
    channels: list[str] | None = None,
    platform: str | None = None,
    config_path: str = "socmed.toml",
) -> list[ChannelReport]:
    """Re-read posts published from ``since`` to ``until`` (YYYY-MM-DD) for some or all channels."""
    return ingest.fn(config_path=config_path, channels=channels, since=since, until=until, platform=platform)
