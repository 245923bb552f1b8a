"""EmissionFactorModel: priors from IPCC ranges, prior-only fit, recovery and partial pooling."""

from __future__ import annotations

import math

import arviz as az
import numpy as np
import pandas as pd
import pytest

from forecast.errors import InputError, ModelStateError
from forecast.models.emission_factors import EmissionFactorModel, lognormal_from_range, prior_factor_draws
from forecast.priors import default_library

# IPCC 2006 Vol. 2 Ch. 1 Table 1.4: default, lower, upper (kg CO2/TJ)
IPCC_TABLE_1_4 = {
    "other_bituminous_coal": (94_600, 89_500, 99_700),
    "natural_gas": (56_100, 54_300, 58_300),
    "gas_diesel_oil": (74_100, 72_600, 74_800),
    "motor_gasoline": (69_300, 67_500, 73_000),
    "crude_oil": (73_300, 71_100, 75_500),
    "lpg": (63_100, 61_600, 65_600),
}
FIT = dict(draws=600, tune=600, chains=2, progress=False)


def test_prior_file_matches_ipcc_ranges():
    specs = default_library().family("emission_factors")
    for key, (default, lower, upper) in IPCC_TABLE_1_4.items():
        spec = specs[key]
        assert spec.distribution == "LogNormal" and spec.units == "kg CO2/TJ"
        assert "Table 1.4" in spec.citation
        mu, sigma = lognormal_from_range(default, lower, upper)
        assert spec.params["mu"] == pytest.approx(mu, abs=1e-6)
        assert spec.params["sigma"] == pytest.approx(sigma, abs=1e-6)
        # the prior's 95 % interval covers the whole IPCC range (wider side sets sigma)
        assert math.exp(mu - 1.959964 * sigma) <= lower * (1 + 1e-9)
        assert math.exp(mu + 1.959964 * sigma) >= upper * (1 - 1e-9)


def test_lognormal_from_range_symmetric_and_invalid():
    mu, s = lognormal_from_range(100.0, 100 / math.e, 100 * math.e)
    assert mu == pytest.approx(math.log(100)) and s == pytest.approx(1 / 1.959964, rel=1e-5)
    with pytest.raises(InputError):
        lognormal_from_range(100.0, 120.0, 130.0)


def test_unknown_category_suggests():
    with pytest.raises(InputError, match="natural_gas"):
        EmissionFactorModel(categories=["natural_gass"]).prepare(None)
    bad = pd.DataFrame({"category": ["lpg"], "value": [-1.0]})
    with pytest.raises(InputError, match="positive"):
        EmissionFactorModel().prepare(bad)


@pytest.fixture(scope="module")
def prior_fit():
    return EmissionFactorModel().fit(None, random_seed=11, **FIT)


def test_prior_only_fit_reproduces_prior(prior_fit):
    post = prior_fit.factors()
    assert post.dims == ("chain", "draw", "category")
    assert post.attrs["units"] == "kg CO2/TJ"
    specs = default_library().family("emission_factors")
    ess = az.ess(prior_fit.idata, var_names=["factor"])["factor"]
    for cat in post["category"].values:
        spec = specs[str(cat)]
        log_draws = np.log(post.sel(category=cat).values.ravel())
        # MC error of a median ~ 1.25 sd / sqrt(ESS); allow 4 of them
        tol = 4 * 1.25 * spec.params["sigma"] / math.sqrt(float(ess.sel(category=cat)))
        assert abs(np.median(log_draws) - spec.params["mu"]) < tol
        assert np.std(log_draws) == pytest.approx(spec.params["sigma"], rel=0.15)
    draws = prior_fit.factor_draws(200, random_seed=1)
    assert draws.dims == ("sample", "category") and draws.sizes["sample"] == 200
    assert draws.attrs["units"] == "kg CO2/TJ"


def test_prior_only_new_region_counts_the_ipcc_range_once(prior_fit):
    # the IPCC range already spans sources: a region without measurements has the category prior's spread,
    # not that plus the between-region scale (which would double the coal spread)
    new = prior_fit.factor_draws(4000, random_seed=3, level="new_region")
    specs = default_library().family("emission_factors")
    for cat in new["category"].values:
        assert np.std(np.log(new.sel(category=cat).values)) == pytest.approx(specs[str(cat)].params["sigma"], rel=0.15)


def test_prior_factor_draws_without_sampling():
    d = prior_factor_draws(["natural_gas"], n=20_000, random_seed=3)
    assert np.median(d.values) == pytest.approx(56_100, rel=0.002)


# ---------------------------------------------------------------------------------------------- recovery
TRUE_LOG_MU = math.log(94_600)
OFFSETS = {"small": 0.08, "big": 0.08, "r3": -0.05, "r4": 0.03, "r5": -0.03, "r6": 0.0}
N_MEAS = {"small": 2, "big": 50, "r3": 10, "r4": 10, "r5": 10, "r6": 10}
SIGMA = 0.04


def _simulate(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for region, n in N_MEAS.items():
        log_f = TRUE_LOG_MU + OFFSETS[region]
        for v in np.exp(log_f + SIGMA * rng.standard_normal(n)):
            # measurements reported in t CO2/TJ: converted to the prior's kg CO2/TJ
            rows.append({"category": "other_bituminous_coal", "region": region, "value": v / 1000, "units": "t CO2/TJ"})
    # a second category with a few measurements in two regions
    for region in ("r3", "r4"):
        for v in np.exp(math.log(56_100) + 0.02 * rng.standard_normal(6)):
            rows.append({"category": "natural_gas", "region": region, "value": v, "units": "kg CO2/TJ"})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def data_fit():
    data = _simulate()
    return data, EmissionFactorModel().fit(data, random_seed=5, **FIT)


def test_recovers_known_factors(data_fit):
    data, model = data_fit
    assert model.diagnostics.divergences == 0
    post = model.factors()
    assert post.dims == ("chain", "draw", "category", "region")
    assert post.attrs["units"] == "kg CO2/TJ"
    coal = post.sel(category="other_bituminous_coal")
    for region, off in OFFSETS.items():
        truth = math.exp(TRUE_LOG_MU + off)
        lo, hi = az.hdi(coal.sel(region=region).values.ravel(), hdi_prob=0.94)
        assert lo < truth < hi, region


def test_partial_pooling_shrinks_small_samples_more(data_fit):
    data, model = data_fit
    coal = data[data["category"] == "other_bituminous_coal"]
    sample_mean = coal.assign(lv=np.log(coal["value"] * 1000)).groupby("region")["lv"].mean()
    log_region = np.log(model.factors().sel(category="other_bituminous_coal")).mean(("chain", "draw"))
    log_cat = float(np.log(model.factors("category").sel(category="other_bituminous_coal")).mean())

    def shrink(region):
        return (sample_mean[region] - float(log_region.sel(region=region))) / (sample_mean[region] - log_cat)

    assert shrink("small") > shrink("big")
    assert shrink("small") > 0.1 and abs(shrink("big")) < 0.1


def test_factor_draws_and_new_region(data_fit):
    _, model = data_fit
    d = model.factor_draws(300, random_seed=2)
    assert d.dims == ("sample", "category", "region")
    new = model.factor_draws(2000, random_seed=2, level="new_region")
    # a new region is more uncertain than the category factor itself
    cat = model.factor_draws(2000, random_seed=2, level="category")
    coal = dict(category="other_bituminous_coal")
    assert float(np.log(new.sel(**coal)).std()) > float(np.log(cat.sel(**coal)).std())


def test_save_load_roundtrip(data_fit, tmp_path):
    _, model = data_fit
    path = model.save(tmp_path / "ef.nc")
    back = EmissionFactorModel.load(path)
    assert back.regions == model.regions
    np.testing.assert_allclose(back.factors().values, model.factors().values)
    with pytest.raises(ModelStateError):
        EmissionFactorModel.load(path, model_config={"lpg": {"params": {"sigma": 0.1}}})
