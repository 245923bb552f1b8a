"""End-to-end time and peak memory of `carbon-forecast run` on a study, cold (fresh compile caches) and warm.

Usage: python benchmarks/end_to_end.py --data-dir ../shared/data [--study studies/global/study.toml]
Prints a table: run, wall seconds, peak RSS (MB) of the child process.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_once(study: str | None, data_dir: str, env: dict[str, str], out: Path) -> tuple[float, float]:
    cmd = [sys.executable, "-m", "forecast.cli", "run", *([study] if study else []), "--out", str(out), "--quiet",
           "--data-dir", data_dir]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # max over children so far (Linux: KB)
    return seconds, max(peak_kb, before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default=None, help="study file (default: the built-in global study)")
    parser.add_argument("--data-dir", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = dict(os.environ, PYTENSOR_FLAGS=f"base_compiledir={tmp / 'pytensor'}", NUMBA_CACHE_DIR=str(tmp / "numba"))
        rows = [("cold (empty compile caches)", *run_once(args.study, args.data_dir, env, tmp / "out1")),
                ("warm (caches filled)", *run_once(args.study, args.data_dir, env, tmp / "out2"))]
    print(f"{'run':32s} {'wall s':>8s} {'peak RSS MB':>12s}")
    for name, seconds, mb in rows:
        print(f"{name:32s} {seconds:8.1f} {mb:12.0f}")
    print("(peak RSS is the maximum over child processes so far, so the warm row is at least the cold one)")


if __name__ == "__main__":
    main()
