"""One run's news-website responses (WordPress REST or a feed) -> frames of the common schema.

Streams (``meta["stream"]``) and what they feed:

* ``site``: the REST index -> ``channel`` (display name = the site's ``name``, url = ``home``).
  Probes that found no index (404s, HTML pages) are the connector's business, not a problem here.
* ``posts``: pages of ``/wp/v2/posts`` -> ``content`` (content_type ``article``, media_type
  ``post``); and from a listing of every article (context ``listing == "all"``) its
  ``X-WP-Total`` -> ``channel_metrics_daily.posts_count`` on the local date of the fetch.
* ``feed``: an RSS 2.0 or Atom document -> ``channel`` and ``content`` (media_type ``rss`` or
  ``atom``); a feed gives no totals, so no ``channel_metrics_daily``.

Decisions: ``published_at`` is ``date_gmt`` read as UTC (WordPress omits the ``Z``), a feed's
``pubDate``/``published``. Titles and excerpts are rendered HTML: tags stripped, entities
decoded; the excerpt is the caption. Hashtags are the article's categories and tags (a term's
name lower-cased with everything but letters and digits removed: "Ayo ke Tangerang" ->
``ayoketangerang``), then ``#hashtags`` in the title and excerpt: editors label articles with
terms, not hashtags, and campaigns match on hashtags; a feed does not tell categories from tags,
so both count alike everywhere. A feed item's id is WordPress's post id when its guid is
``…/?p=<id>`` (so feed and REST rows of one article coincide), else the guid or link.
WordPress core reports no per-article metric: ``content_metrics_daily`` stays empty rather than
holding rows of NULLs.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

import polars as pl

from socmed.rawzone import StoredResponse
from transforms.common import (
    RESP,
    ChannelRef,
    Numbered,
    TransformResult,
    decode_json,
    finish_table,
    group_streams,
    hashtags,
    latest,
    local_date,
    problem,
    provenance,
)
from transforms.schemas import KEYS, empty

PLATFORM = "website"
STREAMS = ("site", "posts", "feed")
ATOM_NS = "{http://www.w3.org/2005/Atom}"
WP_GUID = re.compile(r"[?&]p=(\d+)$")
TAG = r"<[^>]*>"
ENTITY = r"&#?\w+;"
NOT_WORD = r"[\W_]+"

_TERM = pl.Struct({"name": pl.Utf8()})
_POST = {
    "id": pl.Int64(),
    "date_gmt": pl.Utf8(),
    "link": pl.Utf8(),
    "title": pl.Struct({"rendered": pl.Utf8()}),
    "excerpt": pl.Struct({"rendered": pl.Utf8()}),
    "_embedded": pl.Struct({"wp:term": pl.List(pl.List(_TERM))}),
}
_ITEM = {
    RESP: pl.Int64(),
    "content_id": pl.Utf8(),
    "media_type": pl.Utf8(),
    "published": pl.Utf8(),
    "title": pl.Utf8(),
    "caption": pl.Utf8(),
    "url": pl.Utf8(),
    "terms": pl.List(pl.Utf8()),
}
_SITE = {RESP: pl.Int64(), "display_name": pl.Utf8(), "url": pl.Utf8()}


def transform_website(responses: Iterable[StoredResponse], channel: ChannelRef) -> TransformResult:
    """One run's raw website responses (arrival order) -> the common-schema frames."""
    if channel.platform != PLATFORM:
        raise ValueError(f"transform_website got a {channel.platform!r} channel")
    streams = group_streams(responses)
    prov = provenance(pair for pages in streams.values() for pair in pages)
    problems = [
        problem(pages[0][1], f"{len(pages)} response(s) of stream {name!r} not transformed")
        for name, pages in streams.items() if name not in STREAMS
    ]
    posts = _posts(streams.get("posts", []), problems)
    feeds = [_feed(number, response, problems) for number, response in streams.get("feed", [])]
    items = pl.concat([posts, *(f[1] for f in feeds)])
    sites = pl.concat([_sites(streams.get("site", [])), *(f[0] for f in feeds)])
    frames = {
        "channel": _channel(sites.join(prov, on=RESP), channel),
        "content": _content(items.join(prov, on=RESP), channel, problems),
        "content_metrics_daily": empty("content_metrics_daily"),
        "channel_metrics_daily": _totals(streams.get("posts", []), prov, channel),
    }
    return TransformResult({t: finish_table(t, f) for t, f in frames.items()}, problems)


def plain_text(rendered: pl.Expr) -> pl.Expr:
    """Rendered HTML as text: tags stripped, entities decoded, whitespace trimmed."""
    stripped = rendered.str.replace_all(TAG, "")
    return stripped.map_elements(html.unescape, return_dtype=pl.Utf8()).str.strip_chars()


def term_hashtags(names: pl.Expr) -> pl.Expr:
    """Category or tag names as hashtags: entities and all but letters and digits removed, lower case."""
    tag = pl.element().str.replace_all(ENTITY, "").str.replace_all(NOT_WORD, "").str.to_lowercase()
    return names.list.eval(tag).list.filter(pl.element() != "")


def _sites(pages: list[Numbered]) -> pl.DataFrame:
    """The REST index bodies that name a site (failed probes are skipped silently)."""
    rows = []
    for number, response in pages:
        body, error = decode_json(response)
        if error is None and isinstance(body, dict) and isinstance(body.get("name"), str):
            home = body.get("home") or body.get("url")
            rows.append({RESP: number, "display_name": html.unescape(body["name"]),
                         "url": home if isinstance(home, str) else None})
    return pl.DataFrame(rows, schema=_SITE)


def _posts(pages: list[Numbered], problems: list[str]) -> pl.DataFrame:
    """Every post of every page, one row per post observation (``_ITEM`` columns)."""
    frames = [frame for number, response in pages
              if (frame := _post_page(number, response, problems)) is not None]
    if not frames:
        return pl.DataFrame(schema=_ITEM)
    posts = pl.concat(frames)
    terms = pl.col("_embedded").struct.field("wp:term").list.eval(
        pl.element().list.eval(pl.element().struct.field("name")).explode())
    return posts.select(
        RESP,
        content_id=pl.col("id").cast(pl.Utf8()),
        media_type=pl.lit("post"),
        published=pl.col("date_gmt"),
        title=plain_text(pl.col("title").struct.field("rendered")),
        caption=plain_text(pl.col("excerpt").struct.field("rendered")),
        url=pl.col("link"),
        terms=terms.list.drop_nulls().fill_null(pl.lit([], dtype=pl.List(pl.Utf8()))),
    )


def _post_page(number: int, response: StoredResponse, problems: list[str]) -> pl.DataFrame | None:
    """One posts page (a JSON array) read with the post schema, or None with a problem."""
    body, error = decode_json(response)
    if error is None and not isinstance(body, list):
        error = problem(response, "posts body is not a JSON array")
    if error is not None:
        problems.append(error)
        return None
    posts = [p for p in body if isinstance(p, dict) and isinstance(p.get("id"), int)]
    if len(posts) < len(body):
        problems.append(problem(response, f"{len(body) - len(posts)} post(s) without an integer id skipped"))
    frame = pl.DataFrame(posts, schema=_POST, strict=False) if posts else pl.DataFrame(schema=_POST)
    return frame.with_columns(pl.lit(number, dtype=pl.Int64()).alias(RESP))


def _text(node: ET.Element | None) -> str | None:
    """An element's text, stripped, or None."""
    text = node.text if node is not None else None
    return text.strip() if text and text.strip() else None


def _feed(number: int, response: StoredResponse, problems: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A feed's channel row and item rows (RSS 2.0 or Atom); empty frames with a problem if unreadable."""
    try:
        root = ET.fromstring(response.body)
    except ET.ParseError as exc:
        problems.append(problem(response, f"feed is not XML ({exc})"))
        return pl.DataFrame(schema=_SITE), pl.DataFrame(schema=_ITEM)
    if root.tag == "rss" and (rss := root.find("channel")) is not None:
        site = (_text(rss.find("title")), _text(rss.find("link")))
        items = [_rss_item(number, item) for item in rss.iter("item")]
    elif root.tag == f"{ATOM_NS}feed":
        site = (_text(root.find(f"{ATOM_NS}title")), _atom_link(root))
        items = [_atom_entry(number, entry) for entry in root.iter(f"{ATOM_NS}entry")]
    else:
        problems.append(problem(response, f"<{root.tag}> is neither an RSS 2.0 nor an Atom feed"))
        return pl.DataFrame(schema=_SITE), pl.DataFrame(schema=_ITEM)
    sites = pl.DataFrame([{RESP: number, "display_name": site[0], "url": site[1]}], schema=_SITE)
    return sites, pl.DataFrame(items, schema=_ITEM).with_columns(
        title=plain_text(pl.col("title")), caption=plain_text(pl.col("caption")))


def _item_id(guid: str | None, link: str | None) -> str | None:
    """WordPress's post id from a ``?p=<id>`` guid, else the guid, else the link."""
    found = WP_GUID.search(guid or "")
    return found.group(1) if found else (guid or link)


def _rss_item(number: int, item: ET.Element) -> dict[str, Any]:
    """One RSS ``item`` as an item row (pubDate converted to ISO 8601 UTC)."""
    link = _text(item.find("link"))
    stamp = _text(item.find("pubDate"))
    try:
        published = email.utils.parsedate_to_datetime(stamp).astimezone(dt.UTC).isoformat() if stamp else None
    except (TypeError, ValueError):
        published = stamp
    return {RESP: number, "content_id": _item_id(_text(item.find("guid")), link), "media_type": "rss",
            "published": published, "title": _text(item.find("title")),
            "caption": _text(item.find("description")), "url": link,
            "terms": [t for c in item.findall("category") if (t := _text(c))]}


def _atom_link(node: ET.Element) -> str | None:
    """The ``alternate`` link of an Atom feed or entry."""
    for link in node.findall(f"{ATOM_NS}link"):
        if link.get("rel", "alternate") == "alternate":
            return link.get("href")
    return None


def _atom_entry(number: int, entry: ET.Element) -> dict[str, Any]:
    """One Atom ``entry`` as an item row."""
    link = _atom_link(entry)
    published = _text(entry.find(f"{ATOM_NS}published")) or _text(entry.find(f"{ATOM_NS}updated"))
    summary = entry.find(f"{ATOM_NS}summary")
    return {RESP: number, "content_id": _item_id(_text(entry.find(f"{ATOM_NS}id")), link),
            "media_type": "atom", "published": published, "title": _text(entry.find(f"{ATOM_NS}title")),
            "caption": _text(summary if summary is not None else entry.find(f"{ATOM_NS}content")),
            "url": link, "terms": [t for c in entry.findall(f"{ATOM_NS}category") if (t := c.get("term"))]}


def _published(text: pl.Expr) -> pl.Expr:
    """ISO 8601 text as UTC; WordPress's ``*_gmt`` values (no offset) are UTC."""
    with_zone = pl.when(text.str.contains(r"(Z|[+-]\d\d:?\d\d)$")).then(text).otherwise(text + "Z")
    return with_zone.str.to_datetime(time_unit="us", time_zone="UTC", strict=False)


def _content(items: pl.DataFrame, channel: ChannelRef, problems: list[str]) -> pl.DataFrame:
    """One content row per article, from its latest observation."""
    frame = items.with_columns(published_at=_published(pl.col("published")))
    bad = frame.filter(pl.col("content_id").is_null() | pl.col("published_at").is_null())
    problems.extend(
        f"{raw_file}: article {content_id or url!r} without an id or a readable date skipped"
        for raw_file, content_id, url in bad.select("raw_file", "content_id", "url").iter_rows()
    )
    text = hashtags(pl.concat_str([pl.col("title"), pl.col("caption")], separator=" ", ignore_nulls=True))
    return (
        frame.filter(pl.col("content_id").is_not_null() & pl.col("published_at").is_not_null())
        .pipe(latest, ["content_id"])
        .with_columns(
            platform=pl.lit(PLATFORM),
            channel_id=pl.lit(channel.channel_id),
            content_type=pl.lit("article"),
            hashtags=pl.concat_list(term_hashtags(pl.col("terms")), text).list.unique(maintain_order=True),
        )
    )


def _channel(sites: pl.DataFrame, channel: ChannelRef) -> pl.DataFrame:
    """The channel row from the latest site index or feed."""
    return sites.with_columns(
        platform=pl.lit(PLATFORM),
        channel_id=pl.lit(channel.channel_id),
        handle=pl.lit(channel.handle),
        timezone=pl.lit(channel.timezone),
    ).pipe(latest, KEYS["channel"])


def _totals(pages: list[Numbered], prov: pl.DataFrame, channel: ChannelRef) -> pl.DataFrame:
    """``posts_count`` from the ``X-WP-Total`` of listings of every article, per local day."""
    rows = [
        {RESP: number, "posts_count": int(total)}
        for number, response in pages
        if (context := response.meta.get("context") or {}).get("listing") == "all"
        and str(total := context.get("x-wp-total", "")).isdigit()
    ]
    frame = pl.DataFrame(rows, schema={RESP: pl.Int64(), "posts_count": pl.Int64()}).join(prov, on=RESP)
    return frame.with_columns(
        platform=pl.lit(PLATFORM),
        channel_id=pl.lit(channel.channel_id),
        snapshot_date=local_date(pl.col("fetched_at"), channel.timezone),
    ).pipe(latest, KEYS["channel_metrics_daily"])
