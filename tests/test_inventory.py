"""Inventory: unit handling, IPCC Approach 1 and 2, correlated factors, a CEADs worked example."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from forecast.errors import InputError
from forecast.policy.inventory import (
    Activity,
    EmissionFactor,
    Z95,
    approach1,
    approach2,
    ceads_fuel_inventory,
    compare_approaches,
    conversion_factor,
    factor_unit_ratio,
)
from forecast.models.emission_factors import prior_factor_draws
from forecast.units import CO2_PER_C, MT_CO2_PER_GT_C


# ---------------------------------------------------------------------------------------------- units
def test_unit_conversions():
    assert conversion_factor("kt", "t CO2/t", "Mt CO2") == pytest.approx(1e-3)
    assert conversion_factor("t", "t CO2/t", "Mt CO2") == pytest.approx(1e-6)
    assert conversion_factor("Mt", "t CO2/t", "t CO2") == pytest.approx(1e6)
    assert conversion_factor("PJ", "kg CO2/TJ", "Mt CO2") == pytest.approx(1e-6)
    assert conversion_factor("Mha", "t C/ha/yr", "Mt CO2") == pytest.approx(CO2_PER_C, rel=1e-15)
    assert conversion_factor("t", "t C/t", "t CO2") == pytest.approx(3.6641, rel=1e-5)  # 44.0095 / 12.011, not 44/12
    assert conversion_factor("Gt", "t C/t", "Mt CO2") == pytest.approx(MT_CO2_PER_GT_C)
    assert factor_unit_ratio("t CO2/TJ", "kg CO2/TJ") == pytest.approx(1000)
    # 2,000 kt of fuel at 1.5 t CO2/t = 3 Mt CO2, whether given in kt or Mt
    f = [EmissionFactor("fuel", 1.5, "t CO2/t")]
    a_kt = approach1([Activity("fuel", 2000.0, "kt")], f)
    a_mt = approach1([Activity("fuel", 2.0, "Mt")], f)
    assert a_kt.total == pytest.approx(3.0) and a_mt.total == pytest.approx(3.0)


def test_unit_mismatch_rejected_naming_category_and_units():
    factors = [EmissionFactor("coal", 94_600, "kg CO2/TJ", 0.03)]
    with pytest.raises(InputError, match=r"'coal'.*'t'.*'kg CO2/TJ'"):
        approach1([Activity("coal", 1000.0, "t")], factors)
    with pytest.raises(InputError, match="coal"):
        approach2([Activity("coal", 1000.0, "t")], factors, n=100, random_seed=0)
    with pytest.raises(InputError, match="unknown unit"):
        Activity("coal", 1.0, "tons")
    with pytest.raises(InputError, match="no emission factor for category 'gas'"):
        approach1([Activity("gas", 1.0, "TJ")], factors)


# ---------------------------------------------------------------------------------------------- Approach 1
ACTS = [Activity("coal", 500.0, "PJ", 0.02), Activity("gas", 200.0, "PJ", 0.01)]
FACS = [EmissionFactor("coal", 94_600, "kg CO2/TJ", 0.02), EmissionFactor("gas", 56_100, "kg CO2/TJ", 0.01)]


def test_hand_computed_total_and_approach1():
    res = approach1(ACTS, FACS)
    coal, gas = 500 * 1000 * 94_600 / 1e9, 200 * 1000 * 56_100 / 1e9  # TJ * kg/TJ -> Mt
    assert coal == pytest.approx(47.3) and gas == pytest.approx(11.22)
    assert res.total == pytest.approx(coal + gas)
    u_coal = np.hypot(Z95 * 2, Z95 * 2)  # Eq. 3.1, in %
    u_gas = np.hypot(Z95 * 1, Z95 * 1)
    u_tot = np.sqrt((u_coal * coal) ** 2 + (u_gas * gas) ** 2) / (coal + gas)  # Eq. 3.2
    assert res.u_total == pytest.approx(u_tot)
    assert res.table.loc["coal", "U_pct"] == pytest.approx(u_coal)
    assert res.table["variance_share"].sum() == pytest.approx(1.0)
    assert res.table["variance_share"]["coal"] > 0.9  # the key category
    assert res.lower == pytest.approx(res.total * (1 - u_tot / 100))


def test_approach2_agrees_with_approach1_for_small_independent_uncertainties():
    a1 = approach1(ACTS, FACS)
    a2 = approach2(ACTS, FACS, n=40_000, random_seed=1)
    assert abs(a2.mean - a1.total) < 4 * a2.mc_se
    assert a2.u_plus == pytest.approx(a1.u_total, rel=0.05)
    assert a2.u_minus == pytest.approx(a1.u_total, rel=0.05)
    assert a2.variance_share.sum() == pytest.approx(1.0)
    assert a2.variance_share["coal"] == pytest.approx(a1.table["variance_share"]["coal"], abs=0.02)
    assert a2.draws.dims == ("sample", "category") and a2.draws.attrs["units"] == "Mt CO2"


def test_large_skewed_uncertainty_is_asymmetric_and_approach1_understates_upper():
    acts = [Activity("a", 100.0, "TJ", 0.5, "lognormal"), Activity("b", 50.0, "TJ", 0.1)]
    facs = [EmissionFactor("a", 1000.0, "t CO2/TJ", 1.0, "lognormal"), EmissionFactor("b", 500.0, "t CO2/TJ", 0.1)]
    a1 = approach1(acts, facs, out_units="kt CO2")
    a2 = approach2(acts, facs, n=40_000, random_seed=2, out_units="kt CO2")
    assert a2.upper - a2.mean > 1.5 * (a2.mean - a2.lower)  # right-skewed interval
    assert a2.u_plus > a2.u_minus
    assert a1.upper < a2.upper  # Approach 1 understates the upper bound
    assert a1.lower < a2.lower  # ... and its symmetric lower bound is too low (here negative)
    assert a2.lower > 0


def test_correlated_factors_widen_interval():
    acts = [Activity("x", 10.0, "TJ"), Activity("y", 10.0, "TJ")]
    facs = [EmissionFactor("x", 1.0, "t CO2/TJ", 0.2), EmissionFactor("y", 1.0, "t CO2/TJ", 0.2)]
    corr = np.array([[1.0, 0.8], [0.8, 1.0]])
    ind = approach2(acts, facs, n=20_000, random_seed=3, out_units="t CO2")
    cor = approach2(acts, facs, n=20_000, random_seed=3, correlation=corr, out_units="t CO2")
    assert (cor.upper - cor.lower) > 1.2 * (ind.upper - ind.lower)
    # with factor draws (prior draws of two fuels) through the Gaussian copula
    draws = prior_factor_draws(["natural_gas", "lpg"], n=4000, random_seed=4)
    acts2 = [Activity("natural_gas", 100.0, "PJ"), Activity("lpg", 100.0, "PJ")]
    frame = pd.DataFrame([[1, 0.9], [0.9, 1]], index=["natural_gas", "lpg"], columns=["natural_gas", "lpg"])
    ind2 = approach2(acts2, draws, n=20_000, random_seed=5)
    cor2 = approach2(acts2, draws, n=20_000, random_seed=5, correlation=frame)
    assert (cor2.upper - cor2.lower) > 1.2 * (ind2.upper - ind2.lower)
    assert abs(cor2.mean - ind2.mean) < 4 * ind2.mc_se + 4 * cor2.mc_se
    # Approach 1 on draws summarises them to mean and CV
    assert approach1(acts2, draws).total == pytest.approx(ind2.mean, rel=0.002)


def test_bad_correlation_rejected():
    with pytest.raises(InputError, match="2x2"):
        approach2(ACTS, FACS, n=10, random_seed=0, correlation=np.eye(3))
    bad = np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])
    three = ACTS + [Activity("oil", 1.0, "PJ")]
    with pytest.raises(InputError, match="semi-definite"):
        approach2(three, FACS + [EmissionFactor("oil", 70_000, "kg CO2/TJ", 0.01)], n=10, random_seed=0, correlation=bad)
    with pytest.raises(InputError, match="symmetric"):
        approach2(ACTS, FACS, n=10, random_seed=0, correlation=np.array([[1.0, 0.2], [0.3, 1.0]]))


# ---------------------------------------------------------------------------------------------- CEADs
def test_ceads_worked_inventory(shared_data_dir):
    table = pd.read_csv(shared_data_dir / "china_ceads_province_co2.csv")
    row = table[(table["province"] == "Shandong") & (table["year"] == 2019)].iloc[0]
    fuel_sum = float(row["Scope_1_Total"] - row["Process"])
    acts, facs = ceads_fuel_inventory(table, "Shandong", 2019)
    cmp = compare_approaches(acts, facs, n=20_000, random_seed=2019)
    print("\nShandong 2019, fossil CO2 from the CEADs fuel breakdown (Mt CO2):")
    print(cmp.round(2).to_string())
    print(cmp.attrs["variance_share"].round(3).sort_values("Approach 1", ascending=False).head(5).to_string())
    a1, a2 = cmp.loc["Approach 1"], cmp.loc["Approach 2"]
    assert a1["total"] == pytest.approx(fuel_sum, rel=1e-12)
    a2_full = approach2(acts, facs, n=20_000, random_seed=2019)
    assert abs(a2["total"] - fuel_sum) < 4 * a2_full.mc_se
    for r in (a1, a2):
        assert 0 < r["lower"] < r["total"] < r["upper"]
    with pytest.raises(InputError, match="Shandong"):
        ceads_fuel_inventory(table, "Shandonq", 2019)


# ---------------------------------------------------------------------------------------------- bad activity
def test_negative_activity_rejected(tmp_path):
    with pytest.raises(InputError, match=r"activity 'coal': value must lie in 0-1e\+15 \(in its units\), got -5"):
        Activity("coal", -5.0, "TJ")
    table = pd.DataFrame({"category": ["coal", "gas"], "value": [10.0, -1.0], "units": ["TJ", "TJ"]})
    with pytest.raises(InputError, match="activity 'gas'"):
        approach1(table, [EmissionFactor("coal", 1.0, "t CO2/TJ"), EmissionFactor("gas", 1.0, "t CO2/TJ")])
    from forecast.policy.inventory import read_activities

    path = tmp_path / "acts.csv"
    path.write_text("category,value,units\ncoal,-0.5,PJ\n")
    with pytest.raises(InputError, match=r"'coal'.*must lie in 0-1e\+15"):
        read_activities(path)
    assert Activity("coal", 0.0, "TJ").value == 0.0  # zero activity is allowed


# ---------------------------------------------------------------------------------------------- posterior inventory
def test_approach2_without_resampling_pairs_draws_one_to_one():
    draws = prior_factor_draws(["natural_gas", "lpg"], n=500, random_seed=8)
    acts = [Activity("natural_gas", 2.0, "PJ"), Activity("lpg", 3.0, "PJ")]
    res = approach2(acts, draws, random_seed=1, resample=False)
    expect = 1e-6 * (2.0 * draws.sel(category="natural_gas").values + 3.0 * draws.sel(category="lpg").values)
    np.testing.assert_allclose(res.total.values, expect, rtol=1e-12)
    with pytest.raises(InputError, match="resample=False needs factor draws"):
        approach2(acts, FACS, resample=False)
    with pytest.raises(InputError, match="correlation needs resample=True"):
        approach2(acts, draws, resample=False, correlation=np.eye(2))


def _measurements(n: int, seed: int) -> pd.DataFrame:
    """``n`` measurements per category at one plant, 2 % above the IPCC default, 2 % scatter (kg CO2/TJ)."""
    rng = np.random.default_rng(seed)
    rows = []
    for cat, default in (("natural_gas", 56_100), ("lpg", 63_100)):
        for v in np.exp(np.log(default) + 0.02 + 0.02 * rng.standard_normal(n)):
            rows.append({"category": cat, "region": "plant", "value": v})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def posterior_fits():
    """Two tiny fits (200 draws x 2 chains): 2 and 40 measurements per category at one plant."""
    import warnings

    from forecast.errors import SamplerWarning
    from forecast.models.emission_factors import EmissionFactorModel

    fits = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplerWarning)  # few draws: ESS warnings expected
        for n in (2, 40):
            fits[n] = EmissionFactorModel().fit(_measurements(n, seed=n), random_seed=3, draws=200, tune=300,
                                                chains=2, progress=False)
    return fits


POSTERIOR_ACTS = [Activity("natural_gas", 500.0, "PJ"), Activity("lpg", 100.0, "PJ")]


def test_posterior_inventory_is_activity_times_factor_draws(posterior_fits):
    from forecast.policy.inventory import inventory_from_posterior

    model = posterior_fits[40]
    res = inventory_from_posterior(model, POSTERIOR_ACTS, region="plant")
    post = model.factors().sel(region="plant").stack(sample=("chain", "draw"))
    assert res.total.sizes["sample"] == post.sizes["sample"] == 400 == res.extra["posterior_draws"]
    # PJ x kg CO2/TJ -> Mt CO2: 1000 TJ/PJ x 1e-9 Mt/kg
    expect = 1e-6 * (500.0 * post.sel(category="natural_gas").values + 100.0 * post.sel(category="lpg").values)
    np.testing.assert_allclose(res.total.values, expect, rtol=1e-12)
    np.testing.assert_allclose(res.draws.sel(category="lpg").values, 1e-4 * post.sel(category="lpg").values, rtol=1e-12)
    assert res.mean == pytest.approx(float(expect.mean()), rel=1e-12)
    # the same through the model method, and resampled draws keep the mean
    again = model.inventory(POSTERIOR_ACTS, region="plant")
    np.testing.assert_array_equal(again.total.values, res.total.values)
    resampled = inventory_from_posterior(model, POSTERIOR_ACTS, region="plant", n=4000, random_seed=1)
    assert abs(resampled.mean - res.mean) < 4 * res.mc_se + 4 * resampled.mc_se
    # data 2 % above the IPCC defaults: the plant's inventory sits above the prior-default total
    default_total = 1e-6 * (500.0 * 56_100 + 100.0 * 63_100)
    assert res.lower > default_total


def test_more_measurements_narrow_the_inventory_interval(posterior_fits):
    from forecast.policy.inventory import inventory_from_posterior

    few, many = (inventory_from_posterior(posterior_fits[n], POSTERIOR_ACTS, region="plant") for n in (2, 40))
    assert (many.upper - many.lower) < 0.5 * (few.upper - few.lower)
    # an unmeasured region is more uncertain than the measured plant
    new = inventory_from_posterior(posterior_fits[40], POSTERIOR_ACTS, level="new_region", random_seed=2)
    assert (new.upper - new.lower) > (many.upper - many.lower)


def test_posterior_inventory_bad_input(posterior_fits):
    from forecast.errors import ModelStateError
    from forecast.policy.inventory import inventory_from_posterior
    from forecast.models.emission_factors import EmissionFactorModel

    model = posterior_fits[2]
    with pytest.raises(InputError, match="pass region="):
        inventory_from_posterior(model, POSTERIOR_ACTS)
    with pytest.raises(InputError, match=r"'plnat'.*did you mean 'plant'"):
        inventory_from_posterior(model, POSTERIOR_ACTS, region="plnat")
    with pytest.raises(InputError, match="no emission factor for category 'diesel'"):
        inventory_from_posterior(model, [Activity("diesel", 1.0, "PJ")], region="plant")
    with pytest.raises(InputError, match=r"'lpg'.*'kt'.*'kg CO2/TJ'"):
        inventory_from_posterior(model, [Activity("lpg", 1.0, "kt")], region="plant")
    with pytest.raises(InputError, match="correlation: pass n="):
        inventory_from_posterior(model, POSTERIOR_ACTS, region="plant", correlation=np.eye(2))
    with pytest.raises(ModelStateError, match="fit"):
        inventory_from_posterior(EmissionFactorModel(), POSTERIOR_ACTS)


@pytest.mark.parametrize(("content", "message"), [
    ("", "is empty"),
    ("category,value,units\n", "header but no rows"),
    ("category,value,units\ncoal,abc,TJ\n", "column 'value', row 1: 'abc' is not a finite number"),
    ("category,value,units\ncoal,1e308,TJ\ngas,1e308,TJ\n", "value must lie in 0-1e+15"),
    ("category,value,units,rel_sd\ncoal,5,TJ,50\n", "rel_sd is a relative 1-sigma uncertainty in 0-1"),
    ("category,value,units,rel_sd\ncoal,5,TJ,0.8\n", "too wide for a normal distribution"),
    ("category,value,units\ncoal,5,TJ\ncoal,6,TJ\n", "category 'coal' appears more than once"),
])
def test_bad_activity_files_get_a_clear_error(tmp_path, content, message):
    from forecast.policy.inventory import read_activities

    path = tmp_path / "acts.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(message)):
        read_activities(path)


def test_a_latin1_activity_file_gets_a_clear_error(tmp_path):
    from forecast.policy.inventory import read_activities

    path = tmp_path / "acts.csv"
    path.write_bytes("category,value,units\nhouille de Lorraine é,5,TJ\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        read_activities(path)
