"""`carbon-forecast inventory`: Approach 1 and 2 on a CEADs province-year and on a user activity file."""

from __future__ import annotations

import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from forecast.cli import app, main

runner = CliRunner()


def run_main(monkeypatch, *args):
    monkeypatch.setattr(sys, "argv", ["carbon-forecast", *map(str, args)])
    with pytest.raises(SystemExit) as info:
        main()
    return info.value.code


def test_ceads_inventory_reproduces_the_fuel_total(shared_data_dir, tmp_path):
    out = tmp_path / "inv"
    result = runner.invoke(app, ["inventory", "--province", "Shandong", "--year", "2019", "--data-dir",
                                 str(shared_data_dir), "--out", str(out), "--draws", "4000", "--quiet"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "inventory.csv", index_col=0)
    raw = pd.read_csv(shared_data_dir / "china_ceads_province_co2.csv")
    row = raw[(raw["province"] == "Shandong") & (raw["year"] == 2019)].iloc[0]
    fuel_total = row["Scope_1_Total"] - row["Process"]
    assert table.loc["Approach 1", "total"] == pytest.approx(fuel_total, rel=1e-9)
    a2 = table.loc["Approach 2"]
    assert a2["lower"] < fuel_total < a2["upper"]
    assert "Approach 2" in (out / "inventory.md").read_text()


def test_user_activities_with_ipcc_factors_and_unit_errors(tmp_path, monkeypatch):
    good = tmp_path / "acts.csv"
    good.write_text("category,value,units,rel_sd\nnatural_gas,500,PJ,0.03\nother_bituminous_coal,2,EJ,0.05\n")
    out = tmp_path / "inv"
    result = runner.invoke(app, ["inventory", "--activities", str(good), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "inventory.csv", index_col=0)
    # hand-computed: 500 PJ x 56.1 t/TJ + 2000 PJ x 94.6 t/TJ (IPCC medians) = 28.05 + 189.2 Mt CO2
    assert table.loc["Approach 1", "total"] == pytest.approx(28.05 + 189.2, rel=0.01)
    bad = tmp_path / "bad.csv"
    bad.write_text("category,value,units\nnatural_gas,500,t\n")  # tonnes of gas against a factor per TJ
    assert run_main(monkeypatch, "inventory", "--activities", bad, "--out", tmp_path / "bad_out") == 2
    assert not (tmp_path / "bad_out").exists()


def test_unknown_province_and_year_are_clear_errors(shared_data_dir, tmp_path, monkeypatch, capsys):
    assert run_main(monkeypatch, "inventory", "--province", "Shandonk", "--year", "2019", "--data-dir",
                    shared_data_dir, "--out", tmp_path / "x") == 2
    assert "Shandonk" in capsys.readouterr().err
    assert run_main(monkeypatch, "inventory", "--province", "Shandong", "--year", "2030", "--data-dir",
                    shared_data_dir, "--out", tmp_path / "y") == 2
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_landuse_account_from_areas(tmp_path, monkeypatch):
    areas = tmp_path / "areas.csv"
    areas.write_text("land_type,area_mha,rel_sd\nforest,284.1,0.05\ngrassland,264.5,0.05\ncropland,127.9,0.05\n")
    out = tmp_path / "lu"
    result = runner.invoke(app, ["inventory", "--landuse", str(areas), "--out", str(out), "--draws", "4000", "--quiet"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "landuse.csv").set_index("land_type")
    parts = table.drop(index="net")
    # the net account is the sum of its land types, draw by draw, so also in the mean
    assert table.loc["net", "mean"] == pytest.approx(parts["mean"].sum(), rel=1e-9)
    assert table.loc["forest", "q975"] < 0  # forests sequester with high probability
    bad = tmp_path / "bad.csv"
    bad.write_text("land_type,area_mha\nforrest,1\n")
    assert run_main(monkeypatch, "inventory", "--landuse", bad, "--out", tmp_path / "bad_out") == 2
    assert not (tmp_path / "bad_out").exists()


def test_inventory_of_a_study_covers_its_provinces_and_landuse(shared_data_dir, tmp_path):
    """`carbon-forecast inventory STUDY`: one Approach 1/2 pair per province of the study in its last data
    year, each reproducing the CEADs fuel total; a study with [landuse] gets its land-use account."""
    from pathlib import Path

    studies = Path(__file__).resolve().parents[1] / "studies"
    out = tmp_path / "prov"
    result = runner.invoke(app, ["inventory", str(studies / "china-provinces" / "study.toml"), "--data-dir",
                                 str(shared_data_dir), "--out", str(out), "--draws", "2000", "--quiet"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "inventory_by_region.csv")
    assert table["region"].nunique() == 30 and set(table["year"]) == {2019}
    raw = pd.read_csv(shared_data_dir / "china_ceads_province_co2.csv").set_index(["province", "year"])
    a1 = table[table["approach"] == "Approach 1"].set_index("region")
    fuel = raw.xs(2019, level="year").loc[a1.index]
    assert (a1["total"] - (fuel["Scope_1_Total"] - fuel["Process"])).abs().max() < 1e-6
    a2 = table[table["approach"] == "Approach 2"].set_index("region")
    assert ((a2["lower"] < a1["total"]) & (a1["total"] < a2["upper"])).all()
    china = runner.invoke(app, ["inventory", str(studies / "china" / "study.toml"), "--out", str(tmp_path / "cn"),
                                "--quiet"])
    assert china.exit_code == 0, china.output
    landuse = pd.read_csv(tmp_path / "cn" / "landuse.csv")
    assert "forest" in set(landuse["land type"]) and landuse.loc[landuse["land type"] == "forest", "mean"].iloc[0] < 0


def test_inventory_of_a_study_without_inventory_data_is_a_clear_error(tmp_path, monkeypatch):
    from pathlib import Path

    study = Path(__file__).resolve().parents[1] / "studies" / "global" / "study.toml"
    assert run_main(monkeypatch, "inventory", study, "--out", tmp_path / "x") == 2
    assert not (tmp_path / "x").exists()
    assert run_main(monkeypatch, "inventory", study, "--province", "Shandong", "--out", tmp_path / "y") == 2


def test_quiet_prints_only_where_the_results_are(tmp_path):
    """--quiet printed nothing at all; like `run`, it now prints the output folder, one line on stdout."""
    acts = tmp_path / "acts.csv"
    acts.write_text("category,value,units,rel_sd\nnatural_gas,500,PJ,0.03\n")
    areas = tmp_path / "areas.csv"
    areas.write_text("land_type,area_mha\nforest,284.1\n")
    for args, out in ((["--activities", str(acts)], tmp_path / "inv"), (["--landuse", str(areas)], tmp_path / "lu")):
        result = runner.invoke(app, ["inventory", *args, "--out", str(out), "--draws", "1000", "--quiet"])
        assert result.exit_code == 0, result.output
        assert result.stdout.strip() == str(out)


def test_monte_carlo_draws_beyond_the_memory_limit_are_refused(tmp_path, monkeypatch, capsys):
    """--draws 10**12 used to end in a MemoryError traceback; now a usage error naming --draws."""
    acts = tmp_path / "acts.csv"
    acts.write_text("category,value,units,rel_sd\nnatural_gas,500,PJ,0.03\n")
    assert run_main(monkeypatch, "inventory", "--activities", acts, "--draws", 10**12, "--out", tmp_path / "x") == 2
    err = capsys.readouterr().err
    assert "--draws" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()
