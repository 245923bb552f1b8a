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

from forecast.data import load_panel
from forecast.errors import InputError, StudyError
from forecast.models.ekc import EKCModel, prepare_panel
from forecast.propagate import Forecast, forecast_emissions
from forecast.results import RunResult
from forecast.scenarios import Scenario
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


def load_study_panel(study: Study, *, data_dir: str | Path | None = None, download: bool = True) -> pd.DataFrame:
    """The validated panel a study asks for (source, years, population threshold, regions)."""
    d = study.data
    source = d.source
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
    focus = study.forecast.focus_regions
    missing = [r for r in focus if r not in set(panel["region"])]
    if missing:
        raise StudyError(
            f"[forecast] focus_regions not in the filtered data: {', '.join(missing)} "
            "(check the spelling, [data] years, min_population and regions)"
        )
    return panel


def build_model(study: Study) -> EKCModel:
    """The model a study describes (settings only, no fitting)."""
    m = study.model
    return EKCModel(
        model_config=m.priors,
        degree=m.degree,
        residuals=m.residuals,
        likelihood=m.likelihood,
        parameterization=m.parameterization,
        varying_curvature=m.varying_curvature,
        varying_drift=m.varying_drift,
        drift_income=m.drift_income,
        turning_point_growth=m.turning_point_growth,
        min_years=study.data.min_years,
    )


def build_scenario(study: Study, panel: pd.DataFrame) -> Scenario:
    """The GDP / population scenario a study describes."""
    s = study.scenario
    if s.type == "csv":
        return Scenario.from_csv(study.resolve(s.path), panel, horizon=s.horizon)
    settings = s.model_dump(exclude={"type", "path", "horizon"})
    return Scenario.from_history(panel, horizon=s.horizon, **settings)


def forecast_regions(study: Study, panel: pd.DataFrame) -> list[str]:
    if study.forecast.regions == "all" or not study.forecast.focus_regions:
        return sorted(panel["region"].unique())
    return list(study.forecast.focus_regions)


def check_study(study: Study, panel: pd.DataFrame) -> tuple[EKCModel, Scenario, list[str]]:
    """Every check that can fail on user input, run before sampling: priors, panel, scenario, years."""
    model = build_model(study)
    model.priors_used()  # unknown prior names and malformed overrides fail here
    prepare_panel(panel, degree=model.degree, min_years=model.min_years)
    scenario = build_scenario(study, panel)
    regions = forecast_regions(study, panel)
    last_year = int(panel["year"].max())
    scenario.draw(regions, start_year=last_year + 1, n_samples=2, rng=__import__("numpy").random.default_rng(0))
    late = [y for y in study.forecast.peak_years if y > scenario.horizon or y <= last_year]
    if late:
        raise StudyError(f"[forecast] peak_years {late} must lie after the last data year {last_year} and by the horizon {scenario.horizon}")
    return model, scenario, regions


def fit_model(study: Study, model: EKCModel, panel: pd.DataFrame, *, seed: int, progress: bool | None = None) -> EKCModel:
    """Fit ``model`` to ``panel`` with the study's sampler settings."""
    s = study.sampler
    return model.fit(panel, random_seed=seed, sampler=s.name, draws=s.draws, tune=s.tune, chains=s.chains,
                     target_accept=s.target_accept, progress=progress)


def assemble_result(study: Study, panel: pd.DataFrame, model: EKCModel, fc: Forecast) -> RunResult:
    """The bundle the report and exporters consume."""
    diagnostics = model.diagnostics.to_frame()
    return RunResult(
        forecast=fc.ds,
        peak_year=fc.peak_year(),
        peak_table=fc.peak_table(years=study.forecast.peak_years),
        turning_points=model.turning_point_table(),
        diagnostics=diagnostics,
        priors_used=model.priors_used(),
        provenance=list(panel.attrs.get("provenance", [])),
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
    model, scenario, regions = check_study(study, panel)
    timings["data"] = time.perf_counter() - t0
    say(f"fitting {model.name} on {panel['region'].nunique()} regions x {panel['year'].nunique()} years")
    t1 = time.perf_counter()
    fit_model(study, model, panel, seed=seed, progress=progress)
    timings["fit"] = time.perf_counter() - t1
    say(f"forecasting {len(regions)} regions x {study.forecast.draws} draws to {scenario.horizon}")
    t2 = time.perf_counter()
    fc = forecast_emissions(model, scenario, panel, regions=regions, draws=study.forecast.draws, random_seed=seed + 1)
    result = assemble_result(study, panel, model, fc)
    result.study["seed"] = seed
    timings["forecast"] = time.perf_counter() - t2
    return StudyRun(study=study, panel=panel, model=model, forecast=fc, result=result, timings=timings)


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
