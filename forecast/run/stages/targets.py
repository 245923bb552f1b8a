"""Stage: the study's targets (``[[targets]]``): P(meeting) per region, checked before sampling."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from forecast.errors import InputError, StudyError
from forecast.run.context import RunContext, Stage

if TYPE_CHECKING:  # annotations only
    from forecast.run.study import Study


def check_study_targets(study: Study, regions: list[str], panel: pd.DataFrame, horizon: int) -> list[dict]:
    """``[[targets]]`` checked against the forecast regions and years before sampling."""
    from forecast.policy.targets import check_targets

    try:
        return check_targets([t.spec() for t in study.targets], regions=regions, first_year=int(panel["year"].min()),
                             last_forecast_year=horizon, data_years=sorted(panel["year"].unique()))
    except InputError as exc:
        raise StudyError(f"[[targets]] {exc}") from None


def _run(ctx: RunContext) -> None:
    from forecast.policy.targets import target_table

    targets = check_study_targets(ctx.study, ctx.regions, ctx.panel, ctx.horizon)
    ctx.result.targets = target_table(ctx.forecast.ds, targets, peak_year=ctx.result.peak_year)
    ctx.result.add_table("targets", ctx.result.targets, "Probability of meeting the targets")


STAGE = Stage("targets", enabled=lambda study: bool(study.targets),
              check=lambda ctx: check_study_targets(ctx.study, ctx.regions, ctx.panel, ctx.horizon), run=_run)
