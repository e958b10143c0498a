"""Expectations that hold for one platform's rows only: GE row conditions on ``platform``.

The table suites check what every platform shares; a platform adds here what only its data
must satisfy (its content types, its id format, the metrics it never reports, so a value
there means a mapping bug). Each rule is labelled with its condition, so a quarantined row
says which platform's rule it broke. A platform appends one function to ``RULES``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

with warnings.catch_warnings():
    # GE 1.24 imports the stdlib's deprecated sre_constants; under -W error that is fatal.
    warnings.simplefilter("ignore", DeprecationWarning)
    import great_expectations.expectations as gxe
    from great_expectations.expectations.expectation import ColumnMapExpectation


YOUTUBE_TYPES = ["live", "short", "video"]
YOUTUBE_CHANNEL = r"^UC[A-Za-z0-9_-]{22}$"


def on(platform: str, expectation: type[ColumnMapExpectation], **kwargs: Any) -> gxe.Expectation:
    """An expectation applied to the rows of one platform only."""
    return expectation(**kwargs, row_condition=f'platform=="{platform}"', condition_parser="pandas")


def _youtube(table: str) -> list[gxe.Expectation]:
    """YouTube: video/short/live only, 11-character video ids, no reach, shares, saves or following."""
    yt = "youtube"
    if table == "content":
        return [
            on(yt, gxe.ExpectColumnValuesToBeInSet, column="content_type", value_set=YOUTUBE_TYPES),
            on(yt, gxe.ExpectColumnValuesToMatchRegex, column="content_id", regex=r"^[A-Za-z0-9_-]{11}$"),
        ]
    if table == "content_metrics_daily":
        return [on(yt, gxe.ExpectColumnValuesToBeNull, column=c) for c in ("reach", "shares", "saves")]
    if table == "channel_metrics_daily":
        return [on(yt, gxe.ExpectColumnValuesToBeNull, column="following")]
    if table == "channel":
        return [on(yt, gxe.ExpectColumnValuesToMatchRegex, column="channel_id", regex=YOUTUBE_CHANNEL)]
    return []


def _x(table: str) -> list[gxe.Expectation]:
    """X: posts only, numeric ids, no reach."""
    if table == "content":
        return [
            on("x", gxe.ExpectColumnValuesToBeInSet, column="content_type", value_set=["post"]),
            on("x", gxe.ExpectColumnValuesToMatchRegex, column="content_id", regex=r"^[0-9]{1,20}$"),
        ]
    if table == "content_metrics_daily":
        return [on("x", gxe.ExpectColumnValuesToBeNull, column="reach")]
    if table == "channel":
        return [on("x", gxe.ExpectColumnValuesToMatchRegex, column="channel_id", regex=r"^[0-9]{1,20}$")]
    return []


def _facebook(table: str) -> list[gxe.Expectation]:
    """Facebook Pages: posts only, ``<page>_<post>`` ids, no saves, no following or posts count."""
    fb = "facebook"
    if table == "content":
        return [
            on(fb, gxe.ExpectColumnValuesToBeInSet, column="content_type", value_set=["post"]),
            on(fb, gxe.ExpectColumnValuesToMatchRegex, column="content_id", regex=r"^[0-9]+_[0-9]+$"),
        ]
    if table == "content_metrics_daily":
        return [on(fb, gxe.ExpectColumnValuesToBeNull, column="saves")]
    if table == "channel_metrics_daily":
        return [on(fb, gxe.ExpectColumnValuesToBeNull, column=c) for c in ("following", "posts_count")]
    if table == "channel":
        return [on(fb, gxe.ExpectColumnValuesToMatchRegex, column="channel_id", regex=r"^[0-9]{1,20}$")]
    return []


def _tiktok(table: str) -> list[gxe.Expectation]:
    """TikTok (Display API): videos only, numeric ids, no reach or saves, no account views or reach."""
    tt = "tiktok"
    if table == "content":
        return [
            on(tt, gxe.ExpectColumnValuesToBeInSet, column="content_type", value_set=["video"]),
            on(tt, gxe.ExpectColumnValuesToMatchRegex, column="content_id", regex=r"^[0-9]{1,20}$"),
        ]
    if table == "content_metrics_daily":
        return [on(tt, gxe.ExpectColumnValuesToBeNull, column=c) for c in ("reach", "saves")]
    if table == "channel_metrics_daily":
        return [on(tt, gxe.ExpectColumnValuesToBeNull, column=c) for c in ("views", "reach")]
    return []


def _website(table: str) -> list[gxe.Expectation]:
    """News websites: articles with a title and a permalink; a site reports only its article total."""
    ws = "website"
    if table == "content":
        return [
            on(ws, gxe.ExpectColumnValuesToBeInSet, column="content_type", value_set=["article"]),
            *(on(ws, gxe.ExpectColumnValuesToNotBeNull, column=c) for c in ("title", "url")),
        ]
    if table == "channel_metrics_daily":
        return [on(ws, gxe.ExpectColumnValuesToBeNull, column=c) for c in ("followers", "following", "views")]
    return []


RULES: list[Callable[[str], list[gxe.Expectation]]] = [_youtube, _x, _facebook, _tiktok]
RULES.append(_website)


def platform_expectations(table: str) -> list[gxe.Expectation]:
    """Every platform's own expectations for one table."""
    return [expectation for rule in RULES for expectation in rule(table)]
