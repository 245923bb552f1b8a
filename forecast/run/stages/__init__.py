"""The stages a study runs through, in order. Each stage is a small module with up to three steps:

``check(ctx)``
    everything in its part of the study that can be wrong, run for every stage before any sampling;
``fit(ctx)``
    sampling of the models the forecast needs (the emission model, the driver models);
``run(ctx)``
    its part of the result, after the emission forecast exists (sinks, targets, capacity, ...).

:func:`forecast.pipeline.run_study` runs every enabled stage's check, then every fit, then every run;
``carbon-forecast report`` (a saved model) runs the checks and the runs only. A stage reads what earlier
stages left in the :class:`RunContext` and adds its own part; no stage knows about the others.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

log = logging.getLogger("forecast.pipeline")


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
    regions: list[str] = field(default_factory=list)
    forecast: Any = None  # forecast.propagate.Forecast
    result: Any = None  # forecast.results.RunResult

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


def stages() -> list[Stage]:
    """The stages in run order."""
    from forecast.run.stages import (
        capacity,
        drivers,
        emissions,
        landuse,
        regions,
        sinks,
        targets,
    )

    return [emissions.STAGE, drivers.STAGE, emissions.FORECAST, sinks.STAGE, targets.STAGE, drivers.TABLES,
            capacity.STAGE, landuse.STAGE, regions.STAGE, emissions.MEASUREMENT_ERROR]
