"""The joint land-sink model (budget residual + DGVMs, sink kinetics): data, settings, recovery."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from forecast.errors import InputError, SamplerWarning
from forecast.models.sinks_joint import JointLandSinkModel, kinetic_sink

N_MODELS = 6
PROB = 0.94


def test_kinetic_sink_is_the_pool_recursion():
    """The matrix form equals the recursion S_t = npp_t - r B_{t-1}, B_t = (1-r) B_{t-1} + npp_t, from
    equilibrium; a constant npp gives no sink, a linear ramp tends to a constant sink."""
    rng = np.random.default_rng(0)
    npp = rng.uniform(0.0, 3.0, size=(40, 2))
    r = 0.07
    pool = npp[0] / r
    expected = np.empty_like(npp)
    for t in range(len(npp)):
        expected[t] = npp[t] - r * pool
        pool = (1 - r) * pool + npp[t]
    np.testing.assert_allclose(kinetic_sink(npp, r, len(npp), lib=np), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(kinetic_sink(np.full((30, 1), 2.0), r, 30, lib=np), 0.0, atol=1e-12)
    ramp = kinetic_sink(np.arange(400.0)[:, None] * 0.01, r, 400, lib=np)[:, 0]
    tau = -1.0 / np.log(1 - r)
    assert abs(ramp[-1] - 0.01 / r) < 1e-6 and 0.01 * tau * 0.9 < ramp[-1] < 0.01 * tau * 1.1  # about tau dnpp/dt


def test_budget_residual_is_the_gcb_land_sink_plus_imbalance(shared_data_dir):
    import pandas as pd

    from forecast.data.gcb import load_budget_residual

    budget = load_budget_residual(shared_data_dir)
    gcb = pd.read_csv(shared_data_dir / "gcb2025_global_budget.csv").set_index("year").loc[1959:2024]
    np.testing.assert_allclose(budget["residual"].to_numpy(), (gcb["land_sink"] + gcb["budget_imbalance"]).to_numpy(),
                               atol=1e-9)


def test_settings_are_checked():
    with pytest.raises(InputError, match="form must be one of"):
        JointLandSinkModel(form="kinetik")
    with pytest.raises(InputError, match="history_start"):
        JointLandSinkModel(history_start=1990)


def _truth(lam: float, rng: np.random.Generator) -> dict:
    return {"eps_ref": 20.0, "k": 0.5, "tau": 20.0, "lam": lam, "phi": 0.3, "sigma_iav": 0.5, "sigma_residual": 0.4,
            "rho": rng.normal(0.0, 0.3, N_MODELS), "lam_m": 0.005 + rng.normal(0.0, 0.003, N_MODELS),
            "gamma": np.exp(rng.normal(0.0, 0.2, N_MODELS)), "sigma_model": np.full(N_MODELS, 0.3)}


def _recover(shared_data_dir, lam: float, seed: int) -> JointLandSinkModel:
    model = JointLandSinkModel()
    design = model.prepare(data_dir=shared_data_dir)
    rng = np.random.default_rng(seed)
    data = model.simulate_observations(design, _truth(lam, rng), rng)
    data["models"] = data["models"].iloc[:, :N_MODELS]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplerWarning)
        model.fit(data, random_seed=seed, draws=500, tune=500, progress=False)
    assert model.diagnostics.max_r_hat < 1.05, model.diagnostics.warnings
    return model


@pytest.mark.heavy  # two joint fits, about 2 min each on 2 cores: in the heavy CI command
@pytest.mark.parametrize("lam, declining", [(0.015, True), (0.0, False)])
def test_recovers_a_known_decline_and_a_constant_effect(shared_data_dir, lam, declining):
    """Data simulated with a known decline rate (0.015/yr: eps falls to 0.61 of its 1982 value by 2015,
    near Wang et al.'s 0.57) and with none: the truth lies in the central 94 % interval of lam and of
    eps(2015)/eps(1982); P(decline) is high (> 0.9) only for the declining truth."""
    model = _recover(shared_data_dir, lam, seed=11 if declining else 12)
    lo, hi = np.quantile(model.decline_rate().values, [(1 - PROB) / 2, (1 + PROB) / 2])
    assert lo <= lam <= hi, (lo, hi)
    ratio = np.quantile(model.cfe_ratio(2015, 1982).values, [(1 - PROB) / 2, (1 + PROB) / 2])
    assert ratio[0] <= np.exp(-33 * lam) <= ratio[1], ratio
    if declining:
        assert model.p_decline() > 0.9
    else:
        assert model.p_decline() < 0.9
