"""The shipped studies run end to end on the real data (small draw counts): the China provinces study
(peak table, carrying capacity, compensation, grouping) and the China sinks study (neutrality)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from forecast.errors import SamplerWarning
from forecast.pipeline import run_study, write_outputs
from forecast.study import default_study_path, load_study

SMALL = {"sampler": {"draws": 150, "tune": 200}, "forecast": {"draws": 300}}


def small(name: str):
    return load_study(default_study_path(name)).with_overrides(**SMALL)


@pytest.fixture(scope="module")
def provinces(shared_data_dir, tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplerWarning)
        run = run_study(small("china-provinces"), data_dir=shared_data_dir, progress=False)
    out = write_outputs(run, tmp_path_factory.mktemp("prov") / "out")
    return run, out


@pytest.mark.slow
def test_provinces_peak_table_covers_all_provinces_grouped(provinces):
    run, out = provinces
    from forecast.china import PROVINCE_GROUPS

    table = run.result.peak_table
    assert len(table) == 30 and set(table.index) <= set(PROVINCE_GROUPS)
    assert table["p_peak_by_2030"].between(0, 1).all()
    assert (table["p_peak_by_2030"] >= table["p_already_peaked"]).all()
    grouped = next(v for k, v in run.result.extra_tables.items() if k.startswith("Peak probabilities by province group"))
    assert list(dict.fromkeys(grouped["group"])) == ["east", "central", "west"]
    assert (out / "figures" / "peak_by_group.png").stat().st_size > 10_000


@pytest.mark.slow
def test_provinces_compensation_balances_and_capacity(provinces):
    run, out = provinces
    tables = run.result.extra_tables
    comp = next(v for k, v in tables.items() if k.startswith("Horizontal compensation"))
    # allocations are shares of the provinces' actual total: balances and payments sum to zero
    assert abs(comp["balance_mean"].sum()) < 1e-6 * comp["balance_mean"].abs().sum()
    assert abs(comp["payment_mean"].sum()) < 1e-6 * comp["payment_mean"].abs().sum()
    caps = [v for k, v in tables.items() if k.startswith("Carrying capacity")]
    assert len(caps) == 2
    hold = caps[0]
    # holding each province at its own median 2030 level: overload in 2030 is a coin flip by construction
    assert np.allclose(hold.loc[hold["year"] == 2030, "P(overload)"], 0.5, atol=0.1)
    bands = pd.read_csv(out / "bands.csv")
    payments = bands[bands["variable"] == "compensation_payment"]
    assert len(payments) == 30 and set(payments["year"]) == {2030}
    assert abs(payments["mean"].sum()) < 1e-6 * payments["mean"].abs().sum()
    assert {"population_capacity__national_cap_per_capita", "gdp_capacity__hold_2030_level"} <= set(bands["variable"])
    report = (out / "report.md").read_text()
    assert "Horizontal compensation in 2030" in report and "Carrying capacity under cap" in report
    assert "china_ceads_province_co2.csv" in report  # provenance of every file used


@pytest.mark.slow
def test_china_sinks_study_neutrality_with_and_without_cfe_decline(shared_data_dir, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplerWarning)
        run = run_study(small("china"), data_dir=shared_data_dir, progress=False)
    out = write_outputs(run, tmp_path / "out")
    sinks = run.result.sinks
    assert 0 <= sinks["p_decline"] <= 1
    assert set(sinks["neutrality"].index) == {"China"} and set(sinks["neutrality_constant_cfe"].index) == {"China"}
    ds = xr.open_dataset(out / "forecast.nc")
    future = ds.sel(region="China", year=ds["is_forecast"])
    # net = emissions - sink, draw by draw (float32 storage)
    np.testing.assert_allclose(future["net_co2"], future["co2"] - future["sink"], rtol=1e-4)
    # the declining CFE never gives a larger mean sink than the constant-CFE counterfactual
    assert float(future["sink"].mean()) <= float(future["sink_constant_cfe"].mean()) + 1e-6
    summary = json.loads((out / "summary.json").read_text())
    assert "China" in summary["sinks"]["neutrality"]
    bands = pd.read_csv(out / "bands.csv")
    assert {"sink", "sink_constant_cfe", "net_co2"} <= set(bands["variable"])
    assert (out / "figures" / "net_china.png").exists()
    ds.close()
