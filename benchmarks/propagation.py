"""Propagation throughput: vectorised simulate_growth_paths vs a naive loop over draws and regions.

Usage: python benchmarks/propagation.py [--samples 2000] [--regions 98] [--years 38] [--repeat 10]
Prints draw·region·year cells per second for both and the ratio, measured in one run, and how the
vectorised time splits between drawing the Student-t shocks (NumPy) and the recursion given them (numba).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # measure this checkout, not the installed copy
from forecast.projection.propagate import _shocks, simulate_growth_paths  # noqa: E402


def fake_posterior(n_samples: int, n_regions: int, rng: np.random.Generator) -> tuple[dict, xr.Dataset]:
    """Posterior-like parameter draws with the magnitudes fitted on the OWID panel."""
    params = {
        "drift": rng.normal(-0.006, 0.01, (n_samples, n_regions)),
        "slope": rng.normal(0.7, 0.2, (n_samples, n_regions)),
        "curvature": np.repeat(rng.normal(0.05, 0.015, (n_samples, 1)), n_regions, axis=1),
        "sigma": np.exp(rng.normal(-3.0, 0.5, (n_samples, n_regions))),
        "cubic": np.zeros(n_samples),
        "phi": rng.normal(-0.03, 0.02, n_samples),
        "nu": rng.normal(4.3, 0.4, n_samples),
        "drift_income": rng.normal(-0.011, 0.001, n_samples),
    }
    state = xr.Dataset(
        {
            "last_year": ("region", np.full(n_regions, 2022)),
            "last_log_co2_per_capita": ("region", rng.normal(1.0, 1.0, n_regions)),
            "last_x": ("region", rng.normal(0.0, 1.0, n_regions)),
            "last_dy": ("region", rng.normal(0.0, 0.03, n_regions)),
            "last_dx_terms": (("region", "term"), rng.normal(0.0, 0.02, (n_regions, 2))),
            "last_x_prev": ("region", rng.normal(0.0, 1.0, n_regions)),
        }
    )
    return params, state


def naive(params, state, x_center, gdp, years, rng):
    """The same model, one trajectory at a time (what a first implementation would write).

    The Student-t shocks are drawn once up front with the same generator code as the vectorised path
    (``_shocks``: one call for the whole cube), so the comparison measures the recursion, not per-trajectory
    seeding overhead. The state is read out of xarray once; each trajectory takes the log of its GDP path
    with NumPy and runs the year recursion on Python floats. Given the same ``rng`` state it returns the
    same numbers as ``simulate_growth_paths`` (checked in ``main``)."""
    n_samples, n_regions, n_years = gdp.shape
    out = np.empty_like(gdp)
    shocks = _shocks(params["nu"], (n_samples, n_regions, n_years), rng).astype(np.float64)
    last_x, last_dy = state["last_x"].values, state["last_dy"].values
    terms_all, last_x_prev = state["last_dx_terms"].values, state["last_x_prev"].values
    last_y = state["last_log_co2_per_capita"].values
    for s in range(n_samples):
        phi, income = float(params["phi"][s]), float(params["drift_income"][s])
        for r in range(n_regions):
            drift, slope = float(params["drift"][s, r]), float(params["slope"][s, r])
            curv, sigma = float(params["curvature"][s, r]), float(params["sigma"][s, r])
            x_prev = float(last_x[r])
            terms = terms_all[r]
            u = float(last_dy[r] - (drift + slope * terms[0] + curv * terms[1] + income * last_x_prev[r]))
            y = float(last_y[r])
            xs = (np.log(gdp[s, r]) - x_center).tolist()
            eps = shocks[s, r].tolist()
            path = [0.0] * n_years
            for h in range(n_years):
                x = xs[h]
                mean = drift + income * x_prev + slope * (x - x_prev) + curv * (x * x - x_prev * x_prev)
                u = phi * u + sigma * eps[h]
                y += mean + u
                path[h] = y
                x_prev = x
            out[s, r] = np.exp(path)
    return out


def best_of(repeat: int, fn) -> float:
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        timings.append(time.perf_counter() - start)
    return min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--regions", type=int, default=98)
    parser.add_argument("--years", type=int, default=38)
    parser.add_argument("--repeat", type=int, default=10, help="timed runs of the vectorised path (best is kept)")
    parser.add_argument("--naive-samples", type=int, default=200, help="samples for the naive loop (~1 s)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    years = np.arange(2023, 2023 + args.years)

    params, state = fake_posterior(args.samples, args.regions, rng)
    gdp = np.exp(rng.normal(9.5, 1.0, (1, args.regions, 1)) + np.cumsum(rng.normal(0.02, 0.02, (args.samples, args.regions, args.years)), axis=-1))
    # first call compiles (or loads from cache) the numba kernel: time it apart
    start = time.perf_counter()
    simulate_growth_paths({k: v[:2] for k, v in params.items()}, state=state, x_center=9.5, degree=2,
                          gdp_per_capita=gdp[:2], years=years, rng=rng)
    _shocks(params["nu"][:2], (2, args.regions, args.years), rng)  # the naive loop draws its shocks with it
    print(f"kernel compile/load: {time.perf_counter() - start:.2f} s")
    run = lambda **kw: simulate_growth_paths(params, state=state, x_center=9.5, degree=2,  # noqa: E731
                                             gdp_per_capita=gdp, years=years, rng=rng, **kw)
    fast = best_of(args.repeat, run)
    cells = gdp.size

    n = args.naive_samples
    small = {k: (v[:n] if v.ndim >= 1 else v) for k, v in params.items()}
    # same model, same shocks: both implementations agree number for number (to the rounding of log and exp)
    check = simulate_growth_paths(small, state=state, x_center=9.5, degree=2, gdp_per_capita=gdp[:n], years=years,
                                  rng=np.random.default_rng(1))
    start = time.perf_counter()
    reference = naive(small, state, 9.5, gdp[:n], years, np.random.default_rng(1))
    slow = time.perf_counter() - start
    np.testing.assert_allclose(reference, check, rtol=1e-12)
    slow_cells = n * args.regions * args.years

    fast_rate, slow_rate = cells / fast, slow_cells / slow
    print(f"vectorised (best of {args.repeat}): {cells:,} cells in {fast:.3f} s = {fast_rate / 1e6:,.1f} M cells/s")
    print(f"naive loop: {slow_cells:,} cells in {slow:.3f} s = {slow_rate / 1e6:,.3f} M cells/s")
    print(f"ratio vectorised / naive: {fast_rate / slow_rate:,.0f}x")

    # where the vectorised time goes (same run, same sizes)
    shocks = _shocks(params["nu"], gdp.shape, rng)
    parts = {
        "Student-t shocks alone (NumPy)": best_of(args.repeat, lambda: _shocks(params["nu"], gdp.shape, rng)),
        "paths with given shocks (no drawing)": best_of(args.repeat, lambda: run(shocks=shocks)),
    }
    for label, seconds in parts.items():
        print(f"  {label}: {seconds * 1e3:.1f} ms = {cells / seconds / 1e6:,.0f} M cells/s")


if __name__ == "__main__":
    main()
