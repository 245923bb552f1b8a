"""One compiled model reused across data sets (the backtest's cutoffs): the structure key, identical draws
for swapped-in data and a fresh compile, empty region slots that leave the posterior alone, and the
backtest wired to it (one compile, resume). Panels are small and synthetic except in the last test."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest

from forecast.errors import InputError, SamplerWarning
from forecast.models.ekc import EMPTY_SLOT, EKCModel
from forecast.models.kaya import KayaModel
from forecast.models.sampling import CompiledModelCache, structure_key

RUN = {"draws": 150, "tune": 200, "chains": 2, "progress": False}


def synthetic_panel(regions: list[str], years: range, seed: int = 4, gap: str | None = None) -> pd.DataFrame:
    """GDP per capita and CO2 per capita of ``regions`` over ``years``: log income grows ~2 %/yr, log carbon
    intensity falls by a region-specific ~1 %/yr with 3 % shocks. ``gap``: that region misses two middle
    years (a broken run, so ``has_prev`` and ``prev_idx`` are not trivial)."""
    rng = np.random.default_rng(seed)
    rows = []
    for k, region in enumerate(sorted(regions)):
        n = len(years)
        log_gdp = np.log(3_000.0 * (1 + k)) + np.cumsum(rng.normal(0.02, 0.02, n))
        log_intensity = np.log(0.3) + np.cumsum(rng.normal(-0.01 - 0.001 * k, 0.03, n))
        for i, year in enumerate(years):
            if region == gap and i in (n // 2, n // 2 + 1):
                continue
            gdp = float(np.exp(log_gdp[i]))
            rows.append({"region": region, "year": year, "gdp_per_capita": gdp,
                         "co2_per_capita": gdp * float(np.exp(log_intensity[i])) / 1e3})
    return pd.DataFrame(rows)


REGIONS = [f"R{k:02d}" for k in range(12)]
PANEL_A = synthetic_panel(REGIONS[:10], range(1980, 2006))
PANEL_B = synthetic_panel(REGIONS[3:], range(1990, 2016), seed=5, gap="R06")  # 9 regions, same 26 years


def _model(slots: int | None = 10, **settings) -> KayaModel:
    model = KayaModel(**settings)
    model.region_slots = slots
    return model


def _fit(model, panel, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplerWarning)
        return model.fit(panel, random_seed=11, **{**RUN, **kw})


def test_structure_key_ignores_the_data_but_not_the_shapes_or_the_constants():
    def key(model, panel):
        return structure_key(model.build_model(model.prepare(panel)))

    shared = {"common_shocks": True, "common_drift": True}
    # other regions, years, observation counts and a gap: the same structure when slots and years agree
    assert key(_model(**shared), PANEL_A) == key(_model(**shared), PANEL_B)
    assert key(_model(), PANEL_A) != key(_model(12), PANEL_A)  # more region slots: another shape
    assert key(_model(**shared), PANEL_A) != key(_model(), PANEL_A)  # other terms
    prior = {"drift_mu": {"params": {"mu": 0.0, "sigma": 0.5}}}
    assert key(_model(), PANEL_A) != key(_model(model_config=prior), PANEL_A)  # a prior is a constant
    assert key(_model(**shared), PANEL_A) != key(_model(**shared), PANEL_A[PANEL_A["year"] >= 1985])  # fewer years
    # the EKC lays out its regions the same way
    ekc = EKCModel()
    ekc.region_slots = 10
    labels = ekc.region_labels(sorted(PANEL_B["region"].unique()))
    assert labels[:9] == sorted(PANEL_B["region"].unique()) and labels[9] == f"{EMPTY_SLOT}0"
    ekc.region_slots = 8
    with pytest.raises(InputError, match="region_slots = 8 is fewer than the 9 regions"):
        ekc.region_labels(labels[:9])


@pytest.mark.slow
def test_swapped_in_data_give_the_draws_of_a_fresh_compile():
    """The reused compilation computes the same posterior as a fresh one: same data and seed, the same
    draws to the last bit (the compiled code is the same; only the arrays it reads were swapped)."""
    shared = {"common_shocks": True, "common_drift": True}
    cache = CompiledModelCache()
    _fit(_model(**shared), PANEL_A, compiled_cache=cache)
    reused = _fit(_model(**shared), PANEL_B, compiled_cache=cache)
    assert (cache.compiles, cache.reuses) == (1, 1)
    fresh = _fit(_model(**shared), PANEL_B)
    post_r, post_f = reused.idata.posterior, fresh.idata.posterior
    assert sorted(post_r.data_vars) == sorted(post_f.data_vars)
    for name in post_f.data_vars:
        np.testing.assert_array_equal(post_r[name].values, post_f[name].values, err_msg=name)
    # labels are the data's own: the fitted regions only (empty slots dropped), the years of panel B
    b_regions = sorted(PANEL_B["region"].unique())
    assert reused.regions == b_regions == fresh.regions
    assert list(post_r["shock_year"].values) == list(range(1991, 2016))
    assert list(post_r["drift_step"].values) == list(range(1992, 2016))
    # forecasts read the walk at each region's last observed year through those labels
    draws = reused.kernel_params(20, np.random.default_rng(0))
    assert draws["drift"].shape == (20, len(b_regions)) and np.isfinite(draws["common_shock_last"]).all()


@pytest.mark.slow
def test_empty_region_slots_leave_the_posterior_within_monte_carlo_error():
    """Slots without data carry prior-only region parameters: the population-level posterior and the fitted
    regions' parameters are the same distribution. The draws differ (more parameters in the sampler), so
    the posterior means are compared with 4 combined Monte Carlo standard errors."""
    run = {"draws": 400, "tune": 400}
    plain = _fit(_model(None), PANEL_B, **run)
    padded = _fit(_model(16), PANEL_B, **run)  # 7 empty slots beside 9 regions
    assert padded.regions == plain.regions
    names = ["drift_mu", "drift_sigma", "log_noise_mu", "log_noise_sigma", "phi", "drift_income", "drift", "sigma"]
    a = az.summary(plain.idata, var_names=names, round_to="none")
    b = az.summary(padded.idata, var_names=names, round_to="none")
    assert list(a.index) == list(b.index)
    gap = (a["mean"] - b["mean"]).abs()
    allowed = 4 * np.hypot(a["mcse_mean"], b["mcse_mean"])
    assert (gap <= allowed).all(), pd.DataFrame({"gap": gap, "allowed": allowed})[gap > allowed]


@pytest.mark.slow
def test_backtest_compiles_once_and_resumes(shared_data_dir, tmp_path, monkeypatch):
    from forecast.evaluation.backtest import region_slot_count, run_backtest
    from forecast.run.study import default_study_path, load_study

    regions = ["United States", "Germany", "China", "India", "Poland", "Russia", "Brazil", "United Kingdom"]
    study = load_study(default_study_path())
    kwargs = dict(data_dir=shared_data_dir, regions=regions, draws=60, tune=100, forecast_draws=100, seed=3,
                  model="kaya", scenario="history", checkpoint_dir=tmp_path / "ck")
    result = run_backtest(study, [1980, 2010], **kwargs)
    fits = result.fits.set_index("cutoff")
    assert fits["compiled_model_reused"].to_dict() == {1980: False, 2010: True}
    slots = region_slot_count(study, [1980, 2010], 1750, data_dir=shared_data_dir, fit_years=33, regions=regions)
    assert result.settings["region_slots"] == slots == fits["regions_fitted"].max()
    for cutoff, cell in result.events.groupby("cutoff"):
        assert cell["region"].nunique() == fits.loc[cutoff, "regions_fitted"]  # no empty slot is forecast
        assert not cell["region"].str.startswith(EMPTY_SLOT).any()

    import forecast.run.pipeline as pipeline

    monkeypatch.setattr(pipeline, "fit_model", lambda *a, **k: pytest.fail("refitted a saved cutoff"))
    again = run_backtest(study, [1980, 2010], **kwargs)
    pd.testing.assert_frame_equal(again.events, result.events)
    with pytest.raises(pytest.fail.Exception):  # a backtest without reuse is another run: not resumed from these
        run_backtest(study, [2010], **{**kwargs, "reuse_compiled": False})
