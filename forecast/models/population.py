"""Probabilistic population: hierarchical damped-trend model of population growth rates.

For region i and year t, with ``r`` = Δ log(population) and ``T`` the last data year, over the last
``window`` years (15 by default: the recent trend is what a forecast continues)

    r_it = a_i + b_i (t − T) + ε_it,    ε_it ~ t_ν(0, σ_i)

* ``a_i``: the trend growth rate in the last data year; ``b_i``: its yearly change (negative where growth
  is slowing, as in most countries: the demographic transition). Both partially pooled across regions
  (centred), the shock scale ``σ_i`` partially pooled on the log scale; one-off shocks (a migration
  wave, a war) move the level of the population for good but not its future growth.
* Forecast: the trend of the growth rate is *damped* (Gardner & McKenzie 1985): after ``h`` years the
  growth rate is ``a_i + b_i (φ + φ² + … + φ^h)``, so it changes by at most ``b_i φ/(1 − φ)`` in total.
  The damping factor ``φ`` cannot be learned from one window of data; it is drawn from its prior
  (``population.damping``, the range used in damped-trend forecasting), so its uncertainty enters the bands.

Two richer forms were tried on the 98-country panel and dropped: an AR(1) on the growth rate made one-off
migration jumps persist (Germany 2060: 38-238 million), and an exponentially decaying trend
``g_i ρ_i^(t−T)`` did not mix (R-hat 1.7: ``ρ`` is unidentified where growth is near zero).
For official projections pass a CSV of draws instead (:meth:`forecast.scenarios.Scenario.from_csv`).
Priors: ``priors/population.toml``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from forecast.errors import InputError
from forecast.models.base import BayesianModel, check_regions, lagged, yearly_panel
from forecast.models.gdp import forecast_years, student_t


class PopulationGrowthModel(BayesianModel):
    """Hierarchical model of population growth: a decaying trend plus one-off shocks (module docstring)."""

    name = "population_growth"
    version = "population-growth-3"
    family = "population"

    def __init__(self, model_config: dict[str, Any] | None = None, *, window: int = 15, min_years: int = 10):
        super().__init__(model_config)
        self.window = window
        self.min_years = min_years

    def parameter_names(self) -> list[str]:
        return ["trend_growth_mu", "trend_growth_sigma", "trend_change_mu", "trend_change_sigma",
                "log_noise_mu", "log_noise_sigma", "nu", "trend_growth", "trend_change", "sigma"]

    def prepare(self, panel: pd.DataFrame, **options: Any) -> dict[str, Any]:
        frame = yearly_panel(panel, "population", min_years=self.min_years)
        frame["logp"] = np.log(frame["population"].to_numpy(dtype=float))
        frame = lagged(frame, "logp").rename(columns={"d_logp": "r"})
        regions = sorted(frame["region"].unique())
        last_year = int(frame["year"].max())
        if self.window < 5:
            raise InputError(f"population model window must be at least 5 years, got {self.window}")
        # only the recent window: the trend in the last data year is what the forecast continues
        obs = frame[frame["year"] > last_year - self.window].dropna(subset=["r"]).reset_index(drop=True)
        last = frame.groupby("region").tail(1).set_index("region").loc[regions]
        return {"regions": regions, "region_idx": pd.Categorical(obs["region"], categories=regions).codes.astype(int),
                "r": obs["r"].to_numpy(float), "years_to_last": (obs["year"] - last_year).to_numpy(float),
                "last_year": last["year"].to_numpy(int), "last_logp": last["logp"].to_numpy(float)}

    def build_model(self, data: dict[str, Any]) -> pm.Model:
        specs = self.priors()
        coords = {"region": data["regions"], "obs": np.arange(len(data["r"]))}
        with pm.Model(coords=coords) as model:
            idx = data["region_idx"]

            def pooled(name: str) -> pt.TensorVariable:
                mu = specs[f"{name}_mu"].to_pymc(f"{name}_mu")
                sd = specs[f"{name}_sigma"].to_pymc(f"{name}_sigma")
                # centred: 30 smooth yearly rates pin each region's trend down far more tightly than the
                # pooled spread, the regime in which the non-centred form has the funnel
                return pm.Normal(name, mu, sd, dims="region")

            growth, change = pooled("trend_growth"), pooled("trend_change")
            ln_mu = specs["log_noise_mu"].to_pymc("log_noise_mu")
            ln_sigma = specs["log_noise_sigma"].to_pymc("log_noise_sigma")
            sigma = pm.Deterministic("sigma", pt.exp(pm.Normal("log_noise", ln_mu, ln_sigma, dims="region")), dims="region")
            nu = specs["nu"].to_pymc("nu")
            specs["damping"].to_pymc("damping")  # prior only: not identified by the fit window, used in forecasts
            trend = growth[idx] + change[idx] * data["years_to_last"]
            pm.StudentT("r_obs", nu=nu, mu=trend, sigma=sigma[idx], observed=data["r"], dims="obs")
        return model

    def state(self, data: dict[str, Any]) -> xr.Dataset:
        return xr.Dataset({"last_year": ("region", data["last_year"]), "last_log_population": ("region", data["last_logp"])},
                          coords={"region": data["regions"]})

    def paths(self, regions: list[str], years: np.ndarray, *, draws: int, rng: np.random.Generator) -> np.ndarray:
        """Population ``(sample, region, year)`` (people) for the consecutive ``years`` after the data:
        posterior draws and Student-t shocks from ``rng``, run through :meth:`simulate`."""
        idata = self._require_fit()
        check_regions(self, regions)
        state = idata.constant_data.sel(region=list(regions))
        last_year = int(state["last_year"].max())
        if int(years[0]) != last_year + 1:
            raise InputError(f"population paths start after the last data year {last_year}, not in {int(years[0])}")
        pos = [self.regions.index(r) for r in regions]
        p = self.posterior_draws(["trend_growth", "trend_change", "damping", "sigma", "nu"], draws, rng)
        params = {**p, **{k: p[k][:, pos] for k in ("trend_growth", "trend_change", "sigma")}}
        shocks = student_t(rng, p["nu"], (draws, len(regions), len(years)))
        return np.exp(self.simulate(params, state, shocks))

    @staticmethod
    def simulate(params: dict[str, np.ndarray], drivers: xr.Dataset, shocks: np.ndarray) -> np.ndarray:
        """The damped-trend process forward: log population ``(sample, region, year)``.

        ``params``: ``trend_growth, trend_change, sigma`` ``(sample, region)``, ``damping`` ``(sample,)``;
        ``drivers``: the regions' state (``last_log_population``); ``shocks``: unit shocks
        ``(sample, region, year)`` for the years after the last data year. After ``h`` years the growth
        rate is ``a + b (φ + … + φ^h)``; a shock moves the level for good, not the growth."""
        h = np.arange(1, shocks.shape[-1] + 1)[None, None, :]
        phi = params["damping"][:, None, None]
        damped = phi * (1.0 - phi**h) / (1.0 - phi)  # φ + φ² + … + φ^h
        trend = params["trend_growth"][:, :, None] + params["trend_change"][:, :, None] * damped
        steps = trend + shocks * params["sigma"][:, :, None]
        return drivers["last_log_population"].values[None, :, None] + np.cumsum(steps, axis=-1)

    def predict(self, drivers: int | np.ndarray | None = None, *, draws: int = 1000, random_seed: int | None = None,
                regions: list[str] | None = None) -> xr.Dataset:
        """Population ``(sample, region, year)`` from the year after the data to ``drivers`` (a horizon
        year, or the consecutive forecast years; default 2060)."""
        regions = check_regions(self, regions)
        years = forecast_years(self, drivers)
        values = self.paths(regions, years, draws=draws, rng=np.random.default_rng(random_seed))
        return xr.Dataset({"population": (("sample", "region", "year"), values,
                                          {"units": "people", "long_name": "population"})},
                          coords={"sample": np.arange(draws), "region": regions, "year": years})

    def long_run_growth(self) -> xr.DataArray:
        """The growth rate the damped trend approaches, ``a_i + b_i φ/(1 − φ)``, ``(chain, draw, region)``, 1/yr."""
        post = self._require_fit().posterior
        phi = post["damping"]
        return (post["trend_growth"] + post["trend_change"] * phi / (1 - phi)).assign_attrs(
            units="1/yr", long_name="long-run population growth of the damped trend")
