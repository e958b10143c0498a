"""Campaign matching (Indonesian and English text, case, hashtags in captions) and the refresh."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from flows.ingest import ingest
from flows.reprocess import reprocess
from sandbox.data import SandboxData
from sandbox.server import Sandbox
from socmed.config import CampaignSettings
from tests import marts_dataset
from tests.e2e_helpers import TOKEN_ENV, query, write_config
from warehouse.campaigns import ContentText, compile_campaign, fold, refresh_campaigns
from warehouse.engine import make_engine
from warehouse.migrate import upgrade

DAY = dt.date(2026, 11, 10)


def item(text: str, tags: tuple[str, ...] = (), day: dt.date = DAY, handle: str = "kota") -> ContentText:
    """A content item as the matcher sees it (text folded, tags from the caption added)."""
    folded = fold(text)
    found = set(re.findall(r"#(\w+)", folded)) | {fold(t) for t in tags}
    return ContentText("instagram", "1", "c1", handle, day, folded, frozenset(found))


def campaign(**kw: object) -> CampaignSettings:
    """A campaign active in November 2026."""
    base: dict[str, object] = {"name": "C", "start": dt.date(2026, 11, 1), "end": dt.date(2026, 11, 30)}
    return CampaignSettings.model_validate(base | kw)


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("Yuk ke #CFDTangerang besok!", (["cfdtangerang"], [])),
        ("Jangan lupa tag kami dengan #cfdtangerang ya!\n\n#SobatTangerang", (["cfdtangerang"], [])),
        ("#CFDTANGERANG", (["cfdtangerang"], [])),
        ("ＣＦＤ #ＣＦＤＴａｎｇｅｒａｎｇ", (["cfdtangerang"], [])),  # full-width forms
        ("#CFDTangerang2025 recap", None),  # a different tag
        ("CFDTangerang without the hash", None),
    ],
)
def test_hashtags_match_whole_tags_in_any_case_anywhere_in_the_caption(
    text: str, hit: tuple[list[str], list[str]] | None
) -> None:
    assert compile_campaign(campaign(hashtags=["#CFDTangerang"])).match(item(text)) == hit


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("Info BANJIR di Ciledug", ["banjir"]),
        ("Banjirnya sudah surut", ["banjir"]),  # Indonesian clitic -nya
        ("#SiagaBanjir #banjir", ["banjir"]),
        ("Warga kebanjiran sejak pagi", None),  # a different word
        ("Flood alert for Periuk residents", ["flood"]),
        ("Floods expected tonight", ["flood"]),  # English plural
        ("Bloodflood", None),
        ("Car Free Day is back", ["car free day"]),
        ("CAR  FREE\nDAY minggu ini", ["car free day"]),  # any whitespace between the words
        ("Ayo ikut #CarFreeDay", ["car free day"]),  # the phrase written as one hashtag
        ("Free car day", None),
        ("Café Tangerang buka", ["cafe"]),  # accents do not matter
    ],
)
def test_keywords_match_whole_words_and_phrases_in_indonesian_and_english(
    text: str, hit: list[str] | None
) -> None:
    matcher = compile_campaign(campaign(keywords=["banjir", "flood", "car free day", "cafe"]))
    got = matcher.match(item(text))
    assert (got[1] if got else None) == hit


def test_date_range_and_channels_limit_the_scope() -> None:
    matcher = compile_campaign(campaign(hashtags=["cfd"], channels=["instagram/@Kota"]))
    assert matcher.match(item("#cfd", day=dt.date(2026, 11, 1))) == (["cfd"], [])
    assert matcher.match(item("#cfd", day=dt.date(2026, 11, 30))) == (["cfd"], [])
    assert matcher.match(item("#cfd", day=dt.date(2026, 10, 31))) is None
    assert matcher.match(item("#cfd", day=dt.date(2026, 12, 1))) is None
    assert matcher.match(item("#cfd", handle="tv")) is None
    open_ended = compile_campaign(campaign(hashtags=["cfd"], end=None))
    assert open_ended.match(item("#cfd", day=dt.date(2030, 1, 1))) == (["cfd"], [])


@pytest.fixture
def engine(warehouse_url: str) -> Iterator[Engine]:
    """A migrated warehouse holding the fixed data set and its campaigns."""
    upgrade(warehouse_url)
    eng = make_engine(warehouse_url)
    yield eng
    eng.dispose()


def members(engine: Engine) -> list[tuple[object, ...]]:
    """campaign_content as (campaign, content, hashtags, keywords, matched_at) rows."""
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT campaign_name, content_id, matched_hashtags, matched_keywords, matched_at "
                    "FROM campaign_content ORDER BY campaign_name, content_id"
                )
            )
        ]


def test_refresh_stores_campaigns_and_matches_using_local_dates(engine: Engine) -> None:
    assert marts_dataset.load(engine) == {"Car Free Day": 3, "Siaga Banjir": 1}
    assert [m[:4] for m in members(engine)] == [
        ("Car Free Day", "a1", '["cfdtangerang"]', '["car free day"]'),
        ("Car Free Day", "b1", None, '["car free day"]'),
        ("Car Free Day", "w1", None, '["car free day"]'),  # in the article's title
        # published 2026-10-31 18:30 UTC, which is 11-01 in Jakarta: inside "Siaga Banjir" either way
        ("Siaga Banjir", "a2", None, '["banjir"]'),
    ]
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT * FROM campaign ORDER BY name")).all()
    assert [(r.name, json.loads(r.hashtags), json.loads(r.keywords), str(r.end_date)) for r in stored] == [
        ("Car Free Day", ["cfdtangerang", "carfreeday"], ["car free day"], "2026-11-30"),
        ("Siaga Banjir", ["siagabanjir"], ["banjir", "flood"], "None"),
    ]


def test_second_refresh_changes_nothing_and_removed_campaigns_disappear(engine: Engine) -> None:
    marts_dataset.load(engine)
    before = members(engine)
    with engine.connect() as conn:
        updated = conn.execute(text("SELECT name, updated_at FROM campaign ORDER BY name")).all()
    assert refresh_campaigns(engine, marts_dataset.CAMPAIGNS) == {"Car Free Day": 3, "Siaga Banjir": 1}
    assert members(engine) == before
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name, updated_at FROM campaign ORDER BY name")).all() == updated

    narrowed = marts_dataset.CAMPAIGNS[0].model_copy(update={"channels": ["instagram/@tv"]})
    assert refresh_campaigns(engine, [narrowed]) == {"Car Free Day": 1}
    assert [m[:2] for m in members(engine)] == [("Car Free Day", "b1")]
    assert members(engine)[0][4] == before[1][4]  # b1 kept its first matched_at
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM campaign")).scalars().all() == ["Car Free Day"]
        assert (
            conn.execute(
                text("SELECT count(*) FROM mart_campaign_daily WHERE campaign = 'Siaga Banjir'")
            ).scalar()
            == 0
        )


def test_refresh_rejects_duplicate_campaign_names(engine: Engine) -> None:
    with pytest.raises(ValueError, match="duplicate campaign name 'Car Free Day'"):
        refresh_campaigns(engine, [marts_dataset.CAMPAIGNS[0], marts_dataset.CAMPAIGNS[0]])


def test_refresh_with_no_campaigns_on_an_empty_warehouse(engine: Engine) -> None:
    assert refresh_campaigns(engine, []) == {}
    assert members(engine) == []


def sandbox_truth(data: SandboxData, tag: str, start: dt.date) -> dict[str, int]:
    """Sandbox posts tagged #tag (any case, anywhere) published on or after start in Jakarta: reach."""
    jakarta = zoneinfo.ZoneInfo("Asia/Jakarta")
    return {
        media.id: media.insights["reach"]
        for account in data.accounts
        for media in data.media_for(account.id)
        if media.timestamp.astimezone(jakarta).date() >= start
        and tag in {t.lower() for t in re.findall(r"#(\w+)", media.caption or "")}
    }


@pytest.mark.slow
def test_ingest_and_reprocess_keep_campaigns_current(
    prefect_server: None, warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "sandbox-campaign-token")
    today = dt.datetime.now(dt.UTC).date()
    start = today - dt.timedelta(days=120)
    campaign_toml = f'\n[[campaigns]]\nname = "CFD"\nhashtags = ["#CFDTangerang"]\nstart = {start}\n'
    with Sandbox(as_of=today, token="sandbox-campaign-token") as sandbox:
        config = write_config(tmp_path, sandbox.base_url, warehouse_url, sandbox.data)
        config.write_text(config.read_text() + campaign_toml)
        ingest(str(config))
        truth = sandbox_truth(sandbox.data, "cfdtangerang", start)
        got = query(warehouse_url, "SELECT content_id FROM campaign_content WHERE campaign_name = 'CFD'")
        assert sorted(r[0] for r in got) == sorted(truth) and len(truth) > 10
        reach = query(
            warehouse_url, "SELECT SUM(reach_delta) FROM mart_campaign_daily WHERE campaign = 'CFD'"
        )
        assert int(reach[0][0]) == sum(truth.values())  # deltas add up to the lifetime reach

        config.write_text(config.read_text().replace('name = "CFD"', 'name = "Car Free Day"'))
        asyncio.run(reprocess(str(config)))
        names = query(
            warehouse_url, "SELECT campaign_name, count(*) FROM campaign_content GROUP BY campaign_name"
        )
        assert names == [("Car Free Day", len(truth))]
