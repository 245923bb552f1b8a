"""Stage: the emission model. Checks the model settings, priors and panel; fits the model; pushes its
posterior through the scenario (the forecast every later stage reads); and, when asked, refits without
measurement error to show what it changes. The model class comes from the registry by ``[model] type``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forecast.errors import PriorError, StudyError
from forecast.models import BayesianModel, model_class
from forecast.models.ekc import EKCModel
from forecast.run.context import RunContext, Stage
from forecast.run.sources import data_source

if TYPE_CHECKING:  # annotations only
    from forecast.projection.propagate import Forecast
    from forecast.run.results import RunResult
    from forecast.run.study import Study


def inventory_measurement_error(panel: pd.DataFrame, *, data_dir=None, year: int | None = None,
                                draws: int = 4000, seed: int = 0) -> dict[str, float]:
    """Relative 1-sigma uncertainty of each province's emissions from its CEADs fuel inventory (IPCC
    Approach 2, half-width of the 95 % interval / 1.96 / total), in the panel's last year by default.
    Fuels that share an IPCC factor (the coal types) share its error (:func:`ceads_source_correlation`).

    This is the old ``[model] measurement_error = "inventory"``: the whole error as year-to-year noise.
    :func:`inventory_error_table` splits it into its systematic and random parts instead."""
    from forecast.data.china import resolve_china_file
    from forecast.policy.inventory import (
        approach2,
        ceads_fuel_inventory,
        ceads_source_correlation,
    )

    table = pd.read_csv(resolve_china_file("ceads_co2", data_dir))
    year = int(panel["year"].max()) if year is None else year
    out = {}
    for i, province in enumerate(sorted(panel["region"].unique())):
        acts, factors = ceads_fuel_inventory(table, province, year)
        res = approach2(acts, factors, n=draws, random_seed=seed + i, correlation=ceads_source_correlation(acts))
        out[province] = float((res.upper - res.lower) / (2 * 1.96 * res.mean))
    return out


def inventory_factors(study: Study):
    """The factor source ``[inventory] factors`` names: ``"ipcc"`` or a loaded EmissionFactorModel."""
    from forecast.models.emission_factors import EmissionFactorModel

    source = study.inventory.factors
    if source == "ipcc":
        return source
    path = study.resolve(source)
    if not path.is_file():
        raise StudyError(f'[inventory] factors: no file {path} (give "ipcc" or the path of an EmissionFactorModel '
                         "saved with .save())")
    return EmissionFactorModel.load(path)


def inventory_error_table(study: Study, panel: pd.DataFrame, *, data_dir=None, seed: int = 0) -> pd.DataFrame:
    """Per province: the CEADs inventory's uncertainty split into its systematic part (emission factors,
    shared by every year: ``systematic_error``, relative 1-sigma, and ``systematic_bias``, log(reported /
    true)) and its random part (activity data, independent each year: ``random_error``), as fed to the
    emission model by ``[inventory] feeds_model`` (:func:`forecast.policy.inventory.ceads_error_split`)."""
    from forecast.data.china import resolve_china_file
    from forecast.errors import InputError
    from forecast.policy.inventory import ceads_error_split

    inv = study.inventory
    factors = inventory_factors(study)
    table = pd.read_csv(resolve_china_file("ceads_co2", data_dir))
    year = int(panel["year"].max()) if inv.year is None else inv.year
    rows = []
    for i, province in enumerate(sorted(panel["region"].unique())):
        try:
            split = ceads_error_split(table, province, year, factors=factors, draws=inv.draws, random_seed=seed + i,
                                      source_correlation=inv.source_correlation)
        except InputError as err:
            raise StudyError(f"[inventory] {province}, {year}: {err}") from None
        rows.append({"region": province, "year": year, **split.relative(), "factor_source": split.factor_source})
    return pd.DataFrame(rows).set_index("region")


STUDY_ONLY_MODEL_KEYS = ("type", "priors", "rationale", "comparison", "backtest", "compare_measurement_error")


def model_settings(study: Study, measurement_error=None, **errors) -> dict:
    """The constructor arguments of the study's emission model (``[model] type`` -> class through the
    registry): every ``[model]`` key the class takes, the priors as ``model_config`` and ``[data]
    min_years``. A key the study sets that the class does not take is an error naming it."""
    m = study.model
    cls = model_class(m.type)
    names = set(cls.setting_names())
    # a key another model type takes may stay at its default (a study can switch type), never more
    foreign = sorted(k for k in m.model_fields_set if k not in names and k not in STUDY_ONLY_MODEL_KEYS
                     and getattr(m, k) != type(m).model_fields[k].default)
    if foreign:
        raise StudyError(f"[model] {', '.join(foreign)}: not a setting of the {m.type} model "
                         f"(its settings: {', '.join(sorted(names - {'model_config'}))})")
    values = {**m.model_dump(), "model_config": m.priors, "min_years": study.data.min_years}
    if measurement_error is not None:
        values["measurement_error"] = measurement_error
    values.update(errors)  # systematic_error / systematic_bias from the inventory split
    unknown = sorted(set(errors) - names)
    if unknown:
        raise StudyError(f"[inventory] feeds_model: the {m.type} model takes no {', '.join(unknown)}")
    return {name: values[name] for name in cls.setting_names() if name in values}


def build_model(study: Study, panel: pd.DataFrame | None = None, *, data_dir=None) -> BayesianModel:
    """The emission model a study describes (``[model] type`` through the model registry; settings only,
    no fitting). ``panel`` is needed only when the measurement error comes from the inventory
    (``[model] measurement_error = "inventory"``, or ``[inventory] feeds_model = true``)."""
    error = study.model.measurement_error
    if study.inventory.feeds_model:
        model = model_class(study.model.type)(**model_settings(study, **inventory_settings(study, panel, data_dir)))
        model.check_settings()
        return model
    if error == "inventory":
        if not data_source(study).inventories or panel is None:
            raise StudyError('[model] measurement_error = "inventory" needs [data] source = "china_provinces"')
        error = inventory_measurement_error(panel, data_dir=data_dir)
    model = model_class(study.model.type)(**model_settings(study, error))
    model.check_settings()
    return model


def inventory_settings(study: Study, panel: pd.DataFrame | None, data_dir=None) -> dict:
    """The emission model's error settings from the inventory split (``[inventory] feeds_model``):
    ``measurement_error`` (random part), ``systematic_error`` and ``systematic_bias`` per region."""
    if study.model.measurement_error not in (0, 0.0, {}):
        raise StudyError("[inventory] feeds_model = true sets the measurement error from the inventory (a "
                         "systematic offset plus random noise); remove [model] measurement_error "
                         f"(= {study.model.measurement_error!r}) or set feeds_model = false")
    if not data_source(study).inventories or panel is None:
        raise StudyError('[inventory] feeds_model = true needs [data] source = "china_provinces" (an inventory '
                         "by fuel for every region)")
    split = inventory_error_table(study, panel, data_dir=data_dir, seed=study.study.seed)
    return {"measurement_error": split["random_error"].round(6).to_dict(),
            "systematic_error": split["systematic_error"].round(6).to_dict(),
            "systematic_bias": split["systematic_bias"].round(6).to_dict()}


def fit_model(study: Study, model: BayesianModel, panel: pd.DataFrame, *, seed: int, progress: bool | None = None,
              compiled_cache=None) -> BayesianModel:
    """Fit ``model`` to ``panel`` with the study's sampler settings (``compiled_cache``: see
    :meth:`BayesianModel.fit`)."""
    s = study.sampler
    return model.fit(panel, random_seed=seed, sampler=s.name, draws=s.draws, tune=s.tune, chains=s.chains,
                     target_accept=s.target_accept, progress=progress, compiled_cache=compiled_cache)


def load_model(study: Study, path: str | Path) -> BayesianModel:
    """A model saved by ``run`` or ``fit`` for ``study``: the class follows ``[model] type``, and a file of
    another model type or version, or fitted with other settings or priors than the study's, fails loudly."""
    expected = model_settings(study)
    if study.model.measurement_error == "inventory" or study.inventory.feeds_model:
        for key in ("measurement_error", "systematic_error", "systematic_bias"):
            expected.pop(key, None)  # computed from the data at fit time
    return model_class(study.model.type).load(path, **expected)


def model_choice_table(study: Study) -> tuple[str, pd.DataFrame] | None:
    """The study's reason for its emission model and the backtest comparison it rests on (if given)."""
    m = study.model
    if not (m.rationale or m.comparison):
        return None
    title = f"Why the {({'ekc': 'EKC', 'kaya': 'Kaya'}).get(m.type, m.type)} emission model"
    if m.comparison:
        path = study.resolve(m.comparison)
        if not path.is_file():
            raise StudyError(f"[model] comparison: file not found: {path}")
        table = pd.read_csv(path)
    else:
        table = pd.DataFrame({"emission model": [m.type]})
    if m.rationale:
        table.attrs["description"] = f"The study chose {m.type} because {m.rationale}"
    return title, table


BACKTEST_FILES = ("scores.csv", "targets.csv", "provenance.json", "reliability.png")


def backtest_table(study: Study) -> pd.DataFrame | None:
    """The headline scores of the study's backtest folder (``[model] backtest``): the same numbers the
    report shows, made at past cutoffs and scored against what happened, with their intervals. The
    folder must hold a backtest of the study's own emission model; anything else fails loudly."""
    import json

    m = study.model
    if not m.backtest:
        return None
    folder = study.resolve(m.backtest)
    missing = [f for f in BACKTEST_FILES if not (folder / f).is_file()]
    if missing:
        raise StudyError(f"[model] backtest: {folder} is not a backtest folder written by `carbon-forecast "
                         f"backtest` (missing {', '.join(missing)})")
    try:
        prov = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
        scores = pd.read_csv(folder / "scores.csv")
    except (OSError, ValueError) as err:
        raise StudyError(f"[model] backtest: cannot read {folder}: {err}") from None
    if prov.get("model") != m.type:
        raise StudyError(f"[model] backtest: {folder} scores the {prov.get('model')!r} model, but the study "
                         f"uses {m.type!r}")
    rows = []
    for target in ("already peaked", "peak within 5 y", "peak within 10 y"):
        cell = scores[(scores["kind"] == "event") & (scores["target"] == target)].set_index("statistic")
        if not len(cell):
            continue

        def band(stat):
            if stat not in cell.index or not np.isfinite(cell.at[stat, "estimate"]):
                return "undefined"
            r = cell.loc[stat]
            return f"{r['estimate']:.2f} ({r['low']:.2f} to {r['high']:.2f})"

        rows.append({"forecast": f"P({target})", "decided forecasts": int(cell.at["n", "estimate"]),
                     "observed frequency": round(float(cell.at["base_rate", "estimate"]), 3),
                     "mean forecast": round(float(cell.at["mean_p", "estimate"]), 3),
                     "Brier skill (90% interval)": band("brier_skill"), "AUC (90% interval)": band("auc"),
                     "worst reliability gap": round(float(cell.at["max_reliability_gap", "estimate"]), 3)
                     if "max_reliability_gap" in cell.index else np.nan})
    peak = scores[(scores["kind"] == "peak_year") & (scores["target"] == "6-10 y before the peak")].set_index("statistic")
    table = pd.DataFrame(rows)
    cutoffs = prov.get("cutoffs") or []
    text = (f"The same probabilities, made at {len(cutoffs)} past cutoffs ({cutoffs[0]}-{cutoffs[-1]}) with a "
            f"rolling {prov.get('fit_years')}-year fit and scored against what happened by {prov.get('last_data_year')} "
            "(Brier skill over always quoting the observed frequency: 0 = no better, 1 = perfect; AUC: how well "
            "the probabilities rank the regions that did peak above those that did not; intervals resample "
            "whole cutoffs)." if cutoffs else "")
    if prov.get("level_leads") and cutoffs:  # a source with short leads only (China's provinces, CEADs to 2019)
        text = (f"Refitted at {len(cutoffs)} past cutoffs ({cutoffs[0]}-{cutoffs[-1]}). "
                + (prov.get("scoring_note") or f"Scored against {prov.get('observed_source', 'the data')} to "
                   f"{prov.get('last_data_year')}."))
        levels = scores[(scores["kind"] == "level") & (scores["statistic"] == "coverage_90")]
        crps = scores[(scores["kind"] == "level") & (scores["statistic"] == "median_crps_relative")].set_index("target")
        parts = [f"{r['target']}: {r['estimate']:.0%} ({r['low']:.0%}-{r['high']:.0%})"
                 + (f", median CRPS {crps.at[r['target'], 'estimate']:.1%} of the observed"
                    if r["target"] in crps.index else "") for _, r in levels.iterrows()]
        if parts:
            text += " The 90% band of the emissions covered the reported value " + "; ".join(parts) + "."
        total = scores[(scores["kind"] == "total") & (scores["statistic"].isin(["coverage_90", "n"]))]
        if len(total):
            cov = total.pivot(index="target", columns="statistic", values="estimate")
            text += (" The regions' forecasts summed per draw (the total national caps are set on): the 90% band "
                     "covered the observed sum " + "; ".join(f"{t.removeprefix('sum of regions, ')}: "
                                                            f"{r['coverage_90'] * r['n']:.0f} of {r['n']:.0f} cutoffs"
                                                            for t, r in cov.iterrows()) + ".")
    if len(peak):
        text += (f" Peak years forecast 6-10 years ahead: the 90% interval covered {peak.at['coverage_90', 'estimate']:.0%} "
                 f"of the observed peaks, with a median width of {peak.at['median_width_90', 'estimate']:.0f} years "
                 f"and a median error of {peak.at['median_abs_error', 'estimate']:.0f} years.")
    text += f" Regenerate with: {prov.get('command', 'carbon-forecast backtest')}."
    table.attrs["description"] = text
    table.attrs["reliability_png"] = str(folder / "reliability.png")
    return table


def peak_check_table(peak_table: pd.DataFrame, panel: pd.DataFrame) -> pd.DataFrame:
    """Regions whose data already settle the question (a confirmed peak, or clearly rising) with the
    product's P(already peaked); the description counts how many agree."""
    from forecast.evaluation.observed import already_peaked_check

    check = already_peaked_check(peak_table["p_already_peaked"], panel)
    if not len(check):
        return check
    peaked, rising = check[check["observed"] == "confirmed_peak"], check[check["observed"] == "clearly_rising"]
    check.attrs["description"] = (
        f"Of the {len(peaked)} regions whose 5-year mean emissions peaked at least 10 years before the last data "
        f"year and have since fallen by at least 15 %, {int(peaked['agrees'].sum())} get P(already peaked) >= 90 %; "
        f"of the {len(rising)} regions whose 5-year mean is at its highest and 10 % above its value 10 years "
        f"earlier, {int(rising['agrees'].sum())} get P(already peaked) <= 10 %. Regions that disagree are listed "
        "first.")
    return check.sort_values(["agrees", "observed", "region"]).reset_index(drop=True)


def uncertainty_table(study: Study) -> pd.DataFrame:
    """Which sources of uncertainty the study's probabilities include and which they leave out, read
    from its settings (so that a reader knows what the intervals do not cover)."""
    m, sc = study.model, study.scenario
    common = bool(getattr(m, "common_shocks", False))
    rows = [
        ("model parameters (posterior, partially pooled across regions)", True, "every draw uses its own posterior draw"),
        ("year-to-year shocks to emissions growth", True,
         f"{'Student-t' if m.likelihood == 'studentt' else 'normal'}, "
         f"{'persistent (AR(1))' if m.residuals == 'ar1' else 'independent'}, each region's own size"),
        ("shocks shared by all regions in a year (oil shocks, 2009, 2020)", common,
         "a fitted year effect, drawn anew for every future year" if common else
         "shocks are independent across regions, so sums over regions (world, nation) are too narrow"),
        ("a decarbonisation rate that changes over time", bool(getattr(m, "common_drift", False)),
         "a random walk shared by every region's drift, continued in the forecast"
         if getattr(m, "common_drift", False) else "each region's drift is constant (plus its income term)"),
        ("GDP and population paths", sc.type in ("drivers", "csv"),
         {"drivers": "probabilistic GDP and population models", "csv": "the scenario file's paths or draws"}.get(
             sc.type, "history scenario: recent trends continued; spread only from the emission model")
         + (f"; compared with the {', '.join(sc.compare)} scenario on the scenario axis (same emission draws)"
            if sc.compare else "")),
        _historical_error_row(study),
        *([("error of the extended population", False,
            ("the population of the years after the source's last one is extended by a rule and taken as exact; "
             "the rule's error on real years is in the data notes"))]
          if getattr(study.data, "extend_population", "none") != "none" else []),
        ("choice of emission model", False, "one model; the backtest compares it with the alternatives"),
        ("future policy beyond the historical pattern", False, "forecasts continue the fitted dynamics"
         + ("; the [policy.<name>] scenarios are alternatives beside them, each P(met) conditional on its policy"
            if study.policy else "")),
        ("land sinks and the CO2-fertilisation decline", bool(study.sinks.enabled),
         "posterior of the land-sink model" if study.sinks.enabled else "not part of this study"),
    ]
    table = pd.DataFrame(rows, columns=["source of uncertainty", "included", "how"])
    table["included"] = table["included"].map({True: "yes", False: "no"})
    table.attrs["description"] = ("What the probabilities above account for. Sources marked 'no' are not in "
                                  "the intervals: the true uncertainty is larger.")
    return table


def _historical_error_row(study: Study) -> tuple[str, bool, str]:
    """The uncertainty-table row on errors in historical emissions."""
    m = study.model
    if study.inventory.feeds_model:
        return ("errors in historical emissions", True,
                (f"from each region's inventory (factors: {study.inventory.factors}): the emission-factor part as a "
                 "persistent level offset (moves levels, not peak years), the activity-data part as year-to-year noise"))
    if m.measurement_error not in (0, 0.0, {}):
        return ("errors in historical emissions", True,
                ("year-to-year measurement error as set in [model] measurement_error (a systematic error taken as "
                 "independent each year: intervals too narrow; [inventory] feeds_model splits it)"))
    return ("errors in historical emissions", False,
            "taken as exact; a systematic inventory error would shift levels, not peak years")


def measurement_error_table(with_error: Forecast, exact: Forecast) -> pd.DataFrame:
    """How much treating historical emissions as uncertain widens the peak-year interval, per region."""
    rows = {}
    for label, fc in (("with", with_error), ("without", exact)):
        table = fc.peak_table()
        rows[label] = table
    a, b = rows["with"], rows["without"]
    return pd.DataFrame({
        "peak_year_q05 (with error)": a["peak_year_q05"], "peak_year_q95 (with error)": a["peak_year_q95"],
        "peak_year_q05 (exact data)": b["peak_year_q05"], "peak_year_q95 (exact data)": b["peak_year_q95"],
        "interval widening (years)": (a["peak_year_q95"] - a["peak_year_q05"]) - (b["peak_year_q95"] - b["peak_year_q05"]),
        "P(peak by 2030) with error": a.get("p_peak_by_2030"), "P(peak by 2030) exact data": b.get("p_peak_by_2030"),
    }).rename_axis("region").reset_index()


def assemble_result(study, panel: pd.DataFrame, model: BayesianModel, fc) -> RunResult:
    """The result bundle the report and exporters consume, before the later stages add their parts."""
    from forecast.run.results import RunResult

    return RunResult(
        sinks={},
        forecast=fc.ds,
        peak_year=fc.peak_year(),
        peak_table=fc.peak_table(years=study.forecast.peak_years),
        turning_points=model.turning_point_table() if hasattr(model, "turning_point_table") else pd.DataFrame(),
        diagnostics=model.diagnostics.to_frame(),
        priors_used=model.priors_used(),
        provenance=list(panel.attrs.get("provenance", [])),
        study={
            "name": study.study.name,
            "title": study.study.title or study.study.name,
            "description": study.study.description,
            "focus_regions": list(study.forecast.focus_regions),
            "horizon": int(fc.horizon),
            "seed": study.study.seed,
            "quantiles": list(study.report.quantiles),
            "model": model.get_settings(),
            "sampler": study.sampler.model_dump(),
            "scenario": study.scenario.model_dump(),
            "data": study.data.model_dump(),
            "forecast_draws": study.forecast.draws,
            "regions_fitted": len(model.regions),
            "source_path": study.source_path,
        },
    )


def _check(ctx: RunContext) -> None:
    study = ctx.study
    ctx.model = build_model(study, ctx.panel, data_dir=ctx.data_dir)
    try:
        ctx.model.priors_used()  # unknown prior names and malformed overrides fail here
    except PriorError as err:
        raise PriorError(f"[model] priors: {err}") from None
    ctx.model.prepare(ctx.panel)
    model_choice_table(study)  # a missing comparison file fails here, not after sampling
    backtest_table(study)  # so does a missing or mismatched backtest folder


def _fit(ctx: RunContext) -> None:
    ctx.say(f"fitting {ctx.model.name} on {ctx.panel['region'].nunique()} regions x "
            f"{ctx.panel['year'].nunique()} years")
    ctx.timed("fit", lambda c: fit_model(c.study, c.model, c.panel, seed=c.seed, progress=c.progress))


# a run holds about this many float64 cubes of (sample, region, year) at once (variables, quantile and
# peak computations, export copies)
CUBES_IN_MEMORY = 12


def _check_forecast(ctx: RunContext) -> None:
    late = [y for y in ctx.study.forecast.peak_years if y > ctx.horizon or y <= ctx.last_year]
    if late:
        raise StudyError(f"[forecast] peak_years {late} must lie after the last data year {ctx.last_year} and by "
                         f"the horizon {ctx.horizon}")
    draws, n_regions = ctx.study.forecast.draws, len(ctx.regions)
    years = ctx.horizon - int(ctx.panel["year"].min()) + 1
    need = draws * n_regions * years * 8 * CUBES_IN_MEMORY
    have = _memory_bytes()
    if have and need > have:
        raise StudyError(f"[forecast] draws = {draws} for {n_regions} regions x {years} years needs about "
                         f"{need / 2**30:.1f} GiB, more than this machine's {have / 2**30:.1f} GiB; "
                         f"use at most {max(1, int(draws * have / need))} draws or fewer regions")


def _memory_bytes() -> int:
    """Physical memory of this machine in bytes (0 where the OS does not say)."""
    import os

    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


def _forecast(ctx: RunContext) -> None:
    from forecast.projection.propagate import forecast_emissions

    study = ctx.study
    ctx.say(f"forecasting {len(ctx.regions)} regions x {study.forecast.draws} draws to {ctx.horizon}")

    later = later_emissions(ctx)

    def step(c: RunContext) -> None:
        c.forecast = forecast_emissions(c.model, c.scenario, c.panel, regions=c.regions, draws=study.forecast.draws,
                                        random_seed=c.seed + 1, progress=c.progress, observed_co2=later)

    ctx.timed("forecast", step)
    result = ctx.result = assemble_result(study, ctx.panel, ctx.model, ctx.forecast)
    result.study["seed"] = ctx.seed
    result.study["scenario_name"] = ctx.scenario.name
    if later is not None:
        result.study["later_emissions"] = {"years": sorted({int(y) for y in later["year"]}),
                                           "regions": int(later["region"].nunique())}
        result.add_table("later_emissions", later.reset_index(drop=True),
                         "Emissions observed after the last GDP year: the forecasts take them as known")
    choice = model_choice_table(study)
    if choice:
        result.add_table("model_choice", choice[1], choice[0])
    backtest = backtest_table(study)
    if backtest is not None:
        result.add_table("backtest", backtest, "How far to trust the peak probabilities: the backtest")
    result.add_table("uncertainties", uncertainty_table(study), "Which uncertainties the numbers include")
    dropped = ctx.panel.attrs.get("dropped_regions", {})
    if dropped:
        result.add_table("dropped_regions", pd.DataFrame({"region": list(dropped), "reason": list(dropped.values())}),
                         f"Regions the {ctx.model.name} model could not fit (left out before sampling)")
    if hasattr(ctx.model, "elasticity_table"):
        result.add_table("elasticities", ctx.model.elasticity_table(),
                         f"Elasticities of the {ctx.model.name} model (posterior mean, sd and 90% interval)")
    result.add_table("ekc_comparison", ekc_comparison(ctx.panel, ctx.model),
                     "The EKC as the literature fits it beside this model (turning points in int-$ 2011 per person "
                     "= 2011 PPP US$)")
    if isinstance(ctx.model, EKCModel):  # the models whose predict can switch each link off (EKC, Kaya)
        result.add_table("uncertainty_waterfall", _waterfall(ctx),
                         "How much each link of the chain widens the peak-year interval")
    from forecast.evaluation.prior_check import prior_check_table

    # a fresh model on the study's panel: a model loaded from a file (report --model) keeps no fitted arrays
    fresh = build_model(study, ctx.panel, data_dir=ctx.data_dir)
    result.add_table("prior_check", prior_check_table(fresh, fresh.prepare(ctx.panel), random_seed=ctx.seed + 7),
                     f"Prior predictive check: what the {ctx.model.name} priors alone imply for the data")
    check = peak_check_table(result.peak_table, ctx.panel)
    if len(check):
        result.add_table("peak_check", check, "P(already peaked) against what the data already show")


def later_emissions(ctx: RunContext) -> pd.DataFrame | None:
    """Emissions of the forecast regions published after the panel's last year while GDP is not yet
    (``[data] later_emissions``, the source's ``later`` reader), for a model whose ``predict`` takes
    ``observed_co2``; ``None`` when there are none or the model cannot use them."""
    from forecast.run.sources import data_source

    source = data_source(ctx.study)
    if not (ctx.study.data.later_emissions and source.later is not None and ctx.model.takes_later_emissions):
        return None
    later = source.later(ctx.study, ctx.panel, ctx.data_dir, True)
    later = later[later["region"].isin(ctx.regions) & (later["year"] <= ctx.horizon)]
    return later.reset_index(drop=True) if len(later) else None


def ekc_comparison(panel: pd.DataFrame, model: BayesianModel) -> pd.DataFrame:
    """The static EKC by pooled OLS, fixed effects and MixedLM on the study's panel, with the Bayesian EKC's
    comparable quantities when the model is an EKC, and the published turning points
    (:func:`forecast.models.classic.ekc_comparison_table`)."""
    from forecast.models.classic import ekc_comparison_table

    return ekc_comparison_table(panel, model if getattr(model, "family", "") == "ekc" else None)


WATERFALL_REGIONS = 3  # focus regions shown (each costs four one-region forecasts)


def _waterfall(ctx: RunContext) -> pd.DataFrame:
    """The uncertainty waterfall (:func:`forecast.projection.waterfall.waterfall_table`) of the first focus
    regions, with the study's forecast draws (at most 1000) and a seed of its own."""
    from forecast.projection.waterfall import waterfall_table

    focus = [r for r in ctx.study.forecast.focus_regions if r in ctx.regions] or list(ctx.regions)
    table = waterfall_table(ctx.model, ctx.scenario, ctx.panel, focus[:WATERFALL_REGIONS],
                            draws=min(ctx.study.forecast.draws, 1000), random_seed=ctx.seed + 2)
    if not ctx.model.has_offset() and not ctx.model.measurement_sd(list(ctx.model.regions)).any():
        table.attrs["description"] += (" This study takes the historical emissions as exact (no [inventory] "
                                       "feeds_model, no measurement error), so the last link adds nothing here.")
    return table


def _compare_measurement_error(ctx: RunContext) -> None:
    """Refit with the historical emissions taken as exact and show how the peak-year interval changes."""
    from forecast.projection.propagate import forecast_emissions

    study = ctx.study
    ctx.say("refitting without measurement error, for comparison")

    def step(c: RunContext) -> None:
        exact = build_model(study.with_overrides(model={"measurement_error": 0.0}, inventory={"feeds_model": False}))
        fit_model(study, exact, c.panel, seed=c.seed, progress=c.progress)
        fc_exact = forecast_emissions(exact, c.scenario, c.panel, regions=c.regions, draws=study.forecast.draws,
                                      random_seed=c.seed + 1)
        c.result.add_table("measurement_error", measurement_error_table(c.forecast, fc_exact),
                           "Peak year with and without measurement error in historical emissions")

    ctx.timed("fit_without_measurement_error", step)


def _has_measurement_error(ctx: RunContext) -> bool:
    if getattr(ctx.model, "has_offset", lambda: False)():
        return True
    return hasattr(ctx.model, "measurement_sd") and bool(ctx.model.measurement_sd(ctx.model.regions).any())


STAGE = Stage("emissions", check=_check, fit=_fit)
FORECAST = Stage("forecast", check=_check_forecast, run=_forecast)
MEASUREMENT_ERROR = Stage("measurement_error", enabled=lambda study: study.model.compare_measurement_error,
                          run=lambda ctx: _compare_measurement_error(ctx) if _has_measurement_error(ctx) else None,
                          refits=True)
