"""Reprocessing: rebuild Parquet and the warehouse from the raw landing zone, no API call.

Raw runs are replayed oldest first, each under its original run id, so provenance still
points at the fetch that produced the data and the newest observation wins. Sync state is
left alone: only a fetch moves it.
"""

from __future__ import annotations

import datetime as dt
import json

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from flows.tasks import process_run
from socmed.config import ChannelSettings, Settings, load_settings, parse_date
from socmed.rawzone import list_runs
from socmed.summary import ChannelReport, summary_table


def _channel_for(settings: Settings, platform: str, account: str) -> ChannelSettings:
    for channel in settings.channels:
        if channel.platform == platform and channel.account_id == account:
            return channel
    # raw data of a channel no longer configured: keep it, with default settings
    return ChannelSettings(platform=platform, handle=account, account_id=account)


def _reprocess_run_name() -> str:
    params = flow_run.parameters
    span = f"{params.get('since') or 'start'}..{params.get('until') or 'today'}"
    return f"reprocess/{params.get('platform') or 'all-platforms'}/{span}"


@flow(name="socmed-reprocess", flow_run_name=_reprocess_run_name, log_prints=False)
def reprocess(
    config_path: str = "socmed.toml",
    platform: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> list[ChannelReport]:
    """Replay raw runs (optionally one platform, fetch dates since/until) into the warehouse."""
    settings = load_settings(config_path)
    data_dir = settings.pipeline.data_dir
    runs = list_runs(data_dir, platform, None, parse_date(since, "--since"), parse_date(until, "--until"))
    reports = []
    for run_dir in runs:
        meta = json.loads(next(iter(sorted(run_dir.glob("*.meta.json")))).read_text())
        channel = _channel_for(settings, meta["platform"], meta["account"])
        fetched_at = dt.datetime.fromisoformat(meta["fetched_at"])
        report = ChannelReport(channel.key, meta["run_id"], "succeeded")
        try:
            report.process = process_run(
                settings,
                channel,
                run_dir,
                meta["run_id"],
                fetched_at,
                str(flow_run.id) if flow_run.id else None,
            )
        except Exception as exc:
            report.status = "failed"
            report.errors.append(f"{type(exc).__name__}: {exc}")
        reports.append(report)
    get_run_logger().info("reprocessed %d raw runs\n%s", len(reports), summary_table(reports))
    return reports
