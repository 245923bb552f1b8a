"""Proper scores for probability forecasts of events and for ensemble forecasts of quantities, and the
cluster bootstrap that puts intervals on them.

Events (``p`` in [0, 1], outcome 0/1): Brier score and its skill over climatology, logarithmic score,
AUC, reliability table. Quantities (an ensemble of draws against one observation): central-interval
coverage, CRPS, PIT. Pairs with a missing ``p`` or outcome are left out.

Backtest cutoffs share most of their history, so scores of one cutoff are not independent of the next;
:func:`cluster_bootstrap` resamples whole cutoffs (clusters), which keeps that dependence inside each
resample and gives honest intervals for pooled scores and for differences between models.
"""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from forecast.errors import InputError

#: probabilities are clipped to [LOG_EPS, 1 - LOG_EPS] in the log score: an ensemble of a few hundred
#: trajectories cannot resolve smaller probabilities, and one "impossible" event must not score infinity
LOG_EPS = 1e-3


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
    ``BS_ref = b (1 - b)``). 1 perfect, 0 no better than climatology, < 0 worse; NaN if ``BS_ref = 0``
    (only one outcome class: there is nothing to be skilful about)."""
    p, o = _pair(p, outcome)
    if not p.size:
        return float("nan")
    b = float(o.mean()) if base_rate is None else float(base_rate)
    ref = float(np.mean((b - o) ** 2))
    return float(1.0 - np.mean((p - o) ** 2) / ref) if ref > 0 else float("nan")


def log_score(p, outcome, eps: float = LOG_EPS) -> float:
    """Mean logarithmic score ``-mean_i log(p_i if o_i else 1 - p_i)`` in nats (0 perfect, ``log 2`` for
    p = 0.5 always; lower is better), with ``p`` clipped to ``[eps, 1 - eps]``."""
    p, o = _pair(p, outcome)
    if not p.size:
        return float("nan")
    p = np.clip(p, eps, 1.0 - eps)
    return float(-np.mean(np.where(o == 1, np.log(p), np.log1p(-p))))


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


def max_reliability_gap(p, outcome, bins: int = 10, min_count: int = 20) -> float:
    """Largest ``|observed_freq - mean_p|`` over the bins holding at least ``min_count`` forecasts."""
    t = reliability_table(p, outcome, bins)
    t = t[t["count"] >= min_count]
    return float((t["observed_freq"] - t["mean_p"]).abs().max()) if len(t) else float("nan")


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
    Vectorised over all other axes; returns the shape of ``observed``, in the units of the draws."""
    x = np.sort(np.moveaxis(np.asarray(draws, dtype=float), axis, -1), axis=-1)
    y = np.asarray(observed, dtype=float)
    n = x.shape[-1]
    if n == 0:
        raise InputError("crps_ensemble needs at least one draw")
    term1 = np.mean(np.abs(x - y[..., None]), axis=-1)
    weights = 2.0 * np.arange(1, n + 1) - n - 1
    term2 = 2.0 / n**2 * np.sum(weights * x, axis=-1)
    return term1 - 0.5 * term2


def pit(draws, observed, axis: int = -1) -> np.ndarray:
    """Probability integral transform of ``observed`` under the ensemble, mid-rank form for discrete
    values (peak years): ``P(X < y) + 1/2 P(X = y)``. Uniform on [0, 1] for a calibrated forecast."""
    x = np.moveaxis(np.asarray(draws, dtype=float), axis, -1)
    y = np.asarray(observed, dtype=float)[..., None]
    return np.mean(x < y, axis=-1) + 0.5 * np.mean(x == y, axis=-1)


# ---------------------------------------------------------------------------------------- bootstrap
def cluster_bootstrap(frame: pd.DataFrame, statistics: Mapping[str, Callable[[pd.DataFrame], float]], *,
                      cluster: str = "cutoff", n_boot: int = 1000, level: float = 0.9, seed: int = 0) -> pd.DataFrame:
    """Estimate and central ``level`` interval of each statistic, resampling whole clusters with replacement.

    ``statistics`` maps a name to a function of a frame (e.g. ``lambda f: auc(f.p, f.outcome)``). Returns
    one row per statistic: ``estimate`` (on ``frame``), ``low``, ``high`` (percentiles of the resampled
    statistic; NaN resamples, e.g. one outcome class only, are left out) and ``clusters``.
    """
    groups = [g for _, g in frame.groupby(cluster, sort=True)]
    rng = np.random.default_rng(seed)
    k = len(groups)
    samples = {name: np.full(n_boot, np.nan) for name in statistics}
    if k > 1:
        for b in range(n_boot):
            resample = pd.concat([groups[i] for i in rng.integers(0, k, size=k)], ignore_index=True)
            for name, stat in statistics.items():
                samples[name][b] = stat(resample)
    rows = []
    for name, stat in statistics.items():
        s = samples[name][np.isfinite(samples[name])]
        lo, hi = (np.quantile(s, [(1 - level) / 2, (1 + level) / 2]) if s.size else (np.nan, np.nan))
        rows.append({"statistic": name, "estimate": stat(frame), "low": float(lo), "high": float(hi), "clusters": k})
    return pd.DataFrame(rows)
