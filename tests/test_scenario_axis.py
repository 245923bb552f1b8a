"""GDP / population scenarios and policy scenarios on one ``scenario`` dim: the axis, its coordinates, its
round trip through forecast.nc, result.nc, bands and summary.json (hand-made trajectories, no MCMC)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from forecast.errors import InputError
from forecast.io.export import export_all, quantile_bands, summary_dict
from forecast.policy.effort import load_forecast
from forecast.policy.targets import check_targets_on
from forecast.projection.propagate import Forecast
from forecast.run.results import RunResult
from forecast.run.tree import result_tree, write_tree
from forecast.scenarios.axis import (
    COORDS,
    scenario_axis,
    scenario_table,
    with_scenario_axis,
)
from forecast.scenarios.policy import scenario_target_table
from forecast.units import carbon_intensity_kg_per_dollar

YEARS = np.arange(2000, 2051)
LAST = 2020
N = 300


def forecast(gdp_growth: float, n: int = N, seed: int = 5) -> xr.Dataset:
    """One region whose carbon intensity falls by a per-draw rate around 1 %/yr after 2020 (the same draws for
    every ``gdp_growth``, as forecasts with one seed are), GDP per capita grows ``gdp_growth``/yr after 2020,
    population flat; net emissions = emissions - 100 Mt, on a ``cfe`` dim as a run's are."""
    rng = np.random.default_rng(seed)
    rate = np.where(YEARS <= LAST, -0.01, rng.normal(-0.01, 0.005, size=(n, 1, 1)))
    log_intensity = np.cumsum(np.broadcast_to(rate, (n, 1, len(YEARS))), axis=-1)
    growth = np.where(YEARS <= LAST, 0.05, gdp_growth)
    gdp_pc = 1e4 * np.exp(np.cumsum(growth)) * np.ones((n, 1, 1))
    pop = np.full((n, 1, len(YEARS)), 1e8)
    co2 = 0.5 * np.exp(log_intensity) * gdp_pc * pop / 1e9
    dims = ("sample", "region", "year")
    ds = xr.Dataset({"co2": (dims, co2), "gdp_per_capita": (dims, gdp_pc), "population": (dims, pop)},
                    coords={"sample": np.arange(n), "chain": ("sample", np.zeros(n, int)),
                            "draw": ("sample", np.arange(n)), "region": ["China"], "year": YEARS,
                            "is_forecast": ("year", YEARS > LAST), "last_observed_year": ("region", [LAST])})
    ds["co2"].attrs = {"units": "Mt CO2/yr", "long_name": "territorial CO2 emissions"}
    ds["co2_per_capita"] = (ds["co2"] * 1e6 / ds["population"]).assign_attrs(units="t CO2 per person per yr")
    ds["net_co2"] = (ds["co2"] - 100.0).expand_dims(cfe=["declining", "constant"]).assign_attrs(units="Mt CO2/yr")
    return ds


PLEDGE = {"kind": "intensity_pathway", "base_year": 2005, "years": [2030], "reductions": [0.5],
          "source": "a pledge for the test"}
TARGETS = [{"kind": "intensity_reduction", "year": 2030, "base_year": 2005, "reduction": 0.5},
           {"kind": "emissions_below", "year": 2040, "value": 1200.0}]


@pytest.fixture(scope="module")
def axis() -> xr.Dataset:
    return scenario_axis({"history": forecast(0.03), "drivers": forecast(0.01)},
                         {"pledge": PLEDGE, "faster": {"kind": "accelerated_decline", "extra_decline": 0.02}},
                         kinds={"history": "history", "drivers": "drivers"})


def test_every_scenario_is_a_named_described_coordinate(axis):
    assert list(axis["scenario"].values) == ["history", "drivers", "pledge", "faster"]
    assert axis["scenario"].dtype.kind == "U"
    assert list(axis["scenario_kind"].values) == ["history", "drivers", "intensity_pathway", "accelerated_decline"]
    # a policy bends the study's own forecast: its GDP / population scenario is the own one
    assert list(axis["scenario_drivers"].values) == ["history", "drivers", "history", "history"]
    assert all(len(str(d)) > 10 for d in axis["scenario_description"].values)
    assert list(axis["scenario_source"].values) == ["", "", "a pledge for the test", ""]
    for c in ("scenario", *COORDS):
        assert axis[c].attrs.get("long_name")
    assert axis["scenario"].attrs["own_scenario"] == "history"
    table = scenario_table(axis)
    assert list(table.columns) == ["scenario", "kind", "drivers", "description", "source"]
    assert table["scenario"].tolist() == list(axis["scenario"].values)
    # every variable that differs between scenarios, and only those, is on the dim
    assert set(axis.data_vars) == {"co2", "co2_per_capita", "net_co2", "peak_year", "gdp_per_capita", "population"}
    assert all(axis[v].dims[0] == "scenario" for v in axis.data_vars)


def test_the_scenarios_differ_only_where_they_should(axis):
    own, slow = forecast(0.03), forecast(0.01)
    xr.testing.assert_allclose(axis["co2"].sel(scenario="history", drop=True), own["co2"])
    xr.testing.assert_allclose(axis["gdp_per_capita"].sel(scenario="drivers", drop=True), slow["gdp_per_capita"])
    # policies keep the own GDP; the compared scenario's net emissions move with its emissions (same sink)
    xr.testing.assert_allclose(axis["gdp_per_capita"].sel(scenario="pledge", drop=True), own["gdp_per_capita"])
    net = axis["net_co2"].sel(scenario="drivers", drop=True)
    xr.testing.assert_allclose(net, (slow["co2"] - 100.0).broadcast_like(net).transpose(*net.dims))
    # the peak year is each scenario's own
    for name in ("history", "drivers"):
        member = own if name == "history" else slow
        xr.testing.assert_equal(axis["peak_year"].sel(scenario=name, drop=True), Forecast(member).peak_year())
    # the history years are the observations in every scenario
    np.testing.assert_array_equal(axis["co2"].sel(year=slice(None, LAST)).std("scenario"), 0)


def test_p_met_per_scenario_comes_from_the_axis(axis):
    ds = with_scenario_axis(forecast(0.03), axis)
    table = scenario_target_table(ds, check_targets_on(forecast(0.03), TARGETS)).set_index(["scenario", "kind"])["p_met"]
    intensity = carbon_intensity_kg_per_dollar(ds["co2"], ds["gdp_per_capita"], ds["population"])
    ratio = intensity.sel(year=2030) / intensity.sel(year=2005)
    for name in axis["scenario"].values:
        # recomputed from the draws of that scenario, not from the table's own code
        expected = float((ratio.sel(scenario=name) <= 0.5 + 1e-9).mean())
        assert table[(name, "intensity_reduction")] == pytest.approx(expected)
        expected = float((ds["co2"].sel(scenario=name, year=2040) <= 1200.0).mean())
        assert table[(name, "emissions_below")] == pytest.approx(expected)
    # the ceiling pledge meets its own target in every draw; slower GDP growth lowers emissions
    assert table[("pledge", "intensity_reduction")] == 1.0
    assert table[("drivers", "emissions_below")] > table[("history", "emissions_below")]


def test_mismatched_draws_and_taken_names_are_errors():
    other = forecast(0.01).assign_coords(draw=("sample", np.arange(N)[::-1]))
    with pytest.raises(InputError, match="'drivers'.*'draw'"):
        scenario_axis({"history": forecast(0.03), "drivers": other})
    with pytest.raises(InputError, match="'drivers': the name is taken"):
        scenario_axis({"history": forecast(0.03), "drivers": forecast(0.01)}, {"drivers": PLEDGE})


def _result(axis: xr.Dataset | None) -> RunResult:
    ds = forecast(0.03)
    fc = Forecast(ds)
    diagnostics = pd.DataFrame({"r_hat": [1.0], "ess_bulk": [400.0], "ess_tail": [400.0]}, index=["a"])
    diagnostics.attrs.update(divergences=0, draws=100, chains=2, sampler="nutpie", warnings=[])
    return RunResult(forecast=ds, peak_year=fc.peak_year(), peak_table=fc.peak_table(years=[2030]),
                     turning_points=pd.DataFrame(), diagnostics=diagnostics,
                     study={"name": "t", "seed": 1, "focus_regions": ["China"], "quantiles": [0.05, 0.5, 0.95]},
                     scenarios=axis)


def test_exports_carry_one_scenario_dim(axis, tmp_path):
    result = _result(axis)
    export_all(result, tmp_path, levels=[0.05, 0.5, 0.95])
    nc = xr.load_dataset(tmp_path / "forecast.nc", engine="h5netcdf")
    assert nc["co2"].dims == ("scenario", "sample", "region", "year")
    assert nc["peak_year"].dims == ("scenario", "sample", "region") and nc["peak_year"].dtype == np.int32
    assert list(nc["scenario"].values) == list(axis["scenario"].values)
    assert list(nc["scenario_kind"].values) == list(axis["scenario_kind"].values)
    assert nc["co2"].attrs["units"] == "Mt yr-1"  # CF units still in place
    np.testing.assert_allclose(nc["co2"].sel(scenario="pledge"), axis["co2"].sel(scenario="pledge"), rtol=1e-6)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [s["name"] for s in summary["scenarios"]] == list(axis["scenario"].values)
    assert summary["scenarios"][2] == {"name": "pledge", "kind": "intensity_pathway", "drivers": "history",
                                       "description": str(axis["scenario_description"].values[2]),
                                       "source": "a pledge for the test"}
    bands = pd.read_csv(tmp_path / "bands.csv", keep_default_na=False)
    co2 = bands[bands["variable"] == "co2"]
    assert set(co2["variant"]) == {f"scenario={s}" for s in axis["scenario"].values}
    net = set(bands.loc[bands["variable"] == "net_co2", "variant"])
    assert "cfe=constant,scenario=faster" in net or "scenario=faster,cfe=constant" in net
    assert len(net) == 2 * axis.sizes["scenario"]


def test_result_tree_keeps_the_axis_and_effort_reads_one_scenario(axis, tmp_path):
    result = _result(axis)
    write_tree(result_tree(result), tmp_path / "result.nc")
    with xr.open_datatree(tmp_path / "result.nc", engine="h5netcdf") as tree:
        pred = tree["predictions"].to_dataset().load()
    assert pred["co2"].dims[0] == "scenario" and list(pred["scenario_drivers"].values) == list(
        axis["scenario_drivers"].values)
    own = load_forecast(tmp_path / "result.nc")
    xr.testing.assert_allclose(own["co2"], forecast(0.03)["co2"].transpose(*own["co2"].dims))
    drivers = load_forecast(tmp_path / "result.nc", scenario="drivers")
    xr.testing.assert_allclose(drivers["gdp_per_capita"], forecast(0.01)["gdp_per_capita"])
    with pytest.raises(InputError, match="no scenario 'nope'"):
        load_forecast(tmp_path / "result.nc", scenario="nope")


def test_a_run_without_scenarios_is_unchanged():
    result = _result(None)
    pred = result.predictions()
    assert "scenario" not in pred.dims
    assert set(quantile_bands(pred)["variant"]) == {"", "cfe=declining", "cfe=constant"}
    assert "scenarios" not in summary_dict(result)


def test_common_draws_leave_the_model_generator_as_the_own_scenario_does():
    from forecast.scenarios import Scenario
    from forecast.scenarios.axis import CommonDraws

    rows = [{"region": r, "year": y, "gdp_per_capita": 1e4 * np.exp(g * (y - 2000)), "population": 1e7, "co2": 1.0}
            for r, g in (("A", 0.03), ("B", 0.06)) for y in range(2000, 2023)]
    panel = pd.DataFrame(rows)
    own = Scenario.from_history(panel, horizon=2040)
    other = Scenario.from_history(panel, horizon=2040, name="slow", long_run_growth=0.0)
    kwargs = {"start_year": 2023, "n_samples": 50}
    rng_own, rng_common = np.random.default_rng(11), np.random.default_rng(11)
    own.draw(["A", "B"], rng=rng_own, **kwargs)
    paths = CommonDraws(other, own, seed=4).draw(["A", "B"], rng=rng_common, **kwargs)
    # what the model draws next (posterior draws, shocks) is the same as in the own forecast
    np.testing.assert_array_equal(rng_own.random(8), rng_common.random(8))
    # while the paths are the compared scenario's, from their own generator
    xr.testing.assert_equal(paths, other.draw(["A", "B"], rng=np.random.default_rng(4), **kwargs))
    assert CommonDraws(other, own, seed=4).name == "slow"


def test_study_compare_key_and_name_clashes_fail_before_sampling(tmp_path, monkeypatch):
    from forecast.errors import StudyError
    from forecast.run.context import RunContext
    from forecast.run.stages import emissions
    from forecast.run.stages import scenarios as stage
    from forecast.run.study import load_study
    from forecast.scenarios import DriverScenario, Scenario

    base = '[study]\nname = "t"\n[scenario]\ngdp_frontier = ""\nhorizon = 2040\n'
    path = tmp_path / "study.toml"
    path.write_text(base + 'compare = ["history"]\n', encoding="utf-8")
    with pytest.raises(StudyError, match="must not repeat a scenario or name the study's own type 'history'"):
        load_study(path)
    path.write_text(base + 'compare = ["drivers"]\n[policy.drivers]\nkind = "accelerated_decline"\n'
                    "extra_decline = 0.01\n", encoding="utf-8")
    study = load_study(path)
    rows = [{"region": r, "year": y, "gdp_per_capita": 1e4 * np.exp(g * (y - 1990)),
             "population": 1e7 * (1 + 0.01 * (y - 1990)), "co2": 1.0} for r, g in (("A", 0.02), ("B", 0.05)) for y in range(1990, 2023)]
    panel = pd.DataFrame(rows)
    ctx = RunContext(study=study, panel=panel, scenario=Scenario.from_history(panel, horizon=2040), regions=["A", "B"])
    with pytest.raises(StudyError, match=r"\[policy.drivers\] the name is taken"):
        stage._check(ctx)
    assert len(ctx.comparisons) == 1 and isinstance(ctx.comparisons[0], DriverScenario)
    assert ctx.comparisons[0].name == "drivers"
    # too many scenarios for the memory: refused before sampling, naming the settings
    path.write_text(base + 'compare = ["drivers"]\n[forecast]\ndraws = 20000\n', encoding="utf-8")
    ctx.study = load_study(path)
    ctx.regions = [f"R{i}" for i in range(400)]
    ctx.panel = panel.assign(region=np.resize(ctx.regions, len(panel)))
    monkeypatch.setattr(emissions, "_memory_bytes", lambda: 16 * 2**30)
    with pytest.raises(StudyError, match=r"2 scenarios .* need about \d+\.\d GiB, more than this machine's 16.0 GiB"):
        stage._check_memory(ctx, 2)


def test_cli_effort_reads_the_asked_scenario_of_a_saved_run(axis, tmp_path, console_script):
    from forecast.policy.effort import required_effort
    from forecast.policy.targets import parse_target

    folder = tmp_path / "run"
    folder.mkdir()
    write_tree(result_tree(_result(axis)), folder / "result.nc")
    study = tmp_path / "study.toml"
    study.write_text('[study]\nname = "t"\n', encoding="utf-8")
    args = ("effort", study, "--from", folder, "--prob", "0.5", "--target", "emissions_below:2040:1200")
    code, _, err = console_script(*args, "--scenario", "drivers", "--out", tmp_path / "out")
    assert code == 0, err
    table = pd.read_csv(tmp_path / "out" / "effort.csv")
    drivers = with_scenario_axis(forecast(0.03), axis).sel(scenario="drivers").drop_vars("peak_year")
    direct = required_effort(drivers, parse_target("emissions_below:2040:1200"), (0.5,))
    # P(met) now is the drivers scenario's (slower GDP), not the own one's (0 here)
    assert table.loc[0, "p_met_now"] == pytest.approx(float((drivers["co2"].sel(year=2040) <= 1200.0).mean()))
    assert table.loc[0, "p_met_now"] > 0.1
    assert table.loc[0, "required"] == pytest.approx(direct["required"].item(), abs=1e-6)
    code, _, err = console_script(*args, "--scenario", "nope")
    assert code != 0 and "no scenario 'nope'" in err


def test_scenario_chart_draws_each_scenario_and_is_saved_with_the_report_figures(axis, tmp_path):
    """One line and band per scenario; the legend's P(peak ≤ 2030) is that scenario's, read off the axis's
    peak-year draws (the faster decline peaks earlier than the history scenario); a run without the axis
    gets no such figure."""
    from forecast.report.figures import save_figures, scenario_chart

    result = _result(axis)
    ax = scenario_chart(result)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "observed" and len(labels) == 1 + axis.sizes["scenario"]
    p = {str(s): float((axis["peak_year"].sel(scenario=s, region="China") <= 2030).mean()) for s in axis["scenario"].values}
    assert p["faster"] > p["history"]
    for name, label in zip(axis["scenario"].values, labels[1:]):
        assert label.startswith(f"{name}: P(peak ≤ 2030) ")
    paths = save_figures(result, tmp_path)
    assert any(v.endswith("scenarios.png") for v in paths.values())
    assert (tmp_path / "figures" / "scenarios.png").is_file()
    assert not any(v.endswith("scenarios.png") for v in save_figures(_result(None), tmp_path / "none").values())
