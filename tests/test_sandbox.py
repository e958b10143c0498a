"""The Instagram Graph API sandbox over real loopback HTTP: bodies, paging, errors and faults."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.data import SandboxData, platform_day_end, platform_days
from sandbox.server import Fault, Sandbox

AS_OF = dt.date(2026, 11, 27)
CITY = "17841401000000001"
TV = "17841401000000002"
TOKEN = "sandbox-token-not-a-secret"
UNSUPPORTED_VIEWS = (
    "(#100) The Media Insights API does not support the views metric for this media product type"
)


def _unix(value: dt.datetime) -> int:
    return int(value.timestamp())


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(as_of=AS_OF, seed=7, token=TOKEN) as sb:
        yield sb


@pytest.fixture
def fresh() -> Iterator[Sandbox]:
    with Sandbox(as_of=AS_OF, seed=7, token=TOKEN) as sb:
        yield sb


def _client(sb: Sandbox, timeout: float = 5.0) -> httpx.Client:
    return httpx.Client(base_url=f"{sb.base_url}/v24.0", params={"access_token": sb.token}, timeout=timeout)


def _crawl(sb: Sandbox, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Follow ``paging.next`` to the end; return every page body."""
    pages = []
    with httpx.Client(timeout=5) as client:
        response = client.get(f"{sb.base_url}/v24.0{path}", params={**params, "access_token": sb.token})
        while True:
            assert response.status_code == 200, response.text
            pages.append(response.json())
            url = pages[-1].get("paging", {}).get("next")
            if url is None:
                return pages
            response = client.get(url)


def test_account_fields(sandbox: Sandbox) -> None:
    fields = "id,username,name,followers_count,follows_count,media_count,website,ig_id"
    with _client(sandbox) as client:
        response = client.get(f"/{CITY}", params={"fields": fields})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    assert response.json() == {
        "id": CITY,
        "username": "tangerangkota",
        "name": "Pemerintah Kota Tangerang",
        "followers_count": 217_384,
        "follows_count": 152,
        "media_count": sandbox.data.expected(CITY)["media_count"],
        "website": "https://tangerangkota.go.id",
        "ig_id": 1_234_567_801,
    }
    app_usage = json.loads(response.headers["x-app-usage"])
    buc = json.loads(response.headers["x-business-use-case-usage"])
    assert app_usage == {"call_count": 0, "total_cputime": 0, "total_time": 0}
    assert buc[CITY][0]["type"] == "instagram"
    assert buc[CITY][0]["estimated_time_to_regain_access"] == 0


def test_expected_defaults_are_shaped_like_the_city_accounts() -> None:
    data = SandboxData(AS_OF, seed=7)
    city, tv = data.expected(CITY), data.expected(TV)
    assert (city["username"], city["followers_count"], tv["followers_count"]) == (
        "tangerangkota",
        217_384,
        114_206,
    )
    assert (city["media_count"], tv["media_count"]) == (336, 233)
    assert (city["views_unsupported_media"], tv["views_unsupported_media"]) == (4, 3)
    assert (city["hidden_like_media"], tv["hidden_like_media"]) == (8, 5)
    legacy = [m for m in data.media_for(CITY) if not m.supports("views")]
    assert [m.media_type + "/" + m.media_product_type for m in legacy] == ["VIDEO/FEED"] * 4
    assert all(m.timestamp < dt.datetime(2024, 7, 1, tzinfo=dt.UTC) for m in legacy)
    assert data.media_for(CITY)[-4:] == legacy  # the oldest posts


def test_paging_collects_every_media_once(sandbox: Sandbox) -> None:
    pages = _crawl(sandbox, f"/{CITY}/media", {"fields": "id,timestamp", "limit": 100})
    ids = [item["id"] for page in pages for item in page["data"]]
    assert ids == [m.id for m in sandbox.data.media_for(CITY)]
    assert len(set(ids)) == sandbox.data.expected(CITY)["media_count"] == 336
    assert [len(page["data"]) for page in pages] == [100, 100, 100, 36]
    assert "previous" not in pages[0]["paging"]
    assert "previous" in pages[1]["paging"]
    assert "next" not in pages[-1]["paging"]
    assert f"access_token={TOKEN}" in pages[0]["paging"]["next"]
    assert pages[0]["paging"]["next"].startswith(f"{sandbox.base_url}/v24.0/{CITY}/media?")


def test_limit_defaults_to_25_and_clamps_to_100(sandbox: Sandbox) -> None:
    with _client(sandbox) as client:
        default = client.get(f"/{CITY}/media").json()
        big = client.get(f"/{CITY}/media", params={"limit": 500}).json()
    assert len(default["data"]) == 25
    assert default["data"][0] == {"id": sandbox.data.media_for(CITY)[0].id}
    assert len(big["data"]) == 100


def test_short_pages_still_reach_the_end() -> None:
    with Sandbox(as_of=AS_OF, seed=7, token=TOKEN, short_pages=True) as sb:
        pages = _crawl(sb, f"/{TV}/media", {"fields": "id"})
        ids = [item["id"] for page in pages for item in page["data"]]
        assert ids == [m.id for m in sb.data.media_for(TV)]
    assert [len(page["data"]) for page in pages[:5]] == [25, 12, 0, 12, 25]
    assert "next" in pages[2]["paging"]


def test_since_until_filter_media(sandbox: Sandbox) -> None:
    since = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    until = dt.datetime(2026, 11, 15, tzinfo=dt.UTC)
    params = {"fields": "id", "since": _unix(since), "until": _unix(until), "limit": 100}
    pages = _crawl(sandbox, f"/{CITY}/media", params)
    ids = [item["id"] for page in pages for item in page["data"]]
    truth = [m.id for m in sandbox.data.media_for(CITY) if since <= m.timestamp < until]
    assert ids == truth
    assert len(ids) == 6


def test_nested_insights_expand_per_item(sandbox: Sandbox) -> None:
    media = sandbox.data.media_for(CITY)[0]
    fields = "id,media_type,like_count,comments_count,timestamp,insights.metric(reach,saved,views)"
    with _client(sandbox) as client:
        body = client.get(f"/{CITY}/media", params={"fields": fields, "limit": 1}).json()
    assert body["data"][0] == {
        "id": media.id,
        "media_type": media.media_type,
        "like_count": media.like_count,
        "comments_count": media.comments_count,
        "timestamp": media.timestamp_str,
        "insights": {
            "data": [
                {
                    "name": name,
                    "period": "lifetime",
                    "values": [{"value": media.insights[name]}],
                    "title": title,
                    "description": body["data"][0]["insights"]["data"][index]["description"],
                    "id": f"{media.id}/insights/{name}/lifetime",
                }
                for index, (name, title) in enumerate(
                    [("reach", "Reach"), ("saved", "Saved"), ("views", "Views")]
                )
            ]
        },
    }
    assert media.insights["reach"] < media.insights["views"]


def test_crawl_totals_equal_expected(sandbox: Sandbox) -> None:
    fields = "id,like_count,comments_count,insights.metric(reach,saved,shares)"
    pages = _crawl(sandbox, f"/{CITY}/media", {"fields": fields, "limit": 100})
    items = [item for page in pages for item in page["data"]]
    metric = {
        name: sum(i["insights"]["data"][k]["values"][0]["value"] for i in items)
        for k, name in enumerate(["reach", "saved", "shares"])
    }
    expected = sandbox.data.expected(CITY)
    assert sum(item.get("like_count", 0) for item in items) == expected["like_count_sum"]
    assert sum("like_count" not in item for item in items) == expected["hidden_like_media"] == 8
    assert sum(item["comments_count"] for item in items) == expected["comments_count_sum"]
    assert metric == {k: expected[f"{k}_sum"] for k in ("reach", "saved", "shares")}
    recent = {"fields": "id,insights.metric(views)", "since": _unix(sandbox.data.window_start)}
    pages = _crawl(sandbox, f"/{CITY}/media", {**recent, "limit": 100})
    views = [i["insights"]["data"][0]["values"][0]["value"] for p in pages for i in p["data"]]
    assert (len(views), sum(views)) == (332, expected["views_sum"])


def test_legacy_video_fails_the_page_but_per_media_insights_work(sandbox: Sandbox) -> None:
    legacy = next(m for m in sandbox.data.media_for(CITY) if not m.supports("views"))
    other = sandbox.data.media_for(CITY)[0]
    with _client(sandbox) as client:
        page = client.get(
            f"/{CITY}/media",
            params={
                "fields": "id,insights.metric(reach,views)",
                "limit": 100,
                "until": _unix(legacy.timestamp) + 1,
            },
        )
        legacy_views = client.get(f"/{legacy.id}/insights", params={"metric": "reach,views"})
        legacy_reach = client.get(f"/{legacy.id}/insights", params={"metric": "reach,saved"})
        other_views = client.get(f"/{other.id}/insights", params={"metric": "views"})
    for failed in (page, legacy_views):
        assert failed.status_code == 400
        error = failed.json()["error"]
        assert (error["code"], error["type"], error["message"]) == (100, "OAuthException", UNSUPPORTED_VIEWS)
    assert [row["values"][0]["value"] for row in legacy_reach.json()["data"]] == [
        legacy.insights["reach"],
        legacy.insights["saved"],
    ]
    assert other_views.json()["data"][0]["values"] == [{"value": other.insights["views"]}]


def test_multi_id_lookup_answers_each_node_keyed_by_id(fresh: Sandbox) -> None:
    first, second = fresh.data.media_for(CITY)[:2]
    ids = f"{first.id},{second.id},{first.id}"
    with _client(fresh) as client:
        plain = client.get("/", params={"ids": ids, "fields": "id,media_type"})
        views = client.get("/", params={"ids": ids, "fields": "insights.metric(views)"})
        nodes = client.get("/", params={"ids": f"{CITY},{first.id}"})
    assert plain.json() == {m.id: {"id": m.id, "media_type": m.media_type} for m in (first, second)}
    body = views.json()
    assert list(body) == [first.id, second.id] and all(list(body[m]) == ["insights", "id"] for m in body)
    assert {m: body[m]["insights"]["data"][0]["values"] for m in body} == {
        m.id: [{"value": m.insights["views"]}] for m in (first, second)
    }
    assert body[first.id]["insights"]["data"][0]["id"] == f"{first.id}/insights/views/lifetime"
    assert nodes.json() == {CITY: {"id": CITY}, first.id: {"id": first.id}}
    assert [(r.path, r.status, r.account_id) for r in fresh.requests] == [("/v24.0/", 200, CITY)] * 3


def test_multi_id_lookup_fails_as_a_whole(fresh: Sandbox) -> None:
    media = fresh.data.media_for(CITY)
    legacy = next(m for m in media if not m.supports("views"))
    fifty, pair = ",".join(m.id for m in media[:50]), f"{media[0].id},{legacy.id}"
    with _client(fresh) as client:
        full = client.get("/", params={"ids": fifty, "fields": "insights.metric(views)"})
        many = client.get("/", params={"ids": f"{fifty},{media[50].id}", "fields": "id"})
        mixed = client.get("/", params={"ids": pair, "fields": "insights.metric(views)"})
        safe = client.get("/", params={"ids": pair, "fields": "insights.metric(reach)"})
        unknown = client.get("/", params={"ids": f"{media[0].id},999", "fields": "id"})
        no_ids = client.get("/", params={"fields": "id"})
    assert full.status_code == 200 and len(full.json()) == 50
    assert safe.status_code == 200 and list(safe.json()) == [media[0].id, legacy.id]
    errors = [(r.status_code, r.json()["error"]) for r in (many, mixed, unknown, no_ids)]
    assert [(status, e["code"], e.get("error_subcode"), e["type"]) for status, e in errors] == [
        (400, 100, None, "OAuthException"),
        (400, 100, None, "OAuthException"),
        (400, 100, 33, "GraphMethodException"),
        (400, 100, None, "GraphMethodException"),
    ]
    assert [e["message"] for _, e in errors[:2]] == ["(#100) Too many IDs. Maximum: 50", UNSUPPORTED_VIEWS]
    assert errors[2][1]["message"].startswith("Unsupported get request. Object with ID '999' does not exist")
    assert errors[3][1]["message"].startswith("Unsupported get request. Please read the Graph API")
    assert [r.account_id for r in fresh.requests] == [CITY, CITY, CITY, CITY, None, None]


def test_deprecated_metric_fails_the_whole_request(sandbox: Sandbox) -> None:
    media_id = sandbox.data.media_for(CITY)[0].id
    with _client(sandbox) as client:
        single = client.get(f"/{media_id}/insights", params={"metric": "reach,impressions"})
        nested = client.get(f"/{CITY}/media", params={"fields": "id,insights.metric(plays)"})
        account = client.get(f"/{CITY}/insights", params={"metric": "profile_views", "period": "day"})
    for response, name in ((single, "impressions"), (nested, "plays"), (account, "profile_views")):
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == 100
        assert f"The {name} metric is no longer supported" in error["message"]


def test_account_time_series(sandbox: Sandbox) -> None:
    since, until = dt.datetime(2026, 11, 20, tzinfo=dt.UTC), dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
    params: dict[str, str | int] = {
        "metric": "reach,follower_count",
        "period": "day",
        "metric_type": "time_series",
        "since": _unix(since),
        "until": _unix(until),
    }
    with _client(sandbox) as client:
        body = client.get(f"/{CITY}/insights", params=params).json()
    days = [dt.date(2026, 11, 19) + dt.timedelta(days=n) for n in range(7)]
    assert platform_days(since, until) == days
    for row, metric in zip(body["data"], ("reach", "follower_count"), strict=True):
        assert row["id"] == f"{CITY}/insights/{metric}/day"
        assert row["values"] == [
            {
                "value": sandbox.data.daily(CITY, day)[metric],
                "end_time": platform_day_end(day).strftime("%Y-%m-%dT%H:%M:%S+0000"),
            }
            for day in days
        ]
    assert body["data"][0]["values"][-1]["end_time"] == "2026-11-26T08:00:00+0000"
    assert platform_day_end(dt.date(2026, 5, 1)).hour == 7  # daylight saving time


def test_account_total_value_and_default_window(sandbox: Sandbox) -> None:
    params = {
        "metric": "views,accounts_engaged,total_interactions",
        "period": "day",
        "metric_type": "total_value",
    }
    with _client(sandbox) as client:
        body = client.get(f"/{CITY}/insights", params=params).json()
    day = sandbox.data.daily(CITY, dt.date(2026, 11, 25))
    assert [(row["name"], row["total_value"]) for row in body["data"]] == [
        (name, {"value": day[name]}) for name in ("views", "accounts_engaged", "total_interactions")
    ]
    assert all("values" not in row for row in body["data"])


def test_window_over_30_days_is_rejected(sandbox: Sandbox) -> None:
    until = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
    params: dict[str, str | int] = {
        "metric": "reach",
        "period": "day",
        "since": _unix(until) - 2_592_001,
        "until": _unix(until),
    }
    with _client(sandbox) as client:
        response = client.get(f"/{CITY}/insights", params=params)
        ok = client.get(f"/{CITY}/insights", params={**params, "since": _unix(until) - 2_592_000})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "(#100) There cannot be more than 30 days (2592000 s) between since and until"
    )
    assert len(ok.json()["data"][0]["values"]) == 30


def test_token_errors_and_bearer_header(sandbox: Sandbox) -> None:
    url = f"{sandbox.base_url}/v24.0/{CITY}"
    missing = httpx.get(url)
    wrong = httpx.get(url, params={"access_token": "nope"})
    bearer = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
    for response in (missing, wrong):
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["message"] == "Invalid OAuth access token - Cannot parse access token"
        assert (error["type"], error["code"]) == ("OAuthException", 190)
        assert error["fbtrace_id"].startswith("A")
    assert bearer.json() == {"id": CITY}


def test_pages_and_unknown_objects(sandbox: Sandbox) -> None:
    with _client(sandbox) as client:
        pages = client.get("/me/accounts", params={"fields": "id,name,instagram_business_account"})
        missing = client.get("/999")
    assert [page["instagram_business_account"] for page in pages.json()["data"]] == [
        {"id": CITY},
        {"id": TV},
    ]
    error = missing.json()["error"]
    assert (missing.status_code, error["code"], error["error_subcode"]) == (400, 100, 33)
    assert error["message"].startswith("Unsupported get request. Object with ID '999' does not exist")


def test_requests_are_recorded_without_token(fresh: Sandbox) -> None:
    with _client(fresh) as client:
        client.get(f"/{CITY}", params={"fields": "id"})
        client.get("/me/accounts")
    assert [(r.path, r.query, r.status, r.account_id, r.fault) for r in fresh.requests] == [
        (f"/v24.0/{CITY}", {"fields": "id"}, 200, CITY, None),
        ("/v24.0/me/accounts", {}, 200, None, None),
    ]
    fresh.clear_requests()
    assert fresh.requests == []


def test_status_drop_and_malformed_faults_are_spent(fresh: Sandbox) -> None:
    fresh.inject(Fault(kind="status", path_contains="/media", times=2, status=503))
    fresh.inject(Fault(kind="drop", path_contains="/insights"))
    fresh.inject(Fault(kind="malformed"))
    insights = {"metric": "reach", "period": "day"}
    with _client(fresh) as client:
        failed = [client.get(f"/{CITY}/media") for _ in range(2)]
        malformed = client.get(f"/{CITY}")  # "/media" and "/insights" do not match this path
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(f"/{CITY}/insights", params=insights)
        healthy = [client.get(f"/{CITY}/media"), client.get(f"/{CITY}/insights", params=insights)]
    assert [r.status_code for r in failed] == [503, 503]
    assert failed[0].json()["error"] == {
        "message": "An unexpected error has occurred. Please retry your request later.",
        "type": "OAuthException",
        "code": 2,
        "is_transient": True,
        "fbtrace_id": failed[0].json()["error"]["fbtrace_id"],
    }
    assert malformed.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        malformed.json()
    assert [r.status_code for r in healthy] == [200, 200]
    assert [(r.status, r.fault) for r in fresh.requests] == [
        (503, "status"),
        (503, "status"),
        (200, "malformed"),
        (0, "drop"),
        (200, None),
        (200, None),
    ]
    assert fresh.pending_faults == []


def test_timeout_fault_outlasts_the_client_timeout(fresh: Sandbox) -> None:
    fresh.inject(Fault(kind="timeout", delay=0.3))
    with _client(fresh, timeout=0.1) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.get(f"/{CITY}")
        assert client.get(f"/{CITY}").json() == {"id": CITY}
    assert [r.fault for r in fresh.requests] == ["timeout", None]


def test_rate_limit_fault(fresh: Sandbox) -> None:
    fresh.inject(Fault(kind="rate_limit", code=80002, regain_minutes=7))
    with _client(fresh) as client:
        limited = client.get(f"/{CITY}/media")
        after = client.get(f"/{CITY}/media")
    error = limited.json()["error"]
    assert (limited.status_code, error["code"], error["is_transient"]) == (400, 80002, True)
    assert error["message"].startswith("(#80002) There have been too many calls to this Instagram")
    assert json.loads(limited.headers["x-app-usage"])["call_count"] == 100
    assert json.loads(limited.headers["x-business-use-case-usage"]) == {
        CITY: [
            {
                "type": "instagram",
                "call_count": 100,
                "total_cputime": 100,
                "total_time": 100,
                "estimated_time_to_regain_access": 7,
            }
        ]
    }
    assert after.status_code == 200
    assert json.loads(after.headers["x-business-use-case-usage"])[CITY][0]["call_count"] == 0


def test_default_rate_limit_code_is_4(fresh: Sandbox) -> None:
    fresh.inject(Fault(kind="rate_limit"))
    with _client(fresh) as client:
        error = client.get("/me/accounts").json()["error"]
    assert (error["code"], error["message"]) == (4, "(#4) Application request limit reached")


def test_usage_high_token_expired_and_unsupported_metric_faults(fresh: Sandbox) -> None:
    fresh.inject(Fault(kind="usage_high", usage=90))
    fresh.inject(Fault(kind="token_expired"))
    fresh.inject(Fault(kind="unsupported_metric", path_contains="/insights"))
    media_id = fresh.data.media_for(CITY)[0].id
    with _client(fresh) as client:
        busy = client.get(f"/{CITY}")
        expired = client.get(f"/{CITY}")
        forced = client.get(f"/{media_id}/insights", params={"metric": "views,reach"})
        normal = client.get(f"/{media_id}/insights", params={"metric": "views,reach"})
    assert busy.json() == {"id": CITY}
    assert json.loads(busy.headers["x-app-usage"]) == {
        "call_count": 90,
        "total_cputime": 90,
        "total_time": 90,
    }
    assert json.loads(busy.headers["x-business-use-case-usage"])[CITY][0]["call_count"] == 90
    error = expired.json()["error"]
    assert (expired.status_code, error["code"], error["error_subcode"]) == (400, 190, 463)
    assert error["message"].startswith(
        "Error validating access token: Session has expired on Thursday, 26-Nov-26 00:00:00 PST."
    )
    assert (forced.status_code, forced.json()["error"]["message"]) == (400, UNSUPPORTED_VIEWS)
    assert normal.status_code == 200
    assert [r.fault for r in fresh.requests] == ["usage_high", "token_expired", "unsupported_metric", None]


def test_unknown_fault_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault(kind="explode")


def test_same_seed_same_bodies() -> None:
    params: dict[str, str | int] = {
        "fields": "id,caption,timestamp,like_count,insights.metric(reach,shares)",
        "limit": 50,
    }
    bodies = []
    for seed in (7, 7, 8):
        with Sandbox(as_of=AS_OF, seed=seed) as sb, _client(sb) as client:
            response = client.get(f"/{TV}/media", params=params)
            text = response.text.replace(sb.base_url.replace("/", "\\/"), "BASE")
            bodies.append(text)
    assert bodies[0] == bodies[1]
    assert bodies[0] != bodies[2]


def test_media_keep_identity_as_as_of_moves() -> None:
    today, tomorrow = SandboxData(AS_OF, seed=7), SandboxData(AS_OF + dt.timedelta(days=1), seed=7)
    old = {m.id: m for m in today.media_for(CITY)}
    later = {m.id: m for m in tomorrow.media_for(CITY)}
    shared = old.keys() & later.keys()
    assert len(shared) == len(old) - sum(
        m.timestamp < tomorrow.window_start for m in old.values() if m.supports("views")
    )
    for media_id in shared:
        assert old[media_id].caption == later[media_id].caption
        assert old[media_id].insights["reach"] <= later[media_id].insights["reach"]
    newest = today.media_for(CITY)[0]
    assert newest.insights["reach"] < later[newest.id].insights["reach"]
    assert tomorrow.account(CITY).followers_count - 217_384 == sum(
        today.daily(CITY, day)["follower_count"] for day in platform_days(today.now, tomorrow.now)
    )
