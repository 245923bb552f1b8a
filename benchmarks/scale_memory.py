"""Peak memory of in-memory vs chunked forecasts as the number of draws grows 10x.

Each measurement runs in a fresh child process (so peaks do not leak between runs) on the synthetic
fitted EKC of :func:`forecast.projection.scale.synthetic_ekc` (30 regions, forecast 2023-2060 = 38 years):

* ``in-memory``: ``model.predict`` + total CO2 + numpy quantile bands + ``Forecast.peak_table``-style peak
  probabilities on the full cube;
* ``chunked``: ``predict_chunked(chunk=1000)`` + ``reduce_quantiles`` + ``peak_year_chunked`` (dask threads).

Reported: peak RSS of the child minus its RSS after imports and set-up (``ru_maxrss`` / psutil-free), and
the tracemalloc peak (NumPy allocations; numba's own allocations are not traced, RSS covers them).

Run: ``python benchmarks/scale_memory.py [N]`` (default N = 2000, so 2,000 and 20,000 draws).
"""

from __future__ import annotations

import json
import subprocess
import sys


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _child(mode: str, draws: int) -> None:
    import resource
    import time
    import tracemalloc

    import dask
    import numpy as np

    from forecast.projection.propagate import forecast_emissions
    from forecast.projection.scale import peak_year_chunked, predict_chunked, reduce_quantiles, synthetic_ekc

    model, scenario, panel = synthetic_ekc(30, horizon=2060, posterior_draws=1000, seed=0)
    model.predict(scenario, draws=10, random_seed=0)  # warm-up: numba compile / cache load
    peak_year_chunked(predict_chunked(model, scenario, draws=10, random_seed=0, chunk=10), history=panel)
    base_rss = _rss_mb()
    # ru_maxrss cannot be reset: read it before, and only trust the "after" value when it exceeds it
    base_max = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    start = time.perf_counter()
    if mode == "in-memory":
        fc = forecast_emissions(model, scenario, panel, draws=draws, random_seed=1)
        fc_ds = fc.ds.sel(year=fc.ds["is_forecast"])
        np.quantile(fc_ds["co2"].values, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
        fc.peak_year_probability(2030)
        n_samples = fc.ds.sizes["sample"]
    else:
        with dask.config.set(scheduler="threads", num_workers=2):
            ds = predict_chunked(model, scenario, draws=draws, random_seed=1, chunk=1000)
            reduce_quantiles(ds)
            peak_year_chunked(ds, history=panel)
        n_samples = ds.sizes["sample"]
    seconds = time.perf_counter() - start
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak_max = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"mode": mode, "draws": n_samples, "rss_peak_over_base_mb": max(peak_max, base_rss) - base_rss,
                      "base_rss_mb": base_rss, "base_max_mb": base_max, "tracemalloc_peak_mb": traced_peak / 2**20,
                      "seconds": seconds}))


def main(n: int = 2000) -> list[dict]:
    rows = []
    for mode in ("in-memory", "chunked"):
        for draws in (n, 10 * n):
            out = subprocess.run([sys.executable, __file__, "--child", mode, str(draws)], capture_output=True,
                                 text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    cube_mb = lambda d: d * 30 * 38 * 8 / 2**20  # noqa: E731 - one float64 (sample, region, year) array
    print(f"{'mode':<10} {'draws':>7} {'one cube MB':>11} {'peak RSS over base MB':>22} {'tracemalloc peak MB':>20} {'s':>6}")
    for r in rows:
        print(f"{r['mode']:<10} {r['draws']:>7} {cube_mb(r['draws']):>11.1f} {r['rss_peak_over_base_mb']:>22.1f} "
              f"{r['tracemalloc_peak_mb']:>20.1f} {r['seconds']:>6.1f}")
    for mode in ("in-memory", "chunked"):
        a, b = [r for r in rows if r["mode"] == mode]
        ratio_rss = b["rss_peak_over_base_mb"] / max(a["rss_peak_over_base_mb"], 1e-9)
        ratio_tm = b["tracemalloc_peak_mb"] / max(a["tracemalloc_peak_mb"], 1e-9)
        print(f"{mode}: 10x draws -> peak RSS x{ratio_rss:.1f}, tracemalloc peak x{ratio_tm:.1f}")
    return rows


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], int(sys.argv[3]))
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
