"""Seeded synthetic Instagram data: the single source of truth for sandbox bodies and tests.

Everything is a pure function of ``(seed, as_of)``. Media are generated per Jakarta day
(keyed by seed, account and date), so the same post keeps its id, caption and type when
``as_of`` moves, and only its counters grow (they saturate after a week). The listing
covers ``WINDOW_DAYS`` before ``as_of`` plus a few legacy VIDEO/FEED posts dated before
2024-07-01 at the oldest end, which do not support the ``views`` insight.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import string
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.captions import make_caption

UTC = dt.UTC
JAKARTA = dt.timezone(dt.timedelta(hours=7))
PACIFIC = ZoneInfo("America/Los_Angeles")
WINDOW_DAYS = 548
LEGACY_BEFORE = dt.datetime(2024, 6, 30, 12, 0, tzinfo=UTC)
FOLLOWERS_ANCHOR = dt.date(2026, 11, 27)  # followers_count equals the base value on this date
MEDIA_METRICS = (
    "views",
    "reach",
    "likes",
    "comments",
    "saved",
    "shares",
    "total_interactions",
    "follows",
    "profile_visits",
    "profile_activity",
    "ig_reels_avg_watch_time",
    "ig_reels_video_view_total_time",
)
DAILY_METRICS = ("reach", "follower_count", "views", "accounts_engaged", "total_interactions")
_SHORTCODE = string.ascii_letters + string.digits + "_-"
# (username, name, followers at FOLLOWERS_ANCHOR, follows, media per account, biography)
BASE_ACCOUNTS = (
    (
        "tangerangkota",
        "Pemerintah Kota Tangerang",
        217_384,
        152,
        320,
        "Akun resmi Pemerintah Kota Tangerang 🏙️\nLayanan aduan: Tangerang LIVE / Call Center 112",
    ),
    (
        "tangerangtv",
        "Tangerang TV",
        114_206,
        87,
        240,
        "Kanal berita & hiburan Kota Tangerang 📺\n#AyoKeTangerang",
    ),
)


@dataclass(frozen=True)
class Account:
    """An Instagram professional account and the Facebook Page that owns it."""

    index: int
    id: str
    username: str
    name: str
    biography: str
    website: str
    followers_count: int
    follows_count: int
    media_count: int
    ig_id: int
    page_id: str
    target_media: int

    @property
    def profile_picture_url(self) -> str:
        """A CDN-shaped profile picture URL."""
        return f"https://scontent.cdninstagram.com/v/t51.2885-19/{self.ig_id}_n.jpg"


@dataclass(frozen=True)
class Media:
    """One post with its lifetime counters at ``as_of``; ``insights`` holds supported metrics."""

    id: str
    account_id: str
    timestamp: dt.datetime
    media_type: str
    media_product_type: str
    caption: str | None
    shortcode: str
    hidden_likes: bool
    children: tuple[str, ...]
    insights: dict[str, int]

    @property
    def like_count(self) -> int | None:
        """The ``like_count`` field, or None when the like count is hidden."""
        return None if self.hidden_likes else self.insights["likes"]

    @property
    def comments_count(self) -> int:
        """The ``comments_count`` field."""
        return self.insights["comments"]

    @property
    def timestamp_str(self) -> str:
        """Meta's timestamp format, e.g. ``2026-11-20T03:15:00+0000``."""
        return self.timestamp.strftime("%Y-%m-%dT%H:%M:%S+0000")

    @property
    def permalink(self) -> str:
        """The public post URL (``/reel/`` for reels)."""
        kind = "reel" if self.media_product_type == "REELS" else "p"
        return f"https://www.instagram.com/{kind}/{self.shortcode}/"

    def supports(self, metric: str) -> bool:
        """Whether the media insights API answers this metric for this media."""
        return metric in self.insights


def _growth(age: dt.timedelta) -> float:
    """Share of the lifetime total reached at this age; exactly 1 after seven days."""
    hours = max(age.total_seconds() / 3600, 0.0)
    return min(1.0, (1 - math.exp(-hours / 24)) / (1 - math.exp(-7)))


def _final_metrics(rng: random.Random, product: str, legacy: bool, scale: float) -> dict[str, int]:
    """Saturated lifetime counters for one post before growth is applied."""
    median = {"REELS": 16_000, "FEED": 9_500}[product] * (0.7 if legacy else 1.0)
    reach = median * scale * rng.lognormvariate(0, 0.45)
    likes = reach * rng.uniform(0.03, 0.09)
    values = {
        "reach": reach,
        "views": reach * (rng.uniform(1.6, 3.0) if product == "REELS" else rng.uniform(1.2, 2.2)),
        "likes": likes,
        "comments": likes * rng.uniform(0.01, 0.06),
        "saved": reach * rng.uniform(0.002, 0.02),
        "shares": reach * rng.uniform(0.002, 0.03),
        "follows": reach * rng.uniform(0.0005, 0.003),
        "profile_visits": reach * rng.uniform(0.005, 0.02),
    }
    values["profile_activity"] = values["profile_visits"] * rng.uniform(0.1, 0.4)
    values["avg_watch_ms"] = rng.uniform(4_000, 15_000)
    return {name: round(value) for name, value in values.items()}


def _insights(final: dict[str, int], age: dt.timedelta, product: str, legacy: bool) -> dict[str, int]:
    """Grown counters, restricted to the metrics this media supports."""
    grow = _growth(age)
    names = ("reach", "views", "likes", "comments", "saved", "shares", "follows", "profile_visits")
    out = {name: round(final[name] * grow) for name in names}
    out["views"] = max(out["views"], out["reach"] + 1) if out["reach"] else out["views"]
    out["total_interactions"] = out["likes"] + out["comments"] + out["saved"] + out["shares"]
    if product == "REELS":
        del out["follows"], out["profile_visits"]
        out["ig_reels_avg_watch_time"] = final["avg_watch_ms"]
        out["ig_reels_video_view_total_time"] = out["views"] * final["avg_watch_ms"]
    else:
        out["profile_activity"] = round(final["profile_activity"] * grow)
    if legacy:
        del out["views"]
    return out


class SandboxData:
    """Accounts, media and daily account insights generated from ``(seed, as_of)``."""

    def __init__(
        self,
        as_of: dt.date,
        seed: int = 7,
        extra_accounts: int = 0,
        media_per_account: int | None = None,
        now: dt.datetime | None = None,
    ) -> None:
        self.as_of = as_of
        self.seed = seed
        # the sandbox's clock: midnight UTC of as_of, or a given instant (tests that need the
        # platform day that ended a few hours ago pass the real time)
        self.now = now.astimezone(UTC) if now else dt.datetime.combine(as_of, dt.time(0, 0), UTC)
        self.window_start = self.now - dt.timedelta(days=WINDOW_DAYS)
        self._media: dict[str, list[Media]] = {}
        self._base_followers: dict[str, int] = {}
        self.media_by_id: dict[str, Media] = {}
        self.accounts: list[Account] = []
        for account in self._base_accounts(extra_accounts, media_per_account):
            media = self._account_media(account)
            self._media[account.id] = media
            self.media_by_id.update((item.id, item) for item in media)
            followers = account.followers_count + self._followers_delta(account.id)
            self.accounts.append(replace(account, media_count=len(media), followers_count=followers))
        self.accounts_by_id = {account.id: account for account in self.accounts}
        self.pages_by_id = {account.page_id: account for account in self.accounts}

    def _rng(self, *key: object) -> random.Random:
        """A generator keyed by the seed and the given parts (stable across runs)."""
        return random.Random("|".join(map(str, (self.seed, *key))))

    def _base_accounts(self, extra: int, media_per_account: int | None) -> list[Account]:
        """The two city accounts plus ``extra`` generated ones (counts filled in later)."""
        specs = [*BASE_ACCOUNTS, *(self._extra_spec(n) for n in range(3, extra + 3))]
        accounts = []
        for index, (username, name, followers, follows, media, bio) in enumerate(specs, start=1):
            account_id = f"1784140100000{index:04d}"
            self._base_followers[account_id] = followers
            accounts.append(
                Account(
                    index=index,
                    id=account_id,
                    username=username,
                    name=name,
                    biography=bio,
                    website="https://tangerangkota.go.id",
                    followers_count=followers,
                    follows_count=follows,
                    media_count=0,
                    ig_id=1_234_567_800 + index,
                    page_id=f"1049{index:011d}",
                    target_media=media_per_account or media,
                )
            )
        return accounts

    def _extra_spec(self, number: int) -> tuple[str, str, int, int, int, str]:
        """A generated account spec, shaped like ``BASE_ACCOUNTS`` rows."""
        rng = self._rng("account", number)
        followers, follows = rng.randint(5_000, 80_000), rng.randint(20, 300)
        bio = f"Akun uji coba nomor {number} 🧪"
        return f"sandbox_akun{number}", f"Akun Sandbox {number}", followers, follows, 120, bio

    def _account_media(self, account: Account) -> list[Media]:
        """All media of one account at ``as_of``, newest first."""
        per_day = account.target_media / WINDOW_DAYS
        if per_day > 45:
            raise ValueError("at most 45 media per day per account are supported")
        slots = max(4, math.ceil(per_day * 2))
        scale = account.followers_count / BASE_ACCOUNTS[0][2]
        items = []
        first_day = (self.now - dt.timedelta(days=WINDOW_DAYS)).date()
        for offset in range(WINDOW_DAYS):
            day = first_day + dt.timedelta(days=offset)
            rng = self._rng(account.id, day.isoformat(), "media")
            for slot in range(sum(rng.random() < per_day / slots for _ in range(slots))):
                local = dt.datetime.combine(day, dt.time(6), JAKARTA) + dt.timedelta(
                    seconds=rng.randint(0, 17 * 3600 - 1)
                )
                items.append(self._media_item(account, local.astimezone(UTC), slot, scale, False))
        items.extend(self._legacy_media(account, scale))
        return sorted(items, key=lambda item: (item.timestamp, item.id), reverse=True)

    def _legacy_media(self, account: Account, scale: float) -> list[Media]:
        """Three to five VIDEO/FEED posts from before 2024-07-01 (no ``views`` insight)."""
        rng = self._rng(account.id, "legacy")
        anchor = min(self.window_start, LEGACY_BEFORE)
        items = []
        for number in range(rng.randint(3, 5)):
            when = anchor - dt.timedelta(
                days=5 + 9 * number + rng.randint(0, 6), seconds=rng.randint(0, 40_000)
            )
            items.append(self._media_item(account, when, 90 + number, scale, True))
        return items

    def _media_item(
        self, account: Account, when: dt.datetime, slot: int, scale: float, legacy: bool
    ) -> Media:
        """One post; everything but the age-dependent counters is keyed by its id."""
        day = when.astimezone(JAKARTA).date()  # ids count posting slots per Jakarta day
        media_id = f"17900{account.index:03d}{day.toordinal():07d}{slot:02d}"
        rng = self._rng(media_id)
        roll = rng.random()
        if legacy:
            media_type, product = "VIDEO", "FEED"
        elif roll < 0.48:
            media_type, product = "IMAGE", "FEED"
        elif roll < 0.69:
            media_type, product = "CAROUSEL_ALBUM", "FEED"
        else:
            media_type, product = "VIDEO", "REELS"
        children: tuple[str, ...] = ()
        if media_type == "CAROUSEL_ALBUM":
            children = tuple(f"18{media_id[4:]}{n:02d}" for n in range(rng.randint(2, 6)))
        shortcode = "".join(rng.choice(_SHORTCODE) for _ in range(11))
        caption = make_caption(rng, when.year)
        hidden = rng.random() < 1 / 40
        final = _final_metrics(rng, product, legacy, scale)
        insights = _insights(final, self.now - when, product, legacy)
        return Media(
            media_id, account.id, when, media_type, product, caption, shortcode, hidden, children, insights
        )

    def _followers_delta(self, account_id: str) -> int:
        """Net new followers between the anchor date and ``as_of`` (negative before it)."""
        anchor = dt.datetime.combine(FOLLOWERS_ANCHOR, dt.time(0, 0), UTC)
        low, high = sorted((anchor, self.now))
        total = sum(self.daily(account_id, day)["follower_count"] for day in platform_days(low, high))
        return total if self.now >= anchor else -total

    def account(self, account_id: str) -> Account:
        """The account with this id (KeyError if unknown)."""
        return self.accounts_by_id[account_id]

    def media_for(self, account_id: str) -> list[Media]:
        """The account's media, newest first, exactly as the media edge lists them."""
        return self._media[account_id]

    def daily(self, account_id: str, day: dt.date) -> dict[str, int]:
        """Account insights for one platform (US Pacific) day."""
        followers = self._base_followers[account_id]
        rng = self._rng(account_id, day.isoformat(), "daily")
        reach = round(followers * rng.uniform(0.05, 0.15))
        return {
            "reach": reach,
            "follower_count": round(followers / 217_384 * rng.randint(30, 180)),
            "views": round(reach * rng.uniform(1.8, 3.2)),
            "accounts_engaged": round(reach * rng.uniform(0.03, 0.06)),
            "total_interactions": round(reach * rng.uniform(0.05, 0.12)),
        }

    def window_total(self, account_id: str, metric: str, days: list[dt.date]) -> int:
        """A ``total_value`` over days; unique-people metrics are de-duplicated, not summed."""
        total = sum(self.daily(account_id, day)[metric] for day in days)
        if metric in ("reach", "accounts_engaged") and len(days) > 1:
            return round(total * 0.62)
        return total

    def expected(self, account_id: str) -> dict[str, Any]:
        """The generator's truth for a full fetch of one account at ``as_of``."""
        account = self.account(account_id)
        media = self.media_for(account_id)
        shown = [item.like_count for item in media if item.like_count is not None]
        return {
            "account_id": account.id,
            "username": account.username,
            "followers_count": account.followers_count,
            "follows_count": account.follows_count,
            "media_count": account.media_count,
            "like_count_sum": sum(shown),
            "hidden_like_media": len(media) - len(shown),
            "comments_count_sum": sum(item.comments_count for item in media),
            "views_sum": sum(item.insights.get("views", 0) for item in media),
            "views_unsupported_media": sum(not item.supports("views") for item in media),
            "reach_sum": sum(item.insights["reach"] for item in media),
            "saved_sum": sum(item.insights["saved"] for item in media),
            "shares_sum": sum(item.insights["shares"] for item in media),
            "media": {item.id: _media_truth(item) for item in media},
        }


def _media_truth(item: Media) -> dict[str, Any]:
    """Per-media truth as plain values (None where the API omits the number)."""
    return {
        "timestamp": item.timestamp_str,
        "media_type": item.media_type,
        "media_product_type": item.media_product_type,
        "like_count": item.like_count,
        "comments_count": item.comments_count,
        "views": item.insights.get("views"),
        "reach": item.insights["reach"],
        "saved": item.insights["saved"],
        "shares": item.insights["shares"],
    }


def platform_day_end(day: dt.date) -> dt.datetime:
    """End of a US Pacific day in UTC (07:00 or 08:00 UTC the next date)."""
    midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), PACIFIC)
    return midnight.astimezone(UTC)


def platform_days(since: dt.datetime, until: dt.datetime) -> list[dt.date]:
    """Pacific days whose end falls in ``(since, until]``; consecutive windows partition days."""
    day = (since - dt.timedelta(days=1)).date()
    days = []
    while platform_day_end(day) <= until:
        if platform_day_end(day) > since:
            days.append(day)
        day += dt.timedelta(days=1)
    return days
