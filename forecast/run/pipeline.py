"""Run a study end to end: data -> stages (emission model, drivers, forecast, sinks, targets, capacity,
land use, region extras) -> report and exports.

The stages live in :mod:`forecast.run.stages`, one small module each; :func:`run_study` runs every
enabled stage's check before any sampling, then the fits, then the rest, and is all the CLI's ``run``
command does. Each stage's functions are public and re-exported here, so a notebook can call one on its
own. Outputs are written into a temporary folder that replaces the output folder only when everything
succeeded.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from forecast.errors import StudyError
from forecast.io.atomic import check_output_dir, check_output_file
from forecast.models import model_class
from forecast.models.base import BayesianModel
from forecast.projection.propagate import Forecast
from forecast.run.results import RunResult
from forecast.run.sources import data_source
from forecast.run.tree import TREE_FILE, result_tree, write_tree
from forecast.run.stages import RunContext, log, stages
from forecast.run.stages.capacity import check_capacity, run_capacity
from forecast.run.stages.drivers import (
    build_driver_models,
    build_scenario,
    driver_tables,
    fit_drivers,
    forecast_regions,
    load_or_fit_drivers,
)
from forecast.run.stages.emissions import (
    assemble_result,
    build_model,
    fit_model,
    inventory_error_table,
    inventory_measurement_error,
    load_model,
    measurement_error_table,
    model_choice_table,
    model_settings,
)
from forecast.run.stages.landuse import run_landuse
from forecast.run.stages.sinks import build_sinks, check_sinks, run_sinks
from forecast.run.stages.targets import check_study_targets
from forecast.scenarios import Scenario
from forecast.run.study import Study

__all__ = [
    "StudyRun", "assemble_result", "build_driver_models", "build_model", "build_scenario", "build_sinks",
    "check_capacity", "check_output_dir", "check_output_file", "check_sinks", "check_study", "check_study_targets",
    "driver_tables", "fit_drivers", "fit_model", "forecast_regions", "forecast_study", "inventory_error_table",
    "inventory_measurement_error",
    "load_model", "load_or_fit_drivers", "load_study_panel", "measurement_error_table", "model_choice_table",
    "model_settings", "run_capacity", "run_landuse", "run_sinks", "run_study", "write_outputs",
]


@dataclass
class StudyRun:
    """What a run produced in memory: the fitted model, the forecast and the result bundle."""

    study: Study
    panel: pd.DataFrame
    model: BayesianModel
    forecast: Forecast
    result: RunResult
    timings: dict[str, float]
    scenario: Scenario | None = None
    comparisons: list[Scenario] | None = None  # the [scenario] compare scenarios


def load_study_panel(study: Study, *, data_dir: str | Path | None = None, download: bool = True) -> pd.DataFrame:
    """The validated panel a study asks for (``[data] source`` through :mod:`forecast.run.sources`)."""
    panel = data_source(study).load(study, data_dir, download)
    # the regions the emission model can fit (e.g. the STIRPAT model drops regions without energy data, with
    # a warning naming them), before anything is checked or sampled
    usable = getattr(model_class(study.model.type), "usable_panel", None)
    if usable is not None:
        panel = usable(panel, min_years=study.data.min_years)
    focus = study.forecast.focus_regions
    missing = [r for r in focus if r not in set(panel["region"])]
    if missing:
        dropped = panel.attrs.get("dropped_regions", {})
        why = "; ".join(f"{r}: {dropped[r]}" for r in missing if r in dropped)
        raise StudyError(
            f"[forecast] focus_regions not in the filtered data: {', '.join(missing)} "
            + (f"(dropped by the {study.model.type} model: {why})" if why else
               "(check the spelling, [data] years, min_population and regions)")
        )
    return panel


def _context(study: Study, panel: pd.DataFrame, *, data_dir, seed: int | None, progress: bool | None,
             say: Callable[[str], None] | None) -> RunContext:
    return RunContext(study=study, panel=panel, data_dir=data_dir,
                      seed=study.study.seed if seed is None else seed, progress=progress,
                      say=say or (lambda message: log.info(message)))


def _check_all(ctx: RunContext) -> None:
    for stage in stages():
        if stage.check is not None and stage.enabled(ctx.study):
            stage.check(ctx)


def check_study(study: Study, panel: pd.DataFrame, *, data_dir=None) -> tuple[BayesianModel, Scenario, list[str]]:
    """Every check that can fail on user input, run before sampling (each stage's ``check``): the emission
    model's settings, priors and panel, the scenario, targets, sinks, capacity, land use."""
    ctx = _context(study, panel, data_dir=data_dir, seed=None, progress=None, say=None)
    _check_all(ctx)
    return ctx.model, ctx.scenario, ctx.regions


def run_study(
    study: Study,
    *,
    data_dir: str | Path | None = None,
    seed: int | None = None,
    progress: bool | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> StudyRun:
    """Check, fit, forecast and assemble the result of ``study`` in memory (nothing is written)."""
    import time

    say = on_stage or (lambda message: log.info(message))
    start = time.perf_counter()
    say("loading data")
    panel = load_study_panel(study, data_dir=data_dir)
    ctx = _context(study, panel, data_dir=data_dir, seed=seed, progress=progress, say=say)
    _check_all(ctx)
    ctx.timings["data"] = time.perf_counter() - start
    for stage in stages():
        if stage.fit is not None and stage.enabled(study):
            stage.fit(ctx)
    return _run_all(ctx, refit=True)


def _run_all(ctx: RunContext, *, refit: bool) -> StudyRun:
    for stage in stages():
        if stage.run is not None and stage.enabled(ctx.study) and (refit or not stage.refits):
            stage.run(ctx)
    return StudyRun(study=ctx.study, panel=ctx.panel, model=ctx.model, forecast=ctx.forecast, result=ctx.result,
                    timings=ctx.timings, scenario=ctx.scenario, comparisons=ctx.comparisons)


def forecast_study(study: Study, panel: pd.DataFrame, model: BayesianModel, scenario: Scenario, regions: list[str], *,
                   data_dir=None, seed: int, progress: bool | None = None, say: Callable[[str], None] = lambda _: None,
                   timings: dict[str, float] | None = None) -> StudyRun:
    """Every stage after the fits, for an emission model that is already fitted (``report --model``)."""
    ctx = _context(study, panel, data_dir=data_dir, seed=seed, progress=progress, say=say)
    ctx.model, ctx.scenario, ctx.regions = model, scenario, list(regions)
    if timings is not None:
        ctx.timings = timings
    return _run_all(ctx, refit=False)


def driver_models(run: StudyRun) -> list[BayesianModel]:
    """The driver models of the run's own scenario and of the compared ones (``[scenario] compare``)."""
    return [m for s in [run.scenario, *(run.comparisons or [])] for m in getattr(s, "driver_models", [])]


def run_models(run: StudyRun) -> list[BayesianModel]:
    """Every fitted model of a run: the emission model, the land sink (with sinks) and the driver models."""
    land = (run.result.sinks or {}).get("model")
    return [run.model, *([land] if land is not None else []), *driver_models(run)]


def write_outputs(run: StudyRun, out_dir: str | Path) -> Path:
    """Write report, exports, the result tree (``result.nc``), the fitted model and a copy of the study
    file, atomically into ``out_dir``."""
    from forecast.io.atomic import atomic_output_dir
    from forecast.io.export import export_all
    from forecast.report import write_report

    out_dir = Path(out_dir)
    with atomic_output_dir(out_dir) as tmp:
        export_all(run.result, tmp, levels=run.study.report.quantiles)
        write_report(run.result, tmp)
        write_tree(result_tree(run.result, run_models(run)), tmp / TREE_FILE)
        run.model.save(tmp / "model.nc")
        for driver in driver_models(run):
            driver.save(tmp / f"{driver.name}.nc")  # `report --model model.nc` reuses them
        if run.study.source_path:
            shutil.copyfile(run.study.source_path, tmp / "study.toml")
    return out_dir
