"""The HTML report renders in a real browser (headless Chromium): figures load and tables are present.
The screenshot is kept as an artifact (tests/artifacts/report.png, git-ignored)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from forecast.report import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it with apt-get)")
def test_report_renders_in_headless_chromium(tmp_path):
    from tests.test_report_export import _make_result

    out = tmp_path / "report"
    out.mkdir()
    written = write_report(_make_result(), out)
    html = out / "report.html"
    common = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    # the DOM after the page loaded: image elements decoded to real sizes, tables in place
    probe = tmp_path / "probe.html"
    probe.write_text(html.read_text(encoding="utf-8").replace(
        "</body>",
        "<script>window.addEventListener('load',()=>{const imgs=[...document.images];"
        "document.title='imgs='+imgs.length+';loaded='+imgs.filter(i=>i.complete&&i.naturalWidth>100).length"
        "+';tables='+document.querySelectorAll('table').length;});</script></body>"), encoding="utf-8")
    dom = subprocess.run([*common, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    title = dom.split("<title>", 1)[1].split("</title>", 1)[0]
    counts = dict(part.split("=") for part in title.split(";"))
    # every figure the report wrote is embedded and decodes to a real image
    assert int(counts["imgs"]) == len(written["figures"]) >= 2 and counts["loaded"] == counts["imgs"], title
    assert int(counts["tables"]) >= 4, title
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    subprocess.run([*common, "--window-size=1280,2400", f"--screenshot={shot}", html.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 20_000
