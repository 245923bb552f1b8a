"""Stage: a land-use carbon account of one region (``[landuse]``), as a report table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from forecast.run.context import RunContext, Stage

if TYPE_CHECKING:  # annotations only
    from forecast.run.study import Study


def run_landuse(study: Study, *, seed: int) -> pd.DataFrame:
    """The study's land-use carbon account as a report table (Mt CO2/yr, positive = emission)."""
    from forecast.policy.landuse import landuse_inventory

    lu = study.landuse
    ds = landuse_inventory(lu.areas, draws=lu.draws, random_seed=seed + 9, area_rel_sd=lu.rel_sd)
    rows = []
    for name, da in [*((str(t), ds["emissions"].sel(land_type=t)) for t in ds["land_type"].values), ("net", ds["net"])]:
        q = da.quantile([0.05, 0.5, 0.95], dim="sample").values
        rows.append({"land type": name, "mean": float(da.mean()), "q05": q[0], "q50": q[1], "q95": q[2]})
    return pd.DataFrame(rows)


def _check(ctx: RunContext) -> None:
    from forecast.policy.landuse import landuse_inventory

    landuse_inventory(ctx.study.landuse.areas, draws=2)  # unknown land types and bad areas fail here


def _run(ctx: RunContext) -> None:
    lu = ctx.study.landuse
    title = f"Land-use carbon account of {lu.region or 'the study region'} (Mt CO2/yr, positive = emission)"
    ctx.result.add_table("landuse", run_landuse(ctx.study, seed=ctx.seed), title + (f"; areas: {lu.source}" if lu.source else ""))


STAGE = Stage("landuse", enabled=lambda study: study.landuse.enabled, check=_check, run=_run)
