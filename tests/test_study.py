"""Tests for forecast.run.study (schema, loading, error messages) and the pre-sampling checks of
forecast.run.pipeline on the real data. Nothing here samples a model."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from forecast.errors import CarbonForecastError, InputError, PriorError, StudyError
from forecast.run.study import Study, default_study_path, load_study

ROOT = Path(__file__).resolve().parents[1]
GLOBAL_STUDY = ROOT / "studies" / "global" / "study.toml"


def write_study(folder: Path, body: str, name: str = "study.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


MINIMAL = """
[study]
name = "t"
"""


# ------------------------------------------------------------------------------------------------
# the shipped study
# ------------------------------------------------------------------------------------------------


def test_global_study_loads():
    study = load_study(GLOBAL_STUDY)
    assert isinstance(study, Study)
    assert study.study.name == "global"
    assert {"China", "Germany"} <= set(study.forecast.focus_regions)
    assert study.data.years == [1990, 2022]
    assert study.scenario.type == "history" and study.scenario.horizon == 2060
    assert study.model.type == "kaya" and study.resolve(study.model.comparison).is_file()
    assert [t.kind for t in study.targets] == ["peak_by", "intensity_reduction"]
    assert study.forecast.peak_years == [2030, 2035]
    assert study.report.quantiles == [0.05, 0.25, 0.5, 0.75, 0.95]
    assert Path(study.source_path) == GLOBAL_STUDY.resolve()
    assert default_study_path() == GLOBAL_STUDY
    # a folder is read as folder/study.toml
    assert load_study(GLOBAL_STUDY.parent) == study


def test_minimal_study_gets_defaults(tmp_path):
    study = load_study(write_study(tmp_path, MINIMAL))
    assert study.sampler.draws == 1000 and study.sampler.name == "nutpie"
    assert study.model.degree == 2 and study.model.priors == {}
    assert study.scenario.type == "history" and study.scenario.path is None
    assert study.forecast.focus_regions == []


# ------------------------------------------------------------------------------------------------
# invalid study files: StudyError naming the file and the key
# ------------------------------------------------------------------------------------------------


def load_error(tmp_path: Path, body: str) -> tuple[Path, str]:
    path = write_study(tmp_path, body)
    with pytest.raises(StudyError) as info:
        load_study(path)
    return path, str(info.value)


def test_unknown_top_level_section(tmp_path):
    path, msg = load_error(tmp_path, MINIMAL + "\n[sampller]\ndraws = 10\n")
    assert str(path) in msg
    assert "sampller" in msg and "unknown key" in msg
    assert "did you mean 'sampler'" in msg


def test_unknown_key_typo_suggests_the_key(tmp_path):
    path, msg = load_error(tmp_path, MINIMAL + "\n[sampler]\ndrawz = 10\n")
    assert str(path) in msg
    assert "[sampler] drawz" in msg
    assert "did you mean 'draws'" in msg


def test_unknown_key_without_close_match(tmp_path):
    _, msg = load_error(tmp_path, MINIMAL + "\n[forecast]\nzzzz = 1\n")
    assert "[forecast] zzzz: unknown key" in msg and "did you mean" not in msg


@pytest.mark.parametrize(
    "body, key, fragment",
    [
        ('[sampler]\ndraws = "many"\n', "[sampler] draws", "'many'"),
        ('[sampler]\ndraws = 10.0\n', "[sampler] draws", "10.0"),  # strict: no float -> int coercion
        ("[sampler]\ndraws = 0\n", "[sampler] draws", "0"),
        ("[data]\nyears = [2022, 1990]\n", "[data] years", "[2022, 1990]"),
        ("[data]\nyears = [1990]\n", "[data] years", "[1990]"),
        ('[model]\ndegree = 4\n', "[model] degree", "4"),
        ('[model]\nresiduals = "ar2"\n', "[model] residuals", "'ar2'"),
        ("[model]\nvarying_drift = 1\n", "[model] varying_drift", "1"),
        ('[forecast]\nfocus_regions = "China"\n', "[forecast] focus_regions", "'China'"),
        ('[study]\nseed = "x"\n', "[study] seed", "'x'"),
    ],
)
def test_wrong_type_or_value_names_the_key(tmp_path, body, key, fragment):
    text = MINIMAL + "\n" + body if not body.startswith("[study]") else body.replace("[study]\n", '[study]\nname = "t"\n')
    path, msg = load_error(tmp_path, text)
    assert str(path) in msg
    assert key in msg, msg
    assert fragment in msg, msg


def test_negative_seed_is_rejected_at_load(tmp_path):
    """The seed goes to nutpie (an unsigned integer) and np.random.default_rng, which both reject negative
    values: a negative seed must fail validation, not the sampler after the data are loaded."""
    path, msg = load_error(tmp_path, '[study]\nname = "t"\nseed = -5\n')
    assert str(path) in msg and "[study] seed" in msg


def test_csv_scenario_needs_a_path(tmp_path):
    path, msg = load_error(tmp_path, MINIMAL + '\n[scenario]\ntype = "csv"\n')
    assert str(path) in msg
    assert "[scenario]" in msg and "needs a path" in msg


@pytest.mark.parametrize("quantiles", ["[0.05, 1.0]", "[0.0, 0.5]", "[-0.1]", "[1.5]", "[]"])
def test_quantiles_must_lie_in_the_open_unit_interval(tmp_path, quantiles):
    path, msg = load_error(tmp_path, MINIMAL + f"\n[report]\nquantiles = {quantiles}\n")
    assert str(path) in msg
    assert "[report] quantiles" in msg and "strictly between 0 and 1" in msg


def test_quantiles_are_sorted_and_deduplicated(tmp_path):
    study = load_study(write_study(tmp_path, MINIMAL + "\n[report]\nquantiles = [0.9, 0.1, 0.5, 0.1]\n"))
    assert study.report.quantiles == [0.1, 0.5, 0.9]


def test_missing_required_name(tmp_path):
    path, msg = load_error(tmp_path, '[study]\ntitle = "no name"\n')
    assert "[study] name: required key is missing" in msg


def test_every_problem_is_reported_at_once(tmp_path):
    _, msg = load_error(tmp_path, MINIMAL + '\n[sampler]\ndrawz = 1\nchains = "two"\n')
    assert "drawz" in msg and "[sampler] chains" in msg


def test_missing_file(tmp_path):
    missing = tmp_path / "nope" / "study.toml"
    with pytest.raises(StudyError, match="study file not found") as info:
        load_study(missing)
    assert str(missing) in str(info.value)


def test_invalid_toml_syntax(tmp_path):
    path = write_study(tmp_path, MINIMAL + "\n[sampler]\ndraws = \n")
    with pytest.raises(StudyError) as info:
        load_study(path)
    msg = str(info.value)
    assert str(path) in msg and "not valid TOML" in msg
    line = path.read_text().splitlines().index("draws = ") + 1
    assert f"line {line}" in msg  # where the parser stopped: the `draws =` line


def test_study_errors_are_input_errors():
    assert issubclass(StudyError, InputError) and issubclass(StudyError, CarbonForecastError)


# ------------------------------------------------------------------------------------------------
# relative paths and overrides
# ------------------------------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_study_folder(tmp_path, monkeypatch):
    folder = tmp_path / "studies" / "mine"
    path = write_study(folder, MINIMAL + '\n[scenario]\ntype = "csv"\npath = "inputs/paths.csv"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    study = load_study(Path("..") / "studies" / "mine" / "study.toml")
    assert study.base_dir == folder.resolve()
    assert study.resolve(study.scenario.path) == folder.resolve() / "inputs" / "paths.csv"
    assert study.resolve("../shared/x.csv") == folder.resolve() / ".." / "shared" / "x.csv"
    absolute = tmp_path / "abs.csv"
    assert study.resolve(str(absolute)) == absolute
    assert study.resolve(None) is None
    # a study built in code resolves against the working directory
    in_code = Study.model_validate({"study": {"name": "x"}})
    assert in_code.resolve("a.csv") == Path.cwd() / "a.csv"


def test_relative_data_source_resolves_against_the_study_folder(tmp_path, monkeypatch):
    from forecast.run.pipeline import load_study_panel

    folder = tmp_path / "study"
    folder.mkdir()
    rows = [dict(region=r, year=y, population=1e6 * (i + 1), gdp=2e10 * (i + 1) * 1.02 ** (y - 2000),
                 co2=5.0 + i + 0.1 * (y - 2000)) for i, r in enumerate(["North", "South"]) for y in range(2000, 2016)]
    pd.DataFrame(rows).to_csv(folder / "panel.csv", index=False)
    path = write_study(folder, MINIMAL + '\n[data]\nsource = "panel.csv"\n\n[forecast]\nfocus_regions = ["South"]\n')
    monkeypatch.chdir(tmp_path)  # not the study folder
    panel = load_study_panel(load_study(path), download=False)
    assert sorted(panel["region"].unique()) == ["North", "South"]
    assert len(panel) == 32
    south = panel[(panel["region"] == "South") & (panel["year"] == 2000)].iloc[0]
    assert south["gdp_per_capita"] == pytest.approx(2e10 * 2 / 2e6)
    assert south["co2_per_capita"] == pytest.approx(6.0 * 1e6 / 2e6)


def test_with_overrides_returns_a_validated_copy():
    study = load_study(GLOBAL_STUDY)
    new = study.with_overrides(sampler={"draws": 200}, forecast={"focus_regions": ["India"]})
    assert new.sampler.draws == 200 and new.forecast.focus_regions == ["India"]
    assert new.sampler.tune == study.sampler.tune  # other keys kept
    assert new.source_path == study.source_path
    assert study.sampler.draws == 1000 and "China" in study.forecast.focus_regions  # original untouched
    assert new is not study


@pytest.mark.parametrize(
    "override, fragment",
    [
        (dict(sampler={"draws": 0}), "[sampler] draws"),
        (dict(sampler={"draws": "200"}), "[sampler] draws"),
        (dict(sampler={"drawz": 200}), "did you mean 'draws'"),
        (dict(scenario={"type": "csv"}), "needs a path"),
    ],
)
def test_with_overrides_rejects_a_bad_override(override, fragment):
    study = load_study(GLOBAL_STUDY)
    with pytest.raises(StudyError) as info:
        study.with_overrides(**override)
    assert fragment in str(info.value)
    assert str(GLOBAL_STUDY.resolve()) in str(info.value)


def test_with_overrides_rejects_an_unknown_section():
    """A misspelt section should be a StudyError naming it, like every other bad key (currently a bare
    KeyError escapes from ``raw[section]``)."""
    study = load_study(GLOBAL_STUDY)
    with pytest.raises(StudyError, match="samplr"):
        study.with_overrides(samplr={"draws": 200})


# ------------------------------------------------------------------------------------------------
# pipeline checks on the real data (no sampling)
# ------------------------------------------------------------------------------------------------

GLOBAL_DATA = """
[data]
years = [1990, 2022]
min_population = 5_000_000
min_years = 20
"""


@pytest.fixture(scope="module")
def global_panel(shared_data_dir) -> pd.DataFrame:
    from forecast.run.pipeline import load_study_panel

    return load_study_panel(load_study(GLOBAL_STUDY), data_dir=shared_data_dir, download=False)


def test_global_panel_has_the_focus_regions(global_panel):
    assert {"China", "Germany", "India"} <= set(global_panel["region"])
    assert int(global_panel["year"].min()) == 1990 and int(global_panel["year"].max()) == 2022


def test_misspelt_focus_region_is_named(tmp_path, shared_data_dir):
    from forecast.run.pipeline import load_study_panel

    study = load_study(write_study(tmp_path, MINIMAL + GLOBAL_DATA + '\n[forecast]\nfocus_regions = ["China", "Chna"]\n'))
    with pytest.raises(StudyError, match="focus_regions") as info:
        load_study_panel(study, data_dir=shared_data_dir, download=False)
    assert "Chna" in str(info.value)


def test_unknown_excluded_region_is_named(tmp_path, shared_data_dir):
    from forecast.run.pipeline import load_study_panel

    study = load_study(write_study(tmp_path, MINIMAL + GLOBAL_DATA + 'exclude_regions = ["Atlantis"]\n'))
    with pytest.raises(StudyError, match="exclude_regions.*Atlantis"):
        load_study_panel(study, data_dir=shared_data_dir, download=False)


@pytest.mark.parametrize("name", ["ekc.slope_muu", "slope_muu"])
def test_unknown_prior_override_fails_before_sampling(tmp_path, shared_data_dir, monkeypatch, name):
    import forecast.models.base as base
    from forecast.run.pipeline import check_study, run_study

    def no_sampling(*args, **kwargs):  # pragma: no cover - only runs if the check is missing
        raise AssertionError("sampling started before the prior override was checked")

    monkeypatch.setattr(base, "sample_model", no_sampling)
    monkeypatch.setattr(base.BayesianModel, "fit", no_sampling)
    body = MINIMAL + GLOBAL_DATA + f'\n[model.priors]\n"{name}" = {{ params = {{ mu = 0.7, sigma = 0.3 }} }}\n'
    study = load_study(write_study(tmp_path, body))
    assert study.model.priors == {name: {"params": {"mu": 0.7, "sigma": 0.3}}}
    panel = study_panel(study, shared_data_dir)
    with pytest.raises(CarbonForecastError, match="slope_muu") as info:
        check_study(study, panel)
    assert isinstance(info.value, PriorError)
    assert "ekc.slope_mu" in str(info.value)  # the close match is suggested
    with pytest.raises(CarbonForecastError, match="slope_muu"):
        run_study(study, data_dir=shared_data_dir)


def test_malformed_prior_override_fails_in_check_study(tmp_path, global_panel):
    from forecast.run.pipeline import check_study

    body = MINIMAL + '\n[model.priors]\n"ekc.slope_mu" = { parms = { mu = 0.7 } }\n'
    study = load_study(write_study(tmp_path, body))
    with pytest.raises(PriorError, match="parms"):
        check_study(study, global_panel)


def study_panel(study, data_dir):
    from forecast.run.pipeline import load_study_panel

    return load_study_panel(study, data_dir=data_dir, download=False)


def write_paths(path: Path, regions, years):
    rows = [dict(region=r, year=y, gdp_per_capita=15_000.0 + 100.0 * (y - 2023), population=1e8)
            for r in regions for y in years]
    pd.DataFrame(rows).to_csv(path, index=False)


CSV_STUDY = MINIMAL + GLOBAL_DATA + """
[scenario]
type = "csv"
path = "paths.csv"
horizon = 2060

[forecast]
focus_regions = ["China", "Germany"]
"""


def test_csv_scenario_that_stops_before_the_horizon(tmp_path, monkeypatch, global_panel):
    from forecast.run.pipeline import check_study

    folder = tmp_path / "study"
    path = write_study(folder, CSV_STUDY)
    write_paths(folder / "paths.csv", ["China", "Germany"], range(2023, 2051))
    monkeypatch.chdir(tmp_path)  # the csv path is relative to the study file, not the working directory
    study = load_study(path)
    with pytest.raises(InputError, match=r"year 2051") as info:
        check_study(study, global_panel)
    assert "region China" in str(info.value) and "2023-2060" in str(info.value)


def test_csv_scenario_covering_the_horizon_passes(tmp_path, monkeypatch, global_panel):
    from forecast.run.pipeline import check_study

    folder = tmp_path / "study"
    path = write_study(folder, CSV_STUDY)
    write_paths(folder / "paths.csv", ["China", "Germany"], range(2023, 2061))
    monkeypatch.chdir(tmp_path)
    model, scenario, regions = check_study(load_study(path), global_panel)
    assert regions == ["China", "Germany"]
    assert scenario.horizon == 2060 and scenario.name == "paths"
    ds = scenario.draw(regions, start_year=2023, n_samples=2, rng=np.random.default_rng(0))
    assert float(ds["gdp_per_capita"].sel(region="Germany", year=2060)[0]) == 15_000.0 + 100.0 * 37


def test_csv_scenario_file_missing(tmp_path, global_panel):
    from forecast.run.pipeline import check_study

    study = load_study(write_study(tmp_path / "study", CSV_STUDY))
    with pytest.raises(InputError, match="scenario file not found") as info:
        check_study(study, global_panel)
    assert str(tmp_path / "study" / "paths.csv") in str(info.value)


def test_peak_years_outside_the_forecast_window(global_panel):
    from forecast.run.pipeline import check_study

    study = load_study(GLOBAL_STUDY).with_overrides(forecast={"peak_years": [2030, 2070]})
    with pytest.raises(StudyError, match=r"peak_years \[2070\]"):
        check_study(study, global_panel)
    study = load_study(GLOBAL_STUDY).with_overrides(forecast={"peak_years": [2020]})
    with pytest.raises(StudyError, match=r"peak_years \[2020\]"):
        check_study(study, global_panel)


def test_global_study_passes_the_checks(global_panel, shared_data_dir):
    from forecast.run.pipeline import check_study

    study = load_study(GLOBAL_STUDY)
    # [sinks] is enabled: the check reads the GCB land sink and NOAA CO2 from the data folder
    model, scenario, regions = check_study(study, global_panel, data_dir=shared_data_dir)
    assert regions == study.forecast.focus_regions
    assert scenario.horizon == 2060
    assert model.degree == study.model.degree and model.min_years == study.data.min_years


@pytest.mark.parametrize(
    "sinks, error, fragment",
    [
        ({"areas": {"Chinaa": {"forest": 10.0}}}, StudyError, "Chinaa"),
        ({"neutrality_years": [2050, 2070]}, StudyError, "2070"),
        ({"areas": {"China": {"forest": -1.0}}}, InputError, "forest"),
        ({"areas": {"China": {"forrest": 10.0}}}, InputError, "forrest"),
        ({"areas": {}}, StudyError, "areas"),
    ],
)
def test_bad_sink_settings_fail_before_sampling(global_panel, monkeypatch, sinks, error, fragment):
    """[sinks] problems (unknown region, year past the horizon, negative area, unknown ecosystem) are
    caught by check_study, i.e. before any model is fitted."""
    from forecast.models.ekc import EKCModel
    from forecast.run.pipeline import check_study

    monkeypatch.setattr(EKCModel, "fit", lambda *a, **k: pytest.fail("sampling started"))
    assert load_study(GLOBAL_STUDY).sinks.enabled
    with pytest.raises(error, match=fragment):
        study = load_study(GLOBAL_STUDY).with_overrides(sinks=sinks)
        check_study(study, global_panel)


def sink_data_dir(tmp_path: Path, shared_data_dir: Path, edit: str | None = None, drop: str | None = None) -> Path:
    """A data folder linking every shared file, with one file dropped or rewritten by ``edit``."""
    folder = tmp_path / "data"
    folder.mkdir()
    for src in shared_data_dir.iterdir():
        if src.name != drop and src.name != edit:
            (folder / src.name).symlink_to(src)
    return folder


def _no_sampling(monkeypatch):
    from forecast.models.ekc import EKCModel
    from forecast.models.sinks import GlobalLandSinkModel

    monkeypatch.setattr(EKCModel, "fit", lambda *a, **k: pytest.fail("EKC sampling started"))
    monkeypatch.setattr(GlobalLandSinkModel, "fit", lambda *a, **k: pytest.fail("land-sink sampling started"))
    monkeypatch.delenv("CARBON_FORECAST_DATA", raising=False)  # the sink files must come from data_dir


def _rows(shared_data_dir: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(shared_data_dir / name)


@pytest.mark.parametrize("case", ["gcb-missing", "gcb-gap", "noaa-mlo-not-increasing", "noaa-gl-gap"])
def test_sink_data_are_validated_before_sampling(case, tmp_path, monkeypatch, shared_data_dir, global_panel):
    """check_study loads the land-sink series and CO2 history run_sinks will use: a missing file, a gap
    or a non-increasing year fails there, naming the file and year, before the EKC (or sink) fit."""
    from forecast.errors import DataNotFoundError
    from forecast.run.pipeline import check_study

    _no_sampling(monkeypatch)
    if case == "gcb-missing":
        data = sink_data_dir(tmp_path, shared_data_dir, drop="gcb2025_global_budget.csv")
        error, fragment = DataNotFoundError, "gcb2025_global_budget.csv"
    elif case == "gcb-gap":
        data = sink_data_dir(tmp_path, shared_data_dir, edit="gcb2025_global_budget.csv")
        gcb = _rows(shared_data_dir, "gcb2025_global_budget.csv")
        gcb[gcb["year"] != 1990].to_csv(data / "gcb2025_global_budget.csv", index=False)
        error, fragment = InputError, "1990"
    elif case == "noaa-mlo-not-increasing":  # the CO2 the land sink is fitted against
        data = sink_data_dir(tmp_path, shared_data_dir, edit="noaa_co2_annmean_mlo.csv")
        mlo = _rows(shared_data_dir, "noaa_co2_annmean_mlo.csv")
        pd.concat([mlo.iloc[:20], mlo.iloc[[19]], mlo.iloc[20:]]).to_csv(data / "noaa_co2_annmean_mlo.csv", index=False)
        error, fragment = InputError, f"strictly increasing \\(year {int(mlo['year'].iloc[19])} follows"
    else:  # the history the default CO2 path is extrapolated from
        data = sink_data_dir(tmp_path, shared_data_dir, edit="noaa_co2_annmean_gl.csv")
        gl = _rows(shared_data_dir, "noaa_co2_annmean_gl.csv")
        gl[gl["year"] != 2000].to_csv(data / "noaa_co2_annmean_gl.csv", index=False)
        error, fragment = InputError, "gap in years between 1999 and 2001"
    study = load_study(GLOBAL_STUDY)
    assert study.sinks.enabled and not study.sinks.co2_scenario
    with pytest.raises(error, match=fragment):
        check_study(study, global_panel, data_dir=data)
    # the untouched shared folder passes the same check
    check_study(study, global_panel, data_dir=shared_data_dir)


@pytest.mark.parametrize("first, last, fragment", [(2030, 2060, "does not cover year 2015"),
                                                    (2010, 2050, "does not cover the horizon 2060")])
def test_co2_scenario_must_cover_base_year_to_horizon(first, last, fragment, tmp_path, monkeypatch, shared_data_dir,
                                                      global_panel):
    """run_sinks reads the CO2 path from min(base_year, first forecast year) = 2015 to the horizon: a CSV
    that reaches the horizon but starts later fails before sampling, as does one that stops early."""
    from forecast.run.pipeline import check_study

    _no_sampling(monkeypatch)
    years = np.arange(first, last + 1)
    pd.DataFrame({"year": years, "co2_ppm": 400.0 + 2.0 * (years - 2015)}).to_csv(tmp_path / "co2.csv", index=False)
    study = load_study(GLOBAL_STUDY).with_overrides(sinks={"co2_scenario": str(tmp_path / "co2.csv")})
    assert study.sinks.base_year == 2015 and study.scenario.horizon == 2060
    with pytest.raises(InputError, match=fragment) as info:
        check_study(study, global_panel, data_dir=shared_data_dir)
    assert "co2.csv" in str(info.value)
    years = np.arange(2015, 2061)
    pd.DataFrame({"year": years, "co2_ppm": 400.0 + 2.0 * (years - 2015)}).to_csv(tmp_path / "co2.csv", index=False)
    check_study(study, global_panel, data_dir=shared_data_dir)  # exactly 2015-2060 is enough


def test_measurement_error_from_the_inventory(shared_data_dir, global_panel):
    """"inventory" takes each province's relative error from its CEADs Approach 2 interval; it needs the
    provincial data source."""
    from forecast.data.china import load_province_panel
    from forecast.run.pipeline import build_model, inventory_measurement_error

    panel = load_province_panel(data_dir=shared_data_dir)
    errors = inventory_measurement_error(panel, data_dir=shared_data_dir, draws=2000)
    assert set(errors) == set(panel["region"])
    # IPCC factor ranges of a few % plus 3-5 % activity errors: a few % in total, never 0 or > 10 %
    assert all(0.005 < v < 0.10 for v in errors.values()), errors
    study = load_study(GLOBAL_STUDY).with_overrides(model={"measurement_error": "inventory"})
    with pytest.raises(StudyError, match="china_provinces"):
        build_model(study, global_panel)


def test_landuse_section_is_checked_before_sampling(global_panel, monkeypatch, shared_data_dir):
    from forecast.models.ekc import EKCModel
    from forecast.run.pipeline import check_study, run_landuse

    monkeypatch.setattr(EKCModel, "fit", lambda *a, **k: pytest.fail("sampling started"))
    china = load_study(Path(GLOBAL_STUDY).parents[1] / "china" / "study.toml")
    assert china.landuse.enabled
    table = run_landuse(china, seed=1).set_index("land type")
    parts = table.drop(index="net")
    assert table.loc["net", "mean"] == pytest.approx(parts["mean"].sum(), rel=1e-9)
    bad = china.with_overrides(landuse={"areas": {"forrest": 10.0}})
    with pytest.raises(InputError, match="forrest"):
        check_study(bad, global_panel, data_dir=shared_data_dir)
    with pytest.raises(StudyError, match="landuse"):
        china.with_overrides(landuse={"areas": {}})


# ------------------------------------------------------------------------------------------------
# [capacity] / [compensation] parameters, checked before sampling (no data, no fit)
# ------------------------------------------------------------------------------------------------

PROVINCES = sorted(r for r in __import__("forecast.data.china", fromlist=["PROVINCE_GROUPS"]).PROVINCE_GROUPS if r != "Tibet")
FORECAST_YEARS = list(range(2020, 2061))  # the provinces study: data to 2019, horizon 2060


def provinces_study(**overrides) -> Study:
    return load_study(default_study_path("china-provinces")).with_overrides(**overrides)


def test_shipped_provinces_capacity_settings_pass():
    from forecast.run.pipeline import check_capacity

    check_capacity(provinces_study(), PROVINCES)
    check_capacity(provinces_study(), PROVINCES, years=FORECAST_YEARS)
    yearly = {str(y): 9000.0 for y in FORECAST_YEARS}  # a budget for every forecast year is complete
    check_capacity(provinces_study(capacity={"caps": {"b": {"rule": "per_capita", "budget": yearly}}}), PROVINCES)
    shares = {r: 1 / len(PROVINCES) for r in PROVINCES}
    check_capacity(provinces_study(compensation={"allocation": shares}), PROVINCES)


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"compensation": {"allocation": {"Beijing": 0.5, "Shanghai": 0.6}}},
         r"\[compensation\] compensation shares: shares must sum to one.*1\.1"),
        ({"compensation": {"allocation": {"Beijing": 1.2, "Shanghai": -0.2}}}, r"\[compensation\].*negative share.*Shanghai"),
        ({"capacity": {"caps": {"b": {"rule": "fixed_shares", "budget": 100.0,
                                      "shares": {r: 0.03 for r in PROVINCES}}}}},
         r"\[capacity\.caps\.b\] fixed_shares: shares must sum to one.*0\.9"),
        ({"capacity": {"caps": {"b": {"rule": "per_capita", "budget": -10.0}}}},
         r"\[capacity\.caps\.b\] budget must be finite and >= 0.*-10.*2020-2060"),
        ({"capacity": {"caps": {"b": {"rule": "gdp_share", "budget": {"2030": 9000.0, "2031": -1.0}, "years": [2030, 2031]}}}},
         r"\[capacity\.caps\.b\] budget must be finite and >= 0.*-1 in year\(s\) 2031"),
        ({"capacity": {"caps": {"b": {"rule": "per_capita",
                                      "budget": {str(y): 9000.0 for y in FORECAST_YEARS if y != 2045}}}}},
         r"\[capacity\.caps\.b\] budget: no value for year\(s\) 2045 "),
        ({"capacity": {"caps": {"b": {"rule": "per_capita", "budget": {"2030": 9000.0, "2060": 5000.0}}}}},
         r"no value for year\(s\) 2020-2029, 2031-2059"),
        ({"capacity": {"caps": {"h": {"rule": "peak_level", "factor": -0.5}}}}, r"\[capacity\.caps\.h\].*factor.*-0\.5"),
        ({"capacity": {"caps": {"h": {"rule": "peak_level", "reference_year": 2070}}}}, r"\[capacity\.caps\.h\].*2070"),
        ({"capacity": {"built_up_km2": {"Beijing": -1.0}}}, r"\[capacity\] built_up_km2"),
        ({"compensation": {"year": 2070}}, r"\[compensation\] year 2070 not in the forecast"),
        ({"compensation": {"price_p05": 300.0, "price_p95": 400.0}}, r"\[compensation\].*out of order"),
        ({"compensation": {"price_p05": 40.0, "price_p95": None}}, r"\[compensation\] give both price_p05 and price_p95"),
    ],
)
def test_bad_capacity_and_compensation_parameters_fail_before_sampling(monkeypatch, overrides, fragment):
    """Shares not summing to one, negative budgets / factors / areas, yearly budgets missing a year and
    out-of-range years are StudyErrors naming the key -- raised by check_capacity, which samples nothing."""
    from forecast.models.ekc import EKCModel
    from forecast.run.pipeline import check_capacity

    monkeypatch.setattr(EKCModel, "fit", lambda *a, **k: pytest.fail("sampling started"))
    with pytest.raises(StudyError, match=fragment):
        check_capacity(provinces_study(**overrides), PROVINCES)


def test_neutrality_cap_and_sink_allocation_need_a_sink_for_every_region():
    from forecast.run.pipeline import check_capacity

    china = load_study(default_study_path("china"))  # sinks for China only
    assert china.sinks.enabled and list(china.sinks.areas) == ["China"]
    cap = {"enabled": True, "caps": {"net": {"rule": "neutrality"}}}
    check_capacity(china.with_overrides(capacity=cap), ["China"], years=list(range(2023, 2061)))
    with pytest.raises(StudyError, match=r"\[capacity\.caps\.net\] neutrality: no sink for region\(s\) \['India'\]"):
        check_capacity(china.with_overrides(capacity=cap), ["China", "India"], years=list(range(2023, 2061)))
    comp = {"enabled": True, "allocation": "sink", "year": 2030}
    with pytest.raises(StudyError, match=r"\[compensation\] compensation: no sink in 2030 for region\(s\) \['India'\]"):
        check_capacity(china.with_overrides(compensation=comp), ["China", "India"], years=list(range(2023, 2061)))


# ------------------------------------------------------------------------------------------------
# Kaya model, driver scenario and targets: checked before sampling
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("table, fragment", [
    ('kind = "peak_by"\nyear = 2030\nregions = ["Atlantis"]', "regions not in the forecast: Atlantis"),
    ('kind = "peak_by"\nyear = 2075', "outside the forecast years"),
    ('kind = "intensity_reduction"\nyear = 2030\nbase_year = 1985\nreduction = 0.65', "base year 1985 has no data"),
    ('kind = "emissions_below"\nyear = 2030', "missing key"),
])
def test_bad_targets_fail_in_check_study(tmp_path, global_panel, table, fragment):
    from forecast.run.pipeline import check_study

    body = MINIMAL + '\n[forecast]\nfocus_regions = ["China", "India"]\n\n[[targets]]\n' + table + "\n"
    study = load_study(write_study(tmp_path, body))
    with pytest.raises(StudyError, match=r"\[\[targets\]\]") as info:
        check_study(study, global_panel)
    assert fragment in str(info.value)


def test_unknown_target_kind_fails_at_load(tmp_path):
    with pytest.raises(StudyError, match="targets"):
        load_study(write_study(tmp_path, MINIMAL + '\n[[targets]]\nkind = "peak_before"\nyear = 2030\n'))


def test_kaya_and_driver_settings_are_checked_before_sampling(tmp_path, global_panel, monkeypatch):
    from forecast.models import base
    from forecast.models.kaya import KayaModel
    from forecast.run.pipeline import build_model, build_scenario, check_study
    from forecast.scenarios import DriverScenario

    def no_sampling(*args, **kwargs):  # pragma: no cover - only runs if a check samples
        raise AssertionError("sampling started during the checks")

    monkeypatch.setattr(base, "sample_model", no_sampling)
    body = MINIMAL + '\n[model]\ntype = "kaya"\n\n[scenario]\ntype = "drivers"\n'
    study = load_study(write_study(tmp_path, body))
    assert isinstance(build_model(study), KayaModel)
    assert isinstance(build_scenario(study, global_panel), DriverScenario)
    check_study(study, global_panel)  # passes without sampling
    bad_frontier = load_study(write_study(tmp_path, body + 'gdp_frontier = "Atlantis"\n'))
    with pytest.raises(CarbonForecastError, match="frontier region 'Atlantis'"):
        check_study(bad_frontier, global_panel)
    bad_prior = load_study(write_study(tmp_path, body + 'driver_priors = { "gdp.frontier_grwth" = { params = { mu = 0.01 } } }\n'))
    with pytest.raises(PriorError, match="frontier_grwth"):
        check_study(bad_prior, global_panel)
    no_table = load_study(write_study(tmp_path, body.replace('type = "kaya"', 'type = "kaya"\ncomparison = "missing.csv"')))
    with pytest.raises(StudyError, match="comparison: file not found"):
        check_study(no_table, global_panel)
    wrong_family = load_study(write_study(tmp_path, body + 'driver_priors = { "ekc.slope_mu" = { params = { mu = 0.01 } } }\n'))
    with pytest.raises(StudyError, match="driver_priors"):
        check_study(wrong_family, global_panel)


def test_several_compensation_rules_validate_and_each_is_checked():
    """[compensation] allocation may list several rules; every rule is checked before sampling."""
    from forecast.run.pipeline import check_capacity

    two = provinces_study(compensation={"allocation": ["per_capita", "gdp_share"]})
    assert two.compensation.rules == ["per_capita", "gdp_share"]
    check_capacity(two, PROVINCES)
    assert provinces_study(compensation={"allocation": "gdp_share"}).compensation.rules == ["gdp_share"]
    with pytest.raises(StudyError, match=r"\[compensation\] allocation 'gdp_shares' unknown"):
        check_capacity(provinces_study(compensation={"allocation": ["per_capita", "gdp_shares"]}), PROVINCES)
    # a later rule's parameters are checked too: emissions_share needs a reference year in the forecast
    with pytest.raises(StudyError, match=r"\[compensation\] emissions_share needs reference_year.*\(allocation 'emissions_share'\)"):
        check_capacity(provinces_study(compensation={"allocation": ["per_capita", "emissions_share"],
                                                     "reference_year": None}), PROVINCES)
    with pytest.raises(StudyError, match="more than once: gdp_share"):
        provinces_study(compensation={"allocation": ["gdp_share", "gdp_share"]})
    with pytest.raises(StudyError, match="empty"):
        provinces_study(compensation={"allocation": []})
