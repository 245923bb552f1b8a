"""Sampler efficiency on the default study: ESS per second of the shipped configuration vs plain PyMC.

Runs, in one process and on the same data (the default study's panel):
  1. shipped:   nutpie, mixed parameterization (the default study's settings: drifts non-centred,
                slopes and shock scales centred)
  2. nutpie, centred; nutpie, non-centred
  3. baseline:  PyMC's own NUTS (``pm.sample`` defaults), non-centred: a straightforward implementation
  4. PyMC NUTS, centred
  5. numpyro NUTS through PyMC (``pm.sample(nuts_sampler="numpyro")``), non-centred, when the optional
     ``bench`` extra is installed (``pip install -e ".[bench]"``). It runs in a child process of this
     script: JAX starts threads at import, and ``pm.sample(cores=2)`` forks worker processes, which must not
     happen after JAX is loaded. The two chains run in parallel on two XLA host devices. JAX compiles the
     whole sampling loop inside ``MCMC.run``: compile_s is the wall time of a 10 + 10-draw warm-up call,
     sample_s the full call's ``sampling_time`` minus the warm-up's (i.e. net of the loop's compilation),
     and ``ess_per_s_incl_compile`` uses the full call's wall time (it compiles again).
and prints, for each, wall time (compile and sampling separately), the minimum bulk and tail ESS over all
parameters, divergences, and ESS/s (minimum bulk ESS / sampling seconds, and / total seconds incl. compile),
then the ratios against the baseline. The table is also written as CSV (``--csv``, default
``benchmarks/results/sampler_ess.csv``).

Usage: python benchmarks/sampler_ess.py --data-dir ../shared/data [--draws 1000 --tune 1000] [--no-numpyro]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import arviz as az
import pandas as pd
import pymc as pm

from forecast.errors import SamplerWarning
from forecast.models.ekc import EKCModel, prepare_panel
from forecast.run.pipeline import build_model, load_study_panel
from forecast.models.sampling import diagnose
from forecast.run.study import default_study_path, load_study


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
    return _row(diag, compile_s, sample_s, sample_s + compile_s)


def _row(diag, compile_s: float, sample_s: float, total_s: float) -> dict:
    """One benchmark row: ESS/s over the sampling time, and over ``total_s`` (compile included)."""
    return {
        "compile_s": compile_s,
        "sample_s": sample_s,
        "min_ess_bulk": diag.min_ess_bulk,
        "min_ess_tail": diag.min_ess_tail,
        "max_r_hat": diag.max_r_hat,
        "divergences": diag.divergences,
        "ess_per_s": diag.min_ess_bulk / sample_s,
        "ess_per_s_incl_compile": diag.min_ess_bulk / total_s,
    }


NUMPYRO_LABEL = "numpyro NUTS (via PyMC), non-centred"
_WORKER_MARK = "SAMPLER_ESS_ROW "


def run_numpyro(model: EKCModel, data, draws: int, tune: int, seed: int) -> dict:
    """numpyro NUTS through ``pm.sample``; only ever called in the child process (see module docstring)."""
    pm_model = model.build_model(data)
    kwargs = dict(chains=2, random_seed=seed, progressbar=False, compute_convergence_checks=False,
                  nuts_sampler="numpyro", nuts_sampler_kwargs={"chain_method": "parallel"})
    with pm_model:
        # warm-up call: JAX import, pytensor -> JAX conversion, XLA compilation of the sampling loop, 20 steps
        start = time.perf_counter()
        warm = pm.sample(draws=10, tune=10, **kwargs)
        compile_s = time.perf_counter() - start
        start = time.perf_counter()
        idata = pm.sample(draws=draws, tune=tune, **kwargs)
        total_s = time.perf_counter() - start
    # "sampling_time" is the time inside numpyro's MCMC.run, which compiles the loop first: the warm-up
    # call's value is (almost) that compilation, so the difference is the time spent sampling
    sample_s = idata.posterior.attrs["sampling_time"] - warm.posterior.attrs["sampling_time"]
    if sample_s <= 0:
        raise RuntimeError(f"numpyro sampling time not measurable (draws={draws}, tune={tune}): use more draws")
    diag = diagnose(idata, model.parameter_names(), sampler="numpyro")
    return _row(diag, compile_s, sample_s, total_s)  # total: one full pm.sample call, JAX already imported


def numpyro_row(args) -> dict | None:
    """Run :func:`run_numpyro` in a child process (fresh interpreter, two XLA host devices)."""
    import importlib.util

    missing = [m for m in ("numpyro", "jax") if importlib.util.find_spec(m) is None]
    if missing:
        print(f"  skipped: {NUMPYRO_LABEL}: {', '.join(missing)} not installed (pip install -e \".[bench]\")")
        return None
    cmd = [sys.executable, str(Path(__file__).resolve()), "--numpyro-worker", "--draws", str(args.draws),
           "--tune", str(args.tune), "--seed", str(args.seed)]
    if args.study:
        cmd += ["--study", str(args.study)]
    if args.data_dir:
        cmd += ["--data-dir", str(args.data_dir)]
    flags = os.environ.get("XLA_FLAGS", "")
    env = {**os.environ, "XLA_FLAGS": f"{flags} --xla_force_host_platform_device_count=2".strip()}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    rows = [line[len(_WORKER_MARK):] for line in proc.stdout.splitlines() if line.startswith(_WORKER_MARK)]
    if proc.returncode != 0 or not rows:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"numpyro benchmark process failed (exit {proc.returncode}):\n{tail}")
    return json.loads(rows[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default=None, help="study file (default: the built-in global study)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-numpyro", action="store_true", help="skip the numpyro row")
    parser.add_argument("--csv", default=str(Path(__file__).resolve().parent / "results" / "sampler_ess.csv"),
                        help="where to write the table as CSV ('' = do not write)")
    parser.add_argument("--numpyro-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.draws < 10 or args.tune < 10:
        parser.error("--draws and --tune must be at least 10")
    warnings.simplefilter("ignore", SamplerWarning)
    warnings.simplefilter("ignore", FutureWarning)

    study = load_study(args.study or default_study_path())
    panel = load_study_panel(study, data_dir=args.data_dir)
    base = build_model(study)
    data = prepare_panel(panel, degree=base.degree, min_years=base.min_years)
    if args.numpyro_worker:
        model = build_model(study.with_overrides(model={"parameterization": "non_centered"}))
        row = run_numpyro(model, data, args.draws, args.tune, args.seed)
        print(_WORKER_MARK + json.dumps(row), flush=True)
        return
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
    if not args.no_numpyro:
        row = numpyro_row(args)  # after the PyMC runs, in its own process
        if row is not None:
            rows[NUMPYRO_LABEL] = row
            print(f"  done: {NUMPYRO_LABEL}: {row['ess_per_s']:.1f} ESS/s", flush=True)
    table = pd.DataFrame(rows).T
    baseline = table.loc["baseline: PyMC NUTS, non-centred"]
    table["ratio_vs_baseline"] = table["ess_per_s"] / baseline["ess_per_s"]
    table["ratio_vs_baseline_incl_compile"] = table["ess_per_s_incl_compile"] / baseline["ess_per_s_incl_compile"]
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:,.2f}".format):
        print(table)
    shipped, nutpie_nc = table.loc["shipped: nutpie, mixed"], table.loc["nutpie, non-centred"]
    print(f"nutpie non-centred vs PyMC default non-centred: {nutpie_nc['ratio_vs_baseline']:.1f}x ESS/s "
          f"({nutpie_nc['ratio_vs_baseline_incl_compile']:.1f}x incl. compile); shipped nutpie mixed: "
          f"{shipped['ratio_vs_baseline']:.1f}x ({shipped['ratio_vs_baseline_incl_compile']:.1f}x)")
    if args.csv:
        path = Path(args.csv)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        table.rename_axis("config").to_csv(tmp, float_format="%.4g")
        os.replace(tmp, path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
