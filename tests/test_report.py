"""The report: self-contained HTML and PNG charts, rendered by a real headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from socmed.cli import app
from socmed.report import CHART_FILES, Report, write_report
from socmed.report.charts import plain
from tests import marts_dataset
from warehouse.engine import make_engine
from warehouse.migrate import upgrade

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Appended to a copy of the report: after load, record every chart's decoded size and how much
# of it is not white (drawn into a canvas), into the DOM that --dump-dom prints.
PROBE = """<script>
window.addEventListener("load", () => {
  const out = [...document.images].map((img) => {
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
    const ctx = canvas.getContext("2d"); ctx.drawImage(img, 0, 0);
    const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let ink = 0;
    for (let i = 0; i < px.length; i += 4) { if (px[i] < 200 || px[i + 1] < 200 || px[i + 2] < 200) ink++; }
    return {chart: img.dataset.chart, complete: img.complete, width: img.naturalWidth,
            height: img.naturalHeight, ink: ink / (px.length / 4)};
  });
  const pre = document.createElement("pre"); pre.id = "probe"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script></body>"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Report]:
    """The report of the fixed data set on the embedded warehouse (written once per module)."""
    folder = tmp_path_factory.mktemp("report")
    url = f"sqlite:///{folder / 'warehouse.db'}"
    upgrade(url)
    engine = make_engine(url)
    marts_dataset.load(engine)
    yield write_report(engine, folder / "report", days=30)
    engine.dispose()


def test_report_is_one_offline_html_file_with_five_embedded_charts(report: Report) -> None:
    html = report.html.read_text(encoding="utf-8")
    assert re.findall(
        r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+" alt="[^"]+" data-chart="(\w+)"', html
    ) == [
        "followers",
        "engagement",
        "cadence",
        "top_posts",
        "campaigns",
    ]
    # nothing fetched from anywhere: no external scripts, styles, fonts or images
    assert not re.search(r'<script|<link|@import|url\(|src="(?!data:)', html)
    assert "Period 2026-10-07 – 2026-11-05 (30 days)" in html
    assert (
        '<td>instagram/@kota</td><td class="n">1,025</td><td class="n">109</td><td class="n">2</td>'
        '<td class="n">610</td><td class="n">63</td><td class="n">2.98%</td>'
    ) in html
    assert '<td>website/@berita</td><td class="n">–</td><td class="n">–</td><td class="n">2</td>' in html
    assert '<td>Car Free Day</td><td class="w">#cfdtangerang #carfreeday</td>' in html
    assert '<td class="n">3</td><td class="n">610</td><td class="n">920</td><td class="n">77</td>' in html


def test_pngs_are_written_beside_the_report_and_are_not_blank(report: Report) -> None:
    assert list(report.charts) == list(CHART_FILES)
    for name, path in report.charts.items():
        assert path.parent == report.html.parent and path.name == f"{name}.png"
        with Image.open(path) as image:
            assert image.format == "PNG" and image.width == 1045, name
            colours = image.convert("RGB").getcolors(maxcolors=1_000_000) or []
            assert len(colours) > 50, f"{name} looks blank"


def test_report_command_writes_into_the_data_directory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'data' / 'warehouse.db'}"
    upgrade(url)
    eng = make_engine(url)
    marts_dataset.load(eng)
    eng.dispose()
    config = tmp_path / "socmed.toml"
    config.write_text(
        '[pipeline]\ndata_dir = "data"\n[warehouse]\nurl_env = "SOCMED_TEST_NO_SUCH_VAR"\n'
        '[[channels]]\nplatform = "instagram"\nhandle = "kota"\naccount_id = "1"\ntoken_env = "T"\n'
    )
    result = CliRunner().invoke(app, ["report", "--config", str(config), "--days", "7"])
    assert result.exit_code == 0, result.output
    target = tmp_path / "data" / "report" / "report.html"
    assert result.output.splitlines()[-1] == f"Report:  {target}"
    assert "Period 2026-10-30 – 2026-11-05 (7 days)" in target.read_text(encoding="utf-8")


def test_empty_warehouse_gives_a_report_with_placeholders(sqlite_url: str, tmp_path: Path) -> None:
    upgrade(sqlite_url)
    written = write_report(make_engine(sqlite_url), tmp_path / "empty")
    assert "Period no data yet" in written.html.read_text(encoding="utf-8")
    assert all(p.stat().st_size > 5_000 for p in written.charts.values())


def test_labels_drop_glyphs_the_font_lacks() -> None:
    assert plain("Car Free Day is back! 🚴‍♀️🏃\n#CFDTangerang") == "Car Free Day is back! #CFDTangerang"
    assert plain("Selamat pagi, Sobat Tangerang! ☀️", 20) == "Selamat pagi, Sobat…"


@pytest.mark.slow
def test_charts_render_in_headless_chromium(report: Report, tmp_path: Path) -> None:
    probe = tmp_path / "probe.html"
    probe.write_text(report.html.read_text(encoding="utf-8").replace("</body>", PROBE), encoding="utf-8")
    out = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            probe.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', out.stdout, flags=re.S)
    assert found, out.stdout[-2000:]
    charts = json.loads(found.group(1).replace("&quot;", '"'))
    assert [c["chart"] for c in charts] == list(CHART_FILES)
    for chart in charts:
        png = Image.open(report.charts[chart["chart"]])
        assert chart["complete"] and (chart["width"], chart["height"]) == png.size, chart
        assert 0.01 < chart["ink"] < 0.9, chart  # something drawn, not an empty or broken image
