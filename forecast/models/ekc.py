"""Hierarchical environmental Kuznets curve (EKC), estimated in growth form.

The curve
---------
Log per-capita emissions follow a region-specific polynomial in centred log income plus a drift:

    y_it = a_i + b_i x_it + c x_it^2 [+ k x_it^3] + d_i t + e_it

with ``y`` = log(t CO2 per person), ``x`` = log(GDP per person) minus the panel mean (``x_center``), and
``t`` in years. The inverted U has its turning point at ``x* = -b_i / (2 c)`` when ``c < 0``.

Why growth form
---------------
On the OWID panel the levels residuals ``e_it`` are close to a random walk (AR(1) near 1). A levels fit then
lets the curve, not the data, set the forecast level, and it can predict a rebound for countries that
peaked decades ago. We therefore estimate the curve through its first differences

    Δy_it = d_i + b_i Δx_it + c Δ(x^2)_it [+ k Δ(x^3)_it] + u_it,   u_it = φ u_i,t-1 + ε_it,

with Student-t shocks ``ε_it ~ t_ν(0, σ_i)``. This is the levels model with an ARIMA(1,1,0) residual: the
intercept ``a_i`` cancels, every forecast starts from the last observed level, income growth moves it
along the region's curve, and shocks persist (the honest reading of a unit-root residual). Forecast
intervals therefore widen with the horizon as a random walk's do.

Partial pooling: drifts ``d_i``, income slopes ``b_i`` and log shock scales ``log σ_i`` are drawn from
population distributions whose means and scales are estimated. The curvature ``c`` (and ``k``) is common
by default: within one region income moves too little over 30 years to pin down a curvature, so the
cross-section carries it (``varying_curvature=True`` lets it vary by region).

Common shocks (``common_shocks=True``): a year effect ``g_t ~ Normal(0, τ)`` shared by every region is
added to the change, as in :class:`~forecast.models.kaya.KayaModel` (national policy, recessions and the
pandemic hit all provinces of a country in the same year). Forecasts draw one new ``g_t`` per year and
sample, the same for all regions, so sums of regions (a nation's provinces) carry the spread that
independent shocks would average away.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from forecast.errors import InputError
from forecast.models import measurement
from forecast.models.base import BayesianModel, check_regions, checked_columns

MODEL_VERSION = "ekc-growth-1"
REQUIRED_COLUMNS = ("region", "year", "gdp_per_capita", "co2_per_capita")
PARAMETERIZATIONS = ("centered", "non_centered")
# Measured on the default study (benchmarks/sampler_ess.py): drifts are weakly identified per region
# (a few tenths of a %/yr against a between-region sd of ~1 %/yr), so their centred form has a funnel;
# slopes and shock scales are well identified and sample best centred.
MIXED = {"drift": "non_centered", "slope": "centered", "curvature": "centered", "log_noise": "centered"}
HIERARCHICAL_TERMS = ("drift", "slope", "curvature", "log_noise")
RESIDUALS = ("ar1", "iid")
LIKELIHOODS = ("studentt", "normal")
# the year effects under "mixed": each g_t is informed by every region observed that year, so the likelihood
# pins it down and the centred form samples best (measured on the country panel with the Kaya model)
COMMON_SHOCK_PARAMETERIZATION = {"mixed": "centered"}
#: label prefix of the region slots a model holds beyond its panel's regions (see ``EKCModel.region_slots``)
EMPTY_SLOT = "__empty_region_slot_"


@dataclass(frozen=True)
class PanelArrays:
    """The panel prepared for the likelihood: one entry per usable year-on-year change."""

    regions: list[str]
    region_idx: np.ndarray  # (obs,) int
    year: np.ndarray  # (obs,) int: the later year of each change
    dy: np.ndarray  # (obs,) change of log per-capita CO2
    dx_terms: np.ndarray  # (obs, degree) changes of x, x^2[, x^3]
    prev_idx: np.ndarray  # (obs,) index of the previous change of the same region, or 0
    has_prev: np.ndarray  # (obs,) 1.0 if prev_idx is meaningful
    x_center: float
    last_year: np.ndarray  # (region,) last observed year
    last_y: np.ndarray  # (region,) log per-capita CO2 in the last observed year
    last_x: np.ndarray  # (region,) centred log GDP per capita in the last observed year
    last_obs_idx: np.ndarray  # (region,) index into obs of the last change (for the AR residual)
    x_prev: np.ndarray  # (obs,) centred log GDP per capita in the earlier year of each change


def _poly_terms(x: np.ndarray, degree: int) -> np.ndarray:
    """x, x^2[, x^3] stacked on a trailing axis."""
    return np.stack([x**p for p in range(1, degree + 1)], axis=-1)


def prepare_panel(panel: pd.DataFrame, *, degree: int = 2, min_years: int = 10, x_center: float | None = None) -> PanelArrays:
    """Check ``panel`` and turn it into the arrays the likelihood needs.

    Raises :class:`InputError` naming the column, region or year at fault.
    """
    frame = checked_columns(panel, REQUIRED_COLUMNS, positive=("gdp_per_capita", "co2_per_capita"), min_years=min_years)
    counts = frame.groupby("region", sort=True)["year"].size()

    log_gdp = np.log(frame["gdp_per_capita"].to_numpy(dtype=float))
    if x_center is None:
        x_center = float(log_gdp.mean())
    frame["x"] = log_gdp - x_center
    frame["y"] = np.log(frame["co2_per_capita"].to_numpy(dtype=float))
    regions = list(counts.index.astype(str))
    frame["region_idx"] = pd.Categorical(frame["region"], categories=regions).codes

    # A change needs the previous calendar year of the same region; gaps start a new run.
    previous = frame.groupby("region", sort=False)[["year", "x", "y"]].shift(1)
    usable = (frame["year"] - previous["year"]) == 1
    terms_now = _poly_terms(frame["x"].to_numpy(), degree)
    terms_before = _poly_terms(previous["x"].to_numpy(), degree)
    changes = pd.DataFrame(
        {
            "region_idx": frame["region_idx"].to_numpy(),
            "year": frame["year"].to_numpy(dtype=int),
            "dy": (frame["y"] - previous["y"]).to_numpy(),
        }
    )
    dx_terms = (terms_now - terms_before)[usable.to_numpy()]
    x_prev = previous["x"].to_numpy()[usable.to_numpy()].astype(float)
    changes = changes.loc[usable.to_numpy()].reset_index(drop=True)
    # previous change of the same region exists iff it is the year before
    prev_year_same_region = (changes["region_idx"].shift(1) == changes["region_idx"]) & (
        changes["year"].shift(1) == changes["year"] - 1
    )
    n_obs = len(changes)
    prev_idx = np.where(prev_year_same_region, np.arange(n_obs) - 1, 0)

    last_rows = frame.groupby("region_idx", sort=True).tail(1).sort_values("region_idx")
    last_obs_idx = changes.groupby("region_idx", sort=True).tail(1).sort_values("region_idx").index.to_numpy()
    return PanelArrays(
        regions=regions,
        region_idx=changes["region_idx"].to_numpy(dtype=int),
        year=changes["year"].to_numpy(dtype=int),
        dy=changes["dy"].to_numpy(dtype=float),
        dx_terms=np.asarray(dx_terms, dtype=float),
        prev_idx=prev_idx.astype(int),
        has_prev=prev_year_same_region.to_numpy(dtype=float),
        x_center=float(x_center),
        last_year=last_rows["year"].to_numpy(dtype=int),
        last_y=last_rows["y"].to_numpy(dtype=float),
        last_x=last_rows["x"].to_numpy(dtype=float),
        last_obs_idx=last_obs_idx.astype(int),
        x_prev=x_prev,
    )


def observed_per_capita(observed_co2: pd.DataFrame, regions: list[str], years: np.ndarray,
                        population: np.ndarray) -> np.ndarray | None:
    """Per-capita CO2 (t/person/yr) ``(sample, region, k)`` of the emissions observed in the first ``k``
    forecast ``years`` (``k``: the run of consecutive forecast years with any observation), NaN where a
    region has none; ``None`` when no forecast year is observed.

    ``observed_co2``: tidy ``region, year, co2`` (Mt CO2/yr); rows of other regions are ignored, rows in
    the fitted years or after a gap are refused (an :class:`InputError` naming them). ``population``:
    ``(sample, region, year)`` people, the scenario's draws, so that total emissions equal the observed
    value in every sample."""
    frame = checked_columns(observed_co2, ["region", "year", "co2"], positive=["co2"], min_years=1)
    frame = frame[frame["region"].isin(regions)]
    early = frame[frame["year"] < years[0]]
    if len(early):
        raise InputError(f"observed emissions overlap the fitted years (first forecast year {int(years[0])}): "
                         f"{early[['region', 'year']].head(3).to_dict('records')}")
    observed_years = sorted(set(frame["year"].astype(int)))
    k = 0
    while k < len(observed_years) and k < len(years) and observed_years[k] == int(years[k]):
        k += 1
    if k < len(observed_years):
        raise InputError(f"observed emissions must follow the fitted years without a gap: year {observed_years[k]} "
                         f"is not the forecast year {int(years[k]) if k < len(years) else 'after the horizon'}")
    if k == 0:
        return None
    cube = (frame.pivot_table(index="region", columns="year", values="co2")
            .reindex(index=regions, columns=[int(y) for y in years[:k]]).to_numpy(dtype=float))
    return cube[None, :, :] * 1e6 / population[:, :, :k]  # Mt -> t, per person


def growth_likelihood(name: str, observed, mean, scale, *, residuals: str, likelihood: str, specs,
                      ar1_inputs=None) -> None:
    """The likelihood of yearly changes shared by the growth-form emission models (EKC, Kaya, STIRPAT): with
    ``residuals="ar1"`` each change's mean carries ``phi`` times the previous change's residual
    (``ar1_inputs`` = ``(prev_idx, has_prev)`` data containers), and the first change of a run, which has no
    predecessor, gets the stationary scale; Student-t (prior ``nu``) or normal shocks. Priors ``ar1`` →
    ``phi`` and ``nu`` come from ``specs``."""
    if residuals == "ar1":
        phi = specs["ar1"].to_pymc("phi")
        prev_idx, has_prev = ar1_inputs
        mean = mean + phi * (observed - mean)[prev_idx] * has_prev
        scale = scale * pt.switch(has_prev > 0, 1.0, 1.0 / pt.sqrt(1.0 - phi**2))
    if likelihood == "studentt":
        pm.StudentT(name, nu=specs["nu"].to_pymc("nu"), mu=mean, sigma=scale, observed=observed, dims="obs")
    else:
        pm.Normal(name, mu=mean, sigma=scale, observed=observed, dims="obs")


def _held_at_mean(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every parameter draw replaced by its mean over samples (degrees of freedom by their median, which
    may be inf); ``chain`` and ``draw`` kept. Shapes are unchanged."""
    out = {}
    for key, value in params.items():
        if key in ("chain", "draw"):
            out[key] = value
            continue
        centre = np.median(value, axis=0) if key == "nu" else np.mean(value, axis=0)
        out[key] = np.broadcast_to(centre, value.shape).copy()
    return out


class EKCModel(BayesianModel):
    """Hierarchical EKC in growth form (see the module docstring for the equations).

    Parameters
    ----------
    model_config:
        Prior overrides by name, e.g. ``{"ekc.slope_mu": {"params": {"mu": 1.0, "sigma": 0.3}}}``
        (the ``ekc.`` prefix may be omitted). Names not in the prior library are an error.
    degree:
        2 (quadratic EKC) or 3 (cubic).
    residuals:
        ``"ar1"`` (persistent growth shocks, default) or ``"iid"``.
    likelihood:
        ``"studentt"`` (default: tolerates the 1990s collapse of the Eastern bloc and similar breaks)
        or ``"normal"``.
    parameterization:
        ``"mixed"`` (default: drifts non-centred, slopes and shock scales centred; measured fastest on
        the ~30-year country panel), ``"centered"``, ``"non_centered"``, or a mapping from term
        (``drift``, ``slope``, ``curvature``, ``log_noise``) to one of the two.
    varying_curvature:
        Let the quadratic coefficient vary by region (partially pooled) instead of sharing it.
    measurement_error:
        Relative 1-sigma uncertainty of the historical emissions (e.g. 0.05 for the ±5 % the Global
        Carbon Budget states for national fossil CO2), one number or a mapping region -> value
        (e.g. from an inventory's Approach 2). Errors-in-variables, approximately: a measurement error
        ``m`` on each level adds ``2 m^2`` to the variance of each year-on-year change (the lag-1
        covariance ``-m^2`` is left to the AR(1) term), and forecasts start from an uncertain last level
        ``N(y_T, m)``. 0 (default) treats the data as exact. With ``systematic_error`` this is the
        *random* (year-to-year, activity-data) part only.
    systematic_error:
        Relative 1-sigma of a *persistent* error of each region's emissions (the emission-factor part of
        an inventory: the same in every year), one number or a mapping region -> value. It enters as a
        level offset ``δ_i ~ Normal(systematic_bias_i, log1p(systematic_error_i))`` (posterior variable
        ``inventory_offset``, log(observed / true)); see :mod:`forecast.models.measurement`. Forecasts and
        the history they are joined to are then true emissions, ``observed · exp(−δ_i)``. 0 (default): none.
    systematic_bias:
        Prior mean ``b_i`` of the offset in log units (``log(reported / true)``, e.g. from a fitted
        emission-factor posterior), one number or a mapping region -> value. Default 0.
    min_years:
        Regions with fewer years than this are rejected with an error.
    """

    name = "ekc"
    version = MODEL_VERSION
    family = "ekc"
    kind = "emissions"
    takes_later_emissions = True
    #: Length of the model's ``region`` dim (``None``: one entry per region of the panel). Not a setting:
    #: it lays the model out for compiling and leaves the posterior of the fitted regions unchanged. A
    #: backtest gives the model of every cutoff the same number of slots, so that one nutpie compilation
    #: serves them all (:class:`~forecast.models.sampling.CompiledModelCache`); slots without data hold
    #: region parameters drawn from the population distribution alone, which adds nothing to the
    #: likelihood and so does not move the population-level posterior, and they are dropped from the
    #: posterior after sampling (:meth:`trim_posterior`).
    region_slots: int | None = None

    def __init__(
        self,
        model_config: dict[str, Any] | None = None,
        *,
        degree: int = 2,
        residuals: str = "ar1",
        likelihood: str = "studentt",
        parameterization: str | dict[str, str] = "mixed",
        varying_curvature: bool = False,
        varying_drift: bool = True,
        drift_income: bool = True,
        turning_point_growth: float = 0.02,
        measurement_error: float | dict[str, float] = 0.0,
        systematic_error: float | dict[str, float] = 0.0,
        systematic_bias: float | dict[str, float] = 0.0,
        min_years: int = 10,
        common_shocks: bool = False,
    ):
        super().__init__(model_config)
        self.degree = degree
        self.residuals = residuals
        self.likelihood = likelihood
        self.parameterization = parameterization
        self.varying_curvature = varying_curvature
        self.varying_drift = varying_drift
        self.drift_income = drift_income
        self.turning_point_growth = turning_point_growth
        self.measurement_error = measurement_error
        self.systematic_error = systematic_error
        self.systematic_bias = systematic_bias
        self.min_years = min_years
        self.common_shocks = common_shocks

    # ------------------------------------------------------------------ settings
    def _parameterization_of(self, term: str) -> str:
        """Centred or non-centred for one hierarchical term (``parameterization`` may be a mapping)."""
        if self.parameterization == "mixed":
            return MIXED[term]
        if isinstance(self.parameterization, dict):
            return self.parameterization.get(term, "centered")
        return self.parameterization

    def check_settings(self) -> None:
        if self.degree not in (2, 3):
            raise InputError(f"degree must be 2 (quadratic) or 3 (cubic), got {self.degree!r}")
        if isinstance(self.parameterization, dict):
            choices = self.parameterization.items()
        else:
            choices = [("", "centered" if self.parameterization == "mixed" else self.parameterization)]
        for term, value in choices:
            if term and term not in HIERARCHICAL_TERMS:
                raise InputError(f"parameterization: unknown term {term!r}; terms: {', '.join(HIERARCHICAL_TERMS)}")
            if value not in PARAMETERIZATIONS:
                raise InputError(f"parameterization must be 'mixed', one of {', '.join(PARAMETERIZATIONS)} or a mapping of terms to them, got {value!r}")
        for label, value, allowed in (
            ("residuals", self.residuals, RESIDUALS),
            ("likelihood", self.likelihood, LIKELIHOODS),
        ):
            if value not in allowed:
                raise InputError(f"{label} must be one of {', '.join(allowed)}, got {value!r}")
        if not isinstance(self.common_shocks, bool):
            raise InputError(f"common_shocks must be true or false, got {self.common_shocks!r}")

    def _terms(self) -> list[tuple[str, str]]:
        """(prior-library entry, posterior variable) pairs of the population-level terms in use."""
        terms = [("drift_mu", "drift_mu"), ("slope_mu", "slope_mu"), ("slope_sigma", "slope_sigma"),
                 ("log_noise_mu", "log_noise_mu"), ("log_noise_sigma", "log_noise_sigma")]
        optional = [
            (self.varying_drift, "drift_sigma", "drift_sigma"),
            (self.varying_curvature, "curvature_mu", "curvature_mu"),
            (self.varying_curvature, "curvature_sigma", "curvature_sigma"),
            (not self.varying_curvature, "curvature_mu", "curvature"),
            (self.degree == 3, "cubic_mu", "cubic"),
            (self.residuals == "ar1", "ar1", "phi"),
            (self.likelihood == "studentt", "nu", "nu"),
            (self.drift_income, "drift_income", "drift_income"),
            (self.common_shocks, "common_shock_sd", "common_shock_sd"),
        ]
        return terms + [(prior, var) for used, prior, var in optional if used]

    def prior_terms(self) -> list[str]:
        """The prior-library entries this configuration uses."""
        return [prior for prior, _ in self._terms()]

    # ------------------------------------------------------------------ model
    def region_labels(self, regions: list[str]) -> list[str]:
        """The ``region`` coordinate of the PyMC model: ``regions``, then empty slots up to
        :attr:`region_slots`."""
        slots = len(regions) if self.region_slots is None else int(self.region_slots)
        if slots < len(regions):
            raise InputError(f"region_slots = {slots} is fewer than the {len(regions)} regions of the panel")
        return list(regions) + [f"{EMPTY_SLOT}{k}" for k in range(slots - len(regions))]

    def per_slot(self, values: np.ndarray, regions: list[str]) -> np.ndarray:
        """A per-region array padded with zeros to the model's region slots."""
        values = np.asarray(values, dtype=float)
        return np.concatenate([values, np.zeros(len(self.region_labels(regions)) - len(values))])

    def trim_posterior(self, idata, arrays: PanelArrays):
        """Without the empty region slots (:attr:`region_slots`): downstream sees the fitted regions only."""
        post = idata.posterior
        if "region" in post.dims and post.sizes["region"] > len(arrays.regions):
            idata.posterior = post.sel(region=list(arrays.regions))
        return idata

    def slot_mask(self, data: PanelArrays):
        """With :attr:`region_slots`: a data container ``region_used`` (1 for a region with data, 0 for an
        empty slot) over the region dim; otherwise ``None``."""
        if self.region_slots is None:
            return None
        labels = self.region_labels(data.regions)
        return pm.Data("region_used", (np.arange(len(labels)) < len(data.regions)).astype(float), dims="region")

    @staticmethod
    def centred_by_region(name: str, mu, sigma, used) -> pt.TensorVariable:
        """``name ~ Normal(mu, sigma)`` per region in the centred form. With empty region slots (``used``
        from :meth:`slot_mask`) the slots without data take the non-centred form ``mu + sigma z``,
        ``z ~ Normal(0, 1)``: a centred parameter without data forms a funnel with ``sigma`` and slows the
        sampler (Kaya model, 1994 cutoff of the country backtest, 67 regions in 91 slots, 2 x 1000 draws,
        ``benchmarks/padding_posterior.py``, one run each: bulk ESS of ``log_noise_sigma`` 3424 without
        slots, 1701 with centred empty slots, 3816 in this form). Regions with data keep the centred form,
        so their posterior and its geometry are as without slots."""
        if used is None:
            return pm.Normal(name, mu, sigma, dims="region")
        raw = pm.Flat(f"{name}_raw", dims="region")
        centred = pm.logp(pm.Normal.dist(mu, sigma), raw)
        standard = pm.logp(pm.Normal.dist(0.0, 1.0), raw)
        pm.Potential(f"{name}_prior", pt.switch(used > 0, centred, standard).sum())
        return pm.Deterministic(name, pt.switch(used > 0, raw, mu + sigma * raw), dims="region")

    def ar1_inputs(self, data: PanelArrays):
        """``prev_idx`` and ``has_prev`` as data containers (swappable in a reused compilation)."""
        return pm.Data("prev_idx", data.prev_idx, dims="obs"), pm.Data("has_prev", data.has_prev, dims="obs")

    @staticmethod
    def shock_years(data: PanelArrays) -> np.ndarray:
        """The panel's years that changes end in (the coordinate ``shock_year`` of the year effects)."""
        return np.unique(data.year)

    def year_index(self, data: PanelArrays):
        """Which ``shock_year`` each change belongs to (its later year), as a data container."""
        return pm.Data("year_idx", np.searchsorted(self.shock_years(data), data.year), dims="obs")

    def common_shock_term(self, specs, parameterization: str):
        """The year effects ``g_t ~ Normal(0, common_shock_sd)`` (dims ``shock_year``) of the model being
        built, centred or non-centred."""
        tau = specs["common_shock_sd"].to_pymc("common_shock_sd")
        if COMMON_SHOCK_PARAMETERIZATION.get(parameterization, parameterization) == "centered":
            return pm.Normal("common_shock", 0.0, tau, dims="shock_year")
        offset = pm.Normal("common_shock_offset", 0.0, 1.0, dims="shock_year")
        return pm.Deterministic("common_shock", tau * offset, dims="shock_year")

    def common_shock_last(self, draws: dict[str, np.ndarray], name: str) -> np.ndarray:
        """Per sample and region, the fitted ``(sample, shock_year)`` draws ``draws[name]`` in the year of
        each region's last observed change: the shared part of that change, taken out of the residual the
        forecast starts from."""
        idata = self._require_fit()
        at = np.searchsorted(idata.posterior["shock_year"].values, idata.constant_data["last_change_year"].values)
        return draws[name][:, at]

    def build_model(self, data: PanelArrays) -> pm.Model:
        """The PyMC model for prepared panel arrays (no sampling). Every array that depends on the data is a
        ``pm.Data`` container, so a compilation can be reused for other data of the same shape of
        parameters (:class:`~forecast.models.sampling.CompiledModelCache`)."""
        self.check_settings()
        specs = self.priors()
        coords = {"region": self.region_labels(data.regions), "obs": np.arange(len(data.dy))}
        if self.common_shocks:
            coords["shock_year"] = self.shock_years(data)
        with pm.Model(coords=coords) as model:
            region_idx = pm.Data("region_idx", data.region_idx, dims="obs")
            dx_terms = pm.Data("dx_terms", data.dx_terms)
            dy = pm.Data("dy", data.dy, dims="obs")
            used = self.slot_mask(data)

            def hierarchical(name: str, mu_prior: str, sigma_prior: str) -> pt.TensorVariable:
                mu = specs[f"{mu_prior}"].to_pymc(f"{name}_mu")
                sigma = specs[f"{sigma_prior}"].to_pymc(f"{name}_sigma")
                if self._parameterization_of(name) == "centered":
                    return self.centred_by_region(name, mu, sigma, used)
                offset = pm.Normal(f"{name}_offset", 0.0, 1.0, dims="region")
                return pm.Deterministic(name, mu + sigma * offset, dims="region")

            if self.varying_drift:
                drift = hierarchical("drift", "drift_mu", "drift_sigma")
            else:
                drift_common = specs["drift_mu"].to_pymc("drift_mu")
                drift = pm.Deterministic("drift", drift_common * pt.ones(len(coords["region"])), dims="region")
            slope = hierarchical("slope", "slope_mu", "slope_sigma")
            if self.varying_curvature:
                curvature = hierarchical("curvature", "curvature_mu", "curvature_sigma")
                curv_obs = curvature[region_idx]
            else:
                curvature = specs["curvature_mu"].to_pymc("curvature")
                curv_obs = curvature
            log_noise = hierarchical("log_noise", "log_noise_mu", "log_noise_sigma")
            sigma = pm.Deterministic("sigma", pt.exp(log_noise), dims="region")

            mean = drift[region_idx] + slope[region_idx] * dx_terms[:, 0] + curv_obs * dx_terms[:, 1]
            if self.drift_income:
                # decarbonisation speeds up with income: the drift moves with last year's income level
                drift_income = specs["drift_income"].to_pymc("drift_income")
                x_prev = pm.Data("x_prev", data.x_prev, dims="obs")
                mean = mean + drift_income * x_prev
            if self.degree == 3:
                cubic = specs["cubic_mu"].to_pymc("cubic")
                mean = mean + cubic * dx_terms[:, 2]
            if self.common_shocks:
                mode = self.parameterization if isinstance(self.parameterization, str) else "centered"
                mean = mean + self.common_shock_term(specs, mode)[self.year_index(data)]
            scale = self.shock_scale(sigma, region_idx, data.regions)
            self.add_systematic_offset(data.regions)
            growth_likelihood("dy_obs", dy, mean, scale, residuals=self.residuals, likelihood=self.likelihood,
                              specs=specs, ar1_inputs=self.ar1_inputs(data) if self.residuals == "ar1" else None)
        return model

    def shock_scale(self, sigma, region_idx, regions: list[str]):
        """Per-observation scale of a change in log level: the shock sd ``sigma[region]``, widened by the
        measurement error of the two levels the change is taken between (``sqrt(σ² + 2 sd²)``)."""
        scale = sigma[region_idx]
        error_sd = self.measurement_sd(regions)
        if error_sd.any():
            error_sd = pm.Data("measurement_sd", error_sd)  # data: a reused compilation takes other regions'
            scale = pt.sqrt(scale**2 + 2.0 * error_sd[region_idx] ** 2)
        return scale

    def measurement_sd(self, regions: list[str]) -> np.ndarray:
        """Random (year-to-year) measurement-error sd on the log scale per region (0 = exact data)."""
        return measurement.per_region(self.measurement_error, regions, "measurement_error")

    def systematic_sd(self, regions: list[str]) -> np.ndarray:
        """Prior sd of the persistent offset δ_i on the log scale per region (0 = none)."""
        return measurement.per_region(self.systematic_error, regions, "systematic_error")

    def systematic_mean(self, regions: list[str]) -> np.ndarray:
        """Prior mean of the persistent offset δ_i, log(reported / true), per region."""
        return measurement.per_region(self.systematic_bias, regions, "systematic_bias", relative=False)

    def has_offset(self) -> bool:
        """Whether the model has the persistent inventory offset δ (any prior sd or mean not zero)."""
        spec = [self.systematic_error, self.systematic_bias]
        values = [v for x in spec for v in (x.values() if isinstance(x, dict) else [x])]
        return any(float(v) != 0.0 for v in values)

    def add_systematic_offset(self, regions: list[str]) -> None:
        """Add δ_i (``inventory_offset``) to the model being built when the settings ask for it; it does not
        enter the growth-form likelihood (it cancels from every change), see :mod:`forecast.models.measurement`."""
        if self.has_offset():
            measurement.add_offset(self.per_slot(self.systematic_mean(regions), regions),
                                   self.per_slot(self.systematic_sd(regions), regions))

    def parameter_names(self) -> list[str]:
        """Sampled parameters that diagnostics are computed on (population level, then regions)."""
        regional = ["slope", "sigma"] + (["drift"] if self.varying_drift else [])
        if self.varying_curvature:
            regional.append("curvature")
        if self.common_shocks:
            regional.append("common_shock")
        return [var for _, var in self._terms()] + regional

    def prepare(self, data: pd.DataFrame, **options: Any) -> PanelArrays:
        """Check ``data`` (columns ``region, year, gdp_per_capita, co2_per_capita``) and turn it into the
        arrays of the likelihood (:func:`prepare_panel`). The measurement-error settings are checked against
        its regions here, before any sampling."""
        arrays = prepare_panel(data, degree=self.degree, min_years=self.min_years, **options)
        for check in (self.measurement_sd, self.systematic_sd, self.systematic_mean):
            check(arrays.regions)
        return arrays

    def state(self, data: PanelArrays) -> xr.Dataset:
        """What forecasts start from: per region the last observed year, level, income and change (and, with
        common shocks, the year of that change, whose fitted year effect is not part of the residual)."""
        state = xr.Dataset(
            {
                "last_year": ("region", data.last_year),
                "last_log_co2_per_capita": ("region", data.last_y),
                "last_x": ("region", data.last_x),
                "last_dy": ("region", data.dy[data.last_obs_idx]),
                "last_dx_terms": (("region", "term"), data.dx_terms[data.last_obs_idx]),
                "last_x_prev": ("region", data.x_prev[data.last_obs_idx]),
                "last_level_sd": ("region", self.measurement_sd(data.regions)),
            },
            coords={"region": data.regions, "term": [f"x{p}" for p in range(1, self.degree + 1)]},
        )
        if self.common_shocks:
            state["last_change_year"] = ("region", data.year[data.last_obs_idx])
        return state

    def fit_attrs(self, data: PanelArrays) -> dict[str, Any]:
        return {"x_center": data.x_center}

    @property
    def x_center(self) -> float:
        return float(self._require_fit().posterior.attrs["x_center"])

    def turning_points(self, growth: float | None = None) -> xr.Dataset:
        """Posterior of each region's EKC turning point.

        In growth form the curve is traced along a steady path on which GDP per capita grows by
        ``growth`` (log units per year; default ``turning_point_growth``). Per-capita emissions then change
        by ``d_i + δ x + (b_i + 2 c x [+ 3 k x^2]) g`` per year; the turning point is the income where this
        crosses zero from above (an inverted U needs the change to fall with income there).

        Returns a Dataset with dims ``(chain, draw, region)``: ``turning_gdp_per_capita`` (int-$ 2011 per
        person; NaN in draws without an inverted U) and ``inverted_u`` (bool).
        """
        g = self.turning_point_growth if growth is None else float(growth)
        post = self._require_fit().posterior
        zero = xr.zeros_like(post["slope_mu"])
        income = post["drift_income"] if self.drift_income else zero
        cubic = post["cubic"] if self.degree == 3 else zero
        a = 3 * cubic * g  # coefficient of x^2 in the change of y per year
        b = income + 2 * post["curvature"] * g
        c = post["drift"] + post["slope"] * g
        a, b, c = xr.broadcast(a, b, c)
        with np.errstate(divide="ignore", invalid="ignore"):
            linear = -c / b
            disc = b**2 - 4 * a * c
            root = np.sqrt(xr.where(disc >= 0, disc, np.nan))
            r1 = (-b + root) / (2 * a)
            r2 = (-b - root) / (2 * a)
            # keep the root where the change of y per year falls with income (derivative < 0)
            quad = xr.where(2 * a * r1 + b < 0, r1, r2)
            x_star = xr.where(np.abs(a) < 1e-12, linear, quad)
            slope_at = 2 * a * x_star + b
        inverted = np.isfinite(x_star) & (slope_at < 0)
        x_star = xr.where(inverted, x_star, np.nan)
        gdp = np.exp(np.clip(x_star + self.x_center, -50, 50))
        gdp.attrs = {"units": "international-$ (2011 prices) per person", "long_name": "EKC turning-point income",
                     "reference_growth": g}
        return xr.Dataset({"turning_gdp_per_capita": gdp, "inverted_u": inverted})

    def inverted_u_scope(self) -> str:
        """``"global"`` when P(inverted U) is one number shared by every region, else ``"region"``.

        Whether the yearly change falls with income at the turning point depends on ``drift_income +
        2 c g`` (+ the cubic term): region-specific only when the curvature varies by region or the cubic's
        roots depend on the region's drift and slope. With a shared curvature (the default, and always in
        the Kaya model, whose test is ``θ < 0``) every region gets the same P(inverted U)."""
        return "region" if self.varying_curvature or self.degree == 3 else "global"

    def turning_point_table(self, quantiles=(0.05, 0.5, 0.95)) -> pd.DataFrame:
        """Per region: P(inverted U), turning-point income quantiles (int-$ 2011 per person, on a steady path
        with ``turning_point_growth``), P(already past the turning point), and ``p_inverted_u_scope``
        (:meth:`inverted_u_scope`: ``"global"`` means the P(inverted U) column is one number repeated)."""
        tp = self.turning_points()
        idata = self._require_fit()
        last_gdp = np.exp(idata.constant_data["last_x"] + self.x_center)
        stacked = tp.stack(sample=("chain", "draw"))
        q = stacked["turning_gdp_per_capita"].quantile(list(quantiles), dim="sample", skipna=True)
        past = (stacked["turning_gdp_per_capita"] < last_gdp).mean("sample")
        table = pd.DataFrame(
            {
                "p_inverted_u": stacked["inverted_u"].mean("sample").to_series(),
                **{f"turning_gdp_pc_q{int(round(p * 100)):02d}": q.sel(quantile=p).drop_vars("quantile").to_series() for p in quantiles},
                "p_past_turning_point": past.to_series(),
                "last_gdp_pc": last_gdp.to_series(),
            }
        )
        table["p_inverted_u_scope"] = self.inverted_u_scope()
        table.index.name = "region"
        return table

    # ------------------------------------------------------------------ prediction
    def kernel_params(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``n`` joint posterior draws in the terms of the growth simulator
        (:func:`forecast.projection.propagate.simulate_growth_paths`): ``drift, slope, curvature, sigma`` as
        ``(sample, region)``, ``cubic, phi, nu, drift_income`` as ``(sample,)`` (zeros / inf where this
        configuration lacks the term), and ``chain`` / ``draw`` of each sample."""
        names = ["drift", "slope", "sigma", "curvature"] + [
            name for used, name in ((self.degree == 3, "cubic"), (self.residuals == "ar1", "phi"),
                                    (self.likelihood == "studentt", "nu"), (self.drift_income, "drift_income"),
                                    (self.common_shocks, "common_shock_sd"), (self.common_shocks, "common_shock"),
                                    (self.has_offset(), measurement.OFFSET)) if used]
        out = self.posterior_draws(names, n, rng)
        if self.common_shocks:
            out["common_shock_last"] = self.common_shock_last(out, "common_shock")
            out.pop("common_shock")
        if out["curvature"].ndim == 1:  # shared curvature: one value per draw for every region
            out["curvature"] = np.repeat(out["curvature"][:, None], len(self.regions), axis=1)
        zeros = np.zeros(n)
        out.setdefault("cubic", zeros)
        out.setdefault("phi", zeros)
        out.setdefault("nu", np.full(n, np.inf))
        out.setdefault("drift_income", zeros)
        return out

    def predict(self, scenario, *, draws: int = 1000, random_seed: int | None = None, regions=None,
                parameters: str = "posterior", inventory_error: bool = True,
                observed_co2: pd.DataFrame | None = None) -> xr.Dataset:
        """Per-capita emissions along ``scenario`` for each posterior draw.

        Returns a Dataset with dims ``(sample, region, year)`` over the forecast years (the year after
        each region's last observation up to the scenario horizon): ``co2_per_capita`` (t CO2/person/yr),
        ``gdp_per_capita`` and ``population`` (the scenario draws used), with coordinates ``chain`` and
        ``draw`` on ``sample`` (the posterior draw each sample used). Growth shocks, their AR(1)
        persistence and heavy tails are included, so intervals are predictive, not only parametric.
        With a persistent inventory offset also ``inventory_offset`` ``(sample, region)``.

        ``parameters="mean"`` holds every parameter at its posterior mean (only the shocks vary) and
        ``inventory_error=False`` leaves out the errors of the historical emissions (offset and uncertain
        last level): the links of :func:`forecast.projection.waterfall.uncertainty_waterfall`.

        ``observed_co2`` (tidy ``region, year, co2`` in Mt CO2/yr) holds emissions observed after the fit's
        last year, when GDP is not yet published (OWID emissions run a year beyond GDP): those years take
        the observed level in every sample (divided by the scenario's population) and the forecast goes on
        from the residual they imply (:func:`observed_per_capita`). Regions and years not given are
        simulated as usual.
        """
        from forecast.projection.propagate import simulate_growth_paths

        idata = self._require_fit()
        rng = np.random.default_rng(random_seed)
        regions = check_regions(self, regions)
        state = idata.constant_data.sel(region=regions)
        if not inventory_error:
            state = state.assign(last_level_sd=xr.zeros_like(state["last_level_sd"]))
        start_year = int(state["last_year"].min()) + 1
        paths = scenario.draw(regions, start_year=start_year, n_samples=draws, rng=rng)
        params = self.kernel_params(draws, rng)
        region_pos = [self.regions.index(r) for r in regions]
        params = {k: (v[:, region_pos] if v.ndim == 2 else v) for k, v in params.items()}
        if parameters == "mean":
            params = _held_at_mean(params)
        elif parameters != "posterior":
            raise InputError(f"parameters must be 'posterior' or 'mean', got {parameters!r}")
        offset = params.pop(measurement.OFFSET, None) if inventory_error else None
        params.pop(measurement.OFFSET, None)
        observed = None
        if observed_co2 is not None:
            observed = observed_per_capita(observed_co2, regions, paths["year"].values,
                                           paths["population"].transpose("sample", "region", "year").values)
        per_capita = simulate_growth_paths(
            params,
            state=state,
            x_center=self.x_center,
            degree=self.degree,
            gdp_per_capita=paths["gdp_per_capita"].transpose("sample", "region", "year").values,
            years=paths["year"].values,
            rng=rng,
            observed=observed,
        )
        if offset is not None:
            # the simulated paths continue the observed (inventory) level; the true level is δ below it
            per_capita = per_capita * np.exp(-offset)[:, :, None]
        ds = xr.Dataset(
            {
                "co2_per_capita": (("sample", "region", "year"), per_capita),
                "gdp_per_capita": paths["gdp_per_capita"].transpose("sample", "region", "year"),
                "population": paths["population"].transpose("sample", "region", "year"),
            },
            coords={"sample": np.arange(draws), "region": regions, "year": paths["year"].values,
                    "chain": ("sample", params["chain"]), "draw": ("sample", params["draw"])},
        )
        ds["co2_per_capita"].attrs = {"units": "t CO2 per person per yr", "long_name": "per-capita CO2 emissions"}
        if offset is not None:
            ds[measurement.OFFSET] = xr.DataArray(offset, dims=("sample", "region"), attrs={
                "units": "log(observed / true emissions)",
                "long_name": "persistent inventory offset of each sample (history is shifted by it too)"})
        return ds
