"""Manual imports: a CSV file dropped in a manual channel's watch folder is an event.

``import_new_files`` looks (cheaply, without landing anything) for new files in the watch
folders and runs the ingestion flow for just the channels that have some, so each drop is one
flow run through the usual stages: land unchanged, transform, validate, load. A poll that finds
nothing starts no flow run. ``socmed import`` calls it once, or every ``--interval`` seconds
with ``--watch``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from flows.ingest import ingest
from socmed import pipeline
from socmed.config import ChannelSettings, ConfigError, Settings, load_settings
from socmed.summary import ChannelReport

MANUAL = "manual"


@dataclass
class ImportOutcome:
    """One poll: the files found per channel, the runs' reports, and the failure if one."""

    found: dict[str, list[Path]] = field(default_factory=dict)
    reports: list[ChannelReport] = field(default_factory=list)
    failed: str | None = None

    @property
    def problems(self) -> list[str]:
        """Every problem and error of the runs (bad files name their line and column)."""
        found = [f"{r.channel}: {e}" for r in self.reports for e in r.errors]
        for r in self.reports:
            found += [f"{r.channel}: {p}" for p in (r.fetch.problems if r.fetch else [])]
            found += [f"{r.channel}: {p}" for p in (r.process.problems if r.process else [])]
        return found + ([self.failed] if self.failed else [])


def manual_channels(settings: Settings, keys: list[str] | None = None) -> list[ChannelSettings]:
    """The enabled manual channels (or the ones named), each with a watch folder."""
    chosen = [c for c in settings.channels if c.platform == MANUAL and (c.key in keys if keys else c.enabled)]
    if keys and len(chosen) < len(keys):
        missing = sorted(set(keys) - {c.key for c in chosen})
        raise ConfigError(f"{settings.source}: no manual channel {missing[0]!r}")
    if not chosen:
        raise ConfigError(f'{settings.source}: no channel with platform = "manual" and a watch_dir to import')
    return chosen


def new_files(settings: Settings, channel: ChannelSettings) -> list[Path]:
    """The channel's dropped files not imported yet."""
    from connectors.manual import open_manual

    state = pipeline.connector_context(settings, channel, lambda raw: None).state_dir
    return open_manual(watch_dir=channel.watch_dir, state_dir=state, account_id=channel.account_id,
                       sink=None).pending()


def import_new_files(config_path: str, keys: list[str] | None = None) -> ImportOutcome:
    """Ingest the manual channels whose watch folders hold new files; nothing runs otherwise."""
    settings = load_settings(config_path)
    outcome = ImportOutcome()
    for channel in manual_channels(settings, keys):
        files = new_files(settings, channel)
        if files:
            outcome.found[channel.key] = files
    if not outcome.found:
        return outcome
    state = ingest(config_path, list(outcome.found), return_state=True)
    if state.is_completed():
        outcome.reports = state.result()
    else:
        outcome.failed = state.message or "ingestion failed"
    return outcome
