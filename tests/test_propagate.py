"""Tests for forecast.projection.propagate: the growth-path simulator, Student-t shocks, peak metrics and the
history + forecast join. No PyMC model is fitted here: posterior draws are built by hand and the model is
a small fake object with the same ``predict`` interface as :class:`forecast.models.ekc.EKCModel`."""

from __future__ import annotations

import math
from types import SimpleNamespace

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

import forecast.projection.propagate as propagate
from forecast.errors import InputError
from forecast.models.ekc import EKCModel, prepare_panel
from forecast.projection.propagate import (
    Forecast,
    _shocks,
    ar1_residual,
    forecast_emissions,
    forecast_peak,
    simulate_growth,
    simulate_growth_paths,
)

# ------------------------------------------------------------------------------------------------
# helpers: hand-made posterior draws and region state
# ------------------------------------------------------------------------------------------------

X_CENTER = 9.1
LAST_YEAR = 2022


def _poly(x: np.ndarray, degree: int) -> np.ndarray:
    return np.stack([x**p for p in range(1, degree + 1)], axis=-1)


def make_state(degree: int, *, last_x=(-0.5, 0.2, 1.0), dx_last=(0.02, 0.03, -0.01),
               last_dy=(0.03, -0.01, -0.02), last_level=(2.0, 7.5, 9.0), last_year=LAST_YEAR) -> xr.Dataset:
    """Per-region last observed state, laid out as EKCModel stores it in ``constant_data``."""
    last_x = np.asarray(last_x, dtype=float)
    last_x_prev = last_x - np.asarray(dx_last, dtype=float)
    regions = [f"R{i}" for i in range(len(last_x))]
    return xr.Dataset(
        {
            "last_year": ("region", np.full(len(last_x), last_year)),
            "last_log_co2_per_capita": ("region", np.log(np.asarray(last_level, dtype=float))),
            "last_x": ("region", last_x),
            "last_dy": ("region", np.asarray(last_dy, dtype=float)),
            "last_dx_terms": (("region", "term"), _poly(last_x, degree) - _poly(last_x_prev, degree)),
            "last_x_prev": ("region", last_x_prev),
        },
        coords={"region": regions, "term": [f"x{p}" for p in range(1, degree + 1)]},
    )


def make_params(n_samples: int, n_regions: int, degree: int, seed: int = 11) -> dict[str, np.ndarray]:
    """Posterior-like draws with every term switched on (nonzero phi and drift_income)."""
    rng = np.random.default_rng(seed)
    shape = (n_samples, n_regions)
    return {
        "drift": rng.normal(-0.01, 0.01, shape),
        "slope": rng.normal(0.8, 0.1, shape),
        "curvature": rng.normal(-0.1, 0.03, shape),
        "sigma": rng.uniform(0.01, 0.05, shape),
        "cubic": rng.normal(0.03, 0.01, n_samples) if degree == 3 else np.zeros(n_samples),
        "phi": rng.uniform(0.2, 0.8, n_samples),
        "nu": np.where(np.arange(n_samples) % 2 == 0, np.inf, 5.0),
        "drift_income": rng.normal(-0.01, 0.003, n_samples),
    }


def make_gdp(state: xr.Dataset, n_samples: int, n_years: int, seed: int = 12) -> np.ndarray:
    """GDP per capita paths (sample, region, year) that start one step after the last observed income."""
    rng = np.random.default_rng(seed)
    growth = rng.normal(0.02, 0.015, (n_samples, state.sizes["region"], n_years))
    log_gdp = state["last_x"].values[None, :, None] + X_CENTER + np.cumsum(growth, axis=-1)
    return np.exp(log_gdp)


def reference_paths(params, state, *, x_center, degree, gdp, shocks, start=None, common=None) -> np.ndarray:
    """Slow reference: explicit loops over sample, region and year, straight from the docstrings.

    Δy = drift + slope Δx + curvature Δ(x²) [+ cubic Δ(x³)] + drift_income x_prev [+ g_t] + u,
    u_t = φ u_{t-1} + σ ε_t, u_0 = the last observed residual (net of the last year effect
    ``common_shock_last``), y_0 = the last observed log level (or ``start[s, r]``); ``common`` ``(sample,
    year)`` = the year effects g (already scaled).
    """
    n_samples, n_regions, n_years = gdp.shape
    # float64 throughout: under NumPy 2 promotion a Python float times a float32 scalar stays float32
    shocks = np.asarray(shocks, dtype=np.float64)
    out = np.empty(gdp.shape)
    for s in range(n_samples):
        d_inc = float(params["drift_income"][s])
        phi = float(params["phi"][s])
        cubic = float(params["cubic"][s])
        for r in range(n_regions):
            d = float(params["drift"][s, r])
            b = float(params["slope"][s, r])
            c = float(params["curvature"][s, r])
            sig = float(params["sigma"][s, r])
            x_last = float(state["last_x"].values[r])
            x_before = float(state["last_x_prev"].values[r])
            # residual of the last observed change
            mean_last = d + b * (x_last - x_before) + c * (x_last**2 - x_before**2) + d_inc * x_before
            if degree == 3:
                mean_last += cubic * (x_last**3 - x_before**3)
            u = float(state["last_dy"].values[r]) - mean_last
            if common is not None:
                u -= float(params["common_shock_last"][s, r])
            y = float(state["last_log_co2_per_capita"].values[r] if start is None else start[s, r])
            x_prev = x_last
            for t in range(n_years):
                x = math.log(gdp[s, r, t]) - x_center
                dy = d + b * (x - x_prev) + c * (x**2 - x_prev**2) + d_inc * x_prev
                if degree == 3:
                    dy += cubic * (x**3 - x_prev**3)
                u = phi * u + sig * shocks[s, r, t]
                y += dy + u + (0.0 if common is None else float(common[s, t]))
                out[s, r, t] = math.exp(y)
                x_prev = x
    return out


# ------------------------------------------------------------------------------------------------
# simulate_growth_paths against the loop reference
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("degree", [2, 3])
def test_simulate_matches_loop_reference_with_fixed_shocks(degree):
    """Given shocks (float32 in, as common random numbers may come), the kernel equals the slow loop to
    rounding: 1e-12 over six years leaves no room for a wrong term."""
    n_samples, n_regions, n_years = 5, 3, 6
    state = make_state(degree)
    params = make_params(n_samples, n_regions, degree)
    gdp = make_gdp(state, n_samples, n_years)
    years = np.arange(LAST_YEAR + 1, LAST_YEAR + 1 + n_years)
    fixed = (np.random.default_rng(99).standard_normal((n_samples, n_regions, n_years)) * 1.7).astype(np.float32)
    got = simulate_growth_paths(params, state=state, x_center=X_CENTER, degree=degree, gdp_per_capita=gdp,
                                years=years, rng=np.random.default_rng(0), shocks=fixed)
    want = reference_paths(params, state, x_center=X_CENTER, degree=degree, gdp=gdp, shocks=fixed)
    assert got.shape == (n_samples, n_regions, n_years)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    # and the shocks really enter: other shocks, other paths
    other = simulate_growth_paths(params, state=state, x_center=X_CENTER, degree=degree, gdp_per_capita=gdp,
                                  years=years, rng=np.random.default_rng(0), shocks=fixed[::-1].copy())
    assert not np.allclose(other, got)


def test_year_effect_is_shared_by_the_regions_of_a_sample_and_matches_the_reference():
    """With ``common_shock_sd`` the simulator adds one year effect g_t = sd·z_t per sample and year to every
    region's change (outside the AR(1) residual), and starts from the last residual net of the last fitted
    year effect; the unit normals z come from the block generator right after that block's ε."""
    n_samples, n_regions, n_years = 6, 3, 7
    state = make_state(2)
    params = make_params(n_samples, n_regions, 2)
    rng = np.random.default_rng(5)
    params["common_shock_sd"] = rng.uniform(0.01, 0.03, n_samples)
    params["common_shock_last"] = np.repeat(rng.normal(0.0, 0.02, (n_samples, 1)), n_regions, axis=1)
    gdp = make_gdp(state, n_samples, n_years)
    kw = dict(state=state, x_center=X_CENTER, degree=2, gdp_per_capita=gdp,
              years=np.arange(LAST_YEAR + 1, LAST_YEAR + 1 + n_years))
    fixed = np.random.default_rng(99).standard_normal((n_samples, n_regions, n_years))
    z = np.random.default_rng(98).standard_normal((n_samples, n_years))
    got = simulate_growth_paths(params, rng=np.random.default_rng(0), shocks=fixed, common_shocks=z, **kw)
    want = reference_paths(params, state, x_center=X_CENTER, degree=2, gdp=gdp, shocks=fixed,
                           common=z * params["common_shock_sd"][:, None])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    # drawn, not given: identical across regions within a sample and year (log paths with and without
    # them, both starting from the same residual, differ by the running sum of g, the same for every region)
    drawn = np.log(simulate_growth_paths(params, rng=np.random.default_rng(3), **kw))
    calm = np.log(simulate_growth_paths({**params, "common_shock_sd": np.zeros(n_samples)},
                                        rng=np.random.default_rng(3), **kw))
    g = np.diff(drawn - calm, axis=-1, prepend=0.0)  # (sample, region, year): the year effects alone
    assert np.abs(g).max() > 1e-3
    np.testing.assert_allclose(g, np.broadcast_to(g[:, :1, :], g.shape), rtol=0, atol=1e-12)
    # the unit normals are the block generator's draws right after the block's shocks
    gen = propagate._block_generators(np.random.default_rng(3), n_samples)[0]
    propagate._unit_shocks(gen, params["nu"], n_regions, n_years)
    z_drawn = gen.standard_normal((n_samples, n_years))
    np.testing.assert_allclose(g[:, 0, :], z_drawn * params["common_shock_sd"][:, None], rtol=1e-9, atol=1e-14)


def test_shared_drift_walk_accumulates_and_follows_the_year_effects_draws():
    """With ``common_drift_sd`` the shared drift walks on from 0: the log paths move by Σ_{k<=t} m_k with
    m_k = κ Σ_{j<=k} z_j (the same for all regions), z drawn from the block generator after the year
    effects' normals; given steps replace them."""
    n_samples, n_regions, n_years = 4, 3, 6
    state = make_state(2)
    params = make_params(n_samples, n_regions, 2)
    params.update(common_shock_sd=np.full(n_samples, 0.01), common_drift_sd=np.array([0.001, 0.002, 0.003, 0.0]),
                  common_shock_last=np.zeros((n_samples, n_regions)))
    gdp = make_gdp(state, n_samples, n_years)
    kw = dict(state=state, x_center=X_CENTER, degree=2, gdp_per_capita=gdp,
              years=np.arange(LAST_YEAR + 1, LAST_YEAR + 1 + n_years))
    walk = np.log(simulate_growth_paths(params, rng=np.random.default_rng(4), **kw))
    still = np.log(simulate_growth_paths({**params, "common_drift_sd": np.zeros(n_samples)}, rng=np.random.default_rng(4), **kw))
    gen = propagate._block_generators(np.random.default_rng(4), n_samples)[0]
    propagate._unit_shocks(gen, params["nu"], n_regions, n_years)
    gen.standard_normal((n_samples, n_years))  # the year effects' normals come first
    z = gen.standard_normal((n_samples, n_years))
    m = np.cumsum(z * params["common_drift_sd"][:, None], axis=1)
    want = np.broadcast_to(np.cumsum(m, axis=1)[:, None, :], walk.shape)
    np.testing.assert_allclose(walk - still, want, rtol=1e-9, atol=1e-13)
    given = np.log(simulate_growth_paths(params, rng=np.random.default_rng(4), drift_steps=z, **kw))
    np.testing.assert_allclose(given, walk, rtol=1e-12, atol=0)
    with pytest.raises(InputError, match="drift steps"):
        simulate_growth_paths(params, rng=np.random.default_rng(4), drift_steps=z[:, :2], **kw)


def test_paths_without_year_effects_keep_their_numbers():
    """A model without year effects draws nothing more from the generators: adding ``common_shock_sd = 0``
    changes no number of the paths (the zero year effect is added exactly), dropping it changes nothing."""
    state = make_state(2)
    params = make_params(5, 3, 2)
    gdp = make_gdp(state, 5, 6)
    kw = dict(state=state, x_center=X_CENTER, degree=2, gdp_per_capita=gdp, years=np.arange(LAST_YEAR + 1, LAST_YEAR + 7))
    a = simulate_growth_paths(params, rng=np.random.default_rng(7), **kw)
    shocks = _shocks(params["nu"], gdp.shape, np.random.default_rng(7))
    np.testing.assert_array_equal(a, simulate_growth_paths(params, rng=np.random.default_rng(0), shocks=shocks, **kw))
    zero = {**params, "common_shock_sd": np.zeros(5), "common_shock_last": np.zeros((5, 3))}
    np.testing.assert_array_equal(a, simulate_growth_paths(zero, rng=np.random.default_rng(7), **kw))
    with pytest.raises(InputError, match="common shocks"):
        simulate_growth_paths(zero, rng=np.random.default_rng(7), common_shocks=np.zeros((5, 2)), **kw)
    with pytest.raises(InputError, match="common_shock_last"):
        simulate_growth_paths({**zero, "common_shock_last": np.zeros(5)}, rng=np.random.default_rng(7), **kw)


def test_uncertain_last_level_starts_each_draw_from_its_own_level(monkeypatch):
    """Errors-in-variables: each draw starts from the last observed log level plus its own normal error
    (sd ``last_level_sd``, drawn from ``rng`` after the shock seed); runs under a progress bar agree."""
    n_samples, n_regions, n_years = 40, 3, 5
    state = make_state(2).assign(last_level_sd=("region", np.array([0.0, 0.05, 0.2])))
    params = make_params(n_samples, n_regions, 2)
    gdp = make_gdp(state, n_samples, n_years)
    fixed = (np.random.default_rng(3).standard_normal((n_samples, n_regions, n_years))).astype(np.float32)
    kw = dict(state=state, x_center=X_CENTER, degree=2, gdp_per_capita=gdp, shocks=fixed,
              years=np.arange(LAST_YEAR + 1, LAST_YEAR + 1 + n_years))
    got = simulate_growth_paths(params, rng=np.random.default_rng(8), **kw)
    rng = np.random.default_rng(8)
    rng.integers(2**63)  # the shock seed comes first
    start = state["last_log_co2_per_capita"].values + rng.standard_normal((n_samples, n_regions)) * state["last_level_sd"].values
    want = reference_paths(params, state, x_center=X_CENTER, degree=2, gdp=gdp, shocks=fixed, start=start)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    assert np.ptp(start[:, 2]) > 0.2 and np.ptp(start[:, 0]) == 0  # the draws really start apart (or not)
    monkeypatch.setattr(propagate, "_stderr_is_tty", lambda: True)
    with propagate.progress_bar(None, "test"):
        sliced = simulate_growth_paths(params, rng=np.random.default_rng(8), **kw)
    np.testing.assert_array_equal(sliced, got)


def test_simulator_starts_a_run_at_the_stationary_scale():
    """``u0`` NaN (no earlier residual, as in the SBC's simulated panels): the first residual is
    σε/sqrt(1-φ²), later ones φu + σε, as in the likelihood's observation-level loop."""
    n_samples, n_regions, n_years = 3, 3, 6
    rng = np.random.default_rng(3)
    params = make_params(n_samples, n_regions, 3)
    x, x0, eps = rng.normal(0, 1, (n_samples, n_regions, n_years)), rng.normal(0, 1, n_regions), rng.standard_t(5.0, (n_samples, n_regions, n_years))
    got = simulate_growth(params, x=x, x0=x0, y0=np.zeros(n_regions), u0=np.full(n_regions, np.nan), shocks=eps)
    want = np.empty(got.shape)
    for s in range(n_samples):
        phi, k, inc = params["phi"][s], params["cubic"][s], params["drift_income"][s]
        for r in range(n_regions):
            y, x_prev, u = 0.0, x0[r], 0.0
            for t in range(n_years):
                xt, shock = x[s, r, t], params["sigma"][s, r] * eps[s, r, t]
                u = shock / math.sqrt(1 - phi**2) if t == 0 else phi * u + shock
                y += (params["drift"][s, r] + inc * x_prev + params["slope"][s, r] * (xt - x_prev)
                      + params["curvature"][s, r] * (xt**2 - x_prev**2) + k * (xt**3 - x_prev**3) + u)
                want[s, r, t] = y
                x_prev = xt
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    assert ar1_residual(np.nan, 0.6, 0.8) == pytest.approx(1.0)  # 0.8 / sqrt(1 - 0.36)
    assert ar1_residual(0.5, 0.6, 0.8) == pytest.approx(1.1)


def test_simulate_rejects_shocks_of_the_wrong_shape():
    state = make_state(2)
    params = make_params(4, 3, 2)
    gdp = make_gdp(state, 4, 5)
    with pytest.raises(InputError, match="shocks"):
        simulate_growth_paths(params, state=state, x_center=X_CENTER, degree=2, gdp_per_capita=gdp,
                              years=np.arange(LAST_YEAR + 1, LAST_YEAR + 6), rng=np.random.default_rng(0),
                              shocks=np.zeros((4, 3, 4), dtype=np.float32))


@pytest.mark.parametrize("degree", [2, 3])
def test_simulate_matches_reference_with_same_seeded_generator(degree):
    """Unpatched: the shocks are the first draws from ``rng``, scaled by each draw's sigma."""
    n_samples, n_regions, n_years = 5, 3, 6
    state = make_state(degree)
    params = make_params(n_samples, n_regions, degree, seed=21)
    gdp = make_gdp(state, n_samples, n_years, seed=22)
    years = np.arange(LAST_YEAR + 1, LAST_YEAR + 1 + n_years)
    got = simulate_growth_paths(params, state=state, x_center=X_CENTER, degree=degree, gdp_per_capita=gdp,
                                years=years, rng=np.random.default_rng(2024))
    shocks = _shocks(params["nu"], (n_samples, n_regions, n_years), np.random.default_rng(2024))
    want = reference_paths(params, state, x_center=X_CENTER, degree=degree, gdp=gdp, shocks=shocks)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


def test_cubic_term_changes_paths_only_in_degree_3():
    """Degree 3 adds cubic * Δ(x³): with a nonzero cubic draw the degree-3 paths must differ from
    the degree-2 paths computed from the same state, and be reproduced by the reference."""
    state3 = make_state(3)
    params = make_params(4, 3, 3)
    params["sigma"] = np.zeros_like(params["sigma"])
    gdp = make_gdp(state3, 4, 5)
    years = np.arange(LAST_YEAR + 1, LAST_YEAR + 6)
    kw = dict(state=state3, x_center=X_CENTER, gdp_per_capita=gdp, years=years)
    p3 = simulate_growth_paths(params, degree=3, rng=np.random.default_rng(1), **kw)
    p2 = simulate_growth_paths({**params, "cubic": np.zeros(4)}, degree=3, rng=np.random.default_rng(1), **kw)
    assert np.abs(np.log(p3) - np.log(p2)).max() > 1e-4
    zero = np.zeros(gdp.shape)
    np.testing.assert_allclose(p3, reference_paths(params, state3, x_center=X_CENTER, degree=3, gdp=gdp, shocks=zero),
                               rtol=1e-12)


def test_simulate_is_reproducible_with_seed_and_differs_across_seeds():
    state = make_state(2)
    params = make_params(5, 3, 2)
    gdp = make_gdp(state, 5, 6)
    years = np.arange(LAST_YEAR + 1, LAST_YEAR + 7)
    kw = dict(state=state, x_center=X_CENTER, degree=2, gdp_per_capita=gdp, years=years)
    a = simulate_growth_paths(params, rng=np.random.default_rng(7), **kw)
    b = simulate_growth_paths(params, rng=np.random.default_rng(7), **kw)
    c = simulate_growth_paths(params, rng=np.random.default_rng(8), **kw)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_simulate_rejects_state_not_ending_the_year_before_the_forecast():
    state = make_state(2, last_year=2020)
    params = make_params(2, 3, 2)
    gdp = make_gdp(state, 2, 3)
    with pytest.raises(InputError, match="year before the first forecast year"):
        simulate_growth_paths(params, state=state, x_center=X_CENTER, degree=2, gdp_per_capita=gdp,
                              years=np.arange(2023, 2026), rng=np.random.default_rng(0))


@pytest.mark.parametrize("what", ["samples", "regions"])
def test_simulate_rejects_params_that_do_not_match_the_gdp_paths(what):
    """Parameter draws for fewer samples (or regions) than the GDP paths must raise, not be read past their
    end: the compiled kernel has no bounds checks, so today it returns garbage (0, inf, NaN) silently."""
    n_samples, n_regions = (3, 3) if what == "samples" else (5, 2)
    state = make_state(2)
    params = make_params(n_samples, n_regions, 2)
    gdp = make_gdp(state, 5, 6)  # 5 samples x 3 regions
    with pytest.raises((InputError, ValueError)):
        simulate_growth_paths(params, state=state, x_center=X_CENTER, degree=2, gdp_per_capita=gdp,
                              years=np.arange(LAST_YEAR + 1, LAST_YEAR + 7), rng=np.random.default_rng(0))


# ------------------------------------------------------------------------------------------------
# zero shocks: closed-form paths
# ------------------------------------------------------------------------------------------------


def closed_form_log_level(y0, x0, g, T, *, d, b, c, k, delta, phi, u0):
    """log per-capita CO2 after T years on the income path x_t = x0 + g t with no new shocks.

    Summing Δy over t = 1..T: the polynomial terms telescope, the income drift sums an arithmetic
    series and the residual decays geometrically (u_t = φ^t u0)."""
    xT = x0 + g * T
    geometric = u0 * T if phi == 1 else u0 * phi * (1 - phi**T) / (1 - phi)
    return (y0 + d * T + b * (xT - x0) + c * (xT**2 - x0**2) + k * (xT**3 - x0**3)
            + delta * (T * x0 + g * T * (T - 1) / 2) + geometric)


@pytest.mark.parametrize("degree", [2, 3])
def test_zero_shocks_follow_closed_form(degree):
    n_years = 30
    g = 0.025
    state = make_state(degree, last_x=(-0.4, 0.6), dx_last=(0.01, 0.02), last_dy=(0.05, -0.03), last_level=(1.5, 8.0))
    d = np.array([[0.01, -0.02], [0.0, -0.015]])
    b = np.array([[0.9, 0.7], [1.0, 0.6]])
    c = np.array([[-0.12, -0.12], [-0.05, -0.05]])
    k = np.array([0.04, 0.02]) if degree == 3 else np.zeros(2)
    delta = np.array([-0.012, -0.004])
    phi = np.array([0.6, 0.0])
    params = {"drift": d, "slope": b, "curvature": c, "sigma": np.zeros((2, 2)), "cubic": k, "phi": phi,
              "nu": np.array([np.inf, 4.0]), "drift_income": delta}
    x0 = state["last_x"].values
    t = np.arange(1, n_years + 1)
    gdp = np.exp(X_CENTER + x0[None, :, None] + g * t[None, None, :]).repeat(2, axis=0)
    got = simulate_growth_paths(params, state=state, x_center=X_CENTER, degree=degree, gdp_per_capita=gdp,
                                years=LAST_YEAR + t, rng=np.random.default_rng(0))
    xp = state["last_x_prev"].values
    for s in range(2):
        for r in range(2):
            u0 = state["last_dy"].values[r] - (d[s, r] + b[s, r] * (x0[r] - xp[r]) + c[s, r] * (x0[r] ** 2 - xp[r] ** 2)
                                                + k[s] * (x0[r] ** 3 - xp[r] ** 3) + delta[s] * xp[r])
            want = np.exp([closed_form_log_level(state["last_log_co2_per_capita"].values[r], x0[r], g, T, d=d[s, r],
                                                 b=b[s, r], c=c[s, r], k=k[s], delta=delta[s], phi=phi[s], u0=u0)
                           for T in t])
            np.testing.assert_allclose(got[s, r], want, rtol=1e-10)


def test_zero_shock_forecast_from_model_state_continues_the_data_generating_process():
    """State built the way EKCModel stores it (prepare_panel + attach, no fit) from a history
    generated by the growth-form EKC with known residuals: with σ = 0 the forecast starts at the last
    observed level and carries the last residual forward as φ^t u_last."""
    xc = 8.5
    rng = np.random.default_rng(5)
    years = np.arange(2000, LAST_YEAR + 1)
    true = {"A": dict(d=0.01, b=0.9, y0=0.2, x_start=-0.8), "B": dict(d=-0.02, b=0.5, y0=2.0, x_start=0.9)}
    c, delta = -0.08, -0.01
    residuals = {"A": rng.normal(0, 0.03, len(years)), "B": rng.normal(0, 0.03, len(years))}
    residuals["A"][-1], residuals["B"][-1] = 0.045, -0.06  # the last observed residual, known exactly
    rows = []
    for region, p in true.items():
        x = p["x_start"] + np.cumsum(rng.normal(0.02, 0.02, len(years)))
        y = np.empty(len(years))
        y[0] = p["y0"]
        for i in range(1, len(years)):
            y[i] = (y[i - 1] + p["d"] + p["b"] * (x[i] - x[i - 1]) + c * (x[i] ** 2 - x[i - 1] ** 2)
                    + delta * x[i - 1] + residuals[region][i])
        rows += [dict(region=region, year=int(yr), gdp_per_capita=float(np.exp(xi + xc)), co2_per_capita=float(np.exp(yi)))
                 for yr, xi, yi in zip(years, x, y)]
    panel = pd.DataFrame(rows)
    data = prepare_panel(panel, degree=2, min_years=10, x_center=xc)
    idata = EKCModel().attach(az.from_dict(posterior={"slope_mu": np.zeros((1, 2))}), data,
                              sampler="none", random_seed=0).idata
    state = idata.constant_data

    phi = np.array([0.0, 0.5, 0.9])
    n_samples, n_years, g = len(phi), 12, 0.03
    params = {
        "drift": np.tile([true["A"]["d"], true["B"]["d"]], (n_samples, 1)),
        "slope": np.tile([true["A"]["b"], true["B"]["b"]], (n_samples, 1)),
        "curvature": np.full((n_samples, 2), c),
        "sigma": np.zeros((n_samples, 2)),
        "cubic": np.zeros(n_samples),
        "phi": phi,
        "nu": np.full(n_samples, np.inf),
        "drift_income": np.full(n_samples, delta),
    }
    last = panel.groupby("region").tail(1).set_index("region")
    x0 = np.log(last["gdp_per_capita"].to_numpy()) - xc
    t = np.arange(1, n_years + 1)
    gdp = np.exp(xc + x0[None, :, None] + g * t[None, None, :]).repeat(n_samples, axis=0)
    got = simulate_growth_paths(params, state=state, x_center=xc, degree=2, gdp_per_capita=gdp,
                                years=LAST_YEAR + t, rng=np.random.default_rng(0))
    for s in range(n_samples):
        for r, region in enumerate(["A", "B"]):
            y0 = math.log(last.loc[region, "co2_per_capita"])
            want = np.exp([closed_form_log_level(y0, x0[r], g, T, d=true[region]["d"], b=true[region]["b"], c=c, k=0.0,
                                                 delta=delta, phi=phi[s], u0=residuals[region][-1]) for T in t])
            np.testing.assert_allclose(got[s, r], want, rtol=1e-9)


# ------------------------------------------------------------------------------------------------
# Student-t shocks
# ------------------------------------------------------------------------------------------------

N_SHOCK_SAMPLES, SHOCK_SHAPE_TAIL = 10_000, (4, 25)  # 1e6 shocks per test
Z = 5.0  # tolerance in Monte-Carlo standard errors


def test_shocks_with_infinite_nu_are_standard_normal():
    shape = (N_SHOCK_SAMPLES, *SHOCK_SHAPE_TAIL)
    z = _shocks(np.full(N_SHOCK_SAMPLES, np.inf), shape, np.random.default_rng(31))
    n = z.size
    assert z.shape == shape
    assert abs(z.mean()) < Z / math.sqrt(n)
    # SE of the sample sd of a normal: 1 / sqrt(2n)
    assert abs(z.std() - 1.0) < Z / math.sqrt(2 * n)
    # P(|z| > 2): binomial SE
    p = 2 * stats.norm.sf(2.0)
    assert abs((np.abs(z) > 2).mean() - p) < Z * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("nu", [6.0, 10.0])
def test_shocks_with_finite_nu_have_student_t_variance(nu):
    shape = (N_SHOCK_SAMPLES, *SHOCK_SHAPE_TAIL)
    t = _shocks(np.full(N_SHOCK_SAMPLES, nu), shape, np.random.default_rng(int(nu)))
    n = t.size
    var = nu / (nu - 2)
    mu4 = 3 * nu**2 / ((nu - 2) * (nu - 4))  # fourth moment of t_nu (finite for nu > 4)
    se_var = math.sqrt((mu4 - var**2) / n)
    assert abs(t.mean()) < Z * math.sqrt(var / n)
    assert abs(t.var() - var) < Z * se_var
    assert abs(t.var() - 1.0) > 10 * se_var  # and clearly not unit variance


def test_shocks_have_student_t_tails_and_per_sample_nu():
    """Half the samples normal, half t_5: each half has its own tail probability P(|ε| > 3)."""
    n_samples = N_SHOCK_SAMPLES
    nu = np.where(np.arange(n_samples) < n_samples // 2, np.inf, 5.0)
    eps = _shocks(nu, (n_samples, *SHOCK_SHAPE_TAIL), np.random.default_rng(77))
    for rows, p in ((eps[: n_samples // 2], 2 * stats.norm.sf(3.0)), (eps[n_samples // 2:], 2 * stats.t.sf(3.0, 5.0))):
        n = rows.size
        assert abs((np.abs(rows) > 3).mean() - p) < Z * math.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize("nu", [3.0, 7.0, np.inf])
def test_shocks_are_student_t_with_the_given_nu(nu):
    """Kolmogorov-Smirnov against t_nu (the standard normal for nu = inf), at a strict alpha, on a cube
    that spans several generator blocks; and against a wrong nu, which must be rejected."""
    n_samples = 3 * propagate.SHOCK_BLOCK + 17
    eps = _shocks(np.full(n_samples, nu), (n_samples, 10, 20), np.random.default_rng(int(min(nu, 99))))
    assert eps.shape == (n_samples, 10, 20) and eps.dtype == np.float64 and np.isfinite(eps).all()
    law = stats.norm() if np.isinf(nu) else stats.t(nu)
    assert stats.kstest(eps.ravel(), law.cdf).pvalue > 1e-3
    wrong = stats.t(1.5) if np.isinf(nu) or nu > 2 else stats.norm()
    assert stats.kstest(eps.ravel(), wrong.cdf).pvalue < 1e-6


def test_shocks_follow_each_samples_own_nu():
    """Per-sample degrees of freedom: normal and t_4 samples interleaved, each passing its own KS test."""
    n_samples = 2 * propagate.SHOCK_BLOCK
    nu = np.where(np.arange(n_samples) % 2 == 0, np.inf, 4.0)
    eps = _shocks(nu, (n_samples, 10, 20), np.random.default_rng(12))
    assert stats.kstest(eps[0::2].ravel(), stats.norm().cdf).pvalue > 1e-3
    assert stats.kstest(eps[1::2].ravel(), stats.t(4.0).cdf).pvalue > 1e-3


def test_shock_blocks_are_independent_streams():
    """Each block of samples has its own generator: no block repeats another's numbers, and a seed gives
    one cube (a second seed another)."""
    n_samples = 3 * propagate.SHOCK_BLOCK
    nu = np.full(n_samples, 6.0)
    eps = _shocks(nu, (n_samples, 2, 3), np.random.default_rng(4))
    blocks = eps.reshape(3, propagate.SHOCK_BLOCK, 6)
    assert not np.isin(blocks[0], blocks[1]).any() and not np.isin(blocks[1], blocks[2]).any()
    np.testing.assert_array_equal(eps, _shocks(nu, (n_samples, 2, 3), np.random.default_rng(4)))
    assert not np.array_equal(eps, _shocks(nu, (n_samples, 2, 3), np.random.default_rng(5)))


def test_paths_do_not_depend_on_the_thread_count():
    """The docstring promises numbers that depend on ``rng`` only: same seed, 1 or 2 threads, same paths."""
    import numba

    n = propagate.SHOCK_BLOCK + 45
    state = make_state(2)
    params = make_params(n, 3, 2, seed=6)
    kw = dict(state=state, x_center=X_CENTER, degree=2, gdp_per_capita=make_gdp(state, n, 7),
              years=np.arange(LAST_YEAR + 1, LAST_YEAR + 8))
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has a single thread here")
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        serial = simulate_growth_paths(params, rng=np.random.default_rng(4), **kw)
        numba.set_num_threads(2)
        threaded = simulate_growth_paths(params, rng=np.random.default_rng(4), **kw)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(serial, threaded)


def test_paths_draw_exactly_the_shocks_of_the_same_rng():
    """In-place shocks are the cube ``_shocks`` returns for the same rng state, cell for cell: passing that
    cube as ``shocks`` reproduces the drawing run bit for bit."""
    n_samples = propagate.SHOCK_BLOCK + 37  # two generator blocks, the last one partial
    state = make_state(2)
    params = make_params(n_samples, 3, 2, seed=5)
    gdp = make_gdp(state, n_samples, 9)
    kw = dict(state=state, x_center=X_CENTER, degree=2, gdp_per_capita=gdp, years=np.arange(LAST_YEAR + 1, LAST_YEAR + 10))
    drawn = simulate_growth_paths(params, rng=np.random.default_rng(8), **kw)
    cube = _shocks(params["nu"], gdp.shape, np.random.default_rng(8))
    np.testing.assert_array_equal(simulate_growth_paths(params, rng=np.random.default_rng(8), shocks=cube, **kw), drawn)


# ------------------------------------------------------------------------------------------------
# progress bar
# ------------------------------------------------------------------------------------------------


def test_progress_bar_counts_blocks_and_slices_and_changes_no_number(monkeypatch):
    n_samples, n_years = 517, 6  # sample blocks, the last one partial
    state = make_state(2)
    params = make_params(n_samples, 3, 2)
    gdp = make_gdp(state, n_samples, n_years)
    kw = dict(state=state, x_center=X_CENTER, degree=2, gdp_per_capita=gdp,
              years=np.arange(LAST_YEAR + 1, LAST_YEAR + 1 + n_years))
    quiet = simulate_growth_paths(params, rng=np.random.default_rng(5), **kw)
    monkeypatch.setattr(propagate, "_stderr_is_tty", lambda: True)
    with propagate.progress_bar(None, "test") as report:
        assert report is not None and propagate._PROGRESS.get() is report
        shown = simulate_growth_paths(params, rng=np.random.default_rng(5), **kw)
        task = report._bar.tasks[0]
        n_blocks = -(-n_samples // propagate.SHOCK_BLOCK)
        assert task.total == n_blocks == task.completed > 1
    assert propagate._PROGRESS.get() is None
    np.testing.assert_array_equal(shown, quiet)


@pytest.mark.parametrize("progress, tty, shown", [(None, True, True), (True, True, True), (False, True, False),
                                                  (True, False, False), (None, False, False)])
def test_forecast_emissions_progress_only_on_a_terminal(monkeypatch, progress, tty, shown):
    """progress=False or a non-terminal stderr: no bar; otherwise predict runs under one."""
    seen = []

    class Recording(FakeModel):
        def predict(self, scenario, **kwargs):
            seen.append(propagate._PROGRESS.get())
            return super().predict(scenario, **kwargs)

    monkeypatch.setattr(propagate, "_stderr_is_tty", lambda: tty)
    fc = forecast_emissions(Recording(), SimpleNamespace(name="s"), make_panel(), draws=3, random_seed=1,
                            progress=progress)
    assert fc.ds.sizes["sample"] == 3
    assert (seen[0] is not None) is shown
    assert propagate._PROGRESS.get() is None


# ------------------------------------------------------------------------------------------------
# Forecast: peak metrics on hand-made trajectories
# ------------------------------------------------------------------------------------------------

HIST_YEARS = np.arange(2013, LAST_YEAR + 1)
FC_YEARS = np.arange(LAST_YEAR + 1, 2051)
ALL_YEARS = np.concatenate([HIST_YEARS, FC_YEARS])
HORIZON = int(ALL_YEARS[-1])
N_PEAK_SAMPLES = 20
BASE = 100.0 + np.arange(N_PEAK_SAMPLES)  # peak level of sample s


def tent(peak_year: int) -> np.ndarray:
    """(sample, year) trajectories with a unique maximum BASE[s] in ``peak_year``."""
    return BASE[:, None] - np.abs(ALL_YEARS[None, :] - peak_year)


def peak_dataset() -> xr.Dataset:
    n_past = int(0.3 * N_PEAK_SAMPLES)
    bimodal = np.concatenate([tent(2016)[:n_past], tent(2040)[n_past:]])
    trajectories = {
        "rising": BASE[:, None] + (ALL_YEARS[None, :] - ALL_YEARS[0]),  # maximum at the last identifiable year
        "past": tent(2016),  # peaked in history
        "at_last_obs": tent(LAST_YEAR),  # peak in the last observed year counts as already peaked
        "peak2028": tent(2028),
        "flat": np.full((N_PEAK_SAMPLES, len(ALL_YEARS)), 50.0),
        "bimodal": bimodal,
    }
    regions = list(trajectories)
    co2 = np.stack([trajectories[r] for r in regions], axis=1)  # (sample, region, year)
    population = np.full(co2.shape, 5e7)
    ds = xr.Dataset(
        {
            "co2": (("sample", "region", "year"), co2, dict(propagate.VARIABLE_ATTRS["co2"])),
            "co2_per_capita": (("sample", "region", "year"), co2 * 1e6 / population,
                               dict(propagate.VARIABLE_ATTRS["co2_per_capita"])),
            "population": (("sample", "region", "year"), population, dict(propagate.VARIABLE_ATTRS["population"])),
        },
        coords={"sample": np.arange(N_PEAK_SAMPLES), "region": regions, "year": ALL_YEARS},
    )
    return ds.assign_coords(is_forecast=("year", ALL_YEARS > LAST_YEAR),
                            last_observed_year=("region", np.full(len(regions), LAST_YEAR)))


@pytest.fixture(scope="module")
def peak_fc() -> Forecast:
    return Forecast(peak_dataset())


def test_peak_year_per_trajectory(peak_fc):
    peak = peak_fc.peak_year()
    assert peak.dims == ("sample", "region")
    assert peak_fc.horizon == HORIZON
    # the centred 5-year mean ends two years before the horizon: a maximum there is "still rising"
    assert peak_fc.last_peak_year == HORIZON - 2
    assert (peak.sel(region="rising") == HORIZON - 2).all()
    assert (peak.sel(region="past") == 2016).all()
    assert (peak.sel(region="at_last_obs") == LAST_YEAR).all()
    assert (peak.sel(region="peak2028") == 2028).all()
    # ties: argmax takes the first maximum, so a flat trajectory "peaks" in its first identifiable year
    assert (peak.sel(region="flat") == ALL_YEARS[2]).all()
    bimodal = peak.sel(region="bimodal").values
    assert (bimodal[:6] == 2016).all() and (bimodal[6:] == 2040).all()
    np.testing.assert_array_equal(peak_fc.peak_level().sel(region="past").values, BASE)


EXPECTED_TABLE = {
    # region: p_already, p_by_2030, p_by_2035, p_no_peak, q05, q50, q95
    "rising": (0.0, 0.0, 0.0, 1.0, HORIZON - 2, HORIZON - 2, HORIZON - 2),
    "past": (1.0, 1.0, 1.0, 0.0, 2016, 2016, 2016),
    "at_last_obs": (1.0, 1.0, 1.0, 0.0, LAST_YEAR, LAST_YEAR, LAST_YEAR),
    "peak2028": (0.0, 1.0, 1.0, 0.0, 2028, 2028, 2028),
    "flat": (1.0, 1.0, 1.0, 0.0, 2015, 2015, 2015),
    "bimodal": (0.3, 0.3, 0.3, 0.0, 2016, 2040, 2040),
}


def test_peak_table_columns_and_values(peak_fc):
    table = peak_fc.peak_table()
    assert list(table.columns) == [
        "p_already_peaked", "p_peak_by_2030", "p_peak_by_2035", "p_no_peak_by_horizon",
        "peak_year_q05", "peak_year_q50", "peak_year_q95", "peak_co2_mean", "peak_co2_q05", "peak_co2_q95",
    ]
    assert table.index.name == "region"
    assert list(table.index) == list(EXPECTED_TABLE)
    for region, (p_past, p30, p35, p_none, q05, q50, q95) in EXPECTED_TABLE.items():
        row = table.loc[region]
        assert row["p_already_peaked"] == pytest.approx(p_past), region
        assert row["p_peak_by_2030"] == pytest.approx(p30), region
        assert row["p_peak_by_2035"] == pytest.approx(p35), region
        assert row["p_no_peak_by_horizon"] == pytest.approx(p_none), region
        assert (row["peak_year_q05"], row["peak_year_q50"], row["peak_year_q95"]) == (q05, q50, q95), region
    for col in ("peak_year_q05", "peak_year_q50", "peak_year_q95"):
        assert pd.api.types.is_integer_dtype(table[col])
    # peak level: the max of each trajectory (BASE[s]) for tent-shaped regions; flat = 50
    assert table.loc["peak2028", "peak_co2_mean"] == pytest.approx(BASE.mean())
    assert table.loc["peak2028", "peak_co2_q05"] == pytest.approx(np.quantile(BASE, 0.05))
    assert table.loc["peak2028", "peak_co2_q95"] == pytest.approx(np.quantile(BASE, 0.95))
    assert table.loc["rising", "peak_co2_mean"] == pytest.approx(BASE.mean() + HORIZON - ALL_YEARS[0])
    assert table.loc["flat", "peak_co2_mean"] == pytest.approx(50.0)


def test_peak_table_custom_years(peak_fc):
    table = peak_fc.peak_table(years=[2025, 2040])
    assert [c for c in table.columns if c.startswith("p_peak_by_")] == ["p_peak_by_2025", "p_peak_by_2040"]
    assert table.loc["bimodal", "p_peak_by_2040"] == pytest.approx(1.0)
    assert table.loc["peak2028", "p_peak_by_2025"] == pytest.approx(0.0)


def test_peak_year_probability(peak_fc):
    p = peak_fc.peak_year_probability(by=2030)
    assert isinstance(p, pd.Series) and p.name == "p_peak_by_2030"
    assert p.to_dict() == pytest.approx({"rising": 0.0, "past": 1.0, "at_last_obs": 1.0, "peak2028": 1.0,
                                         "flat": 1.0, "bimodal": 0.3})
    assert peak_fc.peak_year_probability(by=2039)["bimodal"] == pytest.approx(0.3)
    assert peak_fc.peak_year_probability(by=2040)["bimodal"] == pytest.approx(1.0)
    assert peak_fc.peak_year_probability(by=2027)["peak2028"] == pytest.approx(0.0)
    # a maximum at the horizon is not a peak, even when asking "by the horizon" or later
    assert peak_fc.peak_year_probability(by=HORIZON)["rising"] == 0.0
    assert peak_fc.peak_year_probability(by=HORIZON + 10)["rising"] == 0.0


def test_peak_year_distribution(peak_fc):
    dist = peak_fc.peak_year_distribution()
    assert list(dist.columns) == ["region", "peak_year", "probability"]
    sums = dist.groupby("region")["probability"].sum()
    assert set(sums.index) == set(EXPECTED_TABLE)
    np.testing.assert_allclose(sums.to_numpy(), 1.0)
    bimodal = dist[dist["region"] == "bimodal"].set_index("peak_year")["probability"].to_dict()
    assert bimodal == pytest.approx({2016: 0.3, 2040: 0.7})
    rising = dist[dist["region"] == "rising"]
    assert rising["peak_year"].tolist() == [HORIZON - 2] and rising["probability"].tolist() == [1.0]


def test_summary_is_tidy_over_forecast_years_only(peak_fc):
    summary = peak_fc.summary()
    assert list(summary.columns) == ["region", "year", "variable", "variant", "units", "observed", "mean", "q05", "q25",
                                     "q50", "q75", "q95"]
    assert not summary["observed"].any() and (summary["variant"] == "").all()
    assert set(summary["year"]) == set(FC_YEARS.tolist())
    assert set(summary["variable"]) == {"co2", "co2_per_capita"}
    assert len(summary) == len(EXPECTED_TABLE) * len(FC_YEARS) * 2
    units = summary.groupby("variable")["units"].unique()
    assert list(units["co2"]) == ["Mt CO2/yr"]
    assert list(units["co2_per_capita"]) == ["t CO2 per person per yr"]
    ds = peak_fc.ds
    row = summary[(summary["region"] == "bimodal") & (summary["year"] == 2040) & (summary["variable"] == "co2")].iloc[0]
    raw = ds["co2"].sel(region="bimodal", year=2040).values
    assert row["mean"] == pytest.approx(raw.mean())
    assert row["q05"] == pytest.approx(np.quantile(raw, 0.05))
    assert row["q95"] == pytest.approx(np.quantile(raw, 0.95))
    custom = peak_fc.summary(levels=(0.1, 0.9), variables=("co2",))
    assert list(custom.columns) == ["region", "year", "variable", "variant", "units", "observed", "mean", "q10", "q90"]
    assert set(custom["variable"]) == {"co2"}


# ------------------------------------------------------------------------------------------------
# forecast_emissions with a fake model
# ------------------------------------------------------------------------------------------------

PANEL_REGIONS = ["A", "B", "C"]


def make_panel(last_year: int = LAST_YEAR) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for i, region in enumerate(PANEL_REGIONS):
        for year in range(2005, last_year + 1):
            pop = 1e7 * (i + 1) * 1.01 ** (year - 2005)
            cpc = float(rng.uniform(1, 10))
            rows.append(dict(region=region, year=year, population=pop, gdp_per_capita=float(rng.uniform(1e3, 5e4)),
                             co2_per_capita=cpc, co2=cpc * pop / 1e6 * float(rng.uniform(0.99, 1.01))))
    return pd.DataFrame(rows)


class FakeModel:
    """Stands in for a fitted EKCModel: ``predict`` returns random but seed-determined per-capita paths."""

    def __init__(self, regions=PANEL_REGIONS, first_year=LAST_YEAR + 1, horizon=2035):
        self.regions = list(regions)
        self.years = np.arange(first_year, horizon + 1)
        self.calls = []

    def predict(self, scenario, *, draws, random_seed, regions):
        self.calls.append(dict(scenario=scenario, draws=draws, random_seed=random_seed, regions=list(regions)))
        return self.expected(draws, random_seed, regions)

    def expected(self, draws, random_seed, regions):
        rng = np.random.default_rng(random_seed)
        shape = (draws, len(regions), len(self.years))
        dims = ("sample", "region", "year")
        return xr.Dataset(
            {
                "co2_per_capita": (dims, rng.lognormal(1.0, 0.3, shape)),
                "gdp_per_capita": (dims, rng.lognormal(9.0, 0.3, shape)),
                "population": (dims, rng.lognormal(17.0, 0.3, shape)),
            },
            coords={"sample": np.arange(draws), "region": list(regions), "year": self.years},
        )


def test_forecast_emissions_joins_history_and_forecast():
    panel = make_panel()
    model = FakeModel()
    scenario = SimpleNamespace(name="fake-scenario")
    fc = forecast_emissions(model, scenario, panel, regions=["C", "A"], draws=7, random_seed=42)
    ds = fc.ds
    assert model.calls == [dict(scenario=scenario, draws=7, random_seed=42, regions=["C", "A"])]
    for name in ("co2", "co2_per_capita", "gdp_per_capita", "population"):
        assert ds[name].dims == ("sample", "region", "year"), name
        assert ds[name].attrs["units"] == propagate.VARIABLE_ATTRS[name]["units"]
    assert ds["co2"].attrs["units"] == "Mt CO2/yr"
    assert ds["co2_per_capita"].attrs["units"] == "t CO2 per person per yr"
    assert ds["population"].attrs["units"] == "people"
    assert fc.regions == ["C", "A"]
    assert ds.sizes["sample"] == 7
    np.testing.assert_array_equal(ds["year"].values, np.arange(2005, 2036))
    np.testing.assert_array_equal(ds["is_forecast"].values, ds["year"].values > LAST_YEAR)
    np.testing.assert_array_equal(ds["last_observed_year"].values, [LAST_YEAR, LAST_YEAR])
    assert ds.attrs["scenario"] == "fake-scenario"
    assert fc.horizon == 2035

    # history years: the panel's observations, identical in every sample (matched by region name)
    hist = ds.sel(year=slice(2005, LAST_YEAR))
    for region in ("C", "A"):
        obs = panel[panel["region"] == region].set_index("year")
        for name in ("co2", "co2_per_capita", "gdp_per_capita", "population"):
            values = hist[name].sel(region=region).values  # (sample, year)
            np.testing.assert_array_equal(values, np.broadcast_to(obs[name].to_numpy(), values.shape))

    # forecast years: the model's draws, and co2 = per-capita x population / 1e6 (t -> Mt)
    fut = ds.sel(year=slice(LAST_YEAR + 1, None))
    pred = model.expected(7, 42, ["C", "A"])
    for name in ("co2_per_capita", "gdp_per_capita", "population"):
        np.testing.assert_array_equal(fut[name].values, pred[name].values)
    np.testing.assert_allclose(fut["co2"].values, pred["co2_per_capita"].values * pred["population"].values / 1e6,
                               rtol=1e-14)
    assert not np.isnan(ds["co2"].values).any()


def test_forecast_emissions_drops_panel_years_the_model_forecasts():
    """If the panel runs past the model's last fitted year, the forecast years come from the model only."""
    panel = make_panel(last_year=2024)
    model = FakeModel(first_year=2023, horizon=2030)
    fc = forecast_emissions(model, SimpleNamespace(name="s"), panel, draws=3, random_seed=0)
    years = fc.ds["year"].values
    assert len(np.unique(years)) == len(years) and (np.diff(years) == 1).all()
    assert int(fc.ds["last_observed_year"].max()) == 2022
    assert fc.ds["is_forecast"].sel(year=2023).item()
    pred = model.expected(3, 0, PANEL_REGIONS)
    np.testing.assert_array_equal(fc.ds["co2_per_capita"].sel(year=[2023, 2024]).values,
                                  pred["co2_per_capita"].sel(year=[2023, 2024]).values)


def test_forecast_emissions_default_regions_and_bad_draws():
    model = FakeModel(regions=["B", "A"])
    fc = forecast_emissions(model, SimpleNamespace(name="s"), make_panel(), draws=2, random_seed=1)
    assert fc.regions == ["B", "A"]
    with pytest.raises(InputError, match="draws must be a positive integer"):
        forecast_emissions(model, SimpleNamespace(name="s"), make_panel(), draws=0)


def test_forecast_peak_uses_scenario_history_and_requires_co2():
    panel = make_panel()
    fc = forecast_peak(FakeModel(), SimpleNamespace(name="s", history=panel), draws=2, random_seed=1)
    assert fc.ds.sizes["region"] == len(PANEL_REGIONS)
    with pytest.raises(InputError, match="no 'co2' column"):
        forecast_peak(FakeModel(), SimpleNamespace(name="s", history=panel.drop(columns="co2")), draws=2)


def test_measurement_error_table_reports_the_interval_change():
    """The with/without measurement-error table: peak-year bounds of each forecast and their difference."""
    from forecast.run.pipeline import measurement_error_table

    years = np.arange(2000, 2041)

    def forecast(peaks):  # one tent-shaped trajectory per sample, peaking in the given years
        co2 = np.stack([100 - np.abs(years - p) for p in peaks])[:, None, :]
        ds = xr.Dataset({"co2": (("sample", "region", "year"), co2)},
                        coords={"sample": np.arange(len(peaks)), "region": ["A"], "year": years})
        return Forecast(ds.assign_coords(is_forecast=("year", years > 2020), last_observed_year=("region", [2020])))

    narrow = forecast(np.repeat([2024, 2026, 2028], 20))
    wide = forecast(np.repeat([2022, 2026, 2034], 20))
    table = measurement_error_table(wide, narrow).set_index("region")
    assert table.loc["A", "peak_year_q05 (with error)"] == 2022 and table.loc["A", "peak_year_q95 (with error)"] == 2034
    assert table.loc["A", "peak_year_q05 (exact data)"] == 2024 and table.loc["A", "peak_year_q95 (exact data)"] == 2028
    assert table.loc["A", "interval widening (years)"] == 12 - 4
    swapped = measurement_error_table(narrow, wide).set_index("region")
    assert swapped.loc["A", "interval widening (years)"] == -8  # a narrower interval is reported as such


@pytest.mark.parametrize("bad", [0.0, -5.0, np.nan, np.inf, -np.inf, 1e-310])
def test_simulate_rejects_gdp_that_is_not_positive_and_finite(bad):
    """Their log would be -inf, NaN or meaningless (subnormals): the call fails before any simulation,
    counting them and naming the first bad cell."""
    state = make_state(2)
    params = make_params(4, 3, 2)
    gdp = make_gdp(state, 4, 5)
    gdp[2, 1, 3] = bad
    gdp[3, 0, 4] = bad
    with pytest.raises(InputError, match=rf"positive and finite: 2 cells .*sample 2, region {state['region'].values[1]}, year {LAST_YEAR + 4}"):
        simulate_growth_paths(params, state=state, x_center=X_CENTER, degree=2, gdp_per_capita=gdp,
                              years=np.arange(LAST_YEAR + 1, LAST_YEAR + 6), rng=np.random.default_rng(0))


def test_simulate_rejects_non_positive_degrees_of_freedom():
    state = make_state(2)
    params = make_params(4, 3, 2)
    params["nu"] = np.array([5.0, 0.0, np.inf, 3.0])
    with pytest.raises(InputError, match="degrees of freedom"):
        simulate_growth_paths(params, state=state, x_center=X_CENTER, degree=2, gdp_per_capita=make_gdp(state, 4, 5),
                              years=np.arange(LAST_YEAR + 1, LAST_YEAR + 6), rng=np.random.default_rng(0))


@pytest.mark.parametrize("n_samples, n_years", [(0, 5), (4, 4)])
def test_simulate_rejects_gdp_paths_that_do_not_match_the_years(n_samples, n_years):
    state = make_state(2)
    params = make_params(max(n_samples, 1), 3, 2)
    params = {k: v[:n_samples] for k, v in params.items()}
    gdp = make_gdp(state, n_samples, n_years)
    with pytest.raises(InputError, match="GDP paths"):
        simulate_growth_paths(params, state=state, x_center=X_CENTER, degree=2, gdp_per_capita=gdp,
                              years=np.arange(LAST_YEAR + 1, LAST_YEAR + 6), rng=np.random.default_rng(0))
