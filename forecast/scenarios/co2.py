"""Atmospheric CO2 concentration paths (ppm by year) that drive sink forecasts.

A :class:`CO2Scenario` is one deterministic path of the annual-mean CO2 mole fraction, in ppm, indexed by
whole years without gaps. Uncertainty about the land sink enters through the model draws (CO2
fertilisation sensitivity, sequestration rates, areas), not through the concentration path; to study
the path itself, run the forecast under several named scenarios.

Two ways to get one:

* :meth:`CO2Scenario.from_history` extrapolates observed concentrations (e.g. from
  :func:`forecast.data.load_co2_concentration`) with a simple default: the annual increase starts at the
  mean increase of the last ``window`` observed years (2.6 ppm/yr over 2015-2025 in the NOAA global
  marine-surface series) and
  declines linearly to zero in ``decay_to_zero_by`` (2100 by default), after which the concentration
  stays flat. This is a plain middle-of-the-road extrapolation chosen for transparency. **It is not an
  SSP or RCP pathway** and is not derived from an emission scenario; supply such paths with
  :meth:`CO2Scenario.from_csv` when they matter.
* :meth:`CO2Scenario.from_csv` / :func:`read_co2_scenarios` read paths from a CSV file with columns
  ``year, co2_ppm`` and an optional ``scenario`` column holding several named paths.

Every problem (gaps, years not strictly increasing, non-positive or non-finite values, a path that
does not reach the horizon) raises :class:`~forecast.errors.InputError` naming the file, scenario and
year at fault.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecast.errors import DataNotFoundError, InputError, did_you_mean
from forecast.io.csvfile import check_header, check_names
from forecast.limits import PPM_RANGE, YEAR_RANGE

__all__ = ["CO2Scenario", "read_co2_scenarios", "DEFAULT_HORIZON", "DEFAULT_WINDOW", "DEFAULT_DECAY_TO_ZERO_BY"]

DEFAULT_HORIZON = 2060
DEFAULT_WINDOW = 10
DEFAULT_DECAY_TO_ZERO_BY = 2100
PPM_UNITS = "ppm (dry-air mole fraction)"


# --------------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------------


def _as_years(values: Any, label: str) -> np.ndarray:
    years = pd.to_numeric(pd.Series(values), errors="coerce").astype("float64").to_numpy()
    # outside the calendar range also fails here: a year of 1e30 does not fit an int64
    bad = ~np.isfinite(years) | (years % 1 != 0) | (years < YEAR_RANGE[0]) | (years > YEAR_RANGE[1])
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"{label}: column 'year' must hold whole numbers in {YEAR_RANGE[0]}-{YEAR_RANGE[1]} "
                         f"(row {i + 1}: {str(list(values)[i])!r}).")
    return years.astype("int64")


def _validate_path(years: np.ndarray, ppm: np.ndarray, label: str) -> None:
    if len(years) == 0:
        raise InputError(f"{label}: the path has no rows.")
    outside = (years < YEAR_RANGE[0]) | (years > YEAR_RANGE[1])
    if outside.any():
        raise InputError(f"{label}: year {years[outside][0]} is outside {YEAR_RANGE[0]}-{YEAR_RANGE[1]}.")
    steps = np.diff(years)
    if (steps <= 0).any():
        i = int(np.argmax(steps <= 0))
        raise InputError(
            f"{label}: years must be strictly increasing (year {years[i + 1]} follows {years[i]})."
        )
    if (steps > 1).any():
        i = int(np.argmax(steps > 1))
        missing = years[i] + 1
        raise InputError(
            f"{label}: gap in years between {years[i]} and {years[i + 1]} (year {missing} is missing); "
            "give every year."
        )
    # ranges and sources in forecast/limits.py: a path below the ice-age minimum or above any published
    # pathway is a unit error (ppb, a fraction, a missing decimal point)
    bad = ~np.isfinite(ppm) | (ppm < PPM_RANGE[0]) | (ppm > PPM_RANGE[1])
    if bad.any():
        shown = ", ".join(str(y) for y in years[bad][:5])
        raise InputError(f"{label}: co2_ppm must be positive and finite, in {PPM_RANGE[0]:g}-{PPM_RANGE[1]:g} ppm; "
                         f"offending year(s): {shown}.")


def _check_horizon(years: np.ndarray, horizon: int | None, label: str, first_year: int | None = None) -> None:
    if first_year is not None and years[0] > first_year:
        needed = f"{first_year}-{horizon}" if horizon is not None else f"from {first_year}"
        raise InputError(
            f"{label}: the path starts in {years[0]} and does not cover year {first_year} "
            f"(the sink forecast needs every year {needed}; last missing year: {years[0] - 1})."
        )
    if horizon is None:
        return
    if years[-1] < horizon:
        raise InputError(
            f"{label}: the path ends in {years[-1]} and does not cover the horizon {horizon} "
            f"(first missing year: {years[-1] + 1})."
        )


# --------------------------------------------------------------------------------------------------
# Scenario
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CO2Scenario:
    """One deterministic atmospheric CO2 path: annual-mean ppm for consecutive whole years.

    Attributes
    ----------
    name:
        Short scenario name (used in reports and file names).
    ppm:
        ``pd.Series`` of float ppm indexed by ``year`` (int), strictly increasing without gaps.
    last_observed_year:
        Last year taken from observations (``None`` if the whole path was supplied, e.g. from a CSV).
    description, source:
        Free text for reports: how the path was built and from what data.
    """

    name: str
    ppm: pd.Series = field(repr=False)
    last_observed_year: int | None = None
    description: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        label = f"CO2 scenario {self.name!r}"
        if not isinstance(self.name, str) or not self.name.strip():
            raise InputError("CO2 scenario name must be a non-empty string")
        s = pd.Series(self.ppm)
        years = _as_years(s.index, label)
        ppm = pd.to_numeric(s, errors="coerce").astype("float64").to_numpy()
        _validate_path(years, ppm, label)
        series = pd.Series(ppm, index=pd.Index(years, name="year"), name="co2_ppm")
        object.__setattr__(self, "ppm", series)
        if self.last_observed_year is not None:
            object.__setattr__(self, "last_observed_year", int(self.last_observed_year))

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def from_history(
        cls,
        co2: pd.DataFrame,
        horizon: int = DEFAULT_HORIZON,
        window: int = DEFAULT_WINDOW,
        decay_to_zero_by: int = DEFAULT_DECAY_TO_ZERO_BY,
        *,
        name: str = "continued_growth",
    ) -> CO2Scenario:
        """Observed concentrations continued to ``horizon`` with a linearly fading growth rate.

        With ``L`` the last observed year, ``C_L`` its concentration and ``g0`` the mean annual increase
        over the last ``window`` years, ``g0 = (C_L - C_{L-window}) / window``, the path is::

            C_t = C_{t-1} + g0 * max(0, (D - t) / (D - L))     for t = L+1, ..., horizon

        with ``D = decay_to_zero_by``: growth starts at (almost exactly) the recent mean rate, falls by
        ``g0 / (D - L)`` each year, is zero in year ``D`` and the concentration stays flat afterwards.
        With the NOAA global series to 2025 (``g0`` = 2.6 ppm/yr over 2015-2025) and ``D = 2100`` this
        gives about 495 ppm in 2060. A simple, transparent middle-of-the-road extrapolation: **not an SSP/RCP pathway**.

        The returned path holds the observed years followed by the projection.

        Parameters
        ----------
        co2:
            DataFrame with columns ``year`` and ``co2_ppm`` (as from
            :func:`forecast.data.load_co2_concentration`), consecutive years.
        horizon:
            Last year of the path; must be after the last observed year.
        window:
            Number of most recent annual increases averaged for the starting growth rate (>= 1).
        decay_to_zero_by:
            Year in which the annual increase reaches zero; must be after the last observed year.
        """
        label = "CO2 history"
        if not isinstance(co2, pd.DataFrame):
            raise InputError(f"{label}: expected a DataFrame with columns year, co2_ppm, got {type(co2).__name__}")
        missing = [c for c in ("year", "co2_ppm") if c not in co2.columns]
        if missing:
            raise InputError(
                f"{label}: missing column(s) {', '.join(map(repr, missing))}; found {', '.join(map(str, co2.columns))}"
            )
        years = _as_years(co2["year"].to_numpy(), label)
        ppm = pd.to_numeric(co2["co2_ppm"], errors="coerce").astype("float64").to_numpy()
        _validate_path(years, ppm, label)
        for arg, value in (("horizon", horizon), ("window", window), ("decay_to_zero_by", decay_to_zero_by)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise InputError(f"{arg} must be a whole number, got {value!r}")
        last = int(years[-1])
        if window < 1:
            raise InputError(f"window must be >= 1 year, got {window}")
        if len(years) < window + 1:
            raise InputError(
                f"{label}: window={window} needs at least {window + 1} observed years, got {len(years)} "
                f"({years[0]}-{last})"
            )
        if horizon <= last:
            raise InputError(f"horizon {horizon} must be after the last observed year {last}")
        if decay_to_zero_by <= last:
            raise InputError(
                f"decay_to_zero_by {decay_to_zero_by} must be after the last observed year {last}"
            )
        g0 = float(ppm[-1] - ppm[-1 - window]) / window
        future = np.arange(last + 1, horizon + 1)
        growth = g0 * np.clip((decay_to_zero_by - future) / (decay_to_zero_by - last), 0.0, None)
        path = ppm[-1] + np.cumsum(growth)
        series = pd.Series(np.concatenate([ppm, path]), index=np.concatenate([years, future]))
        description = (
            f"Observed CO2 to {last} ({ppm[-1]:.1f} ppm), then growth starting at the mean increase of "
            f"{years[-1 - window]}-{last} ({g0:.2f} ppm/yr) and declining linearly to zero in "
            f"{decay_to_zero_by}; concentration flat afterwards. A simple middle-of-the-road "
            "extrapolation, not an SSP/RCP pathway."
        )
        source = str(co2.attrs.get("source", "")) if hasattr(co2, "attrs") else ""
        return cls(name=name, ppm=series, last_observed_year=last, description=description, source=source)

    @classmethod
    def from_csv(
        cls,
        path: str | os.PathLike[str],
        scenario: str | None = None,
        *,
        horizon: int | None = DEFAULT_HORIZON,
        first_year: int | None = None,
    ) -> CO2Scenario:
        """One CO2 path from a CSV file with columns ``year, co2_ppm`` (optional ``scenario``).

        If the file holds several named paths (a ``scenario`` column), pick one with ``scenario=``;
        :func:`read_co2_scenarios` returns all of them. Every path is validated: whole, strictly
        increasing years without gaps, positive finite ``co2_ppm``, and (unless ``horizon=None``)
        coverage of every year up to ``horizon`` (and from ``first_year``, if given). Lines starting
        with ``#`` are comments.
        """
        paths = read_co2_scenarios(path, horizon=horizon, first_year=first_year)
        if scenario is None:
            if len(paths) > 1:
                raise InputError(
                    f"CO2 scenario file {str(path)!r} holds {len(paths)} scenarios "
                    f"({', '.join(paths)}); choose one with scenario=..."
                )
            return next(iter(paths.values()))
        if scenario not in paths:
            raise InputError(
                f"CO2 scenario file {str(path)!r} has no scenario {scenario!r}{did_you_mean(scenario, paths, cutoff=0.5)}; "
                f"available: {', '.join(paths)}"
            )
        return paths[scenario]

    # -- access ------------------------------------------------------------------------------------
    @property
    def years(self) -> np.ndarray:
        return self.ppm.index.to_numpy()

    @property
    def first_year(self) -> int:
        return int(self.ppm.index[0])

    @property
    def horizon(self) -> int:
        """Last year covered by the path."""
        return int(self.ppm.index[-1])

    def growth(self) -> pd.Series:
        """Annual increase in ppm/yr (``C_t - C_{t-1}``), indexed by year ``t`` (from the second year)."""
        return self.ppm.diff().iloc[1:].rename("co2_growth_ppm_per_yr")

    def path(self, years: Iterable[int] | int) -> pd.Series:
        """Concentration (ppm) for ``years`` as a float Series indexed by ``year`` (name ``co2_ppm``).

        Raises InputError naming the first year outside the path.
        """
        if np.isscalar(years):
            years = [years]  # type: ignore[list-item]
        wanted = _as_years(list(years), f"CO2 scenario {self.name!r}: requested years")
        missing = wanted[~np.isin(wanted, self.years)]
        if missing.size:
            raise InputError(
                f"CO2 scenario {self.name!r} covers {self.first_year}-{self.horizon}; year {missing[0]} "
                f"is outside it" + (f" ({missing.size} requested years missing)" if missing.size > 1 else "")
            )
        out = self.ppm.loc[wanted]
        out.index = pd.Index(wanted, name="year")
        return out.rename("co2_ppm")

    def to_dataarray(self, years: Iterable[int] | None = None):
        """The path (or the requested ``years``) as an ``xr.DataArray`` over ``year`` with units attrs."""
        import xarray as xr

        s = self.ppm if years is None else self.path(years)
        return xr.DataArray(
            s.to_numpy(),
            coords={"year": s.index.to_numpy()},
            dims="year",
            name="co2_ppm",
            attrs={"units": PPM_UNITS, "long_name": "atmospheric CO2 concentration", "scenario": self.name},
        )

    def to_frame(self) -> pd.DataFrame:
        """``year, co2_ppm, is_observed`` (``scenario`` column included) for export."""
        df = self.ppm.reset_index()
        last = self.last_observed_year
        df["is_observed"] = df["year"] <= last if last is not None else False
        df.insert(0, "scenario", self.name)
        return df

    def __repr__(self) -> str:
        return (
            f"CO2Scenario({self.name!r}, {self.first_year}-{self.horizon}, "
            f"{self.ppm.iloc[0]:.1f}->{self.ppm.iloc[-1]:.1f} ppm)"
        )


# --------------------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------------------


def read_co2_scenarios(
    path: str | os.PathLike[str], *, horizon: int | None = DEFAULT_HORIZON, first_year: int | None = None
) -> dict[str, CO2Scenario]:
    """All CO2 paths in a CSV file, by scenario name (file order).

    Columns: ``year``, ``co2_ppm`` and optionally ``scenario`` (several named paths stacked). Without a
    ``scenario`` column the single path is named after the file stem. See :meth:`CO2Scenario.from_csv`
    for the checks; every path must cover ``first_year`` (if given) through ``horizon``.
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataNotFoundError(f"CO2 scenario file {str(file)!r} does not exist.")
    label = f"CO2 scenario file {str(file)!r}"
    try:
        df = pd.read_csv(file, comment="#", skipinitialspace=True)
    except Exception as exc:  # pandas raises several parser error types
        raise InputError(f"{label}: cannot read as CSV: {exc}") from exc
    check_header(file, df, label, comment="#", skipinitialspace=True)
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in ("year", "co2_ppm") if c not in df.columns]
    if missing:
        hints = "".join(did_you_mean(m, df.columns, cutoff=0.5) for m in missing)
        raise InputError(
            f"{label}: missing column(s) {', '.join(map(repr, missing))}{hints}; "
            f"found {', '.join(df.columns) or 'none'}"
        )
    if df.empty:
        raise InputError(f"{label}: the file contains no rows.")
    if "scenario" in df.columns:
        names = df["scenario"]
        if names.isna().any():
            row = int(np.argmax(names.isna().to_numpy()))
            raise InputError(f"{label}: empty scenario name in data row {row + 1}")
        check_names(df, "scenario", label)
        names = names.astype(str).str.strip()
        groups: Mapping[str, pd.DataFrame] = {n: df[names == n] for n in dict.fromkeys(names)}
    else:
        groups = {file.stem: df}
    out: dict[str, CO2Scenario] = {}
    for name, g in groups.items():
        glabel = f"{label}, scenario {name!r}" if "scenario" in df.columns else label
        years = _as_years(g["year"].to_numpy(), glabel)
        ppm = pd.to_numeric(g["co2_ppm"], errors="coerce").astype("float64").to_numpy()
        _validate_path(years, ppm, glabel)
        _check_horizon(years, horizon, glabel, first_year)
        out[name] = CO2Scenario(
            name=name,
            ppm=pd.Series(ppm, index=years),
            description=f"CO2 path {name!r} read from {file.name}",
            source=str(file),
        )
    return out

