"""The stages a study runs through, in order. Each stage is a small module with up to three steps:

``check(ctx)``
    everything in its part of the study that can be wrong, run for every stage before any sampling;
``fit(ctx)``
    sampling of the models the forecast needs (the emission model, the driver models);
``run(ctx)``
    its part of the result, after the emission forecast exists (sinks, targets, capacity, ...).

:func:`forecast.run.pipeline.run_study` runs every enabled stage's check, then every fit, then every run;
``carbon-forecast report`` (a saved model) runs the checks and the runs only. A stage reads what earlier
stages left in the :class:`RunContext` and adds its own part; no stage knows about the others.
"""

from __future__ import annotations

from forecast.run.context import RunContext, Stage, log
from forecast.run.stages import (
    capacity,
    drivers,
    emissions,
    landuse,
    regions,
    scenarios,
    sinks,
    targets,
)

__all__ = ["RunContext", "Stage", "log", "stages"]


def stages() -> list[Stage]:
    """The stages in run order."""
    return [emissions.STAGE, drivers.STAGE, emissions.FORECAST, sinks.STAGE, scenarios.STAGE, targets.STAGE,
            drivers.TABLES, capacity.STAGE, landuse.STAGE, regions.STAGE, emissions.MEASUREMENT_ERROR]
