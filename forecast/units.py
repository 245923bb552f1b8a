"""Unit conversions: the one place for every conversion factor the package uses.

Carbon to CO2
-------------
``CO2_PER_C`` converts a mass of carbon to the mass of CO2 that contains it: the ratio of the molar
masses, 44.0095 g/mol (CO2) / 12.011 g/mol (C) = 3.6641 t CO2 per t C. This is the factor of the
Global Carbon Budget ("1 kg carbon (C) = 3.664 kg carbon dioxide (CO2)"; Friedlingstein, P. et al.,
Global Carbon Budget 2023, Earth Syst. Sci. Data 15, 5301-5369, 2023, Table 1). The rounded ratio
44/12 = 3.6667 overstates CO2 by 0.07 %; do not use it.

Scales
------
Amounts are converted to a base unit per dimension: mass to tonnes (``MASS``), energy to TJ
(``ENERGY``), area to hectares (``AREA``). Emissions in the package are in Mt CO2(/yr); per-capita
emissions in t CO2 per person; carbon intensity of GDP in kg CO2 per (int-)$.

Areas times per-hectare rates: ``Mha x t C/ha/yr = Mt C/yr`` (10^6 ha x t/ha = 10^6 t), so
``MT_CO2_PER_MHA_T_C_PER_HA`` (= ``CO2_PER_C``) turns ``area [Mha] x rate [t C/ha/yr]`` into Mt CO2/yr.
"""

from __future__ import annotations

__all__ = [
    "AREA",
    "C_PER_CO2",
    "CO2_PER_C",
    "ENERGY",
    "G_PER_M2_TO_T_PER_HA",
    "KG_PER_T",
    "MASS",
    "MOLAR_MASS_C",
    "MOLAR_MASS_CO2",
    "MT_CO2_PER_GT_C",
    "MT_CO2_PER_MHA_T_C_PER_HA",
    "MT_PER_GT",
    "T_PER_MT",
    "carbon_intensity_kg_per_dollar",
    "per_capita_t",
]

MOLAR_MASS_CO2 = 44.0095  # g/mol
MOLAR_MASS_C = 12.011  # g/mol
CO2_PER_C = MOLAR_MASS_CO2 / MOLAR_MASS_C  # 3.6641 t CO2 per t C (Global Carbon Budget: 3.664)
C_PER_CO2 = 1.0 / CO2_PER_C  # t C per t CO2

# scale to the base unit of each dimension
MASS = {"g": 1e-6, "kg": 1e-3, "t": 1.0, "tonne": 1.0, "tonnes": 1.0, "kt": 1e3, "Mt": 1e6, "Gt": 1e9}  # -> t
ENERGY = {"MJ": 1e-6, "GJ": 1e-3, "TJ": 1.0, "PJ": 1e3, "EJ": 1e6}  # -> TJ
AREA = {"ha": 1.0, "kha": 1e3, "Mha": 1e6, "km2": 100.0}  # -> ha

T_PER_MT = MASS["Mt"]  # 1e6 t per Mt
KG_PER_T = 1.0 / MASS["kg"]  # 1e3 kg per t
MT_PER_GT = MASS["Gt"] / MASS["Mt"]  # 1e3 Mt per Gt (1 Gt = 1 Pg)
MT_CO2_PER_GT_C = MT_PER_GT * CO2_PER_C  # GtC (PgC) -> Mt CO2: 3664.1

# area [Mha] x rate [t C/ha/yr] -> Mt CO2/yr: 10^6 ha x t/ha = 10^6 t = 1 Mt (of C), then C -> CO2
MT_CO2_PER_MHA_T_C_PER_HA = AREA["Mha"] / T_PER_MT * CO2_PER_C
G_PER_M2_TO_T_PER_HA = 1e-6 * 1e4  # g/m2 -> t/ha (1e-6 t per g, 1e4 m2 per ha): divide by 100


def per_capita_t(co2_mt, population):
    """Per-capita emissions in t CO2 per person from total emissions in Mt CO2 and people."""
    return co2_mt * T_PER_MT / population


def carbon_intensity_kg_per_dollar(co2_mt, gdp_per_capita, population):
    """Carbon intensity of GDP in kg CO2 per $ from Mt CO2, $ per person and people."""
    return co2_mt * (T_PER_MT * KG_PER_T) / (gdp_per_capita * population)
