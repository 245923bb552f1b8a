"""Provinces summed to the nation: does the sum carry the spread of a national forecast?

    python benchmarks/regional_sum.py --data-dir ../shared/data [--draws 500 --tune 500]

Fits the China provinces study (``studies/china-provinces``) with the Kaya model twice -- with independent
regional shocks and with the year effect shared by all provinces (``[model] common_shocks = true``) --
sums the 30 provincial CO2 forecasts draw by draw (:func:`forecast.policy.regional_sum.regional_sum`) and
compares the relative 90 % width of the sum with that of China's own forecast from ``studies/china`` (the
EKC fitted on the global panel, and the same study with the Kaya model and common shocks; sinks and land
use switched off, they do not touch the emission draws).
Sampling is reduced to ``--draws``/``--tune`` for all three fits; capacity and compensation are off.

The provincial panel ends in 2016 and the national one in 2022, so the widths are compared both by
calendar year and by lead time (years after each fit's last data year). Two out-of-sample points check the
provincial sums: the CEADs sum of the 30 provinces in 2019 (CEADs runs to 2019; the panel stops in 2016
for want of provincial population), and the 2016 sum grown by China's national growth 2016-2022 (OWID);
for each, the share of forecast draws below the observed value (a PIT value: 0.5 = central, near 0 or 1 =
in a tail).

Writes ``benchmarks/results/regional_sum.csv`` (one row per series and year, with the lead time) and
``.json`` (seed, data SHA-256 of each study's main data file, package version, sampler settings, variance
ratios, the checks).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

YEARS = (2025, 2030, 2040, 2060)  # forecast years of both fits (the national data end in 2022)
LEADS = (3, 8, 18, 38)  # years after the last data year (2060 for the national fit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("CARBON_FORECAST_DATA", "../shared/data"))
    parser.add_argument("--draws", type=int, default=500, help="posterior draws per chain (each fit)")
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--forecast-draws", type=int, default=1000)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "regional_sum"))
    args = parser.parse_args()

    from forecast import __version__
    from forecast.policy.regional_sum import regional_sum, spread_table, variance_ratio
    from forecast.run.pipeline import run_study
    from forecast.run.study import load_study, studies_dir

    sampler = {"draws": args.draws, "tune": args.tune}
    off = {"capacity": {"enabled": False}, "compensation": {"enabled": False}}
    # the study as these results were computed: fitted to 2016 (CEADs 2019 stays out of sample), without the
    # population extension and the inventory error the study has since switched on
    provinces = load_study(studies_dir() / "china-provinces" / "study.toml").with_overrides(
        data={"years": [2004, 2016], "extend_population": "none"}, inventory={"feeds_model": False})
    import pandas as pd

    sums, ratios, meta, last = {}, {}, {}, {}
    for label, common in (("provinces, independent shocks", False), ("provinces, common shocks", True)):
        study = provinces.with_overrides(
            model={"type": "kaya", "varying_curvature": False, "common_shocks": common},
            sampler=sampler, forecast={"draws": args.forecast_draws}, **off)
        run = run_study(study, data_dir=args.data_dir, progress=False)
        sums[label] = regional_sum(run.forecast.ds)
        last[label] = int(run.forecast.ds["last_observed_year"].max())
        provinces_in = [str(r) for r in run.forecast.ds["region"].values]
        ratios[label] = {int(y): round(float(v), 3) for y, v in variance_ratio(run.forecast.ds).sel(year=list(YEARS)).to_series().items()}
        meta[label] = {"max_r_hat": float(run.model.diagnostics.max_r_hat), "data_sha256": run.result.provenance[0]["sha256"],
                       "seed": study.study.seed}
    china = load_study(studies_dir() / "china" / "study.toml")
    for label, model in (("China, national fit (EKC, global panel)", {}),
                         ("China, national fit (Kaya, global panel, common shocks)",
                          {"type": "kaya", "common_shocks": True})):
        study = china.with_overrides(model=model, sampler=sampler, forecast={"draws": args.forecast_draws},
                                     sinks={"enabled": False}, landuse={"enabled": False})
        run = run_study(study, data_dir=args.data_dir, progress=False)
        sums[label] = run.forecast.ds["co2"].sel(region="China", drop=True)
        last[label] = int(run.forecast.ds["last_observed_year"].sel(region="China"))
        meta[label] = {"max_r_hat": float(run.model.diagnostics.max_r_hat),
                       "data_sha256": run.result.provenance[0]["sha256"], "seed": study.study.seed}
    table = spread_table(sums, YEARS)
    table["lead"] = table["year"] - table["series"].map(last)
    by_lead = pd.concat([spread_table({k: v}, [last[k] + h for h in LEADS]) for k, v in sums.items()])
    by_lead["lead"] = by_lead["year"] - by_lead["series"].map(last)
    table = pd.concat([table.assign(aligned="calendar year"), by_lead.assign(aligned="lead time")], ignore_index=True)

    # out-of-sample checks of the provincial sums
    ceads = pd.read_csv(Path(args.data_dir) / "china_ceads_province_co2.csv")
    ceads = ceads[ceads["province"].isin(provinces_in)].groupby("year")["Scope_1_Total"].sum()
    owid = pd.read_csv(Path(args.data_dir) / "owid_co2_data.csv", usecols=["country", "year", "co2"])
    china_co2 = owid[owid["country"] == "China"].set_index("year")["co2"]
    checks = {"ceads_sum_2016": round(float(ceads[2016]), 1), "ceads_sum_2019": round(float(ceads[2019]), 1),
              "owid_china_growth_2016_2022": round(float(china_co2[2022] / china_co2[2016]), 4)}
    for label in [k for k in sums if k.startswith("provinces")]:
        total = sums[label]
        checks[f"{label}: forecast sum 2016 (history)"] = round(float(total.sel(year=2016).median()), 1)
        checks[f"{label}: PIT of CEADs sum 2019"] = round(float((total.sel(year=2019) < ceads[2019]).mean()), 3)
        target = ceads[2016] * china_co2[2022] / china_co2[2016]
        checks[f"{label}: PIT of 2016 sum x national growth to 2022"] = round(float((total.sel(year=2022) < target).mean()), 3)
    summary = {"package_version": __version__, "sampler": {**sampler, "chains": provinces.sampler.chains},
               "forecast_draws": args.forecast_draws, "fits": meta, "variance_ratio": ratios,
               "last_data_year": last, "checks": checks,
               "rel_width_90": {f"{r.series} {r.year} (lead {r.lead})": round(r.rel_width_90, 3)
                                for r in table.itertuples()}}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out.with_suffix(".csv"), index=False, float_format="%.4g")
    out.with_suffix(".json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
