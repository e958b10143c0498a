"""Seeded synthetic news site: tangerangkota.go.id as a WordPress site, ~250 articles a month.

Everything is a pure function of ``(seed, as_of, months)``. Articles are generated per Jakarta
day (keyed by seed and date), so an article keeps its id, title and terms when ``as_of`` moves;
ids grow with the date like the real site's (about 67,000 in 2026). The site covers the
``months - 1`` whole months before ``as_of``'s month plus that month up to the day before
``as_of``: every article is in the past. About one in seven is edited days after publication.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sandbox.captions import DISTRICTS, PLACES

UTC = dt.UTC
JAKARTA = dt.timezone(dt.timedelta(hours=7))
HOME = "https://www.tangerangkota.go.id"
SITE_ID = "tangerangkota.go.id"
ID_ANCHOR = dt.date(2020, 1, 1)  # article ids: 20,000 + 20 per day since, + the day's index
# id -> (name, slug); WordPress's "Uncategorized" is 1
CATEGORIES = {
    1: ("Berita", "berita"),
    3: ("Pemerintahan", "pemerintahan"),
    4: ("Kesehatan", "kesehatan"),
    5: ("Pendidikan", "pendidikan"),
    6: ("Infrastruktur", "infrastruktur"),
    7: ("Lingkungan", "lingkungan"),
    8: ("Pariwisata", "pariwisata"),
    9: ("Layanan Publik", "layanan-publik"),
}
TAGS = {
    101: ("CFD Tangerang", "cfd-tangerang"),
    102: ("Siaga Banjir", "siaga-banjir"),
    103: ("Ayo ke Tangerang", "ayo-ke-tangerang"),
    104: ("Festival Cisadane", "festival-cisadane"),
    105: ("Posyandu", "posyandu"),
    106: ("Cegah Stunting", "cegah-stunting"),
    107: ("Dukcapil", "dukcapil"),
    108: ("Lalu Lintas", "lalu-lintas"),
    109: ("Tangerang Gemilang", "tangerang-gemilang"),
}
# topic -> (category, tags it may carry, title templates); &#8211; and &amp; as WordPress writes them
TOPICS = {
    "pemerintahan": (3, (109,), (
        "Wali Kota Tangerang Pimpin Apel Pagi di {place}",
        "Pemkot Tangerang Gelar Musrenbang Kecamatan {district}",
        "Sekda Kota Tangerang Tinjau Pelayanan di Kecamatan {district} &#8211; Warga Puas",
    )),
    "kesehatan": (4, (105, 106), (
        "Dinkes Gencarkan Posyandu Serentak di Kecamatan {district}",
        "Cegah Stunting, Kader Posyandu {district} Dapat Pelatihan",
        "Vaksinasi Gratis &amp; Cek Kesehatan di {place}",
    )),
    "pendidikan": (5, (109,), (
        "Disdik Kota Tangerang Salurkan Seragam Gratis untuk Siswa {district}",
        "Pelajar {district} Raih Juara Olimpiade Sains",
    )),
    "infrastruktur": (6, (108,), (
        "Dinas PUPR Perbaiki Jalan di {place}",
        "Dishub Uji Coba Rekayasa Lalu Lintas di {place}",
    )),
    "lingkungan": (7, (101, 102), (
        "Car Free Day &amp; Senam Sehat Kembali Digelar di {place}",
        "BPBD Siaga Banjir, Debit Sungai Cisadane Dipantau 24 Jam",
        "Warga {district} Gotong Royong Bersihkan Saluran Air",
    )),
    "pariwisata": (8, (103, 104), (
        "Festival Cisadane {year} Hadirkan Lomba Perahu Naga",
        "Ayo ke Tangerang: Wisata Kuliner di {place}",
    )),
    "layanan": (9, (107,), (
        "Disdukcapil Buka Layanan Jemput Bola di Kecamatan {district}",
        "Urus KTP Kini Bisa Lewat Aplikasi Tangerang LIVE",
    )),
}
LEADS = (
    "Pemerintah Kota Tangerang terus meningkatkan pelayanan kepada masyarakat.",
    "Kegiatan ini diikuti ratusan warga dari berbagai kelurahan.",
    "Wali Kota mengajak seluruh warga untuk ikut menyukseskan program ini.",
    "Warga dapat menghubungi Call Center 112 (bebas pulsa) selama 24 jam.",
    "Informasi lengkap tersedia di aplikasi Tangerang LIVE.",
)


@dataclass(frozen=True)
class Term:
    """A category or tag."""

    id: int
    name: str
    slug: str
    taxonomy: str  # category | post_tag


@dataclass(frozen=True)
class Article:
    """One published post as WordPress stores it (title and excerpt are rendered HTML)."""

    id: int
    date_gmt: dt.datetime  # aware UTC
    modified_gmt: dt.datetime
    slug: str
    title: str
    excerpt: str
    categories: tuple[int, ...]
    tags: tuple[int, ...]

    @property
    def link(self) -> str:
        """The public permalink, shaped like the real site's."""
        return f"{HOME}/berita/detail/{self.id}/{self.slug}"

    @property
    def month(self) -> dt.date:
        """First day of the Jakarta month the article was published in."""
        return self.date_gmt.astimezone(JAKARTA).date().replace(day=1)


def month_start(day: dt.date, back: int) -> dt.date:
    """The first day of the month ``back`` months before ``day``'s month."""
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


def _slug(title: str) -> str:
    """A WordPress-like slug of a title."""
    plain = title.replace("&#8211;", " ").replace("&amp;", " ")
    words = "".join(c.lower() if c.isalnum() else " " for c in plain).split()
    return "-".join(words)


class SiteData:
    """The sandbox site's articles and terms for one ``as_of`` date."""

    name = "Pemerintah Kota Tangerang"
    description = "Portal Resmi Pemerintah Kota Tangerang"

    def __init__(self, as_of: dt.date, seed: int = 7, months: int = 6) -> None:
        self.as_of = as_of
        self.seed = seed
        self.first_day = month_start(as_of, months - 1)
        self.last_day = as_of - dt.timedelta(days=1)  # a Jakarta date; its articles are all past
        self.edited_until = dt.datetime.combine(as_of, dt.time(0), UTC) - dt.timedelta(hours=9)

    @cached_property
    def articles(self) -> list[Article]:
        """Every published article, oldest first (ids ascending)."""
        found: list[Article] = []
        day = self.first_day
        while day <= self.last_day:
            found += self._day(day)
            day += dt.timedelta(days=1)
        return found

    @cached_property
    def terms(self) -> dict[int, Term]:
        """Categories and tags by id."""
        cats = {i: Term(i, name, slug, "category") for i, (name, slug) in CATEGORIES.items()}
        tags = {i: Term(i, name, slug, "post_tag") for i, (name, slug) in TAGS.items()}
        return cats | tags

    def _day(self, day: dt.date) -> list[Article]:
        """The articles of one Jakarta day: 4-7 on weekends, 7-12 on weekdays."""
        rng = random.Random(f"{self.seed}:website:{day.isoformat()}")
        count = rng.randint(4, 7) if day.weekday() >= 5 else rng.randint(7, 12)
        minutes = sorted(rng.sample(range(6 * 60, 22 * 60), count))
        base = 20_000 + (day - ID_ANCHOR).days * 20
        return [self._article(rng, base + i, day, minute) for i, minute in enumerate(minutes)]

    def _article(self, rng: random.Random, article_id: int, day: dt.date, minute: int) -> Article:
        """One article published on a Jakarta day at a minute of that day."""
        topic = rng.choice(sorted(TOPICS))
        category, tags, titles = TOPICS[topic]
        title = rng.choice(titles).format(place=rng.choice(PLACES), district=rng.choice(DISTRICTS),
                                          year=day.year)
        local = dt.datetime.combine(day, dt.time(minute // 60, minute % 60), JAKARTA)
        published = local.astimezone(UTC)
        edited = published + dt.timedelta(minutes=rng.randint(1, 30))
        if rng.random() < 0.15:
            edited = published + dt.timedelta(days=rng.randint(1, 20), minutes=rng.randint(0, 600))
        chosen = tuple(sorted(rng.sample(tags, rng.randint(0, len(tags)))))
        hashtag = " #AyoKeTangerang" if rng.random() < 0.1 else ""
        excerpt = f"<p>TANGERANG &#8211; {rng.choice(LEADS)}{hashtag} [&hellip;]</p>\n"
        return Article(article_id, published, min(edited, self.edited_until), _slug(title), title,
                       excerpt, (1, category) if rng.random() < 0.3 else (category,), chosen)

    def hashtags(self, article: Article) -> set[str]:
        """The article's hashtags as documented: its terms' names squeezed, and #tags in its text."""
        names = {"".join(c for c in self.terms[t].name.lower() if c.isalnum())
                 for t in (*article.categories, *article.tags)}
        return names | ({"ayoketangerang"} if "#AyoKeTangerang" in article.excerpt else set())

    def expected(self) -> dict[str, Any]:
        """The truth an end-to-end test checks: articles in all and per Jakarta month, by hashtag."""
        per_month = Counter(a.month for a in self.articles)
        by_hashtag = Counter(tag for a in self.articles for tag in self.hashtags(a))
        return {
            "articles": len(self.articles),
            "per_month": dict(sorted(per_month.items())),
            "by_hashtag": dict(sorted(by_hashtag.items())),
            "first_id": self.articles[0].id,
            "last_id": self.articles[-1].id,
        }
