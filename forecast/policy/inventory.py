"""Emission inventories: emissions = Σ activity × factor, with IPCC uncertainty propagation.

Units
-----
Activities and factors carry unit strings checked against an explicit table (pint is not a dependency):

* mass: ``g, kg, t, kt, Mt, Gt`` (to tonnes); energy: ``MJ, GJ, TJ, PJ, EJ`` (to TJ);
  area: ``ha, kha, Mha, km2`` (to ha); optional species after a space: ``CO2`` or ``C`` (1 t C = CO2_PER_C t CO2,
  :data:`forecast.units.CO2_PER_C`; unit scales in :mod:`forecast.units`).
* an activity is one amount, e.g. ``"TJ"``, ``"kt"``, ``"Mha"``, ``"Mt CO2"``;
* a factor is ``"<mass> <species>/<amount>[/yr]"``, e.g. ``"kg CO2/TJ"``, ``"t CO2/t"``, ``"t C/ha/yr"``,
  ``"t CO2/t CO2"`` (a dimensionless multiplier on a reported emission).

A factor applies to an activity only when the activity's amount has the dimension (and species, if any) of
the factor's denominator; otherwise :class:`InputError` names the category and both units (e.g. fuel mass in
``t`` against a factor per ``TJ`` needs a net calorific value first, which this module does not guess).

Approach 1 (IPCC 2006 Vol. 1 Ch. 3, Eqs. 3.1 and 3.2)
-----------------------------------------------------
``U`` is the half-width of the 95 % interval in % of the mean; for a normal quantity ``U = 1.96 × CV × 100``.
Per category (a product, Eq. 3.1): ``U_i = sqrt(U_A² + U_F²)``; for the total (a sum, Eq. 3.2):
``U_total = sqrt(Σ (U_i E_i)²) / |Σ E_i|``. The interval is symmetric, ``E (1 ± U/100)``; categories are
independent. Each category's share of the total variance is ``(U_i E_i)² / Σ (U_j E_j)²`` (key-category view).
Eq. 3.1 is a first-order approximation: it understates the upper bound when uncertainties are large and
skewed (IPCC advises Approach 2 when U exceeds about 100 % or distributions are skewed).

Approach 2 (Monte Carlo, IPCC 2006 Vol. 1 Ch. 3.2.3.2)
--------------------------------------------------------
Activities and factors are drawn (posterior or prior factor draws from
:class:`~forecast.models.emission_factors.EmissionFactorModel`, or parametric factors), emissions summed per
draw; the 95 % interval is the 2.5-97.5 percentile range, reported as asymmetric ``U+ = (upper-mean)/mean``
and ``U− = (mean-lower)/mean`` in %. Correlated factors use a Gaussian copula: standard normals
``Z ~ N(0, R)`` set the factor's log-scale score (log-normal factors: ``log F = μ + s Z``; posterior draws: the
empirical quantile at ``Φ(Z)``). Variance shares are ``cov(E_i, T) / var(T)`` (they sum to 1 and reduce to
``var(E_i) / Σ var(E_j)`` when categories are independent).

Parametrisation: an :class:`Activity` or :class:`EmissionFactor` gives its **mean** ``value`` and relative sd
``rel_sd`` (coefficient of variation). A log-normal quantity with that mean and CV has
``s² = log(1 + CV²)`` and ``μ = log(mean) − s²/2``, so both approaches see the same mean and variance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from forecast.errors import InputError, did_you_mean
from forecast.mdtable import md_table
from forecast.units import AREA, CO2_PER_C, ENERGY, MASS

__all__ = [
    "Activity",
    "EmissionFactor",
    "Approach1Result",
    "Approach2Result",
    "approach1",
    "approach2",
    "compare_approaches",
    "inventory_from_posterior",
    "InventoryErrorSplit",
    "ceads_error_split",
    "ceads_factor_draws",
    "ceads_source_correlation",
    "factor_multipliers",
    "inventory_error_split",
    "conversion_factor",
    "parse_amount",
    "parse_factor_units",
    "Z95",
]

Z95 = 1.959963984540054  # standard-normal 97.5 % quantile

UNIT_TABLE: dict[str, tuple[str, float]] = {
    **{u: ("mass", s) for u, s in MASS.items()},
    **{u: ("energy", s) for u, s in ENERGY.items()},
    **{u: ("area", s) for u, s in AREA.items()},
}
SPECIES = {"CO2": 1.0, "C": CO2_PER_C}  # t CO2 per t of the species
PER_YEAR = ("yr", "a", "year")
DISTRIBUTIONS = ("normal", "lognormal")


# ----------------------------------------------------------------------------------------------------
# Units
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Amount:
    """A parsed amount unit: dimension (mass/energy/area), scale to the base unit, species (or None)."""

    text: str
    dimension: str
    scale: float
    species: str | None = None

    def describe(self) -> str:
        return f"{self.dimension}" + (f" of {self.species}" if self.species else "")


def parse_amount(units: str, *, what: str = "units") -> Amount:
    """``"Mt CO2"`` -> Amount(mass, 1e6, "CO2"); unknown units raise InputError with suggestions."""
    if not isinstance(units, str) or not units.strip():
        raise InputError(f"{what}: expected a unit string such as 'TJ', 'kt' or 'Mt CO2', got {units!r}")
    parts = units.split()
    if len(parts) > 2:
        raise InputError(f"{what}: cannot read unit {units!r}; expected '<unit>' or '<unit> <species>'")
    unit = parts[0]
    if unit not in UNIT_TABLE:
        hint = did_you_mean(unit, UNIT_TABLE, cutoff=0.5)
        raise InputError(f"{what}: unknown unit {unit!r} in {units!r}{hint}; known: {', '.join(UNIT_TABLE)}")
    species = parts[1] if len(parts) == 2 else None
    if species is not None and species not in SPECIES:
        raise InputError(f"{what}: unknown species {species!r} in {units!r}; known: {', '.join(SPECIES)}")
    dim, scale = UNIT_TABLE[unit]
    if species is not None and dim != "mass":
        raise InputError(f"{what}: a species ({species}) only goes with a mass unit, got {units!r}")
    return Amount(units, dim, scale, species)


@dataclass(frozen=True)
class FactorUnits:
    text: str
    numerator: Amount  # a mass of a species
    denominator: Amount
    per_year: bool


def parse_factor_units(units: str, *, what: str = "factor units") -> FactorUnits:
    """``"kg CO2/TJ"``, ``"t C/ha/yr"``, ``"t CO2/t CO2"`` -> FactorUnits."""
    if not isinstance(units, str) or "/" not in units:
        raise InputError(f"{what}: expected '<mass> <species>/<unit>' such as 'kg CO2/TJ', got {units!r}")
    parts = [p.strip() for p in units.split("/")]
    per_year = parts[-1] in PER_YEAR
    if per_year:
        parts = parts[:-1]
    if len(parts) != 2:
        raise InputError(f"{what}: cannot read {units!r}; expected '<mass> <species>/<unit>[/yr]'")
    num = parse_amount(parts[0], what=what)
    if num.dimension != "mass" or num.species is None:
        raise InputError(f"{what}: the numerator of {units!r} must be a mass of CO2 or C, e.g. 'kg CO2'")
    den = parse_amount(parts[1], what=what)
    return FactorUnits(units, num, den, per_year)


def conversion_factor(activity_units: str, factor_units: str, out_units: str = "Mt CO2", *, category: str = "?") -> float:
    """Multiplier ``k`` with ``emissions[out_units] = k × activity[activity_units] × factor[factor_units]``.

    Raises InputError naming ``category`` and both units when the activity cannot be converted to the
    factor's denominator (different dimension or species).
    """
    act = parse_amount(activity_units, what=f"category {category!r}: activity units")
    fac = parse_factor_units(factor_units, what=f"category {category!r}: factor units")
    out = parse_amount(out_units, what="out_units")
    if out.dimension != "mass" or out.species is None:
        raise InputError(f"out_units must be a mass of CO2 or C such as 'Mt CO2', got {out_units!r}")
    den = fac.denominator
    if act.dimension != den.dimension or (den.species is not None and act.species != den.species):
        raise InputError(
            f"category {category!r}: activity in {activity_units!r} ({act.describe()}) cannot be converted to "
            f"the denominator of the factor units {factor_units!r} ({den.describe()})"
            + ("; convert fuel mass to energy with a net calorific value first" if {act.dimension, den.dimension} == {"mass", "energy"} else "")
        )
    tonnes_species = act.scale / den.scale * fac.numerator.scale  # t of numerator species per unit A×F
    tonnes_co2 = tonnes_species * SPECIES[fac.numerator.species]
    return tonnes_co2 / SPECIES[out.species] / out.scale


# ----------------------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------------------


def _check_dist(distribution: str, where: str) -> str:
    if distribution not in DISTRIBUTIONS:
        raise InputError(f"{where}: distribution must be one of {', '.join(DISTRIBUTIONS)}, got {distribution!r}")
    return distribution


MAX_ACTIVITY = 1e15  # no inventory activity (t, TJ, m3, ...) comes near this; larger is a unit or typing error
MAX_NORMAL_REL_SD = 0.5


@dataclass(frozen=True)
class Activity:
    """Activity data of one category: mean ``value`` in ``units``, relative sd ``rel_sd`` (0 = exact)."""

    category: str
    value: float
    units: str
    rel_sd: float = 0.0
    distribution: str = "normal"

    def __post_init__(self) -> None:
        where = f"activity {self.category!r}"
        if not np.isfinite(self.value) or not 0 <= self.value <= MAX_ACTIVITY:
            raise InputError(f"{where}: value must lie in 0-{MAX_ACTIVITY:.0e} (in its units), got {self.value!r}")
        if not np.isfinite(self.rel_sd) or not 0 <= self.rel_sd <= 1:
            raise InputError(f"{where}: rel_sd is a relative 1-sigma uncertainty in 0-1, got {self.rel_sd!r}")
        _check_dist(self.distribution, where)
        if self.distribution == "normal" and self.rel_sd > MAX_NORMAL_REL_SD:
            # a normal with this spread puts > 2 % of its draws below zero: IPCC 2006 Vol. 1 Ch. 3 uses a
            # log-normal for uncertainties this large
            raise InputError(f"{where}: rel_sd {self.rel_sd} is too wide for a normal distribution (at most "
                             f"{MAX_NORMAL_REL_SD}); give distribution = lognormal")
        parse_amount(self.units, what=f"{where} units")

    @property
    def u_pct(self) -> float:
        """IPCC U: half-width of the 95 % interval in % of the mean (normal approximation)."""
        return Z95 * self.rel_sd * 100.0


@dataclass(frozen=True)
class EmissionFactor:
    """A parametric factor: mean ``value`` in ``units`` (e.g. ``"kg CO2/TJ"``) with relative sd ``rel_sd``."""

    category: str
    value: float
    units: str
    rel_sd: float = 0.0
    distribution: str = "lognormal"

    def __post_init__(self) -> None:
        where = f"factor {self.category!r}"
        if not np.isfinite(self.value):
            raise InputError(f"{where}: value must be finite, got {self.value!r}")
        if self.distribution == "lognormal" and self.value <= 0:
            raise InputError(f"{where}: a log-normal factor needs value > 0, got {self.value!r}")
        if not np.isfinite(self.rel_sd) or self.rel_sd < 0:
            raise InputError(f"{where}: rel_sd must be finite and >= 0, got {self.rel_sd!r}")
        _check_dist(self.distribution, where)
        parse_factor_units(self.units, what=f"{where} units")

    @property
    def u_pct(self) -> float:
        return Z95 * self.rel_sd * 100.0

    @classmethod
    def from_interval(cls, category: str, default: float, lower: float, upper: float, units: str) -> "EmissionFactor":
        """A log-normal factor from an IPCC default and 95 % range (see ``emission_factors.lognormal_from_range``)."""
        from forecast.priors import lognormal_from_range

        mu, s = lognormal_from_range(default, lower, upper)
        return cls(category, float(np.exp(mu + s**2 / 2)), units, float(np.sqrt(np.expm1(s**2))), "lognormal")


def _as_activities(activities: Any) -> dict[str, Activity]:
    """Activities as {category: Activity} from a list/dict of Activity or a DataFrame."""
    if isinstance(activities, pd.DataFrame):
        missing = [c for c in ("category", "value", "units") if c not in activities.columns]
        if missing:
            raise InputError(f"activities table lacks column(s) {', '.join(missing)} (needs category, value, units[, rel_sd, distribution])")
        rows = [
            Activity(str(r["category"]), float(r["value"]), str(r["units"]),
                     float(r.get("rel_sd", 0.0) if pd.notna(r.get("rel_sd", 0.0)) else 0.0),
                     str(r.get("distribution", "normal") if pd.notna(r.get("distribution", "normal")) else "normal"))
            for r in activities.to_dict("records")
        ]
    elif isinstance(activities, Mapping):
        rows = []
        for key, a in activities.items():
            if not isinstance(a, Activity):
                raise InputError(f"activities[{key!r}]: expected an Activity, got {type(a).__name__}")
            if a.category != key:
                raise InputError(f"activities[{key!r}] holds category {a.category!r}")
            rows.append(a)
    elif isinstance(activities, Iterable):
        rows = list(activities)
        for a in rows:
            if not isinstance(a, Activity):
                raise InputError(f"activities: expected Activity objects, got {type(a).__name__}")
    else:
        raise InputError(f"activities: expected a list/dict of Activity or a DataFrame, got {type(activities).__name__}")
    if not rows:
        raise InputError("activities: at least one category is needed")
    out: dict[str, Activity] = {}
    for a in rows:
        if a.category in out:
            raise InputError(f"activities: category {a.category!r} given twice")
        out[a.category] = a
    return out


def _draws_units(draws: xr.DataArray) -> dict[str, str]:
    cats = [str(c) for c in draws["category"].values]
    if "units" in draws.coords:
        return dict(zip(cats, (str(u) for u in np.atleast_1d(draws["units"].values))))
    units = draws.attrs.get("units")
    if not units:
        raise InputError("factor draws need units: a 'units' attribute or a 'units' coordinate along category")
    return {c: str(units) for c in cats}


def _stack_draws(draws: xr.DataArray, region: str | None) -> xr.DataArray:
    """(sample, category) draws from a DataArray with (chain, draw) or sample dims, optionally by region."""
    if "category" not in draws.dims:
        raise InputError(f"factor draws need a 'category' dimension, got dims {draws.dims}")
    if "region" in draws.dims:
        if region is None:
            raise InputError(f"factor draws are by region ({', '.join(map(str, draws['region'].values))}); pass region=")
        if region not in [str(r) for r in draws["region"].values]:
            raise InputError(f"region {region!r} not in the factor draws ({', '.join(map(str, draws['region'].values))})")
        draws = draws.sel(region=region)
    if "chain" in draws.dims and "draw" in draws.dims:
        draws = draws.stack(sample=("chain", "draw")).reset_index("sample", drop=True)
    if "sample" not in draws.dims or set(draws.dims) != {"sample", "category"}:
        raise InputError(f"factor draws need dims (sample, category[, region]) or (chain, draw, category[, region]), got {draws.dims}")
    return draws.transpose("sample", "category")


def _factor_moments(factors: Any, cats: list[str], region: str | None) -> dict[str, EmissionFactor]:
    """Mean/CV factors per category from EmissionFactor objects or from draws."""
    if isinstance(factors, xr.DataArray):
        units = _draws_units(factors)
        d = _stack_draws(factors, region)
        out = {}
        for c in cats:
            if c not in units:
                raise InputError(_missing_factor(c, list(units)))
            x = d.sel(category=c).values.astype(float)
            mean = float(x.mean())
            out[c] = EmissionFactor(c, mean, units[c], float(x.std(ddof=1) / abs(mean)) if len(x) > 1 else 0.0,
                                    "lognormal" if (x > 0).all() else "normal")
        return out
    table = _as_factor_dict(factors)
    for c in cats:
        if c not in table:
            raise InputError(_missing_factor(c, list(table)))
    return {c: table[c] for c in cats}


def _as_factor_dict(factors: Any) -> dict[str, EmissionFactor]:
    if isinstance(factors, Mapping):
        items = list(factors.values())
    elif isinstance(factors, Iterable) and not isinstance(factors, (str, bytes)):
        items = list(factors)
    else:
        raise InputError(f"factors: expected EmissionFactor objects (list/dict) or factor draws (xarray), got {type(factors).__name__}")
    for f in items:
        if not isinstance(f, EmissionFactor):
            raise InputError(f"factors: expected EmissionFactor objects, got {type(f).__name__}")
    return {f.category: f for f in items}


def _missing_factor(cat: str, known: list[str]) -> str:
    hint = did_you_mean(cat, known, cutoff=0.5)
    return f"no emission factor for category {cat!r}{hint}; factors exist for {', '.join(known)}"


# ----------------------------------------------------------------------------------------------------
# Approach 1
# ----------------------------------------------------------------------------------------------------


@dataclass
class Approach1Result:
    """IPCC Approach 1: total, U (% half-width of the 95 % interval), symmetric bounds, per-category table."""

    total: float
    u_total: float
    lower: float
    upper: float
    table: pd.DataFrame
    units: str

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()


def _lognormal_params(mean: np.ndarray, cv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s2 = np.log1p(np.asarray(cv, float) ** 2)
    return np.log(mean) - s2 / 2, np.sqrt(s2)


def approach1(activities: Any, factors: Any, *, out_units: str = "Mt CO2", region: str | None = None) -> Approach1Result:
    """IPCC 2006 Approach 1 (Vol. 1 Ch. 3, Eqs. 3.1 and 3.2); see the module docstring.

    ``factors``: EmissionFactor objects (list or dict by category) or factor draws (xarray with a
    ``category`` dim and units), summarised to mean and CV.
    """
    acts = _as_activities(activities)
    cats = list(acts)
    facs = _factor_moments(factors, cats, region)
    rows = []
    for c in cats:
        a, f = acts[c], facs[c]
        k = conversion_factor(a.units, f.units, out_units, category=c)
        e = k * a.value * f.value
        u = float(np.hypot(a.u_pct, f.u_pct))  # Eq. 3.1
        rows.append({"category": c, "activity": a.value, "activity_units": a.units, "factor": f.value,
                     "factor_units": f.units, "emissions": e, "U_activity_pct": a.u_pct, "U_factor_pct": f.u_pct,
                     "U_pct": u})
    table = pd.DataFrame(rows).set_index("category")
    contrib = (table["U_pct"] / 100 * table["emissions"]) ** 2
    total = float(table["emissions"].sum())
    var_sum = float(contrib.sum())
    u_total = float(np.sqrt(var_sum) / abs(total) * 100) if total != 0 else float("nan")  # Eq. 3.2
    table["variance_share"] = contrib / var_sum if var_sum > 0 else 0.0
    table.attrs = {"units": out_units, "approach": "IPCC 2006 Approach 1 (Eqs. 3.1, 3.2)"}
    half = abs(total) * u_total / 100
    return Approach1Result(total, u_total, total - half, total + half, table, out_units)


# ----------------------------------------------------------------------------------------------------
# Approach 2
# ----------------------------------------------------------------------------------------------------


@dataclass
class Approach2Result:
    """IPCC Approach 2 (Monte Carlo): draws, mean, 95 % interval, asymmetric U+/U− (%), variance shares."""

    draws: xr.DataArray  # (sample, category) emissions
    total: xr.DataArray  # (sample,)
    mean: float
    median: float
    lower: float
    upper: float
    u_plus: float
    u_minus: float
    variance_share: pd.Series
    units: str
    level: float = 0.95
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def mc_se(self) -> float:
        """Monte Carlo standard error of the mean total."""
        return float(self.total.std(ddof=1) / np.sqrt(self.total.sizes["sample"]))

    def to_frame(self) -> pd.DataFrame:
        e = self.draws
        frame = pd.DataFrame({
            "mean": e.mean("sample").to_pandas(),
            "lower": e.quantile((1 - self.level) / 2, "sample").drop_vars("quantile").to_pandas(),
            "upper": e.quantile((1 + self.level) / 2, "sample").drop_vars("quantile").to_pandas(),
            "variance_share": self.variance_share,
        })
        frame.attrs = {"units": self.units}
        return frame


def _correlation_matrix(correlation: Any, cats: list[str]) -> np.ndarray | None:
    if correlation is None:
        return None
    if isinstance(correlation, pd.DataFrame):
        missing = [c for c in cats if c not in correlation.index or c not in correlation.columns]
        if missing:
            raise InputError(f"correlation matrix lacks categories {', '.join(missing)}")
        r = correlation.loc[cats, cats].to_numpy(dtype=float)
    else:
        r = np.asarray(correlation, dtype=float)
        if r.shape != (len(cats), len(cats)):
            raise InputError(f"correlation must be {len(cats)}x{len(cats)} (categories {', '.join(cats)}), got shape {r.shape}")
    if not np.allclose(r, r.T) or not np.allclose(np.diag(r), 1.0) or (np.abs(r) > 1 + 1e-12).any():
        raise InputError("correlation must be symmetric with a unit diagonal and entries in [-1, 1]")
    try:
        np.linalg.cholesky(r + 1e-12 * np.eye(len(cats)))
    except np.linalg.LinAlgError:
        raise InputError("correlation matrix is not positive semi-definite") from None
    return r


def _correlated_normals(r: np.ndarray | None, k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    z = rng.standard_normal((n, k))
    if r is None:
        return z
    # eigen factor handles singular (e.g. perfect-correlation) matrices
    w, v = np.linalg.eigh(r)
    root = v * np.sqrt(np.clip(w, 0, None))
    return z @ root.T


def _draw_activity(a: Activity, n: int, rng: np.random.Generator) -> np.ndarray:
    if a.rel_sd == 0:
        return np.full(n, a.value)
    z = rng.standard_normal(n)
    if a.distribution == "lognormal":
        mu, s = _lognormal_params(np.array(a.value), np.array(a.rel_sd))
        return np.exp(mu + s * z)
    return a.value * (1 + a.rel_sd * z)


def approach2(
    activities: Any,
    factor_draws: Any,
    n: int = 10_000,
    random_seed: int | None = None,
    correlation: Any = None,
    *,
    out_units: str = "Mt CO2",
    region: str | None = None,
    level: float = 0.95,
    resample: bool = True,
) -> Approach2Result:
    """IPCC 2006 Approach 2: Monte Carlo over factor draws and activity draws (see the module docstring).

    Parameters
    ----------
    factor_draws:
        Posterior or prior factor draws (xarray with ``category`` and ``sample`` or ``chain, draw`` dims and
        units, e.g. :meth:`EmissionFactorModel.factor_draws`), resampled jointly; or parametric
        :class:`EmissionFactor` objects.
    correlation:
        Correlation matrix between the factors of the activity categories (array in activity order or a
        DataFrame labelled by category), imposed with a Gaussian copula on the log scale; ``None`` keeps
        the draws' own joint dependence (parametric factors: independent).
    resample:
        With factor draws: ``True`` resamples ``n`` of them with replacement; ``False`` uses every draw once,
        in order (Monte Carlo draw ``i`` = factor draw ``i``; ``n`` is then the number of draws and
        ``correlation`` must be ``None``).
    """
    if not resample:
        if not isinstance(factor_draws, xr.DataArray):
            raise InputError("resample=False needs factor draws (xarray), not parametric factors")
        if correlation is not None:
            raise InputError("resample=False keeps the draws' own joint dependence; a correlation needs resample=True")
        n = _stack_draws(factor_draws, region).sizes["sample"]
    if int(n) < 2:
        raise InputError(f"n must be at least 2, got {n!r}")
    if not 0 < level < 1:
        raise InputError(f"level must lie in (0, 1), got {level!r}")
    n = int(n)
    acts = _as_activities(activities)
    cats = list(acts)
    r = _correlation_matrix(correlation, cats)
    rng = np.random.default_rng(random_seed)
    z = _correlated_normals(r, len(cats), n, rng)
    fac = np.empty((n, len(cats)))
    if isinstance(factor_draws, xr.DataArray):
        units = _draws_units(factor_draws)
        d = _stack_draws(factor_draws, region)
        for c in cats:
            if c not in units:
                raise InputError(_missing_factor(c, list(units)))
        raw = d.sel(category=cats).values.astype(float)  # (S, K)
        if r is None:
            idx = rng.integers(0, raw.shape[0], size=n) if resample else np.arange(n)
            fac = raw[idx]
        else:
            from scipy.stats import norm

            u = norm.cdf(z)
            for j in range(len(cats)):
                fac[:, j] = np.quantile(raw[:, j], u[:, j])
        fac_units = [units[c] for c in cats]
    else:
        table = _as_factor_dict(factor_draws)
        for j, c in enumerate(cats):
            if c not in table:
                raise InputError(_missing_factor(c, list(table)))
            f = table[c]
            if f.distribution == "lognormal":
                mu, s = _lognormal_params(np.array(f.value), np.array(f.rel_sd))
                fac[:, j] = np.exp(mu + s * z[:, j])
            else:
                fac[:, j] = f.value * (1 + f.rel_sd * z[:, j])
        fac_units = [table[c].units for c in cats]
    act = np.column_stack([_draw_activity(acts[c], n, rng) for c in cats])
    k = np.array([conversion_factor(acts[c].units, fu, out_units, category=c) for c, fu in zip(cats, fac_units)])
    em = act * fac * k
    total = em.sum(axis=1)
    draws = xr.DataArray(em, dims=("sample", "category"), coords={"sample": np.arange(n), "category": cats},
                         name="emissions", attrs={"units": out_units})
    total_da = draws.sum("category").rename("total").assign_attrs(units=out_units)
    mean = float(total.mean())
    lo, hi = np.quantile(total, [(1 - level) / 2, (1 + level) / 2])
    var_t = float(total.var(ddof=1))
    cov = np.array([np.cov(em[:, j], total)[0, 1] for j in range(len(cats))])
    share = pd.Series(cov / var_t if var_t > 0 else np.zeros(len(cats)), index=pd.Index(cats, name="category"),
                      name="variance_share")
    return Approach2Result(
        draws=draws, total=total_da, mean=mean, median=float(np.median(total)), lower=float(lo), upper=float(hi),
        u_plus=(float(hi) - mean) / abs(mean) * 100, u_minus=(mean - float(lo)) / abs(mean) * 100,
        variance_share=share, units=out_units, level=level,
        extra={"correlation": None if r is None else r.tolist(), "random_seed": random_seed},
    )


def inventory_from_posterior(
    model: Any,
    activities: Any,
    *,
    region: str | None = None,
    level: str = "region",
    n: int | None = None,
    random_seed: int | None = None,
    correlation: Any = None,
    out_units: str = "Mt CO2",
    ci: float = 0.95,
) -> Approach2Result:
    """IPCC Approach 2 over the posterior of a fitted :class:`~forecast.models.emission_factors.EmissionFactorModel`.

    Emissions per draw = Σ_c activity_c × factor_c × unit conversion, with ``factor_c`` the posterior factor
    draws of category ``c``:

    * ``level="region"`` (default): the factors of ``region`` (needed when the measurements had regions; a
      model fitted without regions uses its category factors);
    * ``level="category"``: the category factors (the pooled, across-region factor);
    * ``level="new_region"``: a region without measurements (category factor plus between-region spread).

    With ``n=None`` every posterior draw is used once, in order (draw ``i`` of the result is posterior draw
    ``i``; chains stacked chain-major), so the factors' joint posterior dependence is kept; with ``n`` the
    draws are resampled with replacement (``new_region``: ``n`` new draws, default 4000). Activities may
    carry their own uncertainty (``rel_sd``); ``correlation`` imposes a Gaussian copula (needs ``n``).

    All inputs (fitted model, categories, units, region) are checked before any draw is made.
    ``result.extra`` records ``factor_level``, ``region`` and ``posterior_draws``.
    """
    if getattr(model, "name", None) != "emission_factors" or not hasattr(model, "factor_draws"):
        raise InputError(f"model must be a fitted EmissionFactorModel, got {type(model).__name__}")
    if level not in ("region", "category", "new_region"):
        raise InputError(f"level must be 'region', 'category' or 'new_region', got {level!r}")
    acts = _as_activities(activities)
    modelled = model.category_names  # raises ModelStateError before fit
    missing = [c for c in acts if c not in modelled]
    if missing:
        raise InputError("; ".join(_missing_factor(c, modelled) for c in missing))
    if level == "region" and model.regions:
        if region is None:
            raise InputError(f"the model has region factors ({', '.join(model.regions)}); pass region= "
                             "or use level='category' / 'new_region'")
        if region not in model.regions:
            hint = did_you_mean(region, model.regions, cutoff=0.5)
            raise InputError(f"region {region!r} has no measurements in the model{hint}; regions: "
                             f"{', '.join(model.regions)} (use level='new_region' for an unmeasured region)")
    elif region is not None and level == "region":
        raise InputError(f"region={region!r}: the model was fitted without regions; leave region out")
    if level == "new_region":
        draws = model.factor_draws(4000 if n is None else int(n), random_seed=random_seed, level="new_region")
    else:
        draws = model.factors(level)
    units = _draws_units(draws)
    for c, a in acts.items():  # unit mismatches fail here, before any draw
        conversion_factor(a.units, units[c], out_units, category=c)
    if correlation is not None and n is None:
        raise InputError("correlation: pass n= (the draws are then resampled through a Gaussian copula)")
    resample = correlation is not None or (n is not None and level != "new_region")
    pick = region if "region" in draws.dims else None  # region factors exist only with level="region"
    res = approach2(acts, draws.sel(category=list(acts)), n=int(n) if resample else 2, random_seed=random_seed,
                    correlation=correlation, out_units=out_units, region=pick, level=ci, resample=resample)
    post = model.factors("category")
    res.extra.update(factor_level=level, region=pick, posterior_draws=int(post.sizes["chain"] * post.sizes["draw"]))
    return res


def compare_approaches(
    activities: Any,
    factors: Any,
    factor_draws: Any = None,
    *,
    n: int = 10_000,
    random_seed: int | None = None,
    correlation: Any = None,
    out_units: str = "Mt CO2",
    region: str | None = None,
) -> pd.DataFrame:
    """Approach 1 and Approach 2 side by side: one row per approach, columns
    ``total, lower, upper, U_minus_pct, U_plus_pct, units`` (Approach 1: symmetric). ``factor_draws``
    defaults to ``factors``. ``attrs["variance_share"]`` holds the per-category shares of both approaches.
    """
    a1 = approach1(activities, factors, out_units=out_units, region=region)
    a2 = approach2(activities, factors if factor_draws is None else factor_draws, n=n, random_seed=random_seed,
                   correlation=correlation, out_units=out_units, region=region)
    frame = pd.DataFrame(
        [
            {"approach": "Approach 1", "total": a1.total, "lower": a1.lower, "upper": a1.upper,
             "U_minus_pct": a1.u_total, "U_plus_pct": a1.u_total, "units": out_units},
            {"approach": "Approach 2", "total": a2.mean, "lower": a2.lower, "upper": a2.upper,
             "U_minus_pct": a2.u_minus, "U_plus_pct": a2.u_plus, "units": out_units},
        ]
    ).set_index("approach")
    frame.attrs["variance_share"] = pd.DataFrame({"Approach 1": a1.table["variance_share"],
                                                  "Approach 2": a2.variance_share})
    return frame


def factor_unit_ratio(from_units: str, to_units: str, *, category: str = "?") -> float:
    """Multiplier taking a factor in ``from_units`` to ``to_units`` (e.g. ``"t CO2/TJ"`` -> ``"kg CO2/TJ"``: 1000).

    Both must have the same denominator dimension (and species, if any) and both or neither be per year.
    """
    a = parse_factor_units(from_units, what=f"category {category!r}: units")
    b = parse_factor_units(to_units, what=f"category {category!r}: units")
    if (a.denominator.dimension != b.denominator.dimension or a.denominator.species != b.denominator.species
            or a.per_year != b.per_year):
        raise InputError(f"category {category!r}: factor units {from_units!r} cannot be converted to {to_units!r}")
    num = a.numerator.scale * SPECIES[a.numerator.species] / (b.numerator.scale * SPECIES[b.numerator.species])
    return num * b.denominator.scale / a.denominator.scale


# ----------------------------------------------------------------------------------------------------
# Worked example: CEADs provincial fuel breakdown
# ----------------------------------------------------------------------------------------------------

#: The 17 CEADs fuel columns (china_ceads_province_co2.csv, Mt CO2) and the IPCC Table 1.4 prior
#: (priors/emission_factors.toml) whose relative uncertainty stands in for that fuel's factor uncertainty.
CEADS_FUELS: dict[str, str] = {
    "Raw_Coal": "other_bituminous_coal", "Cleaned_Coal": "other_bituminous_coal",
    "Other_Washed_Coal": "other_bituminous_coal", "Briquettes": "other_bituminous_coal",
    "Coke": "other_bituminous_coal", "Coke_Oven_Gas": "other_bituminous_coal", "Other_Gas": "other_bituminous_coal",
    "Other_Coking_Products": "other_bituminous_coal", "Crude_Oil": "crude_oil", "Gasoline": "motor_gasoline",
    "Kerosene": "gas_diesel_oil", "Diesel_Oil": "gas_diesel_oil", "Fuel_Oil": "crude_oil", "LPG": "lpg",
    "Refinery_Gas": "natural_gas", "Natural_Gas": "natural_gas", "Other_Petroleum_Products": "crude_oil",
}
COAL_FUELS = tuple(k for k, v in CEADS_FUELS.items() if v == "other_bituminous_coal")
#: Fuels mapped to one IPCC factor share its error: the inventory applies one factor per source (raw coal,
#: washed coal and coke come from the same coal), so that factor's error is one error, not eight
#: independent ones. IPCC 2006 Vol. 1 Ch. 3, Sect. 3.2.3.2 (Approach 2) asks for such dependencies to be
#: represented when the same factor is used for several categories; 1 = fully shared (the default).
SOURCE_CORRELATION = 1.0


def ceads_fuel_inventory(table: pd.DataFrame, province: str, year: int, *, coal_activity_rel_sd: float = 0.05,
                         other_activity_rel_sd: float = 0.03, model_config: dict[str, Any] | None = None,
                         ) -> tuple[dict[str, Activity], dict[str, EmissionFactor]]:
    """Activities and factors reproducing one CEADs province-year fuel breakdown.

    CEADs' per-fuel CO2 ``E_f`` (Mt CO2) is written as activity × factor with activity ``E_f`` in
    ``"Mt CO2"`` and a dimensionless factor of mean 1 (``"t CO2/t CO2"``) whose relative sd is that of the
    matching IPCC Table 1.4 prior (log-normal sigma, :data:`CEADS_FUELS`); activity relative sds are
    assumptions (default 5 % for coal-type fuels, 3 % for oil and gas; normal). Fuels with zero CO2 are left
    out. The totals therefore equal CEADs' fuel sum (Scope 1 without Process) exactly.
    """
    from forecast.priors import default_library

    for col in ("province", "year", *CEADS_FUELS):
        if col not in table.columns:
            raise InputError(f"CEADs table lacks column {col!r}")
    rows = table[(table["province"] == province) & (table["year"] == int(year))]
    if rows.empty:
        provinces = sorted(table["province"].astype(str).unique())
        hint = did_you_mean(province, provinces, cutoff=0.5)
        raise InputError(f"no CEADs row for province {province!r}, year {year}{hint}")
    row = rows.iloc[0]
    specs = default_library().with_overrides({(k if "." in k else f"emission_factors.{k}"): v for k, v in (model_config or {}).items()}).family("emission_factors")
    acts, facs = {}, {}
    for fuel, prior_key in CEADS_FUELS.items():
        value = float(row[fuel])
        if value <= 0:
            continue
        s = specs[prior_key].params["sigma"]
        rel = coal_activity_rel_sd if fuel in COAL_FUELS else other_activity_rel_sd
        acts[fuel] = Activity(fuel, value, "Mt CO2", rel, "normal")
        facs[fuel] = EmissionFactor(fuel, 1.0, "t CO2/t CO2", float(np.sqrt(np.expm1(s**2))), "lognormal")
    return acts, facs


def ceads_source_correlation(categories: Iterable[str], rho: float = SOURCE_CORRELATION) -> np.ndarray:
    """Correlation matrix of the factor errors of CEADs fuels: ``rho`` between fuels mapped to the same
    IPCC factor (:data:`CEADS_FUELS`), 0 between sources, 1 on the diagonal."""
    cats = list(categories)
    if not 0.0 <= rho <= 1.0:
        raise InputError(f"source correlation must lie in [0, 1], got {rho!r}")
    unknown = [c for c in cats if c not in CEADS_FUELS]
    if unknown:
        raise InputError(f"not CEADs fuels: {', '.join(unknown)}; fuels: {', '.join(CEADS_FUELS)}")
    src = np.array([CEADS_FUELS[c] for c in cats])
    r = np.where(src[:, None] == src[None, :], rho, 0.0)
    np.fill_diagonal(r, 1.0)
    return r


# ---------------------------------------------------------------------- systematic / random split
@dataclass(frozen=True)
class InventoryErrorSplit:
    """One inventory's error split as IPCC 2006 Vol. 1 Ch. 3 splits it for trends (Sect. 3.2.3.1, Table 3.2):
    the emission-factor part, correlated between years (systematic), and the activity-data part,
    uncorrelated between years (random). All in log units of the total, log(reported / true)."""

    bias: float  # mean of δ = log(reported / true) from the factor draws
    systematic_sd: float  # sd of δ (factor error, shared by every year)
    random_sd: float  # sd of log total from activity errors alone (independent each year)
    draws: int
    factor_source: str

    def relative(self) -> dict[str, float]:
        """The sds as relative 1-sigma errors (``expm1``), as the emission models take them."""
        return {"systematic_error": float(np.expm1(self.systematic_sd)), "random_error": float(np.expm1(self.random_sd)),
                "systematic_bias": self.bias}


def factor_multipliers(categories: list[str], n: int, *, factors: Any = "ipcc", region: str | None = None,
                       random_seed: int | None = None) -> xr.DataArray:
    """Draws of ``true factor / default factor`` (dimensionless), ``(sample, category)``, for IPCC categories.

    The default is the IPCC default (the prior median, ``exp(mu)``) the inventory is taken to have used.
    ``factors="ipcc"``: the prior (IPCC 2006 Vol. 2 Ch. 1 Table 1.4 ranges); a fitted
    :class:`~forecast.models.emission_factors.EmissionFactorModel`: its posterior (the region's factors when it
    was fitted with ``region`` among its regions, else the category factors), so measured factors move the
    multipliers away from 1 and narrow them."""
    # the model is recognised by name, not imported: emission_factors imports this module
    if isinstance(factors, str) and factors == "ipcc":
        from forecast.priors import default_library

        specs = default_library().family("emission_factors")
        unknown = [c for c in categories if c not in specs]
        if unknown:
            raise InputError(f"no IPCC factor prior for {', '.join(unknown)} in priors/emission_factors.toml")
        rng = np.random.default_rng(random_seed)
        draws = xr.DataArray(np.column_stack([np.exp(specs[c].params["mu"] + specs[c].params["sigma"]
                                                     * rng.standard_normal(n)) for c in categories]),
                             dims=("sample", "category"), coords={"category": list(categories)})
        label = "ipcc"
    elif getattr(factors, "name", None) == "emission_factors" and hasattr(factors, "factor_draws"):
        missing = [c for c in categories if c not in factors.category_names]
        if missing:
            raise InputError(f"the emission-factor posterior has no categories {', '.join(missing)}; it has "
                             f"{', '.join(factors.category_names)}")
        by_region = region is not None and region in factors.regions
        measured = _measured_categories(factors, region) if by_region else []
        # one index into the posterior for both levels, so region and category factors of a draw belong together
        idx = np.random.default_rng(random_seed).integers(0, _n_posterior(factors), size=n)
        cat_draws = _posterior_rows(factors.factors("category"), idx)
        draws = cat_draws.sel(category=list(categories)).copy()
        # the region's own factor only where it has measurements of the category; an unmeasured category
        # keeps the category factor (its IPCC range already spans sources; no between-region spread added)
        use = [c for c in categories if c in measured]
        if use:
            reg_draws = _posterior_rows(factors.factors("region").sel(region=region), idx)
            draws.loc[{"category": use}] = reg_draws.sel(category=use).values
        specs = factors.priors()
        label = (f"posterior (region {region} factors for {', '.join(use)}; category factors otherwise)"
                 if use else "posterior (category factors)")
    else:
        raise InputError(f"factors must be 'ipcc' or a fitted EmissionFactorModel, got {factors!r}")
    default = np.array([np.exp(specs[c].params["mu"]) for c in categories])
    out = xr.DataArray(np.asarray(draws.transpose("sample", "category").values, float) / default,
                       dims=("sample", "category"), coords={"sample": np.arange(n), "category": list(categories)},
                       name="factor_multiplier", attrs={"units": "1", "factor_source": label})
    return out


def _measured_categories(model: Any, region: str) -> list[str]:
    """Categories with at least one measurement in ``region`` (from the fitted model's ``n_measurements``)."""
    state = getattr(model.idata, "constant_data", None)
    if state is None or "n_measurements" not in state:
        return []
    counts = state["n_measurements"].sel(region=region)
    return [str(c) for c, k in zip(counts["category"].values, counts.values) if k > 0]


def _n_posterior(model: Any) -> int:
    post = model.factors("category")
    return int(post.sizes["chain"] * post.sizes["draw"])


def _posterior_rows(da: xr.DataArray, idx: np.ndarray) -> xr.DataArray:
    """Rows ``idx`` of the (chain, draw)-stacked posterior as ``(sample, category)``."""
    stacked = da.stack(sample=("chain", "draw")).reset_index("sample", drop=True).transpose("sample", "category")
    return stacked.isel(sample=idx).assign_coords(sample=np.arange(len(idx)))


def ceads_factor_draws(fuels: Iterable[str], n: int, *, factors: Any = "ipcc", region: str | None = None,
                       random_seed: int | None = None) -> xr.DataArray:
    """Factor draws for CEADs fuels as dimensionless multipliers ``(sample, category=fuel)``, units
    ``"t CO2/t CO2"``, for :func:`approach2` / :func:`compare_approaches` with :func:`ceads_fuel_inventory`'s
    activities (CEADs CO2 per fuel). Each fuel takes the multiplier of its IPCC source (:data:`CEADS_FUELS`),
    the same draw for every fuel of one source (one factor, one error); ``factors`` as in
    :func:`factor_multipliers` (``"ipcc"`` or a fitted EmissionFactorModel, whose region factors are used when
    ``region`` is among its regions)."""
    fuels = list(fuels)
    unknown = [f for f in fuels if f not in CEADS_FUELS]
    if unknown:
        raise InputError(f"not CEADs fuels: {', '.join(unknown)}; fuels: {', '.join(CEADS_FUELS)}")
    sources = sorted({CEADS_FUELS[f] for f in fuels})
    mult = factor_multipliers(sources, int(n), factors=factors, region=region, random_seed=random_seed)
    values = mult.sel(category=[CEADS_FUELS[f] for f in fuels]).values
    return xr.DataArray(values, dims=("sample", "category"), coords={"sample": np.arange(int(n)), "category": fuels},
                        name="factor", attrs={"units": "t CO2/t CO2", "factor_source": mult.attrs["factor_source"]})


def _shared_source_draws(sources: list[str], multipliers: xr.DataArray, rho: float,
                         rng: np.random.Generator) -> np.ndarray:
    """(sample, fuel) log multipliers: fuel ``f`` of source ``k`` gets ``sqrt(rho)`` of the source's draw and
    ``sqrt(1 - rho)`` of an independently permuted draw of the same source (same mean and variance)."""
    logm = np.log(multipliers.sel(category=sources).values)  # (S, F), columns of one source identical
    mean = logm.mean(axis=0)
    own = np.column_stack([logm[rng.permutation(len(logm)), j] for j in range(logm.shape[1])])
    return mean + np.sqrt(rho) * (logm - mean) + np.sqrt(1.0 - rho) * (own - mean)


def inventory_error_split(reported: Mapping[str, float], sources: Mapping[str, str],
                          activity_rel_sd: Mapping[str, float], multipliers: xr.DataArray, *,
                          source_correlation: float = SOURCE_CORRELATION,
                          random_seed: int | None = None) -> InventoryErrorSplit:
    """Split an inventory's uncertainty into its systematic (factor) and random (activity) parts.

    ``reported``: emissions per fuel as the inventory reports them (Mt CO2, computed with the default
    factors); ``sources``: fuel -> IPCC category of its factor; ``activity_rel_sd``: relative 1-sigma error
    of each fuel's activity data; ``multipliers``: draws of true / default factor per category
    (:func:`factor_multipliers`). Monte Carlo (IPCC Approach 2) over each part alone:

    * systematic: ``δ = log Σ_f E_f − log Σ_f E_f m_f`` with the factor draws ``m`` (fuels of one source
      share its draw, :data:`SOURCE_CORRELATION`); ``bias`` and ``systematic_sd`` are its mean and sd;
    * random: sd of ``log Σ_f E_f a_f`` with ``a_f ~ Normal(1, activity_rel_sd_f)``, independent by fuel.
    """
    fuels = [f for f, v in reported.items() if v > 0]
    if not fuels:
        raise InputError("inventory_error_split: no fuel with positive emissions")
    missing = [f for f in fuels if f not in sources or f not in activity_rel_sd]
    if missing:
        raise InputError(f"inventory_error_split: no source or activity sd for fuel(s) {', '.join(missing)}")
    if not 0.0 <= source_correlation <= 1.0:
        raise InputError(f"source_correlation must lie in [0, 1], got {source_correlation!r}")
    rng = np.random.default_rng(random_seed)
    e = np.array([float(reported[f]) for f in fuels])
    logm = _shared_source_draws([sources[f] for f in fuels], multipliers, source_correlation, rng)
    delta = np.log(e.sum()) - np.log(np.exp(logm) @ e)
    rel = np.array([float(activity_rel_sd[f]) for f in fuels])
    act = 1.0 + rel * rng.standard_normal((len(logm), len(fuels)))
    random_sd = float(np.std(np.log(np.clip(act, 1e-9, None) @ e), ddof=1))
    return InventoryErrorSplit(bias=float(delta.mean()), systematic_sd=float(delta.std(ddof=1)), random_sd=random_sd,
                               draws=len(logm), factor_source=str(multipliers.attrs.get("factor_source", "")))


def ceads_error_split(table: pd.DataFrame, province: str, year: int, *, factors: Any = "ipcc", draws: int = 4000,
                      random_seed: int | None = None,
                      source_correlation: float = SOURCE_CORRELATION) -> InventoryErrorSplit:
    """:func:`inventory_error_split` of one CEADs province-year (activities and their sds as in
    :func:`ceads_fuel_inventory`; factor draws from ``factors``: ``"ipcc"`` or a fitted EmissionFactorModel)."""
    acts, _ = ceads_fuel_inventory(table, province, year)
    cats = sorted({CEADS_FUELS[f] for f in acts})
    mult = factor_multipliers(cats, draws, factors=factors, region=province, random_seed=random_seed)
    return inventory_error_split({f: a.value for f, a in acts.items()}, CEADS_FUELS,
                                 {f: a.rel_sd for f, a in acts.items()}, mult,
                                 source_correlation=source_correlation, random_seed=random_seed)


# ---------------------------------------------------------------------- inventory runs (CLI, reports)
def read_activities(path: str | Path) -> dict[str, Activity]:
    """Activities from a CSV: columns ``category, value, units`` and optionally ``rel_sd, distribution``.

    Every problem is an InputError naming the file, and for a bad row its number (1 = first data row) and
    category."""
    from forecast.io.csvfile import read_user_csv

    frame = read_user_csv(path, required=("category", "value", "units"), numeric=("value", "rel_sd"),
                          unique="category", text=("category", "units"), what="activities file")
    out = {}
    for i, row in enumerate(frame.to_dict("records")):
        rel_sd, dist = row.get("rel_sd", 0.0), row.get("distribution", "normal")
        try:
            out[str(row["category"])] = Activity(
                category=str(row["category"]), value=float(row["value"]), units=str(row["units"]).strip(),
                rel_sd=0.0 if pd.isna(rel_sd) else float(rel_sd),
                distribution="normal" if pd.isna(dist) or not str(dist).strip() else str(dist).strip())
        except InputError as err:  # the Activity names the category; the file and row say where to fix it
            raise InputError(f"{path}: row {i + 1}: {err}") from None
    return out


def inventory_report(comparison: pd.DataFrame, *, title: str, provenance: list[dict] | None = None,
                     notes: str = "") -> str:
    """Markdown summary of an Approach 1 / Approach 2 comparison (totals, intervals, key categories)."""
    rows = [[str(name), f"{row['total']:,.2f}", f"{row['lower']:,.2f}", f"{row['upper']:,.2f}",
             f"{row['U_minus_pct']:.2f}", f"{row['U_plus_pct']:.2f}", str(row["units"])]
            for name, row in comparison.iterrows()]
    lines = [f"# {title}", "", notes, "",
             md_table(["approach", "total", "95% lower", "95% upper", "U- (%)", "U+ (%)", "units"], rows,
                      ["l", "r", "r", "r", "r", "r", "l"])]
    shares = comparison.attrs.get("variance_share")
    if shares is not None and len(shares):
        frame = pd.DataFrame(shares)
        order = frame.iloc[:, -1].sort_values(ascending=False).index
        rows = [[str(cat), *(f"{v:.3f}" for v in frame.loc[cat])] for cat in order]
        lines += ["", "Share of the total variance by category (key categories first):", "",
                  md_table(["category", *map(str, frame.columns)], rows, ["l"] + ["r"] * len(frame.columns))]
    if provenance:
        lines += ["", "Data: " + "; ".join(f"`{Path(p['path']).name}` (SHA-256 `{p['sha256']}`)" for p in provenance)]
    lines += ["", "Approach 1: IPCC 2006 Vol. 1 Ch. 3 error propagation (Eq. 3.1, 3.2), symmetric, assumes "
              "independence. Approach 2: Monte Carlo over factor and activity draws; with skewed (log-normal) "
              "uncertainties its interval is asymmetric and its upper bound lies above Approach 1's."]
    return "\n".join(lines) + "\n"
