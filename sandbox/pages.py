"""Seeded Facebook Pages: the Pages owning the sandbox's Instagram accounts, their posts and insights.

Everything is a pure function of the ``SandboxData`` (seed, as_of). Posts are generated per
Jakarta day like the Instagram media (a post keeps its id, text and type when ``as_of``
moves; only its counters grow, saturating after three days). Page insights are daily values
per platform (US Pacific) day. The wire shapes follow the Graph API: ``shares`` is absent when
0, reaction and comment totals come as ``summary.total_count`` of a ``.limit(0)`` edge.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import re
from dataclasses import dataclass, field
from typing import Any

from sandbox.captions import make_caption
from sandbox.data import JAKARTA, UTC, WINDOW_DAYS, Account, SandboxData, platform_day_end
from sandbox.wire import GraphError, nonexisting, split_fields

# Page insights usable in 2026 (reference section 2.4); anything else is refused.
PAGE_METRICS = (
    "page_media_view",
    "page_total_media_view_unique",
    "page_follows",
    "page_daily_follows",
    "page_daily_follows_unique",
    "page_daily_unfollows_unique",
    "page_post_engagements",
    "page_views_total",
    "page_video_views",
    "page_total_actions",
)
POST_METRICS = ("post_media_view", "post_total_media_view_unique")
MAX_PAGE_WINDOW = 8_035_200  # 93 days
INVALID_METRIC = "(#100) The value must be a valid insights metric"
NO_INSIGHTS_PERMISSION = "(#10) This endpoint requires the 'read_insights' permission"
# (username, followers, legacy Page likes, posts per day) by Instagram account index
PAGE_SPECS = {1: ("PemkotTangerang", 186_420, 171_305, 1.6), 2: ("TangerangTV", 61_870, 58_112, 1.2)}
STATUS_TYPES = (
    ("added_photos", 0.55), ("added_video", 0.75), ("shared_story", 0.9), ("mobile_status_update", 1.0),
)


@dataclass(frozen=True)
class FbPage:
    """A Facebook Page and the Instagram account it owns."""

    id: str
    name: str
    username: str
    followers_count: int
    fan_count: int
    account_id: str
    posts_per_day: float

    @property
    def link(self) -> str:
        """The Page's public URL."""
        return f"https://www.facebook.com/{self.username}"


@dataclass(frozen=True)
class Post:
    """One published post with its lifetime counters at ``as_of``."""

    id: str
    page_id: str
    created: dt.datetime
    status_type: str
    message: str | None
    permalink_url: str
    counts: dict[str, int] = field(default_factory=dict)  # reactions, comments, shares, insights

    @property
    def created_time(self) -> str:
        """Meta's timestamp format, e.g. ``2026-11-20T03:15:00+0000``."""
        return self.created.strftime("%Y-%m-%dT%H:%M:%S+0000")


def _grown(age: dt.timedelta) -> float:
    """Share of a post's lifetime total reached at this age; 1 after three days."""
    hours = max(age.total_seconds() / 3600, 0.0)
    return min(1.0, (1 - math.exp(-hours / 12)) / (1 - math.exp(-6)))


class PageData:
    """Pages, posts and daily Page insights derived from a ``SandboxData``."""

    def __init__(self, data: SandboxData, posts_per_page: int | None = None) -> None:
        self.data = data
        self.insights_denied: set[str] = set()  # Pages whose token lacks read_insights
        self.pages = [self._page(account, posts_per_page) for account in data.accounts]
        self.pages_by_id = {page.id: page for page in self.pages}
        self._posts = {page.id: self._page_posts(page) for page in self.pages}
        self.posts_by_id = {post.id: post for posts in self._posts.values() for post in posts}

    def _rng(self, *key: object) -> random.Random:
        return random.Random("|".join(map(str, (self.data.seed, "facebook", *key))))

    def _page(self, account: Account, posts: int | None) -> FbPage:
        """The Page owning an Instagram account; extra accounts get generated figures."""
        rng = self._rng(account.page_id)
        username, followers, fans, per_day = PAGE_SPECS.get(
            account.index,
            (f"SandboxPage{account.index}", rng.randint(3_000, 40_000), rng.randint(3_000, 40_000), 0.6),
        )
        if posts is not None:
            per_day = posts / WINDOW_DAYS
        return FbPage(account.page_id, account.name, username, followers, fans, account.id, per_day)

    def _page_posts(self, page: FbPage) -> list[Post]:
        """All posts of one Page at ``as_of``, newest first."""
        slots = max(4, math.ceil(page.posts_per_day * 2))
        first_day = (self.data.now - dt.timedelta(days=WINDOW_DAYS)).date()
        posts = []
        for offset in range(WINDOW_DAYS):
            day = first_day + dt.timedelta(days=offset)
            rng = self._rng(page.id, day.isoformat())
            for slot in range(sum(rng.random() < page.posts_per_day / slots for _ in range(slots))):
                local = dt.datetime.combine(day, dt.time(6), JAKARTA) + dt.timedelta(
                    seconds=rng.randint(0, 16 * 3600))
                posts.append(self._post(page, local.astimezone(UTC), slot))
        return sorted(posts, key=lambda post: (post.created, post.id), reverse=True)

    def _post(self, page: FbPage, when: dt.datetime, slot: int) -> Post:
        """One post; its text and type are keyed by its id, its counters by its age."""
        day = when.astimezone(JAKARTA).date()
        post_id = f"{page.id}_1220{page.id[-3:]}{day.toordinal():07d}{slot:02d}"
        rng = self._rng(post_id)
        roll = rng.random()
        status = next(kind for kind, bound in STATUS_TYPES if roll < bound)
        reach = page.followers_count * 0.05 * rng.lognormvariate(0, 0.5)
        reactions = reach * rng.uniform(0.01, 0.05)
        final = {
            "post_total_media_view_unique": reach,
            "post_media_view": reach * rng.uniform(1.2, 2.0),
            "reactions": reactions,
            "comments": reactions * rng.uniform(0.02, 0.15),
            "shares": 0.0 if rng.random() < 0.3 else reach * rng.uniform(0.001, 0.01),
        }
        grow = _grown(self.data.now - when)
        counts = {name: round(value * grow) for name, value in final.items()}
        url = f"https://www.facebook.com/{page.username}/posts/{post_id.split('_')[1]}"
        return Post(post_id, page.id, when, status, make_caption(rng, when.year), url, counts)

    def posts_for(self, page_id: str) -> list[Post]:
        """A Page's posts, newest first, as published_posts lists them."""
        return self._posts[page_id]

    def daily(self, page_id: str, day: dt.date) -> dict[str, int]:
        """Page insights for one platform (US Pacific) day."""
        page = self.pages_by_id[page_id]
        rng = self._rng(page_id, day.isoformat(), "daily")
        views = round(page.followers_count * rng.uniform(0.15, 0.4))
        follows = rng.randint(10, 90) * page.followers_count // 100_000
        values = {
            "page_media_view": views,
            "page_total_media_view_unique": round(views * rng.uniform(0.45, 0.7)),
            "page_follows": page.followers_count - (self.data.as_of - day).days * 40,
            "page_daily_follows": follows + rng.randint(0, 5),
            "page_daily_follows_unique": follows,
            "page_daily_unfollows_unique": rng.randint(0, follows // 3 + 1),
            "page_post_engagements": round(views * rng.uniform(0.01, 0.04)),
            "page_views_total": round(views * rng.uniform(0.02, 0.05)),
            "page_video_views": round(views * rng.uniform(0.1, 0.3)),
        }
        values["page_total_actions"] = round(values["page_views_total"] * rng.uniform(0.05, 0.2))
        return values

    def expected(self, page_id: str) -> dict[str, Any]:
        """The generator's truth for a full fetch of one Page at ``as_of``."""
        page, posts = self.pages_by_id[page_id], self.posts_for(page_id)
        insights = page_id not in self.insights_denied
        return {
            "page_id": page.id,
            "name": page.name,
            "followers_count": page.followers_count,
            "fan_count": page.fan_count,
            "link": page.link,
            "posts": len(posts),
            "reactions_sum": sum(p.counts["reactions"] for p in posts),
            "comments_sum": sum(p.counts["comments"] for p in posts),
            "shares_sum": sum(p.counts["shares"] for p in posts),
            "posts_without_shares": sum(p.counts["shares"] == 0 for p in posts),
            "views_sum": sum(p.counts["post_media_view"] for p in posts) if insights else None,
            "reach_sum": sum(p.counts["post_total_media_view_unique"] for p in posts) if insights else None,
        }


def page_node(page: FbPage) -> dict[str, Any]:
    """The Page fields beyond the ones ``wire.page_values`` gives."""
    return {"followers_count": page.followers_count, "fan_count": page.fan_count, "link": page.link,
            "username": page.username}


def parse_page_metrics(spec: str | None, allowed: tuple[str, ...]) -> list[str]:
    """A metric list of a Page or post insights call; one unknown metric fails the call."""
    metrics = [m.strip() for m in (spec or "").split(",") if m.strip()]
    if not metrics:
        raise GraphError("(#100) The parameter metric is required")
    if any(metric not in allowed for metric in metrics):
        raise GraphError(INVALID_METRIC)
    return metrics


def _edge_summary(field_spec: str, total: int, summary: dict[str, Any]) -> dict[str, Any]:
    """A ``reactions``/``comments`` edge: no items (``.limit(0)``), the total if asked."""
    out: dict[str, Any] = {"data": []}
    if ".summary(" in field_spec:
        out["summary"] = {**summary, "total_count": total}
    return out


def insight_item(node_id: str, metric: str, value: int, period: str = "lifetime",
                 end_time: str | None = None) -> dict[str, Any]:
    """One insight item as Meta writes it."""
    values: dict[str, Any] = {"value": value}
    if end_time is not None:
        values["end_time"] = end_time
    title = metric.removeprefix("page_").removeprefix("post_").replace("_", " ").capitalize()
    return {"name": metric, "period": period, "values": [values], "title": title,
            "description": f"{title} ({period})", "id": f"{node_id}/insights/{metric}/{period}"}


def post_values(post: Post, fields: list[str], insights_denied: bool) -> dict[str, Any]:
    """One post with only the requested fields; absent values are omitted like Meta."""
    shares = post.counts["shares"]
    plain: dict[str, Any] = {
        "id": post.id, "created_time": post.created_time, "message": post.message,
        "permalink_url": post.permalink_url, "status_type": post.status_type,
        "is_published": True, "shares": {"count": shares} if shares else None,
        "full_picture": None if post.status_type == "mobile_status_update"
        else f"https://scontent.xx.fbcdn.net/v/t39.30808-6/{post.id}_n.jpg",
    }
    out: dict[str, Any] = {}
    for spec in fields:
        name = re.split(r"[.{]", spec, maxsplit=1)[0]
        if name == "reactions":
            out[name] = _edge_summary(spec, post.counts["reactions"], {"viewer_reaction": "NONE"})
        elif name == "comments":
            out[name] = _edge_summary(spec, post.counts["comments"], {"order": "ranked", "can_comment": True})
        elif name == "insights":
            out[name] = post_insights(post, re.search(r"\.metric\(([^)]*)\)", spec), insights_denied)
        elif name not in plain:
            raise nonexisting(name, "PagePost")
        elif plain[name] is not None:
            out[name] = plain[name]
    return out


def post_insights(post: Post, metrics: re.Match[str] | str | None, denied: bool) -> dict[str, Any]:
    """A post's lifetime insights (nested or from ``/{post-id}/insights``)."""
    if denied:
        raise GraphError(NO_INSIGHTS_PERMISSION, code=10, kind="OAuthException", status=403)
    spec = metrics.group(1) if isinstance(metrics, re.Match) else metrics
    names = parse_page_metrics(spec, POST_METRICS)
    return {"data": [insight_item(post.id, m, post.counts[m]) for m in names]}


def page_insights(pages: PageData, page_id: str, metric_spec: str | None,
                  days: list[dt.date]) -> list[dict[str, Any]]:
    """Daily Page insight items, one value per platform day."""
    if page_id in pages.insights_denied:
        raise GraphError(NO_INSIGHTS_PERMISSION, code=10, status=403)
    items = []
    for metric in parse_page_metrics(metric_spec, PAGE_METRICS):
        item = insight_item(page_id, metric, 0, "day")
        item["values"] = [
            {"value": pages.daily(page_id, day)[metric],
             "end_time": platform_day_end(day).strftime("%Y-%m-%dT%H:%M:%S+0000")}
            for day in days
        ]
        items.append(item)
    return items


def fields_of(query: dict[str, str], default: str = "id") -> list[str]:
    """The ``fields`` of a request, split on top-level commas."""
    return split_fields(query.get("fields", default))
