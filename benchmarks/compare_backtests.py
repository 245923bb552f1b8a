"""Paired differences between two backtest folders written by `carbon-forecast backtest`.

Usage: python benchmarks/compare_backtests.py REFERENCE VARIANT [--out DIR] [--boot 1000] [--seed 0]

REFERENCE and VARIANT are backtest folders (events.csv, levels.csv, peaks.csv; fits.csv optional), run on
the same cutoffs. Prints, and with --out writes (paired.csv, targets.csv, fits.csv, comparison.md):

* the paired differences of :func:`forecast.evaluation.backtest.paired_differences` (variant minus
  reference on the forecasts both made: Brier, log score and AUC per event, peak-year CRPS), plus the
  CRPS of log emissions 5 and 10 years ahead, with cluster-bootstrap intervals over cutoffs; negative
  Brier / log score / CRPS and positive AUC favour the variant; ``resolved`` = the interval excludes 0;
* the stated targets side by side (:func:`forecast.evaluation.backtest.targets_table`);
* the sampler diagnostics of the refits side by side (worst R-hat, lowest bulk ESS, divergences).

Both folders must come from the same cutoffs; a paired comparison of different cutoffs is refused, unless
``--common``: then both are cut to the cutoffs and the (cutoff, region) pairs they share before anything is
scored (e.g. a STIRPAT backtest on 4 cutoffs, which fits only the countries with energy data, against the
committed Kaya backtest on 15 cutoffs).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout, not the installed copy
from forecast.evaluation.backtest import BacktestResult, paired_differences, targets_table  # noqa: E402
from forecast.evaluation.scores import cluster_bootstrap  # noqa: E402
from forecast.mdtable import frame_table  # noqa: E402


def load_result(folder: Path) -> BacktestResult:
    """A :class:`BacktestResult` rebuilt from a backtest folder's CSVs."""
    folder = Path(folder)
    missing = [f for f in ("events.csv", "levels.csv", "peaks.csv") if not (folder / f).is_file()]
    if missing:
        raise SystemExit(f"{folder}: not a backtest folder (missing {', '.join(missing)})")
    fits = pd.read_csv(folder / "fits.csv") if (folder / "fits.csv").is_file() else pd.DataFrame()
    return BacktestResult(events=pd.read_csv(folder / "events.csv"), levels=pd.read_csv(folder / "levels.csv"),
                          peaks=pd.read_csv(folder / "peaks.csv"), fits=fits)


def restrict_to_common(ref: BacktestResult, var: BacktestResult) -> tuple[BacktestResult, BacktestResult]:
    """Both results cut to the (cutoff, region) pairs that both forecast (events, levels, peaks, fits)."""
    keys = ref.events[["cutoff", "region"]].drop_duplicates().merge(var.events[["cutoff", "region"]].drop_duplicates())

    def cut(r: BacktestResult) -> BacktestResult:
        fits = r.fits[r.fits["cutoff"].isin(keys["cutoff"])] if len(r.fits) else r.fits
        return BacktestResult(events=r.events.merge(keys), levels=r.levels.merge(keys), peaks=r.peaks.merge(keys),
                              fits=fits.reset_index(drop=True))

    return cut(ref), cut(var)


def level_differences(ref: BacktestResult, var: BacktestResult, *, ref_name: str, var_name: str,
                      n_boot: int, seed: int, level: float = 0.9) -> pd.DataFrame:
    """Paired CRPS of log emissions per lead (variant minus reference), of single regions and of the sum of the
    fitted regions (where both folders scored it), same layout as paired_differences."""
    rows = []
    for what, ref_rows, var_rows in (("emissions", ref.region_levels, var.region_levels),
                                     ("sum of regions", ref.total_levels, var.total_levels)):
        joined = ref_rows.merge(var_rows, on=["cutoff", "lead", "region"], suffixes=("_ref", "_var"))
        for lead, cell in joined.groupby("lead", sort=True):
            t = cluster_bootstrap(cell, {"crps_log": lambda f: float((f["crps_log_var"] - f["crps_log_ref"]).mean())},
                                  n_boot=n_boot, seed=seed, level=level)
            rows.append(t.assign(variant=var_name, reference=ref_name, target=f"{what} {lead} y ahead", n=len(cell)))
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    if len(out):
        out["resolved"] = (out["low"] > 0) | (out["high"] < 0)
    return out


def fit_table(results: dict[str, BacktestResult]) -> pd.DataFrame:
    """Per cutoff: worst R-hat, lowest bulk ESS and divergences of each folder's refits."""
    parts = []
    for name, r in results.items():
        if r.fits.empty:
            continue
        f = r.fits.set_index("cutoff")[["max_r_hat", "min_ess_bulk", "divergences", "fit_seconds"]]
        parts.append(f.add_prefix(f"{name}: "))
    return pd.concat(parts, axis=1).reset_index() if parts else pd.DataFrame()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path)
    parser.add_argument("variant", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="folder for paired.csv, targets.csv, fits.csv, comparison.md")
    parser.add_argument("--boot", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--common", action="store_true",
                        help="score both on the cutoffs and (cutoff, region) pairs they share instead of refusing "
                             "folders with different cutoffs")
    args = parser.parse_args(argv)

    names = [args.reference.name or str(args.reference), args.variant.name or str(args.variant)]
    if names[0] == names[1]:
        names = [str(args.reference), str(args.variant)]
    ref, var = load_result(args.reference), load_result(args.variant)
    if args.common:
        ref, var = restrict_to_common(ref, var)
    cut_ref, cut_var = sorted(ref.events["cutoff"].unique()), sorted(var.events["cutoff"].unique())
    if cut_ref != cut_var:
        raise SystemExit(f"the folders have different cutoffs: {cut_ref} vs {cut_var}")

    paired = paired_differences({names[0]: ref, names[1]: var}, n_boot=args.boot, seed=args.seed)
    levels = level_differences(ref, var, ref_name=names[0], var_name=names[1], n_boot=args.boot, seed=args.seed)
    paired = pd.concat([paired, levels[paired.columns]], ignore_index=True) if len(levels) else paired
    targets = targets_table(ref.scores(n_boot=args.boot, seed=args.seed)).merge(
        targets_table(var.scores(n_boot=args.boot, seed=args.seed)), on=["target", "scored on"],
        suffixes=(f" ({names[0]})", f" ({names[1]})"))
    fits = fit_table({names[0]: ref, names[1]: var})

    md = [f"# {names[1]} against {names[0]}\n",
          f"{len(cut_ref)} cutoffs ({cut_ref[0]}-{cut_ref[-1]}){'; both cut to the region-cutoffs they share' if args.common else ''}; "
          f"variant minus reference on the forecasts both made; 90 % cluster-bootstrap intervals over cutoffs ({args.boot} resamples). Negative Brier / log "
          "score / CRPS and positive AUC favour the variant; resolved = the interval excludes 0.\n",
          "## Paired differences\n", frame_table(paired, "{:.4f}"),
          f"\n{int(paired['resolved'].sum())} of {len(paired)} differences are resolved at 90 %.\n",
          "## Targets\n", frame_table(targets, "{:.3f}")]
    if len(fits):
        md += ["\n## Sampler diagnostics of the refits\n", frame_table(fits, "{:.3g}")]
    text = "\n".join(md) + "\n"
    print(text)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        paired.to_csv(args.out / "paired.csv", index=False)
        targets.to_csv(args.out / "targets.csv", index=False)
        if len(fits):
            fits.to_csv(args.out / "fits.csv", index=False)
        (args.out / "comparison.md").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
