"""Carrying capacity with ecosystem sinks and compensation with an ability-to-pay adjustment, on small
hand-made forecasts (no model fitting)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from forecast.errors import InputError
from forecast.policy.capacity import add_sink, carrying_capacity, make_cap, sink_capacity_table
from forecast.policy.compensation import compensation

REGIONS = ["A", "B", "C", "D"]
YEARS = [2030, 2031, 2060]


def make_ds(n: int = 400, seed: int = 3, sink_mu=(20.0, 80.0, 40.0, 30.0), sink_sd: float = 0.4) -> xr.Dataset:
    """Emissions log-normal around 100/50/20/80 Mt CO2/yr, sinks log-normal (positive) around ``sink_mu``,
    GDP per capita 30k/10k/20k/5k int-$ with draw-to-draw noise."""
    rng = np.random.default_rng(seed)
    shape = (n, len(REGIONS), len(YEARS))
    dims = ("sample", "region", "year")
    ds = xr.Dataset({
        "co2": (dims, np.exp(rng.normal(np.log([100.0, 50.0, 20.0, 80.0])[None, :, None], 0.3, size=shape))),
        "population": (dims, np.broadcast_to(np.array([1e7, 2e7, 5e6, 3e7])[None, :, None], shape).copy()),
        "gdp_per_capita": (dims, np.exp(rng.normal(np.log([3e4, 1e4, 2e4, 5e3])[None, :, None], 0.2, size=shape))),
        "sink": (dims, np.exp(rng.normal(np.log(sink_mu)[None, :, None], sink_sd, size=shape))),
    }, coords={"sample": np.arange(n), "region": REGIONS, "year": YEARS,
               "is_forecast": ("year", np.ones(len(YEARS), bool))})
    return ds


# ------------------------------------------------------------------------------------------ capacity
@pytest.mark.parametrize("rule, params", [
    ("peak_level", {"reference_year": 2030, "statistic": "median"}),
    ("per_capita", {"budget": 150.0}),
    ("gdp_share", {"budget": {2030: 200.0, 2031: 190.0, 2060: 0.0}}),
])
def test_capacity_with_sinks_at_least_capacity_without(rule, params):
    ds = make_ds()
    without = carrying_capacity(ds, make_cap(rule, ds, **params))
    with_ = carrying_capacity(ds, make_cap(rule, ds, with_sink=True, **params))
    for var in ("population_capacity", "gdp_capacity"):
        a, b = without[var].values, with_[var].values
        assert np.all(b >= a)  # every draw, region and year: the sinks are positive
        assert np.mean(b > a) > 0.99  # and strictly larger wherever emissions are positive
    assert np.all(with_["p_overload_population"].values <= without["p_overload_population"].values)


def test_add_sink_is_cap_plus_sink_per_draw_and_floored():
    ds = make_ds()
    cap = make_cap("per_capita", ds, budget=150.0)
    gross = add_sink(cap, ds)
    np.testing.assert_allclose(gross.values, (cap + ds["sink"].sel(year=cap["year"])).transpose(*gross.dims).values)
    assert gross.attrs["allocation_rule"] == "per_capita + sink"
    # a source larger than the cap: no negative allowance
    src = ds.assign(sink=-ds["sink"] * 100)
    assert float(add_sink(cap, src).min()) == 0.0


def test_zero_cap_with_sink_is_the_neutrality_capacity():
    ds = make_ds()
    zero = make_cap("fixed_shares", ds, budget=0.0, shares={r: 0.25 for r in REGIONS}, with_sink=True)
    neutral = make_cap("neutrality", ds)
    np.testing.assert_allclose(zero.values, neutral.transpose(*zero.dims).values)
    cap = carrying_capacity(ds, neutral)
    # the population a region can carry at net zero is its population x sink / emissions
    expected = ds["population"] * ds["sink"] / ds["co2"]
    np.testing.assert_allclose(cap["population_capacity"].values, expected.transpose(*cap["population_capacity"].dims).values)


def test_sink_capacity_table_compares_both():
    ds = make_ds()
    cap = make_cap("per_capita", ds, budget=150.0)
    t = sink_capacity_table(ds, cap, years=[2030, 2060])
    assert len(t) == len(REGIONS) * 2
    assert (t["population_capacity_with_sink_q50"] >= t["population_capacity_q50"]).all()
    assert (t["p_overload_with_sink"] <= t["p_overload"]).all()
    # region B: sink ~80 on emissions ~50 -> net-negative in most draws, P(overload) with sink small
    b = t[(t.region == "B") & (t.year == 2030)].iloc[0]
    assert b["p_overload_with_sink"] < 0.2 < b["p_overload"]


def test_with_sink_errors():
    ds = make_ds()
    with pytest.raises(InputError, match="count it twice"):
        make_cap("neutrality", ds, with_sink=True)
    with pytest.raises(InputError, match="no 'sink'"):
        make_cap("per_capita", ds.drop_vars("sink"), budget=1.0, with_sink=True)
    partial = ds.copy()
    partial["sink"] = ds["sink"].where(ds["region"] != "C")
    with pytest.raises(InputError, match=r"\['C'\]"):
        make_cap("per_capita", partial, budget=1.0, with_sink=True)
    with pytest.raises(InputError, match="true or false"):
        make_cap("per_capita", ds, budget=1.0, with_sink="yes")
    with pytest.raises(InputError, match="no year"):
        sink_capacity_table(ds, make_cap("per_capita", ds, budget=1.0, years=[2030]), years=[2060])


# ------------------------------------------------------------------------------------------ compensation
MODES = [{"A": 0.4, "B": 0.2, "C": 0.1, "D": 0.3}, "per_capita", "gdp_share", "sink"]


@pytest.mark.parametrize("allocation", MODES)
@pytest.mark.parametrize("eta", [None, 0.0, 0.5, 2.0])
def test_payments_sum_to_zero_in_every_draw(allocation, eta):
    out = compensation(make_ds(), allocation, 2030, price_median=80.0, price_p05=40.0, price_p95=200.0,
                       random_seed=1, currency="CNY", ability_to_pay=eta)
    pay = out["payment"]
    scale = float(abs(pay).max())
    assert np.all(np.abs(pay.sum("region").values) <= 1e-9 * scale)  # each draw, not just on average
    flow = out["flow"]
    np.testing.assert_allclose(flow.sum("payee").values, pay.clip(min=0).values, atol=1e-9 * scale)
    np.testing.assert_allclose(flow.sum("payer").values, (-pay).clip(min=0).values, atol=1e-9 * scale)


@pytest.mark.parametrize("allocation", ["per_capita", "sink"])
def test_ability_to_pay_shifts_the_bill_to_richer_payers(allocation):
    ds = make_ds()
    kw = dict(price_median=80.0, random_seed=1)
    plain = compensation(ds, allocation, 2030, **kw)
    atp = compensation(ds, allocation, 2030, ability_to_pay=1.0, **kw)
    # receivers get the same, payers pay the same in total
    recv = plain["payment"] < 0
    np.testing.assert_allclose(atp["payment"].where(recv).values, plain["payment"].where(recv).values)
    np.testing.assert_allclose(atp["payment"].clip(min=0).sum("region"), plain["payment"].clip(min=0).sum("region"))
    # in a draw with two payers, the one with the higher GDP per capita pays more per t of deficit
    both = (plain["balance"] > 0).sum("region") >= 2
    pay_rate = (atp["payment"] / plain["payment"]).where(plain["balance"] > 0)
    y = ds["gdp_per_capita"].sel(year=2030, drop=True)
    for s in np.flatnonzero(both.values)[:50]:
        r = pay_rate.isel(sample=s).dropna("region")
        order = y.isel(sample=s).sel(region=r["region"]).argsort().values
        assert np.all(np.diff(r.values[order]) > 0)


def test_ability_to_pay_zero_is_plain_and_bad_values_fail():
    ds = make_ds()
    kw = dict(price_median=80.0, random_seed=1)
    np.testing.assert_allclose(compensation(ds, "gdp_share", 2030, ability_to_pay=0.0, **kw)["payment"],
                               compensation(ds, "gdp_share", 2030, **kw)["payment"])
    for bad in (-1.0, float("nan"), True, "1"):
        with pytest.raises(InputError, match="ability_to_pay"):
            compensation(ds, "per_capita", 2030, ability_to_pay=bad, **kw)
    with pytest.raises(InputError, match="needs .gdp_per_capita."):
        compensation(ds.drop_vars("gdp_per_capita"), "sink", 2030, ability_to_pay=1.0, **kw)
    neg = ds.copy()
    neg["gdp_per_capita"] = ds["gdp_per_capita"].where(ds["region"] != "D", -1.0)
    with pytest.raises(InputError, match=r"\['D'\]"):
        compensation(neg, "sink", 2030, ability_to_pay=1.0, **kw)


# ------------------------------------------------------------------------------------------ study keys
def _provinces(**sections):
    from forecast.run.study import load_study, studies_dir

    return load_study(studies_dir() / "china-provinces" / "study.toml").with_overrides(**sections)


def test_study_checks_with_sink_and_ability_to_pay(tmp_path):
    from forecast.errors import StudyError
    from forecast.run.stages.capacity import check_capacity

    regions = ["Beijing", "Hebei", "Tianjin"]
    years = list(range(2017, 2061))
    net = {"net_per_capita": {"rule": "per_capita", "budget": 100.0, "with_sink": True}}
    with pytest.raises(StudyError, match=r"net_per_capita.*needs \[sinks\] enabled"):
        check_capacity(_provinces(capacity={"caps": net}, sinks={"enabled": False}), regions, years)
    # areas (made up for the test) for two of the three regions: the third has no sink to add
    csv = tmp_path / "areas.csv"
    csv.write_text("region,ecosystem,area_mha,source\nBeijing,forest,0.5,made up\nHebei,forest,4,made up\n")
    sinks = {"enabled": True, "areas_csv": str(csv)}
    with pytest.raises(StudyError, match=r"net_per_capita.*'Tianjin'"):
        check_capacity(_provinces(capacity={"caps": net}, sinks=sinks), regions, years)
    check_capacity(_provinces(capacity={"caps": net}, sinks=sinks), regions[:2], years)  # passes
    comp = {"enabled": True, "allocation": "sink", "ability_to_pay": 1.0}
    check_capacity(_provinces(compensation=comp, sinks=sinks), regions[:2], years)
    with pytest.raises(StudyError, match="ability_to_pay"):
        _provinces(compensation={**comp, "ability_to_pay": -1.0})


def test_stage_tables_national_sum_and_capacity_with_sinks():
    from types import SimpleNamespace

    from forecast.run.stages.capacity import run_capacity

    caps = {"share": {"rule": "per_capita", "budget": 250.0},
            "net_share": {"rule": "per_capita", "budget": 250.0, "with_sink": True}}
    study = _provinces(capacity={"caps": caps, "years": [2030, 2060]}, compensation={"enabled": False})
    fc = SimpleNamespace(ds=make_ds())
    tables = run_capacity(study, fc, seed=1)
    assert {"capacity__share", "capacity__net_share", "capacity_sinks__net_share", "national_sum"} <= set(tables)
    both = tables["capacity_sinks__net_share"]
    assert (both["population_capacity_with_sink_q50"] >= both["population_capacity_q50"]).all()
    total = tables["national_sum"]
    assert list(total["year"]) == [2030, 2060]
    # the net cap lets the group emit budget + sinks: it overshoots less often than the gross cap
    assert (total["p_overshoot__net_share"] <= total["p_overshoot__share"]).all()
    np.testing.assert_allclose(total["cap_sum_q50__share"], 250.0)
