"""Regional forecasts summed draw by draw (forecast/policy/regional_sum.py) on simulated draws."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from forecast.errors import InputError
from forecast.policy.regional_sum import regional_sum, spread_table, variance_ratio

N, R = 4000, 10
YEARS = [2030, 2060]


def make_ds(rho: float, seed: int = 0) -> xr.Dataset:
    """Ten regions of 100 Mt CO2/yr with log-normal shocks (sd 0.2) of pairwise correlation ``rho``
    (a shared component with weight sqrt(rho))."""
    rng = np.random.default_rng(seed)
    shared = rng.standard_normal((N, 1, len(YEARS)))
    own = rng.standard_normal((N, R, len(YEARS)))
    z = np.sqrt(rho) * shared + np.sqrt(1 - rho) * own
    co2 = 100.0 * np.exp(0.2 * z)
    return xr.Dataset({"co2": (("sample", "region", "year"), co2, {"units": "Mt CO2/yr"})},
                      coords={"sample": np.arange(N), "region": [f"r{i}" for i in range(R)], "year": YEARS})


def test_sum_is_per_draw_and_keeps_units():
    ds = make_ds(0.5)
    total = regional_sum(ds)
    assert total.dims == ("sample", "year")
    np.testing.assert_allclose(total.values, ds["co2"].sum("region").transpose("sample", "year").values)
    assert total.attrs["units"] == "Mt CO2/yr"
    sub = regional_sum(ds, ["r0", "r1"])
    np.testing.assert_allclose(sub.values, (ds["co2"].sel(region="r0") + ds["co2"].sel(region="r1")).values)


@pytest.mark.parametrize("rho", [0.0, 0.5, 1.0])
def test_variance_ratio_follows_the_correlation(rho):
    # Var(sum) / sum Var = 1 + (R - 1) x (correlation of the log-normal levels); for small sd the level
    # correlation is close to rho: (exp(rho s^2) - 1) / (exp(s^2) - 1)
    s2 = 0.2 ** 2
    level_rho = (np.exp(rho * s2) - 1) / (np.exp(s2) - 1)
    expected = 1 + (R - 1) * level_rho
    ratio = variance_ratio(make_ds(rho)).values
    # Monte Carlo: the variance of a sum of N = 4000 draws has a relative sd of about sqrt(2 / N) = 2.2 %
    np.testing.assert_allclose(ratio, expected, rtol=0.1, atol=0.1)


def test_correlated_sum_is_wider():
    t = spread_table({"independent": regional_sum(make_ds(0.0)), "common": regional_sum(make_ds(0.8))}, YEARS)
    wide = t.set_index(["series", "year"])["rel_width_90"]
    for y in YEARS:
        # relative width of the sum: about 2 x 1.645 x 0.2 x sqrt((1 + 9 rho) / 10)
        assert wide["common", y] > 2.5 * wide["independent", y]
        assert wide["independent", y] == pytest.approx(2 * 1.645 * 0.2 / np.sqrt(R), rel=0.15)


def test_errors():
    ds = make_ds(0.0)
    with pytest.raises(InputError, match="'r99'"):
        regional_sum(ds, ["r0", "r99"])
    with pytest.raises(InputError, match="at least two"):
        regional_sum(ds, ["r0"])
    with pytest.raises(InputError, match="twice"):
        regional_sum(ds, ["r0", "r1", "r0"])
    with pytest.raises(InputError, match="no variable 'sink'"):
        regional_sum(ds, var="sink")
    with pytest.raises(InputError, match="no year"):
        spread_table({"x": regional_sum(ds)}, [2031])
    missing = ds.copy()
    missing["co2"] = ds["co2"].where(ds["region"] != "r3")
    assert regional_sum(missing).isnull().all()  # a missing province makes the sum NaN, not smaller


def test_national_sum_table_overshoot_depends_on_correlation():
    from forecast.policy.regional_sum import national_sum_table

    cap = xr.DataArray(np.full((R, len(YEARS)), 110.0), dims=("region", "year"),
                       coords={"region": [f"r{i}" for i in range(R)], "year": YEARS})
    p = {}
    for rho in (0.0, 0.8):
        t = national_sum_table(make_ds(rho), {"flat": cap}, years=YEARS)
        assert list(t["year"]) == YEARS
        np.testing.assert_allclose(t["cap_sum_q50__flat"], 1100.0)
        p[rho] = float(t["p_overshoot__flat"].iloc[0])
    # sum mean ~ 1000 x exp(0.02) = 1020, regional sd ~ 20: the cap of 1100 is 80 / (20 sqrt(10)) = 1.26 sd
    # above the independent sum (P ~ 0.10) and 80 / (20 sqrt(10 x 8.2)) = 0.44 sd above the correlated one
    # (P ~ 0.33, less in the right-skewed log-normal); Monte Carlo sd of P with 4000 draws <= 0.008
    assert 0.07 < p[0.0] < 0.14
    assert 0.22 < p[0.8] < 0.36
    with pytest.raises(InputError, match="no year"):
        national_sum_table(make_ds(0.0), {"flat": cap.sel(year=[2030])}, years=YEARS)
