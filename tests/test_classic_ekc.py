"""The static EKC estimators the literature publishes (forecast/models/classic.py), their recovery of a
known curve, their agreement with the growth-form Bayesian EKC, and the per-region / global P(inverted U)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from forecast.errors import InputError
from forecast.models.classic import (
    B_NAME,
    C_NAME,
    ESTIMATORS,
    TP_NAME,
    classic_ekc_table,
    ekc_comparison_table,
    literature_rows,
)
from forecast.models.ekc import EKCModel

# the static curve of the simulations: ln(t CO2/person) = a_i + B ln y + C (ln y)^2, turning point $15,000
C_TRUE = -0.3
B_TRUE = -2 * C_TRUE * np.log(15_000.0)


def simulate(n_regions=25, n_years=30, *, seed=0, noise=0.05, random_walk=False, intercept_income=0.0):
    """A panel from the static quadratic EKC. Log incomes follow random walks with drift (so growth varies
    year to year and across regions); the error is iid or, with ``random_walk``, a random walk (the growth
    form's own assumption). ``intercept_income`` adds ``k (x0 - ln 7000)^2`` to a_i, x0 the region's starting
    log income: a region effect that rises with the square of income (omitted-variable bias of about +k on
    c for pooled OLS)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_regions):
        x0 = rng.uniform(np.log(1_500.0), np.log(30_000.0))
        x = x0 + np.cumsum(rng.normal(0.03, 0.03, n_years))
        a = -4.5 + intercept_income * (x0 - np.log(7_000.0)) ** 2 + rng.normal(0, 0.3)
        shocks = rng.normal(0, noise, n_years)
        e = np.cumsum(shocks) if random_walk else shocks
        y = a + B_TRUE * x + C_TRUE * x**2 + e
        rows += [{"region": f"r{i:02d}", "year": 1990 + t, "gdp_per_capita": np.exp(x[t]),
                  "co2_per_capita": np.exp(y[t])} for t in range(n_years)]
    return pd.DataFrame(rows)


def cell(table, estimator, coefficient):
    hit = table[(table["estimator"] == estimator) & (table["coefficient"].str.startswith(coefficient))]
    assert len(hit) == 1, (estimator, coefficient)
    return hit.iloc[0]


def test_classic_estimators_recover_a_known_curve():
    """Each estimator's interval covers the true b, c and turning point. The intervals are the estimators'
    own (99.9 % so that a correct estimator fails about 1 time in 1000 per quantity); a wrong mapping from
    the centred fit back to ln GDP, or a wrong delta method, moves the estimate by many standard errors."""
    table = classic_ekc_table(simulate(), level=0.999)
    assert set(table["estimator"]) == set(ESTIMATORS)
    for est in ESTIMATORS:
        for name, truth in ((B_NAME, B_TRUE), (C_NAME, C_TRUE), (TP_NAME, 15_000.0)):
            row = cell(table, est, name)
            assert row["ci_low"] <= truth <= row["ci_high"], (est, name, row.to_dict())
        assert cell(table, est, C_NAME)["inverted_u"]
    assert table["n_obs"].eq(25 * 30).all() and table["n_regions"].eq(25).all()


def test_pooled_ols_is_rejected_when_intercepts_follow_income():
    """The test above can fail: when the region intercepts rise with the square of income (an omitted region
    effect correlated with income, bias about +0.5 on c) pooled OLS is biased and its interval misses the
    true c, while the region fixed-effects interval still covers it."""
    table = classic_ekc_table(simulate(intercept_income=0.5), estimators=["pooled OLS", "region FE"], level=0.999)
    pooled, fe = cell(table, "pooled OLS", C_NAME), cell(table, "region FE", C_NAME)
    assert not pooled["ci_low"] <= C_TRUE <= pooled["ci_high"]
    assert fe["ci_low"] <= C_TRUE <= fe["ci_high"]


def test_no_turning_point_without_a_significant_inverted_u():
    panel = simulate()
    # a U (c > 0): flip the curve around its mean
    panel["co2_per_capita"] = 1.0 / panel["co2_per_capita"]
    table = classic_ekc_table(panel, estimators=["region FE"])
    assert not cell(table, "region FE", C_NAME)["inverted_u"]
    assert np.isnan(cell(table, "region FE", TP_NAME)["estimate"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.drop(columns="co2_per_capita"), "co2_per_capita"),
        (lambda p: p.assign(gdp_per_capita=p["gdp_per_capita"].where(p.index != 3, -1.0)), "gdp_per_capita"),
        (lambda p: p[p["region"].isin(["r00", "r01"])], "3 regions"),
        (lambda p: pd.concat([p, p.head(1)]), "duplicated"),
    ],
)
def test_bad_input_is_an_error(change, message):
    with pytest.raises(InputError, match=message):
        classic_ekc_table(change(simulate(n_regions=5, n_years=8)))


def test_bad_settings_are_errors():
    panel = simulate(n_regions=5, n_years=8)
    with pytest.raises(InputError, match="level"):
        classic_ekc_table(panel, level=90)
    with pytest.raises(InputError, match="unknown estimator"):
        classic_ekc_table(panel, estimators=["GMM"])


def test_published_turning_points_carry_their_units():
    rows = literature_rows().set_index("estimator")
    wang = rows.loc[next(i for i in rows.index if "Wang" in i)]
    assert (wang["ci_low"], wang["ci_high"]) == (19_000, 22_000)  # 2011 PPP US$ = the data's int-$ 2011
    assert "2011 PPP" in wang["form"]
    seed = rows.loc[next(i for i in rows.index if "Li F." in i)]
    assert "not converted" in seed["form"]


def test_inverted_u_scope_follows_the_settings():
    assert EKCModel().inverted_u_scope() == "global"
    assert EKCModel(varying_curvature=True).inverted_u_scope() == "region"
    assert EKCModel(degree=3).inverted_u_scope() == "region"


WEAK = {name: {"params": {"mu": 0.0, "sigma": 5.0}} for name in ("slope_mu", "curvature_mu")}


@pytest.fixture(scope="module")
def shared_dgp_fit():
    """A panel from a curve both models share, and the Bayesian EKC fitted to it under weak priors.

    The static curve with a *random-walk* error, y_it = a_i + b x + c x^2 + e_it with Δe iid normal, is
    exactly the growth-form model with zero drift, no income-dependent drift and iid normal shocks:
    Δy = b Δx + c Δ(x^2) + Δe. Both models then estimate the same b and c, the static ones from levels
    (still unbiased: income is independent of e; region-clustered errors cover the persistence) and the
    Bayesian one from changes. The Bayesian model keeps its region drifts (estimated near 0)."""
    panel = simulate(n_regions=20, n_years=30, seed=3, noise=0.02, random_walk=True)
    model = EKCModel(WEAK, residuals="iid", likelihood="normal", drift_income=False, parameterization="non_centered")
    model.fit(panel, random_seed=5, draws=300, tune=300, chains=2, progress=False)
    return panel, model


@pytest.mark.slow
def test_bayesian_and_classic_ekc_agree_on_a_shared_curve(shared_dgp_fit):
    """'Agree' means: the Bayesian curvature c and its curve-only turning point exp(x_center - slope/(2c))
    (the growth form's b and c, mapped to ln GDP) differ from the region fixed-effects estimates by less
    than 3.3 sd of the difference, taking the two uncertainties as independent (they use the same data, so
    the true sd of the difference is smaller and this is conservative), and both cover the true value. The
    Bayesian turning point on a growth path is not compared: it includes drifts the static form lacks."""
    panel, model = shared_dgp_fit
    table = ekc_comparison_table(panel, model, level=0.999)
    bayes = table.loc[table["estimator"].str.startswith("Bayesian"), "estimator"].iloc[0]
    z = stats.norm.ppf(0.9995)
    for name, truth in ((C_NAME, C_TRUE), (B_NAME, B_TRUE)):
        fe, by = cell(table, "region FE", name), cell(table, bayes, name)
        assert abs(by["estimate"] - fe["estimate"]) <= z * np.hypot(by["std_error"], fe["std_error"]), name
        assert by["ci_low"] <= truth <= by["ci_high"], name
    fe_tp, by_tp = cell(table, "region FE", TP_NAME), cell(table, bayes, TP_NAME)
    assert by_tp["ci_low"] <= 15_000 <= by_tp["ci_high"]
    # on the log scale: the Bayesian 99.9 % interval and the static one overlap
    assert by_tp["ci_low"] <= fe_tp["ci_high"] and fe_tp["ci_low"] <= by_tp["ci_high"]
    assert by_tp["p_inverted_u"] > 0.99


@pytest.mark.slow
def test_comparison_table_describes_the_forms(shared_dgp_fit):
    panel, model = shared_dgp_fit
    table = ekc_comparison_table(panel, model)
    text = table.attrs["description"]
    assert "growth form" in text and "one number for the whole panel" in text
    assert {"static levels", "growth (first differences)"} <= set(table["form"])
    assert model.turning_point_table()["p_inverted_u_scope"].eq("global").all()
