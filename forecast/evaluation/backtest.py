"""Backtest: refit the study at past cutoffs, forecast, and score the forecasts against what happened.

For each cutoff year ``c`` the study's panel is cut at ``c`` (same population and completeness filters,
applied inside the shorter window), the EKC is refitted, every fitted region is forecast with the
history scenario, and the forecasts are scored against the full observed OWID series (to its last year
``L``, 2023 in the current file).

Observed peak rule (:func:`observed_peak`)
------------------------------------------
A series has *peaked* in year ``P`` when

1. ``P`` is the year of the maximum of the centred ``window``-year mean (5 years by default; only years
   with a full window count, so the mean is defined from ``start + 2`` to ``L - 2``);
2. ``P <= L - min_years_before_end`` (10 years of data after the peak by default);
3. the last observed value is at least ``min_drop`` (15 %) below that maximum mean.

Otherwise the series has not (yet) peaked and the rule returns ``None``.

Event outcomes
--------------
The event ``E_h`` is "the peak lies in ``(c, c + h]``" (``h`` = 5, 10). With ``P*`` the rule's peak on
the full observed series:

* ``P*`` found: ``E_h = 1`` if ``c < P* <= c + h``, else ``0`` (a peak before or at the cutoff, or
  after ``c + h``, is a "no"). Status ``peaked_before_cutoff`` / ``peaked_after_cutoff``.
* ``P*`` not found: ``E_h = 0`` when the largest centred mean inside ``(c, c + h]`` is below a centred
  mean outside that window (the maximum can then never come to lie in the window, whatever later data
  show), status ``not_peaked``; otherwise the outcome is **undecidable** (the maximum so far lies in
  the window but is too recent or has not fallen by ``min_drop`` yet) and the region is left out of
  that event's scores (status ``undecidable``).

Forecast probability of ``E_h``: the same centred ``window``-year mean is taken along every sampled
trajectory (observed history up to ``c`` joined with the forecast) and ``P(c < argmax <= c + h)`` is
the share of trajectories whose argmax lies in the window. The trajectories run to
``c + max(h) + min_years_before_end`` so that, as in the rule, a forecast peak in the window must stay
the maximum for ``min_years_before_end`` years after it (the drop criterion is not imposed on draws).
Outcomes are as of the last data year: a later rebound above an old peak would change them.

Levels: central 50 % / 90 % intervals and CRPS of total emissions (Mt CO2/yr) in ``c + 5`` and
``c + 10`` (only where observed). Peak year: for regions whose rule peak lies after the cutoff,
coverage of the 50 % / 90 % intervals of the forecast (smoothed) peak year and the error of its median.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from forecast.errors import InputError
from forecast.mdtable import frame_table

log = logging.getLogger(__name__)

#: Former USSR and Warsaw-pact successor states (OWID spellings), scored as their own group: their 1990s
#: collapse was a regime change, not an income-driven EKC turn.
EASTERN_BLOC_1990 = (
    "Armenia", "Azerbaijan", "Belarus", "Estonia", "Georgia", "Kazakhstan", "Kyrgyzstan", "Latvia",
    "Lithuania", "Moldova", "Russia", "Tajikistan", "Turkmenistan", "Ukraine", "Uzbekistan",
    "Albania", "Bulgaria", "Czechia", "Hungary", "Poland", "Romania", "Slovakia",
)

HORIZONS = (5, 10)
#: With data to 2023 a rule peak must lie in or before 2013 (10 years of data after it), so a cutoff after
#: about 2008 has few decidable 10-year events and a 2015 cutoff none at all: the default cutoffs end in 2010.
DEFAULT_CUTOFFS = (2000, 2005, 2010)
LEVELS = (0.5, 0.9)


def region_group(region: str) -> str:
    return "eastern_bloc" if region in EASTERN_BLOC_1990 else "other"


# ---------------------------------------------------------------------------------------- peak rule
def _centred_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving mean along the last axis; NaN where the window is incomplete (odd ``window``)."""
    values = np.asarray(values, dtype=float)
    n = values.shape[-1]
    out = np.full(values.shape, np.nan)
    if n < window:
        return out
    c = np.cumsum(np.concatenate([np.zeros(values.shape[:-1] + (1,)), values], axis=-1), axis=-1)
    half = window // 2
    out[..., half : n - half] = (c[..., window:] - c[..., :-window]) / window
    return out


def observed_peak(series: pd.Series, *, window: int = 5, min_years_before_end: int = 10,
                  min_drop: float = 0.15) -> int | None:
    """Year a series (index: year, values: Mt CO2/yr) peaked, or ``None`` if it has not (yet).

    Rule: ``P = argmax_t m_t`` with ``m_t`` the centred ``window``-year mean (full windows only); the
    series has peaked iff ``P <= last_year - min_years_before_end`` and
    ``x_last <= (1 - min_drop) * m_P``. Missing values are dropped; years must then be consecutive.
    """
    if window < 1 or window % 2 == 0:
        raise InputError(f"window must be a positive odd number of years, got {window}")
    s = pd.Series(series, dtype=float).dropna().sort_index()
    if len(s) < window:
        return None
    years = s.index.to_numpy(dtype=int)
    if (np.diff(years) != 1).any():
        raise InputError("observed_peak needs consecutive years (no gaps)")
    m = _centred_mean(s.to_numpy(), window)
    i = int(np.nanargmax(m))
    peak, top = int(years[i]), float(m[i])
    if peak > years[-1] - min_years_before_end:
        return None
    if not s.iloc[-1] <= (1.0 - min_drop) * top:
        return None
    return peak


def event_outcome(series: pd.Series, cutoff: int, horizon: int, *, window: int = 5,
                  min_years_before_end: int = 10, min_drop: float = 0.15) -> tuple[float, str, int | None]:
    """Observed outcome of "peak in (cutoff, cutoff + horizon]": ``(1.0 | 0.0 | nan, status, peak)``.

    See the module docstring for the definition; ``nan`` with status ``undecidable`` when the data
    cannot decide the event yet.
    """
    peak = observed_peak(series, window=window, min_years_before_end=min_years_before_end, min_drop=min_drop)
    if peak is not None:
        status = "peaked_before_cutoff" if peak <= cutoff else "peaked_after_cutoff"
        return float(cutoff < peak <= cutoff + horizon), status, peak
    s = pd.Series(series, dtype=float).dropna().sort_index()
    years = s.index.to_numpy(dtype=int)
    m = _centred_mean(s.to_numpy(), window)
    inside = (years > cutoff) & (years <= cutoff + horizon) & np.isfinite(m)
    outside = ~inside & np.isfinite(m)
    if inside.any() and outside.any() and np.max(m[inside]) < np.max(m[outside]):
        return 0.0, "not_peaked", None
    if not inside.any() and outside.any():
        return 0.0, "not_peaked", None  # (cannot happen for cutoff + horizon before the last year - 2)
    return float("nan"), "undecidable", None


# ---------------------------------------------------------------------------------------- scores
def _pair(p, outcome) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(p, dtype=float).ravel()
    o = np.asarray(outcome, dtype=float).ravel()
    if p.shape != o.shape:
        raise InputError(f"p and outcome differ in length: {p.size} vs {o.size}")
    keep = np.isfinite(p) & np.isfinite(o)
    p, o = p[keep], o[keep]
    if ((p < 0) | (p > 1)).any():
        raise InputError("probabilities must lie in [0, 1]")
    if not np.isin(o, (0.0, 1.0)).all():
        raise InputError("outcomes must be 0 or 1")
    return p, o


def brier_score(p, outcome) -> float:
    """Brier score ``BS = mean_i (p_i - o_i)^2`` (0 perfect, 0.25 for p = 0.5 always). NaN pairs dropped."""
    p, o = _pair(p, outcome)
    return float(np.mean((p - o) ** 2)) if p.size else float("nan")


def brier_skill(p, outcome, base_rate: float | None = None) -> float:
    """Brier skill score ``BSS = 1 - BS / BS_ref`` with ``BS_ref = mean_i (b - o_i)^2``, the score of
    always forecasting the base rate ``b`` (default: the observed frequency ``mean(o)``, so
    ``BS_ref = b (1 - b)``). 1 perfect, 0 no better than climatology, < 0 worse; NaN if ``BS_ref = 0``."""
    p, o = _pair(p, outcome)
    if not p.size:
        return float("nan")
    b = float(o.mean()) if base_rate is None else float(base_rate)
    ref = float(np.mean((b - o) ** 2))
    return float(1.0 - np.mean((p - o) ** 2) / ref) if ref > 0 else float("nan")


def auc(p, outcome) -> float:
    """Area under the ROC curve = Mann-Whitney probability that a random positive gets a higher ``p``
    than a random negative (ties count 1/2): ``AUC = (sum of mid-ranks of positives - n1 (n1 + 1)/2) /
    (n1 n0)``. NaN when only one class is present."""
    p, o = _pair(p, outcome)
    n1 = int(o.sum())
    n0 = o.size - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(p)  # average ranks for ties
    return float((ranks[o == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def reliability_table(p, outcome, bins: int = 10) -> pd.DataFrame:
    """Calibration table on ``bins`` equal-width bins of ``[0, 1]`` (right-closed last bin): per bin
    ``mean_p`` (mean forecast), ``observed_freq`` (mean outcome) and ``count``; empty bins have NaN means."""
    p, o = _pair(p, outcome)
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    count = np.bincount(idx, minlength=bins)
    sum_p = np.bincount(idx, weights=p, minlength=bins)
    sum_o = np.bincount(idx, weights=o, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({
            "bin": np.arange(bins), "p_low": edges[:-1], "p_high": edges[1:],
            "mean_p": np.where(count > 0, sum_p / np.maximum(count, 1), np.nan),
            "observed_freq": np.where(count > 0, sum_o / np.maximum(count, 1), np.nan),
            "count": count.astype(int),
        })


def interval_coverage(draws, observed, level: float, axis: int = -1) -> np.ndarray:
    """Whether ``observed`` lies in the central ``level`` interval of ``draws``:
    ``q_{(1-level)/2} <= y <= q_{(1+level)/2}`` (empirical quantiles along ``axis``). Boolean array with
    the shape of ``observed``; ``.mean()`` is the coverage."""
    if not 0 < level < 1:
        raise InputError(f"level must lie in (0, 1), got {level}")
    x = np.moveaxis(np.asarray(draws, dtype=float), axis, -1)
    y = np.asarray(observed, dtype=float)
    lo, hi = np.quantile(x, [(1 - level) / 2, (1 + level) / 2], axis=-1)
    return (lo <= y) & (y <= hi)


def crps_ensemble(draws, observed, axis: int = -1) -> np.ndarray:
    """CRPS of an ensemble, energy form ``CRPS = E|X - y| - 1/2 E|X - X'|`` (``X, X'`` independent
    draws of the ensemble; the V-statistic, so a point mass at ``y`` scores exactly 0). With the
    ensemble sorted, ``E|X - X'| = 2 / n^2 sum_i (2i - n - 1) x_(i)``: O(n log n) per forecast.
    Vectorised over all other axes; returns the shape of ``observed``."""
    x = np.sort(np.moveaxis(np.asarray(draws, dtype=float), axis, -1), axis=-1)
    y = np.asarray(observed, dtype=float)
    n = x.shape[-1]
    if n == 0:
        raise InputError("crps_ensemble needs at least one draw")
    term1 = np.mean(np.abs(x - y[..., None]), axis=-1)
    weights = 2.0 * np.arange(1, n + 1) - n - 1
    term2 = 2.0 / n**2 * np.sum(weights * x, axis=-1)
    return term1 - 0.5 * term2


def _event_scores(frame: pd.DataFrame) -> dict:
    p, o = frame["p"].to_numpy(), frame["outcome"].to_numpy()
    return {"n": int(len(frame)), "events": int(np.nansum(o)), "base_rate": float(np.mean(o)) if len(o) else np.nan,
            "mean_p": float(np.mean(p)) if len(p) else np.nan, "brier": brier_score(p, o),
            "brier_skill": brier_skill(p, o), "auc": auc(p, o)}


def score_events(events: pd.DataFrame, by: Iterable[str] = ("cutoff", "horizon")) -> pd.DataFrame:
    """Brier, skill vs the base rate and AUC per ``by`` cell, for all decidable regions (``group = all``),
    without the Eastern bloc (``other``) and for the Eastern bloc alone (``eastern_bloc``).
    ``events`` needs columns ``p``, ``outcome`` (NaN = undecidable, left out), ``group`` and ``by``."""
    by = list(by)
    ev = events[np.isfinite(events["outcome"].astype(float))]
    rows = []
    subsets = [("all", ev), ("other", ev[ev["group"] == "other"]), ("eastern_bloc", ev[ev["group"] == "eastern_bloc"])]
    for label, sub in subsets:
        groups = sub.groupby(by, sort=True) if by else [((), sub)]
        for key, cell in groups:
            key = key if isinstance(key, tuple) else (key,)
            rows.append({**dict(zip(by, key)), "group": label, **_event_scores(cell)})
        if by:  # pooled over all cells of this group (all cutoffs, per horizon when horizon is in by)
            pool = [b for b in by if b != "cutoff"]
            if "cutoff" in by:
                for key, cell in (sub.groupby(pool, sort=True) if pool else [((), sub)]):
                    key = key if isinstance(key, tuple) else (key,)
                    rows.append({"cutoff": "pooled", **dict(zip(pool, key)), "group": label, **_event_scores(cell)})
    return pd.DataFrame(rows)


def score_levels(levels: pd.DataFrame, by: Iterable[str] = ("cutoff", "lead")) -> pd.DataFrame:
    """Mean 50 % / 90 % coverage, mean CRPS (Mt CO2/yr) and mean CRPS relative to the observed level,
    per ``by`` cell, for all regions and for the Eastern bloc and the rest separately."""
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


# ---------------------------------------------------------------------------------------- runner
@dataclass
class BacktestResult:
    """Tidy tables of a backtest.

    * ``events``: one row per (cutoff, horizon, region) with ``p`` (forecast probability of a peak in
      ``(cutoff, cutoff + horizon]``), ``outcome`` (1/0, NaN if undecidable), ``status``,
      ``observed_peak``, ``group``.
    * ``levels``: one row per (cutoff, lead, region) with the observed and forecast emissions,
      ``in_50``, ``in_90``, ``crps`` (Mt CO2/yr), ``crps_relative`` (crps / observed) and ``crps_log``
      (CRPS of log emissions, scale-free and robust to exploding trajectories).
    * ``peaks``: regions whose rule peak lies after the cutoff: observed peak year, forecast median,
      50 % / 90 % intervals, coverage flags and absolute error.
    * ``event_scores``, ``level_scores``, ``reliability``: the scores.
    """

    events: pd.DataFrame
    levels: pd.DataFrame
    peaks: pd.DataFrame
    event_scores: pd.DataFrame
    level_scores: pd.DataFrame
    reliability: pd.DataFrame
    settings: dict = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """One row per cutoff (and pooled) for all regions: Brier, skill, AUC at 5 and 10 years,
        50 % / 90 % coverage and relative CRPS at 5 and 10 years, peak-year coverage and error."""
        rows = {}
        es = self.event_scores[self.event_scores["group"] == "all"]
        for _, r in es.iterrows():
            d = rows.setdefault(str(r["cutoff"]), {})
            h = int(r["horizon"])
            d[f"n_events_{h}y"] = r["n"]
            d[f"base_rate_{h}y"] = r["base_rate"]
            d[f"brier_{h}y"] = r["brier"]
            d[f"skill_{h}y"] = r["brier_skill"]
            d[f"auc_{h}y"] = r["auc"]
        ls = self.level_scores[self.level_scores["group"] == "all"]
        for _, r in ls.iterrows():
            d = rows.setdefault(str(r["cutoff"]), {})
            k = int(r["lead"])
            d[f"cov50_{k}y"] = r["coverage_50"]
            d[f"cov90_{k}y"] = r["coverage_90"]
            d[f"crps_{k}y"] = r["crps"]
            d[f"crps_rel_{k}y"] = r["crps_relative"]
            d[f"crps_rel_median_{k}y"] = r["median_crps_relative"]
            d[f"crps_log_{k}y"] = r["crps_log"]
        if len(self.levels):
            for k, cell in self.levels.groupby("lead"):
                d = rows.setdefault("pooled", {})
                d[f"cov50_{k}y"] = cell["in_50"].mean()
                d[f"cov90_{k}y"] = cell["in_90"].mean()
                d[f"crps_{k}y"] = cell["crps"].mean()
                d[f"crps_rel_{k}y"] = cell["crps_relative"].mean()
                d[f"crps_rel_median_{k}y"] = cell["crps_relative"].median()
                d[f"crps_log_{k}y"] = cell["crps_log"].mean()
        if len(self.peaks):
            for key, cell in [*((str(c), g) for c, g in self.peaks.groupby("cutoff")), ("pooled", self.peaks)]:
                d = rows.setdefault(key, {})
                d["peak_n"] = len(cell)
                d["peak_cov50"] = cell["in_50"].mean()
                d["peak_cov90"] = cell["in_90"].mean()
                d["peak_mae"] = cell["abs_error"].mean()
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("cutoff")


def _peak_draws(co2: np.ndarray, years: np.ndarray, window: int) -> np.ndarray:
    """Year of the maximum centred ``window``-year mean of each trajectory (last axis = year)."""
    m = _centred_mean(co2, window)
    m = np.where(np.isfinite(m), m, -np.inf)
    return years[np.argmax(m, axis=-1)]


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
    if cutoff not in cache:
        gdp, population = build_driver_models(spec)
        say(f"cutoff {cutoff}: fitting the GDP and population models")
        fitted = fit_drivers(spec, DriverScenario.from_models(panel, horizon=horizon, gdp_model=gdp,
                                                              population_model=population, **settings),
                             seed=seed, progress=progress)
        cache[cutoff] = (fitted.gdp_model, fitted.population_model)
    gdp, population = cache[cutoff]
    return DriverScenario.from_models(panel, horizon=horizon, gdp_model=gdp, population_model=population,
                                      name="drivers", **settings)


def backtest_cutoff(study, cutoff: int, observed: pd.DataFrame, *, data_dir=None, draws: int = 300, tune: int = 400,
                    forecast_draws: int = 500, seed: int = 1, regions: list[str] | None = None,
                    horizons=HORIZONS, window: int = 5, min_years_before_end: int = 10, min_drop: float = 0.15,
                    progress: bool | None = False, say: Callable[[str], None] = lambda _: None,
                    model: str | None = None, scenario: str | None = None, driver_cache: dict | None = None) -> dict:
    """Fit at one cutoff, forecast every fitted region and score against ``observed`` (tidy
    ``region, year, co2`` up to the last data year). Returns the events, levels and peaks rows.

    ``model`` (``ekc`` | ``kaya``) and ``scenario`` (``history`` | ``drivers``) replace the study's own
    choices, so several emission models can be scored on the same cutoffs."""
    from forecast.run.pipeline import build_model, fit_model, load_study_panel
    from forecast.projection.propagate import forecast_emissions

    start = int(study.data.years[0]) if study.data.years else int(observed["year"].min())
    if cutoff - start + 1 < 10:
        raise InputError(f"cutoff {cutoff} leaves fewer than 10 years to fit (data start in {start})")
    data = {"years": [start, int(cutoff)], "min_years": min(study.data.min_years, cutoff - start + 1)}
    if regions is not None:
        data["regions"] = list(regions)
    overrides = {"model": {"type": model or study.model.type},
                 "scenario": {"type": scenario or (study.scenario.type if study.scenario.type in SCENARIO_TYPES else "history")}}
    spec = study.with_overrides(data=data, sampler={"draws": int(draws), "tune": int(tune)},
                                forecast={"focus_regions": [], "regions": "all"}, **overrides)
    panel = load_study_panel(spec, data_dir=data_dir)
    # the emission fit does not depend on the scenario: variants that share a model share its fit
    fits = {} if driver_cache is None else driver_cache
    key = ("emission_model", cutoff, spec.model.type)
    t0 = time.perf_counter()
    if key not in fits:
        say(f"cutoff {cutoff}: fitting {spec.model.type} on {panel['region'].nunique()} regions x "
            f"{panel['year'].nunique()} years")
        fits[key] = fit_model(spec, build_model(spec, panel, data_dir=data_dir), panel, seed=seed, progress=progress)
    model = fits[key]
    fit_seconds = time.perf_counter() - t0
    model_name = model.name
    fitted = list(model.regions)
    horizon = int(cutoff + max(horizons) + min_years_before_end)
    paths = backtest_scenario(spec, panel, horizon, cutoff=cutoff, seed=seed, driver_cache=driver_cache,
                              progress=progress, say=say)
    say(f"cutoff {cutoff}: forecasting {len(fitted)} regions to {horizon}")
    fc = forecast_emissions(model, paths, panel, regions=fitted, draws=forecast_draws, random_seed=seed + 1)
    co2 = fc.ds["co2"].transpose("sample", "region", "year").values  # (sample, region, year)
    years = fc.ds["year"].values.astype(int)
    peak = _peak_draws(co2, years, window)  # (sample, region)

    obs = observed.pivot_table(index="year", columns="region", values="co2")
    last_year = int(observed["year"].max())
    events, levels, peaks = [], [], []
    for j, region in enumerate(fitted):
        if region not in obs.columns:
            continue
        series = obs[region].dropna()
        series = series[series.index >= start]
        group = region_group(region)
        for h in horizons:
            outcome, status, rule_peak = event_outcome(series, cutoff, h, window=window,
                                                       min_years_before_end=min_years_before_end, min_drop=min_drop)
            p = float(np.mean((peak[:, j] > cutoff) & (peak[:, j] <= cutoff + h)))
            events.append({"cutoff": cutoff, "horizon": h, "region": region, "group": group, "p": p,
                           "outcome": outcome, "status": status, "observed_peak": rule_peak})
        for lead in horizons:
            year = cutoff + lead
            if year > last_year or year not in series.index or year not in years:
                continue
            y = float(series.loc[year])
            x = co2[:, j, int(np.searchsorted(years, year))]
            q = np.quantile(x, [0.05, 0.25, 0.5, 0.75, 0.95])
            crps = float(crps_ensemble(x, y))
            crps_log = float(crps_ensemble(np.log(np.maximum(x, 1e-9)), np.log(y))) if y > 0 else np.nan
            levels.append({"cutoff": cutoff, "lead": lead, "year": year, "region": region, "group": group,
                           "observed": y, "q05": q[0], "q25": q[1], "median": q[2], "q75": q[3], "q95": q[4],
                           "in_50": bool(interval_coverage(x, y, 0.5)), "in_90": bool(interval_coverage(x, y, 0.9)),
                           "crps": crps, "crps_relative": crps / y if y > 0 else np.nan, "crps_log": crps_log})
        rule_peak = observed_peak(series, window=window, min_years_before_end=min_years_before_end, min_drop=min_drop)
        if rule_peak is not None and rule_peak > cutoff:
            d = peak[:, j]
            q = np.quantile(d, [0.05, 0.25, 0.5, 0.75, 0.95], method="lower")
            peaks.append({"cutoff": cutoff, "region": region, "group": group, "observed_peak": rule_peak,
                          "median": int(q[2]), "q05": int(q[0]), "q25": int(q[1]), "q75": int(q[3]), "q95": int(q[4]),
                          "in_50": bool(q[1] <= rule_peak <= q[3]), "in_90": bool(q[0] <= rule_peak <= q[4]),
                          "abs_error": abs(int(q[2]) - rule_peak),
                          "p_censored": float(np.mean(d >= horizon - window // 2))})
    diag = model.diagnostics
    return {"events": events, "levels": levels, "peaks": peaks,
            "info": {"cutoff": cutoff, "model": model_name, "scenario": spec.scenario.type,
                     "regions_fitted": len(fitted), "fit_seconds": round(fit_seconds, 1),
                     "forecast_horizon": horizon, "max_r_hat": float(getattr(diag, "max_r_hat", np.nan)),
                     "sampler_warnings": list(getattr(diag, "warnings", []))}}


def run_backtest(study, cutoffs: Iterable[int] = DEFAULT_CUTOFFS, *, data_dir=None, draws: int = 300,
                 tune: int = 400, forecast_draws: int = 500, seed: int = 1, regions: list[str] | None = None,
                 window: int = 5, min_years_before_end: int = 10, min_drop: float = 0.15, bins: int = 10,
                 progress: bool | None = False, say: Callable[[str], None] | None = None,
                 model: str | None = None, scenario: str | None = None, driver_cache: dict | None = None) -> BacktestResult:
    """Refit ``study`` at each cutoff, forecast all fitted regions and score them (see module docstring).

    ``regions`` restricts the fit to these regions (default: the study's own selection). ``model`` /
    ``scenario`` replace the study's emission model and scenario type (see :func:`backtest_cutoff`);
    ``driver_cache`` shares fitted driver models between calls (see :func:`compare_models`).
    """
    if model is not None:
        from forecast.run.study import emission_model_name

        emission_model_name(model)
    if scenario is not None and scenario not in SCENARIO_TYPES:
        raise InputError(f"the backtest scenario must be one of {', '.join(SCENARIO_TYPES)}, got {scenario!r}")
    from forecast.data import load_panel

    say = say or (lambda stage: log.info(stage))
    cutoffs = sorted({int(c) for c in cutoffs})
    if not cutoffs:
        raise InputError("give at least one cutoff year")
    start = int(study.data.years[0]) if study.data.years else None
    if study.data.source != "owid":
        raise InputError("the backtest scores against the OWID panel: it needs a study with [data] source = 'owid'")
    observed = load_panel("owid", data_dir=data_dir, years=(start, None), require_complete=False)
    observed = observed.loc[observed["co2"].notna(), ["region", "year", "co2"]]
    last_year = int(observed["year"].max())
    late = [c for c in cutoffs if c + min(HORIZONS) > last_year]
    if late:
        raise InputError(f"cutoff(s) {late} leave fewer than {min(HORIZONS)} observed years (data end in {last_year})")
    events, levels, peaks, info = [], [], [], []
    for i, cutoff in enumerate(cutoffs):
        out = backtest_cutoff(study, cutoff, observed, data_dir=data_dir, draws=draws, tune=tune,
                              forecast_draws=forecast_draws, seed=seed + 10 * i, regions=regions, window=window,
                              min_years_before_end=min_years_before_end, min_drop=min_drop, progress=progress, say=say,
                              model=model, scenario=scenario, driver_cache=driver_cache)
        events += out["events"]
        levels += out["levels"]
        peaks += out["peaks"]
        info.append(out["info"])
    ev = pd.DataFrame(events, columns=["cutoff", "horizon", "region", "group", "p", "outcome", "status", "observed_peak"])
    ev["observed_peak"] = ev["observed_peak"].astype("Int64")
    lv = pd.DataFrame(levels, columns=["cutoff", "lead", "year", "region", "group", "observed", "q05", "q25", "median",
                                       "q75", "q95", "in_50", "in_90", "crps", "crps_relative", "crps_log"])
    pk = pd.DataFrame(peaks, columns=["cutoff", "region", "group", "observed_peak", "median", "q05", "q25", "q75", "q95",
                                      "in_50", "in_90", "abs_error", "p_censored"])
    decided = ev[ev["outcome"].notna()]
    rel = []
    for h, cell in decided.groupby("horizon"):
        for label, sub in (("all", cell), ("other", cell[cell["group"] == "other"])):
            t = reliability_table(sub["p"], sub["outcome"], bins=bins)
            t.insert(0, "group", label)
            t.insert(0, "horizon", h)
            rel.append(t)
    reliability = pd.concat(rel, ignore_index=True) if rel else pd.DataFrame()
    return BacktestResult(
        events=ev, levels=lv, peaks=pk, event_scores=score_events(ev), level_scores=score_levels(lv) if len(lv) else pd.DataFrame(),
        reliability=reliability,
        settings={"study": study.study.name, "model": model or study.model.type,
                  "scenario": scenario or (study.scenario.type if study.scenario.type in SCENARIO_TYPES else "history"),
                  "cutoffs": cutoffs, "draws": draws, "tune": tune,
                  "forecast_draws": forecast_draws, "seed": seed, "window": window,
                  "min_years_before_end": min_years_before_end, "min_drop": min_drop, "last_data_year": last_year,
                  "fits": info},
    )


# ---------------------------------------------------------------------------------------- outputs
def _reading(result: BacktestResult) -> list[str]:
    """Plain-language reading of the scores (generated from the numbers, not canned)."""
    lines = []
    es = result.event_scores[(result.event_scores["group"] == "all") & (result.event_scores["cutoff"] == "pooled")]
    for _, r in es.iterrows():
        bias = r["mean_p"] - r["base_rate"]
        word = "over-forecast" if bias > 0.05 else "under-forecast" if bias < -0.05 else "roughly matched"
        skill = r["brier_skill"]
        verdict = ("no skill over always quoting the base rate" if not np.isfinite(skill) or skill <= 0
                   else "some skill over the base rate")
        lines.append(f"- Peak within {int(r['horizon'])} years (pooled, n = {int(r['n'])}): mean forecast probability "
                     f"{r['mean_p']:.2f} vs observed frequency {r['base_rate']:.2f} — peaks were {word}; "
                     f"Brier {r['brier']:.3f}, " + (f"skill {skill:+.2f} ({verdict}); " if np.isfinite(skill) else
                     "skill undefined (only one outcome class); ") +
                     (f"AUC {r['auc']:.2f} ({'ranks regions well' if r['auc'] >= 0.75 else 'ranks regions only moderately' if r['auc'] >= 0.6 else 'hardly ranks regions'})."
                      if np.isfinite(r['auc']) else "AUC undefined."))
    if len(result.levels):
        for lead, cell in result.levels.groupby("lead"):
            c50, c90 = cell["in_50"].mean(), cell["in_90"].mean()
            note = []
            if c90 < 0.85:
                note.append("the 90 % bands are too narrow")
            elif c90 > 0.97:
                note.append("the 90 % bands are too wide")
            if c50 < 0.4:
                note.append("the 50 % bands are too narrow")
            elif c50 > 0.6:
                note.append("the 50 % bands are too wide")
            below = float((cell["observed"] < cell["median"]).mean())
            lines.append(f"- Emissions {lead} years ahead (n = {len(cell)}): 50 % band covers {c50:.0%}, 90 % band "
                         f"{c90:.0%} ({'; '.join(note) or 'close to nominal'}); {below:.0%} of outcomes fell below the "
                         f"forecast median; CRPS median {cell['crps_relative'].median():.1%} of the observed level (mean "
                         f"{cell['crps_relative'].mean():.3g}x), mean CRPS of log emissions {cell['crps_log'].mean():.3f}.")
            worst = cell.loc[cell["crps_relative"].idxmax()] if cell["crps_relative"].notna().any() else None
            if worst is not None:
                lines.append(f"  - Worst miss: {worst['region']} (cutoff {worst['cutoff']}), observed {worst['observed']:.1f} Mt "
                             f"vs forecast 90 % band {worst['q05']:.1f}-{worst['q95']:.1f} Mt (CRPS "
                             f"{worst['crps_relative']:.3g} times the observed level)."
                             + (" A few extreme trajectories dominate the mean CRPS in Mt; read the median and the "
                                "log-scale CRPS instead." if cell["crps_relative"].mean() > 2 * cell["crps_relative"].median()
                                else ""))
    if len(result.peaks):
        pk = result.peaks
        lines.append(f"- Peak year for the {len(pk)} region-cutoffs that peaked after the cutoff: 90 % interval covers "
                     f"{pk['in_90'].mean():.0%}, 50 % interval {pk['in_50'].mean():.0%}, median absolute error "
                     f"{pk['abs_error'].median():.0f} years (the observed peak years are necessarily early ones: a peak "
                     "must be 10 years old to count, which favours forecasts of imminent peaks).")
    eb = result.event_scores[(result.event_scores["group"] == "eastern_bloc") & (result.event_scores["cutoff"] == "pooled")]
    if len(eb):
        lines.append("- The Eastern-bloc group is scored apart: its 1990s collapse is a regime change that the "
                     "EKC's history-based drift partly absorbs; compare its rows with the others above.")
    lines.append("- Caveats: few events per cutoff (each Brier/AUC rests on a handful of positives); cutoffs share most "
                 "of their history, so pooled scores are not independent; outcomes are as of the last data year.")
    return lines


def backtest_markdown(result: BacktestResult) -> str:
    s = result.settings
    parts = [f"# Backtest of study '{s.get('study')}'\n",
             f"Cutoffs {', '.join(map(str, s.get('cutoffs', [])))}; data to {s.get('last_data_year')}; sampler "
             f"{s.get('draws')} draws / {s.get('tune')} tune per chain; {s.get('forecast_draws')} forecast draws; seed {s.get('seed')}.\n",
             "## Observed peak rule\n",
             f"A region has peaked in year P when P is the year of the maximum {s.get('window')}-year centred mean of its "
             f"emissions, P is at least {s.get('min_years_before_end')} years before the last data year, and the last "
             f"observed value is at least {s.get('min_drop', 0):.0%} below that maximum. The event 'peak within h years' of a "
             "cutoff c is P in (c, c+h]. Without a rule peak, the event is a 'no' when a centred mean outside (c, c+h] "
             "exceeds every one inside it (the maximum can then never lie in the window); otherwise it is undecidable "
             "and the region is left out of that event's scores. Forecast probabilities apply the same centred mean "
             "to each trajectory, run 10 years beyond the window, and count trajectories whose maximum lies in (c, c+h].\n",
             "## Reading\n", "\n".join(_reading(result)) + "\n",
             "## Summary\n", frame_table(result.summary().reset_index()),
             "## Event scores (peak within h years)\n", frame_table(result.event_scores),
             "## Outcome status counts\n",
             frame_table(result.events.groupby(["cutoff", "horizon", "status"]).size().rename("regions").reset_index()),
             "## Emission levels: interval coverage and CRPS (Mt CO2/yr)\n", frame_table(result.level_scores),
             "## Peak year of regions that peaked after the cutoff\n", frame_table(result.peaks),
             "## Reliability\n", frame_table(result.reliability[result.reliability["count"] > 0] if len(result.reliability) else result.reliability),
             "![reliability diagram](reliability.png)\n",
             "## Fits\n", frame_table(pd.DataFrame(s.get("fits", [])).drop(columns=["sampler_warnings"], errors="ignore"))]
    return "\n".join(parts)


def plot_reliability(result: BacktestResult):
    """Reliability diagram (one panel per horizon, all regions vs without the Eastern bloc)."""
    from matplotlib.figure import Figure

    rel = result.reliability
    horizons = sorted(rel["horizon"].unique()) if len(rel) else []
    fig = Figure(figsize=(4.5 * max(len(horizons), 1), 4.5), layout="constrained")
    axes = fig.subplots(1, max(len(horizons), 1), squeeze=False)[0]
    for ax, h in zip(axes, horizons):
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect")
        for label, style in (("all", "o-"), ("other", "s--")):
            t = rel[(rel["horizon"] == h) & (rel["group"] == label) & (rel["count"] > 0)]
            ax.plot(t["mean_p"], t["observed_freq"], style, label=f"{label} regions" if label == "all" else "without Eastern bloc")
            if label == "all":
                for _, r in t.iterrows():
                    ax.annotate(str(int(r["count"])), (r["mean_p"], r["observed_freq"]), fontsize=7,
                                xytext=(3, 3), textcoords="offset points")
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="forecast probability", ylabel="observed frequency",
               title=f"peak within {h} years of the cutoff")
        ax.legend(fontsize=8, loc="upper left")
    return fig


def write_backtest(result: BacktestResult, out_dir: str | Path) -> Path:
    """Write ``backtest.md``, ``events.csv``, ``levels.csv``, ``peaks.csv``, ``scores.csv`` and
    ``reliability.png`` into ``out_dir`` atomically (all or nothing)."""
    from forecast.io.atomic import atomic_output_dir

    out_dir = Path(out_dir)
    with atomic_output_dir(out_dir) as tmp:
        result.events.to_csv(tmp / "events.csv", index=False)
        result.levels.to_csv(tmp / "levels.csv", index=False)
        result.peaks.to_csv(tmp / "peaks.csv", index=False)
        result.event_scores.to_csv(tmp / "scores.csv", index=False)
        (tmp / "backtest.md").write_text(backtest_markdown(result), encoding="utf-8")
        plot_reliability(result).savefig(tmp / "reliability.png", dpi=120)
    return out_dir


# ---------------------------------------------------------------------------------------- model comparison
#: pooled scores in the comparison table: (column of BacktestResult.summary(), label, better)
COMPARISON_METRICS = (
    ("brier_5y", "Brier, peak within 5 y", "lower"), ("skill_5y", "Brier skill, 5 y", "higher"),
    ("auc_5y", "AUC, 5 y", "higher"), ("brier_10y", "Brier, peak within 10 y", "lower"),
    ("skill_10y", "Brier skill, 10 y", "higher"), ("auc_10y", "AUC, 10 y", "higher"),
    ("cov50_5y", "50% band coverage, 5 y", "nominal 0.5"), ("cov90_5y", "90% band coverage, 5 y", "nominal 0.9"),
    ("cov50_10y", "50% band coverage, 10 y", "nominal 0.5"), ("cov90_10y", "90% band coverage, 10 y", "nominal 0.9"),
    ("crps_rel_median_5y", "median CRPS / observed, 5 y", "lower"),
    ("crps_rel_median_10y", "median CRPS / observed, 10 y", "lower"),
    ("crps_log_5y", "mean CRPS of log emissions, 5 y", "lower"),
    ("crps_log_10y", "mean CRPS of log emissions, 10 y", "lower"),
    ("peak_cov90", "peak-year 90% interval coverage", "nominal 0.9"), ("peak_mae", "peak-year abs. error (years)", "lower"),
)


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


def comparison_table(results: dict[str, BacktestResult]) -> pd.DataFrame:
    """Pooled scores side by side: one row per metric, one column per variant, plus which is better."""
    rows = []
    summaries = {name: r.summary() for name, r in results.items()}
    for column, label, better in COMPARISON_METRICS:
        row = {"metric": label, "better": better}
        for name, summary in summaries.items():
            row[name] = float(summary.loc["pooled", column]) if "pooled" in summary.index and column in summary else np.nan
        values = {n: row[n] for n in summaries if np.isfinite(row[n])}
        if len(values) > 1:
            if better == "lower":
                row["best"] = min(values, key=values.get)
            elif better == "higher":
                row["best"] = max(values, key=values.get)
            else:
                target = float(better.split()[-1])
                row["best"] = min(values, key=lambda n: abs(values[n] - target))
        rows.append(row)
    return pd.DataFrame(rows)


def comparison_markdown(results: dict[str, BacktestResult], table: pd.DataFrame) -> str:
    first = next(iter(results.values())).settings
    wins = table["best"].value_counts() if "best" in table else pd.Series(dtype=int)
    tally = ", ".join(f"{name}: best on {int(wins.get(name, 0))} of {table['best'].notna().sum()} metrics" for name in results)
    return "\n".join([
        f"# Emission-model comparison on the backtest of study '{first.get('study')}'\n",
        f"Cutoffs {', '.join(map(str, first.get('cutoffs', [])))}; same data, regions, seeds and scoring for every "
        f"variant (emission model / scenario). Pooled over cutoffs; per-variant detail in the sub-folders.\n",
        frame_table(table), f"\n{tally}.\n"])


def write_comparison(results: dict[str, BacktestResult], out_dir: str | Path) -> Path:
    """``comparison.md`` / ``comparison.csv`` plus one backtest folder per variant, atomically."""
    from forecast.io.atomic import atomic_output_dir

    table = comparison_table(results)
    out_dir = Path(out_dir)
    with atomic_output_dir(out_dir) as tmp:
        table.to_csv(tmp / "comparison.csv", index=False)
        (tmp / "comparison.md").write_text(comparison_markdown(results, table), encoding="utf-8")
        for name, result in results.items():
            write_backtest(result, tmp / name.replace("/", "-"))
    return out_dir
