"""Command-line shell over the public API: it parses arguments, prints, and sets exit codes; no logic.

Exit codes: 0 success; 2 bad input (study file, data, priors, arguments); 3 sampler diagnostics:
``--strict`` and the diagnostics raised warnings, or a model the run cannot use because it did not
converge (an error carrying ``diagnostics``, e.g. the land-sink model); 1 an unexpected internal error.
"""

from __future__ import annotations

import logging
import re
import sys
import warnings
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from forecast.errors import CarbonForecastError, InputError
from forecast.limits import MAX_CHAINS, MAX_DRAWS, MAX_MC_DRAWS

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Probabilistic carbon peak forecasts.")
priors_app = typer.Typer(no_args_is_help=True, help="Browse the prior library.")
data_app = typer.Typer(no_args_is_help=True, help="Inspect data sources.")
app.add_typer(priors_app, name="priors")
app.add_typer(data_app, name="data")

console = Console(stderr=True)
out = out_console = Console()  # stdout: results and, with --quiet, where they were written

EXIT_INPUT = 2
EXIT_DIAGNOSTICS = 3

StudyArg = typer.Argument(None, help="Study TOML file or folder (default: the built-in 'global' study).")
DataDirOpt = typer.Option(None, "--data-dir", envvar="CARBON_FORECAST_DATA", help="Folder with the data files.")
SeedOpt = typer.Option(None, "--seed", min=0, max=2**32 - 1, help="Random seed (default: the study's).")
QuietOpt = typer.Option(False, "--quiet", "-q", help="No progress output; print only where the results were written.")


def _quiet_libraries() -> None:
    from forecast.errors import SamplerWarning

    warnings.filterwarnings("ignore", category=FutureWarning, module="arviz")
    warnings.filterwarnings("ignore", category=SamplerWarning)  # printed by _finish instead
    warnings.filterwarnings("ignore", message=".*BLAS.*")
    for name in ("pymc", "pytensor", "nutpie", "arviz"):
        logging.getLogger(name).setLevel(logging.ERROR)


def default_out_dir(study_name: str, suffix: str = "") -> Path:
    """``results/<name><suffix>`` with the study name reduced to letters, digits, ``.``, ``_`` and ``-``: a
    study file is data from elsewhere, so its name never chooses a path (no ``..``, ``/`` or absolute
    path)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", str(study_name)).strip("._-") or "study"
    return Path("results") / f"{safe}{suffix}"


def _check_data_dir(data_dir: Optional[Path]) -> None:
    """An unusable ``--data-dir`` (or ``$CARBON_FORECAST_DATA``) fails at once, before the model code is
    imported, and the message says which of the two gave the folder."""
    if data_dir is None:
        return
    from forecast.data import check_data_dir
    from forecast.errors import DataNotFoundError

    try:
        check_data_dir(data_dir)
    except DataNotFoundError as err:
        import os

        env = os.environ.get("CARBON_FORECAST_DATA")
        given = any(arg == "--data-dir" or arg.startswith("--data-dir=") for arg in sys.argv[1:])
        if given or env is None or Path(env) != Path(data_dir):
            raise
        message = str(err)
        raise DataNotFoundError(message.replace("--data-dir / data_dir", "$CARBON_FORECAST_DATA")
                                if "--data-dir / data_dir" in message else f"{message} ($CARBON_FORECAST_DATA)") from None


def _load(study_path: Optional[Path]):
    from forecast.run.study import default_study_path, load_study

    return load_study(study_path if study_path is not None else default_study_path())


def _say(quiet: bool):
    def say(stage: str) -> None:
        if not quiet:
            console.print(f"[bold cyan]•[/] {stage}")

    return say


def _print_peaks(result) -> None:
    table = Table(title="Peak-year probabilities (focus regions)")
    for col in ("region", "P(already peaked)", "P(peak<=2030)", "P(peak<=2035)", "P(no peak by horizon)", "peak year, median",
                "peak year 5-95%"):
        table.add_column(col)
    peaks = result.peak_table
    focus = [r for r in (result.study or {}).get("focus_regions") or [] if r in peaks.index]
    if focus:  # the report has every region; the terminal the ones the study asks about
        peaks = peaks.loc[focus]
    for region, row in peaks.iterrows():
        table.add_row(
            str(region),
            f"{row['p_already_peaked']:.0%}",
            f"{row.get('p_peak_by_2030', float('nan')):.0%}",
            f"{row.get('p_peak_by_2035', float('nan')):.0%}",
            f"{row['p_no_peak_by_horizon']:.0%}",
            "none by horizon" if row["p_no_peak_by_horizon"] >= 0.5 else str(int(row["peak_year_q50"])),
            f"{int(row['peak_year_q05'])}-{int(row['peak_year_q95'])}",
        )
    out.print(table)


def _print_neutrality(result) -> None:
    sinks = result.sinks or {}
    from forecast.metrics import cfe_tables

    neutral, constant = cfe_tables(sinks)
    if neutral is None:
        return
    cols = [c for c in neutral.columns if c.startswith("p_neutral_by_") and c != "p_neutral_by_horizon"]
    table = Table(title=f"Carbon neutrality (fossil + land-use change − ecosystem sinks); P(CFE declining) {sinks.get('p_decline', float('nan')):.0%}")
    table.add_column("region")
    for c in cols:
        table.add_column(f"P(neutral by {c[-4:]})")
        table.add_column("(constant CFE)")
    for region, row in neutral.iterrows():
        cells = []
        for c in cols:
            cells += [f"{row[c]:.0%}", f"{constant.loc[region, c]:.0%}" if constant is not None else "-"]
        table.add_row(str(region), *cells)
    out.print(table)


def _finish(run, out_dir: Path, strict: bool, quiet: bool) -> None:
    from forecast.run.pipeline import write_outputs

    write_outputs(run, out_dir)
    # the emission model's warnings and those of any driver models (GDP, population) fitted for the scenario
    warnings_seen = list(run.result.diagnostics.attrs.get("warnings", run.model.diagnostics.warnings))
    for warning in warnings_seen:
        console.print(f"[yellow]⚠ sampler:[/] {warning}")
    if quiet:  # quiet still says where the results are: one line on stdout, nothing else
        out.print(str(out_dir), soft_wrap=True)
    else:
        _print_peaks(run.result)
        _print_neutrality(run.result)
        timing = ", ".join(f"{k} {v:.1f}s" for k, v in run.timings.items())
        console.print(f"[green]✓[/] wrote {out_dir}/report.html, report.md, bands.csv, forecast.nc, result.nc, "
                      f"summary.json ({timing})")
    if strict and warnings_seen:
        raise typer.Exit(EXIT_DIAGNOSTICS)


@app.command()
def run(
    study: Optional[Path] = StudyArg,
    out_dir: Path = typer.Option(None, "--out", "-o", help="Output folder (default: results/<study name>)."),
    data_dir: Optional[Path] = DataDirOpt,
    seed: Optional[int] = SeedOpt,
    draws: Optional[int] = typer.Option(None, help="Posterior draws per chain (overrides the study's \\[sampler] draws)."),
    forecast_draws: Optional[int] = typer.Option(None, help="Forecast samples (overrides the study's \\[forecast] draws)."),
    quiet: bool = QuietOpt,
    strict: bool = typer.Option(False, help="Exit with code 3 when sampler diagnostics warn."),
) -> None:
    """Fit the study's model, forecast, and write the report and exports."""
    spec = _load(study)  # a bad study file answers before the model code is imported
    from forecast.io.atomic import check_output_dir

    if draws is not None:
        spec = spec.with_overrides(sampler={"draws": draws})
    if forecast_draws is not None:
        spec = spec.with_overrides(forecast={"draws": forecast_draws})
    out_dir = out_dir or default_out_dir(spec.study.name)
    check_output_dir(out_dir)
    _check_data_dir(data_dir)

    from forecast.run.pipeline import run_study
    result = run_study(spec, data_dir=data_dir, seed=seed, progress=not quiet and sys.stderr.isatty(), on_stage=_say(quiet))
    _finish(result, out_dir, strict, quiet)


@app.command()
def fit(
    study: Optional[Path] = StudyArg,
    out: Path = typer.Option(..., "--out", "-o", help="NetCDF file for the fitted model."),
    data_dir: Optional[Path] = DataDirOpt,
    seed: Optional[int] = SeedOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Fit the study's model only and save the posterior (reuse it with `report --model`)."""
    spec = _load(study)  # a bad study file answers before the model code is imported
    from forecast.io.atomic import check_output_file

    check_output_file(out)
    _check_data_dir(data_dir)

    from forecast.run.pipeline import check_study, fit_model, load_study_panel
    seed = spec.study.seed if seed is None else seed
    _say(quiet)("loading data")
    panel = load_study_panel(spec, data_dir=data_dir)
    model, _, _ = check_study(spec, panel, data_dir=data_dir)
    _say(quiet)(f"fitting on {panel['region'].nunique()} regions")
    fit_model(spec, model, panel, seed=seed, progress=not quiet and sys.stderr.isatty())
    model.save(out)
    for warning in model.diagnostics.warnings:
        console.print(f"[yellow]⚠ sampler:[/] {warning}")
    if quiet:
        out_console.print(str(out), soft_wrap=True)
    else:
        console.print(f"[green]✓[/] wrote {out}")


@app.command("prior-check")
def prior_check(
    study: Optional[Path] = StudyArg,
    out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for prior_check.csv / .md (default: print only)."),
    data_dir: Optional[Path] = DataDirOpt,
    draws: int = typer.Option(500, min=10, max=MAX_DRAWS, help="Prior predictive draws."),
    seed: Optional[int] = SeedOpt,
    quiet: bool = QuietOpt,
) -> None:
    """What the priors alone imply for the study's data, before any fitting: data simulated from the priors of
    the emission model (and of the land-sink model when [sinks] is on) against the observed data."""
    spec = _load(study)
    if out_dir is not None:
        from forecast.io.atomic import check_output_dir

        check_output_dir(out_dir)
    _check_data_dir(data_dir)
    import pandas as pd

    from forecast.evaluation.prior_check import prior_check_table
    from forecast.run.pipeline import check_study, load_study_panel

    seed = spec.study.seed if seed is None else seed
    _say(quiet)("loading data")
    panel = load_study_panel(spec, data_dir=data_dir)
    model, _, _ = check_study(spec, panel, data_dir=data_dir)
    tables = {model.name: prior_check_table(model, model.prepare(panel), draws=draws, random_seed=seed)}
    if spec.sinks.enabled:
        from forecast.run.stages.sinks import build_sinks

        land, _ = build_sinks(spec)
        arrays = land.prepare(years=tuple(spec.sinks.fit_years), data_dir=data_dir)
        tables[land.name] = prior_check_table(land, arrays, draws=draws, random_seed=seed)
    frame = pd.concat(tables, names=["model"]).reset_index(level=0)
    if out_dir is not None:
        from forecast.io.atomic import atomic_write_text
        from forecast.mdtable import md_table

        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out_dir / "prior_check.csv", frame.to_csv(index=False, float_format="%.4g"))
        rows = [[str(v) if isinstance(v, str) else f"{v:.3g}" for v in r] for r in frame.itertuples(index=False)]
        atomic_write_text(out_dir / "prior_check.md", md_table(list(frame.columns), rows) + "\n")
    if quiet:
        out_console.print(str(out_dir) if out_dir else frame.to_csv(index=False, float_format="%.4g"), soft_wrap=True)
        return
    table = Table(title=f"Prior predictive check ({draws} draws): observed statistic vs its 90% prior range")
    for col in ("model", "variable", "statistic", "observed", "prior 5%", "prior 50%", "prior 95%", "P(prior ≥ obs)"):
        table.add_column(col)
    for r in frame.itertuples(index=False):
        table.add_row(r.model, r.variable, r.statistic, *(f"{v:.3g}" for v in (r.observed, r.prior_q05, r.prior_q50,
                                                                               r.prior_q95)), f"{r.p_prior_above:.2f}")
    out.print(table)


@app.command()
def report(
    study: Optional[Path] = StudyArg,
    model_path: Path = typer.Option(..., "--model", "-m", help="Fitted model written by `fit` or `run` (model.nc)."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    data_dir: Optional[Path] = DataDirOpt,
    seed: Optional[int] = SeedOpt,
    quiet: bool = QuietOpt,
) -> None:
    """Forecast from a saved model and write the report and exports (no refitting)."""
    spec = _load(study)  # a bad study file answers before the model code is imported
    from forecast.io.atomic import check_output_dir

    check_output_dir(out_dir)
    _check_data_dir(data_dir)

    from forecast.run.pipeline import check_study, forecast_study, load_model, load_or_fit_drivers, load_study_panel
    from forecast.scenarios import DriverScenario

    seed = spec.study.seed if seed is None else seed
    panel = load_study_panel(spec, data_dir=data_dir)
    _, scenario, regions = check_study(spec, panel, data_dir=data_dir)
    model = load_model(spec, model_path)
    if isinstance(scenario, DriverScenario):
        load_or_fit_drivers(spec, scenario, Path(model_path).parent, seed=seed,
                            progress=not quiet and sys.stderr.isatty(), say=_say(quiet))
    run_ = forecast_study(spec, panel, model, scenario, regions, data_dir=data_dir, seed=seed,
                          progress=not quiet and sys.stderr.isatty(), say=_say(quiet))
    _finish(run_, out_dir, False, quiet)


@app.command()
def effort(
    study: Optional[Path] = StudyArg,
    target: Optional[list[str]] = typer.Option(None, "--target", "-t", help="Target, short form (repeat): peak_by:2030, emissions_below:2030:10000 (Mt), per_capita_below:2030:8 (t), intensity_reduction:2030:2005:0.65, neutral_by:2060. Default: the study's \\[\\[targets]]."),
    prob: Optional[list[float]] = typer.Option(None, "--prob", "-p", help="Required probability of meeting the target (repeat; default: the study's \\[effort] probabilities, 0.5 0.8 0.9)."),
    from_run: Optional[Path] = typer.Option(None, "--from", help="A run folder written by `run` or `report` (its result.nc): read its forecast, fit nothing."),
    scenario: Optional[str] = typer.Option(None, "--scenario", help="With --from: the scenario of the run's scenario dim to start from (e.g. drivers, a policy's name; default: the study's own)."),
    out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for effort.csv, effort_curve.csv and effort.png (default: print only)."),
    data_dir: Optional[Path] = DataDirOpt,
    seed: Optional[int] = SeedOpt,
    draws: Optional[int] = typer.Option(None, help="Posterior draws per chain when the study is run (overrides \\[sampler] draws)."),
    forecast_draws: Optional[int] = typer.Option(None, help="Forecast samples when the study is run (overrides \\[forecast] draws)."),
    quiet: bool = QuietOpt,
) -> None:
    """The extra annual decline of carbon intensity (and, for neutral_by targets, the extra sink) needed for
    P(target met) >= each probability, per region: from a saved run (--from) or by running the study."""
    spec = _load(study)  # a bad study file answers before the model code is imported
    from forecast.policy.targets import parse_target

    targets = [parse_target(t) for t in target or []] or [t.spec() for t in spec.targets]
    if not targets:
        raise InputError("no target: give --target (e.g. --target peak_by:2030) or [[targets]] in the study")
    # the study's own checks (probabilities, target keys) answer before any data are read or sampled
    spec = spec.with_overrides(targets=targets, effort={"enabled": True, **({"probabilities": prob} if prob else {})})
    if out_dir is not None:
        from forecast.io.atomic import check_output_dir

        check_output_dir(out_dir)
    if scenario is not None and from_run is None:
        raise InputError("--scenario reads a saved run's scenario dim: give --from RUN_DIR too")
    tables = _effort_from_run(spec, from_run, scenario) if from_run is not None else _effort_by_running(
        spec, data_dir=data_dir, seed=seed, draws=draws, forecast_draws=forecast_draws, quiet=quiet)
    if out_dir is not None:
        _write_effort(tables, out_dir)
    if quiet:
        if out_dir is not None:
            out.print(str(out_dir), soft_wrap=True)
        return
    _print_effort(tables["effort"])
    if out_dir is not None:
        console.print(f"[green]✓[/] wrote {out_dir}/effort.csv, effort_curve.csv, effort.png")


def _effort_from_run(spec, folder: Path, scenario: str | None = None) -> dict:
    """Effort tables from a saved run's forecast (one ``scenario`` of its scenario dim; targets checked
    against it first)."""
    import pandas as pd

    from forecast.policy.effort import effort_curve, effort_table, load_forecast
    from forecast.policy.targets import check_targets_on
    from forecast.run.stages.targets import effort_results

    ds = load_forecast(folder, scenario)
    targets = check_targets_on(ds, [t.spec() for t in spec.targets])
    results = effort_results(ds, targets, spec)
    curves = [effort_curve(r).assign(target=r.attrs["target"], lever=r.attrs["lever"]) for r in results]
    return {"effort": effort_table(results), "effort_curve": pd.concat(curves, ignore_index=True)}


def _effort_by_running(spec, *, data_dir, seed, draws, forecast_draws, quiet) -> dict:
    """Run the study (its targets stage computes the effort tables) and return them."""
    if draws is not None:
        spec = spec.with_overrides(sampler={"draws": draws})
    if forecast_draws is not None:
        spec = spec.with_overrides(forecast={"draws": forecast_draws})
    _check_data_dir(data_dir)
    from forecast.run.pipeline import run_study

    run_ = run_study(spec, data_dir=data_dir, seed=seed, progress=not quiet and sys.stderr.isatty(), on_stage=_say(quiet))
    return {name: run_.result.tables[name] for name in ("effort", "effort_curve")}


def _write_effort(tables: dict, out_dir: Path) -> None:
    from types import SimpleNamespace

    from forecast.io.atomic import atomic_output_dir
    from forecast.report.figures import effort_chart

    with atomic_output_dir(out_dir) as tmp:
        tables["effort"].to_csv(tmp / "effort.csv", index=False)
        tables["effort_curve"].to_csv(tmp / "effort_curve.csv", index=False)
        if (tables["effort_curve"]["lever"] == "decline").any():
            ax = effort_chart(SimpleNamespace(tables=tables))
            ax.figure.savefig(tmp / "effort.png", dpi=110, metadata={"Software": None})


def _print_effort(table) -> None:
    import math

    rich_table = Table(title="Required effort for P(target met) >= p (90% Monte Carlo interval)")
    for col in ("target", "region", "p", "P(met) now", "required", "interval", "units"):
        rich_table.add_column(col)
    for row in table.itertuples():
        if row.status == "unreachable":
            cell, band = "unreachable", "-"
        elif row.lever == "decline":
            cell = f"{row.extra_decline_pct:.2f} %/yr ({row.required:.4f})"
            band = f"{row.required_low:.4f}-{row.required_high:.4f}" if math.isfinite(row.required_high) else f">= {row.required_low:.4f}"
        else:
            cell = f"{row.required:,.0f}"
            band = f"{row.required_low:,.0f}-{row.required_high:,.0f}" if math.isfinite(row.required_high) else f">= {row.required_low:,.0f}"
        rich_table.add_row(f"{row.target} ({row.lever})", str(row.region), f"{row.probability:g}", f"{row.p_met_now:.1%}",
                           cell, band, "log units/yr" if row.lever == "decline" else str(row.units))
    out.print(rich_table)


@app.command()
def inventory(
    study: Optional[Path] = typer.Argument(None, help="A study file: inventories of its provinces (china_provinces data, last data year) and its [landuse] account."),
    province: Optional[str] = typer.Option(None, help="CEADs province for a fossil-CO2 inventory (e.g. Shandong)."),
    year: Optional[int] = typer.Option(None, help="Year of the CEADs inventory (1997-2019)."),
    activities: Optional[Path] = typer.Option(None, help="CSV of activities (category, value, units[, rel_sd, distribution]); factors from the IPCC priors."),
    landuse: Optional[Path] = typer.Option(None, help="CSV of land areas (land_type, area_mha[, rel_sd]) for a land-use carbon account."),
    factors: Optional[Path] = typer.Option(None, help="A fitted emission-factor model (NetCDF from `carbon-forecast factors`): its posterior is the factor source instead of the IPCC priors (--province: the province's factors if it has measurements, else the category factors)."),
    fuel_properties: Optional[Path] = typer.Option(None, help="With --province: CSV of the net calorific value, carbon content and oxidation CEADs used per fuel (fuel, ncv, ncv_units, carbon_content, oxidation, citation); the inventory then runs on the recovered fuel energy (TJ) with per-TJ factors chosen by --factor-choice or --factors."),
    factor_choice: str = typer.Option("ipcc", help="With --fuel-properties: 'ipcc' (IPCC 2006 Table 1.4 defaults), 'china' (the properties' carbon content x oxidation) or 'both' (side by side)."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    data_dir: Optional[Path] = DataDirOpt,
    seed: int = typer.Option(1, "--seed", min=0, max=2**32 - 1, help="Random seed of the Monte Carlo."),
    draws: int = typer.Option(20_000, min=100, max=MAX_MC_DRAWS, help="Monte Carlo draws (Approach 2)."),
    quiet: bool = QuietOpt,
) -> None:
    """IPCC Approach 1 and Approach 2 uncertainty of an emission inventory, side by side."""
    if factor_choice not in ("ipcc", "china", "both"):
        raise CarbonForecastError(f"--factor-choice must be ipcc, china or both, got {factor_choice!r}")
    if fuel_properties is not None and province is None:
        raise CarbonForecastError("--fuel-properties goes with --province and --year (a CEADs province-year)")
    if factor_choice != "ipcc" and factors is not None:
        raise CarbonForecastError("give --factor-choice or --factors (a fitted posterior), not both")
    if factor_choice != "ipcc" and fuel_properties is None:
        raise CarbonForecastError("--factor-choice needs --fuel-properties (the China-specific factors come from it)")
    from forecast.io.atomic import atomic_output_dir, check_output_dir

    check_output_dir(out_dir)
    _check_data_dir(data_dir)
    from forecast.policy.inventory import ceads_fuel_inventory, compare_approaches, inventory_report, read_activities

    if study is not None:
        if province or activities or landuse or factors:
            raise CarbonForecastError("give a study file or one of --province / --activities / --landuse, not both "
                                      "(a study sets its factor source in [inventory] factors)")
        _study_inventory(_load(study), out_dir, data_dir=data_dir, seed=seed, draws=draws, quiet=quiet)
        return
    if landuse is not None:
        if factors is not None:
            raise CarbonForecastError("--factors applies to --province and --activities inventories, not --landuse")
        _landuse_inventory(landuse, out_dir, seed=seed, draws=draws, quiet=quiet)
        return
    if (province is None) == (activities is None):
        raise CarbonForecastError("give one of --province with --year (CEADs), --activities CSV or --landuse CSV")
    provenance = []
    factor_model = None
    if factors is not None:
        if not factors.is_file():
            raise CarbonForecastError(f"--factors: no such file {factors}")
        from forecast.data import file_provenance
        from forecast.models.emission_factors import EmissionFactorModel

        factor_model = EmissionFactorModel.load(factors)
        provenance.append(file_provenance(factors))
    if province is not None:
        import pandas as pd

        from forecast.data.china import resolve_china_file
        from forecast.data import file_provenance

        if year is None:
            raise CarbonForecastError("--province needs --year")
        path = resolve_china_file("ceads_co2", data_dir)
        table = pd.read_csv(path)
        if province not in set(table["province"]):
            raise CarbonForecastError(f"province {province!r} not in {path.name}; provinces: {', '.join(sorted(set(table['province'])))}")
        if year not in set(table.loc[table["province"] == province, "year"]):
            raise CarbonForecastError(f"no CEADs inventory for {province} in {year}")
        provenance.insert(0, file_provenance(path))
        if fuel_properties is not None:
            _energy_inventory(table, province, year, fuel_properties, [factor_model] if factor_model is not None else (["ipcc", "china"] if factor_choice == "both" else [factor_choice]),
                              out_dir,
                              provenance=provenance, seed=seed, draws=draws, quiet=quiet)
            return
        acts, factor_src = ceads_fuel_inventory(table, province, year)
        title = f"Fossil CO2 inventory of {province}, {year} (CEADs fuel breakdown)"
        if factor_model is not None:
            from forecast.policy.inventory import ceads_factor_draws

            factor_src = ceads_factor_draws(list(acts), draws, factors=factor_model, region=province, random_seed=seed)
            title += f"; factors: {factor_src.attrs['factor_source']} relative to the IPCC defaults"
    else:
        acts = read_activities(activities)  # a bad file answers before the factor model (PyMC) is imported
        if factor_model is None:
            from forecast.models.emission_factors import prior_factor_draws

            factor_src = prior_factor_draws(list(acts), n=draws, random_seed=seed)
            title = f"Emission inventory of {activities.name} (IPCC 2006 default factors as priors)"
        else:
            from forecast.policy.inventory import _missing_factor

            missing = [c for c in acts if c not in factor_model.category_names]
            if missing:
                raise CarbonForecastError("; ".join(_missing_factor(c, factor_model.category_names) for c in missing))
            factor_src = factor_model.factor_draws(draws, random_seed=seed, level="category").sel(category=list(acts))
            title = f"Emission inventory of {activities.name} (factors: posterior of {factors.name}, category level)"
    comparison = compare_approaches(acts, factor_src, n=draws, random_seed=seed)
    with atomic_output_dir(out_dir) as tmp:
        comparison.to_csv(tmp / "inventory.csv")
        (tmp / "inventory.md").write_text(inventory_report(comparison, title=title, provenance=provenance), encoding="utf-8")
    if not quiet:
        table_ = Table(title=title)
        for col in ("approach", "total", "95% interval", "U- %", "U+ %"):
            table_.add_column(col)
        for name, row in comparison.iterrows():
            table_.add_row(str(name), f"{row['total']:,.2f}", f"{row['lower']:,.2f}-{row['upper']:,.2f}",
                           f"{row['U_minus_pct']:.2f}", f"{row['U_plus_pct']:.2f}")
        out.print(table_)
        console.print(f"[green]✓[/] wrote {out_dir}/inventory.md, inventory.csv")
    else:  # quiet still says where the results are: one line on stdout
        out.print(str(out_dir), soft_wrap=True)


def _energy_inventory(table, province: str, year: int, properties_path: Path, sources: list, out_dir: Path, *,
                      provenance: list, seed: int, draws: int, quiet: bool) -> None:
    """Approach 1 and 2 on the fuel energy recovered from CEADs' CO2 (forecast.policy.fuel_activity), once
    per factor source in ``sources`` ("ipcc", "china" or a fitted EmissionFactorModel), same seed."""
    import pandas as pd

    from forecast.data import file_provenance
    from forecast.io.atomic import atomic_output_dir
    from forecast.mdtable import frame_table
    from forecast.policy.fuel_activity import ceads_energy_inventory, read_fuel_properties

    props = read_fuel_properties(properties_path)
    provenance = [*provenance, file_provenance(properties_path)]
    results = [ceads_energy_inventory(table, province, year, props, factors=s, draws=draws, random_seed=seed)
               for s in sources]
    frame = pd.concat([r.to_frame() for r in results])
    shares = pd.concat({r.factors: r.variance_share for r in results}, axis=1)
    shares.columns = [f"{a} | {b}" for a, b in shares.columns]
    title = f"Fossil CO2 inventory of {province}, {year}: fuel energy recovered from CEADs"
    lines = [f"# {title}", "", "Totals (Mt CO2, 95% intervals) by factor source:", "",
             frame_table(frame.reset_index(), "{:,.3f}"), "",
             "Share of the total variance by fuel:", "", frame_table(shares.reset_index(), "{:.3f}"), "",
             "systematic_rel_sd: the emission-factor part of the error (the same every year); random_rel_sd: the "
             "activity-data part (independent between years), relative 1-sigma (IPCC 2006 Vol. 1 Ch. 3, "
             "Sect. 3.2.3.1).", "",
             "Fuel use recovered from CEADs' CO2 with the properties table:", "",
             frame_table(results[0].fuels.reset_index(), "{:,.4g}"), "",
             "Data: " + "; ".join(f"`{Path(p['path']).name}` (SHA-256 `{p['sha256']}`)" for p in provenance),
             f"Seed {seed}, {draws} Monte Carlo draws."]
    with atomic_output_dir(out_dir) as tmp:
        frame.to_csv(tmp / "inventory.csv")
        shares.to_csv(tmp / "variance_share.csv")
        results[0].fuels.to_csv(tmp / "fuel_use.csv")
        (tmp / "inventory.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if quiet:
        out_console.print(str(out_dir), soft_wrap=True)
        return
    rich_table = Table(title=title)
    for col in ("factors", "approach", "total", "95% interval", "U- %", "U+ %", "systematic", "random"):
        rich_table.add_column(col)
    for name, row in frame.iterrows():
        rich_table.add_row(str(row["factors"]), str(name), f"{row['total']:,.2f}", f"{row['lower']:,.2f}-{row['upper']:,.2f}",
                           f"{row['U_minus_pct']:.2f}", f"{row['U_plus_pct']:.2f}", f"{row['systematic_rel_sd']:.2%}",
                           f"{row['random_rel_sd']:.2%}")
    out_console.print(rich_table)
    console.print(f"[green]✓[/] wrote {out_dir}/inventory.md, inventory.csv, variance_share.csv, fuel_use.csv")


@app.command("factors")
def factors_cmd(
    measurements: Optional[Path] = typer.Option(None, help="CSV of measured emission factors (category, region, value, units, feeds, citation[, note]); default: the file shipped with the package (priors/emission_factor_measurements.csv)."),
    out: Path = typer.Option(..., "--out", "-o", help="NetCDF file for the fitted emission-factor model (use it with `inventory --factors`)."),
    seed: int = typer.Option(1, "--seed", min=0, max=2**32 - 1, help="Random seed of the sampler."),
    draws: int = typer.Option(1000, min=50, max=MAX_MC_DRAWS, help="Posterior draws per chain."),
    tune: int = typer.Option(1000, min=50, max=MAX_MC_DRAWS, help="Tuning steps per chain."),
    quiet: bool = QuietOpt,
) -> None:
    """Fit the hierarchical emission-factor model (IPCC 2006 Table 1.4 priors) to measured factors and save it."""
    from forecast.io.atomic import check_output_file
    from forecast.policy.factor_data import read_factor_measurements

    check_output_file(out)
    frame = read_factor_measurements(measurements)  # a bad file answers before PyMC is imported
    from forecast.models.emission_factors import EmissionFactorModel

    if frame.empty:
        console.print(f"[yellow]⚠[/] {frame.attrs['path']} has no rows with feeds = yes: the fit is the IPCC prior only")
    else:
        _say(quiet)(f"fitting {len(frame)} measurements of {frame['category'].nunique()} categories "
                    f"in {frame['region'].nunique()} regions")
    data = frame[["category", "region", "value", "units"]] if len(frame) else None
    # every category, so the model is a factor source for any inventory; unmeasured ones stay at their prior
    from forecast.models.emission_factors import prior_factor_draws

    every = [str(c) for c in prior_factor_draws(n=1)["category"].values]
    model = EmissionFactorModel(categories=every).fit(data, random_seed=seed, draws=draws, tune=tune,
                                      progress=not quiet and sys.stderr.isatty())
    model.save(out)
    for warning in model.diagnostics.warnings:
        console.print(f"[yellow]⚠ sampler:[/] {warning}")
    if quiet:
        out_console.print(str(out), soft_wrap=True)
    else:
        summary = model.summary()
        rich_table = Table(title=f"Emission factors ({summary.attrs.get('units', '')}), posterior median and 94% HDI")
        for col in ("level", "category", "region", "median", "hdi_low", "hdi_high"):
            rich_table.add_column(col)
        for row in summary.to_dict("records"):
            region = row.get("region")
            rich_table.add_row(row["level"], str(row["category"]), "" if region is None or region != region else str(region),
                               f"{row['median']:,.0f}",
                               f"{row['hdi_low']:,.0f}", f"{row['hdi_high']:,.0f}")
        out_console.print(rich_table)
        console.print(f"[green]✓[/] wrote {out}")


def _study_inventory(spec, out_dir: Path, *, data_dir, seed: int, draws: int, quiet: bool) -> None:
    """The inventories a study implies: Approach 1 and 2 for each province of a ``china_provinces`` study
    in its last data year (CEADs fuel breakdown), and the study's ``[landuse]`` account."""
    import pandas as pd

    from forecast.io.atomic import atomic_output_dir
    from forecast.policy.inventory import ceads_fuel_inventory, compare_approaches
    from forecast.run.pipeline import forecast_regions, load_study_panel, run_landuse

    if spec.data.source != "china_provinces" and not spec.landuse.enabled:
        raise CarbonForecastError(f"study {spec.study.name!r} has no inventory to compute: it needs [data] source = "
                                  "\"china_provinces\" (CEADs fuel inventories) or [landuse] enabled = true")
    from forecast.mdtable import frame_table

    tables: list[tuple[str, pd.DataFrame, str]] = []  # (title, table, CSV file name)
    if spec.data.source == "china_provinces":
        from forecast.data.china import resolve_china_file

        panel = load_study_panel(spec, data_dir=data_dir)
        year = int(panel["year"].max())
        ceads = pd.read_csv(resolve_china_file("ceads_co2", data_dir))
        from forecast.policy.inventory import ceads_factor_draws
        from forecast.run.stages.emissions import inventory_factors

        source = inventory_factors(spec)  # "ipcc" or the fitted EmissionFactorModel [inventory] factors names
        rows = []
        for i, province in enumerate(forecast_regions(spec, panel)):
            acts, factors = ceads_fuel_inventory(ceads, province, year)
            if not isinstance(source, str):
                factors = ceads_factor_draws(list(acts), draws, factors=source, region=province, random_seed=seed + i)
            comparison = compare_approaches(acts, factors, n=draws, random_seed=seed + i)
            for approach, row in comparison.iterrows():
                rows.append({"region": province, "year": year, "approach": approach,
                             "factors": source if isinstance(source, str) else factors.attrs["factor_source"], **row.to_dict()})
        tables.append((f"Fossil CO2 inventories, {year} (CEADs fuel breakdown; Mt CO2, 95% intervals)",
                       pd.DataFrame(rows), "inventory_by_region.csv"))
    if spec.landuse.enabled:
        lu = spec.landuse
        tables.append((f"Land-use carbon account of {lu.region or 'the study region'} (Mt CO2/yr, positive = emission)",
                       run_landuse(spec, seed=seed), "landuse.csv"))
    with atomic_output_dir(out_dir) as tmp:
        lines = [f"# Inventories of study '{spec.study.name}'\n"]
        for title, frame, name in tables:
            frame.to_csv(tmp / name, index=False)
            lines += [f"## {title}\n", frame_table(frame, "{:,.2f}")]
        (tmp / "inventory.md").write_text("\n".join(lines), encoding="utf-8")
    if not quiet:
        for title, frame, _ in tables:
            rich_table = Table(title=title)
            for col in frame.columns:
                rich_table.add_column(str(col))
            for row in frame.head(40).itertuples(index=False):
                rich_table.add_row(*[f"{v:,.2f}" if isinstance(v, float) else str(v) for v in row])
            out.print(rich_table)
        console.print(f"[green]✓[/] wrote {out_dir}/inventory.md and {', '.join(name for *_, name in tables)}")
    else:  # quiet still says where the results are: one line on stdout
        out.print(str(out_dir), soft_wrap=True)


def _landuse_inventory(path: Path, out_dir: Path, *, seed: int, draws: int, quiet: bool) -> None:
    """Land-use carbon account from a CSV of areas: draws per land type and the net, with intervals."""
    import pandas as pd

    from forecast.io.atomic import atomic_output_dir
    from forecast.policy.landuse import landuse_inventory, read_landuse

    areas, rel_sd = read_landuse(path)  # every check naming the file and row, before any draw
    ds = landuse_inventory(areas, draws=draws, random_seed=seed, area_rel_sd=rel_sd)
    rows = []
    for name, da in [*((str(t), ds["emissions"].sel(land_type=t)) for t in ds["land_type"].values), ("net", ds["net"])]:
        q = da.quantile([0.025, 0.5, 0.975], dim="sample").values
        rows.append({"land_type": name, "mean": float(da.mean()), "q025": q[0], "q50": q[1], "q975": q[2],
                     "units": "Mt CO2/yr (positive = emission)"})
    table = pd.DataFrame(rows)
    with atomic_output_dir(out_dir) as tmp:
        table.to_csv(tmp / "landuse.csv", index=False)
    if not quiet:
        rich_table = Table(title=f"Land-use carbon account of {path.name} (Mt CO2/yr, positive = emission)")
        for col in ("land type", "mean", "95% interval"):
            rich_table.add_column(col)
        for row in rows:
            rich_table.add_row(row["land_type"], f"{row['mean']:,.1f}", f"{row['q025']:,.1f} to {row['q975']:,.1f}")
        out.print(rich_table)
        console.print(f"[green]✓[/] wrote {out_dir}/landuse.csv")
    else:  # quiet still says where the results are: one line on stdout
        out.print(str(out_dir), soft_wrap=True)


@priors_app.command("list")
def priors_list(family: Optional[str] = typer.Argument(None, help="Only this family, e.g. 'ekc'.")) -> None:
    """List the priors (and reference values) in the library."""
    from forecast.priors import default_library

    frame = default_library().to_frame()
    if family:
        frame = frame[frame["name"].str.startswith(f"{family}.")]
        if frame.empty:
            raise CarbonForecastError(f"no priors in family {family!r}")
    table = Table(title="Prior library")
    for col in ("name", "distribution", "params", "units"):
        table.add_column(col, overflow="fold")
    for _, row in frame.iterrows():
        table.add_row(str(row["name"]), str(row["distribution"]), str(row["params"]), str(row["units"]))
    out.print(table)


@priors_app.command("show")
def priors_show(name: str) -> None:
    """Show one prior with its units, source and citation."""
    from forecast.priors import default_library

    entry = default_library().get(name)
    for key, value in entry.to_dict().items():
        out.print(f"[bold]{key}[/]: {value}")


@data_app.command("info")
def data_info_cmd(
    source: str = typer.Argument("owid", help="Source name (owid, noaa_co2_gl, ...) or a file path."),
    data_dir: Optional[Path] = DataDirOpt,
) -> None:
    """Where a data source resolves to, its SHA-256, rows, regions and years."""
    from forecast.data import data_info

    _check_data_dir(data_dir)
    info = data_info(source, data_dir=data_dir)
    for key, value in info.items():
        out.print(f"[bold]{key}[/]: {value}")


@app.command()
def backtest(
    study: Optional[Path] = StudyArg,
    cutoff: Optional[list[int]] = typer.Option(None, "--cutoff", help="Cutoff year (repeat). Default: every third year 1970-2012."),
    cutoffs: Optional[str] = typer.Option(None, "--cutoffs", help="Cutoff years as START:STOP[:STEP] (stop included) or a comma list, e.g. 1970:2012:3."),
    out_dir: Path = typer.Option(None, "--out", "-o", help="Output folder (default: results/<study name>-backtest)."),
    data_dir: Optional[Path] = DataDirOpt,
    draws: int = typer.Option(1000, min=10, max=MAX_DRAWS, help="Sampler draws per chain for each refit."),
    tune: int = typer.Option(1000, min=10, max=MAX_DRAWS, help="Sampler tuning steps per chain for each refit."),
    forecast_draws: int = typer.Option(500, min=10, max=MAX_DRAWS, help="Forecast trajectories per cutoff."),
    fit_years: int = typer.Option(33, "--fit-years", min=0, max=200, help="Rolling fit window in years (0: from the study's first year)."),
    lead_years: int = typer.Option(40, "--lead-years", min=20, max=100, help="Years forecast after each cutoff."),
    seed: int = typer.Option(1, "--seed", min=0, max=2**32 - 1, help="Random seed."),
    model: Optional[list[str]] = typer.Option(None, "--model", help="Emission model to score: ekc, kaya or stirpat, or any registered emission model (repeat to compare; default: the study's)."),
    scenario: Optional[list[str]] = typer.Option(None, "--scenario", help="Scenario: history or drivers (repeat; one per --model, or one for all)."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Keep each finished cutoff in <out>.checkpoints and reuse it after an interruption."),
    reuse_compiled: bool = typer.Option(True, "--reuse-compiled/--recompile", help="Compile the model once and swap each cutoff's data into it (default), or compile it anew at every cutoff."),
    quiet: bool = QuietOpt,
) -> None:
    """Refit the study at past cutoffs, forecast, and score the product's peak probabilities and peak years
    against what happened, with cluster-bootstrap intervals over cutoffs.

    With several --model (and --scenario) values every variant is scored on the same cutoffs and a
    side-by-side comparison.md / comparison.csv / paired.csv is written, with one backtest folder per variant."""
    spec = _load(study)  # a bad study file answers before the model code is imported
    from forecast.io.atomic import check_output_dir

    out_dir = out_dir or default_out_dir(spec.study.name, "-backtest")
    check_output_dir(out_dir)
    _check_data_dir(data_dir)
    from forecast.evaluation.backtest import DEFAULT_CUTOFFS, compare_models, parse_cutoffs
    from forecast.evaluation.backtest_report import write_comparison

    years = [*(cutoff or []), *(parse_cutoffs(cutoffs) if cutoffs else [])] or list(DEFAULT_CUTOFFS)
    variants = _variants(spec, model or [], scenario or [])
    checkpoints = out_dir.parent / f".{out_dir.name}.checkpoints" if resume else None
    command = " ".join(["carbon-forecast", *sys.argv[1:]])
    results = compare_models(spec, variants, years, data_dir=data_dir, draws=draws, tune=tune,
                             forecast_draws=forecast_draws, seed=seed, fit_years=fit_years or None,
                             lead_years=lead_years, checkpoint_dir=checkpoints, reuse_compiled=reuse_compiled,
                             progress=not quiet and sys.stderr.isatty(), say=_say(quiet))
    if len(results) > 1:
        write_comparison(results, out_dir, command=command)
    else:
        from forecast.evaluation.backtest_report import write_backtest

        write_backtest(next(iter(results.values())), out_dir, command=command)
    if checkpoints is not None:
        import shutil

        shutil.rmtree(checkpoints, ignore_errors=True)  # everything is written: nothing left to resume
    if quiet:
        out.print(str(out_dir), soft_wrap=True)
        return
    from forecast.evaluation.backtest import event_label, targets_table

    for name, result in results.items():
        scores = result.scores(n_boot=200)
        table = Table(title=f"Backtest {name}: pooled over {len(years)} cutoffs (90% intervals, 200 resamples)")
        for col in ("event", "n", "Brier skill", "AUC", "log score"):
            table.add_column(col)
        for h in sorted(result.events["horizon"].unique()):
            label = event_label(h)
            table.add_row(label, _event_cell(scores, label, "n", 0).split(" ")[0],
                          *(_event_cell(scores, label, stat) for stat in ("brier_skill", "auc")),
                          _event_cell(scores, label, "log_score", 3))
        out.print(table)
        met = targets_table(scores)
        out.print(f"targets met: {int((met['met'] == 'yes').sum())} of {len(met)} ({int((met['met'] == 'not measured').sum())} not measurable on these cutoffs)")
    console.print(f"[green]✓[/] wrote {out_dir}/" + ("comparison.md and one folder per variant" if len(results) > 1
                                                    else "backtest.md, scores.csv, events.csv, reliability.png"))


@app.command("cfe-windows")
def cfe_windows(
    window: Optional[list[str]] = typer.Option(None, "--window", help="Fit window FIRST:LAST (repeat). Default: 1982:2015, 1959:2014, 1959:2024."),
    variant: Optional[list[str]] = typer.Option(None, "--variant", help="gcb/proportional, joint/proportional or joint/kinetic (repeat; default all three)."),
    out_dir: Path = typer.Option(Path("results/cfe-windows"), "--out", "-o", help="Output folder."),
    data_dir: Optional[Path] = DataDirOpt,
    draws: int = typer.Option(1000, min=10, max=MAX_DRAWS, help="Sampler draws per chain for each fit."),
    tune: int = typer.Option(1000, min=10, max=MAX_DRAWS, help="Sampler tuning steps per chain for each fit."),
    seed: int = typer.Option(20261202, "--seed", min=0, max=2**32 - 1, help="Random seed."),
    quiet: bool = QuietOpt,
) -> None:
    """Refit the land-sink models on several windows and set the fitted decline of the CO2 fertilisation
    effect beside Wang et al. (2020): cfe_windows.csv / .md, a prior-vs-posterior figure and table for each
    joint variant on the longest window, and provenance.json."""
    from forecast.io.atomic import check_output_dir

    check_output_dir(out_dir)
    _check_data_dir(data_dir)
    windows = [_parse_window(w) for w in window] if window else None
    from forecast.sinks import cfe_windows as cw

    say = _say(quiet)
    fits = cw.fit_windows(windows or cw.WINDOWS, variant or cw.VARIANTS, data_dir=data_dir, seed=seed, draws=draws,
                          tune=tune, progress=say)
    table = cw.window_table(fits, seed=seed, draws=draws, tune=tune)
    command = " ".join(["carbon-forecast", *sys.argv[1:]])
    cw.write_windows(table, out_dir, command=command, data_dir=data_dir)
    longest = max({w for w, _ in fits}, key=lambda w: (w[1] - w[0], w[1]))
    for (w, name), model in fits.items():
        if w == longest and name.startswith("joint/"):
            stem = f"prior_posterior_{name.replace('/', '_')}"
            cw.prior_posterior_figure(model, out_dir / f"{stem}.png", random_seed=seed)
            cw.prior_posterior_table(model, random_seed=seed).to_csv(out_dir / f"{stem}.csv", float_format="%.4g")
    if quiet:
        out.print(str(out_dir), soft_wrap=True)
        return
    console.print(f"[green]✓[/] wrote {out_dir}/cfe_windows.md, cfe_windows.csv, prior_posterior_*.png")


def _parse_window(text: str) -> tuple[int, int]:
    parts = text.replace("-", ":").split(":")
    try:
        first, last = (int(p) for p in parts)
    except ValueError:
        raise CarbonForecastError(f"--window must be FIRST:LAST (two years), got {text!r}") from None
    return first, last


def _event_cell(scores, label: str, stat: str, digits: int = 2) -> str:
    """One pooled event score with its interval for the terminal; never a bare ``nan``: Brier skill and
    AUC are undefined when every decided region had the same outcome, and the cell says so."""
    import math

    row = scores[(scores["kind"] == "event") & (scores["target"] == label) & (scores["statistic"] == stat)]
    if not len(row) or not math.isfinite(row.iloc[0]["estimate"]):
        if stat in ("brier_skill", "auc"):
            return "undefined: every decided region had the same outcome"
        return "n/a: no decidable forecasts"
    r = row.iloc[0]
    band = f" ({r['low']:.{digits}f}-{r['high']:.{digits}f})" if math.isfinite(r["low"]) else ""
    return f"{r['estimate']:.{digits}f}{band}"


def _variants(spec, models: list[str], scenarios: list[str]) -> list[tuple[str, str]]:
    """(model, scenario) pairs from repeated --model / --scenario options; errors exit 2 with the reason."""
    from forecast.evaluation.backtest import SCENARIO_TYPES

    models = models or [spec.model.type]
    default = spec.scenario.type if spec.scenario.type in SCENARIO_TYPES else "history"
    if len(scenarios) > 1 and len(scenarios) != len(models):
        raise InputError(f"give one --scenario for all models or one per --model ({len(models)}), not {len(scenarios)}")
    scenarios = scenarios * len(models) if len(scenarios) == 1 else (scenarios or [default] * len(models))
    from forecast.run.study import emission_model_name

    for m in models:
        emission_model_name(m)
    for s_ in scenarios:
        if s_ not in SCENARIO_TYPES:
            raise InputError(f"--scenario {s_!r}: choose {' or '.join(SCENARIO_TYPES)}")
    pairs = list(dict.fromkeys(zip(models, scenarios)))
    return pairs


@app.command()
def counties(
    out_dir: Path = typer.Option(..., "--out", "-o", help="Output folder (counties.csv, counties.json)."),
    data_dir: Optional[Path] = DataDirOpt,
    scheduler: str = typer.Option("local", "--scheduler", help="Address of a running dask scheduler (tcp://host:port), or 'local' for a temporary LocalCluster."),
    workers: int = typer.Option(2, "--workers", min=1, help="Worker processes of the 'local' cluster."),
    province: Optional[list[str]] = typer.Option(None, "--province", help="Only this province (repeat; default: all), e.g. Anhui."),
    max_counties: Optional[int] = typer.Option(None, "--max-counties", min=1, help="Keep the first N counties (by admin code) of each province."),
    min_years: int = typer.Option(10, "--min-years", min=2, help="Drop counties with fewer years of CO2 data."),
    draws: int = typer.Option(500, min=10, max=MAX_DRAWS, help="Sampler draws per chain for each province."),
    tune: int = typer.Option(500, min=10, max=MAX_DRAWS, help="Sampler tuning steps per chain for each province."),
    chains: int = typer.Option(2, min=1, max=MAX_CHAINS, help="Chains per fit (run one after another inside a worker)."),
    seed: int = typer.Option(1, "--seed", min=0, max=2**32 - 1, help="Random seed (one child seed per province)."),
    connect_timeout: float = typer.Option(10.0, "--connect-timeout", min=0.1, help="Seconds to wait for the scheduler."),
    quiet: bool = QuietOpt,
) -> None:
    """Fit the county CO2 growth model (DriftModel) of every province on a dask cluster; write a tidy table."""
    import json

    from forecast.io.atomic import atomic_output_dir, check_output_dir

    check_output_dir(out_dir)
    _check_data_dir(data_dir)
    try:
        from forecast.projection.scale import fit_counties
    except ImportError as err:
        raise CarbonForecastError(f"the counties command needs dask.distributed ({err.name} is missing): "
                                  "pip install 'carbon-forecast[scale]'") from None
    from forecast.data import file_provenance

    path = Path(data_dir) / "china_county_co2.csv" if data_dir is not None else None
    local = scheduler.strip().lower() == "local"
    _say(quiet)(f"fitting county panels on {'a local cluster of ' + str(workers) + ' workers' if local else scheduler}")
    table = fit_counties(path, client=None if local else scheduler, provinces=province or None,
                         max_counties=max_counties, min_years=min_years, random_seed=seed,
                         sampler_kwargs=dict(sampler="pymc", draws=draws, tune=tune, chains=chains),
                         n_workers=workers, connect_timeout=connect_timeout)
    meta = {"model": "DriftModel", "scheduler": "local" if local else scheduler, "seed": seed, "draws": draws,
            "tune": tune, "chains": chains, "max_counties": max_counties, "min_years": min_years,
            "provinces": list(table["province"]), "data": file_provenance(table.attrs["path"]),
            "columns": {"drift_mu_mean": "posterior mean provincial growth of log county CO2 (1/yr)",
                        "drift_sd_mean": "posterior mean between-county sd of that growth (1/yr)"}}
    with atomic_output_dir(out_dir) as tmp:
        table.to_csv(tmp / "counties.csv", index=False)
        (tmp / "counties.json").write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
    if not quiet:
        rich_table = Table(title="County CO2 growth by province (DriftModel)")
        for col in ("province", "counties", "years", "drift (%/yr)", "max R-hat", "divergences"):
            rich_table.add_column(col)
        for _, row in table.iterrows():
            rich_table.add_row(str(row["province"]), str(row["n_counties"]), f"{row['first_year']}-{row['last_year']}",
                               f"{100 * row['drift_mu_mean']:.2f}", f"{row['max_r_hat']:.3f}", str(row["divergences"]))
        out.print(rich_table)
        console.print(f"[green]✓[/] wrote {out_dir}/counties.csv, counties.json")
    else:  # quiet still says where the results are: one line on stdout
        out.print(str(out_dir), soft_wrap=True)


def exit_code(err: CarbonForecastError) -> int:
    """3 for a sampler-diagnostics failure (the error carries the fit's ``diagnostics``), else 2."""
    return EXIT_DIAGNOSTICS if getattr(err, "diagnostics", None) is not None else EXIT_INPUT


def main() -> None:
    """Console-script entry point: user errors print one clear line and exit 2 (3 for an unconverged
    model), never a traceback."""
    _quiet_libraries()
    try:
        # standalone mode: usage errors print click's one-line message and exit 2 by themselves
        app()
    except CarbonForecastError as err:
        # escape: messages name study sections such as "[sampler]", which rich would read as markup
        console.print(f"[bold red]error:[/] {escape(str(err))}", soft_wrap=True)
        sys.exit(exit_code(err))


if __name__ == "__main__":
    main()
