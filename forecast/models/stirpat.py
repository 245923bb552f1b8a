"""Hierarchical STIRPAT emission model: emissions as population × affluence × technology, with elasticities.

The STIRPAT form (York, Rosa & Dietz 2003, Ecological Economics 46:351) is the stochastic version of the
IPAT identity,

    ln I_it = a_i + b ln P_it + c ln A_it + d ln T_it + e_it,

with ``I`` the territorial CO2 emissions (Mt CO2/yr), ``P`` population (people), ``A`` affluence (GDP per
capita, int-$ 2011 per person) and ``T`` a technology term; the elasticities ``b, c, d`` say by how many
percent emissions move for a 1 % change of each driver (IPAT is ``b = c = d = 1``). York et al. report a
population elasticity of CO2 close to one (a proportional effect), which is where the prior of ``b`` is
centred; nothing else from that paper is used here.

Technology term
---------------
``T`` is the energy intensity of GDP, OWID's ``energy_per_gdp`` (primary energy per unit of GDP, kWh per
int-$ 2011; EIA and Energy Institute energy data over Maddison GDP, 1965 onwards). The project's OWID CO2
panel has **no fossil share of energy and no urbanisation** (see ``../shared/data/SOURCES.md``), so neither
term is modelled; no other source is used. OWID's ``co2_per_unit_energy`` is left out on purpose: it is CO2
divided by energy, so with it on the right-hand side the equation becomes the Kaya identity
(``b = c = d = 1`` exactly) instead of a model. What energy intensity does not carry (fuel mix,
decarbonisation of the energy supply) sits in the drifts and residuals.

Why growth form
---------------
``ln I``, ``ln P``, ``ln A`` and ``ln T`` all trend; a levels regression of one trending series on others
finds "elasticities" in shared trends (spurious regression), and on this panel the levels residual behaves
like a random walk (as for the EKC, :mod:`forecast.models.ekc`). The model is therefore the levels equation
with a region trend and an ARIMA(1,1,0) residual, estimated through its first differences:

    Δ ln I_it = δ_i + θ x_i,t-1 + b Δln P_it + c_i Δln A_it + d_i Δln T_it + u_it,
    u_it = φ u_i,t-1 + ε_it,   ε_it ~ t_ν(0, σ_i)  (or normal),

the intercept ``a_i`` cancels (forecasts start from each region's last observed level), the region drift
``δ_i`` is the trend of emissions at constant drivers, and the elasticities are read from how emissions
growth moves with the drivers' growth year by year, not from shared trends. This matches the growth kernels
of the EKC and Kaya models and their residual options (``residuals = "ar1" | "iid"``, ``likelihood =
"studentt" | "normal"``).

Income-dependent drift (``drift_income``, default on): ``x`` is log GDP per capita centred on its mean over
the fitted panel (``x_center``, kept in the posterior's attributes), and ``θ`` (shared, prior
``stirpat.drift_income``) lets the trend at constant drivers move with last year's income level, as the
``drift_income`` term of the Kaya and EKC models does: with ``θ < 0`` richer economies decarbonise faster,
so a forecast region's trend bends down as its GDP per capita grows. Without it the drift is constant over
a forecast, and a region's emissions can only peak through slower driver growth. On the backtest of the
reference study (``carbon-forecast backtest studies/global/stirpat.toml --cutoffs 1985:2012:9 --model stirpat
--scenario history``, seed 1) the term raised the AUC of "peak within 10 years" from 0.745 to 0.776 (paired
+0.032, 90 % +0.022 to +0.046) and lowered the peak-year CRPS by 0.9 years (0.7 to 1.1); 10 of 12 paired
differences are resolved in its favour, none against. The model stays behind the Kaya model on peak events
(AUC 0.873 on the same country-cutoffs). Hence the default; figures in ``docs/models/stirpat.md``.

Pooling: drifts ``δ_i`` and log shock scales ``log σ_i`` are partially pooled across regions. The affluence
and technology elasticities ``c_i``, ``d_i`` vary by region, partially pooled (``varying_elasticities``):
GDP and energy intensity growth move a lot from year to year, so each region's data inform its own
elasticity. The population elasticity ``b`` is one number for all regions: within a region population
growth is nearly constant from year to year, so ``b Δln P`` is almost indistinguishable from the drift
and a region-level ``b`` would be identified by its prior alone. The shared ``b`` is identified only by how
population growth changes within regions (slowing transitions, migration waves), which can coincide with
other changes of emissions growth: read it as an association in growth rates, not as a causal elasticity.

Technology path
---------------
Forecasts need ``T``. Its log follows a random walk with a drift per region, fitted jointly from history:

    Δ ln T_it = τ_i + κ Δln A_it + v_it,    v_it ~ t_ν_T(0, s_i)  (or normal),

with ``τ_i`` and ``log s_i`` partially pooled; ``κ`` (``technology_income``, shared) lets energy intensity
fall faster in years of fast GDP growth (energy use adjusts less than one for one to output), so a scenario
with slower growth does not keep the fast decline of intensity seen during fast growth. Each forecast
sample draws ``τ, κ, s`` from the posterior and new shocks ``v``. Population and GDP per capita come from
the scenario, as for the other emission models. The two equations share no parameters, so fitting them in
one model is the same as fitting them apart; in a forecast the technology path is simulated first and
emissions given it, which is the factorisation p(ΔT | ΔA) p(ΔI | ΔP, ΔA, ΔT).

Caveats: ``A`` and ``T`` share GDP (``T`` = energy / GDP), so a GDP measurement error moves ``Δln A`` and
``Δln T`` in opposite directions and biases ``c`` and ``d`` towards each other's negative; energy shocks that
move both ``T`` and ``I`` in a year are read as the technology elasticity, not as emission shocks.

Data
----
Columns ``region, year, population, gdp_per_capita, co2`` and ``energy_per_gdp`` (or
``primary_energy_consumption`` in TWh, from which ``energy_per_gdp = 1e9 · TWh / gdp`` is computed).
Years before a region's energy series starts are left out; regions with energy data missing in any later
year, whose data end before the panel's last year or that keep fewer than ``min_years`` years are dropped
with a warning that names them and the years (:func:`energy_panel`); an empty result is an
:class:`~forecast.errors.InputError`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from forecast.errors import InputError
from forecast.models.base import BayesianModel, check_regions, checked_columns
from forecast.models.ekc import growth_likelihood

MODEL_VERSION = "stirpat-growth-2"  # 2: income-dependent drift (drift_income)
ENERGY = "energy_per_gdp"
ENERGY_UNITS = "kWh per international-$ (2011 prices)"
COLUMNS = ("region", "year", "population", "gdp_per_capita", "co2", ENERGY)
PARAMETERIZATIONS = ("mixed", "centered", "non_centered")
# "mixed": drifts and elasticities non-centred, shock scales centred. The drifts are small and weakly
# identified per region. The region elasticities can be too: on the simulated panel of tests/test_stirpat.py
# (12 regions x 29 changes, true between-region sd 0.1) the centred form put one chain into the funnel at
# affluence_elasticity_sigma -> 0 (R-hat 2.29, 311 divergences, seed 5, 2 x 300 draws); non-centred, R-hat
# 1.03 and no divergences. Shock scales are informed by every year of their region and sample best centred.
MIXED = {"drift": "non_centered", "tech_drift": "non_centered", "affluence": "non_centered",
         "technology": "non_centered", "log_noise": "centered", "tech_log_noise": "centered"}
RESIDUALS = ("ar1", "iid")
LIKELIHOODS = ("studentt", "normal")
TWH_TO_KWH = 1e9


class EnergyDataWarning(UserWarning):
    """Regions left out of a STIRPAT fit because their energy data are incomplete."""


def _years_text(years) -> str:
    """``[1990, 1991, 1992, 2022]`` -> ``"1990-1992, 2022"``."""
    years = sorted(int(y) for y in years)
    runs, start = [], None
    for k, y in enumerate(years):
        start = y if start is None else start
        if k + 1 == len(years) or years[k + 1] != y + 1:
            runs.append(f"{start}" if start == y else f"{start}-{y}")
            start = None
    return ", ".join(runs)


def energy_panel(panel: pd.DataFrame, *, min_years: int = 2, warn: bool = True) -> pd.DataFrame:
    """``panel`` with ``energy_per_gdp`` (kWh per int-$ 2011), cut to the region-years the STIRPAT model can fit.

    ``energy_per_gdp`` is taken as given, or computed from ``primary_energy_consumption`` (TWh) and ``gdp``
    (int-$). Per region:

    * years before its energy series starts are left out (OWID's energy data begin in 1965; a fit window
      that starts earlier keeps each region's years from its first energy value on);
    * a region with the energy value missing (or not positive) in any later year, whose rows end before the
      panel's last year, or with fewer than ``min_years`` years left, is dropped.

    Each dropped region and the years at fault are named in one :class:`EnergyDataWarning` and kept in
    ``attrs["dropped_regions"]`` (region -> reason); trimmed regions in ``attrs["energy_trimmed"]``
    (region -> first year kept). Raises :class:`InputError` when the column is absent or no region is left,
    naming the regions and years."""
    if not isinstance(panel, pd.DataFrame):
        raise InputError(f"the panel must be a pandas DataFrame, got {type(panel).__name__}")
    frame = panel.copy()
    for column in ("region", "year"):
        if column not in frame.columns:
            raise InputError(f"panel lacks column {column!r}")
    if ENERGY not in frame.columns:
        if {"primary_energy_consumption", "gdp"} <= set(frame.columns):
            energy = pd.to_numeric(frame["primary_energy_consumption"], errors="coerce")
            frame[ENERGY] = energy * TWH_TO_KWH / pd.to_numeric(frame["gdp"], errors="coerce")
        else:
            raise InputError(f"the STIRPAT model needs column {ENERGY!r} (energy intensity of GDP, {ENERGY_UNITS}; "
                             "OWID's energy_per_gdp) or 'primary_energy_consumption' (TWh) with 'gdp'; the panel has "
                             f"{', '.join(map(str, frame.columns))}")
    values = pd.to_numeric(frame[ENERGY], errors="coerce").to_numpy(dtype=float)
    frame["_ok"] = np.isfinite(values) & (values > 0)
    frame = frame.sort_values(["region", "year"], kind="stable")
    last = int(frame["year"].max()) if len(frame) else 0
    dropped: dict[str, str] = {}
    trimmed: dict[str, int] = {}
    keep_rows = []
    for region, rows in frame.groupby("region", sort=True):
        ok = rows["_ok"].to_numpy()
        years = rows["year"].to_numpy(dtype=int)
        if not ok.any():
            dropped[str(region)] = f"no energy data in {_years_text(years)}"
            continue
        first = int(np.argmax(ok))  # leading years without energy data: before the series starts
        bad_later = years[first:][~ok[first:]]
        if len(bad_later):
            dropped[str(region)] = f"no energy data in {_years_text(bad_later)}"
        elif int(years[-1]) < last:
            dropped[str(region)] = f"data end in {int(years[-1])}, before the panel's last year {last}"
        elif len(years) - first < min_years:
            dropped[str(region)] = (f"energy data start in {int(years[first])}: {len(years) - first} years, fewer "
                                    f"than min_years = {min_years}")
        else:
            if first:
                trimmed[str(region)] = int(years[first])
            keep_rows.append(rows.iloc[first:])
    if not keep_rows:
        detail = "; ".join(f"{r}: {why}" for r, why in list(dropped.items())[:5])
        raise InputError(f"no region has complete energy data ({ENERGY}) for the STIRPAT model: {detail}"
                         + (f" and {len(dropped) - 5} more" if len(dropped) > 5 else ""))
    keep = pd.concat(keep_rows).drop(columns="_ok").reset_index(drop=True)
    keep.attrs = {**panel.attrs, "dropped_regions": {**panel.attrs.get("dropped_regions", {}), **dropped},
                  "energy_trimmed": trimmed}
    if (dropped or trimmed) and warn:
        parts = []
        if dropped:
            parts.append(f"{len(dropped)} region(s) dropped for incomplete energy data ({ENERGY}); "
                         + "; ".join(f"{r}: {why}" for r, why in dropped.items()))
        if trimmed:
            parts.append(f"{len(trimmed)} region(s) fitted from the first year of their energy series: "
                         + ", ".join(f"{r} from {y}" for r, y in trimmed.items()))
        warnings.warn("STIRPAT model: " + ". ".join(parts), EnergyDataWarning, stacklevel=3)
    return keep


@dataclass(frozen=True)
class StirpatArrays:
    """The panel prepared for the likelihood: one entry per usable year-on-year change (logs of I, P, A, T)."""

    regions: list[str]
    region_idx: np.ndarray  # (obs,) int
    year: np.ndarray  # (obs,) the later year of each change
    d_log_co2: np.ndarray  # (obs,) Δ ln I
    d_log_population: np.ndarray  # (obs,) Δ ln P
    d_log_gdp_pc: np.ndarray  # (obs,) Δ ln A
    d_log_energy: np.ndarray  # (obs,) Δ ln T
    prev_idx: np.ndarray  # (obs,) index of the previous change of the same region, or 0
    has_prev: np.ndarray  # (obs,) 1.0 where prev_idx is meaningful
    x_center: float  # mean ln GDP per capita (ln int-$ 2011 per person) over the fitted region-years
    x_prev: np.ndarray  # (obs,) ln GDP per capita minus x_center in the earlier year of each change
    last_obs_idx: np.ndarray  # (region,) index of each region's last change
    last_year: np.ndarray  # (region,)
    last_log_co2: np.ndarray  # (region,) ln Mt CO2
    last_log_population: np.ndarray  # (region,) ln people
    last_log_gdp_pc: np.ndarray  # (region,) ln int-$ per person
    last_log_energy: np.ndarray  # (region,) ln kWh per int-$


def prepare_stirpat(panel: pd.DataFrame, *, min_years: int = 10, warn: bool = True) -> StirpatArrays:
    """Check ``panel`` (:func:`energy_panel`, then every column positive and finite, no duplicates, each region
    with ``min_years`` years) and turn it into first differences of the logs. Errors name column, region, year."""
    frame = energy_panel(panel, min_years=min_years, warn=warn)
    frame = checked_columns(frame, COLUMNS, positive=COLUMNS[2:], min_years=min_years)
    regions = sorted(frame["region"].astype(str).unique())
    frame = frame.assign(region=frame["region"].astype(str),
                         region_idx=pd.Categorical(frame["region"].astype(str), categories=regions).codes,
                         lI=np.log(frame["co2"].to_numpy(float)), lP=np.log(frame["population"].to_numpy(float)),
                         lA=np.log(frame["gdp_per_capita"].to_numpy(float)), lT=np.log(frame[ENERGY].to_numpy(float)))
    prev = frame.groupby("region", sort=False)[["year", "lI", "lP", "lA", "lT"]].shift(1)
    usable = ((frame["year"] - prev["year"]) == 1).to_numpy()
    # income is centred on the fitted panel's mean, as in the EKC and Kaya models (forecast.models.ekc)
    x_center = float(frame["lA"].mean())
    changes = pd.DataFrame({"region_idx": frame["region_idx"].to_numpy(), "year": frame["year"].to_numpy(int),
                            "x_prev": (prev["lA"] - x_center).to_numpy(),
                            **{f"d{k}": (frame[k] - prev[k]).to_numpy() for k in ("lI", "lP", "lA", "lT")}})
    changes = changes.loc[usable].reset_index(drop=True)
    if changes.groupby("region_idx").size().reindex(range(len(regions)), fill_value=0).min() < 2:
        raise InputError("every region needs at least two consecutive years of data for the STIRPAT model")
    linked = ((changes["region_idx"].shift(1) == changes["region_idx"])
              & (changes["year"].shift(1) == changes["year"] - 1)).to_numpy()
    n = len(changes)
    last = frame.groupby("region_idx", sort=True).tail(1).sort_values("region_idx")
    last_obs = changes.groupby("region_idx", sort=True).tail(1).sort_values("region_idx").index.to_numpy()
    return StirpatArrays(
        regions=regions, region_idx=changes["region_idx"].to_numpy(int), year=changes["year"].to_numpy(int),
        d_log_co2=changes["dlI"].to_numpy(float), d_log_population=changes["dlP"].to_numpy(float),
        d_log_gdp_pc=changes["dlA"].to_numpy(float), d_log_energy=changes["dlT"].to_numpy(float),
        prev_idx=np.where(linked, np.arange(n) - 1, 0).astype(int), has_prev=linked.astype(float),
        x_center=x_center, x_prev=changes["x_prev"].to_numpy(float), last_obs_idx=last_obs.astype(int),
        last_year=last["year"].to_numpy(int),
        last_log_co2=last["lI"].to_numpy(float), last_log_population=last["lP"].to_numpy(float),
        last_log_gdp_pc=last["lA"].to_numpy(float), last_log_energy=last["lT"].to_numpy(float))


def _per_region(value) -> np.ndarray:
    """A ``(sample, region)`` parameter as float; a ``(sample,)`` one as a column that broadcasts over regions."""
    value = np.asarray(value, dtype=float)
    return value[:, None] if value.ndim == 1 else value


def simulate_stirpat(params: dict[str, np.ndarray], drivers: dict[str, np.ndarray], shocks: dict[str, np.ndarray]
                     ) -> dict[str, np.ndarray]:
    """The STIRPAT model's generative process forward (the one simulator of its likelihood).

    Each year, for every sample and region::

        Δln T_t = tech_drift + tech_income·Δln A_t + tech_sigma·η_t
        Δln I_t = drift + θ·x_t-1 + b·Δln P_t + c·Δln A_t + d·Δln T_t + u_t,   u_t = φ u_t-1 + σ ε_t

    with ``x_t-1 = ln A_t-1 - x_center`` (last year's centred log GDP per capita; ``ln A`` of the year before
    the first simulated one is ``log_gdp_pc0``).

    ``params``: ``drift, affluence_elasticity, technology_elasticity, sigma, tech_drift, tech_sigma``
    ``(sample, region)``; ``population_elasticity, phi, tech_income`` ``(sample,)``; optionally
    ``drift_income`` (θ, 1/yr per unit of centred log income) ``(sample,)``, which needs ``drivers["x_center"]``
    (ln int-$ 2011 per person). ``drivers``:
    ``log_population, log_gdp_pc`` ``(sample, region, year)`` over the simulated years, and the state before
    the first one, ``log_population0, log_gdp_pc0, log_co2_0, log_energy0`` ``(region,)`` and ``u0``
    ``(region,)`` or ``(sample, region)`` (last fitted residual; NaN = none, the first change then has the
    stationary scale).
    ``shocks``: unit shocks ``eps`` (emissions) and ``eta`` (technology), ``(sample, region, year)``.

    Returns ``log_co2`` (ln Mt CO2/yr) and ``log_energy`` (ln kWh per int-$) ``(sample, region, year)``."""
    lp, la = drivers["log_population"], drivers["log_gdp_pc"]
    dlp = np.diff(lp, axis=2, prepend=np.broadcast_to(drivers["log_population0"][None, :, None], lp[:, :, :1].shape))
    dla = np.diff(la, axis=2, prepend=np.broadcast_to(drivers["log_gdp_pc0"][None, :, None], la[:, :, :1].shape))
    per_sample = {k: np.asarray(params[k], dtype=float)[:, None]
                  for k in ("population_elasticity", "phi", "tech_income")}
    dlt = (_per_region(params["tech_drift"])[:, :, None] + per_sample["tech_income"][:, :, None] * dla
           + _per_region(params["tech_sigma"])[:, :, None] * shocks["eta"])
    if "drift_income" in params:
        # last year's income: the start level for the first simulated year, then the scenario's own path
        la_prev = np.concatenate([np.broadcast_to(drivers["log_gdp_pc0"][None, :, None], la[:, :, :1].shape),
                                  la[:, :, :-1]], axis=2)
        income = np.asarray(params["drift_income"], dtype=float)[:, None, None] * (la_prev - drivers["x_center"])
    else:
        income = 0.0
    mean = (_per_region(params["drift"])[:, :, None] + income + per_sample["population_elasticity"][:, :, None] * dlp
            + _per_region(params["affluence_elasticity"])[:, :, None] * dla
            + _per_region(params["technology_elasticity"])[:, :, None] * dlt)
    phi, sigma = per_sample["phi"], _per_region(params["sigma"])
    u = np.broadcast_to(np.asarray(drivers["u0"], dtype=float), sigma.shape).copy()
    d_log_co2 = np.empty_like(mean)
    for t in range(mean.shape[2]):
        shock = sigma * shocks["eps"][:, :, t]
        # the first change of a run (no earlier residual) has the stationary scale, as in the likelihood
        u = np.where(np.isnan(u), shock / np.sqrt(1.0 - phi**2), phi * u + shock)
        d_log_co2[:, :, t] = mean[:, :, t] + u
    log_co2 = drivers["log_co2_0"][None, :, None] + np.cumsum(d_log_co2, axis=2)
    log_energy = drivers["log_energy0"][None, :, None] + np.cumsum(dlt, axis=2)
    return {"log_co2": log_co2, "log_energy": log_energy}


class StirpatModel(BayesianModel):
    """Hierarchical STIRPAT model in growth form with a technology (energy-intensity) path (see the module
    docstring for the equations).

    Parameters
    ----------
    model_config:
        Prior overrides by name from ``priors/stirpat.toml`` (``stirpat.population_elasticity`` or
        ``population_elasticity``).
    residuals, likelihood:
        ``"ar1"`` | ``"iid"`` emission shocks; ``"studentt"`` | ``"normal"`` for the emission and the
        technology shocks (each with its own degrees of freedom).
    parameterization:
        ``"mixed"`` (drifts and elasticities non-centred, shock scales centred), ``"centered"`` or
        ``"non_centered"``.
    varying_elasticities:
        Affluence and technology elasticities per region, partially pooled (default); False = one each.
    technology_income:
        Let energy-intensity growth depend on GDP-per-capita growth (``κ``); False = a pure drift walk.
    drift_income:
        Let the emission drift depend on last year's centred log GDP per capita (``θ``, shared), so
        decarbonisation can speed up as regions get richer; False = a constant drift per region.
    min_years:
        Regions with fewer years (after dropping incomplete energy data) are an error.
    """

    name = "stirpat"
    version = MODEL_VERSION
    family = "stirpat"
    kind = "emissions"
    #: extra panel columns the model reads from the data source (OWID's energy intensity of GDP)
    panel_columns: ClassVar[tuple[str, ...]] = (ENERGY,)
    positive_priors = ("nu", "technology_nu")

    def __init__(self, model_config: dict[str, Any] | None = None, *, residuals: str = "ar1",
                 likelihood: str = "studentt", parameterization: str = "mixed", varying_elasticities: bool = True,
                 technology_income: bool = True, drift_income: bool = True, min_years: int = 10):
        super().__init__(model_config)
        self.residuals = residuals
        self.likelihood = likelihood
        self.parameterization = parameterization
        self.varying_elasticities = varying_elasticities
        self.technology_income = technology_income
        self.drift_income = drift_income
        self.min_years = min_years

    # ------------------------------------------------------------------ settings and data
    def check_settings(self) -> None:
        for label, value, allowed in (("residuals", self.residuals, RESIDUALS),
                                      ("likelihood", self.likelihood, LIKELIHOODS),
                                      ("parameterization", self.parameterization, PARAMETERIZATIONS)):
            if value not in allowed:
                raise InputError(f"{label} must be one of {', '.join(allowed)}, got {value!r}")
        for label in ("varying_elasticities", "technology_income", "drift_income"):
            if not isinstance(getattr(self, label), bool):
                raise InputError(f"{label} must be true or false, got {getattr(self, label)!r}")
        if isinstance(self.min_years, bool) or not isinstance(self.min_years, (int, np.integer)) or self.min_years < 3:
            raise InputError(f"min_years must be an integer of at least 3, got {self.min_years!r}")

    @classmethod
    def usable_panel(cls, panel: pd.DataFrame, *, min_years: int = 10) -> pd.DataFrame:
        """The region-years of ``panel`` the model can fit (:func:`energy_panel`: years before the energy series
        left out, regions with incomplete energy data dropped with a warning naming them)."""
        return energy_panel(panel, min_years=min_years)

    def prepare(self, data: pd.DataFrame, **options: Any) -> StirpatArrays:
        """Check ``data`` and turn it into the arrays of the likelihood (:func:`prepare_stirpat`)."""
        return prepare_stirpat(data, min_years=self.min_years, **options)

    def _form(self, term: str) -> str:
        return MIXED[term] if self.parameterization == "mixed" else self.parameterization

    def _terms(self) -> list[tuple[str, str]]:
        """(prior-library entry, posterior variable) of the population-level terms in use."""
        terms = [("population_elasticity", "population_elasticity"), ("drift_mu", "drift_mu"),
                 ("drift_sigma", "drift_sigma"), ("log_noise_mu", "log_noise_mu"),
                 ("log_noise_sigma", "log_noise_sigma"), ("tech_drift_mu", "tech_drift_mu"),
                 ("tech_drift_sigma", "tech_drift_sigma"), ("tech_log_noise_mu", "tech_log_noise_mu"),
                 ("tech_log_noise_sigma", "tech_log_noise_sigma")]
        if self.varying_elasticities:
            terms += [("affluence_elasticity_mu", "affluence_elasticity_mu"),
                      ("affluence_elasticity_sigma", "affluence_elasticity_sigma"),
                      ("technology_elasticity_mu", "technology_elasticity_mu"),
                      ("technology_elasticity_sigma", "technology_elasticity_sigma")]
        else:
            terms += [("affluence_elasticity_mu", "affluence_elasticity"),
                      ("technology_elasticity_mu", "technology_elasticity")]
        optional = [(self.residuals == "ar1", "ar1", "phi"), (self.likelihood == "studentt", "nu", "nu"),
                    (self.likelihood == "studentt", "technology_nu", "technology_nu"),
                    (self.technology_income, "technology_income", "tech_income"),
                    (self.drift_income, "drift_income", "drift_income")]
        return terms + [(prior, var) for used, prior, var in optional if used]

    def prior_terms(self) -> list[str]:
        return [prior for prior, _ in self._terms()]

    def parameter_names(self) -> list[str]:
        regional = ["drift", "sigma", "tech_drift", "tech_sigma"]
        if self.varying_elasticities:
            regional += ["affluence_elasticity", "technology_elasticity"]
        return [var for _, var in self._terms()] + regional

    # ------------------------------------------------------------------ model
    def build_model(self, data: StirpatArrays) -> pm.Model:
        """The PyMC model of the two growth equations (no sampling); every data array is a ``pm.Data``."""
        self.check_settings()
        specs = self.priors()
        coords = {"region": list(data.regions), "obs": np.arange(len(data.d_log_co2))}
        with pm.Model(coords=coords) as model:
            idx = pm.Data("region_idx", data.region_idx, dims="obs")
            d_i = pm.Data("d_log_co2", data.d_log_co2, dims="obs")
            d_p = pm.Data("d_log_population", data.d_log_population, dims="obs")
            d_a = pm.Data("d_log_gdp_pc", data.d_log_gdp_pc, dims="obs")
            d_t = pm.Data("d_log_energy", data.d_log_energy, dims="obs")

            def by_region(name: str, mu_prior: str, sigma_prior: str, *, form: str):
                mu = specs[mu_prior].to_pymc(f"{name}_mu")
                sd = specs[sigma_prior].to_pymc(f"{name}_sigma")
                if self._form(form) == "centered":
                    return pm.Normal(name, mu, sd, dims="region")
                offset = pm.Normal(f"{name}_offset", 0.0, 1.0, dims="region")
                return pm.Deterministic(name, mu + sd * offset, dims="region")

            # technology: a drift walk per region (optionally moving with GDP growth)
            tech_drift = by_region("tech_drift", "tech_drift_mu", "tech_drift_sigma", form="tech_drift")
            tech_sigma = pm.Deterministic("tech_sigma", pt.exp(by_region(
                "tech_log_noise", "tech_log_noise_mu", "tech_log_noise_sigma", form="tech_log_noise")), dims="region")
            tech_mean = tech_drift[idx]
            if self.technology_income:
                tech_mean = tech_mean + specs["technology_income"].to_pymc("tech_income") * d_a
            if self.likelihood == "studentt":
                pm.StudentT("d_log_energy_obs", nu=specs["technology_nu"].to_pymc("technology_nu"), mu=tech_mean,
                            sigma=tech_sigma[idx], observed=d_t, dims="obs")
            else:
                pm.Normal("d_log_energy_obs", mu=tech_mean, sigma=tech_sigma[idx], observed=d_t, dims="obs")

            # emissions given the drivers
            b = specs["population_elasticity"].to_pymc("population_elasticity")
            if self.varying_elasticities:
                c = by_region("affluence_elasticity", "affluence_elasticity_mu", "affluence_elasticity_sigma",
                              form="affluence")[idx]
                d = by_region("technology_elasticity", "technology_elasticity_mu", "technology_elasticity_sigma",
                              form="technology")[idx]
            else:
                c = specs["affluence_elasticity_mu"].to_pymc("affluence_elasticity")
                d = specs["technology_elasticity_mu"].to_pymc("technology_elasticity")
            drift = by_region("drift", "drift_mu", "drift_sigma", form="drift")
            sigma = pm.Deterministic("sigma", pt.exp(by_region("log_noise", "log_noise_mu", "log_noise_sigma",
                                                                form="log_noise")), dims="region")
            mean = drift[idx] + b * d_p + c * d_a + d * d_t
            if self.drift_income:
                income = specs["drift_income"].to_pymc("drift_income")
                mean = mean + income * pm.Data("x_prev", data.x_prev, dims="obs")
            ar1 = None
            if self.residuals == "ar1":
                ar1 = (pm.Data("prev_idx", data.prev_idx, dims="obs"), pm.Data("has_prev", data.has_prev, dims="obs"))
            growth_likelihood("d_log_co2_obs", d_i, mean, sigma[idx], residuals=self.residuals,
                              likelihood=self.likelihood, specs=specs, ar1_inputs=ar1)
        return model

    def state(self, data: StirpatArrays) -> xr.Dataset:
        """What forecasts start from: per region the last observed year, the logs of I, P, A and T then, and
        the drivers' last changes (for the last fitted residual)."""
        last = data.last_obs_idx
        return xr.Dataset(
            {"last_year": ("region", data.last_year),
             "last_log_co2": ("region", data.last_log_co2),
             "last_log_population": ("region", data.last_log_population),
             "last_log_gdp_pc": ("region", data.last_log_gdp_pc),
             "last_log_energy": ("region", data.last_log_energy),
             "last_d_log_co2": ("region", data.d_log_co2[last]),
             "last_d_log_population": ("region", data.d_log_population[last]),
             "last_d_log_gdp_pc": ("region", data.d_log_gdp_pc[last]),
             "last_d_log_energy": ("region", data.d_log_energy[last]),
             "last_x_prev": ("region", data.x_prev[last]),
             "last_change_year": ("region", data.year[last])},
            coords={"region": list(data.regions)})

    def fit_attrs(self, data: StirpatArrays) -> dict[str, Any]:
        return {"x_center": data.x_center}

    @property
    def x_center(self) -> float:
        """Mean ln GDP per capita (ln int-$ 2011 per person) of the fitted panel: where ``x = 0``."""
        return float(self._require_fit().posterior.attrs["x_center"])

    def label_posterior(self, posterior: xr.Dataset, arrays: StirpatArrays) -> None:
        units = {"population_elasticity": ("dimensionless", "elasticity of CO2 to population (b)"),
                 "affluence_elasticity": ("dimensionless", "elasticity of CO2 to GDP per capita (c)"),
                 "technology_elasticity": ("dimensionless", "elasticity of CO2 to energy intensity of GDP (d)"),
                 "drift": ("1/yr", "trend of log CO2 at constant drivers"),
                 "sigma": ("1/yr", "scale of the yearly emission shocks"),
                 "tech_drift": ("1/yr", "trend of log energy intensity at zero GDP growth"),
                 "tech_sigma": ("1/yr", "scale of the yearly energy-intensity shocks"),
                 "tech_income": ("dimensionless", "change of log energy intensity per change of log GDP per capita"),
                 "drift_income": ("1/yr per unit of centred log GDP per capita",
                                  "change of the emission drift with last year's income (theta)")}
        for name, (unit, long_name) in units.items():
            if name in posterior:
                posterior[name].attrs.update(units=unit, long_name=long_name)

    # ------------------------------------------------------------------ prediction
    def simulate(self, params, drivers, shocks):
        """:func:`simulate_stirpat` (the generative process of the likelihood, run forward)."""
        return simulate_stirpat(params, drivers, shocks)

    def kernel_params(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``n`` joint posterior draws in the simulator's terms (zeros / inf where this configuration lacks
        the term; shared elasticities repeated over regions), with ``chain`` and ``draw``."""
        names = ["drift", "sigma", "tech_drift", "tech_sigma", "population_elasticity", "affluence_elasticity",
                 "technology_elasticity"] + [name for used, name in (
                     (self.residuals == "ar1", "phi"), (self.likelihood == "studentt", "nu"),
                     (self.likelihood == "studentt", "technology_nu"), (self.technology_income, "tech_income"),
                     (self.drift_income, "drift_income")) if used]
        out = self.posterior_draws(names, n, rng)
        for key in ("affluence_elasticity", "technology_elasticity"):
            if out[key].ndim == 1:
                out[key] = np.repeat(out[key][:, None], len(self.regions), axis=1)
        out.setdefault("phi", np.zeros(n))
        out.setdefault("tech_income", np.zeros(n))
        out.setdefault("drift_income", np.zeros(n))
        out.setdefault("nu", np.full(n, np.inf))
        out.setdefault("technology_nu", np.full(n, np.inf))
        return out

    def _last_residual(self, params: dict[str, np.ndarray], state: xr.Dataset) -> np.ndarray:
        """The fitted emission residual of each region's last change, per sample ``(sample, region)``."""
        mean = (params["drift"] + params["drift_income"][:, None] * state["last_x_prev"].values
                + params["population_elasticity"][:, None] * state["last_d_log_population"].values
                + params["affluence_elasticity"] * state["last_d_log_gdp_pc"].values
                + params["technology_elasticity"] * state["last_d_log_energy"].values)
        return state["last_d_log_co2"].values[None, :] - mean

    def predict(self, scenario, *, draws: int = 1000, random_seed: int | None = None, regions=None,
                **options: Any) -> xr.Dataset:
        """Emissions along ``scenario`` for each posterior draw, with a simulated energy-intensity path.

        Returns dims ``(sample, region, year)`` over the forecast years: ``co2_per_capita`` (t CO2 per person
        per yr), ``gdp_per_capita`` and ``population`` (the scenario draws used), ``energy_per_gdp`` (kWh per
        int-$ 2011, the technology path) and ``co2`` (Mt CO2/yr); ``chain`` / ``draw`` on ``sample``."""
        if options:
            raise InputError(f"the STIRPAT model's predict takes no {', '.join(sorted(options))}")
        idata = self._require_fit()
        rng = np.random.default_rng(random_seed)
        regions = check_regions(self, regions)
        state = idata.constant_data.sel(region=regions)
        start_year = int(state["last_year"].max()) + 1
        if int(state["last_year"].min()) + 1 != start_year:
            raise InputError("the regions of a STIRPAT forecast must share their last fitted year")
        paths = scenario.draw(regions, start_year=start_year, n_samples=draws, rng=rng)
        gdp = paths["gdp_per_capita"].transpose("sample", "region", "year").values
        pop = paths["population"].transpose("sample", "region", "year").values
        params = self.kernel_params(draws, rng)
        pos = [self.regions.index(r) for r in regions]
        params = {k: (v[:, pos] if v.ndim == 2 else v) for k, v in params.items()}
        shape = gdp.shape
        eps = _unit_shocks(rng, params["nu"], shape)
        eta = _unit_shocks(rng, params["technology_nu"], shape)
        # the AR(1) state: each sample's fitted residual of the last observed change (iid: none needed)
        u0 = self._last_residual(params, state) if self.residuals == "ar1" else np.zeros(shape[:2])
        drivers = {"log_population": np.log(pop), "log_gdp_pc": np.log(gdp),
                   "log_population0": state["last_log_population"].values,
                   "log_gdp_pc0": state["last_log_gdp_pc"].values, "log_co2_0": state["last_log_co2"].values,
                   "log_energy0": state["last_log_energy"].values, "u0": u0, "x_center": self.x_center}
        sim = self.simulate(params, drivers, {"eps": eps, "eta": eta})
        co2 = np.exp(sim["log_co2"])
        dims = ("sample", "region", "year")
        ds = xr.Dataset(
            {"co2_per_capita": (dims, co2 * 1e6 / pop, {"units": "t CO2 per person per yr",
                                                        "long_name": "per-capita CO2 emissions"}),
             "gdp_per_capita": paths["gdp_per_capita"].transpose(*dims),
             "population": paths["population"].transpose(*dims),
             ENERGY: (dims, np.exp(sim["log_energy"]), {"units": ENERGY_UNITS,
                                                         "long_name": "energy intensity of GDP (technology path)"}),
             "co2": (dims, co2, {"units": "Mt CO2/yr", "long_name": "territorial CO2 emissions"})},
            coords={"sample": np.arange(draws), "region": regions, "year": paths["year"].values,
                    "chain": ("sample", params["chain"]), "draw": ("sample", params["draw"])})
        return ds

    def elasticity_table(self, prob: float = 0.9) -> pd.DataFrame:
        """Posterior mean, sd and central ``prob`` interval of the population-level elasticities ``b``, ``c``,
        ``d`` (the means of the region elasticities when they vary), the technology-income term and ``θ``."""
        post = self._require_fit().posterior
        names = ["population_elasticity",
                 "affluence_elasticity_mu" if self.varying_elasticities else "affluence_elasticity",
                 "technology_elasticity_mu" if self.varying_elasticities else "technology_elasticity"]
        names += ["tech_income"] if self.technology_income else []
        names += ["drift_income"] if self.drift_income else []
        lo, hi = (1 - prob) / 2, 1 - (1 - prob) / 2
        rows = []
        for name in names:
            v = post[name].values.ravel()
            rows.append({"parameter": name, "mean": float(v.mean()), "sd": float(v.std(ddof=1)),
                         f"q{lo * 100:g}": float(np.quantile(v, lo)), f"q{hi * 100:g}": float(np.quantile(v, hi))})
        return pd.DataFrame(rows)


def _unit_shocks(rng: np.random.Generator, nu: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Unit Student-t shocks with per-sample degrees of freedom (inf = standard normal)."""
    nu = np.asarray(nu, dtype=float)
    out = rng.standard_normal(shape)
    finite = np.isfinite(nu)
    if finite.any():
        out[finite] = rng.standard_t(nu[finite, None, None], size=(int(finite.sum()),) + shape[1:])
    return out
