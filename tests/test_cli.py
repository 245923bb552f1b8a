"""End-to-end tests of the ``carbon-forecast`` command line on a tiny study (tests/fixtures/small).

Sampling is expensive (nutpie compiles the model, ~10-15 s), so exactly three CLI invocations fit a
model: the first ``run`` (module fixture ``first_run``), a same-seed ``run`` that must reproduce it, and
``fit --seed 7``. Every other command either reuses a saved ``model.nc`` (``report --model``) or fails
on bad input; in those tests ``EKCModel.fit`` is replaced by a tripwire so that any sampling is an
error. Error paths go through ``forecast.cli.main`` (the console-script entry point that maps errors to
exit code 2), once as a real subprocess.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from typer.testing import CliRunner

import forecast.cli as cli
from forecast.models.ekc import EKCModel

STUDY = Path(__file__).resolve().parent / "fixtures" / "small" / "study.toml"
FOCUS = ["China", "India", "United States", "Germany", "Japan"]
STUDY_SEED = 12345
HORIZON = 2050
BAND_COLUMNS = ["region", "year", "variable", "variant", "units", "observed", "mean", "q05", "q25", "q50", "q75", "q95"]
OUTPUT_FILES = ["report.md", "report.html", "bands.csv", "bands.parquet", "datapackage.json", "forecast.nc", "summary.json", "model.nc",
                "study.toml", "result.nc"]

runner = CliRunner()


class SamplingStarted(AssertionError):
    """Raised by the tripwire that replaces EKCModel.fit where no sampling may happen."""


@pytest.fixture
def no_sampling(monkeypatch):
    def tripwire(self, *args, **kwargs):
        raise SamplingStarted("EKCModel.fit was called: sampling started although it must not")

    monkeypatch.setattr(EKCModel, "fit", tripwire)


def invoke(*args: str):
    """Run the Typer app in-process; fail with the output and traceback unless it exited 0."""
    result = runner.invoke(cli.app, [str(a) for a in args])
    if result.exit_code != 0:
        import traceback

        tb = "".join(traceback.format_exception(*result.exc_info)) if result.exc_info else ""
        pytest.fail(f"carbon-forecast {' '.join(map(str, args))} exited {result.exit_code}\n{result.output}\n{tb}")
    return result


def call_main(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run ``forecast.cli.main`` (the console script) in-process: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["carbon-forecast", *map(str, args)])
    capsys.readouterr()
    code, escaped = 0, ""
    with warnings.catch_warnings():  # main() installs warning filters; keep them out of other tests
        try:
            cli.main()
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        except SamplingStarted:
            raise
        except Exception as exc:  # what the interpreter would do with it: traceback, exit 1
            import traceback

            code, escaped = 1, "".join(traceback.format_exception(exc))
    captured = capsys.readouterr()
    return code, captured.out, captured.err + escaped


def squash(text: str) -> str:
    """Text without whitespace: rich wraps console output at 80 columns in the middle of messages."""
    return "".join(text.split())


def variant(tmp_path: Path, name: str, old: str, new: str, append: str = "") -> Path:
    """A copy of the fixture study with one textual change (asserted to apply)."""
    text = STUDY.read_text(encoding="utf-8")
    if old:
        assert old in text, f"fixture study changed: {old!r} not found"
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text + append, encoding="utf-8")
    return path


def leftovers(parent: Path) -> list[str]:
    """Hidden temp / old-copy folders an atomic output write may leave next to the output folder."""
    return sorted(p.name for p in parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name or p.name.endswith(".partial"))


def owid_sha256(data_dir: Path) -> str:
    return hashlib.sha256((data_dir / "owid_co2_data.csv").read_bytes()).hexdigest()


# --------------------------------------------------------------------------------------------------
# the runs that sample (three fits in total)
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, shared_data_dir) -> Path:
    """`carbon-forecast run tests/fixtures/small/study.toml --out <tmp>/res --data-dir <shared> --quiet`."""
    out = tmp_path_factory.mktemp("first") / "res"
    invoke("run", STUDY, "--out", out, "--data-dir", shared_data_dir, "--quiet")
    return out


@pytest.fixture(scope="module")
def fitted_seed7(tmp_path_factory, shared_data_dir) -> Path:
    """`carbon-forecast fit ... --seed 7 --out <tmp>/fit7.nc`."""
    path = tmp_path_factory.mktemp("fit") / "fit7.nc"
    invoke("fit", STUDY, "--out", path, "--data-dir", shared_data_dir, "--seed", 7, "--quiet")
    return path


def test_run_writes_complete_output_folder(first_run):
    missing = [name for name in OUTPUT_FILES if not (first_run / name).is_file()]
    assert not missing, f"missing outputs: {missing}; folder has {sorted(p.name for p in first_run.iterdir())}"
    pngs = sorted((first_run / "figures").glob("*.png"))
    assert len(pngs) == len(FOCUS), [p.name for p in pngs]
    for region in FOCUS:
        slug = region.lower().replace(" ", "_")
        assert any(slug in p.stem for p in pngs), f"no figure for {region}: {[p.name for p in pngs]}"
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert (first_run / "study.toml").read_text(encoding="utf-8") == STUDY.read_text(encoding="utf-8")
    assert "<html" in (first_run / "report.html").read_text(encoding="utf-8").lower()
    assert leftovers(first_run.parent) == []


def test_run_result_tree_holds_the_posterior_and_the_same_draws(first_run):
    """result.nc: the fitted model's posterior and the forecast draws of forecast.nc, with which posterior
    draw each forecast sample used."""
    tree = xr.open_datatree(first_run / "result.nc")
    posterior = tree["posterior/ekc"].to_dataset()
    assert {"chain", "draw", "region"} <= set(posterior.dims) and "slope" in posterior
    pred = tree["predictions"].to_dataset()
    with xr.open_dataset(first_run / "forecast.nc") as nc:
        np.testing.assert_allclose(nc["co2"].values, pred["co2"].transpose(*nc["co2"].dims).values, rtol=1e-6)
    chain, draw = int(pred["chain"][0]), int(pred["draw"][0])
    assert chain in posterior["chain"].values and draw in posterior["draw"].values
    assert "peak_table" in tree["tables"].children and json.loads(tree.attrs["study_settings"])["name"] == "small"
    tree.close()


def test_run_bands_follow_documented_schema(first_run, shared_data_dir):
    bands = pd.read_csv(first_run / "bands.csv", keep_default_na=False)  # as the README says: "" = no variant
    assert list(bands.columns) == BAND_COLUMNS
    assert (bands["variant"] == "").all()  # this study has no variants
    assert bands.loc[bands["year"] <= 2022, "observed"].all() and not bands.loc[bands["year"] > 2022, "observed"].any()
    assert set(bands["region"]) == set(FOCUS)
    assert {"co2", "co2_per_capita", "gdp_per_capita", "population"} <= set(bands["variable"])
    assert bands["year"].min() == 2000 and bands["year"].max() == HORIZON
    # one row per (region, variable, year), sorted by region, variable, year
    assert not bands.duplicated(["region", "variable", "year"]).any()
    assert len(bands) == len(FOCUS) * bands["variable"].nunique() * (HORIZON - 2000 + 1)
    key = bands[["region", "variable", "year"]]
    assert key.equals(key.sort_values(["region", "variable", "year"]).reset_index(drop=True))
    q = bands[["q05", "q25", "q50", "q75", "q95"]].to_numpy()
    assert np.all(np.diff(q, axis=1) >= -1e-9 * np.abs(q[:, 1:]).clip(1)), "quantile columns not ordered"
    # history rows hold the observation in every sample, and it is the OWID value
    co2 = bands[bands["variable"] == "co2"].set_index(["region", "year"])
    hist = co2.xs(2022, level="year")
    assert np.allclose(hist["q05"], hist["q95"]) and np.allclose(hist["mean"], hist["q50"])
    owid = pd.read_csv(shared_data_dir / "owid_co2_data.csv", usecols=["country", "year", "co2"])
    china_2022 = owid[(owid["country"] == "China") & (owid["year"] == 2022)]["co2"].item()
    assert co2.loc[("China", 2022), "q50"] == pytest.approx(china_2022, rel=1e-6)
    assert (co2["units"] == "Mt CO2/yr").all()
    # the Parquet copy is the same table
    parquet = pd.read_parquet(first_run / "bands.parquet")
    assert list(parquet.columns) == BAND_COLUMNS
    pd.testing.assert_frame_equal(parquet, bands, check_dtype=False)


def test_run_netcdf_and_summary_agree(first_run):
    with xr.open_dataset(first_run / "forecast.nc") as ds:
        ds = ds.load()
    assert ds["co2"].dims == ("sample", "region", "year")
    assert ds["co2"].attrs.get("units") == "Mt yr-1" and ds["co2"].attrs.get("units_label") == "Mt CO2/yr"
    assert ds.sizes["sample"] == 200
    assert sorted(map(str, ds["region"].values)) == sorted(FOCUS)
    assert int(ds["year"].max()) == HORIZON
    assert ds["peak_year"].dims == ("sample", "region")
    assert int(ds.attrs["seed"]) == STUDY_SEED

    summary = json.loads((first_run / "summary.json").read_text(encoding="utf-8"))
    assert summary["study"]["seed"] == STUDY_SEED
    assert set(summary["regions"]) == set(FOCUS)
    for region in FOCUS:
        entry = summary["regions"][region]
        peak = ds["peak_year"].sel(region=region).values.astype(int)
        last = int(ds["last_observed_year"].sel(region=region))
        assert entry["focus"] is True
        # CO2 is observed to 2023 while GDP ends in 2022 ([data] later_emissions): 2023 counts as observed
        assert entry["last_observed_year"] == last == 2023
        still_rising = HORIZON - 2  # the last year with a complete centred 5-year mean
        expected = {
            "p_already_peaked": np.mean(peak <= last),
            "p_peak_by_2030": np.mean((peak <= 2030) & (peak < still_rising)),
            "p_peak_by_2035": np.mean((peak <= 2035) & (peak < still_rising)),
            "p_no_peak_by_horizon": np.mean(peak >= still_rising),
        }
        for key, value in expected.items():
            assert entry[key] == pytest.approx(value, abs=1e-12), f"{region} {key}"
        q = entry["peak_year"]
        assert peak.min() <= q["q05"] <= q["q50"] <= q["q95"] <= peak.max()
    # the headline probabilities are not degenerate for all regions (the check above would be vacuous)
    assert len({summary["regions"][r]["p_already_peaked"] for r in FOCUS}) > 1


def test_run_report_names_data_hash_and_regions(first_run, shared_data_dir):
    md = (first_run / "report.md").read_text(encoding="utf-8")
    sha = owid_sha256(shared_data_dir)
    assert sha in md
    for region in FOCUS:
        assert region in md
    summary = json.loads((first_run / "summary.json").read_text(encoding="utf-8"))
    assert [p["sha256"] for p in summary["provenance"] if p["source"] == "owid"] == [sha]


# --------------------------------------------------------------------------------------------------
# reproducibility
# --------------------------------------------------------------------------------------------------


def test_same_seed_refit_reproduces_run(first_run, shared_data_dir, tmp_path):
    """A second run (a real refit) with the same --seed gives identical outputs; --strict maps warnings to 3."""
    out = tmp_path / "res"
    result = runner.invoke(
        cli.app, ["run", str(STUDY), "--out", str(out), "--data-dir", str(shared_data_dir), "--seed", str(STUDY_SEED), "--quiet", "--strict"]
    )
    summary_b = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    expected_code = 3 if summary_b["diagnostics"]["warnings"] else 0
    assert result.exit_code == expected_code, result.output
    pd.testing.assert_frame_equal(pd.read_csv(out / "bands.csv"), pd.read_csv(first_run / "bands.csv"))
    summary_a = json.loads((first_run / "summary.json").read_text(encoding="utf-8"))
    assert summary_b["regions"] == summary_a["regions"]
    assert summary_b["diagnostics"] == summary_a["diagnostics"]
    post_a = EKCModel.load(first_run / "model.nc").idata.posterior
    post_b = EKCModel.load(out / "model.nc").idata.posterior
    xr.testing.assert_equal(post_a, post_b)


def test_fit_then_report_uses_saved_model_and_other_seed_differs(first_run, fitted_seed7, shared_data_dir, tmp_path, no_sampling):
    """`fit --seed 7` writes model.nc; `report --model` builds a complete folder from it without sampling."""
    assert fitted_seed7.is_file()
    post_7 = EKCModel.load(fitted_seed7).idata.posterior
    post_a = EKCModel.load(first_run / "model.nc").idata.posterior
    assert not post_7.equals(post_a), "fit --seed 7 gave the same posterior as the study seed"

    out = tmp_path / "rep"
    invoke("report", STUDY, "--model", fitted_seed7, "--out", out, "--data-dir", shared_data_dir, "--seed", 7, "--quiet")
    missing = [name for name in OUTPUT_FILES if not (out / name).is_file()]
    assert not missing, f"missing outputs: {missing}"
    assert len(list((out / "figures").glob("*.png"))) == len(FOCUS)
    xr.testing.assert_equal(EKCModel.load(out / "model.nc").idata.posterior, post_7)
    bands_7 = pd.read_csv(out / "bands.csv")
    bands_a = pd.read_csv(first_run / "bands.csv")
    assert list(bands_7.columns) == BAND_COLUMNS
    assert bands_7[["region", "variable", "year"]].equals(bands_a[["region", "variable", "year"]])
    assert not np.allclose(bands_7["q50"], bands_a["q50"]), "a different --seed gave the same bands"


def test_report_from_run_model_reproduces_run(first_run, shared_data_dir, tmp_path, no_sampling):
    """report --model <run>/model.nc with the run's seed gives the run's bands (save/load is lossless)."""
    out = tmp_path / "rep"
    invoke("report", STUDY, "--model", first_run / "model.nc", "--out", out, "--data-dir", shared_data_dir, "--quiet")
    pd.testing.assert_frame_equal(pd.read_csv(out / "bands.csv"), pd.read_csv(first_run / "bands.csv"))
    a = json.loads((first_run / "summary.json").read_text(encoding="utf-8"))
    b = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert b["regions"] == a["regions"]


def test_report_with_other_seed_differs_and_records_that_seed(first_run, shared_data_dir, tmp_path, no_sampling):
    """report --seed 999: other draws than the run, and the outputs say seed 999 (not the study's)."""
    out = tmp_path / "rep"
    invoke("report", STUDY, "--model", first_run / "model.nc", "--out", out, "--data-dir", shared_data_dir, "--seed", 999, "--quiet")
    bands = pd.read_csv(out / "bands.csv")
    assert not bands.equals(pd.read_csv(first_run / "bands.csv")), "--seed 999 gave the same bands as the study seed"
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    with xr.open_dataset(out / "forecast.nc") as ds:
        nc_seed = ds.attrs["seed"]
    assert (summary["study"]["seed"], int(nc_seed)) == (999, 999), "outputs record a seed other than the one used"


# --------------------------------------------------------------------------------------------------
# bad input: exit 2, one message, nothing written, no sampling
# --------------------------------------------------------------------------------------------------


def _bad_typo(tmp_path, monkeypatch):
    return variant(tmp_path, "typo.toml", "\ndraws = 100\n", "\ndrawz = 100\n"), ["drawz", "unknown key", "draws"]


def _bad_focus(tmp_path, monkeypatch):
    old = 'focus_regions = ["China", "India", "United States", "Germany", "Japan"]'
    return variant(tmp_path, "focus.toml", old, old.replace("Germany", "Germny")), ["Germny", "focus_regions"]


def _bad_path(tmp_path, monkeypatch):
    return tmp_path / "no_such_study.toml", ["not found", "no_such_study.toml"]


def _bad_prior(tmp_path, monkeypatch):
    extra = '\n[model.priors]\n"ekc.slope_muu" = { params = { mu = 0.7, sigma = 0.3 } }\n'
    return variant(tmp_path, "prior.toml", "", "", append=extra), ["ekc.slope_muu", "ekc.slope_mu"]


def _no_data(tmp_path, monkeypatch):
    import forecast.data as data

    # The CLI cannot disable downloads: point the OWID URL to a closed local port so it fails fast.
    monkeypatch.setitem(data.SOURCES, "owid", dataclasses.replace(data.SOURCES["owid"], url="http://127.0.0.1:9/owid-co2-data.csv"))
    monkeypatch.delenv("CARBON_FORECAST_DATA", raising=False)
    (tmp_path / "cache").mkdir()
    monkeypatch.setenv("CARBON_FORECAST_CACHE", str(tmp_path / "cache"))
    (tmp_path / "empty").mkdir()  # a usable folder (not empty: that alone is an error) without the data file
    (tmp_path / "empty" / "README.txt").write_text("no data here")
    return STUDY, ["owid_co2_data.csv", "--data-dir", "127.0.0.1:9"]


def _nu_prior_below_zero(tmp_path, monkeypatch):
    extra = '\n[model.priors]\n"ekc.nu" = { distribution = "Normal", params = { mu = 5.0, sigma = 10.0 } }\n'
    return variant(tmp_path, "nu.toml", "", "", append=extra), ["[model] priors", "ekc.nu", "must be positive"]


def _prior_of_other_family(tmp_path, monkeypatch):
    extra = '\n[model.priors]\n"kaya.nu" = { params = { alpha = 3.0 } }\n'
    return variant(tmp_path, "kaya.toml", "", "", append=extra), ["[model] priors", "'kaya.nu'", "ekc family"]


def _binary_study(tmp_path, monkeypatch):
    path = tmp_path / "binary.toml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    return path, ["binary.toml", "not UTF-8"]


def _nul_in_name(tmp_path, monkeypatch):
    return variant(tmp_path, "nul.toml", 'name = "small"', 'name = "a\\u0000b"'), ["[study] name", "control character"]


def _unreadable_scenario(tmp_path, monkeypatch):
    (tmp_path / "paths.csv").write_bytes(b"\x00\xff\xfe garbage\n")
    study = variant(tmp_path, "csv.toml", 'type = "history"', 'type = "csv"\npath = "paths.csv"')
    return study, ["paths.csv", "not UTF-8"]


BAD_INPUTS = {"typo-key": _bad_typo, "focus-region": _bad_focus, "missing-study": _bad_path,
              "unknown-prior": _bad_prior, "missing-data": _no_data, "nu-prior-below-zero": _nu_prior_below_zero,
              "prior-of-other-family": _prior_of_other_family, "binary-study": _binary_study,
              "nul-in-study-name": _nul_in_name, "unreadable-scenario-file": _unreadable_scenario}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_exits_2_without_output(case, tmp_path, monkeypatch, capsys, shared_data_dir, no_sampling):
    study, expected = BAD_INPUTS[case](tmp_path, monkeypatch)
    data_dir = tmp_path / "empty" if case == "missing-data" else shared_data_dir
    work = tmp_path / "work"
    work.mkdir()
    out = work / "res"
    code, stdout, stderr = call_main(monkeypatch, capsys, "run", study, "--out", out, "--data-dir", data_dir, "--quiet")
    assert code == 2, f"exit {code}\n{stderr}"
    assert "Traceback" not in stderr
    assert stderr.lstrip().startswith("error:") and stderr.count("error:") == 1, stderr
    for word in expected:
        assert squash(word) in squash(stderr), f"{word!r} not in error message:\n{stderr}"
    assert not out.exists(), "an output folder was created for a failed run"
    assert leftovers(work) == []
    if case == "missing-data":
        assert list((tmp_path / "cache").iterdir()) == [], "a failed download left files in the cache"


@pytest.mark.parametrize(
    ("old", "new", "label"),
    [
        ("\ndraws = 100\n", "\ndrawz = 100\n", "[sampler] drawz"),
        ('"Germany", "Japan"]\nregions = "focus"', '"Germny", "Japan"]\nregions = "focus"', "[forecast] focus_regions"),
    ],
    ids=["typo-key", "focus-region"],
)
def test_error_message_keeps_study_section(old, new, label, tmp_path, monkeypatch, capsys, shared_data_dir, no_sampling):
    """Study errors name the section (`[sampler] drawz`); the CLI must print the message verbatim."""
    study = variant(tmp_path, "bad.toml", old, new)
    code, _, stderr = call_main(monkeypatch, capsys, "run", study, "--out", tmp_path / "res", "--data-dir", shared_data_dir, "-q")
    assert code == 2
    assert squash(label) in squash(stderr), f"{label!r} missing from the printed error:\n{stderr}"


def test_cli_subprocess_user_error_has_no_traceback(tmp_path, shared_data_dir):
    study = variant(tmp_path, "typo.toml", "\ndraws = 100\n", "\ndrawz = 100\n")
    out = tmp_path / "res"
    env = {k: v for k, v in os.environ.items() if k != "CARBON_FORECAST_DATA"}
    proc = subprocess.run(
        [sys.executable, "-m", "forecast.cli", "run", str(study), "--out", str(out), "--data-dir", str(shared_data_dir), "--quiet"],
        capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.lstrip().startswith("error:"), proc.stderr
    assert "drawz" in proc.stderr and "did you mean" in proc.stderr
    assert proc.stdout == ""
    assert not out.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", str(STUDY), "--seed", "-1"], "--seed"),
        (["fit", str(STUDY)], "--out"),
        (["nosuchcommand"], "nosuchcommand"),
    ],
    ids=["bad-seed", "missing-option", "unknown-command"],
)
def test_usage_errors_exit_2_without_traceback(args, expected, tmp_path, monkeypatch, capsys, no_sampling):
    """Click usage errors (bad option value, missing option, unknown command) exit 2 with click's message."""
    monkeypatch.chdir(tmp_path)
    code, _, stderr = call_main(monkeypatch, capsys, *args)
    assert "Traceback" not in stderr, f"usage error printed a traceback:\n{stderr[-600:]}"
    assert code == 2 and expected in stderr, stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("target", ["a_folder", "/proc/model.nc", "missing/model.nc", ""])
def test_fit_checks_output_path_before_sampling(target, tmp_path, monkeypatch, capsys, shared_data_dir, no_sampling):
    """`fit --out` that cannot be written (an existing folder, a read-only place such as /proc, a missing
    folder, an empty path) must fail with exit 2 before sampling."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_folder").mkdir()
    try:
        code, _, stderr = call_main(monkeypatch, capsys, "fit", STUDY, "--out", target, "--data-dir", shared_data_dir, "-q")
    except SamplingStarted:
        pytest.fail(f"fit started sampling although its --out path {target!r} cannot be written")
    assert code == 2 and "Traceback" not in stderr, stderr
    assert squash(target or "give a file name") in squash(stderr), stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_folder"]


@pytest.mark.parametrize("args", [["run", str(STUDY), "--out", "res", "--data-dir", "missing"],
                                  ["fit", str(STUDY), "--out", "/proc/model.nc"],
                                  ["run", str(STUDY), "--out", "/proc/x"]], ids=["data-dir", "fit-out", "run-out"])
def test_unusable_paths_are_refused_before_the_model_code_is_imported(args, tmp_path):
    """--out and --data-dir are checked before PyMC is imported (about 4 s), so the answer comes at once."""
    code = ("import sys\nfrom forecast.cli import main\nsys.argv = ['carbon-forecast', *sys.argv[1:]]\n"
            "try:\n    main()\nexcept SystemExit as exit_:\n    print(exit_.code, 'pymc' in sys.modules)\n")
    env = {k: v for k, v in os.environ.items() if k != "CARBON_FORECAST_DATA"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env=env)
    assert proc.stdout.split() == ["2", "False"], proc.stdout + proc.stderr
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr


def test_unconverged_land_sink_model_exits_3_without_output(tmp_path, monkeypatch, capsys, no_sampling):
    """run_sinks refuses an unconverged land-sink fit (ModelStateError). That is a sampler-diagnostics
    failure like --strict (exit 3), not bad input (exit 2). No sampling: the land-sink fit is replaced by
    one that leaves R-hat 1.4, and run_study by a stand-in that goes straight to the real run_sinks."""
    import forecast.run.pipeline as pipeline
    from forecast.errors import ModelStateError
    from forecast.models.sinks import GlobalLandSinkModel
    from forecast.run.study import default_study_path

    def unconverged_fit(self, *args, **kwargs):
        self.diagnostics = SimpleNamespace(max_r_hat=1.4, warnings=["R-hat 1.40 for lam (> 1.01)"])
        return self

    def straight_to_sinks(study, **kwargs):
        return pipeline.run_sinks(study, None, seed=0)  # the convergence check comes before fc is used

    monkeypatch.setattr(GlobalLandSinkModel, "fit", unconverged_fit)
    monkeypatch.setattr(pipeline, "run_study", straight_to_sinks)
    out = tmp_path / "res"
    code, _, stderr = call_main(monkeypatch, capsys, "run", default_study_path("china"), "--out", out, "-q")
    assert code == 3, f"exit {code}\n{stderr}"
    assert "didnotconverge" in squash(stderr) and "R-hat1.40" in squash(stderr), stderr
    assert "Traceback" not in stderr
    assert not out.exists() and leftovers(tmp_path) == []
    # the mapping itself: diagnostics on the error -> 3, every other user error -> 2
    err = ModelStateError("x")
    assert cli.exit_code(err) == 2
    err.diagnostics = SimpleNamespace(max_r_hat=1.4, warnings=[])
    assert cli.exit_code(err) == 3


@pytest.mark.parametrize("kind", ["missing", "not-netcdf", "folder"])
def test_report_missing_model_exits_2(kind, tmp_path, monkeypatch, capsys, shared_data_dir, no_sampling):
    """A --model that is missing, not a NetCDF file (used to be an h5py traceback) or a folder: exit 2."""
    out = tmp_path / "rep"
    model = tmp_path / "nope.nc"
    if kind == "not-netcdf":
        model.write_text("not a NetCDF file")
    elif kind == "folder":
        model.mkdir()
    code, _, stderr = call_main(monkeypatch, capsys, "report", STUDY, "--model", model, "--out", out,
                                "--data-dir", shared_data_dir, "-q")
    assert code == 2 and "Traceback" not in stderr and "nope.nc" in squash(stderr), stderr
    assert {"missing": "nosavedmodel", "not-netcdf": "notamodelfile", "folder": "isafolder"}[kind] in squash(stderr)
    assert not out.exists() and leftovers(tmp_path) == []


# --------------------------------------------------------------------------------------------------
# an existing output folder is replaced only on success
# --------------------------------------------------------------------------------------------------


def test_existing_output_replaced_only_on_success(first_run, tmp_path, monkeypatch, capsys, shared_data_dir, no_sampling):
    out = tmp_path / "res"
    out.mkdir()
    (out / "old.txt").write_text("previous results", encoding="utf-8")
    bad = variant(tmp_path, "typo.toml", "\ndraws = 100\n", "\ndrawz = 100\n")
    code, _, stderr = call_main(monkeypatch, capsys, "run", bad, "--out", out, "--data-dir", shared_data_dir, "-q")
    assert code == 2, stderr
    assert (out / "old.txt").read_text(encoding="utf-8") == "previous results"
    assert sorted(p.name for p in out.iterdir()) == ["old.txt"]
    assert leftovers(tmp_path) == []

    # a successful command (report from the saved model: no refit) replaces the folder as a whole
    code, _, stderr = call_main(monkeypatch, capsys, "report", STUDY, "--model", first_run / "model.nc", "--out", out,
                                "--data-dir", shared_data_dir, "-q")
    assert code == 0, stderr
    assert not (out / "old.txt").exists()
    assert all((out / name).is_file() for name in OUTPUT_FILES)
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------------------------------
# priors and data sub-commands
# --------------------------------------------------------------------------------------------------


def test_priors_list_and_filter():
    text = invoke("priors", "list").stdout
    assert "ekc.slope_mu" in text and "ekc.nu" in text
    ekc_only = invoke("priors", "list", "ekc").stdout
    assert "ekc.slope_mu" in ekc_only
    assert "sinks." not in ekc_only and "reference." not in ekc_only


def test_priors_show_citation():
    text = invoke("priors", "show", "ekc.nu").stdout
    assert "Gamma" in text
    assert "Juárez" in text and squash("Journal of Business & Economic Statistics") in squash(text)


def test_priors_show_unknown_suggests(monkeypatch, capsys):
    code, stdout, stderr = call_main(monkeypatch, capsys, "priors", "show", "ekc.nope")
    assert code == 2, stderr
    assert "Traceback" not in stderr and stderr.lstrip().startswith("error:")
    assert "ekc.nope" in stderr and "did you mean" in stderr and "ekc.nu" in stderr
    assert stdout == ""


def test_data_info_prints_sha256(shared_data_dir):
    text = invoke("data", "info", "--data-dir", shared_data_dir).stdout
    assert owid_sha256(shared_data_dir) in text
    assert "rows" in text and str((shared_data_dir / "owid_co2_data.csv").resolve()) in squash(text)


def test_leftovers_of_a_killed_run_are_removed_by_the_next_write(tmp_path):
    """A run killed while writing leaves `.res.tmp-<pid>-*`; the next write into the same place removes
    it, but not the folder of a run that is still writing (a live pid)."""
    from forecast.io.atomic import atomic_output_dir

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".res.tmp-{int(dead.stdout)}-abc"
    (stale / "figures").mkdir(parents=True)
    (stale / "bands.csv").write_text("partial")
    legacy = tmp_path / ".res.tmp-xyz"  # an older version's name without a pid
    legacy.mkdir()
    live = tmp_path / f".res.tmp-{os.getpid()}-def"
    live.mkdir()
    with atomic_output_dir(tmp_path / "res") as tmp:
        (tmp / "x.txt").write_text("done")
    assert not stale.exists() and not legacy.exists() and live.exists()
    assert (tmp_path / "res" / "x.txt").read_text() == "done"


def test_study_name_never_chooses_an_output_path():
    for name, want in (("/abs/dir", "abs_dir"), ("../../x", "x"), ("a b/c", "a_b_c"), ("..", "study")):
        path = cli.default_out_dir(name)
        assert path == Path("results") / want and ".." not in path.parts


@pytest.mark.parametrize("kind", ["missing", "file", "empty"])
def test_unusable_data_dir_is_an_error_not_a_fallback(tmp_path, monkeypatch, capsys, kind):
    target = {"missing": tmp_path / "nope", "file": tmp_path / "f.txt", "empty": tmp_path / "empty"}[kind]
    if kind == "file":
        target.write_text("x")
    if kind == "empty":
        target.mkdir()
    code, _, stderr = call_main(monkeypatch, capsys, "data", "info", "--data-dir", target)
    assert code == 2 and squash(str(target)) in squash(stderr)
    assert {"missing": "does not exist", "file": "is a file", "empty": "is empty"}[kind] in stderr


def test_data_dir_from_the_environment_is_named_as_such(tmp_path, monkeypatch, capsys):
    """$CARBON_FORECAST_DATA pointing nowhere is an error that names the variable, not --data-dir."""
    monkeypatch.setenv("CARBON_FORECAST_DATA", str(tmp_path / "nope"))
    code, _, stderr = call_main(monkeypatch, capsys, "data", "info")
    assert code == 2 and "$CARBON_FORECAST_DATA" in stderr and "does not exist" in stderr, stderr
    code, _, stderr = call_main(monkeypatch, capsys, "data", "info", "--data-dir", tmp_path / "other")
    assert code == 2 and "--data-dir" in stderr and "$CARBON_FORECAST_DATA" not in stderr, stderr


def test_backtest_scores_that_cannot_be_computed_say_why():
    """The backtest printed `nan` for Brier skill and AUC when no region (or every region) peaked; the
    terminal table now says why a score is undefined, and shows the interval beside every other score."""
    scores = pd.DataFrame([
        {"kind": "event", "target": "peak within 5 y", "statistic": "auc", "estimate": np.nan, "low": np.nan, "high": np.nan},
        {"kind": "event", "target": "peak within 5 y", "statistic": "brier_skill", "estimate": 0.12, "low": 0.05,
         "high": 0.2},
    ])
    assert cli._event_cell(scores, "peak within 5 y", "auc") == "undefined: every decided region had the same outcome"
    assert cli._event_cell(scores, "peak within 5 y", "brier_skill") == "0.12 (0.05-0.20)"
    assert cli._event_cell(scores, "peak within 10 y", "log_score").startswith("n/a: ")


@pytest.mark.parametrize("target", ["", ".", "/proc/x"])
def test_an_output_folder_that_cannot_be_written_fails_before_sampling(target, monkeypatch, capsys, shared_data_dir,
                                                                       no_sampling):
    code, _, stderr = call_main(monkeypatch, capsys, "run", STUDY, "--out", target, "--data-dir", shared_data_dir)
    assert code == 2 and "Traceback" not in stderr
    assert "give a folder name" in stderr or "not writable" in stderr, stderr


def test_a_forecast_that_cannot_fit_in_memory_is_refused_before_sampling(monkeypatch):
    from forecast.errors import StudyError
    from forecast.run.context import RunContext
    from forecast.run.stages import emissions
    from forecast.run.study import load_study

    study = load_study(STUDY).with_overrides(forecast={"draws": 100_000})
    panel = pd.DataFrame({"region": ["A", "A"], "year": [2000, 2022]})
    ctx = RunContext(study=study, panel=panel, scenario=SimpleNamespace(horizon=2050),
                     regions=[f"R{i}" for i in range(300)])
    monkeypatch.setattr(emissions, "_memory_bytes", lambda: 24 * 2**30)
    with pytest.raises(StudyError, match=r"\[forecast\] draws = 100000 for 300 regions x 51 years needs about \d+"):
        emissions._check_forecast(ctx)
    ctx.regions = ctx.regions[:5]  # 5 regions fit
    emissions._check_forecast(ctx)
