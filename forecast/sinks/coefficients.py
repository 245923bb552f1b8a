"""The one coefficient library for ecosystem sequestration and land-use carbon (``priors/ecosystems.toml``).

Both carbon accounts read their per-hectare rates here and nowhere else:

* the sink account, :class:`forecast.sinks.ecosystems.EcosystemSinks` (ecosystem names = land classes);
* the land-use account, :func:`forecast.policy.landuse.landuse_inventory` (land types mapped to land
  classes by :data:`LANDUSE_CLASS`).

Sign convention
---------------
A rate is a net carbon **uptake** in t C/ha/yr: positive = removal from the atmosphere (a sink), negative =
net emission. The sink account reports ``area x rate x CO2_PER_C`` as a positive sink; the land-use account
reports emissions (positive = emission to the atmosphere), i.e. ``-area x rate x CO2_PER_C``
(:func:`uptake_to_emission`). ``forecast.units.CO2_PER_C`` is the only C -> CO2 factor.

Entries per land class ``c``: ``rate_<c>`` is the **baseline** (realised recent rate under current
management; a prior, or a fixed reference value such as an IPCC Tier 1 zero) and ``potential_<c>`` the
**management potential** (a reference range, reported but never used as a baseline).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from forecast.errors import InputError
from forecast.priors import (
    PriorError,
    PriorLibrary,
    PriorSpec,
    ReferenceValue,
    default_library,
)
from forecast.units import MT_CO2_PER_MHA_T_C_PER_HA

__all__ = [
    "FAMILY",
    "LANDUSE_CLASS",
    "LAND_CLASSES",
    "RATE_UNITS",
    "SIGN_CONVENTION",
    "baseline_specs",
    "coefficient_table",
    "draw_baselines",
    "potential",
    "uptake_to_emission",
]

FAMILY = "ecosystems"
RATE_PREFIX = "rate_"
POTENTIAL_PREFIX = "potential_"
RATE_UNITS = "t C/ha/yr"
LAND_CLASSES = ("forest", "grassland", "cropland_soil", "wetland", "built_up", "unused_land")
SIGN_CONVENTION = (
    "rates: t C/ha/yr, positive = net uptake (removal from the atmosphere); sinks: Mt CO2/yr, positive = "
    "removal; emissions (fossil, land-use change, land-use account): Mt CO2/yr, positive = emission"
)
# land types of the land-use account -> land classes of the library (the same per-hectare rate)
LANDUSE_CLASS: Mapping[str, str] = {
    "cropland": "cropland_soil",
    "forest": "forest",
    "grassland": "grassland",
    "water_wetland": "wetland",
    "unused_land": "unused_land",
    "built_up": "built_up",
}


def _library(lib: PriorLibrary | None) -> PriorLibrary:
    return default_library() if lib is None else lib


def baseline_specs(lib: PriorLibrary | None = None) -> dict[str, PriorSpec | ReferenceValue]:
    """Baseline rate entry of every land class in the library, keyed by class (``"forest"``, ...).

    Priors are drawn; reference values with a ``value`` are fixed rates (t C/ha/yr, positive = uptake).
    """
    lib = _library(lib)
    try:
        fam = lib.family(FAMILY)
    except PriorError:  # a custom library without the family: no known classes
        return {}
    out: dict[str, PriorSpec | ReferenceValue] = {}
    for key, entry in fam.items():
        if not key.startswith(RATE_PREFIX):
            continue
        if isinstance(entry, ReferenceValue) and entry.value is None:
            raise InputError(f"{entry.file}: baseline rate {entry.name} is a reference without a 'value'")
        out[key[len(RATE_PREFIX):]] = entry
    return out


def potential(land_class: str, lib: PriorLibrary | None = None) -> ReferenceValue | None:
    """Management potential of ``land_class`` (a reference range, t C/ha/yr), or None if not assessed."""
    name = f"{FAMILY}.{POTENTIAL_PREFIX}{land_class}"
    lib = _library(lib)
    return lib.get(name) if name in lib else None  # type: ignore[return-value]


def draw_baselines(classes: Iterable[str], n: int, random_seed: Any = None,
                   lib: PriorLibrary | None = None, specs: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
    """``n`` draws of the baseline rate (t C/ha/yr) of each class: one compiled PyMC call for the priors.

    ``specs`` (class -> PriorSpec / ReferenceValue / number) replaces the library entries where given.
    """
    specs = dict(baseline_specs(lib), **(specs or {}))
    classes = list(classes)
    missing = [c for c in classes if c not in specs]
    if missing:
        raise InputError(f"no baseline rate in the coefficient library for {', '.join(map(repr, missing))}; "
                         f"classes: {', '.join(specs)}")
    out: dict[str, np.ndarray] = {}
    priors = [c for c in classes if isinstance(specs[c], PriorSpec)]
    if priors:
        import pymc as pm

        values = pm.draw([specs[c].to_dist(shape=(n,)) for c in priors], random_seed=np.random.default_rng(random_seed))
        values = [values] if len(priors) == 1 else values
        out.update({c: np.asarray(v, dtype=float).reshape(n) for c, v in zip(priors, values)})
    for c in classes:
        if c not in out:
            spec = specs[c]
            out[c] = np.full(n, float(spec.value if isinstance(spec, ReferenceValue) else spec))
    return out


def uptake_to_emission(area_mha: Any, rate_t_c_per_ha: Any) -> Any:
    """Emission in Mt CO2/yr (positive = to the atmosphere) of ``area`` [Mha] with uptake ``rate`` [t C/ha/yr]."""
    return -np.asarray(area_mha) * np.asarray(rate_t_c_per_ha) * MT_CO2_PER_MHA_T_C_PER_HA


def _describe(entry: Any) -> str:
    return "not assessed" if entry is None else entry.describe()


def coefficient_table(lib: PriorLibrary | None = None) -> pd.DataFrame:
    """One row per land class: baseline, management potential, units, sign, source and citation."""
    rows = []
    for c, spec in baseline_specs(lib).items():
        pot = potential(c, lib)
        rows.append({
            "land_class": c,
            "baseline": _describe(spec),
            "potential": _describe(pot),
            "units": RATE_UNITS,
            "sign": "positive = uptake",
            "baseline_source": spec.source,
            "baseline_citation": spec.citation,
            "potential_citation": "" if pot is None else pot.citation,
        })
    out = pd.DataFrame(rows)
    out.attrs = {"sign_convention": SIGN_CONVENTION, "file": "priors/ecosystems.toml"}
    return out
