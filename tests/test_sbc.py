"""Simulation-based calibration: the rank statistic and uniformity tests on synthetic ranks, and a fast SBC
of the land-sink model that must pass for the correct model and fail for a deliberately wrong one."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from forecast.evaluation.sbc import (
    ekc_sbc_setup,
    rank_statistic,
    sbc_plot,
    sbc_ranks,
    sink_sbc_setup,
    thin_draws,
    uniformity_test,
)

YEARS = np.arange(1959, 2025)
L = 100
R = 30
BINS = 5


def test_rank_statistic_counts_draws_below():
    draws = np.array([0.1, 0.5, 0.9, 1.5])
    assert rank_statistic(-1.0, draws) == 0
    assert rank_statistic(0.7, draws) == 2
    assert rank_statistic(9.0, draws) == 4
    # ties are split at random, within [below, below + ties]
    rng = np.random.default_rng(0)
    tied = {rank_statistic(0.5, np.array([0.5, 0.5, 0.5]), rng) for _ in range(200)}
    assert tied == {0, 1, 2, 3}


def test_thin_draws_keeps_L_spread_over_chains():
    draws = np.arange(2 * 50).reshape(2, 50).astype(float)
    kept = thin_draws(draws, 20)
    assert kept.size == 20
    assert (kept < 50).sum() == 10 and (kept >= 50).sum() == 10
    with pytest.raises(ValueError):
        thin_draws(draws, 101)


def test_uniformity_test_accepts_uniform_and_rejects_skewed_ranks():
    rng = np.random.default_rng(1)
    uniform = rng.integers(0, L + 1, size=200)
    skewed = np.minimum(L, (L + 1) * rng.beta(2.0, 1.0, size=200)).astype(int)  # sloped histogram
    u_shape = np.where(rng.random(200) < 0.5, rng.integers(0, 10, 200), rng.integers(L - 9, L + 1, 200))
    table = uniformity_test(pd.DataFrame({"uniform": uniform, "skewed": skewed, "u_shape": u_shape}), L, bins=10)
    assert table.loc["uniform", "chisq_p"] > 0.01 and table.loc["uniform", "ecdf_p"] > 0.01
    for name in ("skewed", "u_shape"):
        assert table.loc[name, "chisq_p"] < 1e-4 and table.loc[name, "ecdf_p"] < 0.01


def test_uniformity_test_false_alarm_rate_is_nominal():
    rng = np.random.default_rng(2)
    ranks = pd.DataFrame(rng.integers(0, L + 1, size=(40, 200)))
    table = uniformity_test(ranks, L, bins=5, n_sim=1000)
    for column in ("chisq_p", "ecdf_p"):
        assert 0.0 <= (table[column] < 0.05).mean() <= 0.12


def test_uniformity_test_rejects_bad_input():
    with pytest.raises(ValueError):
        uniformity_test(np.array([[0], [L + 1]]), L)


def test_sbc_ranks_on_a_conjugate_model_are_uniform_and_exact_posterior_passes():
    """Normal mean with known sd: the exact posterior gives uniform ranks, an overconfident one does not."""

    def simulate(r, rng):
        mu = rng.normal(0.0, 1.0)
        return {"mu": mu}, rng.normal(mu, 1.0, size=5)

    def exact(y, seed):
        rng = np.random.default_rng(seed)
        prec = 1.0 + y.size
        return {"mu": rng.normal(y.sum() / prec, prec**-0.5, size=(2, 200))}

    def overconfident(y, seed):
        rng = np.random.default_rng(seed)
        prec = 1.0 + y.size
        return {"mu": rng.normal(y.sum() / prec, 0.3 * prec**-0.5, size=(2, 200))}

    good = sbc_ranks(simulate, exact, ["mu"], R=300, L=L, seed=3)
    bad = sbc_ranks(simulate, overconfident, ["mu"], R=300, L=L, seed=3)
    assert good["mu"].between(0, L).all() and good.attrs["L"] == L
    assert uniformity_test(good, L, bins=10).loc["mu", "chisq_p"] > 0.001
    assert uniformity_test(bad, L, bins=10).loc["mu", "chisq_p"] < 1e-6


def test_sbc_plot_writes_a_figure(tmp_path):
    rng = np.random.default_rng(4)
    ranks = pd.DataFrame({"a": rng.integers(0, L + 1, 50), "b": rng.integers(0, L + 1, 50)})
    fig = sbc_plot(ranks, L, tmp_path / "sbc.png", bins=5)
    assert (tmp_path / "sbc.png").stat().st_size > 1000
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 2


@pytest.fixture(scope="module")
def noaa_co2(shared_data_dir) -> np.ndarray:
    from forecast.data import load_co2_concentration

    co2 = load_co2_concentration("noaa_co2_mlo", data_dir=shared_data_dir)
    return co2.set_index("year").loc[YEARS, "co2_ppm"].to_numpy()


def _sink_ranks(co2, **config):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        setup = sink_sbc_setup(co2, YEARS, R, draws=100, tune=700, chains=2, L=L, seed=5, **config)
        return setup.run(seed=6)


@pytest.mark.heavy
def test_sbc_land_sink_model_is_calibrated(noaa_co2):
    ranks = _sink_ranks(noaa_co2)
    table = uniformity_test(ranks, L, bins=BINS)
    assert (table["chisq_p"] > 0.001).all(), table


@pytest.mark.heavy
def test_sbc_detects_a_wrong_generating_prior(noaa_co2):
    # true eps_ref drawn from a 5x wider prior than the model's TruncatedNormal(21, 5): eps_ref is set by
    # its prior (the sink identifies only k * eps_ref), so its ranks pile up at the ends. (A 5x wider
    # decline_rate prior would not be detected: the data pin lam down to ~1e-3/yr whatever its prior.)
    wide = {"eps_ref": {"params": {"mu": 21.0, "sigma": 25.0, "lower": 0.0}}}
    ranks = _sink_ranks(noaa_co2, generate_config=wide)
    table = uniformity_test(ranks, L, bins=BINS)
    assert table.loc["eps_ref", "chisq_p"] < 0.01, table


# ---------------------------------------------------------------------------- fast EKC SBC
# 6 regions x 20 years, non-centred, R = 30 fits of 2 x (300 tune + 100 draws) each; the nutpie compilation
# (the bulk of the time, ~30-50 s on 2 cores) is shared by both tests because the fitted model is identical.
EKC_R = 30


def _ekc_ranks(**config):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        setup = ekc_sbc_setup(EKC_R, draws=100, tune=300, chains=2, L=L, seed=7, **config)
        assert setup.params == ["drift_mu", "drift_income", "slope_mu", "curvature", "phi", "log_noise_mu"]
        return setup.run(seed=8)


@pytest.mark.heavy
def test_sbc_ekc_model_is_calibrated():
    ranks = _ekc_ranks()
    assert ranks.shape == (EKC_R, 6) and ranks.to_numpy().min() >= 0 and ranks.to_numpy().max() <= L
    table = uniformity_test(ranks, L, bins=BINS)
    assert (table["chisq_p"] > 0.001).all(), table


@pytest.mark.heavy
def test_sbc_ekc_detects_a_wrong_generating_prior():
    # true slope_mu drawn from a 5x wider prior than the model's Normal(0.8, 0.5). With 6 regions of 19
    # changes and little variation in GDP growth the data identify slope_mu only loosely, so the fitted
    # prior pulls the posterior back toward 0.8 and the ranks pile up at both ends (seed 7/8: chi-square
    # p ~ 7e-5 for slope_mu, all other parameters p > 0.03; the correct prior gives every p > 0.04).
    wide = {"slope_mu": {"params": {"mu": 0.8, "sigma": 2.5}}}
    ranks = _ekc_ranks(generate_config=wide)
    table = uniformity_test(ranks, L, bins=BINS)
    assert table.loc["slope_mu", "chisq_p"] < 0.01 and table.loc["slope_mu", "ecdf_p"] < 0.01, table
