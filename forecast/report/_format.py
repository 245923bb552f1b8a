"""Number formatting and Markdown escaping shared by the report renderers (tables: :mod:`forecast.mdtable`)."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from forecast.metrics import is_missing

MISSING = "—"


def fmt_pct(p: Any) -> str:
    """Probability → percent with 0 decimals; '<1%' below 0.01 and '>99%' above 0.99.

    The ends are never printed as 0% / 100%: the numbers are Monte Carlo estimates from a finite
    number of samples, so "no sample" does not mean "impossible".
    """
    if is_missing(p):
        return MISSING
    p = float(p)
    if p < 0.01:
        return "<1%"
    if p > 0.99:
        return ">99%"
    return f"{p * 100:.0f}%"


def fmt_money(x: Any, symbol: str = "$") -> str:
    """Money with thousands separators and no decimals: 12345.6 → '$12,346'."""
    if is_missing(x) or not math.isfinite(float(x)):
        return MISSING
    x = float(x)
    sign = "-" if x < 0 else ""
    return f"{sign}{symbol}{abs(x):,.0f}"


def fmt_year(y: Any) -> str:
    if is_missing(y):
        return MISSING
    return f"{int(round(float(y)))}"


def fmt_num(x: Any, digits: int = 3) -> str:
    """A quantity with thousands separators and about ``digits`` significant digits (≥ 0 decimals)."""
    if is_missing(x):
        return MISSING
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(x):
        return MISSING
    if x == 0:
        return "0"
    mag = math.floor(math.log10(abs(x)))
    decimals = max(0, digits - 1 - mag)
    return f"{x:,.{decimals}f}"


def fmt_interval(lo: Any, hi: Any, fmt=fmt_num) -> str:
    """'lo–hi', or a single value when both ends format the same."""
    if is_missing(lo) and is_missing(hi):
        return MISSING
    a, b = fmt(lo), fmt(hi)
    return a if a == b else f"{a}–{b}"


def fmt_cell(value: Any) -> str:
    """Generic cell formatting for arbitrary tables (``RunResult.tables``)."""
    if isinstance(value, (list, tuple, dict, np.ndarray)):
        return str(value)
    if is_missing(value):
        return MISSING
    if isinstance(value, (float, np.floating)):
        s = fmt_num(value, digits=4)
        return s.rstrip("0").rstrip(".") if "." in s else s
    if isinstance(value, (int, np.integer, bool, np.bool_)):
        return fmt_num(value)
    return str(value)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


def md_escape(text: Any) -> str:
    """Escape text so Markdown shows it literally (one line; pipes are safe inside tables)."""
    s = " ".join(str(text).split())
    return _MD_SPECIAL.sub(r"\\\1", s)


def md_code(text: Any) -> str:
    """Inline code span that survives backticks in the text; pipes escaped for tables."""
    s = " ".join(str(text).split()).replace("|", "\\|")
    fence = "`"
    while fence in s:
        fence += "`"
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def slugify(name: Any) -> str:
    """File-name-safe slug: 'United States' → 'united_states'."""
    s = re.sub(r"[^0-9a-zA-Z]+", "_", str(name)).strip("_").lower()
    return s or "region"


def figure_alt(title: str, path: Any) -> str:
    """Alt text of a report figure: fan charts (``fan_<region>.png``) say what they show; the other
    figures (backtest, sinks, effort, groups) are described by their title."""
    name = str(path).replace("\\", "/").rsplit("/", 1)[-1]
    return f"Fan chart of CO₂ emissions for {title}" if name.startswith("fan_") else str(title)
