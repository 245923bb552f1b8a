"""Propagation throughput: vectorised simulate_growth_paths vs a naive loop over draws and regions.

Usage: python benchmarks/propagation.py [--samples 2000] [--regions 98] [--years 38]
Prints draw·region·year cells per second for both and the ratio, measured in one run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import xarray as xr

from forecast.propagate import _shocks, simulate_growth_paths


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
    """The same model, one trajectory at a time (what a first implementation would write)."""
    n_samples, n_regions, n_years = gdp.shape
    out = np.empty_like(gdp)
    for s in range(n_samples):
        for r in range(n_regions):
            x_prev = state["last_x"].values[r]
            terms = state["last_dx_terms"].values[r]
            u = state["last_dy"].values[r] - (params["drift"][s, r] + params["slope"][s, r] * terms[0]
                                              + params["curvature"][s, r] * terms[1]
                                              + params["drift_income"][s] * state["last_x_prev"].values[r])
            y = state["last_log_co2_per_capita"].values[r]
            eps = _shocks(params["nu"][s:s + 1], (1, 1, n_years), rng)[0, 0]
            for h in range(n_years):
                x = np.log(gdp[s, r, h]) - x_center
                mean = (params["drift"][s, r] + params["slope"][s, r] * (x - x_prev)
                        + params["curvature"][s, r] * (x * x - x_prev * x_prev) + params["drift_income"][s] * x_prev)
                u = params["phi"][s] * u + params["sigma"][s, r] * eps[h]
                y = y + mean + u
                out[s, r, h] = np.exp(y)
                x_prev = x
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--regions", type=int, default=98)
    parser.add_argument("--years", type=int, default=38)
    parser.add_argument("--naive-samples", type=int, default=40, help="samples for the (slow) naive loop")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    years = np.arange(2023, 2023 + args.years)

    params, state = fake_posterior(args.samples, args.regions, rng)
    gdp = np.exp(rng.normal(9.5, 1.0, (1, args.regions, 1)) + np.cumsum(rng.normal(0.02, 0.02, (args.samples, args.regions, args.years)), axis=-1))
    # first call compiles (or loads from cache) the numba kernel: time it apart
    start = time.perf_counter()
    simulate_growth_paths({k: v[:2] for k, v in params.items()}, state=state, x_center=9.5, degree=2,
                          gdp_per_capita=gdp[:2], years=years, rng=rng)
    print(f"kernel compile/load: {time.perf_counter() - start:.2f} s")
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        simulate_growth_paths(params, state=state, x_center=9.5, degree=2, gdp_per_capita=gdp, years=years, rng=rng)
        timings.append(time.perf_counter() - start)
    fast = min(timings)
    cells = gdp.size

    n = args.naive_samples
    small = {k: (v[:n] if v.ndim >= 1 else v) for k, v in params.items()}
    start = time.perf_counter()
    naive(small, state, 9.5, gdp[:n], years, rng)
    slow = time.perf_counter() - start
    slow_cells = n * args.regions * args.years

    fast_rate, slow_rate = cells / fast, slow_cells / slow
    print(f"vectorised (best of 3): {cells:,} cells in {fast:.3f} s = {fast_rate / 1e6:,.1f} M cells/s")
    print(f"naive loop: {slow_cells:,} cells in {slow:.3f} s = {slow_rate / 1e6:,.3f} M cells/s")
    print(f"ratio vectorised / naive: {fast_rate / slow_rate:,.0f}x")


if __name__ == "__main__":
    main()
