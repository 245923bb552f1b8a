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
from forecast.run.pipeline import run_study, write_outputs
from forecast.run.study import default_study_path, load_study

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
    from forecast.data.china import PROVINCE_GROUPS

    table = run.result.peak_table
    assert len(table) == 30 and set(table.index) <= set(PROVINCE_GROUPS)
    assert table["p_peak_by_2030"].between(0, 1).all()
    assert (table["p_peak_by_2030"] >= table["p_already_peaked"]).all()
    assert list(run.result.tables)[0] == "peak_by_group"  # shown first
    grouped = run.result.tables["peak_by_group"]
    assert list(dict.fromkeys(grouped["group"])) == ["east", "central", "west"]
    assert (out / "figures" / "peak_by_group.png").stat().st_size > 10_000


@pytest.mark.slow
def test_provinces_compensation_balances_and_capacity(provinces):
    run, out = provinces
    tables = run.result.tables
    comp = next(v for k, v in tables.items() if k.startswith("compensation__"))
    assert comp.attrs["title"].startswith("Horizontal compensation")
    # allocations are shares of the provinces' actual total: balances and payments sum to zero
    assert abs(comp["balance_mean"].sum()) < 1e-6 * comp["balance_mean"].abs().sum()
    assert abs(comp["payment_mean"].sum()) < 1e-6 * comp["payment_mean"].abs().sum()
    caps = [v for k, v in tables.items() if k.startswith("capacity__")]
    assert len(caps) == 4
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
def test_provinces_capacity_with_sinks_and_sink_mode_compensation(provinces):
    """The shipped provincial areas (priors/china_province_areas.csv) feed capacity with sinks and the sink mode."""
    run, _ = provinces
    tables = run.result.tables
    both = tables["capacity_sinks__national_cap_per_capita_net"]
    assert len(both) == 2 * 30
    # forest and cropland sinks are uptakes in most draws: the median capacity with the sink is not lower
    assert (both["population_capacity_with_sink_q50"] >= both["population_capacity_q50"]).all()
    sink = tables["compensation__sink"]
    assert "cfe" not in sink.columns and len(sink) == 30
    # zero sum per draw, so also in the mean (all zero when no province is a net sink in any draw)
    assert abs(sink["payment_mean"].sum()) <= 1e-6 * max(sink["payment_mean"].abs().sum(), 1.0)
    assert ((sink["p_pays"] + sink["p_receives"]) <= 1).all()


@pytest.mark.slow
def test_provinces_report_has_grouped_capacity_and_compensation_charts_and_data_notes(provinces):
    run, out = provinces
    for name in ("capacity_by_group", "compensation_by_group"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 10_000
    report = (out / "report.md").read_text()
    assert "figures/capacity_by_group.png" in report and "figures/compensation_by_group.png" in report
    assert "Compensation payments by region group" in (out / "report.html").read_text()
    notes = run.result.tables["data_notes"].set_index("topic")
    assert (notes.loc["overlap of CO2, GDP and population", "first year"],
            notes.loc["overlap of CO2, GDP and population", "last year"]) == (2004, 2016)
    assert "China provincial data: coverage, gaps and conversions" in report and "no inventory for Tibet" in report


@pytest.fixture(scope="module")
def china_sinks(shared_data_dir, tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplerWarning)
        # the GCB land-sink model instead of the study's joint one (5 min on 2 cores); the joint model is
        # exercised by tests/test_prior_and_windows.py and the recovery tests in tests/test_sinks_joint.py
        run = run_study(small("china").with_overrides(sinks={"land_model": "gcb"}), data_dir=shared_data_dir,
                        progress=False)
    out = write_outputs(run, tmp_path_factory.mktemp("china") / "out")
    return run, out


@pytest.mark.slow
def test_china_sinks_study_neutrality_with_and_without_cfe_decline(china_sinks):
    run, out = china_sinks
    sinks = run.result.sinks
    assert 0 <= sinks["p_decline"] <= 1
    assert list(sinks["neutrality"].index) == [("declining", "China"), ("constant", "China")]
    ds = xr.open_dataset(out / "forecast.nc")
    # the study compares scenarios (history, drivers, policies) on one dim; the sink is the same in all
    assert list(ds["scenario"].values) == ["history", "drivers", "ndc_2030", "ndc_2030_official", "faster_2pct"]
    assert "scenario" not in ds["sink"].dims and ds["net_co2"].dims[0] == "scenario"
    future = ds.sel(region="China", year=ds["is_forecast"], scenario="history")
    # net = fossil + land-use change - sink, draw by draw (float32 storage); the terms add up
    assert future["sink"].dims == ("cfe", "sample", "year") and list(future["cfe"].values) == ["declining", "constant"]
    assert "China" in ds["sink"].attrs["comment"] and "NaN elsewhere" in ds["sink"].attrs["comment"]
    net = (future["co2"] + future["luc_co2"] - future["sink"]).transpose(*future["net_co2"].dims)
    np.testing.assert_allclose(future["net_co2"], net, rtol=1e-4, atol=1e-2)  # both variants
    terms = sinks["emission_terms"].set_index("term")
    assert terms.loc["Fossil and industry CO2", "status"] == "included"
    assert terms.loc["Non-CO2 gases (CH4, N2O, F-gases)", "status"] == "excluded"
    assert "forest ageing factor" in terms.loc["Ecosystem sink on land remaining in its class", "treatment"]
    # the declining CFE never gives a larger mean sink than the constant-CFE counterfactual
    assert float(future["sink"].sel(cfe="declining").mean()) <= float(future["sink"].sel(cfe="constant").mean()) + 1e-6
    summary = json.loads((out / "summary.json").read_text())
    assert summary["schema_version"] == 2
    assert "China" in summary["sinks"]["neutrality"]["declining"] and "China" in summary["sinks"]["neutrality"]["constant"]
    bands = pd.read_csv(out / "bands.csv", keep_default_na=False)
    sink_rows = bands[bands["variable"] == "sink"]
    assert set(sink_rows["variant"]) == {"cfe=declining", "cfe=constant"} and not sink_rows["observed"].any()
    net_rows = bands[(bands["variable"] == "net_co2") & bands["variant"].str.contains("scenario=history")]
    assert len(set(net_rows["variant"])) == 2 and not net_rows["observed"].any()
    assert set(bands.loc[bands["variable"] == "co2", "variant"]) == {f"scenario={s}" for s in ds["scenario"].values}
    assert (out / "figures" / "net_china.png").exists()
    ds.close()


@pytest.mark.slow
def test_china_sinks_report_shows_the_neutrality_year_distribution(china_sinks):
    """report.md (and report.html, rendered from it) carry the sinks section with the neutrality-year
    quantiles and P(not neutral by the horizon), for the declining and the constant CFE, and the numbers
    are those of the run's neutrality tables."""
    from forecast.report.markdown import NEUTRALITY_YEAR_TITLE

    run, out = china_sinks
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## Carbon sinks and neutrality" in report
    section = report.split("## Carbon sinks and neutrality", 1)[1].split("\n## ", 1)[0]
    assert NEUTRALITY_YEAR_TITLE in section
    assert "What net CO₂ includes" in report and "Grassi G. et al. 2021" in report  # the terms table
    rows = {line.split("|")[2].strip(): [c.strip() for c in line.split("|")[3:-1]]
            for line in section.splitlines() if line.startswith("| China |")
            and line.split("|")[2].strip() in ("declining", "constant")}
    assert set(rows) == {"declining", "constant"}, section
    horizon = run.result.study["horizon"]
    for label in ("declining", "constant"):
        table = run.result.sinks["neutrality"].loc[(label, "China")]
        want = [f"after {horizon}" if int(table[f"neutrality_year_{q}"]) > horizon else str(int(table[f"neutrality_year_{q}"]))
                for q in ("q05", "q50", "q95")]
        assert rows[label][:3] == want, (label, rows[label], want)
        p = float(table["p_not_neutral_by_horizon"])
        assert rows[label][3].endswith("%") and 0 <= p <= 1
        # quantiles over all draws agree with the probability: the ("lower") median is a never-draw iff
        # its rank floor((n - 1) / 2) falls among the n * P(never) largest values
        n = run.result.forecast.sizes["sample"]
        never_median = (n - 1) // 2 >= n - round(p * n)
        assert (rows[label][1] == f"after {horizon}") == never_median, (label, rows[label], p)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Carbon sinks and neutrality" in html and NEUTRALITY_YEAR_TITLE in html


def test_neutrality_year_table_on_hand_made_draws():
    """The report table reads the all-draw quantiles (never = horizon + 1, shown as "after <horizon>")
    and P(not neutral by the horizon) from neutrality_table. No fit: 10 hand-made net paths, 4 neutral
    from 2045, 3 from 2055, 3 never (constant CFE: 3 from 2040, 7 never)."""
    from forecast.sinks.neutrality import neutrality_table
    from forecast.report.markdown import _neutrality_year_table

    years = np.arange(2023, 2061)

    def cube(first_years):
        paths = [np.where(years >= y, -1.0, 1.0) for y in first_years]
        return xr.DataArray(np.array(paths)[:, None, :], dims=("sample", "region", "year"),
                            coords={"sample": np.arange(len(paths)), "region": ["China"], "year": years},
                            attrs={"units": "Mt CO2/yr"})

    declining = neutrality_table(cube([2045] * 4 + [2055] * 3 + [9999] * 3))
    constant = neutrality_table(cube([2040] * 3 + [9999] * 7))
    row = declining.loc["China"]
    assert [int(row[f"neutrality_year_{q}"]) for q in ("q05", "q50", "q95")] == [2045, 2055, 2061]
    assert int(row["neutrality_year_q95_if_reached"]) == 2055 and row["p_not_neutral_by_horizon"] == pytest.approx(0.3)
    text = _neutrality_year_table(declining, constant, 2060)
    assert "| China | declining | 2045 | 2055 | after 2060 | 30% |" in text
    assert "| China | constant | 2040 | after 2060 | after 2060 | 70% |" in text


@pytest.mark.slow
def test_china_study_has_the_uncertainty_waterfall_without_an_inventory_link(china_sinks):
    """A study whose emissions are taken as exact still shows how parameters and drivers widen the peak-year
    interval; its last link (inventory error) adds nothing and the description says why."""
    run, _ = china_sinks
    table = run.result.tables["uncertainty_waterfall"]
    china = table[table["region"] == "China"].set_index("stage")
    assert list(china.index) == ["process noise", "+ parameters", "+ drivers", "+ inventory error"]
    assert china.loc["+ inventory error", "added_years"] == 0
    assert (china["width_90"].diff().dropna() >= -2).all()  # each link keeps the ones before (MC error)
    assert "takes the historical emissions as exact" in table.attrs["description"]
