"""Carbon carrying capacity on small hand-made forecasts (no model fitting)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from forecast.policy.capacity import (
    ALLOCATION_RULES,
    capacity_table,
    carrying_capacity,
    make_cap,
    validate_shares,
)
from forecast.errors import InputError

REGIONS = ["A", "B", "C"]
YEARS = [2029, 2030, 2031]


def make_ds(n_samples: int = 200, seed: int = 0, sink: bool = False) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    shape = (n_samples, len(REGIONS), len(YEARS))
    pop = np.broadcast_to(np.array([1e6, 2e6, 5e5])[None, :, None], shape) * (1 + 0.01 * np.arange(3))
    cpc = np.exp(rng.normal(np.log([5.0, 8.0, 2.0])[None, :, None], 0.2, size=shape))  # t/person
    gdppc = np.broadcast_to(np.array([2e4, 1e4, 4e4])[None, :, None], shape).copy()
    coords = {"sample": np.arange(n_samples), "region": REGIONS, "year": YEARS,
              "is_forecast": ("year", np.array([False, True, True]))}
    ds = xr.Dataset({
        "co2_per_capita": (("sample", "region", "year"), cpc),
        "population": (("sample", "region", "year"), pop.copy()),
        "gdp_per_capita": (("sample", "region", "year"), gdppc),
    }, coords=coords)
    ds["co2"] = ds["co2_per_capita"] * ds["population"] / 1e6
    if sink:
        ds["sink"] = xr.full_like(ds["co2"], 3.0)
    return ds


def test_closed_form_single_draw():
    # one draw, one region: E = 10 Mt, P = 2e6, Y = 4e10 $, cap 5 Mt -> half of each
    ds = xr.Dataset(
        {"co2": (("sample", "region", "year"), [[[10.0]]]),
         "population": (("sample", "region", "year"), [[[2e6]]]),
         "gdp_per_capita": (("sample", "region", "year"), [[[2e4]]])},
        coords={"sample": [0], "region": ["A"], "year": [2030]})
    cap = xr.DataArray([[5.0]], dims=("region", "year"), coords={"region": ["A"], "year": [2030]})
    out = carrying_capacity(ds, cap, built_up_km2={"A": 800.0})
    # per-capita emissions 5 t -> 5e6 t / 5 t = 1e6 people
    assert out["population_capacity"].item() == pytest.approx(1e6)
    # carbon intensity 10e6 t / 4e10 $ -> 5e6 / 2.5e-4 = 2e10 $
    assert out["gdp_capacity"].item() == pytest.approx(2e10)
    # emissions per km2 = 10 Mt / 800 km2 -> 5 Mt / 0.0125 = 400 km2
    assert out["built_up_capacity"].item() == pytest.approx(400.0)
    assert out["p_overload_population"].item() == 1.0
    assert out["population_capacity"].attrs["units"] == "people"
    assert out["built_up_capacity"].attrs["units"] == "km²"


def _same(da: xr.DataArray, like: xr.Dataset) -> xr.DataArray:
    """``da`` with the dimension order of ``like`` and no auxiliary coordinates or attrs."""
    da = da.reset_coords(drop=True).transpose(*[d for d in ("sample", "region", "year") if d in da.dims])
    da.attrs = {}
    return da.rename(None)


def test_closed_form_many_draws():
    ds = make_ds()
    cap = make_cap("peak_level", ds, reference_year=2030, statistic="median")
    out = carrying_capacity(ds, cap, built_up_km2={"A": 100.0, "B": 250.0})
    sub = ds.sel(year=cap["year"])
    expected = cap * 1e6 / sub["co2_per_capita"]  # C / per-capita emissions
    xr.testing.assert_allclose(out["population_capacity"].reset_coords(drop=True), _same(expected, out), rtol=1e-12)
    intensity = sub["co2"] / (sub["gdp_per_capita"] * sub["population"])
    xr.testing.assert_allclose(out["gdp_capacity"].reset_coords(drop=True), _same(cap / intensity, out), rtol=1e-12)
    dens = sub["co2"].sel(region="B") / 250.0
    xr.testing.assert_allclose(out["built_up_capacity"].sel(region="B").reset_coords(drop=True),
                               _same(cap.sel(region="B") / dens, out), rtol=1e-12)
    assert out["built_up_capacity"].sel(region="C").isnull().all()
    p = (sub["co2"] > cap).mean("sample")
    xr.testing.assert_allclose(out["p_overload_population"].reset_coords(drop=True), _same(p, out))
    np.testing.assert_allclose(out["p_overload_gdp"], out["p_overload_population"])
    # median cap at the reference year -> about half the draws overloaded
    assert 0.4 < float(out["p_overload_population"].sel(year=2030).mean()) < 0.6


def test_overload_monotone_in_cap():
    ds = make_ds(seed=3)
    previous = None
    for factor in np.linspace(0.3, 2.5, 12):
        cap = make_cap("peak_level", ds, reference_year=2030, factor=factor, statistic="mean")
        p = carrying_capacity(ds, cap)["p_overload_population"].values
        if previous is not None:
            assert (p <= previous + 1e-15).all()
        previous = p
    assert previous.max() < 0.05


def test_per_capita_and_gdp_rules_split_budget():
    ds = make_ds()
    budget = {2030: 30.0, 2031: 20.0}
    cap = make_cap("per_capita", ds, budget=budget)
    np.testing.assert_allclose(cap.sum("region").sel(year=2031), 20.0)
    share = ds["population"].sel(year=2030) / ds["population"].sel(year=2030).sum("region")
    xr.testing.assert_allclose(_same(cap.sel(year=2030, drop=True), None), _same(30.0 * share.drop_vars("year"), None))
    capg = make_cap("gdp_share", ds, budget=10.0, years=[2031])
    gdp = (ds["gdp_per_capita"] * ds["population"]).sel(year=2031)
    xr.testing.assert_allclose(_same(capg.sel(year=2031, drop=True), None),
                               _same((10.0 * gdp / gdp.sum("region")).drop_vars("year"), None))
    out = carrying_capacity(ds, cap)
    table = capacity_table(out, years=(2030, 2031))
    assert len(table) == 6 and {"population_capacity_q05", "p_overload_gdp", "gdp_capacity_mean"} <= set(table.columns)
    assert (table["population_capacity_q05"] <= table["population_capacity_q95"]).all()


def test_neutrality_and_fixed_shares():
    ds = make_ds(sink=True)
    cap = make_cap("neutrality", ds)
    assert float(cap.min()) == 3.0 and set(cap["year"].values) == {2030, 2031}
    capf = make_cap("fixed_shares", ds, budget=12.0, shares={"A": 0.5, "B": 0.25, "C": 0.25})
    assert float(capf.sel(region="A", year=2030)) == 6.0
    with pytest.raises(InputError, match="no sink"):
        ds2 = ds.copy()
        ds2["sink"] = ds["sink"].where(ds["region"] != "C")
        make_cap("neutrality", ds2)
    with pytest.raises(InputError, match="no 'sink'"):
        make_cap("neutrality", make_ds())


def _cap(values, regions=REGIONS, years=(2030,)):
    return xr.DataArray(np.asarray(values, dtype=float).reshape(len(regions), len(years)), dims=("region", "year"),
                        coords={"region": list(regions), "year": list(years)})


@pytest.mark.parametrize(
    ("cap", "match"),
    [
        (_cap([1.0, -2.0, 1.0]), r"negative.*B/2030"),
        (_cap([1.0, np.nan, 1.0]), r"missing.*B/2030"),
        (_cap([1.0, 1.0], regions=["A", "B"]), r"no cap for forecast region.*C"),
        (_cap([1.0, 1.0, 1.0, 1.0], regions=["A", "B", "C", "Atlantis"]), "not in the forecast.*Atlantis"),
        (_cap([1.0, 1.0, 1.0], years=(2099,)), "2099"),
    ],
)
def test_bad_caps(cap, match):
    with pytest.raises(InputError, match=match):
        carrying_capacity(make_ds(20), cap)


def test_bad_rules_and_shares():
    ds = make_ds(20)
    with pytest.raises(InputError, match="did you mean 'per_capita'"):
        make_cap("per_capita2", ds, budget=1.0)
    with pytest.raises(InputError, match="sum to one"):
        make_cap("fixed_shares", ds, budget=1.0, shares={"A": 0.5, "B": 0.3, "C": 0.1})
    with pytest.raises(InputError, match="negative share"):
        validate_shares({"A": 1.2, "B": -0.2})
    with pytest.raises(InputError, match="not in the forecast"):
        make_cap("fixed_shares", ds, budget=1.0, shares={"A": 0.5, "B": 0.5, "Z": 0.0})
    with pytest.raises(InputError, match="budget"):
        make_cap("per_capita", ds, budget={2030: 5.0})  # 2031 missing
    with pytest.raises(InputError, match="built_up_km2"):
        carrying_capacity(ds, _cap([1, 1, 1]), built_up_km2={"A": -5.0})
    with pytest.raises(InputError, match="not in the forecast"):
        carrying_capacity(ds, _cap([1, 1, 1]), built_up_km2={"Q": 5.0})
    assert set(ALLOCATION_RULES) >= {"peak_level", "per_capita", "gdp_share", "neutrality"}


def test_budget_errors_name_the_value_and_years():
    ds = make_ds(20)
    with pytest.raises(InputError, match=r"budget must be finite and >= 0 Mt CO2/yr; got -3 in year\(s\) 2030-2031"):
        make_cap("per_capita", ds, budget=-3.0)
    with pytest.raises(InputError, match=r"got -1 in year\(s\) 2031$"):
        make_cap("gdp_share", ds, budget={2030: 4.0, 2031: -1.0})
    with pytest.raises(InputError, match=r"no value for year\(s\) 2031 \(a yearly budget needs every year the cap covers: 2030-2031\)"):
        make_cap("per_capita", ds, budget={"2030": 4.0})  # TOML tables have string keys
    assert float(make_cap("per_capita", ds, budget={"2030": 4.0, "2031": 2.0}).sum("region").sel(year=2031).max()) == pytest.approx(2.0)


def test_capacity_and_compensation_charts_are_written(tmp_path):
    """save_figures writes the grouped capacity and compensation charts when the forecast carries cap /
    payment draws, and not otherwise."""
    import pandas as pd

    from forecast.policy.compensation import compensation
    from forecast.report.figures import capacity_chart, compensation_chart, save_figures
    from forecast.run.results import RunResult

    ds = make_ds(100)
    cap = make_cap("peak_level", ds, reference_year=2030, statistic="median")
    ds["cap__hold"] = cap.reindex(year=ds["year"]).broadcast_like(ds["co2"]).transpose("sample", "region", "year")
    pay = compensation(ds, "per_capita", 2030, price_median=50.0, random_seed=1)["payment"]
    ds["compensation_payment"] = pay.expand_dims(year=[2030]).reindex(year=ds["year"]).transpose("sample", "region", "year")
    peak = xr.DataArray(np.full((100, 3), 2030), dims=("sample", "region"), coords={"region": REGIONS})
    table = pd.DataFrame({"p_already_peaked": 0.1, "p_peak_by_2030": 0.5}, index=pd.Index(REGIONS, name="region"))
    groups = {"A": "east", "B": "west", "C": "east"}
    result = RunResult(forecast=ds, peak_year=peak, peak_table=table, turning_points=pd.DataFrame(),
                       diagnostics=pd.DataFrame(), study={"focus_regions": ["A"], "region_groups": groups})
    paths = save_figures(result, tmp_path)
    for name in ("capacity_by_group", "compensation_by_group"):
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 5_000
        assert f"figures/{name}.png" in paths.values()
    # regions ordered by group (east first), labelled with it
    ax = capacity_chart(result, groups)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["A (east)", "C (east)", "B (west)"]
    ax = compensation_chart(result, groups)
    means = ax.collections[-1].get_offsets()[:, 0]
    assert abs(means.sum()) < 1e-6 * np.abs(means).sum()  # payments sum to zero
    bare = RunResult(forecast=make_ds(20), peak_year=peak, peak_table=table, turning_points=pd.DataFrame(),
                     diagnostics=pd.DataFrame(), study={"focus_regions": ["A"]})
    assert not any("by_group" in p for p in save_figures(bare, tmp_path / "bare").values())
    with pytest.raises(InputError, match="cap draws"):
        capacity_chart(bare)
