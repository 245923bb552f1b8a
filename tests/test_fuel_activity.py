"""Approach 1 vs 2 on fuel energy recovered from CEADs' CO2 (forecast/policy/fuel_activity.py).

The fuel-properties tables here are synthetic (no published NCV / carbon content ships with the package)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from forecast.errors import InputError
from forecast.policy.fuel_activity import (CEADS_IPCC_CATEGORY, ceads_energy_inventory, ceads_fuel_energy,
                                           read_fuel_properties)
from forecast.policy.inventory import CEADS_FUELS
from forecast.priors import default_library
from forecast.units import CO2_PER_C

SPECS = default_library().family("emission_factors")
RATIO = 0.9  # synthetic China-specific factor / IPCC default, every fuel


def default(cat: str) -> float:
    return math.exp(SPECS[cat].params["mu"])


def write_properties(path, ratio: float = RATIO, oxidation: float = 1.0):
    rows = []
    for fuel, cat in CEADS_IPCC_CATEGORY.items():
        gas = "Gas" in fuel
        cc = ratio * default(cat) / (CO2_PER_C * 1000.0) / oxidation  # t C/TJ
        rows.append({"fuel": fuel, "ncv": 38.0 if gas else 20.0, "ncv_units": "MJ/m3" if gas else "GJ/t",
                     "carbon_content": cc, "oxidation": oxidation, "citation": "synthetic"})
    pd.DataFrame(rows).to_csv(path, index=False)
    return read_fuel_properties(path)


@pytest.fixture(scope="module")
def ceads(shared_data_dir):
    return pd.read_csv(shared_data_dir / "china_ceads_province_co2.csv")


def fuel_sum(ceads, province, year):
    row = ceads[(ceads["province"] == province) & (ceads["year"] == year)].iloc[0]
    return float(row["Scope_1_Total"] - row["Process"])


def test_mapping_covers_the_ceads_fuels():
    assert set(CEADS_IPCC_CATEGORY) == set(CEADS_FUELS)
    assert set(CEADS_IPCC_CATEGORY.values()) <= set(SPECS)


def test_recovered_energy_and_amounts(ceads, tmp_path):
    props = write_properties(tmp_path / "p.csv", oxidation=0.9)
    fuels = ceads_fuel_energy(ceads, "Shandong", 2019, props)
    coal = fuels.loc["Raw_Coal"]
    factor = RATIO * default("other_bituminous_coal")  # kg CO2/TJ, CC x O x 44/12 by construction
    assert coal["china_factor"] == pytest.approx(factor, rel=1e-12)
    assert coal["energy_tj"] == pytest.approx(coal["co2_mt"] * 1e9 / factor, rel=1e-12)
    assert coal["amount"] == pytest.approx(coal["energy_tj"] / 20.0 * 1000.0, rel=1e-12) and coal["amount_units"] == "t"
    gas = fuels.loc["Natural_Gas"]
    assert gas["amount_units"] == "m3" and gas["amount"] == pytest.approx(gas["energy_tj"] * 1e6 / 38.0, rel=1e-12)
    assert (fuels["co2_mt"] > 0).all() and fuels["co2_mt"].sum() == pytest.approx(fuel_sum(ceads, "Shandong", 2019))


def test_china_factors_reproduce_ceads_and_ipcc_differs_by_the_factor_ratio(ceads, tmp_path):
    props = write_properties(tmp_path / "p.csv")
    china = ceads_energy_inventory(ceads, "Shandong", 2019, props, factors="china", draws=20_000, random_seed=2)
    ipcc = ceads_energy_inventory(ceads, "Shandong", 2019, props, factors="ipcc", draws=20_000, random_seed=2)
    total = fuel_sum(ceads, "Shandong", 2019)
    assert china.comparison.loc["Approach 1", "total"] == pytest.approx(total, rel=1e-9)
    # IPCC factors are 1/RATIO times the China ones here; Approach 1 takes the mean of the IPCC draws, which
    # lies above the default (the prior median) by exp(s^2/2) - 1 and by its Monte Carlo error
    a1 = ipcc.comparison.loc["Approach 1", "total"]
    s_max = max(SPECS[c].params["sigma"] for c in CEADS_IPCC_CATEGORY.values())
    tol = math.expm1(s_max**2 / 2) + 4 * s_max / math.sqrt(20_000)
    assert a1 == pytest.approx(total / RATIO, rel=tol)
    assert "IPCC" in ipcc.factors and "China" in china.factors
    assert (ipcc.to_frame()["factors"] == ipcc.factors).all()


def test_shared_categories_widen_approach_2_and_agree_for_one_fuel(ceads, tmp_path):
    props = write_properties(tmp_path / "p.csv")
    res = ceads_energy_inventory(ceads, "Shandong", 2019, props, factors="ipcc", draws=40_000, random_seed=3)
    a1, a2 = res.comparison.loc["Approach 1"], res.comparison.loc["Approach 2"]
    assert a1["lower"] < a2["total"] < a1["upper"]
    shares = res.variance_share
    assert shares["Approach 1"].sum() == pytest.approx(1.0) and shares["Approach 2"].sum() == pytest.approx(1.0, abs=1e-9)
    # one fuel only: Approach 1 (Eq. 3.1) and Approach 2 agree on the interval width to Monte Carlo error
    one = ceads.copy()
    fuels = list(CEADS_IPCC_CATEGORY)
    mask = (one["province"] == "Shandong") & (one["year"] == 2019)
    one.loc[mask, [f for f in fuels if f != "Raw_Coal"]] = 0.0
    single = ceads_energy_inventory(one, "Shandong", 2019, props, factors="ipcc", draws=40_000, random_seed=4)
    u1 = single.comparison.loc["Approach 1", "U_plus_pct"]
    half = (single.comparison.loc["Approach 2", "U_plus_pct"] + single.comparison.loc["Approach 2", "U_minus_pct"]) / 2
    assert half == pytest.approx(u1, rel=0.05)


def test_systematic_random_split_of_a_single_fuel(ceads, tmp_path):
    props = write_properties(tmp_path / "p.csv")
    one = ceads.copy()
    mask = (one["province"] == "Shandong") & (one["year"] == 2019)
    one.loc[mask, [f for f in CEADS_IPCC_CATEGORY if f != "Raw_Coal"]] = 0.0
    res = ceads_energy_inventory(one, "Shandong", 2019, props, factors="ipcc", draws=20_000, random_seed=5,
                                 coal_activity_rel_sd=0.05)
    s = SPECS["other_bituminous_coal"].params["sigma"]
    n = res.split.draws
    # systematic: sd of log factor = the prior's sigma; random: sd of log(activity) ~ 0.05 (normal, CV 5 %)
    assert res.split.systematic_sd == pytest.approx(s, rel=4 / math.sqrt(2 * n) * 3)
    assert res.split.random_sd == pytest.approx(0.05, rel=0.05)


def test_properties_file_errors(tmp_path, ceads):
    good = "fuel,ncv,ncv_units,carbon_content,oxidation,citation\n"
    cases = {
        "Raw_Coals,20,GJ/t,26,0.9,x\n": "Raw_Coal",
        "Raw_Coal,20,GJ/kg,26,0.9,x\n": "ncv_units",
        "Raw_Coal,20,GJ/t,26000,0.9,x\n": "carbon_content",  # kg C/TJ typed as t C/TJ
        "Raw_Coal,20,GJ/t,26,94,x\n": "oxidation",  # a percentage typed as a fraction
        "Raw_Coal,20,GJ/t,26,0.9,\n": "citation",
        "Raw_Coal,-1,GJ/t,26,0.9,x\n": "ncv must be positive",
    }
    path = tmp_path / "p.csv"
    for line, message in cases.items():
        path.write_text(good + line)
        with pytest.raises(InputError, match=message):
            read_fuel_properties(path)
    path.write_text(good + "Raw_Coal,20,GJ/t,26,0.9,x\n")
    with pytest.raises(InputError, match="Other_Washed_Coal has .* no row in the fuel properties"):
        ceads_fuel_energy(ceads, "Shandong", 2019, read_fuel_properties(path))
    with pytest.raises(InputError, match="factors must be one of"):
        ceads_energy_inventory(ceads, "Shandong", 2019, read_fuel_properties(path), factors="eu")


def test_cli_energy_inventory(shared_data_dir, tmp_path):
    from typer.testing import CliRunner

    from forecast.cli import app

    write_properties(tmp_path / "p.csv")
    out = tmp_path / "inv"
    result = CliRunner().invoke(app, ["inventory", "--province", "Shandong", "--year", "2019", "--fuel-properties",
                                      str(tmp_path / "p.csv"), "--factor-choice", "both", "--data-dir",
                                      str(shared_data_dir), "-o", str(out), "--draws", "4000", "--quiet"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "inventory.csv", index_col=0)
    a1 = table.loc["Approach 1"].set_index("factors")["total"]
    china = a1[a1.index.str.startswith("China")].iloc[0]
    ipcc = a1[a1.index.str.startswith("IPCC")].iloc[0]
    assert china == pytest.approx(fuel_sum(pd.read_csv(shared_data_dir / "china_ceads_province_co2.csv"),
                                           "Shandong", 2019), rel=1e-9)
    assert ipcc > china  # the synthetic China-specific factors are 0.9 x the IPCC defaults
    assert len(pd.read_csv(out / "variance_share.csv").columns) == 5  # category + 2 sources x 2 approaches
    assert {"factors", "systematic_rel_sd", "random_rel_sd"} <= set(table.columns)
    assert (out / "fuel_use.csv").is_file() and "SHA-256" in (out / "inventory.md").read_text()
    bad = CliRunner().invoke(app, ["inventory", "--activities", str(tmp_path / "p.csv"), "--factor-choice", "china",
                                   "-o", str(tmp_path / "x")])
    assert bad.exit_code != 0 and not (tmp_path / "x").exists()
