"""Emissions observed after the last GDP year: the forecast takes them as known (pinned years)."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pytest

from forecast import Scenario
from forecast.errors import InputError
from forecast.models.ekc import observed_per_capita
from forecast.models.kaya import KayaModel
from forecast.projection.propagate import forecast_emissions, simulate_growth
from forecast.run.sources import later_run

N_SAMPLES, N_REGIONS, N_YEARS = 200, 3, 8


def _simulate(phi: float, pinned=None, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = np.cumsum(np.full((N_SAMPLES, N_REGIONS, N_YEARS), 0.02), axis=2)
    params = {"drift": np.full((N_SAMPLES, N_REGIONS), -0.01), "slope": 1.0, "curvature": 0.0,
              "sigma": np.full((N_SAMPLES, N_REGIONS), 0.03), "phi": np.full(N_SAMPLES, phi),
              "drift_income": np.zeros(N_SAMPLES)}
    eps = rng.standard_normal((N_SAMPLES, N_REGIONS, N_YEARS))
    return simulate_growth(params, x=x, x0=0.0, y0=0.0, u0=0.0, shocks=eps, pinned=pinned)


@pytest.mark.parametrize("phi", [0.0, 0.6])
def test_a_pinned_year_takes_the_observed_level_and_its_residual_carries_on_through_phi(phi):
    """Same shocks with and without an observed first year: the path takes the observed level there, and
    every later year differs by D0 (1 + φ + ... + φ^t), D0 the observed minus the free level (the residual
    the observation implies persists through the AR(1), nothing else changes)."""
    free = _simulate(phi)
    observed = np.full((N_SAMPLES, N_REGIONS, 1), np.nan)
    observed[:, 1, 0] = 0.05  # region 1 observed in the first year, the others not
    pinned = _simulate(phi, pinned=observed)
    np.testing.assert_array_equal(pinned[:, 1, 0], 0.05)
    np.testing.assert_array_equal(pinned[:, [0, 2]], free[:, [0, 2]])
    d0 = 0.05 - free[:, 1, 0]
    growth = np.cumsum(phi ** np.arange(N_YEARS))
    np.testing.assert_allclose(pinned[:, 1, :] - free[:, 1, :], d0[:, None] * growth[None, :], atol=1e-12)


def test_simulate_growth_refuses_observed_levels_of_the_wrong_shape():
    with pytest.raises(InputError, match="observed levels"):
        _simulate(0.5, pinned=np.zeros((N_SAMPLES, N_REGIONS + 1, 1)))
    with pytest.raises(InputError, match="observed levels"):
        _simulate(0.5, pinned=np.zeros((N_SAMPLES, N_REGIONS, N_YEARS + 1)))


def test_observed_per_capita_is_the_run_of_forecast_years_divided_by_population():
    years = np.arange(2023, 2030)
    population = np.full((4, 2, len(years)), 2e6)
    frame = pd.DataFrame({"region": ["A", "A", "B", "C"], "year": [2023, 2024, 2023, 2023],
                          "co2": [10.0, 12.0, 4.0, 1.0]})
    got = observed_per_capita(frame, ["A", "B"], years, population)  # C is not forecast: ignored
    assert got.shape == (4, 2, 2)
    np.testing.assert_allclose(got[0], [[5.0, 6.0], [2.0, np.nan]])  # Mt -> t per person
    with pytest.raises(InputError, match="overlap the fitted years"):
        observed_per_capita(frame.assign(year=[2022, 2023, 2023, 2023]), ["A", "B"], years, population)
    with pytest.raises(InputError, match="without a gap"):
        observed_per_capita(frame.assign(year=[2023, 2025, 2023, 2023]), ["A", "B"], years, population)
    with pytest.raises(InputError, match="positive"):
        observed_per_capita(frame.assign(co2=[10.0, -1.0, 4.0, 1.0]), ["A", "B"], years, population)
    assert observed_per_capita(frame.iloc[:0], ["A"], years, population) is None


def test_later_run_keeps_each_regions_unbroken_years_after_the_last_one():
    frame = pd.DataFrame({"region": ["A", "A", "A", "B", "B"], "year": [2024, 2023, 2026, 2024, 2025],
                          "co2": [1.0, 2.0, 3.0, 4.0, 5.0]})
    got = later_run(frame, 2022)
    assert got[["region", "year"]].values.tolist() == [["A", 2023], ["A", 2024]]  # B has no 2023: none


def _kaya_panel(seed=3, n_regions=3, years=range(1990, 2011)):
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(n_regions):
        x = np.log(8_000.0 * (1 + r)) + np.cumsum(rng.normal(0.02, 0.02, len(years)))
        y = np.log(0.4 * np.exp(x) / 1e3) + np.cumsum(rng.normal(-0.01, 0.03, len(years)))
        for k, year in enumerate(years):
            gdp_pc, co2_pc = float(np.exp(x[k])), float(np.exp(y[k]))
            rows.append({"region": f"R{r}", "year": year, "population": 1e7, "gdp": gdp_pc * 1e7,
                         "gdp_per_capita": gdp_pc, "co2_per_capita": co2_pc, "co2": co2_pc * 1e7 / 1e6})
    return pd.DataFrame(rows)


def test_forecast_takes_later_emissions_as_known_in_every_sample_and_counts_them_as_observed():
    """A Kaya model (its prior draws as the posterior: no sampling) forecast with 2011 emissions given for
    R0 and R1: total emissions equal them in every sample, ``last_observed_year`` moves to 2011 for those two
    regions only, and R2's forecast is unchanged by them."""
    panel = _kaya_panel()
    model = KayaModel()
    prior = model.sample_prior_predictive(panel, draws=100, random_seed=1).prior
    model.attach(az.InferenceData(posterior=prior.drop_vars([v for v in prior.data_vars if v.startswith("d_log")])),
                 model.prepare(panel))
    scenario = Scenario.from_history(panel, horizon=2030)
    later = pd.DataFrame({"region": ["R0", "R1"], "year": [2011, 2011], "co2": [5.0, 7.0]})
    fc = forecast_emissions(model, scenario, panel, draws=300, random_seed=4, observed_co2=later)
    free = forecast_emissions(model, scenario, panel, draws=300, random_seed=4)
    co2 = fc.ds["co2"].sel(year=2011)
    np.testing.assert_allclose(co2.sel(region="R0"), 5.0, rtol=1e-12)
    np.testing.assert_allclose(co2.sel(region="R1"), 7.0, rtol=1e-12)
    assert fc.ds["last_observed_year"].sel(region=["R0", "R1", "R2"]).values.tolist() == [2011, 2011, 2010]
    assert bool(fc.ds["co2_observed"].sel(region="R0", year=2011)) and not bool(fc.ds["co2_observed"].sel(region="R2", year=2011))
    np.testing.assert_array_equal(fc.ds["co2"].sel(region="R2"), free.ds["co2"].sel(region="R2"))
    assert not np.allclose(fc.ds["co2"].sel(region="R0", year=2020), free.ds["co2"].sel(region="R0", year=2020))


def test_owid_later_emissions_are_the_2023_co2_of_regions_without_2023_gdp(shared_data_dir):
    """The OWID reader of the default study: CO2 runs to 2023 while GDP ends in 2022, so 2023 is read for
    the study's regions with the file's values; a window that ends in 2015 gets none (its later years
    have GDP)."""
    from forecast.data import load_panel
    from forecast.run.sources import data_source
    from forecast.run.study import load_study

    study = load_study("studies/global/study.toml")
    panel = load_panel("owid", data_dir=shared_data_dir, years=(1990, 2022), regions=["China", "Germany"])
    later = data_source(study).later(study, panel, shared_data_dir, False)
    assert later["year"].unique().tolist() == [2023]
    full = load_panel("owid", data_dir=shared_data_dir, regions=["China"], require_complete=False)
    assert float(later.loc[later["region"] == "China", "co2"].iloc[0]) == float(
        full.loc[full["year"] == 2023, "co2"].iloc[0])
    early = panel[panel["year"] <= 2015]
    assert len(data_source(study).later(study, early, shared_data_dir, False)) == 0
