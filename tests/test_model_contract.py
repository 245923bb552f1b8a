"""The model contract is real: a toy model written in a few lines through the public base class runs
through fit, predict, save / load, a study (by its registered name) and the report; and every shipped
model honours the same contract (settings from the constructor, registry, refusal of mismatched files)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm
import pytest
import xarray as xr

from forecast.errors import InputError, ModelStateError
from forecast.models import BayesianModel, model_class, registered_models
from forecast.models.base import check_regions

SMALL_STUDY = Path(__file__).resolve().parent / "fixtures" / "small" / "study.toml"


class ToyDrift(BayesianModel):
    """Δ log(CO2 per person) = d_i + σ ε: a random walk with drift per region, nothing else."""

    name, version, kind = "toy_drift", "toy-1", "emissions"

    def __init__(self, model_config=None, *, drift_sd: float = 0.05):
        super().__init__(model_config)
        self.drift_sd = drift_sd

    def prepare(self, panel, **options):
        frame = panel.sort_values(["region", "year"])
        dy = np.log(frame["co2_per_capita"]).groupby(frame["region"]).diff()
        last = frame.groupby("region").tail(1).set_index("region")
        regions = sorted(last.index)
        return {"regions": regions, "dy": dy[dy.notna()].to_numpy(),
                "idx": pd.Categorical(frame["region"][dy.notna()], categories=regions).codes,
                "last": last.loc[regions]}

    def build_model(self, a):
        with pm.Model(coords={"region": a["regions"]}) as model:
            drift = pm.Normal("drift", 0.0, self.drift_sd, dims="region")
            sigma = pm.HalfNormal("sigma", 0.1)
            pm.Normal("dy", drift[a["idx"]], sigma, observed=a["dy"])
        return model

    def state(self, a):
        return xr.Dataset({"last_year": ("region", a["last"]["year"].to_numpy()),
                           "last_log_co2_per_capita": ("region", np.log(a["last"]["co2_per_capita"].to_numpy()))},
                          coords={"region": a["regions"]})

    @staticmethod
    def simulate(params, drivers, shocks):
        steps = params["drift"][:, :, None] + params["sigma"][:, None, None] * shocks
        return np.exp(drivers["last_log_co2_per_capita"].values[None, :, None] + np.cumsum(steps, axis=-1))

    def predict(self, scenario, *, draws=1000, random_seed=None, regions=None):
        regions, rng = check_regions(self, regions), np.random.default_rng(random_seed)
        state = self.idata.constant_data.sel(region=regions)
        paths = scenario.draw(regions, start_year=int(state["last_year"].max()) + 1, n_samples=draws, rng=rng)
        p = self.posterior_draws(["drift", "sigma"], draws, rng)
        p["drift"] = p["drift"][:, [self.regions.index(r) for r in regions]]
        co2 = self.simulate(p, state, rng.standard_normal((draws, len(regions), paths.sizes["year"])))
        paths["co2_per_capita"] = (("sample", "region", "year"), co2, {"units": "t CO2 per person per yr"})
        return paths.assign_coords(chain=("sample", p["chain"]), draw=("sample", p["draw"]))


@pytest.fixture(scope="module")
def small_panel(shared_data_dir):
    from forecast.data import load_panel

    return load_panel("owid", data_dir=shared_data_dir, years=(2000, 2022), regions=["China", "Germany", "India"])


@pytest.fixture(scope="module")
def toy(small_panel):
    return ToyDrift().fit(small_panel, random_seed=3, draws=200, tune=200, progress=False)


def test_toy_model_is_registered_and_stores_its_settings():
    assert model_class("toy_drift") is ToyDrift
    assert ToyDrift.setting_names() == ["model_config", "drift_sd"]
    assert ToyDrift(drift_sd=0.2).get_settings() == {"model": "toy_drift", "model_version": "toy-1",
                                                     "model_config": {}, "drift_sd": 0.2}
    with pytest.raises(InputError, match="did you mean 'toy_drift'"):
        model_class("toy_drfit")


@pytest.mark.slow
def test_toy_model_fits_predicts_and_round_trips(toy, small_panel, tmp_path):
    from forecast.projection.propagate import forecast_peak
    from forecast.scenarios import Scenario

    assert toy.diagnostics is not None and toy.idata.posterior.attrs["model_class"].endswith("ToyDrift")
    assert json.loads(toy.idata.posterior.attrs["model_settings"])["drift_sd"] == 0.05
    fc = forecast_peak(toy, Scenario.from_history(small_panel, horizon=2040), draws=300, random_seed=1)
    assert fc.ds["co2"].dims == ("sample", "region", "year") and fc.ds["co2"].attrs["units"]
    # each sample remembers the posterior draw it used
    post = toy.idata.posterior
    pick = fc.ds.isel(sample=7)
    drift = post["drift"].sel(chain=int(pick["chain"]), draw=int(pick["draw"]), region="China")
    assert np.isfinite(float(drift))
    assert 0 <= float(fc.peak_year_probability(by=2030)["Germany"]) <= 1

    path = toy.save(tmp_path / "toy.nc")
    loaded = ToyDrift.load(path)
    assert loaded.get_settings() == toy.get_settings() and loaded.regions == toy.regions
    again = forecast_peak(loaded, Scenario.from_history(small_panel, horizon=2040), draws=300, random_seed=1)
    xr.testing.assert_identical(again.ds, fc.ds)
    with pytest.raises(ModelStateError, match="drift_sd: saved 0.05, expected 0.5"):
        ToyDrift.load(path, drift_sd=0.5)
    with pytest.raises(ModelStateError, match="holds model 'toy_drift'"):
        model_class("ekc").load(path)


@pytest.mark.slow
def test_toy_model_runs_as_a_study_model_through_the_report(shared_data_dir, tmp_path):
    from forecast.run.pipeline import run_study, write_outputs
    from forecast.run.study import load_study

    text = SMALL_STUDY.read_text(encoding="utf-8").replace('type = "ekc"\ndegree = 2', 'type = "toy_drift"')
    assert 'type = "toy_drift"' in text
    (tmp_path / "study.toml").write_text(text, encoding="utf-8")
    run = run_study(load_study(tmp_path / "study.toml"), data_dir=shared_data_dir, progress=False)
    out = write_outputs(run, tmp_path / "res")
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "toy\\_drift" in report and "Germany" in report  # the model named in the settings (Markdown-escaped)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert 0 <= summary["regions"]["Germany"]["p_already_peaked"] <= 1
    assert model_class("toy_drift").load(out / "model.nc").regions == run.model.regions


def test_a_study_naming_an_unknown_model_fails_naming_it(tmp_path):
    from forecast.run.study import load_study

    text = SMALL_STUDY.read_text(encoding="utf-8").replace('type = "ekc"', 'type = "toy_drfit"')
    (tmp_path / "study.toml").write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match="toy_drfit.*did you mean 'toy_drift'"):
        load_study(tmp_path / "study.toml")


def test_every_shipped_model_follows_the_one_contract():
    shipped = {"ekc", "kaya", "stirpat", "land_sink", "emission_factors", "gdp_convergence", "population_growth",
               "drift"}
    models = registered_models()
    assert shipped <= set(models)
    for name in shipped:
        cls = models[name]
        assert issubclass(cls, BayesianModel) and cls.version != "0", name
        # fit / save / load / diagnostics are written once, in the base
        for method in ("fit", "save", "load", "get_settings", "posterior_draws", "_require_fit"):
            assert method not in cls.__dict__, f"{name} re-writes {method}"
        for method in ("prepare", "build_model", "predict"):
            assert getattr(cls, method) is not getattr(BayesianModel, method), f"{name} lacks {method}"
        model = cls()
        assert set(model.get_settings()) == {"model", "model_version", *cls.setting_names()}


def test_model_settings_of_a_study_refuse_a_setting_the_model_does_not_take(tmp_path):
    from forecast.errors import StudyError
    from forecast.run.pipeline import model_settings
    from forecast.run.study import load_study

    text = SMALL_STUDY.read_text(encoding="utf-8").replace('type = "ekc"\ndegree = 2', 'type = "kaya"\ndegree = 3')
    (tmp_path / "study.toml").write_text(text, encoding="utf-8")
    with pytest.raises(StudyError, match=r"\[model\] degree: not a setting of the kaya model"):
        model_settings(load_study(tmp_path / "study.toml"))
