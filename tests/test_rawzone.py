"""Raw landing zone: immutable, compressed, partitioned, secrets redacted, readable back."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from dataclasses import replace
from pathlib import Path

import pytest

from connectors.base import RawResponse
from socmed.rawzone import RawWriter, list_runs, read_body, read_run
from socmed.redact import redact

TOKEN = "EAAGfaketoken0123456789"


def response(body: bytes, stream: str = "media", minute: int = 0) -> RawResponse:
    return RawResponse(
        platform="instagram",
        account="17841401000000001",
        stream=stream,
        method="GET",
        url="http://127.0.0.1/v24.0/1/media?limit=100",
        status=200,
        fetched_at=dt.datetime(2026, 11, 27, 1, minute, tzinfo=dt.UTC),
        body=body,
    )


def test_write_and_read_back(tmp_path: Path) -> None:
    writer = RawWriter(tmp_path, "instagram", "17841401000000001", "run-1", dt.date(2026, 11, 27))
    stored = writer.write(response(b'{"data": []}'))
    writer.write(response(b"not json {", stream="account"))
    assert stored.raw_file == (
        "raw/platform=instagram/account=17841401000000001/date=2026-11-27/run=run-1/00001-media.json.gz"
    )
    assert gzip.decompress((tmp_path / stored.raw_file).read_bytes()) == b'{"data": []}'
    back = list(read_run(tmp_path, writer.run_dir))
    assert [(r.stream, r.body, r.meta["seq"], r.meta["status"]) for r in back] == [
        ("media", b'{"data": []}', 1, 200),
        ("account", b"not json {", 2, 200),
    ]
    assert back[0].meta["run_id"] == "run-1"
    assert list_runs(tmp_path) == [writer.run_dir]


def test_read_body_gives_the_bytes_gzip_stored_or_names_the_broken_file(tmp_path: Path) -> None:
    body = "📣 Kota\n".encode() * 5000 + bytes(range(256))
    whole = tmp_path / "whole.json.gz"
    whole.write_bytes(gzip.compress(body, compresslevel=6, mtime=0))
    two_members = tmp_path / "two.json.gz"  # gzip's own reader joins members; so must ours
    two_members.write_bytes(gzip.compress(b"ab") + gzip.compress(b"cd"))
    assert read_body(whole) == body
    assert read_body(two_members) == b"abcd"
    compressed = whole.read_bytes()
    broken = {
        "cut.json.gz": compressed[: len(compressed) // 2],
        "plain.json.gz": body[:100],
        "bad-crc.json.gz": compressed[:-8] + bytes(4) + compressed[-4:],
        "empty-deflate.json.gz": compressed[:10] + bytes(20),
    }
    for name, data in broken.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=rf"{name}: not a whole gzip body") as caught:
            read_body(tmp_path / name)
        assert caught.value.__cause__ is None


def test_raw_files_are_never_overwritten(tmp_path: Path) -> None:
    first = RawWriter(tmp_path, "instagram", "1", "run-1", dt.date(2026, 11, 27))
    first.write(response(b"1"))
    again = RawWriter(tmp_path, "instagram", "1", "run-1", dt.date(2026, 11, 27))
    stored = again.write(response(b"2"))
    assert stored.raw_file.endswith("00002-media.json.gz")
    bodies = [r.body for r in read_run(tmp_path, first.run_dir)]
    assert bodies == [b"1", b"2"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f'{{"paging":{{"next":"https://graph.facebook.com/v24.0/1/media?access_token={TOKEN}&after=QVF"}}}}',
            '{"paging":{"next":"https://graph.facebook.com/v24.0/1/media?access_token=REDACTED&after=QVF"}}',
        ),
        ("https://x/oauth?client_secret=abc123&code=1", "https://x/oauth?client_secret=REDACTED&code=1"),
        (
            '{"access_token": "zzz-unknown", "token_type": "bearer"}',
            '{"access_token": "REDACTED", "token_type": "bearer"}',
        ),
        (f"Authorization: Bearer {TOKEN}", "Authorization: Bearer REDACTED"),
        (f"token {TOKEN} leaked in a message", "token REDACTED leaked in a message"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text, [TOKEN]) == expected


def test_list_runs_orders_by_fetch_time_and_filters(tmp_path: Path) -> None:
    late = RawWriter(tmp_path, "instagram", "1", "b", dt.date(2026, 11, 27))
    late.write(response(b"{}", minute=30))
    early = RawWriter(tmp_path, "instagram", "1", "a", dt.date(2026, 11, 26))
    early.write(replace(response(b"{}"), fetched_at=dt.datetime(2026, 11, 26, 1, tzinfo=dt.UTC)))
    assert list_runs(tmp_path) == [early.run_dir, late.run_dir]
    assert list_runs(tmp_path, since=dt.date(2026, 11, 27)) == [late.run_dir]
    assert (
        json.loads(next(late.run_dir.glob("*.meta.json")).read_text())["fetched_at"]
        == "2026-11-27T01:30:00+00:00"
    )
