"""Stage: every scenario of the run on one ``scenario`` dim (:mod:`forecast.scenarios.axis`). The study's
own GDP / population scenario, the ones ``[scenario] compare`` adds (the same emission posterior and forecast
seed pushed through each) and the ``[policy.<name>]`` scenarios (applied to the own forecast); checked before
any sampling, the compared driver models fitted with the others. Runs after the sinks (net emissions join
the axis) and before the targets (P(met) per scenario is read off the axis)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from forecast.errors import InputError, StudyError
from forecast.run.context import RunContext, Stage
from forecast.scenarios import DriverScenario, Scenario

if TYPE_CHECKING:  # annotations only
    import xarray as xr

    from forecast.run.study import Study


def compared_scenarios(study: Study, panel) -> list[Scenario]:
    """The scenarios of ``[scenario] compare`` (not fitted), with the study's scenario settings."""
    from forecast.run.stages.drivers import build_scenario

    return [build_scenario(study, panel, kind) for kind in study.scenario.compare]


def _check(ctx: RunContext) -> None:
    from forecast.run.stages.drivers import check_scenario
    from forecast.run.stages.targets import check_study_policies

    ctx.comparisons = compared_scenarios(ctx.study, ctx.panel)
    for scenario in ctx.comparisons:
        check_scenario(scenario, ctx)
    names = [ctx.scenario.name, *(s.name for s in ctx.comparisons)]
    taken = sorted(set(names) & set(ctx.study.policy))
    if taken:
        raise StudyError(f"[policy.{taken[0]}] the name is taken by a GDP / population scenario ({', '.join(names)})")
    check_study_policies(ctx.study, ctx.regions, ctx.panel, ctx.horizon)
    _check_memory(ctx, len(names) + len(ctx.study.policy))


# the axis holds about this many (sample, region, year) cubes per scenario (emissions, per capita, net
# emissions with its cfe variants, GDP, population), on top of the forecast itself
CUBES_PER_SCENARIO = 6


def _check_memory(ctx: RunContext, n_scenarios: int) -> None:
    from forecast.run.stages.emissions import CUBES_IN_MEMORY, _memory_bytes

    draws, n_regions = ctx.study.forecast.draws, len(ctx.regions)
    cube = draws * n_regions * (ctx.horizon - int(ctx.panel["year"].min()) + 1) * 8
    need, have = cube * (CUBES_IN_MEMORY + CUBES_PER_SCENARIO * n_scenarios), _memory_bytes()
    if have and need > have:
        raise StudyError(f"{n_scenarios} scenarios ([scenario] compare, [policy.<name>]) of {draws} draws x "
                         f"{n_regions} regions need about {need / 2**30:.1f} GiB, more than this machine's "
                         f"{have / 2**30:.1f} GiB; use fewer draws, regions or scenarios")


def _fit_comparisons(ctx: RunContext) -> None:
    from forecast.run.stages.drivers import fit_drivers

    for scenario in ctx.comparisons or []:
        if isinstance(scenario, DriverScenario) and any(m.idata is None for m in scenario.driver_models):
            ctx.say("fitting the GDP-per-capita and population models of the compared 'drivers' scenario")
            fit_drivers(ctx.study, scenario, seed=ctx.seed, progress=ctx.progress)


def _fit(ctx: RunContext) -> None:
    if any(isinstance(s, DriverScenario) for s in ctx.comparisons or []):
        ctx.timed("compared_drivers", _fit_comparisons)


def build_axis(ctx: RunContext) -> xr.Dataset:
    """The scenario axis of the run (:func:`forecast.scenarios.axis.scenario_axis`): the own forecast, the
    compared scenarios' forecasts (same draws and seed as the own) and the policies."""
    from forecast.projection.propagate import forecast_emissions
    from forecast.scenarios.axis import CommonDraws, scenario_axis

    study = ctx.study
    if ctx.comparisons is None:  # ``report --model``: no check or fit step ran in this context
        ctx.comparisons = compared_scenarios(study, ctx.panel)
        _fit_comparisons(ctx)
    forecasts = {ctx.scenario.name: ctx.forecast.ds}
    kinds = {ctx.scenario.name: study.scenario.type}
    for scenario, kind in zip(ctx.comparisons, study.scenario.compare):
        ctx.say(f"forecasting under the compared {kind!r} scenario")
        # the own forecast's seed and posterior draws: only the GDP / population paths differ
        common = CommonDraws(scenario, ctx.scenario, seed=ctx.seed + 30)
        forecasts[scenario.name] = forecast_emissions(ctx.model, common, ctx.panel, regions=ctx.regions,
                                                      draws=study.forecast.draws, random_seed=ctx.seed + 1,
                                                      progress=ctx.progress).ds
        kinds[scenario.name] = kind
    specs = {name: table.spec() for name, table in study.policy.items()}
    try:
        return scenario_axis(forecasts, specs, kinds=kinds, base_dir=study.base_dir)
    except InputError as exc:
        raise StudyError(f"[scenario] / [policy]: {exc}") from None


def _run(ctx: RunContext) -> None:
    from forecast.scenarios.axis import scenario_table

    def step(c: RunContext) -> None:
        c.result.scenarios = build_axis(c)

    ctx.timed("scenarios", step)
    table = ctx.result.add_table("scenarios", scenario_table(ctx.result.scenarios),
                                 "The scenarios of this run (the scenario dim of result.nc and forecast.nc)")
    table.attrs["description"] = (
        "The study's own GDP / population scenario first, then those [scenario] compare adds (the same emission "
        "posterior draws and shocks pushed through other GDP and population paths), then the [policy.<name>] "
        "scenarios, each applied to the own scenario's trajectories. 'drivers' is the GDP / population scenario "
        "the emissions were forecast with.")


STAGE = Stage("scenarios", enabled=lambda study: bool(study.scenario.compare or study.policy), check=_check,
              fit=_fit, run=_run)
