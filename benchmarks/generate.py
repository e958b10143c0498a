"""Seeded raw zone for the benchmark: Instagram Graph API pages exactly as the API returns them.

Per account and snapshot day one raw run, landed with the pipeline's own ``RawWriter``: the
account body, then media listing pages of 25 to 100 items with ``insights.metric(views,reach,
saved,shares)`` expanded inline (Meta's JSON: compact, ASCII-escaped, ``\\/``), captions up to
2,200 characters with emoji and newlines. The same posts come back every day with counters
that grow while a post is young. The expected totals are written to ``truth.json``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import math
import random
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.captions import caption
from connectors.base import RawResponse
from connectors.instagram import ACCOUNT_FIELDS, MEDIA_FIELDS, NESTED_INSIGHTS, PAGE_SIZE
from sandbox.server import encode
from sandbox.wire import METRIC_TEXT
from socmed.rawzone import RawWriter

FIRST_DAY = dt.date(2026, 11, 20)  # first snapshot date (Asia/Jakarta)
JAKARTA = dt.timezone(dt.timedelta(hours=7))
GRAPH = "https://graph.facebook.com/v24.0"
INSIGHTS = ("views", "reach", "saved", "shares")
TYPES = (("IMAGE", "FEED", 0.45), ("CAROUSEL_ALBUM", "FEED", 0.20), ("VIDEO", "REELS", 0.35))
HIDDEN_LIKES = 0.03  # like_count omitted (likes hidden): NULL, never 0
METRICS = ("views", "reach", "likes", "comments", "shares", "saves")


@dataclass(frozen=True)
class Size:
    """A benchmark size: accounts x posts x snapshot days post-snapshots."""

    name: str
    accounts: int
    posts: int
    days: int

    @property
    def snapshots(self) -> int:
        """Post-snapshots (content_metrics_daily rows) of the size."""
        return self.accounts * self.posts * self.days


SIZES = {
    "10k": Size("10k", 4, 500, 5),
    "200k": Size("200k", 40, 1000, 5),
    "2m": Size("2m", 400, 1000, 5),
}


@dataclass(frozen=True)
class Post:
    """What stays fixed about a post; counters are derived per snapshot day."""

    id: str
    caption: str | None
    media_type: str
    product: str
    published: dt.datetime
    final: dict[str, int]
    hide_likes: bool


@dataclass
class Truth:
    """Expected warehouse totals after loading the generated raw zone."""

    content: int = 0
    content_metrics_daily: int = 0
    channel: int = 0
    channel_metrics_daily: int = 0
    sums: dict[str, int] = field(default_factory=lambda: dict.fromkeys(METRICS, 0))
    followers: int = 0
    responses: int = 0
    raw_bytes: int = 0


def account_id(index: int) -> str:
    """The IG user id of benchmark account ``index``."""
    return str(17_841_400_000_000_000 + index)


def make_posts(seed: int, account: int, count: int) -> list[Post]:
    """An account's posts, newest first, one every ~14 hours before the first snapshot."""
    newest = dt.datetime.combine(FIRST_DAY, dt.time(6), JAKARTA).astimezone(dt.UTC)
    return [_post(random.Random(f"{seed}/{account}/{i}"), account, i, newest) for i in range(count)]


def _post(rng: random.Random, account: int, index: int, newest: dt.datetime) -> Post:
    """One post of an account."""
    media_type, product = rng.choices([t[:2] for t in TYPES], [t[2] for t in TYPES])[0]
    published = newest - dt.timedelta(hours=14 * index + rng.randint(0, 600) / 60)
    views = int(rng.lognormvariate(8.5, 1.1))
    final = {
        "views": views,
        "reach": int(views * rng.uniform(0.4, 0.8)),
        "likes": int(views * rng.uniform(0.02, 0.08)),
        "comments": int(views * rng.uniform(0.001, 0.01)),
        "saves": int(views * rng.uniform(0.001, 0.02)),
        "shares": int(views * rng.uniform(0.001, 0.02)),
    }
    post_id = str(17_900_000_000_000_000 + account * 10_000_000 + index)
    text = caption(rng, published.year)
    return Post(post_id, text, media_type, product, published, final, rng.random() < HIDDEN_LIKES)


def counters(post: Post, fetched: dt.datetime) -> dict[str, int]:
    """Lifetime counters at fetch time: they grow for a few weeks, then barely move."""
    age = max((fetched - post.published).total_seconds() / 86_400, 0.0)
    share = 1.0 - 0.9 * math.exp(-age / 4.0)
    return {name: int(value * share) for name, value in post.final.items()}


def media_item(post: Post, fetched: dt.datetime) -> dict[str, Any]:
    """One media node as the listing returns it, insights nested."""
    values = counters(post, fetched)
    shortcode = base64.urlsafe_b64encode(hashlib.sha1(post.id.encode()).digest()[:8]).decode().rstrip("=")
    item: dict[str, Any] = {"id": post.id}
    if post.caption is not None:
        item["caption"] = post.caption
    item |= {
        "media_type": post.media_type,
        "media_product_type": post.product,
        "timestamp": post.published.strftime("%Y-%m-%dT%H:%M:%S+0000"),
        "permalink": f"https://www.instagram.com/p/{shortcode}/",
        "shortcode": shortcode,
    }
    if not post.hide_likes:
        item["like_count"] = values["likes"]
    item["comments_count"] = values["comments"]
    item["insights"] = {
        "data": [_insight(post.id, m, values["saves" if m == "saved" else m]) for m in INSIGHTS]
    }
    return item


def _insight(media: str, metric: str, value: int) -> dict[str, Any]:
    """One lifetime media insight item."""
    title, description = METRIC_TEXT[metric]
    return {
        "name": metric,
        "period": "lifetime",
        "values": [{"value": value}],
        "title": title,
        "description": description,
        "id": f"{media}/insights/{metric}/lifetime",
    }


def media_pages(
    rng: random.Random, account: str, posts: list[Post], fetched: dt.datetime
) -> Iterator[dict[str, Any]]:
    """The listing, in pages of 25 to 100 items, with Meta's cursors and redacted next links."""
    start = 0
    while start < len(posts):
        size = rng.randint(25, PAGE_SIZE)
        chunk = posts[start : start + size]
        before, after = (base64.b64encode(f"c{start}:{start + len(chunk)}".encode()).decode(),) * 2
        page: dict[str, Any] = {"data": [media_item(p, fetched) for p in chunk]}
        page["paging"] = {"cursors": {"before": before, "after": after}}
        start += len(chunk)
        if start < len(posts):
            page["paging"]["next"] = (
                f"{GRAPH}/{account}/media?access_token=REDACTED&fields={MEDIA_FIELDS},{NESTED_INSIGHTS}"
                f"&limit={PAGE_SIZE}&after={after}"
            )
        yield page


def account_body(index: int, day_number: int, posts: int) -> dict[str, Any]:
    """The IG User fields of an account on a snapshot day (followers grow a little daily)."""
    return {
        "id": account_id(index),
        "username": f"kota_bench_{index:04d}",
        "name": f"Kota Bench {index}",
        "website": "https://www.tangerangkota.go.id/",
        "profile_picture_url": f"https://scontent.cdninstagram.com/v/bench/{index}.jpg",
        "followers_count": 50_000 + 137 * index + 211 * day_number,
        "follows_count": 100 + index % 50,
        "media_count": posts,
    }


def fetch_time(day: dt.date, index: int) -> dt.datetime:
    """When an account's run starts on a snapshot day: 00:05 Jakarta plus a few seconds."""
    start = dt.datetime.combine(day, dt.time(0, 5), JAKARTA) + dt.timedelta(seconds=3 * index)
    return start.astimezone(dt.UTC)


def write_run(
    data_dir: Path, seed: int, index: int, day_number: int, posts: list[Post], truth: Truth
) -> None:
    """Land one account's run for one snapshot day."""
    account = account_id(index)
    fetched = fetch_time(FIRST_DAY + dt.timedelta(days=day_number), index)
    run_id = (
        f"{fetched:%Y%m%dT%H%M%SZ}-{hashlib.sha1(f'{seed}/{index}/{day_number}'.encode()).hexdigest()[:6]}"
    )
    writer = RawWriter(data_dir, "instagram", account, run_id, fetched.date())
    fields = f"fields={ACCOUNT_FIELDS}"
    bodies: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
        (
            "account",
            f"{GRAPH}/{account}?access_token=REDACTED&{fields}",
            account_body(index, day_number, len(posts)),
            {},
        )
    ]
    rng = random.Random(f"{seed}/pages/{index}/{day_number}")
    url = f"{GRAPH}/{account}/media?access_token=REDACTED&fields={MEDIA_FIELDS},{NESTED_INSIGHTS}"
    url += f"&limit={PAGE_SIZE}"
    bodies += [
        ("media", url, page, {"insights": "nested"}) for page in media_pages(rng, account, posts, fetched)
    ]
    for number, (stream, link, body, context) in enumerate(bodies):
        at = fetched + dt.timedelta(milliseconds=350 * number)
        raw = encode(body)
        writer.write(RawResponse("instagram", account, stream, "GET", link, 200, at, raw, 180.0, 1, context))
        truth.responses += 1
        truth.raw_bytes += len(raw)
    _count(truth, posts, fetched, day_number, index)


def _count(truth: Truth, posts: list[Post], fetched: dt.datetime, day_number: int, index: int) -> None:
    """Add one run's rows and sums to the expected totals."""
    truth.content_metrics_daily += len(posts)
    truth.channel_metrics_daily += 1
    truth.followers += account_body(index, day_number, len(posts))["followers_count"]
    for post in posts:
        values = counters(post, fetched)
        for name in METRICS:
            if name != "likes" or not post.hide_likes:
                truth.sums[name] += values[name]


def generate(root: Path, size: Size, seed: int = 42) -> Path:
    """The dataset folder for (size, seed), generated unless a complete one is already there."""
    data_dir = root / f"{size.name}-seed{seed}"
    if (data_dir / "truth.json").exists():
        return data_dir
    shutil.rmtree(data_dir, ignore_errors=True)  # an interrupted generation starts over
    truth = Truth(content=size.accounts * size.posts, channel=size.accounts)
    for index in range(size.accounts):
        posts = make_posts(seed, index, size.posts)
        for day_number in range(size.days):
            write_run(data_dir, seed, index, day_number, posts, truth)
    (data_dir / "truth.json").write_text(json.dumps(asdict(truth), indent=1))
    return data_dir


def load_truth(data_dir: Path) -> Truth:
    """The expected totals written next to a generated raw zone."""
    return Truth(**json.loads((data_dir / "truth.json").read_text()))
