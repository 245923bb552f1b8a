"""Stage: the study's targets (``[[targets]]``): P(meeting) per region, the effort needed to make each
likely (``[effort]``) and P(meeting) under the study's policy scenarios (``[policy.<name>]``); all checked
before sampling."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from forecast.errors import InputError, StudyError
from forecast.run.context import RunContext, Stage

if TYPE_CHECKING:  # annotations only
    from forecast.run.study import Study

EFFORT_TITLE = "Required effort: extra annual decline of carbon intensity (or extra sink) for P(target met)"


def _net_regions(study: Study, regions: list[str]) -> list[str]:
    """Regions that will have net emissions: those with sink areas when sinks are enabled."""
    from forecast.run.stages.sinks import sink_areas

    return [r for r in regions if r in sink_areas(study)] if study.sinks.enabled else []


def check_study_targets(study: Study, regions: list[str], panel: pd.DataFrame, horizon: int) -> list[dict]:
    """``[[targets]]`` checked against the forecast regions and years before sampling."""
    from forecast.policy.targets import check_targets

    try:
        return check_targets([t.spec() for t in study.targets], regions=regions, first_year=int(panel["year"].min()),
                             last_forecast_year=horizon, data_years=sorted(panel["year"].unique()),
                             net_regions=_net_regions(study, regions))
    except InputError as exc:
        raise StudyError(f"[[targets]] {exc}") from None


def _skeleton(regions: list[str], panel: pd.DataFrame, horizon: int) -> xr.Dataset:
    """The coordinates a forecast will have (regions, years, observed years): what policies are checked on."""
    last = int(panel["year"].max())
    years = np.arange(int(panel["year"].min()), horizon + 1)
    return xr.Dataset(coords={"region": regions, "year": years, "is_forecast": ("year", years > last),
                              "last_observed_year": ("region", np.full(len(regions), last))})


def check_study_policies(study: Study, regions: list[str], panel: pd.DataFrame, horizon: int) -> None:
    """``[policy.<name>]`` tables checked before sampling (kinds, years, regions, pledge files)."""
    from forecast.scenarios.policy import check_policy

    skeleton = _skeleton(regions, panel, horizon)
    for name, table in study.policy.items():
        try:
            check_policy(name, table.spec(), skeleton, base_dir=study.base_dir)
        except InputError as exc:
            raise StudyError(f"[policy.{name}] {exc}") from None


def _check(ctx: RunContext) -> None:
    check_study_targets(ctx.study, ctx.regions, ctx.panel, ctx.horizon)
    # the [policy.<name>] tables are checked by the scenarios stage (forecast/run/stages/scenarios.py)


def effort_results(ds: xr.Dataset, targets: list[dict], study: Study) -> list[xr.Dataset]:
    """:func:`forecast.policy.effort.required_effort` for every target (decline lever; and the sink lever
    for neutral_by targets when ``[effort] sink``)."""
    from forecast.policy.effort import required_effort

    e = study.effort
    out = []
    for target in targets:
        out.append(required_effort(ds, target, e.probabilities, max_effort=e.max_decline))
        if target["kind"] == "neutral_by" and e.sink:
            out.append(required_effort(ds, target, e.probabilities, lever="sink"))
    return out


def _run_effort(ctx: RunContext, targets: list[dict]) -> None:
    from forecast.policy.effort import effort_curve, effort_table

    results = effort_results(ctx.forecast.ds, targets, ctx.study)
    table = ctx.result.add_table("effort", effort_table(results), EFFORT_TITLE)
    table.attrs["description"] = (
        "The extra decline is applied to every forecast trajectory from the first forecast year on "
        "(E'_t = E_t exp(-δ (t - t0)), t0 the last observed year); 'required' is the smallest δ (log units per "
        "year; extra_decline_pct the same in % per year) with P(target met) >= probability, its interval the 90% "
        "Monte Carlo interval; 'unreachable': not even the largest decline tried gives that probability.")
    curves = [effort_curve(r).assign(target=r.attrs["target"], lever=r.attrs["lever"]) for r in results]
    ctx.result.add_table("effort_curve", pd.concat(curves, ignore_index=True),
                         "Effort-probability curves (P(target met) against the effort)")


def _run_policies(ctx: RunContext, targets: list[dict]) -> None:
    """P(target met) per scenario of the run's scenario dim (table ``policy_scenarios``)."""
    from forecast.scenarios.axis import with_scenario_axis
    from forecast.scenarios.policy import scenario_target_table

    scenarios = with_scenario_axis(ctx.forecast.ds, ctx.result.scenarios)
    table = ctx.result.add_table("policy_scenarios", scenario_target_table(scenarios, targets),
                                 "Probability of meeting the targets in each scenario (GDP / population and policy)")
    table.attrs["description"] = (
        "One row per scenario of the result's scenario dim. A GDP / population scenario pushes the same emission "
        "posterior (same draws, same seed) through other GDP and population paths; a policy bends the study's own "
        "forecast trajectories (no refit; GDP and population as forecast): an intensity pathway caps carbon "
        "intensity at the pledged path, an accelerated decline lowers it by a fixed extra rate.")


def _run(ctx: RunContext) -> None:
    from forecast.policy.targets import target_table

    targets = check_study_targets(ctx.study, ctx.regions, ctx.panel, ctx.horizon)
    ctx.result.targets = target_table(ctx.forecast.ds, targets, peak_year=ctx.result.peak_year)
    ctx.result.add_table("targets", ctx.result.targets, "Probability of meeting the targets")
    if ctx.study.effort.enabled:
        ctx.timed("effort", lambda c: _run_effort(c, targets))
    if ctx.result.scenarios is not None:
        _run_policies(ctx, targets)


STAGE = Stage("targets", enabled=lambda study: bool(study.targets), check=_check, run=_run)
