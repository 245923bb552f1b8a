"""What the observed emissions already say about peaks, by the package's one peak rule.

The observed side of the peak rule (:mod:`forecast.projection.peak` is the forecast side): a peak is
*confirmed* when the year of the maximum centred 5-year mean lies at least ``min_years_before_end`` years
before the last data year and the last value is at least ``min_drop`` below that maximum. The backtest
scores forecasts against these outcomes; a run checks its P(already peaked) against them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecast.errors import InputError
from forecast.projection.peak import PEAK_WINDOW, centred_mean


def observed_peak(series: pd.Series, *, window: int = PEAK_WINDOW, min_years_before_end: int = 10,
                  min_drop: float = 0.15) -> int | None:
    """Year a series (index: year, values: Mt CO2/yr) peaked, or ``None`` if it has not (yet).

    Rule: ``P = argmax_t m_t`` with ``m_t`` the centred ``window``-year mean (full windows only); the
    series has peaked iff ``P <= last_year - min_years_before_end`` and
    ``x_last <= (1 - min_drop) * m_P``. Missing values are dropped; years must then be consecutive.
    """
    if window < 1 or window % 2 == 0:
        raise InputError(f"window must be a positive odd number of years, got {window}")
    s = pd.Series(series, dtype=float).dropna().sort_index()
    if len(s) < window:
        return None
    years = s.index.to_numpy(dtype=int)
    if (np.diff(years) != 1).any():
        raise InputError("observed_peak needs consecutive years (no gaps)")
    m = centred_mean(s.to_numpy(), window)
    i = int(np.nanargmax(m))
    peak, top = int(years[i]), float(m[i])
    if peak > years[-1] - min_years_before_end:
        return None
    if not s.iloc[-1] <= (1.0 - min_drop) * top:
        return None
    return peak


def event_outcome(series: pd.Series, cutoff: int, horizon: int, *, window: int = PEAK_WINDOW,
                  min_years_before_end: int = 10, min_drop: float = 0.15) -> tuple[float, str, int | None]:
    """Observed outcome of "peak in (cutoff, cutoff + horizon]" (``horizon`` > 0) or "peaked by the
    cutoff" (``horizon = 0``): ``(1.0 | 0.0 | nan, status, peak)``; see the module docstring. ``nan``
    with status ``undecidable`` when the data cannot decide the event yet."""
    peak = observed_peak(series, window=window, min_years_before_end=min_years_before_end, min_drop=min_drop)
    if peak is not None:
        status = "peaked_before_cutoff" if peak <= cutoff else "peaked_after_cutoff"
        hit = peak <= cutoff if horizon == 0 else cutoff < peak <= cutoff + horizon
        return float(hit), status, peak
    s = pd.Series(series, dtype=float).dropna().sort_index()
    years = s.index.to_numpy(dtype=int)
    m = centred_mean(s.to_numpy(), window)
    finite = np.isfinite(m)
    if horizon == 0:
        before, after = finite & (years <= cutoff), finite & (years > cutoff)
        if after.any() and (not before.any() or np.max(m[after]) > np.max(m[before])):
            return 0.0, "not_peaked", None
        return float("nan"), "undecidable", None
    inside = (years > cutoff) & (years <= cutoff + horizon) & finite
    outside = ~inside & finite
    if inside.any() and outside.any() and np.max(m[inside]) < np.max(m[outside]):
        return 0.0, "not_peaked", None
    if not inside.any() and outside.any():
        return 0.0, "not_peaked", None  # (cannot happen for cutoff + horizon before the last year - 2)
    return float("nan"), "undecidable", None


def consecutive_tail(series: pd.Series, start: int) -> pd.Series:
    """The observed series from ``start`` (the fit window's first year, as the forecast's own history),
    after its last gap: the peak rule needs consecutive years."""
    s = series[series.index >= start]
    years = s.index.to_numpy(dtype=int)
    gaps = np.flatnonzero(np.diff(years) != 1)
    return s.iloc[gaps[-1] + 1:] if gaps.size else s


def already_peaked_check(p_already_peaked: pd.Series, panel: pd.DataFrame, *, window: int = PEAK_WINDOW,
                         min_years_before_end: int = 10, min_drop: float = 0.15, rising_growth: float = 0.10,
                         high: float = 0.9, low: float = 0.1) -> pd.DataFrame:
    """Does the product's P(already peaked) agree with what the data already show?

    ``p_already_peaked`` by region (the product's peak table) against the observed ``panel`` (``region,
    year, co2``). Two classes of region are checked; the rest are not clear-cut and are left out:

    * ``confirmed_peak``: the observed rule peak (:func:`observed_peak`: the 5-year mean peaked at least
      ``min_years_before_end`` years before the last year and the last value is ``min_drop`` below it)
      -- P(already peaked) should be at least ``high``;
    * ``clearly_rising``: the last complete 5-year mean is the highest ever and at least ``rising_growth``
      above its value 10 years earlier -- P(already peaked) should be at most ``low``.
    """
    rows = []
    for region, frame in panel.groupby("region", sort=True):
        if region not in p_already_peaked.index:
            continue
        series = consecutive_tail(frame.set_index("year")["co2"].dropna().sort_index(), int(frame["year"].min()))
        p = float(p_already_peaked.loc[region])
        if observed_peak(series, window=window, min_years_before_end=min_years_before_end, min_drop=min_drop) is not None:
            rows.append({"region": region, "observed": "confirmed_peak", "p_already_peaked": p, "agrees": p >= high})
            continue
        m = centred_mean(series.to_numpy(), window)
        finite = np.flatnonzero(np.isfinite(m))
        if finite.size > 10:
            last, earlier = m[finite[-1]], m[finite[-1] - 10]
            if last >= np.nanmax(m) and last >= (1 + rising_growth) * earlier:
                rows.append({"region": region, "observed": "clearly_rising", "p_already_peaked": p, "agrees": p <= low})
    return pd.DataFrame(rows, columns=["region", "observed", "p_already_peaked", "agrees"])
