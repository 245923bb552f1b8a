"""Horizontal carbon compensation on small hand-made forecasts (no model fitting)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from forecast.policy.compensation import compensation, compensation_table, flow_table, sample_price
from forecast.errors import InputError

REGIONS = ["A", "B", "C", "D"]


def make_ds(n_samples: int = 500, seed: int = 1, sink: bool = False) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    shape = (n_samples, len(REGIONS), 2)
    co2 = np.exp(rng.normal(np.log([100.0, 50.0, 20.0, 80.0])[None, :, None], 0.3, size=shape))
    pop = np.broadcast_to(np.array([1e7, 2e7, 5e6, 3e7])[None, :, None], shape).copy()
    gdppc = np.broadcast_to(np.array([3e4, 1e4, 2e4, 5e3])[None, :, None], shape).copy()
    ds = xr.Dataset({
        "co2": (("sample", "region", "year"), co2),
        "population": (("sample", "region", "year"), pop),
        "gdp_per_capita": (("sample", "region", "year"), gdppc),
    }, coords={"sample": np.arange(n_samples), "region": REGIONS, "year": [2030, 2031]})
    if sink:
        ds["sink"] = xr.DataArray(np.exp(rng.normal(np.log([20.0, 80.0, 40.0, 30.0])[None, :, None], 0.3, size=shape)),
                                  dims=("sample", "region", "year"), coords=ds["co2"].coords)
    return ds


PRICE = dict(price_median=50.0, price_p05=20.0, price_p95=150.0)
SHARES = {"A": 0.4, "B": 0.2, "C": 0.1, "D": 0.3}


def _check_flows(out):
    pay = out["payment"]
    np.testing.assert_allclose(pay.sum("region"), 0.0, atol=1e-9 * float(abs(pay).max()))
    flow = out["flow"]
    assert float(flow.min()) >= 0
    rows = flow.sum("payee").rename(payer="region")
    cols = flow.sum("payer").rename(payee="region")
    np.testing.assert_allclose(rows, pay.clip(min=0).transpose(*rows.dims), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(cols, (-pay).clip(min=0).transpose(*cols.dims), rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("allocation", [SHARES, "per_capita", "gdp_share"])
def test_balances_and_flows_sum_to_zero(allocation):
    out = compensation(make_ds(), allocation, 2030, random_seed=0, **PRICE)
    np.testing.assert_allclose(out["balance"].sum("region"), 0.0, atol=1e-9)
    _check_flows(out)
    assert out["payment"].attrs["units"] == "million USD/yr"
    assert out["balance"].attrs["units"] == "Mt CO2/yr"


def test_sink_mode_normalised():
    ds = make_ds(sink=True)
    out = compensation(ds, "sink", 2031, random_seed=0, currency="CNY", **PRICE)
    np.testing.assert_allclose(out["balance"].sum("region"), 0.0, atol=1e-9)
    _check_flows(out)
    raw = (ds["co2"] - ds["sink"]).sel(year=2031, drop=True)
    np.testing.assert_allclose(out["unmatched"], raw.sum("region"))
    # signs kept and no balance grows in magnitude
    b = out["balance"]
    rawb = raw.transpose(*b.dims)
    assert ((np.sign(b) == np.sign(rawb)) | (b == 0)).all()
    assert (abs(b) <= abs(rawb) + 1e-12).all()
    assert out["payment"].attrs["units"] == "million CNY/yr"


def test_region_on_allocation_pays_nothing():
    ds = make_ds(200)
    # region C emits exactly 10 % of the total in every draw
    co2 = ds["co2"].copy()
    others = co2.sel(region=["A", "B", "D"]).sum("region")
    co2.loc[{"region": "C"}] = others / 9.0
    ds["co2"] = co2
    out = compensation(ds, SHARES, 2030, random_seed=3, **PRICE)
    np.testing.assert_allclose(out["payment"].sel(region="C"), 0.0, atol=1e-9)
    assert float(out["flow"].sel(payer="C").sum()) == pytest.approx(0, abs=1e-9)
    assert float(out["flow"].sel(payee="C").sum()) == pytest.approx(0, abs=1e-9)
    table = compensation_table(out)
    assert table.set_index("region").loc["C", "p_pays"] == 0.0


def test_payment_linear_in_price():
    ds = make_ds(100)
    one = compensation(ds, SHARES, 2030, price_median=10.0)
    three = compensation(ds, SHARES, 2030, price_median=30.0)
    np.testing.assert_allclose(three["payment"], 3 * one["payment"], rtol=1e-12)
    np.testing.assert_allclose(three["flow"], 3 * one["flow"], rtol=1e-12, atol=1e-12)
    # a fixed price x balance (Mt) = million currency
    np.testing.assert_allclose(one["payment"], 10.0 * one["balance"])


def test_price_quantiles_reproduced():
    n = 200_000
    p = sample_price(n, 50.0, 20.0, 150.0, random_seed=42)
    q05, q50, q95 = np.quantile(p, [0.05, 0.5, 0.95])
    # MC standard error of a quantile ~ sqrt(q(1-q)/n) / density; 3 % is > 5 standard errors here
    assert q05 == pytest.approx(20.0, rel=0.03)
    assert q50 == pytest.approx(50.0, rel=0.03)
    assert q95 == pytest.approx(150.0, rel=0.03)
    # seeded: same draws again
    np.testing.assert_array_equal(sample_price(50, 50.0, 20.0, 150.0, random_seed=7),
                                  sample_price(50, 50.0, 20.0, 150.0, random_seed=7))


def test_tables():
    out = compensation(make_ds(300), "per_capita", 2030, random_seed=5, **PRICE)
    t = compensation_table(out)
    assert list(t["region"]) == REGIONS
    assert ((t["payment_q05"] <= t["payment_mean"]) & (t["payment_mean"] <= t["payment_q95"])).all()
    assert t["p_pays"].between(0, 1).all()
    f = flow_table(out)
    assert {"payer", "payee", "mean", "q05", "q95"} <= set(f.columns)
    assert (f["payer"] != f["payee"]).all()
    assert f["mean"].is_monotonic_decreasing


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(allocation={"A": 0.5, "B": 0.5 + 1e-6}), "sum to one"),
        (dict(allocation={"A": 1.2, "B": -0.2}), "negative share"),
        (dict(allocation={"A": 0.5, "Z": 0.5}), "not in the forecast"),
        (dict(allocation="per_capita", regions=["A", "Bee"]), "not in the forecast"),
        (dict(allocation="per_capitah"), "did you mean 'per_capita'"),
        (dict(allocation="sink"), "sink"),
        (dict(allocation=SHARES, price_p05=60.0), "out of order"),
        (dict(allocation=SHARES, price_p95=40.0), "out of order"),
        (dict(allocation=SHARES, price_median=-1.0), "> 0"),
        (dict(allocation=SHARES, year=2099), "2099"),
    ],
)
def test_bad_inputs(kwargs, match):
    args = dict(year=2030, random_seed=0, **PRICE)
    args.update(kwargs)
    ds = make_ds(20)
    with pytest.raises(InputError, match=match):
        compensation(ds, args.pop("allocation"), args.pop("year"), **args)


def test_shares_tolerance_accepts_rounding():
    out = compensation(make_ds(20), {"A": 0.1 + 0.2, "B": 0.7 - 1e-12, "C": 0.0}, 2030, price_median=1.0)
    assert list(out["region"].values) == ["A", "B", "C"]


# ------------------------------------------------------------------------------------------------
# several allocation rules in one study ([compensation] allocation = [rule, ...])
# ------------------------------------------------------------------------------------------------

RULES = ["per_capita", "gdp_share", "emissions_share"]


@pytest.mark.parametrize("rule", RULES)
def test_payments_sum_to_zero_per_draw_under_each_rule(rule):
    out = compensation(make_ds(), rule, 2030, random_seed=0, reference_year=2031, **PRICE)
    _check_flows(out)


def test_run_capacity_exports_one_payment_and_tables_per_rule():
    """Hand-made draws (no sampling) through run_capacity with three rules: one compensation and one flows
    table per rule, draws as compensation_payment (first rule) and compensation_payment__<rule> (others),
    each summing to zero in every draw, all at the same price draws."""
    from forecast.run.pipeline import run_capacity
    from forecast.projection.propagate import Forecast
    from forecast.run.study import default_study_path, load_study

    study = load_study(default_study_path("china-provinces")).with_overrides(
        capacity={"enabled": False},
        compensation={"enabled": True, "year": 2030, "allocation": RULES, "reference_year": 2031})
    fc = Forecast(make_ds(200))
    tables = run_capacity(study, fc, seed=3)
    for rule in RULES:
        assert tables[f"compensation__{rule}"].attrs["title"].startswith(f"Horizontal compensation in 2030 ({rule};")
        assert tables[f"compensation_flows__{rule}"].attrs["title"].startswith(f"Compensation flows in 2030 under {rule}:")
    names = ["compensation_payment", "compensation_payment__gdp_share", "compensation_payment__emissions_share"]
    for name, rule in zip(names, RULES):
        pay = fc.ds[name].sel(year=2030)
        assert fc.ds[name].attrs["allocation"] == rule
        np.testing.assert_allclose(pay.sum("region"), 0.0, atol=1e-9 * float(abs(pay).max()))
        direct = compensation(make_ds(200), rule, 2030, random_seed=3 + 7, reference_year=2031,
                              price_median=study.compensation.price_median, price_p05=study.compensation.price_p05,
                              price_p95=study.compensation.price_p95, currency="CNY")["payment"]
        np.testing.assert_allclose(pay.transpose(*direct.dims), direct)
    # the rules differ: the same draws give different payments
    assert not np.allclose(fc.ds["compensation_payment"], fc.ds["compensation_payment__gdp_share"], equal_nan=True)
