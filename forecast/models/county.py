"""A tiny hierarchical model of log-CO2 growth for panels with CO2 only (e.g. China's counties).

    Δ log co2_it ~ StudentT(4, drift_i, sigma_i),   drift_i = drift_mu + drift_sd · z_i  (non-centred),
    drift_mu ~ N(0, 0.1),  drift_sd ~ HalfNormal(0.05),  sigma_i ~ HalfNormal(0.3)

Regions are the panel's ``region`` column. Fitted many times in parallel by
:func:`forecast.projection.scale.fit_many` (one model per province), so its priors are fixed in the code: a county
panel has no GDP or population to give a prior library something to say.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from forecast.errors import InputError
from forecast.models.base import BayesianModel, check_regions


class DriftModel(BayesianModel):
    """Hierarchical drift of log CO2 per region (module docstring). No settings."""

    name = "drift"
    version = "drift-1"
    scalar_parameters = ("drift_mu", "drift_sd")
    # a dask worker may not be allowed to start sampler processes: PyMC's NUTS with chains in sequence
    fit_defaults = {"sampler": "pymc", "draws": 500, "tune": 500}
    sampler_cores = 1

    def __init__(self):
        super().__init__()

    def prepare(self, data: pd.DataFrame, **options: Any) -> dict[str, Any]:
        """Year-on-year changes of log CO2 (``region, year, co2``; rows with CO2 <= 0 or missing dropped)."""
        missing = [c for c in ("region", "year", "co2") if c not in getattr(data, "columns", [])]
        if missing:
            raise InputError(f"county panel lacks column(s) {', '.join(missing)}")
        df = data.sort_values(["region", "year"])
        df = df[np.isfinite(df["co2"]) & (df["co2"] > 0)]
        dy = df.groupby("region")["co2"].transform(lambda s: np.log(s).diff())
        gap = df.groupby("region")["year"].diff()
        keep = dy.notna() & (gap == 1)
        if not keep.any():
            raise InputError("panel has no consecutive-year CO2 pairs to fit")
        regions = sorted(df["region"].unique())
        last = df.groupby("region").tail(1).set_index("region").loc[regions]
        return {"regions": regions, "region_idx": pd.Categorical(df.loc[keep, "region"], categories=regions).codes,
                "dy": dy[keep].to_numpy(), "last_year": last["year"].to_numpy(int),
                "last_log_co2": np.log(last["co2"].to_numpy(float))}

    def build_model(self, arrays: dict[str, Any]) -> pm.Model:
        idx = arrays["region_idx"]
        with pm.Model(coords={"region": arrays["regions"]}) as model:
            mu = pm.Normal("drift_mu", 0.0, 0.1)
            sd = pm.HalfNormal("drift_sd", 0.05)
            z = pm.Normal("drift_z", 0.0, 1.0, dims="region")
            drift = pm.Deterministic("drift", mu + sd * z, dims="region")
            sigma = pm.HalfNormal("sigma", 0.3, dims="region")
            pm.StudentT("dy", nu=4, mu=drift[idx], sigma=sigma[idx], observed=arrays["dy"])
        return model

    def prior_terms(self) -> list[str]:
        return []

    def parameter_names(self) -> list[str]:
        return ["drift_mu", "drift_sd", "drift", "sigma"]

    def state(self, arrays: dict[str, Any]) -> xr.Dataset:
        return xr.Dataset({"last_year": ("region", arrays["last_year"]),
                           "last_log_co2": ("region", arrays["last_log_co2"])}, coords={"region": arrays["regions"]})

    @staticmethod
    def simulate(params: dict[str, np.ndarray], drivers: xr.Dataset, shocks: np.ndarray) -> np.ndarray:
        """Log CO2 ``(sample, region, year)`` forward from ``drivers["last_log_co2"]``: each year
        ``+ drift + sigma · ε`` with unit Student-t(4) ``shocks``."""
        steps = params["drift"][:, :, None] + params["sigma"][:, :, None] * shocks
        return drivers["last_log_co2"].values[None, :, None] + np.cumsum(steps, axis=-1)

    def predict(self, drivers: int | None = None, *, draws: int = 1000, random_seed: int | None = None,
                regions: list[str] | None = None) -> xr.Dataset:
        """CO2 ``(sample, region, year)`` (the panel's units) from the year after the data to ``drivers``
        (a horizon year, default 2030)."""
        regions = check_regions(self, regions)
        state = self._require_fit().constant_data.sel(region=regions)
        last = int(state["last_year"].max())
        horizon = 2030 if drivers is None else int(drivers)
        if horizon <= last:
            raise InputError(f"forecast horizon {horizon} must come after the last data year {last}")
        years = np.arange(last + 1, horizon + 1)
        rng = np.random.default_rng(random_seed)
        p = self.posterior_draws(["drift", "sigma"], draws, rng)
        pos = [self.regions.index(r) for r in regions]
        params = {"drift": p["drift"][:, pos], "sigma": p["sigma"][:, pos]}
        shocks = rng.standard_t(4, size=(draws, len(regions), len(years)))
        co2 = np.exp(self.simulate(params, state, shocks))
        return xr.Dataset({"co2": (("sample", "region", "year"), co2, {"units": "as the panel's co2 column",
                                                                      "long_name": "CO2 emissions"})},
                          coords={"sample": np.arange(draws), "region": regions, "year": years,
                                  "chain": ("sample", p["chain"]), "draw": ("sample", p["draw"])})
