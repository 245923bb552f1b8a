"""The hierarchical STIRPAT model: recovery of known elasticities on data simulated from the model, the
forecast contract (dims, units), save / load refusing other settings, and input errors before sampling.
Fits are small (2 chains x 300 draws) with fixed seeds; tolerances come from the posterior (94 % HDI)."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest

from forecast import Scenario
from forecast.errors import InputError, ModelStateError, SamplerWarning
from forecast.models import model_class
from forecast.models.stirpat import (
    EnergyDataWarning,
    StirpatModel,
    energy_panel,
    simulate_stirpat,
)

TRUE = {"population_elasticity": 1.0, "affluence_elasticity_mu": 0.8, "affluence_elasticity_sigma": 0.1,
        "technology_elasticity_mu": 0.9, "technology_elasticity_sigma": 0.1, "drift_mu": -0.005, "drift_sigma": 0.005,
        "phi": 0.3, "sigma": 0.02, "tech_drift_mu": -0.01, "tech_drift_sigma": 0.005, "tech_income": -0.4,
        "tech_sigma": 0.025, "drift_income": -0.015}
# the simulated panel's income centre (ln int-$ 2011 per person); the model centres on the fitted panel's mean
# instead, which moves the drifts but not theta
X_CENTER = np.log(1e4)
N_REGIONS, N_YEARS, FIRST_YEAR = 12, 30, 1991


def simulate_panel(seed: int = 11) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """A panel drawn from the model's own process (normal shocks, AR(1) emission residual): population growth
    that changes within regions (so ``b`` is identified), GDP growth and energy intensity with known
    elasticities, and an emission drift that falls with income (``drift_income``; regions start between 2,000
    and 40,000 int-$ per person, so income differs across and within regions). Levels are of real orders of
    magnitude (people, int-$, Mt CO2, kWh per $)."""
    t, rng = TRUE, np.random.default_rng(seed)
    c = rng.normal(t["affluence_elasticity_mu"], t["affluence_elasticity_sigma"], N_REGIONS)
    d = rng.normal(t["technology_elasticity_mu"], t["technology_elasticity_sigma"], N_REGIONS)
    drift = rng.normal(t["drift_mu"], t["drift_sigma"], N_REGIONS)
    tau = rng.normal(t["tech_drift_mu"], t["tech_drift_sigma"], N_REGIONS)
    rows = []
    for r in range(N_REGIONS):
        lp, la, lt = np.log(rng.uniform(5e6, 1e8)), np.log(rng.uniform(2e3, 4e4)), np.log(rng.uniform(1.0, 3.0))
        li, u, growth = lp + la + lt - 22.0, 0.0, rng.uniform(0.0, 0.025)
        for k in range(N_YEARS):
            if k:
                dp = growth + rng.normal(0.0, 0.006)
                growth = 0.9 * growth + 0.001  # population growth drifts towards 1 %/yr
                da = rng.normal(0.02, 0.03)
                dt = tau[r] + t["tech_income"] * da + t["tech_sigma"] * rng.standard_normal()
                u = t["phi"] * u + t["sigma"] * rng.standard_normal()
                # theta times last year's centred income (la is still last year's here)
                di = (drift[r] + t["drift_income"] * (la - X_CENTER) + t["population_elasticity"] * dp + c[r] * da
                      + d[r] * dt + u)
                lp, la, lt, li = lp + dp, la + da, lt + dt, li + di
            rows.append({"region": f"R{r:02d}", "year": FIRST_YEAR + k, "population": np.exp(lp),
                         "gdp_per_capita": np.exp(la), "gdp": np.exp(lp + la), "co2": np.exp(li),
                         "energy_per_gdp": np.exp(lt)})
    return pd.DataFrame(rows), {"affluence_elasticity": c, "technology_elasticity": d}


def _inside_hdi(idata, name, value, prob=0.94):
    hdi = az.hdi(idata, var_names=[name], hdi_prob=prob)[name].values
    return (hdi[..., 0] <= value) & (value <= hdi[..., 1])


@pytest.fixture(scope="module")
def fitted():
    panel, truth = simulate_panel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplerWarning)
        model = StirpatModel(likelihood="normal").fit(panel, random_seed=5, draws=300, tune=400, chains=2,
                                                      progress=False)
    return panel, truth, model


@pytest.mark.slow
def test_stirpat_recovers_known_elasticities(fitted):
    _, truth, model = fitted
    post = model.idata.posterior
    for name in ("population_elasticity", "affluence_elasticity_mu", "technology_elasticity_mu", "tech_income",
                 "phi", "drift_income"):
        assert _inside_hdi(model.idata, name, TRUE[name]), (name, float(post[name].mean()))
    # the data, not the prior (sd 0.5), pin the elasticities down: the posterior is far narrower
    for name in ("affluence_elasticity_mu", "technology_elasticity_mu"):
        assert float(post[name].std()) < 0.5 / 4, name
    # theta too (prior sd 0.02), and its sign is read from the data: the 94 % HDI lies below zero
    assert float(post["drift_income"].std()) < 0.02 / 4
    assert az.hdi(model.idata, var_names=["drift_income"], hdi_prob=0.94)["drift_income"].values[1] < 0
    # region elasticities (12 affluence + 12 technology): most inside their 94 % HDI. Not all: partial pooling
    # shrinks the extreme regions towards the mean, so their intervals miss more often than 6 %
    inside = np.concatenate([_inside_hdi(model.idata, name, values) for name, values in truth.items()])
    assert inside.mean() >= 0.75, inside


@pytest.mark.slow
def test_stirpat_predict_has_sample_region_year_and_units(fitted):
    panel, _, model = fitted
    ds = model.predict(Scenario.from_history(panel, horizon=2035), draws=200, random_seed=1, regions=["R00", "R03"])
    for name in ("co2_per_capita", "gdp_per_capita", "population", "energy_per_gdp", "co2"):
        assert ds[name].dims == ("sample", "region", "year"), name
        assert ds[name].attrs.get("units"), name
        assert np.isfinite(ds[name].values).all() and (ds[name].values > 0).all(), name
    assert ds["year"].values[0] == FIRST_YEAR + N_YEARS and ds["year"].values[-1] == 2035
    np.testing.assert_allclose(ds["co2"], ds["co2_per_capita"] * ds["population"] / 1e6, rtol=1e-12)
    again = model.predict(Scenario.from_history(panel, horizon=2035), draws=200, random_seed=1, regions=["R00", "R03"])
    np.testing.assert_array_equal(again["co2"].values, ds["co2"].values)


@pytest.mark.slow
def test_stirpat_save_load_round_trip_refuses_other_settings(fitted, tmp_path):
    panel, _, model = fitted
    path = model.save(tmp_path / "stirpat.nc")
    loaded = StirpatModel.load(path, likelihood="normal")
    assert loaded.get_settings() == model.get_settings() and loaded.regions == model.regions
    scenario = Scenario.from_history(panel, horizon=2030)
    a = model.predict(scenario, draws=50, random_seed=3)
    b = loaded.predict(scenario, draws=50, random_seed=3)
    np.testing.assert_array_equal(a["co2"].values, b["co2"].values)
    with pytest.raises(ModelStateError, match="likelihood: saved 'normal', expected 'studentt'"):
        StirpatModel.load(path, likelihood="studentt")
    with pytest.raises(ModelStateError, match="varying_elasticities: saved True, expected False"):
        StirpatModel.load(path, varying_elasticities=False)
    with pytest.raises(ModelStateError, match="stirpat"):
        model_class("kaya").load(path)


@pytest.mark.slow
def test_stirpat_forecast_uses_the_income_dependent_drift(fitted):
    """A more negative theta lowers the forecast of a region richer than the panel centre (its drift falls
    with income) and raises that of a poorer one, by about theta times income summed over the years."""
    panel, _, model = fitted
    scenario = Scenario.from_history(panel, horizon=2040)
    x_last = model.idata.constant_data["last_log_gdp_pc"] - model.x_center
    rich, poor = str(x_last.idxmax().item()), str(x_last.idxmin().item())
    base = model.predict(scenario, draws=300, random_seed=2, regions=[rich, poor])
    post = model.idata.posterior
    original = post["drift_income"].copy()
    try:
        post["drift_income"] = original - 0.02
        steeper = model.predict(scenario, draws=300, random_seed=2, regions=[rich, poor])
    finally:
        post["drift_income"] = original
    ratio = np.log(steeper["co2"].sel(year=2040) / base["co2"].sel(year=2040)).median("sample")
    assert float(ratio.sel(region=rich)) < -0.02 and float(ratio.sel(region=poor)) > 0.02, ratio.values


def test_simulator_with_income_dependent_drift_reproduces_a_hand_computed_path():
    """One sample, one region, three years, no technology shocks, AR(1) residual with given unit shocks;
    the expected path is worked out by hand below (the numbers are not produced by the simulator)."""
    xc = np.log(1e4)
    params = {"drift": np.array([[0.01]]), "affluence_elasticity": np.array([[0.8]]),
              "technology_elasticity": np.array([[1.0]]), "sigma": np.array([[0.01]]),
              "tech_drift": np.array([[-0.01]]), "tech_sigma": np.array([[0.0]]),
              "population_elasticity": np.array([1.0]), "phi": np.array([0.5]), "tech_income": np.array([-0.4]),
              "drift_income": np.array([-0.02])}
    drivers = {"log_population": np.full((1, 1, 3), np.log(1e7)), "log_gdp_pc": xc + np.array([[[0.55, 0.60, 0.65]]]),
               "log_population0": np.array([np.log(1e7)]), "log_gdp_pc0": np.array([xc + 0.5]),
               "log_co2_0": np.array([np.log(100.0)]), "log_energy0": np.array([0.0]), "u0": np.array([0.02]),
               "x_center": xc}
    out = simulate_stirpat(params, drivers, {"eps": np.array([[[1.0, 0.0, -1.0]]]), "eta": np.ones((1, 1, 3))})
    # dlnA = 0.05 each year; dlnT = -0.01 - 0.4 * 0.05 = -0.03; x_prev = 0.50, 0.55, 0.60
    # mean_t = 0.01 - 0.02 x_prev + 0.8 * 0.05 + 1.0 * (-0.03) = 0.010, 0.009, 0.008
    # u_t = 0.5 u_t-1 + 0.01 eps_t = 0.5*0.02 + 0.01 = 0.020; 0.5*0.02 = 0.010; 0.005 - 0.01 = -0.005
    # dlnI = 0.030, 0.019, 0.003
    np.testing.assert_allclose(out["log_co2"][0, 0], np.log(100.0) + np.array([0.030, 0.049, 0.052]), atol=1e-12)
    np.testing.assert_allclose(out["log_energy"][0, 0], [-0.03, -0.06, -0.09], atol=1e-12)


def test_simulator_with_unit_elasticities_and_no_shocks_is_the_ipat_identity():
    """b = c = d = 1, no drift, no shocks: emissions move exactly as P x A x T (the simulator is able to be
    wrong about any one driver)."""
    n, r, y = 3, 2, 5
    rng = np.random.default_rng(0)
    lp = np.log(1e7) + np.cumsum(rng.normal(0.01, 0.01, (n, r, y)), axis=2)
    la = np.log(1e4) + np.cumsum(rng.normal(0.02, 0.02, (n, r, y)), axis=2)
    ones, zeros = np.ones((n, r)), np.zeros((n, r))
    params = {"drift": zeros, "affluence_elasticity": ones, "technology_elasticity": ones, "sigma": ones * 0.1,
              "tech_drift": zeros - 0.01, "tech_sigma": zeros, "population_elasticity": np.ones(n),
              "phi": np.zeros(n), "tech_income": np.zeros(n)}
    drivers = {"log_population": lp, "log_gdp_pc": la, "log_population0": np.full(r, np.log(1e7)),
               "log_gdp_pc0": np.full(r, np.log(1e4)), "log_co2_0": np.full(r, np.log(100.0)),
               "log_energy0": np.zeros(r), "u0": np.zeros(r)}
    out = simulate_stirpat(params, drivers, {"eps": np.zeros((n, r, y)), "eta": rng.normal(size=(n, r, y))})
    log_t = -0.01 * np.arange(1, y + 1)
    expected = np.log(100.0) + (lp - np.log(1e7)) + (la - np.log(1e4)) + log_t
    np.testing.assert_allclose(out["log_co2"], expected, atol=1e-12)
    np.testing.assert_allclose(out["log_energy"], np.broadcast_to(log_t, (n, r, y)), atol=1e-12)


def test_missing_energy_column_is_an_input_error_before_sampling():
    panel, _ = simulate_panel()
    with pytest.raises(InputError, match="energy_per_gdp"):
        StirpatModel().prepare(panel.drop(columns=["energy_per_gdp"]))


def test_regions_with_missing_energy_are_dropped_with_a_message_and_an_empty_panel_fails():
    panel, _ = simulate_panel()
    gap = panel.copy()
    gap.loc[(gap["region"] == "R01") & gap["year"].isin([1995, 1996, 1999]), "energy_per_gdp"] = np.nan
    gap.loc[(gap["region"] == "R02") & (gap["year"] == gap["year"].max()), "energy_per_gdp"] = np.nan
    with pytest.warns(EnergyDataWarning, match=r"R01: no energy data in 1995-1996, 1999.*R02: no energy data in 2020"):
        arrays = StirpatModel().prepare(gap)
    assert "R01" not in arrays.regions and "R02" not in arrays.regions and len(arrays.regions) == N_REGIONS - 2
    # years before a region's energy series starts are left out, the region kept
    late = panel.copy()
    late.loc[(late["region"] == "R03") & (late["year"] < 1994), "energy_per_gdp"] = np.nan
    trim = "1 region\\(s\\) fitted from the first year of their energy series: R03 from 1994"
    with pytest.warns(EnergyDataWarning, match=trim):
        kept = energy_panel(late, min_years=20)
    assert kept.loc[kept["region"] == "R03", "year"].min() == 1994 and kept.attrs["energy_trimmed"] == {"R03": 1994}
    with pytest.warns(EnergyDataWarning, match="R03: energy data start in 1994: 27 years, fewer than min_years = 28"):
        energy_panel(late, min_years=28)
    none = panel.assign(energy_per_gdp=np.nan)
    with pytest.raises(InputError, match=r"no region has complete energy data.*R00: no energy data in 1991-2020"):
        StirpatModel().prepare(none)
    # energy intensity from primary energy (TWh) and GDP when the column itself is absent
    twh = panel.assign(primary_energy_consumption=panel["energy_per_gdp"] * panel["gdp"] / 1e9)
    derived = energy_panel(twh.drop(columns=["energy_per_gdp"]))
    np.testing.assert_allclose(derived["energy_per_gdp"], panel["energy_per_gdp"], rtol=1e-12)


def test_settings_are_checked():
    with pytest.raises(InputError, match="residuals must be one of"):
        StirpatModel(residuals="ar2").check_settings()
    with pytest.raises(InputError, match="varying_elasticities must be true or false"):
        StirpatModel(varying_elasticities="yes").check_settings()
    with pytest.raises(InputError, match="drift_income must be true or false"):
        StirpatModel(drift_income=1).check_settings()
    assert "drift_income" in StirpatModel().prior_terms()
    assert "drift_income" not in StirpatModel(drift_income=False).prior_terms()
    assert model_class("stirpat") is StirpatModel
    assert set(StirpatModel().prior_terms()) <= set(StirpatModel().priors())


def test_owid_panel_carries_energy_intensity_only_when_asked(shared_data_dir):
    from forecast.data import load_panel

    plain = load_panel("owid", data_dir=shared_data_dir, years=(2000, 2021), regions=["China", "Germany"])
    assert "energy_per_gdp" not in plain.columns
    panel = load_panel("owid", data_dir=shared_data_dir, years=(2000, 2021), regions=["China", "Germany"],
                       columns=("energy_per_gdp",))
    assert panel["energy_per_gdp"].notna().all() and panel.attrs["units"]["energy_per_gdp"].startswith("kWh")
    # OWID's column is primary energy over the panel's GDP (TWh -> kWh): the same ratio to rounding
    raw = pd.read_csv(shared_data_dir / "owid_co2_data.csv", usecols=["country", "year", "primary_energy_consumption"])
    merged = panel.merge(raw, left_on=["region", "year"], right_on=["country", "year"])
    np.testing.assert_allclose(merged["energy_per_gdp"], merged["primary_energy_consumption"] * 1e9 / merged["gdp"],
                               rtol=0.01)
    with pytest.raises(InputError, match="not read from the OWID file"):
        load_panel("owid", data_dir=shared_data_dir, years=(2000, 2021), columns=("urbanisation",))


def test_a_stirpat_study_drops_regions_without_energy_data_before_sampling(shared_data_dir, tmp_path):
    from forecast.errors import StudyError
    from forecast.run.pipeline import load_study_panel
    from forecast.run.study import default_study_path, load_study

    study = load_study(default_study_path("global").with_name("stirpat.toml"))
    assert study.model.type == "stirpat" and study.model.drift_income
    # the reference window ends in 2021, before OWID's energy gap of 2022 (see the study file's comment)
    with pytest.warns(EnergyDataWarning, match="Serbia: energy data start in 2006"):
        panel = load_study_panel(study, data_dir=shared_data_dir)
    assert {"China", "Nigeria"} <= set(panel["region"]) and "Serbia" not in set(panel["region"])
    assert panel["energy_per_gdp"].notna().all()
    with pytest.warns(EnergyDataWarning, match="Nigeria: no energy data in 2022"):
        late = load_study_panel(study.with_overrides(data={"years": [1990, 2022]}), data_dir=shared_data_dir)
    assert "Nigeria" not in set(late["region"]) and panel["region"].nunique() > late["region"].nunique()
    focus = study.with_overrides(forecast={"focus_regions": ["China", "Serbia"]})
    with warnings.catch_warnings(), pytest.raises(
            StudyError, match="Serbia.*dropped by the stirpat model: Serbia: energy data start in 2006"):
        warnings.simplefilter("ignore", EnergyDataWarning)
        load_study_panel(focus, data_dir=shared_data_dir)
