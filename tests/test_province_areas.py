"""The shipped provincial ecosystem areas (priors/china_province_areas.csv) and their use in the provinces
study: capacity with sinks and the sink mode of horizontal compensation.

The areas are the package's data (typed from the China Statistical Yearbook 2009, see the CSV header); the
emissions below are made up (no model is fitted), so only properties that hold for any emissions are tested."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import numpy as np
import xarray as xr

from forecast.data.china import PROVINCE_GROUPS
from forecast.policy.capacity import make_cap, sink_capacity_table
from forecast.policy.compensation import compensation, compensation_table
from forecast.run.stages.capacity import check_capacity
from forecast.run.stages.sinks import sink_areas
from forecast.run.study import load_study, studies_dir
from forecast.sinks.areas import read_areas_csv
from forecast.sinks.ecosystems import EcosystemSinks

CSV = Path(__file__).resolve().parents[1] / "priors" / "china_province_areas.csv"
#: the 30 provinces of the CEADs panel (Tibet has no CEADs inventory)
CEADS_PROVINCES = sorted(p for p in PROVINCE_GROUPS if p != "Tibet")
#: published unit of each ecosystem's table and its divisor to Mha (CSV header)
UNITS = {"forest": ("10 000 ha", 100), "cropland_soil": ("1 000 ha", 1000)}
#: China Statistical Yearbook 2009, Table 12-3: Tibet's row and the Region Total (1 000 ha)
TIBET_CULTIVATED, TOTAL_CULTIVATED = Decimal("361.6"), Decimal("121715.9")


def _provinces():
    return load_study(studies_dir() / "china-provinces" / "study.toml")


def test_shipped_areas_cover_the_30_ceads_provinces_with_positive_cited_areas():
    areas = read_areas_csv(CSV)  # the package reader: every row has a source, areas are finite and >= 0
    assert len(CEADS_PROVINCES) == 30
    assert sorted(areas) == CEADS_PROVINCES
    header = CSV.read_text(encoding="utf-8").splitlines()
    assert any(line.startswith("region,ecosystem,area_mha,") for line in header)  # area in Mha, by its name
    for region, table in areas.items():
        assert set(table) == set(UNITS), region
        for eco, spec in table.items():
            assert spec["value"] > 0, (region, eco)
            assert "China Statistical Yearbook 2009" in spec["source"] and "http://www.stats.gov.cn/" in spec["source"]


def test_area_is_the_published_figure_in_mha():
    """Each source ends with the figure as published; area_mha is that figure over the unit's divisor."""
    import csv

    rows = list(csv.DictReader(line for line in CSV.read_text(encoding="utf-8").splitlines()
                               if line.strip() and not line.startswith("#")))
    assert len(rows) == 60
    cultivated = Decimal(0)
    for row in rows:
        unit, divisor = UNITS[row["ecosystem"]]
        m = re.search(r"as published: ([0-9.]+) \((.+)\)$", row["source"])
        assert m and m.group(2) == unit, row
        assert Decimal(row["area_mha"]) == Decimal(m.group(1)) / divisor, row
        assert row["year"] == {"forest": "2003", "cropland_soil": "2008"}[row["ecosystem"]]
        if row["ecosystem"] == "cropland_soil":
            cultivated += Decimal(m.group(1))
    # a typo in any cultivated-land row would break the table's own total
    assert cultivated + TIBET_CULTIVATED == TOTAL_CULTIVATED


def test_provinces_study_uses_the_shipped_areas_for_capacity_and_sink_compensation():
    study = _provinces()
    assert study.sinks.enabled and study.resolve(study.sinks.areas_csv).resolve() == CSV
    assert sorted(sink_areas(study)) == CEADS_PROVINCES
    caps = study.capacity.caps
    assert any(spec.get("with_sink") for spec in caps.values())
    assert any(spec["rule"] == "neutrality" for spec in caps.values())
    assert "sink" in study.compensation.rules
    # the study's capacity and compensation settings pass the pre-sampling check for the 30 provinces
    check_capacity(study, CEADS_PROVINCES, list(range(2017, 2061)))


def _forecast_with_shipped_sinks(n: int = 400, seed: int = 3) -> xr.Dataset:
    """Made-up emissions, population and GDP for the 30 provinces, with the ecosystem sink of the shipped areas
    in two CFE variants (as the run stores it: dims sample, region, year, cfe)."""
    years = [2030, 2060]
    rng = np.random.default_rng(seed)
    shape = (n, len(CEADS_PROVINCES), len(years))
    sinks = EcosystemSinks(read_areas_csv(CSV))
    sink = sinks.simulate(range(years[0], years[-1] + 1), draws=n, random_seed=seed)["sink"]
    sink = sink.sel(region=CEADS_PROVINCES, year=years).transpose("sample", "region", "year")
    coords = {"sample": np.arange(n), "region": CEADS_PROVINCES, "year": years}
    # emissions of the order of the provinces' (tens to hundreds of Mt CO2/yr)
    co2 = np.exp(rng.normal(np.log(rng.uniform(20, 600, size=len(CEADS_PROVINCES)))[None, :, None], 0.2, size=shape))
    ds = xr.Dataset({"co2": (("sample", "region", "year"), co2),
                     "population": (("sample", "region", "year"), np.full(shape, 4e7)),
                     "gdp_per_capita": (("sample", "region", "year"), np.full(shape, 2e4))}, coords=coords)
    # bookkeeping coordinates as the forecast carries them
    ds = ds.assign_coords(co2_observed=(("region", "year"), np.zeros((len(CEADS_PROVINCES), len(years)), bool)),
                          last_observed_year=("region", np.full(len(CEADS_PROVINCES), 2019)))
    declining = xr.DataArray(sink.values, dims=("sample", "region", "year"), coords=coords)
    ds["sink"] = xr.concat([declining, 1.1 * declining], dim=xr.DataArray(["declining", "constant"], dims="cfe"))
    return ds


def test_sink_mode_payments_sum_to_zero_with_the_shipped_areas_and_no_cfe_column():
    ds = _forecast_with_shipped_sinks()
    comp = compensation(ds, "sink", 2030, price_median=80.0, price_p05=40.0, price_p95=200.0, random_seed=1,
                        currency="CNY")
    pay = comp["payment"]
    scale = float(abs(pay).max())
    assert scale > 0
    np.testing.assert_allclose(pay.sum("region"), 0.0, atol=1e-9 * scale)  # in every draw
    # the headline (declining CFE) sink is used, named in the attrs, and no stray cfe coordinate or column
    raw = ds["co2"].sel(year=2030) - ds["sink"].sel(year=2030, cfe="declining")
    np.testing.assert_allclose(comp["unmatched"], raw.sum("region"))
    assert comp.attrs["sink_variant"] == "cfe=declining"
    assert "cfe" not in comp.coords
    table = compensation_table(comp)  # only its documented columns: no cfe, co2_observed, ... riding along
    assert list(table.columns) == ["region", "balance_mean", "payment_mean", "payment_q05", "payment_q95",
                                   "p_pays", "p_receives"]
    assert set(table["region"]) == set(CEADS_PROVINCES)
    assert list(compensation_table(compensation(ds, "per_capita", 2030, price_median=80.0)).columns) == list(table.columns)


def test_capacity_with_the_shipped_sinks_at_least_capacity_without():
    ds = _forecast_with_shipped_sinks()
    bare = make_cap("per_capita", ds, budget=10000.0)
    net = make_cap("per_capita", ds, budget=10000.0, with_sink=True)
    sink = ds["sink"].sel(cfe="declining")
    gain = (net - bare.reindex_like(net)).transpose(*sink.dims)
    positive = sink > 0
    assert bool(positive.mean() > 0.9)  # forest and cropland rates are mostly uptakes
    assert bool((gain.where(positive) >= -1e-9).where(positive, True).all())
    table = sink_capacity_table(ds, bare, years=[2030, 2060])
    assert (table["population_capacity_with_sink_q50"] >= table["population_capacity_q50"]).all()
    assert "cfe" not in table.columns



def test_the_areas_file_is_recorded_in_the_run_provenance():
    """The report's data-provenance table lists the areas CSV with its SHA-256, as it lists the data files."""
    import hashlib

    from forecast.run.stages.sinks import _areas_provenance

    [entry] = _areas_provenance(_provinces())
    path = Path(entry["path"])
    assert path.name == "china_province_areas.csv" and entry["source"] == "sinks.areas_csv"
    assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
