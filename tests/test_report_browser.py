"""The HTML report renders in a real browser (headless Chromium): figures load and tables are present.
The screenshot is kept as an artifact (tests/artifacts/report.png, git-ignored)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from forecast.report import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _require_chromium() -> str:
    """The browser binary; without one the test skips locally but fails under CI (``CI=true``), so a CI
    image that lost Chromium cannot pass silently."""
    if CHROMIUM is None:
        message = "chromium is not installed (.ci/run installs it with apt-get: apt-get install -y chromium)"
        if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
            pytest.fail(f"CI=true but {message}", pytrace=False)
        pytest.skip(message)
    return CHROMIUM


@pytest.mark.parametrize("ci, outcome", [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_missing_chromium_fails_under_ci_and_skips_locally(monkeypatch, ci, outcome):
    monkeypatch.setitem(globals(), "CHROMIUM", None)  # as if no browser were on PATH
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="chromium is not installed"):
        _require_chromium()


def test_report_renders_in_headless_chromium(tmp_path):
    from tests.test_report_export import _make_result

    chromium = _require_chromium()
    out = tmp_path / "report"
    out.mkdir()
    written = write_report(_make_result(), out)
    html = out / "report.html"
    common = [chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
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
