"""Campaigns: the configured definitions and the content matching each, kept in the warehouse.

The configuration is the source of truth: :func:`refresh_campaigns` upserts every configured
campaign, deletes the ones no longer configured, and recomputes which content matches each,
all in one transaction, touching only rows that change (a second refresh writes nothing).

Matching, on the caption and the title together:

* text is compared after Unicode NFKC normalisation, accent stripping and case folding, so
  ``#CFDTangerang``, ``#cfdtangerang`` and full-width or accented forms are the same;
* a campaign hashtag matches a tag in ``content.hashtags`` or a ``#tag`` anywhere in the text
  (inside a sentence too), as a whole tag: ``#banjir`` does not match ``#banjirkanal``;
* a keyword or phrase matches whole words, any run of spaces or line breaks between them,
  optionally followed by an Indonesian clitic or particle (-nya, -ku, -mu, -lah, -kah, -pun)
  or an English plural or possessive (-s, -'s): ``banjir`` matches "Banjirnya" and "#banjir",
  ``flood`` matches "floods", neither matches "kebanjiran";
* a phrase also matches the same words written as one hashtag: "car free day" matches
  ``#CarFreeDay``;
* the publication date in the channel's time zone must lie within [start, end], and the
  channel must be listed when the campaign names channels.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, Table, delete, select, text, tuple_, update

from socmed.config import CampaignSettings
from warehouse.engine import begin_write
from warehouse.models import Campaign, CampaignContent, Channel, Content, utcnow
from warehouse.timezones import ensure_time_zones, insert_ignoring_conflicts

CAMPAIGN: Table = Campaign.__table__  # type: ignore[assignment]
MEMBERS: Table = CampaignContent.__table__  # type: ignore[assignment]
SUFFIXES = r"(?:nya|ku|mu|lah|kah|pun|'s|’s|s)?"
_TAG = re.compile(r"#(\w+)")
_PG_LOCK_KEY = 0x50C_3ED_0005


def fold(text: str) -> str:
    """Text normalised for matching: NFKC, accents stripped, case folded."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


@dataclass(frozen=True)
class ContentText:
    """What matching needs to know about one content item."""

    platform: str
    content_id: str
    channel_id: str
    handle: str | None
    published_date: dt.date | None
    text: str
    tags: frozenset[str]


@dataclass(frozen=True)
class Matcher:
    """One campaign's compiled rules."""

    name: str
    hashtags: frozenset[str]
    keywords: tuple[tuple[str, re.Pattern[str], str], ...]  # (keyword, pattern, joined as a tag)
    start: dt.date
    end: dt.date | None
    channels: frozenset[tuple[str, str]] | None  # (platform, folded handle)

    def applies_to(self, item: ContentText) -> bool:
        """Whether the item's date and channel are within the campaign's scope."""
        day = item.published_date
        if day is None or day < self.start or (self.end is not None and day > self.end):
            return False
        return self.channels is None or (item.platform, fold(item.handle or "")) in self.channels

    def match(self, item: ContentText) -> tuple[list[str], list[str]] | None:
        """(hashtags found, keywords found) if the item matches, else None."""
        if not self.applies_to(item):
            return None
        tags = sorted(self.hashtags & item.tags)
        words = [
            kw for kw, pattern, joined in self.keywords if joined in item.tags or pattern.search(item.text)
        ]
        return (tags, words) if tags or words else None


def keyword_pattern(keyword: str) -> re.Pattern[str]:
    """Whole-word pattern of a keyword or phrase, with optional clitic or plural suffix."""
    words = [re.escape(word) for word in fold(keyword).split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + SUFFIXES + r"(?!\w)")


def compile_campaign(campaign: CampaignSettings) -> Matcher:
    """The matcher of one configured campaign."""
    keywords = tuple(
        (kw, keyword_pattern(kw), "".join(fold(kw).split())) for kw in campaign.keywords if kw.strip()
    )
    channels = None
    if campaign.channels is not None:
        pairs = (key.split("/", 1) for key in campaign.channels if "/" in key)
        channels = frozenset((platform, fold(handle.removeprefix("@"))) for platform, handle in pairs)
    return Matcher(
        campaign.name,
        frozenset(fold(t) for t in campaign.hashtags),
        keywords,
        campaign.start,
        campaign.end,
        channels,
    )


def content_text(row: Any) -> ContentText:
    """A ContentText from a content row joined with its channel."""
    body = fold("\n".join(part for part in (row.title, row.caption) if part))
    tags = {fold(tag) for tag in json.loads(row.hashtags or "[]") if isinstance(tag, str)}
    tags |= set(_TAG.findall(body))
    published = row.published_at
    local = published.astimezone(ZoneInfo(row.timezone)).date() if published is not None else None
    return ContentText(row.platform, row.content_id, row.channel_id, row.handle, local, body, frozenset(tags))


def candidates(conn: Connection, matchers: Sequence[Matcher]) -> Iterable[ContentText]:
    """Content published within a day of some campaign's date range (local dates vary by zone)."""
    if not matchers:
        return
    stmt = (
        select(
            Content.platform,
            Content.content_id,
            Content.channel_id,
            Content.published_at,
            Content.title,
            Content.caption,
            Content.hashtags,
            Channel.handle,
            Channel.timezone,
        )
        .join(Channel, (Channel.platform == Content.platform) & (Channel.channel_id == Content.channel_id))
        .where(Content.published_at >= _utc(min(m.start for m in matchers) - dt.timedelta(days=1)))
    )
    if all(m.end is not None for m in matchers):
        latest = max(m.end for m in matchers if m.end is not None)
        stmt = stmt.where(Content.published_at < _utc(latest + dt.timedelta(days=2)))
    for row in conn.execute(stmt):
        yield content_text(row)


def _utc(day: dt.date) -> dt.datetime:
    """Midnight UTC of a date."""
    return dt.datetime.combine(day, dt.time(0), dt.UTC)


Key = tuple[str, str, str]  # (campaign_name, platform, content_id)


def memberships(conn: Connection, matchers: Sequence[Matcher]) -> dict[Key, dict[str, Any]]:
    """Every (campaign, content) match with its channel and the terms found."""
    found: dict[Key, dict[str, Any]] = {}
    for item in candidates(conn, matchers):
        for matcher in matchers:
            hit = matcher.match(item)
            if hit is not None:
                found[(matcher.name, item.platform, item.content_id)] = {
                    "channel_id": item.channel_id,
                    "matched_hashtags": json.dumps(hit[0], ensure_ascii=False) if hit[0] else None,
                    "matched_keywords": json.dumps(hit[1], ensure_ascii=False) if hit[1] else None,
                }
    return found


def campaign_row(campaign: CampaignSettings) -> dict[str, Any]:
    """The campaign table row of a configured campaign (without updated_at)."""
    return {
        "name": campaign.name,
        "hashtags": json.dumps(list(campaign.hashtags), ensure_ascii=False),
        "keywords": json.dumps(list(campaign.keywords), ensure_ascii=False),
        "start_date": campaign.start,
        "end_date": campaign.end,
        "channels": None if campaign.channels is None else json.dumps(campaign.channels, ensure_ascii=False),
    }


def sync_campaigns(conn: Connection, campaigns: Sequence[CampaignSettings]) -> None:
    """Upsert configured campaigns (only when a definition changed) and delete the rest."""
    stored = {row.name: dict(row._mapping) for row in conn.execute(select(CAMPAIGN))}
    for campaign in campaigns:
        row = campaign_row(campaign)
        old = stored.get(campaign.name)
        if old is None:
            conn.execute(CAMPAIGN.insert(), {**row, "updated_at": utcnow()})
        elif any(old[k] != v for k, v in row.items()):
            conn.execute(
                update(CAMPAIGN).where(CAMPAIGN.c.name == campaign.name).values(**row, updated_at=utcnow())
            )
    gone = set(stored) - {c.name for c in campaigns}
    if gone:
        conn.execute(delete(MEMBERS).where(MEMBERS.c.campaign_name.in_(gone)))
        conn.execute(delete(CAMPAIGN).where(CAMPAIGN.c.name.in_(gone)))


def sync_members(conn: Connection, found: dict[Key, dict[str, Any]]) -> None:
    """Insert new matches, update changed terms, delete matches that no longer hold."""
    cols = (MEMBERS.c.campaign_name, MEMBERS.c.platform, MEMBERS.c.content_id)
    terms = (MEMBERS.c.channel_id, MEMBERS.c.matched_hashtags, MEMBERS.c.matched_keywords)
    stored = {
        tuple(r[:3]): dict(zip(("channel_id", "matched_hashtags", "matched_keywords"), r[3:], strict=True))
        for r in conn.execute(select(*cols, *terms))
    }
    gone = [key for key in stored if key not in found]
    for start in range(0, len(gone), 500):
        conn.execute(delete(MEMBERS).where(tuple_(*cols).in_(gone[start : start + 500])))
    new = [{**_key_dict(k), **v, "matched_at": utcnow()} for k, v in found.items() if k not in stored]
    if new:
        conn.execute(insert_ignoring_conflicts(conn, MEMBERS), new)
    for key, values in found.items():
        if key in stored and stored[key] != values:
            conn.execute(update(MEMBERS).where(tuple_(*cols) == key).values(**values))


def _key_dict(key: Key) -> dict[str, str]:
    """Bind parameters of a membership key."""
    return dict(zip(("campaign_name", "platform", "content_id"), key, strict=True))


def refresh_campaigns(engine: Engine, campaigns: list[CampaignSettings]) -> dict[str, int]:
    """Upsert campaigns from config and recompute their content, atomically; matches per campaign."""
    names = [c.name for c in campaigns]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"duplicate campaign name {duplicated[0]!r}: campaign names must be unique")
    matchers = [compile_campaign(c) for c in campaigns]
    with begin_write(engine) as conn:
        if conn.dialect.name == "postgresql":  # concurrent runs refresh one after the other
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        ensure_time_zones(conn)
        sync_campaigns(conn, campaigns)
        found = memberships(conn, matchers)
        sync_members(conn, found)
    counts = dict.fromkeys((c.name for c in campaigns), 0)
    for name, _, _ in found:
        counts[name] += 1
    return counts
