"""The one peak rule of the package: the year of the maximum of the centred 5-year mean.

The product's headline numbers (P(already peaked), P(peak <= 2030), the peak-year quantiles, peak
targets, the chunked scale-out) and the backtest that validates them all call :func:`peak_years`, so
the number a planner reads is the number that was scored against what happened.

Why a centred mean and not the annual maximum: observed peaks must be decided from data, and an annual
maximum is decided by single-year spikes (2008 before the financial crisis, 2019 before COVID) that later
years routinely exceed; a forecast trajectory with independent annual shocks has the same problem, so
P(already peaked) of an annual-maximum rule mostly measures noise. Five years is the shortest window
that spans the observed shocks (1974-75, 1980-83, 2009, 2020) and still resolves a peak to the year.

A peak is only *identified* where the window is complete: from the ``window // 2``-th year of a series to
the ``window // 2``-th year before its end. A maximum at the last identifiable year means "still rising at
the horizon" (no peak yet), not a peak.
"""

from __future__ import annotations

import numpy as np

#: years in the centred mean of the peak rule (odd)
PEAK_WINDOW = 5


def centred_mean(values, window: int = PEAK_WINDOW) -> np.ndarray:
    """Centred ``window``-year moving mean along the last axis (Mt CO2/yr in, same units out).

    NaN where the window is incomplete (the first and last ``window // 2`` years) and, locally, for the
    windows that contain a missing value -- a gap never spreads beyond the windows that hold it.
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"the peak window must be a positive odd number of years, got {window}")
    values = np.asarray(values, dtype=float)
    n = values.shape[-1]
    out = np.full(values.shape, np.nan)
    if n < window:
        return out
    half = window // 2
    out[..., half:n - half] = np.lib.stride_tricks.sliding_window_view(values, window, axis=-1).mean(axis=-1)
    return out


def peak_years(values, years, window: int = PEAK_WINDOW) -> np.ndarray:
    """Peak year of each trajectory: the year of the maximum centred ``window``-year mean.

    ``values`` (..., year) in Mt CO2/yr, ``years`` the matching calendar years. Trajectories without a
    single complete window get the first year (there is nothing to rank them by).
    """
    years = np.asarray(years)
    m = centred_mean(values, window)
    m = np.where(np.isfinite(m), m, -np.inf)
    return years[np.argmax(m, axis=-1)]


def last_identifiable_year(horizon: int, window: int = PEAK_WINDOW) -> int:
    """Latest year with a complete window before ``horizon``: a maximum there is "no peak by the horizon"."""
    return int(horizon) - window // 2


def peak_year_of(ds):
    """Peak year per trajectory of a forecast Dataset's ``co2`` (any dims, ``year`` last or not), by
    :func:`peak_years`: an :class:`xarray.DataArray` without ``year``, with units and a long name."""
    import xarray as xr

    co2 = ds["co2"].transpose(..., "year")
    out = xr.apply_ufunc(peak_years, co2, kwargs={"years": ds["year"].values}, input_core_dims=[["year"]])
    out.name = "peak_year"
    out.attrs = {"long_name": "year of peak CO2 emissions (maximum of the centred 5-year mean)", "units": "year"}
    return out
