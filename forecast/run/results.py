"""The bundle a study run produces, consumed by the report and the exporters.

Kept as plain data (xarray / pandas / dicts) so that report and export code never depends on a model
class: every model that follows the protocol produces the same bundle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import xarray as xr

_STABLE_NAME = re.compile(r"[a-z0-9_]+")


@dataclass
class RunResult:
    """Everything a report or an export needs from one study run.

    Attributes
    ----------
    forecast:
        xarray Dataset with dims ``(sample, region, year)``; years cover history and horizon.
        Variables (each with ``units`` and ``long_name`` attrs): ``co2`` (Mt CO2/yr),
        ``co2_per_capita`` (t CO2/person/yr), ``gdp_per_capita`` (int-$ 2011/person),
        ``population`` (people). Coordinates: ``is_forecast`` (year, bool) and
        ``last_observed_year`` (region, int). History years hold the observed values, identical
        across samples.
    peak_year:
        DataArray ``(sample, region)`` of int years: the year of maximum total emissions over
        history + horizon for each sample trajectory.
    peak_table:
        One row per region (index ``region``) with columns ``p_already_peaked``, ``p_peak_by_2030``,
        ``p_peak_by_2035``, ``p_no_peak_by_horizon``, ``peak_year_q05``, ``peak_year_q50``,
        ``peak_year_q95``, ``peak_co2_mean``, ``peak_co2_q05``, ``peak_co2_q95`` (Mt CO2/yr).
    turning_points:
        One row per region (index ``region``) with ``p_inverted_u``, ``turning_gdp_pc_q05``,
        ``turning_gdp_pc_q50``, ``turning_gdp_pc_q95`` (int-$ 2011/person; NaN where no
        inverted U in a draw is possible) and ``last_gdp_pc`` (observed, same units).
    diagnostics:
        One row per model parameter with ``r_hat``, ``ess_bulk``, ``ess_tail`` (ArviZ
        ``az.summary`` columns); ``diagnostics.attrs`` holds ``divergences`` (int),
        ``draws``, ``chains``, ``sampler`` and ``warnings`` (list of str).
    priors_used:
        List of dicts with keys ``name, distribution, params, units, source, citation``.
    provenance:
        List of dicts with keys ``source, path, sha256, rows, year_min, year_max`` (+ ``url``).
    study:
        Study settings as a plain dict (at least ``name``, ``title``, ``focus_regions``,
        ``horizon``, ``seed``, ``quantiles``).
    sinks:
        Empty unless the study enables sinks; then ``cfe_summary`` (DataFrame: CFE sensitivity in
        % per 100 ppm by year, mean and quantiles), ``p_decline``, ``half_life`` (years, quantiles),
        ``neutrality`` (DataFrame indexed by ``cfe, region``: with the declining CFE and with it held
        constant), ``sink_gap`` (DataFrame by region and year) and ``regions`` (list). The sink and
        net-emission draws are variables of ``forecast`` with a ``cfe`` dim (``declining``,
        ``constant``): ``sink``, ``net_co2`` (Mt CO2/yr).
    tables:
        Further tables by stable name (``model_choice``, ``targets``, ``capacity__<cap>``,
        ``compensation__<rule>``, ``landuse``, ``data_notes``, ...); each table's display title is in
        ``table.attrs["title"]``. Add with :meth:`add_table`; the report shows them in order.
    targets:
        ``None`` unless the study has ``[[targets]]``; then one row per (target, region) with ``target``,
        ``kind``, ``year``, ``region``, ``p_met``, ``mc_se`` (:func:`forecast.policy.targets.target_table`).
    scenarios:
        ``None`` unless the study compares scenarios (``[scenario] compare`` or ``[policy.<name>]``); then the
        variables that differ between them on one ``scenario`` dim, with the coordinates that describe each
        scenario (:func:`forecast.scenarios.axis.scenario_axis`). ``forecast`` stays the study's own scenario
        (what the report's figures and the other stages use); :meth:`predictions` joins the two.
    """

    forecast: xr.Dataset
    peak_year: xr.DataArray
    peak_table: pd.DataFrame
    turning_points: pd.DataFrame
    diagnostics: pd.DataFrame
    priors_used: list[dict[str, Any]] = field(default_factory=list)
    provenance: list[dict[str, Any]] = field(default_factory=list)
    study: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    sinks: dict[str, Any] = field(default_factory=dict)
    targets: pd.DataFrame | None = None
    scenarios: xr.Dataset | None = None

    def predictions(self) -> xr.Dataset:
        """``forecast`` with ``peak_year`` and, when the run has a scenario axis, every variable that differs
        between scenarios on the ``scenario`` dim (what ``result.nc`` and ``forecast.nc`` hold)."""
        from forecast.scenarios.axis import with_scenario_axis

        ds = self.forecast.copy()
        if self.peak_year is not None:
            ds["peak_year"] = self.peak_year
        return with_scenario_axis(ds, self.scenarios)

    def add_table(self, name: str, table: pd.DataFrame, title: str, *, first: bool = False) -> pd.DataFrame:
        """Keep ``table`` under the stable ``name`` (lower-case letters, digits, ``_``) with its display
        ``title`` in ``table.attrs["title"]``; ``first`` puts it before the tables added so far."""
        if not _STABLE_NAME.fullmatch(name):
            raise ValueError(f"table name {name!r} must be lower-case letters, digits and underscores")
        table.attrs["title"] = title
        self.tables = {name: table, **self.tables} if first else {**self.tables, name: table}
        return table


def table_name(*parts: str) -> str:
    """A stable table name from free text (``"capacity", "hold 2030"`` -> ``capacity__hold_2030``)."""
    slugs = [re.sub(r"[^a-z0-9]+", "_", str(p).lower()).strip("_") for p in parts]
    return "__".join(s for s in slugs if s)
