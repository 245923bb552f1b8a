"""Tests for forecast.data: locating, downloading, validating and loading input data."""

from __future__ import annotations

import csv
import dataclasses
import functools
import hashlib
import http.server
import math
import os
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecast import data
from forecast.data import (
    SOURCES,
    data_info,
    file_provenance,
    load_co2_concentration,
    load_panel,
    resolve_data_file,
    validate_panel,
)
from forecast.errors import DataNotFoundError, InputError

OWID_FILE = "owid_co2_data.csv"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """Never read the developer's env/cache, and never route 127.0.0.1 through a proxy."""
    monkeypatch.delenv("CARBON_FORECAST_DATA", raising=False)
    monkeypatch.setenv("CARBON_FORECAST_CACHE", str(tmp_path / "default-cache"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


# ---------------------------------------------------------------------------------------------- helpers


def _panel_rows(regions=("Alpha", "Beta"), years=range(2000, 2012)):
    rows = []
    for i, r in enumerate(regions):
        for y in years:
            pop = 1e6 * (i + 1) + 1000 * (y - 2000)
            rows.append(
                {"region": r, "year": y, "population": pop, "gdp": pop * (5000 + 100 * (y - 2000)),
                 "co2": 2.0 * (i + 1) + 0.1 * (y - 2000), "urban_share": 0.5}
            )
    return rows


def _write_panel(tmp_path, rows=None, name="panel.csv", overrides=None):
    """Write a tidy panel CSV; ``overrides`` maps (region, year) -> {column: value}."""
    df = pd.DataFrame(rows if rows is not None else _panel_rows())
    for (region, year), values in (overrides or {}).items():
        for col, value in values.items():
            df.loc[(df["region"] == region) & (df["year"] == year), col] = value
    path = tmp_path / name
    df.to_csv(path, index=False)
    return path


def _write_owid_like(path: Path) -> Path:
    """A small CSV with OWID's layout: countries, an aggregate with empty iso_code, extra columns."""
    rows = []
    for country, iso, scale in (("Alpha", "ALP", 1), ("Beta", "BET", 3), ("World", "", 10)):
        for y in range(2000, 2012):
            pop = 1e6 * scale
            rows.append([country, y, iso, pop, pop * 8000, 5.0 * scale + y % 3, 1.0])
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["country", "year", "iso_code", "population", "gdp", "co2", "methane"])
        w.writerows(rows)
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def owid(shared_data_dir):
    return load_panel(data_dir=shared_data_dir)


# ---------------------------------------------------------------------------------------------- OWID (real file)


def test_owid_excludes_aggregates_and_has_expected_layout(owid):
    regions = set(owid["region"])
    for agg in ("World", "Asia", "Europe", "High-income countries", "European Union (27)"):
        assert agg not in regions
    assert {"China", "India", "United States", "Germany"} <= regions
    assert list(owid.columns[:7]) == list(data.PANEL_COLUMNS)
    assert "iso_code" in owid.columns and owid["iso_code"].notna().all()
    assert owid["year"].dtype == np.int64
    assert owid[["population", "gdp", "co2"]].notna().all().all()
    assert owid.groupby("region").size().min() >= 10
    assert isinstance(owid.index, pd.RangeIndex)
    key = owid[["region", "year"]]
    assert key.equals(key.sort_values(["region", "year"]).reset_index(drop=True))


def test_owid_units_and_provenance(owid, shared_data_dir):
    assert owid.attrs["units"] == {
        "population": "people",
        "gdp": "international-$ (2011 prices)",
        "co2": "Mt CO2/yr",
        "gdp_per_capita": "international-$ (2011 prices) per person",
        "co2_per_capita": "t CO2 per person per yr",
    }
    assert owid.attrs["source"] == "owid"
    (prov,) = owid.attrs["provenance"]
    f = shared_data_dir / OWID_FILE
    assert prov["sha256"] == _sha256(f)
    assert prov["path"] == str(f.resolve())
    assert prov["size_bytes"] == f.stat().st_size
    assert prov["url"] == SOURCES["owid"].url
    assert prov["retrieved"].endswith("+00:00")
    assert prov["rows"] == len(owid)
    assert prov["regions"] == owid["region"].nunique()
    assert (prov["year_min"], prov["year_max"]) == (owid["year"].min(), owid["year"].max())


def test_owid_per_capita_matches_raw_row(owid, shared_data_dir):
    with open(shared_data_dir / OWID_FILE, newline="") as fh:
        raw = next(r for r in csv.DictReader(fh) if r["country"] == "China" and r["year"] == "2020")
    pop, gdp, co2 = float(raw["population"]), float(raw["gdp"]), float(raw["co2"])
    row = owid[(owid["region"] == "China") & (owid["year"] == 2020)]
    assert len(row) == 1
    row = row.iloc[0]
    assert row["population"] == pop and row["gdp"] == gdp and row["co2"] == co2
    assert row["gdp_per_capita"] == pytest.approx(gdp / pop, rel=1e-12)
    assert row["co2_per_capita"] == pytest.approx(co2 * 1e6 / pop, rel=1e-12)
    assert row["iso_code"] == raw["iso_code"]


def test_owid_year_and_region_filters(owid, shared_data_dir):
    assert owid["year"].min() < 1990 and owid["year"].max() > 2000
    df = load_panel(data_dir=shared_data_dir, years=(1990, 2000), regions=["China", "India"])
    assert set(df["region"]) == {"China", "India"}
    assert sorted(df["year"].unique()) == list(range(1990, 2001))
    assert len(df) == 22
    expected = owid[owid["region"].isin(["China", "India"]) & owid["year"].between(1990, 2000)]
    np.testing.assert_array_equal(df["co2"].to_numpy(), expected["co2"].to_numpy())
    assert df.attrs["provenance"][0]["rows"] == 22


def test_owid_min_population_applies_to_every_kept_year(owid, shared_data_dir):
    threshold = 1e8
    df = load_panel(data_dir=shared_data_dir, years=(1960, 2020), min_population=threshold)
    assert df.groupby("region")["population"].min().min() >= threshold
    assert {"China", "India", "United States"} <= set(df["region"])
    # Bangladesh passed 1e8 people only in the 1980s: large in 2020 but not in every year, so dropped.
    window = owid[owid["year"].between(1960, 2020)]
    bgd = window.loc[window["region"] == "Bangladesh", "population"]
    assert bgd.max() >= threshold > bgd.min()
    assert "Bangladesh" not in set(df["region"])
    assert "Iceland" not in set(df["region"])


def test_owid_require_complete_false_keeps_missing_values(shared_data_dir):
    df = load_panel(data_dir=shared_data_dir, regions=["China"], require_complete=False)
    assert df["gdp"].isna().any()  # OWID GDP stops in 2022, CO2 runs to 2023
    assert df["year"].max() == 2023
    assert np.isnan(df.loc[df["gdp"].isna(), "gdp_per_capita"]).all()


def test_owid_file_given_explicitly_via_path(shared_data_dir, tmp_path):
    df = load_panel(path=shared_data_dir / OWID_FILE, regions=["France"], years=(2000, 2010),
                    cache_dir=tmp_path / "empty", download=False)
    assert set(df["region"]) == {"France"} and len(df) == 11


def test_data_info_owid(shared_data_dir):
    info = data_info("owid", data_dir=shared_data_dir, download=False)
    assert info["path"] == str((shared_data_dir / OWID_FILE).resolve())
    assert info["provenance"]["sha256"] == _sha256(shared_data_dir / OWID_FILE)
    assert 150 < info["regions"] < 260  # countries only, no aggregates
    assert info["year_min"] == 1750 and info["complete_year_max"] == 2022
    assert {"region", "year", "population", "gdp", "co2"} <= set(info["columns"])
    assert "CC BY 4.0" in info["citation"]


# ---------------------------------------------------------------------------------------------- generic panels


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_generic_panel(tmp_path, fmt):
    rows = _panel_rows()
    rows = rows[::-1]  # unsorted on purpose
    if fmt == "csv":
        path = _write_panel(tmp_path, rows)
    else:
        path = tmp_path / "panel.parquet"
        pd.DataFrame(rows).to_parquet(path)
    df = load_panel(path)
    assert list(df.columns) == list(data.PANEL_COLUMNS) + ["urban_share"]
    assert df["region"].tolist() == ["Alpha"] * 12 + ["Beta"] * 12
    assert df["year"].tolist() == list(range(2000, 2012)) * 2
    assert df["year"].dtype == np.int64
    row = df[(df["region"] == "Beta") & (df["year"] == 2005)].iloc[0]
    assert row["co2_per_capita"] == pytest.approx(row["co2"] * 1e6 / row["population"])
    assert row["gdp_per_capita"] == pytest.approx(5500.0)
    assert df.attrs["source"] == str(path.resolve())
    assert df.attrs["provenance"][0]["sha256"] == _sha256(path)
    assert df.attrs["units"]["co2"] == "Mt CO2/yr"


def test_generic_panel_float_years_accepted_but_fractional_rejected(tmp_path):
    rows = _panel_rows()
    df = validate_panel(pd.DataFrame(rows).astype({"year": "float64"}), source_label="x")
    assert df["year"].dtype == np.int64
    bad = pd.DataFrame(rows)
    bad["year"] = bad["year"].astype("float64")
    bad.loc[3, "year"] = 2003.5
    with pytest.raises(InputError, match=r"'year' must hold whole numbers.*Alpha/2003\.5"):
        validate_panel(bad, source_label="x")


# ---------------------------------------------------------------------------------------------- bad input


def test_missing_column_suggests_spelling(tmp_path):
    path = tmp_path / "p.csv"
    pd.DataFrame(_panel_rows()).rename(columns={"population": "popultion"}).to_csv(path, index=False)
    with pytest.raises(InputError, match=r"missing required column\(s\) 'population' \(did you mean 'popultion'\?\)"
                       r".*Columns found: 'region', 'year', 'popultion'"):
        load_panel(path)


@pytest.mark.parametrize(
    ("column", "value", "pattern"),
    [
        ("population", -5.0, r"'population' must be strictly positive.*Beta/2004 \(population=-5\.0\)"),
        ("gdp", 0.0, r"'gdp' must be strictly positive.*Beta/2004 \(gdp=0\.0\)"),
        ("co2", math.inf, r"'co2' must be finite and >= 0.*Beta/2004 \(co2=inf\)"),
        ("co2", -1.0, r"'co2' must be finite and >= 0.*Beta/2004"),
        ("population", "many", r"'population' must be numeric.*Beta/2004"),
    ],
)
def test_bad_values_are_reported_with_region_and_year(tmp_path, column, value, pattern):
    rows = _panel_rows()
    for r in rows:
        if r["region"] == "Beta" and r["year"] == 2004:
            r[column] = value
    path = _write_panel(tmp_path, rows)
    with pytest.raises(InputError, match=pattern):
        load_panel(path)


def test_duplicated_region_year(tmp_path):
    rows = _panel_rows()
    rows.append(dict(rows[5]))  # Alpha 2005 twice
    with pytest.raises(InputError, match=r"duplicated \(region, year\) pair\(s\): Alpha/2005"):
        load_panel(_write_panel(tmp_path, rows))


def test_unknown_region_suggests_close_match(shared_data_dir):
    with pytest.raises(InputError, match=r"unknown region\(s\) 'Chna' \(did you mean 'China'"):
        load_panel(data_dir=shared_data_dir, regions=["China", "Chna"])


def test_aggregate_region_is_explained(shared_data_dir):
    with pytest.raises(InputError, match=r"'World' \(an aggregate"):
        load_panel(data_dir=shared_data_dir, regions=["World"])


def test_requested_region_with_too_few_years(shared_data_dir, tmp_path):
    # OWID GDP ends in 2022, so 2015-2023 has 8 complete years for China.
    with pytest.raises(InputError, match=r"too few complete years.*2015-2023.*'China' has 8; min_years=10"):
        load_panel(data_dir=shared_data_dir, regions=["China"], years=(2015, 2023))
    # Unrequested short regions are silently dropped instead.
    rows = [r for r in _panel_rows() if r["region"] == "Alpha" or r["year"] < 2003]
    path = _write_panel(tmp_path, rows)
    assert set(load_panel(path, min_years=5)["region"]) == {"Alpha"}
    with pytest.raises(InputError, match=r"'Beta' has 3; min_years=5"):
        load_panel(path, min_years=5, regions=["Alpha", "Beta"])


def test_missing_values_count_against_min_years(tmp_path):
    overrides = {("Beta", y): {"gdp": np.nan} for y in range(2000, 2010)}
    path = _write_panel(tmp_path, overrides=overrides)  # Beta keeps 2 complete years
    assert set(load_panel(path, min_years=3)["region"]) == {"Alpha"}
    assert len(load_panel(path, min_years=2)) == 24 - 10


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"years": (1900, 1950)}, r"no rows in years 1900-1950 \(the data cover 2000-2011\)"),
        ({"min_years": 20}, r"no region has at least min_years=20 complete years"),
        ({"min_population": 1e9}, r"no region has population >= min_population=1,000,000,000"),
    ],
)
def test_empty_result_names_the_filter(tmp_path, kwargs, pattern):
    with pytest.raises(InputError, match=pattern):
        load_panel(_write_panel(tmp_path), **kwargs)


def test_bad_arguments(tmp_path):
    path = _write_panel(tmp_path)
    with pytest.raises(InputError, match="start 2010 is after end 2000"):
        load_panel(path, years=(2010, 2000))
    with pytest.raises(InputError, match="min_population must be a non-negative"):
        load_panel(path, min_population=-1)
    with pytest.raises(InputError, match=r"Unknown data source 'owdi' \(did you mean 'owid'"):
        load_panel("owdi")
    with pytest.raises(InputError, match="not a region x year emissions panel"):
        load_panel("noaa_co2_gl")


# ---------------------------------------------------------------------------------------------- resolution order


def test_resolution_order(tmp_path, monkeypatch):
    dirs = {}
    for name in ("explicit", "data_dir", "env", "cache"):
        d = tmp_path / name
        d.mkdir()
        (d / OWID_FILE).write_text(name)
        dirs[name] = d
    monkeypatch.setenv("CARBON_FORECAST_DATA", str(dirs["env"]))
    common = {"cache_dir": dirs["cache"], "download": False}

    def which(**kw):
        return resolve_data_file("owid", **{**common, **kw}).read_text()

    assert which(path=dirs["explicit"] / OWID_FILE, data_dir=dirs["data_dir"]) == "explicit"
    assert which(data_dir=dirs["data_dir"]) == "data_dir"
    with pytest.raises(DataNotFoundError, match="does not exist"):  # asked for and unusable: no fallback
        which(data_dir=tmp_path / "nowhere")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("a usable folder without this file")
    assert which(data_dir=tmp_path / "other") == "env"
    assert which() == "env"
    monkeypatch.delenv("CARBON_FORECAST_DATA")
    assert which() == "cache"
    # cache_dir falls back to $CARBON_FORECAST_CACHE
    monkeypatch.setenv("CARBON_FORECAST_CACHE", str(dirs["cache"]))
    assert resolve_data_file("owid", download=False).read_text() == "cache"
    assert resolve_data_file("owid", download=False).is_absolute()


def test_missing_everywhere_lists_places(tmp_path, monkeypatch):
    monkeypatch.setenv("CARBON_FORECAST_DATA", str(tmp_path / "envdir"))
    (tmp_path / "dd").mkdir()
    (tmp_path / "dd" / "notes.txt").write_text("a usable folder without the data file")
    with pytest.raises(DataNotFoundError) as exc:
        resolve_data_file("owid", data_dir=tmp_path / "dd", cache_dir=tmp_path / "cc", download=False)
    msg = str(exc.value)
    for place in ("dd", "envdir", "cc"):
        assert str(tmp_path / place / OWID_FILE) in msg
    assert "--data-dir" in msg and "CARBON_FORECAST_DATA" in msg and "disabled" in msg


def test_explicit_path_must_exist(tmp_path):
    with pytest.raises(DataNotFoundError, match="given explicitly as .*no_such.csv"):
        resolve_data_file("owid", path=tmp_path / "no_such.csv", data_dir=tmp_path)


def test_unknown_source_lists_known_names():
    with pytest.raises(InputError, match="Known sources: noaa_co2_gl, noaa_co2_mlo, owid"):
        resolve_data_file("nope")


def test_registry():
    owid = SOURCES["owid"]
    assert owid.filename == OWID_FILE
    assert owid.url == "https://nyc3.digitaloceanspaces.com/owid-public/data/co2/owid-co2-data.csv"
    assert "CC BY 4.0" in owid.citation
    assert SOURCES["noaa_co2_mlo"].url.endswith("/co2_annmean_mlo.csv")
    with pytest.raises(dataclasses.FrozenInstanceError):
        owid.url = "x"  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------- provenance


def test_file_provenance_hash_follows_file_changes(tmp_path):
    f = tmp_path / "x.csv"
    f.write_bytes(b"a" * 3_000_000)
    p1 = file_provenance(f, source="owid")
    assert p1["sha256"] == _sha256(f) and p1["size_bytes"] == 3_000_000
    assert p1["url"] == SOURCES["owid"].url
    f.write_bytes(b"b" * 10)
    p2 = file_provenance(f, url="http://example.invalid/x")
    assert p2["sha256"] == _sha256(f) != p1["sha256"]
    assert p2["url"] == "http://example.invalid/x" and p2["source"] is None


# ---------------------------------------------------------------------------------------------- download


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        if self.path.startswith("/truncated"):
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"country,year,iso_code\n" * 10)
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def http_server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state = {"running": True}

    def stop():
        if state["running"]:
            server.shutdown()
            server.server_close()
            thread.join(5)
            state["running"] = False

    yield root, f"http://127.0.0.1:{server.server_address[1]}", stop
    stop()


def _point_owid_at(monkeypatch, url, sha256=None):
    monkeypatch.setitem(SOURCES, "owid", dataclasses.replace(SOURCES["owid"], url=url, sha256=sha256))


def test_download_then_cache_hit(http_server, tmp_path, monkeypatch):
    root, base, stop = http_server
    served = _write_owid_like(root / "owid-co2-data.csv")
    _point_owid_at(monkeypatch, f"{base}/owid-co2-data.csv", sha256=_sha256(served))
    cache = tmp_path / "cache"

    df = load_panel(cache_dir=cache, min_years=5)
    assert sorted(os.listdir(cache)) == [OWID_FILE]  # stored under the local name, no leftovers
    assert (cache / OWID_FILE).read_bytes() == served.read_bytes()
    assert set(df["region"]) == {"Alpha", "Beta"}  # "World" (empty iso_code) dropped
    assert "methane" not in df.columns
    prov = df.attrs["provenance"][0]
    assert prov["sha256"] == _sha256(served)
    assert prov["url"] == f"{base}/owid-co2-data.csv"
    assert prov["path"] == str((cache / OWID_FILE).resolve())

    stop()  # server gone: the cached copy must be used
    df2 = load_panel(cache_dir=cache, min_years=5)
    pd.testing.assert_frame_equal(df, df2)
    assert resolve_data_file("owid", cache_dir=cache, download=False) == (cache / OWID_FILE).resolve()


@pytest.mark.parametrize(("remote", "pattern"), [("missing.csv", "404"), ("truncated.csv", "failed")])
def test_failed_download_leaves_no_file(http_server, tmp_path, monkeypatch, remote, pattern):
    _, base, _ = http_server
    _point_owid_at(monkeypatch, f"{base}/{remote}")
    cache = tmp_path / "cache"
    with pytest.raises(DataNotFoundError, match=pattern) as exc:
        resolve_data_file("owid", cache_dir=cache, progress=False)
    assert "--data-dir" in str(exc.value) and str(cache / OWID_FILE) in str(exc.value)
    assert not cache.exists() or list(cache.iterdir()) == []


def test_changed_upstream_file_is_refused_naming_both_hashes(http_server, tmp_path, monkeypatch):
    from forecast.data import ENV_ACCEPT_CHANGED
    from forecast.errors import DataHashError

    root, base, _ = http_server
    served = _write_owid_like(root / "owid-co2-data.csv")
    registered = "0" * 64
    _point_owid_at(monkeypatch, f"{base}/owid-co2-data.csv", sha256=registered)
    cache = tmp_path / "cache"
    monkeypatch.delenv(ENV_ACCEPT_CHANGED, raising=False)
    with pytest.raises(DataHashError) as exc:
        resolve_data_file("owid", cache_dir=cache, progress=False)
    assert registered in str(exc.value) and _sha256(served) in str(exc.value)
    assert not (cache / OWID_FILE).exists()  # nothing stored
    monkeypatch.setenv(ENV_ACCEPT_CHANGED, "1")  # taken on purpose: stored, and its hash is in the provenance
    assert resolve_data_file("owid", cache_dir=cache, progress=False).read_bytes() == served.read_bytes()


def test_registered_hashes_are_those_of_the_shared_data(shared_data_dir):
    for source in SOURCES.values():
        assert source.sha256 == _sha256(shared_data_dir / source.filename), source.name


# ---------------------------------------------------------------------------------------------- CO2 concentration


def test_load_co2_concentration_real(shared_data_dir):
    df = load_co2_concentration("noaa_co2_mlo", data_dir=shared_data_dir, download=False)
    assert df["year"].iloc[0] == 1959
    assert (np.diff(df["year"]) == 1).all()
    raw = pd.read_csv(shared_data_dir / "noaa_co2_annmean_mlo.csv")
    assert df["co2_ppm"].tolist() == raw["co2_ppm"].tolist()
    assert df.attrs["provenance"][0]["sha256"] == _sha256(shared_data_dir / "noaa_co2_annmean_mlo.csv")


def test_load_co2_concentration_upstream_format_and_gaps(tmp_path):
    upstream = tmp_path / "co2_annmean_gl.csv"
    upstream.write_text("# NOAA header\n# more comments\nyear,mean,unc\n1979,336.85,0.10\n1980,338.91,0.07\n")
    df = load_co2_concentration(upstream)
    assert list(df.columns) == ["year", "co2_ppm", "uncertainty_ppm"] and len(df) == 2
    gap = tmp_path / "gap.csv"
    gap.write_text("year,co2_ppm\n1979,336.85\n1981,340.11\n")
    with pytest.raises(InputError, match="gap in years between 1979 and 1981"):
        load_co2_concentration(gap)
    neg = tmp_path / "neg.csv"
    neg.write_text("year,co2_ppm\n1979,336.85\n1980,-1\n")
    with pytest.raises(InputError, match=r"co2_ppm must be positive.*1980"):
        load_co2_concentration(neg)


def test_zero_co2_years_are_dropped_and_listed_not_fatal(tmp_path):
    """A reported co2 = 0 (early years of small economies in OWID) cannot be fitted in logs: with
    require_complete the region-year is dropped and named in the provenance; the panel still loads and the
    models accept it."""
    from forecast.models.ekc import EKCModel

    path = _write_panel(tmp_path, overrides={("Alpha", 2000): {"co2": 0.0}, ("Alpha", 2001): {"co2": 0.0}})
    df = load_panel(path, min_years=5)
    assert (df["co2"] > 0).all()
    assert sorted(df.loc[df["region"] == "Alpha", "year"])[0] == 2002
    assert df.attrs["provenance"][0]["dropped_zero_co2"] == {"Alpha": [2000, 2001]}
    EKCModel().prepare(df)  # no "must be positive" rejection of the whole panel
    kept = load_panel(path, require_complete=False)
    assert (kept["co2"] == 0).sum() == 2  # without require_complete nothing is dropped


def test_zero_co2_years_in_the_real_panel_before_1985(shared_data_dir):
    """Regression: every backtest cutoff before 1985 failed on early zero years (Saudi Arabia, Kuwait, El Salvador...)."""
    df = load_panel(data_dir=shared_data_dir, years=(1950, 1980), min_years=10)
    assert (df["co2"] > 0).all()
    assert df.attrs["provenance"][0]["dropped_zero_co2"]["Saudi Arabia"] == [1951, 1952]
