"""Stage: the GDP-per-capita and population scenario. The history scenario (recent growth decaying to a
long-run rate), user paths from a CSV, or probabilistic driver models fitted to the study's panel
(``[scenario] type = "drivers"``); their diagnostics and priors join the result."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import pandas as pd

from forecast.errors import PriorError, StudyError
from forecast.run.context import RunContext, Stage
from forecast.scenarios import DriverScenario, Scenario

if TYPE_CHECKING:  # annotations only
    from forecast.run.study import Study


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


def build_scenario(study: Study, panel: pd.DataFrame, kind: str | None = None) -> Scenario:
    """The GDP / population scenario a study describes (``kind``: another type with the same settings, for
    ``[scenario] compare``)."""
    s = study.scenario
    kind = kind or s.type
    if kind == "csv":
        return Scenario.from_csv(study.resolve(s.path), panel, horizon=s.horizon)
    settings = s.model_dump(exclude={"type", "path", "horizon", "gdp_frontier", "population_window", "driver_priors",
                                     "compare"})
    if kind == "drivers":
        gdp, population = build_driver_models(study)
        return DriverScenario.from_models(panel, horizon=s.horizon, gdp_model=gdp, population_model=population,
                                          name="drivers", **settings)
    return Scenario.from_history(panel, horizon=s.horizon, **settings)


def forecast_regions(study: Study, panel: pd.DataFrame) -> list[str]:
    if study.forecast.regions == "all" or not study.forecast.focus_regions:
        return sorted(panel["region"].unique())
    return list(study.forecast.focus_regions)


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


def driver_tables(scenario) -> tuple[dict[str, pd.DataFrame], list[dict], list[str]]:
    """Report tables, priors and sampler warnings of a scenario's fitted driver models (none for others)."""
    tables, priors, warnings = {}, [], []
    for driver in getattr(scenario, "driver_models", []):
        label = {"gdp_convergence": "GDP-per-capita model", "population_growth": "population model"}[driver.name]
        table = driver.diagnostics.to_frame()
        table.attrs["title"] = f"Sampler diagnostics of the {label}"
        tables[f"diagnostics__{driver.name}"] = table
        priors += driver.priors_used()
        warnings += [f"{label}: {w}" for w in driver.diagnostics.warnings]
    return tables, priors, warnings


def check_scenario(scenario: Scenario, ctx: RunContext) -> None:
    """What can fail in a scenario before sampling: a driver scenario's data and priors, a path scenario's
    draw."""
    if isinstance(scenario, DriverScenario):
        # the driver models are fitted after these checks; their data and priors can be checked now
        for driver in scenario.driver_models:
            try:
                driver.priors_used()
            except PriorError as err:
                raise PriorError(f"[scenario] driver_priors: {err}") from None
            driver.prepare(ctx.panel)
    else:
        scenario.draw(ctx.regions, start_year=ctx.last_year + 1, n_samples=2, rng=np.random.default_rng(0))


def _check(ctx: RunContext) -> None:
    ctx.scenario = build_scenario(ctx.study, ctx.panel)
    ctx.regions = forecast_regions(ctx.study, ctx.panel)
    check_scenario(ctx.scenario, ctx)


def _fit(ctx: RunContext) -> None:
    if isinstance(ctx.scenario, DriverScenario):
        ctx.say("fitting the GDP-per-capita and population models")
        ctx.timed("drivers", lambda c: fit_drivers(c.study, c.scenario, seed=c.seed, progress=c.progress))


def _tables(ctx: RunContext) -> None:
    tables, priors, warnings = driver_tables(ctx.scenario)
    result = ctx.result
    for name, table in tables.items():
        result.add_table(name, table, table.attrs["title"])
    result.priors_used += priors
    result.diagnostics.attrs["warnings"] = list(result.diagnostics.attrs.get("warnings", [])) + warnings


STAGE = Stage("drivers", check=_check, fit=_fit)
TABLES = Stage("driver_tables", run=_tables)
