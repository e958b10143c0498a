"""Seeded synthetic TikTok account of the city (@tangerangkota): the truth behind its sandbox.

Everything is a pure function of ``(seed, as_of)``. Videos are generated per Jakarta day
(keyed by seed and date), so a video keeps its id, caption and duration when ``as_of``
moves; only its counters grow (they level off after about three weeks). The account posts
most days over ``WINDOW_DAYS`` before ``as_of``, about 15,000 followers. Video ids are
TikTok-shaped: the publish time (unix seconds) in the high 32 bits of a 64-bit number.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from dataclasses import dataclass
from typing import Any

from sandbox.captions import make_caption

UTC = dt.UTC
JAKARTA = dt.timezone(dt.timedelta(hours=7))
WINDOW_DAYS = 730
USERNAME = "tangerangkota"
DISPLAY_NAME = "Pemkot Tangerang"
FOLLOWERS = 15_214
FOLLOWING = 43
REMOVED_LIKES = 3_871  # likes of videos since deleted or made private still count in likes_count


@dataclass
class Video:
    """One public video with its counters at ``as_of``."""

    id: str
    create_time: int  # unix seconds, UTC
    title: str
    description: str
    duration: int
    views: int
    likes: int
    comments: int
    shares: int

    @property
    def share_url(self) -> str:
        """The public link the API returns."""
        return f"https://www.tiktok.com/@{USERNAME}/video/{self.id}"

    def field(self, name: str) -> Any:
        """The value of one Display API video field."""
        values: dict[str, Any] = {
            "id": self.id,
            "create_time": self.create_time,
            "title": self.title,
            "video_description": self.description,
            "duration": self.duration,
            "share_url": self.share_url,
            "cover_image_url": f"https://p16-sign-sg.tiktokcdn.com/obj/tos-alisg-p-0037/{self.id[-12:]}.jpeg",
            "embed_link": f"https://www.tiktok.com/player/v1/{self.id}",
            "height": 1024,
            "width": 576,
            "view_count": self.views,
            "like_count": self.likes,
            "comment_count": self.comments,
            "share_count": self.shares,
        }
        return values[name]


VIDEO_FIELDS = ("id", "create_time", "cover_image_url", "share_url", "video_description", "duration",
                "height", "width", "title", "embed_link", "like_count", "comment_count",
                "share_count", "view_count")
USER_FIELDS = ("open_id", "union_id", "avatar_url", "avatar_url_100", "avatar_large_url",
               "display_name", "bio_description", "profile_deep_link", "is_verified", "username",
               "follower_count", "following_count", "likes_count", "video_count")


def _growth(age: dt.timedelta) -> float:
    """Share of the lifetime total reached at this age; exactly 1 after three weeks."""
    hours = max(age.total_seconds() / 3600, 0.0)
    return min(1.0, (1 - math.exp(-hours / 48)) / (1 - math.exp(-21 * 24 / 48)))


class TikTokData:
    """The account and its public videos, generated from ``(seed, as_of)``."""

    def __init__(self, as_of: dt.date, seed: int = 7) -> None:
        self.as_of = as_of
        self.seed = seed
        self.now = dt.datetime.combine(as_of, dt.time(0, 0), UTC)
        self.open_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"tiktok:{seed}:{USERNAME}"))
        self.union_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"tiktok-union:{seed}:{USERNAME}"))
        self.videos = self._videos()
        self.by_id = {video.id: video for video in self.videos}

    def _rng(self, *key: object) -> random.Random:
        """A generator keyed by the seed and the given parts (stable across runs)."""
        return random.Random("|".join(map(str, (self.seed, "tiktok", *key))))

    def _videos(self) -> list[Video]:
        """Every public video, newest first, as ``video/list`` serves them."""
        items = []
        first = (self.now - dt.timedelta(days=WINDOW_DAYS)).date()
        for offset in range(WINDOW_DAYS):
            day = first + dt.timedelta(days=offset)
            rng = self._rng(day.isoformat())
            for slot in range((rng.random() < 0.55) + (rng.random() < 0.1)):
                local = dt.datetime.combine(day, dt.time(8), JAKARTA) + dt.timedelta(
                    seconds=rng.randint(0, 13 * 3600 - 1))
                items.append(self._video(local.astimezone(UTC), slot))
        return sorted(items, key=lambda v: (v.create_time, v.id), reverse=True)

    def _video(self, when: dt.datetime, slot: int) -> Video:
        """One video; everything but the counters is keyed by its day and slot."""
        rng = self._rng(when.astimezone(JAKARTA).date().isoformat(), slot)
        created = int(when.timestamp())
        video_id = str((created << 32) | rng.getrandbits(32))
        description = make_caption(rng, when.year) or ""
        title = description.split("\n")[0][:60] if rng.random() < 0.3 else ""
        final = FOLLOWERS * rng.lognormvariate(0, 0.9) * 0.35
        views = round(final * _growth(self.now - when))
        likes = round(views * rng.uniform(0.03, 0.09))
        comments = round(likes * rng.uniform(0.01, 0.06))
        shares = round(likes * rng.uniform(0.01, 0.1))
        return Video(video_id, created, title, description, rng.randint(7, 180), views, likes,
                     comments, shares)

    def user(self) -> dict[str, Any]:
        """Every user field the Display API knows."""
        return {
            "open_id": self.open_id,
            "union_id": self.union_id,
            "avatar_url": f"https://p16-sign-sg.tiktokcdn.com/tos-alisg-avt-0068/{self.open_id[:8]}.webp",
            "avatar_url_100": f"https://p16-sign-sg.tiktokcdn.com/tos-alisg-avt-0068/{self.open_id[:8]}~100.webp",
            "avatar_large_url": f"https://p16-sign-sg.tiktokcdn.com/tos-alisg-avt-0068/{self.open_id[:8]}~l.webp",
            "display_name": DISPLAY_NAME,
            "bio_description": "Akun resmi Pemerintah Kota Tangerang 🏙️ #AyoKeTangerang",
            "profile_deep_link": f"https://vm.tiktok.com/ZS{self.open_id[:7]}/",
            "is_verified": True,
            "username": USERNAME,
            "follower_count": FOLLOWERS,
            "following_count": FOLLOWING,
            "likes_count": sum(v.likes for v in self.videos) + REMOVED_LIKES,
            "video_count": len(self.videos),
        }

    def remove(self, video_id: str) -> None:
        """Make a video private (it leaves the list and queries, as on TikTok)."""
        self.videos = [v for v in self.videos if v.id != video_id]
        self.by_id.pop(video_id, None)

    def expected(self) -> dict[str, Any]:
        """The generator's truth for a full fetch of the account at ``as_of``."""
        videos = self.videos
        return {
            "open_id": self.open_id,
            "username": USERNAME,
            "followers": FOLLOWERS,
            "following": FOLLOWING,
            "video_count": len(videos),
            "views_sum": sum(v.views for v in videos),
            "likes_sum": sum(v.likes for v in videos),
            "comments_sum": sum(v.comments for v in videos),
            "shares_sum": sum(v.shares for v in videos),
            "videos": {v.id: {"create_time": v.create_time, "views": v.views, "likes": v.likes,
                              "comments": v.comments, "shares": v.shares} for v in videos},
        }
