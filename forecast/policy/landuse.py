"""Land-use carbon accounting: emissions / sequestration by land type with uncertainty.

    E_type [Mt CO2/yr] = -area [Mha] × uptake rate [t C/ha/yr] × CO2_PER_C   (cropland, forest, grassland,
                                                                             water_wetland, unused_land)
    E_built_up         = Σ energy activity × emission factor                  (forecast.policy.inventory.approach2)

The uptake rates are the BASELINE rates of the one coefficient library shared with the sink account
(:mod:`forecast.sinks.coefficients`, ``priors/ecosystems.toml``; positive = uptake), land types mapped to land
classes by :data:`forecast.sinks.coefficients.LANDUSE_CLASS` (cropland -> cropland_soil, water_wetland ->
wetland). This account reports EMISSIONS: positive = emission, so uptake shows as a negative number. Areas may
carry a relative sd (normal). The result is Monte Carlo draws per land type and their net sum, Mt CO2/yr.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from forecast.errors import InputError, close_matches, suggestion
from forecast.policy.inventory import approach2
from forecast.sinks.coefficients import draw_baselines, uptake_to_emission

__all__ = ["LAND_TYPES", "landuse_inventory", "landuse_priors", "read_landuse"]

AREA_TYPES = ("cropland", "forest", "grassland", "water_wetland", "unused_land")
LAND_TYPES = AREA_TYPES + ("built_up",)
ALIASES = {
    "water": "water_wetland", "wetland": "water_wetland", "water_area": "water_wetland",
    "unused": "unused_land", "built-up": "built_up", "builtup": "built_up", "construction_land": "built_up",
    "urban": "built_up", "forest_land": "forest", "arable": "cropland", "grass": "grassland",
}
UNITS = "Mt CO2/yr"


def landuse_priors(model_config: dict[str, Any] | None = None) -> dict:
    """Baseline uptake rates (t C/ha/yr, positive = uptake) by land type, from the coefficient library.

    Overrides name a land type or a library entry: ``{"forest": {"params": {"sigma": 0.5}}}``.
    """
    from forecast.priors import default_library
    from forecast.sinks.coefficients import (
        FAMILY,
        LANDUSE_CLASS,
        RATE_PREFIX,
        baseline_specs,
    )

    overrides = {(k if "." in k else f"{FAMILY}.{RATE_PREFIX}{LANDUSE_CLASS.get(k, k)}"): v
                 for k, v in (model_config or {}).items()}
    specs = baseline_specs(default_library().with_overrides(overrides))
    return {t: specs[c] for t, c in LANDUSE_CLASS.items() if t in AREA_TYPES}


def _land_type(name: str) -> str:
    key = str(name).strip().lower().replace(" ", "_")
    key = ALIASES.get(key, key)
    if key not in LAND_TYPES:
        choices = list(LAND_TYPES) + list(ALIASES)
        hint = suggestion(ALIASES.get(c, c) for c in close_matches(key, choices, cutoff=0.5))
        raise InputError(f"unknown land type {name!r}{hint}; known: {', '.join(LAND_TYPES)}")
    return key


MAX_AREA_MHA = 14_900.0  # Earth's land area (about 149 million km2)


def read_landuse(path) -> tuple[dict[str, float], dict[str, float] | float]:
    """Areas (Mha) and their relative sds from a CSV ``land_type, area_mha[, rel_sd]``, ready for
    :func:`landuse_inventory`. Every problem (unknown or repeated land type, an area outside 0 to the Earth's
    land, a relative sd outside [0, 1)) is an InputError naming the file, the row and the land type."""
    from forecast.io.csvfile import read_user_csv

    frame = read_user_csv(path, required=("land_type", "area_mha"), numeric=("area_mha", "rel_sd"),
                          unique="land_type", text=("land_type",), what="land-use file")
    seen: dict[str, int] = {}
    for i, row in enumerate(frame.to_dict("records")):
        where = f"{path}: row {i + 1} ({row['land_type']!r})"
        try:
            key = _land_type(row["land_type"])
        except InputError as err:
            raise InputError(f"{path}: row {i + 1}: {err}") from None
        if key in seen:
            raise InputError(f"{where}: land type {key!r} already given in row {seen[key]} (aliases such as water/wetland)")
        seen[key] = i + 1
        if not 0 <= row["area_mha"] <= MAX_AREA_MHA:
            raise InputError(f"{where}: area_mha must lie in 0-{MAX_AREA_MHA:,.0f} Mha (Earth's land), got {row['area_mha']!r}")
        rel = row.get("rel_sd", 0.0)
        if not (pd.isna(rel) or 0 <= rel < 1):
            raise InputError(f"{where}: rel_sd is a relative 1-sigma uncertainty in [0, 1), got {rel!r}")
    names = frame["land_type"].astype(str)
    areas = dict(zip(names, frame["area_mha"].astype(float)))
    if "rel_sd" not in frame:
        return areas, 0.0
    return areas, dict(zip(names, frame["rel_sd"].fillna(0.0).astype(float)))


def landuse_inventory(
    areas: Mapping[str, float],
    energy: Any = None,
    draws: int = 4000,
    random_seed: int | None = None,
    *,
    area_rel_sd: float | Mapping[str, float] = 0.0,
    factor_draws: Any = None,
    model_config: dict[str, Any] | None = None,
) -> xr.Dataset:
    """Net land-use CO2 by land type, as Monte Carlo draws.

    Parameters
    ----------
    areas:
        ``{land_type: area in Mha}``; land types: cropland, forest, grassland, water_wetland (aliases water,
        wetland), unused_land, built_up (its area is recorded but its emissions come from ``energy``).
    energy:
        Energy use of built-up land: :class:`~forecast.policy.inventory.Activity` objects (list or dict) whose
        categories are emission-factor categories (e.g. ``natural_gas``, in TJ/PJ).
    factor_draws:
        Factor draws for ``energy`` (e.g. ``EmissionFactorModel.factor_draws``); default: the IPCC priors.
    area_rel_sd:
        Relative sd of the areas (one number, or by land type).

    Returns
    -------
    Dataset with ``emissions`` (sample, land_type) and ``net`` (sample), units Mt CO2/yr, positive = emission.
    """
    if not isinstance(areas, Mapping) or not areas:
        raise InputError("areas must be a non-empty mapping {land_type: area in Mha}")
    if int(draws) < 2:
        raise InputError(f"draws must be at least 2, got {draws!r}")
    n = int(draws)
    clean: dict[str, float] = {}
    for name, area in areas.items():
        key = _land_type(name)
        if key in clean:
            raise InputError(f"land type {key!r} given twice (check aliases such as water/wetland)")
        a = float(area)
        if not np.isfinite(a) or not 0 <= a <= MAX_AREA_MHA:
            raise InputError(f"area of {name!r} must lie in 0-{MAX_AREA_MHA:,.0f} Mha (Earth's land), got {area!r}")
        clean[key] = a
    if isinstance(area_rel_sd, Mapping):
        rel = {_land_type(k): float(v) for k, v in area_rel_sd.items()}
    else:
        rel = {k: float(area_rel_sd) for k in clean}
    bad = {k: v for k, v in rel.items() if not (np.isfinite(v) and 0 <= v < 1)}
    if bad:
        # areas are positive: a relative sd of 1 or more would draw negative areas
        raise InputError(f"area_rel_sd is a relative 1-sigma uncertainty in [0, 1), got {bad}")
    if energy is None and "built_up" in clean and clean["built_up"] > 0:
        raise InputError("built_up land has no area coefficient: pass its energy use as energy=[Activity(...)]")
    specs = landuse_priors(model_config)
    rng = np.random.default_rng(random_seed)
    present = [key for key in AREA_TYPES if key in clean]
    # the same library entries and the same draw routine as the sink account
    rates = draw_baselines(present, n, random_seed=rng.integers(2**63), specs=specs)
    types, columns = [], []
    for key in present:
        area = clean[key] * (1 + rel.get(key, 0.0) * rng.standard_normal(n))
        types.append(key)
        columns.append(uptake_to_emission(area, rates[key]))
    if energy is not None:
        from forecast.models.emission_factors import prior_factor_draws

        if factor_draws is None:
            cats = [a.category for a in (energy.values() if isinstance(energy, Mapping) else energy)]
            factor_draws = prior_factor_draws(cats, n=max(n, 1000), random_seed=rng.integers(2**31))
        res = approach2(energy, factor_draws, n=n, random_seed=int(rng.integers(2**31)), out_units="Mt CO2")
        types.append("built_up")
        columns.append(res.total.values)
    em = xr.DataArray(np.column_stack(columns), dims=("sample", "land_type"),
                      coords={"sample": np.arange(n), "land_type": types}, name="emissions",
                      attrs={"units": UNITS, "sign": "positive = emission, negative = uptake"})
    ds = xr.Dataset({"emissions": em, "net": em.sum("land_type").assign_attrs(em.attrs)})
    ds["area"] = xr.DataArray([clean.get(t, np.nan) for t in types], dims="land_type", attrs={"units": "Mha"})
    ds.attrs = {"units": UNITS, "random_seed": -1 if random_seed is None else int(random_seed),
                "priors": "priors/ecosystems.toml baseline rates (the coefficient library shared with the sinks)",
                "sign": "emissions positive; library rates are uptake (positive = removal), shown here negated"}
    return ds
