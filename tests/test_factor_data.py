"""Emission-factor data: the added IPCC Table 1.4 priors, the measurements file, and the fitted posterior as
the factor source of inventories (a known factor bias is recovered and moves the inventory)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from forecast.errors import InputError
from forecast.models.emission_factors import EmissionFactorModel, lognormal_from_range
from forecast.policy.factor_data import RATIO_UNITS, read_factor_measurements, shipped_measurements_path
from forecast.policy.inventory import factor_multipliers
from forecast.priors import default_library
from forecast.units import CO2_PER_C

# IPCC 2006 Vol. 2 Ch. 1 Table 1.4 (kg CO2/TJ): default, lower, upper -- the fuels added beside the six of
# tests/test_emission_factors.py
TABLE_1_4_ADDED = {
    "anthracite": (98_300, 94_600, 101_000),
    "coking_coal": (94_600, 87_300, 101_000),
    "sub_bituminous_coal": (96_100, 92_800, 100_000),
    "lignite": (101_000, 90_900, 115_000),
    "coke_oven_coke": (107_000, 95_700, 119_000),
    "coke_oven_gas": (44_400, 37_300, 54_100),
    "residual_fuel_oil": (77_400, 75_500, 78_800),
    "other_kerosene": (71_900, 70_800, 73_700),
    "jet_kerosene": (71_500, 69_700, 74_400),
    "refinery_gas": (57_600, 48_200, 69_000),
}
COAL_DEFAULT = 94_600.0
TRUE_RATIO = 0.93  # the synthetic region's coal factor relative to the IPCC default
HEADER = "category,region,value,units,feeds,citation,note\n"


def test_added_priors_match_table_1_4():
    specs = default_library().family("emission_factors")
    for key, (default, lower, upper) in TABLE_1_4_ADDED.items():
        spec = specs[key]
        assert spec.units == "kg CO2/TJ" and "Table 1.4" in spec.citation
        assert f"{default:,}" in spec.description and f"{lower:,}-{upper:,}" in spec.description
        mu, sigma = lognormal_from_range(default, lower, upper)
        assert spec.params["mu"] == pytest.approx(mu, abs=1e-6)
        assert spec.params["sigma"] == pytest.approx(sigma, abs=1e-6)


def test_shipped_file_reads_and_keeps_liu_2015_as_reference_only():
    assert shipped_measurements_path().is_file()
    fed = read_factor_measurements()
    every = read_factor_measurements(fed_only=False)
    assert len(every) >= 1 and len(fed) == every["feeds"].sum()
    liu = every[every["citation"].str.contains("Nature 524")]
    assert len(liu) == 1 and not liu["feeds"].iloc[0]
    assert liu["value_as_given"].iloc[0] == 0.6 and liu["units_as_given"].iloc[0] == RATIO_UNITS


def test_liu_ratio_cannot_feed_a_per_energy_factor(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(HEADER + f"other_bituminous_coal,China,0.6,{RATIO_UNITS},yes,Liu et al. 2015,\n")
    with pytest.raises(InputError, match=r"row 1 \(other_bituminous_coal, China\).*0\.60 x the IPCC default"):
        read_factor_measurements(path)


def test_reader_converts_units_and_names_bad_rows(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(HEADER + "other_bituminous_coal,A,25.8,t C/TJ,yes,src,\n"
                             "natural_gas,A,0.98,ratio to IPCC default,yes,src,\n")
    frame = read_factor_measurements(path)
    assert frame["value"].iloc[0] == pytest.approx(25.8 * CO2_PER_C * 1000, rel=1e-12)
    assert frame["value"].iloc[1] == pytest.approx(0.98 * 56_100, rel=1e-6)
    assert (frame["units"] == "kg CO2/TJ").all()
    cases = {
        "natural_gas,A,56000,kg CO2/TJ,yes,,\n": r"row 1 \(natural_gas, A\): no citation",
        "natural_gass,A,56000,kg CO2/TJ,yes,src,\n": "natural_gas",
        "natural_gas,A,56000,kg CO2/TJ,maybe,src,\n": "feeds must be yes or no",
        "natural_gas,A,56000,t CO2/t,yes,src,\n": "cannot be converted",
        "natural_gas,A,56,kg CO2/TJ,yes,src,\n": "unit or basis error",  # t CO2/TJ typed as kg
    }
    for line, message in cases.items():
        path.write_text(HEADER + line)
        with pytest.raises(InputError, match=message):
            read_factor_measurements(path)


# ------------------------------------------------------------------ a known bias, recovered
@pytest.fixture(scope="module")
def biased_fit(tmp_path_factory):
    """`carbon-forecast factors` on 20 synthetic coal measurements from region 'China' at 0.93 x default."""
    from typer.testing import CliRunner

    from forecast.cli import app

    rng = np.random.default_rng(7)
    values = TRUE_RATIO * COAL_DEFAULT * np.exp(0.03 * rng.standard_normal(20))
    folder = tmp_path_factory.mktemp("factors")
    meas = folder / "meas.csv"
    meas.write_text(HEADER + "".join(f"other_bituminous_coal,China,{v:.1f},kg CO2/TJ,yes,synthetic,\n" for v in values))
    out = folder / "ef.nc"
    result = CliRunner().invoke(app, ["factors", "--measurements", str(meas), "-o", str(out), "--draws", "300",
                                      "--tune", "300", "--seed", "3", "--quiet"])
    assert result.exit_code == 0, result.output
    return EmissionFactorModel.load(out), out


@pytest.mark.slow
def test_known_coal_bias_is_recovered(biased_fit):
    model, _ = biased_fit
    coal = model.factors("region").sel(category="other_bituminous_coal", region="China").values.ravel()
    lo, hi = np.quantile(coal, [0.025, 0.975])
    assert lo < TRUE_RATIO * COAL_DEFAULT < hi  # the truth inside the 95 % interval
    assert hi < COAL_DEFAULT  # and the data have moved the factor below the IPCC default


@pytest.mark.slow
def test_multipliers_use_region_factor_only_where_measured(biased_fit):
    model, _ = biased_fit
    mult = factor_multipliers(["other_bituminous_coal", "natural_gas"], 4000, factors=model, region="China",
                              random_seed=1)
    coal = model.factors("region").sel(category="other_bituminous_coal", region="China").values.ravel() / COAL_DEFAULT
    se = coal.std() / math.sqrt(300)  # generous: ESS of a short run
    assert float(mult.sel(category="other_bituminous_coal").median()) == pytest.approx(np.median(coal), abs=4 * se)
    # natural gas has no measurement in China: its multiplier is the category factor, whose log sd is the IPCC
    # prior's; drawing the unmeasured region's factor (+ tau spread, prior scale 0.05) would widen it ~2x
    gas_sd = float(np.log(mult.sel(category="natural_gas")).std())
    prior_sd = default_library().family("emission_factors")["natural_gas"].params["sigma"]
    assert gas_sd == pytest.approx(prior_sd, rel=0.2)


@pytest.mark.slow
def test_inventory_cli_takes_the_posterior(biased_fit, tmp_path):
    from typer.testing import CliRunner

    from forecast.cli import app

    model, path = biased_fit
    acts = tmp_path / "acts.csv"
    acts.write_text("category,value,units\nother_bituminous_coal,2,EJ\nnatural_gas,500,PJ\n")
    out = tmp_path / "inv"
    result = CliRunner().invoke(app, ["inventory", "--activities", str(acts), "--factors", str(path), "-o", str(out),
                                      "--draws", "4000", "--quiet"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "inventory.csv", index_col=0)
    post = model.factors("category")
    expect = 2e6 * float(post.sel(category="other_bituminous_coal").mean()) * 1e-9 \
        + 5e5 * float(post.sel(category="natural_gas").mean()) * 1e-9  # TJ x kg/TJ -> Mt
    assert table.loc["Approach 1", "total"] == pytest.approx(expect, rel=3e-3)
    # below the IPCC-default total (189.2 + 28.05 Mt): the coal factor learned from the data is lower
    assert table.loc["Approach 1", "total"] < 189.2 + 28.05
    assert "posterior" in (out / "inventory.md").read_text()


@pytest.mark.slow
def test_study_inventory_takes_inventory_factors(biased_fit, shared_data_dir, tmp_path):
    """`carbon-forecast inventory STUDY` with `[inventory] factors = <fitted model>`: the posterior, relative to
    the IPCC defaults, scales CEADs' coal CO2 (no province of the study has measurements: category factors)."""
    from pathlib import Path

    from typer.testing import CliRunner

    from forecast.cli import app

    _, path = biased_fit
    study = tmp_path / "study.toml"
    source = Path(__file__).resolve().parents[1] / "studies" / "china-provinces" / "study.toml"
    text = source.read_text(encoding="utf-8")
    assert text.count("\n[inventory]\n") == 1  # the study has the section: add the key to it
    study.write_text(text.replace("\n[inventory]\n", f'\n[inventory]\nfactors = "{path}"\n'), encoding="utf-8")
    out = tmp_path / "inv"
    result = CliRunner().invoke(app, ["inventory", str(study), "--data-dir", str(shared_data_dir), "-o", str(out),
                                      "--draws", "2000", "--quiet"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "inventory_by_region.csv")
    assert table["factors"].str.contains("posterior").all()
    raw = pd.read_csv(shared_data_dir / "china_ceads_province_co2.csv").set_index(["province", "year"])
    a1 = table[table["approach"] == "Approach 1"].set_index("region")
    fuel = raw.xs(int(a1["year"].iloc[0]), level="year").loc[a1.index]
    # the learned coal factor is below the IPCC default, so every coal-burning province's total drops
    assert (a1["total"] < fuel["Scope_1_Total"] - fuel["Process"]).all()


@pytest.mark.slow
def test_factors_command_on_the_shipped_file_is_prior_only(tmp_path):
    """The shipped file has no fed row: the command says so and saves the IPCC prior of every category."""
    from typer.testing import CliRunner

    from forecast.cli import app

    out = tmp_path / "prior.nc"
    result = CliRunner().invoke(app, ["factors", "-o", str(out), "--draws", "100", "--tune", "100", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "prior only" in result.output
    model = EmissionFactorModel.load(out)
    assert set(model.category_names) == {k for k, v in default_library().family("emission_factors").items()
                                         if v.distribution == "LogNormal"}
    assert model.regions == []
