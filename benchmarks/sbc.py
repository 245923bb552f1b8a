"""Simulation-based calibration (SBC) of the EKC or the land-sink model.

    python benchmarks/sbc.py --model sinks --reps 100 --draws 200
    python benchmarks/sbc.py --model ekc --reps 100 --draws 200 --wrong

Prints the uniformity p-values (chi-square over bins, ECDF gamma test) per parameter and writes the rank
histograms (``sbc_<model>.png``). ``--wrong`` also runs a deliberately miscalibrated variant: the model is
fitted with priors twice as narrow as those the true parameters are drawn from, so its p-values should
collapse for the parameters the data do not pin down (a check that the test has power).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.evaluation.sbc import ekc_sbc_setup, sbc_plot, sink_sbc_setup, uniformity_test

# priors halved in the --wrong variant (fitting side only)
NARROW = {
    "sinks": {"eps_ref": {"mu": 21.0, "sigma": 2.5, "lower": 0.0}, "decline_rate": {"mu": 0.0, "sigma": 0.015},
              "noise_sigma": {"sigma": 0.4}},
    "ekc": {"drift_mu": {"mu": 0.0, "sigma": 0.01}, "drift_income": {"mu": 0.0, "sigma": 0.01},
            "slope_mu": {"mu": 0.8, "sigma": 0.25}, "curvature_mu": {"mu": 0.0, "sigma": 0.25},
            "log_noise_mu": {"mu": -3.2, "sigma": 0.25}},
}


def _setup(model: str, reps: int, args, fit_config=None):
    common = dict(draws=args.draws, tune=args.tune, chains=args.chains, L=args.L, seed=args.seed, fit_config=fit_config)
    if model == "sinks":
        from forecast.data import load_co2_concentration

        co2 = load_co2_concentration("noaa_co2_mlo", data_dir=args.data_dir).set_index("year")
        co2 = co2.loc[1959:2024, "co2_ppm"]
        return sink_sbc_setup(co2.to_numpy(), co2.index.to_numpy(), reps, **common)
    return ekc_sbc_setup(reps, **common)


def _run(label: str, setup, args) -> pd.DataFrame:
    def progress(done, seconds):
        if done % max(1, setup.R // 10) == 0 or done == setup.R:
            print(f"  [{label}] {done}/{setup.R} fits, {seconds:.0f} s", flush=True)

    ranks = setup.run(seed=args.seed + 1, progress=progress)
    table = uniformity_test(ranks, setup.L, bins=args.bins)
    print(f"\n{label}: R = {setup.R}, L = {setup.L}, {ranks.attrs['seconds']:.0f} s")
    print(table[["chisq_p", "ecdf_p", "bins"]].to_string(float_format=lambda v: f"{v:.4f}"))
    return ranks


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("ekc", "sinks"), default="sinks")
    parser.add_argument("--reps", type=int, default=100, help="SBC replications R")
    parser.add_argument("--draws", type=int, default=200, help="posterior draws per chain")
    parser.add_argument("--tune", type=int, default=None, help="warm-up draws per chain (default 700 sinks, 400 ekc)")
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--L", type=int, default=None, help="thinned posterior draws per rank (default draws*chains/2)")
    parser.add_argument("--bins", type=int, default=None, help="chi-square / histogram bins (default min(20, R/5))")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--wrong", action="store_true", help="also run the variant fitted with priors twice as narrow")
    parser.add_argument("--data-dir", default=None, help="directory with noaa_co2_annmean_mlo.csv (sinks)")
    parser.add_argument("--out", default=".", help="directory for the plots")
    args = parser.parse_args(argv)
    if args.tune is None:
        args.tune = 700 if args.model == "sinks" else 400
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    warnings.filterwarnings("ignore")

    start = time.perf_counter()
    setup = _setup(args.model, args.reps, args)
    ranks = _run(f"{args.model} (correct)", setup, args)
    path = out / f"sbc_{args.model}.png"
    sbc_plot(ranks, setup.L, path, bins=args.bins, title=f"SBC {args.model}: R={setup.R}, L={setup.L}")
    print(f"plot: {path}")
    if args.wrong:
        narrow = {k: {"params": v} for k, v in NARROW[args.model].items()}
        # draw the truths from the library priors, fit with the narrow ones
        setup_w = _wrong_setup(args, narrow)
        ranks_w = _run(f"{args.model} (WRONG: fitting priors twice as narrow)", setup_w, args)
        path_w = out / f"sbc_{args.model}_wrong.png"
        sbc_plot(ranks_w, setup_w.L, path_w, bins=args.bins, title=f"SBC {args.model}, fitting priors 2x narrow")
        print(f"plot: {path_w}")
    print(f"total {time.perf_counter() - start:.0f} s")


def _wrong_setup(args, narrow):
    from forecast.models.ekc import EKCModel
    from forecast.models.sinks import GlobalLandSinkModel

    # generation uses the library priors: give generate_config the library entries explicitly
    cls = GlobalLandSinkModel if args.model == "sinks" else EKCModel
    lib = cls().priors()
    generate = {k: {"params": dict(lib[k].params)} for k in narrow}
    common = dict(draws=args.draws, tune=args.tune, chains=args.chains, L=args.L, seed=args.seed,
                  fit_config=narrow, generate_config=generate)
    if args.model == "sinks":
        from forecast.data import load_co2_concentration

        co2 = load_co2_concentration("noaa_co2_mlo", data_dir=args.data_dir).set_index("year").loc[1959:2024, "co2_ppm"]
        return sink_sbc_setup(co2.to_numpy(), co2.index.to_numpy(), args.reps, **common)
    return ekc_sbc_setup(args.reps, **common)


if __name__ == "__main__":
    main()
