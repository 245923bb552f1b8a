"""Carbon carrying capacity: how many people, how much GDP (and built-up land) a carbon cap supports.

For a region, year and forecast draw with emissions ``E`` (Mt CO2/yr), population ``P`` (people), GDP
``Y = gdp_per_capita * P`` (international-$ 2011) and a cap ``C`` (Mt CO2/yr)::

    population capacity = C / (E / P)        people        (C / per-capita emissions)
    GDP capacity        = C / (E / Y)        int-$ 2011    (C / carbon intensity)
    built-up capacity   = C / (E / A)        km²           (C / emissions per km² of built-up land A)

i.e. the population (GDP, built-up land) the region could have at its *projected* per-capita emissions
(carbon intensity, emission density) without exceeding the cap. Capacities are per draw, so they carry
the forecast uncertainty of emissions per person / per dollar.

``P(overload, population) = P(P > population capacity)``; since ``P > C P / E`` iff ``E > C`` (for ``P > 0``),
this equals ``P(E > C)``, the probability that emissions exceed the cap -- and so does the GDP (and
built-up) overload probability: the three are reported separately for clarity but are equal by
construction. Where ``E = 0`` the capacities are infinite and there is no overload.

Caps come from allocation rules (:data:`ALLOCATION_RULES`), all with the signature
``rule(ds, **params) -> xr.DataArray`` with dims ``(region, year)`` or ``(sample, region, year)`` in
Mt CO2/yr; build one with :func:`make_cap`.

Capacity with sinks
-------------------
A cap ``C`` read as a cap on **net** emissions (emissions minus the region's ecosystem sink ``S``, positive
= uptake) allows gross emissions up to ``C + S``: ``make_cap(rule, ds, with_sink=True, ...)`` returns
``max(C + S, 0)`` per draw (:func:`add_sink`), so the capacities become
``population capacity = (C + S) / (E / P)`` and so on. With ``C = 0`` this is the seed paper's
neutrality-based carrying capacity (the population, GDP and built-up land that emissions net of the
sink can support; rule ``"neutrality"``, which is ``C = 0`` with the sink added). Where ``S >= 0`` the
capacity with the sink is at least the capacity without it, draw by draw (the sink is a source, ``S < 0``,
in a few draws of a region whose grassland or cropland rates are negative; the capacity is then lower).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from forecast.errors import InputError, did_you_mean
from forecast.metrics import headline

__all__ = [
    "ALLOCATION_RULES",
    "SHARE_TOLERANCE",
    "add_sink",
    "as_dataset",
    "capacity_table",
    "carrying_capacity",
    "sink_capacity_table",
    "make_cap",
    "validate_shares",
    "peak_level",
    "per_capita",
    "gdp_share",
    "fixed_shares",
    "neutrality",
]

#: Absolute tolerance on ``sum(shares) == 1``.
SHARE_TOLERANCE = 1e-9
CAP_UNITS = "Mt CO2/yr"


# ---------------------------------------------------------------------------------------------- helpers
def as_dataset(forecast: Any) -> xr.Dataset:
    """The Dataset of a :class:`forecast.projection.propagate.Forecast` (or the Dataset itself)."""
    ds = getattr(forecast, "ds", forecast)
    if not isinstance(ds, xr.Dataset):
        raise InputError(f"expected a Forecast or an xarray Dataset, got {type(forecast).__name__}")
    for dim in ("sample", "region", "year"):
        if dim not in ds.dims:
            raise InputError(f"forecast Dataset lacks dimension {dim!r} (dims: {list(ds.dims)})")
    if "co2" not in ds:
        raise InputError("forecast Dataset lacks variable 'co2' (Mt CO2/yr)")
    return ds


def _check_regions(names, ds: xr.Dataset, what: str) -> None:
    known = [str(r) for r in ds["region"].values]
    unknown = [str(r) for r in names if str(r) not in known]
    if unknown:
        parts = ", ".join(f"{r!r}{did_you_mean(r, known, cutoff=0.5)}" for r in unknown)
        raise InputError(f"{what}: region(s) not in the forecast: {parts}. Forecast regions: {', '.join(known)}.")


def _gdp(ds: xr.Dataset) -> xr.DataArray:
    if "gdp" in ds:
        return ds["gdp"]
    if "gdp_per_capita" not in ds or "population" not in ds:
        raise InputError("forecast Dataset needs 'gdp_per_capita' and 'population' (or 'gdp') for GDP shares")
    return ds["gdp_per_capita"] * ds["population"]


def _years(ds: xr.Dataset, years) -> np.ndarray:
    all_years = ds["year"].values
    if years is None:
        if "is_forecast" in ds.coords:
            return all_years[ds["is_forecast"].values.astype(bool)]
        return all_years
    years = np.atleast_1d(np.asarray(years, dtype=int))
    missing = [int(y) for y in years if y not in all_years]
    if missing:
        raise InputError(f"year(s) {missing} not in the forecast ({int(all_years.min())}-{int(all_years.max())})")
    return years


def _budget(budget, years: np.ndarray) -> xr.DataArray:
    """Total budget B_t (Mt CO2/yr) as a DataArray over ``year``: scalar, mapping year -> value, Series or
    DataArray(year)."""
    if isinstance(budget, xr.DataArray):
        b = budget
        if "year" not in b.dims:
            if b.ndim == 0:
                b = xr.DataArray(np.full(len(years), float(b)), dims="year", coords={"year": years})
            else:
                raise InputError(f"budget DataArray must have dimension 'year', got {b.dims}")
    elif isinstance(budget, (Mapping, pd.Series)):
        b = xr.DataArray(pd.Series(dict(budget)).astype(float).rename_axis("year"))
        b = b.assign_coords(year=b["year"].astype(int))
    elif np.isscalar(budget) and not isinstance(budget, (bool, str)):
        b = xr.DataArray(np.full(len(years), float(budget)), dims="year", coords={"year": years})
    else:
        raise InputError(f"budget must be a number, a year -> Mt CO2/yr mapping or a DataArray(year); got {budget!r}")
    missing = [int(y) for y in years if y not in b["year"].values]
    if missing:
        raise InputError(f"budget: no value for year(s) {_year_ranges(missing)} (a yearly budget needs every "
                         f"year the cap covers: {_year_ranges(years)})")
    b = b.sel(year=years)
    bad = ~np.isfinite(b.values) | (b.values < 0)
    if bad.any():
        values = sorted({float(v) for v in b.values[bad]}, key=str)
        raise InputError(f"budget must be finite and >= 0 Mt CO2/yr; got {', '.join(f'{v:g}' for v in values[:3])} "
                         f"in year(s) {_year_ranges(b['year'].values[bad])}")
    return b


def _year_ranges(years) -> str:
    """``[2017, 2018, 2019, 2025]`` -> ``"2017-2019, 2025"``."""
    ys = sorted({int(y) for y in years})
    parts: list[str] = []
    for y in ys:
        if parts and y == end + 1:
            end = y
            parts[-1] = f"{start}-{end}"
        else:
            start = end = y
            parts.append(str(y))
    return ", ".join(parts)


def validate_shares(shares, regions: list[str] | None = None, what: str = "shares") -> xr.DataArray:
    """Check shares (mapping region -> share, Series, or DataArray with dim ``region`` and optionally
    ``sample``/``year``): all finite and >= 0, summing to one over regions within :data:`SHARE_TOLERANCE`;
    region names must be in ``regions`` (if given). Returns a float DataArray."""
    if isinstance(shares, xr.DataArray):
        s = shares.astype(float)
    elif isinstance(shares, (Mapping, pd.Series)):
        if len(shares) == 0:
            raise InputError(f"{what}: no regions given")
        s = xr.DataArray(pd.Series({str(k): v for k, v in dict(shares).items()}, dtype=float).rename_axis("region"))
    else:
        raise InputError(f"{what} must be a mapping region -> share or a DataArray with dim 'region'")
    if "region" not in s.dims:
        raise InputError(f"{what} must have a 'region' dimension, got {s.dims}")
    if regions is not None:
        known = list(regions)
        unknown = [str(r) for r in s["region"].values if str(r) not in known]
        if unknown:
            parts = ", ".join(f"{r!r}{did_you_mean(r, known, cutoff=0.5)}" for r in unknown)
            raise InputError(f"{what}: region(s) not in the forecast: {parts}")
    v = s.values
    if not np.isfinite(v).all():
        raise InputError(f"{what}: shares must be finite numbers (found NaN/inf)")
    if (v < 0).any():
        neg = sorted({str(r) for r in s.where(s < 0, drop=True)["region"].values})
        raise InputError(f"{what}: negative share(s) for region(s) {neg}")
    total = s.sum("region")
    err = np.abs(total.values - 1.0)
    if (err > SHARE_TOLERANCE).any():
        raise InputError(f"{what}: shares must sum to one (tolerance {SHARE_TOLERANCE:g}); they sum to "
                         f"{float(np.ravel(total.values)[np.argmax(np.ravel(err))]):.12g}")
    return s


def _finish(cap: xr.DataArray, rule: str, **attrs) -> xr.DataArray:
    cap = cap.rename("cap")
    order = [d for d in ("sample", "region", "year") if d in cap.dims]
    cap = cap.transpose(*order)
    cap.attrs = {"units": CAP_UNITS, "long_name": "carbon cap", "allocation_rule": rule,
                 **{k: str(v) for k, v in attrs.items()}}
    return cap


# ---------------------------------------------------------------------------------------------- rules
def peak_level(ds: xr.Dataset, *, reference_year: int = 2030, factor: float = 1.0, years=None,
               statistic: str = "sample") -> xr.DataArray:
    """Cap = the region's emissions in ``reference_year`` × ``factor``, held for ``years`` (default: every
    year from the reference year on). ``statistic="sample"`` caps each draw at its own reference-year level
    (P(overload) = P(emissions rise above the reference level)); ``"median"``/``"mean"`` use one cap per
    region from the posterior median/mean of the reference-year emissions."""
    ds = as_dataset(ds)
    if not np.isfinite(factor) or factor < 0:
        raise InputError(f"peak_level: factor must be finite and >= 0, got {factor!r}")
    ref = _years(ds, [reference_year])[0]
    years = _years(ds, years) if years is not None else ds["year"].values[ds["year"].values >= ref]
    level = ds["co2"].sel(year=ref, drop=True)
    if statistic == "median":
        level = level.median("sample")
    elif statistic == "mean":
        level = level.mean("sample")
    elif statistic != "sample":
        raise InputError(f"peak_level: statistic must be 'sample', 'median' or 'mean', got {statistic!r}")
    cap = (level * factor).expand_dims(year=years)
    return _finish(cap, "peak_level", reference_year=ref, factor=factor, statistic=statistic)


def _share_cap(ds, weight: xr.DataArray, budget, years, rule: str) -> xr.DataArray:
    years = _years(ds, years)
    w = weight.sel(year=years)
    if w.isnull().any():
        bad = w.isnull().any("sample") if "sample" in w.dims else w.isnull()
        r, y = np.nonzero(bad.transpose("region", "year").values)
        raise InputError(f"{rule}: missing weights for region/year "
                         f"{[(str(w['region'].values[i]), int(w['year'].values[j])) for i, j in zip(r[:5], y[:5])]}")
    share = w / w.sum("region")
    validate_shares(share, what=f"{rule} shares")
    return _finish(share * _budget(budget, years), rule, budget=budget)


def per_capita(ds: xr.Dataset, *, budget, years=None) -> xr.DataArray:
    """Equal per-capita allocation: cap = B_t × population share (per draw, region, year). ``budget`` B_t in
    Mt CO2/yr: a number, a mapping year -> value, a Series or a DataArray(year). ``years`` default: the
    forecast years."""
    ds = as_dataset(ds)
    if "population" not in ds:
        raise InputError("per_capita: the forecast Dataset lacks 'population'")
    return _share_cap(ds, ds["population"], budget, years, "per_capita")


def gdp_share(ds: xr.Dataset, *, budget, years=None) -> xr.DataArray:
    """Allocation by economic weight: cap = B_t × GDP share (GDP = gdp_per_capita × population)."""
    ds = as_dataset(ds)
    return _share_cap(ds, _gdp(ds), budget, years, "gdp_share")


def fixed_shares(ds: xr.Dataset, *, budget, shares, years=None) -> xr.DataArray:
    """Negotiated shares: cap = B_t × share_r with user-given ``shares`` (mapping region -> share summing to
    one over **all** forecast regions)."""
    ds = as_dataset(ds)
    regions = [str(r) for r in ds["region"].values]
    s = validate_shares(shares, regions, "fixed_shares")
    missing = [r for r in regions if r not in s["region"].values]
    if missing:
        raise InputError(f"fixed_shares: no share for forecast region(s) {missing}")
    years = _years(ds, years)
    return _finish(s.sel(region=regions) * _budget(budget, years), "fixed_shares")


def neutrality(ds: xr.Dataset, *, years=None, clip_negative: bool = True) -> xr.DataArray:
    """Net-zero cap: cap = the region's ecosystem sink (variable ``sink``, Mt CO2/yr, positive = uptake), per
    draw. Draws in which the sink is a source (< 0) get cap 0 when ``clip_negative`` (default), else an
    error. Regions without a sink (NaN) raise :class:`InputError`."""
    ds = as_dataset(ds)
    if "sink" not in ds:
        raise InputError("neutrality: the forecast has no 'sink' variable (run with sinks enabled)")
    years = _years(ds, years)
    sink = headline(ds["sink"]).sel(year=years)
    no_sink = sink.isnull().all([d for d in sink.dims if d != "region"])
    if no_sink.any():
        raise InputError(f"neutrality: no sink for region(s) {[str(r) for r in sink['region'].values[no_sink.values]]}")
    if clip_negative:
        sink = sink.clip(min=0.0)
    return _finish(sink, "neutrality")


#: name -> rule; every rule is ``rule(ds, **params) -> DataArray (sample?, region, year)`` in Mt CO2/yr.
ALLOCATION_RULES: dict[str, Callable[..., xr.DataArray]] = {
    "peak_level": peak_level,
    "per_capita": per_capita,
    "gdp_share": gdp_share,
    "fixed_shares": fixed_shares,
    "neutrality": neutrality,
}


def _sink_of(ds: xr.Dataset, years, what: str) -> xr.DataArray:
    """The headline ``sink`` (sample, region, year; Mt CO2/yr, positive = uptake) over ``years``; regions
    without a sink (all NaN) raise :class:`InputError` naming them."""
    if "sink" not in ds:
        raise InputError(f"{what}: the forecast has no 'sink' variable (run with sinks enabled)")
    sink = headline(ds["sink"]).sel(year=years)
    missing = sink.isnull().any([d for d in sink.dims if d != "region"])
    if missing.any():
        raise InputError(f"{what}: no sink in some of the years {_year_ranges(years)} for region(s) "
                         f"{[str(r) for r in sink['region'].values[missing.values]]} (give them ecosystem areas)")
    return sink.transpose("sample", "region", "year")


def add_sink(cap: xr.DataArray, ds) -> xr.DataArray:
    """Allowance for gross emissions under a cap on net emissions: ``max(cap + sink, 0)`` per draw (Mt CO2/yr).

    ``cap``: (region, year) or (sample, region, year), a cap on emissions minus the ecosystem sink;
    ``ds``: the forecast with ``sink``. The sink's draws pair with the emission draws of the same sample."""
    ds = as_dataset(ds)
    sink = _sink_of(ds, cap["year"].values, "with_sink")
    gross = (cap.reindex(region=ds["region"]) + sink).clip(min=0.0)
    rule = cap.attrs.get("allocation_rule", "cap")
    return _finish(gross, f"{rule} + sink", **{k: v for k, v in cap.attrs.items()
                                               if k not in ("units", "long_name", "allocation_rule")})


def make_cap(rule: str | Callable[..., xr.DataArray], ds, *, with_sink: bool = False, **params) -> xr.DataArray:
    """Cap from an allocation rule: a name in :data:`ALLOCATION_RULES` or a callable with the same
    signature. Unknown names raise :class:`InputError` with suggestions; the result is validated.

    ``with_sink=True`` reads the rule's cap as a cap on net emissions and returns the gross allowance
    ``max(cap + sink, 0)`` (:func:`add_sink`); not with ``"neutrality"``, which already is the sink."""
    ds = as_dataset(ds)
    if not isinstance(with_sink, bool):
        raise InputError(f"with_sink must be true or false, got {with_sink!r}")
    if with_sink and rule in ("neutrality", neutrality):
        raise InputError("with_sink: the neutrality cap is the sink already (net zero); adding the sink again "
                         "would count it twice")
    if callable(rule):
        fn = rule
    else:
        fn = ALLOCATION_RULES.get(rule)
        if fn is None:
            raise InputError(f"unknown allocation rule {rule!r}{did_you_mean(rule, ALLOCATION_RULES, cutoff=0.5)}; "
                             f"known: {', '.join(ALLOCATION_RULES)}")
    try:
        cap = fn(ds, **params)
    except TypeError as exc:
        raise InputError(f"allocation rule {rule!r}: bad parameters: {exc}") from exc
    _check_cap(cap, ds)
    if with_sink:
        cap = add_sink(cap, ds)
        _check_cap(cap, ds)
    return cap


# ---------------------------------------------------------------------------------------------- capacity
def _check_cap(cap: xr.DataArray, ds: xr.Dataset) -> xr.DataArray:
    if not isinstance(cap, xr.DataArray):
        raise InputError(f"cap must be an xarray DataArray (region, year), got {type(cap).__name__}")
    extra = [d for d in cap.dims if d not in ("sample", "region", "year")]
    if extra or "region" not in cap.dims or "year" not in cap.dims:
        raise InputError(f"cap must have dims (region, year) or (sample, region, year), got {cap.dims}")
    _check_regions(cap["region"].values, ds, "cap")
    missing_regions = [str(r) for r in ds["region"].values if r not in cap["region"].values]
    if missing_regions:
        raise InputError(f"cap: no cap for forecast region(s) {missing_regions}")
    bad_years = [int(y) for y in cap["year"].values if y not in ds["year"].values]
    if bad_years:
        raise InputError(f"cap: year(s) {bad_years} not in the forecast")
    if "sample" in cap.dims and cap.sizes["sample"] != ds.sizes["sample"]:
        raise InputError(f"cap has {cap.sizes['sample']} samples, the forecast {ds.sizes['sample']}")
    for test, what in ((cap.isnull(), "missing (NaN)"), (cap < 0, "negative")):
        hit = test.any("sample") if "sample" in cap.dims else test
        hit = hit.transpose("region", "year")
        if hit.any():
            r, y = np.nonzero(hit.values)
            where = ", ".join(f"{cap['region'].values[i]}/{int(cap['year'].values[j])}" for i, j in zip(r[:5], y[:5]))
            raise InputError(f"cap: {what} value(s) at region/year {where}{' ...' if len(r) > 5 else ''} "
                             f"(caps must be >= 0 Mt CO2/yr)")
    if np.isinf(cap.values).any():
        raise InputError("cap: infinite values")
    return cap


def _built_up(built_up_km2, ds: xr.Dataset) -> xr.DataArray:
    if isinstance(built_up_km2, xr.DataArray):
        a = built_up_km2.astype(float)
    elif isinstance(built_up_km2, (Mapping, pd.Series)):
        a = xr.DataArray(pd.Series({str(k): v for k, v in dict(built_up_km2).items()}, dtype=float)
                         .rename_axis("region"))
    else:
        raise InputError("built_up_km2 must be a mapping region -> km² (or a DataArray with dim 'region')")
    if "region" not in a.dims or any(d not in ("region", "year") for d in a.dims):
        raise InputError(f"built_up_km2 must have dims (region[, year]), got {a.dims}")
    _check_regions(a["region"].values, ds, "built_up_km2")
    v = a.values
    if not np.isfinite(v).all() or (v <= 0).any():
        raise InputError("built_up_km2: areas must be finite and > 0 km²")
    return a.reindex(region=ds["region"])  # regions without an area -> NaN capacity


def carrying_capacity(ds, cap: xr.DataArray, built_up_km2: Mapping[str, float] | xr.DataArray | None = None
                      ) -> xr.Dataset:
    """Carrying capacity of every region under ``cap`` (Mt CO2/yr; dims (region, year) or (sample, region,
    year); the years of ``cap`` are the years evaluated).

    Returns a Dataset over ``(sample, region, year)`` with ``population_capacity`` (people), ``gdp_capacity``
    (int-$ 2011), optionally ``built_up_capacity`` (km²; NaN for regions without an area), the inputs
    ``cap``, ``co2``, ``population``, ``gdp`` and, over ``(region, year)``, ``p_overload_population``,
    ``p_overload_gdp`` [``p_overload_built_up``] -- the share of draws with projected value > capacity, which
    equals P(co2 > cap) (see the module docstring).

    Raises:
        InputError: cap with negative or missing values (region/year named), regions or years not in the
            forecast, bad built-up areas.
    """
    ds = as_dataset(ds)
    for var in ("population", "gdp_per_capita"):
        if var not in ds and not (var == "gdp_per_capita" and "gdp" in ds):
            raise InputError(f"forecast Dataset lacks {var!r}")
    _check_cap(cap, ds)
    years = cap["year"].values
    sub = ds.sel(year=years)
    co2 = sub["co2"]
    pop = sub["population"]
    gdp = _gdp(sub)
    cap = cap.reindex(region=sub["region"]).broadcast_like(co2).transpose("sample", "region", "year")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = xr.where(co2 > 0, cap / co2, np.inf)  # capacity / actual, common to all measures
    ratio = ratio.where(co2.notnull())
    out = xr.Dataset(coords={k: v for k, v in sub.coords.items() if set(v.dims) <= {"sample", "region", "year"}})
    out["population_capacity"] = (pop * ratio).assign_attrs(
        units="people", long_name="population supportable under the cap at projected per-capita emissions")
    out["gdp_capacity"] = (gdp * ratio).assign_attrs(
        units="international-$ (2011 prices)", long_name="GDP supportable under the cap at projected carbon intensity")
    over = (co2 > cap).where(co2.notnull())
    p_over = over.mean("sample")  # NaN draws skipped
    out["p_overload_population"] = p_over.assign_attrs(
        units="1", long_name="P(projected population > population capacity) = P(co2 > cap)")
    out["p_overload_gdp"] = p_over.copy().assign_attrs(
        units="1", long_name="P(projected GDP > GDP capacity) = P(co2 > cap)")
    if built_up_km2 is not None:
        area = _built_up(built_up_km2, sub)
        out["built_up_km2"] = area.assign_attrs(units="km²", long_name="built-up land area (user input)")
        out["built_up_capacity"] = (area * ratio).transpose("sample", "region", "year").assign_attrs(
            units="km²", long_name="built-up land supportable under the cap at projected emissions per km²")
        out["p_overload_built_up"] = p_over.where(area.notnull()).copy().assign_attrs(
            units="1", long_name="P(built-up area > built-up capacity) = P(co2 > cap)")
    out["cap"] = cap.assign_attrs(units=CAP_UNITS, long_name="carbon cap", **{
        k: v for k, v in cap.attrs.items() if k not in ("units", "long_name")})
    out["co2"] = co2.assign_attrs(units="Mt CO2/yr", long_name="projected CO2 emissions")
    out["population"] = pop.assign_attrs(units="people", long_name="projected population")
    out["gdp"] = gdp.assign_attrs(units="international-$ (2011 prices)", long_name="projected GDP")
    out.attrs["description"] = "carbon carrying capacity (capacity = projected value x cap / projected co2)"
    return out


def capacity_table(cap_ds: xr.Dataset, years=(2030, 2060)) -> pd.DataFrame:
    """Tidy table, one row per (region, year): for each measure (population, gdp[, built_up]) the capacity
    mean / q05 / q95 over draws (the mean skips infinite capacities of zero-emission draws), the projected
    mean and P(overload); plus cap mean and co2 mean (Mt CO2/yr).
    ``years`` must be among the years of ``cap_ds``."""
    if not isinstance(cap_ds, xr.Dataset) or "population_capacity" not in cap_ds:
        raise InputError("capacity_table expects the Dataset returned by carrying_capacity()")
    years = list(np.atleast_1d(years).astype(int)) if years is not None else list(cap_ds["year"].values)
    missing = [y for y in years if y not in cap_ds["year"].values]
    if missing:
        raise InputError(f"capacity_table: year(s) {missing} not in the capacity Dataset "
                         f"(years {int(cap_ds['year'].min())}-{int(cap_ds['year'].max())})")
    d = cap_ds.sel(year=years)
    cols: dict[str, xr.DataArray] = {
        "cap_mean": d["cap"].mean("sample"),
        "co2_mean": d["co2"].mean("sample"),
    }
    measures = [("population", "population"), ("gdp", "gdp")]
    if "built_up_capacity" in d:
        measures.append(("built_up", None))
    for m, projected in measures:
        c = d[f"{m}_capacity"]
        finite = c.where(np.isfinite(c))
        cols[f"{m}_capacity_mean"] = finite.mean("sample")
        cols[f"{m}_capacity_q05"] = c.quantile(0.05, dim="sample").drop_vars("quantile")
        cols[f"{m}_capacity_q95"] = c.quantile(0.95, dim="sample").drop_vars("quantile")
        if projected is not None:
            cols[f"{m}_projected_mean"] = d[projected].mean("sample")
        else:
            cols["built_up_km2"] = d["built_up_km2"].broadcast_like(d["co2"].isel(sample=0, drop=True))
        cols[f"p_overload_{m}"] = d[f"p_overload_{m}"]
    table = xr.Dataset(cols).to_dataframe()
    keep = [c for c in cols]
    return table[keep].reset_index()[["region", "year"] + keep]


def sink_capacity_table(ds, cap: xr.DataArray, years=(2030, 2060)) -> pd.DataFrame:
    """Capacity under ``cap`` (a cap on emissions, Mt CO2/yr) without and with the region's sink, side by side.

    One row per (region, year): sink median (Mt CO2/yr), cap median, the population and GDP capacity
    medians without the sink (``cap``) and with it (``max(cap + sink, 0)``; people, int-$ 2011), and
    P(overload) both ways (P(co2 > cap) and P(co2 - sink > cap)). Regions need a sink in ``years``."""
    ds = as_dataset(ds)
    years = list(_years(ds, years))
    missing = [int(y) for y in years if y not in _check_cap(cap, ds)["year"].values]
    if missing:
        raise InputError(f"sink_capacity_table: the cap has no year(s) {_year_ranges(missing)}")
    cap = cap.sel(year=years)
    sink = _sink_of(ds, years, "sink_capacity_table")
    without = carrying_capacity(ds, cap)
    with_ = carrying_capacity(ds, add_sink(cap, ds))
    cols = {"sink_q50": sink.median("sample"),
            "cap_q50": without["cap"].median("sample"),
            "population_capacity_q50": without["population_capacity"].median("sample"),
            "population_capacity_with_sink_q50": with_["population_capacity"].median("sample"),
            "gdp_capacity_q50": without["gdp_capacity"].median("sample"),
            "gdp_capacity_with_sink_q50": with_["gdp_capacity"].median("sample"),
            "p_overload": without["p_overload_population"],
            "p_overload_with_sink": with_["p_overload_population"]}
    table = xr.Dataset(cols).to_dataframe()[list(cols)].reset_index()
    table.attrs["units"] = {"sink_q50": CAP_UNITS, "cap_q50": CAP_UNITS, "population": "people",
                            "gdp": "international-$ (2011 prices)"}
    return table
