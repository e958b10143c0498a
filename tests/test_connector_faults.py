"""Every fault of the foundation issue, for every connector: one matrix, one harness per platform.

A ``Harness`` says how to run one platform's connector against its sandbox: how to open it
(with the test's sink, sleep recorder, fast retry policy and timeout), one small fetch,
the requests that fetch takes when nothing goes wrong, the streams it yields, and the path
fragment the injected faults aim at. ``test_fault`` runs every (platform, fault kind) pair:

* ``status`` (503 twice), ``timeout``, ``drop``: retried, the fetch completes;
* ``rate_limit``: the platform's own throttling signal; one wait of the time the platform
  asks (or its documented back-off), then the fetch completes;
* ``usage_high``: usage headers at 90 % of the quota (Meta's ``X-App-Usage`` and
  ``X-Business-Use-Case-Usage``, X's ``x-rate-limit-remaining``): one pause before the next
  request, no request lost or repeated (platforms without such headers skip it);
* ``token_expired``: the channel stops with ``AuthError`` at once (``token_requests``
  requests: the call, plus a refresh attempt on platforms whose tokens refresh), naming the
  token's source and never its value, without a single sleep;
* ``malformed``: a 200 with a truncated body lands in the sink, is reported in ``problems``,
  and the other streams still run.

Every case also checks that no secret appears in what landed, in errors or problems, that
the sandbox saw exactly the requests the connector counted, and that every fault was spent.
A platform appends one ``Harness`` to ``HARNESSES``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from connectors.base import RawResponse
from connectors.errors import AuthError
from connectors.http import RetryPolicy
from sandbox.base import FakeApi, Fault

FAST = RetryPolicy(max_attempts=5, base_delay=0.001, max_delay=0.01, max_wait=900.0)
TIMEOUT = 0.4  # client timeout; a timeout fault holds its reply longer
HOLD = 0.9
AS_OF = dt.date(2026, 11, 27)
KINDS = ("status", "timeout", "drop", "rate_limit", "usage_high", "token_expired", "malformed")
USAGE = 90  # percent of the quota used, as the platform's usage headers report it
NO_USAGE_HEADERS = "the platform reports no quota usage in its headers"


@dataclass
class Probe:
    """What a harness hands its connector, and what the test reads back."""

    tmp: Path
    landed: list[RawResponse] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)
    policy: RetryPolicy = FAST
    timeout: float = TIMEOUT


@dataclass(frozen=True)
class Harness:
    """One platform's connector on its sandbox, as the fault matrix drives it."""

    platform: str
    make: Callable[[], FakeApi]  # an unstarted sandbox
    open: Callable[[FakeApi, Probe], Any]  # the connector, over probe.landed / probe.sleeps
    fetch: Callable[[Any], Iterator[RawResponse]]  # one small fetch_all
    clean_requests: int  # requests that fetch takes without faults
    streams: frozenset[str]  # streams it yields without faults
    target: str  # path fragment of the listing request the faults hit
    target_stream: str  # the stream of that request
    token_label: str  # where the connector was told its token comes from
    rate_wait: float  # the wait the platform's rate-limit signal asks for
    rate_tolerance: float = 0.0  # +/- seconds: a wait until a reset time, or a jittered back-off
    secrets: Callable[[FakeApi], tuple[str, ...]] = lambda fake: (fake.token,)
    token_requests: int = 1  # requests until an invalid token stops the channel
    faults: Callable[[str], list[Fault]] | None = None  # override of generic_faults
    usage_target: str | None = None  # the request whose headers report high usage (else target)
    not_applicable: dict[str, str] = field(default_factory=dict)  # fault kind -> why it cannot occur

    def inject(self, fake: FakeApi, kind: str) -> None:
        """Queue the faults of one kind aimed at this harness's target."""
        if kind == "usage_high":
            fake.inject(Fault("usage_high", self.usage_target or self.target, usage=USAGE))
            return
        for fault in (self.faults or generic_faults(self.target))(kind):
            fake.inject(fault)


def generic_faults(target: str) -> Callable[[str], list[Fault]]:
    """The faults of each kind, aimed at one path fragment."""

    def faults(kind: str) -> list[Fault]:
        if kind == "status":
            return [Fault("status", target, times=2, status=503)]
        if kind == "timeout":
            return [Fault("timeout", target, delay=HOLD)]
        if kind == "rate_limit":
            return [Fault("rate_limit", target, regain_minutes=1)]
        if kind == "token_expired":  # on the very first request: nothing may follow it
            return [Fault("token_expired")]
        return [Fault(kind, target)]

    return faults


# -- Instagram ----------------------------------------------------------------------------

IG_LABEL = "environment variable SOCMED_IG_TOKEN_TANGERANGKOTA"


def _instagram_sandbox() -> FakeApi:
    from sandbox.server import Sandbox

    return Sandbox(as_of=AS_OF, seed=7)


def _instagram_open(fake: FakeApi, probe: Probe) -> Any:
    from connectors.instagram import open_instagram

    return open_instagram(base_url=fake.base_url, api_version="v24.0", token=fake.token,
                          token_label=IG_LABEL, account_id="17841401000000001",
                          sink=probe.landed.append, policy=probe.policy, timeout=probe.timeout,
                          sleep=probe.sleeps.append)


def _instagram_fetch(connector: Any) -> Iterator[RawResponse]:
    from connectors.instagram import FetchWindow

    # one media page of the last days and one insights day: 1 + 1 + 2 requests
    window = FetchWindow(dt.datetime(2026, 11, 20, tzinfo=dt.UTC), None,
                         dt.date(2026, 11, 25), dt.date(2026, 11, 25))
    return iter(connector.fetch_all(window))


HARNESSES: list[Harness] = [
    Harness("instagram", _instagram_sandbox, _instagram_open, _instagram_fetch, clean_requests=4,
            streams=frozenset({"account", "media", "account_insights"}), target="/media",
            target_stream="media", token_label=IG_LABEL, rate_wait=60.0),
]


# -- News website (WordPress) -------------------------------------------------------------


def _website_sandbox() -> FakeApi:
    from sandbox.website import WebsiteSandbox

    return WebsiteSandbox(as_of=AS_OF, months=1)


def _website_open(fake: FakeApi, probe: Probe) -> Any:
    from connectors.website import open_website

    return open_website(base_url=fake.base_url, account_id="tangerangkota.go.id", sink=probe.landed.append,
                        policy=probe.policy, timeout=probe.timeout, sleep=probe.sleeps.append)


def _website_fetch(connector: Any) -> Iterator[RawResponse]:
    from connectors.website import FetchWindow

    # the REST index, then one page of the articles edited in the last days: 2 requests
    return iter(connector.fetch_all(FetchWindow(modified_after=dt.datetime(2026, 11, 24, tzinfo=dt.UTC))))


HARNESSES.append(
    Harness("website", _website_sandbox, _website_open, _website_fetch, clean_requests=2,
            streams=frozenset({"site", "posts"}), target="/wp/v2/posts", target_stream="posts",
            token_label="", rate_wait=60.0, secrets=lambda fake: (),
            not_applicable={"token_expired": "a public website is read without a token: none can expire",
                            "usage_high": NO_USAGE_HEADERS}),
)


# -- TikTok -------------------------------------------------------------------------------

TIKTOK_LABEL = "environment variable SOCMED_TIKTOK_REFRESH_TOKEN"


def _tiktok_sandbox() -> FakeApi:
    from sandbox.tiktok import TikTokSandbox

    return TikTokSandbox(as_of=AS_OF, seed=7)


def _tiktok_open(fake: FakeApi, probe: Probe) -> Any:
    from connectors.tiktok import open_tiktok
    from connectors.tiktok_auth import Credentials
    from sandbox.tiktok import TikTokSandbox

    assert isinstance(fake, TikTokSandbox)
    credentials = Credentials(fake.client_key, fake.client_secret, fake.refresh_token, fake.token)
    return open_tiktok(base_url=fake.base_url, credentials=credentials, token_label=TIKTOK_LABEL,
                       account_id=fake.data.open_id, sink=probe.landed.append,
                       token_file=probe.tmp / "tiktok-token.json", policy=probe.policy,
                       timeout=probe.timeout, sleep=probe.sleeps.append)


def _tiktok_fetch(connector: Any) -> Iterator[RawResponse]:
    from connectors.tiktok import TikTokWindow

    # the profile and one list page reaching back past the 20th: 1 + 1 requests
    return iter(connector.fetch_all(TikTokWindow(dt.datetime(2026, 11, 20, tzinfo=dt.UTC))))


def _tiktok_secrets(fake: FakeApi) -> tuple[str, ...]:
    from sandbox.tiktok import CLIENT_SECRET, REFRESH_TOKEN

    return (fake.token, CLIENT_SECRET, REFRESH_TOKEN)


def _tiktok_faults(kind: str) -> list[Fault]:
    """An expired token is refreshed; only a refused refresh stops the channel (2 requests)."""
    if kind == "token_expired":
        return [Fault("token_expired", "/v2/user/info/"), Fault("token_expired", "/v2/oauth/token/")]
    return generic_faults("/v2/video/list/")(kind)


HARNESSES.append(
    Harness("tiktok", _tiktok_sandbox, _tiktok_open, _tiktok_fetch, clean_requests=2,
            streams=frozenset({"user", "videos"}), target="/v2/video/list/", target_stream="videos",
            token_label=TIKTOK_LABEL, rate_wait=60.0, secrets=_tiktok_secrets, token_requests=2,
            faults=_tiktok_faults, not_applicable={"usage_high": NO_USAGE_HEADERS}),
)


# -- Facebook Pages and Instagram stories (the Graph sandbox) -----------------------------

FB_LABEL = "environment variable SOCMED_FB_PAGE_TOKEN"
FB_PAGE = "104900000000001"


def _facebook_sandbox() -> FakeApi:
    from sandbox.facebook import FacebookSandbox

    return FacebookSandbox(as_of=AS_OF, seed=7)


def _facebook_open(fake: FakeApi, probe: Probe) -> Any:
    from connectors.facebook import open_facebook

    return open_facebook(base_url=fake.base_url, api_version="v24.0", token=fake.token, token_label=FB_LABEL,
                         page_id=FB_PAGE, sink=probe.landed.append, policy=probe.policy,
                         timeout=probe.timeout, sleep=probe.sleeps.append)


def _facebook_fetch(connector: Any) -> Iterator[RawResponse]:
    from connectors.facebook import FetchWindow

    # the Page, one page of the last days' posts, one Page insights window: 3 requests
    day = dt.date(2026, 11, 25)
    return iter(connector.fetch_all(FetchWindow(dt.datetime(2026, 11, 20, tzinfo=dt.UTC), None, day, day,
                                                day + dt.timedelta(days=1))))


HARNESSES.append(
    Harness("facebook", _facebook_sandbox, _facebook_open, _facebook_fetch, clean_requests=3,
            streams=frozenset({"page", "posts", "page_insights"}), target="/published_posts",
            target_stream="posts", token_label=FB_LABEL, rate_wait=60.0),
)


def _stories_sandbox() -> FakeApi:
    """The Graph sandbox where every live story has enough viewers for insights."""
    from sandbox.server import Sandbox
    from sandbox.stories import StoryData

    fake = Sandbox(as_of=AS_OF, seed=7)
    fake.api.stories = StoryData(fake.data, few_viewers=False)
    return fake


def _stories_fetch(connector: Any) -> Iterator[RawResponse]:
    from connectors.instagram import FetchWindow

    # the profile, the stories list and one insights call per story
    day = dt.date(2026, 11, 26)
    return iter(connector.fetch_all(FetchWindow(None, None, day, day, day, frozenset({"stories"}))))


def _story_ids() -> list[str]:
    """The live stories of @tangerangkota at AS_OF, newest first."""
    from sandbox.data import SandboxData
    from sandbox.stories import StoryData

    return list(StoryData(SandboxData(AS_OF, 7), few_viewers=False).expected("17841401000000001")["ids"])


STORY_IDS = _story_ids()
HARNESSES.append(  # faults aim at one story's insights: a broken one must not cost the others
    Harness("instagram-stories", _stories_sandbox, _instagram_open, _stories_fetch,
            clean_requests=2 + len(STORY_IDS), streams=frozenset({"account", "stories", "story_insights"}),
            target=f"/{STORY_IDS[0]}/insights", target_stream="story_insights", token_label=IG_LABEL,
            rate_wait=60.0),
)


# -- YouTube and X ------------------------------------------------------------------------

YT_LABEL = "environment variable SOCMED_YOUTUBE_KEY"
X_LABEL = "environment variable SOCMED_X_TOKEN"
RECENT = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)


def _youtube_sandbox() -> FakeApi:
    from sandbox.youtube import YouTubeSandbox

    return YouTubeSandbox(as_of=AS_OF, seed=7)


def _youtube_open(fake: FakeApi, probe: Probe) -> Any:
    from connectors.youtube import open_youtube
    from sandbox.youtube_data import CHANNEL_ID

    return open_youtube(base_url=f"{fake.base_url}/youtube", api_key=fake.token, token=None,
                        label=YT_LABEL, channel_id=CHANNEL_ID, sink=probe.landed.append,
                        policy=probe.policy, timeout=probe.timeout, sleep=probe.sleeps.append)


def _youtube_fetch(connector: Any) -> Iterator[RawResponse]:
    from connectors.youtube import FetchWindow

    # the channel, the first uploads page (it reaches past RECENT) and one videos call
    return iter(connector.fetch_all(FetchWindow(RECENT, None)))


def _x_sandbox() -> FakeApi:
    from sandbox.x import XSandbox

    return XSandbox(as_of=AS_OF, seed=7)


def _x_open(fake: FakeApi, probe: Probe) -> Any:
    from connectors.x import open_x
    from sandbox.x_data import USER_ID

    return open_x(base_url=fake.base_url, token=fake.token, token_label=X_LABEL, user_id=USER_ID,
                  sink=probe.landed.append, policy=probe.policy, timeout=probe.timeout,
                  state_dir=probe.tmp, sleep=probe.sleeps.append)


def _x_fetch(connector: Any) -> Iterator[RawResponse]:
    from connectors.x import FetchWindow

    return iter(connector.fetch_all(FetchWindow(RECENT, None)))  # the user and one timeline page


HARNESSES.append(  # rateLimitExceeded carries no wait: full-jitter back-off within FAST's first step
    Harness("youtube", _youtube_sandbox, _youtube_open, _youtube_fetch, clean_requests=3,
            streams=frozenset({"channel", "playlist_items", "videos"}), target="/videos",
            target_stream="videos", token_label=YT_LABEL, rate_wait=0.0005, rate_tolerance=0.0005,
            not_applicable={"usage_high": "YouTube reports no quota in headers: the connector counts units"}),
)
HARNESSES.append(  # a 429 waits until x-rate-limit-reset (a minute away, whole seconds, +1 s)
    Harness("x", _x_sandbox, _x_open, _x_fetch, clean_requests=2, streams=frozenset({"user", "posts"}),
            target="/tweets", target_stream="posts", token_label=X_LABEL, rate_wait=60.5,
            rate_tolerance=1.0, usage_target="/2/users/"),  # the user call: the timeline follows
)


# -- the matrix ---------------------------------------------------------------------------


@dataclass
class Outcome:
    """One faulty fetch: the sandbox, the probe, what was yielded and the error that stopped it."""

    harness: Harness
    fake: FakeApi
    probe: Probe
    connector: Any
    yielded: list[RawResponse]
    error: Exception | None


def run(harness: Harness, kind: str, tmp: Path) -> Outcome:
    """Inject one kind of fault and run the harness's fetch to its end or its stop."""
    probe = Probe(tmp)
    with harness.make() as fake:
        harness.inject(fake, kind)
        connector = harness.open(fake, probe)
        yielded: list[RawResponse] = []
        error: Exception | None = None
        try:
            yielded.extend(harness.fetch(connector))
        except Exception as exc:
            error = exc
        finally:
            connector.close()
    return Outcome(harness, fake, probe, connector, yielded, error)


def completed_after_retries(out: Outcome, retries: int) -> None:
    """The fetch completed with ``retries`` extra requests and as many sleeps."""
    assert out.error is None and out.connector.problems == []
    assert out.connector.request_count == out.harness.clean_requests + retries
    assert len(out.probe.sleeps) == retries
    assert {r.stream for r in out.yielded} == out.harness.streams


def check_status(out: Outcome) -> None:
    """Two 503s: two retries."""
    completed_after_retries(out, 2)
    assert [r.status for r in out.probe.landed if r.status >= 500] == [503, 503]


def check_transport(out: Outcome) -> None:
    """A timeout or a dropped connection: one retry (nothing landed for the lost attempt)."""
    completed_after_retries(out, 1)
    assert len(out.probe.landed) == len(out.yielded)


def check_rate_limit(out: Outcome) -> None:
    """The platform's throttle signal: one wait of the time it asks, then the rest."""
    completed_after_retries(out, 1)
    assert out.probe.sleeps == [pytest.approx(out.harness.rate_wait, abs=out.harness.rate_tolerance)]


def check_usage(out: Outcome) -> None:
    """High usage reported: one pause of the throttle's length, then the rest, nothing retried."""
    assert out.error is None and out.connector.problems == []
    assert out.connector.request_count == out.harness.clean_requests
    assert out.probe.sleeps == [FAST.usage_pause(USAGE)] and out.probe.sleeps[0] > 0
    assert {r.stream for r in out.yielded} == out.harness.streams


def check_token(out: Outcome) -> None:
    """An invalid token stops the channel at once, naming its source, never its value."""
    assert isinstance(out.error, AuthError), out.error
    assert out.harness.token_label in str(out.error)
    assert len(out.fake.requests) == out.harness.token_requests
    assert out.probe.sleeps == []


def check_malformed(out: Outcome) -> None:
    """A truncated 200 body is kept in the sink and reported; the other streams still run."""
    assert out.error is None
    assert len(out.connector.problems) == 1 and "MalformedResponse" in out.connector.problems[0]
    bad = [r for r in out.probe.landed if r.status == 200 and r.stream == out.harness.target_stream]
    assert bad, "the malformed body must land"
    with pytest.raises(ValueError):
        json.loads(bad[0].body)
    others = out.harness.streams - {out.harness.target_stream}
    assert others <= {r.stream for r in out.yielded}


CHECKS: dict[str, Callable[[Outcome], None]] = {
    "status": check_status,
    "timeout": check_transport,
    "drop": check_transport,
    "rate_limit": check_rate_limit,
    "usage_high": check_usage,
    "token_expired": check_token,
    "malformed": check_malformed,
}


def assert_clean(out: Outcome) -> None:
    """No secret anywhere; the sandbox saw what the connector counted; every fault spent."""
    secrets = [s for s in out.harness.secrets(out.fake) if s]
    for raw in out.probe.landed:
        for secret in secrets:
            assert secret not in raw.url and secret.encode() not in raw.body
    told = [str(out.error), *out.connector.problems]
    assert not [s for s in secrets if any(s in text for text in told)]
    assert len(out.fake.requests) == out.connector.request_count
    assert out.fake.pending_faults == []


@pytest.mark.parametrize(
    ("harness", "kind"),
    [
        pytest.param(h, k, id=f"{h.platform}-{k}",
                     marks=[pytest.mark.skip(reason=h.not_applicable[k])] if k in h.not_applicable else [])
        for h in HARNESSES
        for k in KINDS
    ],
)
def test_fault(harness: Harness, kind: str, tmp_path: Path) -> None:
    out = run(harness, kind, tmp_path)
    CHECKS[kind](out)
    assert_clean(out)
