"""Tests for forecast.io.export, forecast.report and forecast.io.atomic on a small synthetic RunResult."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from forecast.io.atomic import atomic_output_dir, atomic_write_text  # noqa: E402
from forecast.errors import InputError  # noqa: E402
from forecast.mdtable import frame_table, md_table  # noqa: E402
from forecast.io.export import (  # noqa: E402
    band_columns,
    export_all,
    export_bands,
    export_json,
    export_netcdf,
    level_column,
    quantile_bands,
    summary_dict,
)
from forecast.report import render_html, render_markdown, save_figures, write_report  # noqa: E402
from forecast.report._format import fmt_money, fmt_pct  # noqa: E402
from forecast.run.results import RunResult  # noqa: E402

REGIONS = ["Alpha", "Beta", "Gamma"]
YEARS = np.arange(2000, 2041)
LAST_OBS = 2022
N_SAMPLES = 200
SHA = hashlib.sha256(b"synthetic emissions table").hexdigest()
CITATION = "Smith, J. et al. (2020) Nature Climate Change 10, 123-130"
WARNING_TEXT = "3 divergent transitions after tuning"
LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)


def _history(region: str) -> np.ndarray:
    t = np.arange(2000, LAST_OBS + 1)
    if region == "Alpha":  # rose until 2010, declining since: every sample peaked in history
        return np.where(t <= 2010, 300 + 20 * (t - 2000), 500 - 8 * (t - 2010)).astype(float)
    if region == "Beta":  # steadily rising
        return 100 * 1.05 ** (t - 2000)
    # Gamma: a high point in 2015, then slightly lower: peak either in 2015 or in the future
    return np.where(t <= 2015, 600 + 30 * (t - 2000), 1050 - 5 * (t - 2015)).astype(float)


def _make_result(with_warning: bool = True) -> RunResult:
    rng = np.random.default_rng(12345)
    drift = {"Alpha": -0.03, "Beta": 0.02, "Gamma": 0.0}
    n_fc = int((YEARS > LAST_OBS).sum())
    co2 = np.empty((N_SAMPLES, len(REGIONS), len(YEARS)))
    for j, r in enumerate(REGIONS):
        h = _history(r)
        co2[:, j, : len(h)] = h
        slope = drift[r] + 0.01 * rng.standard_normal((N_SAMPLES, 1))
        steps = slope + 0.01 * rng.standard_normal((N_SAMPLES, n_fc))
        co2[:, j, len(h) :] = h[-1] * np.exp(np.cumsum(steps, axis=1))
    pop = np.broadcast_to(np.linspace(1e7, 1.3e7, len(YEARS)), co2.shape) * np.array([1.0, 5.0, 2.0])[None, :, None]
    gdp = np.broadcast_to(np.linspace(8000, 30000, len(YEARS)), co2.shape) * (1 + 0.02 * rng.standard_normal(co2.shape))
    dims = ("sample", "region", "year")
    ds = xr.Dataset(
        {
            "co2": (dims, co2, {"units": "Mt CO2/yr", "long_name": "total CO2 emissions"}),
            "co2_per_capita": (dims, co2 * 1e6 / pop, {"units": "t CO2/person/yr", "long_name": "CO2 per capita"}),
            "gdp_per_capita": (dims, gdp, {"units": "int-$ 2011/person", "long_name": "GDP per capita"}),
            "population": (dims, np.array(pop), {"units": "people", "long_name": "population"}),
        },
        coords={
            "region": REGIONS,
            "year": YEARS,
            "is_forecast": ("year", YEARS > LAST_OBS),
            "last_observed_year": ("region", np.full(len(REGIONS), LAST_OBS)),
        },
    )
    peak_idx = co2.argmax(axis=2)
    peak_year = xr.DataArray(YEARS[peak_idx], dims=("sample", "region"), coords={"region": REGIONS}, name="peak_year")
    peak_co2 = co2.max(axis=2)
    py = peak_year.values
    peak_table = pd.DataFrame(
        {
            "p_already_peaked": (py <= LAST_OBS).mean(axis=0),
            "p_peak_by_2030": (py <= 2030).mean(axis=0),
            "p_peak_by_2035": (py <= 2035).mean(axis=0),
            "p_no_peak_by_horizon": (py == YEARS[-1]).mean(axis=0),
            "peak_year_q05": np.quantile(py, 0.05, axis=0),
            "peak_year_q50": np.quantile(py, 0.5, axis=0),
            "peak_year_q95": np.quantile(py, 0.95, axis=0),
            "peak_co2_mean": peak_co2.mean(axis=0),
            "peak_co2_q05": np.quantile(peak_co2, 0.05, axis=0),
            "peak_co2_q95": np.quantile(peak_co2, 0.95, axis=0),
        },
        index=pd.Index(REGIONS, name="region"),
    )
    turning_points = pd.DataFrame(
        {
            "p_inverted_u": [0.97, 0.004, 0.55],
            "turning_gdp_pc_q05": [15000.0, np.nan, 21000.0],
            "turning_gdp_pc_q50": [18234.5, np.nan, 26000.0],
            "turning_gdp_pc_q95": [22000.0, np.nan, 41000.0],
            "last_gdp_pc": [24000.0, 9000.0, 18000.0],
        },
        index=pd.Index(REGIONS, name="region"),
    )
    diagnostics = pd.DataFrame(
        {
            "r_hat": [1.001, 1.02, 1.003, 1.0],
            "ess_bulk": [1500.0, 310.0, 900.0, 2100.0],
            "ess_tail": [1400.0, 280.0, 1100.0, 1900.0],
        },
        index=["alpha", "beta[Beta]", "sigma", "rho"],
    )
    diagnostics.attrs.update(
        {
            "divergences": 3 if with_warning else 0,
            "draws": 500,
            "chains": 4,
            "sampler": "nutpie",
            "warnings": [WARNING_TEXT] if with_warning else [],
        }
    )
    if not with_warning:
        diagnostics["r_hat"] = 1.001
        diagnostics["ess_bulk"] = 1500.0
        diagnostics["ess_tail"] = 1500.0
    priors = [
        {"name": "beta_gdp", "distribution": "Normal", "params": {"mu": 0.0, "sigma": 0.5}, "units": "1",
         "source": "EKC meta-analysis", "citation": CITATION},
        {"name": "sigma_obs", "distribution": "HalfNormal", "params": {"sigma": 0.1}, "units": "log Mt",
         "source": "weakly informative", "citation": "Gelman et al. (2013) BDA3"},
    ]
    provenance = [
        {"source": "Global Carbon Budget", "path": "/data/gcb/emissions.csv", "sha256": SHA, "rows": 12345,
         "year_min": 1750, "year_max": LAST_OBS, "url": "https://example.org/gcb.csv"},
    ]
    study = {
        "name": "synthetic_test",
        "title": "Synthetic test study",
        "focus_regions": ["Beta", "Alpha"],
        "horizon": int(YEARS[-1]),
        "seed": 42,
        "quantiles": list(LEVELS),
        "sampler": {"name": "nutpie", "draws": 500, "chains": 4},
        "source_path": Path("/studies/synthetic.toml"),
    }
    notes = pd.DataFrame({"scenario": ["low", "high"], "growth": [0.01, 0.03]})
    notes.attrs["title"] = "Scenario notes"
    return RunResult(
        forecast=ds,
        peak_year=peak_year,
        peak_table=peak_table,
        turning_points=turning_points,
        diagnostics=diagnostics,
        priors_used=priors,
        provenance=provenance,
        study=study,
        tables={"scenario_notes": notes},
    )


@pytest.fixture(scope="module")
def result() -> RunResult:
    return _make_result()


@pytest.fixture(scope="module")
def report_dir(result, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("report")
    paths = write_report(result, out)
    return out, paths


# --------------------------------------------------------------------------------------------------
# synthetic data sanity (the fixture must contain the cases the report is meant to handle)
# --------------------------------------------------------------------------------------------------


def test_fixture_has_peaked_and_rising_regions(result):
    pt = result.peak_table
    assert pt.loc["Alpha", "p_already_peaked"] == 1.0
    assert pt.loc["Beta", "p_no_peak_by_horizon"] > 0.5
    assert 0 < pt.loc["Gamma", "p_already_peaked"] < 1


# --------------------------------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "name"),
    [(0.05, "q05"), (0.25, "q25"), (0.5, "q50"), (0.95, "q95"), (0.975, "q975"), (0.025, "q025"), (0.1, "q10")],
)
def test_level_column(level, name):
    assert level_column(level) == name


def test_bad_levels_rejected(result):
    with pytest.raises(InputError):
        quantile_bands(result.forecast, levels=(0.5, 1.5))
    with pytest.raises(InputError):
        quantile_bands(result.forecast, levels=(0.5, 0.50))


def test_bands_match_numpy(result):
    df = quantile_bands(result.forecast, levels=LEVELS)
    for region, year, var in [("Gamma", 2035, "co2"), ("Beta", 2040, "co2_per_capita"), ("Alpha", 2005, "co2")]:
        draws = result.forecast[var].sel(region=region, year=year).values
        row = df[(df["region"] == region) & (df["year"] == year) & (df["variable"] == var)]
        assert len(row) == 1
        expected = np.quantile(draws, LEVELS)
        got = row[[level_column(lv) for lv in LEVELS]].to_numpy()[0]
        np.testing.assert_allclose(got, expected, rtol=1e-12)
        assert row["mean"].iloc[0] == pytest.approx(draws.mean(), rel=1e-12)
        assert row["units"].iloc[0] == result.forecast[var].attrs["units"]


def test_bands_schema_and_order(result):
    df = quantile_bands(result.forecast)
    assert list(df.columns) == ["region", "year", "variable", "variant", "units", "observed", "mean", "q05", "q25",
                                "q50", "q75", "q95"]
    assert list(df.columns) == band_columns(LEVELS)
    assert len(df) == 4 * len(REGIONS) * len(YEARS)
    assert pd.api.types.is_integer_dtype(df["year"])
    assert set(df["variable"]) == {"co2", "co2_per_capita", "gdp_per_capita", "population"}
    expected = df.sort_values(["region", "variable", "variant", "year"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(df, expected)
    # custom levels -> custom columns
    df2 = quantile_bands(result.forecast, variables=["co2"], levels=(0.025, 0.5, 0.975))
    assert list(df2.columns) == ["region", "year", "variable", "variant", "units", "observed", "mean", "q025", "q50",
                                 "q975"]
    assert set(df2["variable"]) == {"co2"}


def test_bands_csv_parquet_roundtrip(result, tmp_path):
    paths = export_bands(result, tmp_path)
    df = quantile_bands(result.forecast)
    from_csv = pd.read_csv(paths["csv"], keep_default_na=False, na_values={c: [""] for c in band_columns(LEVELS)[6:]})
    from_parquet = pd.read_parquet(paths["parquet"])
    pd.testing.assert_frame_equal(from_parquet, df)
    pd.testing.assert_frame_equal(from_csv, df)


def test_netcdf_roundtrip(result, tmp_path):
    path = export_netcdf(result, tmp_path / "forecast.nc")
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        ds.load()
    assert ds["co2"].dtype == np.float32
    np.testing.assert_allclose(
        ds["co2"].transpose(*result.forecast["co2"].dims).values, result.forecast["co2"].values, rtol=1e-6
    )
    np.testing.assert_allclose(ds["population"].values, result.forecast["population"].values, rtol=1e-6)
    assert "peak_year" in ds.data_vars
    np.testing.assert_array_equal(ds["peak_year"].transpose("sample", "region").values, result.peak_year.values)
    assert list(ds["region"].values) == REGIONS
    np.testing.assert_array_equal(ds["is_forecast"].values, result.forecast["is_forecast"].values)
    assert ds["co2"].attrs["units"] == "Mt yr-1" and ds["co2"].attrs["units_label"] == "Mt CO2/yr"
    assert json.loads(ds.attrs["provenance"]) == result.provenance
    assert ds.attrs["study"] == "synthetic_test"
    assert int(ds.attrs["seed"]) == 42
    assert ds.attrs["created"] and ds.attrs["package_version"]
    assert ds["co2"].encoding.get("zlib") or ds["co2"].encoding.get("compression") == "gzip"
    # the input was not modified
    assert result.forecast["co2"].dtype == np.float64
    assert "provenance" not in result.forecast.attrs


def test_datapackage_describes_the_bands_files(result, tmp_path):
    """datapackage.json: every column of bands.csv in order, with a type each value of the file parses as."""
    paths = export_bands(result, tmp_path)
    package = json.loads(paths["datapackage"].read_text(encoding="utf-8"))
    assert package["profile"] == "tabular-data-package"
    resource = package["resources"][0]
    assert (tmp_path / resource["path"]).is_file() and (tmp_path / package["resources"][1]["path"]).is_file()
    fields = resource["schema"]["fields"]
    raw = pd.read_csv(paths["csv"], dtype=str, keep_default_na=False)
    assert [f["name"] for f in fields] == list(raw.columns)
    for field in fields:
        values = raw[field["name"]]
        if field["type"] == "integer":
            assert values.str.fullmatch(r"-?\d+").all()
        elif field["type"] == "number":
            assert pd.to_numeric(values.replace("", np.nan)).notna().sum() > 0
        elif field["type"] == "boolean":
            assert set(values) <= set(field["trueValues"]) | set(field["falseValues"])
    assert not raw.duplicated(resource["schema"]["primaryKey"]).any()


def test_netcdf_follows_cf_conventions(result, tmp_path):
    """CF readers find the time axis, its bounds, the cell methods and parseable units without our docs."""
    import cf_xarray  # noqa: F401  (registers the .cf accessor)

    path = export_netcdf(result, tmp_path / "forecast.nc")
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        ds.load()
    assert ds.attrs["Conventions"] == "CF-1.8" and ds.attrs["featureType"] == "timeSeries"
    time = ds.cf["time"]
    assert time.dims == ("year",) and np.issubdtype(time.dtype, np.datetime64)
    assert [t.year for t in pd.DatetimeIndex(time.values)] == list(ds["year"].values)
    assert ds.cf.bounds["time"] == ["time_bnds"]
    assert ds["co2"].attrs["cell_methods"] == "time: mean" and ds["population"].attrs["cell_methods"] == "time: point"
    assert ds["region"].attrs["cf_role"] == "timeseries_id"
    for name, var in ds.data_vars.items():  # every unit a CF reader meets is a UDUNITS string or "1"
        if "units" in var.attrs:
            assert var.attrs["units"] in {"Mt yr-1", "t yr-1", "1", "yr", "yr-1", "t ha-1 yr-1", "Mha"}, name


def test_json_summary(result, tmp_path):
    path = export_json(result, tmp_path / "summary.json")
    text = path.read_text(encoding="utf-8")

    def _no_constants(name):
        raise AssertionError(f"invalid JSON constant {name}")

    data = json.loads(text, parse_constant=_no_constants)
    assert "NaN" not in text and "Infinity" not in text
    assert data["schema_version"] == 2
    assert {"study", "provenance", "priors", "diagnostics", "regions"} <= set(data)
    assert data["diagnostics"]["divergences"] == 3
    assert data["diagnostics"]["max_r_hat"] == pytest.approx(1.02)
    assert data["diagnostics"]["min_ess_bulk"] == pytest.approx(310.0)
    assert data["diagnostics"]["min_ess_tail"] == pytest.approx(280.0)
    assert data["diagnostics"]["warnings"] == [WARNING_TEXT]
    assert data["provenance"][0]["sha256"] == SHA
    pt = result.peak_table
    for region in REGIONS:
        entry = data["regions"][region]
        for col in ("p_already_peaked", "p_peak_by_2030", "p_peak_by_2035", "p_no_peak_by_horizon"):
            assert entry[col] == pytest.approx(pt.loc[region, col])
        assert entry["peak_year"]["q50"] == pytest.approx(pt.loc[region, "peak_year_q50"])
        assert entry["peak_co2"]["q95"] == pytest.approx(pt.loc[region, "peak_co2_q95"])
        assert entry["p_inverted_u"] == pytest.approx(result.turning_points.loc[region, "p_inverted_u"])
    assert data["regions"]["Beta"]["turning_point_gdp_per_capita"]["q50"] is None  # NaN -> null
    assert data["regions"]["Beta"]["focus"] is True and data["regions"]["Gamma"]["focus"] is False
    assert summary_dict(result)["regions"].keys() == data["regions"].keys()
    assert data["study"]["source_path"] == "/studies/synthetic.toml"
    assert data["study"]["sampler"]["draws"] == 500


def test_custom_peak_years(result):
    """Other p_peak_by_<year> columns are reported; a missing 2030/2035 one is computed from samples."""
    res = copy.copy(result)
    pt = result.peak_table.drop(columns=["p_peak_by_2035"])
    pt["p_peak_by_2025"] = (result.peak_year.values <= 2025).mean(axis=0)
    res.peak_table = pt
    data = summary_dict(res)
    py = result.peak_year.values
    for j, region in enumerate(REGIONS):
        entry = data["regions"][region]
        assert entry["p_peak_by_2025"] == pytest.approx(pt.loc[region, "p_peak_by_2025"])
        assert entry["p_peak_by_2035"] == pytest.approx(np.mean((py[:, j] <= 2035) & (py[:, j] < 2040)))
    md = render_markdown(res, {})
    assert "P(peak ≤ 2025)" in md and "P(peak ≤ 2030)" in md and "P(peak ≤ 2035)" in md


def test_export_all_in_atomic_dir(result, tmp_path):
    final = tmp_path / "run"
    with atomic_output_dir(final) as tmp:
        paths = export_all(result, tmp)
        assert not final.exists()
    assert {p.name for p in final.iterdir()} == {"bands.csv", "bands.parquet", "datapackage.json", "forecast.nc",
                                                 "summary.json"}
    assert set(paths) == {"bands_csv", "bands_parquet", "datapackage", "netcdf", "json"}
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


# --------------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------------


def test_formatting_helpers():
    assert fmt_pct(0.0) == "<1%"
    assert fmt_pct(0.004) == "<1%"
    assert fmt_pct(0.5) == "50%"
    assert fmt_pct(0.996) == ">99%"
    assert fmt_pct(1.0) == ">99%"
    assert fmt_pct(float("nan")) == "—"
    assert fmt_money(18234.5) == "$18,234"
    assert fmt_money(1234567) == "$1,234,567"


def test_markdown_table_writer():
    assert md_table(["a", "b"], [["1", "x\ny"]], ["r", "c"]) == "| a | b |\n| ---: | :---: |\n| 1 | x y |"
    frame = pd.DataFrame({"year": [2030, 2035], "name": ["a|b", "c"], "p": [0.1234, np.nan], "ok": [True, False]})
    assert frame_table(frame) == (
        "| year | name | p | ok |\n| ---: | :--- | ---: | :--- |\n| 2030 | a\\|b | 0.123 | True |\n| 2035 | c |  | False |\n"
    )
    assert frame_table(frame.iloc[:0]) == "_(none)_\n" and frame_table(None, empty="-") == "-\n"


def test_markdown_content(result):
    md = render_markdown(result, {"Beta": "figures/fan_beta.png"})
    assert md.startswith("# Synthetic test study\n")
    assert SHA in md
    assert CITATION in md.replace("\\", "")
    assert "Gelman et al. (2013) BDA3" in md
    assert "⚠" in md and WARNING_TEXT in md
    assert "| sampler.draws | 500 |" in md  # nested settings flattened
    assert "![" in md and "(figures/fan_beta.png)" in md
    for heading in ("## Study settings", "## Data provenance", "## Priors", "## Sampler diagnostics",
                    "## Peak year", "## EKC turning points", "## Scenario notes", "## How to read this"):
        assert heading in md
    # peak table: focus regions first (study order), then the others
    # the answer first, then how far to trust it, then the rest, method and settings last
    order = [md.index(h) for h in ("## Peak year", "## Figures", "## Sampler diagnostics", "## EKC turning points",
                                   "## Appendix", "## How to read this", "## Priors", "## Study settings")]
    assert order == sorted(order), order
    peak = md.split("## Peak year", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in peak.splitlines() if line.startswith("| ") and "Region" not in line and "---" not in line]
    assert [r.split("|")[1].strip() for r in rows] == ["**Beta**", "**Alpha**", "Gamma"]
    alpha = next(r for r in rows if "Alpha" in r)
    assert ">99%" in alpha  # all Alpha samples peaked in history -> P(peak <= 2030) shown as >99%
    assert "bimodal" in peak
    # the median peak year: a year where most samples peak, 'none by <horizon>' where most do not
    assert "Peak year, median" in peak
    beta = next(r for r in rows if "Beta" in r)
    assert "none by 20" in beta  # P(no peak by the horizon) > 0.5 for Beta (fixture check above)
    median_alpha = int(result.peak_table.loc["Alpha", "peak_year_q50"])
    assert f"| {median_alpha} |" in alpha
    # money formatting in the turning-point table
    assert "$18,234" in md and "$24,000" in md
    # worst parameters table lists the worst R-hat first
    diag = md.split("## Sampler diagnostics", 1)[1].split("## Peak year", 1)[0]
    assert diag.index("beta[Beta]") < diag.index("`alpha`")


def test_markdown_without_warnings_has_no_warning_block():
    md = render_markdown(_make_result(with_warning=False), {})
    diag = md.split("## Sampler diagnostics", 1)[1].split("## Peak year", 1)[0]
    assert "⚠" not in diag
    assert WARNING_TEXT not in md


def test_markdown_auto_warning_from_thresholds(result):
    res = copy.copy(result)
    diag = result.diagnostics.copy()
    diag.attrs = {**result.diagnostics.attrs, "warnings": [], "divergences": 0}
    res.diagnostics = diag
    md = render_markdown(res, {})
    assert "⚠" in md and "R-hat 1.020" in md


def test_write_report_files_and_html(report_dir, result):
    out, paths = report_dir
    assert paths["markdown"] == out / "report.md" and paths["html"] == out / "report.html"
    figs = paths["figures"]
    assert set(figs) == {"Beta", "Alpha"}  # focus regions only
    for p in figs.values():
        assert p.parent == out / "figures" and p.name.startswith("fan_")
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "figures/fan_beta.png" in md and "figures/fan_alpha.png" in md
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == len(figs)
    srcs = re.findall(r'src="([^"]*)"', html)
    assert srcs and all(s.startswith("data:") for s in srcs)
    assert "<link" not in html and "<script" not in html
    assert "<table>" in html and "<style>" in html
    assert SHA in html
    assert "<title>Synthetic test study</title>" in html


def test_html_escapes_raw_html_and_drops_missing_images(tmp_path):
    md = "# T\n\n<script>alert(1)</script>\n\n![gone](figures/missing.png)\n\n![ext](https://example.org/x.png)\n"
    html = render_html(md, {}, tmp_path)
    assert "<script>" not in html
    assert "src=" not in html


def test_save_figures_only_focus(result, tmp_path):
    res = copy.copy(result)
    res.study = {**result.study, "focus_regions": ["Gamma", "Nowhere"]}
    paths = save_figures(res, tmp_path)
    assert paths == {"Gamma": "figures/fan_gamma.png"}
    assert (tmp_path / "figures" / "fan_gamma.png").is_file()


# --------------------------------------------------------------------------------------------------
# atomic
# --------------------------------------------------------------------------------------------------


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_atomic_dir_exception_keeps_previous(tmp_path):
    final = tmp_path / "out"
    final.mkdir()
    (final / "old.txt").write_text("previous")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_output_dir(final) as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(".out.tmp-")
            (tmp / "new.txt").write_text("half-written")
            raise RuntimeError("boom")
    assert sorted(p.name for p in final.iterdir()) == ["old.txt"]
    assert (final / "old.txt").read_text() == "previous"
    assert _leftovers(tmp_path) == []


def test_atomic_dir_success_replaces(tmp_path):
    final = tmp_path / "out"
    final.mkdir()
    (final / "old.txt").write_text("previous")
    with atomic_output_dir(final) as tmp:
        (tmp / "new.txt").write_text("fresh")
        assert (final / "old.txt").exists()  # readers still see the old content meanwhile
    assert sorted(p.name for p in final.iterdir()) == ["new.txt"]
    assert (final / "new.txt").read_text() == "fresh"
    assert _leftovers(tmp_path) == []


def test_atomic_dir_no_overwrite(tmp_path):
    final = tmp_path / "out"
    final.mkdir()
    with pytest.raises(InputError):
        with atomic_output_dir(final, overwrite=False):
            pass
    # a new directory is fine without overwrite
    with atomic_output_dir(tmp_path / "fresh", overwrite=False) as tmp:
        (tmp / "a").write_text("x")
    assert (tmp_path / "fresh" / "a").read_text() == "x"
    assert _leftovers(tmp_path) == []


def test_atomic_write_text(tmp_path):
    p = tmp_path / "f.txt"
    p.write_text("old")
    atomic_write_text(p, "new ✓")
    assert p.read_text(encoding="utf-8") == "new ✓"
    assert [x.name for x in tmp_path.iterdir()] == ["f.txt"]


def test_result_tree_holds_predictions_tables_and_diagnostics_and_round_trips(result, tmp_path):
    """The one result tree: predictions with their dims, every table under its stable name (title kept),
    diagnostics, study attributes; written as NetCDF groups and read back unchanged."""
    from forecast.run.tree import result_tree, write_tree

    tree = result_tree(result)
    assert {"predictions", "tables", "diagnostics"} <= set(tree.children)
    assert tree["predictions"]["co2"].dims == result.forecast["co2"].dims
    assert "peak_year" in tree["predictions"].data_vars
    notes = tree["tables/scenario_notes"]
    assert notes.attrs["title"] == "Scenario notes" and list(notes["scenario"].values) == ["low", "high"]
    assert tree.attrs["study"] == result.study["name"] and json.loads(tree.attrs["provenance"]) == result.provenance
    write_tree(tree, tmp_path / "result.nc")
    back = xr.open_datatree(tmp_path / "result.nc")
    xr.testing.assert_allclose(back["predictions"].to_dataset().load(), tree["predictions"].to_dataset())
    np.testing.assert_allclose(back["tables/peak_table"]["p_already_peaked"].values,
                               result.peak_table["p_already_peaked"].values)
    back.close()


def test_figure_alt_text_describes_what_each_figure_shows():
    from forecast.report._format import figure_alt

    assert figure_alt("China", "figures/fan_china.png") == "Fan chart of CO₂ emissions for China"
    assert figure_alt("Required effort", "figures/effort.png") == "Required effort"
