"""Global land carbon sink driven by CO2 fertilisation, with a CFE sensitivity that may decline over time.

The model
---------
The annual global land sink ``S_t`` (GtC/yr, Global Carbon Budget; positive = uptake) responds to the
atmospheric CO2 excess over pre-industrial ``C_t - C_0`` (ppm; NOAA Mauna Loa annual means, ``C_0`` = 280
ppm by default)::

    S_t = k * eps(t) * (C_t - C_0) / 100 + e_t,      e_t = phi * e_{t-1} + u_t,   u_t ~ Normal or Student-t(0, sigma)

``eps(t)`` is the CO2 fertilisation effect (CFE) sensitivity of vegetation photosynthesis in % per 100 ppm
and ``k`` (GtC/yr per %) the part of the extra photosynthesis retained as a net sink. Three paths of the
sensitivity (``decline=``), with ``t_ref`` = 1982 by default:

* ``"exponential"`` (default): ``eps(t) = eps_ref * exp(-lam * (t - t_ref))``; half-life ``ln 2 / lam``.
* ``"linear"``: ``eps(t) = eps_ref * max(1 - lam * (t - t_ref), 0)``. The floor keeps the sensitivity
  non-negative (a fertilisation effect cannot turn into damage); it binds only where the line reaches
  zero, e.g. in long projections (at ``t_ref + 1/lam``).
* ``"constant"``: ``eps(t) = eps_ref`` (no ``lam``; :meth:`~GlobalLandSinkModel.p_decline` is 0 by
  construction).

``e_t`` is AR(1) (``residuals="ar1"``, default; ENSO and volcanic anomalies persist a year or two) or
independent (``"iid"``). The first year uses the stationary scale ``sigma / sqrt(1 - phi^2)``.

What the data identify
----------------------
With ``k`` free, the sink data identify only the product ``k * eps(t)``: its level and its change over time.
They therefore determine the **relative** path ``eps(t) / eps_ref`` and the decline rate ``lam`` (and
``P(lam > 0)``), but **not** the absolute sensitivity at ``t_ref``: that leans on the prior of ``eps_ref``,
centred on the ~21 % per 100 ppm reported for 1982 by Wang et al. (2020, Science 370:1295-1300; ref. 34 of
the project's seed paper), who found a decline to ~12 % per 100 ppm by 2015. The posterior of ``eps_ref``
stays close to that prior (on the GCB data about 19.6 [90 %: 10.6-28.2] against the prior's 21 +- 5; the
small shift comes from the shape of the ``k`` prior, not from information about eps), and any absolute
``eps(2015)`` inherits its width. Quote ``eps(t)/eps(t_ref)`` (:meth:`GlobalLandSinkModel.cfe_ratio`) or
``lam`` when the data's evidence is meant.

Sampling: because only ``beta_ref = k * eps_ref`` (GtC/yr per 100 ppm at ``t_ref``) is identified, ``k``
and ``eps_ref`` lie on a ridge that NUTS explores badly. The model therefore samples ``beta_ref`` and
``eps_ref`` and derives ``k = beta_ref / eps_ref``, with the library prior of ``k`` added as a potential
with its Jacobian (``1/eps_ref``): the posterior of ``(k, eps_ref)`` is unchanged (checked against the
priors by sampling without data), only the geometry improves. The pooled view does the same with
``log_beta_mu = log_k_mu + log eps_ref``. Wang et al. measure the CFE
on photosynthesis; here a decline of the *sink* per unit CO2 excess is read as a decline of the CFE, so
everything else that bends the land sink (warming, drought, nitrogen deposition, forest regrowth, the
GCB's land-use-change accounting) is folded into ``lam`` and ``e_t``. Treat ``lam`` as "the trend of
the sink's CO2 sensitivity", an upper or lower bound on the photosynthetic CFE trend depending on how
those other drivers moved.

Pooled view (``pooled=True``)
-----------------------------
Fits the 22 dynamic global vegetation models (DGVMs) of the GCB 2025 "Terrestrial Sink" sheet (S2
simulations: CO2 + climate, fixed land use) jointly: series-specific ``k_m = exp(log_k_mu + log_k_sigma
z_m)`` and ``lam_m ~ Normal(lam_mu, lam_sigma)`` (non-centred), series-specific noise scales, shared
``eps_ref`` and ``phi``. :meth:`cfe_path`, :meth:`p_decline`, :meth:`half_life` and :meth:`decline_rate`
then report the population path (``lam_mu``); :meth:`series_decline_rates` gives ``lam_m``. This is how
the *models* behave; Wang et al. (2020) note that carbon-cycle models show a much weaker CFE decline
than the observations.

Data
----
:func:`load_land_sink_data` pairs the GCB land sink (``gcb2025_global_budget.csv``; years before 1959
from ``gcb2025_historical_budget.csv``) with NOAA Mauna Loa CO2 (Law Dome spline before 1959);
:func:`load_land_sink_models` gives the DGVM series. Files are found in ``data_dir``, else in
``$CARBON_FORECAST_DATA``; provenance (path, sha256, size) is recorded with the fit.

Units: sink GtC/yr; CO2 ppm; eps % (increase of photosynthesis) per 100 ppm; k GtC/yr per %; lam 1/yr.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from pytensor.graph.basic import Variable

from forecast.data.gcb import (
    DGVM_SERIES,
    check_year_range,
    load_land_sink_data,
    load_land_sink_models,
    validate_sink_data,
    year_list,
)
from forecast.errors import InputError, ModelStateError, did_you_mean
from forecast.models.base import BayesianModel

__all__ = [
    "DECLINES",
    "DGVM_SERIES",
    "GlobalLandSinkModel",
    "load_land_sink_data",
    "load_land_sink_models",
    "validate_sink_data",
]

MODEL_VERSION = "land-sink-cfe-1"
DECLINES = ("exponential", "linear", "constant")
RESIDUALS = ("ar1", "iid")
LIKELIHOODS = ("normal", "studentt")
SINK_UNITS = "GtC/yr"
CFE_UNITS = "% per 100 ppm"

@dataclass(frozen=True)
class SinkArrays:
    """Validated data for the likelihood: ``sink`` is (year, series); one series unless pooled."""

    years: np.ndarray  # (T,) int
    co2: np.ndarray  # (T,) ppm
    sink: np.ndarray  # (T, M) GtC/yr
    series: list[str]


def _prepare(data: pd.DataFrame, *, pooled: bool, years: tuple[int, int] | None) -> SinkArrays:
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if years is not None:
        first, last = check_year_range(years)
        if "year" in data.columns:
            yr = pd.to_numeric(data["year"], errors="coerce")
            data = data.loc[(yr >= first) & (yr <= last)]
    if not pooled:
        clean = validate_sink_data(data)
        name = str(data.attrs.get("series", "land_sink")) if isinstance(data.attrs.get("series"), str) else "land_sink"
        return SinkArrays(clean["year"].to_numpy(), clean["co2_ppm"].to_numpy(), clean["land_sink"].to_numpy()[:, None], [name])
    if "series" not in data.columns:
        raise InputError("pooled data need a 'series' column (long format: year, series, land_sink, co2_ppm)")
    names = list(dict.fromkeys(data["series"].astype(str)))
    if len(names) < 2:
        raise InputError(f"the pooled view needs at least 2 series, got {len(names)}")
    cleaned = [validate_sink_data(data[data["series"].astype(str) == n], label=f"land-sink series {n!r}") for n in names]
    base = cleaned[0]
    for n, c in zip(names[1:], cleaned[1:]):
        if not np.array_equal(c["year"].to_numpy(), base["year"].to_numpy()):
            raise InputError(f"series {n!r} covers other years than {names[0]!r}; all series need the same years")
        if not np.allclose(c["co2_ppm"].to_numpy(), base["co2_ppm"].to_numpy()):
            raise InputError(f"series {n!r} has other co2_ppm values than {names[0]!r}; CO2 must be shared")
    sink = np.column_stack([c["land_sink"].to_numpy() for c in cleaned])
    return SinkArrays(base["year"].to_numpy(), base["co2_ppm"].to_numpy(), sink, names)


def _co2_path(co2_path: Any, label: str = "co2_path") -> pd.Series:
    """A CO2 path (ppm by year) from a Series, DataArray, ``year, co2_ppm`` DataFrame or CO2Scenario."""
    if hasattr(co2_path, "to_dataarray") and not isinstance(co2_path, (pd.Series, pd.DataFrame, xr.DataArray)):
        co2_path = co2_path.to_dataarray()
    if isinstance(co2_path, xr.DataArray):
        if co2_path.dims != ("year",):
            raise InputError(f"{label}: a DataArray must have the single dimension 'year', got {co2_path.dims}")
        series = pd.Series(co2_path.values, index=co2_path["year"].values)
    elif isinstance(co2_path, pd.DataFrame):
        if not {"year", "co2_ppm"} <= set(co2_path.columns):
            raise InputError(f"{label}: a DataFrame needs columns year and co2_ppm")
        series = pd.Series(co2_path["co2_ppm"].to_numpy(), index=co2_path["year"].to_numpy())
    elif isinstance(co2_path, pd.Series):
        series = co2_path
    else:
        raise InputError(f"{label}: expected a pandas Series or xarray DataArray of ppm by year, got {type(co2_path).__name__}")
    if len(series) == 0:
        raise InputError(f"{label}: the path is empty")
    year = pd.to_numeric(pd.Series(series.index), errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(year).all() or (year % 1 != 0).any():
        raise InputError(f"{label}: the index must hold whole years")
    steps = np.diff(year)
    if (steps <= 0).any():
        i = int(np.argmax(steps <= 0))
        raise InputError(f"{label}: years must be strictly increasing (year {int(year[i + 1])} follows {int(year[i])})")
    ppm = pd.to_numeric(pd.Series(series.to_numpy()), errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(ppm) | (ppm <= 0)
    if bad.any():
        raise InputError(f"{label}: CO2 must be positive and finite (ppm); bad year(s): {year_list([int(y) for y in year[bad]])}")
    return pd.Series(ppm, index=pd.Index(year.astype(int), name="year"), name="co2_ppm")


# ----------------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------------


def ar1_anomalies(phi: np.ndarray, sigma: np.ndarray, shocks: np.ndarray) -> np.ndarray:
    """AR(1) anomalies ``(sample, year)`` from unit shocks: ``e_0 = σ ε_0/√(1−φ²)`` (stationary start),
    ``e_t = φ e_{t−1} + σ ε_t``; ``phi``, ``sigma`` per sample."""
    scaled = shocks * sigma[:, None]
    e = np.empty_like(scaled)
    e[:, 0] = scaled[:, 0] / np.sqrt(1.0 - phi**2)
    for t in range(1, scaled.shape[1]):
        e[:, t] = phi * e[:, t - 1] + scaled[:, t]
    return e


class GlobalLandSinkModel(BayesianModel):
    """Global land sink vs atmospheric CO2 with a (possibly declining) CO2 fertilisation effect.

    See the module docstring for the equations and for what the data can and cannot identify.

    Parameters
    ----------
    model_config:
        Prior overrides by name, e.g. ``{"sinks.eps_ref": {"params": {"sigma": 8.0}}}`` (the ``sinks.``
        prefix may be omitted). Unknown names raise :class:`~forecast.errors.PriorError` (an InputError).
    decline:
        ``"exponential"`` (default), ``"linear"`` or ``"constant"`` path of the CFE sensitivity.
    t_ref:
        Reference year of ``eps_ref`` (default 1982, the first year of Wang et al. 2020).
    c0:
        Pre-industrial CO2 in ppm (default 280).
    residuals:
        ``"ar1"`` (default) or ``"iid"``.
    likelihood:
        ``"normal"`` (default) or ``"studentt"`` (heavy-tailed anomalies; adds ``nu``).
    pooled:
        Fit the 22 GCB DGVM series hierarchically instead of one sink series (see the module docstring).
    """

    name = "land_sink"
    version = MODEL_VERSION
    family = "sinks"

    def __init__(
        self,
        model_config: dict[str, Any] | None = None,
        *,
        decline: str = "exponential",
        t_ref: int = 1982,
        c0: float = 280.0,
        residuals: str = "ar1",
        likelihood: str = "normal",
        pooled: bool = False,
    ):
        super().__init__(model_config)
        self.decline = decline
        self.t_ref = t_ref
        self.c0 = c0
        self.residuals = residuals
        self.likelihood = likelihood
        self.pooled = pooled
        self.provenance_: list[dict[str, Any]] = []
        self.check_settings()
        self.priors()  # unknown override names fail here, not at fit time

    # ------------------------------------------------------------------ settings
    def check_settings(self) -> None:
        for label, value, allowed in (
            ("decline", self.decline, DECLINES),
            ("residuals", self.residuals, RESIDUALS),
            ("likelihood", self.likelihood, LIKELIHOODS),
        ):
            if value not in allowed:
                raise InputError(f"{label} must be one of {', '.join(allowed)}, got {value!r}"
                                 f"{did_you_mean(value, allowed, n=1)}")
        if isinstance(self.t_ref, bool) or not isinstance(self.t_ref, (int, np.integer)):
            raise InputError(f"t_ref must be a whole year, got {self.t_ref!r}")
        if isinstance(self.c0, bool) or not isinstance(self.c0, (int, float)) or not (0 < float(self.c0) < 1000):
            raise InputError(f"c0 must be a pre-industrial CO2 concentration in ppm (0-1000), got {self.c0!r}")
        if not isinstance(self.pooled, bool):
            raise InputError(f"pooled must be True or False, got {self.pooled!r}")

    @property
    def has_decline(self) -> bool:
        return self.decline != "constant"

    def _terms(self) -> list[tuple[str, str]]:
        """(prior entry, posterior variable) pairs in use."""
        terms = [("eps_ref", "eps_ref")]
        if self.pooled:
            terms += [("log_k_mu", "log_k_mu"), ("log_k_sigma", "log_k_sigma")]
            if self.has_decline:
                terms += [("decline_rate", "lam_mu"), ("lam_sigma", "lam_sigma")]
        else:
            terms.append(("k", "k"))
            if self.has_decline:
                terms.append(("decline_rate", "lam"))
        terms.append(("noise_sigma", "sigma"))
        if self.residuals == "ar1":
            terms.append(("ar1", "phi"))
        if self.likelihood == "studentt":
            terms.append(("nu", "nu"))
        return terms

    def prior_terms(self) -> list[str]:
        return [p for p, _ in self._terms()]

    def parameter_names(self) -> list[str]:
        names = [v for _, v in self._terms()]
        if self.pooled:
            names += ["k"] + (["lam"] if self.has_decline else [])
        return names

    # ------------------------------------------------------------------ model
    def _relative_path(self, lam, dt):
        """eps(t)/eps_ref for decline rate ``lam`` and ``dt = t - t_ref`` (pytensor or numpy)."""
        lib = pt if isinstance(lam, Variable) or isinstance(dt, Variable) else np
        if self.decline == "exponential":
            return lib.exp(-lam * dt)
        if self.decline == "linear":
            return lib.maximum(1.0 - lam * dt, 0.0)
        return lam * 0.0 + dt * 0.0 + 1.0

    def build_prior_model(self, data: SinkArrays) -> pm.Model:
        return self.build_model(data, prior_only=True)

    def build_model(self, data: SinkArrays, *, prior_only: bool = False) -> pm.Model:
        """The PyMC model for prepared arrays (no sampling). ``prior_only`` samples ``k`` / ``log_k_mu``
        from their priors directly instead of the ridge-free flat parameterisation used for fitting (which
        cannot be drawn forward)."""
        self.check_settings()
        specs = self.priors()
        T, M = data.sink.shape
        coords = {"year": data.years.astype(int), "series": data.series}
        dt = (data.years - self.t_ref).astype(float)[:, None]  # (T, 1)
        x = ((data.co2 - float(self.c0)) / 100.0)[:, None]  # (T, 1), hundreds of ppm above C_0
        with pm.Model(coords=coords) as model:
            sink = pm.Data("land_sink", data.sink, dims=("year", "series"))
            eps_ref = specs["eps_ref"].to_pymc("eps_ref")
            if self.pooled:
                # log_k_mu and log(eps_ref) form a ridge (only their sum is identified); sample the sum
                # log_beta_mu = log_k_mu + log(eps_ref) instead and put the library prior on log_k_mu
                # through a Potential (unit Jacobian): the same posterior, without the ridge.
                if prior_only:
                    log_k_mu = specs["log_k_mu"].to_pymc("log_k_mu")
                else:
                    log_beta_mu = pm.Flat("log_beta_mu")
                    log_k_mu = pm.Deterministic("log_k_mu", log_beta_mu - pt.log(eps_ref))
                    pm.Potential("log_k_mu_prior", pm.logp(specs["log_k_mu"].to_dist(), log_k_mu))
                log_k_sigma = specs["log_k_sigma"].to_pymc("log_k_sigma")
                k_z = pm.Normal("k_z", 0.0, 1.0, dims="series")
                k = pm.Deterministic("k", pt.exp(log_k_mu + log_k_sigma * k_z), dims="series")
                if self.has_decline:
                    lam_mu = specs["decline_rate"].to_pymc("lam_mu")
                    lam_sigma = specs["lam_sigma"].to_pymc("lam_sigma")
                    lam_z = pm.Normal("lam_z", 0.0, 1.0, dims="series")
                    lam = pm.Deterministic("lam", lam_mu + lam_sigma * lam_z, dims="series")
                else:
                    lam = pt.zeros(M)
                sigma = specs["noise_sigma"].to_pymc("sigma", dims="series")
                k_row, lam_row, sigma_row = k[None, :], lam[None, :], sigma[None, :]
            else:
                # k and eps_ref form a ridge (only beta_ref = k * eps_ref is identified). Sample beta_ref
                # and eps_ref; k = beta_ref / eps_ref keeps its library prior through a Potential with the
                # Jacobian |dk/dbeta_ref| = 1/eps_ref, so the posterior is exactly that of (k, eps_ref).
                if prior_only:
                    k_row = specs["k"].to_pymc("k")
                else:
                    beta_ref = pm.HalfFlat("beta_ref")
                    k_row = pm.Deterministic("k", beta_ref / eps_ref)
                    pm.Potential("k_prior", pm.logp(specs["k"].to_dist(), k_row) - pt.log(eps_ref))
                lam_row = specs["decline_rate"].to_pymc("lam") if self.has_decline else pt.as_tensor_variable(0.0)
                sigma_row = specs["noise_sigma"].to_pymc("sigma")
            eps = eps_ref * self._relative_path(lam_row, pt.as_tensor_variable(dt))
            mean = k_row * eps * x  # (T, M)
            scale = sigma_row * pt.ones((T, M))
            if self.residuals == "ar1":
                phi = specs["ar1"].to_pymc("phi")
                resid = sink - mean
                lagged = pt.concatenate([pt.zeros((1, M)), resid[:-1]], axis=0)
                mean = mean + phi * lagged
                first = pt.concatenate([pt.ones((1, M)) / pt.sqrt(1.0 - phi**2), pt.ones((T - 1, M))], axis=0)
                scale = scale * first
            if self.likelihood == "studentt":
                nu = specs["nu"].to_pymc("nu")
                pm.StudentT("sink_obs", nu=nu, mu=mean, sigma=scale, observed=sink, dims=("year", "series"))
            else:
                pm.Normal("sink_obs", mu=mean, sigma=scale, observed=sink, dims=("year", "series"))
        return model

    def prepare(self, data: pd.DataFrame | None = None, *, years: tuple[int, int] | None = (1959, 2024),
                data_dir: str | os.PathLike[str] | None = None) -> SinkArrays:
        """The fitted series, checked: ``data`` is a DataFrame ``year, land_sink, co2_ppm`` (GtC/yr, ppm;
        long format with a ``series`` column when pooled); ``None`` loads the GCB land sink (pooled: the
        22 DGVMs) and NOAA CO2 for ``years`` from ``data_dir`` / ``$CARBON_FORECAST_DATA``. Given ``data``
        are restricted to the rows within ``years`` (``years=None`` keeps all). ``fit(data, years=...,
        data_dir=...)`` passes them here."""
        if data is None:
            span = (1959, 2024) if years is None else years
            data = load_land_sink_models(data_dir, years=span) if self.pooled else load_land_sink_data(data_dir, years=span)
        self.provenance_ = list(getattr(data, "attrs", {}).get("provenance", []) or [])
        return _prepare(data, pooled=self.pooled, years=years)

    def state(self, data: SinkArrays) -> xr.Dataset:
        """The fitted CO2 and sink series (``constant_data``): later projections read the fitted years."""
        observed = xr.Dataset(
            {"co2_ppm": ("year", data.co2), "observed_land_sink": (("year", "series"), data.sink)},
            coords={"year": data.years.astype(int), "series": data.series},
        )
        observed["co2_ppm"].attrs["units"] = "ppm"
        observed["observed_land_sink"].attrs["units"] = SINK_UNITS
        return observed

    def fit_attrs(self, data: SinkArrays) -> dict[str, Any]:
        return {"data_provenance": json.dumps(self.provenance_, default=str)}

    def restore(self, idata: az.InferenceData) -> None:
        self.provenance_ = json.loads(idata.posterior.attrs.get("data_provenance", "[]"))
        cd = idata.constant_data
        self.arrays_ = SinkArrays(cd["year"].values.astype(int), cd["co2_ppm"].values,
                                  cd["observed_land_sink"].values, [str(s) for s in cd["series"].values])

    @property
    def data_(self) -> SinkArrays | None:
        """The fitted series (after a fit or a load)."""
        return self.arrays_

    # ------------------------------------------------------------------ results
    @property
    def fitted_years(self) -> np.ndarray:
        return self._require_fit().constant_data["year"].values.astype(int)

    @property
    def last_fitted_year(self) -> int:
        return int(self.fitted_years.max())

    def _lam_name(self) -> str:
        return "lam_mu" if self.pooled else "lam"

    def _lam(self) -> xr.DataArray:
        post = self._require_fit().posterior
        if not self.has_decline:
            return xr.zeros_like(post["eps_ref"])
        return post[self._lam_name()]

    def _years(self, years: Any) -> np.ndarray:
        arr = np.atleast_1d(np.asarray(list(years) if not np.isscalar(years) else [years], dtype=float))
        if arr.size == 0 or not np.isfinite(arr).all() or (arr % 1 != 0).any():
            raise InputError(f"years must be whole years, got {years!r}")
        return arr.astype(int)

    def cfe_path(self, years: Any) -> xr.DataArray:
        """Posterior of the CFE sensitivity eps(t) in % per 100 ppm, dims ``(chain, draw, year)``.

        ``years``: one year or an iterable (e.g. ``range(1982, 2016)``). Pooled: the population path
        (``lam_mu``). The absolute level leans on the ``eps_ref`` prior (module docstring); the ratio
        ``eps(t2)/eps(t1)`` is what the sink data identify.
        """
        post = self._require_fit().posterior
        yrs = self._years(years)
        dt = xr.DataArray((yrs - self.t_ref).astype(float), dims="year", coords={"year": yrs})
        lam = self._lam()
        rel = self._relative_path(lam, dt) if self.has_decline else xr.ones_like(lam) * xr.ones_like(dt)
        out = (post["eps_ref"] * rel).transpose("chain", "draw", "year")
        out.name = "cfe"
        out.attrs = {"units": CFE_UNITS, "long_name": "CO2 fertilisation effect on photosynthesis",
                     "decline": self.decline, "t_ref": self.t_ref}
        return out

    def cfe_summary(self, years: Any = (1982, 2015), quantiles=(0.05, 0.5, 0.95)) -> pd.DataFrame:
        """Mean and quantiles (default 5/50/95 %) of eps(t) per year, % per 100 ppm; index ``year``,
        columns ``mean, q05, q50, q95``. ``years`` lists the years (pass a range for every year)."""
        path = self.cfe_path(years).stack(sample=("chain", "draw"))
        table = pd.DataFrame({"mean": path.mean("sample").to_series()})
        for q in quantiles:
            table[f"q{int(round(q * 100)):02d}"] = path.quantile(q, dim="sample").drop_vars("quantile").to_series()
        table.index.name = "year"
        table.attrs["units"] = CFE_UNITS
        return table

    def cfe_ratio(self, year: int = 2015, base_year: int | None = None) -> xr.DataArray:
        """Posterior of eps(year)/eps(base_year) (default base: ``t_ref``), dims ``(chain, draw)``: the
        part of the CFE path the sink data identify without leaning on the eps_ref prior."""
        base = self.t_ref if base_year is None else base_year
        path = self.cfe_path([base, year])
        ratio = path.sel(year=year) / path.sel(year=base)
        ratio.attrs = {"units": "1", "long_name": f"eps({year}) / eps({base})"}
        return ratio.drop_vars("year", errors="ignore")

    def p_decline(self) -> float:
        """Posterior probability that the CFE declines, P(lam > 0) (pooled: P(lam_mu > 0)).

        For ``decline="constant"`` this is 0 by construction (the model has no decline parameter), not
        evidence against a decline.
        """
        self._require_fit()
        if not self.has_decline:
            return 0.0
        return float((self._lam() > 0).mean())

    def decline_rate(self) -> xr.DataArray:
        """Posterior of the decline rate lam (1/yr), dims ``(chain, draw)``; pooled: ``lam_mu``.

        Exponential: relative decline of eps per year; linear: decline per year as a fraction of eps_ref;
        constant: 0 in every draw.
        """
        lam = self._lam().copy()
        lam.name = "decline_rate"
        lam.attrs = {"units": "1/yr", "decline": self.decline}
        return lam

    def half_life(self) -> xr.DataArray:
        """Posterior of the CFE half-life ln 2 / lam in years, dims ``(chain, draw)``; NaN where lam <= 0
        (no decline). Only for ``decline="exponential"``."""
        if self.decline != "exponential":
            raise ModelStateError(f"half_life() needs decline='exponential'; this model has decline={self.decline!r}")
        lam = self._lam()
        with np.errstate(divide="ignore", invalid="ignore"):
            hl = xr.where(lam > 0, math.log(2.0) / lam.where(lam > 0), np.nan)
        hl.name = "half_life"
        hl.attrs = {"units": "yr", "long_name": "CFE half-life ln(2)/lam (NaN where lam <= 0)"}
        return hl

    def series_decline_rates(self) -> xr.DataArray:
        """Pooled view: posterior of each DGVM's decline rate lam_m (1/yr), dims ``(chain, draw, series)``."""
        if not self.pooled or not self.has_decline:
            raise ModelStateError("series_decline_rates() needs pooled=True and a declining CFE path")
        return self._require_fit().posterior["lam"]

    # ------------------------------------------------------------------ draws and prediction
    @staticmethod
    def _pick(n: int | None, total: int, rng: np.random.Generator) -> np.ndarray:
        """Which of ``total`` stacked posterior draws to use: all, in order, when ``n`` is None; else ``n`` at
        random, with replacement only if ``n`` exceeds ``total``."""
        if n is None:
            return np.arange(total)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise InputError(f"draws must be a positive integer or None, got {n!r}")
        return rng.choice(total, size=int(n), replace=int(n) > total)

    def _draws(self, n: int | None, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Posterior draws (all, in order, when ``n`` is None; else ``n`` picked at random, with replacement
        only if ``n`` exceeds the draws available). Pooled: population values (k = exp(log_k_mu))."""
        post = self._require_fit().posterior.stack(sample=("chain", "draw"))
        pick = self._pick(n, post.sizes["sample"], rng)
        size = pick.size

        def get(name: str, default: float) -> np.ndarray:
            return post[name].values[pick] if name in post else np.full(size, default)

        out = {"eps_ref": get("eps_ref", np.nan), "phi": get("phi", 0.0), "nu": get("nu", np.inf),
               "chain": post["chain"].values[pick], "draw": post["draw"].values[pick]}
        if self.pooled:
            out["k"] = np.exp(post["log_k_mu"].values[pick])
            out["lam"] = get("lam_mu", 0.0)
            sigma = post["sigma"].transpose("sample", "series").values[pick]
            out["sigma"] = np.exp(np.log(sigma).mean(axis=1))  # a typical series' noise
        else:
            out["k"] = post["k"].values[pick]
            out["lam"] = get("lam", 0.0)
            out["sigma"] = post["sigma"].values[pick]
        return out

    def _eps_matrix(self, params: dict[str, np.ndarray], years: np.ndarray, decline: bool) -> np.ndarray:
        """eps(t) in % per 100 ppm, (sample, year); ``decline=False`` freezes it after the last fitted year."""
        yrs = years.astype(float)
        if not decline:
            yrs = np.minimum(yrs, float(self.last_fitted_year))
        dt = (yrs - self.t_ref)[None, :]
        return params["eps_ref"][:, None] * self._relative_path(params["lam"][:, None], dt) * np.ones_like(dt)

    def project(
        self,
        co2_path: Any,
        *,
        draws: int | None = 1000,
        random_seed: Any = None,
        decline: bool = True,
        noise: bool = False,
    ) -> xr.DataArray:
        """Global land sink (GtC/yr) under a CO2 path, one row per posterior draw: dims ``(sample, year)``.

        ``S_t = k * eps(t) * (C_t - C_0)/100`` for each draw. ``co2_path``: ppm by year (pandas Series
        indexed by year, DataArray with dim ``year``, ``year, co2_ppm`` DataFrame or a CO2Scenario).
        ``decline=False`` holds eps at its value in the last fitted year from then on (the "constant CFE
        from now on" counterfactual; years up to the last fitted year are unchanged). With the same
        ``random_seed`` the same posterior draws are used, so ``project(..., decline=False) -
        project(..., decline=True)`` is a paired gap. ``noise=True`` adds AR(1) interannual variability
        (needs consecutive years); by default the mean sink is returned. Pooled: a typical DGVM
        (``k = exp(log_k_mu)``, population decline ``lam_mu``).
        """
        path = _co2_path(co2_path)
        years = path.index.to_numpy()
        rng = np.random.default_rng(random_seed)
        params = self._draws(draws, rng)
        sink = self.simulate(params, path, None, decline=decline)
        if noise:
            if (np.diff(years) != 1).any():
                raise InputError("noise=True needs a CO2 path over consecutive years")
            sink = sink + self._simulate_noise(params, len(years), rng)
        out = xr.DataArray(
            sink, dims=("sample", "year"), coords={"sample": np.arange(sink.shape[0]), "year": years},
            name="land_sink",
        )
        out.attrs = {"units": SINK_UNITS, "long_name": "global land carbon sink (positive = uptake)",
                     "cfe": "declining as fitted" if decline else f"held at its {self.last_fitted_year} value",
                     "interannual_noise": bool(noise)}
        return out

    def cfe_multiplier(
        self,
        co2_path: Any,
        base_year: int,
        *,
        draws: int | None = 1000,
        random_seed: Any = None,
        decline: bool = True,
    ) -> xr.DataArray:
        """CO2-fertilisation multiplier of an ecosystem's sequestration rate relative to ``base_year``.

        ``m(t) = 1 + eps(t)/100 * (C_t - C_base)/100``, dimensionless, dims ``(sample, year)`` over the
        years of ``co2_path``: eps(t) is this model's CFE sensitivity in year t (% increase of
        photosynthesis per 100 ppm, one posterior draw per sample), ``C_t`` the path's CO2 (ppm) and
        ``C_base`` the CO2 in ``base_year`` (from ``co2_path`` if it holds that year, else from the fitted
        NOAA data). ``m(base_year) = 1``; a sequestration rate measured around ``base_year`` is multiplied
        by ``m(t)`` to account for the extra (or, below ``C_base``, reduced) CO2 fertilisation. The
        sensitivity is applied to photosynthesis and carried over proportionally to the sink rate (as in
        the model's own S = k * eps * dC). ``decline=False`` holds eps at its last-fitted-year value from
        then on. The same ``random_seed`` picks the same posterior draws as :meth:`project`.
        """
        path = _co2_path(co2_path)
        if isinstance(base_year, bool) or not isinstance(base_year, (int, np.integer)):
            raise InputError(f"base_year must be a whole year, got {base_year!r}")
        base_year = int(base_year)
        if base_year in path.index:
            c_base = float(path.loc[base_year])
        elif base_year in self.fitted_years:
            c_base = float(self._require_fit().constant_data["co2_ppm"].sel(year=base_year))
        else:
            raise InputError(
                f"base_year {base_year} is neither in co2_path ({path.index.min()}-{path.index.max()}) nor in the "
                f"fitted data ({self.fitted_years.min()}-{self.fitted_years.max()})"
            )
        years = path.index.to_numpy()
        rng = np.random.default_rng(random_seed)
        params = self._draws(draws, rng)
        eps = self._eps_matrix(params, years, decline)
        m = 1.0 + eps / 100.0 * ((path.to_numpy() - c_base) / 100.0)[None, :]
        out = xr.DataArray(m, dims=("sample", "year"), coords={"sample": np.arange(m.shape[0]), "year": years},
                           name="cfe_multiplier")
        out.attrs = {"units": "1", "long_name": f"CO2-fertilisation multiplier relative to {base_year}",
                     "base_year": base_year, "base_co2_ppm": c_base,
                     "cfe": "declining as fitted" if decline else f"held at its {self.last_fitted_year} value"}
        return out

    def _simulate_noise(self, params: dict[str, np.ndarray], T: int, rng: np.random.Generator) -> np.ndarray:
        """AR(1) anomalies (sample, T) started from the stationary distribution, shocks drawn from ``rng``."""
        nu = params["nu"]
        finite = np.isfinite(nu)[:, None]
        shocks = np.where(finite, rng.standard_t(np.where(finite[:, 0], nu, 1.0)[:, None], size=(nu.size, T)),
                          rng.standard_normal((nu.size, T)))
        return ar1_anomalies(params["phi"], params["sigma"], shocks)

    def simulate(self, params: dict[str, np.ndarray], drivers: Any, shocks: np.ndarray | None = None, *,
                 decline: bool = True) -> np.ndarray:
        """The sink process forward, GtC/yr ``(sample, year)``: ``S_t = k ε(t) (C_t − C_0)/100`` plus, given
        unit ``shocks`` ``(sample, year)``, AR(1) anomalies ``e_t = φ e_{t−1} + σ ε_t``.

        ``params``: ``eps_ref, lam, k, sigma, phi`` per sample; ``drivers``: the CO2 path (ppm by year, any
        form :meth:`project` takes); ``decline=False`` holds ε at its last-fitted-year value."""
        path = _co2_path(drivers)
        eps = self._eps_matrix(params, path.index.to_numpy(), decline)
        sink = params["k"][:, None] * eps * ((path.to_numpy() - float(self.c0)) / 100.0)[None, :]
        if shocks is not None:
            sink = sink + ar1_anomalies(params["phi"], params["sigma"], np.asarray(shocks, dtype=float))
        return sink

    def predict(self, drivers: Any = None, *, draws: int = 1000, random_seed: Any = None,
                noise: bool = False) -> xr.Dataset:
        """The land sink under a CO2 path (``drivers``: ppm by year) with and without the CFE decline, from
        the same posterior draws (and the same anomalies): ``land_sink`` (GtC/yr) with dims
        ``(sample, cfe, year)``, ``cfe = ["declining", "constant"]`` ("constant": ε held at its value in
        the last fitted year), coordinates ``chain`` / ``draw`` of each sample."""
        if drivers is None:
            raise InputError("predict needs a CO2 path (ppm by year) as drivers")
        path = _co2_path(drivers)
        years = path.index.to_numpy()
        if noise and (np.diff(years) != 1).any():
            raise InputError("noise=True needs a CO2 path over consecutive years")
        rng = np.random.default_rng(random_seed)
        params = self._draws(draws, rng)
        anomalies = self._simulate_noise(params, len(years), rng) if noise else 0.0
        sinks = [self.simulate(params, path, None, decline=d) + anomalies for d in (True, False)]
        ds = xr.Dataset(
            {"land_sink": (("sample", "cfe", "year"), np.stack(sinks, axis=1),
                           {"units": SINK_UNITS, "long_name": "global land carbon sink (positive = uptake)",
                            "interannual_noise": int(bool(noise))})},
            coords={"sample": np.arange(len(params["k"])), "cfe": ["declining", "constant"], "year": years,
                    "chain": ("sample", params["chain"]), "draw": ("sample", params["draw"])},
        )
        ds["cfe"].attrs = {"long_name": "CO2-fertilisation sensitivity after the last fitted year",
                           "constant": f"held at its {self.last_fitted_year} value"}
        return ds

    def sink_fit_check(self, *, random_seed: Any = 0, prob: float = 0.94) -> pd.DataFrame:
        """Posterior predictive check of the mean sink over the fitted years.

        For every posterior draw a new sink series is simulated over the fitted years (fitted CO2, the
        draw's parameters, fresh AR(1) anomalies) and averaged over years. Returns one row per series with
        ``observed_mean``, ``predicted_mean`` (mean over draws), ``lower``/``upper`` (central ``prob``
        interval of the replicated means) and ``inside`` (observed within it); GtC/yr.
        """
        idata = self._require_fit()
        post = idata.posterior.stack(sample=("chain", "draw"))
        cd = idata.constant_data
        years = cd["year"].values.astype(int)
        x = (cd["co2_ppm"].values - float(self.c0)) / 100.0
        dt = (years - self.t_ref).astype(float)[None, :]
        rng = np.random.default_rng(random_seed)
        rows = {}
        for j, name in enumerate(cd["series"].values):
            def get(var: str, default: float) -> np.ndarray:
                if var not in post:
                    return np.full(post.sizes["sample"], default)
                da = post[var]
                return (da.sel(series=name) if "series" in da.dims else da).values

            params = {"eps_ref": get("eps_ref", np.nan), "k": get("k", np.nan), "lam": get("lam", 0.0),
                      "sigma": get("sigma", np.nan), "phi": get("phi", 0.0), "nu": get("nu", np.inf)}
            mean = params["k"][:, None] * params["eps_ref"][:, None] * self._relative_path(params["lam"][:, None], dt) * x[None, :]
            replicate = (mean + self._simulate_noise(params, len(years), rng)).mean(axis=1)
            lo, hi = np.quantile(replicate, [(1 - prob) / 2, (1 + prob) / 2])
            obs = float(cd["observed_land_sink"].values[:, j].mean())
            rows[str(name)] = {"observed_mean": obs, "predicted_mean": float(replicate.mean()), "lower": float(lo),
                               "upper": float(hi), "inside": bool(lo <= obs <= hi)}
        table = pd.DataFrame.from_dict(rows, orient="index")
        table.index.name = "series"
        table.attrs = {"units": SINK_UNITS, "prob": prob, "years": f"{years.min()}-{years.max()}"}
        return table
