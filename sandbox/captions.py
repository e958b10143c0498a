"""Caption text for the synthetic city accounts: Indonesian and English, emoji, hashtags."""

from __future__ import annotations

import random

DISTRICTS = (
    "Batuceper",
    "Benda",
    "Cibodas",
    "Ciledug",
    "Cipondoh",
    "Jatiuwung",
    "Karang Tengah",
    "Karawaci",
    "Larangan",
    "Neglasari",
    "Periuk",
    "Pinang",
    "Tangerang",
)

PLACES = (
    "Jl. Jenderal Sudirman",
    "Taman Potret",
    "Alun-alun Ahmad Yani",
    "Taman Gajah Tunggal",
    "Puspemkot Tangerang",
    "Jembatan Berendeng",
    "Pasar Lama",
    "Sungai Cisadane",
)

HASHTAGS = (
    "#TangerangKota",
    "#AyoKeTangerang",
    "#SobatTangerang",
    "#TangerangLiveable",
    "#KotaTangerang",
    "#TangerangBerakhlakul",
    "#PemkotTangerang",
)

TOPIC_TAGS = {
    "cfd": ("#CFDTangerang", "#CarFreeDay", "#HidupSehat"),
    "flood": ("#SiagaBanjir", "#InfoBanjir", "#TangerangSiaga"),
    "health": ("#Posyandu", "#CegahStunting", "#GermasTangerang"),
    "service": ("#LayananPublik", "#TangerangLive", "#Dukcapil"),
    "event": ("#FestivalCisadane", "#WisataTangerang", "#EventTangerang"),
    "traffic": ("#InfoLalin", "#LaluLintas", "#Dishub"),
}

OPENERS = {
    "cfd": (
        "Car Free Day is back this Sunday! 🚴‍♀️🏃",
        "Yuk ramaikan Car Free Day di {place} besok pagi! ☀️",
        "CFD minggu ini seru banget, Sobat! 🎉",
        "Sunday morning vibes at {place} 🌳",
    ),
    "flood": (
        "⚠️ INFO SIAGA BANJIR ⚠️",
        "Hujan deras sejak sore, debit Sungai Cisadane naik. 🌧️",
        "Flood alert for {district} residents 🚨",
        "Update genangan di wilayah {district} pukul {hour}.00 WIB 🌊",
    ),
    "health": (
        "Posyandu serentak hari ini di seluruh kelurahan 👶💉",
        "Free health check-up at {place}! 🩺",
        "Ayo cegah stunting mulai dari rumah ❤️",
        "Vaksinasi gratis untuk warga {district} 💪",
    ),
    "service": (
        "Urus KTP dan KK kini bisa lewat aplikasi Tangerang LIVE 📱",
        "Layanan Dukcapil keliling hadir di Kecamatan {district} 🚐",
        "New: pay your water bill online 💧",
        "Pelayanan publik tetap buka di hari Sabtu ✅",
    ),
    "event": (
        "Festival Cisadane {year} resmi dibuka! 🛶🎶",
        "Malam puncak HUT Kota Tangerang, terima kasih Sobat! 🎆",
        "Weekend plan? Come to {place} 🎨",
        "Bazar UMKM di {place} sampai hari Minggu 🛍️",
    ),
    "traffic": (
        "Info lalu lintas: pengalihan arus di {place} 🚧",
        "Road works on {place} this week, plan your route 🚗",
        "Uji coba rekayasa lalu lintas di {district} mulai besok 🚦",
    ),
}

BODIES = (
    "Jangan lupa bawa botol minum sendiri dan buang sampah pada tempatnya ya. ♻️",
    "Petugas BPBD dan Dinas PUPR sudah bersiaga di titik rawan. Tetap waspada!",
    "Warga dapat menghubungi Call Center 112 (bebas pulsa) selama 24 jam.",
    "Please keep an eye on official updates from @tangerangkota and stay safe.",
    "Kegiatan dimulai pukul 06.00 sampai 09.00 WIB.",
    "Terima kasih kepada seluruh warga yang sudah berpartisipasi 🙏",
    "Info lengkap cek link di bio atau aplikasi Tangerang LIVE.",
    "Pendaftaran gratis, kuota terbatas!",
    "Bring your family, your bikes and your best smile 😄",
    "Mari jaga kebersihan lingkungan bersama-sama.",
    "Sampai jumpa di lokasi, Sobat Tangerang! 👋",
    "Wali Kota mengajak seluruh warga untuk ikut menyukseskan kegiatan ini.",
)

SHORT = (
    "Selamat pagi, Sobat Tangerang! ☀️",
    "Good morning, Tangerang! 🌅",
    "Selamat berakhir pekan 🌿",
    "Throwback 📸",
    "Sehat selalu, warga Kota Tangerang ❤️",
    "Keren! 🔥",
)


def _fill(template: str, rng: random.Random, year: int) -> str:
    """Substitute place, district, hour and year placeholders."""
    return template.format(
        place=rng.choice(PLACES),
        district=rng.choice(DISTRICTS),
        hour=rng.randint(14, 22),
        year=year,
    )


def _tags(rng: random.Random, topic: str) -> str:
    """A line of two to five hashtags, city tags plus topic tags."""
    tags = rng.sample(HASHTAGS, rng.randint(1, 3)) + rng.sample(TOPIC_TAGS[topic], rng.randint(1, 2))
    return " ".join(tags)


def make_caption(rng: random.Random, year: int) -> str | None:
    """A caption from a few words to several hundred characters, or None (no caption)."""
    roll = rng.random()
    if roll < 0.02:
        return None
    if roll < 0.15:
        return f"{rng.choice(SHORT)} {rng.choice(HASHTAGS)}"
    topic = rng.choice(sorted(OPENERS))
    lines = [_fill(rng.choice(OPENERS[topic]), rng, year)]
    body = rng.sample(BODIES, rng.randint(0, 4))
    if body:
        lines.append("")
        lines.extend(body)
    if rng.random() < 0.3:
        # a hashtag inside the running text, not only in the trailing tag line
        lines.append(f"Jangan lupa tag kami dengan {rng.choice(HASHTAGS)} ya!")
    lines.extend(["", _tags(rng, topic)])
    return "\n".join(lines)
