"""Stage: carbon sinks, net emissions and neutrality (``[sinks] enabled``): the global land-sink model
(CO2 fertilisation), ecosystem sinks of the regions with areas, with and without the CFE decline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pandas as pd
import xarray as xr

from forecast.errors import InputError, ModelStateError, PriorError, StudyError
from forecast.metrics import CFE_VARIANTS
from forecast.run.context import RunContext, Stage
from forecast.run.sources import study_years

if TYPE_CHECKING:  # annotations only
    from forecast.projection.propagate import Forecast
    from forecast.run.study import Study


def sink_areas(study: Study) -> dict:
    """Ecosystem areas by region: ``[sinks.areas.<region>]`` merged with the ``[sinks] areas_csv`` file."""
    s = study.sinks
    areas = dict(s.areas)
    if s.areas_csv:
        from forecast.sinks.areas import read_areas_csv

        try:
            table = read_areas_csv(study.resolve(s.areas_csv))
        except InputError as err:
            raise StudyError(f"[sinks] areas_csv: {err}") from None
        both = sorted(set(table) & set(areas))
        if both:
            raise StudyError(f"[sinks] region(s) {', '.join(both)} have areas both in [sinks.areas] and in "
                             f"areas_csv ({s.areas_csv}); give each region once")
        areas.update(table)
        for what, given in (("forest_age", s.forest_age), ("luc", s.luc)):
            stray = [r for r in given if r not in areas]
            if stray:
                raise StudyError(f"[sinks.{what}] region(s) {', '.join(stray)} have no ecosystem areas")
    return areas


def _areas_provenance(study: Study) -> list[dict]:
    """The ``[sinks] areas_csv`` file's provenance (path, SHA-256, size), so the report lists it with the data."""
    if not study.sinks.areas_csv:
        return []
    from forecast.data import file_provenance

    return [file_provenance(study.resolve(study.sinks.areas_csv), source="sinks.areas_csv")]


def build_sinks(study: Study):
    """The land-sink model, CO2 scenario source and ecosystem sinks a study describes (no fitting)."""
    from forecast.sinks.ecosystems import EcosystemSinks
    from forecast.models.sinks import GlobalLandSinkModel
    from forecast.models.sinks_joint import JointLandSinkModel

    s = study.sinks
    if s.land_model == "joint":
        land = JointLandSinkModel(model_config=s.priors, form=s.form, decline=s.cfe_decline)
    else:
        land = GlobalLandSinkModel(model_config=s.priors, decline=s.cfe_decline)
    forest_age = {r: t.model_dump(exclude_none=True) for r, t in s.forest_age.items()}
    ecosystems = EcosystemSinks.from_study_table({"areas": sink_areas(study), "rates": s.rates, "soc": s.soc,
                                                  "forest_age": forest_age})
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
    try:
        land, _ = build_sinks(study)
    except PriorError as err:
        raise PriorError(f"[sinks] priors: {err}") from None
    unknown = [r for r in sink_areas(study) if r not in regions]
    if unknown:
        raise StudyError(f"[sinks.areas] regions not among the forecast regions: {', '.join(unknown)} (forecast: {', '.join(regions)})")
    late = [y for y in s.neutrality_years if y > horizon]
    if late:
        raise StudyError(f"[sinks] neutrality_years {late} are after the horizon {horizon}")
    from forecast.scenarios.co2 import CO2Scenario
    from forecast.data import load_co2_concentration
    # the land-sink fit data, exactly as the model's fit loads them
    try:
        land.prepare(years=tuple(s.fit_years), data_dir=data_dir)
    except InputError as err:
        raise StudyError(f"[sinks] fit_years {list(s.fit_years)}: {err}") from None
    if s.cfe_windows:
        cfe_windows_table(study)  # a missing folder fails here, not after sampling
    if first_year is None and study_years(study):
        first_year = study_years(study)[1] + 1
    start = s.base_year if first_year is None else min(s.base_year, int(first_year))
    if s.co2_scenario:
        CO2Scenario.from_csv(study.resolve(s.co2_scenario), horizon=horizon, first_year=start)
    else:
        history = load_co2_concentration(s.co2_source, data_dir=data_dir)
        co2 = CO2Scenario.from_history(history, horizon=horizon, window=s.co2_window,
                                       decay_to_zero_by=s.co2_decay_to_zero_by)
        co2.path(range(start, horizon + 1))


def cfe_windows_table(study: Study) -> pd.DataFrame | None:
    """The study's ``[sinks] cfe_windows`` table (``cfe_windows.csv`` in that folder), or None."""
    if not study.sinks.cfe_windows:
        return None
    path = study.resolve(study.sinks.cfe_windows) / "cfe_windows.csv"
    if not path.is_file():
        raise StudyError(f"[sinks] cfe_windows: {path} not found (write it with `carbon-forecast cfe-windows --out "
                         f"{study.sinks.cfe_windows}`)")
    return pd.read_csv(path)


def run_sinks(study: Study, fc: Forecast, *, data_dir=None, seed: int, progress: bool | None = None,
              say: Callable[[str], None] = lambda _: None) -> dict:
    """Fit the land-sink model, project ecosystem sinks with and without the CFE decline, and combine
    them with the emission draws of ``fc`` into net emissions and neutrality probabilities.

    Adds ``sink`` and ``net_co2`` (cfe, sample, region, year; Mt CO2/yr; ``cfe = ["declining",
    "constant"]``, the same draws with and without the decline) to ``fc.ds`` and returns the summary
    tables (see :class:`forecast.run.results.RunResult`); ``neutrality`` is indexed by ``(cfe, region)``.
    """
    import numpy as np

    from forecast.scenarios.co2 import CO2Scenario
    from forecast.data import load_co2_concentration
    from forecast.sinks.neutrality import emission_terms_table, net_emission_terms, neutrality_table, sink_gap_table

    s = study.sinks
    land, ecosystems = build_sinks(study)
    data = ("the budget residual and 22 DGVMs, " + s.form + " form" if s.land_model == "joint" else "the GCB land sink")
    say(f"fitting the global land sink ({s.cfe_decline} CFE decline) on {data}, {s.fit_years[0]}-{s.fit_years[1]}")
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
    regions = list(sink_areas(study))
    emissions = fc.ds["co2"].sel(region=regions, year=years)
    say(f"projecting ecosystem sinks for {', '.join(regions)} with and without the CFE decline")
    sims, terms, nets = {}, {}, {}
    luc = {r: {"mean": t.mean, "sd": t.sd} for r, t in s.luc.items()}
    for label, decline in zip(CFE_VARIANTS, (True, False)):
        # the same seeds pair the two runs draw by draw: only the CFE path differs
        mult = land.cfe_multiplier(path, s.base_year, draws=n, random_seed=seed + 3, decline=decline)
        sims[label] = ecosystems.simulate(years, multiplier=mult.sel(year=years), draws=n, random_seed=seed + 4)
        # net = fossil + land-use change - sink (with interannual variability); same seed, same noise
        terms[label] = net_emission_terms(emissions, sims[label]["sink"], luc=luc,
                                          interannual_rel_sd=s.interannual_rel_sd, random_seed=seed + 5)
        nets[label] = terms[label]["net_co2"]
    def on_cfe_axis(parts: dict, long_name: str) -> xr.DataArray:
        da = xr.concat([parts[c] for c in CFE_VARIANTS], dim=pd.Index(CFE_VARIANTS, name="cfe"))
        da = da.reindex(region=fc.ds["region"], year=fc.ds["year"]).transpose("cfe", "sample", "region", "year")
        # NaN elsewhere: say so in the file, so a reader of forecast.nc does not take NaN for a failed run
        return da.assign_attrs(units="Mt CO2/yr", long_name=long_name,
                               comment=f"defined for the regions with ecosystem areas ({', '.join(regions)}) "
                                       "in the forecast years; NaN elsewhere")

    fc.ds["sink"] = on_cfe_axis({c: terms[c]["sink"] for c in CFE_VARIANTS},
                                "ecosystem carbon sink with interannual variability (positive = removal)")
    fc.ds["luc_co2"] = on_cfe_axis({c: terms[c]["luc_co2"] for c in CFE_VARIANTS},
                                   "land-use-change emissions (positive = emission)")
    fc.ds["net_co2"] = on_cfe_axis(nets, "net CO2 emissions (fossil + land-use change - ecosystem sinks)")
    fc.ds["cfe"].attrs = {"long_name": "CO2-fertilisation sensitivity in the forecast",
                          "declining": "as fitted by the land-sink model",
                          "constant": f"held at its {int(land.last_fitted_year)} value"}
    by = tuple(s.neutrality_years)
    cfe_years = sorted({1982, 2015, int(land.last_fitted_year), 2030, int(years[-1])})
    half_life = land.half_life() if land.decline == "exponential" else None
    return {
        "regions": regions,
        "cfe_summary": land.cfe_summary(years=[y for y in cfe_years if y <= int(path.index.max())]),
        "p_decline": float(land.p_decline()),
        "half_life": None if half_life is None else {
            q: float(np.nanquantile(half_life.values, q)) for q in (0.05, 0.5, 0.95)},
        "neutrality": pd.concat({c: neutrality_table(nets[c], by=by) for c in CFE_VARIANTS}, names=["cfe"]),
        "sink_gap": sink_gap_table(sims["declining"]["sink"], sims["constant"]["sink"],
                                   years=[y for y in (2030, 2050, int(years[-1])) if y in set(years)]),
        "co2_scenario": co2.name,
        "land_model": s.land_model,
        "form": s.form if s.land_model == "joint" else "proportional",
        "p_decline_models": (float((land.models_decline() > 0).mean())
                             if s.land_model == "joint" and land.use_models and land.has_decline else None),
        "cfe_ratio": {q: float(v) for q, v in zip((0.05, 0.5, 0.95), np.quantile(land.cfe_ratio(2015, 1982).values,
                                                                                  (0.05, 0.5, 0.95)))},
        "cfe_windows": cfe_windows_table(study),
        "emission_terms": emission_terms_table(luc_regions=list(luc), interannual_rel_sd=terms["declining"]["sink"].attrs[
            "interannual_rel_sd"], forest_ageing=bool(ecosystems.forest_age)),
        "diagnostics": land.diagnostics.to_frame(),
        "priors_used": land.priors_used(),
        "provenance": list(getattr(land, "provenance_", [])) + _areas_provenance(study),
        "model": land,  # not exported; kept for notebooks
    }


def _run(ctx: RunContext) -> None:
    def step(c: RunContext) -> None:
        sinks = run_sinks(c.study, c.forecast, data_dir=c.data_dir, seed=c.seed, progress=c.progress, say=c.say)
        c.result.sinks = sinks
        from forecast.evaluation.prior_check import prior_check_table

        c.result.add_table("prior_check__land_sink", prior_check_table(sinks["model"], random_seed=c.seed + 8),
                           "Prior predictive check: what the land-sink priors alone imply for the sink data")
        c.result.priors_used += list(sinks.get("priors_used", []))
        c.result.provenance += list(sinks.get("provenance", []))

    ctx.timed("sinks", step)


STAGE = Stage("sinks", enabled=lambda study: study.sinks.enabled,
              check=lambda ctx: check_sinks(ctx.study, ctx.regions, ctx.horizon, data_dir=ctx.data_dir,
                                            first_year=ctx.last_year + 1),
              run=_run)
