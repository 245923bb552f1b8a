"""Do empty region slots change the posterior? One backtest cutoff of the default study fitted twice with the
same seed: as the backtest did before (one region entry per country) and as it does now (``region_slots``
entries, the extra ones without data, as :func:`forecast.evaluation.backtest.run_backtest` lays them out).

    python benchmarks/padding_posterior.py --data-dir ../shared/data --cutoff 1994 --slots 91 --draws 1000

Mathematically the posterior of every parameter with data is the same (a slot without data has a
prior-only parameter that integrates to one); the draws differ. Prints per parameter the two posterior
means, their difference in combined Monte Carlo standard errors (``z``), the ratio of the posterior sds and
the bulk ESS of each fit,
for the population-level parameters and the fitted regions' drifts and shock scales. |z| above about 4 in
more than a stray parameter would mean the slots change what is sampled. Writes
``benchmarks/results/padding_posterior.json`` with the seed, data SHA-256 and package version.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import arviz as az
import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("CARBON_FORECAST_DATA", "../shared/data"))
    parser.add_argument("--cutoff", type=int, default=1994)
    parser.add_argument("--slots", type=int, default=91)
    parser.add_argument("--model", default="kaya")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "padding_posterior.json"))
    args = parser.parse_args()

    from forecast import __version__
    from forecast.data import data_info
    from forecast.errors import SamplerWarning
    from forecast.evaluation.backtest import DEFAULT_FIT_YEARS, cutoff_study
    from forecast.run.pipeline import build_model, fit_model, load_study_panel
    from forecast.run.study import default_study_path, load_study

    study = load_study(default_study_path())
    spec, start = cutoff_study(study, args.cutoff, 1750, fit_years=DEFAULT_FIT_YEARS, draws=args.draws,
                               tune=args.tune, model=args.model, scenario="history")
    panel = load_study_panel(spec, data_dir=args.data_dir)
    fits, seconds = {}, {}
    for name, slots in (("one_entry_per_region", None), ("with_empty_slots", args.slots)):
        model = build_model(spec, panel, data_dir=args.data_dir)
        model.region_slots = slots
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SamplerWarning)
            fits[name] = fit_model(spec, model, panel, seed=args.seed)
        seconds[name] = round(time.perf_counter() - t0, 1)
    names = [n for n in fits["one_entry_per_region"].parameter_names() if not n.endswith("_offset")]
    a, b = (az.summary(f.idata, var_names=names, round_to="none") for f in fits.values())
    z = (b["mean"] - a["mean"]) / np.hypot(a["mcse_mean"], b["mcse_mean"])
    table = {k: {"mean": [round(float(a.loc[k, "mean"]), 5), round(float(b.loc[k, "mean"]), 5)],
                 "z": round(float(z[k]), 2), "sd_ratio": round(float(b.loc[k, "sd"] / a.loc[k, "sd"]), 3),
                 "ess_bulk": [round(float(a.loc[k, "ess_bulk"])), round(float(b.loc[k, "ess_bulk"]))]}
             for k in a.index}
    report = {
        "command": " ".join(["python", *sys.argv]), "cutoff": args.cutoff, "fit_start": start,
        "regions": int(panel["region"].nunique()), "slots": args.slots, "model": args.model, "draws": args.draws,
        "tune": args.tune, "seed": args.seed, "package_version": __version__,
        "data_sha256": data_info("owid", data_dir=args.data_dir)["provenance"]["sha256"],
        "seconds": seconds,
        "diagnostics": {k: {"max_r_hat": round(f.diagnostics.max_r_hat, 3),
                            "min_ess_bulk": round(f.diagnostics.min_ess_bulk), "divergences": f.diagnostics.divergences}
                        for k, f in fits.items()},
        "parameters": len(z), "abs_z_above_3": int((z.abs() > 3).sum()), "abs_z_above_4": int((z.abs() > 4).sum()),
        "max_abs_z": round(float(z.abs().max()), 2),
        "population_level": {k: v for k, v in table.items() if "[" not in k},
        "largest_abs_z": dict(sorted(table.items(), key=lambda kv: -abs(kv[1]["z"]))[:8]),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
