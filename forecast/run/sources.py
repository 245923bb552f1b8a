"""Data sources a study names in ``[data] source``: how each loads its panel and what region-specific
extras it brings (region groups, notes on the data), so the pipeline never branches on a source's name.

``owid`` (and a path to a tidy CSV/Parquet panel) load through :func:`forecast.data.load_panel`;
``china_provinces`` through :mod:`forecast.data.china`, which adds the NBS east / central / west groups and a
coverage table. A new source registers a :class:`PanelSource` in :data:`SOURCES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from forecast.data.china import COMPLETE_YEARS, EXTENDED_YEARS
from forecast.errors import InputError, StudyError


@dataclass(frozen=True)
class PanelSource:
    """How a study's ``[data]`` section becomes a panel, plus the source's region-specific extras."""

    name: str
    load: Callable[..., pd.DataFrame]  # (study, data_dir, download) -> panel
    default_years: tuple[int, int] | None = None  # years used when the study gives none
    extended_years: tuple[int, int] | None = None  # ... and with [data] extend_population set
    groups: Callable[[], dict[str, str]] | None = None  # region -> group (e.g. east / central / west)
    notes: Callable[[pd.DataFrame, object], pd.DataFrame] | None = None  # (panel, data_dir) -> notes table
    notes_title: str = ""
    inventories: bool = False  # CEADs fuel inventories exist per region (IPCC Approach 2 measurement error)
    # (study, panel, data_dir, download) -> tidy region, year, co2 (Mt CO2/yr) observed after the panel's last
    # year (emissions are published before GDP); None: the source has none
    later: Callable[..., pd.DataFrame] | None = None


def _load_table(study, data_dir, download: bool) -> pd.DataFrame:
    from forecast.data import load_panel

    d = study.data
    source = d.source if d.source == "owid" else str(study.resolve(d.source))
    panel = load_panel(source, path=study.resolve(d.path), data_dir=data_dir, download=download, years=d.years,
                       regions=d.regions, min_population=d.min_population, min_years=d.min_years,
                       columns=model_columns(study))
    provenance = panel.attrs.get("provenance", [])
    if d.exclude_regions:
        unknown = sorted(set(d.exclude_regions) - set(panel["region"]))
        if unknown:
            raise StudyError(f"[data] exclude_regions: not in the data: {', '.join(unknown)}")
        panel = panel[~panel["region"].isin(d.exclude_regions)].reset_index(drop=True)
        panel.attrs["provenance"] = provenance
    return panel


def model_columns(study) -> tuple[str, ...]:
    """Extra panel columns the study's emission model reads from the data (its class's ``panel_columns``,
    e.g. the STIRPAT model's energy intensity); none for the EKC and Kaya models."""
    from forecast.models import model_class

    return tuple(getattr(model_class(study.model.type), "panel_columns", ()))


def _later_table(study, panel: pd.DataFrame, data_dir, download: bool) -> pd.DataFrame:
    """Emissions of the panel's regions in the years after its last year in which the source has CO2 but
    not yet GDP (OWID: CO2 runs a year beyond GDP). A window that ends early (``years = [1990, 2015]``)
    gets none: its later years have GDP, so they are left out on purpose, not missing."""
    from forecast.data import load_panel

    d = study.data
    source = d.source if d.source == "owid" else str(study.resolve(d.source))
    last = int(panel["year"].max())
    raw = load_panel(source, path=study.resolve(d.path), data_dir=data_dir, download=download,
                     regions=sorted(set(panel["region"])), require_complete=False)
    co2 = pd.to_numeric(raw["co2"], errors="coerce")
    gdp = pd.to_numeric(raw["gdp"], errors="coerce")
    keep = (raw["year"] > last) & np.isfinite(co2) & (co2 > 0) & ~np.isfinite(gdp)
    return later_run(raw.loc[keep, ["region", "year", "co2"]], last)


def later_run(frame: pd.DataFrame, last_year: int) -> pd.DataFrame:
    """The rows of ``frame`` (region, year, co2) in the unbroken run of years after ``last_year`` (a region's
    run stops at its first missing year), sorted; an empty frame with those columns if there are none."""
    frame = frame.sort_values(["region", "year"]).reset_index(drop=True)
    expected = last_year + 1 + frame.groupby("region").cumcount()
    return frame[frame["year"].to_numpy() == expected.to_numpy()].reset_index(drop=True)


def _load_provinces(study, data_dir, download: bool) -> pd.DataFrame:
    from forecast.data.china import load_province_panel, select_provinces

    d = study.data
    panel = load_province_panel(data_dir=data_dir, years=study_years(study), extend_population=d.extend_population)
    try:
        return select_provinces(panel, d.regions, d.exclude_regions)
    except InputError as exc:
        raise StudyError(f"[data] {exc}") from exc


def _province_groups() -> dict[str, str]:
    from forecast.data.china import PROVINCE_GROUPS

    return dict(PROVINCE_GROUPS)


def _province_notes(panel: pd.DataFrame, data_dir) -> pd.DataFrame:
    from forecast.data.china import data_notes_table

    return data_notes_table(panel, data_dir)


SOURCES: dict[str, PanelSource] = {
    "owid": PanelSource("owid", _load_table, later=_later_table),
    "china_provinces": PanelSource("china_provinces", _load_provinces, default_years=COMPLETE_YEARS,
                                  extended_years=EXTENDED_YEARS,
                                  groups=_province_groups, notes=_province_notes,
                                  notes_title="China provincial data: coverage, gaps and conversions",
                                  inventories=True),
}
TABLE = PanelSource("table", _load_table, later=_later_table)  # any other source: a path to a tidy CSV / Parquet panel


def data_source(study) -> PanelSource:
    """The :class:`PanelSource` of ``study``'s ``[data] source`` (a path means a tidy table)."""
    return SOURCES.get(study.data.source, TABLE)


def study_years(study) -> tuple[int, int] | None:
    """The years a study's panel covers: ``[data] years`` or the source's default, its extended years when
    ``[data] extend_population`` is set (None if unknown)."""
    source = data_source(study)
    extended = study.data.extend_population != "none" and source.extended_years is not None
    years = study.data.years or (source.extended_years if extended else source.default_years)
    return None if years is None else (int(years[0]), int(years[1]))


def with_groups(study, table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with a ``group`` column first and rows ordered by group, when the study's source groups
    its regions (e.g. China's east / central / west); unchanged otherwise."""
    source = data_source(study)
    if source.groups is None:
        return table
    frame = table if "region" in table.columns else table.reset_index()
    if "region" not in frame.columns:
        return table
    groups = source.groups()
    order = {g: i for i, g in enumerate(dict.fromkeys(groups.values()))}
    frame.insert(0, "group", frame["region"].map(groups))
    return frame.sort_values(["group", "region"], key=lambda col: col.map(order) if col.name == "group" else col,
                             kind="stable").reset_index(drop=True)


