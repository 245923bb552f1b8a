"""Regional forecasts summed to a larger unit (provinces -> nation), draw by draw, and how wide the sum is.

A national cap or a national compensation pool is a statement about the *sum* of the regions. The sum is
taken per forecast draw, ``S_s,t = sum_r E_s,r,t`` (Mt CO2/yr), so it keeps whatever correlation the
emission model puts between the regions of one draw: with independent regional shocks the relative
spread of the sum shrinks like ``1/sqrt(n regions)``; with a shared year effect (the Kaya model's
``common_shocks = true``, :mod:`forecast.models.kaya`) it does not.

Two diagnostics say how much the correlation matters:

* ``variance_ratio = Var(S) / sum_r Var(E_r)`` per year: 1 for independent regions, larger with positive
  correlation (up to ``(sum_r sd_r)^2 / sum_r sd_r^2`` for perfect correlation);
* the relative 90 % width ``(q95 - q05) / q50`` of the sum, to be compared with the same width of a
  forecast fitted to the national series itself (``benchmarks/regional_sum.py`` does that for China).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import xarray as xr

from forecast.errors import InputError, did_you_mean
from forecast.policy.capacity import as_dataset

__all__ = ["national_sum_table", "regional_sum", "spread_table", "variance_ratio"]

QUANTILES = (0.05, 0.5, 0.95)


def regional_sum(forecast, regions: Iterable[str] | None = None, *, var: str = "co2") -> xr.DataArray:
    """Sum of ``var`` (default ``co2``, Mt CO2/yr) over ``regions`` (default: all), per draw and year.

    Returns a DataArray ``(sample, year)``. A region with a missing value in a draw and year makes the sum
    NaN there (a sum that silently drops a province would understate the nation).

    Raises:
        InputError: unknown regions, a variable not in the forecast, or fewer than two regions.
    """
    ds = as_dataset(forecast)
    if var not in ds:
        raise InputError(f"regional_sum: the forecast has no variable {var!r} (variables: {', '.join(map(str, ds.data_vars))})")
    known = [str(r) for r in ds["region"].values]
    regions = known if regions is None else [str(r) for r in ([regions] if isinstance(regions, str) else regions)]
    unknown = [r for r in regions if r not in known]
    if unknown:
        raise InputError("regional_sum: region(s) not in the forecast: "
                         + ", ".join(f"{r!r}{did_you_mean(r, known, cutoff=0.5)}" for r in unknown))
    if len(set(regions)) < 2:
        raise InputError("regional_sum needs at least two distinct regions")
    if len(set(regions)) != len(regions):
        raise InputError(f"regional_sum: regions listed twice: {sorted({r for r in regions if regions.count(r) > 1})}")
    da = ds[var].sel(region=regions)
    total = da.sum("region", skipna=False)
    units = ds[var].attrs.get("units", "Mt CO2/yr")
    return total.transpose("sample", "year").assign_attrs(
        units=units, long_name=f"sum of {var} over {len(regions)} regions (per draw)", regions=", ".join(regions))


def variance_ratio(forecast, regions: Iterable[str] | None = None, *, var: str = "co2") -> xr.DataArray:
    """``Var(sum) / sum of the regional variances`` per year (1 = uncorrelated regions; dimensionless).

    Years in which every regional variance is zero (observed years) give NaN."""
    ds = as_dataset(forecast)
    total = regional_sum(ds, regions, var=var)
    regions = [str(r) for r in total.attrs["regions"].split(", ")]
    parts = ds[var].sel(region=regions).var("sample").sum("region")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = total.var("sample") / parts.where(parts > 0)
    return ratio.assign_attrs(units="1", long_name="Var(sum of regions) / sum of regional variances")


def spread_table(sums: Mapping[str, xr.DataArray], years: Iterable[int]) -> pd.DataFrame:
    """One row per (label, year): q05, q50, q95 (Mt CO2/yr) of each ``(sample, year)`` series in ``sums``,
    the relative 90 % width ``(q95 - q05) / q50`` and the sd of log emissions."""
    years = [int(y) for y in years]
    rows = []
    for label, da in sums.items():
        if not isinstance(da, xr.DataArray) or set(da.dims) != {"sample", "year"}:
            raise InputError(f"spread_table: {label!r} must be a DataArray (sample, year)")
        missing = [y for y in years if y not in da["year"].values]
        if missing:
            raise InputError(f"spread_table: {label!r} has no year(s) {missing}")
        for y in years:
            v = da.sel(year=y).values.astype(float)
            v = v[np.isfinite(v)]
            if v.size < 2:
                raise InputError(f"spread_table: {label!r} has fewer than two finite draws in {y}")
            q05, q50, q95 = np.quantile(v, QUANTILES)
            rows.append({"series": label, "year": y, "draws": int(v.size), "q05": q05, "q50": q50, "q95": q95,
                         "rel_width_90": (q95 - q05) / q50,
                         "sd_log": float(np.std(np.log(v[v > 0]), ddof=1)) if (v > 0).sum() > 1 else np.nan})
    out = pd.DataFrame(rows)
    out.attrs["units"] = "Mt CO2/yr (q05, q50, q95); 1 (rel_width_90, sd_log)"
    return out


def national_sum_table(forecast, caps: Mapping[str, xr.DataArray] | None = None, years: Iterable[int] = (2030, 2060),
                       regions: Iterable[str] | None = None) -> pd.DataFrame:
    """The regions' sum per draw in ``years``: q05 / q50 / q95 (Mt CO2/yr), relative 90 % width, the
    variance ratio, and for each cap in ``caps`` (label -> cap DataArray (region, year) or (sample,
    region, year), Mt CO2/yr) the sum of the caps (median) and ``P(sum of emissions > sum of caps)`` --
    the probability that the group as a whole overshoots, which depends on how the regions co-vary."""
    ds = as_dataset(forecast)
    total = regional_sum(ds, regions)
    names = total.attrs["regions"].split(", ")
    years = [int(y) for y in years]
    table = spread_table({"sum of regions": total}, years).drop(columns=["series"])
    table["variance_ratio"] = variance_ratio(ds, names).sel(year=years).values
    for label, cap in (caps or {}).items():
        missing = [y for y in years if y not in cap["year"].values]
        if missing:
            raise InputError(f"national_sum_table: cap {label!r} has no year(s) {missing}")
        unknown = [r for r in names if r not in cap["region"].values]
        if unknown:
            raise InputError(f"national_sum_table: cap {label!r} has no value for region(s) {unknown}")
        cap_sum = cap.sel(region=names, year=years).sum("region", skipna=False)
        over = (total.sel(year=years) > cap_sum)
        table[f"cap_sum_q50__{label}"] = (cap_sum.median("sample") if "sample" in cap_sum.dims else cap_sum).values
        table[f"p_overshoot__{label}"] = over.mean("sample").values
    table.attrs["units"] = "Mt CO2/yr (q05, q50, q95, cap sums); 1 (widths, ratios, probabilities)"
    return table
