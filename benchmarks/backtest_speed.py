"""Wall time of a backtest of one emission model, compiling the model at every cutoff against compiling it
once and swapping each cutoff's data in; and whether the two give the same scores.

    python benchmarks/backtest_speed.py --data-dir ../shared/data --cutoffs 1970:2012:1 --model kaya

Runs ``run_backtest`` of the default study (all countries it selects, rolling 33-year windows, the CLI's
default sampler settings) over the cutoffs twice, in one process and on the same machine load:
``recompile`` (``reuse_compiled=False``, a nutpie compile per cutoff, as before) and ``reuse`` (one compiled
model, data swapped in with ``with_data``: :class:`forecast.models.sampling.CompiledModelCache`). Reports
seconds per cutoff of each and their ratio, and whether the scores agree: each path's estimate of each
headline score inside the other's cluster-bootstrap interval (``estimates_within_each_others_intervals``),
and which paired differences (reuse minus recompile, cluster bootstrap over cutoffs) have an interval
that excludes 0 (``paired_differences_resolved``). The two paths sample different draws (the reused
model carries empty region slots, so the sampler's state differs) with the same forecast seed, so the
paired differences are Monte Carlo error; with few cutoffs the bootstrap over them is narrow, and at the
90 % level about one in ten paired differences is expected to come out "resolved" by chance. The
yardstick is a third run, ``reuse_control``: the reuse path with 5 more region slots, i.e. another Monte
Carlo realisation of the same posteriors with the same seeds; its paired differences against ``reuse``
(``monte_carlo_control``) show how large differences from Monte Carlo error alone come out.
``benchmarks/padding_posterior.py`` checks the posterior itself at one cutoff with long chains. Writes ``benchmarks/results/backtest_speed.json`` with the
command, seed, data SHA-256, package version and machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

PATHS = ("recompile", "reuse", "reuse_control")
#: extra region slots of the control run: another layout of the same model, so another Monte Carlo
#: realisation of the same posterior with the same seeds
CONTROL_EXTRA_SLOTS = 5


def run_path(study, cutoffs, args, reuse: bool, extra_slots: int = 0) -> dict:
    """One backtest; its result, seconds and how many compilations it made."""
    from forecast.evaluation.backtest import region_slot_count, run_backtest

    cache: dict = {}
    slots = None
    if extra_slots:
        slots = extra_slots + region_slot_count(study, cutoffs, 1750, data_dir=args.data_dir, fit_years=33)
    t0 = time.perf_counter()
    result = run_backtest(study, cutoffs, data_dir=args.data_dir, draws=args.draws, tune=args.tune,
                          forecast_draws=args.forecast_draws, seed=args.seed, model=args.model, scenario="history",
                          driver_cache=cache, reuse_compiled=reuse, region_slots=slots)
    seconds = time.perf_counter() - t0
    compiled = cache.get("compiled_models")
    fits = result.fits
    return {"result": result, "seconds": seconds,
            "summary": {"total_seconds": round(seconds, 1), "seconds_per_cutoff": round(seconds / len(cutoffs), 1),
                        "fit_seconds": round(float(fits["fit_seconds"].sum()), 1),
                        "forecast_and_scoring_seconds": round(seconds - float(fits["fit_seconds"].sum()), 1),
                        "compiles": compiled.compiles if compiled is not None else len(cutoffs),
                        "region_slots": result.settings.get("region_slots"),
                        "fits_with_sampler_warnings": int((fits["sampler_warnings"] > 0).sum()),
                        "max_r_hat": round(float(fits["max_r_hat"].max()), 3),
                        "divergences": int(fits["divergences"].sum())}}


def agreement(results: dict, n_boot: int, names=("recompile", "reuse")) -> tuple[list[dict], dict]:
    """Headline scores of two paths with their intervals and the paired difference (second - first)."""
    from forecast.evaluation.backtest import COMPARISON_METRICS, paired_differences

    results = {name: results[name] for name in names}
    scores = {name: run["result"].scores(n_boot=n_boot) for name, run in results.items()}
    rows = []
    for kind, target, statistic, _ in COMPARISON_METRICS:
        row = {"kind": kind, "target": target, "statistic": statistic}
        for name, table in scores.items():
            hit = table[(table["kind"] == kind) & (table["target"] == target) & (table["statistic"] == statistic)]
            row[name] = [round(float(hit.iloc[0][k]), 4) for k in ("estimate", "low", "high")] if len(hit) else None
        a, b = row[names[0]], row[names[1]]
        if a and b and np.isfinite(a[1]) and np.isfinite(b[1]):  # statistics without an interval are not checked
            row["each_inside_the_others_interval"] = bool(a[1] <= b[0] <= a[2] and b[1] <= a[0] <= b[2])
        rows.append(row)
    paired = paired_differences({name: run["result"] for name, run in results.items()}, n_boot=n_boot)
    for _, r in paired.iterrows():
        rows.append({"kind": f"paired difference ({names[1]} - {names[0]})", "target": r["target"],
                     "statistic": r["statistic"], "estimate": round(float(r["estimate"]), 4),
                     "interval": [round(float(r["low"]), 4), round(float(r["high"]), 4)],
                     "resolved": bool(r["resolved"])})
    verdict = {
        "estimates_within_each_others_intervals": bool(all(
            r["each_inside_the_others_interval"] for r in rows if "each_inside_the_others_interval" in r)),
        "paired_differences_resolved": [f"{r['target']}: {r['statistic']}" for r in rows if r.get("resolved")],
        "paired_differences_tested": sum("resolved" in r for r in rows),
    }
    return rows, verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("CARBON_FORECAST_DATA", "../shared/data"))
    parser.add_argument("--cutoffs", default="1970:2012:1")
    parser.add_argument("--model", default="kaya")
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--tune", type=int, default=400)
    parser.add_argument("--forecast-draws", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--n-boot", type=int, default=500)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "backtest_speed.json"))
    args = parser.parse_args()

    from forecast import __version__
    from forecast.data import data_info
    from forecast.evaluation.backtest import parse_cutoffs
    from forecast.run.study import default_study_path, load_study

    study = load_study(default_study_path())
    cutoffs = parse_cutoffs(args.cutoffs)
    results = {name: run_path(study, cutoffs, args, reuse=name != "recompile",
                              extra_slots=CONTROL_EXTRA_SLOTS if name == "reuse_control" else 0) for name in PATHS}
    rows, verdict = agreement(results, args.n_boot)
    # the yardstick: two runs that differ by Monte Carlo error alone (same posterior, same seeds)
    control_rows, control = agreement(results, args.n_boot, names=("reuse", "reuse_control"))
    report = {
        "command": " ".join(["python", *sys.argv]),
        "cutoffs": cutoffs, "model": args.model, "draws": args.draws, "tune": args.tune,
        "forecast_draws": args.forecast_draws, "seed": args.seed, "n_boot": args.n_boot,
        "package_version": __version__,
        "data_sha256": data_info("owid", data_dir=args.data_dir)["provenance"]["sha256"],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        **{name: run["summary"] for name, run in results.items()},
        "speedup_total": round(results["recompile"]["seconds"] / results["reuse"]["seconds"], 2),
        "seconds_per_cutoff_saved": round((results["recompile"]["seconds"] - results["reuse"]["seconds"])
                                          / len(cutoffs), 1),
        "scores_agree": verdict,
        "monte_carlo_control": control,
        "scores": rows,
        "control_scores": control_rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
