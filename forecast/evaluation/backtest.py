"""Backtest: refit the study at past cutoffs, forecast, and score the very numbers the product shows.

For each cutoff year ``c`` the study's panel is cut to a fit window ending in ``c`` (the study's own
first year, or a rolling window of ``fit_years`` years; same population and completeness filters inside
the window), the emission model is refitted, every fitted region is forecast ``lead_years`` ahead with
the study's scenario type, and the forecasts are scored against the full observed OWID series (to its
last year ``L``, 2023 in the current file).

One peak rule
-------------
Forecast and observation use the product's own rule (:mod:`forecast.projection.peak`): the peak year
is the year of the maximum centred 5-year mean. For an observed series the peak must also be confirmed:

1. ``P`` is the year of the maximum centred mean (full windows only);
2. ``P <= L - min_years_before_end`` (10 years of data after the peak by default);
3. the last observed value is at least ``min_drop`` (15 %) below that maximum mean.

Otherwise the series has not (yet) peaked and :func:`observed_peak` returns ``None``.

Events
------
The product's headline probabilities, made at ``c`` (``h`` = 0, 5, 10):

* ``h = 0``, "already peaked": P(peak year <= c), the product's ``p_already_peaked``. Observed: 1 if
  the confirmed peak ``P* <= c``; 0 if ``P* > c`` or, without a confirmed peak, if a centred mean after
  ``c`` exceeds every one up to ``c`` (the series has set a new high since); otherwise undecidable.
* ``h = 5, 10``, "peak within h years": P(c < peak year <= c + h), the product's
  ``p_peak_by_<c+h> - p_already_peaked``. Observed: 1 if ``c < P* <= c + h``, 0 for any other confirmed
  peak; without one, 0 when a centred mean outside ``(c, c + h]`` exceeds every one inside (the maximum can
  then never come to lie in the window, whatever later data show), else undecidable.

Undecidable region-events are left out of the scores (status ``undecidable``). Outcomes are as of the
last data year: a later rebound above an old peak would change them.

Levels: central 50 % / 90 % intervals and CRPS of total emissions (Mt CO2/yr) ``c + 5`` and ``c + 10``.

China's provinces
-----------------
A study with ``[data] source = "china_provinces"`` is scored against CEADs provincial CO2 (``Scope_1_Total``,
1997-2019; :data:`OBSERVED_SOURCES`), with fit windows starting no earlier than 2004 (the first year with
GDP). The data end in 2019, so only short leads can be scored: levels 1, 2 and 3 years after the cutoff,
and the event "already peaked" (h = 0). "Peak within 5 / 10 years" are not scored: their outcome 1 needs a
peak confirmed 10 years before the data end (in or before 2009), i.e. before any cutoff from 2010 on, so
only the outcome 0 could ever be decided -- a one-sided score. For the same reason no peak-year scores
(``peaks``) exist for such cutoffs. "Already peaked" is decided 0 when a province set a new high after the
cutoff and 1 only for a peak confirmed by 2009; with the shipped data every decided outcome is 0, so Brier
skill and AUC are undefined and the score says how much probability went to "already peaked" for
provinces that then rose further.

Levels are scored on the scale of the observations: a model fitted with the inventory error (``[inventory]
feeds_model``) forecasts true emissions, and :func:`reported_scale` puts back the persistent inventory offset
and the year-to-year inventory error the reported values carry. Events and peak years use the forecast as
the product shows it.
Peak year: for regions whose confirmed peak lies after the cutoff, coverage and width of the 50 % / 90 %
intervals of the forecast peak year, the error of its median, CRPS (years) and PIT, by lead
``P* - c``. Scores pool all cutoffs; :func:`forecast.evaluation.scores.cluster_bootstrap` resamples
whole cutoffs for their intervals.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from forecast.errors import InputError
from forecast.evaluation.scores import (  # noqa: F401  (re-exported: the scores used to live here)
    auc,
    brier_score,
    brier_skill,
    cluster_bootstrap,
    crps_ensemble,
    interval_coverage,
    log_score,
    max_reliability_gap,
    pit,
    reliability_table,
)
from forecast.evaluation.observed import (  # noqa: F401  (re-exported)
    already_peaked_check,
    consecutive_tail,
    event_outcome,
    observed_peak,
)
from forecast.projection.peak import PEAK_WINDOW, last_identifiable_year, peak_years

log = logging.getLogger(__name__)

#: Former USSR and Warsaw-pact successor states (OWID spellings), reported as their own group too: their
#: 1990s collapse was a regime change, not an income-driven turn.
EASTERN_BLOC_1990 = (
    "Armenia", "Azerbaijan", "Belarus", "Estonia", "Georgia", "Kazakhstan", "Kyrgyzstan", "Latvia",
    "Lithuania", "Moldova", "Russia", "Tajikistan", "Turkmenistan", "Ukraine", "Uzbekistan",
    "Albania", "Bulgaria", "Czechia", "Hungary", "Poland", "Romania", "Slovakia",
)

#: event horizons: 0 = "already peaked at the cutoff", h > 0 = "peak within h years of the cutoff"
EVENT_HORIZONS = (0, 5, 10)
HORIZONS = (5, 10)  # level leads (years after the cutoff)
#: every third year from 1970 to 2012: with data to 2023 a confirmed peak lies in or before 2013, so later
#: cutoffs have almost no decidable events; before 1970 too few countries have GDP and population data
DEFAULT_CUTOFFS = tuple(range(1970, 2013, 3))
#: rolling fit window, the length of the default study's 1990-2022 window
DEFAULT_FIT_YEARS = 33
#: forecast length after the cutoff: long enough that most peak-year distributions are not censored
DEFAULT_LEAD_YEARS = 40
#: warm-up steps per chain of each refit: 400 left the worst of 15 Kaya refits at R-hat 1.12 / bulk ESS 15
#: (drift_sigma) and the worst fit depended on the seed; 1000 brought them to 1.06 / 87 for ~2 s more a fit
DEFAULT_TUNE = 1000
#: kept draws per chain of each refit: with one compiled model reused across cutoffs a Kaya refit samples in
#: a few seconds, and 300 draws left the worst cutoff's bulk ESS at 15 (drift_sigma)
DEFAULT_DRAWS = 1000
#: peak-year scores by lead (years from the cutoff to the observed peak)
LEAD_BUCKETS = ((1, 5), (6, 10), (11, 20), (21, 60))


@dataclass(frozen=True)
class ObservedSource:
    """What a study's ``[data] source`` is scored against: ``load(data_dir)`` gives tidy ``region, year,
    co2`` (Mt CO2/yr) with ``attrs["provenance"]`` (files with SHA-256); ``event_horizons`` and
    ``level_leads`` are the events and lead years its data can score; ``first_fit_year`` is the first year a
    fit window may start in (``None``: the first observed year)."""

    label: str
    load: Callable[..., pd.DataFrame]
    event_horizons: tuple[int, ...] = EVENT_HORIZONS
    level_leads: tuple[int, ...] = HORIZONS
    first_fit_year: int | None = None
    note: str = ""


def _owid_observed(data_dir) -> pd.DataFrame:
    from forecast.data import load_panel

    return load_panel("owid", data_dir=data_dir, require_complete=False)


def _ceads_observed(data_dir) -> pd.DataFrame:
    from forecast.data.china import load_ceads_co2

    return load_ceads_co2(data_dir)


#: the observed series each ``[data] source`` is backtested against (see the module docstring)
OBSERVED_SOURCES: dict[str, ObservedSource] = {
    "owid": ObservedSource("OWID", _owid_observed),
    "china_provinces": ObservedSource(
        "CEADs", _ceads_observed, event_horizons=(0,), level_leads=(1, 2, 3), first_fit_year=2004,
        note=("Scored against CEADs provincial CO2 (to 2019): emissions 1-3 years after the cutoff and 'already "
              "peaked'. 'Peak within 5/10 years' and peak years are not scored: a peak counts only when 10 years "
              "of data follow it, so after 2009 only one outcome could be decided.")),
}


def observed_source(study) -> ObservedSource:
    """The :class:`ObservedSource` of ``study``'s ``[data] source``, or an :class:`InputError`."""
    source = OBSERVED_SOURCES.get(study.data.source)
    if source is None:
        raise InputError(f"the backtest scores against {' or '.join(OBSERVED_SOURCES)} data: it needs a study with "
                         f"[data] source = {' or '.join(repr(k) for k in OBSERVED_SOURCES)} (got {study.data.source!r})")
    return source


def region_group(region: str) -> str:
    return "eastern_bloc" if region in EASTERN_BLOC_1990 else "other"


def event_label(horizon: int) -> str:
    return "already peaked" if int(horizon) == 0 else f"peak within {int(horizon)} y"


def lead_bucket(lead: int) -> str:
    for lo, hi in LEAD_BUCKETS:
        if lo <= lead <= hi:
            return f"{lo}-{hi}"
    return "other"


# ---------------------------------------------------------------------------------------- scores
def _event_scores(frame: pd.DataFrame) -> dict:
    p, o = frame["p"].to_numpy(), frame["outcome"].to_numpy()
    return {"n": int(len(frame)), "events": int(np.nansum(o)), "base_rate": float(np.mean(o)) if len(o) else np.nan,
            "mean_p": float(np.mean(p)) if len(p) else np.nan, "brier": brier_score(p, o),
            "brier_skill": brier_skill(p, o), "log_score": log_score(p, o), "auc": auc(p, o)}


def score_events(events: pd.DataFrame, by: Iterable[str] = ("cutoff", "horizon")) -> pd.DataFrame:
    """Brier, skill vs the base rate, log score and AUC per ``by`` cell, for all decidable regions
    (``group = all``), without the Eastern bloc (``other``) and for the Eastern bloc alone, plus rows
    pooled over cutoffs (``cutoff = "pooled"``). ``events`` needs columns ``p``, ``outcome`` (NaN =
    undecidable, left out), ``group`` and ``by``."""
    by = list(by)
    ev = events[np.isfinite(events["outcome"].astype(float))]
    rows = []
    subsets = [("all", ev), ("other", ev[ev["group"] == "other"]), ("eastern_bloc", ev[ev["group"] == "eastern_bloc"])]
    for label, sub in subsets:
        groups = sub.groupby(by, sort=True) if by else [((), sub)]
        for key, cell in groups:
            key = key if isinstance(key, tuple) else (key,)
            rows.append({**dict(zip(by, key)), "group": label, **_event_scores(cell)})
        if by and "cutoff" in by:
            pool = [b for b in by if b != "cutoff"]
            for key, cell in (sub.groupby(pool, sort=True) if pool else [((), sub)]):
                key = key if isinstance(key, tuple) else (key,)
                rows.append({"cutoff": "pooled", **dict(zip(pool, key)), "group": label, **_event_scores(cell)})
    return pd.DataFrame(rows)


def score_levels(levels: pd.DataFrame, by: Iterable[str] = ("cutoff", "lead")) -> pd.DataFrame:
    """Mean 50 % / 90 % coverage, mean CRPS (Mt CO2/yr), CRPS relative to the observed level and CRPS of
    log emissions, per ``by`` cell, for all regions and for the Eastern bloc and the rest separately."""
    by = list(by)
    rows = []
    for label, sub in (("all", levels), ("other", levels[levels["group"] == "other"]),
                       ("eastern_bloc", levels[levels["group"] == "eastern_bloc"])):
        for key, cell in sub.groupby(by, sort=True):
            key = key if isinstance(key, tuple) else (key,)
            rows.append({**dict(zip(by, key)), "group": label, "n": int(len(cell)),
                         "coverage_50": float(cell["in_50"].mean()), "coverage_90": float(cell["in_90"].mean()),
                         "crps": float(cell["crps"].mean()), "crps_relative": float(cell["crps_relative"].mean()),
                         "median_crps_relative": float(cell["crps_relative"].median()),
                         "crps_log": float(cell["crps_log"].mean())})
    return pd.DataFrame(rows)


def _event_statistics() -> dict[str, Callable[[pd.DataFrame], float]]:
    return {
        "n": lambda f: float(len(f)), "base_rate": lambda f: float(f["outcome"].mean()) if len(f) else np.nan,
        "mean_p": lambda f: float(f["p"].mean()) if len(f) else np.nan,
        "brier": lambda f: brier_score(f["p"], f["outcome"]),
        "brier_skill": lambda f: brier_skill(f["p"], f["outcome"]),
        "log_score": lambda f: log_score(f["p"], f["outcome"]),
        "auc": lambda f: auc(f["p"], f["outcome"]),
    }


def _peak_statistics() -> dict[str, Callable[[pd.DataFrame], float]]:
    return {
        "n": lambda f: float(len(f)),
        "coverage_50": lambda f: float(f["in_50"].mean()) if len(f) else np.nan,
        "coverage_90": lambda f: float(f["in_90"].mean()) if len(f) else np.nan,
        "median_width_90": lambda f: float(f["width_90"].median()) if len(f) else np.nan,
        "median_abs_error": lambda f: float(f["abs_error"].median()) if len(f) else np.nan,
        "crps_years": lambda f: float(f["crps"].mean()) if len(f) else np.nan,
    }


def _level_statistics() -> dict[str, Callable[[pd.DataFrame], float]]:
    return {
        "n": lambda f: float(len(f)),
        "coverage_50": lambda f: float(f["in_50"].mean()) if len(f) else np.nan,
        "coverage_90": lambda f: float(f["in_90"].mean()) if len(f) else np.nan,
        "crps_log": lambda f: float(f["crps_log"].mean()) if len(f) else np.nan,
        "median_crps_relative": lambda f: float(f["crps_relative"].median()) if len(f) else np.nan,
    }


# ---------------------------------------------------------------------------------------- result
@dataclass
class BacktestResult:
    """Tidy tables of a backtest.

    * ``events``: one row per (cutoff, horizon, region): ``p`` (forecast probability of the event:
      horizon 0 = already peaked by the cutoff, h = peak in ``(cutoff, cutoff + h]``), ``outcome`` (1/0,
      NaN if undecidable), ``status``, ``observed_peak``, ``group``.
    * ``levels``: one row per (cutoff, lead, region) with the observed and forecast emissions,
      ``in_50``, ``in_90``, ``crps`` (Mt CO2/yr), ``crps_relative`` (crps / observed) and ``crps_log``
      (CRPS of log emissions, scale-free and robust to exploding trajectories).
    * ``peaks``: regions whose confirmed peak lies after the cutoff: observed peak year, ``lead``
      (years from cutoff to peak), forecast median and 50 % / 90 % intervals, coverage, interval width,
      absolute error of the median, CRPS (years), PIT, and the share of draws still rising at the horizon.
    * ``fits``: one row per cutoff: regions, window, seconds, sampler diagnostics.
    * ``settings``: what was run (model, scenario, cutoffs, sampler, seeds, data SHA-256, version).
    """

    events: pd.DataFrame
    levels: pd.DataFrame
    peaks: pd.DataFrame
    fits: pd.DataFrame = field(default_factory=pd.DataFrame)
    settings: dict = field(default_factory=dict)
    bins: int = 10

    @property
    def event_scores(self) -> pd.DataFrame:
        return score_events(self.events)

    @property
    def region_levels(self) -> pd.DataFrame:
        """The level rows of single regions (without the sum-of-regions rows)."""
        return self.levels[self.levels["group"] != TOTAL_GROUP] if len(self.levels) else self.levels

    @property
    def total_levels(self) -> pd.DataFrame:
        """The level rows of the sum of the fitted regions, one per (cutoff, lead)."""
        return self.levels[self.levels["group"] == TOTAL_GROUP] if len(self.levels) else self.levels

    @property
    def level_scores(self) -> pd.DataFrame:
        return score_levels(self.region_levels) if len(self.region_levels) else pd.DataFrame()

    @property
    def reliability(self) -> pd.DataFrame:
        decided = self.events[self.events["outcome"].notna()]
        parts = []
        for h, cell in decided.groupby("horizon"):
            for label, sub in (("all", cell), ("other", cell[cell["group"] == "other"])):
                t = reliability_table(sub["p"], sub["outcome"], bins=self.bins)
                t.insert(0, "group", label)
                t.insert(0, "horizon", h)
                parts.append(t)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def scores(self, *, n_boot: int = 1000, seed: int = 0, level: float = 0.9) -> pd.DataFrame:
        """Pooled scores with cluster-bootstrap intervals over cutoffs: one row per (kind, target,
        statistic) with ``estimate``, ``low``, ``high``. Kinds: ``event`` (target = event label),
        ``level`` (target = lead), ``peak_year`` (target = lead bucket, years from cutoff to peak)."""
        parts = []
        decided = self.events[self.events["outcome"].notna()]
        for h, cell in decided.groupby("horizon", sort=True):
            t = cluster_bootstrap(cell, _event_statistics(), n_boot=n_boot, seed=seed, level=level)
            gap = max_reliability_gap(cell["p"], cell["outcome"], bins=self.bins)
            t = pd.concat([t, pd.DataFrame([{"statistic": "max_reliability_gap", "estimate": gap, "low": np.nan,
                                             "high": np.nan, "clusters": cell["cutoff"].nunique()}])])
            parts.append(t.assign(kind="event", target=event_label(h)))
        regional, total = self.region_levels, self.total_levels
        for lead, cell in regional.groupby("lead", sort=True) if len(regional) else []:
            t = cluster_bootstrap(cell, _level_statistics(), n_boot=n_boot, seed=seed, level=level)
            parts.append(t.assign(kind="level", target=f"{int(lead)} y ahead"))
        for lead, cell in total.groupby("lead", sort=True) if len(total) else []:
            t = cluster_bootstrap(cell, _level_statistics(), n_boot=n_boot, seed=seed, level=level)
            parts.append(t.assign(kind="total", target=f"sum of regions, {int(lead)} y ahead"))
        if len(self.peaks):
            buckets = self.peaks.assign(bucket=self.peaks["lead"].map(lead_bucket))
            for lo, hi in LEAD_BUCKETS:
                cell = buckets[buckets["bucket"] == f"{lo}-{hi}"]
                if len(cell):
                    t = cluster_bootstrap(cell, _peak_statistics(), n_boot=n_boot, seed=seed, level=level)
                    parts.append(t.assign(kind="peak_year", target=f"{lo}-{hi} y before the peak"))
        if not parts:
            return pd.DataFrame(columns=["kind", "target", "statistic", "estimate", "low", "high", "clusters"])
        out = pd.concat(parts, ignore_index=True)
        return out[["kind", "target", "statistic", "estimate", "low", "high", "clusters"]]

    def summary(self) -> pd.DataFrame:
        """One row per cutoff (and pooled) for all regions: Brier, skill, log score and AUC per event,
        50 % / 90 % coverage and relative CRPS at 5 and 10 years, peak-year coverage and error."""
        rows: dict[str, dict] = {}
        es = self.event_scores
        es = es[es["group"] == "all"]
        for _, r in es.iterrows():
            d = rows.setdefault(str(r["cutoff"]), {})
            tag = "peaked" if int(r["horizon"]) == 0 else f"{int(r['horizon'])}y"
            d[f"n_events_{tag}"] = r["n"]
            d[f"base_rate_{tag}"] = r["base_rate"]
            d[f"brier_{tag}"] = r["brier"]
            d[f"skill_{tag}"] = r["brier_skill"]
            d[f"log_{tag}"] = r["log_score"]
            d[f"auc_{tag}"] = r["auc"]
        levels = self.region_levels
        if len(levels):
            for (cutoff, lead), cell in [*levels.groupby(["cutoff", "lead"]),
                                         *((("pooled", k), c) for k, c in levels.groupby("lead"))]:
                d = rows.setdefault(str(cutoff), {})
                d[f"cov50_{lead}y"] = cell["in_50"].mean()
                d[f"cov90_{lead}y"] = cell["in_90"].mean()
                d[f"crps_rel_median_{lead}y"] = cell["crps_relative"].median()
                d[f"crps_log_{lead}y"] = cell["crps_log"].mean()
        if len(self.peaks):
            for key, cell in [*((str(c), g) for c, g in self.peaks.groupby("cutoff")), ("pooled", self.peaks)]:
                d = rows.setdefault(key, {})
                d["peak_n"] = len(cell)
                d["peak_cov90"] = cell["in_90"].mean()
                d["peak_width90_median"] = cell["width_90"].median()
                d["peak_mae"] = cell["abs_error"].median()
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("cutoff")


# ---------------------------------------------------------------------------------------- one cutoff
SCENARIO_TYPES = ("history", "drivers")


def backtest_scenario(spec, panel: pd.DataFrame, horizon: int, *, cutoff: int, seed: int, driver_cache: dict | None,
                      progress: bool | None, say: Callable[[str], None]):
    """The scenario of one cutoff: the history default, or driver models fitted on the cut panel (fitted
    once per cutoff and shared by every emission model through ``driver_cache``)."""
    from forecast.run.pipeline import build_driver_models, fit_drivers
    from forecast.scenarios import DriverScenario, Scenario

    settings = spec.scenario.model_dump(exclude={"type", "path", "horizon", "gdp_frontier", "population_window",
                                                 "driver_priors"})
    if spec.scenario.type != "drivers":
        return Scenario.from_history(panel, horizon=horizon, **settings)
    cache = {} if driver_cache is None else driver_cache
    key = ("drivers", cutoff, int(panel["year"].min()))
    if key not in cache:
        gdp, population = build_driver_models(spec)
        say(f"cutoff {cutoff}: fitting the GDP and population models")
        fitted = fit_drivers(spec, DriverScenario.from_models(panel, horizon=horizon, gdp_model=gdp,
                                                              population_model=population, **settings),
                             seed=seed, progress=progress)
        cache[key] = (fitted.gdp_model, fitted.population_model)
    gdp, population = cache[key]
    return DriverScenario.from_models(panel, horizon=horizon, gdp_model=gdp, population_model=population,
                                      name="drivers", **settings)


def fit_window(study, cutoff: int, fit_years: int | None, first_observed: int) -> tuple[int, int]:
    """``(start, cutoff)`` of the fit at ``cutoff``: the last ``fit_years`` years (a rolling window), or
    from the study's first year (or the first observed year) when ``fit_years`` is ``None``."""
    if fit_years is not None:  # the window rolls with the cutoff, whatever years the study itself fits
        start = max(int(first_observed), int(cutoff) - int(fit_years) + 1)
    else:
        start = int(study.data.years[0]) if study.data.years else int(first_observed)
    if cutoff - start + 1 < 10:
        raise InputError(f"cutoff {cutoff} leaves fewer than 10 years to fit (the fit window starts in {start})")
    return start, int(cutoff)


def cutoff_study(study, cutoff: int, first_observed: int, *, fit_years: int | None, regions: list[str] | None = None,
                 draws: int = DEFAULT_DRAWS, tune: int = DEFAULT_TUNE, model: str | None = None, scenario: str | None = None):
    """``(spec, start)``: the study as it is fitted at ``cutoff`` (its fit window, sampler settings, every
    region forecast) and the first year of the window."""
    start, _ = fit_window(study, cutoff, fit_years, first_observed)
    data = {"years": [start, int(cutoff)], "min_years": min(study.data.min_years, cutoff - start + 1)}
    if regions is not None:
        data["regions"] = list(regions)
    overrides = {"model": {"type": model or study.model.type, **_other_model_keys_reset(study, model)},
                 "scenario": {"type": scenario or (study.scenario.type if study.scenario.type in SCENARIO_TYPES else "history")}}
    spec = study.with_overrides(data=data, sampler={"draws": int(draws), "tune": int(tune)},
                                forecast={"focus_regions": [], "regions": "all"}, **overrides)
    return spec, start


def _other_model_keys_reset(study, model: str | None) -> dict:
    """``[model]`` keys the study sets that the compared ``model`` does not take (e.g. the Kaya model's
    ``common_drift`` when the EKC is scored on a Kaya study), back at their defaults: they describe the
    study's own model, not the one compared with it."""
    from forecast.models import model_class
    from forecast.run.stages.emissions import STUDY_ONLY_MODEL_KEYS

    if model is None or model == study.model.type:
        return {}
    names = set(model_class(model).setting_names())
    fields = type(study.model).model_fields
    return {k: fields[k].default for k in study.model.model_fields_set
            if k not in names and k in fields and k not in STUDY_ONLY_MODEL_KEYS
            and getattr(study.model, k) != fields[k].default}


def region_slot_count(study, cutoffs: Iterable[int], first_observed: int, *, data_dir=None,
                      fit_years: int | None, regions: list[str] | None = None) -> int:
    """The most regions any cutoff's fit window holds: the length of the ``region`` dim every cutoff's
    model gets, so that one compiled model serves all cutoffs (loads each cutoff's panel, ~0.2 s each)."""
    from forecast.run.pipeline import load_study_panel

    counts = [load_study_panel(cutoff_study(study, c, first_observed, fit_years=fit_years, regions=regions)[0],
                               data_dir=data_dir)["region"].nunique() for c in cutoffs]
    return int(max(counts))


def backtest_cutoff(study, cutoff: int, observed: pd.DataFrame, *, data_dir=None, draws: int = DEFAULT_DRAWS, tune: int = DEFAULT_TUNE,
                    forecast_draws: int = 500, seed: int = 1, regions: list[str] | None = None,
                    horizons=HORIZONS, event_horizons: tuple[int, ...] | None = None,
                    window: int = PEAK_WINDOW, min_years_before_end: int = 10,
                    min_drop: float = 0.15, fit_years: int | None = None, lead_years: int = DEFAULT_LEAD_YEARS,
                    progress: bool | None = False, say: Callable[[str], None] = lambda _: None,
                    model: str | None = None, scenario: str | None = None, driver_cache: dict | None = None,
                    compiled_cache=None, region_slots: int | None = None, first_fit_year: int | None = None) -> dict:
    """Fit at one cutoff, forecast every fitted region and score against ``observed`` (tidy
    ``region, year, co2`` up to the last data year). Returns the events, levels and peaks rows.

    ``fit_years`` makes the fit window roll (the last ``fit_years`` years up to the cutoff); ``lead_years``
    is the forecast length after the cutoff (at least ``max(horizons) + min_years_before_end``). ``horizons``
    are the lead years of the level scores; ``event_horizons`` the events scored (``None``: 0 and
    ``horizons``, the OWID backtest's events).
    ``model`` and ``scenario`` (``history`` | ``drivers``) replace the study's own choices, so several
    emission models can be scored on the same cutoffs. ``compiled_cache``
    (:class:`~forecast.models.sampling.CompiledModelCache`) reuses the nutpie compilation of an earlier
    cutoff with this cutoff's data swapped in; ``region_slots`` gives the emission model that many region
    entries (the most any cutoff has, :func:`region_slot_count`), so that every cutoff's model has the same
    shape and one compilation serves them all. ``first_fit_year``: no fit window starts earlier (the first
    year the study's panel can have, e.g. 2004 for China's provinces; ``None``: the first observed year)."""
    from forecast.projection.propagate import forecast_emissions
    from forecast.run.pipeline import build_model, fit_model, load_study_panel

    first = max(int(observed["year"].min()), int(first_fit_year or 0))
    spec, start = cutoff_study(study, cutoff, first, fit_years=fit_years, regions=regions,
                               draws=draws, tune=tune, model=model, scenario=scenario)
    panel = load_study_panel(spec, data_dir=data_dir)
    # the emission fit does not depend on the scenario: variants that share a model share its fit
    fits = {} if driver_cache is None else driver_cache
    key = ("emission_model", cutoff, start, spec.model.type, region_slots)
    t0 = time.perf_counter()
    reused = None
    if key not in fits:
        say(f"cutoff {cutoff}: fitting {spec.model.type} on {panel['region'].nunique()} regions x "
            f"{panel['year'].nunique()} years ({start}-{cutoff})")
        emission_model = build_model(spec, panel, data_dir=data_dir)
        if region_slots is not None and hasattr(emission_model, "region_slots"):
            emission_model.region_slots = int(region_slots)
        before = compiled_cache.reuses if compiled_cache is not None else 0
        fits[key] = fit_model(spec, emission_model, panel, seed=seed, progress=progress, compiled_cache=compiled_cache)
        reused = compiled_cache.reuses > before if compiled_cache is not None else False
    fitted_model = fits[key]
    fit_seconds = time.perf_counter() - t0
    fitted = list(fitted_model.regions)
    horizon = int(cutoff + max(int(lead_years), max(horizons) + min_years_before_end))
    paths = backtest_scenario(spec, panel, horizon, cutoff=cutoff, seed=seed, driver_cache=driver_cache,
                              progress=progress, say=say)
    say(f"cutoff {cutoff}: forecasting {len(fitted)} regions to {horizon}")
    fc = forecast_emissions(fitted_model, paths, panel, regions=fitted, draws=forecast_draws, random_seed=seed + 1)
    co2 = fc.ds["co2"].transpose("sample", "region", "year").values  # (sample, region, year)
    reported = reported_scale(fc.ds, fitted_model, panel, fitted, co2, seed=seed + 2)  # what levels are scored on
    years = fc.ds["year"].values.astype(int)
    peak = peak_years(co2, years, window)  # (sample, region)
    still_rising = last_identifiable_year(horizon, window)

    obs = observed.pivot_table(index="year", columns="region", values="co2")
    last_year = int(observed["year"].max())
    events, levels, peaks = [], [], []
    for j, region in enumerate(fitted):
        if region not in obs.columns:
            continue
        series = consecutive_tail(obs[region].dropna(), start)
        group = region_group(region)
        d = peak[:, j]
        for h in ((0, *horizons) if event_horizons is None else event_horizons):
            outcome, status, rule_peak = event_outcome(series, cutoff, h, window=window,
                                                       min_years_before_end=min_years_before_end, min_drop=min_drop)
            p = float(np.mean(d <= cutoff)) if h == 0 else float(np.mean((d > cutoff) & (d <= cutoff + h)))
            events.append({"cutoff": cutoff, "horizon": h, "region": region, "group": group, "p": p,
                           "outcome": outcome, "status": status, "observed_peak": rule_peak})
        for lead in horizons:
            year = cutoff + lead
            if year > last_year or year not in series.index or year not in years:
                continue
            x = reported[:, j, int(np.searchsorted(years, year))]
            levels.append(_level_row(cutoff, lead, year, region, group, x, float(series.loc[year])))
        rule_peak = observed_peak(series, window=window, min_years_before_end=min_years_before_end, min_drop=min_drop)
        if rule_peak is not None and rule_peak > cutoff:
            q = np.quantile(d, [0.05, 0.25, 0.5, 0.75, 0.95], method="lower")
            peaks.append({"cutoff": cutoff, "region": region, "group": group, "observed_peak": rule_peak,
                          "lead": rule_peak - cutoff, "median": int(q[2]), "q05": int(q[0]), "q25": int(q[1]),
                          "q75": int(q[3]), "q95": int(q[4]), "in_50": bool(q[1] <= rule_peak <= q[3]),
                          "in_90": bool(q[0] <= rule_peak <= q[4]), "width_90": int(q[4] - q[0]),
                          "abs_error": abs(int(q[2]) - rule_peak), "crps": float(crps_ensemble(d, rule_peak)),
                          "pit": float(pit(d, rule_peak)), "p_censored": float(np.mean(d >= still_rising))})
    levels += _total_levels(cutoff, horizons, obs, fitted, reported, years, last_year)
    diag = fitted_model.diagnostics
    warnings_ = list(getattr(diag, "warnings", []))
    return {"events": events, "levels": levels, "peaks": peaks,
            "info": {"cutoff": cutoff, "model": fitted_model.name, "scenario": spec.scenario.type,
                     "fit_start": start, "regions_fitted": len(fitted), "fit_seconds": round(fit_seconds, 1),
                     "compiled_model_reused": reused,
                     "forecast_horizon": horizon, "max_r_hat": float(getattr(diag, "max_r_hat", np.nan)),
                     "min_ess_bulk": float(getattr(diag, "min_ess_bulk", np.nan)),
                     "divergences": int(getattr(diag, "divergences", 0) or 0),
                     "sampler_warnings": len(warnings_), "warning_text": "; ".join(map(str, warnings_))[:300]}}


def _total_levels(cutoff: int, horizons, obs: pd.DataFrame, fitted: list[str], reported: np.ndarray,
                  years: np.ndarray, last_year: int) -> list[dict]:
    """Level rows of the sum of the fitted regions observed in each scored year: the forecast sum per draw
    (so the spread reflects how the regions' forecasts co-vary) against the observed sum."""
    rows = []
    for lead in horizons:
        year = cutoff + lead
        if year > last_year or year not in years or year not in obs.index:
            continue
        values = obs.loc[year].reindex(fitted)
        present = np.flatnonzero(values.notna().to_numpy())
        if len(present) < 2:
            continue
        x = reported[:, present, int(np.searchsorted(years, year))].sum(axis=1)
        rows.append(_level_row(cutoff, lead, year, TOTAL_REGION, TOTAL_GROUP, x, float(values.iloc[present].sum())))
    return rows


def _level_row(cutoff: int, lead: int, year: int, region: str, group: str, x: np.ndarray, y: float) -> dict:
    """One row of ``levels``: forecast draws ``x`` (Mt CO2/yr) against the observed ``y``."""
    q = np.quantile(x, [0.05, 0.25, 0.5, 0.75, 0.95])
    crps = float(crps_ensemble(x, y))
    crps_log = float(crps_ensemble(np.log(np.maximum(x, 1e-9)), np.log(y))) if y > 0 else np.nan
    return {"cutoff": cutoff, "lead": lead, "year": year, "region": region, "group": group,
            "observed": y, "q05": q[0], "q25": q[1], "median": q[2], "q75": q[3], "q95": q[4],
            "in_50": bool(interval_coverage(x, y, 0.5)), "in_90": bool(interval_coverage(x, y, 0.9)),
            "crps": crps, "crps_relative": crps / y if y > 0 else np.nan, "crps_log": crps_log}


def reported_scale(ds, model, panel: pd.DataFrame, regions: list[str], co2: np.ndarray, *, seed: int) -> np.ndarray:
    """Forecast emissions as the inventory will report them, for scoring against reported values.

    A model fitted with the inventory error (``[inventory] feeds_model``; ``model.has_offset()``) forecasts
    *true* emissions: each sample's history and forecast are moved by ``exp(-δ)``, its persistent inventory
    offset. The inventory's future values carry the same offset and a fresh year-to-year error
    ``e_t ~ N(0, random sd)``, so the comparable forecast is ``co2 * exp(δ + e_t)``; ``exp(δ)`` is read per
    sample as the panel's last observed emissions over the forecast's (shifted) value of that year. Without
    the offset (every OWID study) ``co2`` is returned unchanged. ``co2``: ``(sample, region, year)`` of the
    forecast years, Mt CO2/yr; ``ds``: the forecast's Dataset (history + forecast)."""
    if not (hasattr(model, "has_offset") and model.has_offset()):
        return co2
    last = int(panel["year"].max())
    observed = panel[panel["year"] == last].set_index("region")["co2"].reindex(regions).to_numpy(dtype=float)
    shifted = ds["co2"].sel(year=last, region=list(regions)).transpose("sample", "region").values
    offset = np.log(observed[None, :] / shifted)  # δ per sample and region
    sd = np.asarray(model.measurement_sd(list(regions)), dtype=float)
    noise = np.random.default_rng(seed).normal(size=co2.shape) * sd[None, :, None]
    return co2 * np.exp(offset[:, :, None] + noise)


# ---------------------------------------------------------------------------------------- many cutoffs
EVENT_COLUMNS = ["cutoff", "horizon", "region", "group", "p", "outcome", "status", "observed_peak"]
#: the ``region`` / ``group`` of the level rows that score the sum of every fitted region with an observation
#: (a nation's provinces, the countries of the panel): it tests whether the forecasts co-vary as the outcomes do
TOTAL_REGION, TOTAL_GROUP = "Sum of the fitted regions", "total"
LEVEL_COLUMNS = ["cutoff", "lead", "year", "region", "group", "observed", "q05", "q25", "median", "q75", "q95",
                 "in_50", "in_90", "crps", "crps_relative", "crps_log"]
PEAK_COLUMNS = ["cutoff", "region", "group", "observed_peak", "lead", "median", "q05", "q25", "q75", "q95",
                "in_50", "in_90", "width_90", "abs_error", "crps", "pit", "p_censored"]


def parse_cutoffs(text: str) -> list[int]:
    """``"1970:2012:3"`` (start:stop:step, stop included), ``"2000,2005"`` or ``"2010"`` -> years."""
    text = str(text).strip()
    try:
        if ":" in text:
            parts = [int(x) for x in text.split(":")]
            if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] < 1):
                raise ValueError
            step = parts[2] if len(parts) == 3 else 1
            return list(range(parts[0], parts[1] + 1, step))
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"--cutoffs {text!r}: give years as START:STOP[:STEP] or a comma list, e.g. 1970:2012:3") from None


def _checkpoint_key(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _read_checkpoint(path: Path, key: str) -> dict | None:
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return saved.get("rows") if saved.get("key") == key else None


def _write_checkpoint(path: Path, key: str, rows: dict) -> None:
    from forecast.io.jsonable import to_jsonable

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps({"key": key, "rows": to_jsonable(rows)}), encoding="utf-8")
    os.replace(tmp, path)  # a run killed mid-write leaves the previous checkpoint (or none), never half of one


def run_backtest(study, cutoffs: Iterable[int] = DEFAULT_CUTOFFS, *, data_dir=None, draws: int = DEFAULT_DRAWS,
                 tune: int = DEFAULT_TUNE, forecast_draws: int = 500, seed: int = 1, regions: list[str] | None = None,
                 window: int = PEAK_WINDOW, min_years_before_end: int = 10, min_drop: float = 0.15, bins: int = 10,
                 fit_years: int | None = DEFAULT_FIT_YEARS, lead_years: int = DEFAULT_LEAD_YEARS,
                 checkpoint_dir: str | Path | None = None, progress: bool | None = False,
                 say: Callable[[str], None] | None = None, model: str | None = None, scenario: str | None = None,
                 driver_cache: dict | None = None, reuse_compiled: bool = True,
                 region_slots: int | None = None) -> BacktestResult:
    """Refit ``study`` at each cutoff, forecast all fitted regions and score them (see module docstring).

    ``regions`` restricts the fit to these regions (default: the study's own selection). ``fit_years``:
    rolling fit window (``None``: from the study's first year). ``model`` / ``scenario`` replace the
    study's emission model and scenario type; ``driver_cache`` shares fitted models between calls (see
    :func:`compare_models`). ``checkpoint_dir``: each finished cutoff is saved there and reused by a
    later run with the same settings, so an interrupted backtest resumes where it stopped.
    ``progress``: a progress bar over cutoffs on stderr.

    ``reuse_compiled`` (default): the emission model is compiled for nutpie once and every cutoff's data
    are swapped into it (:class:`~forecast.models.sampling.CompiledModelCache`), instead of a compile per
    cutoff (most of a fit's time). For that every cutoff's model gets the same number of region slots,
    the most regions any cutoff has (``settings["region_slots"]``); slots without data are prior-only and
    dropped after sampling. The posterior is the same, the draws are not (other parameters in the sampler's
    state), so scores agree with a run without reuse within Monte Carlo error
    (``benchmarks/backtest_speed.py`` measures both). ``region_slots`` sets that number instead (at least
    the most regions of any cutoff; another number is another Monte Carlo realisation of the same posterior).
    """
    from forecast.models.sampling import CompiledModelCache
    from forecast._version import __version__

    if model is not None:
        from forecast.run.study import emission_model_name

        emission_model_name(model)
    if scenario is not None and scenario not in SCENARIO_TYPES:
        raise InputError(f"the backtest scenario must be one of {', '.join(SCENARIO_TYPES)}, got {scenario!r}")
    say = say or (lambda stage: log.info(stage))
    cutoffs = sorted({int(c) for c in cutoffs})
    if not cutoffs:
        raise InputError("give at least one cutoff year")
    if fit_years is not None and not 10 <= int(fit_years) <= 200:
        raise InputError(f"fit_years must lie in 10-200, got {fit_years}")
    target = observed_source(study)
    observed = target.load(data_dir)
    data_sha256 = observed.attrs["provenance"][0]["sha256"]
    observed = observed.loc[observed["co2"].notna(), ["region", "year", "co2"]]
    last_year = int(observed["year"].max())
    lead = min(target.level_leads)
    late = [c for c in cutoffs if c + lead > last_year]
    if late:
        raise InputError(f"cutoff(s) {late} leave fewer than {lead} observed year(s) after them "
                         f"({target.label} data end in {last_year})")
    # the first year a fit window may start: the first observed year, or later if the panel starts later
    first_observed = max(int(observed["year"].min()), int(target.first_fit_year or 0))
    for c in cutoffs:  # a cutoff without a usable window fails here, before any sampling
        fit_window(study, c, fit_years, first_observed)
    model_type = model or study.model.type
    scenario_type = scenario or (study.scenario.type if study.scenario.type in SCENARIO_TYPES else "history")
    slots, compiled_cache = None, None
    if reuse_compiled and study.sampler.name == "nutpie":
        slots = region_slot_count(study, cutoffs, first_observed, data_dir=data_dir, fit_years=fit_years,
                                  regions=regions)
        if region_slots is not None:
            if int(region_slots) < slots:
                raise InputError(f"region_slots = {region_slots}: a cutoff has {slots} regions; give at least that")
            slots = int(region_slots)
        # shared by the variants of compare_models (their structures differ, so each compiles once)
        holder = {} if driver_cache is None else driver_cache
        compiled_cache = holder.setdefault("compiled_models", CompiledModelCache())
    settings = {"study": study.study.name, "model": model_type, "scenario": scenario_type, "cutoffs": cutoffs,
                "fit_years": fit_years, "lead_years": lead_years, "draws": draws, "tune": tune,
                "chains": study.sampler.chains, "sampler": study.sampler.name, "forecast_draws": forecast_draws,
                "seed": seed, "window": window, "min_years_before_end": min_years_before_end, "min_drop": min_drop,
                "regions": regions, "last_data_year": last_year, "data_sha256": data_sha256,
                "package_version": __version__,
                # what was fitted, not the study's prose about its backtest (the rationale quotes this backtest's
                # own numbers: it is written after it, and rewriting it must not make the run look changed)
                "study_settings": study.model_dump(mode="json", exclude={
                    "study": True, "report": True, "targets": True,
                    "model": {"rationale", "comparison", "backtest"}})}
    if slots is not None:  # left out without reuse, so checkpoints written before reuse existed stay valid
        settings["region_slots"] = slots
    if target is not OBSERVED_SOURCES["owid"]:  # (left out for OWID: its settings and checkpoints stay as they were)
        settings.update(observed_source=target.label, event_horizons=list(target.event_horizons),
                        level_leads=list(target.level_leads), first_fit_year=target.first_fit_year,
                        scoring_note=target.note, data_files=_panel_files(study, data_dir))
    rows: dict[str, list] = {"events": [], "levels": [], "peaks": [], "info": []}
    bar = _progress_bar(progress, len(cutoffs), f"{model_type}/{scenario_type}")
    try:
        for i, cutoff in enumerate(cutoffs):
            cutoff_seed = seed + 10 * i
            key = _checkpoint_key({**settings, "cutoffs": None, "cutoff": cutoff, "cutoff_seed": cutoff_seed,
                                   "package_version": None})
            path = (Path(checkpoint_dir) / f"{model_type}-{scenario_type}-{cutoff}.json") if checkpoint_dir else None
            out = _read_checkpoint(path, key) if path else None
            if out is None:
                out = backtest_cutoff(study, cutoff, observed, data_dir=data_dir, draws=draws, tune=tune,
                                      forecast_draws=forecast_draws, seed=cutoff_seed, regions=regions, window=window,
                                      min_years_before_end=min_years_before_end, min_drop=min_drop,
                                      fit_years=fit_years, lead_years=lead_years, progress=False, say=say,
                                      model=model, scenario=scenario, driver_cache=driver_cache,
                                      compiled_cache=compiled_cache, region_slots=slots,
                                      horizons=target.level_leads, event_horizons=target.event_horizons,
                                      first_fit_year=target.first_fit_year)
                if path:
                    _write_checkpoint(path, key, out)
            else:
                say(f"cutoff {cutoff}: reused the saved result in {path}")
            for name in ("events", "levels", "peaks"):
                rows[name] += out[name]
            rows["info"].append(out["info"])
            if bar is not None:
                bar[0].advance(bar[1])
    finally:
        if bar is not None:
            bar[0].stop()
    ev = pd.DataFrame(rows["events"], columns=EVENT_COLUMNS)
    ev["outcome"] = ev["outcome"].astype(float)
    ev["observed_peak"] = ev["observed_peak"].astype("Int64")
    return BacktestResult(events=ev, levels=pd.DataFrame(rows["levels"], columns=LEVEL_COLUMNS),
                          peaks=pd.DataFrame(rows["peaks"], columns=PEAK_COLUMNS), fits=pd.DataFrame(rows["info"]),
                          settings=settings, bins=bins)


def _panel_files(study, data_dir) -> list[dict]:
    """File, role and SHA-256 of every data file the study's panel is built from (the fits' inputs; the
    scores' observed file is ``data_sha256``)."""
    from forecast.run.pipeline import load_study_panel

    panel = load_study_panel(study, data_dir=data_dir)
    return [{"file": Path(str(p.get("path", ""))).name, "role": p.get("role"), "sha256": p.get("sha256")}
            for p in panel.attrs.get("provenance", [])]


def _progress_bar(progress: bool | None, total: int, label: str):
    """A rich progress bar over cutoffs on stderr, or ``None``."""
    if not progress:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TimeRemainingColumn(), console=Console(stderr=True), transient=False)
    task = bar.add_task(f"backtest {label}", total=total)
    bar.start()
    return bar, task


# ---------------------------------------------------------------------------------------- comparisons
def variant_name(model: str, scenario: str) -> str:
    return f"{model}/{scenario}"


def compare_models(study, variants: Iterable[tuple[str, str]], cutoffs: Iterable[int] = DEFAULT_CUTOFFS, **kwargs
                   ) -> dict[str, BacktestResult]:
    """Backtest several (emission model, scenario) variants on the same cutoffs, data and seeds.

    Driver models and emission models are fitted once per cutoff and shared. Returns ``{"ekc/history": result, ...}``."""
    cache: dict = {}
    out = {}
    for model, scenario in variants:
        out[variant_name(model, scenario)] = run_backtest(study, cutoffs, model=model, scenario=scenario,
                                                          driver_cache=cache, **kwargs)
    return out


#: headline statistics of the comparison: (kind, target, statistic, better)
COMPARISON_METRICS = (
    ("event", "already peaked", "brier_skill", "higher"), ("event", "already peaked", "auc", "higher"),
    ("event", "already peaked", "log_score", "lower"),
    ("event", "peak within 5 y", "brier_skill", "higher"), ("event", "peak within 5 y", "auc", "higher"),
    ("event", "peak within 5 y", "log_score", "lower"),
    ("event", "peak within 10 y", "brier_skill", "higher"), ("event", "peak within 10 y", "auc", "higher"),
    ("event", "peak within 10 y", "log_score", "lower"),
    ("event", "peak within 10 y", "max_reliability_gap", "lower"),
    ("level", "5 y ahead", "coverage_90", "nominal 0.9"), ("level", "10 y ahead", "coverage_90", "nominal 0.9"),
    ("level", "10 y ahead", "crps_log", "lower"),
    ("peak_year", "6-10 y before the peak", "coverage_90", "nominal 0.9"),
    ("peak_year", "6-10 y before the peak", "median_width_90", "lower"),
    ("peak_year", "6-10 y before the peak", "median_abs_error", "lower"),
    ("peak_year", "6-10 y before the peak", "crps_years", "lower"),
)


def comparison_table(scores: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Pooled scores side by side: one row per headline statistic, per variant the estimate and its
    cluster-bootstrap interval, and which variant is best on the estimate (see :func:`paired_differences`
    for whether the difference is resolved)."""
    rows = []
    for kind, target, statistic, better in COMPARISON_METRICS:
        row = {"kind": kind, "target": target, "statistic": statistic, "better": better}
        values = {}
        for name, table in scores.items():
            hit = table[(table["kind"] == kind) & (table["target"] == target) & (table["statistic"] == statistic)]
            est, lo, hi = (hit.iloc[0][["estimate", "low", "high"]].astype(float) if len(hit) else (np.nan,) * 3)
            row[name], row[f"{name} low"], row[f"{name} high"] = est, lo, hi
            if np.isfinite(est):
                values[name] = est
        if len(values) > 1:
            if better == "lower":
                row["best"] = min(values, key=values.get)
            elif better == "higher":
                row["best"] = max(values, key=values.get)
            else:
                target_value = float(better.split()[-1])
                row["best"] = min(values, key=lambda n: abs(values[n] - target_value))
        rows.append(row)
    return pd.DataFrame(rows)


def paired_differences(results: dict[str, BacktestResult], *, n_boot: int = 1000, seed: int = 0,
                       level: float = 0.9) -> pd.DataFrame:
    """Each variant against the first (the reference), on the forecasts both made: differences of Brier,
    log score and AUC per event (variant minus reference; negative Brier/log = the variant is better) and
    of peak-year CRPS, with cluster-bootstrap intervals over cutoffs. An interval that excludes 0 is a
    measured difference; one that straddles 0 is not."""
    names = list(results)
    if len(names) < 2:
        return pd.DataFrame()
    ref_name = names[0]
    ref = results[ref_name]
    rows = []
    for name in names[1:]:
        other = results[name]
        keys = ["cutoff", "horizon", "region"]
        joined = ref.events.merge(other.events, on=keys, suffixes=("_ref", "_var"))
        joined = joined[joined["outcome_ref"].notna()].rename(columns={"outcome_ref": "outcome"})
        for h, cell in joined.groupby("horizon", sort=True):
            stats = {
                "brier": lambda f: brier_score(f["p_var"], f["outcome"]) - brier_score(f["p_ref"], f["outcome"]),
                "log_score": lambda f: log_score(f["p_var"], f["outcome"]) - log_score(f["p_ref"], f["outcome"]),
                "auc": lambda f: auc(f["p_var"], f["outcome"]) - auc(f["p_ref"], f["outcome"]),
            }
            t = cluster_bootstrap(cell, stats, n_boot=n_boot, seed=seed, level=level)
            rows.append(t.assign(variant=name, reference=ref_name, target=event_label(h), n=len(cell)))
        pk = ref.peaks.merge(other.peaks, on=["cutoff", "region"], suffixes=("_ref", "_var"))
        if len(pk):
            t = cluster_bootstrap(pk, {"peak_year_crps": lambda f: float((f["crps_var"] - f["crps_ref"]).mean())},
                                  n_boot=n_boot, seed=seed, level=level)
            rows.append(t.assign(variant=name, reference=ref_name, target="peak year", n=len(pk)))
    out = pd.concat(rows, ignore_index=True)
    out["resolved"] = (out["low"] > 0) | (out["high"] < 0)
    return out[["variant", "reference", "target", "statistic", "n", "estimate", "low", "high", "resolved", "clusters"]]


# ---------------------------------------------------------------------------------------- targets
#: the issue's targets on the backtest (event / lead, statistic, test, stated target)
TARGETS = (
    ("event", "peak within 10 y", "auc", lambda v: v >= 0.85, "AUC >= 0.85"),
    ("event", "peak within 10 y", "brier_skill", lambda v: v >= 0.10, "Brier skill >= 0.10 over climatology"),
    ("event", "peak within 10 y", "max_reliability_gap", lambda v: v <= 0.10,
     "reliability within +-0.1 in every bin of >= 20 forecasts"),
    ("peak_year", "6-10 y before the peak", "coverage_90", lambda v: 0.85 <= v <= 0.95, "90% intervals cover 85-95%"),
    ("peak_year", "6-10 y before the peak", "median_width_90", lambda v: v <= 30, "median 90% width <= 30 years"),
    ("peak_year", "6-10 y before the peak", "median_abs_error", lambda v: v <= 15, "median |error| <= 15 years"),
)


def targets_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Where a backtest stands against the stated targets: measured value, interval, met or not."""
    rows = []
    for kind, target, statistic, test, text in TARGETS:
        hit = scores[(scores["kind"] == kind) & (scores["target"] == target) & (scores["statistic"] == statistic)]
        est = float(hit.iloc[0]["estimate"]) if len(hit) else np.nan
        rows.append({"target": text, "scored on": f"{target}", "measured": est,
                     "low": float(hit.iloc[0]["low"]) if len(hit) else np.nan,
                     "high": float(hit.iloc[0]["high"]) if len(hit) else np.nan,
                     "met": ("yes" if test(est) else "no") if np.isfinite(est) else "not measured"})
    return pd.DataFrame(rows)
