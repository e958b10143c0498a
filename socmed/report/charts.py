"""The report's PNG charts, drawn with matplotlib's object API (no pyplot, no display needed)."""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path

import polars as pl
from matplotlib.axes import Axes
from matplotlib.dates import DateFormatter, DayLocator, date2num
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from socmed.report.data import Campaign

RATE_LABELS = {"followers": "by followers", "reach": "by reach", "views": "by views"}
_DROP = {"So", "Cs", "Co", "Cn", "Cf", "Mn", "Sk"}


def plain(text: str, limit: int | None = None) -> str:
    """Text the bundled font can draw: emoji and other symbols dropped, whitespace collapsed."""
    kept = "".join(ch for ch in text if unicodedata.category(ch) not in _DROP)
    flat = " ".join(kept.split())
    return flat if limit is None or len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _compact(value: float, _pos: object = None) -> str:
    """1234 -> 1.2k, 25000 -> 25k, 2500000 -> 2.5M."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            scaled = value / size
            return (
                f"{scaled:.0f}{suffix}"
                if abs(scaled) >= 10 or scaled == int(scaled)
                else f"{scaled:.1f}{suffix}"
            )
    return f"{value:.0f}"


def _figure(height: float = 4.2) -> Figure:
    """A blank figure in the report's size."""
    return Figure(figsize=(9.5, height), dpi=110, layout="constrained")


def _empty(ax: Axes, message: str) -> None:
    """A placeholder message instead of a chart."""
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, color="#666", transform=ax.transAxes)
    ax.set_axis_off()


def save(fig: Figure, path: Path) -> Path:
    """Write a figure as PNG."""
    fig.savefig(path, format="png", facecolor="white")
    return path


def _date_axis(ax: Axes, first: dt.date, last: dt.date) -> None:
    """Whole days on the x axis, padded around the data (one observation included)."""
    pad = max(dt.timedelta(days=2), (last - first) / 20)
    ax.set_xlim(date2num(first - pad), date2num(last + pad))
    span = (last - first).days + 2 * pad.days
    if span <= 60:
        ax.xaxis.set_major_locator(DayLocator(interval=max(1, span // 8)))
    ax.xaxis.set_major_formatter(DateFormatter("%Y-%m-%d"))


def followers_chart(daily: pl.DataFrame) -> Figure:
    """Followers over time, one line per channel."""
    fig = _figure()
    ax = fig.add_subplot()
    observed = daily.drop_nulls("followers")
    if observed.is_empty():
        _empty(ax, "No follower counts observed yet")
        return fig
    for (channel,), rows in observed.sort("day").group_by("channel", maintain_order=True):
        ax.plot(rows["day"].to_list(), rows["followers"].to_list(), marker="o", label=str(channel))
        newest = rows.row(-1, named=True)
        ax.annotate(
            f"{newest['followers']:,}",
            (newest["day"], newest["followers"]),
            textcoords="offset points",
            xytext=(6, 4),
            fontsize=9,
        )
    first, last = observed["day"].min(), observed["day"].max()
    if isinstance(first, dt.date) and isinstance(last, dt.date):
        _date_axis(ax, first, last)
    single = observed.group_by("channel").len()["len"].max() == 1
    note = ": one observation so far, a point per daily run" if single else ""
    ax.set_title(f"Followers over time{note}")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    ax.legend(loc="best", fontsize=9)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return fig


def engagement_chart(summary: pl.DataFrame, days: int) -> Figure:
    """Median engagement rate of recent posts per channel, by each denominator (horizontal bars)."""
    fig = _figure(height=max(3.0, 0.75 * summary.height + 1.4))
    ax = fig.add_subplot()
    columns = [f"median_rate_by_{d}" for d in RATE_LABELS]
    if (
        summary.is_empty()
        or summary.select(columns).null_count().sum_horizontal().item() == 3 * summary.height
    ):
        _empty(ax, f"No posts with engagement data in the last {days} days")
        return fig
    height = 0.8 / len(RATE_LABELS)
    positions = range(summary.height)
    for i, (denominator, label) in enumerate(RATE_LABELS.items()):
        values = summary[f"median_rate_by_{denominator}"].to_list()
        bars = ax.barh(
            [p + (i - 1) * height for p in positions], [v or 0.0 for v in values], height, label=label
        )
        ax.bar_label(
            bars, labels=[f"{v:.1%}" if v is not None else "n/a" for v in values], fontsize=8, padding=2
        )
    ax.set_yticks(list(positions), summary["channel"].to_list())
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    ax.set_title(f"Engagement rate by channel: median of posts published in the last {days} days")
    ax.legend(title="interactions / …", fontsize=9, loc="lower right")
    ax.margins(x=0.12)
    ax.grid(axis="x", alpha=0.3)
    return fig


def cadence_chart(weekly: pl.DataFrame) -> Figure:
    """Posts published per week and channel, as a table of coloured cells (many channels stay legible)."""
    channels = sorted(set(weekly["channel"].to_list()))
    fig = _figure(height=max(2.6, 0.42 * len(channels) + 1.8))
    ax = fig.add_subplot()
    if weekly.is_empty():
        _empty(ax, "No posts published yet")
        return fig
    weeks = sorted(set(weekly["week"].to_list()))
    counts = {(r["channel"], r["week"]): r["posts"] for r in weekly.to_dicts()}
    grid = [[counts.get((c, w), 0) for w in weeks] for c in channels]
    ax.imshow(grid, aspect="auto", cmap="Blues", vmin=0)
    top = max(max(row) for row in grid) or 1
    for y, row in enumerate(grid):
        for x, value in enumerate(row):
            colour = "white" if value > top * 0.6 else "#333"
            ax.text(x, y, str(value), ha="center", va="center", fontsize=7, color=colour)
    ax.set_yticks(range(len(channels)), channels)
    step = max(1, len(weeks) // 9)
    ax.set_xticks(range(0, len(weeks), step), [f"{w:%Y-%m-%d}" for w in weeks[::step]])
    ax.set_title("Posting cadence: posts published per week (weeks starting Monday)")
    fig.autofmt_xdate()
    return fig


def _post_label(row: dict[str, object]) -> str:
    """Channel, date and the start of the caption or title."""
    words = plain(str(row.get("caption") or row.get("title") or "(no caption)"), 32)
    return f"{row['channel']}  {row['published_date']}  {words}"


def top_posts_chart(top: pl.DataFrame, days: int) -> Figure:
    """The period's top posts by interactions, with their engagement rate by followers."""
    fig = _figure(height=max(3.0, 0.45 * top.height + 1.4))
    ax = fig.add_subplot()
    if top.is_empty():
        _empty(ax, f"No posts with interactions in the last {days} days")
        return fig
    rows = list(reversed(top.to_dicts()))
    bars = ax.barh([_post_label(r) for r in rows], [int(r["interactions"]) for r in rows], color="#4c72b0")
    rates = [r["engagement_rate_by_followers"] for r in rows]
    ax.bar_label(
        bars, labels=[f"{r:.2%} of followers" if r is not None else "" for r in rates], fontsize=8, padding=3
    )
    ax.set_title(f"Top {top.height} posts of the last {days} days by interactions")
    ax.xaxis.set_major_formatter(FuncFormatter(_compact))
    ax.tick_params(axis="y", labelsize=8)
    ax.margins(x=0.25)
    ax.grid(axis="x", alpha=0.3)
    return fig


def campaign_chart(campaigns: pl.DataFrame, definitions: list[Campaign]) -> Figure:
    """Reach, views and interactions per campaign, stacked by channel."""
    fig = _figure(height=max(3.2, 0.5 * len(definitions) + 2.2))
    if not definitions:
        _empty(fig.add_subplot(), "No campaigns configured ([[campaigns]] in socmed.toml)")
        return fig
    names = [d.name for d in definitions]
    axes = fig.subplots(1, 3, sharey=True)
    channels = sorted(set(campaigns["channel"].to_list()))
    for ax, metric in zip(axes, ("reach", "views", "interactions"), strict=True):
        left = [0] * len(names)
        for channel in channels:
            rows = campaigns.filter(pl.col("channel") == channel)
            by_name = dict(zip(rows["campaign"].to_list(), rows[metric].fill_null(0).to_list(), strict=True))
            values = [int(by_name.get(name, 0)) for name in names]
            ax.barh([plain(n, 28) for n in names], values, left=left, label=channel)
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.set_title(metric.capitalize())
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.xaxis.set_major_formatter(FuncFormatter(_compact))
        ax.grid(axis="x", alpha=0.3)
    axes[0].invert_yaxis()
    if channels:
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=4, fontsize=8)
    fig.suptitle("Campaign comparison: matching content, all days since publication")
    return fig
