"""Run a study end to end: data -> priors -> model fit -> scenario -> forecast -> report and exports.

Each stage is a public function a notebook can call on its own; :func:`run_study` chains them and is all
the CLI's ``run`` command does. Every input check runs before sampling starts, and outputs are written
into a temporary folder that replaces the output folder only when everything succeeded.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
import xarray as xr

from forecast.data import load_panel
from forecast.errors import InputError, ModelStateError, StudyError
from forecast.models.ekc import EKCModel, prepare_panel
from forecast.propagate import Forecast, forecast_emissions
from forecast.results import RunResult
from forecast.scenarios import DriverScenario, Scenario
from forecast.study import Study

log = logging.getLogger(__name__)


@dataclass
class StudyRun:
    """What a run produced in memory: the fitted model, the forecast and the result bundle."""

    study: Study
    panel: pd.DataFrame
    model: EKCModel
    forecast: Forecast
    result: RunResult
    timings: dict[str, float]
    scenario: Scenario | None = None


def load_study_panel(study: Study, *, data_dir: str | Path | None = None, download: bool = True) -> pd.DataFrame:
    """The validated panel a study asks for (source, years, population threshold, regions)."""
    d = study.data
    source = d.source
    if source == "china_provinces":
        from forecast.china import COMPLETE_YEARS, load_province_panel, select_provinces

        panel = load_province_panel(data_dir=data_dir, years=tuple(d.years or COMPLETE_YEARS))
        try:
            panel = select_provinces(panel, d.regions, d.exclude_regions)
        except InputError as exc:
            raise StudyError(f"[data] {exc}") from exc
        return _check_focus(study, panel)
    if source != "owid":
        resolved = study.resolve(source)
        source = str(resolved)
    panel = load_panel(
        source,
        path=study.resolve(d.path),
        data_dir=data_dir,
        download=download,
        years=d.years,
        regions=d.regions,
        min_population=d.min_population,
        min_years=d.min_years,
    )
    provenance = panel.attrs.get("provenance", [])
    if d.exclude_regions:
        unknown = sorted(set(d.exclude_regions) - set(panel["region"]))
        if unknown:
            raise StudyError(f"[data] exclude_regions: not in the data: {', '.join(unknown)}")
        panel = panel[~panel["region"].isin(d.exclude_regions)].reset_index(drop=True)
        panel.attrs["provenance"] = provenance
    return _check_focus(study, panel)


def _check_focus(study: Study, panel: pd.DataFrame) -> pd.DataFrame:
    focus = study.forecast.focus_regions
    missing = [r for r in focus if r not in set(panel["region"])]
    if missing:
        raise StudyError(
            f"[forecast] focus_regions not in the filtered data: {', '.join(missing)} "
            "(check the spelling, [data] years, min_population and regions)"
        )
    return panel


def inventory_measurement_error(panel: pd.DataFrame, *, data_dir=None, year: int | None = None,
                                draws: int = 4000, seed: int = 0) -> dict[str, float]:
    """Relative 1-sigma uncertainty of each province's emissions from its CEADs fuel inventory (IPCC
    Approach 2, half-width of the 95 % interval / 1.96 / total), in the panel's last year by default."""
    from forecast.china import resolve_china_file
    from forecast.inventory import approach2, ceads_fuel_inventory

    table = pd.read_csv(resolve_china_file("ceads_co2", data_dir))
    year = int(panel["year"].max()) if year is None else year
    out = {}
    for i, province in enumerate(sorted(panel["region"].unique())):
        acts, factors = ceads_fuel_inventory(table, province, year)
        res = approach2(acts, factors, n=draws, random_seed=seed + i)
        out[province] = float((res.upper - res.lower) / (2 * 1.96 * res.mean))
    return out


def build_model(study: Study, panel: pd.DataFrame | None = None, *, data_dir=None) -> EKCModel:
    """The emission model a study describes (``[model] type``: ``ekc`` or ``kaya``; settings only, no
    fitting). ``panel`` is needed only when the measurement error comes from the inventory."""
    m = study.model
    error = m.measurement_error
    if error == "inventory":
        if study.data.source != "china_provinces" or panel is None:
            raise StudyError('[model] measurement_error = "inventory" needs [data] source = "china_provinces"')
        error = inventory_measurement_error(panel, data_dir=data_dir)
    common = dict(model_config=m.priors, residuals=m.residuals, likelihood=m.likelihood,
                  parameterization=m.parameterization, drift_income=m.drift_income,
                  turning_point_growth=m.turning_point_growth, measurement_error=error, min_years=study.data.min_years)
    if m.type == "kaya":
        from forecast.models.kaya import KayaModel

        if isinstance(m.parameterization, dict):
            raise StudyError("[model] parameterization: the kaya model takes 'mixed', 'centered' or 'non_centered'")
        return KayaModel(**common)
    return EKCModel(degree=m.degree, varying_curvature=m.varying_curvature, varying_drift=m.varying_drift, **common)


def build_driver_models(study: Study):
    """The probabilistic GDP and population models of ``[scenario] type = "drivers"`` (not fitted)."""
    from forecast.models.gdp import GDPConvergenceModel
    from forecast.models.population import PopulationGrowthModel

    s = study.scenario
    families = {"gdp": {}, "population": {}}
    for name, override in s.driver_priors.items():
        family = name.split(".", 1)[0]
        if family not in families or "." not in name:
            raise StudyError(f"[scenario] driver_priors: {name!r} must start with 'gdp.' or 'population.'")
        families[family][name] = override
    gdp = GDPConvergenceModel(families["gdp"], frontier=s.gdp_frontier or None, min_years=study.data.min_years)
    population = PopulationGrowthModel(families["population"], window=s.population_window,
                                       min_years=study.data.min_years)
    return gdp, population


def build_scenario(study: Study, panel: pd.DataFrame) -> Scenario:
    """The GDP / population scenario a study describes."""
    s = study.scenario
    if s.type == "csv":
        return Scenario.from_csv(study.resolve(s.path), panel, horizon=s.horizon)
    settings = s.model_dump(exclude={"type", "path", "horizon", "gdp_frontier", "population_window", "driver_priors"})
    if s.type == "drivers":
        gdp, population = build_driver_models(study)
        return DriverScenario.from_models(panel, horizon=s.horizon, gdp_model=gdp, population_model=population,
                                          name="drivers", **settings)
    return Scenario.from_history(panel, horizon=s.horizon, **settings)


def forecast_regions(study: Study, panel: pd.DataFrame) -> list[str]:
    if study.forecast.regions == "all" or not study.forecast.focus_regions:
        return sorted(panel["region"].unique())
    return list(study.forecast.focus_regions)


def check_study(study: Study, panel: pd.DataFrame, *, data_dir=None) -> tuple[EKCModel, Scenario, list[str]]:
    """Every check that can fail on user input, run before sampling: priors, panel, scenario, years."""
    model = build_model(study, panel, data_dir=data_dir)
    model.priors_used()  # unknown prior names and malformed overrides fail here
    prepare_panel(panel, degree=model.degree, min_years=model.min_years)
    scenario = build_scenario(study, panel)
    regions = forecast_regions(study, panel)
    last_year = int(panel["year"].max())
    if isinstance(scenario, DriverScenario):
        # the driver models are fitted after these checks; their data and priors can be checked now
        for driver in scenario.driver_models:
            driver.priors_used()
            driver.prepare(panel)
    else:
        scenario.draw(regions, start_year=last_year + 1, n_samples=2, rng=__import__("numpy").random.default_rng(0))
    check_study_targets(study, regions, panel, scenario.horizon)
    model_choice_table(study)  # a missing comparison file fails here, not after sampling
    late = [y for y in study.forecast.peak_years if y > scenario.horizon or y <= last_year]
    if late:
        raise StudyError(f"[forecast] peak_years {late} must lie after the last data year {last_year} and by the horizon {scenario.horizon}")
    check_sinks(study, regions, scenario.horizon, data_dir=data_dir, first_year=last_year + 1)
    check_capacity(study, regions, years=list(range(last_year + 1, scenario.horizon + 1)))
    if study.landuse.enabled:
        from forecast.landuse import landuse_inventory

        landuse_inventory(study.landuse.areas, draws=2)  # unknown land types and bad areas fail here
    return model, scenario, regions


def build_sinks(study: Study):
    """The land-sink model, CO2 scenario source and ecosystem sinks a study describes (no fitting)."""
    from forecast.ecosystems import EcosystemSinks
    from forecast.models.sinks import GlobalLandSinkModel

    s = study.sinks
    land = GlobalLandSinkModel(model_config=s.priors, decline=s.cfe_decline)
    ecosystems = EcosystemSinks.from_study_table({"areas": s.areas, "rates": s.rates, "soc": s.soc})
    return land, ecosystems


def check_sinks(study: Study, regions: list[str], horizon: int, *, data_dir=None, first_year: int | None = None) -> None:
    """Sink settings and data that can be wrong, checked before any sampling.

    Besides the settings, this loads and validates what :func:`run_sinks` will read: the GCB land-sink
    series with its NOAA / Law Dome CO2 over ``[sinks] fit_years`` (missing file, gaps, non-increasing
    years) and the CO2 path over ``min(base_year, first forecast year)`` to ``horizon`` (the user CSV, or
    the NOAA history it is extrapolated from). ``first_year`` is the first forecast year; by default the
    year after ``[data] years`` (or the provinces' window); if neither is known, the check starts at
    ``base_year`` and run_sinks checks the rest.
    """
    s = study.sinks
    if not s.enabled:
        return
    land, _ = build_sinks(study)
    unknown = [r for r in s.areas if r not in regions]
    if unknown:
        raise StudyError(f"[sinks.areas] regions not among the forecast regions: {', '.join(unknown)} (forecast: {', '.join(regions)})")
    late = [y for y in s.neutrality_years if y > horizon]
    if late:
        raise StudyError(f"[sinks] neutrality_years {late} are after the horizon {horizon}")
    from forecast.co2_scenarios import CO2Scenario
    from forecast.data import load_co2_concentration
    from forecast.models.sinks import load_land_sink_data, load_land_sink_models

    # the land-sink fit data, exactly as GlobalLandSinkModel.fit loads them
    (load_land_sink_models if land.pooled else load_land_sink_data)(data_dir, years=tuple(s.fit_years))
    if first_year is None and (study.data.years or study.data.source == "china_provinces"):
        from forecast.china import COMPLETE_YEARS

        first_year = int((study.data.years or COMPLETE_YEARS)[1]) + 1
    start = s.base_year if first_year is None else min(s.base_year, int(first_year))
    if s.co2_scenario:
        CO2Scenario.from_csv(study.resolve(s.co2_scenario), horizon=horizon, first_year=start)
    else:
        history = load_co2_concentration(s.co2_source, data_dir=data_dir)
        co2 = CO2Scenario.from_history(history, horizon=horizon, window=s.co2_window,
                                       decay_to_zero_by=s.co2_decay_to_zero_by)
        co2.path(range(start, horizon + 1))


def run_sinks(study: Study, fc: Forecast, *, data_dir=None, seed: int, progress: bool | None = None,
              say: Callable[[str], None] = lambda _: None) -> dict:
    """Fit the land-sink model, project ecosystem sinks with and without the CFE decline, and combine
    them with the emission draws of ``fc`` into net emissions and neutrality probabilities.

    Adds ``sink``, ``sink_constant_cfe`` and ``net_co2`` (sample, region, year; Mt CO2/yr) to ``fc.ds``
    and returns the summary tables (see :class:`forecast.results.RunResult`).
    """
    import numpy as np

    from forecast.co2_scenarios import CO2Scenario
    from forecast.data import load_co2_concentration
    from forecast.neutrality import net_emissions, neutrality_table, sink_gap_table

    s = study.sinks
    land, ecosystems = build_sinks(study)
    say(f"fitting the global land sink ({s.cfe_decline} CFE decline) on GCB {s.fit_years[0]}-{s.fit_years[1]}")
    smp = study.sampler
    land.fit(years=tuple(s.fit_years), data_dir=data_dir, random_seed=seed + 2, sampler=smp.name,
             draws=s.draws, tune=s.tune, chains=max(smp.chains, 2), target_accept=smp.target_accept, progress=progress)
    if land.diagnostics.max_r_hat > 1.05:
        # an unconverged CFE path would drive the sink multiplier to absurd values: stop, do not report it.
        # A sampler-diagnostics failure, not bad input: ``diagnostics`` on the error makes the CLI exit 3.
        err = ModelStateError(
            "the land-sink model did not converge (R-hat %.2f); raise [sinks] tune/draws. Warnings: %s"
            % (land.diagnostics.max_r_hat, "; ".join(land.diagnostics.warnings)))
        err.diagnostics = land.diagnostics
        raise err
    years = fc.ds["year"].values[fc.ds["is_forecast"].values]
    if s.co2_scenario:
        co2 = CO2Scenario.from_csv(study.resolve(s.co2_scenario), horizon=int(years[-1]),
                                   first_year=min(s.base_year, int(years[0])))
    else:
        history = load_co2_concentration(s.co2_source, data_dir=data_dir)
        co2 = CO2Scenario.from_history(history, horizon=int(years[-1]), window=s.co2_window,
                                       decay_to_zero_by=s.co2_decay_to_zero_by)
    path = co2.path(range(min(s.base_year, int(years[0])), int(years[-1]) + 1))
    n = fc.ds.sizes["sample"]
    regions = list(s.areas)
    emissions = fc.ds["co2"].sel(region=regions, year=years)
    say(f"projecting ecosystem sinks for {', '.join(regions)} with and without the CFE decline")
    sims, nets = {}, {}
    for label, decline in (("decline", True), ("constant", False)):
        # the same seeds pair the two runs draw by draw: only the CFE path differs
        mult = land.cfe_multiplier(path, s.base_year, draws=n, random_seed=seed + 3, decline=decline)
        sims[label] = ecosystems.simulate(years, multiplier=mult.sel(year=years), draws=n, random_seed=seed + 4)
        nets[label] = net_emissions(emissions, sims[label]["sink"], random_seed=seed + 5)
    attrs = {"units": "Mt CO2/yr"}
    fc.ds["sink"] = sims["decline"]["sink"].reindex(region=fc.ds["region"], year=fc.ds["year"]).assign_attrs(
        attrs, long_name="ecosystem carbon sink (declining CO2 fertilisation)")
    fc.ds["sink_constant_cfe"] = sims["constant"]["sink"].reindex(region=fc.ds["region"], year=fc.ds["year"]).assign_attrs(
        attrs, long_name="ecosystem carbon sink if the CO2 fertilisation effect stayed at its last fitted value")
    fc.ds["net_co2"] = nets["decline"].reindex(region=fc.ds["region"], year=fc.ds["year"]).assign_attrs(
        attrs, long_name="net CO2 emissions (emissions minus ecosystem sinks)")
    by = tuple(s.neutrality_years)
    cfe_years = sorted({1982, 2015, int(land.last_fitted_year), 2030, int(years[-1])})
    half_life = land.half_life() if land.decline == "exponential" else None
    return {
        "regions": regions,
        "cfe_summary": land.cfe_summary(years=[y for y in cfe_years if y <= int(path.index.max())]),
        "p_decline": float(land.p_decline()),
        "half_life": None if half_life is None else {
            q: float(np.nanquantile(half_life.values, q)) for q in (0.05, 0.5, 0.95)},
        "neutrality": neutrality_table(nets["decline"], by=by),
        "neutrality_constant_cfe": neutrality_table(nets["constant"], by=by),
        "sink_gap": sink_gap_table(sims["decline"]["sink"], sims["constant"]["sink"],
                                   years=[y for y in (2030, 2050, int(years[-1])) if y in set(years)]),
        "co2_scenario": co2.name,
        "diagnostics": land.diagnostics.to_frame(),
        "priors_used": land.priors_used(),
        "provenance": list(getattr(land, "provenance_", [])),
        "model": land,  # not exported; kept for notebooks
    }


def check_capacity(study: Study, regions: list[str], years: list[int] | None = None) -> None:
    """Capacity and compensation settings checked before sampling (rule names, parameters, regions).

    The parameters are then checked by the very functions the run uses (:func:`forecast.capacity.make_cap`,
    :func:`~forecast.capacity.carrying_capacity`, :func:`forecast.compensation.compensation`), applied to a
    two-draw placeholder forecast over ``regions`` and the forecast ``years`` (default: the year after the
    study's last data year -- ``[data] years`` or the provinces' window -- to the horizon): negative or
    non-finite budgets and factors, yearly budgets missing a year, shares that do not sum to one, a
    neutrality cap or sink allocation for regions without sink areas, years outside the forecast, price
    quantiles out of order. Errors name the study key.
    """
    import inspect

    import numpy as np

    from forecast.capacity import ALLOCATION_RULES, carrying_capacity, make_cap
    from forecast.compensation import SHARE_RULES, compensation

    c = study.capacity
    if c.enabled:
        for label, spec in c.caps.items():
            rule = spec["rule"]
            if rule not in ALLOCATION_RULES:
                raise StudyError(f"[capacity.caps.{label}] rule {rule!r} unknown; rules: {', '.join(ALLOCATION_RULES)}")
            allowed = set(inspect.signature(ALLOCATION_RULES[rule]).parameters) - {"ds"}
            extra = sorted(set(spec) - allowed - {"rule"})
            if extra:
                raise StudyError(f"[capacity.caps.{label}] unknown parameter(s) {', '.join(extra)} for rule {rule!r}; allowed: {', '.join(sorted(allowed))}")
            if rule == "neutrality" and not study.sinks.enabled:
                raise StudyError(f"[capacity.caps.{label}] the neutrality cap needs [sinks] enabled")
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
    d = study.data
    china = d.source == "china_provinces"
    from forecast.china import COMPLETE_YEARS

    if years:
        first, horizon = min(years), max(years)
    else:
        horizon = study.scenario.horizon
        last = d.years[1] if d.years else (COMPLETE_YEARS[1] if china else None)
        # last data year unknown (no [data] years): yearly budgets are checked from the tabulated years on
        first = last + 1 if last is not None else min([*c.years, m.year, horizon])
    start = min(d.years[0] if d.years else (COMPLETE_YEARS[0] if china else 1750), first - 1)
    all_years = np.arange(start, horizon + 1)
    shape = (2, len(regions), len(all_years))
    dims = ("sample", "region", "year")
    probe = xr.Dataset(
        {"co2": (dims, np.ones(shape)), "population": (dims, np.full(shape, 1e6)),
         "gdp_per_capita": (dims, np.full(shape, 1e4))},
        coords={"sample": [0, 1], "region": list(regions), "year": all_years,
                "is_forecast": ("year", all_years >= first)})
    if study.sinks.enabled:
        has_sink = np.isin(list(regions), list(study.sinks.areas))[None, :, None]
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
                             price_p95=m.price_p95, random_seed=0, currency=m.currency, reference_year=m.reference_year)
            except InputError as exc:
                label = f" (allocation {rule!r})" if isinstance(m.allocation, list) else ""
                raise StudyError(f"[compensation] {exc}{label}") from exc


def run_capacity(study: Study, fc: Forecast, *, seed: int) -> dict[str, pd.DataFrame]:
    """Carrying-capacity tables per cap and compensation tables, as named report tables."""
    from forecast.capacity import capacity_table, carrying_capacity, make_cap
    from forecast.compensation import compensation, compensation_table, flow_table

    tables: dict[str, pd.DataFrame] = {}
    c = study.capacity
    years = [y for y in c.years if y in set(int(v) for v in fc.ds["year"].values)]
    if c.enabled:
        for label, spec in c.caps.items():
            params = {k: v for k, v in spec.items() if k != "rule"}
            cap = make_cap(spec["rule"], fc.ds, **params)
            cap_ds = carrying_capacity(fc.ds, cap, built_up_km2=c.built_up_km2 or None)
            _add_draws(fc, cap_ds, label, {"cap": "cap", "population_capacity": "population_capacity",
                                           "gdp_capacity": "gdp_capacity", "built_up_capacity": "built_up_capacity"})
            tables[f"Carrying capacity under cap '{label}' ({spec['rule']})"] = _with_group(
                study, _readable_capacity(capacity_table(cap_ds, years=years)))
    m = study.compensation
    if m.enabled:
        several = len(m.rules) > 1
        for i, allocation in enumerate(m.rules):
            # the same seed for every rule: the rules are compared at the same price draws
            comp = compensation(fc.ds, allocation, m.year, price_median=m.price_median, price_p05=m.price_p05,
                                price_p95=m.price_p95, random_seed=seed + 7, currency=m.currency,
                                reference_year=m.reference_year)
            rule = allocation if isinstance(allocation, str) else "fixed shares"
            payment = comp["payment"].expand_dims(year=[m.year])
            # first rule: compensation_payment (as with a single rule); the others: compensation_payment__<rule>
            _add_draws(fc, xr.Dataset({"payment": payment.assign_attrs(units=f"million {m.currency}/yr", allocation=rule)}),
                       "" if i == 0 else rule, {"payment": "compensation_payment"})
            drop = ["is_forecast", "last_observed_year", "year"]
            tables[f"Horizontal compensation in {m.year} ({rule}; million {m.currency}/yr, positive = pays)"] = _with_group(
                study, compensation_table(comp).drop(columns=drop, errors="ignore"))
            flows = flow_table(comp).drop(columns=drop, errors="ignore").sort_values("mean", ascending=False)
            under = f" under {rule}" if several else ""
            tables[f"Compensation flows in {m.year}{under}: who pays whom, the 25 largest (million {m.currency}/yr)"] = (
                flows.head(25).reset_index(drop=True))
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


def _with_group(study: Study, table: pd.DataFrame) -> pd.DataFrame:
    """Add the east/central/west group of Chinese provinces (province studies only), grouped."""
    if study.data.source != "china_provinces":
        return table
    from forecast.china import PROVINCE_GROUPS

    frame = table if "region" in table.columns else table.reset_index()
    if "region" not in frame.columns:
        return table
    frame.insert(0, "group", frame["region"].map(PROVINCE_GROUPS))
    order = {"east": 0, "central": 1, "west": 2}
    return frame.sort_values(["group", "region"], key=lambda col: col.map(order) if col.name == "group" else col,
                             kind="stable").reset_index(drop=True)


def run_landuse(study: Study, *, seed: int) -> pd.DataFrame:
    """The study's land-use carbon account as a report table (Mt CO2/yr, positive = emission)."""
    from forecast.landuse import landuse_inventory

    lu = study.landuse
    ds = landuse_inventory(lu.areas, draws=lu.draws, random_seed=seed + 9, area_rel_sd=lu.rel_sd)
    rows = []
    for name, da in [*((str(t), ds["emissions"].sel(land_type=t)) for t in ds["land_type"].values), ("net", ds["net"])]:
        q = da.quantile([0.05, 0.5, 0.95], dim="sample").values
        rows.append({"land type": name, "mean": float(da.mean()), "q05": q[0], "q50": q[1], "q95": q[2]})
    return pd.DataFrame(rows)


def fit_model(study: Study, model: EKCModel, panel: pd.DataFrame, *, seed: int, progress: bool | None = None) -> EKCModel:
    """Fit ``model`` to ``panel`` with the study's sampler settings."""
    s = study.sampler
    return model.fit(panel, random_seed=seed, sampler=s.name, draws=s.draws, tune=s.tune, chains=s.chains,
                     target_accept=s.target_accept, progress=progress)


def assemble_result(study: Study, panel: pd.DataFrame, model: EKCModel, fc: Forecast, sinks: dict | None = None) -> RunResult:
    """The bundle the report and exporters consume."""
    diagnostics = model.diagnostics.to_frame()
    sinks = dict(sinks or {})
    priors = model.priors_used() + list(sinks.get("priors_used", []))
    provenance = list(panel.attrs.get("provenance", [])) + list(sinks.get("provenance", []))
    return RunResult(
        sinks=sinks,
        forecast=fc.ds,
        peak_year=fc.peak_year(),
        peak_table=fc.peak_table(years=study.forecast.peak_years),
        turning_points=model.turning_point_table(),
        diagnostics=diagnostics,
        priors_used=priors,
        provenance=provenance,
        study={
            "name": study.study.name,
            "title": study.study.title or study.study.name,
            "description": study.study.description,
            "focus_regions": list(study.forecast.focus_regions),
            "horizon": int(fc.horizon),
            "seed": study.study.seed,
            "quantiles": list(study.report.quantiles),
            "model": model.get_settings(),
            "sampler": study.sampler.model_dump(),
            "scenario": study.scenario.model_dump(),
            "data": study.data.model_dump(),
            "forecast_draws": study.forecast.draws,
            "regions_fitted": len(model.regions),
            "source_path": study.source_path,
        },
    )


def run_study(
    study: Study,
    *,
    data_dir: str | Path | None = None,
    seed: int | None = None,
    progress: bool | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> StudyRun:
    """Fit, forecast and assemble the result of ``study`` in memory (nothing is written)."""
    say = on_stage or (lambda stage: log.info(stage))
    seed = study.study.seed if seed is None else seed
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    say("loading data")
    panel = load_study_panel(study, data_dir=data_dir)
    model, scenario, regions = check_study(study, panel, data_dir=data_dir)
    timings["data"] = time.perf_counter() - t0
    say(f"fitting {model.name} on {panel['region'].nunique()} regions x {panel['year'].nunique()} years")
    t1 = time.perf_counter()
    fit_model(study, model, panel, seed=seed, progress=progress)
    timings["fit"] = time.perf_counter() - t1
    if isinstance(scenario, DriverScenario):
        say("fitting the GDP-per-capita and population models")
        t_drivers = time.perf_counter()
        fit_drivers(study, scenario, seed=seed, progress=progress)
        timings["drivers"] = time.perf_counter() - t_drivers
    run = forecast_study(study, panel, model, scenario, regions, data_dir=data_dir, seed=seed, progress=progress,
                         say=say, timings=timings)
    if study.model.compare_measurement_error and model.measurement_sd(model.regions).any():
        say("refitting without measurement error, for comparison")
        t5 = time.perf_counter()
        exact = build_model(study.with_overrides(model={"measurement_error": 0.0}))
        fit_model(study, exact, panel, seed=seed, progress=progress)
        fc_exact = forecast_emissions(exact, scenario, panel, regions=regions, draws=study.forecast.draws,
                                      random_seed=seed + 1)
        run.result.extra_tables["Peak year with and without measurement error in historical emissions"] = (
            measurement_error_table(run.forecast, fc_exact))
        timings["fit_without_measurement_error"] = time.perf_counter() - t5
    return run


def load_model(study: Study, path: str | Path) -> EKCModel:
    """A model saved by ``run`` or ``fit`` for ``study``: the class follows ``[model] type``, and a file of
    another model type, version or prior configuration fails loudly."""
    if study.model.type == "kaya":
        from forecast.models.kaya import KayaModel

        return KayaModel.load(path, model_config=study.model.priors)
    return EKCModel.load(path, model_config=study.model.priors)


def load_or_fit_drivers(study: Study, scenario: DriverScenario, folder: str | Path, *, seed: int,
                        progress: bool | None = None, say: Callable[[str], None] = lambda _: None) -> DriverScenario:
    """Driver models saved next to a model file (by ``run``), or fitted now when there are none."""
    folder = Path(folder)
    models = []
    for driver in scenario.driver_models:
        path = folder / f"{driver.name}.nc"
        models.append(type(driver).load(path, model_config=driver.model_config) if path.is_file() else driver)
    scenario.gdp_model, scenario.population_model = models
    if any(m.idata is None for m in models):
        say(f"no saved driver models in {folder}: fitting the GDP-per-capita and population models")
        fit_drivers(study, scenario, seed=seed, progress=progress)
    return scenario


def fit_drivers(study: Study, scenario: DriverScenario, *, seed: int, progress: bool | None = None) -> DriverScenario:
    """Fit the scenario's GDP and population models with the study's sampler settings."""
    smp = study.sampler
    return scenario.fit_drivers(random_seed=seed + 20, sampler=smp.name, draws=smp.draws, tune=smp.tune,
                                chains=smp.chains, target_accept=smp.target_accept, progress=progress)


def check_study_targets(study: Study, regions: list[str], panel: pd.DataFrame, horizon: int) -> list[dict]:
    """``[[targets]]`` checked against the forecast regions and years before sampling."""
    from forecast.targets import check_targets

    try:
        return check_targets([t.spec() for t in study.targets], regions=regions, first_year=int(panel["year"].min()),
                             last_forecast_year=horizon, data_years=sorted(panel["year"].unique()))
    except InputError as exc:
        raise StudyError(f"[[targets]] {exc}") from None


def driver_tables(scenario) -> tuple[dict[str, pd.DataFrame], list[dict], list[str]]:
    """Report tables, priors and sampler warnings of a scenario's fitted driver models (none for others)."""
    tables, priors, warnings = {}, [], []
    for driver in getattr(scenario, "driver_models", []):
        label = {"gdp_convergence": "GDP-per-capita model", "population_growth": "population model"}[driver.name]
        tables[f"Sampler diagnostics of the {label}"] = driver.diagnostics.to_frame()
        priors += driver.priors_used()
        warnings += [f"{label}: {w}" for w in driver.diagnostics.warnings]
    return tables, priors, warnings


def model_choice_table(study: Study) -> tuple[str, pd.DataFrame] | None:
    """The study's reason for its emission model and the backtest comparison it rests on (if given)."""
    m = study.model
    if not (m.rationale or m.comparison):
        return None
    title = f"Why the {m.type.upper() if m.type == 'ekc' else 'Kaya'} emission model"
    if m.comparison:
        path = study.resolve(m.comparison)
        if not path.is_file():
            raise StudyError(f"[model] comparison: file not found: {path}")
        table = pd.read_csv(path)
    else:
        table = pd.DataFrame({"emission model": [m.type]})
    if m.rationale:
        table.attrs["description"] = f"The study chose {m.type} because {m.rationale}"
    return title, table


def measurement_error_table(with_error: Forecast, exact: Forecast) -> pd.DataFrame:
    """How much treating historical emissions as uncertain widens the peak-year interval, per region."""
    rows = {}
    for label, fc in (("with", with_error), ("without", exact)):
        table = fc.peak_table()
        rows[label] = table
    a, b = rows["with"], rows["without"]
    return pd.DataFrame({
        "peak_year_q05 (with error)": a["peak_year_q05"], "peak_year_q95 (with error)": a["peak_year_q95"],
        "peak_year_q05 (exact data)": b["peak_year_q05"], "peak_year_q95 (exact data)": b["peak_year_q95"],
        "interval widening (years)": (a["peak_year_q95"] - a["peak_year_q05"]) - (b["peak_year_q95"] - b["peak_year_q05"]),
        "P(peak by 2030) with error": a.get("p_peak_by_2030"), "P(peak by 2030) exact data": b.get("p_peak_by_2030"),
    }).rename_axis("region").reset_index()


def forecast_study(study: Study, panel: pd.DataFrame, model: EKCModel, scenario: Scenario, regions: list[str], *,
                   data_dir=None, seed: int, progress: bool | None = None, say: Callable[[str], None] = lambda _: None,
                   timings: dict[str, float] | None = None) -> StudyRun:
    """Everything after the emission model is fitted: emission forecast, sinks (if enabled), result bundle."""
    timings = {} if timings is None else timings
    say(f"forecasting {len(regions)} regions x {study.forecast.draws} draws to {scenario.horizon}")
    t2 = time.perf_counter()
    fc = forecast_emissions(model, scenario, panel, regions=regions, draws=study.forecast.draws, random_seed=seed + 1,
                            progress=progress)
    timings["forecast"] = time.perf_counter() - t2
    sinks = {}
    if study.sinks.enabled:
        t3 = time.perf_counter()
        sinks = run_sinks(study, fc, data_dir=data_dir, seed=seed, progress=progress, say=say)
        timings["sinks"] = time.perf_counter() - t3
    result = assemble_result(study, panel, model, fc, sinks=sinks)
    result.study["seed"] = seed
    result.study["scenario_name"] = scenario.name
    choice = model_choice_table(study)
    if choice:
        result.extra_tables[choice[0]] = choice[1]
    if study.targets:
        from forecast.targets import target_table

        targets = check_study_targets(study, regions, panel, scenario.horizon)
        result.targets = target_table(fc.ds, targets, peak_year=result.peak_year)
        result.extra_tables["Probability of meeting the targets"] = result.targets
    tables, priors, warnings = driver_tables(scenario)
    result.extra_tables.update(tables)
    result.priors_used += priors
    result.diagnostics.attrs["warnings"] = list(result.diagnostics.attrs.get("warnings", [])) + warnings
    if study.capacity.enabled or study.compensation.enabled:
        t4 = time.perf_counter()
        result.extra_tables.update(run_capacity(study, fc, seed=seed))
        timings["capacity"] = time.perf_counter() - t4
    if study.landuse.enabled:
        lu = study.landuse
        title = f"Land-use carbon account of {lu.region or 'the study region'} (Mt CO2/yr, positive = emission)"
        result.extra_tables[title + (f"; areas: {lu.source}" if lu.source else "")] = run_landuse(study, seed=seed)
    if study.data.source == "china_provinces":
        from forecast.china import PROVINCE_GROUPS, data_notes_table

        result.study["region_groups"] = {r: PROVINCE_GROUPS[r] for r in regions if r in PROVINCE_GROUPS}
        grouped = _with_group(study, result.peak_table)
        keep = ["group", "region", "p_already_peaked", *[c for c in grouped.columns if c.startswith("p_peak_by_")],
                "p_no_peak_by_horizon", "peak_year_q05", "peak_year_q50", "peak_year_q95"]
        result.extra_tables = {"Peak probabilities by province group (east / central / west)": grouped[keep],
                               **result.extra_tables}
        result.extra_tables["China provincial data: coverage, gaps and conversions"] = data_notes_table(panel, data_dir)
    return StudyRun(study=study, panel=panel, model=model, forecast=fc, result=result, timings=timings, scenario=scenario)


def write_outputs(run: StudyRun, out_dir: str | Path) -> Path:
    """Write report, exports, the fitted model and a copy of the study file, atomically into ``out_dir``."""
    from forecast.atomic import atomic_output_dir
    from forecast.export import export_all
    from forecast.report import write_report

    out_dir = Path(out_dir)
    with atomic_output_dir(out_dir) as tmp:
        export_all(run.result, tmp, levels=run.study.report.quantiles)
        write_report(run.result, tmp)
        run.model.save(tmp / "model.nc")
        for driver in getattr(run.scenario, "driver_models", []):
            driver.save(tmp / f"{driver.name}.nc")  # `report --model model.nc` reuses them
        if run.study.source_path:
            shutil.copyfile(run.study.source_path, tmp / "study.toml")
    return out_dir


def check_output_dir(out_dir: str | Path) -> None:
    """Fail before sampling if the output folder cannot be written."""
    out_dir = Path(out_dir)
    parent = out_dir.resolve().parent
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"output path {out_dir} exists and is not a folder")
    if parent.exists() and not parent.is_dir():
        raise InputError(f"cannot create {out_dir}: {parent} is not a folder")


def check_output_file(path: str | Path) -> None:
    """Fail before sampling if a single output file (e.g. a saved model) cannot be written there."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"output path {path} is a folder; give a file name such as {path / 'model.nc'}")
    if not path.resolve().parent.is_dir():
        raise InputError(f"cannot write {path}: the folder {path.resolve().parent} does not exist")
