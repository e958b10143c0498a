"""A fixed, hand-checked warehouse for the mart, campaign and report tests, loaded with load_batch.

Two Instagram channels and a news website, all in Asia/Jakarta (UTC+7):

* ``kota`` (channel A): followers 900 on 10-01, 1000 / 1010 / 1030 / 1025 on 11-01 / 02 / 04 / 05
  (no run on 11-03: a gap; 11-05 went down). Posts a1 (published 11-01, snapshots 11-01, 02, 04,
  05; likes go down on 11-05), a2 (published 2026-10-31 18:30 UTC = 11-01 local; first seen 11-02,
  then 11-05) and a3 (published 09-15, before tracking began on 11-01: backfill; refreshed 11-04).
* ``tv`` (channel B): followers 500 on 11-01 and 520 on 11-05. Posts b0 (published 10-30,
  no views or shares reported; seen 11-01 and 11-05) and b1 (published 11-03, first seen 11-05).
* ``berita`` (website W): two articles without metrics, published 10-20 and 11-02.

Campaigns: "Car Free Day" (#CFDTangerang, #CarFreeDay, keyword "car free day", November) matches
a1, b1 and w1; "Siaga Banjir" (keywords banjir and flood, from October, kota only) matches a2.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
from sqlalchemy import Engine

from socmed.config import CampaignSettings
from transforms.schemas import SCHEMAS
from warehouse.campaigns import refresh_campaigns
from warehouse.load import AuditInfo, load_batch

UTC = dt.UTC
A, B, W = "17841400000000001", "17841400000000002", "kota.go.id"
CHANNELS = {A: ("instagram", "kota"), B: ("instagram", "tv"), W: ("website", "berita")}
METRICS = ("views", "reach", "likes", "comments", "shares", "saves")

CAMPAIGNS = [
    CampaignSettings(
        name="Car Free Day",
        hashtags=["CFDTangerang", "#CarFreeDay"],
        keywords=["car free day"],
        start=dt.date(2026, 11, 1),
        end=dt.date(2026, 11, 30),
    ),
    CampaignSettings(
        name="Siaga Banjir",
        hashtags=["SiagaBanjir"],
        keywords=["banjir", "flood"],
        start=dt.date(2026, 10, 1),
        channels=["instagram/@kota"],
    ),
]

# content id -> (channel, published_at UTC, title, caption, hashtags)
CONTENT: dict[str, tuple[str, dt.datetime, str | None, str | None, list[str] | None]] = {
    "a1": (
        A,
        dt.datetime(2026, 11, 1, 3, 0, tzinfo=UTC),
        None,
        "Yuk ramaikan Car Free Day di Taman Potret! #CFDTangerang #SobatTangerang",
        ["cfdtangerang", "sobattangerang"],
    ),
    "a2": (
        A,
        dt.datetime(2026, 10, 31, 18, 30, tzinfo=UTC),
        None,
        "Info banjir: genangan di Ciledug, warga diminta waspada #InfoBanjir",
        ["infobanjir"],
    ),
    "a3": (
        A,
        dt.datetime(2026, 9, 15, 5, 0, tzinfo=UTC),
        None,
        "Throwback Festival Cisadane #FestivalCisadane",
        ["festivalcisadane"],
    ),
    "b0": (
        B,
        dt.datetime(2026, 10, 30, 10, 0, tzinfo=UTC),
        None,
        "Selamat pagi, Sobat Tangerang! #SobatTangerang",
        ["sobattangerang"],
    ),
    "b1": (
        B,
        dt.datetime(2026, 11, 3, 2, 0, tzinfo=UTC),
        None,
        "CAR  FREE\nDAY minggu ini! Bring your bikes 🚴",
        [],
    ),
    "w1": (W, dt.datetime(2026, 11, 2, 1, 0, tzinfo=UTC), "Pemkot Tangerang gelar Car Free Day", None, None),
    "w2": (W, dt.datetime(2026, 10, 20, 4, 0, tzinfo=UTC), "Rapat paripurna DPRD", None, None),
}

N = None
# (content id, snapshot date) -> views, reach, likes, comments, shares, saves (lifetime)
SNAPSHOTS: dict[tuple[str, str], tuple[int | None, ...]] = {
    ("a1", "2026-11-01"): (100, 80, 10, 1, 0, 2),
    ("a1", "2026-11-02"): (300, 200, 30, 3, 2, 4),
    ("a1", "2026-11-04"): (500, 300, 40, 5, 2, 6),
    ("a1", "2026-11-05"): (520, 310, 38, 5, 2, 6),
    ("a2", "2026-11-02"): (50, 40, 5, 0, 1, 0),
    ("a2", "2026-11-05"): (80, 60, 8, 1, 1, 0),
    ("a3", "2026-11-01"): (1000, 700, 100, 10, 5, 5),
    ("a3", "2026-11-04"): (1010, 705, 101, 10, 5, 6),
    ("b0", "2026-11-01"): (N, 200, 20, 2, N, 3),
    ("b0", "2026-11-05"): (N, 220, 22, 2, N, 3),
    ("b1", "2026-11-05"): (400, 300, 20, 2, 3, 1),
}

# (channel, date) -> followers, account reach, account views
CHANNEL_DAYS: dict[tuple[str, str], tuple[int | None, int | None, int | None]] = {
    (A, "2026-10-01"): (900, N, N),
    (A, "2026-11-01"): (1000, N, N),
    (A, "2026-11-02"): (1010, N, N),
    (A, "2026-11-04"): (1030, 5000, 12000),
    (A, "2026-11-05"): (1025, N, N),
    (B, "2026-11-01"): (500, N, N),
    (B, "2026-11-05"): (520, N, N),
}


def _prov(day: dt.date) -> dict[str, Any]:
    """Provenance of an observation fetched at noon UTC of day."""
    at = dt.datetime.combine(day, dt.time(5, 0), UTC)
    return {"fetched_at": at, "run_id": f"run-{day}", "raw_file": f"raw/{day}/00001-media.json.gz"}


def frames() -> dict[str, pl.DataFrame]:
    """The whole data set as frames with the common schema."""
    first = _prov(dt.date(2026, 10, 1))
    channels = [
        {
            "platform": p,
            "channel_id": cid,
            "handle": h,
            "display_name": h.title(),
            "url": f"https://example.test/{h}",
            "timezone": None,
            **first,
        }
        for cid, (p, h) in CHANNELS.items()
    ]
    content = [
        {
            "platform": CHANNELS[ch][0],
            "content_id": cid,
            "channel_id": ch,
            "content_type": "article" if ch == W else "post",
            "media_type": None,
            "published_at": pub,
            "title": title,
            "caption": caption,
            "url": f"https://example.test/p/{cid}",
            "hashtags": tags,
            **first,
        }
        for cid, (ch, pub, title, caption, tags) in CONTENT.items()
    ]
    return {
        "channel": pl.DataFrame(channels, schema=SCHEMAS["channel"]),
        "content": pl.DataFrame(content, schema=SCHEMAS["content"]),
        "content_metrics_daily": pl.DataFrame(_content_metrics(), schema=SCHEMAS["content_metrics_daily"]),
        "channel_metrics_daily": pl.DataFrame(_channel_metrics(), schema=SCHEMAS["channel_metrics_daily"]),
    }


def _content_metrics() -> list[dict[str, Any]]:
    """content_metrics_daily rows."""
    rows = []
    for (cid, day), values in SNAPSHOTS.items():
        date = dt.date.fromisoformat(day)
        channel = CONTENT[cid][0]
        base = {"platform": CHANNELS[channel][0], "content_id": cid, "snapshot_date": date}
        rows.append(base | {"channel_id": channel} | dict(zip(METRICS, values, strict=True)) | _prov(date))
    return rows


def _channel_metrics() -> list[dict[str, Any]]:
    """channel_metrics_daily rows."""
    rows = []
    for (channel, day), (followers, reach, views) in CHANNEL_DAYS.items():
        date = dt.date.fromisoformat(day)
        base = {"platform": CHANNELS[channel][0], "channel_id": channel, "snapshot_date": date}
        values = {
            "followers": followers,
            "following": 10,
            "posts_count": None,
            "views": views,
            "reach": reach,
        }
        rows.append(base | values | _prov(date))
    return rows


def load(engine: Engine, data: dict[str, pl.DataFrame] | None = None) -> dict[str, int]:
    """Load the data set (or data) and refresh the campaigns, as a run would; campaign counts."""
    audit = AuditInfo(
        run_id="run-fixed",
        flow_run_id=None,
        platform="instagram",
        channel_id=A,
        raw_files=["raw/fixed.json.gz"],
        started_at=dt.datetime(2026, 11, 5, 5, 0, tzinfo=UTC),
    )
    load_batch(engine, frames() if data is None else data, audit)
    return refresh_campaigns(engine, CAMPAIGNS)
