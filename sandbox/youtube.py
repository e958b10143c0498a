"""The YouTube Data API v3 on loopback: channels, playlistItems and videos, with quota.

Routes under ``/youtube/v3/`` (parts selected by ``part``, as the real API does):

* ``channels?id=UC...`` (or ``forHandle=@handle``): snippet, statistics (counts as strings,
  ``subscriberCount`` rounded to three significant figures and omitted when hidden) and
  contentDetails with the uploads playlist; an unknown channel answers 200 without ``items``;
* ``playlistItems?playlistId=UU...&maxResults=0..50&pageToken=``: the uploads, newest first,
  with ``nextPageToken``/``prevPageToken``; a bad token is 400 ``invalidPageToken``;
* ``videos?id=<up to 50 ids>``: statistics (strings; ``likeCount``/``commentCount`` absent
  when hidden or off), snippet and contentDetails (ISO 8601 duration); more ids is 400.

Credentials: an API key as ``key=`` or an OAuth token as ``Authorization: Bearer``. Every
request, even a rejected one, costs one quota unit (``units_used``); once
``quota_per_day`` units are spent every request answers 403 ``quotaExceeded``. Faults take
Google's shapes: ``status`` (``backendError``), ``rate_limit`` (403 ``rateLimitExceeded``),
``token_expired`` (400 ``API_KEY_INVALID``), and the extra kind ``quota_exceeded``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from typing import Any

from sandbox.base import DEFAULT_TOKEN, FakeApi, Fault, Reply, Request
from sandbox.youtube_data import HANDLE, TITLE, WINDOW_DAYS, ChannelData, Video

PREFIX = "/youtube/v3/"
MAX_IDS = 50
QUOTA_MESSAGE = ("The request cannot be completed because you have exceeded your "
                 '<a href="/youtube/v3/getting-started#quota">quota</a>.')
KEY_MESSAGE = "API key not valid. Please pass a valid API key."


class YouTubeError(Exception):
    """A Google API error reply: ``{"error": {"code", "message", "errors": [...], ...}}``."""

    def __init__(self, http_status: int, reason: str, message: str, domain: str = "global",
                 **extra: Any) -> None:
        super().__init__(message)
        error = {"code": http_status, "message": message,
                 "errors": [{"message": message, "domain": domain, "reason": reason}], **extra}
        self.reply = Reply(http_status, {"error": error})


def _quota_error() -> YouTubeError:
    return YouTubeError(403, "quotaExceeded", QUOTA_MESSAGE, "youtube.quota")


def _key_error() -> YouTubeError:
    return YouTubeError(400, "badRequest", KEY_MESSAGE, status="INVALID_ARGUMENT", details=[
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
         "domain": "googleapis.com", "metadata": {"service": "youtube.googleapis.com"}}])


def _page_token(offset: int) -> str:
    return "EAAa" + base64.urlsafe_b64encode(f"PT:{offset}".encode()).decode().rstrip("=")


def _offset(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token.removeprefix("EAAa") + "=" * (-len(token) % 4)).decode()
        tag, offset = raw.split(":")
        if tag != "PT" or not token.startswith("EAAa"):
            raise ValueError(tag)
        return int(offset)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise YouTubeError(400, "invalidPageToken", "The request specifies an invalid page token.",
                           "youtube.parameter") from None


def _etag(*parts: object) -> str:
    return base64.urlsafe_b64encode(hashlib.sha1(repr(parts).encode()).digest()).decode()[:27]


class YouTubeSandbox(FakeApi):
    """The city's YouTube channel behind the Data API v3, with quota accounting."""

    extra_fault_kinds = ("quota_exceeded",)

    def __init__(self, as_of: dt.date | None = None, seed: int = 7, token: str = DEFAULT_TOKEN, *,
                 hidden_subscribers: bool = False, quota_per_day: int = 10_000, days: int = WINDOW_DAYS,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(token, host=host, port=port)
        self.data = ChannelData(as_of or dt.datetime.now(dt.UTC).date(), seed, hidden_subscribers, days)
        self.quota_per_day = quota_per_day
        self.units_used = 0

    def expected(self) -> dict[str, Any]:
        """The channel's truth for end-to-end tests (see ``ChannelData.expected``)."""
        return self.data.expected()

    def prepare(self, request: Request) -> Request:
        """Take the API key out of the query so it is never recorded."""
        query = dict(request.query)
        key = query.pop("key", None)
        return Request(request.path, query, request.base, request.method, request.headers,
                       request.body, key or request.token)

    def account_of(self, request: Request) -> str | None:
        """Every request concerns the one channel."""
        return self.data.channel_id

    def route(self, request: Request) -> Reply:
        """Charge a unit, check quota and credentials, then dispatch on the resource."""
        self.units_used += 1
        try:
            if self.units_used > self.quota_per_day:
                raise _quota_error()
            if request.token != self.token:
                raise _key_error()
            resource = request.path.removeprefix(PREFIX)
            if request.method != "GET" or not request.path.startswith(PREFIX) or resource not in ROUTES:
                raise YouTubeError(404, "notFound", "Not Found")
            return Reply(200, ROUTES[resource](self, request.query))
        except YouTubeError as exc:
            return exc.reply

    def fault_reply(self, fault: Fault, request: Request) -> Reply | None:
        """Google's shapes of a backend error, a rate limit, a bad key and a spent quota."""
        if fault.kind == "status":
            return YouTubeError(fault.status, "backendError", "Backend Error").reply
        if fault.kind == "rate_limit":
            return YouTubeError(403, "rateLimitExceeded", "Rate Limit Exceeded", "usageLimits").reply
        if fault.kind == "token_expired":
            return _key_error().reply
        if fault.kind == "quota_exceeded":
            return _quota_error().reply
        return None

    def _channels(self, query: dict[str, str]) -> dict[str, Any]:
        """channels.list by id or handle."""
        parts = _parts(query)
        wanted = query.get("id", "").split(",") if "id" in query else []
        mine = self.data.channel_id in wanted or query.get("forHandle", "").lstrip("@") == HANDLE
        items = [self._channel(parts)] if mine else []
        body: dict[str, Any] = {"kind": "youtube#channelListResponse", "etag": _etag("channels", mine),
                                "pageInfo": {"totalResults": len(items), "resultsPerPage": 5}}
        return {**body, "items": items} if items else body

    def _channel(self, parts: set[str]) -> dict[str, Any]:
        """The channel resource with the parts asked for."""
        data = self.data
        stats: dict[str, Any] = {"viewCount": str(data.view_count), "subscriberCount": data.subscriber_count,
                                 "hiddenSubscriberCount": data.hidden_subscribers,
                                 "videoCount": str(len(data.videos))}
        if data.hidden_subscribers:
            del stats["subscriberCount"]
        resource: dict[str, Any] = {
            "snippet": {"title": TITLE, "description": "Kanal resmi Pemerintah Kota Tangerang.",
                        "customUrl": f"@{HANDLE}", "publishedAt": "2012-03-01T04:10:21Z",
                        "thumbnails": {"default": {"url": "https://yt3.ggpht.com/tangerangkota=s88",
                                                   "width": 88, "height": 88}},
                        "localized": {"title": TITLE, "description": ""}, "country": "ID"},
            "contentDetails": {"relatedPlaylists": {"likes": "", "uploads": data.uploads}},
            "statistics": stats,
        }
        return {"kind": "youtube#channel", "etag": _etag("channel", data.as_of), "id": data.channel_id,
                **{part: value for part, value in resource.items() if part in parts}}

    def _playlist_items(self, query: dict[str, str]) -> dict[str, Any]:
        """One page of the uploads playlist."""
        if query.get("playlistId") != self.data.uploads:
            raise YouTubeError(404, "playlistNotFound", "The playlist identified with the request's "
                               "<code>playlistId</code> parameter cannot be found.", "youtube.playlistItem")
        size = query.get("maxResults", "5")
        if not size.isdigit() or int(size) > 50:
            raise YouTubeError(400, "invalidValue", f"Invalid value '{size}'. Values must be within "
                               "the range: [0, 50]", "youtube.parameter")
        start = _offset(query["pageToken"]) if query.get("pageToken") else 0
        videos = self.data.videos
        chosen = videos[start:start + int(size)]
        body: dict[str, Any] = {"kind": "youtube#playlistItemListResponse", "etag": _etag("pl", start)}
        if start + int(size) < len(videos) and int(size):
            body["nextPageToken"] = _page_token(start + int(size))
        if start:
            body["prevPageToken"] = _page_token(max(0, start - int(size)))
        body["items"] = [_playlist_item(v, self.data.uploads) for v in chosen]
        body["pageInfo"] = {"totalResults": len(videos), "resultsPerPage": int(size)}
        return body

    def _videos(self, query: dict[str, str]) -> dict[str, Any]:
        """videos.list by id: at most 50; unknown ids are left out."""
        ids = [i for i in query.get("id", "").split(",") if i]
        if len(ids) > MAX_IDS:
            raise YouTubeError(400, "badRequest", "The request specifies too many video ids.")
        parts = _parts(query)
        found = [self.data.videos_by_id[i] for i in ids if i in self.data.videos_by_id]
        return {"kind": "youtube#videoListResponse", "etag": _etag("videos", ids),
                "items": [_video(v, parts, self.data.channel_id) for v in found],
                "pageInfo": {"totalResults": len(found), "resultsPerPage": len(found)}}


ROUTES = {
    "channels": YouTubeSandbox._channels,
    "playlistItems": YouTubeSandbox._playlist_items,
    "videos": YouTubeSandbox._videos,
}


def _parts(query: dict[str, str]) -> set[str]:
    """The ``part`` list; the real API requires one."""
    parts = {p.strip() for p in query.get("part", "").split(",") if p.strip()}
    if not parts:
        raise YouTubeError(400, "required", "Required parameter: part", "global")
    return parts


def _playlist_item(video: Video, playlist: str) -> dict[str, Any]:
    """A playlistItem resource with contentDetails."""
    item_id = base64.urlsafe_b64encode(f"{playlist}.{video.id}".encode()).decode().rstrip("=")
    return {"kind": "youtube#playlistItem", "etag": _etag("item", video.id), "id": item_id,
            "contentDetails": {"videoId": video.id, "videoPublishedAt": video.published}}


def _video(video: Video, parts: set[str], channel_id: str) -> dict[str, Any]:
    """A video resource with the parts asked for; hidden counts are absent."""
    stats = {"viewCount": str(video.views), "likeCount": str(video.likes), "favoriteCount": "0",
             "commentCount": str(video.comments)}
    if video.likes is None:
        del stats["likeCount"]
    if video.comments is None:
        del stats["commentCount"]
    resource: dict[str, Any] = {
        "snippet": {"publishedAt": video.published, "channelId": channel_id, "title": video.title,
                    "description": video.description, "channelTitle": TITLE,
                    "thumbnails": {"default": {"url": f"https://i.ytimg.com/vi/{video.id}/default.jpg",
                                               "width": 120, "height": 90}},
                    "tags": ["Kota Tangerang", "Pemkot Tangerang"], "categoryId": "25",
                    "liveBroadcastContent": "none", "defaultAudioLanguage": "id",
                    "localized": {"title": video.title, "description": video.description}},
        "contentDetails": {"duration": video.duration, "dimension": "2d", "definition": "hd",
                           "caption": "false", "licensedContent": False, "contentRating": {},
                           "projection": "rectangular"},
        "statistics": stats,
    }
    return {"kind": "youtube#video", "etag": _etag("video", video.id, video.views), "id": video.id,
            **{part: value for part, value in resource.items() if part in parts}}
