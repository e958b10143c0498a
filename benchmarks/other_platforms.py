"""TikTok (Display API v2 ``video/list``) and YouTube (Data API v3 ``videos.list``) raw pages.

Generated with the same accounts x posts x days shape as the Instagram raw zone, landed with
``RawWriter`` under the stream names the tree's transforms read, then parsed (orjson) and
normalised by the registered platform transform, when the tree has one: in batches of runs
when it has a several-run transform (as reprocessing runs it), else run by run.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from pathlib import Path
from typing import Any

import orjson

from benchmarks.captions import caption
from benchmarks.generate import FIRST_DAY, Size, fetch_time
from connectors.base import RawResponse
from socmed.batches import plan_batches, read_slice
from socmed.rawzone import RawWriter, list_runs, read_body, read_run
from transforms.common import ChannelRef

TIKTOK_PAGE, YOUTUBE_PAGE = 20, 50  # video/list max_count; videos.list ids per call
BATCH_MB = 64  # the reprocess batch budget the benchmark gives our pipeline at 200k


def _video(rng: random.Random, platform: str, account: int, index: int, day: int) -> dict[str, Any]:
    """One video's fields as the platform returns them on snapshot day ``day``."""
    published = dt.datetime(2026, 11, 19, 6, tzinfo=dt.UTC) - dt.timedelta(hours=20 * index)
    views = int(rng.lognormvariate(8, 1.2)) * (10 + day) // 10
    text = caption(rng, published.year) or ""
    vid = f"{7_400_000_000_000_000_000 + account * 100_000 + index}"
    if platform == "tiktok":
        return {
            "id": vid,
            "create_time": int(published.timestamp()),
            "title": text[:150],
            "video_description": text,
            "duration": rng.randint(8, 180),
            "share_url": f"https://www.tiktok.com/@bench{account}/video/{vid}",
            "view_count": views,
            "like_count": views // 12,
            "comment_count": views // 300,
            "share_count": views // 150,
        }
    stats = {
        "viewCount": str(views),
        "likeCount": str(views // 25),
        "favoriteCount": "0",
        "commentCount": str(views // 400),
    }
    snippet = {
        "publishedAt": published.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "channelId": _account_id("youtube", account),
        "title": text[:100],
        "description": text,
        "tags": ["tangerang"],
        "categoryId": "25",
        "liveBroadcastContent": "none",
        "channelTitle": f"Bench {account}",
    }
    details = {
        "duration": f"PT{rng.randint(0, 12)}M{rng.randint(1, 59)}S",
        "dimension": "2d",
        "definition": "hd",
        "caption": "false",
        "licensedContent": False,
        "projection": "rectangular",
    }
    return {
        "kind": "youtube#video",
        "etag": f"e{index}",
        "id": f"yt{account:04d}{index:07d}",
        "snippet": snippet,
        "contentDetails": details,
        "statistics": stats,
    }


def _account_id(platform: str, account: int) -> str:
    """The account id: a TikTok open_id or a YouTube channel id."""
    return f"bench{account}" if platform == "tiktok" else f"UCbench{account:06d}"


def _account_body(platform: str, account: int, day: int, posts: int) -> tuple[str, dict[str, Any]]:
    """The profile response: TikTok ``user/info`` or YouTube ``channels.list``."""
    if platform == "tiktok":
        user = {
            "open_id": _account_id(platform, account),
            "display_name": f"Bench {account}",
            "follower_count": 15_000 + day,
            "following_count": 40,
            "likes_count": 900_000,
            "video_count": posts,
        }
        return "user", {"data": {"user": user}, "error": {"code": "ok", "message": "", "log_id": "bench"}}
    stats = {
        "viewCount": "1000000",
        "subscriberCount": "12300",
        "hiddenSubscriberCount": False,
        "videoCount": str(posts),
    }
    item = {
        "kind": "youtube#channel",
        "id": _account_id(platform, account),
        "statistics": stats,
        "snippet": {"title": f"Bench {account}", "customUrl": f"@bench{account}"},
    }
    return "channel", {"kind": "youtube#channelListResponse", "items": [item]}


def _pages(platform: str, account: int, day: int, posts: int, seed: int) -> list[tuple[str, dict[str, Any]]]:
    """One run's responses: the profile, then the video pages."""
    videos = [
        _video(random.Random(f"{seed}/{platform}/{account}/{i}"), platform, account, i, day)
        for i in range(posts)
    ]
    size = TIKTOK_PAGE if platform == "tiktok" else YOUTUBE_PAGE
    out = [_account_body(platform, account, day, posts)]
    for start in range(0, posts, size):
        chunk = videos[start : start + size]
        if platform == "tiktok":
            data = {"videos": chunk, "cursor": 1_763_000_000_000 - start, "has_more": start + size < posts}
            out.append(("videos", {"data": data, "error": {"code": "ok", "message": "", "log_id": "b"}}))
        else:
            info = {"totalResults": len(chunk), "resultsPerPage": len(chunk)}
            out.append(("videos", {"kind": "youtube#videoListResponse", "items": chunk, "pageInfo": info}))
    return out


def generate(root: Path, size: Size, seed: int = 42) -> Path:
    """The TikTok and YouTube raw zone for a size (cached like the Instagram one)."""
    data_dir = root / f"{size.name}-seed{seed}-tiktok-youtube"
    if (data_dir / "done.json").exists():
        return data_dir
    for platform in ("tiktok", "youtube"):
        for account in range(size.accounts):
            for day in range(size.days):
                _land(data_dir, platform, account, day, _pages(platform, account, day, size.posts, seed))
    (data_dir / "done.json").write_text(json.dumps({"snapshots": size.snapshots}))
    return data_dir


def _land(
    data_dir: Path, platform: str, account: int, day: int, pages: list[tuple[str, dict[str, Any]]]
) -> None:
    """Land one run's responses with the pipeline's own writer."""
    fetched = fetch_time(FIRST_DAY + dt.timedelta(days=day), account)
    key = _account_id(platform, account)
    run_id = f"{fetched:%Y%m%dT%H%M%SZ}-{platform[:2]}{account:04d}"
    writer = RawWriter(data_dir, platform, key, run_id, fetched.date())
    for number, (stream, body) in enumerate(pages):
        at = fetched + dt.timedelta(milliseconds=300 * number)
        raw = json.dumps(body, separators=(",", ":")).encode()
        writer.write(RawResponse(platform, key, stream, "GET", f"https://bench/{stream}", 200, at, raw))


def measure(data_dir: Path, platform: str) -> dict[str, Any]:
    """Seconds to parse (orjson) and to normalise (the registered transform) every run."""
    from socmed.platforms import REGISTRY, get_platform

    runs = list_runs(data_dir, platform)
    start = time.perf_counter()
    for run in runs:
        for body in sorted(run.glob("*.json.gz")):
            orjson.loads(read_body(body))
    parse = time.perf_counter() - start
    if platform not in REGISTRY:
        return {"parse": parse, "normalise": None, "rows": 0, "note": "no transform in the tree: parse only"}
    found = get_platform(platform)
    rows, start = 0, time.perf_counter()
    if found.transform_runs is not None:  # as reprocessing runs it: a batch of runs per call
        for batch in plan_batches(runs, BATCH_MB * 1024 * 1024):
            inputs = [(read_slice(data_dir, p), _channel(platform, p.metas[0])) for p in batch.slices]
            rows += found.transform_runs(inputs).frames["content_metrics_daily"].height
    else:
        for run in runs:
            responses = list(read_run(data_dir, run))
            rows += found.transform(responses, _channel(platform, responses[0].meta)).frames[
                "content_metrics_daily"
            ].height
    return {
        "parse": parse,
        "normalise": time.perf_counter() - start,
        "rows": rows,
        "note": f"registered transform, {'batches of runs' if found.transform_runs else 'run by run'}",
    }


def _channel(platform: str, meta: dict[str, Any]) -> ChannelRef:
    """The channel of a raw response, named by its account."""
    return ChannelRef(platform, str(meta["account"]), str(meta["account"]))
