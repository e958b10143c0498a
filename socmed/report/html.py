"""The report as one self-contained HTML file: inline CSS, charts embedded as base64 PNGs."""

from __future__ import annotations

import base64
import datetime as dt
from html import escape
from pathlib import Path

import polars as pl

from socmed.report.charts import plain
from socmed.report.data import Campaign, ReportData, nullable_sum

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1080px; padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { margin-bottom: .2rem; } header p { color: #555; margin-top: 0; }
section { margin: 2rem 0; } figure { margin: 1rem 0; } img { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: .9rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { border-bottom: 1px solid #ddd; padding: .3rem .5rem; text-align: left; vertical-align: top;
         white-space: nowrap; }
td.w { white-space: normal; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: #777; }
"""


def number(value: object) -> str:
    """A count with thousands separators, or a dash."""
    return "–" if value is None else f"{int(value):,}"  # type: ignore[call-overload]


def percent(value: object) -> str:
    """A ratio as a percentage, or a dash."""
    return "–" if value is None else f"{float(value):.2%}"  # type: ignore[arg-type]


def image(path: Path, alt: str, caption: str) -> str:
    """A figure with the PNG embedded as a data URI."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{escape(alt)}" '
        f'data-chart="{escape(path.stem)}"><figcaption>{escape(caption)}</figcaption></figure>'
    )


def table(
    headers: list[str], rows: list[list[str]], numeric: set[int], wrap: frozenset[int] = frozenset()
) -> str:
    """An HTML table; cells are already escaped, numeric columns right-aligned, wrap columns wrap."""

    def cell(tag: str, i: int, content: str) -> str:
        kind = "n" if i in numeric else "w" if i in wrap else ""
        return f'<{tag} class="{kind}">{content}</{tag}>' if kind else f"<{tag}>{content}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def summary_table(summary: pl.DataFrame) -> str:
    """Per channel over the period."""
    headers = [
        "channel",
        "followers",
        "change",
        "posts",
        "views",
        "interactions",
        "median rate by followers",
        "by reach",
        "by views",
    ]
    rows = [
        [
            escape(r["channel"]),
            number(r["followers"]),
            number(r["followers_change"]),
            number(r["posts"]),
            number(r["views"]),
            number(r["interactions"]),
            percent(r["median_rate_by_followers"]),
            percent(r["median_rate_by_reach"]),
            percent(r["median_rate_by_views"]),
        ]
        for r in summary.to_dicts()
    ]
    return table(headers, rows, set(range(1, 9)))


POST_HEADERS = ["#", "channel", "published", "type", "post", "views", "reach", "interactions"]
POST_HEADERS += ["rate by followers", "by reach"]


def posts_table(top: pl.DataFrame) -> str:
    """The top posts with links."""
    rows = []
    for rank, r in enumerate(top.to_dicts(), start=1):
        text = escape(plain(str(r["caption"] or r["title"] or "(no caption)"), 90))
        link = f'<a href="{escape(r["url"])}">{text}</a>' if r["url"] else text
        rows.append(
            [
                str(rank),
                escape(r["channel"]),
                str(r["published_date"]),
                escape(r["content_type"] or ""),
                link,
                number(r["views"]),
                number(r["reach"]),
                number(r["interactions"]),
                percent(r["engagement_rate_by_followers"]),
                percent(r["engagement_rate_by_reach"]),
            ]
        )
    return table(POST_HEADERS, rows, {0, 5, 6, 7, 8, 9}, frozenset({4}))


CAMPAIGN_HEADERS = ["campaign", "hashtags", "keywords", "dates", "posts", "reach", "views", "interactions"]
CAMPAIGN_HEADERS += ["rate by reach"]


def campaigns_table(campaigns: pl.DataFrame, definitions: list[Campaign]) -> str:
    """One row per campaign: definition, matching posts and totals across channels."""
    metrics = ("posts", "reach", "views", "interactions")
    totals = {
        r["campaign"]: r
        for r in campaigns.group_by("campaign").agg(nullable_sum(m) for m in metrics).to_dicts()
    }
    rows = []
    for d in definitions:
        t = totals.get(d.name, {})
        rate = t["interactions"] / t["reach"] if t.get("reach") else None
        rows.append(
            [
                escape(d.name),
                escape(" ".join(f"#{h}" for h in d.hashtags)),
                escape(", ".join(d.keywords)),
                f"{d.start} – {d.end or 'open'}",
                number(t.get("posts", 0)),
                number(t.get("reach")),
                number(t.get("views")),
                number(t.get("interactions")),
                percent(rate),
            ]
        )
    return table(CAMPAIGN_HEADERS, rows, {4, 5, 6, 7, 8}, frozenset({1, 2}))


NOTES = """<ul>
<li><b>Interactions</b> are likes + comments + shares + saves, over those the platform reports.</li>
<li><b>Engagement rate</b> is interactions divided by followers, by reach or by views; each column
says which. Per post, the post's lifetime interactions and reach or views.</li>
<li><b>Daily deltas</b> come from the lifetime counters; a change seen after a day without a run is
spread evenly over the days it covers, and counters that go down give negative deltas.</li>
<li>Numbers come from the warehouse views <code>mart_channel_daily</code>,
<code>mart_content_performance</code> and <code>mart_campaign_daily</code>
(see <code>docs/marts.md</code>).</li>
</ul>"""


def page(data: ReportData, days: int, parts: dict[str, str], source: str) -> str:
    """The whole HTML document."""
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    period = f"{data.since} – {data.latest} ({days} days)" if data.latest else "no data yet"
    sections = "".join(f'<section id="{key}">{html}</section>' for key, html in parts.items())
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>socmed report {escape(str(data.latest or ''))}</title><style>{CSS}</style></head><body>"
        f"<header><h1>Social-media report</h1><p>Period {escape(period)} · generated {generated} · "
        f'warehouse <span class="muted">{escape(source)}</span></p></header>'
        f'{sections}<section id="notes"><h2>How to read this</h2>{NOTES}</section></body></html>\n'
    )
