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
  (t CO2/person/yr);
* ``{kind = "neutral_by", year = 2060}``: net CO2 (emissions + land-use change - ecosystem sinks, the
  ``net_co2`` of a run with sinks) at or below zero from ``year`` through the horizon, the neutrality year of
  :func:`forecast.sinks.neutrality.neutrality_year`; optional ``cfe = "declining"`` (default) or
  ``"constant"`` picks the sink variant. Only regions with net emissions (sink areas) can carry it.

Every target may carry ``regions = [...]`` (default: every forecast region) and ``label``. Unknown kinds or
keys, regions not in the forecast, years outside the forecast window and base years without data are
:class:`~forecast.errors.InputError` s; :func:`check_targets` runs these checks before any sampling.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

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
    "neutral_by": {"year"},
}
OPTIONAL = {"regions", "label"}
KIND_OPTIONAL = {"neutral_by": {"cfe"}}
CFE_VARIANTS = ("declining", "constant")
# the order of the values in the short form of :func:`parse_target`, e.g. ``emissions_below:2030:10000``
SHORT_FORM = {"peak_by": ("year",), "emissions_below": ("year", "value"), "per_capita_below": ("year", "value"),
              "intensity_reduction": ("year", "base_year", "reduction"), "neutral_by": ("year",)}


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
    if kind == "neutral_by":
        return f"net CO2 <= 0 from {year}" + (f" ({target['cfe']} CFE)" if target.get("cfe") else "")
    return f"carbon intensity {year} ≥ {target['reduction']:.0%} below {target['base_year']}"


def parse_target(text: str) -> dict[str, Any]:
    """A target from its short form ``kind:value[:value...]`` (values in the order of :data:`SHORT_FORM`),
    e.g. ``peak_by:2030``, ``emissions_below:2030:10000``, ``intensity_reduction:2030:2005:0.65``,
    ``neutral_by:2060``. Checked later by :func:`check_target`."""
    kind, *values = [part.strip() for part in str(text).split(":")]
    if kind not in SHORT_FORM:
        raise InputError(f"target {text!r}: unknown kind {kind!r}; kinds: {', '.join(SHORT_FORM)}")
    keys = SHORT_FORM[kind]
    if len(values) != len(keys):
        raise InputError(f"target {text!r}: {kind} takes {len(keys)} value(s) ({', '.join(keys)}), "
                         f"e.g. {kind}:{':'.join(_EXAMPLE[k] for k in keys)}")
    target: dict[str, Any] = {"kind": kind}
    for key, value in zip(keys, values):
        try:
            target[key] = int(value) if key in ("year", "base_year") else float(value)
        except ValueError:
            raise InputError(f"target {text!r}: {key} must be a number, got {value!r}") from None
    return target


_EXAMPLE = {"year": "2030", "value": "10000", "base_year": "2005", "reduction": "0.65"}


def check_target(target: Mapping[str, Any], *, regions: Iterable[str], first_year: int, last_forecast_year: int,
                 data_years: Iterable[int] = (), net_regions: Iterable[str] | None = None) -> dict[str, Any]:
    """Validate one target against the forecast window; returns it with ``regions`` filled in.

    ``net_regions``: the regions with net emissions (``neutral_by`` targets need them; their default
    regions); ``None`` = not known here (a ``neutral_by`` target is then checked when it is evaluated)."""
    target = dict(target)
    kind = target.get("kind")
    if kind not in KINDS:
        raise InputError(f"target {target}: unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
    needed = KINDS[kind]
    missing = sorted(needed - set(target))
    extra = sorted(set(target) - needed - OPTIONAL - KIND_OPTIONAL.get(kind, set()) - {"kind"})
    if missing or extra:
        raise InputError(f"target {kind}: " + "; ".join(
            ([f"missing key(s) {', '.join(missing)}"] if missing else []) + ([f"unknown key(s) {', '.join(extra)}"] if extra else [])))
    regions = list(regions)
    if kind == "neutral_by" and net_regions is not None:
        regions = [r for r in regions if r in set(net_regions)]
        if not regions:
            raise InputError(f"target {describe(target)}: no forecast region has net emissions (enable [sinks] "
                             "and give [sinks.areas.<region>])")
    chosen = list(target.get("regions") or regions)
    unknown = [r for r in chosen if r not in regions]
    if unknown:
        if kind == "neutral_by" and net_regions is not None:
            raise InputError(f"target {describe(target)}: regions without net emissions: {', '.join(unknown)} "
                             f"(regions with net emissions: {', '.join(regions)})")
        raise InputError(f"target {describe(target)}: regions not in the forecast: {', '.join(unknown)} "
                         f"(forecast regions: {', '.join(regions)})")
    year = target["year"]
    if not isinstance(year, (int, np.integer)) or not first_year <= year <= last_forecast_year:
        raise InputError(f"target {describe(target)}: year {year!r} is outside the forecast years "
                         f"{first_year}-{last_forecast_year}")
    if kind in ("emissions_below", "per_capita_below") and not (np.isfinite(target["value"]) and target["value"] > 0):
        raise InputError(f"target {describe(target)}: value must be a positive number, got {target['value']!r}")
    if kind == "neutral_by" and target.get("cfe", "declining") not in CFE_VARIANTS:
        raise InputError(f"target {describe(target)}: cfe must be one of {', '.join(CFE_VARIANTS)}, got {target['cfe']!r}")
    if kind == "intensity_reduction":
        if not 0 < float(target["reduction"]) < 1:
            raise InputError(f"target {describe(target)}: reduction must be a share in (0, 1), got {target['reduction']!r}")
        if int(target["base_year"]) not in {int(y) for y in data_years}:
            raise InputError(f"target {describe(target)}: base year {target['base_year']} has no data "
                             f"(observed years: {min(data_years, default='none')}-{max(data_years, default='none')})")
    target["regions"] = chosen
    return target


def check_targets(targets: Iterable[Mapping[str, Any]], *, regions, first_year: int, last_forecast_year: int,
                  data_years=(), net_regions: Iterable[str] | None = None) -> list[dict[str, Any]]:
    net = None if net_regions is None else list(net_regions)
    return [check_target(t, regions=regions, first_year=first_year, last_forecast_year=last_forecast_year,
                         data_years=list(data_years), net_regions=net) for t in targets]


def check_targets_on(ds: xr.Dataset, targets: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """:func:`check_targets` against a forecast Dataset itself (a saved run): its regions and years, its
    observed years (``is_forecast`` False) and the regions with net emissions (``net_co2`` not all NaN)."""
    observed = ds["year"].values[~ds["is_forecast"].values.astype(bool)] if "is_forecast" in ds.coords else []
    return check_targets(targets, regions=[str(r) for r in ds["region"].values], first_year=int(ds["year"].min()),
                         last_forecast_year=int(ds["year"].max()), data_years=[int(y) for y in observed],
                         net_regions=net_emission_regions(ds))


def net_emission_regions(ds: xr.Dataset) -> list[str]:
    """Regions of ``ds`` with net emissions (some ``net_co2`` value that is not NaN); none without ``net_co2``."""
    if "net_co2" not in ds:
        return []
    has = ds["net_co2"].notnull().any([d for d in ds["net_co2"].dims if d != "region"])
    return [str(r) for r in ds["region"].values[has.values]]


def _net(ds: xr.Dataset, target: Mapping[str, Any]) -> xr.DataArray:
    """Net CO2 ``(sample, region, year)`` of the target's CFE variant (Mt CO2/yr)."""
    if "net_co2" not in ds:
        raise InputError(f"target {describe(target)}: the forecast has no net emissions (net_co2); run with [sinks]")
    net = ds["net_co2"]
    if "cfe" in net.dims:
        net = net.sel(cfe=target.get("cfe", "declining"))
    return net.transpose("sample", "region", "year")


def neutral_met(ds: xr.Dataset, target: Mapping[str, Any]) -> xr.DataArray:
    """Boolean ``(sample, region)``: net CO2 at or below zero from the target year through the horizon
    (the neutrality year rule of :func:`forecast.sinks.neutrality.neutrality_year`, forecast years only)."""
    from forecast.sinks.neutrality import neutrality_year

    net = _net(ds, target).sel(region=list(target["regions"]))
    if "is_forecast" in net.coords:
        net = net.sel(year=net["is_forecast"].values.astype(bool))  # the net series exists in forecast years
    year = neutrality_year(net.drop_vars([c for c in net.coords if c not in net.dims]))
    met = (year <= int(target["year"])) & ~year["never"]
    return met.drop_vars("never")


def _intensity(ds: xr.Dataset) -> xr.DataArray:
    """Carbon intensity (kg CO2 per int-$ 2011) from total CO2 (Mt), GDP per capita and population."""
    return carbon_intensity_kg_per_dollar(ds["co2"], ds["gdp_per_capita"], ds["population"])


def target_met(ds: xr.Dataset, target: Mapping[str, Any], *, peak_year: xr.DataArray | None = None) -> xr.DataArray:
    """Boolean ``(sample, region)``: whether each trajectory meets ``target`` (validated beforehand)."""
    regions = list(target["regions"])
    year = int(target["year"])
    kind = target["kind"]
    if kind == "peak_by":
        from forecast.projection.peak import last_identifiable_year, peak_year_of

        if peak_year is None:
            peak_year = peak_year_of(ds)

        met = (peak_year <= year) & (peak_year < last_identifiable_year(int(ds["year"].max())))
    elif kind == "emissions_below":
        met = ds["co2"].sel(year=year) < float(target["value"])
    elif kind == "per_capita_below":
        met = ds["co2_per_capita"].sel(year=year) < float(target["value"])
    elif kind == "neutral_by":
        return neutral_met(ds, target)
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
