"""Headline numbers of a run, shared by the exports (:mod:`forecast.io.export`) and the report
(:mod:`forecast.report`): P(peak by a year), the years asked about, last observed years.

Computed from a :class:`~forecast.run.results.RunResult` only; nothing here writes files.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from forecast.run.results import RunResult

__all__ = ["CFE_VARIANTS", "cfe_tables", "DEFAULT_PEAK_YEARS", "HEADLINE_VARIANTS", "headline", "is_missing", "last_observed_years",
           "peak_by_years", "peak_probability"]

DEFAULT_PEAK_YEARS = (2030, 2035)
# variants are coordinates of a dim of the result, not parallel variables; the first is the headline
CFE_VARIANTS = ("declining", "constant")  # the CO2-fertilisation sensitivity after the last fitted year
HEADLINE_VARIANTS = {"cfe": "declining"}


def cfe_tables(sinks) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The neutrality table of a run's sinks (indexed by ``cfe, region``) split into its declining and
    constant-CFE parts; ``(None, None)`` without sinks."""
    table = (sinks or {}).get("neutrality")
    if table is None:
        return None, None
    return tuple(table.xs(v, level="cfe") if v in table.index.get_level_values("cfe") else None for v in CFE_VARIANTS)


def headline(da):
    """``da`` at the headline variant of each variant dim it has (e.g. ``cfe="declining"``); the
    variants themselves stay in the result for comparisons."""
    picks = {dim: value for dim, value in HEADLINE_VARIANTS.items() if dim in getattr(da, "dims", ())}
    return da.sel(picks) if picks else da
_P_BY_RE = re.compile(r"^p_peak_by_(\d{4})$")


def is_missing(value: Any) -> bool:
    """None, NaN, NaT, pd.NA (scalars); containers and other objects are not missing."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def last_observed_years(result: RunResult) -> dict[str, int]:
    """``{region: last observed year}`` from the ``last_observed_year`` coordinate (regions without one
    are left out), else the last history year (``is_forecast`` false) for every region."""
    ds = result.forecast
    out: dict[str, int] = {}
    if "last_observed_year" in ds.coords and "region" in ds["last_observed_year"].dims:
        for r, y in zip(ds["region"].values, ds["last_observed_year"].values, strict=True):
            if not is_missing(y):
                out[str(r)] = int(y)
    elif "is_forecast" in ds.coords:
        hist = ds["year"].values[~np.asarray(ds["is_forecast"].values, dtype=bool)]
        if hist.size:
            out = {str(r): int(hist.max()) for r in ds["region"].values}
    return out


def peak_by_years(result: RunResult) -> list[int]:
    """Years ``Y`` with a P(peak ≤ Y) entry: 2030, 2035 and every ``p_peak_by_Y`` column in the table."""
    years = set(DEFAULT_PEAK_YEARS)
    pt = result.peak_table
    if pt is not None:
        for col in pt.columns:
            m = _P_BY_RE.match(str(col))
            if m:
                years.add(int(m.group(1)))
    return sorted(years)


def peak_probability(result: RunResult, region: Any, year: int) -> float | None:
    """P(peak ≤ ``year``) for ``region``: the ``p_peak_by_<year>`` column of ``peak_table`` if present,
    else computed from the ``peak_year`` samples (a maximum at the last identifiable year does not count,
    as in :meth:`forecast.projection.propagate.Forecast.peak_year_probability`)."""
    pt = result.peak_table
    col = f"p_peak_by_{int(year)}"
    if pt is not None and col in pt.columns:
        for idx in pt.index:
            if idx == region or str(idx) == str(region):
                v = pt.at[idx, col]
                return None if is_missing(v) else float(v)
    peak = result.peak_year
    if peak is None or "region" not in peak.dims:
        return None
    labels = [lab for lab in peak["region"].values if lab == region or str(lab) == str(region)] if "region" in peak.coords else []
    if not labels:
        return None
    vals = np.asarray(peak.sel(region=labels[0]).values, dtype=float).reshape(-1)
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return None
    from forecast.projection.peak import last_identifiable_year

    still_rising = last_identifiable_year(int(np.max(result.forecast["year"].values)))
    return float(np.mean((vals <= year) & (vals < still_rising)))
