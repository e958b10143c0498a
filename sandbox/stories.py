"""Seeded Instagram stories: what each account published in the 24 hours before ``now``.

Stories live 24 hours: the ``/stories`` edge lists only those, and ``/{story-id}/insights``
answers only for them. The newest story of every account was seen by fewer than five
accounts, so its insights call fails with code 10 "Not enough viewers", as on the real API.
Story metrics are the STORY column of the reference (section 1.4); feed-only metrics such as
``likes`` or ``saved`` are refused.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import string
from dataclasses import dataclass
from typing import Any

from sandbox.data import Account, SandboxData
from sandbox.wire import GraphError, nonexisting, unsupported_metric

STORY_METRICS = ("views", "reach", "replies", "shares", "total_interactions", "navigation",
                 "follows", "profile_visits", "profile_activity")
FEED_ONLY = ("likes", "comments", "saved", "ig_reels_avg_watch_time", "ig_reels_video_view_total_time")
NOT_ENOUGH_VIEWERS = "(#10) Not enough viewers for the media to show insights"
STORY_MAPPED = ("views", "reach", "replies", "shares")  # the metrics the pipeline loads
MIN_VIEWERS = 5
LIFETIME = dt.timedelta(hours=24)


@dataclass(frozen=True)
class Story:
    """One live story and its lifetime insights at ``now``."""

    id: str
    account_id: str
    username: str
    timestamp: dt.datetime
    media_type: str
    shortcode: str
    insights: dict[str, int]

    @property
    def few_viewers(self) -> bool:
        """Seen by too few accounts for the API to show insights."""
        return self.insights["reach"] < MIN_VIEWERS

    def values(self) -> dict[str, Any]:
        """Every field of the story node (stories have no caption or like counts)."""
        return {
            "id": self.id,
            "media_type": self.media_type,
            "media_product_type": "STORY",
            "timestamp": self.timestamp.strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "permalink": f"https://www.instagram.com/stories/{self.username}/{self.id}/",
            "shortcode": self.shortcode,
            "media_url": f"https://scontent.cdninstagram.com/v/t51.29350-15/{self.id}_n.jpg",
            "owner": {"id": self.account_id},
        }


class StoryData:
    """The live stories of every account of a ``SandboxData``."""

    def __init__(self, data: SandboxData, few_viewers: bool = True) -> None:
        self.data = data
        self.few_viewers = few_viewers  # False: even the newest story has enough viewers
        self._stories = {account.id: self._account_stories(account) for account in data.accounts}
        self.by_id = {story.id: story for stories in self._stories.values() for story in stories}

    def _account_stories(self, account: Account) -> list[Story]:
        """Four to nine stories in the last 24 hours, newest first; the newest has few viewers."""
        rng = random.Random(f"{self.data.seed}|stories|{account.id}|{self.data.as_of}")
        count = rng.randint(4, 9)
        ages = sorted(rng.randint(2 * 3600, 23 * 3600) for _ in range(count - 1))
        ages.insert(0, rng.randint(5 * 60, 40 * 60))
        stories = []
        for number, age in enumerate(ages):
            when = self.data.now - dt.timedelta(seconds=age)
            story_id = f"18200{account.index:03d}{self.data.as_of.toordinal():07d}{number:02d}"
            reach = self._reach(rng, account, age)
            reach = 3 if number == 0 and self.few_viewers else reach
            code = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(11))
            media_type = "VIDEO" if rng.random() < 0.4 else "IMAGE"
            stories.append(Story(story_id, account.id, account.username, when, media_type, code,
                                 _metrics(rng, reach)))
        return stories

    @staticmethod
    def _reach(rng: random.Random, account: Account, age: int) -> int:
        """Accounts reached so far: most viewers come in the first hours."""
        final = account.followers_count * rng.uniform(0.01, 0.04)
        return round(final * (1 - math.exp(-age / 14_400)))

    def stories_for(self, account_id: str) -> list[Story]:
        """An account's live stories, newest first, as ``/stories`` lists them."""
        return self._stories.get(account_id, [])

    def expected(self, account_id: str) -> dict[str, Any]:
        """The truth for one fetch of an account's stories (NULL metrics for few viewers)."""
        stories = self.stories_for(account_id)
        shown = [story for story in stories if not story.few_viewers]
        return {
            "stories": len(stories),
            "without_insights": len(stories) - len(shown),
            **{f"{m}_sum": sum(s.insights[m] for s in shown) for m in STORY_MAPPED},
            "ids": [story.id for story in stories],
        }


def _metrics(rng: random.Random, reach: int) -> dict[str, int]:
    """A story's STORY-column metrics for a reach."""
    replies, shares = round(reach * rng.uniform(0.0005, 0.003)), round(reach * rng.uniform(0.001, 0.01))
    follows, visits = round(reach * rng.uniform(0.0002, 0.001)), round(reach * rng.uniform(0.002, 0.01))
    return {
        "views": round(reach * rng.uniform(1.1, 1.5)) if reach else 0,
        "reach": reach,
        "replies": replies,
        "shares": shares,
        "total_interactions": replies + shares,
        "navigation": round(reach * rng.uniform(0.6, 1.2)),
        "follows": follows,
        "profile_visits": visits,
        "profile_activity": round(visits * rng.uniform(0.1, 0.4)),
    }


def story_fields(story: Story, fields: list[str]) -> dict[str, Any]:
    """A story node with only the requested fields."""
    values = story.values()
    for name in fields:
        if name not in values:
            raise nonexisting(name, "IGMedia")
    return {name: values[name] for name in fields}


def story_insights(story: Story, spec: str | None) -> dict[str, Any]:
    """``/{story-id}/insights``: code 10 below five viewers; feed-only metrics are refused."""
    metrics = [m.strip() for m in (spec or "").split(",") if m.strip()]
    if not metrics:
        raise GraphError("(#100) The parameter metric is required")
    for index, metric in enumerate(metrics):
        if metric in FEED_ONLY:
            raise unsupported_metric(metric)
        if metric not in STORY_METRICS:
            raise GraphError(f"(#100) metric[{index}] must be one of the following values: "
                             + ", ".join(STORY_METRICS))
    if story.few_viewers:
        raise GraphError(NOT_ENOUGH_VIEWERS, code=10)
    return {"data": [
        {"name": m, "period": "lifetime", "values": [{"value": story.insights[m]}],
         "title": m.replace("_", " ").capitalize(), "description": f"Story {m}",
         "id": f"{story.id}/insights/{m}/lifetime"}
        for m in metrics
    ]}
