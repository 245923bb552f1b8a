"""Probabilistic drivers (GDP convergence, population) and the Kaya emission model: parameter recovery on
data simulated from the models, the Kaya identity against a direct computation, and the protocol
(predict shape, save/load). Fits are small, with fixed seeds; tolerances are the posterior's 94 % HDI."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest

from forecast import Scenario
from forecast.errors import InputError, ModelStateError, SamplerWarning
from forecast.models.gdp import GDPConvergenceModel
from forecast.models.kaya import KayaModel
from forecast.models.population import PopulationGrowthModel
from forecast.projection.propagate import forecast_emissions, simulate_growth
from forecast.scenarios import DriverScenario

N_REGIONS, N_YEARS, FIRST_YEAR = 12, 34, 1989


def _inside_hdi(idata, name, value, prob=0.94):
    hdi = az.hdi(idata, var_names=[name], hdi_prob=prob)[name].values
    return (hdi[..., 0] <= value) & (value <= hdi[..., 1])


def _fit(model, panel, seed, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplerWarning)
        return model.fit(panel, random_seed=seed, draws=kw.get("draws", 300), tune=kw.get("tune", 400), chains=2,
                         progress=False)


# ------------------------------------------------------------------------------------------------ GDP
GDP_TRUE = {"frontier_growth": 0.015, "log_convergence_mu": np.log(0.02), "log_convergence_sigma": 0.4,
            "phi": 0.4, "nu": 8.0, "log_noise_mu": np.log(0.02), "log_noise_sigma": 0.3}


def simulate_gdp(seed=3):
    """GDP per capita drawn from the convergence model; region R00 is the frontier."""
    t = GDP_TRUE
    rng = np.random.default_rng(seed)
    kappa = np.exp(rng.normal(t["log_convergence_mu"], t["log_convergence_sigma"], N_REGIONS))
    sigma = np.exp(rng.normal(t["log_noise_mu"], t["log_noise_sigma"], N_REGIONS))
    x = np.empty((N_REGIONS, N_YEARS))
    x[:, 0] = np.log(50_000.0) - np.r_[0.0, rng.uniform(0.3, 3.0, N_REGIONS - 1)]
    u = np.zeros(N_REGIONS)
    for k in range(1, N_YEARS):
        gap = x[0, k - 1] - x[:, k - 1]
        u = t["phi"] * u + sigma * rng.standard_t(t["nu"], N_REGIONS)
        x[:, k] = x[:, k - 1] + t["frontier_growth"] + kappa * gap + u
    rows = [{"region": f"R{r:02d}", "year": FIRST_YEAR + k, "gdp_per_capita": float(np.exp(x[r, k])),
             "population": 1e7} for r in range(N_REGIONS) for k in range(N_YEARS)]
    return pd.DataFrame(rows), kappa


@pytest.fixture(scope="module")
def gdp_fit():
    panel, kappa = simulate_gdp()
    return panel, kappa, _fit(GDPConvergenceModel(frontier="R00"), panel, seed=5)


@pytest.mark.slow
def test_gdp_model_recovers_known_parameters(gdp_fit):
    _, kappa, model = gdp_fit
    for name in ("frontier_growth", "log_convergence_mu", "phi", "log_noise_mu"):
        assert _inside_hdi(model.idata, name, GDP_TRUE[name]), name
    # region convergence speeds: all but the frontier (whose gap is always zero) are identified
    inside = _inside_hdi(model.idata, "convergence", kappa)[1:]
    assert inside.mean() >= 0.8, inside


@pytest.mark.slow
def test_gdp_forecast_converges_and_is_reproducible(gdp_fit):
    panel, _, model = gdp_fit
    years = np.arange(FIRST_YEAR + N_YEARS, 2061)
    regions = ["R00", "R05"]
    a = model.paths(regions, years, draws=400, rng=np.random.default_rng(1))
    b = model.paths(regions, years, draws=400, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (400, 2, len(years))
    last = panel[panel["year"] == panel["year"].max()].set_index("region")["gdp_per_capita"]
    gap_now = np.log(last["R00"] / last["R05"])
    gap_end = np.median(np.log(a[:, 0, -1] / a[:, 1, -1]))
    assert 0 < gap_end < gap_now  # a region behind the frontier catches up, without overtaking it


def test_gdp_model_input_errors():
    panel, _ = simulate_gdp()
    with pytest.raises(InputError, match="frontier region 'Atlantis'"):
        GDPConvergenceModel(frontier="Atlantis").prepare(panel)
    bad = panel.copy()
    bad.loc[3, "gdp_per_capita"] = -1.0
    with pytest.raises(InputError, match="gdp_per_capita must be positive"):
        GDPConvergenceModel(frontier="R00").prepare(bad)
    with pytest.raises(ModelStateError, match="not been fitted"):
        GDPConvergenceModel().paths(["R00"], np.arange(2023, 2030), draws=2, rng=np.random.default_rng(0))


# ------------------------------------------------------------------------------------------ population
POP_TRUE = {"trend_growth_mu": 0.012, "trend_growth_sigma": 0.006, "trend_change_mu": -0.0004,
            "trend_change_sigma": 0.0002, "log_noise_mu": np.log(0.0015), "nu": 10.0}


def simulate_population(seed=4):
    t = POP_TRUE
    rng = np.random.default_rng(seed)
    a = rng.normal(t["trend_growth_mu"], t["trend_growth_sigma"], N_REGIONS)
    b = rng.normal(t["trend_change_mu"], t["trend_change_sigma"], N_REGIONS)
    sigma = np.exp(rng.normal(t["log_noise_mu"], 0.2, N_REGIONS))
    last = FIRST_YEAR + N_YEARS - 1
    rows = []
    for r in range(N_REGIONS):
        logp = np.log(2e7)
        for k in range(N_YEARS):
            year = FIRST_YEAR + k
            if k:
                logp += a[r] + b[r] * (year - last) + sigma[r] * rng.standard_t(t["nu"])
            rows.append({"region": f"R{r:02d}", "year": year, "population": float(np.exp(logp)), "gdp_per_capita": 1e4})
    return pd.DataFrame(rows), a, b


@pytest.mark.slow
def test_population_model_recovers_trend_and_its_change():
    panel, a, b = simulate_population()
    model = _fit(PopulationGrowthModel(window=N_YEARS), panel, seed=6)
    for name in ("trend_growth_mu", "trend_change_mu", "log_noise_mu"):
        assert _inside_hdi(model.idata, name, POP_TRUE[name]), name
    assert _inside_hdi(model.idata, "trend_growth", a).mean() >= 0.8
    assert _inside_hdi(model.idata, "trend_change", b).mean() >= 0.8
    # damped trend: growth approaches a + b phi/(1-phi), a finite limit, never a + b h for large h
    sim = model.paths(["R00"], np.arange(2023, 2301), draws=300, rng=np.random.default_rng(2))
    growth = np.diff(np.log(sim[:, 0, :]), axis=-1)
    late = np.median(growth[:, -50:])
    limit = float(model.long_run_growth().sel(region="R00").median())
    assert abs(late - limit) < 0.002


def test_population_window_is_checked():
    panel, _, _ = simulate_population()
    with pytest.raises(InputError, match="window must be at least 5"):
        PopulationGrowthModel(window=3).prepare(panel)


# ----------------------------------------------------------------------------------------------- Kaya
KAYA_TRUE = {"drift_mu": -0.012, "drift_sigma": 0.008, "drift_income": -0.01, "phi": 0.3, "nu": 7.0,
             "log_noise_mu": np.log(0.025)}


def simulate_kaya(seed=8, common_shock_sd=0.0):
    """Emissions = population x GDP per capita x intensity, intensity drawn from the Kaya model by its
    simulator (the EKC's with unit income slope and no curvature, as the forecasts run it). With
    ``common_shock_sd`` > 0 every year also gets one year effect g_t ~ Normal(0, common_shock_sd) shared
    by all regions (drawn last, so the panel without them is unchanged); returns it as a third value."""
    t = KAYA_TRUE
    rng = np.random.default_rng(seed)
    drift = rng.normal(t["drift_mu"], t["drift_sigma"], N_REGIONS)
    sigma = np.exp(rng.normal(t["log_noise_mu"], 0.2, N_REGIONS))
    x = np.cumsum(rng.uniform(0.0, 0.05, (N_REGIONS, 1)) + rng.normal(0, 0.02, (N_REGIONS, N_YEARS)), axis=1)
    x += rng.uniform(-1.5, 1.5, (N_REGIONS, 1))
    x -= x.mean()  # the model centres log income on the panel mean
    eps = np.stack([rng.standard_t(t["nu"], N_YEARS - 1) for _ in range(N_REGIONS)])  # region by region
    params = {"drift": drift, "sigma": sigma, "slope": 1.0, "curvature": 0.0, "phi": t["phi"],
              "drift_income": t["drift_income"]}
    y0 = np.log(np.exp(x[:, 0] + np.log(12_000.0)) * 0.3 / 1e3)  # intensity 0.3 kg CO2 per $ in the first year; y: log t/person
    g = rng.normal(0.0, common_shock_sd, N_YEARS - 1) if common_shock_sd > 0 else np.zeros(N_YEARS - 1)
    y = simulate_growth(params, x=x[None, :, 1:], x0=x[:, 0], y0=y0, u0=0.0, shocks=eps[None], common=g[None])[0]
    co2_per_capita = np.exp(np.concatenate([y0[:, None], y], axis=1))
    rows = []
    for r in range(N_REGIONS):
        for k in range(N_YEARS):
            gdp_pc, co2_pc = float(np.exp(x[r, k] + np.log(12_000.0))), float(co2_per_capita[r, k])
            rows.append({"region": f"R{r:02d}", "year": FIRST_YEAR + k, "population": 1e7, "gdp": gdp_pc * 1e7,
                         "gdp_per_capita": gdp_pc, "co2_per_capita": co2_pc, "co2": co2_pc * 1e7 / 1e6})
    if common_shock_sd > 0:
        return pd.DataFrame(rows), drift, g
    return pd.DataFrame(rows), drift


@pytest.fixture(scope="module")
def kaya_fit():
    panel, drift = simulate_kaya()
    return panel, drift, _fit(KayaModel(parameterization="non_centered"), panel, seed=9, draws=400, tune=500)


@pytest.mark.slow
def test_kaya_model_recovers_known_parameters(kaya_fit):
    _, drift, model = kaya_fit
    for name in ("drift_mu", "drift_income", "phi", "log_noise_mu"):
        assert _inside_hdi(model.idata, name, KAYA_TRUE[name]), name
    assert _inside_hdi(model.idata, "drift", drift).mean() >= 0.8
    tp = model.turning_point_table()
    assert tp["p_inverted_u"].min() > 0.9  # drift_income < 0 is clear in these data


@pytest.mark.slow
def test_kaya_product_of_draws_equals_direct_computation(kaya_fit, monkeypatch):
    """With the shocks switched off, every forecast draw must equal population x GDP per capita x
    intensity, the intensity integrated by hand from the same posterior draw and the last residual."""
    import forecast.projection.propagate as prop

    panel, _, model = kaya_fit
    simulate = prop.simulate_growth_paths
    monkeypatch.setattr(prop, "simulate_growth_paths", lambda params, **kw: simulate(
        params, shocks=np.zeros(kw["gdp_per_capita"].shape, dtype=np.float32), **kw))
    scenario = Scenario.from_history(panel, horizon=FIRST_YEAR + N_YEARS + 7)
    regions = ["R01", "R07"]
    fc = forecast_emissions(model, scenario, panel, regions=regions, draws=25, random_seed=4)
    ds = fc.ds.sel(year=fc.ds["is_forecast"])
    # the same posterior draws predict() used: it draws scenario paths first, then parameters, from one rng
    rng = np.random.default_rng(4)
    scenario.draw(regions, start_year=int(ds["year"][0]), n_samples=25, rng=rng)
    params = model.kernel_params(25, rng)
    pos = [model.regions.index(r) for r in regions]
    state = model.idata.constant_data.sel(region=regions)
    hist = panel.set_index(["region", "year"])
    last_year = int(state["last_year"][0])
    for j, region in enumerate(regions):
        x_prev = float(state["last_x"][j])
        d, theta, phi = params["drift"][:, pos[j]], params["drift_income"], params["phi"]
        dx_last = float(state["last_dx_terms"][j, 0])
        u = float(state["last_dy"][j]) - dx_last - (d + theta * float(state["last_x_prev"][j]))
        log_i = np.log(hist.loc[(region, last_year), "co2"] * 1e9 / (hist.loc[(region, last_year), "gdp"]))
        for year in ds["year"].values:
            gdp_pc = ds["gdp_per_capita"].sel(region=region, year=year).values
            x = np.log(gdp_pc) - model.x_center
            u = phi * u
            log_i = log_i + d + theta * x_prev + u
            direct = ds["population"].sel(region=region, year=year).values * gdp_pc * np.exp(log_i) / 1e9  # Mt
            np.testing.assert_allclose(ds["co2"].sel(region=region, year=year).values, direct, rtol=1e-6)
            x_prev = x
    pred = model.predict(scenario, draws=5, random_seed=1, regions=regions)
    assert pred["carbon_intensity"].dims == ("sample", "region", "year")
    np.testing.assert_allclose(pred["carbon_intensity"] * pred["gdp_per_capita"] / 1e3, pred["co2_per_capita"], rtol=1e-12)


@pytest.mark.slow
def test_kaya_save_load_and_driver_scenario(kaya_fit, tmp_path):
    panel, _, model = kaya_fit
    path = model.save(tmp_path / "kaya.nc")
    loaded = KayaModel.load(path)
    assert loaded.regions == model.regions and loaded.get_settings() == model.get_settings()
    with pytest.raises(ModelStateError, match="kaya"):
        from forecast import EKCModel

        EKCModel.load(path)
    with pytest.raises(InputError, match="parameterization"):
        KayaModel(parameterization={"drift": "centered"}).fit(panel)


# --------------------------------------------------------------------------------- Kaya, common shocks
COMMON_SHOCK_SD = 0.03  # larger than the regions' own shocks (about 2.5 %/yr): a strong year effect


@pytest.fixture(scope="module")
def kaya_common_fit():
    panel, _, g = simulate_kaya(seed=8, common_shock_sd=COMMON_SHOCK_SD)
    # non-centred throughout, as kaya_fit: on 12 simulated regions the mixed form diverges a few % of draws
    model = KayaModel(common_shocks=True, parameterization="non_centered")
    return panel, g, _fit(model, panel, seed=9, draws=400, tune=500)


@pytest.mark.slow
def test_kaya_common_shocks_recover_the_year_effect_scale(kaya_common_fit):
    """Fitted jointly, the year-effect sd lies within 3 posterior sd of the value the data were drawn with,
    and the year effects themselves follow the ones drawn (94 % HDIs)."""
    _, g, model = kaya_common_fit
    tau = model.idata.posterior["common_shock_sd"]
    assert abs(float(tau.mean()) - COMMON_SHOCK_SD) < 3 * float(tau.std()), (float(tau.mean()), float(tau.std()))
    assert model.idata.posterior["common_shock"].sizes["shock_year"] == N_YEARS - 1
    assert _inside_hdi(model.idata, "common_shock", g).mean() >= 0.8
    for name in ("drift_income", "log_noise_mu"):
        assert _inside_hdi(model.idata, name, KAYA_TRUE[name]), name


def _growth_correlation(model, panel, *, draws=2000, year_offset=2):
    """Correlation across forecast draws of two regions' change of log carbon intensity in one year."""
    scenario = Scenario.from_history(panel, horizon=FIRST_YEAR + N_YEARS + 6)
    pred = model.predict(scenario, draws=draws, random_seed=3, regions=["R02", "R05"])
    d = np.diff(np.log(pred["carbon_intensity"].values), axis=-1)[:, :, year_offset]
    return float(np.corrcoef(d[:, 0], d[:, 1])[0, 1])


@pytest.mark.slow
def test_common_shocks_correlate_the_regions_forecasts_within_a_year(kaya_common_fit):
    """With common shocks two regions' forecast intensity growth in the same year is positively
    correlated (the shared g_t); the same posterior without year effects gives uncorrelated regions
    (|r| within 4.5 standard errors, 1/sqrt(2000) = 0.022, of 0)."""
    panel, _, model = kaya_common_fit
    with_common = _growth_correlation(model, panel)
    independent = KayaModel()
    post = model.idata.posterior.drop_vars(["common_shock", "common_shock_sd"]).drop_dims("shock_year")
    independent.attach(az.InferenceData(posterior=post), independent.prepare(panel))
    without = _growth_correlation(independent, panel)
    assert with_common > 0.25, with_common
    assert abs(without) < 0.1, without


@pytest.mark.slow
def test_kaya_common_shocks_setting_round_trips_and_older_files_load_without_it(kaya_common_fit, kaya_fit, tmp_path):
    import json

    from forecast.models.persistence import config_hash, save_idata

    panel, _, model = kaya_common_fit
    path = model.save(tmp_path / "common.nc")
    loaded = KayaModel.load(path, common_shocks=True)
    assert loaded.common_shocks is True and loaded.get_settings() == model.get_settings()
    assert "last_change_year" in loaded.idata.constant_data
    np.testing.assert_array_equal(loaded.predict(Scenario.from_history(panel, horizon=2030), draws=20, random_seed=1)["co2_per_capita"],
                                  model.predict(Scenario.from_history(panel, horizon=2030), draws=20, random_seed=1)["co2_per_capita"])
    with pytest.raises(ModelStateError, match="common_shocks: saved True, expected False"):
        KayaModel.load(path, common_shocks=False)
    # a file written before the setting existed: no common_shocks in its settings -> the default (False)
    old = kaya_fit[2].idata.copy()
    settings = json.loads(old.posterior.attrs["model_settings"])
    del settings["common_shocks"]
    old.posterior.attrs.update(model_settings=json.dumps(settings, sort_keys=True), config_hash=config_hash(settings))
    old_path = save_idata(old, tmp_path / "old.nc")
    assert KayaModel.load(old_path, common_shocks=False).common_shocks is False
    with pytest.raises(ModelStateError, match="common_shocks: saved False, expected True"):
        KayaModel.load(old_path, common_shocks=True)


def test_shared_drift_walk_has_zero_mean_and_steps_with_its_sd_and_forecasts_start_from_its_end():
    """The drift walk m_t has mean 0 over the fitted years (drift_mu stays the mean drift) and its yearly
    steps are common_drift_sd times standard normals (prior draws: 300 x 32 steps, so the sd of the
    standardised steps is 1 within 0.05, about 4 standard errors). Forecast draws start from each region's
    drift plus the walk's last value."""
    panel, _ = simulate_kaya()
    model = KayaModel(common_drift=True)
    prior = model.sample_prior_predictive(panel, draws=300, random_seed=1).prior
    walk = prior["common_drift"]
    assert walk.sizes["shock_year"] == N_YEARS - 1
    np.testing.assert_allclose(walk.mean("shock_year"), 0.0, atol=1e-12)
    steps = walk.diff("shock_year") / prior["common_drift_sd"]
    assert abs(float(steps.std()) - 1.0) < 0.05
    # the prior draws as a posterior: kernel_params adds m_T to the drifts, nothing to the residual start
    posterior = prior.drop_vars([v for v in prior.data_vars if v.startswith("d_log")])
    model.attach(az.InferenceData(posterior=posterior), model.prepare(panel))
    params = model.kernel_params(50, np.random.default_rng(0))
    import xarray as xr

    post = model.idata.posterior.sel(chain=xr.DataArray(params["chain"], dims="sample"),
                                     draw=xr.DataArray(params["draw"], dims="sample"))
    m_last = post["common_drift"].isel(shock_year=-1).values
    np.testing.assert_allclose(params["drift"], post["drift"].transpose("sample", "region").values + m_last[:, None])
    np.testing.assert_allclose(params["common_shock_last"], 0.0, atol=1e-15)
    assert params["common_drift_sd"].shape == (50,)


def test_common_shocks_and_drift_settings_are_checked_and_the_drift_walk_is_a_kaya_only_study_key(tmp_path):
    from forecast.errors import StudyError
    from forecast.run.pipeline import model_settings
    from forecast.run.study import load_study

    with pytest.raises(InputError, match="common_shocks must be true or false"):
        KayaModel(common_shocks="yes").check_settings()
    with pytest.raises(InputError, match="common_drift must be true or false"):
        KayaModel(common_drift=1).check_settings()
    assert "common_drift_sd" in KayaModel(common_drift=True).prior_terms()
    assert "common_shock_sd" in KayaModel(common_shocks=True).prior_terms()
    assert "common_shock_sd" not in KayaModel().prior_terms()
    study = tmp_path / "study.toml"
    study.write_text(KAYA_STUDY.replace('type = "kaya"\n', 'type = "kaya"\ncommon_shocks = true\n'), encoding="utf-8")
    assert model_settings(load_study(study))["common_shocks"] is True
    study.write_text(KAYA_STUDY.replace('type = "kaya"\n', 'type = "ekc"\ncommon_shocks = true\n'), encoding="utf-8")
    assert model_settings(load_study(study))["common_shocks"] is True  # the EKC has year effects too
    study.write_text(KAYA_STUDY.replace('type = "kaya"\n', 'type = "ekc"\ncommon_drift = true\n'), encoding="utf-8")
    with pytest.raises(StudyError, match=r"\[model\] common_drift: not a setting of the ekc model"):
        model_settings(load_study(study))


# ----------------------------------------------------------------------------- drivers x Kaya on real data
@pytest.mark.slow
def test_kaya_with_driver_scenario_on_real_data(shared_data_dir):
    """The full Raftery-style chain on real data: GDP and population models and the Kaya model fitted to
    the OWID panel, forecasts with dims (sample, region, year) and plausible, data-anchored bands."""
    from forecast import load_panel

    regions = ["United States", "China", "India", "Germany", "Japan", "Brazil", "Indonesia", "France"]
    panel = load_panel("owid", data_dir=shared_data_dir, years=(1990, 2022), regions=regions)
    scenario = DriverScenario.from_models(panel, horizon=2040)
    scenario.fit_drivers(random_seed=1, draws=200, tune=300, progress=False)
    model = _fit(KayaModel(), panel, seed=2, draws=200, tune=300)
    fc = forecast_emissions(model, scenario, panel, regions=["China", "India", "Germany"], draws=300, random_seed=3)
    assert fc.ds["co2"].dims == ("sample", "region", "year")
    co2_2030 = fc.ds["co2"].sel(year=2030)
    last = panel[panel["year"] == 2022].set_index("region")["co2"]
    for region in ("China", "India", "Germany"):
        lo, hi = np.quantile(co2_2030.sel(region=region), [0.05, 0.95])
        # eight years ahead: the band contains neither a halving nor a doubling of the last observation
        assert last[region] / 2 < lo < last[region] * 1.6 and last[region] * 0.6 < hi < last[region] * 2, region
    g = fc.ds["gdp_per_capita"].sel(year=2040)
    assert (g.sel(region="China").median() > g.sel(region="India").median())
    assert (g.sel(region="Germany").median() > g.sel(region="China").median())


KAYA_STUDY = """
[study]
name = "kaya-tiny"
seed = 5

[data]
years = [2000, 2022]
regions = ["United States", "China", "India", "Germany", "Japan"]
min_years = 10

[model]
type = "kaya"
rationale = "it is the model under test"

[sampler]
draws = 60
tune = 100

[scenario]
type = "drivers"
horizon = 2040

[forecast]
draws = 100
focus_regions = ["China", "India"]

[[targets]]
kind = "intensity_reduction"
year = 2030
base_year = 2005
reduction = 0.65
regions = ["China"]
"""


@pytest.mark.slow
def test_cli_run_then_report_reuses_the_saved_kaya_and_driver_models(tmp_path, shared_data_dir, monkeypatch):
    """`run` saves the Kaya model and the driver models; `report --model` forecasts from them without
    refitting anything and reproduces the run's bands and target probabilities."""
    import json
    import sys

    import forecast.cli as cli
    from forecast.models import base

    study = tmp_path / "study.toml"
    study.write_text(KAYA_STUDY, encoding="utf-8")

    def main(*args):
        monkeypatch.setattr(sys, "argv", ["carbon-forecast", *map(str, args)])
        with warnings.catch_warnings():
            try:
                cli.main()
            except SystemExit as exit_:
                return exit_.code
        return 0

    assert main("run", study, "--out", tmp_path / "run", "--data-dir", shared_data_dir, "--quiet") == 0
    for name in ("model.nc", "gdp_convergence.nc", "population_growth.nc"):
        assert (tmp_path / "run" / name).is_file(), name
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["study"]["model"]["model"] == "kaya"
    assert 0.0 <= summary["regions"]["China"]["targets"][0]["p_met"] <= 1.0
    report = (tmp_path / "run" / "report.md").read_text()
    assert "## Why the Kaya emission model" in report and "The study chose kaya because it is the model under test" in report
    assert "## Probability of meeting the targets" in report
    monkeypatch.setattr(base, "sample_model", lambda *a, **k: pytest.fail("report refitted a driver model"))
    assert main("report", study, "--model", tmp_path / "run" / "model.nc", "--out", tmp_path / "rep",
                "--data-dir", shared_data_dir, "--quiet") == 0
    a = pd.read_csv(tmp_path / "run" / "bands.csv")
    b = pd.read_csv(tmp_path / "rep" / "bands.csv")
    pd.testing.assert_frame_equal(a, b)
    again = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert again["regions"]["China"]["targets"] == summary["regions"]["China"]["targets"]
