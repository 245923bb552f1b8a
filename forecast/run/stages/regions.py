"""Stage: what a data source says about its regions (e.g. China's east / central / west provinces and a
table of the provincial data's coverage), added to the result when the study's source provides it."""

from __future__ import annotations

from forecast.run.context import RunContext, Stage
from forecast.run.sources import data_source, with_groups


def _run(ctx: RunContext) -> None:
    source = data_source(ctx.study)
    result = ctx.result
    if source.groups is not None:
        groups = source.groups()
        result.study["region_groups"] = {r: groups[r] for r in ctx.regions if r in groups}
        grouped = with_groups(ctx.study, result.peak_table)
        keep = ["group", "region", "p_already_peaked", *[c for c in grouped.columns if c.startswith("p_peak_by_")],
                "p_no_peak_by_horizon", "peak_year_q05", "peak_year_q50", "peak_year_q95"]
        result.add_table("peak_by_group", grouped[keep], "Peak probabilities by province group (east / central / west)",
                         first=True)
    if source.notes is not None:
        result.add_table("data_notes", source.notes(ctx.panel, ctx.data_dir), source.notes_title)


STAGE = Stage("regions", enabled=lambda study: data_source(study).groups is not None or data_source(study).notes is not None,
              run=_run)
