"""Regional carbon-sink capacity by ecosystem: areas x per-hectare sequestration rates x CO2 fertilisation.

Model
-----
For region ``r``, ecosystem ``e`` and year ``t``::

    sink_r,e,t = area_r,e [Mha] x rate_e,t [t C/ha/yr] x m(t) x CO2_PER_C      [Mt CO2/yr]
    sink_r,t   = sum_e sink_r,e,t

* **Units.** t C/ha/yr x Mha = Mt C/yr (10^6 ha x t/ha = 10^6 t); x CO2_PER_C (ratio of the molar masses
  of CO2 and C, :data:`forecast.units.CO2_PER_C`) = Mt CO2/yr. Every exported variable is in Mt CO2/yr;
  positive = removal from the atmosphere (a negative rate, e.g. a grassland source, gives a negative sink).
* **Areas** (Mha) are given per region and ecosystem with their source; optionally uncertain, either as a
  relative sd (normal truncated at 0) or a ``(low, high)`` range (uniform). Areas are held fixed over
  the horizon (no land-use change is modelled); each draw samples them once.
* **Rates** come from the cited priors in ``priors/ecosystems.toml`` (entries ``rate_<ecosystem>``), one
  draw per sample and ecosystem, shared by all regions of that sample. ``model_config["rates"]`` can fix
  a rate, change its prior or add a new ecosystem by name (see :class:`EcosystemSinks`).
* **CO2 fertilisation.** ``m(t)`` is a dimensionless multiplier ``(sample, year)`` from the land-sink
  model, ``m(t) = 1 + eps(t)/100 * (C_t - C_base)/100`` with ``eps`` the CFE sensitivity in % per
  100 ppm: the factor by which CO2 fertilisation scales the sequestration rate relative to the base year
  that the rates describe. ``multiplier=None`` means no CFE change (m = 1).
* **Cropland soil saturation.** Soil organic carbon (SOC) cannot accumulate for ever. Cropland SOC
  density starts at ``SOC_0`` (China: 32.34-33.47 t C/ha, seed paper) and cannot exceed a ceiling
  ``SOC_max`` (default: the EU mean 46.8 t C/ha quoted by the seed paper). The rate declines linearly
  with the remaining gap::

      rate_t    = r0 x (SOC_max - SOC_t) / (SOC_max - SOC_0)
      SOC_t+1   = SOC_t + rate_t x m(t)          (capped at SOC_max)
      sink_t    = area x rate_t x m(t) x CO2_PER_C

  so the gap shrinks geometrically by the factor ``1 - r0 m / (SOC_max - SOC_0)`` per year and the rate
  decays towards 0. ``SOC_0`` applies to the first simulated year. The rule applies to positive rates;
  a non-positive ``r0`` (net loss) is kept constant (SOC floored at 0); a drawn ``SOC_0`` at or above
  the ceiling gives no uptake. Pass ``soc=None`` to switch saturation off (constant rate). Note that a
  stronger CFE fills the soil-carbon gap sooner, so late in the horizon the cropland sink can be
  *smaller* under a stronger CFE; the total is dominated by the non-saturating ecosystems.

* **Forest ageing** (optional, :class:`ForestAgeing`, ``[sinks.forest_age.<region>]``). Stands keep their
  area and grow older; stand biomass follows a Chapman-Richards curve ``B(a) = B_max (1 - exp(-k a))^p``
  whose mean annual increment culminates at the maturity age, so the current increment ``dB/da`` peaks in
  middle age (0.58 of the maturity age for p = 3) and falls as stands mature. The forest rate becomes
  ``rate x A(t)/A(t_inv)`` with ``A`` the area-weighted increment of the age structure (e.g. China's 9th
  National Forest Inventory shares) aged ``t - t_inv`` years: a 2060 sink is then not today's rate x m(t).

* **Sign and library.** Rates come from the one coefficient library (:mod:`forecast.sinks.coefficients`,
  ``priors/ecosystems.toml``), the same entries as the land-use account; positive = uptake.

What is not modelled: disturbance, harvest and regeneration (ageing assumes none), land-use change (areas are
fixed; land-use-change emissions enter net emissions separately, :mod:`forecast.sinks.neutrality`), wetland
methane, lateral carbon export. Without ageing the rates persist apart from the CFE factor.

All input checks raise :class:`~forecast.errors.InputError` before any sampling.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Union

import numpy as np
import pandas as pd
import xarray as xr

from forecast.errors import InputError, did_you_mean
from forecast.priors import PriorLibrary, PriorSpec, ReferenceValue, default_library
from forecast.sinks.coefficients import FAMILY as PRIOR_FAMILY
from forecast.sinks.coefficients import LAND_CLASSES, RATE_PREFIX, baseline_specs
from forecast.units import CO2_PER_C, G_PER_M2_TO_T_PER_HA, MT_CO2_PER_MHA_T_C_PER_HA

__all__ = [
    "AreaSpec",
    "FixedRate",
    "SOCSaturation",
    "ForestAgeing",
    "EcosystemSinks",
    "AGE_GROUPS",
    "ageing_comparison",
    "stand_uptake",
    "CHINA_LAND_SURVEY",
    "CO2_PER_C",
    "CORE_ECOSYSTEMS",
    "RATE_UNITS",
    "AREA_UNITS",
    "SINK_UNITS",
]

RATE_UNITS = "t C/ha/yr"
AREA_UNITS = "Mha"
SINK_UNITS = "Mt CO2/yr"
SOC_UNITS = "t C/ha"
CORE_ECOSYSTEMS = LAND_CLASSES  # display order; every land class of the coefficient library
DEFAULT_DRAWS = 1000
_REGION_KEYS = ("source", "uncertainty")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

LAND_SURVEY_SOURCE = (
    "Third National Land Survey of China (Ministry of Natural Resources, 2021): Bulletin of the main data "
    "of the Third National Land Survey, data as of 31 December 2019"
)

CHINA_LAND_SURVEY: Mapping[str, Any] = {
    "source": LAND_SURVEY_SOURCE,
    # Mha; 1 mu = 1/15 ha. Survey totals: forest land 4.262 billion mu (incl. shrub and other forest land),
    # grassland 3.967 billion mu, cropland 1.918 billion mu, wetland 0.352 billion mu (excl. lakes/rivers).
    "forest": 284.1,
    "grassland": 264.5,
    "cropland_soil": 127.9,
    "wetland": 23.5,
    "uncertainty": 0.05,  # relative sd of the areas (classification and mapping uncertainty)
}
"""Default example: China's ecosystem areas from the Third National Land Survey (Mha)."""


# --------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def _finite(x: Any, what: str) -> float:
    if not _is_number(x):
        raise InputError(f"{what} must be a number, got {x!r}")
    v = float(x)
    if not math.isfinite(v):
        raise InputError(f"{what} must be finite, got {x!r}")
    return v


def _norm_units(units: str) -> str:
    u = str(units).strip().lower()
    for a, b in (("⁻¹", "-1"), ("²", "2"), ("−", "-"), ("·", "/"), ("⋅", "/"), ("*", "/"), (" ", "")):
        u = u.replace(a, b)
    u = u.replace("(", "").replace(")", "")
    u = re.sub(r"^mg", "t", u)  # Mg C = t C
    u = u.replace("hm2", "ha").replace("year", "yr")
    u = re.sub(r"/a$", "/yr", u)
    u = re.sub(r"a-1$", "yr-1", u)
    return u


_RATE_UNIT_FORMS = {"tc/ha/yr", "tcha-1yr-1", "tc/ha-1yr-1", "tc/ha/yr-1"}


def _check_rate_units(units: Any, where: str) -> None:
    if units is None:
        return
    if not isinstance(units, str) or _norm_units(units) not in _RATE_UNIT_FORMS:
        raise InputError(
            f"{where}: rate units must be {RATE_UNITS!r} (t C per hectare per year), got {units!r}. "
            f"Convert first: g C/m2/yr / {1 / G_PER_M2_TO_T_PER_HA:.0f} = t C/ha/yr; "
            f"t CO2/ha/yr / {CO2_PER_C:.3f} = t C/ha/yr."
        )


def _seed_entropy(random_seed: Any) -> Any:
    if isinstance(random_seed, np.random.Generator):
        return int(random_seed.integers(2**63))
    if isinstance(random_seed, np.random.SeedSequence):
        return random_seed.entropy
    if random_seed is not None and not isinstance(random_seed, (int, np.integer)):
        raise InputError(f"random_seed must be an int, a numpy Generator or None, got {random_seed!r}")
    return random_seed


# --------------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AreaSpec:
    """Area of one ecosystem in one region, in Mha, with its source and optional uncertainty.

    ``rel_sd``: relative sd; draws are Normal(value, rel_sd x value) truncated at 0.
    ``range``: ``(low, high)`` in Mha with ``low <= value <= high``; draws are Uniform(low, high).
    At most one of the two; neither means the area is fixed.
    """

    value: float
    source: str = ""
    rel_sd: float | None = None
    range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        v = _finite(self.value, "area")
        if v < 0:
            raise InputError(f"area must be >= 0 Mha, got {v:g}")
        object.__setattr__(self, "value", v)
        if not isinstance(self.source, str):
            raise InputError(f"area source must be a string, got {self.source!r}")
        if self.rel_sd is not None and self.range is not None:
            raise InputError("give an area's uncertainty either as rel_sd or as range, not both")
        if self.rel_sd is not None:
            sd = _finite(self.rel_sd, "area relative sd (uncertainty)")
            if sd < 0:
                raise InputError(f"area relative sd (uncertainty) must be >= 0, got {sd:g}")
            object.__setattr__(self, "rel_sd", sd)
        if self.range is not None:
            if isinstance(self.range, (str, bytes)) or not isinstance(self.range, Iterable):
                raise InputError(f"area range must be (low, high), got {self.range!r}")
            rng = tuple(self.range)
            if len(rng) != 2:
                raise InputError(f"area range must be (low, high), got {self.range!r}")
            lo, hi = (_finite(x, "area range bound") for x in rng)
            if not 0 <= lo <= v <= hi:
                raise InputError(f"area range ({lo:g}, {hi:g}) must satisfy 0 <= low <= value ({v:g}) <= high")
            object.__setattr__(self, "range", (lo, hi))

    @property
    def uncertain(self) -> bool:
        return bool(self.rel_sd) or (self.range is not None and self.range[0] < self.range[1])

    def describe(self) -> str:
        if self.rel_sd:
            return f"{self.value:g} Mha (sd {self.rel_sd:.0%})"
        if self.range is not None:
            return f"{self.value:g} Mha ({self.range[0]:g}-{self.range[1]:g})"
        return f"{self.value:g} Mha"

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` area draws (Mha)."""
        if self.rel_sd:
            from scipy import stats

            if self.value == 0:
                return np.zeros(n)
            scale = self.rel_sd * self.value
            return stats.truncnorm.rvs(-self.value / scale, np.inf, loc=self.value, scale=scale, size=n, random_state=rng)
        if self.range is not None and self.range[0] < self.range[1]:
            return rng.uniform(self.range[0], self.range[1], size=n)
        return np.full(n, self.value)


@dataclass(frozen=True)
class FixedRate:
    """A sequestration rate fixed at one value (t C/ha/yr), e.g. for deterministic runs or sensitivity tests."""

    value: float
    source: str = "model_config override"
    citation: str = "none given (fixed rate set in model_config)"
    units: str = RATE_UNITS

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _finite(self.value, "fixed rate"))
        _check_rate_units(self.units, "fixed rate")

    def describe(self) -> str:
        return f"fixed {self.value:g}"


RateSpec = Union[PriorSpec, FixedRate]


@dataclass(frozen=True)
class SOCSaturation:
    """Settings of the cropland soil-carbon saturation model (see the module doc).

    ``initial``: SOC density (t C/ha) at the first simulated year: a number, a ``(low, high)`` range
    (uniform draws per region) or a :class:`PriorSpec`; ``None`` = library prior
    ``ecosystems.cropland_soc_initial`` (Uniform 32.34-33.47, seed paper).
    ``ceiling``: SOC density the soil cannot exceed (t C/ha); ``None`` = library reference
    ``ecosystems.cropland_soc_ceiling`` (EU mean 46.8, seed paper).
    ``ecosystem``: the ecosystem the rule applies to (default ``"cropland_soil"``).
    """

    initial: float | tuple[float, float] | PriorSpec | None = None
    ceiling: float | None = None
    ecosystem: str = "cropland_soil"

    def __post_init__(self) -> None:
        init = self.initial
        if init is not None and not isinstance(init, PriorSpec):
            if _is_number(init):
                v = _finite(init, "SOC initial density")
                if v <= 0:
                    raise InputError(f"SOC initial density must be > 0 t C/ha, got {v:g}")
                object.__setattr__(self, "initial", v)
            elif isinstance(init, Iterable) and not isinstance(init, (str, bytes)) and len(tuple(init)) == 2:
                lo, hi = (_finite(x, "SOC initial density bound") for x in init)
                if not 0 < lo <= hi:
                    raise InputError(f"SOC initial density range ({lo:g}, {hi:g}) needs 0 < low <= high")
                object.__setattr__(self, "initial", (lo, hi))
            else:
                raise InputError(f"SOC initial density must be a number, (low, high) or a PriorSpec, got {init!r}")
        if isinstance(init, PriorSpec) and init.units.strip() != SOC_UNITS:
            raise InputError(f"SOC initial density prior {init.name!r} must be in {SOC_UNITS!r}, got {init.units!r}")
        if self.ceiling is not None:
            c = _finite(self.ceiling, "SOC ceiling")
            if c <= 0:
                raise InputError(f"SOC ceiling must be > 0 t C/ha, got {c:g}")
            object.__setattr__(self, "ceiling", c)
        if not isinstance(self.ecosystem, str) or not _NAME_RE.match(self.ecosystem):
            raise InputError(f"SOC saturation ecosystem must be an ecosystem name, got {self.ecosystem!r}")

    def resolved(self, lib: PriorLibrary) -> SOCSaturation:
        """A copy with library defaults filled in and ``initial < ceiling`` checked."""
        init = self.initial
        if init is None:
            init = lib.get(f"{PRIOR_FAMILY}.cropland_soc_initial")
        ceiling = self.ceiling
        if ceiling is None:
            ref = lib.get(f"{PRIOR_FAMILY}.cropland_soc_ceiling")
            ceiling = ref.value if isinstance(ref, ReferenceValue) and ref.value is not None else None
            if ceiling is None:  # pragma: no cover - shipped file has a value
                raise InputError("library entry ecosystems.cropland_soc_ceiling has no value")
        hi = _initial_upper(init)
        if hi is not None and hi >= ceiling:
            raise InputError(
                f"SOC ceiling {ceiling:g} t C/ha must exceed the initial SOC density (up to {hi:g} t C/ha)"
            )
        return SOCSaturation(initial=init, ceiling=ceiling, ecosystem=self.ecosystem)

    def describe(self) -> str:
        init = self.initial
        if isinstance(init, PriorSpec):
            s = init.describe()
        elif isinstance(init, tuple):
            s = f"Uniform({init[0]:g}, {init[1]:g})"
        else:
            s = "library default" if init is None else f"{init:g}"
        c = "library default" if self.ceiling is None else f"{self.ceiling:g}"
        return f"{self.ecosystem}: SOC_0 {s} t C/ha, ceiling {c} t C/ha"


def _initial_upper(init: Any) -> float | None:
    if isinstance(init, PriorSpec):
        p = dict(init.params)
        return p.get("upper")
    if isinstance(init, tuple):
        return init[1]
    return float(init)


DEFAULT_SOC = SOCSaturation()


# --------------------------------------------------------------------------------------------------
# Forest ageing
# --------------------------------------------------------------------------------------------------

AGE_GROUPS = ("young", "middle_aged", "near_mature", "mature", "over_mature")
# Age-group bounds as fractions of the maturity age (the age where the mean annual increment culminates,
# which opens the "mature" group). China's age-group table sets them per species in years, e.g. (approximately)
# natural Korean pine: young <= 40, middle-aged 41-80, near-mature 81-100, mature 101-140, over-mature >= 141;
# Chinese fir plantations: <= 10, 11-20, 21-25, 26-35, >= 36; both are close to 0.4 / 0.8 / 1.0 / 1.4 of the
# maturity age (LY/T 2908-2017, age-group table for main tree species). The over-mature group has no upper
# bound there; 2.0 is set here.
AGE_GROUP_BOUNDS: Mapping[str, tuple[float, float]] = {
    "young": (0.0, 0.4), "middle_aged": (0.4, 0.8), "near_mature": (0.8, 1.0), "mature": (1.0, 1.4),
    "over_mature": (1.4, 2.0),
}
_AGE_POINTS = 64  # quadrature points per age group (ages uniform within a group)
_AGE_KEYS = {*AGE_GROUPS, "maturity_age", "reference_year", "source", "ecosystem", "rotation"}


def chapman_richards_k(shape: float) -> float:
    """Rate constant k (per maturity age) of ``B = (1 - exp(-k x))**shape`` whose mean annual increment
    ``B/x`` culminates at relative age ``x = 1`` (``shape k e^-k = 1 - e^-k``); 1.89 for shape 3."""
    from scipy.optimize import brentq

    if not shape > 1:
        raise InputError(f"Chapman-Richards shape must be > 1 (a sigmoid curve), got {shape!r}")
    return float(brentq(lambda k: shape * k * math.exp(-k) - (1 - math.exp(-k)), 1e-6, 50.0))


def stand_uptake(rel_age: Any, shape: float = 3.0) -> np.ndarray:
    """Current biomass increment ``dB/dx`` of a stand at relative age ``x = age / maturity age``, in units of
    ``B_max`` per maturity age (Chapman-Richards; 0 at age 0, peak at 0.58 for shape 3, then declining)."""
    k = chapman_richards_k(shape)
    x = np.clip(np.asarray(rel_age, dtype=float), 0.0, None)  # before planting: no uptake
    e = np.exp(-k * x)
    return shape * k * e * (1.0 - e) ** (shape - 1.0)


@dataclass(frozen=True)
class ForestAgeing:
    """Age structure of a region's forest; the forest rate is scaled by how its increment changes with age.

    ``shares``: area share of each age group (:data:`AGE_GROUPS`; areas are normalised to shares).
    ``maturity_age``: years to maturity, a number, ``(low, high)`` (uniform draws) or ``None`` = library
    prior ``ecosystems.forest_maturity_age``. ``reference_year``: the year the shares (and the baseline
    rate) describe. ``shape``: Chapman-Richards exponent (``None`` = library ``forest_growth_shape``).
    ``rotation``: optional clear-cut-and-replant age in maturity ages (a stand reaching it restarts at age 0;
    the harvested carbon is not counted); ``None`` = no harvest, the upper bound of the ageing decline.

    Model: stands keep their area and age one year per year (no new planting, no disturbance; harvest only
    through ``rotation``);
    the per-hectare forest rate in year t is ``rate x A(t) / A(reference_year)`` with ``A`` the
    area-weighted current increment of :func:`stand_uptake` at relative ages ``x + (t - ref)/maturity_age``.
    """

    shares: Mapping[str, float]
    maturity_age: float | tuple[float, float] | PriorSpec | None = None
    reference_year: int = 2016
    shape: float | None = None
    source: str = ""
    ecosystem: str = "forest"
    rotation: float | None = None

    def __post_init__(self) -> None:
        if self.rotation is not None and not _finite(self.rotation, "forest rotation") > 0:
            raise InputError(f"forest rotation must be > 0 maturity ages, got {self.rotation!r}")
        if not isinstance(self.shares, Mapping):
            raise InputError(f"forest age shares must be a table of age group -> share, got {self.shares!r}")
        bad = sorted(set(self.shares) - set(AGE_GROUPS))
        missing = [g for g in AGE_GROUPS if g not in self.shares]
        if bad or missing:
            raise InputError(f"forest age shares need exactly the groups {', '.join(AGE_GROUPS)}"
                             + (f"; unknown: {', '.join(map(repr, bad))}{did_you_mean(bad[0], AGE_GROUPS)}" if bad else "")
                             + (f"; missing: {', '.join(missing)}" if missing else ""))
        vals = {g: _finite(self.shares[g], f"forest age share {g!r}") for g in AGE_GROUPS}
        if any(v < 0 for v in vals.values()) or sum(vals.values()) <= 0:
            raise InputError(f"forest age shares must be >= 0 with a positive sum, got {vals}")
        total = sum(vals.values())
        object.__setattr__(self, "shares", MappingProxyType({g: v / total for g, v in vals.items()}))
        ma = self.maturity_age
        if ma is not None and not isinstance(ma, PriorSpec):
            if _is_number(ma):
                ma = _finite(ma, "maturity_age")
                if not ma > 0:
                    raise InputError(f"maturity_age must be > 0 years, got {ma:g}")
            elif isinstance(ma, Iterable) and not isinstance(ma, (str, bytes)) and len(tuple(ma)) == 2:
                lo, hi = (_finite(x, "maturity_age bound") for x in ma)
                if not 0 < lo <= hi:
                    raise InputError(f"maturity_age range ({lo:g}, {hi:g}) needs 0 < low <= high")
                ma = (lo, hi)
            else:
                raise InputError(f"maturity_age must be a number of years or [low, high], got {ma!r}")
            object.__setattr__(self, "maturity_age", ma)
        if isinstance(self.reference_year, bool) or not isinstance(self.reference_year, (int, np.integer)):
            raise InputError(f"forest age reference_year must be a whole year, got {self.reference_year!r}")
        if self.shape is not None:
            chapman_richards_k(_finite(self.shape, "forest growth shape"))

    @classmethod
    def china_default(cls, lib: PriorLibrary | None = None, **kwargs: Any) -> ForestAgeing:
        """China's arbor-forest age structure of the 9th National Forest Inventory (2014-2018; library
        entries ``ecosystems.forest_age_share_*``, approximate, see their source)."""
        lib = lib or default_library()
        shares = {g: lib.get(f"{PRIOR_FAMILY}.forest_age_share_{g}").value for g in AGE_GROUPS}
        kwargs.setdefault("source", lib.get(f"{PRIOR_FAMILY}.forest_age_share_young").citation)
        return cls(shares, **kwargs)

    @classmethod
    def from_table(cls, region: str, table: Mapping[str, Any], lib: PriorLibrary | None = None) -> ForestAgeing:
        """From a ``[sinks.forest_age.<region>]`` table; no age-group keys = the China 9th-inventory shares."""
        where = f"[sinks.forest_age.{region}]"
        if not isinstance(table, Mapping):
            raise InputError(f"{where} must be a table, got {table!r}")
        bad = sorted(set(table) - _AGE_KEYS)
        if bad:
            raise InputError(f"{where}: unknown key(s) {', '.join(map(repr, bad))}{did_you_mean(bad[0], _AGE_KEYS)}; "
                             f"allowed: {', '.join(sorted(_AGE_KEYS))}")
        ma = table.get("maturity_age")
        kw = {"maturity_age": tuple(ma) if isinstance(ma, list) else ma,
              **{k: table[k] for k in ("reference_year", "source", "ecosystem", "rotation") if k in table}}
        try:
            if not any(g in table for g in AGE_GROUPS):
                return cls.china_default(lib, **kw)
            return cls({g: table.get(g) for g in AGE_GROUPS if g in table}, **kw)
        except InputError as err:
            raise InputError(f"{where}: {err}") from None

    def resolved(self, lib: PriorLibrary) -> ForestAgeing:
        """A copy with the library's maturity-age prior and growth shape filled in."""
        shape = self.shape if self.shape is not None else lib.get(f"{PRIOR_FAMILY}.forest_growth_shape").value
        ma = self.maturity_age if self.maturity_age is not None else lib.get(f"{PRIOR_FAMILY}.forest_maturity_age")
        return ForestAgeing(dict(self.shares), ma, self.reference_year, shape, self.source, self.ecosystem, self.rotation)

    def factor(self, years: Iterable[int], maturity_age: Any) -> np.ndarray:
        """Ageing factor ``A(t) / A(reference_year)`` (sample, year) for maturity-age draws (years, sample,)."""
        ma = np.atleast_1d(np.asarray(maturity_age, dtype=float))
        shape = 3.0 if self.shape is None else float(self.shape)
        ages, weights = [], []
        for g in AGE_GROUPS:
            lo, hi = AGE_GROUP_BOUNDS[g]
            ages.append(lo + (np.arange(_AGE_POINTS) + 0.5) / _AGE_POINTS * (hi - lo))
            weights.append(np.full(_AGE_POINTS, self.shares[g] / _AGE_POINTS))
        x0, w = np.concatenate(ages), np.concatenate(weights)
        dt = np.asarray(list(years), dtype=float) - self.reference_year  # years since the inventory
        shift = dt[None, :, None] / ma[:, None, None]  # (sample, year, 1) in maturity ages
        x = x0[None, None, :] + shift
        if self.rotation is not None:  # clear-cut at the rotation age and replanted: the stand starts again
            x = np.where(x >= 0, np.mod(x, self.rotation), x)
        now = stand_uptake(x, shape) @ w
        return now / (stand_uptake(x0, shape) @ w)

    def describe(self) -> str:
        shares = ", ".join(f"{g} {v:.0%}" for g, v in self.shares.items())
        ma = self.maturity_age
        ma_s = ma.describe() if isinstance(ma, PriorSpec) else ("library prior" if ma is None else str(ma))
        return f"{self.ecosystem}: ages from {self.reference_year} ({shares}); maturity age {ma_s} yr"


# --------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------


def _known_rate_keys(lib: PriorLibrary) -> dict[str, RateSpec]:
    """Baseline rates of the coefficient library (:mod:`forecast.sinks.coefficients`), by ecosystem.

    A baseline given as a reference value (e.g. the IPCC Tier 1 zero of built-up land) is a fixed rate.
    """
    out: dict[str, RateSpec] = {}
    for eco, entry in baseline_specs(lib).items():
        if isinstance(entry, ReferenceValue):
            out[eco] = FixedRate(float(entry.value), source=entry.source, citation=entry.citation)  # type: ignore[arg-type]
        else:
            out[eco] = entry
    return out


_OVERRIDE_KEYS = {"value", "units", "distribution", "params", "source", "citation", "description"}


def _resolve_rate(eco: str, override: Any, lib: PriorLibrary, library_rates: Mapping[str, RateSpec]) -> RateSpec:
    where = f"rate override for ecosystem {eco!r}"
    if override is None:
        return library_rates[eco]
    if isinstance(override, FixedRate):
        return override
    if isinstance(override, PriorSpec):
        _check_rate_units(override.units, where)
        return override
    if _is_number(override):
        return FixedRate(_finite(override, where))
    if not isinstance(override, Mapping):
        raise InputError(f"{where}: expected a number (t C/ha/yr) or a table, got {type(override).__name__}")
    bad = sorted(set(override) - _OVERRIDE_KEYS)
    if bad:
        raise InputError(f"{where}: unknown key(s) {', '.join(map(repr, bad))}; allowed: {', '.join(sorted(_OVERRIDE_KEYS))}")
    _check_rate_units(override.get("units"), where)
    if "value" in override:
        if "distribution" in override or "params" in override:
            raise InputError(f"{where}: give either 'value' (fixed rate) or 'distribution'/'params', not both")
        kw = {k: override[k] for k in ("source", "citation") if k in override}
        return FixedRate(_finite(override["value"], f"{where}: 'value'"), **kw)
    rest = {k: v for k, v in override.items() if k not in ("units", "value")}
    if isinstance(library_rates.get(eco), FixedRate):
        raise InputError(f"{where}: the library fixes this rate (a reference value); give 'value' instead")
    if eco in library_rates:
        name = library_rates[eco].name  # type: ignore[union-attr]
        return lib.with_overrides({name: rest}).get(name)  # type: ignore[return-value]
    if "distribution" not in rest or "params" not in rest:
        raise InputError(
            f"{where}: {eco!r} is not in the prior library, so its rate needs 'value' or "
            "'distribution' + 'params'"
        )
    return PriorSpec(
        name=f"{PRIOR_FAMILY}.{RATE_PREFIX}{eco}",
        distribution=rest["distribution"],
        params=rest["params"],
        units=RATE_UNITS,
        description=rest.get("description", f"user-supplied rate prior for ecosystem {eco!r}"),
        source=rest.get("source", "study override"),
        citation=rest.get("citation", "none given (user-supplied rate prior for a new ecosystem)"),
        file="model_config",
    )


def _parse_area(region: str, eco: str, value: Any, region_source: str, region_sd: float | None) -> AreaSpec:
    where = f"area of {eco!r} in region {region!r}"
    try:
        if isinstance(value, AreaSpec):
            return value if value.source or not region_source else AreaSpec(value.value, region_source, value.rel_sd, value.range)
        if _is_number(value):
            return AreaSpec(value, region_source, rel_sd=region_sd)
        if isinstance(value, Mapping):
            allowed = {"value", "source", "sd", "rel_sd", "uncertainty", "low", "high", "range"}
            bad = sorted(set(value) - allowed)
            if bad:
                raise InputError(f"unknown key(s) {', '.join(map(repr, bad))}; allowed: {', '.join(sorted(allowed))}")
            if "value" not in value:
                raise InputError("missing 'value' (Mha)")
            sd = value.get("rel_sd", value.get("sd", value.get("uncertainty")))
            rng = value.get("range")
            if "low" in value or "high" in value:
                if "low" not in value or "high" not in value:
                    raise InputError("give both 'low' and 'high'")
                rng = (value["low"], value["high"])
            if sd is None and rng is None:
                sd = region_sd
            return AreaSpec(value["value"], value.get("source", region_source), rel_sd=sd, range=rng)
        raise InputError(f"expected a number (Mha), an AreaSpec or a table, got {type(value).__name__}")
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


def _parse_region(region: Any, table: Any, known: Iterable[str]) -> dict[str, AreaSpec]:
    if not isinstance(region, str) or not region.strip():
        raise InputError(f"region names must be non-empty strings, got {region!r}")
    if not isinstance(table, Mapping):
        raise InputError(f"areas for region {region!r} must be a table of ecosystem -> area, got {type(table).__name__}")
    known = list(known)
    source = table.get("source", "")
    if not isinstance(source, str):
        raise InputError(f"areas for region {region!r}: 'source' must be a string")
    sd = table.get("uncertainty")
    if sd is not None:
        sd = _finite(sd, f"areas for region {region!r}: 'uncertainty' (relative sd)")
        if sd < 0:
            raise InputError(f"areas for region {region!r}: 'uncertainty' must be >= 0, got {sd:g}")
    out: dict[str, AreaSpec] = {}
    for eco, value in table.items():
        if eco in _REGION_KEYS:
            continue
        if eco not in known:
            raise InputError(
                f"unknown ecosystem {eco!r} in the areas of region {region!r}{did_you_mean(eco, known)}; known: "
                f"{', '.join(known)}. To add a new ecosystem, give its rate in model_config['rates']."
            )
        out[eco] = _parse_area(region, eco, value, source, sd)
    if not out:
        raise InputError(f"areas for region {region!r} list no ecosystem")
    return out


# --------------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------------


class EcosystemSinks:
    """Sink capacity of regional ecosystems (see the module doc for the model).

    Parameters
    ----------
    areas:
        ``{region: {ecosystem: AreaSpec | float (Mha) | table, "source": str, "uncertainty": rel_sd}}``.
        A table is ``{value, source?, sd? | low + high?}``. ``source``/``uncertainty`` at region level
        apply to every ecosystem of the region that does not set its own.
    model_config:
        Optional dict with keys

        * ``"rates"``: ``{ecosystem: override}``, where an override is a number (fixed rate in
          t C/ha/yr), ``{"value": x, "units": "t C/ha/yr"}`` (fixed), a :class:`FixedRate`, a
          :class:`PriorSpec`, or ``{"distribution", "params", "units"?, "source"?, "citation"?}``
          (for library ecosystems ``params`` merge into the library prior as in
          :meth:`PriorLibrary.with_overrides`). ``units``, when given, must be t C/ha/yr. Naming an
          ecosystem that is not in the library adds it.
        * ``"priors"``: a :class:`PriorLibrary` to use instead of :func:`default_library`.
    soc:
        Cropland saturation settings: a :class:`SOCSaturation` (all regions), a dict
        ``{region: SOCSaturation | None}`` (unlisted regions get the default), or ``None`` (no
        saturation: constant rate). Default: library SOC_0 prior and 46.8 t C/ha ceiling.
    """

    def __init__(
        self,
        areas: Mapping[str, Mapping[str, Any]],
        model_config: Mapping[str, Any] | None = None,
        soc: SOCSaturation | Mapping[str, SOCSaturation | None] | None = DEFAULT_SOC,
        forest_age: Mapping[str, ForestAgeing | Mapping[str, Any]] | None = None,
    ) -> None:
        config = dict(model_config or {})
        bad = sorted(set(config) - {"rates", "priors"})
        if bad:
            raise InputError(
                f"unknown model_config key(s) {', '.join(map(repr, bad))}{did_you_mean(bad[0], ['rates', 'priors'])}; "
                "allowed: 'rates', 'priors'"
            )
        lib = config.get("priors") or default_library()
        if not isinstance(lib, PriorLibrary):
            raise InputError(f"model_config['priors'] must be a PriorLibrary, got {type(lib).__name__}")
        self.library = lib
        overrides = config.get("rates") or {}
        if not isinstance(overrides, Mapping):
            raise InputError("model_config['rates'] must be a table of ecosystem -> rate")
        for eco in overrides:
            if not isinstance(eco, str) or not _NAME_RE.match(eco):
                raise InputError(f"model_config['rates']: ecosystem names must be identifiers, got {eco!r}")
        library_rates = _known_rate_keys(lib)
        known = list(dict.fromkeys([*library_rates, *overrides]))

        if not isinstance(areas, Mapping) or not areas:
            raise InputError("areas must be a non-empty table {region: {ecosystem: area in Mha}}")
        self.areas: dict[str, dict[str, AreaSpec]] = {
            region: _parse_region(region, table, known) for region, table in areas.items()
        }
        used = {e for spec in self.areas.values() for e in spec}
        unused = sorted(set(overrides) - used)
        if unused:  # a typo such as "forestt" would otherwise be a silently unused new ecosystem
            raise InputError(f"rates given for {', '.join(map(repr, unused))} but no region has an area of it"
                             f"{did_you_mean(unused[0], sorted(used))}; ecosystems with areas: {', '.join(sorted(used))}")
        order = [e for e in CORE_ECOSYSTEMS if e in used] + sorted(used - set(CORE_ECOSYSTEMS))
        self.ecosystems: list[str] = order
        self.rates: dict[str, RateSpec] = {eco: _resolve_rate(eco, overrides.get(eco), lib, library_rates) for eco in order}

        self.soc: dict[str, SOCSaturation | None] = {}
        for region, spec in self.areas.items():
            if soc is None:
                setting = None
            elif isinstance(soc, SOCSaturation):
                setting = soc
            elif isinstance(soc, Mapping):
                unknown = [r for r in soc if r not in self.areas]
                if unknown:
                    raise InputError(f"soc settings for unknown region(s) {', '.join(map(repr, unknown))}{did_you_mean(unknown[0], self.areas)}")
                setting = soc.get(region, DEFAULT_SOC)
                if setting is not None and not isinstance(setting, SOCSaturation):
                    raise InputError(f"soc settings for region {region!r} must be a SOCSaturation or None")
            else:
                raise InputError(f"soc must be a SOCSaturation, a dict of them or None, got {type(soc).__name__}")
            if setting is not None and setting.ecosystem in spec:
                self.soc[region] = setting.resolved(lib)
            else:
                self.soc[region] = None
        self.forest_age: dict[str, ForestAgeing] = self._parse_forest_age(forest_age, lib)

    def _parse_forest_age(self, forest_age: Any, lib: PriorLibrary) -> dict[str, ForestAgeing]:
        """``{region: ForestAgeing}`` with library defaults filled in; regions and ecosystems checked."""
        if forest_age is None:
            return {}
        if not isinstance(forest_age, Mapping):
            raise InputError(f"forest_age must be a table {{region: age structure}}, got {type(forest_age).__name__}")
        out: dict[str, ForestAgeing] = {}
        for region, spec in forest_age.items():
            if region not in self.areas:
                raise InputError(f"forest age structure for region {region!r}, which has no areas"
                                 f"{did_you_mean(region, self.areas)}; regions: {', '.join(self.areas)}")
            age = spec if isinstance(spec, ForestAgeing) else ForestAgeing.from_table(region, spec, lib)
            if age.ecosystem not in self.areas[region]:
                raise InputError(f"forest age structure of region {region!r} applies to {age.ecosystem!r}, "
                                 f"which has no area there")
            out[region] = age.resolved(lib)
        return out

    # -- construction from study files --------------------------------------------------------------
    @classmethod
    def from_study_table(
        cls, table: Mapping[str, Any], *, model_config: Mapping[str, Any] | None = None
    ) -> EcosystemSinks:
        """Build from a TOML-like dict: the whole study (with a ``sinks`` table) or the ``sinks`` table.

        ::

            [sinks.areas.China]
            source = "Third National Land Survey of China (Ministry of Natural Resources, 2021)"
            forest = 284.1      # Mha
            grassland = 264.5
            cropland_soil = 127.9
            wetland = 23.5
            uncertainty = 0.05  # relative sd of areas

            [sinks.rates]       # optional, as model_config["rates"]
            forest = { value = 0.6, units = "t C/ha/yr" }

            [sinks.soc]         # optional; soc = false switches saturation off
            initial = [32.34, 33.47]   # t C/ha, or one number
            ceiling = 46.8

            [sinks.forest_age.China]   # optional forest ageing (ForestAgeing); no group keys = 9th NFI shares
            young = 0.33               # area shares (or areas) of the five age groups
            middle_aged = 0.31
            near_mature = 0.16
            mature = 0.14
            over_mature = 0.06
            maturity_age = [25, 60]    # years; default: library prior

        Keys of the ``sinks`` table other than ``areas``, ``rates``, ``soc`` and ``forest_age`` belong to other sink
        models and are ignored here. ``model_config`` entries take precedence over ``sinks.rates``.
        """
        if not isinstance(table, Mapping):
            raise InputError(f"study table must be a table, got {type(table).__name__}")
        t = table.get("sinks", table)
        if not isinstance(t, Mapping):
            raise InputError("[sinks] must be a table")
        if "areas" not in t:
            raise InputError("the sinks table has no 'areas': add [sinks.areas.<region>] tables (Mha per ecosystem)")
        config = dict(model_config or {})
        if not isinstance(t.get("rates") or {}, Mapping):
            raise InputError("[sinks.rates] must be a table of ecosystem -> rate")
        rates = dict(t.get("rates") or {})
        rates.update(config.get("rates") or {})
        if rates:
            config["rates"] = rates
        soc_t = t.get("soc", True)
        if soc_t is False:
            soc: Any = None
        elif soc_t is True:
            soc = DEFAULT_SOC
        elif isinstance(soc_t, Mapping):
            bad = sorted(set(soc_t) - {"initial", "ceiling", "ecosystem"})
            if bad:
                raise InputError(f"[sinks.soc]: unknown key(s) {', '.join(map(repr, bad))}; allowed: initial, ceiling, ecosystem")
            init = soc_t.get("initial")
            if isinstance(init, list):
                init = tuple(init)
            soc = SOCSaturation(initial=init, ceiling=soc_t.get("ceiling"), ecosystem=soc_t.get("ecosystem", "cropland_soil"))
        else:
            raise InputError(f"[sinks] soc must be a table or true/false, got {soc_t!r}")
        return cls(t["areas"], model_config=config or None, soc=soc, forest_age=t.get("forest_age") or None)

    @classmethod
    def china_default(cls, uncertainty: float | None = 0.05, **kwargs: Any) -> EcosystemSinks:
        """China with the Third National Land Survey areas (:data:`CHINA_LAND_SURVEY`)."""
        table = dict(CHINA_LAND_SURVEY)
        if uncertainty is None:
            table.pop("uncertainty")
        else:
            table["uncertainty"] = uncertainty
        return cls({"China": table}, **kwargs)

    # -- description ----------------------------------------------------------------------------------
    @property
    def regions(self) -> list[str]:
        return list(self.areas)

    def areas_table(self) -> pd.DataFrame:
        """One row per region and ecosystem: area (Mha), uncertainty and source."""
        rows = [
            {
                "region": r,
                "ecosystem": e,
                "area_mha": a.value,
                "rel_sd": a.rel_sd,
                "low": a.range[0] if a.range else np.nan,
                "high": a.range[1] if a.range else np.nan,
                "source": a.source,
            }
            for r, spec in self.areas.items()
            for e, a in spec.items()
        ]
        return pd.DataFrame(rows)

    def rates_table(self) -> pd.DataFrame:
        """One row per ecosystem: rate prior (or fixed value), units, source and citation."""
        rows = []
        for e, spec in self.rates.items():
            rows.append(
                {
                    "ecosystem": e,
                    "rate": spec.describe(),
                    "units": RATE_UNITS,
                    "source": spec.source,
                    "citation": spec.citation,
                }
            )
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        return f"EcosystemSinks(regions={self.regions}, ecosystems={self.ecosystems})"

    # -- simulation -----------------------------------------------------------------------------------
    def _multiplier(self, multiplier: Any, years: np.ndarray, draws: int | None, seed: Any) -> tuple[np.ndarray, int, str]:
        if multiplier is None:
            n = DEFAULT_DRAWS if draws is None else draws
            return np.ones((n, years.size)), n, "none (m = 1)"
        if not isinstance(multiplier, xr.DataArray):
            raise InputError(f"multiplier must be an xarray DataArray (sample, year), got {type(multiplier).__name__}")
        if "year" not in multiplier.dims or not set(multiplier.dims) <= {"sample", "year"}:
            raise InputError(f"multiplier must have dims (sample, year) or (year,), got {tuple(multiplier.dims)}")
        if "year" not in multiplier.coords:
            raise InputError("multiplier has no 'year' coordinate")
        m_years = multiplier["year"].values.astype(int)
        missing = years[~np.isin(years, m_years)]
        if missing.size:
            raise InputError(
                f"multiplier covers {m_years.min()}-{m_years.max()} but not year {missing[0]}"
                + (f" ({missing.size} requested years missing)" if missing.size > 1 else "")
            )
        m = multiplier.assign_coords(year=m_years).sel(year=years)
        vals = m.transpose(..., "year").values
        bad = ~np.isfinite(vals) | (vals < 0)
        if bad.any():
            year = years[np.nonzero(bad.any(axis=tuple(range(vals.ndim - 1))))[0][0]]
            raise InputError(f"multiplier must be finite and >= 0; bad value(s) in year {year}")
        if "sample" not in m.dims:
            n = DEFAULT_DRAWS if draws is None else draws
            return np.broadcast_to(vals, (n, years.size)).copy(), n, "deterministic"
        k = m.sizes["sample"]
        n = k if draws is None else draws
        m = m.transpose("sample", "year")
        note = f"{k} draws"
        if n != k:
            from forecast.sinks.neutrality import resample_samples

            m = resample_samples(m, n, seed)
            note = f"resampled from {k} to {n} draws"
        return np.asarray(m.values, dtype=float), n, note

    def simulate(
        self,
        years: Iterable[int],
        multiplier: xr.DataArray | None = None,
        draws: int | None = None,
        random_seed: Any = None,
    ) -> xr.Dataset:
        """Monte-Carlo sink trajectories.

        Parameters
        ----------
        years:
            Consecutive whole years (annual steps, needed by the SOC recursion).
        multiplier:
            CO2-fertilisation multiplier ``(sample, year)`` or ``(year,)``, dimensionless, covering all
            ``years``; ``None`` = no CFE change (m = 1).
        draws:
            Number of draws; default: the multiplier's sample count, else 1000. A multiplier with a
            different count is resampled reproducibly (:func:`forecast.sinks.neutrality.resample_samples`).
        random_seed:
            Seed (int / Generator / None) for rate, area, SOC and resampling draws.

        Returns
        -------
        ``xr.Dataset`` with ``sink`` (sample, region, year) and ``sink_by_ecosystem`` (sample, region,
        ecosystem, year) in Mt CO2/yr, plus ``rate`` (sample, ecosystem; initial rate, t C/ha/yr),
        ``area`` (sample, region, ecosystem; Mha; 0 where a region lacks the ecosystem),
        ``cropland_soc`` (sample, region, year; SOC density at the start of each year, t C/ha; NaN
        without saturation) and ``multiplier`` (sample, year).
        """
        years_arr = self._check_years(years)
        if draws is not None and (isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1):
            raise InputError(f"draws must be a positive integer, got {draws!r}")
        ss = np.random.SeedSequence(_seed_entropy(random_seed))
        seed_prior, seed_area, seed_mult = ss.spawn(3)
        m, n, m_note = self._multiplier(multiplier, years_arr, draws, np.random.default_rng(seed_mult))
        regions, ecos = self.regions, self.ecosystems
        R, E, T = len(regions), len(ecos), years_arr.size

        # -- prior draws (one compiled PyMC call for every prior-distributed quantity) ---------------
        prior_targets: list[tuple[str, Any]] = []
        dists = []
        for e in ecos:
            spec = self.rates[e]
            if isinstance(spec, PriorSpec):
                prior_targets.append(("rate", e))
                dists.append(spec)
        for r in regions:
            s = self.soc[r]
            if s is not None and isinstance(s.initial, PriorSpec):
                prior_targets.append(("soc", r))
                dists.append(s.initial)
            age = self.forest_age.get(r)
            if age is not None and isinstance(age.maturity_age, PriorSpec):
                prior_targets.append(("age", r))
                dists.append(age.maturity_age)
        drawn: dict[tuple[str, Any], np.ndarray] = {}
        if dists:
            import pymc as pm

            values = pm.draw([d.to_dist(shape=(n,)) for d in dists], random_seed=np.random.default_rng(seed_prior))
            if len(dists) == 1:
                values = [values]
            drawn = {t: np.asarray(v, dtype=float).reshape(n) for t, v in zip(prior_targets, values)}

        rate = np.empty((n, E))
        for j, e in enumerate(ecos):
            spec = self.rates[e]
            rate[:, j] = drawn[("rate", e)] if isinstance(spec, PriorSpec) else spec.value

        rng = np.random.default_rng(seed_area)
        area = np.zeros((n, R, E))
        for i, r in enumerate(regions):
            for j, e in enumerate(ecos):
                if e in self.areas[r]:
                    area[:, i, j] = self.areas[r][e].sample(n, rng)

        # -- sinks ------------------------------------------------------------------------------------
        # carbon uptake per hectare actually realised, t C/ha/yr: (sample, region, ecosystem, year)
        uptake = rate[:, None, :, None] * m[:, None, None, :] * np.ones((1, R, 1, 1))
        soc_out = np.full((n, R, T), np.nan)
        for i, r in enumerate(regions):
            s = self.soc[r]
            if s is None:
                continue
            j = ecos.index(s.ecosystem)
            init = s.initial
            if isinstance(init, PriorSpec):
                soc0 = drawn[("soc", r)]
            elif isinstance(init, tuple):
                soc0 = rng.uniform(init[0], init[1], size=n)
            else:
                soc0 = np.full(n, float(init))
            inc, soc_path = _soc_recursion(rate[:, j], soc0, float(s.ceiling), m)
            uptake[:, i, j, :] = inc
            soc_out[:, i, :] = soc_path
        age_factor = np.ones((n, R, T))
        for i, r in enumerate(regions):
            age = self.forest_age.get(r)
            if age is None:
                continue
            ma = age.maturity_age
            ma_draws = drawn[("age", r)] if isinstance(ma, PriorSpec) else (
                rng.uniform(ma[0], ma[1], size=n) if isinstance(ma, tuple) else np.full(n, float(ma)))
            age_factor[:, i, :] = age.factor(years_arr, ma_draws)
            uptake[:, i, ecos.index(age.ecosystem), :] *= age_factor[:, i, :]
        by_eco = area[..., None] * uptake * MT_CO2_PER_MHA_T_C_PER_HA  # Mha x t C/ha/yr -> Mt CO2/yr
        sink = by_eco.sum(axis=2)

        coords = {"sample": np.arange(n), "region": regions, "ecosystem": ecos, "year": years_arr}
        ds = xr.Dataset(
            {
                "sink": (("sample", "region", "year"), sink),
                "sink_by_ecosystem": (("sample", "region", "ecosystem", "year"), by_eco),
                "rate": (("sample", "ecosystem"), rate),
                "area": (("sample", "region", "ecosystem"), area),
                "cropland_soc": (("sample", "region", "year"), soc_out),
                "multiplier": (("sample", "year"), m),
                "forest_age_factor": (("sample", "region", "year"), age_factor),
            },
            coords=coords,
        )
        ds["sink"].attrs = {"units": SINK_UNITS, "long_name": "ecosystem carbon sink (removal; positive = uptake)"}
        ds["sink_by_ecosystem"].attrs = {"units": SINK_UNITS, "long_name": "ecosystem carbon sink by ecosystem"}
        ds["rate"].attrs = {"units": RATE_UNITS, "long_name": "initial net carbon sequestration rate (before CFE and saturation)"}
        ds["area"].attrs = {"units": AREA_UNITS, "long_name": "ecosystem area"}
        ds["cropland_soc"].attrs = {"units": SOC_UNITS, "long_name": "cropland soil organic carbon density at the start of the year"}
        ds["multiplier"].attrs = {"units": "1", "long_name": "CO2-fertilisation multiplier m(t) of sequestration rates"}
        ds["forest_age_factor"].attrs = {"units": "1", "long_name": "forest ageing factor of the forest rate "
                                         "(1 = no ageing; relative to the inventory year)"}
        ds.attrs = {
            "model": f"sink = sum_e area_e x rate_e x m(t) x {CO2_PER_C:.3f}; cropland soil rate saturates towards the SOC ceiling",
            "co2_per_c": CO2_PER_C,
            "multiplier": m_note,
            "rate_priors": "; ".join(f"{e}: {self.rates[e].describe()} [{RATE_UNITS}] ({self.rates[e].citation})" for e in ecos),
            "area_sources": "; ".join(
                f"{r}: " + ", ".join(f"{e} {a.describe()}" for e, a in self.areas[r].items())
                + (f" ({src})" if (src := "; ".join(dict.fromkeys(a.source for a in self.areas[r].values() if a.source))) else "")
                for r in regions
            ),
            "soc_saturation": "; ".join(f"{r}: {s.describe() if s else 'off'}" for r, s in self.soc.items()),
            "forest_ageing": "; ".join(f"{r}: {a.describe()}" for r, a in self.forest_age.items()) or "off",
            "random_seed": str(random_seed),
        }
        return ds

    @staticmethod
    def _check_years(years: Iterable[int]) -> np.ndarray:
        if np.isscalar(years):
            years = [years]  # type: ignore[list-item]
        arr = np.asarray(list(years))
        if arr.size == 0:
            raise InputError("years must not be empty")
        if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)) or np.any(arr % 1 != 0):
            raise InputError(f"years must be whole numbers, got {list(arr)[:5]}")
        arr = arr.astype(int)
        steps = np.diff(arr)
        if (steps != 1).any():
            i = int(np.argmax(steps != 1))
            raise InputError(f"years must be consecutive and increasing (year {arr[i + 1]} follows {arr[i]})")
        return arr


def _soc_recursion(r0: np.ndarray, soc0: np.ndarray, ceiling: float, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cropland SOC saturation, vectorised over samples.

    Returns the realised uptake ``rate_t x m(t)`` (t C/ha/yr, capped so SOC never exceeds the ceiling)
    and the SOC density at the start of each year, both ``(sample, year)``.
    """
    n, T = m.shape
    gap0 = ceiling - soc0
    soc = soc0.astype(float).copy()
    inc = np.empty((n, T))
    path = np.empty((n, T))
    gaining = r0 > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        for h in range(T):
            path[:, h] = soc
            gap = ceiling - soc
            factor = np.where(gap0 > 0, np.clip(gap / gap0, 0.0, 1.0), 0.0)
            rate_t = np.where(gaining, r0 * factor, r0)
            step = rate_t * m[:, h]
            step = np.where(gaining, np.minimum(step, np.maximum(gap, 0.0)), np.maximum(step, -soc))
            inc[:, h] = step
            soc = soc + step
    return inc, path


def ageing_comparison(
    year: int = 2060,
    start_year: int = 2020,
    draws: int = 2000,
    random_seed: Any = 0,
    multiplier: xr.DataArray | None = None,
    ageing: ForestAgeing | None = None,
) -> pd.DataFrame:
    """China's forest sink in ``year`` (Mt CO2/yr) with and without forest ageing, draw by draw.

    Both columns come from one simulation (Third National Land Survey forest area, library forest rate,
    ``multiplier`` as in :meth:`EcosystemSinks.simulate`; ``None`` = m = 1), so they differ only by the ageing
    factor: "constant rate" is ``area x rate x m(t)``, "with ageing" multiplies it by ``A(t)/A(2016)`` of
    ``ageing`` (default: :meth:`ForestAgeing.china_default`, no harvest).
    """
    ageing = ageing or ForestAgeing.china_default()
    model = EcosystemSinks.china_default(forest_age={"China": ageing})
    ds = model.simulate(range(int(start_year), int(year) + 1), multiplier=multiplier, draws=draws, random_seed=random_seed)
    aged = ds["sink_by_ecosystem"].sel(region="China", ecosystem=ageing.ecosystem, year=year).values
    factor = ds["forest_age_factor"].sel(region="China", year=year).values
    constant = aged / factor
    rows = []
    for label, x in (("constant rate x m(t)", constant), ("with ageing", aged), ("ageing factor", factor)):
        q = np.quantile(x, [0.05, 0.5, 0.95])
        rows.append({"variant": label, "mean": float(np.mean(x)), "q05": q[0], "q50": q[1], "q95": q[2]})
    out = pd.DataFrame(rows).set_index("variant")
    out.attrs = {"units": SINK_UNITS + " (ageing factor: 1)", "year": int(year), "ageing": ageing.describe(),
                 "multiplier": ds.attrs["multiplier"]}
    return out
