"""Probabilistic GDP per capita: hierarchical convergence toward a technology frontier.

For region i and year t, with ``x`` = log GDP per capita (int-$ 2011 per person) and ``F`` the frontier
region (the United States by default, as in Raftery et al. 2017):

    Δx_it = g_F + κ_i (x_F,t-1 − x_i,t-1) + u_it,    u_it = φ u_i,t-1 + ε_it,    ε_it ~ t_ν(0, σ_i)

* ``g_F``: growth of the frontier (the frontier's own gap is zero);
* ``κ_i > 0``: the share of the log income gap closed per year, partially pooled on the log scale
  (``log κ_i ~ N(μ_κ, τ_κ)``, non-centred): poorer regions grow faster, and growth slows as they catch up;
* ``φ``: persistence of booms and recessions; ``σ_i``: shock scale, partially pooled on the log scale;
  Student-t shocks for crises.

Forecasts simulate the frontier and every region jointly, year by year, from the last observed level and
the last residual, so parameter uncertainty, persistent shocks and heavy tails all enter the bands.
Priors: ``priors/gdp.toml``.
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

DEFAULT_FRONTIER = "United States"


def ar1_likelihood(name: str, resid_mean, observed: np.ndarray, scale, *, prev_idx: np.ndarray,
                   has_prev: np.ndarray, phi, nu) -> None:
    """Student-t likelihood of ``observed`` with AR(1) errors around ``resid_mean`` (the first change of a
    run, which has no predecessor, gets the stationary scale)."""
    resid = pt.as_tensor_variable(observed) - resid_mean
    mean = resid_mean + phi * resid[prev_idx] * has_prev
    scale = scale * pt.switch(pt.as_tensor_variable(has_prev) > 0, 1.0, 1.0 / pt.sqrt(1.0 - phi**2))
    pm.StudentT(name, nu=nu, mu=mean, sigma=scale, observed=observed, dims="obs")


def previous_change(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """For rows of consecutive changes per region: index of the previous change and whether it exists."""
    same = (frame["region"].shift(1) == frame["region"]) & (frame["year"].shift(1) == frame["year"] - 1)
    idx = np.where(same, np.arange(len(frame)) - 1, 0)
    return idx.astype(int), same.to_numpy(dtype=float)


def forecast_years(model: BayesianModel, horizon: int | np.ndarray | None) -> np.ndarray:
    """Consecutive forecast years after a driver model's last data year: up to ``horizon`` (default 2060)
    or the given years."""
    last = int(model._require_fit().constant_data["last_year"].max())
    if horizon is None or np.ndim(horizon) == 0:
        end = 2060 if horizon is None else int(horizon)
        if end <= last:
            raise InputError(f"forecast horizon {end} must come after the last data year {last}")
        return np.arange(last + 1, end + 1)
    return np.asarray(horizon, dtype=int)


def student_t(rng: np.random.Generator, nu: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Unit Student-t shocks with per-sample degrees of freedom ``nu`` (first axis). A sample with
    ``nu = inf`` gets standard normals (NumPy's ``standard_t`` returns NaN for an infinite df); a ``nu``
    that is NaN or not positive is an :class:`InputError`, never NaN shocks in a forecast."""
    nu = np.asarray(nu, dtype=np.float64).reshape(-1)
    bad = np.isnan(nu) | (nu <= 0)
    if bad.any():
        raise InputError(f"Student-t degrees of freedom nu must be positive (inf for normal shocks), got "
                         f"{nu[bad][:3].tolist()} in {int(bad.sum())} of {nu.size} samples")
    df = nu.reshape((-1,) + (1,) * (len(shape) - 1))
    normal = np.isinf(nu)
    if not normal.any():  # a fitted Student-t model: one call, the same numbers as ever
        return rng.standard_t(df, size=shape)
    out = rng.standard_normal(shape)
    if not normal.all():
        out[~normal] = rng.standard_t(df[~normal], size=(int((~normal).sum()), *shape[1:]))
    return out


class GDPConvergenceModel(BayesianModel):
    """Hierarchical convergence model of GDP per capita (see the module docstring).

    Parameters
    ----------
    model_config:
        Prior overrides by name (``gdp.frontier_growth`` or ``frontier_growth``), from ``priors/gdp.toml``.
    frontier:
        Name of the frontier region; it must be in the panel. ``None`` picks the richest region in the
        last data year.
    min_years:
        Regions with fewer years are rejected.
    """

    name = "gdp_convergence"
    version = "gdp-convergence-1"
    family = "gdp"

    def __init__(self, model_config: dict[str, Any] | None = None, *, frontier: str | None = DEFAULT_FRONTIER,
                 min_years: int = 10):
        super().__init__(model_config)
        self.frontier = frontier
        self.min_years = min_years

    def parameter_names(self) -> list[str]:
        return ["frontier_growth", "log_convergence_mu", "log_convergence_sigma", "log_noise_mu", "log_noise_sigma",
                "phi", "nu", "convergence", "sigma"]

    def frontier_of(self, frame: pd.DataFrame) -> str:
        if self.frontier is None:
            last = frame[frame["year"] == frame["year"].max()]
            return str(last.loc[last["gdp_per_capita"].idxmax(), "region"])
        if self.frontier not in set(frame["region"]):
            raise InputError(f"GDP frontier region {self.frontier!r} is not in the panel; name one that is, "
                             "or frontier = None for the richest region")
        return self.frontier

    def prepare(self, panel: pd.DataFrame, **options: Any) -> dict[str, Any]:
        frame = yearly_panel(panel, "gdp_per_capita", min_years=self.min_years)
        frame["x"] = np.log(frame["gdp_per_capita"].to_numpy(dtype=float))
        frontier = self.frontier_of(frame)
        frontier_x = frame[frame["region"] == frontier].set_index("year")["x"]
        frame = lagged(frame, "x")
        frame["gap_prev"] = frame["year"].sub(1).map(frontier_x) - frame["prev_x"]
        regions = sorted(frame["region"].unique())
        obs = frame.dropna(subset=["d_x", "gap_prev"]).reset_index(drop=True)
        prev_idx, has_prev = previous_change(obs)
        last = frame.groupby("region").tail(1).set_index("region").loc[regions]
        last_obs = obs.groupby("region").tail(1).set_index("region").reindex(regions)
        return {"regions": regions, "frontier": frontier,
                "region_idx": pd.Categorical(obs["region"], categories=regions).codes.astype(int),
                "dx": obs["d_x"].to_numpy(float), "gap_prev": obs["gap_prev"].to_numpy(float),
                "prev_idx": prev_idx, "has_prev": has_prev,
                "last_year": last["year"].to_numpy(int), "last_x": last["x"].to_numpy(float),
                "last_dx": last_obs["d_x"].fillna(0.0).to_numpy(float),
                "last_gap_prev": last_obs["gap_prev"].fillna(0.0).to_numpy(float)}

    def build_model(self, data: dict[str, Any]) -> pm.Model:
        specs = self.priors()
        coords = {"region": data["regions"], "obs": np.arange(len(data["dx"]))}
        with pm.Model(coords=coords) as model:
            idx = data["region_idx"]
            growth = specs["frontier_growth"].to_pymc("frontier_growth")
            lk_mu = specs["log_convergence_mu"].to_pymc("log_convergence_mu")
            lk_sigma = specs["log_convergence_sigma"].to_pymc("log_convergence_sigma")
            offset = pm.Normal("log_convergence_offset", 0.0, 1.0, dims="region")
            convergence = pm.Deterministic("convergence", pt.exp(lk_mu + lk_sigma * offset), dims="region")
            ln_mu = specs["log_noise_mu"].to_pymc("log_noise_mu")
            ln_sigma = specs["log_noise_sigma"].to_pymc("log_noise_sigma")
            log_noise = pm.Normal("log_noise", ln_mu, ln_sigma, dims="region")
            sigma = pm.Deterministic("sigma", pt.exp(log_noise), dims="region")
            phi = specs["ar1"].to_pymc("phi")
            nu = specs["nu"].to_pymc("nu")
            mean = growth + convergence[idx] * data["gap_prev"]
            ar1_likelihood("dx_obs", mean, data["dx"], sigma[idx], prev_idx=data["prev_idx"],
                           has_prev=data["has_prev"], phi=phi, nu=nu)
        return model

    def state(self, data: dict[str, Any]) -> xr.Dataset:
        return xr.Dataset(
            {"last_year": ("region", data["last_year"]), "last_log_gdp_per_capita": ("region", data["last_x"]),
             "last_dx": ("region", data["last_dx"]), "last_gap_prev": ("region", data["last_gap_prev"]),
             "is_frontier": ("region", np.array([r == data["frontier"] for r in data["regions"]]))},
            coords={"region": data["regions"]}, attrs={"frontier": data["frontier"]})

    @property
    def frontier_region(self) -> str:
        return str(self._require_fit().constant_data.attrs["frontier"])

    def paths(self, regions: list[str], years: np.ndarray, *, draws: int, rng: np.random.Generator) -> np.ndarray:
        """GDP per capita ``(sample, region, year)`` (int-$ 2011 per person) for the consecutive ``years``
        after the last data year: posterior draws and Student-t shocks from ``rng``, run through
        :meth:`simulate`. The frontier is simulated alongside (its path drives every gap)."""
        idata = self._require_fit()
        check_regions(self, regions)
        last_year = int(idata.constant_data["last_year"].max())
        if int(years[0]) != last_year + 1:
            raise InputError(f"GDP paths start after the last data year {last_year}, not in {int(years[0])}")
        sim_regions = list(dict.fromkeys([self.frontier_region, *regions]))
        pos = [self.regions.index(r) for r in sim_regions]
        p = self.posterior_draws(["frontier_growth", "convergence", "sigma", "phi", "nu"], draws, rng)
        params = {**p, "convergence": p["convergence"][:, pos], "sigma": p["sigma"][:, pos]}
        shocks = student_t(rng, p["nu"], (draws, len(sim_regions), len(years)))
        x = self.simulate(params, idata.constant_data.sel(region=sim_regions), shocks)
        keep = [sim_regions.index(r) for r in regions]
        return np.exp(x[:, keep, :])

    @staticmethod
    def simulate(params: dict[str, np.ndarray], drivers: xr.Dataset, shocks: np.ndarray) -> np.ndarray:
        """The convergence process forward: log GDP per capita ``(sample, region, year)``.

        ``params``: ``frontier_growth, phi`` ``(sample,)``, ``convergence, sigma`` ``(sample, region)``;
        ``drivers``: the state of the simulated regions (``last_log_gdp_per_capita``, ``last_dx``,
        ``last_gap_prev``), the frontier first; ``shocks``: unit shocks ``(sample, region, year)``.
        Each year ``u = φ u + σ ε`` and ``x += g_F + κ (x_F − x) + u``, starting from the last observed
        residual (the last observed change minus its mean), so a recession in the data carries on."""
        g, phi = params["frontier_growth"][:, None], params["phi"][:, None]
        kappa, sigma = params["convergence"], params["sigma"]
        u = drivers["last_dx"].values - (g + kappa * drivers["last_gap_prev"].values)
        x = np.broadcast_to(drivers["last_log_gdp_per_capita"].values, kappa.shape).copy()
        out = np.empty(shocks.shape)
        for h in range(shocks.shape[-1]):  # the recursion runs over years only; samples and regions are vectorised
            gap = x[:, :1] - x
            u = phi * u + sigma * shocks[:, :, h]
            x = x + g + kappa * gap + u
            out[:, :, h] = x
        return out

    def predict(self, drivers: int | np.ndarray | None = None, *, draws: int = 1000, random_seed: int | None = None,
                regions: list[str] | None = None) -> xr.Dataset:
        """GDP per capita ``(sample, region, year)`` from the year after the data to ``drivers`` (a horizon
        year, or the consecutive forecast years; default 2060), with ``chain`` / ``draw`` of each sample."""
        regions = check_regions(self, regions)
        years = forecast_years(self, drivers)
        rng = np.random.default_rng(random_seed)
        values = self.paths(regions, years, draws=draws, rng=rng)
        return xr.Dataset({"gdp_per_capita": (("sample", "region", "year"), values,
                                              {"units": "international-$ (2011 prices) per person",
                                               "long_name": "GDP per capita"})},
                          coords={"sample": np.arange(draws), "region": regions, "year": years})

    def convergence_table(self) -> pd.DataFrame:
        """Per region: convergence speed κ (share of the log gap closed per year) and shock scale, quantiles."""
        post = self._require_fit().posterior.stack(sample=("chain", "draw"))
        rows = {}
        for name in ("convergence", "sigma"):
            q = post[name].quantile([0.05, 0.5, 0.95], dim="sample")
            for level in (0.05, 0.5, 0.95):
                rows[f"{name}_q{int(level * 100):02d}"] = q.sel(quantile=level).to_series()
        table = pd.DataFrame(rows)
        table.index.name = "region"
        return table
