"""Human-readable report of a study run: Markdown, self-contained HTML and PNG fan charts.

:func:`write_report` writes ``report.md``, ``report.html`` and ``figures/fan_<region>.png`` into one
directory (wrap it in :func:`forecast.io.atomic.atomic_output_dir` for an all-or-nothing write).
"""

from __future__ import annotations

import os
from pathlib import Path

from forecast.io.atomic import atomic_write_text
from forecast.report.figures import fan_chart, peak_year_histogram, save_figures
from forecast.report.html import render_html
from forecast.report.markdown import render_markdown
from forecast.run.results import RunResult

__all__ = [
    "fan_chart",
    "peak_year_histogram",
    "render_html",
    "render_markdown",
    "save_figures",
    "write_report",
]

REPORT_MD = "report.md"
REPORT_HTML = "report.html"


def write_report(result: RunResult, out_dir: str | os.PathLike[str]) -> dict[str, object]:
    """Write the report into ``out_dir`` (created if needed).

    Returns ``{"markdown": Path, "html": Path, "figures": {region: Path}}``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figure_paths = save_figures(result, out_dir)
    md_text = render_markdown(result, figure_paths)
    md_path = atomic_write_text(out_dir / REPORT_MD, md_text)
    html_path = atomic_write_text(out_dir / REPORT_HTML, render_html(md_text, figure_paths, out_dir))
    return {
        "markdown": md_path,
        "html": html_path,
        "figures": {region: out_dir / rel for region, rel in figure_paths.items()},
    }
