"""Screenshot of the first screen of a run's HTML report (headless Chromium), for the documentation.

Usage: python benchmarks/report_screenshot.py RUN_DIR [--out docs/images/report-first-screen.png]
       [--width 1280] [--height 900]

RUN_DIR is the output folder of `carbon-forecast run` (it holds ``report.html``); the image in the docs is
of the default study: ``CARBON_FORECAST_DATA=../shared/data carbon-forecast run --out results/global`` then
``python benchmarks/report_screenshot.py results/global``. The picture is what a reader sees first, before
scrolling: a window of ``--width`` x ``--height`` CSS pixels. A sidecar ``.txt`` next to the image records
the run it shows (study, seed, package version, data SHA-256 from the run's ``summary.json``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--hide-scrollbars",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def browser() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if found is None:
        sys.exit("chromium is not installed (apt-get install -y chromium)")
    return found


def screenshot(html: Path, out: Path, width: int, height: int) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([browser(), *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
                        "--virtual-time-budget=5000", f"--screenshot={out.resolve()}", html.resolve().as_uri()],
                       capture_output=True, timeout=180, check=True)
    if not out.is_file() or out.stat().st_size < 10_000:
        sys.exit(f"no usable screenshot written to {out}")


def provenance(run_dir: Path) -> str:
    """What the picture shows, from the run's own summary.json (whatever of it is there)."""
    try:
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return f"report of {run_dir} (no summary.json)\n"
    study = summary.get("study", {})
    data = [p.get("sha256") for p in summary.get("provenance", []) if isinstance(p, dict) and p.get("sha256")]
    lines = [f"study: {study.get('name')} (seed {study.get('seed')})",
             f"package version: {summary.get('package_version') or summary.get('version')}",
             f"data SHA-256: {', '.join(data) or 'not recorded'}",
             "made with: python benchmarks/report_screenshot.py RUN_DIR"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "report-first-screen.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    args = parser.parse_args()
    html = args.run_dir / "report.html"
    if not html.is_file():
        sys.exit(f"{html} not found: give the output folder of `carbon-forecast run`")
    screenshot(html, args.out, args.width, args.height)
    args.out.with_suffix(".txt").write_text(provenance(args.run_dir), encoding="utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
