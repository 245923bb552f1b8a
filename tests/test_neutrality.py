"""Tests for forecast.sinks.neutrality: net emissions, neutrality year, tables, sample alignment, sink gap."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402

from forecast.sinks.ecosystems import EcosystemSinks  # noqa: E402
from forecast.errors import InputError  # noqa: E402
from forecast.sinks.neutrality import (  # noqa: E402
    net_emissions,
    neutrality_table,
    neutrality_year,
    resample_samples,
    sink_gap_table,
)

YEARS = np.arange(2030, 2061)


def cube(values, years=YEARS, regions=("China",), name="x", units="Mt CO2/yr") -> xr.DataArray:
    v = np.asarray(values, dtype=float)
    if v.ndim == 2:  # (sample, year) -> one region
        v = v[:, None, :]
    return xr.DataArray(
        v, dims=("sample", "region", "year"),
        coords={"sample": np.arange(v.shape[0]), "region": list(regions), "year": years},
        name=name, attrs={"units": units},
    )


def crossing(year: int, years=YEARS) -> np.ndarray:
    """Linear net path through zero in ``year``: positive before, <= 0 from ``year`` on."""
    return 100.0 * (year - years)


# --------------------------------------------------------------------------------------------------
# Neutrality year
# --------------------------------------------------------------------------------------------------


def test_neutrality_year_hand_made_paths():
    falls_2045 = crossing(2045)
    dip = np.full(YEARS.size, 50.0)
    dip[YEARS == 2040] = -10.0  # below zero in 2040, back above in 2041
    dip[YEARS >= 2050] = -20.0  # below from 2050 on
    never = np.full(YEARS.size, 5.0)
    never[YEARS == 2055] = -1.0  # a dip does not count if net is positive in the horizon year
    always = np.full(YEARS.size, -3.0)
    net = cube([falls_2045, dip, never, always])
    ny = neutrality_year(net)
    assert ny.dims == ("sample", "region")
    assert ny.sel(region="China").values.tolist() == [2045, 2050, 2061, 2030]
    assert ny["never"].sel(region="China").values.tolist() == [False, False, True, False]
    assert ny.attrs["never_value"] == 2061 and ny.attrs["horizon"] == 2060
    assert falls_2045[YEARS == 2045] == 0  # exactly zero counts as neutral


def test_neutrality_year_nan_counts_as_not_neutral():
    path = crossing(2040).astype(float)
    path[-1] = np.nan
    ny = neutrality_year(cube([path]))
    assert ny.item() == 2061 and bool(ny["never"].item())


def mixed_net() -> xr.DataArray:
    paths = [crossing(2045)] * 4 + [crossing(2055)] * 3 + [np.full(YEARS.size, 10.0 + i) for i in range(3)]
    return cube(paths)


def test_neutrality_table_probabilities_on_mixed_samples():
    t = neutrality_table(mixed_net(), by=(2040, 2050, 2060))
    row = t.loc["China"]
    assert row["p_neutral_by_2040"] == 0.0
    assert row["p_neutral_by_2050"] == pytest.approx(0.4)
    assert row["p_neutral_by_2060"] == pytest.approx(0.7)
    assert row["p_not_neutral_by_horizon"] == pytest.approx(0.3)
    assert row["p_neutral_by_horizon"] == pytest.approx(0.7)
    # quantiles conditional on reaching neutrality (7 draws: 4 x 2045, 3 x 2055)
    assert row["neutrality_year_q05_if_reached"] == 2045
    assert row["neutrality_year_q50_if_reached"] == 2045
    assert row["neutrality_year_q95_if_reached"] == 2055
    horizon_values = np.array([100 * (2045 - 2060)] * 4 + [100 * (2055 - 2060)] * 3 + [10, 11, 12])
    assert row["net_at_horizon_mean"] == pytest.approx(horizon_values.mean())
    assert row["net_at_horizon_q05"] == pytest.approx(np.quantile(horizon_values, 0.05))
    assert row["net_at_horizon_q95"] == pytest.approx(np.quantile(horizon_values, 0.95))
    assert t.attrs["horizon"] == 2060


def test_neutrality_table_none_reached_and_bad_years():
    t = neutrality_table(cube([np.full(YEARS.size, 1.0)] * 3))
    assert t.loc["China", "p_not_neutral_by_horizon"] == 1.0
    assert pd.isna(t.loc["China", "neutrality_year_q50_if_reached"])
    with pytest.raises(InputError, match="2070"):
        neutrality_table(mixed_net(), by=(2050, 2070))


# --------------------------------------------------------------------------------------------------
# Net emissions
# --------------------------------------------------------------------------------------------------


def test_net_emissions_subtracts_and_keeps_common_years():
    rng = np.random.default_rng(0)
    e = cube(rng.uniform(500, 1000, (4, 2, 41)), years=np.arange(2020, 2061), regions=("A", "B"), name="co2")
    s = cube(rng.uniform(0, 500, (4, 2, 31)), years=np.arange(2030, 2061), regions=("B", "A"), name="sink")
    net = net_emissions(e, s)
    assert net.dims == ("sample", "region", "year")
    assert net["year"].values.tolist() == list(range(2030, 2061))
    expected = e.sel(year=slice(2030, 2060)) - s.sel(region=["A", "B"]).values
    np.testing.assert_allclose(net.values, expected.values)
    assert net.attrs["units"] == "Mt CO2/yr"
    # Datasets with the conventional variable names work too
    net2 = net_emissions(e.to_dataset(name="co2"), s.to_dataset(name="sink"))
    np.testing.assert_allclose(net2.values, net.values)


def test_net_emissions_errors():
    e = cube(np.ones((2, 5)), years=np.arange(2020, 2025))
    with pytest.raises(InputError, match="no year in common"):
        net_emissions(e, cube(np.ones((2, 5)), years=np.arange(2030, 2035)))
    with pytest.raises(InputError, match="different regions.*sinks only: India"):
        net_emissions(e, cube(np.ones((2, 5)), years=np.arange(2020, 2025), regions=("India",)))
    with pytest.raises(InputError, match="units"):
        net_emissions(e, cube(np.ones((2, 5)), years=np.arange(2020, 2025), units="Mt C/yr"))
    with pytest.raises(InputError, match="dims"):
        net_emissions(e.isel(region=0), e)


def test_sample_alignment_is_seeded_and_reproducible():
    e = cube(np.tile(np.arange(8.0)[:, None] * 1000, (1, YEARS.size)))  # 8 draws, value = 1000 x index
    s = cube(np.tile(np.arange(1.0, 4.0)[:, None], (1, YEARS.size)))  # 3 draws, values 1, 2, 3
    a = net_emissions(e, s, random_seed=42)
    b = net_emissions(e, s, random_seed=42)
    c = net_emissions(e, s, random_seed=7)
    assert a.sizes["sample"] == 8
    xr.testing.assert_identical(a, b)
    used = (e.values - a.values)[:, 0, 0]  # sink draw paired with each emission draw
    counts = np.bincount(used.astype(int), minlength=4)[1:]
    assert sorted(counts.tolist()) == [2, 3, 3]  # each of the 3 sink draws used floor/ceil(8/3) times
    assert not np.array_equal(a.values, c.values) or not np.array_equal(
        (e.values - c.values)[:, 0, 0], used
    )
    assert "resampled from 3 to 8" in a.attrs["sample_pairing"]
    # the emission draws are kept in order (not resampled) because they are the larger set
    np.testing.assert_allclose(np.round((a.values[:, 0, 0] + used) / 1000), np.arange(8))


def test_resample_samples_downsamples_without_replacement():
    da = cube(np.arange(10.0)[:, None] * np.ones((1, 3)), years=[2030, 2031, 2032])
    out = resample_samples(da, 4, random_seed=1)
    picked = out.values[:, 0, 0]
    assert len(set(picked)) == 4 and out["sample"].values.tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(out["source_sample"].values, picked.astype(int))


# --------------------------------------------------------------------------------------------------
# Sink gap from ignoring the CFE decline
# --------------------------------------------------------------------------------------------------


def test_sink_gap_table_sign_and_values():
    rng = np.random.default_rng(3)
    constant = cube(rng.uniform(500, 800, (50, YEARS.size)), name="sink")
    factor = np.linspace(1.0, 0.8, YEARS.size)  # decline <= constant
    decline = constant * factor
    t = sink_gap_table(decline, constant, years=(2030, 2060))
    assert list(t.index) == [("China", 2030), ("China", 2060)]
    assert t.loc[("China", 2030), "gap_mean"] == pytest.approx(0.0, abs=1e-9)
    row = t.loc[("China", 2060)]
    gap = constant.sel(year=2060).values * 0.2
    assert row["gap_mean"] == pytest.approx(gap.mean())
    assert row["gap_q05"] == pytest.approx(np.quantile(gap, 0.05))
    assert row["gap_q95"] == pytest.approx(np.quantile(gap, 0.95))
    assert row["gap_share_mean"] == pytest.approx(0.2)
    assert (t["gap_q05"] >= -1e-9).all() and row["gap_mean"] > 0
    with pytest.raises(InputError, match="no year.*2070"):
        sink_gap_table(decline, constant, years=(2070,))


def test_end_to_end_with_ecosystem_sinks():
    model = EcosystemSinks.china_default()
    n = 200
    years = YEARS
    decline = xr.DataArray(
        np.tile(np.linspace(1.0, 1.02, years.size), (n, 1)), dims=("sample", "year"), coords={"year": years}
    )
    constant = xr.DataArray(
        np.tile(np.linspace(1.0, 1.10, years.size), (n, 1)), dims=("sample", "year"), coords={"year": years}
    )
    s_dec = model.simulate(years, decline, random_seed=5)
    s_con = model.simulate(years, constant, random_seed=5)
    gap = sink_gap_table(s_dec, s_con, years=(2030, 2060))
    assert gap.loc[("China", 2030), "gap_mean"] == pytest.approx(0.0)  # same multiplier in 2030
    assert gap.loc[("China", 2060), "gap_mean"] > 0 and (gap["gap_q05"] >= -1e-9).all()
    emissions = cube(np.tile(np.linspace(11000, -500, years.size), (300, 1)), name="co2")
    net = net_emissions(emissions.to_dataset(name="co2"), s_dec, random_seed=1)
    assert net.sizes["sample"] == 300
    table = neutrality_table(net)
    assert 0.0 <= table.loc["China", "p_neutral_by_2060"] <= 1.0
    assert table.loc["China", "p_neutral_by_2060"] == pytest.approx(1 - table.loc["China", "p_not_neutral_by_horizon"])
