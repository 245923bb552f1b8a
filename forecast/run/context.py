"""What a study run carries from stage to stage (:class:`RunContext`) and what a stage is (:class:`Stage`);
the stages themselves are in :mod:`forecast.run.stages`."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

log = logging.getLogger("forecast.run.pipeline")


@dataclass
class RunContext:
    """What a run has so far: the study and its panel, then the model, scenario, forecast and result."""

    study: Any
    panel: pd.DataFrame
    data_dir: str | Path | None = None
    seed: int = 0
    progress: bool | None = None
    say: Callable[[str], None] = lambda message: log.info(message)
    timings: dict[str, float] = field(default_factory=dict)
    model: Any = None  # the emission model (fitted after the fit step)
    scenario: Any = None
    comparisons: Any = None  # list of the [scenario] compare scenarios (None until the scenarios stage checked)
    regions: list[str] = field(default_factory=list)
    forecast: Any = None  # forecast.projection.propagate.Forecast
    result: Any = None  # forecast.run.results.RunResult

    @property
    def last_year(self) -> int:
        return int(self.panel["year"].max())

    @property
    def horizon(self) -> int:
        return int(self.scenario.horizon)

    def timed(self, label: str, step: Callable[["RunContext"], None]) -> None:
        """Run ``step(self)`` and record its wall time under ``label``."""
        start = time.perf_counter()
        step(self)
        self.timings[label] = time.perf_counter() - start


@dataclass(frozen=True)
class Stage:
    """One step of a study run (see the module docstring)."""

    name: str
    enabled: Callable[[Any], bool] = lambda study: True
    check: Callable[[RunContext], None] | None = None
    fit: Callable[[RunContext], None] | None = None
    run: Callable[[RunContext], None] | None = None
    refits: bool = False  # its run step samples a model again (skipped when reporting from a saved fit)
