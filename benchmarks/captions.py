"""Benchmark captions: the sandbox's vocabulary, stretched up to Instagram's 2,200 characters."""

from __future__ import annotations

import random

from sandbox.captions import BODIES, HASHTAGS, make_caption

MAX_CAPTION = 2_200  # Instagram's caption limit, in characters
LONG_SHARE = 0.15


def caption(rng: random.Random, year: int) -> str | None:
    """A caption: none, a line, a few paragraphs, or (15%) a long one of 800 to 2,200 characters."""
    text = make_caption(rng, year)
    if text is None or rng.random() >= LONG_SHARE:
        return text
    target = rng.randint(800, MAX_CAPTION)
    lines = text.split("\n")
    while len("\n".join(lines)) < target:
        lines.insert(-1, rng.choice(BODIES))
        if rng.random() < 0.2:
            lines.insert(-1, "")
    lines[-1] += " " + " ".join(rng.sample(HASHTAGS, 2))
    return "\n".join(lines)[:MAX_CAPTION]
