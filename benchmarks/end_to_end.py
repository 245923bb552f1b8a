"""End-to-end time and peak memory of `carbon-forecast run` on a study, cold (fresh compile caches) and warm.

Usage: python benchmarks/end_to_end.py --data-dir ../shared/data [--study studies/global/study.toml]
       [--without-cache-row] [--out benchmarks/results/end_to_end.md] [--keep DIR]

Runs the CLI in child processes that share empty compile caches in a temporary folder: PyTensor's
compiledir (its per-operation numba code), numba's cache, and the compiled-model cache of
``forecast/models/compile_cache.py`` (through ``CARBON_FORECAST_CACHE``; data come from ``--data-dir``).
The first run is cold, the second warm. ``--without-cache-row`` adds a third, warm run with the
compiled-model cache switched off (``CARBON_FORECAST_COMPILE_CACHE=0``), which isolates what that cache
saves. Prints a table: run, wall seconds, ratio to the cold run, peak RSS (MB) of the child processes, then
the settings it ran with (study, seed, data SHA-256, versions, CPUs, load average); ``--out`` also writes
them as Markdown. On a shared machine absolute times vary with the load: compare the rows of one run.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_once(study: str | None, data_dir: str, env: dict[str, str], out: Path) -> tuple[float, float]:
    cmd = [sys.executable, "-m", "forecast.cli", "run", *([study] if study else []), "--out", str(out), "--quiet",
           "--data-dir", data_dir]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # max over children so far (Linux: KB)
    return seconds, max(peak_kb, before) / 1024


def settings(study_arg: str | None, data_dir: str) -> list[tuple[str, str]]:
    """What the timings depend on: study, seed, data file hash, package and library versions, machine."""
    sys.path.insert(0, str(ROOT))
    from forecast import __version__
    from forecast.data import data_info
    from forecast.run.study import default_study_path, load_study

    path = Path(study_arg) if study_arg else default_study_path()
    study = load_study(path)
    versions = []
    for name in ("pymc", "pytensor", "nutpie", "numba"):
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    try:
        sha = data_info("owid", data_dir=data_dir)["provenance"]["sha256"]
    except Exception as err:  # a study on other data: say so rather than fail after the timings
        sha = f"unavailable ({type(err).__name__})"
    return [
        ("study", f"{study.study.name} ({path})"),
        ("seed", str(study.study.seed)),
        ("sampler", f"{study.sampler.name}, {study.sampler.chains} chains x {study.sampler.draws} draws "
                    f"(+{study.sampler.tune} tune)"),
        ("OWID data SHA-256", sha),
        ("carbon-forecast", __version__),
        ("libraries", ", ".join(versions) + f", Python {platform.python_version()}"),
        ("CPUs", str(os.cpu_count())),
        ("load average (1 min) before / after", ""),
    ]


def table(rows: list[tuple[str, float, float]], info: list[tuple[str, str]]) -> str:
    cold = rows[0][1]
    lines = ["| run | wall s | ratio to cold | peak RSS MB |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {seconds:.1f} | {seconds / cold:.2f} | {mb:.0f} |" for name, seconds, mb in rows]
    lines += ["", "| setting | value |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in info]
    lines += ["", "Peak RSS is the maximum over the child processes so far, so a later row is at least the "
              "earlier ones."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default=None, help="study file (default: the built-in global study)")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--without-cache-row", action="store_true",
                        help="add a warm run with the compiled-model cache switched off")
    parser.add_argument("--out", type=Path, default=None, help="also write the table (Markdown) here")
    parser.add_argument("--keep", type=Path, default=None,
                        help="copy the warm run's output folder here (e.g. for benchmarks/report_screenshot.py)")
    args = parser.parse_args()
    info = settings(args.study, args.data_dir)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = dict(os.environ, PYTENSOR_FLAGS=f"base_compiledir={tmp / 'pytensor'}", NUMBA_CACHE_DIR=str(tmp / "numba"),
                   CARBON_FORECAST_CACHE=str(tmp / "cache"), PYTHONPATH=os.pathsep.join(
                       [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
        env.pop("CARBON_FORECAST_COMPILE_CACHE", None)
        rows = [("cold (empty compile caches)", *run_once(args.study, args.data_dir, env, tmp / "out1")),
                ("warm (caches filled)", *run_once(args.study, args.data_dir, env, tmp / "out2"))]
        if args.without_cache_row:
            off = dict(env, CARBON_FORECAST_COMPILE_CACHE="0")
            rows.append(("warm, compiled-model cache off", *run_once(args.study, args.data_dir, off, tmp / "out3")))
        if args.keep:
            shutil.copytree(tmp / "out2", args.keep, dirs_exist_ok=True)
    info[-1] = (info[-1][0], f"{load_before:.1f} / {os.getloadavg()[0]:.1f}")
    text = table(rows, info)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(f"# End-to-end timing (`python benchmarks/end_to_end.py`)\n\n{text}\n", encoding="utf-8")


if __name__ == "__main__":
    main()
