"""Does the default study's P(already peaked) agree with what the data already show, for every country?

    python benchmarks/already_peaked.py --data-dir ../shared/data

Runs the default study with forecasts for all its countries (not only the focus regions) and applies
:func:`forecast.evaluation.backtest.already_peaked_check`: countries whose 5-year mean peaked at least 10
years before the last data year and has fallen by 15 % should get P(already peaked) >= 0.9; countries
whose 5-year mean is at its highest and 10 % above its value 10 years earlier should get <= 0.1. Writes
``benchmarks/results/already_peaked.csv`` and ``.json`` (counts, seed, data SHA-256, version).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("CARBON_FORECAST_DATA", "../shared/data"))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "already_peaked"))
    args = parser.parse_args()

    from forecast import __version__
    from forecast.evaluation.observed import already_peaked_check
    from forecast.run.pipeline import run_study
    from forecast.run.study import default_study_path, load_study

    study = load_study(default_study_path()).with_overrides(forecast={"regions": "all"})
    run = run_study(study, data_dir=args.data_dir, progress=False)
    result = run.result
    check = already_peaked_check(result.peak_table["p_already_peaked"], run.panel)
    summary = {"seed": study.study.seed, "package_version": __version__,
               "data_sha256": result.provenance[0]["sha256"], "regions_forecast": len(result.peak_table)}
    for label, group in check.groupby("observed"):
        summary[label] = {"regions": len(group), "agree": int(group["agrees"].sum()),
                          "disagree": sorted(group.loc[~group["agrees"], "region"]),
                          "p_range": [round(float(group["p_already_peaked"].min()), 3),
                                      round(float(group["p_already_peaked"].max()), 3)]}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    check.to_csv(out.with_suffix(".csv"), index=False)
    out.with_suffix(".json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
