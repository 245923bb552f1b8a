"""Stacking emission models by their leave-one-out predictive density (Yao et al. 2018).

The EKC and the Kaya model are fitted to the same year-on-year changes: the EKC to ``Δy`` (log per-capita
CO2), the Kaya model to ``Δy − Δx`` (log carbon intensity, ``Δx`` the observed change of log GDP per capita).
A shift by observed data has a unit Jacobian, so their pointwise log densities are densities of the same
observations and PSIS-LOO can compare and stack them. :func:`stacking_weights` returns ArviZ's
``compare`` table with the stacking weights; :func:`stack_forecasts` mixes the models' forecasts in those
proportions (a mixture of predictive distributions, so every event probability of the stack is the
weighted mean of the models' probabilities).

Caveat, said where the weights are shown: with AR(1) residuals each pointwise term is a one-year-ahead
conditional density, so LOO weighs short-term fit; the backtest (:mod:`forecast.evaluation.backtest`)
judges the decade-scale peak forecasts, and is what decides whether the stack is kept.

Reference: Yao Y., Vehtari A., Simpson D., Gelman A. 2018, Using stacking to average Bayesian predictive
distributions, Bayesian Analysis 13(3): 917-1007.
"""

from __future__ import annotations

from typing import Mapping

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from forecast.errors import InputError, ModelStateError


def pointwise_log_likelihood(model) -> xr.DataArray:
    """Log density of each observation under each posterior draw, ``(chain, draw, obs)``, of a model fitted
    in this session (its prepared arrays are needed to rebuild the likelihood)."""
    import pymc as pm

    idata = model._require_fit()
    if model.arrays_ is None:
        raise ModelStateError(f"the {model.name} model was loaded from a file: refit it to compute its "
                              "pointwise log-likelihood (the prepared data are not saved)")
    pm_model = model.build_model(model.arrays_)
    if len(pm_model.observed_RVs) != 1:
        raise InputError(f"the {model.name} model has {len(pm_model.observed_RVs)} observed variables; "
                         "stacking needs exactly one")
    name = pm_model.observed_RVs[0].name
    ll = pm.compute_log_likelihood(idata, model=pm_model, var_names=[name], extend_inferencedata=False,
                                   progressbar=False)
    return ll[name].rename("log_likelihood")


def _same_observations(models: Mapping[str, object]) -> None:
    """Refuse models fitted to different changes (another panel, window or region set)."""
    names = list(models)
    first = models[names[0]].arrays_
    for name in names[1:]:
        other = models[name].arrays_
        if (list(other.regions) != list(first.regions) or other.dy.shape != first.dy.shape
                or not np.array_equal(other.dy, first.dy) or not np.array_equal(other.region_idx, first.region_idx)):
            raise InputError(f"models {names[0]!r} and {name!r} were fitted to different data: stacking compares "
                             "predictive densities of the same observations")


def stacking_weights(models: Mapping[str, object], *, method: str = "stacking") -> pd.DataFrame:
    """ArviZ's ``compare`` table (elpd_loo, its standard error, Pareto-k warning, ``weight``) of fitted
    models of the same observations; ``method``: ``"stacking"`` (default), ``"BB-pseudo-BMA"`` or
    ``"pseudo-BMA"``."""
    if len(models) < 2:
        raise InputError("stacking needs at least two fitted models")
    _same_observations(models)
    data = {name: az.InferenceData(posterior=m.idata.posterior,
                                   log_likelihood=xr.Dataset({"y": pointwise_log_likelihood(m)}))
            for name, m in models.items()}
    return az.compare(data, ic="loo", method=method)


def allocate(weights: Mapping[str, float], draws: int) -> dict[str, int]:
    """Samples per model for a mixture of ``draws`` samples: the largest-remainder rounding of
    ``weights · draws`` (weights normalised; every count an integer, the counts sum to ``draws``)."""
    names = list(weights)
    w = np.clip(np.asarray([float(weights[n]) for n in names]), 0.0, None)
    if not np.isfinite(w).all() or w.sum() <= 0:
        raise InputError(f"stacking weights must be finite, non-negative and not all zero: {dict(weights)}")
    exact = w / w.sum() * int(draws)
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: int(draws) - counts.sum()]:
        counts[i] += 1
    return dict(zip(names, counts.tolist()))


def stack_forecasts(forecasts: Mapping[str, object], weights: Mapping[str, float]):
    """A :class:`~forecast.projection.propagate.Forecast` mixing ``forecasts`` (same regions and years) in the
    proportions ``weights``: each model contributes its first ``n_k`` samples (:func:`allocate` over the
    smallest model's sample count, so no sample is used twice). The coordinate ``component`` on ``sample``
    says which model each sample came from."""
    from forecast.projection.propagate import Forecast

    missing = sorted(set(weights) - set(forecasts))
    if missing:
        raise InputError(f"weights for models without a forecast: {', '.join(missing)}")
    draws = min(int(forecasts[n].ds.sizes["sample"]) for n in weights)
    counts = allocate(weights, draws)
    parts = []
    for name, n in counts.items():
        if n == 0:
            continue
        ds = forecasts[name].ds.isel(sample=slice(0, n))
        ds = ds.drop_vars([c for c in ("chain", "draw") if c in ds.coords])
        parts.append(ds.assign_coords(component=("sample", np.full(n, name, dtype=object))))
    ds = xr.concat(parts, dim="sample", join="exact", coords="minimal", compat="override")
    ds = ds.assign_coords(sample=np.arange(ds.sizes["sample"]))
    ds.attrs = {**forecasts[next(iter(counts))].ds.attrs,
                "stacking_weights": ", ".join(f"{k}: {float(weights[k]):.3f}" for k in counts)}
    return Forecast(ds)
