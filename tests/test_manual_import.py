"""Manual imports: the watch-folder connector and the CSV transform, on tiny files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

import flows.imports
from connectors.base import RawResponse
from connectors.manual import ManualConnector, open_manual, table_of
from socmed.cli import app
from socmed.config import load_settings
from socmed.rawzone import StoredResponse
from transforms.common import ChannelRef
from transforms.manual import transform_manual
from transforms.schemas import KEYS, SCHEMAS

CHANNEL = ChannelRef(platform="manual", channel_id="majalah", handle="majalah")
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
CHANNEL_CSV = "snapshot_date,followers,following,posts_count,views,reach\n2026-05-31,2035,,1,,11795\n"
CONTENT_CSV = (
    "content_id,content_type,media_type,published_at,title,caption,url,hashtags\n"
    'tg-2026-05,Other,print,2026-05-01T08:00:00+07:00,"Edisi Mei, 2026",,,#TangerangGemilang CFD\n'
    "cfd-1,other,event,2026-05-03 06:00,Car Free Day,,https://kota.example.go.id/cfd,\n"
)
METRICS_CSV = (
    "content_id,snapshot_date,reach,views\ntg-2026-05,2026-05-31,11795,35813\ncfd-1,2026-05-03,6999,\n"
)


def drop(folder: Path, name: str, text: str) -> Path:
    """Write one file into the watch folder."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def connector(tmp_path: Path, landed: list[RawResponse]) -> ManualConnector:
    """A connector on tmp_path/inbox with its ledger in tmp_path/state."""
    return open_manual(watch_dir=tmp_path / "inbox", state_dir=tmp_path / "state", account_id="majalah",
                       sink=landed.append)


def stored(raws: list[RawResponse]) -> list[StoredResponse]:
    """RawResponses as the raw zone gives them back."""
    return [
        StoredResponse(
            meta={"stream": r.stream, "status": r.status, "fetched_at": r.fetched_at.isoformat(),
                  "run_id": "run-1", "context": r.context},
            body=r.body, raw_file=f"raw/platform=manual/account=majalah/run=run-1/{i:05d}-{r.stream}.json.gz")
        for i, r in enumerate(raws, start=1)
    ]


@pytest.mark.parametrize(
    ("header", "table"),
    [
        (b"snapshot_date,followers", "channel_metrics_daily"),
        (b"\xef\xbb\xbfcontent_id;content_type;published_at", "content"),
        (b'"Content_ID","Snapshot_Date",reach', "content_metrics_daily"),
        (b"tanggal,pembaca", "unrecognized"),
    ],
)
def test_the_header_row_names_the_table(header: bytes, table: str) -> None:
    assert table_of(header) == table


def test_each_new_file_lands_once_unchanged(tmp_path: Path) -> None:
    landed: list[RawResponse] = []
    inbox = tmp_path / "inbox"
    drop(inbox, "b-content.csv", CONTENT_CSV)
    drop(inbox, "a-channel.csv", CHANNEL_CSV)
    drop(inbox, "~$a-channel.csv", "lock")  # a spreadsheet's lock file
    drop(inbox, "notes.txt", "not a csv")
    first = connector(tmp_path, landed)
    assert [p.name for p in first.pending()] == ["a-channel.csv", "b-content.csv"]
    yielded = list(first.fetch_all())
    assert yielded == landed
    assert [(r.stream, r.context["file"]) for r in landed] == [
        ("channel_metrics_daily", "a-channel.csv"), ("content", "b-content.csv")]
    assert landed[0].body == CHANNEL_CSV.encode() and landed[0].url == (inbox / "a-channel.csv").as_uri()
    assert first.request_count == 2

    drop(inbox, "copy-of-channel.csv", CHANNEL_CSV)  # same bytes, another name
    second = connector(tmp_path, landed)
    assert second.pending() == []
    assert list(second.fetch_all()) == []
    assert second.skipped == [f"{n}: imported before (sha256 {landed[0].context['sha256'][:12]}…)"
                              for n in ("a-channel.csv",)] + [
        f"b-content.csv: imported before (sha256 {landed[1].context['sha256'][:12]}…)",
        f"copy-of-channel.csv: imported before (sha256 {landed[0].context['sha256'][:12]}…)"]
    assert len((tmp_path / "state" / "imported.tsv").read_text().splitlines()) == 2


def test_a_missing_watch_folder_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    manual = connector(tmp_path, [])
    assert list(manual.fetch_all()) == []
    assert manual.problems == [f"watch folder {tmp_path / 'inbox'} does not exist; nothing imported"]
    with pytest.raises(ValueError, match="set watch_dir"):
        open_manual(watch_dir=None, state_dir=tmp_path, account_id="majalah", sink=None)


def frame(table: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Expected rows as a frame of the table's schema, sorted by its key."""
    return pl.DataFrame(rows, schema=SCHEMAS[table]).sort(KEYS[table])


Transformed = tuple[dict[str, pl.DataFrame], list[str], list[StoredResponse]]


def transform(tmp_path: Path, *files: tuple[str, str]) -> Transformed:
    """Drop files, land them, transform them: frames, problems and the stored responses."""
    landed: list[RawResponse] = []
    for name, text in files:
        drop(tmp_path / "inbox", name, text)
    list(connector(tmp_path, landed).fetch_all())
    responses = stored(landed)
    result = transform_manual(responses, CHANNEL)
    return result.frames, result.problems, responses


def test_good_files_become_rows_of_the_common_schema(tmp_path: Path) -> None:
    frames, problems, files = transform(tmp_path, ("1.csv", CHANNEL_CSV), ("2.csv", CONTENT_CSV),
                                        ("3.csv", METRICS_CSV))
    assert problems == []
    when = {r.raw_file: r.fetched_at for r in files}
    raw = [r.raw_file for r in files]
    prov = [{"fetched_at": when[f], "run_id": "run-1", "raw_file": f} for f in raw]
    base = {"platform": "manual", "channel_id": "majalah"}
    assert_frame_equal(frames["channel_metrics_daily"], frame("channel_metrics_daily", [
        {**base, "snapshot_date": dt.date(2026, 5, 31), "followers": 2035, "posts_count": 1,
         "reach": 11795, **prov[0]}]))
    assert_frame_equal(frames["content"], frame("content", [
        {**base, "content_id": "tg-2026-05", "content_type": "other", "media_type": "print",
         "published_at": dt.datetime(2026, 5, 1, 1, tzinfo=dt.UTC), "title": "Edisi Mei, 2026",
         "hashtags": ["tangeranggemilang", "cfd"], **prov[1]},
        {**base, "content_id": "cfd-1", "content_type": "other", "media_type": "event",
         "published_at": dt.datetime(2026, 5, 2, 23, tzinfo=dt.UTC), "title": "Car Free Day",
         "url": "https://kota.example.go.id/cfd", "hashtags": [], **prov[1]},
    ]))
    assert_frame_equal(frames["content_metrics_daily"], frame("content_metrics_daily", [
        {**base, "content_id": "tg-2026-05", "snapshot_date": dt.date(2026, 5, 31), "reach": 11795,
         "views": 35813, **prov[2]},
        {**base, "content_id": "cfd-1", "snapshot_date": dt.date(2026, 5, 3), "reach": 6999, **prov[2]},
    ]))
    assert_frame_equal(frames["channel"], frame("channel", [
        {**base, "handle": "majalah", "timezone": "Asia/Jakarta", **prov[0]}]))


def test_semicolons_and_a_byte_order_mark_are_read_too(tmp_path: Path) -> None:
    text = "\ufeffsnapshot_date;followers\r\n2026-05-31;2035\r\n"
    frames, problems, _ = transform(tmp_path, ("excel.csv", text))
    assert problems == []
    assert frames["channel_metrics_daily"]["followers"].to_list() == [2035]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("snapshot_date,followers\n2026-05-31,2035\n2026-06-30,2.100\n",
         "line 3, column 'followers': '2.100' is not a whole number"),
        ("snapshot_date,followers\n31/05/2026,2035\n",
         "line 2, column 'snapshot_date': '31/05/2026' is not a date"),
        ("snapshot_date,folowers\n2026-05-31,2035\n",
         "line 1, column 'folowers': not a column of the channel_metrics_daily template"),
        ("content_id,snapshot_date,reach\nx,2026-05-31,1\nx,2026-05-31,2\n",
         "line 3, column 'snapshot_date': content_id=x, snapshot_date=2026-05-31 repeats line 2"),
        ("content_id,content_type\nx,other\n", "line 1: required column 'published_at' is missing"),
        ("content_id,content_type,published_at\nx,,2026-05-01\n",
         "line 2, column 'content_type': a value is required"),
        ('content_id,content_type,published_at,title\nx,other,2026-05-01,"a\nb",extra\n',
         "line 3: 5 cells but 4 columns"),
        ("tanggal,pembaca\n2026-05-31,5\n", "line 1: the header row matches no template"),
    ],
)
def test_a_bad_file_is_rejected_whole_naming_file_line_and_column(tmp_path: Path, text: str,
                                                                   where: str) -> None:
    frames, problems, files = transform(tmp_path, ("bad.csv", text), ("good.csv", CHANNEL_CSV))
    assert len(problems) == 1
    assert problems[0].startswith(f"file 'bad.csv' (raw copy {files[0].raw_file}): {where}"), problems[0]
    assert sum(f.height for t, f in frames.items() if t != "channel") == 1  # only good.csv's row


def test_a_later_file_corrects_an_earlier_one(tmp_path: Path) -> None:
    corrected = CHANNEL_CSV.replace("2035", "2036")
    frames, problems, files = transform(tmp_path, ("1.csv", CHANNEL_CSV), ("2.csv", corrected))
    assert problems == []
    rows = frames["channel_metrics_daily"].select("followers", "raw_file").rows()
    assert rows == [(2036, files[1].raw_file)]


def test_the_templates_are_importable_as_they_are(tmp_path: Path) -> None:
    files = [(p.name, p.read_text(encoding="utf-8")) for p in sorted(TEMPLATES.glob("*.csv"))]
    assert [name for name, _ in files] == ["channel_metrics_daily.csv", "content.csv",
                                           "content_metrics_daily.csv"]
    frames, problems, _ = transform(tmp_path, *files)
    assert problems == []
    assert {t: f.height for t, f in frames.items()} == {
        "channel": 1, "content": 1, "content_metrics_daily": 1, "channel_metrics_daily": 1}


def test_import_without_a_manual_channel_says_so(tmp_path: Path) -> None:
    config = tmp_path / "socmed.toml"
    config.write_text('[[channels]]\nplatform = "website"\nhandle = "s"\naccount_id = "s"\n'
                      'base_url = "https://kota.example.go.id"\n')
    result = CliRunner().invoke(app, ["import", "--config", str(config)])
    assert result.exit_code == 2
    assert 'no channel with platform = "manual" and a watch_dir to import' in result.output
    assert CliRunner().invoke(app, ["import", "--config", str(config), "--interval", "0"]).exit_code == 2


def test_watch_polls_at_the_interval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    polls: list[str] = []
    found = flows.imports.ImportOutcome(found={"manual/@majalah": [tmp_path / "a.csv"]})

    def poll(config: str, keys: list[str] | None) -> flows.imports.ImportOutcome:
        polls.append(config)
        return found if len(polls) == 2 else flows.imports.ImportOutcome()

    def sleep(seconds: float) -> None:
        assert seconds == 5.0
        if len(polls) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(flows.imports, "import_new_files", poll)
    monkeypatch.setattr("time.sleep", sleep)
    result = CliRunner().invoke(app, ["import", "--config", "x.toml", "--watch", "--interval", "5"])
    assert len(polls) == 3 and "manual/@majalah: imported a.csv" in result.output


def test_a_relative_watch_dir_is_relative_to_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "socmed.toml"
    config.parent.mkdir()
    config.write_text('[[channels]]\nplatform = "manual"\nhandle = "m"\naccount_id = "m"\n'
                      'watch_dir = "inbox"\n')
    assert load_settings(config).channels[0].watch_dir == tmp_path / "conf" / "inbox"
