"""Stacking the EKC and Kaya models by PSIS-LOO (forecast/evaluation/stacking.py)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from forecast.errors import InputError
from forecast.evaluation.stacking import allocate, stack_forecasts, stacking_weights
from forecast.projection.propagate import Forecast

sys.path.insert(0, str(Path(__file__).parent))
from test_later_emissions import _kaya_panel  # noqa: E402


def test_allocate_rounds_by_largest_remainder_and_sums_to_the_draws():
    assert allocate({"a": 0.5, "b": 0.5}, 11) in ({"a": 6, "b": 5}, {"a": 5, "b": 6})
    got = allocate({"a": 0.123, "b": 0.456, "c": 0.421}, 1000)
    assert sum(got.values()) == 1000 and got == {"a": 123, "b": 456, "c": 421}
    assert allocate({"a": 1.0, "b": 0.0}, 7) == {"a": 7, "b": 0}
    with pytest.raises(InputError, match="not all zero"):
        allocate({"a": 0.0}, 5)


def _forecast(peak_offsets, seed):
    """A two-region forecast whose samples rise to a peak ``offset`` years after 2020 and fall."""
    years = np.arange(2000, 2061)
    rng = np.random.default_rng(seed)
    n = len(peak_offsets)
    peak = 2020 + np.asarray(peak_offsets)[:, None] + rng.integers(0, 2, (n, 2))
    co2 = 100.0 - np.abs(years[None, None, :] - peak[:, :, None])
    ds = xr.Dataset({"co2": (("sample", "region", "year"), co2)},
                    coords={"sample": np.arange(n), "region": ["A", "B"], "year": years,
                            "is_forecast": ("year", years > 2020),
                            "last_observed_year": ("region", [2020, 2020]),
                            "chain": ("sample", np.zeros(n, int)), "draw": ("sample", np.arange(n))})
    return Forecast(ds)


def test_stacked_event_probabilities_are_the_weighted_means_of_the_models():
    """P(peak <= 2030) of the mixture equals w·P_early + (1 - w)·P_late up to the rounding of the counts."""
    early = _forecast(np.full(400, 3), seed=1)   # peaks in 2023-2024: P(peak <= 2030) = 1
    late = _forecast(np.full(400, 25), seed=2)   # peaks in 2045-2046: P = 0
    stacked = stack_forecasts({"early": early, "late": late}, {"early": 0.3, "late": 0.7})
    p = stacked.peak_year_probability(2030)
    np.testing.assert_allclose(p.values, 0.3, atol=1 / 400)
    assert stacked.ds.sizes["sample"] == 400
    assert list(np.unique(stacked.ds["component"].values)) == ["early", "late"]
    with pytest.raises(InputError, match="without a forecast"):
        stack_forecasts({"early": early}, {"early": 0.5, "late": 0.5})


@pytest.mark.slow
def test_stacking_weights_compare_the_ekc_and_kaya_on_the_same_changes():
    """Both models fitted to one panel: one compare table with weights summing to 1; a model fitted to
    another panel is refused before any log-likelihood is computed."""
    from forecast.models.ekc import EKCModel
    from forecast.models.kaya import KayaModel

    panel = _kaya_panel(n_regions=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kaya = KayaModel().fit(panel, random_seed=1, draws=200, tune=200, progress=False)
        ekc = EKCModel().fit(panel, random_seed=1, draws=200, tune=200, progress=False)
    table = stacking_weights({"kaya": kaya, "ekc": ekc})
    assert isinstance(table, pd.DataFrame) and set(table.index) == {"kaya", "ekc"}
    assert abs(float(table["weight"].sum()) - 1.0) < 1e-6
    assert np.isfinite(table["elpd_loo"]).all()
    other = KayaModel()  # fitted arrays of a shorter panel (the check needs no posterior of its own)
    other.arrays_ = other.prepare(panel[panel["year"] < 2009])
    other.idata = kaya.idata
    with pytest.raises(InputError, match="different data"):
        stacking_weights({"kaya": kaya, "other": other})
