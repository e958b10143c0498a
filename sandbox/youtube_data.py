"""Seeded synthetic YouTube channel of the city: the truth behind the YouTube sandbox.

Everything is a pure function of ``(seed, as_of)``. Videos are generated per Jakarta day
(keyed by seed and date), so a video keeps its id, title and duration when ``as_of`` moves;
only its counters grow (they level off after about a month). The channel uploads a few
long videos a week (press briefings, events, explainers) and Shorts most days, over the
``days`` (default ``WINDOW_DAYS``) before ``as_of``. Some videos hide their likes or have
comments turned off, so those counts are absent from the API's answer.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import string
from dataclasses import dataclass
from typing import Any

from sandbox.captions import DISTRICTS, PLACES, make_caption

UTC = dt.UTC
JAKARTA = dt.timezone(dt.timedelta(hours=7))
WINDOW_DAYS = 730
CHANNEL_ID = "UCw2s1TsVjqNRnU1eXvDgZ4A"
HANDLE = "tangerangkota"
TITLE = "Pemerintah Kota Tangerang"
SUBSCRIBERS = 45_287  # exact; the API shows 3 significant figures
LONG_SHORTS_FROM = dt.datetime(2024, 10, 15, tzinfo=UTC)
_ID_CHARS = string.ascii_letters + string.digits + "-_"
TITLES = (
    "Wali Kota Tangerang Resmikan {place}",
    "Siaran Pers: Penanganan Banjir di Kecamatan {district}",
    "Festival Cisadane {year} - Highlight",
    "Car Free Day {place} | Vlog Sobat Tangerang",
    "Layanan Dukcapil Jemput Bola di {district}",
    "Tangerang LIVE: cara urus KTP online",
    "Podcast Tangerang Gemilang Eps. {number}",
)
SHORT_TITLES = (
    "Pagi di {place} ☀️ #shorts",
    "Info lalu lintas {district} #shorts",
    "CFD seru banget! #CFDTangerang #shorts",
    "Siaga banjir {district} #SiagaBanjir",
    "Kuliner Pasar Lama 🍜 #AyoKeTangerang",
)


@dataclass(frozen=True)
class Video:
    """One upload with its counters at ``as_of``; None where the API omits the count."""

    id: str
    published_at: dt.datetime
    title: str
    description: str
    duration_seconds: int
    short: bool
    views: int
    likes: int | None
    comments: int | None

    @property
    def published(self) -> str:
        """RFC 3339 as YouTube writes it: ``2026-11-20T03:15:00Z``."""
        return self.published_at.strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def duration(self) -> str:
        """ISO 8601 duration, e.g. ``PT4M13S`` or ``PT59S``."""
        hours, rest = divmod(self.duration_seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        parts = f"{hours}H" * bool(hours) + f"{minutes}M" * bool(minutes) + f"{seconds}S" * bool(seconds)
        return f"PT{parts or '0S'}"


def _growth(age: dt.timedelta) -> float:
    """Share of the lifetime total reached at this age; exactly 1 after thirty days."""
    hours = max(age.total_seconds() / 3600, 0.0)
    return min(1.0, (1 - math.exp(-hours / 96)) / (1 - math.exp(-30 * 24 / 96)))


class ChannelData:
    """The channel and its uploads, generated from ``(seed, as_of)``."""

    def __init__(self, as_of: dt.date, seed: int = 7, hidden_subscribers: bool = False,
                 days: int = WINDOW_DAYS) -> None:
        self.as_of = as_of
        self.seed = seed
        self.days = days
        self.now = dt.datetime.combine(as_of, dt.time(0, 0), UTC)
        self.hidden_subscribers = hidden_subscribers
        self.channel_id = CHANNEL_ID
        self.uploads = "UU" + CHANNEL_ID[2:]
        self.videos = self._videos()
        self.videos_by_id = {video.id: video for video in self.videos}

    def _rng(self, *key: object) -> random.Random:
        """A generator keyed by the seed and the given parts (stable across runs)."""
        return random.Random("|".join(map(str, (self.seed, "youtube", *key))))

    def _videos(self) -> list[Video]:
        """Every upload, newest first, as the uploads playlist lists them."""
        items = []
        first = (self.now - dt.timedelta(days=self.days)).date()
        for offset in range(self.days):
            day = first + dt.timedelta(days=offset)
            rng = self._rng(day.isoformat())
            count = (rng.random() < 0.45) + (rng.random() < 0.25)
            for slot in range(count):
                local = dt.datetime.combine(day, dt.time(7), JAKARTA) + dt.timedelta(
                    seconds=rng.randint(0, 14 * 3600 - 1))
                items.append(self._video(local.astimezone(UTC), slot))
        return sorted(items, key=lambda v: (v.published_at, v.id), reverse=True)

    def _video(self, when: dt.datetime, slot: int) -> Video:
        """One upload; everything but the counters is keyed by its day and slot."""
        rng = self._rng(when.astimezone(JAKARTA).date().isoformat(), slot)
        video_id = "".join(rng.choice(_ID_CHARS) for _ in range(11))
        short = rng.random() < 0.55
        limit = 180 if when >= LONG_SHORTS_FROM else 59
        duration = rng.randint(12, limit) if short else rng.randint(max(limit + 1, 240), 3_600)
        templates = SHORT_TITLES if short else TITLES
        title = rng.choice(templates).format(place=rng.choice(PLACES), district=rng.choice(DISTRICTS),
                                             year=when.year, number=rng.randint(1, 120))
        description = make_caption(rng, when.year) or ""
        final = SUBSCRIBERS * rng.lognormvariate(0, 0.8) * (0.9 if short else 0.12)
        views = round(final * _growth(self.now - when))
        likes = round(views * rng.uniform(0.015, 0.05))
        comments = round(likes * rng.uniform(0.02, 0.12))
        hidden_likes, comments_off = rng.random() < 0.04, rng.random() < 0.08
        return Video(video_id, when, title, description, duration, short, views,
                     None if hidden_likes else likes, None if comments_off else comments)

    @property
    def subscriber_count(self) -> str:
        """``subscriberCount`` as the API shows it: three significant figures."""
        digits = len(str(SUBSCRIBERS))
        step = 10 ** max(digits - 3, 0)
        return str(SUBSCRIBERS // step * step)

    @property
    def view_count(self) -> int:
        """Lifetime channel views: every upload's plus those of videos since removed."""
        return sum(v.views for v in self.videos) + 1_204_331

    def expected(self) -> dict[str, Any]:
        """The generator's truth for a full fetch of the channel at ``as_of``."""
        videos = self.videos
        return {
            "channel_id": self.channel_id,
            "handle": HANDLE,
            "followers": None if self.hidden_subscribers else int(self.subscriber_count),
            "video_count": len(videos),
            "shorts": sum(v.short for v in videos),
            "views_sum": sum(v.views for v in videos),
            "likes_sum": sum(v.likes or 0 for v in videos),
            "comments_sum": sum(v.comments or 0 for v in videos),
            "hidden_likes": sum(v.likes is None for v in videos),
            "comments_off": sum(v.comments is None for v in videos),
        }
