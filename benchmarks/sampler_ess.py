"""Sampler efficiency on the default study: ESS per second of the shipped configuration vs plain PyMC.

Runs, in one process and on the same data (the default study's panel):
  1. shipped:   nutpie, mixed parameterization (the default study's settings: drifts non-centred,
                slopes and shock scales centred)
  2. nutpie, centred; nutpie, non-centred
  3. baseline:  PyMC's own NUTS (``pm.sample`` defaults), non-centred: a straightforward implementation
  4. PyMC NUTS, centred
and prints, for each, wall time (compile and sampling separately), the minimum bulk and tail ESS over all
parameters, divergences, and ESS/s (minimum bulk ESS / sampling seconds, and / total seconds incl. compile),
then the ratios against the baseline.

Usage: python benchmarks/sampler_ess.py --data-dir ../shared/data [--draws 1000 --tune 1000]
"""

from __future__ import annotations

import argparse
import time
import warnings

import arviz as az
import pandas as pd
import pymc as pm

from forecast.errors import SamplerWarning
from forecast.models.ekc import EKCModel, prepare_panel
from forecast.pipeline import build_model, load_study_panel
from forecast.sampling import diagnose
from forecast.study import default_study_path, load_study


def run(model: EKCModel, data, sampler: str, draws: int, tune: int, seed: int) -> dict:
    import nutpie

    pm_model = model.build_model(data)
    if sampler == "nutpie":
        start = time.perf_counter()
        compiled = nutpie.compile_pymc_model(pm_model)
        compile_s = time.perf_counter() - start
        start = time.perf_counter()
        idata = nutpie.sample(compiled, draws=draws, tune=tune, chains=2, cores=2, seed=seed, progress_bar=False,
                              target_accept=0.9)
        sample_s = time.perf_counter() - start
    else:
        # pm.sample compiles inside; time the logp/dlogp compilation separately to split the two
        start = time.perf_counter()
        pm_model.compile_logp()
        pm_model.compile_dlogp()
        compile_s = time.perf_counter() - start
        start = time.perf_counter()
        with pm_model:
            idata = pm.sample(draws=draws, tune=tune, chains=2, cores=2, random_seed=seed, progressbar=False,
                              compute_convergence_checks=False)
        sample_s = time.perf_counter() - start
    diag = diagnose(idata, model.parameter_names(), sampler=sampler)
    return {
        "compile_s": compile_s,
        "sample_s": sample_s,
        "min_ess_bulk": diag.min_ess_bulk,
        "min_ess_tail": diag.min_ess_tail,
        "max_r_hat": diag.max_r_hat,
        "divergences": diag.divergences,
        "ess_per_s": diag.min_ess_bulk / sample_s,
        "ess_per_s_incl_compile": diag.min_ess_bulk / (sample_s + compile_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default=None, help="study file (default: the built-in global study)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    warnings.simplefilter("ignore", SamplerWarning)
    warnings.simplefilter("ignore", FutureWarning)

    study = load_study(args.study or default_study_path())
    panel = load_study_panel(study, data_dir=args.data_dir)
    base = build_model(study)
    data = prepare_panel(panel, degree=base.degree, min_years=base.min_years)
    print(f"panel: {panel['region'].nunique()} regions, {len(data.dy)} year-on-year changes; "
          f"draws={args.draws} tune={args.tune} chains=2")

    configs = {
        "shipped: nutpie, mixed": ("nutpie", "mixed"),
        "nutpie, centred": ("nutpie", "centered"),
        "nutpie, non-centred": ("nutpie", "non_centered"),
        "baseline: PyMC NUTS, non-centred": ("pymc", "non_centered"),
        "PyMC NUTS, centred": ("pymc", "centered"),
    }
    rows = {}
    for label, (sampler, param) in configs.items():
        model = build_model(study.with_overrides(model={"parameterization": param}))
        rows[label] = run(model, data, sampler, args.draws, args.tune, args.seed)
        print(f"  done: {label}: {rows[label]['ess_per_s']:.1f} ESS/s", flush=True)
    table = pd.DataFrame(rows).T
    baseline = table.loc["baseline: PyMC NUTS, non-centred"]
    table["ratio_vs_baseline"] = table["ess_per_s"] / baseline["ess_per_s"]
    table["ratio_vs_baseline_incl_compile"] = table["ess_per_s_incl_compile"] / baseline["ess_per_s_incl_compile"]
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:,.2f}".format):
        print(table)


if __name__ == "__main__":
    main()
