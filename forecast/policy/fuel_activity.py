"""Approach 1 vs Approach 2 on fuel activity data recovered from CEADs' CO2 by fuel.

CEADs computes each province's CO2 per fuel as (Shan et al. 2018, Sci. Data 5:170201, IPCC sectoral method)

    CO2_f = AD_f × NCV_f × CC_f × O_f × CO2_PER_C          (AD: physical fuel use, t or m3)

(``CO2_PER_C``: the CO2-to-carbon mass ratio, :data:`forecast.units.CO2_PER_C`)

so with the net calorific value ``NCV_f``, carbon content ``CC_f`` (t C/TJ) and oxidation rate ``O_f`` CEADs used,
the fuel use is recovered exactly: ``AD_f = CO2_f / (NCV_f CC_f O_f CO2_PER_C)`` and the energy ``AD_f NCV_f`` (TJ).
That energy is the activity of an IPCC inventory (emissions = energy × factor per TJ) whose factors can then be
chosen: the IPCC 2006 defaults (Vol. 2 Ch. 1 Table 1.4, ``priors/emission_factors.toml``), the China-specific
factors implied by the same table (``CC × O × CO2_PER_C``: the inventory CEADs publishes), or the posterior of a
fitted :class:`~forecast.models.emission_factors.EmissionFactorModel`.

The NCV / carbon-content / oxidation table is **supplied by the user** (:func:`read_fuel_properties`): the values of
Shan et al. 2018 could not be verified for this package, so none ship. Every row needs its citation.

Uncertainties: activity data relative sd (default 5 % coal-type fuels, 3 % oil and gas, as
:func:`forecast.policy.inventory.ceads_fuel_inventory`, an assumption); factor uncertainty: the IPCC Table 1.4
range of the fuel's IPCC category (log-normal, :data:`CEADS_IPCC_CATEGORY`), around the chosen factor. Fuels
that map to one IPCC category share one factor draw (one factor, one error; IPCC 2006 Vol. 1 Ch. 3,
Sect. 3.2.3.2). The split into a systematic part (factors: the same error every year) and a random part
(activity data: independent between years) follows IPCC 2006 Vol. 1 Ch. 3, Sect. 3.2.3.1 / Table 3.2
(:func:`forecast.policy.inventory.inventory_error_split`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from forecast.errors import InputError, did_you_mean
from forecast.policy.inventory import (COAL_FUELS, Activity, InventoryErrorSplit, compare_approaches,
                                       factor_multipliers, inventory_error_split)
from forecast.units import CO2_PER_C

__all__ = ["CEADS_IPCC_CATEGORY", "read_fuel_properties", "ceads_fuel_energy", "ceads_energy_inventory",
           "EnergyInventory"]

#: CEADs fuel -> the IPCC 2006 Table 1.4 category whose range is that fuel's factor uncertainty and whose
#: default is its IPCC factor. Where Table 1.4 has no matching entry among the package priors the nearest is
#: used (an assumption, stated here): briquettes, other coking products -> other bituminous coal (Table 1.4's
#: patent fuel and coal tar are not in the priors); other gas -> coke oven gas (Table 1.4 gives gas works gas
#: the same default and range); other petroleum products -> crude oil; kerosene -> other kerosene.
CEADS_IPCC_CATEGORY: dict[str, str] = {
    "Raw_Coal": "other_bituminous_coal", "Cleaned_Coal": "other_bituminous_coal",
    "Other_Washed_Coal": "other_bituminous_coal", "Briquettes": "other_bituminous_coal",
    "Coke": "coke_oven_coke", "Coke_Oven_Gas": "coke_oven_gas", "Other_Gas": "coke_oven_gas",
    "Other_Coking_Products": "other_bituminous_coal", "Crude_Oil": "crude_oil", "Gasoline": "motor_gasoline",
    "Kerosene": "other_kerosene", "Diesel_Oil": "gas_diesel_oil", "Fuel_Oil": "residual_fuel_oil", "LPG": "lpg",
    "Refinery_Gas": "refinery_gas", "Other_Petroleum_Products": "crude_oil", "Natural_Gas": "natural_gas",
}
#: NCV units accepted -> (physical unit of the fuel, GJ per physical unit per 1 of the given value)
NCV_UNITS = {"GJ/t": ("t", 1.0), "MJ/kg": ("t", 1.0), "TJ/Gg": ("t", 1.0), "kJ/kg": ("t", 1e-3),
             "GJ/m3": ("m3", 1.0), "MJ/m3": ("m3", 1e-3), "kJ/m3": ("m3", 1e-6)}
#: Carbon content per unit energy, t C/TJ: the IPCC 2006 Vol. 2 Ch. 1 Table 1.3 defaults run from about 12
#: (coke oven gas) to about 71 (blast furnace gas); outside 5-100 is a unit error.
CARBON_CONTENT_RANGE = (5.0, 100.0)
FACTOR_CHOICES = ("ipcc", "china")


def read_fuel_properties(path: str | Path) -> pd.DataFrame:
    """The user's table of the NCV, carbon content and oxidation CEADs used, checked.

    Columns: ``fuel`` (a CEADs fuel, e.g. ``Raw_Coal``), ``ncv`` with ``ncv_units`` (one of
    :data:`NCV_UNITS`), ``carbon_content`` (t C/TJ), ``oxidation`` (fraction, 0-1), ``citation``. Every problem
    is an InputError naming the file, row and fuel."""
    from forecast.io.csvfile import read_user_csv

    frame = read_user_csv(path, required=("fuel", "ncv", "ncv_units", "carbon_content", "oxidation", "citation"),
                          numeric=("ncv", "carbon_content", "oxidation"), unique="fuel", text=("fuel", "ncv_units"),
                          what="fuel properties file")
    for i, row in enumerate(frame.to_dict("records"), start=1):
        fuel = str(row["fuel"]).strip()
        where = f"{path}: row {i} ({fuel})"
        if fuel not in CEADS_IPCC_CATEGORY:
            raise InputError(f"{where}: not a CEADs fuel{did_you_mean(fuel, CEADS_IPCC_CATEGORY, cutoff=0.5)}; "
                             f"fuels: {', '.join(CEADS_IPCC_CATEGORY)}")
        if str(row["ncv_units"]).strip() not in NCV_UNITS:
            raise InputError(f"{where}: ncv_units {row['ncv_units']!r} not one of {', '.join(NCV_UNITS)}")
        if not row["ncv"] > 0:
            raise InputError(f"{where}: ncv must be positive, got {row['ncv']!r}")
        lo, hi = CARBON_CONTENT_RANGE
        if not lo <= row["carbon_content"] <= hi:
            raise InputError(f"{where}: carbon_content {row['carbon_content']!r} t C/TJ outside {lo:g}-{hi:g} "
                             "(IPCC 2006 Vol. 2 Table 1.3 defaults lie in about 12-71); check the units")
        if not 0 < row["oxidation"] <= 1:
            raise InputError(f"{where}: oxidation is a fraction in (0, 1], got {row['oxidation']!r}")
        if pd.isna(row["citation"]) or not str(row["citation"]).strip():
            raise InputError(f"{where}: no citation; give the table the values are typed from")
    frame["fuel"] = frame["fuel"].astype(str).str.strip()
    frame["ncv_units"] = frame["ncv_units"].astype(str).str.strip()
    frame.attrs["path"] = str(path)
    return frame.set_index("fuel")


def _ceads_row(table: pd.DataFrame, province: str, year: int) -> pd.Series:
    missing = [c for c in ("province", "year", *CEADS_IPCC_CATEGORY) if c not in table.columns]
    if missing:
        raise InputError(f"CEADs table lacks column(s) {', '.join(missing)}")
    rows = table[(table["province"] == province) & (table["year"] == int(year))]
    if rows.empty:
        hint = did_you_mean(province, sorted(table["province"].astype(str).unique()), cutoff=0.5)
        raise InputError(f"no CEADs row for province {province!r}, year {year}{hint}")
    return rows.iloc[0]


def ceads_fuel_energy(table: pd.DataFrame, province: str, year: int, properties: pd.DataFrame) -> pd.DataFrame:
    """Fuel use recovered from one CEADs province-year: one row per fuel with CO2 > 0.

    Columns: ``co2_mt`` (CEADs, Mt CO2), ``china_factor`` (kg CO2/TJ = CC × O × CO2_PER_C × 1000), ``energy_tj``
    (TJ), ``amount`` with ``amount_units`` (physical fuel use: t or m3), ``ipcc_category``. A fuel with CO2
    but no row in ``properties`` is an InputError naming it."""
    row = _ceads_row(table, province, year)
    out = []
    for fuel, cat in CEADS_IPCC_CATEGORY.items():
        co2 = float(row[fuel])
        if co2 <= 0:
            continue
        if fuel not in properties.index:
            raise InputError(f"{province} {year}: fuel {fuel} has {co2:.3g} Mt CO2 in CEADs but no row in the fuel "
                             f"properties file {properties.attrs.get('path', '')}")
        p = properties.loc[fuel]
        factor = float(p["carbon_content"]) * float(p["oxidation"]) * CO2_PER_C * 1000.0  # kg CO2/TJ
        energy = co2 * 1e9 / factor  # Mt CO2 -> kg, / (kg CO2/TJ) -> TJ
        unit, scale = NCV_UNITS[str(p["ncv_units"])]
        amount = energy * 1000.0 / (float(p["ncv"]) * scale)  # TJ -> GJ, / (GJ per unit)
        out.append({"fuel": fuel, "co2_mt": co2, "china_factor": factor, "energy_tj": energy, "amount": amount,
                    "amount_units": unit, "ipcc_category": cat})
    if not out:
        raise InputError(f"{province} {year}: no fuel with positive CO2 in CEADs")
    return pd.DataFrame(out).set_index("fuel")


class EnergyInventory:
    """Result of :func:`ceads_energy_inventory`: ``comparison`` (Approach 1 and 2, as
    :func:`~forecast.policy.inventory.compare_approaches`), ``variance_share`` by fuel, ``split``
    (systematic / random), ``fuels`` (the recovered fuel use) and ``factors`` (the choice)."""

    def __init__(self, comparison: pd.DataFrame, split: InventoryErrorSplit, fuels: pd.DataFrame, factors: str):
        self.comparison = comparison
        self.variance_share = comparison.attrs["variance_share"]
        self.split = split
        self.fuels = fuels
        self.factors = factors

    def to_frame(self) -> pd.DataFrame:
        """One row per approach with the factor choice and the systematic / random split (relative 1-sigma)."""
        frame = self.comparison.copy()
        frame.attrs = {}  # the variance shares live in variance_share (a DataFrame in attrs breaks pd.concat)
        frame.insert(0, "factors", self.factors)
        rel = self.split.relative()
        frame["systematic_rel_sd"] = rel["systematic_error"]
        frame["random_rel_sd"] = rel["random_error"]
        return frame


def _factor_draws(fuels: pd.DataFrame, n: int, factors: Any, region: str | None,
                  random_seed: int | None) -> tuple[xr.DataArray, str]:
    """(sample, category=fuel) factor draws in kg CO2/TJ and a label of the choice.

    ``"ipcc"``: IPCC defaults with their Table 1.4 range; ``"china"``: the fuel's CC × O × CO2_PER_C with its IPCC
    category's relative spread (the same multiplier draws as ``"ipcc"``); a fitted model: its posterior."""
    from forecast.priors import default_library

    cats = sorted(set(fuels["ipcc_category"]))
    source = "ipcc" if isinstance(factors, str) and factors in FACTOR_CHOICES else factors
    mult = factor_multipliers(cats, n, factors=source, region=region, random_seed=random_seed)
    per_fuel = mult.sel(category=list(fuels["ipcc_category"])).values  # (S, F): shared draws within a category
    specs = default_library().family("emission_factors")
    if isinstance(factors, str) and factors == "china":
        # mean 1 exactly: Approach 1 (means) then reproduces CEADs' total, whose factors these are
        per_fuel = per_fuel / per_fuel.mean(axis=0)
        centre, label = fuels["china_factor"].to_numpy(), "China-specific (properties table CC x O x CO2_PER_C)"
    else:
        centre = np.array([np.exp(specs[c].params["mu"]) for c in fuels["ipcc_category"]])
        label = "IPCC 2006 defaults (Vol. 2 Table 1.4)" if isinstance(factors, str) else mult.attrs["factor_source"]
    values = per_fuel * centre
    da = xr.DataArray(values, dims=("sample", "category"), coords={"sample": np.arange(n), "category": list(fuels.index)},
                      name="factor", attrs={"units": "kg CO2/TJ"})
    return da, label


def ceads_energy_inventory(table: pd.DataFrame, province: str, year: int, properties: pd.DataFrame, *,
                           factors: Any = "ipcc", draws: int = 20_000, random_seed: int | None = None,
                           coal_activity_rel_sd: float = 0.05, other_activity_rel_sd: float = 0.03) -> EnergyInventory:
    """Approach 1 and Approach 2 of one CEADs province-year with energy activity and a choice of factors.

    ``factors``: ``"ipcc"`` (IPCC 2006 defaults), ``"china"`` (the properties table's CC × O × CO2_PER_C, which
    reproduces CEADs' total), or a fitted EmissionFactorModel (its posterior; region factors for ``province``
    where it has measurements). Returns an :class:`EnergyInventory`."""
    if isinstance(factors, str) and factors not in FACTOR_CHOICES:
        raise InputError(f"factors must be one of {', '.join(FACTOR_CHOICES)} or a fitted EmissionFactorModel, "
                         f"got {factors!r}")
    fuels = ceads_fuel_energy(table, province, year, properties)
    rel = {f: coal_activity_rel_sd if f in COAL_FUELS else other_activity_rel_sd for f in fuels.index}
    acts = {f: Activity(f, float(fuels.loc[f, "energy_tj"]), "TJ", rel[f], "normal") for f in fuels.index}
    draws_da, label = _factor_draws(fuels, int(draws), factors, province, random_seed)
    comparison = compare_approaches(acts, draws_da, n=int(draws), random_seed=random_seed)
    # systematic / random split: the reported inventory uses the central factors; the multipliers are the
    # factor draws relative to them, per IPCC category (fuels of one category share a draw)
    centre = draws_da.median("sample")
    reported = {f: float(fuels.loc[f, "energy_tj"]) * float(centre.sel(category=f)) * 1e-9 for f in fuels.index}
    by_cat = {}
    for f, c in fuels["ipcc_category"].items():
        by_cat.setdefault(c, (draws_da.sel(category=f) / centre.sel(category=f)).values)
    mult = xr.DataArray(np.column_stack(list(by_cat.values())), dims=("sample", "category"),
                        coords={"category": list(by_cat)}, attrs={"factor_source": label})
    split = inventory_error_split(reported, dict(fuels["ipcc_category"]), rel, mult, random_seed=random_seed)
    return EnergyInventory(comparison, split, fuels, label)

