"""``socmed report``: a self-contained HTML report and its PNG charts, read from the marts.

The HTML embeds every chart as a base64 PNG and its CSS inline, so it opens offline and can be
mailed as one file; the PNGs are also written beside it for slides and chat.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from socmed.report import charts, html
from socmed.report.data import ReportData, channel_summary, load_report_data, top_posts, weekly_posts
from warehouse.engine import redact_url

CHART_FILES = ("followers", "engagement", "cadence", "top_posts", "campaigns")


@dataclass(frozen=True)
class Report:
    """Where the report was written."""

    html: Path
    charts: dict[str, Path]


def draw_charts(data: ReportData, days: int, out_dir: Path) -> dict[str, Path]:
    """Write the five PNG charts; returns their paths by name."""
    figures = {
        "followers": charts.followers_chart(data.daily),
        "engagement": charts.engagement_chart(channel_summary(data), days),
        "cadence": charts.cadence_chart(weekly_posts(data)),
        "top_posts": charts.top_posts_chart(top_posts(data), days),
        "campaigns": charts.campaign_chart(data.campaigns, data.definitions),
    }
    return {name: charts.save(fig, out_dir / f"{name}.png") for name, fig in figures.items()}


def sections(data: ReportData, days: int, pngs: dict[str, Path]) -> dict[str, str]:
    """The report's sections as HTML, in order."""
    top = top_posts(data)
    return {
        "channels": "<h2>Channels</h2>"
        + f"<p>Changes and sums over the last {days} days; rates are medians of the posts published then.</p>"
        + html.summary_table(channel_summary(data)),
        "followers": "<h2>Followers</h2>"
        + html.image(
            pngs["followers"], "Followers over time per channel", "Followers as observed by each run."
        ),
        "engagement": "<h2>Engagement rate</h2>"
        + html.image(
            pngs["engagement"], "Engagement rate by channel", "Interactions / followers, reach, views."
        ),
        "cadence": "<h2>Posting cadence</h2>"
        + html.image(
            pngs["cadence"], "Posts published per week", "Weeks start on Monday, channel-local dates."
        ),
        "top-posts": "<h2>Top posts</h2>"
        + html.image(
            pngs["top_posts"], "Top posts by interactions", "Lifetime interactions as last observed."
        )
        + html.posts_table(top),
        "campaigns": "<h2>Campaigns</h2>"
        + html.image(pngs["campaigns"], "Campaign comparison", "Matching content across all channels.")
        + html.campaigns_table(data.campaigns, data.definitions),
    }


def write_report(engine: Engine, out_dir: Path, days: int = 30) -> Report:
    """Read the marts, draw the charts and write ``report.html`` into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = load_report_data(engine, days)
    pngs = draw_charts(data, days, out_dir)
    target = out_dir / "report.html"
    source = redact_url(engine.url)
    target.write_text(html.page(data, days, sections(data, days, pngs), source), encoding="utf-8")
    return Report(target, pngs)
