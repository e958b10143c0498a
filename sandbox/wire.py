"""Meta wire shapes: error bodies, field selection, insight items and media node values."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from sandbox.data import MEDIA_METRICS, Account, Media, SandboxData, platform_day_end

USER_FIELDS = (
    "id",
    "username",
    "name",
    "biography",
    "website",
    "profile_picture_url",
    "followers_count",
    "follows_count",
    "media_count",
    "ig_id",
)
# story-only metrics are valid names that every feed/reel media rejects as unsupported
MEDIA_METRIC_NAMES = (*MEDIA_METRICS, "replies", "navigation")
DEPRECATED = {
    "impressions": "views",
    "plays": "views",
    "video_views": "views",
    "clips_replays_count": "views",
    "ig_reels_aggregated_all_plays_count": "views",
    "engagement": "total_interactions",
    "taps_forward": "navigation",
    "taps_back": "navigation",
    "exits": "navigation",
    "profile_views": "profile_links_taps",
    "website_clicks": "profile_links_taps",
    "email_contacts": "profile_links_taps",
    "phone_call_clicks": "profile_links_taps",
    "text_message_clicks": "profile_links_taps",
    "get_directions_clicks": "profile_links_taps",
}
METRIC_TEXT = {
    "views": ("Views", "The number of times your content was played or displayed."),
    "reach": ("Reach", "The number of unique accounts that have seen your content at least once."),
    "likes": ("Likes", "The number of likes on your post."),
    "comments": ("Comments", "The number of comments on your post."),
    "saved": ("Saved", "The number of saves of your post."),
    "shares": ("Shares", "The number of shares of your post."),
    "total_interactions": ("Interactions", "The number of likes, saves, comments and shares."),
    "follows": ("Follows", "The number of accounts that started following you."),
    "profile_visits": ("Profile visits", "The number of times your profile was visited."),
    "profile_activity": ("Profile activity", "The number of actions people took on your profile."),
    "ig_reels_avg_watch_time": ("Average watch time", "The average time your reel was played."),
    "ig_reels_video_view_total_time": ("Watch time", "The total time your reel was played."),
    "follower_count": ("Follower count", "The number of accounts that followed you each day."),
    "accounts_engaged": ("Accounts engaged", "The number of accounts that interacted with you."),
    "replies": ("Replies", "The number of replies to your story."),
    "navigation": ("Navigation", "The number of navigation actions taken on your story."),
}
INVALID_TOKEN = "Invalid OAuth access token - Cannot parse access token"
MAX_IDS = 50  # ids per multi-id lookup
UNSUPPORTED_GET = (
    "Unsupported get request. Please read the Graph API documentation at "
    "https://developers.facebook.com/docs/graph-api"
)
MISSING_OBJECT = (
    "Unsupported get request. Object with ID '{}' does not exist, cannot be loaded due to "
    "missing permissions, or does not support this operation."
)


class GraphError(Exception):
    """A Meta error reply: ``{"error": {...}}`` with an HTTP status (400 unless stated)."""

    def __init__(
        self,
        message: str,
        code: int = 100,
        subcode: int | None = None,
        kind: str = "OAuthException",
        status: int = 400,
    ) -> None:
        super().__init__(message)
        self.error: dict[str, Any] = {"message": message, "type": kind, "code": code}
        if subcode is not None:
            self.error["error_subcode"] = subcode
        self.status = status


def split_fields(spec: str) -> list[str]:
    """Split a ``fields`` value on top-level commas (``insights.metric(a,b)`` stays whole)."""
    parts, depth, current = [], 0, ""
    for char in spec:
        depth += (char in "({") - (char in ")}")
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return [part for part in parts if part]


def unsupported_metric(metric: str) -> GraphError:
    """The error Meta returns when a media type does not support a metric."""
    return GraphError(
        f"(#100) The Media Insights API does not support the {metric} metric for this media product type"
    )


def nonexisting(field: str, node: str) -> GraphError:
    """The error for a field or edge the node type does not have."""
    return GraphError(f"(#100) Tried accessing nonexisting field ({field}) on node type ({node})")


def parse_metrics(spec: str | None, allowed: Sequence[str]) -> list[str]:
    """Parse and check a metric list: required, not deprecated, known to the API."""
    metrics = [m.strip() for m in (spec or "").split(",") if m.strip()]
    if not metrics:
        raise GraphError("(#100) The parameter metric is required")
    for index, metric in enumerate(metrics):
        if metric in DEPRECATED or metric.startswith("carousel_album_"):
            raise GraphError(
                f"(#100) The {metric} metric is no longer supported by the "
                f"Instagram Insights API; use {DEPRECATED.get(metric, 'views')}"
            )
        if metric not in allowed:
            raise GraphError(
                f"(#100) metric[{index}] must be one of the following values: " + ", ".join(allowed)
            )
    return metrics


def pick_fields(values: dict[str, Any], fields: list[str], node: str) -> dict[str, Any]:
    """The requested fields of a node, omitting absent values; unknown fields fail."""
    for field in fields:
        if field not in values:
            raise nonexisting(field, node)
    return {field: values[field] for field in fields if values[field] is not None}


def page_values(account: Account) -> dict[str, Any]:
    """The Facebook Page that owns an IG account, as a Page node."""
    return {
        "id": account.page_id,
        "name": account.name,
        "category": "Government organization",
        "instagram_business_account": {"id": account.id},
    }


def check_supported(items: Sequence[Media], metrics: list[str]) -> None:
    """Fail the whole request when any item does not support any of the metrics."""
    for item in items:
        for metric in metrics:
            if not item.supports(metric):
                raise unsupported_metric(metric)


def insight(media: Media, metric: str) -> dict[str, Any]:
    """One lifetime media insight item."""
    title, description = METRIC_TEXT[metric]
    return {
        "name": metric,
        "period": "lifetime",
        "values": [{"value": media.insights[metric]}],
        "title": title,
        "description": description,
        "id": f"{media.id}/insights/{metric}/lifetime",
    }


def series(data: SandboxData, account_id: str, metric: str, days: list[dt.date]) -> dict[str, Any]:
    """A ``time_series`` account insight item, one value per platform day."""
    title, description = METRIC_TEXT[metric]
    values = [
        {
            "value": data.daily(account_id, day)[metric],
            "end_time": platform_day_end(day).strftime("%Y-%m-%dT%H:%M:%S+0000"),
        }
        for day in days
    ]
    return {
        "name": metric,
        "period": "day",
        "values": values,
        "title": title,
        "description": description,
        "id": f"{account_id}/insights/{metric}/day",
    }


def total_value(data: SandboxData, account_id: str, metric: str, days: list[dt.date]) -> dict[str, Any]:
    """A ``total_value`` account insight item over the window."""
    title, description = METRIC_TEXT[metric]
    return {
        "name": metric,
        "period": "day",
        "title": title,
        "description": description,
        "total_value": {"value": data.window_total(account_id, metric, days)},
        "id": f"{account_id}/insights/{metric}/day",
    }


def children_values(media: Media, field: str) -> dict[str, Any]:
    """The ``children`` edge of a carousel (``children{id,media_url}`` picks fields)."""
    found = re.fullmatch(r"children\{(.*)\}", field)
    fields = split_fields(found.group(1)) if found else ["id"]
    rows = []
    for child in media.children:
        url = f"https://scontent.cdninstagram.com/v/t51.29350-15/{child}_n.jpg"
        values = {"id": child, "media_type": "IMAGE", "media_url": url, "timestamp": media.timestamp_str}
        rows.append(pick_fields(values, fields, "IGMedia"))
    return {"data": rows}


def _media_node(media: Media) -> dict[str, Any]:
    """Every plain field of a media node; None marks a field Meta omits for this media."""
    video = media.media_type == "VIDEO"
    cdn = f"https://scontent.cdninstagram.com/v/t51.29350-15/{media.id}"
    return {
        "id": media.id,
        "caption": media.caption,
        "media_type": media.media_type,
        "media_product_type": media.media_product_type,
        "timestamp": media.timestamp_str,
        "permalink": media.permalink,
        "shortcode": media.shortcode,
        "like_count": media.like_count,
        "comments_count": media.comments_count,
        "media_url": f"{cdn}_n.mp4" if video else f"{cdn}_n.jpg",
        "thumbnail_url": f"{cdn}_t.jpg" if video else None,
        "is_shared_to_feed": True if media.media_product_type == "REELS" else None,
        "is_comment_enabled": True,
        "owner": {"id": media.account_id},
    }


def media_values(media: Media, fields: list[str]) -> dict[str, Any]:
    """One media item with only the requested fields; absent values are omitted like Meta."""
    values = _media_node(media)
    out: dict[str, Any] = {}
    for field in fields:
        name = re.split(r"[.{]", field, maxsplit=1)[0]
        if name == "insights":
            found = re.search(r"\.metric\(([^)]*)\)", field)
            metrics = [m.strip() for m in found.group(1).split(",")] if found else []
            out["insights"] = {"data": [insight(media, metric) for metric in metrics]}
        elif name == "children":
            if media.children:
                out["children"] = children_values(media, field)
        elif name not in values:
            raise nonexisting(name, "IGMedia")
        elif values[name] is not None:
            out[name] = values[name]
    return out
