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
            f"raw: `{report.fetch.run_dir}`",
            "",
        ]
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
            lines += ["", f"Quarantine files under `{data_dir / 'quarantine'}`"]
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
