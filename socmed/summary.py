"""Run summaries people read: the markdown artifact of a channel run and the CLI's table."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from socmed.incremental import Window
from socmed.pipeline import FetchOutcome, ProcessOutcome
from transforms.schemas import TABLE_ORDER


@dataclass
class ChannelReport:
    """Everything an operator needs to know about one channel's run."""

    channel: str
    run_id: str
    status: str  # succeeded | failed
    window: Window | None = None
    fetch: FetchOutcome | None = None
    process: ProcessOutcome | None = None
    errors: list[str] = field(default_factory=list)


def _window_text(window: Window | None) -> str:
    if window is None:
        return "-"
    if window.streams:  # a partial run, e.g. the frequent stories capture
        return f"only {', '.join(window.streams)} (and the profile snapshot)"
    media = (
        "full listing"
        if window.media_since is None
        else f"posts since {window.media_since:%Y-%m-%d %H:%M} UTC"
    )
    if window.media_until is not None:
        media += f" until {window.media_until:%Y-%m-%d %H:%M} UTC"
    kind = "backfill" if window.backfill else ("full refresh" if window.full_refresh else "incremental")
    return (
        f"{kind}: {media}; account insights {window.insights_since}..{window.insights_until} (platform days)"
    )


def link(path: Path, data_dir: Path) -> str:
    """A markdown link to a file or folder of the data directory, labelled by its relative path."""
    label = path.relative_to(data_dir).as_posix() if path.is_relative_to(data_dir) else str(path)
    return f"[{label}]({path.resolve().as_uri()})"


def channel_markdown(report: ChannelReport, data_dir: Path) -> str:
    """The markdown artifact of one channel run."""
    lines = [
        f"# {report.channel}: {report.status}",
        "",
        f"Run `{report.run_id}`. {_window_text(report.window)}",
        "",
    ]
    if report.fetch:
        lines += [
            f"Requests made: **{report.fetch.requests}**, responses landed: {report.fetch.responses}, "
            f"raw: {link(report.fetch.run_dir, data_dir)}",
            "",
        ]
        if report.fetch.quota_units is not None:
            lines += [f"Quota units spent: **{report.fetch.quota_units}** of the daily budget of "
                      f"{report.fetch.quota_budget}", ""]
    proc = report.process
    if proc:
        lines += ["| table | rows in | loaded | changed | quarantined |", "|---|---:|---:|---:|---:|"]
        for table in TABLE_ORDER:
            lines.append(
                f"| {table} | {proc.rows_in.get(table, 0)} | {proc.loaded.get(table, 0)} | "
                f"{proc.changed.get(table, 0)} | {proc.quarantined.get(table, 0)} |"
            )
        if proc.reasons:
            lines += ["", "Quarantined, by failed expectation:", ""]
            lines += [f"- {reason}: {count} rows" for reason, count in sorted(proc.reasons.items())]
            lines += ["", "Quarantined rows (Parquet, with the failed expectation):", ""]
            lines += [f"- {link(path, data_dir)}" for path in proc.quarantine_files]
    problems = (report.fetch.problems if report.fetch else []) + (proc.problems if proc else [])
    if problems or report.errors:
        lines += ["", "## Problems", ""] + [f"- {p}" for p in [*report.errors, *problems]]
    return "\n".join(lines) + "\n"


def summary_table(reports: list[ChannelReport]) -> str:
    """A plain-text table of a whole run, one line per channel."""
    rows = [("channel", "status", "requests", "rows loaded", "quarantined", "note")]
    for r in reports:
        loaded = sum(r.process.loaded.values()) if r.process else 0
        quarantined = sum(r.process.quarantined.values()) if r.process else 0
        requests = r.fetch.requests if r.fetch else 0
        note = (r.errors[0] if r.errors else "")[:90]
        rows.append((r.channel, r.status, str(requests), str(loaded), str(quarantined), note))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )
