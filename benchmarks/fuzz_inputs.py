"""Bad-input fuzz of the command line: every problem class of issue 18, run through `carbon-forecast` in
subprocesses, each case in a temporary folder of its own, and classified by what the program did.

Usage (from the repository root; about 5-8 minutes on 2 cores)::

    PYTHONPATH=. python benchmarks/fuzz_inputs.py --data-dir ../shared/data [--out benchmarks/results/fuzz_inputs]

Outcomes (one per case):

``clear_error``
    non-zero exit, a message that starts with ``error:`` (or click's usage error) and names what is wrong
    (each case lists the words it must contain: the key, file, region or year), no Python traceback,
    before any sampling and within ``--slow`` seconds (default 20: a check that needs the data or a model
    imports PyMC first, 4-5 s on an idle 2-core machine, up to 10 s on a busy one; the summary lists every
    refusal slower than 3 s), and nothing written: neither the asked output nor anything else.
``handled``
    an odd but acceptable input (e.g. a study called ``../../x``, a killed run's leftovers) that must run,
    and did, writing only where it was asked to (checks of the case passed).
``vague_error``
    refused in time and without a traceback, but the message does not name the key / file / value.
``traceback``
    a Python traceback reached the user.
``silent``
    exit 0 on a bad input, or did something not asked (wrote an output on failure, wrote outside the asked
    place, left temporary folders, a check of an accepted input failed).
``late``
    refused only after sampling started (the case is killed as soon as the program says it is fitting or
    sampling: it "ran on"), or refused after more than ``--slow`` seconds.
``timeout``
    still running after ``--timeout`` seconds without having said it was sampling.

Writes ``cases.csv`` (case, category, outcome, seconds, message) and ``summary.md`` (counts per category x
outcome, the CLI start-up timings, the environment) into ``--out``; nothing else outside its temp folder,
which it removes. Child processes get a private download cache, compile caches and a proxy on a closed
local port, so no case can download or write into the user's caches.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "small" / "study.toml"
OUTCOMES = ["clear_error", "handled", "vague_error", "traceback", "silent", "late", "timeout"]
CATEGORIES = ["outputs", "fallbacks", "unknown names", "ranges", "late checks", "leftovers", "inventory",
              "cli startup", "output flaws"]
# what the CLI says when a model starts to sample: its stage lines ("• fitting ...", "• cutoff 2000: fitting ...")
# and PyMC's own
SAMPLING = re.compile(r"^\W*(cutoff \d+: )?fitting\b|Auto-assigning NUTS|Sequential sampling|Multiprocess sampling")
DELETE = object()  # a study key to remove


# --------------------------------------------------------------------------------------------------
# study files
# --------------------------------------------------------------------------------------------------


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_value(key)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):  # JSON's escapes (\" \\ \n \u0000) are TOML's
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_key(str(k))} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def dump_toml(doc: dict[str, Any]) -> str:
    top = [f"{toml_key(k)} = {toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    tables = []
    for name, body in doc.items():
        if isinstance(body, dict):
            tables.append(f"\n[{toml_key(name)}]")
            tables += [f"{toml_key(str(k))} = {toml_value(v)}" for k, v in body.items()]
    return "\n".join(top + tables) + "\n"


def merge(base: dict, changes: dict) -> dict:
    out = dict(base)
    for key, value in changes.items():
        if value is DELETE:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict) and not value.get("__replace__"):
            out[key] = merge(out[key], value)
        else:
            out[key] = {k: v for k, v in value.items() if k != "__replace__"} if isinstance(value, dict) else value
    return out


BASE_STUDY = tomllib.loads(FIXTURE.read_text(encoding="utf-8"))

# a tiny run for the cases that must sample to show where outputs go: PyMC's sampler (its compiled code is
# cached on disk across cases), one short chain, few forecast draws
TINY = {"sampler": {"name": "pymc", "draws": 20, "tune": 20, "chains": 1}, "forecast": {"draws": 20}}

CHINA_SINKS = {"enabled": True, "neutrality_years": [2050],
               "areas": {"China": {"forest": 284.1, "grassland": 264.5, "cropland_soil": 127.9, "uncertainty": 0.05}}}


def write_study(folder: Path, changes: dict | None = None, name: str = "study.toml", raw: str | None = None) -> Path:
    path = folder / name
    path.write_text(raw if raw is not None else dump_toml(merge(BASE_STUDY, changes or {})), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------------------------------


@dataclass
class Plan:
    """What a case runs, once its folder is set up."""

    args: list[str]
    expect: list[str] = field(default_factory=list)  # words the error must contain (whitespace ignored)
    cwd: Path | None = None
    must_not_exist: list[Path] = field(default_factory=list)  # outputs a refused case may not write
    check: Callable[["Result"], str] | None = None  # accepted input: "" if all is well, else what went wrong
    env: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None
    allowed_new: Callable[[str], bool] | None = None  # new paths (relative to the case folder) that are fine


@dataclass
class Case:
    name: str
    category: str
    setup: Callable[[Path, "Context"], Plan]
    expect_ok: bool = False  # an acceptable input: must run and pass plan.check (outcome "handled")


@dataclass
class Result:
    code: int | None
    stdout: str
    stderr: str
    seconds: float
    killed_sampling: bool
    timed_out: bool
    folder: Path
    new_paths: list[str]
    plan: Plan
    check_problem: str = ""  # what went wrong with an accepted input (plan.check), or what a refusal wrote


@dataclass
class Context:
    data_dir: Path
    root: Path  # the fuzz run's temp folder
    seed: int
    shared: dict[str, Path] = field(default_factory=dict)  # e.g. a model.nc a real run left for later cases


CASES: list[Case] = []


def case(name: str, category: str, *, ok: bool = False):
    def register(fn: Callable[[Path, Context], Plan]):
        CASES.append(Case(name, category, fn, expect_ok=ok))
        return fn
    return register


def run_study(d: Path, ctx: Context, changes: dict, expect: list[str], *, extra: list[str] = (), quiet: bool = False,
              command: str = "run") -> Plan:
    """``carbon-forecast run <study with changes> --out <d>/res --data-dir <data>``: must be refused."""
    study = write_study(d, changes)
    out = d / "res"
    return Plan([command, str(study), "--out", str(out), "--data-dir", str(ctx.data_dir), *extra,
                 *(["--quiet"] if quiet else [])], expect, must_not_exist=[out])


def setting(category: str, name: str, section: str, key: str, value: Any, expect: list[str] | None = None):
    """A study with one setting changed (the small fixture otherwise): must be refused naming the key."""
    def setup(d: Path, ctx: Context) -> Plan:
        return run_study(d, ctx, {section: {key: value}}, expect or [f"[{section}]", key])
    CASES.append(Case(name, category, setup))


# ---- outputs: a study name never chooses where outputs go; unusable --out values fail before sampling


def _contained(result: Result, outside: list[Path]) -> tuple[str, Path | None]:
    """An accepted odd study name: exit 0, one folder under <cwd>/results/ with the outputs, and nothing
    written anywhere else (``outside``: the places the name points to). Returns (problem, output folder)."""
    base = result.plan.cwd or result.folder
    problems = [] if result.code == 0 else [f"exit {result.code}: {first_line(result.stderr)}"]
    results = base / "results"
    folders = sorted(results.iterdir()) if results.is_dir() else []
    if len(folders) != 1 or not (folders[0] / "bands.csv").is_file():
        problems.append(f"expected one output folder with bands.csv under results/, found {[f.name for f in folders]}")
    problems += [f"wrote {p}" for p in outside if p.exists()]
    prefix = str(results.relative_to(result.folder))
    stray = [p for p in result.new_paths if not (p == prefix or p.startswith(prefix + os.sep))]
    if stray:
        problems.append(f"wrote outside {prefix}/: {stray[:3]}")
    return "; ".join(problems), (folders[0] if len(folders) == 1 else None)


def name_case(case_name: str, study_name: str | Callable[[Path], str], *, subdir: str = "",
              outside: Callable[[Path], list[Path]] = lambda d: [], keep_model: bool = False,
              changes: dict | None = None, quiet: bool = True, check_more: Callable[[Result, Path], str] | None = None):
    """A study whose name looks like a path: the run must write only to results/<a safe name> under the
    working folder (a tiny real run: this is the one place where a name could choose a path)."""
    def setup(d: Path, ctx: Context) -> Plan:
        name = study_name(d) if callable(study_name) else study_name
        cwd = d / subdir if subdir else d
        cwd.mkdir(parents=True, exist_ok=True)
        study = write_study(d, merge({**TINY, "study": {"name": name, "seed": ctx.seed}}, changes or {}))

        def check(result: Result) -> str:
            problem, out = _contained(result, outside(d))
            if out is not None and ".." in out.name.split(os.sep):
                problem = f"output folder named {out.name!r}"
            if not problem and keep_model:
                kept = ctx.root / "shared" / "model_degree2.nc"
                kept.parent.mkdir(exist_ok=True)
                shutil.copyfile(out / "model.nc", kept)
                ctx.shared["model"] = kept
            if not problem and check_more is not None:
                problem = check_more(result, out)
            return problem

        return Plan(["run", str(study), "--data-dir", str(ctx.data_dir), *(["--quiet"] if quiet else [])],
                    cwd=cwd, check=check, timeout=300)
    CASES.append(Case(case_name, "outputs", setup, expect_ok=True))


def _output_flaws(result: Result, out: Path) -> str:
    """The sinks run: --quiet prints the output folder and nothing else on stdout; bands.csv has its
    observed column; sink / net_co2 hold numbers for the regions with areas and say where they are NaN."""
    import numpy as np
    import pandas as pd
    import xarray as xr

    problems = []
    if result.stdout.strip() != f"results/{out.name}":
        problems.append(f"--quiet stdout is {result.stdout.strip()[:80]!r}, not the output folder")
    bands = pd.read_csv(out / "bands.csv")
    if "observed" not in bands.columns:
        problems.append("bands.csv has no observed column")
    with xr.open_dataset(out / "forecast.nc") as ds:
        for var in ("sink", "net_co2"):
            if var not in ds:
                problems.append(f"forecast.nc has no {var}")
                continue
            values = ds[var].sel(region="China").values
            if not np.isfinite(values).any():
                problems.append(f"{var} is all NaN for China")
            if "NaN" not in ds[var].attrs.get("comment", ""):
                problems.append(f"{var} does not say where it is NaN")
    return "; ".join(problems)


name_case("name-dotdot", "../../x", subdir="w/a/b", outside=lambda d: [d / "w" / "x"],
          changes={"sinks": CHINA_SINKS}, check_more=_output_flaws)
name_case("name-absolute", lambda d: str(d / "abs" / "dir"), outside=lambda d: [d / "abs"], keep_model=True)
name_case("name-slash", "a/b", outside=lambda d: [d / "a"])
name_case("name-empty", "")
setting("outputs", "name-nul", "study", "name", "a\u0000b", ["[study]", "name"])  # NetCDF cannot store it
setting("outputs", "title-newline", "study", "title", "two\nlines", ["[study]", "title"])


def out_case(name: str, value: Callable[[Path], str], expect: list[str], command: str = "run"):
    def setup(d: Path, ctx: Context) -> Plan:
        study = write_study(d)
        args = [command, str(study), "--out", value(d), "--data-dir", str(ctx.data_dir)]
        return Plan(args, expect)
    CASES.append(Case(name, "outputs", setup))


def _file(d: Path, name: str = "a_file.txt") -> Path:
    path = d / name
    path.write_text("not a folder")
    return path


out_case("out-empty", lambda d: "", ["give a folder name"])
out_case("out-dot", lambda d: ".", ["give a folder name"])
out_case("out-proc", lambda d: "/proc/x", ["/proc/x"])
out_case("out-under-dev-null", lambda d: "/dev/null/res", ["/dev/null"])
out_case("out-is-a-file", lambda d: str(_file(d)), ["a_file.txt", "not a folder"])
out_case("out-under-a-file", lambda d: str(_file(d) / "res"), ["a_file.txt", "not a folder"])
out_case("fit-out-is-a-folder", lambda d: str(d), ["is a folder"], command="fit")
out_case("fit-out-proc", lambda d: "/proc/model.nc", ["/proc"], command="fit")
out_case("fit-out-missing-folder", lambda d: str(d / "nope" / "model.nc"), ["does not exist", "nope"],
         command="fit")


@case("inventory-out-proc", "outputs")
def _(d: Path, ctx: Context) -> Plan:
    acts = d / "acts.csv"
    acts.write_text("category,value,units,rel_sd\nnatural_gas,500,PJ,0.03\n")
    return Plan(["inventory", "--activities", str(acts), "--out", "/proc/inv"], ["/proc/inv"])


# ---- silent fallbacks: an unusable --data-dir is an error, never a fall-back to a cache or a download


def data_dir_case(name: str, make: Callable[[Path], str], expect: list[str], command: str = "run"):
    def setup(d: Path, ctx: Context) -> Plan:
        target = make(d)
        if command == "run":
            study = write_study(d)
            args = ["run", str(study), "--out", str(d / "res"), "--data-dir", target]
        elif command == "data-info":
            args = ["data", "info", "--data-dir", target]
        elif command == "inventory":
            args = ["inventory", "--province", "Shandong", "--year", "2019", "--data-dir", target, "--out",
                    str(d / "res")]
        else:  # env
            study = write_study(d)
            return Plan(["run", str(study), "--out", str(d / "res")], expect, env={"CARBON_FORECAST_DATA": target},
                        must_not_exist=[d / "res"])
        return Plan(args, expect, must_not_exist=[d / "res"])
    CASES.append(Case(name, "fallbacks", setup))


def _mkdir(path: Path, readme: bool = False) -> str:
    path.mkdir(parents=True, exist_ok=True)
    if readme:
        (path / "README.txt").write_text("no data here")
    return str(path)


data_dir_case("data-dir-missing", lambda d: str(d / "nope"), ["nope", "does not exist"])
data_dir_case("data-dir-is-file", lambda d: str(_file(d, "data.txt")), ["data.txt", "is a file"])
data_dir_case("data-dir-empty", lambda d: _mkdir(d / "empty"), ["empty", "is empty"])
data_dir_case("data-dir-without-owid", lambda d: _mkdir(d / "other", readme=True), ["owid_co2_data.csv"])
data_dir_case("data-dir-empty-string", lambda d: "", ["--data-dir"])
data_dir_case("data-info-missing-dir", lambda d: str(d / "nope"), ["nope", "does not exist"], command="data-info")
data_dir_case("data-info-empty-dir", lambda d: _mkdir(d / "empty"), ["empty", "is empty"], command="data-info")
data_dir_case("inventory-data-dir-missing", lambda d: str(d / "nope"), ["nope", "does not exist"],
              command="inventory")
data_dir_case("inventory-data-dir-without-ceads", lambda d: _mkdir(d / "other", readme=True),
              ["china_ceads_province_co2.csv"], command="inventory")
data_dir_case("env-data-dir-missing", lambda d: str(d / "nope"), ["nope", "CARBON_FORECAST_DATA"], command="env")


@case("data-info-unknown-source", "fallbacks")
def _(d: Path, ctx: Context) -> Plan:
    return Plan(["data", "info", "owidd", "--data-dir", str(ctx.data_dir)], ["owidd"])


# ---- unknown names are errors naming them


setting("unknown names", "kaya-prior-in-ekc-study", "model", "priors", {"kaya.nu": {"params": {"alpha": 3.0}}},
        ["kaya.nu"])
setting("unknown names", "misspelt-ekc-prior", "model", "priors", {"ekc.slope_muu": {"params": {"sigma": 1.0}}},
        ["ekc.slope_muu", "ekc.slope_mu"])
setting("unknown names", "unknown-emission-model", "model", "type", "ekk", ["ekk", "ekc"])
setting("unknown names", "typo-key", "sampler", "drawz", 10, ["[sampler]", "drawz"])
setting("unknown names", "focus-region-typo", "forecast", "focus_regions", ["Chna"], ["Chna", "focus_regions"])
setting("unknown names", "data-region-unknown", "data", "regions", ["Atlantis", "China"], ["Atlantis"])
setting("unknown names", "data-source-typo", "data", "source", "owidd", ["owidd"])


@case("compensation-rule-typo", "unknown names")
def _(d: Path, ctx: Context) -> Plan:
    return run_study(d, ctx, {"compensation": {"enabled": True, "allocation": "per_capitaa"}}, ["per_capitaa"])


@case("unknown-section", "unknown names")
def _(d: Path, ctx: Context) -> Plan:
    return run_study(d, ctx, {"modle": {"degree": 2}}, ["modle"])


@case("target-kind-typo", "unknown names")
def _(d: Path, ctx: Context) -> Plan:
    return run_study(d, ctx, {"targets": [{"kind": "peek_by", "year": 2030}]}, ["targets", "kind", "peek_by"])


@case("sinks-rates-typo", "unknown names")
def _(d: Path, ctx: Context) -> Plan:
    return run_study(d, ctx, {"sinks": {**CHINA_SINKS, "rates": {"forestt": {"value": 0.6, "units": "t C/ha/yr"}}}}, ["forestt"])


@case("sinks-area-type-typo", "unknown names")
def _(d: Path, ctx: Context) -> Plan:
    sinks = merge(CHINA_SINKS, {"areas": {"__replace__": True, "China": {"forestt": 284.1}}})
    return run_study(d, ctx, {"sinks": sinks}, ["forestt"])



@case("driver-prior-typo", "unknown names")
def _(d: Path, ctx: Context) -> Plan:
    return run_study(d, ctx, {"scenario": {"type": "drivers", "gdp_frontier": "United States",
                                           "driver_priors": {"gdp.frontier_growht": {"params": {"sigma": 0.01}}}}},
                     ["gdp.frontier_growht"])



@case("landuse-type-typo", "unknown names")
def _(d: Path, ctx: Context) -> Plan:
    return run_study(d, ctx, {"landuse": {"enabled": True, "areas": {"forrest": 10.0}}}, ["forrest"])




@case("priors-show-unknown", "unknown names")
def _(d: Path, ctx: Context) -> Plan:
    return Plan(["priors", "show", "ekc.nope"], ["ekc.nope"])


@case("priors-list-unknown-family", "unknown names")
def _(d: Path, ctx: Context) -> Plan:
    return Plan(["priors", "list", "ekk"], ["ekk"])


@case("backtest-unknown-model", "unknown names")
def _(d: Path, ctx: Context) -> Plan:
    return run_study(d, ctx, {}, ["ekk"], command="backtest", extra=["--model", "ekk"])



# ---- settings outside any physical range: refused when the study is read, naming the key

for i, value in enumerate([10.0, -5.0, 0.5, math.nan, math.inf, -math.inf]):
    setting("ranges", f"long_run_growth-{value}", "scenario", "long_run_growth", value)
for value in [math.inf, -0.1, 1.0, math.nan]:
    setting("ranges", f"population_growth_sd-{value}", "scenario", "population_growth_sd", value)
setting("ranges", "long_run_growth_sd-negative", "scenario", "long_run_growth_sd", -1.0)
setting("ranges", "max_shock_sd-5", "scenario", "max_shock_sd", 5.0)
setting("ranges", "gdp_decay_years-0", "scenario", "gdp_decay_years", 0.0)
setting("ranges", "window-1", "scenario", "window", 1)
setting("ranges", "horizon-1800", "scenario", "horizon", 1800)
setting("ranges", "horizon-1e20-float", "scenario", "horizon", 1e20)
setting("ranges", "horizon-10**20-int", "scenario", "horizon", 10**20)
setting("ranges", "horizon-before-data", "scenario", "horizon", 2010, ["horizon", "2010"])
setting("ranges", "data-years-negative", "data", "years", [-2000, -1978])
setting("ranges", "data-years-10**20", "data", "years", [1990, 10**20])
setting("ranges", "data-years-reversed", "data", "years", [2022, 2000])
setting("ranges", "data-years-one", "data", "years", [2000])
setting("ranges", "min_population-negative", "data", "min_population", -1.0)
setting("ranges", "min_years-0", "data", "min_years", 0)
setting("ranges", "forecast-draws-1e9-float", "forecast", "draws", 1e9)
setting("ranges", "forecast-draws-10**9", "forecast", "draws", 10**9)
setting("ranges", "forecast-draws-0", "forecast", "draws", 0)
setting("ranges", "peak_years-1500", "forecast", "peak_years", [1500])
setting("ranges", "peak_years-after-horizon", "forecast", "peak_years", [2100], ["peak_years", "2100"])
setting("ranges", "sampler-draws-10**9", "sampler", "draws", 10**9)
setting("ranges", "sampler-chains-10000", "sampler", "chains", 10_000)
setting("ranges", "sampler-tune-negative", "sampler", "tune", -1)
setting("ranges", "target_accept-1.5", "sampler", "target_accept", 1.5)
setting("ranges", "sampler-numpyro-without-jax", "sampler", "name", "numpyro", ["[sampler]", "numpyro", "jax"])
setting("ranges", "sampler-name-unknown", "sampler", "name", "stan")
setting("ranges", "turning_point_growth-0", "model", "turning_point_growth", 0.0)
setting("ranges", "degree-4", "model", "degree", 4)
setting("ranges", "report-quantiles-1.5", "report", "quantiles", [0.05, 1.5])
setting("ranges", "compensation-year-99999", "compensation", "year", 99_999)
setting("ranges", "compensation-price-negative", "compensation", "price_median", -1.0)
setting("ranges", "study-seed-negative", "study", "seed", -1)
setting("ranges", "landuse-rel_sd-5", "landuse", "rel_sd", 5.0)
setting("ranges", "landuse-draws-10**9", "landuse", "draws", 10**9)
setting("ranges", "sinks-draws-10**9", "sinks", "draws", 10**9)
setting("ranges", "sinks-co2_window-1", "sinks", "co2_window", 1)


@case("sinks-fit-years-after-data", "ranges")
def _(d: Path, ctx: Context) -> Plan:
    return run_study(d, ctx, {"sinks": {**CHINA_SINKS, "fit_years": [1990, 2030]}}, ["[sinks] fit_years", "2030"])


@case("sinks-neutrality-year-3000", "ranges")
def _(d: Path, ctx: Context) -> Plan:
    return run_study(d, ctx, {"sinks": {**CHINA_SINKS, "neutrality_years": [3000]}}, ["neutrality_years"])


@case("study-landuse-area-1e308", "ranges")
def _(d: Path, ctx: Context) -> Plan:
    return run_study(d, ctx, {"landuse": {"enabled": True, "areas": {"forest": 1e308}}}, ["forest"])


def cli_option(name: str, extra: list[str], expect: list[str], command: str = "run"):
    def setup(d: Path, ctx: Context) -> Plan:
        return run_study(d, ctx, {}, expect, extra=extra, command=command)
    CASES.append(Case(name, "ranges", setup))


cli_option("cli-draws-0", ["--draws", "0"], ["draws"])
cli_option("cli-draws-10**9", ["--draws", str(10**9)], ["draws"])
cli_option("cli-forecast-draws-10**9", ["--forecast-draws", str(10**9)], ["draws"])
cli_option("cli-seed-negative", ["--seed", "-1"], ["--seed"])
cli_option("cli-seed-2**40", ["--seed", str(2**40)], ["--seed"])
cli_option("backtest-cutoff-1500", ["--cutoff", "1500"], ["1500"], command="backtest")
cli_option("backtest-cutoff-after-data", ["--cutoff", "2100"], ["2100"], command="backtest")
cli_option("backtest-draws-5", ["--draws", "5"], ["--draws"], command="backtest")


@case("inventory-year-1800", "ranges")
def _(d: Path, ctx: Context) -> Plan:
    return Plan(["inventory", "--province", "Shandong", "--year", "1800", "--data-dir", str(ctx.data_dir), "--out",
                 str(d / "res")], ["1800"], must_not_exist=[d / "res"])


@case("inventory-draws-10**12", "ranges")
def _(d: Path, ctx: Context) -> Plan:
    acts = d / "acts.csv"
    acts.write_text("category,value,units,rel_sd\nnatural_gas,500,PJ,0.03\n")
    return Plan(["inventory", "--activities", str(acts), "--draws", str(10**12), "--out", str(d / "res")],
                ["--draws"], must_not_exist=[d / "res"])


# ---- checks that used to come late: each refused before any sampling, naming the key

for value in [-0.5, 50.0, math.nan, 1.0]:
    setting("late checks", f"measurement_error-{value}", "model", "measurement_error", value)
setting("late checks", "measurement_error-region-2", "model", "measurement_error", {"China": 2.0},
        ["measurement_error"])
setting("late checks", "measurement_error-inventory-owid", "model", "measurement_error", "inventory",
        ["measurement_error", "inventory"])
setting("late checks", "parameterization-unknown-term", "model", "parameterization", {"intercept": "centered"},
        ["parameterization"])
setting("late checks", "parameterization-unknown-value", "model", "parameterization", "semi", ["parameterization"])
setting("late checks", "model-comparison-missing", "model", "comparison", "missing.csv", ["comparison", "missing.csv"])
setting("late checks", "prior-negative-scale", "model", "priors", {"ekc.nu": {"params": {"alpha": -1.0}}},
        ["ekc.nu", "alpha"])
setting("late checks", "prior-nu-normal-allows-negative", "model", "priors",
        {"ekc.nu": {"distribution": "Normal", "params": {"mu": 5.0, "sigma": 10.0}}}, ["ekc.nu"])


@case("kaya-with-ekc-only-setting", "late checks")
def _(d: Path, ctx: Context) -> Plan:
    return run_study(d, ctx, {"model": {"type": "kaya", "degree": 3}}, ["degree", "kaya"])


@case("driver-prior-nu-normal", "late checks")
def _(d: Path, ctx: Context) -> Plan:
    return run_study(d, ctx, {"scenario": {"type": "drivers", "driver_priors": {
        "gdp.nu": {"distribution": "Normal", "params": {"mu": 5.0, "sigma": 10.0}}}}}, ["gdp.nu"])


@case("sinks-base_year-1500", "late checks")
def _(d: Path, ctx: Context) -> Plan:
    return run_study(d, ctx, {"sinks": {**CHINA_SINKS, "base_year": 1500}}, ["[sinks]", "base_year"])


@case("sinks-co2-scenario-missing", "late checks")
def _(d: Path, ctx: Context) -> Plan:
    return run_study(d, ctx, {"sinks": {**CHINA_SINKS, "co2_scenario": "co2_missing.csv"}}, ["co2_missing.csv"])


@case("sinks-area-region-not-forecast", "late checks")
def _(d: Path, ctx: Context) -> Plan:
    sinks = merge(CHINA_SINKS, {"areas": {"__replace__": True, "Brazil": {"forest": 400.0}}})
    return run_study(d, ctx, {"sinks": sinks}, ["Brazil", "sinks.areas"])



@case("scenario-csv-garbage", "late checks")
def _(d: Path, ctx: Context) -> Plan:
    (d / "paths.csv").write_bytes(b"\x00\xff\xfe garbage\n1,2\n")
    return run_study(d, ctx, {"scenario": {"type": "csv", "path": "paths.csv"}}, ["paths.csv"])


@case("scenario-csv-is-folder", "late checks")
def _(d: Path, ctx: Context) -> Plan:
    (d / "paths").mkdir()
    return run_study(d, ctx, {"scenario": {"type": "csv", "path": "paths"}}, ["paths"])


@case("scenario-csv-bad-year", "late checks")
def _(d: Path, ctx: Context) -> Plan:
    (d / "paths.csv").write_text("region,year,gdp_per_capita,population\nChina,next,20000,1.4e9\n")
    return run_study(d, ctx, {"scenario": {"type": "csv", "path": "paths.csv"}}, ["paths.csv", "year"])


@case("target-year-after-horizon", "late checks")
def _(d: Path, ctx: Context) -> Plan:
    return run_study(d, ctx, {"targets": [{"kind": "peak_by", "year": 2100}]}, ["2100"])




# ---- leftovers


@case("stale-tmp-removed-by-next-write", "leftovers", ok=True)
def _(d: Path, ctx: Context) -> Plan:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = d / f".res.tmp-{int(dead.stdout)}-abc"
    (stale / "figures").mkdir(parents=True)
    (stale / "bands.csv").write_text("partial")
    acts = d / "acts.csv"
    acts.write_text("category,value,units,rel_sd\nnatural_gas,500,PJ,0.03\n")

    def check(result: Result) -> str:
        problems = [] if result.code == 0 else [f"exit {result.code}: {first_line(result.stderr)}"]
        if stale.exists():
            problems.append(f"left {stale.name}")
        if not (d / "res" / "inventory.csv").is_file():
            problems.append("no res/inventory.csv")
        return "; ".join(problems)

    return Plan(["inventory", "--activities", str(acts), "--out", str(d / "res"), "--draws", "1000", "--quiet"],
                check=check)


@case("failed-run-leaves-nothing", "leftovers")
def _(d: Path, ctx: Context) -> Plan:
    (d / "res").mkdir()
    (d / "res" / "old.txt").write_text("previous results")
    study = write_study(d, {"forecast": {"focus_regions": ["Chna"]}})

    return Plan(["run", str(study), "--out", str(d / "res"), "--data-dir", str(ctx.data_dir)], ["Chna"])


# ---- inventory files


def activities_case(name: str, body: bytes | str, expect: list[str], *, missing: bool = False, folder: bool = False):
    def setup(d: Path, ctx: Context) -> Plan:
        path = d / "acts.csv"
        if folder:
            path.mkdir()
        elif not missing:
            path.write_bytes(body if isinstance(body, bytes) else body.encode())
        return Plan(["inventory", "--activities", str(path), "--out", str(d / "res"), "--draws", "1000"], expect,
                    must_not_exist=[d / "res"])
    CASES.append(Case(name, "inventory", setup))


H = "category,value,units,rel_sd\n"
activities_case("activity-1e308", H + "natural_gas,1e308,PJ,0.03\n", ["natural_gas", "value"])
activities_case("activity-inf", H + "natural_gas,inf,PJ,0.03\n", ["value", "inf"])
activities_case("activity-nan", H + "natural_gas,nan,PJ,0.03\n", ["value"])
activities_case("activity-negative", H + "natural_gas,-5,PJ,0.03\n", ["natural_gas", "value"])
activities_case("activity-text", H + "natural_gas,lots,PJ,0.03\n", ["value", "lots"])
activities_case("activity-rel_sd-50", H + "natural_gas,500,PJ,50\n", ["natural_gas", "rel_sd"])
activities_case("activity-rel_sd-negative", H + "natural_gas,500,PJ,-0.1\n", ["natural_gas", "rel_sd"])
activities_case("activity-rel_sd-wide-normal", H + "natural_gas,500,PJ,0.9\n", ["natural_gas", "rel_sd"])
activities_case("activity-duplicate", H + "natural_gas,500,PJ,0.03\nnatural_gas,100,PJ,0.03\n",
                ["natural_gas", "more than once"])
activities_case("activity-unknown-category", H + "natural_gaz,500,PJ,0.03\n", ["natural_gaz"])
activities_case("activity-unit-mismatch", "category,value,units\nnatural_gas,500,t\n", ["natural_gas"])
activities_case("activity-unknown-unit", "category,value,units\nnatural_gas,500,furlongs\n", ["furlongs"])
activities_case("activity-bad-distribution", H[:-1] + ",distribution\nnatural_gas,500,PJ,0.03,cauchy\n", ["cauchy"])
activities_case("activity-empty-file", "", ["empty"])
activities_case("activity-header-only", H, ["no rows"])
activities_case("activity-missing-column", "category,units\nnatural_gas,PJ\n", ["value"])
activities_case("activity-not-utf8", b"category,value,units\nnat\xfcral_gas,500,PJ\n", ["UTF-8"])
activities_case("activity-binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ["acts.csv"])
activities_case("activity-file-missing", "", ["acts.csv", "not found"], missing=True)
activities_case("activity-path-is-folder", "", ["acts.csv"], folder=True)


def landuse_case(name: str, body: str, expect: list[str]):
    def setup(d: Path, ctx: Context) -> Plan:
        path = d / "areas.csv"
        path.write_text(body)
        return Plan(["inventory", "--landuse", str(path), "--out", str(d / "res"), "--draws", "1000"], expect,
                    must_not_exist=[d / "res"])
    CASES.append(Case(name, "inventory", setup))


L = "land_type,area_mha,rel_sd\n"
landuse_case("landuse-duplicate-type", L + "forest,284,0.05\nforest,100,0.05\n", ["forest", "more than once"])
landuse_case("landuse-alias-duplicate", L + "water,10,0.05\nwetland,20,0.05\n", ["water_wetland"])
landuse_case("landuse-unknown-type", L + "forrest,284,0.05\n", ["forrest"])
landuse_case("landuse-area-negative", L + "forest,-1,0.05\n", ["forest"])
landuse_case("landuse-area-1e308", L + "forest,1e308,0.05\n", ["forest"])
landuse_case("landuse-rel_sd-50", L + "forest,284,50\n", ["rel_sd"])
landuse_case("landuse-rel_sd-nan", L + "forest,284,nan\n", ["rel_sd"])
landuse_case("landuse-built-up-without-energy", L + "built_up,5,0.05\n", ["built_up"])


@case("inventory-province-without-year", "inventory")
def _(d: Path, ctx: Context) -> Plan:
    return Plan(["inventory", "--province", "Shandong", "--data-dir", str(ctx.data_dir), "--out", str(d / "res")],
                ["--year"], must_not_exist=[d / "res"])


@case("inventory-province-typo", "inventory")
def _(d: Path, ctx: Context) -> Plan:
    return Plan(["inventory", "--province", "Shandonk", "--year", "2019", "--data-dir", str(ctx.data_dir), "--out",
                 str(d / "res")], ["Shandonk"], must_not_exist=[d / "res"])


@case("inventory-two-inputs", "inventory")
def _(d: Path, ctx: Context) -> Plan:
    acts = d / "acts.csv"
    acts.write_text(H + "natural_gas,500,PJ,0.03\n")
    return Plan(["inventory", "--province", "Shandong", "--year", "2019", "--activities", str(acts), "--out",
                 str(d / "res")], ["--province", "--activities"], must_not_exist=[d / "res"])


@case("inventory-no-input", "inventory")
def _(d: Path, ctx: Context) -> Plan:
    return Plan(["inventory", "--out", str(d / "res")], ["--province", "--activities"], must_not_exist=[d / "res"])


# ---- CLI start-up and study files that are not study files


@case("run-missing-study", "cli startup")
def _(d: Path, ctx: Context) -> Plan:
    return Plan(["run", str(d / "nonexistent.toml")], ["nonexistent.toml", "not found"])


@case("run-folder-without-study", "cli startup")
def _(d: Path, ctx: Context) -> Plan:
    (d / "empty_study").mkdir()
    return Plan(["run", str(d / "empty_study")], ["study.toml", "not found"])


@case("run-study-not-toml", "cli startup")
def _(d: Path, ctx: Context) -> Plan:
    path = write_study(d, raw="[study\nname = ")
    return Plan(["run", str(path), "--out", str(d / "res")], ["study.toml", "TOML"], must_not_exist=[d / "res"])


@case("run-study-binary", "cli startup")
def _(d: Path, ctx: Context) -> Plan:
    path = d / "study.toml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    return Plan(["run", str(path), "--out", str(d / "res")], ["study.toml"], must_not_exist=[d / "res"])


@case("run-study-empty", "cli startup")
def _(d: Path, ctx: Context) -> Plan:
    path = write_study(d, raw="")
    return Plan(["run", str(path), "--out", str(d / "res")], ["[study]"], must_not_exist=[d / "res"])


@case("run-study-wrong-type", "cli startup")
def _(d: Path, ctx: Context) -> Plan:
    path = write_study(d, raw='[study]\nname = "x"\n[sampler]\ndraws = "1000"\n')
    return Plan(["run", str(path), "--out", str(d / "res")], ["[sampler]", "draws"], must_not_exist=[d / "res"])


@case("unknown-command", "cli startup")
def _(d: Path, ctx: Context) -> Plan:
    return Plan(["nosuchcommand"], ["nosuchcommand"])


def _help_ok(words: list[str]) -> Callable[[Result], str]:
    def check(result: Result) -> str:
        problems = [] if result.code == 0 else [f"exit {result.code}"]
        text = " ".join(result.stdout.split())
        problems += [f"help lacks {w!r}" for w in words if w not in text]
        if "\\[" in text:
            problems.append("help shows an escaped '\\['")
        if result.seconds > 3:
            problems.append(f"took {result.seconds:.1f} s")
        return "; ".join(problems)
    return check


@case("help", "cli startup", ok=True)
def _(d: Path, ctx: Context) -> Plan:
    return Plan(["--help"], check=_help_ok(["run", "fit", "report", "inventory", "backtest"]))


@case("run-help", "output flaws", ok=True)
def _(d: Path, ctx: Context) -> Plan:
    return Plan(["run", "--help"], check=_help_ok(["--out", "--data-dir", "[sampler] draws", "[forecast] draws",
                                                   "--quiet", "--strict"]))


@case("inventory-quiet-says-where", "output flaws", ok=True)
def _(d: Path, ctx: Context) -> Plan:
    acts = d / "acts.csv"
    acts.write_text(H + "natural_gas,500,PJ,0.03\n")

    def check(result: Result) -> str:
        if result.code != 0:
            return f"exit {result.code}: {first_line(result.stderr)}"
        if result.stdout.strip() != str(d / "res"):
            return f"--quiet printed {result.stdout.strip()[:60]!r} on stdout, not the output folder"
        return ""
    return Plan(["inventory", "--activities", str(acts), "--out", str(d / "res"), "--draws", "1000", "--quiet"],
                check=check)


# ---- output flaws that need a fitted model (the name-absolute case leaves one: degree 2)


@case("report-degree-3-study-degree-2-model", "output flaws")
def _(d: Path, ctx: Context) -> Plan:
    model = ctx.shared.get("model")
    study = write_study(d, merge(TINY, {"model": {"degree": 3}}))
    return Plan(["report", str(study), "--model", str(model or d / "no_model_was_fitted.nc"), "--out",
                 str(d / "res"), "--data-dir", str(ctx.data_dir)], ["degree"], must_not_exist=[d / "res"])


@case("report-model-not-netcdf", "output flaws")
def _(d: Path, ctx: Context) -> Plan:
    model = d / "model.nc"
    model.write_text("this is not a NetCDF file")
    study = write_study(d)
    return Plan(["report", str(study), "--model", str(model), "--out", str(d / "res"), "--data-dir",
                 str(ctx.data_dir)], ["model.nc"], must_not_exist=[d / "res"])


@case("report-model-is-folder", "output flaws")
def _(d: Path, ctx: Context) -> Plan:
    study = write_study(d)
    (d / "m").mkdir()
    return Plan(["report", str(study), "--model", str(d / "m"), "--out", str(d / "res"), "--data-dir",
                 str(ctx.data_dir)], ["m"], must_not_exist=[d / "res"])


@case("backtest-nan-skill-has-a-reason", "output flaws", ok=True)
def _(d: Path, ctx: Context) -> Plan:
    """One cutoff, two regions, short refits: scores that cannot be computed (no peak events, one class)
    must be printed with a reason, never as a bare nan."""
    study = write_study(d, merge(TINY, {"study": {"seed": ctx.seed},
                                        "data": {"regions": ["China", "India"]},
                                        "forecast": {"focus_regions": ["China", "India"]}}))

    def check(result: Result) -> str:
        if result.code != 0:
            return f"exit {result.code}: {first_line(result.stderr)}"
        rows = [line for line in result.stdout.splitlines() if re.search(r"\bnan\b|n/a", line)]
        notes = [line for line in result.stderr.splitlines() if line.startswith("n/a ")]
        for line in rows:
            metric = line.strip("│ ").split("│")[0].strip()
            # "n/a:" opens a reason in the cell itself (a narrow terminal wraps the rest onto the next line)
            bare = re.search(r"\bnan\b", line) or re.search(r"n/a(?!:)", line)
            if bare and not any(note.startswith(f"n/a {metric} ") for note in notes):
                return f"prints an undefined score without a reason: {' '.join(line.split())[:80]!r}"
        return ""
    return Plan(["backtest", str(study), "--cutoff", "2012", "--draws", "20", "--tune", "20", "--forecast-draws", "50",
                 "--out", str(d / "bt"), "--data-dir", str(ctx.data_dir), "--seed", str(ctx.seed)],
                check=check, timeout=240, allowed_new=lambda p: p.startswith("bt"))


# --------------------------------------------------------------------------------------------------
# running and classifying
# --------------------------------------------------------------------------------------------------


def first_line(text: str) -> str:
    """The message in one line: the lines of the first error (or the last line printed), joined."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if line.startswith(("error:", "Error", "Traceback", "Usage:")) or "Error:" in line:
            if line.startswith("Traceback"):
                return lines[-1][:300]
            if line.startswith("Usage:"):  # click's usage error: the message is in the box below
                box = [re.sub(r"^[│╭╰─ ]+|[│╮╯─ ]+$", "", x) for x in lines[i + 1:]]
                return " ".join(x for x in box if x and not x.startswith("Try "))[:300]
            return " | ".join(lines[i:i + 4])[:300]
    return (lines[-1] if lines else "")[:300]


def squash(text: str) -> str:
    return "".join(text.split())


def child_env(ctx: Context, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CARBON_FORECAST_DATA"}
    caches = ctx.root / "caches"
    env.update({
        "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "CARBON_FORECAST_CACHE": str(caches / "downloads"),
        "PYTENSOR_FLAGS": f"base_compiledir={caches / 'pytensor'}",
        "NUMBA_CACHE_DIR": str(caches / "numba"),
        "MPLCONFIGDIR": str(caches / "matplotlib"),
        "XDG_CACHE_HOME": str(caches / "xdg"),
        # no case may download: a proxy on a closed local port makes every request fail at once
        "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "no_proxy": "",
        "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb", "PYTHONWARNINGS": "ignore",
    })
    env.update(extra)
    return env


def run_cli(args: list[str], *, cwd: Path, env: dict[str, str], timeout: float,
            allow_sampling: bool = False) -> tuple[int | None, str, str, float, bool, bool]:
    """Run the CLI; kill it (its process group) as soon as it says it is fitting or sampling, or at the
    timeout. Returns (exit code, stdout, stderr, seconds, killed for sampling, timed out)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "forecast.cli", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            start_new_session=True, errors="replace")
    out_lines: list[str] = []
    err_lines: list[str] = []
    sampling = threading.Event()

    def read(stream, sink, watch):
        for line in stream:
            sink.append(line)
            if watch and SAMPLING.search(line):
                sampling.set()

    threads = [threading.Thread(target=read, args=(proc.stdout, out_lines, False), daemon=True),
               threading.Thread(target=read, args=(proc.stderr, err_lines, True), daemon=True)]
    for t in threads:
        t.start()
    timed_out = False
    while proc.poll() is None:
        if sampling.is_set() and not allow_sampling:
            break
        if time.perf_counter() - start > timeout:
            timed_out = True
            break
        time.sleep(0.02)
    killed = proc.poll() is None
    if killed:
        os.killpg(proc.pid, signal.SIGKILL)  # the group this call started, by its id
    proc.wait()
    for t in threads:
        t.join(timeout=5)
    seconds = time.perf_counter() - start
    return (None if killed else proc.returncode, "".join(out_lines), "".join(err_lines), seconds,
            killed and not timed_out, timed_out)


def snapshot(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def classify(c: Case, r: Result, slow: float) -> str:
    text = r.stderr + r.stdout
    if r.killed_sampling:
        return "late"
    if r.timed_out:
        return "timeout"
    if "Traceback (most recent call last)" in text:
        return "traceback"
    if c.expect_ok:
        return "silent" if r.check_problem else "handled"
    if r.code == 0:
        return "silent"
    written = [p for p in r.plan.must_not_exist if p.exists()]
    allowed = r.plan.allowed_new or (lambda p: False)
    stray = [p for p in r.new_paths if not allowed(p)]
    if written or stray:
        r.check_problem = f"wrote {[str(p.name) for p in written] + stray[:3]}"
        return "silent"
    if r.seconds > slow:
        return "late"
    # one message: a line "error: ..." (after any progress lines such as "• loading data"), or click's usage box
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    said = len(errors) == 1 or (not errors and "Usage:" in r.stderr)
    if not said or any(squash(w) not in squash(text) for w in r.plan.expect):
        return "vague_error"
    return "clear_error"


def run_case(c: Case, ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    folder = ctx.root / "cases" / re.sub(r"[^A-Za-z0-9._-]+", "_", c.name)
    folder.mkdir(parents=True)
    repo_before = git_status()
    plan = c.setup(folder, ctx)
    before = snapshot(folder)
    cwd = plan.cwd or folder
    code, out, err, seconds, killed, timed_out = run_cli(plan.args, cwd=cwd, env=child_env(ctx, plan.env),
                                                          timeout=plan.timeout or args.timeout,
                                                          allow_sampling=c.expect_ok)
    new = sorted(snapshot(folder) - before)
    result = Result(code, out, err, seconds, killed, timed_out, folder, new, plan)
    if c.expect_ok and not (killed or timed_out):
        try:
            result.check_problem = plan.check(result) if plan.check else ""
        except Exception as exc:  # a check that cannot even read the outputs
            result.check_problem = f"check failed: {type(exc).__name__}: {exc}"
    outcome = classify(c, result, args.slow)
    if git_status() != repo_before:
        outcome, result.check_problem = "silent", "wrote into the repository"
    message = first_line(err + ("\n" + out if not err.strip() else ""))
    if outcome in ("late",) and killed:
        message = "ran on: sampling started (killed) -- " + message
    if result.check_problem:
        message = f"{result.check_problem} -- {message}" if outcome != "handled" else message
    missing = [w for w in plan.expect if squash(w) not in squash(err + out)]
    if outcome == "vague_error" and missing:
        message += f" [message lacks {missing}]"
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return {"case": c.name, "category": c.category, "outcome": outcome, "seconds": round(seconds, 2),
            "exit": "killed" if code is None else code, "message": message.replace("\n", " ")}


def git_status() -> str:
    try:
        return subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=all"],
                              capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def timings(ctx: Context, folder: Path) -> dict[str, float]:
    """Median of 3 wall times of the start-up commands."""
    folder.mkdir(parents=True, exist_ok=True)
    commands = {"carbon-forecast --help": ["--help"],
                "carbon-forecast run --help": ["run", "--help"],
                "carbon-forecast run /nonexistent.toml": ["run", "/nonexistent.toml"],
                "carbon-forecast data info": ["data", "info", "--data-dir", str(ctx.data_dir)]}
    out = {}
    for label, cmd in commands.items():
        times = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "forecast.cli", *cmd], cwd=folder, env=child_env(ctx, {}),
                           capture_output=True, timeout=120)
            times.append(time.perf_counter() - start)
        out[label] = statistics.median(times)
    return out


def environment(seed: int) -> dict[str, str]:
    probe = subprocess.run([sys.executable, "-c", "import forecast, sys; print(forecast.__version__); "
                            "print(forecast.__file__)"], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(REPO)})
    version, _, path = probe.stdout.strip().partition("\n")
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = bool(git_status().strip())
    return {"package version": version, "package imported from": str(Path(path).parent),
            "git commit": commit + (" (with uncommitted changes)" if dirty else ""),
            "python": platform.python_version(), "platform": platform.platform(), "seed": str(seed),
            "cpus": str(os.cpu_count())}


def counts_table(rows: list[dict]) -> list[str]:
    """Markdown table: cases per category x outcome (every outcome a column), the slowest case per row."""
    counts = Counter((r["category"], r["outcome"]) for r in rows)
    lines = ["| category | " + " | ".join(OUTCOMES) + " | cases | slowest (s) |",
             "|---|" + "---:|" * (len(OUTCOMES) + 2)]
    for cat in CATEGORIES + sorted({r["category"] for r in rows} - set(CATEGORIES)):
        cat_rows = [r for r in rows if r["category"] == cat]
        if not cat_rows:
            continue
        lines.append(f"| {cat} | " + " | ".join(str(counts.get((cat, o), 0)) for o in OUTCOMES)
                     + f" | {len(cat_rows)} | {max(float(r['seconds']) for r in cat_rows):.1f} |")
    lines.append("| **all** | " + " | ".join(str(sum(r["outcome"] == o for r in rows)) for o in OUTCOMES)
                 + f" | {len(rows)} | {max(float(r['seconds']) for r in rows):.1f} |")
    return lines


def write_summary(rows: list[dict], times: dict[str, float], env: dict[str, str], out: Path, args, total: float,
                  before: list[dict] | None = None) -> None:
    lines = ["# Bad-input fuzz of the command line (issue 18)", "",
             f"{len(rows)} cases in {total:.0f} s; `benchmarks/fuzz_inputs.py` (outcomes defined in its docstring). "
             f"A refusal counts as `clear_error` only before any sampling and within {args.slow:g} s.", "",
             *counts_table(rows)]
    if before:
        lines += ["", f"The same cases on {args.before_label}:", "", *counts_table(before), "",
                  "Cases whose outcome changed: "
                  + ("; ".join(f"`{b['case']}` {b['outcome']} -> {a['outcome']}"
                               for b in before for a in rows if a["case"] == b["case"] and a["outcome"] != b["outcome"])
                     or "none")]
    bad = [r for r in rows if r["outcome"] not in ("clear_error", "handled")]
    lines += ["", "## Cases not `clear_error` / `handled`", ""]
    lines += [f"- `{r['case']}` ({r['category']}): **{r['outcome']}**, {r['seconds']:.1f} s: {r['message'][:200]}"
              for r in bad] or ["none"]
    slow = [r for r in rows if r["seconds"] > 3 and r["outcome"] == "clear_error"]
    lines += ["", "## Refusals that took more than 3 s", ""]
    lines += [f"- `{r['case']}`: {r['seconds']:.1f} s" for r in slow] or ["none"]
    lines += ["", "## Start-up (median of 3 runs, wall seconds)", "", "| command | seconds |", "|---|---:|"]
    lines += [f"| `{k}` | {v:.2f} |" for k, v in times.items()]
    lines += ["", "## Environment", ""] + [f"- {k}: {v}" for k, v in env.items()]
    again = "PYTHONPATH=. python benchmarks/fuzz_inputs.py --data-dir ../shared/data"
    if args.before:
        again += f" --before {shlex.quote(str(args.before))} --before-label {shlex.quote(args.before_label)}"
    lines += ["", f"Regenerate (from the repository root): `{again}`", ""]
    (out / "summary.md").write_text("\n".join(lines), encoding="utf-8")


def default_data_dir() -> Path:
    env = os.environ.get("CARBON_FORECAST_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(), help="folder with the real data")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "fuzz_inputs")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per case (cases that sample: 240)")
    parser.add_argument("--slow", type=float, default=20.0,
                        help="a refusal slower than this counts as late (importing PyMC alone takes 4-10 s here)")
    parser.add_argument("--seed", type=int, default=20261202, help="study seed of the cases that sample")
    parser.add_argument("--only", default="", help="regular expression: run only the matching cases")
    parser.add_argument("--keep", action="store_true", help="keep the case folders (printed at the end)")
    parser.add_argument("--before", type=Path, default=None,
                        help="cases.csv of an earlier run (e.g. of an older commit) to compare with in summary.md")
    parser.add_argument("--before-label", default="the earlier run", help="what --before was run on")
    parser.add_argument("--commit-label", default=None,
                        help="what to record as the code's commit (default: git rev-parse HEAD of this checkout)")
    args = parser.parse_args()
    if not (args.data_dir / "owid_co2_data.csv").is_file():
        parser.error(f"--data-dir {args.data_dir}: no owid_co2_data.csv there")
    names = [c.name for c in CASES]
    dup = {n for n in names if names.count(n) > 1}
    assert not dup, f"duplicate case names: {dup}"
    # the cases that fit a model go first: a later case reuses the saved model
    cases = sorted(CASES, key=lambda c: 0 if c.name == "name-absolute" else 1)
    if args.only:
        cases = [c for c in cases if re.search(args.only, c.name)]
    env = environment(args.seed)  # before anything is written: the commit and whether the checkout is clean
    if args.commit_label:
        env["git commit"] = args.commit_label
    env["load average (1, 5, 15 min) at the start"] = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    root = Path(tempfile.mkdtemp(prefix="fuzz_inputs-"))
    rows: list[dict] = []
    start = time.perf_counter()
    try:
        ctx = Context(data_dir=args.data_dir.resolve(), root=root, seed=args.seed)
        for i, c in enumerate(cases, 1):
            row = run_case(c, ctx, args)
            rows.append(row)
            print(f"[{i:3d}/{len(cases)}] {row['outcome']:12s} {row['seconds']:6.1f}s  {c.category:14s} {c.name}: "
                  f"{row['message'][:110]}", flush=True)
        times = timings(ctx, root / "timings")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"case folders kept in {root}")
    total = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "cases.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["case", "category", "outcome", "seconds", "exit", "message"])
        writer.writeheader()
        writer.writerows(rows)
    env["load average (1, 5, 15 min) at the end"] = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    before = list(csv.DictReader(open(args.before, encoding="utf-8"))) if args.before else None
    write_summary(rows, times, env, args.out, args, total, before)
    print((args.out / "summary.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
