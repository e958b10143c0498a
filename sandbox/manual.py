"""The "sandbox" of channels with no API: a folder with CSV files dropped in it, and their truth.

``ManualDrop`` stands in the hub beside the HTTP sandboxes, but serves nothing: ``start``
writes seeded CSV files of the three templates into its folder (a temporary one unless given)
and ``stop`` removes a temporary folder. The data is shaped like the reference user's offline
channels: the city's monthly print magazine (editions, copies distributed, readers) and its
Car Free Day events (attendance), for the ``months`` whole months before ``as_of``.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any, Self

from sandbox.base import DEFAULT_TOKEN, FakeApi
from sandbox.website_data import month_start

ACCOUNT_ID = "majalah-tangerang-gemilang"
HANDLE = "majalahtangerang"
MAGAZINE = "Majalah Tangerang Gemilang"
FILES = ("channel_metrics_daily.csv", "content.csv", "content_metrics_daily.csv")


def _month_end(first: dt.date) -> dt.date:
    """The last day of the month starting at ``first``."""
    return month_start(first + dt.timedelta(days=32), 0) - dt.timedelta(days=1)


class ManualDrop(FakeApi):
    """A watch folder holding seeded CSV files of a print magazine and offline events."""

    def __init__(self, as_of: dt.date | None = None, token: str = DEFAULT_TOKEN, *, seed: int = 7,
                 months: int = 6, folder: Path | None = None) -> None:
        super().__init__(token)
        self.as_of = as_of or dt.datetime.now(dt.UTC).date()
        self.rng = random.Random(f"{seed}:manual")
        self.months = [month_start(self.as_of, back) for back in range(months, 0, -1)]
        self.folder = folder
        self._temporary = folder is None
        self.rows = self._rows()

    @property
    def base_url(self) -> str:
        """The folder as a ``file://`` URL (there is no server)."""
        return self._folder().resolve().as_uri()

    def start(self) -> Self:
        """Write the three CSV files into the folder."""
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="socmed-manual-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        for name, lines in self.files().items():
            (self.folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        return self

    def stop(self) -> None:
        """Remove the folder if it was a temporary one."""
        if self._temporary and self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def _folder(self) -> Path:
        if self.folder is None:
            raise RuntimeError("the manual drop folder is not started")
        return self.folder

    def _rows(self) -> dict[str, list[dict[str, Any]]]:
        """The seeded rows of each file."""
        channel, content, metrics = [], [], []
        copies = 12_000
        for number, first in enumerate(self.months, start=1):
            end = _month_end(first)
            copies += self.rng.randint(-300, 800)
            edition = f"tg-{first:%Y-%m}"
            content.append({"content_id": edition, "content_type": "other", "media_type": "print",
                            "published_at": f"{first.isoformat()}T08:00:00+07:00",
                            "title": f"{MAGAZINE} edisi {first:%m/%Y}", "hashtags": "#TangerangGemilang"})
            metrics.append({"content_id": edition, "snapshot_date": end.isoformat(), "reach": copies,
                            "views": copies * 3 + self.rng.randint(0, 999)})
            cfd = first + dt.timedelta(days=(6 - first.weekday()) % 7)  # the month's first Sunday
            event = f"cfd-{cfd.isoformat()}"
            content.append({"content_id": event, "content_type": "other", "media_type": "event",
                            "published_at": f"{cfd.isoformat()} 06:00",
                            "title": f"Car Free Day Jl. Sudirman, {cfd:%d-%m-%Y}",
                            "hashtags": "CFDTangerang; CarFreeDay"})
            metrics.append({"content_id": event, "snapshot_date": cfd.isoformat(),
                            "reach": self.rng.randint(4_000, 9_000)})
            channel.append({"snapshot_date": end.isoformat(), "followers": 2_000 + 35 * number,
                            "posts_count": number, "reach": copies})
        return {"channel_metrics_daily": channel, "content": content, "content_metrics_daily": metrics}

    def files(self) -> dict[str, list[str]]:
        """Each file's lines: the template's header, then the rows (empty cells for NULL)."""
        headers = {
            "channel_metrics_daily": ("snapshot_date", "followers", "following", "posts_count", "views",
                                      "reach"),
            "content": ("content_id", "content_type", "media_type", "published_at", "title", "caption",
                        "url", "hashtags"),
            "content_metrics_daily": ("content_id", "snapshot_date", "views", "reach", "likes", "comments",
                                      "shares", "saves"),
        }
        return {f"{table}.csv": [",".join(columns),
                                 *(",".join(_cell(row.get(c)) for c in columns) for row in self.rows[table])]
                for table, columns in headers.items()}

    def expected(self) -> dict[str, int]:
        """The truth an end-to-end test checks: row counts and sums per table."""
        metrics, channel = self.rows["content_metrics_daily"], self.rows["channel_metrics_daily"]
        return {
            "content": len(self.rows["content"]),
            "content_metrics_daily": len(metrics),
            "reach_sum": sum(int(r["reach"]) for r in metrics),
            "views_sum": sum(int(r.get("views") or 0) for r in metrics),
            "views_null": sum(r.get("views") is None for r in metrics),
            "channel_metrics_daily": len(channel),
            "followers_last": int(channel[-1]["followers"]),
            "channel_reach_sum": sum(int(r["reach"]) for r in channel),
        }


def _cell(value: Any) -> str:
    """A CSV cell: empty for None, quoted when it holds a comma or a quote."""
    text = "" if value is None else str(value)
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if ("," in text or '"' in text) else text
