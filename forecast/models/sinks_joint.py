"""The global land sink fitted to the observation-based budget residual and the 22 vegetation models jointly,
with CO2 fertilisation separated from sink kinetics.

Why a second land-sink model
----------------------------
:class:`~forecast.models.sinks.GlobalLandSinkModel` fits one series, the GCB land sink, which is the
(adjusted) multi-model mean of the vegetation models, not an observation; and its proportional form
``S = k eps(t) (C - C_0)`` reads every decline of the sink's efficiency as a decline of fertilisation,
although sink kinetics lower that efficiency anyway when CO2 grows more slowly than exponentially
(Raupach M.R. et al. 2014, Biogeosciences 11:3453-3475). This model

* fits the **budget residual** ``R_t = E_FOS + E_LUC - G_ATM - S_OCEAN - S_CEMENT`` (GtC/yr; the land
  sink that mass balance leaves, independent of the vegetation models) together with the **22 DGVMs** of
  the GCB 2025 "Terrestrial Sink" sheet;
* lets the CO2 fertilisation of net primary production, ``NPP'_t = beta(t) (C_t - C_0)/100`` with
  ``beta(t) = k eps(t)``, fill a land carbon pool that turns over in ``tau`` years (``form="kinetic"``, a
  one-box impulse response in the spirit of Joos F. et al. 2013, ACP 13:2793-2825): the sink is the pool's
  growth ``S_t = NPP'_t - r B_{t-1}``, ``B_t = (1 - r) B_{t-1} + NPP'_t``, ``r = 1 - exp(-1/tau)``, from
  equilibrium in ``history_start`` (1850). A steady CO2 level gives no sink; a steadily rising one a sink
  about ``tau beta dC/dt``. ``form="proportional"`` keeps ``S = NPP'`` (the old form);
* gives interannual variability its own term, a common AR(1) anomaly ``eta_t`` that the residual carries
  with loading 1 and every DGVM with its own loading ``gamma_m`` (DGVMs are driven by observed climate,
  so their year-to-year swings share the observed ones; their spread then tells the model which part
  of the residual's wiggles is weather and not trend);
* treats the budget's errors as what they are: the residual's level is wrong every year by the
  systematic errors of its terms, ``sum_j delta_j F_j,t`` (``F`` = fossil, land-use change and ocean
  fluxes, ``delta_j`` relative errors with the GCB's stated 1-sigma as prior sd), plus a random error;
* gives the models their own fertilisation scale (``beta_m = beta_ref exp(rho_m)``) and decline rate
  (``lam_m ~ Normal(lam_models, lam_sigma)``): the population rate ``lam_models`` says how the models
  behave, ``lam`` how the observations do.

``eps(t) = eps_ref exp(-lam (t - t_ref))`` (``decline="exponential"``; ``"linear"`` and ``"constant"`` as
in the single-series model), held at its first-fitted-year value before the fitted window (the data say
nothing about it there; without the hold a fitted decline would explode backwards over the spin-up).

What the data identify
----------------------
The sink data identify ``beta(t)`` only through ``S``: in the proportional form the product ``k eps(t)``;
in the kinetic form roughly ``tau k eps(t)``. The decline rate ``lam`` and the ratio
``eps(t)/eps(t_ref)`` (:meth:`cfe_ratio`) are identified; the absolute ``eps`` is not, and leans on the
priors of ``eps_ref``, ``k`` (the extra NPP per % of extra photosynthesis, about 1 % of global NPP) and
``tau``. :func:`forecast.sinks.cfe_windows.prior_posterior_table` puts prior and posterior side by side.

Units: sinks GtC/yr; CO2 ppm; eps % per 100 ppm; k GtC/yr per %; beta GtC/yr per 100 ppm; tau yr; lam 1/yr.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from forecast.data.gcb import (
    BUDGET_TERMS,
    HISTORY_START,
    check_year_range,
    load_joint_sink_data,
)
from forecast.errors import InputError, did_you_mean
from forecast.models.sinks import GlobalLandSinkModel, _co2_path, ar1_anomalies

__all__ = ["FORMS", "JointLandSinkModel", "JointSinkArrays", "kinetic_sink"]

MODEL_VERSION = "land-sink-joint-1"
FORMS = ("kinetic", "proportional")
IAV = ("ar1", "iid")
#: Prior entry (priors/sinks.toml) of each budget term's systematic relative error.
TERM_PRIORS = {"fossil": "error_fossil", "land_use_change": "error_land_use_change", "ocean": "error_ocean"}


@dataclass(frozen=True)
class JointSinkArrays:
    """Validated data: fitted ``years`` (T), the CO2 ``history`` (H years from the spin-up start to the
    last fitted year), the budget ``residual`` (T) and its systematic-error carriers ``terms`` (T, J), the
    DGVM sinks ``models`` (T, M); all GtC/yr except CO2 (ppm)."""

    years: np.ndarray
    history_years: np.ndarray
    co2_history: np.ndarray
    residual: np.ndarray
    terms: np.ndarray
    term_names: list[str]
    models: np.ndarray
    model_names: list[str]

    @property
    def first(self) -> int:
        """Index of the first fitted year in the history."""
        return int(np.searchsorted(self.history_years, self.years[0]))


def kinetic_sink(npp, r, n: int, lib=pt):
    """Sink (rows = ``n`` years) of a pool filled by ``npp`` (years x series) that loses a fraction ``r`` a
    year, starting in equilibrium with the first year's ``npp``: ``S_t = npp_t - r B_{t-1}``."""
    lag = np.subtract.outer(np.arange(n), np.arange(n)) - 1  # t - 1 - s
    powers = (1.0 - r) ** np.arange(n + 1, dtype=float)  # (1-r)^m, m = 0..n: n powers, not n^2
    decay = powers[np.clip(lag, 0, n)] * (lag >= 0)  # (1-r)^(t-1-s) for s < t, a Toeplitz gather
    start = powers[:n]  # the equilibrium pool of the first year, decaying
    return npp - r * (decay @ npp) - start[:, None] * npp[0][None, :]


def unit_scaled(spec, name: str, **kwargs):
    """A Normal prior sampled as ``mu + sigma z`` with ``z ~ Normal(0, 1)`` (other priors as they are).

    Decline rates have prior sd 0.03/yr: sampled directly, a sampler's start (jittered by about +-2 on the
    unconstrained scale) puts eps(t) at exp(+-2 x 65) and the chain never recovers; on the unit scale the
    start is within a few prior sd."""
    if spec.distribution != "Normal":
        return spec.to_pymc(name, **kwargs)
    z = pm.Normal(f"{name}_std", 0.0, 1.0, **kwargs)
    return pm.Deterministic(name, spec.params["mu"] + spec.params["sigma"] * z, **kwargs)


class JointLandSinkModel(GlobalLandSinkModel):
    """Global land sink on the budget residual and the DGVM ensemble jointly (module docstring).

    Parameters
    ----------
    model_config:
        Prior overrides by name (``sinks.`` prefix optional).
    form:
        ``"kinetic"`` (default: fertilisation fills a pool with turnover ``tau``) or ``"proportional"``
        (``S = k eps(t) (C - C_0)/100``).
    decline:
        Path of ``eps(t)``: ``"exponential"`` (default), ``"linear"`` or ``"constant"``.
    t_ref, c0:
        Reference year of ``eps_ref`` (1982) and pre-industrial CO2 (280 ppm).
    iav:
        Common interannual anomaly ``"ar1"`` (default) or ``"iid"``.
    use_models:
        Fit the DGVMs with the residual (default); ``False`` fits the residual alone.
    history_start:
        First year of the kinetic spin-up (default 1850; pool in equilibrium then).
    """

    name = "land_sink_joint"
    version = MODEL_VERSION
    family = "sinks"

    def __init__(self, model_config: dict[str, Any] | None = None, *, form: str = "kinetic",
                 decline: str = "exponential", t_ref: int = 1982, c0: float = 280.0, iav: str = "ar1",
                 use_models: bool = True, history_start: int = HISTORY_START):
        self.form = form
        self.iav = iav
        self.use_models = use_models
        self.history_start = history_start
        super().__init__(model_config, decline=decline, t_ref=t_ref, c0=c0)
        self.residuals = iav  # the parent checks it as its residuals setting (same values: ar1, iid)

    # ------------------------------------------------------------------ settings
    def check_settings(self) -> None:
        super().check_settings()
        for label, value, allowed in (("form", self.form, FORMS), ("iav", self.iav, IAV)):
            if value not in allowed:
                raise InputError(f"{label} must be one of {', '.join(allowed)}, got {value!r}"
                                 f"{did_you_mean(value, allowed, n=1)}")
        if not isinstance(self.use_models, bool):
            raise InputError(f"use_models must be True or False, got {self.use_models!r}")
        if isinstance(self.history_start, bool) or not isinstance(self.history_start, (int, np.integer)) \
                or not 1750 <= self.history_start <= 1958:
            raise InputError(f"history_start must be a whole year in 1750-1958, got {self.history_start!r}")

    @property
    def kinetic(self) -> bool:
        return self.form == "kinetic"

    def _terms(self) -> list[tuple[str, str]]:
        terms = [("eps_ref", "eps_ref"), ("npp_scale" if self.kinetic else "k", "k")]
        if self.kinetic:
            terms.append(("turnover_time", "tau"))
        if self.has_decline:
            terms.append(("decline_rate", "lam"))
        terms += [("iav_sigma", "sigma_iav")] + ([("ar1", "phi")] if self.iav == "ar1" else [])
        terms.append(("residual_noise", "sigma_residual"))
        if self.use_models:
            terms += [("model_scale_mu", "rho_mu"), ("model_scale_sigma", "rho_sigma"), ("model_loading", "gamma"),
                      ("model_noise", "sigma_model")]
            if self.has_decline:
                terms += [("decline_rate", "lam_models"), ("lam_sigma", "lam_sigma")]
        return terms

    def parameter_names(self) -> list[str]:
        return [v for _, v in self._terms()]

    # ------------------------------------------------------------------ data
    def prepare(self, data: dict[str, Any] | None = None, *, years: tuple[int, int] | None = (1959, 2024),
                data_dir: str | os.PathLike[str] | None = None) -> JointSinkArrays:
        """The fitted data, checked: ``data`` is a dict as :func:`~forecast.data.gcb.load_joint_sink_data`
        returns (``None`` loads it for ``years`` from ``data_dir`` / ``$CARBON_FORECAST_DATA``)."""
        span = (1959, 2024) if years is None else check_year_range(years)
        if data is None:
            data = load_joint_sink_data(data_dir, span, history_start=self.history_start)
        if not isinstance(data, dict) or not {"budget", "models", "co2"} <= set(data):
            raise InputError("data must be a dict with keys budget, models and co2 (see load_joint_sink_data)")
        self.provenance_ = list(data.get("provenance", []))
        budget = data["budget"]
        budget = budget[(budget["year"] >= span[0]) & (budget["year"] <= span[1])]
        years_ = budget["year"].to_numpy(dtype=int)
        if len(years_) < 10 or (np.diff(years_) != 1).any():
            raise InputError(f"the budget residual needs at least 10 consecutive years in {span[0]}-{span[1]}")
        models = data["models"].reindex(years_)
        co2 = data["co2"]
        co2 = co2[(co2["year"] >= self.history_start) & (co2["year"] <= years_[-1])]
        hist = co2["year"].to_numpy(dtype=int)
        if len(hist) == 0 or hist[0] != self.history_start or (np.diff(hist) != 1).any() or hist[-1] != years_[-1]:
            raise InputError(f"CO2 must cover every year {self.history_start}-{years_[-1]}")
        arrays = JointSinkArrays(
            years=years_, history_years=hist, co2_history=co2["co2_ppm"].to_numpy(dtype=float),
            residual=budget["residual"].to_numpy(dtype=float),
            terms=budget[list(BUDGET_TERMS)].to_numpy(dtype=float), term_names=list(BUDGET_TERMS),
            models=models.to_numpy(dtype=float), model_names=[str(c) for c in models.columns])
        for label, values in (("residual", arrays.residual), ("terms", arrays.terms), ("DGVM sinks", arrays.models),
                              ("CO2", arrays.co2_history)):
            if not np.isfinite(values).all():
                raise InputError(f"joint land-sink data: {label} must be finite in every fitted year")
        if self.use_models and len(arrays.model_names) < 2:
            raise InputError("use_models needs at least 2 DGVM series")
        return arrays

    # ------------------------------------------------------------------ model
    def _rel_history(self, lam, arrays: JointSinkArrays):
        """eps(t)/eps_ref over the history, held at its first-fitted-year value before it."""
        held = np.maximum(arrays.history_years, arrays.years[0]) - self.t_ref
        return self._relative_path(lam, pt.as_tensor_variable(held.astype(float)))

    def build_model(self, arrays: JointSinkArrays, *, prior_only: bool = False) -> pm.Model:
        """The PyMC model. ``prior_only`` samples ``k`` directly (for prior predictive draws) instead of
        the ridge-free ``beta_ref`` parameterisation used for fitting."""
        self.check_settings()
        specs = self.priors()
        T, first = len(arrays.years), arrays.first
        x = (arrays.co2_history - float(self.c0)) / 100.0  # (H,) hundreds of ppm above C_0
        coords = {"year": arrays.years, "term": arrays.term_names}
        if self.use_models:
            coords["model"] = arrays.model_names
        with pm.Model(coords=coords) as model:
            eps_ref = specs["eps_ref"].to_pymc("eps_ref")
            k_entry = specs["npp_scale" if self.kinetic else "k"]
            if prior_only:
                k = k_entry.to_pymc("k")
                beta_ref = pm.Deterministic("beta_ref", k * eps_ref)
            else:
                # only beta_ref = k * eps_ref is identified; sample it and keep k's prior as a potential with
                # the Jacobian 1/eps_ref (same posterior as sampling (k, eps_ref), without the ridge)
                beta_ref = pm.HalfFlat("beta_ref")
                k = pm.Deterministic("k", beta_ref / eps_ref)
                pm.Potential("k_prior", pm.logp(k_entry.to_dist(), k) - pt.log(eps_ref))
            lam = unit_scaled(specs["decline_rate"], "lam") if self.has_decline else pt.as_tensor_variable(0.0)
            npp = beta_ref * self._rel_history(lam, arrays) * x  # (H,)
            columns = [npp[:, None]]
            if self.use_models:
                rho_mu = specs["model_scale_mu"].to_pymc("rho_mu")
                rho_sigma = specs["model_scale_sigma"].to_pymc("rho_sigma")
                rho = pm.Deterministic("rho", rho_mu + rho_sigma * pm.Normal("rho_z", 0, 1, dims="model"), dims="model")
                if self.has_decline:
                    lam_models = unit_scaled(specs["decline_rate"], "lam_models")
                    lam_sigma = specs["lam_sigma"].to_pymc("lam_sigma")
                    lam_m = pm.Deterministic("lam_m", lam_models + lam_sigma * pm.Normal("lam_z", 0, 1, dims="model"),
                                             dims="model")
                else:
                    lam_m = pt.zeros(len(arrays.model_names))
                held = (np.maximum(arrays.history_years, arrays.years[0]) - self.t_ref).astype(float)[:, None]
                rel_m = self._relative_path(lam_m[None, :], pt.as_tensor_variable(held)) if self.has_decline else 1.0
                columns.append(beta_ref * pt.exp(rho)[None, :] * rel_m * x[:, None])
            npp_all = pt.concatenate(columns, axis=1) if len(columns) > 1 else columns[0]  # (H, 1 + M)
            if self.kinetic:
                tau = specs["turnover_time"].to_pymc("tau")
                mean_all = kinetic_sink(npp_all, 1.0 - pt.exp(-1.0 / tau), len(arrays.history_years))
            else:
                mean_all = npp_all
            mean = mean_all[first:]  # (T, 1 + M)
            pm.Deterministic("land_sink_mean", mean[:, 0], dims="year")

            sigma_iav = specs["iav_sigma"].to_pymc("sigma_iav")
            # centred: with 22 DGVMs plus the residual the anomaly of each year is well determined by the data,
            # the regime in which the non-centred form has the funnel (it made NUTS trees ten times deeper)
            if self.iav == "ar1":
                phi = specs["ar1"].to_pymc("phi")
                start = pm.Normal.dist(0.0, sigma_iav / pt.sqrt(1.0 - phi**2))
                eta = pm.AR("iav", rho=pt.stack([phi]), sigma=sigma_iav, init_dist=start, constant=False,
                            steps=T - 1, dims="year")
            else:
                eta = pm.Normal("iav", 0.0, sigma_iav, dims="year")

            # the systematic errors delta_j ~ Normal(0, s_j) enter linearly, R = ... + F delta + e, and are
            # integrated out: R ~ MvNormal(mean, sigma_res^2 I + F diag(s^2) F'). Sampled, the fossil and ocean
            # columns (both smooth upward trends) would form a near-flat ridge that NUTS crawls along.
            sigma_res = specs["residual_noise"].to_pymc("sigma_residual")
            pm.MvNormal("residual_obs", mean[:, 0] + eta, cov=self.budget_error_cov(arrays) + sigma_res**2 * np.eye(T),
                        observed=arrays.residual, dims="year")
            if self.use_models:
                gamma = specs["model_loading"].to_pymc("gamma", dims="model")
                sigma_m = specs["model_noise"].to_pymc("sigma_model", dims="model")
                pm.Normal("models_obs", mean[:, 1:] + gamma[None, :] * eta[:, None], sigma_m[None, :],
                          observed=arrays.models, dims=("year", "model"))
        return model

    def budget_error_cov(self, arrays: JointSinkArrays) -> np.ndarray:
        """Covariance (year x year, (GtC/yr)^2) of the residual's systematic error ``F diag(s^2) F'``, with
        ``s_j`` the prior sd of each term's relative error (priors ``error_fossil`` etc.)."""
        specs = self.priors()
        s = np.array([float(specs[TERM_PRIORS[n]].params["sigma"]) for n in arrays.term_names])
        return (arrays.terms * s**2) @ arrays.terms.T

    def build_prior_model(self, arrays: JointSinkArrays) -> pm.Model:
        return self.build_model(arrays, prior_only=True)

    # ------------------------------------------------------------------ state
    def state(self, arrays: JointSinkArrays) -> xr.Dataset:
        ds = xr.Dataset(
            {"co2_ppm": ("year", arrays.co2_history[arrays.first:], {"units": "ppm"}),
             "co2_history": ("history_year", arrays.co2_history, {"units": "ppm"}),
             "observed_residual": ("year", arrays.residual, {"units": "GtC/yr"}),
             "budget_terms": (("year", "term"), arrays.terms, {"units": "GtC/yr"}),
             "observed_models": (("year", "model"), arrays.models, {"units": "GtC/yr"})},
            coords={"year": arrays.years, "history_year": arrays.history_years, "term": arrays.term_names,
                    "model": arrays.model_names})
        return ds

    def restore(self, idata: az.InferenceData) -> None:
        self.provenance_ = json.loads(idata.posterior.attrs.get("data_provenance", "[]"))
        cd = idata.constant_data
        self.arrays_ = JointSinkArrays(
            cd["year"].values.astype(int), cd["history_year"].values.astype(int), cd["co2_history"].values,
            cd["observed_residual"].values, cd["budget_terms"].values, [str(t) for t in cd["term"].values],
            cd["observed_models"].values, [str(m) for m in cd["model"].values])

    # ------------------------------------------------------------------ results
    def _lam_name(self) -> str:
        return "lam"

    def models_decline(self) -> xr.DataArray:
        """Posterior of the DGVM population decline rate ``lam_models`` (1/yr), dims ``(chain, draw)``."""
        post = self._require_fit().posterior
        if "lam_models" not in post:
            raise InputError("this fit has no DGVM decline rate (use_models=False or decline='constant')")
        return post["lam_models"]

    def _draws(self, n: int | None, rng: np.random.Generator) -> dict[str, np.ndarray]:
        post = self._require_fit().posterior.stack(sample=("chain", "draw"))
        pick = self._pick(n, post.sizes["sample"], rng)

        def get(name: str, default: float) -> np.ndarray:
            return post[name].values[pick] if name in post else np.full(pick.size, default)

        return {"eps_ref": get("eps_ref", np.nan), "k": get("k", np.nan), "lam": get("lam", 0.0),
                "tau": get("tau", np.nan), "phi": get("phi", 0.0), "sigma": get("sigma_iav", np.nan),
                "nu": np.full(pick.size, np.inf), "chain": post["chain"].values[pick], "draw": post["draw"].values[pick]}

    def simulate(self, params: dict[str, np.ndarray], drivers: Any, shocks: np.ndarray | None = None, *,
                 decline: bool = True) -> np.ndarray:
        """The sink forward, GtC/yr ``(sample, year)`` over the years of the CO2 path ``drivers``.

        Kinetic form: the pool is spun up over the fitted CO2 history and continued along the path (the
        path's own values replace the history where both exist), so the forecast starts from the fitted
        state. ``decline=False`` holds eps at its last-fitted-year value. ``shocks`` (unit, (sample,
        year)) add the AR(1) interannual anomaly."""
        path = _co2_path(drivers)
        cd = self._require_fit().constant_data
        hist = pd.Series(cd["co2_history"].values, index=cd["history_year"].values.astype(int))
        if self.kinetic:
            if path.index.min() > hist.index.max() + 1:
                raise InputError(f"the CO2 path must start by {hist.index.max() + 1} (it continues the fitted history)")
            co2 = pd.concat([hist[hist.index < path.index.min()], path])
        else:
            co2 = path
        years = co2.index.to_numpy()
        eps = self._eps_matrix(params, np.maximum(years, self.fitted_years[0]), decline)
        npp = params["k"][:, None] * eps * ((co2.to_numpy() - float(self.c0)) / 100.0)[None, :]
        if self.kinetic:
            r = 1.0 - np.exp(-1.0 / params["tau"])
            pool = npp[:, 0] / r  # equilibrium at the spin-up start
            sink = np.empty_like(npp)
            for t in range(npp.shape[1]):
                sink[:, t] = npp[:, t] - r * pool
                pool = (1.0 - r) * pool + npp[:, t]
        else:
            sink = npp
        sink = sink[:, np.isin(years, path.index.to_numpy())]
        if shocks is not None:
            sink = sink + ar1_anomalies(params["phi"], params["sigma"], np.asarray(shocks, dtype=float))
        return sink

    def simulate_observations(self, arrays: JointSinkArrays, truth: dict[str, Any],
                              rng: np.random.Generator) -> dict[str, Any]:
        """Synthetic data on the design of ``arrays`` (years, CO2 history, budget terms, DGVM names) from known
        parameters, the same process :meth:`build_model` fits: a dict as :func:`load_joint_sink_data`
        returns, for recovery tests.

        ``truth``: ``eps_ref, k, lam, sigma_iav, phi, sigma_residual`` (and ``tau`` for the kinetic form);
        with models ``rho, lam_m, gamma, sigma_model`` (arrays over the DGVMs); ``delta`` (one relative
        error per budget term, default drawn from the priors)."""
        x = (arrays.co2_history - float(self.c0)) / 100.0
        held = (np.maximum(arrays.history_years, arrays.years[0]) - self.t_ref).astype(float)
        lam_m = np.asarray(truth.get("lam_m", []), dtype=float)
        rel = self._relative_path(np.concatenate([[truth["lam"]], lam_m])[None, :], held[:, None]) \
            if self.has_decline else np.ones((len(held), 1 + lam_m.size))
        scale = truth["k"] * truth["eps_ref"] * np.concatenate([[1.0], np.exp(np.asarray(truth.get("rho", []), float))])
        npp = scale[None, :] * rel * x[:, None]
        mean = kinetic_sink(npp, 1.0 - np.exp(-1.0 / truth["tau"]), len(x), lib=np) if self.kinetic else npp
        mean = mean[arrays.first:]
        T = len(arrays.years)
        phi = truth["phi"] if self.iav == "ar1" else 0.0
        eta = ar1_anomalies(np.array([phi]), np.array([truth["sigma_iav"]]), rng.standard_normal((1, T)))[0]
        specs = self.priors()
        delta = np.asarray(truth.get("delta", [rng.normal(0.0, float(specs[TERM_PRIORS[n]].params["sigma"]))
                                                for n in arrays.term_names]), dtype=float)
        residual = mean[:, 0] + eta + arrays.terms @ delta + truth["sigma_residual"] * rng.standard_normal(T)
        models = (mean[:, 1:] + np.asarray(truth.get("gamma", []), float)[None, :] * eta[:, None]
                  + np.asarray(truth.get("sigma_model", []), float)[None, :] * rng.standard_normal((T, lam_m.size)))
        budget = pd.DataFrame({"year": arrays.years, **{n: arrays.terms[:, j] for j, n in enumerate(arrays.term_names)},
                               "residual": residual})
        names = arrays.model_names[:lam_m.size]
        return {"budget": budget, "models": pd.DataFrame(models, index=arrays.years, columns=names),
                "co2": pd.DataFrame({"year": arrays.history_years, "co2_ppm": arrays.co2_history}), "provenance": []}

    def sink_fit_check(self, *, random_seed: Any = 0, prob: float = 0.94) -> pd.DataFrame:
        """Posterior predictive check of the mean budget residual over the fitted years (GtC/yr): the fitted
        mean sink plus the common anomaly, plus a fresh draw of the systematic budget error and of the random
        error (their year-means), against the observed residual mean."""
        idata = self._require_fit()
        post = idata.posterior.stack(sample=("chain", "draw"))
        arrays = self.arrays_
        rng = np.random.default_rng(random_seed)
        n, T = post.sizes["sample"], len(arrays.years)
        weights = np.full(T, 1.0 / T)
        bias_sd = float(np.sqrt(weights @ self.budget_error_cov(arrays) @ weights))
        replicate = ((post["land_sink_mean"] + post["iav"]).mean("year").values + bias_sd * rng.standard_normal(n)
                     + post["sigma_residual"].values / np.sqrt(T) * rng.standard_normal(n))
        lo, hi = np.quantile(replicate, [(1 - prob) / 2, (1 + prob) / 2])
        obs = float(arrays.residual.mean())
        table = pd.DataFrame({"observed_mean": [obs], "predicted_mean": [float(replicate.mean())], "lower": [float(lo)],
                              "upper": [float(hi)], "inside": [bool(lo <= obs <= hi)]},
                             index=pd.Index(["budget_residual"], name="series"))
        table.attrs = {"units": "GtC/yr", "prob": prob}
        return table
