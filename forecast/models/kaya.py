"""Kaya-identity emission model: population × GDP per capita × carbon intensity.

    CO2_it = P_it · (GDP/P)_it · I_it,      I = CO2 / GDP   (carbon intensity)

Population and GDP per capita come from the scenario (the history default or, better, the probabilistic
driver models of :mod:`forecast.models.gdp` and :mod:`forecast.models.population`); this model supplies
the carbon intensity. Its log changes as

    Δ log I_it = d_i + θ·x_i,t-1 + u_it,    u_it = φ u_i,t-1 + ε_it,    ε_it ~ t_ν(0, σ_i)

with ``x`` the centred log GDP per capita. Drifts ``d_i`` and log shock scales are partially pooled across
regions (Liu & Raftery 2021 model the rate of change of carbon intensity as an AR(1) process around a
country-specific rate, pooled hierarchically). ``θ`` lets the trend turn: intensity may rise while a region
is poor and fall once it is rich. Unlike the EKC, emissions move one for one with GDP in the short run;
all decoupling is in the intensity trend.

Per-capita emissions are ``y = x + log I``, so ``Δy = Δx + d_i + θ x_prev + u``: the growth-form EKC with
unit income elasticity and no curvature. The model therefore reuses the EKC's data preparation, its
numba propagation kernel, its persistence and its result shape (``predict`` → ``(sample, region, year)``),
and every downstream step (peak year, sinks, capacity, exports) works unchanged.

Common shocks (``common_shocks=True``)
--------------------------------------
Oil shocks, recessions and pandemics hit every country in the same year. With independent shocks a sum of
regions (the world, a nation's provinces) is far too narrow, and a global break shows up as 60 unrelated
surprises. The option adds a year effect shared by all regions:

    Δ log I_it = d_i + θ·x_i,t-1 + g_t + u_it,    g_t ~ Normal(0, τ)   (τ = ``common_shock_sd``),

fitted jointly (one ``g_t`` per year of the panel, ``common_shock``). ``g_t`` sits outside the AR(1)
residual ``u``: a shared shock moves that year's growth (a permanent level shift), the regional residual
keeps its own persistence. Forecasts draw a new ``g_t`` for every future year and sample, the same for
all regions of the sample, so regional forecasts are positively correlated within a year.

Shared drift walk (``common_drift=True``)
-----------------------------------------
The pace of decarbonisation changes over decades (oil shocks, the 1990s transition, the 2000s coal boom,
recent policy). The option lets every region's drift move by a random walk shared by all regions,

    Δ log I_it = d_i + m_t + θ·x_i,t-1 [+ g_t] + u_it,    m_t = m_t-1 + κ z_t,   z_t ~ Normal(0, 1),

with ``m`` of mean zero over the fitted years, so ``drift_mu`` and ``d_i`` keep their meaning (the mean
drift over the window) and ``d_i + m_T`` is the drift in the last fitted year (``κ`` =
``common_drift_sd``, a small innovation sd; ``common_drift`` holds ``m_t``). Forecasts start from that
drift and the walk continues with new innovations, the same for all regions of a sample. With
``common_shocks`` as well the shared component is a local-level model (one-year breaks in ``g``, lasting
changes of pace in ``m``), but ``κ`` and ``τ`` then trade off and sample poorly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from forecast.errors import InputError
from forecast.models.ekc import EKCModel, PanelArrays, growth_likelihood
from forecast.models.measurement import OFFSET

MODEL_VERSION = "kaya-growth-1"
PARAMETERIZATIONS = ("mixed", "centered", "non_centered")
# the walk's steps under "mixed": small and weakly identified year by year, so non-centred
COMMON_DRIFT_PARAMETERIZATION = {"mixed": "non_centered"}
INTENSITY_UNITS = "kg CO2 per international-$ (2011 prices)"


class KayaModel(EKCModel):
    """Hierarchical carbon-intensity model; emissions = population × GDP per capita × intensity.

    Parameters
    ----------
    model_config:
        Prior overrides by name from ``priors/kaya.toml`` (``kaya.drift_mu`` or ``drift_mu``).
    residuals, likelihood:
        ``"ar1"`` | ``"iid"``; ``"studentt"`` | ``"normal"``, as for the EKC.
    parameterization:
        ``"mixed"`` (default: drifts non-centred, shock scales centred), ``"centered"`` or ``"non_centered"``.
    drift_income:
        Let the intensity trend depend on income (the trend that can turn). Default True.
    turning_point_growth:
        Per-capita GDP growth (log units/yr) of the steady path on which the turning point is read.
    measurement_error, systematic_error, systematic_bias, min_years:
        As for :class:`~forecast.models.ekc.EKCModel` (random and persistent errors of the historical
        emissions, :mod:`forecast.models.measurement`).
    common_shocks:
        Add a year effect ``g_t ~ Normal(0, common_shock_sd)`` shared by all regions to the intensity
        growth (see the module docstring). Default False: shocks independent across regions.
    common_drift:
        Let the drifts move by a random walk shared by all regions (a time-varying decarbonisation rate,
        see the module docstring). Default False: constant drifts.
    """

    name = "kaya"
    version = MODEL_VERSION
    family = "kaya"

    def __init__(self, model_config: dict[str, Any] | None = None, *, residuals: str = "ar1",
                 likelihood: str = "studentt", parameterization: str = "mixed", drift_income: bool = True,
                 turning_point_growth: float = 0.02, measurement_error: float | dict[str, float] = 0.0,
                 systematic_error: float | dict[str, float] = 0.0, systematic_bias: float | dict[str, float] = 0.0,
                 min_years: int = 10, common_shocks: bool = False, common_drift: bool = False):
        super().__init__(model_config, degree=2, residuals=residuals, likelihood=likelihood,
                         parameterization=parameterization, varying_curvature=False, varying_drift=True,
                         drift_income=drift_income, turning_point_growth=turning_point_growth,
                         measurement_error=measurement_error, systematic_error=systematic_error,
                         systematic_bias=systematic_bias, min_years=min_years, common_shocks=common_shocks)
        self.common_drift = common_drift

    def check_settings(self) -> None:
        if self.parameterization not in PARAMETERIZATIONS:
            raise InputError(f"parameterization must be one of {', '.join(PARAMETERIZATIONS)}, got {self.parameterization!r}")
        if not isinstance(self.common_drift, bool):
            raise InputError(f"common_drift must be true or false, got {self.common_drift!r}")
        super().check_settings()

    def _terms(self) -> list[tuple[str, str]]:
        terms = [("drift_mu", "drift_mu"), ("drift_sigma", "drift_sigma"), ("log_noise_mu", "log_noise_mu"),
                 ("log_noise_sigma", "log_noise_sigma")]
        optional = [(self.residuals == "ar1", "ar1", "phi"), (self.likelihood == "studentt", "nu", "nu"),
                    (self.drift_income, "drift_income", "drift_income"),
                    (self.common_shocks, "common_shock_sd", "common_shock_sd"),
                    (self.common_drift, "common_drift_sd", "common_drift_sd")]
        return terms + [(prior, var) for used, prior, var in optional if used]

    def parameter_names(self) -> list[str]:
        # the walk through its free steps (the walk itself is their centred running sum)
        centred = COMMON_DRIFT_PARAMETERIZATION.get(self.parameterization, self.parameterization) == "centered"
        step = "common_drift_step" if centred else "common_drift_step_offset"
        shared = [var for used, var in ((self.common_shocks, "common_shock"), (self.common_drift, step)) if used]
        return [var for _, var in self._terms()] + ["drift", "sigma"] + shared

    def build_model(self, data: PanelArrays) -> pm.Model:
        """PyMC model of the yearly change of log carbon intensity (no sampling). Every array that depends
        on the data is a ``pm.Data`` container (see :meth:`EKCModel.build_model`)."""
        self.check_settings()
        specs = self.priors()
        mode = {"mixed": ("non_centered", "centered")}.get(self.parameterization, (self.parameterization,) * 2)
        shock_years = self.shock_years(data)
        coords = {"region": self.region_labels(data.regions), "obs": np.arange(len(data.dy))}
        if self.common_shocks or self.common_drift:
            coords["shock_year"] = shock_years
        if self.common_drift:
            coords["drift_step"] = shock_years[1:]
        with pm.Model(coords=coords) as model:
            idx = pm.Data("region_idx", data.region_idx, dims="obs")
            # Δ log I = Δ log(CO2 per capita) − Δ log(GDP per capita)
            d_intensity = pm.Data("d_log_intensity", data.dy - data.dx_terms[:, 0], dims="obs")
            used = self.slot_mask(data)
            if self.common_shocks or self.common_drift:
                # which panel year each change belongs to (the later year of the change)
                year_idx = self.year_index(data)

            def pooled(name: str, parameterization: str):
                mu = specs[f"{name}_mu"].to_pymc(f"{name}_mu")
                sd = specs[f"{name}_sigma"].to_pymc(f"{name}_sigma")
                if parameterization == "centered":
                    return self.centred_by_region(name, mu, sd, used)
                offset = pm.Normal(f"{name}_offset", 0.0, 1.0, dims="region")
                return pm.Deterministic(name, mu + sd * offset, dims="region")

            drift = pooled("drift", mode[0])
            sigma = pm.Deterministic("sigma", pt.exp(pooled("log_noise", mode[1])), dims="region")
            mean = drift[idx]
            if self.drift_income:
                income = specs["drift_income"].to_pymc("drift_income")
                mean = mean + income * pm.Data("x_prev", data.x_prev, dims="obs")
            if self.common_shocks:
                # one year effect per year of the panel, shared by every region observed that year
                mean = mean + self.common_shock_term(specs, self.parameterization)[year_idx]
            if self.common_drift:
                # m_t = m_t-1 + κ z_t over the years of the panel
                kappa = specs["common_drift_sd"].to_pymc("common_drift_sd")
                if COMMON_DRIFT_PARAMETERIZATION.get(self.parameterization, self.parameterization) == "centered":
                    steps = pm.Normal("common_drift_step", 0.0, kappa, dims="drift_step")
                else:
                    steps = kappa * pm.Normal("common_drift_step_offset", 0.0, 1.0, dims="drift_step")
                # zero mean over the window, so drift_mu stays the window's mean drift as without the walk
                # (anchoring the walk at 0 in the last year instead tied drift_mu to the last few years and
                # sampled far worse: R-hat 1.21, bulk ESS 7 at the 2003 backtest cutoff, against 1.05 / 58)
                path = pt.concatenate([pt.zeros(1), pt.cumsum(steps)])
                walk = pm.Deterministic("common_drift", path - path.mean(), dims="shock_year")
                mean = mean + walk[year_idx]
            scale = self.shock_scale(sigma, idx, data.regions)
            self.add_systematic_offset(data.regions)  # shared with the EKC: a level offset, not in the likelihood
            growth_likelihood("d_log_intensity_obs", d_intensity, mean, scale, residuals=self.residuals,
                              likelihood=self.likelihood, specs=specs,
                              ar1_inputs=self.ar1_inputs(data) if self.residuals == "ar1" else None)
        return model

    def state(self, data: PanelArrays) -> xr.Dataset:
        """As the EKC's, plus (with common shocks or the drift walk) the year of each region's last observed
        change, whose fitted shared part is taken out of the residual the forecast starts from."""
        state = super().state(data)
        if self.common_drift:
            state["last_change_year"] = ("region", data.year[data.last_obs_idx])
        return state

    def kernel_params(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Draws in the growth simulator's terms: unit income elasticity, no curvature; with common shocks
        also ``common_shock_sd`` ``(sample,)``, with the drift walk ``common_drift_sd`` ``(sample,)``, and
        then ``common_shock_last`` ``(sample, region)``: the fitted shared part (year effect plus walk) of
        each region's last observed change."""
        names = ["drift", "sigma"] + [name for used, name in ((self.residuals == "ar1", "phi"),
                                                             (self.likelihood == "studentt", "nu"),
                                                             (self.drift_income, "drift_income"),
                                                             (self.common_shocks, "common_shock_sd"),
                                                             (self.common_shocks, "common_shock"),
                                                             (self.common_drift, "common_drift_sd"),
                                                             (self.common_drift, "common_drift"),
                                                             (self.has_offset(), OFFSET)) if used]
        out = self.posterior_draws(names, n, rng)
        if self.common_shocks or self.common_drift:
            shared = [self.common_shock_last(out, k) for k in ("common_shock", "common_drift") if k in out]
            if "common_drift" in out:
                # forecasts walk on from the walk's value in the last fitted year: it joins the drifts, and the
                # last change's shared part counts the walk relative to that value
                walk = out.pop("common_drift")
                out["drift"] = out["drift"] + walk[:, -1:]
                shared[-1] = shared[-1] - walk[:, -1:]
            out.pop("common_shock", None)
            out["common_shock_last"] = np.sum(shared, axis=0)
        n_regions = len(self.regions)
        out["slope"] = np.ones((n, n_regions))
        out["curvature"] = np.zeros((n, n_regions))
        zeros = np.zeros(n)
        out["cubic"] = zeros
        out.setdefault("phi", zeros)
        out.setdefault("nu", np.full(n, np.inf))
        out.setdefault("drift_income", zeros)
        return out

    def predict(self, scenario, *, draws: int = 1000, random_seed: int | None = None, regions=None,
                **options) -> xr.Dataset:
        """As :meth:`EKCModel.predict` (same ``options``), plus ``carbon_intensity`` (kg CO2 per int-$ 2011)."""
        ds = super().predict(scenario, draws=draws, random_seed=random_seed, regions=regions, **options)
        # t CO2/person ÷ $/person = t/$; ×1000 → kg/$
        ds["carbon_intensity"] = (ds["co2_per_capita"] / ds["gdp_per_capita"] * 1e3).assign_attrs(
            units=INTENSITY_UNITS, long_name="carbon intensity of GDP")
        return ds

    def turning_points(self, growth: float | None = None) -> xr.Dataset:
        """Income at which per-capita emissions stop rising on a steady path with growth ``g``:
        ``g + d_i + θ x = 0``, an inverted U when ``θ < 0`` (dims ``chain, draw, region``)."""
        g = self.turning_point_growth if growth is None else float(growth)
        post = self._require_fit().posterior
        if not self.drift_income:
            nan = xr.full_like(post["drift"], np.nan)
            return xr.Dataset({"turning_gdp_per_capita": nan, "inverted_u": nan.notnull()})
        theta, drift = xr.broadcast(post["drift_income"], post["drift"])
        inverted = theta < 0
        with np.errstate(divide="ignore", invalid="ignore"):
            x_star = xr.where(inverted, -(g + drift) / theta, np.nan)
        gdp = np.exp(np.clip(x_star + self.x_center, -50, 50)).assign_attrs(
            units="international-$ (2011 prices) per person", long_name="Kaya turning-point income", reference_growth=g)
        return xr.Dataset({"turning_gdp_per_capita": gdp, "inverted_u": inverted})
