"""Tests for forecast.projection.scale: chunked forecasts, dask reductions, fit_many on a LocalCluster."""

from __future__ import annotations

from pathlib import Path

import dask
import numpy as np
import pytest

from forecast.projection.propagate import forecast_emissions
from forecast.projection.scale import (
    DriftModel,
    fit_many,
    load_county_panels,
    peak_year_chunked,
    predict_chunked,
    reduce_quantiles,
    synthetic_ekc,
)

LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)


@pytest.fixture(scope="module")
def demo():
    return synthetic_ekc(6, horizon=2045, posterior_draws=400, seed=3)


def test_single_chunk_equals_in_memory_predict_with_the_child_seed(demo):
    model, scenario, _ = demo
    ds = predict_chunked(model, scenario, draws=300, random_seed=42, chunk=300)
    assert ds["co2"].data.numblocks[0] == 1
    child = np.random.SeedSequence(42).spawn(1)[0]
    ref = model.predict(scenario, draws=300, random_seed=child)
    got = ds.compute()
    for name in ("co2_per_capita", "gdp_per_capita", "population"):
        np.testing.assert_array_equal(got[name].values, ref[name].values)
    np.testing.assert_array_equal(got["co2"].values, ref["co2_per_capita"].values * ref["population"].values / 1e6)
    np.testing.assert_array_equal(got["year"].values, ref["year"].values)


def test_multi_chunk_reproducible_scheduler_independent_and_seed_dependent(demo):
    model, scenario, _ = demo
    a = predict_chunked(model, scenario, draws=700, random_seed=7, chunk=200)
    assert a["co2"].data.chunks[0] == (200, 200, 200, 100)
    first = a["co2"].compute(scheduler="threads").values
    again = predict_chunked(model, scenario, draws=700, random_seed=7, chunk=200)["co2"].compute(scheduler="sync").values
    np.testing.assert_array_equal(first, again)
    other = predict_chunked(model, scenario, draws=700, random_seed=8, chunk=200)["co2"].compute().values
    assert not np.allclose(first, other)
    # each chunk is an in-memory predict with its own child seed
    seeds = np.random.SeedSequence(7).spawn(4)
    ref = model.predict(scenario, draws=200, random_seed=seeds[2])
    np.testing.assert_array_equal(first[400:600], ref["co2_per_capita"].values * ref["population"].values / 1e6)
    # different chunks are different streams
    assert not np.allclose(first[:100], first[200:300])


def test_quantile_bands_and_mean_match_numpy_on_the_materialised_cube(demo):
    model, scenario, _ = demo
    n = 900
    ds = predict_chunked(model, scenario, draws=n, random_seed=1, chunk=250)
    bins = 4096
    red = reduce_quantiles(ds, levels=LEVELS, bins=bins)
    co2 = ds["co2"].compute().values
    np.testing.assert_allclose(red["mean"].values, co2.mean(axis=0), rtol=1e-12)
    logs = np.sort(np.log(co2), axis=0)
    width = (logs[-1] - logs[0]) / bins
    got = np.log(red["bands"].values)
    for i, q in enumerate(LEVELS):
        k = q * (n - 1)
        lo = logs[max(int(np.floor(k)) - 1, 0)] - width
        hi = logs[min(int(np.ceil(k)) + 1, n - 1)] + width
        assert ((got[i] >= lo - 1e-12) & (got[i] <= hi + 1e-12)).all(), q
        np.testing.assert_allclose(got[i], np.quantile(np.log(co2), q, axis=0), atol=0.02)


def test_peak_year_probabilities_equal_forecast_peak_table(demo):
    model, scenario, panel = demo
    ds = predict_chunked(model, scenario, draws=600, random_seed=5, chunk=150)
    table = peak_year_chunked(ds, history=panel)
    mat = ds.compute()

    class Materialised:
        regions = model.regions

        def predict(self, scenario, *, draws, random_seed, regions):
            return mat[["co2_per_capita", "gdp_per_capita", "population"]].sel(region=regions)

    fc = forecast_emissions(Materialised(), scenario, panel, draws=600, random_seed=0)
    ref = fc.peak_table()
    cols = ["p_already_peaked", "p_peak_by_2030", "p_peak_by_2035", "p_no_peak_by_horizon",
            "peak_year_q05", "peak_year_q50", "peak_year_q95"]
    assert list(table.columns) == cols
    for col in cols:
        np.testing.assert_array_equal(table[col].to_numpy(), ref.loc[table.index, col].to_numpy(), err_msg=col)
    # probabilities are not degenerate in this demo
    assert 0 < table["p_peak_by_2035"].mean() < 1


def test_reductions_accept_in_memory_datasets(demo):
    model, scenario, panel = demo
    lazy = predict_chunked(model, scenario, draws=200, random_seed=9, chunk=64)
    mat = lazy.compute()
    with dask.config.set(scheduler="sync"):
        a = peak_year_chunked(lazy, history=panel)
        b = peak_year_chunked(mat, history=panel)
    assert a.equals(b)
    np.testing.assert_allclose(reduce_quantiles(lazy)["bands"], reduce_quantiles(mat)["bands"])


def test_bad_arguments_raise_input_error(demo):
    from forecast.errors import InputError

    model, scenario, _ = demo
    with pytest.raises(InputError):
        predict_chunked(model, scenario, draws=0, random_seed=1)
    with pytest.raises(InputError):
        predict_chunked(model, scenario, draws=10, random_seed=1, regions=["nope"])


COUNTY_FILE = Path(__file__).resolve().parents[2] / "shared" / "data" / "china_county_co2.csv"


@pytest.mark.skipif(not COUNTY_FILE.is_file(), reason="county file not available")
def test_load_county_panels():
    panels = load_county_panels(COUNTY_FILE, max_counties=3)
    assert len(panels) >= 30
    one = next(iter(panels.values()))
    assert list(one.columns) == ["region", "year", "co2"]
    assert one["region"].nunique() <= 3 and (one["co2"] > 0).all()


@pytest.mark.slow
@pytest.mark.skipif(not COUNTY_FILE.is_file(), reason="county file not available")
def test_fit_many_on_local_cluster_returns_one_summary_per_panel():
    panels = load_county_panels(COUNTY_FILE, provinces=["Anhui", "Hebei", "Jiangsu"], max_counties=3)
    assert len(panels) == 3
    out = fit_many(panels, DriftModel, random_seed=1,
                   sampler_kwargs=dict(sampler="pymc", draws=150, tune=150, chains=2))
    assert sorted(out.index) == sorted(panels)
    assert {"drift_mu_mean", "drift_sd_mean", "max_r_hat", "divergences"} <= set(out.columns)
    assert out["drift_mu_mean"].abs().lt(0.5).all()
    assert (out["n_regions"] == 3).all()


# ---------------------------------------------------------------------------- `carbon-forecast counties`
@pytest.mark.parametrize("address, message", [
    ("tcp://127.0.0.1:1", "no dask scheduler reachable at 'tcp://127.0.0.1:1'"),
    ("nonsense", "bad dask scheduler address 'nonsense'"),
    ("foo://host:8786", "unknown address scheme 'foo'"),
])
def test_counties_cli_bad_scheduler_address_exits_2_with_a_clear_message(tmp_path, address, message, console_script):
    out = tmp_path / "out"
    code, stdout, stderr = console_script("counties", "--data-dir", COUNTY_FILE.parent,
                                 "--scheduler", address, "--province", "Anhui", "--max-counties", "2",
                                 "--connect-timeout", "2", "--out", out)
    assert code == 2, (stdout, stderr)
    text = " ".join(stderr.split())
    assert "error:" in text and message in text, text
    assert "Traceback" not in stderr
    assert not out.exists()


def test_connect_scheduler_rejects_bad_addresses_with_input_error():
    from forecast.errors import InputError
    from forecast.projection.scale import connect_scheduler

    for address in ("", "tcp://127.0.0.1:notaport", "tcp://127.0.0.1:1"):
        with pytest.raises(InputError, match="scheduler"):
            connect_scheduler(address, timeout=2)
    with pytest.raises(InputError, match="timeout"):
        connect_scheduler("tcp://127.0.0.1:8786", timeout=0)


@pytest.mark.skipif(not COUNTY_FILE.is_file(), reason="county file not available")
def test_fit_counties_rejects_unknown_provinces_before_fitting():
    from forecast.errors import InputError
    from forecast.projection.scale import fit_counties

    with pytest.raises(InputError, match="unknown province.*'Atlantis'.*known: Anhui"):
        fit_counties(COUNTY_FILE, provinces=["Anhui", "Atlantis"], max_counties=2)  # before any cluster starts
    with pytest.raises(InputError, match="max_counties"):
        fit_counties(COUNTY_FILE, max_counties=0)


@pytest.mark.slow
@pytest.mark.skipif(not COUNTY_FILE.is_file(), reason="county file not available")
def test_counties_cli_fits_on_an_existing_cluster_by_address(tmp_path, console_script):
    import json
    import warnings

    import pandas as pd
    from distributed import LocalCluster

    from forecast.projection.scale import COUNTY_COLUMNS

    out = tmp_path / "out"
    # 2 provinces x 2 counties, tiny draws (~20-30 s per fit on 2 busy cores)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        code, _, stderr = console_script("counties", "--scheduler", address, "--out", out,
                                "--data-dir", COUNTY_FILE.parent, "--province", "Anhui", "--province", "Hebei",
                                "--max-counties", "2", "--draws", "30", "--tune", "30", "--seed", "3", "--quiet")
    assert code == 0, stderr
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # written atomically: no temp folder left behind

    table = pd.read_csv(out / "counties.csv")
    assert list(table.columns) == list(COUNTY_COLUMNS)
    assert list(table["province"]) == ["Anhui", "Hebei"]
    assert (table["n_counties"] == 2).all() and (table["n_rows"] > 2 * 10).all()
    assert table["drift_mu_mean"].abs().lt(0.5).all() and np.isfinite(table["max_r_hat"]).all()
    # the row is the fit of that province's panel with the recorded seed, wherever it ran
    panel = load_county_panels(COUNTY_FILE, provinces=["Anhui"], max_counties=2)["Anhui"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        here = DriftModel().fit(panel, random_seed=int(table.loc[0, "random_seed"]), draws=30, tune=30, chains=2)
    assert float(here.idata.posterior["drift_mu"].mean()) == pytest.approx(table.loc[0, "drift_mu_mean"], rel=1e-9)
    assert table["random_seed"].nunique() == 2
    meta = json.loads((out / "counties.json").read_text())
    assert meta["scheduler"] == address and meta["provinces"] == ["Anhui", "Hebei"]
    assert len(meta["data"]["sha256"]) == 64 and meta["data"]["path"].endswith("china_county_co2.csv")
