"""The static EKC regressions the literature publishes, fitted on the same panel as the Bayesian EKC.

The static form
---------------
    ln(CO2/cap)_it = a [+ a_i] [+ τ_t] + b ln(GDP/cap)_it + c (ln GDP/cap)_it^2 + e_it

(``CO2/cap`` in t CO2 per person per yr, ``GDP/cap`` in the panel's currency, international-$ 2011 per
person for the OWID and China-provinces panels). The turning point is ``exp(-b / (2c))`` in that currency,
an inverted U when ``c < 0``. Estimators (all with statsmodels):

* ``pooled OLS``: one intercept; uses between- and within-region variation alike.
* ``region FE``: region intercepts ``a_i`` (within estimator).
* ``two-way FE``: region and year intercepts (``τ_t`` absorbs shocks common to all regions in a year).
* ``MixedLM``: random region intercepts (optionally random income slopes), REML.

OLS-based standard errors are cluster-robust by region (errors of a region are correlated over time: on
the OWID panel they are close to a random walk), with t critical values on G - 1 degrees of freedom.

How it maps onto the Bayesian EKC (:mod:`forecast.models.ekc`)
--------------------------------------------------------------
The Bayesian model is the same curve in growth form, ``Δy = d_i + δ x_prev + b_i Δx + c Δ(x^2) + u``, with
``x`` centred on ``x_center``. Its ``curvature`` ``c`` is the static ``c``; its ``slope`` at the centre maps
to the static ``b`` by ``b = slope - 2 c x_center``. Where they differ: the drift ``d_i`` is a region
trend and ``δ x_prev`` an income-dependent trend that the static form does not have (there, a decline of
rich regions over time can only load on ``c``); and the growth form uses changes within regions only, so
the levels differences between regions that drive pooled OLS do not enter it. The static turning point is
therefore comparable with the Bayesian *curve-only* turning point ``exp(x_center - slope / (2c))``, not with
the model's own turning point on a steady-growth path (which includes the drifts).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from forecast.errors import InputError
from forecast.models.base import checked_columns

REQUIRED = ("region", "year", "gdp_per_capita", "co2_per_capita")
ESTIMATORS = ("pooled OLS", "region FE", "two-way FE", "MixedLM")
B_NAME = "b: ln GDP/cap"
C_NAME = "c: (ln GDP/cap)^2"
TP_NAME = "turning point exp(-b/2c)"
COLUMNS = ["estimator", "coefficient", "estimate", "std_error", "ci_low", "ci_high", "p_inverted_u",
           "inverted_u", "n_obs", "n_regions", "form"]


def static_frame(panel: pd.DataFrame, *, min_years: int = 2) -> tuple[pd.DataFrame, float]:
    """Checked panel with ``y`` = ln(t CO2/person), ``x`` = ln(GDP/person) minus its mean, ``x2`` = x^2;
    returns it and the centre (mean ln GDP/person). Raises :class:`InputError` on bad input."""
    frame = checked_columns(panel, REQUIRED, positive=("gdp_per_capita", "co2_per_capita"), min_years=min_years)
    if frame["region"].nunique() < 3:
        raise InputError("classic EKC: need at least 3 regions for region-clustered standard errors")
    log_gdp = np.log(frame["gdp_per_capita"].to_numpy(dtype=float))
    center = float(log_gdp.mean())
    # centred x keeps x and x^2 from being nearly collinear; coefficients are mapped back to ln GDP below
    frame = frame.assign(y=np.log(frame["co2_per_capita"].to_numpy(dtype=float)), x=log_gdp - center)
    frame["x2"] = frame["x"] ** 2
    frame["region"] = frame["region"].astype(str)
    return frame.reset_index(drop=True), center


def uncentred(params: pd.Series, cov: pd.DataFrame, center: float) -> tuple[np.ndarray, np.ndarray]:
    """(b, c) of ln GDP and its covariance from the centred fit: ``b = b_x - 2 c x_center``."""
    jac = np.array([[1.0, -2.0 * center], [0.0, 1.0]])
    est = jac @ params[["x", "x2"]].to_numpy()
    return est, jac @ cov.loc[["x", "x2"], ["x", "x2"]].to_numpy() @ jac.T


def turning_point(b: float, c: float, cov: np.ndarray) -> tuple[float, float]:
    """``ln`` of the turning point, ``-b / (2c)``, and its delta-method standard error (ln units)."""
    grad = np.array([-1.0 / (2 * c), b / (2 * c**2)])
    return -b / (2 * c), float(np.sqrt(grad @ cov @ grad))


def _ols(frame: pd.DataFrame, formula: str):
    groups = pd.Categorical(frame["region"]).codes
    return smf.ols(formula, frame).fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)


def _mixed(frame: pd.DataFrame, random_slopes: bool):
    model = smf.mixedlm("y ~ x + x2", frame, groups=frame["region"], re_formula="~x" if random_slopes else "1")
    with warnings.catch_warnings():
        # a random-slope variance at its boundary (0) warns; whether the fit converged is kept instead
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = model.fit(reml=True, method=["lbfgs", "powell"])
    names = ["Intercept", "x", "x2"]
    if not result.converged:
        raise InputError("classic EKC: MixedLM did not converge on this panel; drop it from estimators")
    return result.fe_params, result.cov_params().loc[names, names], np.inf


def fit_estimator(frame: pd.DataFrame, estimator: str, *, random_slopes: bool = False):
    """(params, covariance, degrees of freedom for t intervals) of one estimator on the centred frame."""
    formulas = {"pooled OLS": "y ~ x + x2", "region FE": "y ~ x + x2 + C(region)",
                "two-way FE": "y ~ x + x2 + C(region) + C(year)"}
    if estimator == "MixedLM":
        return _mixed(frame, random_slopes)
    if estimator not in formulas:
        raise InputError(f"classic EKC: unknown estimator {estimator!r}; choose from {', '.join(ESTIMATORS)}")
    res = _ols(frame, formulas[estimator])
    return res.params, res.cov_params(), float(frame["region"].nunique() - 1)


def _rows(estimator: str, est, cov, df: float, level: float, n_obs: int, n_regions: int) -> list[dict]:
    """Tidy rows for b, c and the turning point (in the panel's currency) of one estimator."""
    crit = stats.t.ppf(0.5 + level / 2, df) if np.isfinite(df) else stats.norm.ppf(0.5 + level / 2)
    (b, c), se = est, np.sqrt(np.diag(cov))
    upper_c = c + crit * se[1]
    inverted = bool(c < 0 and upper_c < 0)  # negative and significant at the table's level
    common = {"estimator": estimator, "p_inverted_u": np.nan, "inverted_u": inverted, "n_obs": n_obs,
              "n_regions": n_regions, "form": "static levels"}
    rows = [{**common, "coefficient": name, "estimate": v, "std_error": s, "ci_low": v - crit * s, "ci_high": v + crit * s}
            for name, v, s in ((B_NAME, b, se[0]), (C_NAME, c, se[1]))]
    log_tp, log_se = turning_point(b, c, cov) if inverted else (np.nan, np.nan)
    # the interval is symmetric on the log scale (delta method there), so it stays positive
    rows.append({**common, "coefficient": TP_NAME, "estimate": np.exp(log_tp), "std_error": np.exp(log_tp) * log_se,
                 "ci_low": np.exp(log_tp - crit * log_se), "ci_high": np.exp(log_tp + crit * log_se)})
    return rows


def classic_ekc_table(panel: pd.DataFrame, *, estimators=ESTIMATORS, level: float = 0.90,
                      random_slopes: bool = False, min_years: int = 2) -> pd.DataFrame:
    """The static EKC by each estimator on ``panel`` (columns ``region, year, gdp_per_capita,
    co2_per_capita``; t CO2 and currency per person).

    Returns one row per estimator and quantity (``coefficient``: b, c, turning point): ``estimate``,
    ``std_error``, ``ci_low``/``ci_high`` (``level`` interval; the turning point's from the delta method on
    the log scale, in the panel's currency per person, NaN unless an inverted U), ``inverted_u`` (c < 0 and
    its interval below 0), ``n_obs``, ``n_regions``, ``form``. ``attrs``: ``x_center``, ``level``.
    """
    if not 0 < level < 1:
        raise InputError(f"classic EKC: level must lie in (0, 1), got {level!r}")
    frame, center = static_frame(panel, min_years=min_years)
    n_obs, n_regions = len(frame), int(frame["region"].nunique())
    rows = []
    for estimator in estimators:
        params, cov, df = fit_estimator(frame, estimator, random_slopes=random_slopes)
        est, cov_b = uncentred(params, cov, center)
        label = f"{estimator} (random slopes)" if estimator == "MixedLM" and random_slopes else estimator
        rows += _rows(label, est, cov_b, df, level, n_obs, n_regions)
    table = pd.DataFrame(rows, columns=COLUMNS)
    table.attrs.update({"x_center": center, "level": level})
    return table


# ---------------------------------------------------------------------------------- Bayesian side
def _draws_row(estimator: str, name: str, draws: np.ndarray, level: float, *, sd: bool = True, **extra) -> dict:
    """Posterior median, sd (NaN unless ``sd``: a turning point's draws are heavy-tailed where c is near 0)
    and central ``level`` interval of ``draws`` as a table row."""
    draws = np.asarray(draws, dtype=float).ravel()
    finite = draws[np.isfinite(draws)]
    lo, hi = (np.quantile(finite, [0.5 - level / 2, 0.5 + level / 2]) if len(finite) else (np.nan, np.nan))
    return {"estimator": estimator, "coefficient": name, "estimate": np.median(finite) if len(finite) else np.nan,
            "std_error": finite.std() if len(finite) and sd else np.nan, "ci_low": lo, "ci_high": hi,
            "form": "growth (first differences)", **extra}


def bayesian_ekc_rows(model, *, level: float = 0.90) -> pd.DataFrame:
    """The fitted Bayesian EKC's quantities comparable with :func:`classic_ekc_table`, population level.

    ``b`` = ``slope_mu - 2 c x_center`` (the income slope mapped from centred to uncentred ln GDP), ``c`` =
    the (mean) curvature, the curve-only turning point ``exp(x_center - slope_mu / (2c))`` (drifts left out:
    the static model has none), and the model's own P(inverted U) on its steady-growth path, which does
    include the drifts (median over regions). ``p_inverted_u`` is P(c < 0) for b, c and the curve-only
    turning point."""
    post = model._require_fit().posterior
    center = model.x_center
    c = (post["curvature_mu"] if model.varying_curvature else post["curvature"]).values.ravel()
    slope = post["slope_mu"].values.ravel()
    b = slope - 2 * c * center
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        tp = np.where(c < 0, np.exp(np.clip(center - slope / (2 * c), -50, 50)), np.nan)
    label = f"Bayesian EKC ({'region' if model.varying_curvature else 'shared'} curvature)"
    base = {"n_obs": len(model.arrays_.dy) if getattr(model, "arrays_", None) is not None else np.nan,
            "n_regions": len(model.regions), "p_inverted_u": float((c < 0).mean()), "inverted_u": bool((c < 0).mean() >= 0.95)}
    rows = [_draws_row(label, B_NAME, b, level, **base), _draws_row(label, C_NAME, c, level, **base),
            _draws_row(label, TP_NAME + " (curve only)", tp, level, sd=False, **base)]
    own = model.turning_points()
    p_own = float(own["inverted_u"].mean(("chain", "draw")).median())
    g = model.turning_point_growth
    rows.append(_draws_row(label, f"turning point on a {g:.0%}/yr path (with drifts; median region)",
                           own["turning_gdp_per_capita"].median("region", skipna=True).values, level, sd=False,
                           **{**base, "p_inverted_u": p_own, "inverted_u": p_own >= 0.95}))
    return pd.DataFrame(rows, columns=COLUMNS)


# ---------------------------------------------------------------------------------- published values
# Published EKC turning points (priors/reference.toml) and the factor that turns each into the data's
# currency (international-$ 2011 per person), with the evidence for the factor. None = the price basis is
# not known, so the value is shown in its own units and not converted.
LITERATURE = {
    "reference.peaked_cities_gdp_per_capita": (
        1.0, "Wang H. et al. 2019 (50 Chinese cities, 80% interval)",
        ("2011 PPP US$ = international-$ 2011, the data's currency: the paper states its turning point 'in 2011 "
         "purchasing power parity' (Wang H. et al. 2019, Nature Sustainability 2: 748-754, abstract)")),
    "reference.ekc_turning_point_industry": (
        None, "Li F., Feitelson E. & Li Y. 2020 (seed paper's ref. 40)",
        ("US$ with price year and PPP vs market rate not stated in the citing review (Zhao R. et al. 2022): not "
         "converted. If it is market-rate US$, the same income is worth more international-$ in China (China's "
         "price level is below the US level), so the comparable figure in the data's currency is higher")),
}


def literature_rows(library=None) -> pd.DataFrame:
    """The published turning points of :data:`LITERATURE` as table rows: ``ci_low``/``ci_high`` the published
    range in the data's currency where the conversion is known, else in the paper's own units (``form``
    says which)."""
    from forecast.priors import default_library

    refs = (library or default_library()).references()
    rows = []
    for name, (factor, label, _basis) in LITERATURE.items():
        ref = refs[name]
        low, high = (ref.low, ref.high) if ref.low is not None else (ref.value, ref.value)
        k = 1.0 if factor is None else factor
        rows.append({"estimator": f"published: {label}",
                     "coefficient": "turning point (published range)", "estimate": np.nan, "std_error": np.nan,
                     "ci_low": low * k, "ci_high": high * k, "p_inverted_u": np.nan, "inverted_u": True,
                     "n_obs": np.nan, "n_regions": np.nan,
                     "form": "published, 2011 PPP US$ (= data currency)" if factor is not None
                     else "published, US$ of unstated basis (not converted)"})
    return pd.DataFrame(rows, columns=COLUMNS)


def ekc_comparison_table(panel: pd.DataFrame, model=None, *, level: float = 0.90, random_slopes: bool = False,
                         min_years: int = 2, literature: bool = True) -> pd.DataFrame:
    """:func:`classic_ekc_table` on ``panel`` plus, when a fitted Bayesian EKC ``model`` is given, its
    comparable rows (:func:`bayesian_ekc_rows`), and the published turning points (:func:`literature_rows`),
    with a one-paragraph ``attrs["description"]`` made from the numbers. Turning points are in the panel's
    currency per person (international-$ 2011 for the OWID and China-provinces panels)."""
    table = classic_ekc_table(panel, level=level, random_slopes=random_slopes, min_years=min_years)
    attrs = dict(table.attrs)
    income = static_frame(panel, min_years=min_years)[0]["gdp_per_capita"]
    attrs["income_range"] = (float(income.min()), float(income.max()))
    parts = [table]
    if model is not None:
        parts.append(bayesian_ekc_rows(model, level=level))
    if literature:
        parts.append(literature_rows())
    table = pd.concat(parts, ignore_index=True)
    table.attrs.update(attrs)
    table.attrs["description"] = describe(table, model)
    return table


def _cell(table: pd.DataFrame, estimator: str, coefficient: str) -> pd.Series | None:
    hit = table[(table["estimator"] == estimator) & (table["coefficient"].str.startswith(coefficient))]
    return None if hit.empty else hit.iloc[0]


def _money(v: float) -> str:
    return "none" if not np.isfinite(v) else f"${v:,.0f}"


def _estimator_phrase(table: pd.DataFrame, est: str, top: float) -> str | None:
    """``c = .. (..), turning point $.. (.. to ..)`` for one estimator, flagging extrapolation."""
    c, tp = _cell(table, est, C_NAME), _cell(table, est, TP_NAME)
    if c is None:
        return None
    text = f"{est}: c = {c['estimate']:.3f} ({c['ci_low']:.3f} to {c['ci_high']:.3f})"
    if tp is None or not np.isfinite(tp["estimate"]):
        return text + ", no significant inverted U"
    text += f", turning point {_money(tp['estimate'])} ({_money(tp['ci_low'])} to {_money(tp['ci_high'])})"
    return text + (" — above the highest income in the panel" if tp["estimate"] > top else "")


def describe(table: pd.DataFrame, model=None) -> str:
    """One paragraph on where the estimators agree and differ, from the numbers in ``table``."""
    level = table.attrs.get("level", 0.9)
    low, top = table.attrs.get("income_range", (np.nan, np.inf))
    parts = [p for est in table["estimator"].unique() if (p := _estimator_phrase(table, est, top))]
    text = (f"The static EKC ln(CO2/cap) = a + b ln(GDP/cap) + c ln(GDP/cap)^2 as the literature fits it, on "
            f"the same panel ({int(table['n_obs'].iloc[0])} region-years, {int(table['n_regions'].iloc[0])} regions, "
            f"GDP per person {_money(low)} to {_money(top)}; {level:.0%} intervals, region-clustered for OLS; turning "
            "points in the panel's currency, international-$ 2011 per person for the OWID and China-provinces "
            "panels, the same units as 2011 PPP US$). " + "; ".join(parts) + ". ")
    for label, basis in ((f"published: {lab}", b) for _, lab, b in LITERATURE.values()):
        if label in set(table["estimator"]):
            text += f"{label[len('published: '):]}: {basis}. "
    text += ("Pooled OLS is driven by differences between regions (richer regions emit more per person at any "
             "time); the fixed-effects and mixed estimators compare each region with itself. ")
    if model is not None:
        text += _bayes_sentence(table, model)
    return text


def _bayes_sentence(table: pd.DataFrame, model) -> str:
    """How the growth-form Bayesian EKC maps onto the static rows, with its own numbers."""
    g = model.turning_point_growth
    label = table.loc[table["estimator"].str.startswith("Bayesian"), "estimator"].iloc[0]
    path = _cell(table, label, "turning point on")
    shared = ("shared by all regions, so its P(inverted U) is one number for the whole panel"
              if not model.varying_curvature else
              "partially pooled by region, so P(inverted U) is per region (the rows show the population mean)")
    text = (f"The Bayesian EKC is fitted in growth form: its curvature c is the static c and its slope maps to "
            f"b = slope - 2c x_center, but it also has a drift per region and, here, "
            f"{'an income-dependent drift' if model.drift_income else 'no income-dependent drift'} (trends the "
            "static form lacks, so there a decline of rich regions over time can only load on c), and it uses only "
            f"year-on-year changes. Its curvature is {shared}. Its curve-only turning point leaves the drifts out "
            "and is the one to set beside the static ones; ")
    if model.drift_income:
        d = model._require_fit().posterior["drift_income"]
        text += (f"its turning point on a steady {g:.0%}/yr growth path ({_money(path['estimate'])}, "
                 f"{_money(path['ci_low'])} to {_money(path['ci_high'])}, median region) adds the income-dependent "
                 f"drift ({float(d.mean()):+.3f}/yr per log unit of income) and depends on that growth rate: where "
                 "it is far below the curve-only one, the inverted U on that path comes from the drift, not from c.")
    else:
        text += f"its turning point on a steady {g:.0%}/yr growth path also includes the region drifts."
    return text
