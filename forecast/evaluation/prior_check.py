"""Prior predictive checks: what the priors alone imply for the data a model was fitted to.

Works for every model through the shared contract (:meth:`forecast.models.base.BayesianModel.
prior_predictive_of_fit`): data are simulated from the priors on the fitted design, and summary
statistics of each observed variable (mean, sd, min, max over all its cells) are set against the observed
ones. A prior that cannot produce data like the observed (observed statistic in the far tail,
``p_prior_above`` near 0 or 1) is informative in a way the data contradict; one whose 90 % range is
orders of magnitude wider than the data is merely vague. ``coverage_90`` is the share of observed cells
inside their pointwise 90 % prior predictive interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

STATISTICS = {"mean": np.mean, "sd": np.std, "min": np.min, "max": np.max}


def _draw_matrix(da) -> np.ndarray:
    """Prior predictive draws of one variable as (draw, cell)."""
    dims = [d for d in da.dims if d not in ("chain", "draw")]
    return np.asarray(da.stack(sample=("chain", "draw")).transpose("sample", *dims).values).reshape(
        da.sizes["chain"] * da.sizes["draw"], -1)


def prior_check_table(model, arrays=None, *, draws: int = 500, random_seed: int | None = 0) -> pd.DataFrame:
    """One row per (observed variable, statistic): the observed value, the prior predictive 5/50/95 %
    quantiles of the statistic, ``p_prior_above`` = P(statistic of prior-simulated data >= observed) and
    the pointwise ``coverage_90`` of the variable. Units are those of the observed variable.

    ``arrays``: prepared data (``model.prepare(...)``); default: the data of the model's fit."""
    import logging

    import pymc as pm

    log = logging.getLogger("pymc")
    level = log.level
    log.setLevel(logging.WARNING)  # not the "Sampling: [...]" line of every call
    try:
        if arrays is None:
            idata = model.prior_predictive_of_fit(draws=draws, random_seed=random_seed)
        else:
            with model.build_prior_model(arrays):
                idata = pm.sample_prior_predictive(draws=draws, random_seed=random_seed)
    finally:
        log.setLevel(level)
    rows = []
    for name in idata.observed_data.data_vars:
        if name not in idata.prior_predictive:
            continue
        observed = np.asarray(idata.observed_data[name].values, dtype=float).ravel()
        simulated = _draw_matrix(idata.prior_predictive[name])
        keep = np.isfinite(observed)
        observed, simulated = observed[keep], simulated[:, keep]
        lo, hi = np.nanquantile(simulated, [0.05, 0.95], axis=0)
        coverage = float(np.mean((observed >= lo) & (observed <= hi)))
        for label, stat in STATISTICS.items():
            obs = float(stat(observed))
            rep = stat(simulated, axis=1)
            q = np.nanquantile(rep, [0.05, 0.5, 0.95])
            rows.append({"variable": str(name), "statistic": label, "observed": obs, "prior_q05": q[0],
                         "prior_q50": q[1], "prior_q95": q[2], "p_prior_above": float(np.mean(rep >= obs)),
                         "coverage_90": coverage})
    table = pd.DataFrame(rows)
    table.attrs = {"title": f"Prior predictive check: {model.name}",
                   "description": ("What the priors alone imply for the fitted data (prior predictive draws on the "
                                   "same design): the observed statistic against the 90% range of the same statistic "
                                   "in data simulated from the priors. p_prior_above near 0 or 1 means the priors "
                                   "hardly produce data like the observed; coverage_90 is the share of observed "
                                   "values inside their pointwise 90% prior range."),
                   "draws": draws, "random_seed": random_seed}
    return table
