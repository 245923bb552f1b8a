"""How much each link of the uncertainty chain widens a region's peak-year interval.

The forecast is built up one source at a time, each step keeping the ones before it:

1. ``process noise``: parameters held at their posterior means, GDP and population on one central path
   (the geometric mean of the scenario's paths), historical emissions taken as exact: only the growth
   shocks vary;
2. ``+ parameters``: posterior draws of the parameters;
3. ``+ drivers``: the scenario's GDP and population draws;
4. ``+ inventory error``: the errors of the historical emissions (the persistent inventory offset and the
   uncertain last level, :mod:`forecast.models.measurement`) -- the full forecast.

Every step is read with the package's one peak rule (:meth:`Forecast.peak_table`, which calls
:func:`forecast.projection.peak.peak_years`) from the same seed, so the differences are the links'
contributions up to Monte Carlo error. The increments depend on the order of the steps (uncertainties
do not add linearly); this order follows the chain from the model outwards.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from forecast.errors import InputError
from forecast.projection.propagate import Forecast, forecast_emissions

STAGES = ("process noise", "+ parameters", "+ drivers", "+ inventory error")
# (parameters, fixed drivers, inventory error) of each stage
_SETTINGS = {STAGES[0]: ("mean", True, False), STAGES[1]: ("posterior", True, False),
             STAGES[2]: ("posterior", False, False), STAGES[3]: ("posterior", False, True)}


class _CentralDrivers:
    """A scenario whose every sample follows one path: the geometric mean over the wrapped scenario's
    draws of GDP per capita and population (per region and year)."""

    def __init__(self, scenario):
        self._scenario = scenario
        self.name = f"{scenario.name} (central path)"
        self.history = getattr(scenario, "history", None)

    def draw(self, regions, *, start_year: int, n_samples: int, rng: np.random.Generator) -> xr.Dataset:
        paths = self._scenario.draw(regions, start_year=start_year, n_samples=n_samples, rng=rng)
        central = np.exp(np.log(paths).mean("sample"))
        return central.expand_dims(sample=paths["sample"].values).transpose(*paths["gdp_per_capita"].dims)


class _Link:
    """The fitted model seen through one stage's predict options (what :func:`forecast_emissions` calls)."""

    def __init__(self, model, parameters: str, inventory_error: bool):
        self._model, self._parameters, self._inventory = model, parameters, inventory_error
        self.regions = model.regions

    def predict(self, scenario, *, draws: int, random_seed: int | None, regions) -> xr.Dataset:
        return self._model.predict(scenario, draws=draws, random_seed=random_seed, regions=regions,
                                   parameters=self._parameters, inventory_error=self._inventory)


def stage_forecast(model, scenario, panel: pd.DataFrame, regions: list[str], stage: str, *, draws: int,
                   random_seed: int) -> Forecast:
    """The forecast of ``regions`` with the sources of uncertainty of ``stage`` (one of :data:`STAGES`)."""
    if stage not in _SETTINGS:
        raise InputError(f"unknown waterfall stage {stage!r}; stages: {', '.join(STAGES)}")
    parameters, central, inventory = _SETTINGS[stage]
    drivers = _CentralDrivers(scenario) if central else scenario
    return forecast_emissions(_Link(model, parameters, inventory), drivers, panel, regions=regions, draws=draws,
                              random_seed=random_seed, progress=False)


def uncertainty_waterfall(model, scenario, panel: pd.DataFrame, region: str, *, draws: int = 1000,
                          random_seed: int = 0) -> pd.DataFrame:
    """One row per link of the chain (:data:`STAGES`, cumulative) for ``region``.

    Columns: ``peak_year_q05, peak_year_q50, peak_year_q95`` and ``width_90`` (years; the package's peak
    rule), ``added_years`` (how much the link widened the 90 % interval), ``p_already_peaked``,
    ``peak_co2_q05, peak_co2_q95`` (Mt CO2/yr) and ``peak_co2_width_pct`` (90 % interval of the peak level in
    % of its mean: the inventory offset moves levels, not peak years). ``model`` is a fitted emission
    model whose ``predict`` takes ``parameters=`` and ``inventory_error=`` (EKC, Kaya).
    """
    if region not in model.regions:
        raise InputError(f"region {region!r} is not in the fitted {model.name} model")
    rows = []
    for stage in STAGES:
        table = stage_forecast(model, scenario, panel, [region], stage, draws=draws,
                               random_seed=random_seed).peak_table().loc[region]
        rows.append({"stage": stage, "peak_year_q05": int(table["peak_year_q05"]),
                     "peak_year_q50": int(table["peak_year_q50"]), "peak_year_q95": int(table["peak_year_q95"]),
                     "width_90": int(table["peak_year_q95"] - table["peak_year_q05"]),
                     "p_already_peaked": float(table["p_already_peaked"]),
                     "peak_co2_q05": float(table["peak_co2_q05"]), "peak_co2_q95": float(table["peak_co2_q95"]),
                     "peak_co2_width_pct": float(100 * (table["peak_co2_q95"] - table["peak_co2_q05"])
                                                 / table["peak_co2_mean"])})
    out = pd.DataFrame(rows)
    out.insert(5, "added_years", out["width_90"].diff().fillna(out["width_90"]).astype(int))
    out.insert(0, "region", region)
    out.attrs["description"] = (
        "How much each source of uncertainty widens the 90% peak-year interval, added one at a time in this "
        "order (same seed): shocks only (parameters at their posterior means, one central GDP/population path, "
        "exact historical emissions), then parameter draws, then GDP/population draws, then errors in the "
        "historical inventory. The inventory's persistent factor error moves the level of every year alike, so "
        "it widens the peak level, not the peak year.")
    return out


def waterfall_table(model, scenario, panel: pd.DataFrame, regions: list[str], *, draws: int = 1000,
                    random_seed: int = 0) -> pd.DataFrame:
    """:func:`uncertainty_waterfall` for several regions, stacked."""
    frames = [uncertainty_waterfall(model, scenario, panel, r, draws=draws, random_seed=random_seed) for r in regions]
    out = pd.concat(frames, ignore_index=True)
    out.attrs = dict(frames[0].attrs) if frames else {}
    return out
