"""Seeded synthetic X account of the city: the truth behind the X sandbox.

Everything is a pure function of ``(seed, as_of)``. Posts are generated per Jakarta day
(keyed by seed and date), so a post keeps its id and text when ``as_of`` moves; only its
counters grow (they level off after three days). Ids are snowflakes: the creation time in
milliseconds since X's epoch, shifted left 22 bits, so they sort like the posts' times.
The account also replies and reposts; those count in ``tweet_count`` but are not its own
posts, and the timeline excludes them. The timeline reaches only the ``TIMELINE_REACH``
most recent own posts (800 when replies are excluded), so older posts can be refreshed
only by id.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass
from typing import Any

from sandbox.captions import make_caption

UTC = dt.UTC
JAKARTA = dt.timezone(dt.timedelta(hours=7))
WINDOW_DAYS = 548
USER_ID = "1183612405226008576"
USERNAME = "PemkotTangerang"
NAME = "Pemerintah Kota Tangerang"
FOLLOWERS = 86_412
FOLLOWING = 312
REPLIES_AND_REPOSTS = 4_870  # in tweet_count, never in the timeline the connector asks for
TIMELINE_REACH = 800  # posts the timeline returns when replies are excluded (3,200 otherwise)
TWEPOCH_MS = 1_288_834_974_657
MAX_TEXT = 280
POSTS_PER_DAY = 1.9
LONG_POSTS = 0.08  # share of posts longer than 280 characters (X Premium long posts)


@dataclass(frozen=True)
class Post:
    """One own post with its public metrics at ``as_of``."""

    id: str
    created_at: dt.datetime
    text: str
    impressions: int
    likes: int
    replies: int
    retweets: int
    quotes: int
    bookmarks: int
    note: str | None = None  # a long post's whole text (``note_tweet.text``); ``text`` is cut

    @property
    def caption(self) -> str:
        """The post's whole text: the note of a long post, else ``text``."""
        return self.note or self.text

    @property
    def created(self) -> str:
        """X's spelling: ``2026-11-20T03:15:00.000Z``."""
        return self.created_at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.created_at.microsecond // 1000:03d}Z"

    @property
    def public_metrics(self) -> dict[str, int]:
        """The ``public_metrics`` object."""
        return {"retweet_count": self.retweets, "reply_count": self.replies, "like_count": self.likes,
                "quote_count": self.quotes, "bookmark_count": self.bookmarks,
                "impression_count": self.impressions}


def snowflake(when: dt.datetime, sequence: int) -> str:
    """An X id for a post created at ``when`` (millisecond time, worker 0, a sequence)."""
    millis = round(when.timestamp() * 1000) - TWEPOCH_MS
    return str((millis << 22) | (sequence & 0xFFF))


def _growth(age: dt.timedelta) -> float:
    """Share of the lifetime total reached at this age; exactly 1 after three days."""
    hours = max(age.total_seconds() / 3600, 0.0)
    return min(1.0, (1 - math.exp(-hours / 8)) / (1 - math.exp(-72 / 8)))


class AccountData:
    """The account and its own posts, generated from ``(seed, as_of)``."""

    def __init__(self, as_of: dt.date, seed: int = 7) -> None:
        self.as_of = as_of
        self.seed = seed
        self.now = dt.datetime.combine(as_of, dt.time(0, 0), UTC)
        self.user_id = USER_ID
        self.posts = self._posts()
        self.posts_by_id = {post.id: post for post in self.posts}
        self.deleted: set[str] = set()  # ids removed after the account posted them

    def _rng(self, *key: object) -> random.Random:
        """A generator keyed by the seed and the given parts (stable across runs)."""
        return random.Random("|".join(map(str, (self.seed, "x", *key))))

    def _posts(self) -> list[Post]:
        """Every own post, newest first."""
        items = []
        first = (self.now - dt.timedelta(days=WINDOW_DAYS)).date()
        for offset in range(WINDOW_DAYS):
            day = first + dt.timedelta(days=offset)
            rng = self._rng(day.isoformat())
            for slot in range(sum(rng.random() < POSTS_PER_DAY / 4 for _ in range(4))):
                local = dt.datetime.combine(day, dt.time(6), JAKARTA) + dt.timedelta(
                    milliseconds=rng.randint(0, 16 * 3_600_000 - 1))
                items.append(self._post(local.astimezone(UTC), slot))
        return sorted(items, key=lambda p: (p.created_at, int(p.id)), reverse=True)

    def _post(self, when: dt.datetime, slot: int) -> Post:
        """One post; its text and final counters are keyed by its id."""
        post_id = snowflake(when, slot)
        rng = self._rng(post_id)
        text = (make_caption(rng, when.year) or "Selamat pagi, Sobat Tangerang! #TangerangKota")[:MAX_TEXT]
        grow = _growth(self.now - when)
        impressions = FOLLOWERS * rng.lognormvariate(-0.6, 0.7)
        likes = impressions * rng.uniform(0.004, 0.02)
        counts = [impressions, likes, likes * rng.uniform(0.05, 0.3), likes * rng.uniform(0.05, 0.25),
                  likes * rng.uniform(0.0, 0.05), likes * rng.uniform(0.01, 0.08)]
        note = self._note(post_id, when, text)
        text = f"{note[:MAX_TEXT - 1]}…" if note else text
        views, likes_, replies, retweets, quotes, bookmarks = (round(value * grow) for value in counts)
        return Post(post_id, when, text, views, likes_, replies, retweets, quotes, bookmarks, note)

    def _note(self, post_id: str, when: dt.datetime, text: str) -> str | None:
        """A long post's whole text (a few captions past 280 characters), for some posts."""
        rng = self._rng(post_id, "note")  # its own generator: other posts keep their values
        if rng.random() >= LONG_POSTS:
            return None
        parts = [text]
        while len(" ".join(parts)) <= MAX_TEXT:
            parts.append(make_caption(rng, when.year) or "Info lengkap: tangerangkota.go.id")
        return " ".join(parts)

    def reachable(self, reach: int = TIMELINE_REACH) -> list[Post]:
        """The own posts the timeline still returns (the most recent ones), newest first."""
        return [p for p in self.posts if p.id not in self.deleted][:reach]

    @property
    def tweet_count(self) -> int:
        """``tweet_count``: own posts, replies and reposts."""
        return len(self.posts) - len(self.deleted) + REPLIES_AND_REPOSTS

    def expected(self, posts: list[Post] | None = None) -> dict[str, Any]:
        """The truth for a fetch that read ``posts`` (default: the timeline's reach)."""
        chosen = self.reachable() if posts is None else posts
        return {
            "user_id": self.user_id,
            "username": USERNAME,
            "followers": FOLLOWERS,
            "following": FOLLOWING,
            "tweet_count": self.tweet_count,
            "posts": len(chosen),
            "long_posts": sum(p.note is not None for p in chosen),
            "views_sum": sum(p.impressions for p in chosen),
            "likes_sum": sum(p.likes for p in chosen),
            "comments_sum": sum(p.replies for p in chosen),
            "shares_sum": sum(p.retweets + p.quotes for p in chosen),
            "saves_sum": sum(p.bookmarks for p in chosen),
        }
