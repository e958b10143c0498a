"""HTTP requests per posts refreshed, per platform, pinned against the API's minimum.

Each case reads one account's whole listing from its sandbox (about 500 to 1,000 posts) in
the steady state (the run after the first, where a connector keeps state between runs),
counts the requests the sandbox saw, and checks them against the floor of
``platform-apis.md`` section 8: exactly the count the connector's docstring gives, and no
more than 10% above the floor. Account-level insights (Instagram's account insights,
Facebook's Page insights) are left out: they cost per day, not per post.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connectors.http import RetryPolicy

AS_OF = dt.date(2026, 11, 27)
POLICY = RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.01)
DAY = dt.date(2026, 11, 25)


@dataclass(frozen=True)
class Measured:
    """One steady-state full read: posts, requests made, the API floor, the expected count."""

    posts: int
    requests: int
    floor: int
    expected: int

    def per_thousand(self, value: int) -> float:
        """A request count per 1,000 posts."""
        return 1000 * value / self.posts


def drain(connector: Any, window: Any) -> int:
    """Run fetch_all to its end; the requests it made (no stream may end early)."""
    with connector:
        for _ in connector.fetch_all(window):
            pass
        assert connector.problems == [] or connector.platform == "website"
        return int(connector.request_count)


def instagram(tmp: Path) -> Measured:
    """A thousand media, legacy feed videos without views last; the second full read."""
    from connectors.instagram import FetchWindow, open_instagram
    from sandbox.server import Sandbox

    window = FetchWindow(None, None, DAY, DAY, streams=frozenset({"account", "media"}))
    counts = []
    for _ in range(2):
        with Sandbox(as_of=AS_OF, media_per_account=1000) as sb:
            account = sb.data.accounts[0]
            media = sb.data.media_for(account.id)
            counts.append(drain(open_instagram(base_url=sb.base_url, token=sb.token, token_label="t",
                                               account_id=account.id, sink=None, policy=POLICY,
                                               views_file=tmp / "views.json"), window))
            assert counts[-1] == len(sb.requests)
    newest = max(m.timestamp for m in media if not m.supports("views"))
    older = [m for m in media if m.timestamp <= newest]
    assert all(not m.supports("views") for m in older)  # the older part needs no lookup
    expected = 1 + math.ceil((len(media) - len(older)) / 100) + math.ceil(len(older) / 100)
    return Measured(len(media), counts[1], 1 + math.ceil(len(media) / 100), expected)


def facebook(tmp: Path) -> Measured:
    """The Page and its published posts, 100 a page with reactions, comments and insights."""
    from connectors.facebook import FetchWindow, open_facebook
    from sandbox.facebook import FacebookSandbox

    with FacebookSandbox(as_of=AS_OF) as sb:
        page = sb.pages[0]
        posts = int(sb.expected(page.id)["posts"])
        window = FetchWindow(None, None, DAY, DAY, streams=frozenset({"page", "posts"}))
        made = drain(open_facebook(base_url=sb.base_url, token=sb.token, token_label="t", page_id=page.id,
                                   sink=None, policy=POLICY), window)
        assert made == len(sb.requests)
    return Measured(posts, made, 1 + math.ceil(posts / 100), 1 + math.ceil(posts / 100))


def tiktok(tmp: Path) -> Measured:
    """User info, then the list to the newest known video and video queries of 20 ids."""
    from connectors.tiktok import TikTokWindow, open_tiktok
    from connectors.tiktok_auth import Credentials
    from sandbox.tiktok import TikTokSandbox

    with TikTokSandbox(as_of=AS_OF) as sb:
        credentials = Credentials(sb.client_key, sb.client_secret, sb.refresh_token, sb.token)
        for _ in range(2):
            seen = len(sb.requests)
            made = drain(open_tiktok(base_url=sb.base_url, credentials=credentials, token_label="t",
                                     account_id=sb.data.open_id, sink=None, policy=POLICY,
                                     token_file=tmp / "token.json", known_file=tmp / "known.json"),
                         TikTokWindow(None, None))
            assert made == len(sb.requests) - seen
        videos = len(sb.data.videos)
    # the list's first page (20 videos) reaches the newest known one; the rest by query
    return Measured(videos, made, 1 + math.ceil(videos / 20), 2 + math.ceil((videos - 20) / 20))


def youtube(tmp: Path) -> Measured:
    """The channel, the uploads playlist in pages of 50, ``videos.list`` with 50 ids."""
    from connectors.youtube import FetchWindow, open_youtube
    from sandbox.youtube import YouTubeSandbox
    from sandbox.youtube_data import CHANNEL_ID

    with YouTubeSandbox(as_of=AS_OF) as sb:
        made = drain(open_youtube(base_url=f"{sb.base_url}/youtube", api_key=sb.token, token=None,
                                  label="t", channel_id=CHANNEL_ID, sink=None, policy=POLICY),
                     FetchWindow(None, None))
        assert made == len(sb.requests) == sb.units_used
        videos = len(sb.data.videos)
    return Measured(videos, made, 1 + 2 * math.ceil(videos / 50), 1 + 2 * math.ceil(videos / 50))


def x(tmp: Path) -> Measured:
    """The user, then the timeline in pages of 100 as far as it reaches."""
    from connectors.x import FetchWindow, open_x
    from sandbox.x import XSandbox
    from sandbox.x_data import USER_ID

    with XSandbox(as_of=AS_OF) as sb:
        made = drain(open_x(base_url=sb.base_url, token=sb.token, token_label="t", user_id=USER_ID,
                            sink=None, policy=POLICY, state_dir=tmp), FetchWindow(None, None))
        assert made == len(sb.requests)
        posts = len(sb.data.reachable())
    return Measured(posts, made, 1 + math.ceil(posts / 100), 1 + math.ceil(posts / 100))


def website(tmp: Path) -> Measured:
    """About 1,000 articles in pages of 100; the site's kind remembered from the first run."""
    from connectors.website import FetchWindow, open_website
    from sandbox.website import WebsiteSandbox

    with WebsiteSandbox(as_of=AS_OF, months=4) as sb:
        for _ in range(2):
            seen = len(sb.requests)
            made = drain(open_website(base_url=sb.base_url, account_id="site", sink=None, policy=POLICY,
                                      source_file=tmp / "source.json", today=AS_OF), FetchWindow())
            assert made == len(sb.requests) - seen
        articles = len(sb.data.articles)
    return Measured(articles, made, math.ceil(articles / 100), math.ceil(articles / 100))


CASES: dict[str, Callable[[Path], Measured]] = {
    "instagram": instagram, "facebook": facebook, "tiktok": tiktok,
    "youtube": youtube, "x": x, "website": website,
}


@pytest.mark.parametrize("platform", list(CASES))
def test_requests_stay_within_ten_percent_of_the_api_minimum(platform: str, tmp_path: Path) -> None:
    got = CASES[platform](tmp_path)
    summary = (f"{platform}: {got.requests} requests for {got.posts} posts "
               f"({got.per_thousand(got.requests):.1f} per 1,000; floor {got.per_thousand(got.floor):.1f})")
    assert got.requests == got.expected, summary
    assert got.requests <= 1.1 * got.floor, summary
