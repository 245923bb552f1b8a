"""Stage: carrying capacity under emission caps and horizontal carbon compensation (``[capacity]``,
``[compensation]``), as draws added to the forecast and as report tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import xarray as xr

from forecast.errors import InputError, StudyError
from forecast.run.results import table_name
from forecast.run.context import RunContext, Stage
from forecast.run.sources import study_years, with_groups

if TYPE_CHECKING:  # annotations only
    from forecast.projection.propagate import Forecast
    from forecast.run.study import Study


def check_capacity(study: Study, regions: list[str], years: list[int] | None = None) -> None:
    """Capacity and compensation settings checked before sampling (rule names, parameters, regions).

    The parameters are then checked by the very functions the run uses (:func:`forecast.policy.capacity.make_cap`,
    :func:`~forecast.policy.capacity.carrying_capacity`, :func:`forecast.policy.compensation.compensation`), applied to a
    two-draw placeholder forecast over ``regions`` and the forecast ``years`` (default: the year after the
    study's last data year -- ``[data] years`` or the provinces' window -- to the horizon): negative or
    non-finite budgets and factors, yearly budgets missing a year, shares that do not sum to one, a
    neutrality cap or sink allocation for regions without sink areas, years outside the forecast, price
    quantiles out of order. Errors name the study key.
    """
    import inspect

    import numpy as np

    from forecast.policy.capacity import ALLOCATION_RULES, carrying_capacity, make_cap
    from forecast.policy.compensation import SHARE_RULES, compensation

    c = study.capacity
    if c.enabled:
        for label, spec in c.caps.items():
            rule = spec["rule"]
            if rule not in ALLOCATION_RULES:
                raise StudyError(f"[capacity.caps.{label}] rule {rule!r} unknown; rules: {', '.join(ALLOCATION_RULES)}")
            allowed = set(inspect.signature(ALLOCATION_RULES[rule]).parameters) - {"ds"} | {"with_sink"}
            extra = sorted(set(spec) - allowed - {"rule"})
            if extra:
                raise StudyError(f"[capacity.caps.{label}] unknown parameter(s) {', '.join(extra)} for rule {rule!r}; allowed: {', '.join(sorted(allowed))}")
            if rule == "neutrality" and not study.sinks.enabled:
                raise StudyError(f"[capacity.caps.{label}] the neutrality cap needs [sinks] enabled")
            if spec.get("with_sink") and not study.sinks.enabled:
                raise StudyError(f"[capacity.caps.{label}] with_sink = true needs [sinks] enabled")
        unknown = sorted(set(c.built_up_km2) - set(regions))
        if unknown:
            raise StudyError(f"[capacity] built_up_km2 regions not among the forecast regions: {', '.join(unknown)}")
    m = study.compensation
    if m.enabled:
        for rule in m.rules:  # every rule of the list is checked before sampling
            if isinstance(rule, str) and rule not in {*SHARE_RULES, "sink"}:
                raise StudyError(f"[compensation] allocation {rule!r} unknown; use {', '.join([*SHARE_RULES, 'sink'])}, "
                                 f"a list of them or a table of shares")
            if isinstance(rule, dict):
                unknown = sorted(set(rule) - set(regions))
                if unknown:
                    raise StudyError(f"[compensation] allocation regions not among the forecast regions: {', '.join(unknown)}")
            if rule == "sink" and not study.sinks.enabled:
                raise StudyError("[compensation] allocation 'sink' needs [sinks] enabled")
    if not (c.enabled or m.enabled) or not regions:
        return
    # placeholder forecast: the parameters are validated by the functions run_capacity calls
    span = study_years(study)
    if years:
        first, horizon = min(years), max(years)
    else:
        horizon = study.scenario.horizon
        # last data year unknown (no [data] years): yearly budgets are checked from the tabulated years on
        first = span[1] + 1 if span else min([*c.years, m.year, horizon])
    start = min(span[0] if span else 1750, first - 1)
    all_years = np.arange(start, horizon + 1)
    shape = (2, len(regions), len(all_years))
    dims = ("sample", "region", "year")
    probe = xr.Dataset(
        {"co2": (dims, np.ones(shape)), "population": (dims, np.full(shape, 1e6)),
         "gdp_per_capita": (dims, np.full(shape, 1e4))},
        coords={"sample": [0, 1], "region": list(regions), "year": all_years,
                "is_forecast": ("year", all_years >= first)})
    if study.sinks.enabled:
        from forecast.run.stages.sinks import sink_areas

        has_sink = np.isin(list(regions), list(sink_areas(study)))[None, :, None]
        sink = np.where(has_sink & (all_years >= first)[None, None, :], 1.0, np.nan)
        probe["sink"] = (dims, np.broadcast_to(sink, shape))
    cap = None
    if c.enabled:
        for label, spec in c.caps.items():
            try:
                cap = make_cap(spec["rule"], probe, **{k: v for k, v in spec.items() if k != "rule"})
            except InputError as exc:
                raise StudyError(f"[capacity.caps.{label}] {exc}") from exc
        if c.built_up_km2:
            try:
                carrying_capacity(probe, cap, built_up_km2=c.built_up_km2)
            except InputError as exc:
                raise StudyError(f"[capacity] {exc}") from exc
    if m.enabled:
        for rule in m.rules:
            try:
                compensation(probe, rule, m.year, price_median=m.price_median, price_p05=m.price_p05,
                             price_p95=m.price_p95, random_seed=0, currency=m.currency, reference_year=m.reference_year,
                             ability_to_pay=m.ability_to_pay)
            except InputError as exc:
                label = f" (allocation {rule!r})" if isinstance(m.allocation, list) else ""
                raise StudyError(f"[compensation] {exc}{label}") from exc


def run_capacity(study: Study, fc: Forecast, *, seed: int) -> dict[str, pd.DataFrame]:
    """Carrying-capacity tables per cap and compensation tables, as named report tables."""
    from forecast.policy.capacity import capacity_table, carrying_capacity, make_cap, sink_capacity_table
    from forecast.policy.compensation import compensation, compensation_table, flow_table

    from forecast.policy.regional_sum import national_sum_table

    tables: dict[str, pd.DataFrame] = {}
    c = study.capacity
    years = [y for y in c.years if y in set(int(v) for v in fc.ds["year"].values)]
    if c.enabled:
        caps = {}
        for label, spec in c.caps.items():
            params = {k: v for k, v in spec.items() if k != "rule"}
            cap = caps[label] = make_cap(spec["rule"], fc.ds, **params)
            cap_ds = carrying_capacity(fc.ds, cap, built_up_km2=c.built_up_km2 or None)
            _add_draws(fc, cap_ds, label, {"cap": "cap", "population_capacity": "population_capacity",
                                           "gdp_capacity": "gdp_capacity", "built_up_capacity": "built_up_capacity"})
            title = f"Carrying capacity under cap '{label}' ({spec['rule']})"
            tables[table_name("capacity", label)] = _titled(title, with_groups(
                study, _readable_capacity(capacity_table(cap_ds, years=years))))
            if params.get("with_sink"):  # the same cap without the sink, side by side
                bare = make_cap(spec["rule"], fc.ds, **{k: v for k, v in params.items() if k != "with_sink"})
                title = f"Carrying capacity under cap '{label}' without and with the ecosystem sink (medians)"
                tables[table_name("capacity_sinks", label)] = _titled(title, with_groups(
                    study, sink_capacity_table(fc.ds, bare, years=years)))
        if fc.ds.sizes["region"] >= 2:  # the group as a whole: its spread depends on how the regions co-vary
            shared = "common shocks" if getattr(study.model, "common_shocks", False) else "independent shocks"
            title = (f"Sum of the {fc.ds.sizes['region']} regions per draw ({shared}; Mt CO2/yr) and P(the sum "
                     "overshoots the sum of the caps)")
            tables["national_sum"] = _titled(title, national_sum_table(fc.ds, caps, years=years))
    m = study.compensation
    if m.enabled:
        several = len(m.rules) > 1
        for i, allocation in enumerate(m.rules):
            # the same seed for every rule: the rules are compared at the same price draws
            comp = compensation(fc.ds, allocation, m.year, price_median=m.price_median, price_p05=m.price_p05,
                                price_p95=m.price_p95, random_seed=seed + 7, currency=m.currency,
                                reference_year=m.reference_year, ability_to_pay=m.ability_to_pay)
            rule = allocation if isinstance(allocation, str) else "fixed shares"
            payment = comp["payment"].expand_dims(year=[m.year])
            # first rule: compensation_payment (as with a single rule); the others: compensation_payment__<rule>
            _add_draws(fc, xr.Dataset({"payment": payment.assign_attrs(units=f"million {m.currency}/yr", allocation=rule)}),
                       "" if i == 0 else rule, {"payment": "compensation_payment"})
            drop = ["is_forecast", "last_observed_year", "year"]
            atp = f", ability to pay {m.ability_to_pay:g}" if m.ability_to_pay else ""
            title = f"Horizontal compensation in {m.year} ({rule}{atp}; million {m.currency}/yr, positive = pays)"
            tables[table_name("compensation", rule)] = _titled(title, with_groups(
                study, compensation_table(comp).drop(columns=drop, errors="ignore")))
            flows = flow_table(comp).drop(columns=drop, errors="ignore").sort_values("mean", ascending=False)
            under = f" under {rule}" if several else ""
            title = f"Compensation flows in {m.year}{under}: who pays whom, the 25 largest (million {m.currency}/yr)"
            tables[table_name("compensation_flows", rule)] = _titled(title, flows.head(25).reset_index(drop=True))
    return tables


def _add_draws(fc: Forecast, source: xr.Dataset, label: str, names: dict[str, str]) -> None:
    """Copy draw-level results into the forecast Dataset so bands.csv and forecast.nc carry them
    (NaN outside the regions and years they cover)."""
    suffix = "" if not label else "__" + "".join(ch if ch.isalnum() else "_" for ch in label)
    for var, name in names.items():
        if var not in source:
            continue
        da = source[var]
        if "sample" not in da.dims:
            continue
        da = da.reindex(region=fc.ds["region"], year=fc.ds["year"]).transpose("sample", "region", "year")
        fc.ds[name + suffix] = da.assign_attrs(source[var].attrs)


def _readable_capacity(table: pd.DataFrame) -> pd.DataFrame:
    """The capacity table in report units: people in millions, GDP in billion int-$ (2011)."""
    out = pd.DataFrame({"region": table["region"], "year": table["year"],
                        "cap (Mt CO2/yr)": table["cap_mean"], "projected CO2 (Mt/yr)": table["co2_mean"]})
    for measure, scale, unit in (("population", 1e6, "million people"), ("gdp", 1e9, "bn int-$")):
        out[f"{measure} capacity 5% ({unit})"] = table[f"{measure}_capacity_q05"] / scale
        out[f"{measure} capacity 95% ({unit})"] = table[f"{measure}_capacity_q95"] / scale
        out[f"{measure} projected ({unit})"] = table[f"{measure}_projected_mean"] / scale
    out["P(overload)"] = table["p_overload_population"]  # the same event for population and GDP: emissions > cap
    return out


def _run(ctx: RunContext) -> None:
    def step(c: RunContext) -> None:
        for name, table in run_capacity(c.study, c.forecast, seed=c.seed).items():
            c.result.add_table(name, table, table.attrs["title"])

    ctx.timed("capacity", step)


def _titled(title: str, table: pd.DataFrame) -> pd.DataFrame:
    table.attrs["title"] = title
    return table


STAGE = Stage("capacity", enabled=lambda study: study.capacity.enabled or study.compensation.enabled,
              check=lambda ctx: check_capacity(ctx.study, ctx.regions,
                                               years=list(range(ctx.last_year + 1, ctx.horizon + 1))),
              run=_run)
