"""Tests for forecast.sinks.ecosystems (ecosystem sink capacity) and forecast.scenarios.co2 (CO2 paths).

Fast: no model fitting; prior draws use one compiled PyMC call per simulation.
"""

from __future__ import annotations

import math
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402
from scipy import stats  # noqa: E402

from forecast.scenarios.co2 import CO2Scenario, read_co2_scenarios  # noqa: E402
from forecast.sinks.ecosystems import (  # noqa: E402
    CHINA_LAND_SURVEY,
    CO2_PER_C,
    AreaSpec,
    EcosystemSinks,
    FixedRate,
    SOCSaturation,
)
from forecast.errors import InputError  # noqa: E402
from forecast.priors import PriorSpec, default_library  # noqa: E402
from forecast.units import CO2_PER_C as UNITS_CO2_PER_C, MT_CO2_PER_GT_C  # noqa: E402

YEARS = np.arange(2025, 2061)
AREAS = {"forest": 200.0, "grassland": 100.0, "cropland_soil": 50.0, "wetland": 10.0}
RATES = {"forest": 0.6, "grassland": -0.05, "cropland_soil": 0.3, "wetland": 0.4}


def fixed_model(soc=None, **kw) -> EcosystemSinks:
    return EcosystemSinks({"A": dict(AREAS), "B": {"forest": 20.0, "wetland": 1.5}},
                          model_config={"rates": dict(RATES)}, soc=soc, **kw)


def multiplier(n: int, years=YEARS, seed: int = 0) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    slope = rng.uniform(0.002, 0.01, size=n)
    vals = 1.0 + slope[:, None] * (np.asarray(years)[None, :] - years[0])
    return xr.DataArray(vals, dims=("sample", "year"), coords={"sample": np.arange(n), "year": years})


# --------------------------------------------------------------------------------------------------
# Deterministic sinks
# --------------------------------------------------------------------------------------------------


def test_deterministic_sink_equals_hand_sum():
    ds = fixed_model().simulate(YEARS, draws=3, random_seed=1)
    hand_a = sum(AREAS[e] * RATES[e] * CO2_PER_C for e in AREAS)
    hand_b = (20.0 * 0.6 + 1.5 * 0.4) * CO2_PER_C
    assert CO2_PER_C is UNITS_CO2_PER_C  # the one C -> CO2 factor: 44.0095 / 12.011
    assert CO2_PER_C == pytest.approx(44.0095 / 12.011, rel=1e-15) and round(CO2_PER_C, 3) == 3.664
    np.testing.assert_allclose(ds["sink"].sel(region="A").values, hand_a, rtol=1e-12)
    np.testing.assert_allclose(ds["sink"].sel(region="B").values, hand_b, rtol=1e-12)
    by = ds["sink_by_ecosystem"].sel(region="A", sample=0, year=2030)
    for e in AREAS:
        assert by.sel(ecosystem=e).item() == pytest.approx(AREAS[e] * RATES[e] * CO2_PER_C)
    # absent ecosystems contribute nothing; grassland is a (small) source
    assert ds["sink_by_ecosystem"].sel(region="B", ecosystem="grassland").max().item() == 0.0
    assert by.sel(ecosystem="grassland").item() < 0
    assert ds["sink"].dims == ("sample", "region", "year")
    assert ds["sink_by_ecosystem"].dims == ("sample", "region", "ecosystem", "year")
    for v in ("sink", "sink_by_ecosystem"):
        assert ds[v].attrs["units"] == "Mt CO2/yr" and ds[v].attrs["long_name"]
    assert ds["rate"].attrs["units"] == "t C/ha/yr" and ds["area"].attrs["units"] == "Mha"


def test_multiplier_scales_sink_exactly():
    model = fixed_model()
    base = model.simulate(YEARS, draws=4, random_seed=2)
    m = multiplier(4)
    assert float(m.min()) >= 1.0 and float(m.max()) > 1.1
    scaled = model.simulate(YEARS, multiplier=m, random_seed=2)
    assert scaled.sizes["sample"] == 4  # draws default to the multiplier's sample count
    np.testing.assert_allclose(scaled["sink"].values, base["sink"].values * m.values[:, None, :], rtol=1e-12)
    np.testing.assert_allclose(scaled["multiplier"].values, m.values)
    # a (year,) multiplier is broadcast over draws; m = 1 reproduces the no-CFE case
    ones = xr.DataArray(np.ones(YEARS.size), dims="year", coords={"year": YEARS})
    np.testing.assert_allclose(model.simulate(YEARS, ones, draws=4)["sink"].values, base["sink"].values)


def test_multiplier_scales_non_saturating_ecosystems_with_soc_on():
    model = fixed_model(soc=SOCSaturation(initial=33.0, ceiling=46.8))
    base = model.simulate(YEARS, draws=3, random_seed=0)
    m = multiplier(3, seed=5)
    scaled = model.simulate(YEARS, m, random_seed=0)
    fw = ["forest", "grassland", "wetland"]
    np.testing.assert_allclose(
        scaled["sink_by_ecosystem"].sel(ecosystem=fw).values,
        base["sink_by_ecosystem"].sel(ecosystem=fw).values * m.values[:, None, None, :],
        rtol=1e-12,
    )
    # CFE fills the soil carbon gap faster: more sink early, never more total carbon than the gap
    crop_s = scaled["sink_by_ecosystem"].sel(region="A", ecosystem="cropland_soil")
    crop_b = base["sink_by_ecosystem"].sel(region="A", ecosystem="cropland_soil")
    assert (crop_s.isel(year=1) > crop_b.isel(year=1)).all()
    assert float(crop_s.sum("year").max()) <= 50.0 * (46.8 - 33.0) * CO2_PER_C + 1e-9


# --------------------------------------------------------------------------------------------------
# Cropland soil saturation
# --------------------------------------------------------------------------------------------------


def hand_soc(r0: float, soc0: float, ceiling: float, m: np.ndarray):
    soc, incs, socs = soc0, [], []
    for mt in m:
        socs.append(soc)
        rate = r0 * (ceiling - soc) / (ceiling - soc0)
        inc = min(rate * mt, ceiling - soc)
        incs.append(inc)
        soc += inc
    return np.array(incs), np.array(socs)


@pytest.mark.parametrize("r0, m_value", [(0.3, 1.0), (0.68, 1.2), (1.5, 1.0)])
def test_soc_saturation_matches_hand_loop(r0, m_value):
    years = np.arange(2025, 2101)
    model = EcosystemSinks({"A": {"cropland_soil": 127.9}}, model_config={"rates": {"cropland_soil": r0}},
                           soc=SOCSaturation(initial=33.0, ceiling=46.8))
    m = xr.DataArray(np.full((2, years.size), m_value), dims=("sample", "year"), coords={"year": years})
    ds = model.simulate(years, m, random_seed=0)
    inc, socs = hand_soc(r0, 33.0, 46.8, np.full(years.size, m_value))
    sink = ds["sink_by_ecosystem"].sel(region="A", ecosystem="cropland_soil", sample=0).values
    np.testing.assert_allclose(sink, 127.9 * inc * CO2_PER_C, rtol=1e-12)
    soc = ds["cropland_soc"].sel(region="A", sample=0).values
    np.testing.assert_allclose(soc, socs, rtol=1e-12)
    assert soc.max() <= 46.8 + 1e-9 and (soc + inc).max() <= 46.8 + 1e-9
    assert np.all(np.diff(sink) <= 1e-12) and sink[-1] < 0.5 * sink[0]  # rate decays towards 0
    # closed form: the gap shrinks by (1 - r0 m / gap0) per year
    gap = 46.8 - soc
    np.testing.assert_allclose(gap, 13.8 * (1 - r0 * m_value / 13.8) ** np.arange(years.size), rtol=1e-9)
    assert sink[0] == pytest.approx(127.9 * r0 * m_value * CO2_PER_C)


def test_soc_never_exceeds_ceiling_with_huge_rate_and_cfe():
    years = np.arange(2025, 2035)
    model = EcosystemSinks({"A": {"cropland_soil": 10.0}}, model_config={"rates": {"cropland_soil": 20.0}},
                           soc=SOCSaturation(initial=(32.34, 33.47), ceiling=46.8))
    m = xr.DataArray(np.full((50, years.size), 1.5), dims=("sample", "year"), coords={"year": years})
    ds = model.simulate(years, m, random_seed=3)
    soc = ds["cropland_soc"].sel(region="A").values
    assert soc.max() <= 46.8 + 1e-9
    np.testing.assert_allclose(soc[:, 1:], 46.8)  # r0 x m exceeds the gap: saturated after one year
    total_c = ds["sink_by_ecosystem"].sel(region="A", ecosystem="cropland_soil").sum("year").values / CO2_PER_C / 10.0
    np.testing.assert_allclose(total_c, 46.8 - soc[:, 0])  # exactly the initial gap, no more
    assert 32.34 <= soc[:, 0].min() and soc[:, 0].max() <= 33.47


def test_default_soc_uses_seed_paper_values():
    model = EcosystemSinks.china_default()
    s = model.soc["China"]
    assert s.ceiling == pytest.approx(46.8)
    assert isinstance(s.initial, PriorSpec) and dict(s.initial.params) == {"lower": 32.34, "upper": 33.47}
    off = EcosystemSinks.china_default(soc=None)
    assert off.soc["China"] is None
    ds = off.simulate(YEARS[:3], draws=5, random_seed=0)
    assert np.isnan(ds["cropland_soc"]).all()


# --------------------------------------------------------------------------------------------------
# Prior sampling
# --------------------------------------------------------------------------------------------------


def test_forest_rate_draws_match_prior():
    n = 20_000
    lib = default_library()
    spec = lib.get("ecosystems.rate_forest")
    assert spec.distribution == "LogNormal" and spec.units == "t C/ha/yr"
    mu, sigma = spec.params["mu"], spec.params["sigma"]
    ds = EcosystemSinks({"A": {"forest": 100.0}}, soc=None).simulate([2030], draws=n, random_seed=11)
    x = ds["rate"].sel(ecosystem="forest").values
    rv = stats.lognorm(s=sigma, scale=math.exp(mu))
    se_mean = rv.std() / math.sqrt(n)
    assert abs(x.mean() - rv.mean()) < 5 * se_mean
    for q in (0.05, 0.5, 0.95):
        se_q = math.sqrt(q * (1 - q) / n) / rv.pdf(rv.ppf(q))
        assert abs(np.quantile(x, q) - rv.ppf(q)) < 5 * se_q, q
    # sink of a fixed area is area x rate x 3.664 draw by draw
    np.testing.assert_allclose(ds["sink"].sel(region="A", year=2030).values, 100.0 * x * CO2_PER_C, rtol=1e-12)


def test_area_uncertainty_sampling():
    n = 20_000
    model = EcosystemSinks(
        {"A": {"forest": AreaSpec(100.0, "survey", rel_sd=0.1), "wetland": AreaSpec(10.0, "survey", range=(8.0, 14.0))}},
        model_config={"rates": {"forest": 1.0, "wetland": 1.0}}, soc=None,
    )
    area = model.simulate([2030], draws=n, random_seed=4)["area"].sel(region="A")
    f, w = area.sel(ecosystem="forest").values, area.sel(ecosystem="wetland").values
    assert abs(f.mean() - 100.0) < 5 * 10.0 / math.sqrt(n)
    assert f.std() == pytest.approx(10.0, rel=0.03) and f.min() >= 0
    assert 8.0 <= w.min() and w.max() <= 14.0 and w.mean() == pytest.approx(11.0, abs=0.05)


def test_shipped_ecosystem_priors_are_the_documented_ranges():
    fam = default_library().family("ecosystems")
    # the seed paper's 0.05-0.68 t C/ha/yr is a best-management POTENTIAL, kept apart from the baseline
    pot = fam["potential_cropland_soil"]
    assert (pot.low, pot.high) == (0.05, 0.68) and "Journal of Natural Resources 37(5)" in pot.citation
    crop = fam["rate_cropland_soil"]
    assert crop.distribution == "Normal" and 0 < crop.params["mu"] < pot.low + pot.value
    assert "Journal of Natural Resources 37(5)" in crop.citation
    assert "PNAS 115(16): 4015-4020" in fam["rate_forest"].citation
    assert fam["rate_grassland"].distribution == "Normal" and abs(fam["rate_grassland"].params["mu"]) < 0.05
    assert fam["cropland_soc_ceiling"].value == pytest.approx(46.8)
    for key in ("rate_forest", "rate_grassland", "rate_cropland_soil", "rate_wetland"):
        assert fam[key].units == "t C/ha/yr" and fam[key].source and fam[key].citation


def test_china_default_areas_and_magnitude():
    assert CHINA_LAND_SURVEY["forest"] == pytest.approx(4.262e9 / 15 / 1e6, abs=0.1)  # billion mu -> Mha
    assert CHINA_LAND_SURVEY["cropland_soil"] == pytest.approx(1.918e9 / 15 / 1e6, abs=0.1)
    ds = EcosystemSinks.china_default().simulate([2025], draws=4000, random_seed=7)
    mean_pg_c = float(ds["sink"].mean()) / MT_CO2_PER_GT_C
    # Fang et al. 2018: China's terrestrial sink ~0.2 Pg C/yr in 2001-2010; the priors agree within 2x
    assert 0.1 < mean_pg_c < 0.4
    assert "Third National Land Survey" in ds.attrs["area_sources"]


def test_reproducible_and_seed_dependent():
    model = EcosystemSinks.china_default()
    a = model.simulate(YEARS[:5], draws=50, random_seed=123)
    b = model.simulate(YEARS[:5], draws=50, random_seed=123)
    c = model.simulate(YEARS[:5], draws=50, random_seed=124)
    xr.testing.assert_identical(a, b)
    assert not np.allclose(a["sink"].values, c["sink"].values)


def test_multiplier_with_other_sample_count_is_resampled_reproducibly():
    model = fixed_model()
    m = multiplier(7)
    a = model.simulate(YEARS, m, draws=20, random_seed=9)
    b = model.simulate(YEARS, m, draws=20, random_seed=9)
    assert a.sizes["sample"] == 20
    np.testing.assert_array_equal(a["multiplier"].values, b["multiplier"].values)
    rows = {tuple(r) for r in np.round(a["multiplier"].values, 12)}
    assert rows <= {tuple(r) for r in np.round(m.values, 12)} and len(rows) == 7


# --------------------------------------------------------------------------------------------------
# Study tables and extensibility
# --------------------------------------------------------------------------------------------------

STUDY = """
[sinks.areas.China]
source = "Third National Land Survey of China (Ministry of Natural Resources, 2021)"
forest = 284.1      # Mha
grassland = 264.5
cropland_soil = 127.9
wetland = 23.5
uncertainty = 0.05  # relative sd of areas

[sinks.areas.Demo]
forest = { value = 10.0, low = 9.0, high = 12.0, source = "made up" }
mangrove = 0.5

[sinks.rates]
mangrove = { value = 2.0, units = "Mg C ha-1 yr-1" }
forest = { params = { sigma = 0.2 } }

[sinks.soc]
initial = [32.34, 33.47]
ceiling = 46.8
"""


def test_from_study_table():
    model = EcosystemSinks.from_study_table(tomllib.loads(STUDY))
    assert model.regions == ["China", "Demo"]
    assert model.ecosystems == ["forest", "grassland", "cropland_soil", "wetland", "mangrove"]
    china = model.areas["China"]
    assert china["forest"].value == 284.1 and china["forest"].rel_sd == 0.05
    assert china["wetland"].source.startswith("Third National Land Survey")
    assert model.areas["Demo"]["forest"].range == (9.0, 12.0)
    assert isinstance(model.rates["mangrove"], FixedRate) and model.rates["mangrove"].value == 2.0
    forest = model.rates["forest"]
    assert forest.params["sigma"] == 0.2 and forest.params["mu"] == pytest.approx(-0.5108)
    assert model.soc["China"].initial == (32.34, 33.47) and model.soc["Demo"] is None
    ds = model.simulate(YEARS[:2], draws=10, random_seed=0)
    np.testing.assert_allclose(
        ds["sink_by_ecosystem"].sel(region="Demo", ecosystem="mangrove").values, 0.5 * 2.0 * CO2_PER_C
    )
    off = EcosystemSinks.from_study_table({"sinks": {"areas": {"X": {"cropland_soil": 1.0}}, "soc": False}})
    assert off.soc["X"] is None
    table = model.areas_table()
    assert set(table.columns) >= {"region", "ecosystem", "area_mha", "source"} and len(table) == 6
    assert len(model.rates_table()) == 5


@pytest.mark.parametrize("units", ["t C/ha/yr", "t C ha-1 yr-1", "Mg C/ha/yr", "t C/(hm²·a)", "t C/(ha·yr)"])
def test_rate_units_accepted(units):
    model = EcosystemSinks({"A": {"forest": 1.0}}, model_config={"rates": {"forest": {"value": 0.5, "units": units}}})
    assert model.rates["forest"].value == 0.5


# --------------------------------------------------------------------------------------------------
# Bad inputs
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "areas, match",
    [
        ({"A": {"forest": -1.0}}, "area of 'forest' in region 'A'.*>= 0"),
        ({"A": {"forest": float("nan")}}, "finite"),
        ({"A": {"forest": float("inf")}}, "finite"),
        ({"A": {"forest": "many"}}, "expected a number"),
        ({"A": {"forrest": 1.0}}, "unknown ecosystem 'forrest'.*did you mean 'forest'"),
        ({"A": {"cropland": 1.0}}, "did you mean 'cropland_soil'"),
        ({"A": {"forest": {"value": 5.0, "low": 6.0, "high": 7.0}}}, "low <= value"),
        ({"A": {"forest": {"value": 5.0, "sd": -0.1}}}, ">= 0"),
        ({"A": {"forest": 1.0, "uncertainty": -0.2}}, "uncertainty"),
        ({"A": {"source": "x"}}, "no ecosystem"),
        ({}, "non-empty"),
    ],
)
def test_bad_areas(areas, match):
    with pytest.raises(InputError, match=match):
        EcosystemSinks(areas)


@pytest.mark.parametrize(
    "rates, match",
    [
        ({"forest": {"value": 0.5, "units": "t CO2/ha/yr"}}, "t C/ha/yr.*t CO2/ha/yr"),
        ({"forest": {"value": 50.0, "units": "g C/m2/yr"}}, "g C/m2/yr / 100"),
        ({"forest": {"distribution": "Normal", "params": {"mu": 1, "sigma": 1}, "units": "kg C/ha/yr"}}, "units"),
        ({"forest": {"value": 0.5, "distribution": "Normal"}}, "not both"),
        ({"forest": {"value": 0.5, "colour": "green"}}, "unknown key"),
        ({"forest": {"params": {"sigma": -1.0}}}, "must be > 0"),
        ({"seagrass": {"units": "t C/ha/yr"}}, "needs 'value' or 'distribution'"),
    ],
)
def test_bad_rate_overrides(rates, match):
    areas = {"A": {"forest": 1.0, **({"seagrass": 1.0} if "seagrass" in rates else {})}}
    with pytest.raises(InputError, match=match):
        EcosystemSinks(areas, model_config={"rates": rates})


def test_bad_prior_spec_units():
    spec = PriorSpec(name="x.rate", distribution="Normal", params={"mu": 1.0, "sigma": 1.0},
                     units="t CO2/ha/yr", description="", source="s", citation="c")
    with pytest.raises(InputError, match="rate units"):
        EcosystemSinks({"A": {"forest": 1.0}}, model_config={"rates": {"forest": spec}})


def test_bad_config_and_soc():
    with pytest.raises(InputError, match="unknown model_config key.*'rate'"):
        EcosystemSinks({"A": {"forest": 1.0}}, model_config={"rate": {}})
    with pytest.raises(InputError, match="must exceed the initial"):
        EcosystemSinks({"A": {"cropland_soil": 1.0}}, soc=SOCSaturation(initial=(30.0, 50.0), ceiling=46.8))
    with pytest.raises(InputError, match="must exceed the initial"):
        EcosystemSinks({"A": {"cropland_soil": 1.0}}, soc=SOCSaturation(ceiling=30.0))
    with pytest.raises(InputError, match="unknown region"):
        EcosystemSinks({"A": {"cropland_soil": 1.0}}, soc={"B": None})
    with pytest.raises(InputError, match="SOC ceiling"):
        SOCSaturation(ceiling=-1.0)


def test_bad_multiplier_and_years():
    model = fixed_model()
    m = multiplier(3, years=np.arange(2025, 2051))
    with pytest.raises(InputError, match="not year 2051"):
        model.simulate(YEARS, m)
    with pytest.raises(InputError, match="dims"):
        model.simulate(YEARS, m.rename(year="time"))
    bad = multiplier(3).copy()
    bad.loc[{"year": 2040}] = np.nan
    with pytest.raises(InputError, match="year 2040"):
        model.simulate(YEARS, bad)
    with pytest.raises(InputError, match="DataArray"):
        model.simulate(YEARS, np.ones((3, YEARS.size)))
    with pytest.raises(InputError, match="consecutive"):
        model.simulate([2030, 2040], draws=2)
    with pytest.raises(InputError, match="positive integer"):
        model.simulate(YEARS, draws=0)


# --------------------------------------------------------------------------------------------------
# CO2 scenarios
# --------------------------------------------------------------------------------------------------


def history(last: int = 2024, growth: float = 2.4, start: int = 2000) -> pd.DataFrame:
    years = np.arange(start, last + 1)
    return pd.DataFrame({"year": years, "co2_ppm": 370.0 + growth * (years - start)})


def test_default_path_continues_recent_growth():
    sc = CO2Scenario.from_history(history())
    assert sc.last_observed_year == 2024 and sc.horizon == 2060 and sc.first_year == 2000
    g0, d, last = 2.4, 2100, 2024
    first = sc.path(2025).item()
    assert first == pytest.approx(sc.path(2024).item() + g0 * (d - 2025) / (d - last))
    assert abs(first - (sc.path(2024).item() + g0)) <= g0 / (d - last) + 1e-9  # continuity
    assert sc.path([2000]).item() == 370.0  # history kept
    assert "not an SSP" in sc.description


def test_growth_reaches_zero_at_stated_year():
    sc = CO2Scenario.from_history(history(), horizon=2075, window=5, decay_to_zero_by=2060)
    g = sc.growth()
    assert g[2059] > 0 and g[2060] == 0 and (g.loc[2060:] == 0).all()
    future = g.loc[2025:2060]
    np.testing.assert_allclose(np.diff(future.to_numpy()), -2.4 / (2060 - 2024), atol=1e-9)  # linear decline
    assert g[2025] == pytest.approx(2.4 * 35 / 36)


def test_from_history_on_noaa_data(shared_data_dir):
    from forecast.data import load_co2_concentration

    df = load_co2_concentration("noaa_co2_gl", data_dir=shared_data_dir, download=False)
    sc = CO2Scenario.from_history(df)
    g0 = (df["co2_ppm"].iloc[-1] - df["co2_ppm"].iloc[-11]) / 10
    assert 2.0 < g0 < 3.0
    assert sc.path(sc.last_observed_year + 1).item() == pytest.approx(df["co2_ppm"].iloc[-1] + g0, abs=0.1)
    assert 460 < sc.path(2060).item() < 520


def test_from_history_bad_arguments():
    with pytest.raises(InputError, match="decay_to_zero_by 2020"):
        CO2Scenario.from_history(history(), decay_to_zero_by=2020)
    with pytest.raises(InputError, match="window=30"):
        CO2Scenario.from_history(history(), window=30)
    with pytest.raises(InputError, match="horizon 2020"):
        CO2Scenario.from_history(history(), horizon=2020)
    gap = history().drop(index=5)
    with pytest.raises(InputError, match="2005 is missing"):
        CO2Scenario.from_history(gap)


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "co2.csv"
    p.write_text(text, encoding="utf-8")
    return p


def test_csv_scenarios(tmp_path):
    rows = ["scenario,year,co2_ppm"]
    rows += [f"low,{y},{420 + (y - 2024)}" for y in range(2024, 2061)]
    rows += [f"high,{y},{420 + 3 * (y - 2024)}" for y in range(2024, 2061)]
    p = _write(tmp_path, "\n".join(rows) + "\n")
    paths = read_co2_scenarios(p)
    assert list(paths) == ["low", "high"]
    assert CO2Scenario.from_csv(p, scenario="high").path(2060).item() == 420 + 3 * 36
    with pytest.raises(InputError, match="2 scenarios"):
        CO2Scenario.from_csv(p)
    with pytest.raises(InputError, match="did you mean 'high'"):
        CO2Scenario.from_csv(p, scenario="hihg")
    single = _write(tmp_path, "# comment\nyear,co2_ppm\n" + "".join(f"{y},{400 + y - 2020}\n" for y in range(2020, 2061)))
    sc = CO2Scenario.from_csv(single)
    assert sc.name == "co2" and sc.path([2020, 2060]).tolist() == [400.0, 440.0]
    with pytest.raises(InputError, match="covers 2020-2060; year 2061"):
        sc.path([2059, 2061])
    da = sc.to_dataarray([2030, 2031])
    assert da.dims == ("year",) and da.attrs["units"].startswith("ppm")


@pytest.mark.parametrize(
    "body, match",
    [
        ("year,co2_ppm\n2058,430\n2060,432\n", "gap in years between 2058 and 2060.*2059"),
        ("year,co2_ppm\n2058,430\n2059,431\n2059,432\n2060,433\n", "strictly increasing.*2059 follows 2059"),
        ("year,co2_ppm\n2058,430\n2059,-1\n2060,432\n", "positive and finite.*2059"),
        ("year,co2_ppm\n2058,430\n2059,\n2060,432\n", "positive and finite.*2059"),
        ("year,co2_ppm\n2050,430\n2051,431\n", "ends in 2051.*horizon 2060.*first missing year: 2052"),
        ("yr,co2\n2060,430\n", "missing column"),
        ("scenario,year,co2_ppm\na,2059,401\na,2060,402\nb,2059,401\n", "scenario 'b'.*ends in 2059"),
        ("year,co2_ppm\n2059,0.0004\n2060,0.0004\n", "in 150-5000 ppm.*2059, 2060"),  # a mole fraction, not ppm
    ],
)
def test_csv_validation(tmp_path, body, match):
    with pytest.raises(InputError, match=match):
        read_co2_scenarios(_write(tmp_path, body))


def test_a_rate_for_an_ecosystem_without_areas_is_a_typo_not_a_new_ecosystem():
    with pytest.raises(InputError, match=r"'forestt' but no region has an area of it \(did you mean 'forest'\?\)"):
        EcosystemSinks.from_study_table({"areas": {"China": {"forest": 220.0}},
                                         "rates": {"forestt": {"value": 0.5, "units": "t C/ha/yr"}}})
