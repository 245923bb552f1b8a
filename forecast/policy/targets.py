"""Targets: the probability that a region meets a stated goal, read from forecast draws.

A target is a small mapping (from a study's ``[[targets]]`` tables or Python):

* ``{kind = "peak_by", year = 2030}``: emissions peak in or before ``year`` (the peak year of each
  trajectory, the year of its maximum centred 5-year mean as in :mod:`forecast.projection.peak`; a maximum at
  the last identifiable year, two years before the horizon, is not a peak);
* ``{kind = "emissions_below", year = 2030, value = 10000}``: total CO2 in ``year`` below ``value`` (Mt CO2/yr);
* ``{kind = "intensity_reduction", year = 2030, base_year = 2005, reduction = 0.65}``: carbon intensity
  (CO2 per unit GDP) in ``year`` at least ``reduction`` below its ``base_year`` value (China's pledge:
  65 % below 2005 by 2030);
* ``{kind = "per_capita_below", year = 2030, value = 8.0}``: per-capita CO2 in ``year`` below ``value``
  (t CO2/person/yr).

Every target may carry ``regions = [...]`` (default: every forecast region) and ``label``. Unknown kinds or
keys, regions not in the forecast, years outside the forecast window and base years without data are
:class:`~forecast.errors.InputError` s; :func:`check_targets` runs these checks before any sampling.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
import xarray as xr

from forecast.errors import InputError
from forecast.units import carbon_intensity_kg_per_dollar

KINDS = {
    "peak_by": {"year"},
    "emissions_below": {"year", "value"},
    "per_capita_below": {"year", "value"},
    "intensity_reduction": {"year", "base_year", "reduction"},
}
OPTIONAL = {"regions", "label"}


def describe(target: Mapping[str, Any]) -> str:
    """A short human label, e.g. ``carbon intensity 2030 ≥ 65% below 2005``."""
    if target.get("label"):
        return str(target["label"])
    kind, year = target["kind"], target["year"]
    if kind == "peak_by":
        return f"peak by {year}"
    if kind == "emissions_below":
        return f"CO2 in {year} < {target['value']:g} Mt"
    if kind == "per_capita_below":
        return f"CO2 per capita in {year} < {target['value']:g} t"
    return f"carbon intensity {year} ≥ {target['reduction']:.0%} below {target['base_year']}"


def check_target(target: Mapping[str, Any], *, regions: Iterable[str], first_year: int, last_forecast_year: int,
                 data_years: Iterable[int] = ()) -> dict[str, Any]:
    """Validate one target against the forecast window; returns it with ``regions`` filled in."""
    target = dict(target)
    kind = target.get("kind")
    if kind not in KINDS:
        raise InputError(f"target {target}: unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
    needed = KINDS[kind]
    missing = sorted(needed - set(target))
    extra = sorted(set(target) - needed - OPTIONAL - {"kind"})
    if missing or extra:
        raise InputError(f"target {kind}: " + "; ".join(
            ([f"missing key(s) {', '.join(missing)}"] if missing else []) + ([f"unknown key(s) {', '.join(extra)}"] if extra else [])))
    regions = list(regions)
    chosen = list(target.get("regions") or regions)
    unknown = [r for r in chosen if r not in regions]
    if unknown:
        raise InputError(f"target {describe(target)}: regions not in the forecast: {', '.join(unknown)} "
                         f"(forecast regions: {', '.join(regions)})")
    year = target["year"]
    if not isinstance(year, (int, np.integer)) or not first_year <= year <= last_forecast_year:
        raise InputError(f"target {describe(target)}: year {year!r} is outside the forecast years "
                         f"{first_year}-{last_forecast_year}")
    if kind in ("emissions_below", "per_capita_below") and not (np.isfinite(target["value"]) and target["value"] > 0):
        raise InputError(f"target {describe(target)}: value must be a positive number, got {target['value']!r}")
    if kind == "intensity_reduction":
        if not 0 < float(target["reduction"]) < 1:
            raise InputError(f"target {describe(target)}: reduction must be a share in (0, 1), got {target['reduction']!r}")
        if int(target["base_year"]) not in set(int(y) for y in data_years):
            raise InputError(f"target {describe(target)}: base year {target['base_year']} has no data "
                             f"(observed years: {min(data_years, default='none')}-{max(data_years, default='none')})")
    target["regions"] = chosen
    return target


def check_targets(targets: Iterable[Mapping[str, Any]], *, regions, first_year: int, last_forecast_year: int,
                  data_years=()) -> list[dict[str, Any]]:
    return [check_target(t, regions=regions, first_year=first_year, last_forecast_year=last_forecast_year,
                         data_years=list(data_years)) for t in targets]


def _intensity(ds: xr.Dataset) -> xr.DataArray:
    """Carbon intensity (kg CO2 per int-$ 2011) from total CO2 (Mt), GDP per capita and population."""
    return carbon_intensity_kg_per_dollar(ds["co2"], ds["gdp_per_capita"], ds["population"])


def target_met(ds: xr.Dataset, target: Mapping[str, Any], *, peak_year: xr.DataArray | None = None) -> xr.DataArray:
    """Boolean ``(sample, region)``: whether each trajectory meets ``target`` (validated beforehand)."""
    regions = list(target["regions"])
    year = int(target["year"])
    kind = target["kind"]
    if kind == "peak_by":
        if peak_year is None:
            from forecast.projection.propagate import Forecast

            peak_year = Forecast(ds).peak_year()
        from forecast.projection.peak import last_identifiable_year

        met = (peak_year <= year) & (peak_year < last_identifiable_year(int(ds["year"].max())))
    elif kind == "emissions_below":
        met = ds["co2"].sel(year=year) < float(target["value"])
    elif kind == "per_capita_below":
        met = ds["co2_per_capita"].sel(year=year) < float(target["value"])
    else:
        intensity = _intensity(ds)
        met = intensity.sel(year=year) <= (1.0 - float(target["reduction"])) * intensity.sel(year=int(target["base_year"]))
    return met.sel(region=regions).drop_vars("year", errors="ignore")


def target_table(ds: xr.Dataset, targets: Iterable[Mapping[str, Any]], *, peak_year: xr.DataArray | None = None) -> pd.DataFrame:
    """One row per (target, region): ``target``, ``kind``, ``year``, ``region``, ``p_met`` (share of draws
    that meet it) and ``mc_se`` (its Monte Carlo standard error, treating draws as independent)."""
    rows = []
    n = ds.sizes["sample"]
    for target in targets:
        p = target_met(ds, target, peak_year=peak_year).mean("sample")
        for region, value in p.to_series().items():
            rows.append({"target": describe(target), "kind": target["kind"], "year": int(target["year"]),
                         "region": region, "p_met": float(value),
                         "mc_se": float(np.sqrt(value * (1 - value) / n))})
    return pd.DataFrame(rows, columns=["target", "kind", "year", "region", "p_met", "mc_se"])
