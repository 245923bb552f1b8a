"""The one Markdown table writer of the package (report, backtest, inventory and CLI outputs).

:func:`md_table` writes a GitHub / CommonMark-extension pipe table from cells that are already
formatted; :func:`frame_table` formats a DataFrame for it (numbers right-aligned, text left-aligned).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["frame_table", "md_table"]

_MARKS = {"l": ":---", "r": "---:", "c": ":---:"}


def md_table(headers: Sequence[str], rows: Iterable[Sequence[str]], align: Sequence[str] | None = None) -> str:
    """A GitHub/CommonMark-extension pipe table. Cells must already be escaped/formatted.

    ``align``: one of 'l', 'r', 'c' per column (default left). No trailing newline.
    """
    align = list(align) if align is not None else ["l"] * len(headers)
    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join(_MARKS.get(a, "---") for a in align) + " |",
    ]
    for row in rows:
        cells = [c.replace("\n", " ") for c in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: Any, floatfmt: str) -> str:
    if isinstance(value, (float, np.floating)):
        text = "" if not np.isfinite(value) else floatfmt.format(value)
    else:
        text = str(value)
    return text.replace("|", "\\|")


def frame_table(frame: pd.DataFrame | None, floatfmt: str = "{:.3f}", *, empty: str = "_(none)_") -> str:
    """``frame`` (index not shown) as a Markdown table ending in a newline; ``empty`` + newline if it has no rows.

    Floats are written with ``floatfmt`` (non-finite ones as an empty cell), everything else with ``str``;
    numeric columns are right-aligned.
    """
    if frame is None or frame.empty:
        return empty + "\n"
    align = ["r" if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype) else "l"
             for dtype in frame.dtypes]
    headers = [str(c).replace("|", "\\|") for c in frame.columns]
    rows = ([_cell(v, floatfmt) for v in row] for row in frame.astype(object).itertuples(index=False, name=None))
    return md_table(headers, rows, align) + "\n"
