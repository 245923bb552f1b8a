"""Errors in historical emissions, split as an inventory's errors are: systematic and random.

An inventory is Σ activity × emission factor. A factor that is wrong is wrong in every year (the same
coal factor is applied to 1997 and to 2019), while activity statistics err afresh each year. IPCC 2006
Vol. 1 Ch. 3 (Sect. 3.2.3.1, Table 3.2, trend uncertainty) treats the two this way: emission-factor
uncertainty fully correlated between years, activity-data uncertainty uncorrelated. The emission models
therefore take the observed log emissions of region ``i`` in year ``t`` as

    log E_obs_it = log E_it + δ_i + e_it,      δ_i ~ Normal(b_i, s_i),   e_it ~ Normal(0, m_i)

with ``δ_i`` the persistent (systematic) offset, ``b_i`` its prior mean (0 with IPCC default factors;
``log(reported / true)`` when a fitted emission-factor posterior says the defaults are off) and ``s_i`` its
prior sd, and ``e_it`` the year-to-year (random) error. All in log units (``log1p`` of a relative sd).

In growth form the offset cancels: ``Δ log E_obs = Δ log E + e_it − e_i,t−1``. The random part adds
``2 m_i²`` to the variance of each change; the offset does not enter the likelihood, so its posterior is
its prior (what is known about it comes from the inventory and the factor measurements, not from the
emission series). It moves levels: true emissions are ``E_obs · exp(−δ_i)``, over history and forecast
alike, so a peak year does not move with ``δ`` but a peak level, a target-year level or a cap does. Had
the same error been taken as independent from year to year (``m_i² = s_i² + ...``), it would instead
absorb the observed year-to-year variation and make forecasts too narrow.
"""

from __future__ import annotations

import numpy as np
import pymc as pm

from forecast.errors import InputError

OFFSET = "inventory_offset"  # posterior variable of δ (region), log(observed / true)


def per_region(spec: float | dict[str, float], regions: list[str], label: str, *,
               relative: bool = True) -> np.ndarray:
    """``spec`` (one number or a mapping region -> number) as an array over ``regions``; a relative sd
    in [0, 1) becomes a log-scale sd (``log1p``), a log bias (``relative=False``) is kept as given.
    A region not in ``regions`` or a value out of range is an :class:`InputError` naming the setting."""
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - set(regions))
        if unknown:
            raise InputError(f"{label} names regions not in the panel: {', '.join(map(str, unknown))}")
        values = np.array([float(spec.get(r, 0.0)) for r in regions])
    else:
        values = np.full(len(regions), float(spec))
    if not relative:
        if not np.isfinite(values).all() or (np.abs(values) >= 1).any():
            raise InputError(f"{label} must be log offsets with |value| < 1 (a factor of e), got {spec!r}")
        return values
    if not np.isfinite(values).all() or (values < 0).any() or (values >= 1).any():
        raise InputError(f"{label} must be relative sds in [0, 1), got {spec!r}")
    return np.log1p(values)


def add_offset(bias: np.ndarray, sd: np.ndarray) -> None:
    """Inside a model context with a ``region`` coordinate: the persistent offset
    ``δ_i = b_i + s_i z_i`` (log units, non-centred: ``z`` is unit normal and never informed by the
    growth-form likelihood, so it samples as well as its prior does)."""
    z = pm.Normal(f"{OFFSET}_z", 0.0, 1.0, dims="region")
    pm.Deterministic(OFFSET, np.asarray(bias, float) + np.asarray(sd, float) * z, dims="region")
