"""Wall time of a whole backtest of one emission model, split into compiling, sampling and the rest.

    python benchmarks/backtest_speed.py --data-dir ../shared/data --cutoffs 1970:2012:1 --model kaya

Runs ``run_backtest`` of the default study (all countries it selects, rolling 33-year windows, the CLI's
default sampler settings) over the cutoffs, then measures how long compiling the model for nutpie takes at
a few of them (a fresh compile of the same model the backtest fitted). Prints and writes
``benchmarks/results/backtest_speed.json`` with the seed, data SHA-256, package version and machine.
Everything else in a backtest (forecasting, scoring) is reported as the remainder.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np


def compile_seconds(study, cutoff: int, model_type: str, data_dir) -> float:
    """Seconds nutpie needs to compile the backtest's model at ``cutoff`` (not cached: a new compile)."""
    import nutpie

    from forecast.evaluation.backtest import DEFAULT_FIT_YEARS, fit_window
    from forecast.run.pipeline import build_model, load_study_panel

    start, _ = fit_window(study, cutoff, DEFAULT_FIT_YEARS, 1750)
    spec = study.with_overrides(data={"years": [start, cutoff], "min_years": min(study.data.min_years, cutoff - start + 1)},
                                model={"type": model_type})
    panel = load_study_panel(spec, data_dir=data_dir)
    model = build_model(spec, panel, data_dir=data_dir)
    pm_model = model.build_model(model.prepare(panel))
    t0 = time.perf_counter()
    nutpie.compile_pymc_model(pm_model)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("CARBON_FORECAST_DATA", "../shared/data"))
    parser.add_argument("--cutoffs", default="1970:2012:1")
    parser.add_argument("--model", default="kaya")
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--tune", type=int, default=400)
    parser.add_argument("--forecast-draws", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "backtest_speed.json"))
    args = parser.parse_args()

    from forecast import __version__
    from forecast.data import data_info
    from forecast.evaluation.backtest import parse_cutoffs, run_backtest
    from forecast.run.study import default_study_path, load_study

    study = load_study(default_study_path())
    cutoffs = parse_cutoffs(args.cutoffs)
    t0 = time.perf_counter()
    result = run_backtest(study, cutoffs, data_dir=args.data_dir, draws=args.draws, tune=args.tune,
                          forecast_draws=args.forecast_draws, seed=args.seed, model=args.model, scenario="history")
    total = time.perf_counter() - t0
    fit = float(result.fits["fit_seconds"].sum())
    probes = [cutoffs[0], cutoffs[len(cutoffs) // 2], cutoffs[-1]]
    compile_probe = [compile_seconds(study, c, args.model, args.data_dir) for c in probes]
    compile_total = float(np.mean(compile_probe)) * len(cutoffs)
    scores = result.scores(n_boot=200)
    auc10 = scores[(scores["target"] == "peak within 10 y") & (scores["statistic"] == "auc")].iloc[0]
    report = {
        "cutoffs": cutoffs, "model": args.model, "draws": args.draws, "tune": args.tune,
        "forecast_draws": args.forecast_draws, "seed": args.seed, "package_version": __version__,
        "data_sha256": data_info("owid", data_dir=args.data_dir)["provenance"]["sha256"],
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "total_seconds": round(total, 1), "seconds_per_cutoff": round(total / len(cutoffs), 1),
        "fit_seconds": round(fit, 1), "compile_seconds_estimate": round(compile_total, 1),
        "compile_probe_seconds": dict(zip(map(str, probes), [round(c, 1) for c in compile_probe])),
        "sampling_seconds_estimate": round(fit - compile_total, 1),
        "forecast_and_scoring_seconds": round(total - fit, 1),
        "auc_peak_within_10y": [round(float(auc10[k]), 3) for k in ("estimate", "low", "high")],
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
