"""Event-triggered processing: transform, validate and load one landed raw run.

The ``process-raw`` deployment runs this flow when a ``socmed.raw.landed`` event says a raw
batch waits for processing (``socmed.processing: pending``): a lander that does not process
itself, or an operator re-announcing a batch whose load failed. It is idempotent: a batch
that already has a succeeded load is not loaded again, so a re-emitted event changes
nothing. Sync state is left alone (only a fetch moves it), as in reprocessing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from flows.tasks import process_run
from socmed import paths, pipeline
from socmed.config import ChannelSettings, ConfigError, Settings, load_settings
from socmed.status import succeeded_load
from socmed.summary import ChannelReport, channel_markdown, link


class ProcessingFailed(RuntimeError):
    """A landed batch could not be processed (after publishing what was learnt)."""


def _run_name() -> str:
    params = flow_run.parameters
    return f"process/{params['platform']}/{params['account']}/{params['run_id']}"


def configured_channel(settings: Settings, platform: str, account: str) -> ChannelSettings:
    """The configured channel of a raw batch; events for other accounts are refused."""
    for channel in settings.channels:
        if channel.platform == platform and channel.account_id == account:
            return channel
    raise ConfigError(f"{settings.source}: no channel for platform {platform!r} account {account!r}")


def locate_run(data_dir: Path, platform: str, account: str, run_id: str) -> Path:
    """The raw run folder of a batch (any fetch date); path parts are sanitised by ``paths``."""
    probe = paths.raw_run_dir(data_dir, platform, account, dt.date(2000, 1, 1), run_id)
    found = sorted(probe.parent.parent.glob(f"date=*/{probe.name}"))
    if not found:
        raise FileNotFoundError(
            f"no raw run {run_id} for {platform}/{account} under {paths.raw_root(data_dir)}"
        )
    return found[0]


def _publish(report: ChannelReport, settings: Settings, run_dir: Path, note: str) -> None:
    markdown = f"{note}\n\nRaw batch: {link(run_dir, settings.pipeline.data_dir)}\n\n" + channel_markdown(
        report, settings.pipeline.data_dir
    )
    create_markdown_artifact(
        markdown, key="socmed-process-raw", description=f"{report.channel} raw run {report.run_id}"
    )


@flow(name="socmed-process-raw", flow_run_name=_run_name, log_prints=False)
def process_raw(platform: str, account: str, run_id: str, config_path: str = "socmed.toml") -> ChannelReport:
    """Transform, validate and load the raw run of a raw-landed event, once."""
    settings = load_settings(config_path)
    channel = configured_channel(settings, platform, account)
    run_dir = locate_run(settings.pipeline.data_dir, platform, account, run_id)
    report = ChannelReport(channel.key, run_id, "succeeded")
    logger = get_run_logger()
    loaded = succeeded_load(pipeline.warehouse(settings.warehouse_url()), run_id)
    if loaded is not None:
        logger.info("%s raw run %s was already loaded (load %s): nothing to do", channel.key, run_id, loaded)
        _publish(report, settings, run_dir, f"Already loaded by load `{loaded}`: nothing changed.")
        return report
    try:
        report.process = process_run(
            settings,
            channel,
            run_dir,
            run_id,
            dt.datetime.now(dt.UTC),
            str(flow_run.id) if flow_run.id else None,
        )
    except Exception as exc:
        report.status, report.errors = "failed", [f"{type(exc).__name__}: {exc}"]
    _publish(report, settings, run_dir, "Processed after a `socmed.raw.landed` event.")
    if report.errors:
        raise ProcessingFailed(f"{channel.key} raw run {run_id}: {report.errors[0]}")
    logger.info(
        "%s raw run %s: loaded %s", channel.key, run_id, report.process.loaded if report.process else {}
    )
    return report
