"""Net emissions (emissions minus ecosystem sinks) and the carbon-neutrality year read from them.

All quantities are in Mt CO2/yr with dims ``(sample, region, year)``; sinks are positive numbers
(removals), so ``net = emissions - sinks``.

Pairing draws
-------------
Emission draws (EKC model) and sink draws (ecosystem/land-sink models) come from different models and
are treated as independent: draw ``i`` of one is paired with draw ``i`` of the other. When the two sets
have different sizes, the smaller one is resampled to the size of the larger with a seeded generator
(:func:`resample_samples`): every original draw is used ``floor(N/n)`` or ``ceil(N/n)`` times (the
remainder is picked without replacement) and the order is shuffled. This keeps the smaller set's
empirical distribution almost exactly instead of adding bootstrap noise. The same ``random_seed``
always gives the same pairing.

Neutrality year
---------------
The neutrality year of one trajectory is the first year from which net emissions are ``<= 0`` *and stay
``<= 0`` through the horizon* (a dip below zero followed by a rebound does not count). Trajectories
that are still positive in the horizon year get the sentinel ``horizon + 1`` and the flag ``never``.
Missing values (NaN) count as "not neutral".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from forecast.errors import InputError

__all__ = [
    "net_emissions",
    "neutrality_year",
    "neutrality_table",
    "sink_gap_table",
    "resample_samples",
    "NEUTRALITY_YEARS",
    "net_emission_terms",
    "emission_terms_table",
]

UNITS = "Mt CO2/yr"
DIMS = ("sample", "region", "year")
NEUTRALITY_YEARS = (2050, 2060)
_UNIT_ALIASES = {"mtco2/yr", "mtco2/a", "mtco2yr-1", "mtco2peryear", "mtco2/year"}


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def _units_ok(units: Any) -> bool:
    u = str(units).lower().replace(" ", "").replace("₂", "2").replace("⁻¹", "-1")
    return u in _UNIT_ALIASES


def _as_cube(obj: Any, what: str, var: str) -> xr.DataArray:
    """DataArray ``(sample, region, year)`` from a DataArray, a Dataset (variable ``var``) or a Forecast."""
    if hasattr(obj, "ds") and isinstance(getattr(obj, "ds"), xr.Dataset):  # forecast.projection.propagate.Forecast
        obj = obj.ds
    if isinstance(obj, xr.Dataset):
        if var not in obj:
            raise InputError(f"{what}: the Dataset has no variable {var!r} (variables: {', '.join(map(str, obj.data_vars))})")
        obj = obj[var]
    if not isinstance(obj, xr.DataArray):
        raise InputError(f"{what}: expected an xarray DataArray (sample, region, year), got {type(obj).__name__}")
    if set(obj.dims) != set(DIMS):
        raise InputError(f"{what}: expected dims {DIMS}, got {tuple(obj.dims)}")
    units = obj.attrs.get("units")
    if units is not None and not _units_ok(units):
        raise InputError(f"{what}: expected units {UNITS!r}, got {units!r}")
    for dim in DIMS:
        if dim not in obj.coords:
            obj = obj.assign_coords({dim: np.arange(obj.sizes[dim])})
    return obj.transpose(*DIMS)


def resample_samples(da: xr.DataArray, n: int, random_seed: Any = None) -> xr.DataArray:
    """``da`` with its ``sample`` dimension resampled to ``n`` draws, reproducibly.

    Each of the ``k`` original draws appears ``n // k`` times, plus ``n % k`` distinct draws chosen
    without replacement; the result is shuffled. ``n < k`` therefore subsamples without replacement.
    The ``sample`` coordinate of the result is ``0..n-1``; the original index is kept in the coordinate
    ``source_sample``.
    """
    if int(n) < 1:
        raise InputError(f"cannot resample to {n} draws")
    k = da.sizes["sample"]
    rng = np.random.default_rng(random_seed)
    reps, rem = divmod(int(n), k)
    idx = np.concatenate([np.tile(np.arange(k), reps), rng.choice(k, size=rem, replace=False)])
    rng.shuffle(idx)
    out = da.isel(sample=idx)
    return out.assign_coords(sample=np.arange(int(n)), source_sample=("sample", idx))


def _align_samples(a: xr.DataArray, b: xr.DataArray, random_seed: Any) -> tuple[xr.DataArray, xr.DataArray, str]:
    na, nb = a.sizes["sample"], b.sizes["sample"]
    note = "paired by draw index"
    if na < nb:
        a, note = resample_samples(a, nb, random_seed), f"first input resampled from {na} to {nb} draws"
    elif nb < na:
        b, note = resample_samples(b, na, random_seed), f"second input resampled from {nb} to {na} draws"
    n = max(na, nb)
    a = a.drop_vars("source_sample", errors="ignore").assign_coords(sample=np.arange(n))
    b = b.drop_vars("source_sample", errors="ignore").assign_coords(sample=np.arange(n))
    return a, b, note


def _check_regions(a: xr.DataArray, b: xr.DataArray, names: tuple[str, str]) -> list:
    ra, rb = list(a["region"].values), list(b["region"].values)
    only_a, only_b = [r for r in ra if r not in rb], [r for r in rb if r not in ra]
    if only_a or only_b:
        parts = []
        if only_a:
            parts.append(f"in {names[0]} only: {', '.join(map(str, only_a))}")
        if only_b:
            parts.append(f"in {names[1]} only: {', '.join(map(str, only_b))}")
        raise InputError(f"{names[0]} and {names[1]} cover different regions ({'; '.join(parts)})")
    return ra


# --------------------------------------------------------------------------------------------------
# Net emissions and the neutrality year
# --------------------------------------------------------------------------------------------------


def net_emissions(emissions: Any, sinks: Any, random_seed: Any = None) -> xr.DataArray:
    """Net emissions ``emissions - sinks`` in Mt CO2/yr, dims ``(sample, region, year)``.

    Parameters
    ----------
    emissions:
        DataArray ``(sample, region, year)`` in Mt CO2/yr, or a Dataset with variable ``co2``, or a
        :class:`forecast.projection.propagate.Forecast`.
    sinks:
        DataArray ``(sample, region, year)`` in Mt CO2/yr (positive = removal), or a Dataset with
        variable ``sink`` (as returned by :meth:`forecast.sinks.ecosystems.EcosystemSinks.simulate`).
    random_seed:
        Seed for resampling the smaller draw set when the sample counts differ (see the module doc).

    Notes
    -----
    Only years present in both inputs are kept (InputError if there are none); regions must match.
    """
    e = _as_cube(emissions, "emissions", "co2")
    s = _as_cube(sinks, "sinks", "sink")
    regions = _check_regions(e, s, ("emissions", "sinks"))
    s = s.sel(region=regions)
    years = np.intersect1d(e["year"].values, s["year"].values)
    if years.size == 0:
        raise InputError(
            f"emissions ({int(e['year'].min())}-{int(e['year'].max())}) and sinks "
            f"({int(s['year'].min())}-{int(s['year'].max())}) have no year in common"
        )
    e, s = e.sel(year=years), s.sel(year=years)
    e, s, note = _align_samples(e, s, random_seed)
    net = e - s.values  # positional: dims and coords of ``e`` are kept
    net = net.rename("net_co2")
    net.attrs = {
        "units": UNITS,
        "long_name": "net CO2 emissions (emissions minus ecosystem sinks)",
        "sample_pairing": note,
    }
    return net


def neutrality_year(net: xr.DataArray) -> xr.DataArray:
    """First year from which net emissions stay ``<= 0`` through the horizon, dims ``(sample, region)``.

    Trajectories that never get there (positive or NaN in the horizon year) get ``horizon + 1``; the
    boolean coordinate ``never`` flags them and ``attrs["never_value"]`` holds the sentinel.
    """
    net = _as_cube(net, "net emissions", "net_co2")
    years = net["year"].values.astype(int)
    if years.size == 0:
        raise InputError("net emissions have no years")
    if (np.diff(years) <= 0).any():
        net = net.sortby("year")
        years = net["year"].values.astype(int)
    horizon = int(years[-1])
    positive = ~(net.values <= 0)  # NaN -> not neutral
    n_years = years.size
    any_pos = positive.any(axis=-1)
    last_pos = n_years - 1 - np.argmax(positive[..., ::-1], axis=-1)
    first_idx = np.where(any_pos, last_pos + 1, 0)
    never = first_idx >= n_years
    out_years = np.where(never, horizon + 1, years[np.minimum(first_idx, n_years - 1)])
    out = xr.DataArray(
        out_years.astype("int64"),
        dims=("sample", "region"),
        coords={"sample": net["sample"].values, "region": net["region"].values, "never": (("sample", "region"), never)},
        name="neutrality_year",
        attrs={
            "long_name": "first year from which net CO2 emissions stay <= 0 through the horizon",
            "units": "year",
            "horizon": horizon,
            "never_value": horizon + 1,
        },
    )
    return out


def _year_quantiles(values: np.ndarray, qs: Sequence[float]) -> list:
    if values.size == 0:
        return [pd.NA] * len(qs)
    return [int(np.quantile(values, q, method="lower")) for q in qs]


def neutrality_table(net: xr.DataArray, by: Iterable[int] = NEUTRALITY_YEARS) -> pd.DataFrame:
    """Per region: neutrality probabilities, neutrality-year quantiles and net emissions at the horizon.

    Columns
    -------
    ``p_neutral_by_<year>``
        P(neutrality year <= year): net emissions are <= 0 from that year *and through the horizon*.
    ``p_not_neutral_by_horizon``
        P(net emissions still > 0 in the horizon year) (the ``never`` draws).
    ``p_neutral_by_horizon``
        ``1 - p_not_neutral_by_horizon``: the probability that the quantiles below are conditional on.
    ``neutrality_year_q05/q50/q95_if_reached``
        Quantiles of the neutrality year among the draws that reach it (``<NA>`` if none do).
    ``neutrality_year_q05/q50/q95``
        Quantiles of the neutrality year over all draws, the draws that never reach it counted as
        ``horizon + 1`` (``attrs["never_value"]``): a quantile equal to that value means "not by the
        horizon". Read with ``p_not_neutral_by_horizon``; the distribution is often split between a
        year within the horizon and "never".
    ``net_at_horizon_mean/q05/q95``
        Net emissions in the horizon year, Mt CO2/yr.

    ``by`` years must lie within the years of ``net``.
    """
    net = _as_cube(net, "net emissions", "net_co2")
    ny = neutrality_year(net)
    years = np.sort(net["year"].values.astype(int))
    horizon = int(years[-1])
    by = [int(y) for y in by]
    outside = [y for y in by if y < years[0] or y > horizon]
    if outside:
        raise InputError(
            f"neutrality_table: by-year(s) {', '.join(map(str, outside))} outside the years of the net "
            f"emissions ({years[0]}-{horizon})"
        )
    never = ny["never"]
    regions = [str(r) for r in ny["region"].values]
    table = pd.DataFrame(index=pd.Index(regions, name="region"))
    for y in by:
        table[f"p_neutral_by_{y}"] = ((ny <= y) & ~never).mean("sample").values
    table["p_not_neutral_by_horizon"] = never.mean("sample").values
    table["p_neutral_by_horizon"] = 1.0 - table["p_not_neutral_by_horizon"]
    qs = (0.05, 0.5, 0.95)
    cols = [f"neutrality_year_q{int(q * 100):02d}_if_reached" for q in qs]
    rows = []
    for r in ny["region"].values:
        reached = ny.sel(region=r).values[~never.sel(region=r).values]
        rows.append(_year_quantiles(reached, qs))
    for j, col in enumerate(cols):
        table[col] = pd.array([row[j] for row in rows], dtype="Int64")
    for q in qs:
        table[f"neutrality_year_q{int(q * 100):02d}"] = pd.array(
            [_year_quantiles(ny.sel(region=r).values, [q])[0] for r in ny["region"].values], dtype="Int64")
    last = net.sel(year=horizon)
    table["net_at_horizon_mean"] = last.mean("sample").values
    table["net_at_horizon_q05"] = last.quantile(0.05, dim="sample").values
    table["net_at_horizon_q95"] = last.quantile(0.95, dim="sample").values
    table.attrs = {"horizon": horizon, "units": UNITS, "never_value": horizon + 1}
    return table


# --------------------------------------------------------------------------------------------------
# Sink gap from ignoring the CFE decline
# --------------------------------------------------------------------------------------------------


def sink_gap_table(
    sinks_decline: Any,
    sinks_constant: Any,
    years: Iterable[int] = (2030, 2060),
    random_seed: Any = None,
) -> pd.DataFrame:
    """How much a constant CO2-fertilisation effect would overstate the sink, per region and year.

    ``gap = sinks_constant - sinks_decline`` in Mt CO2/yr: positive when assuming a constant CFE gives a
    larger sink than the declining CFE. Simulate both inputs with the same ``random_seed`` (same rate
    and area draws, only the multiplier differs) so that the difference is paired draw by draw; if the
    sample counts differ, the smaller set is resampled (see the module doc) and the pairing is lost.

    Returns a DataFrame indexed by ``(region, year)`` with ``sink_constant_mean``,
    ``sink_decline_mean``, ``gap_mean``, ``gap_q05``, ``gap_q95`` (Mt CO2/yr) and ``gap_share_mean``
    (``gap_mean / sink_constant_mean``).
    """
    dec = _as_cube(sinks_decline, "sinks_decline", "sink")
    con = _as_cube(sinks_constant, "sinks_constant", "sink")
    regions = _check_regions(dec, con, ("sinks_decline", "sinks_constant"))
    con = con.sel(region=regions)
    years = [int(y) for y in years]
    for name, da in (("sinks_decline", dec), ("sinks_constant", con)):
        missing = [y for y in years if y not in set(da["year"].values.astype(int))]
        if missing:
            raise InputError(f"sink_gap_table: {name} has no year(s) {', '.join(map(str, missing))}")
    dec, con = dec.sel(year=years), con.sel(year=years)
    dec, con, _ = _align_samples(dec, con, random_seed)
    gap = con - dec.values
    rows = []
    for r in regions:
        for y in years:
            g = gap.sel(region=r, year=y).values
            c_mean = float(con.sel(region=r, year=y).mean())
            rows.append(
                {
                    "region": str(r),
                    "year": y,
                    "sink_constant_mean": c_mean,
                    "sink_decline_mean": float(dec.sel(region=r, year=y).mean()),
                    "gap_mean": float(np.mean(g)),
                    "gap_q05": float(np.quantile(g, 0.05)),
                    "gap_q95": float(np.quantile(g, 0.95)),
                    "gap_share_mean": float(np.mean(g)) / c_mean if c_mean != 0 else np.nan,
                }
            )
    out = pd.DataFrame(rows).set_index(["region", "year"])
    out.attrs = {"units": UNITS, "definition": "gap = sink with constant CFE - sink with declining CFE"}
    return out


# --------------------------------------------------------------------------------------------------
# Net emissions that add up: fossil + land-use change - sinks (with interannual variability)
# --------------------------------------------------------------------------------------------------


def default_interannual_rel_sd() -> float:
    """Relative sd of the sink's year-to-year variability (library ``ecosystems.sink_interannual_rel_sd``)."""
    from forecast.priors import default_library

    return float(default_library().get("ecosystems.sink_interannual_rel_sd").value)


def _luc_draws(luc: Any, like: xr.DataArray, rng: np.random.Generator) -> xr.DataArray:
    """Land-use-change emissions (Mt CO2/yr) shaped like ``like``: one normal draw per sample and region,
    held over the years (a level, not year-to-year noise); 0 for regions without an entry."""
    out = xr.zeros_like(like)
    if luc is None:
        return out
    if not isinstance(luc, Mapping):
        raise InputError(f"luc must be a table {{region: {{mean, sd}}}} in Mt CO2/yr, got {type(luc).__name__}")
    regions = [str(r) for r in like["region"].values]
    for region, spec in luc.items():
        if region not in regions:
            raise InputError(f"land-use-change emissions given for region {region!r}, which has no sink/emission "
                             f"data; regions: {', '.join(regions)}")
        if not isinstance(spec, Mapping) or "mean" not in spec:
            raise InputError(f"land-use-change emissions of {region!r} need 'mean' (Mt CO2/yr) and optional 'sd'")
        mean, sd = float(spec["mean"]), float(spec.get("sd", 0.0))
        if not (np.isfinite(mean) and np.isfinite(sd) and sd >= 0):
            raise InputError(f"land-use-change emissions of {region!r}: mean must be finite and sd >= 0, got {spec!r}")
        level = mean + sd * rng.standard_normal(like.sizes["sample"])
        out.loc[{"region": region}] = np.broadcast_to(level[:, None], out.sel(region=region).shape)
    return out


def net_emission_terms(
    fossil: Any,
    sinks: Any,
    luc: Mapping[str, Mapping[str, float]] | None = None,
    interannual_rel_sd: float | None = None,
    random_seed: Any = None,
) -> xr.Dataset:
    """Net CO2 = fossil CO2 + land-use-change emissions - sinks (with interannual variability), Mt CO2/yr.

    Parameters
    ----------
    fossil:
        Fossil (and industry) CO2 draws ``(sample, region, year)``, Mt CO2/yr, positive = emission
        (or a Dataset with ``co2`` / a Forecast), as for :func:`net_emissions`.
    sinks:
        Mean-state ecosystem sinks ``(sample, region, year)``, Mt CO2/yr, positive = removal (e.g. ``sink`` of
        :meth:`forecast.sinks.ecosystems.EcosystemSinks.simulate`).
    luc:
        ``{region: {"mean": Mt CO2/yr, "sd": Mt CO2/yr}}``: gross emissions from land conversion (positive =
        emission), one normal level per draw; regions without an entry get 0 (listed as excluded by
        :func:`emission_terms_table`).
    interannual_rel_sd:
        Relative sd of the sink's year-to-year variability: ``sink_t x (1 + sd z_t)``, ``z_t ~ N(0, 1)``
        independent across years, samples and regions; ``None`` = library value (0.23), 0 = off.

    Returns
    -------
    xarray.Dataset
        A Dataset with ``fossil_co2``, ``luc_co2``, ``sink`` (with the variability) and ``net_co2`` =
        ``fossil_co2 + luc_co2 - sink`` exactly, all ``(sample, region, year)``.
    """
    net0 = net_emissions(fossil, sinks, random_seed=random_seed)  # aligns years, regions and draws
    e = _as_cube(fossil, "emissions", "co2").sel(year=net0["year"])
    s = e.copy(data=(e.values - net0.values))  # the aligned sink draws (net0 = e - s)
    sd = default_interannual_rel_sd() if interannual_rel_sd is None else float(interannual_rel_sd)
    if not (np.isfinite(sd) and 0 <= sd < 1):
        raise InputError(f"interannual_rel_sd is a relative sd in [0, 1), got {interannual_rel_sd!r}")
    rng = np.random.default_rng(np.random.SeedSequence(None if random_seed is None else int(random_seed)).spawn(1)[0])
    sink = s * (1.0 + sd * rng.standard_normal(s.shape))
    luc_da = _luc_draws(luc, e, rng)
    net = e + luc_da - sink
    attrs = {"units": UNITS}
    return xr.Dataset({
        "fossil_co2": e.assign_attrs(attrs, long_name="fossil and industry CO2 emissions (positive = emission)"),
        "luc_co2": luc_da.assign_attrs(attrs, long_name="land-use-change emissions (positive = emission)"),
        "sink": sink.assign_attrs(attrs, long_name="ecosystem sink with interannual variability (positive = removal)",
                                  interannual_rel_sd=sd),
        "net_co2": net.assign_attrs(attrs, long_name="net CO2 = fossil + land-use change - ecosystem sink",
                                    sample_pairing=net0.attrs.get("sample_pairing", "")),
    })


GRASSI_2021 = ("Grassi G. et al. 2021, Critical adjustment of land mitigation pathways for assessing countries' "
               "climate progress, Nature Climate Change 11: 425-434")


def emission_terms_table(luc_regions: Iterable[str] = (), interannual_rel_sd: float | None = None,
                         forest_ageing: bool = False) -> pd.DataFrame:
    """What the net CO2 of :func:`net_emission_terms` includes and leaves out, with the reason and source.

    ``luc_regions``: regions with land-use-change emissions given; ``forest_ageing``: whether the sinks
    were simulated with :class:`forecast.sinks.ecosystems.ForestAgeing`.
    """
    sd = default_interannual_rel_sd() if interannual_rel_sd is None else float(interannual_rel_sd)
    luc_regions = list(luc_regions)
    rows = [
        ("Fossil and industry CO2", "included", "+",
         "territorial CO2 from fossil fuels, cement, flaring and other industry: the emission forecast",
         "Our World in Data CO2 dataset / Global Carbon Budget"),
        ("Land-use-change emissions (gross, from land conversion)",
         f"included for {', '.join(luc_regions)}" if luc_regions else "excluded (0): not given",
         "+", ("a level per draw from [sinks.luc.<region>] (mean, sd); areas of the sink account are fixed, so "
         "conversions (deforestation, cropland or built-up expansion, wetland drainage) enter only here"),
         "study input"),
        ("Ecosystem sink on land remaining in its class", "included", "-",
         "area x baseline rate x CO2-fertilisation multiplier"
         + (" x forest ageing factor" if forest_ageing else " (forest ageing off)")
         + "; cropland soil saturates; built-up and unused land 0 (IPCC Tier 1)",
         "priors/ecosystems.toml (coefficient library)"),
        ("Interannual variability of the sink", "included" if sd > 0 else "excluded (sd = 0)", "±",
         f"sink x (1 + {sd:.2f} z_t), independent years; a lower bound for one country",
         "Global Carbon Budget 2025 land sink, detrended 1990-2024"),
        ("GCB bookkeeping net land-use flux (E_LUC)", "excluded", "",
         ("a model-based, direct-human-induced flux; its afforestation and regrowth removals are already in the "
         "inventory-based forest rate, so adding it would count them twice (for China it is a net removal: "
         "OWID land_use_change_co2, 2014-2023)"), GRASSI_2021),
        ("Inventory vs model land-flux definitions", "noted", "",
         ("the sink here follows national-inventory practice (all fluxes on managed land, including the indirect "
         "effects of CO2, N deposition and climate); global models count only direct human-induced fluxes and put "
         "the indirect sink in S_LAND. The two differ by several Gt CO2/yr globally and must be translated before "
         "comparing with pathways"), GRASSI_2021),
        ("Non-CO2 gases (CH4, N2O, F-gases)", "excluded", "+",
         "net CO2 only, not GHG neutrality: rice and wetland CH4, fertiliser N2O, livestock CH4 are not counted",
         "scope"),
        ("Lateral carbon fluxes", "excluded", "±",
         ("river export of carbon, trade in crops and wood, harvested wood products: not in the per-hectare rates "
         "or the emissions"), GRASSI_2021),
        ("Forest harvest, fire and disturbance emissions", "excluded", "+",
         "only as far as they are inside the inventory stock changes behind the forest rate", "scope"),
        ("International bunkers, cement carbonation sink", "excluded", "±",
         "not in territorial emissions of a country", "Global Carbon Budget"),
    ]
    out = pd.DataFrame(rows, columns=["term", "status", "sign in net CO2", "treatment", "source"])
    out.attrs = {"title": "Terms of net CO2 emissions (Mt CO2/yr): net = fossil + land-use change - sinks",
                 "units": UNITS}
    return out
