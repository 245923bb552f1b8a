"""Ecosystem areas by region from a user CSV (forecast/sinks/areas.py) and the study key [sinks] areas_csv.

The figures below are made up for the tests (regions "A" and "B"); they are not provincial data."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.errors import InputError, StudyError
from forecast.run.stages.sinks import build_sinks, sink_areas
from forecast.run.study import load_study, studies_dir
from forecast.sinks.areas import read_areas_csv
from forecast.sinks.ecosystems import EcosystemSinks

GOOD = """# test table, made-up numbers
region,ecosystem,area_mha,source,rel_sd,year
A,forest,2.5,"Table 1, made up",0.05,2019
A,grassland,1.0,"Table 1, made up",,2019
B,forest,0.4,"Table 2, made up",0.1,
B,cropland_soil,3.0,"Table 2, made up",,
"""


def _write(tmp_path, text, name="areas.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_the_documented_format_and_feeds_the_sink_model(tmp_path):
    areas = read_areas_csv(_write(tmp_path, GOOD))
    assert set(areas) == {"A", "B"}
    assert areas["A"]["forest"] == {"value": 2.5, "source": "Table 1, made up", "rel_sd": 0.05}
    assert "rel_sd" not in areas["A"]["grassland"]
    sinks = EcosystemSinks(areas, soc=None)
    out = sinks.simulate(range(2020, 2023), draws=200, random_seed=1)
    # a region with more forest has the larger sink in every draw with a positive forest rate
    forest = out["sink_by_ecosystem"].sel(ecosystem="forest", year=2020)
    positive = out["rate"].sel(ecosystem="forest") > 0
    assert bool((forest.sel(region="A") > forest.sel(region="B")).where(positive, True).all())
    table = sinks.areas_table()
    assert set(table["source"]) == {"Table 1, made up", "Table 2, made up"}


@pytest.mark.parametrize("text, match", [
    ("region,ecosystem,area_mha\nA,forest,1\n", "missing column.*source"),
    ("region,ecosystem,area_mha,source,unit\nA,forest,1,x,Mha\n", "unknown column.*'unit'"),
    ("region,ecosystem,area_mha,source\nA,forrest,1,x\n", r"line 2 \(region 'A'\): unknown ecosystem 'forrest'.*forest"),
    ("region,ecosystem,area_mha,source\nA,forest,-1,x\n", "line 2.*>= 0"),
    ("region,ecosystem,area_mha,source\nA,forest,abc,x\n", "line 2.*must be a number"),
    ("region,ecosystem,area_mha,source\nA,forest,nan,x\n", "line 2.*finite"),
    ("region,ecosystem,area_mha,source\nA,forest,1,\n", "line 2.*empty source"),
    ("region,ecosystem,area_mha,source\n,forest,1,x\n", "line 2: empty region"),
    ("region,ecosystem,area_mha,source,rel_sd\nA,forest,1,x,1.5\n", "rel_sd is a relative sd"),
    ("region,ecosystem,area_mha,source,year\nA,forest,1,x,2019.5\n", "whole year"),
    ("region,ecosystem,area_mha,source\nA,forest,1,x\nB,forest,1,x\nA,forest,2,y\n", "line 4.*'forest' given twice.*line 2"),
    ("region,ecosystem,area_mha,source\nA,forest,1,x,extra\n", "line 2: more fields"),
    ("region,ecosystem,area_mha,source\n", "no rows"),
    ("# only a comment\n", "is empty"),
])
def test_bad_tables_name_file_line_and_region(tmp_path, text, match):
    path = _write(tmp_path, text)
    with pytest.raises(InputError, match=match) as err:
        read_areas_csv(path)
    assert str(path) in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_areas_csv(tmp_path / "nope.csv")


def _provinces_with_sinks(tmp_path, **sinks):
    study = load_study(studies_dir() / "china-provinces" / "study.toml")
    return study.with_overrides(sinks={"enabled": True, **sinks})


def test_study_key_areas_csv_merges_with_toml_areas(tmp_path):
    csv_path = _write(tmp_path, GOOD.replace("A,", "Beijing,").replace("B,", "Hebei,"))
    study = _provinces_with_sinks(tmp_path, areas_csv=str(csv_path),
                                  areas={"Tianjin": {"source": "made up", "forest": 0.1}})
    areas = sink_areas(study)
    assert set(areas) == {"Beijing", "Hebei", "Tianjin"}
    _, eco = build_sinks(study)
    assert eco.regions == ["Tianjin", "Beijing", "Hebei"]
    # a region given both ways is refused
    clash = _provinces_with_sinks(tmp_path, areas_csv=str(csv_path),
                                  areas={"Beijing": {"source": "made up", "forest": 0.1}})
    with pytest.raises(StudyError, match="Beijing.*both"):
        sink_areas(clash)
    # a bad file is reported under the study key
    bad = _write(tmp_path, "region,ecosystem,area_mha\n", "bad.csv")
    with pytest.raises(StudyError, match=r"\[sinks\] areas_csv:.*missing column"):
        sink_areas(_provinces_with_sinks(tmp_path, areas_csv=str(bad)))
    # forest ageing for a region without areas
    with pytest.raises(StudyError, match=r"\[sinks.forest_age\].*Shanghai"):
        sink_areas(_provinces_with_sinks(tmp_path, areas_csv=str(csv_path), forest_age={"Shanghai": {}}))


def test_enabled_sinks_need_areas_or_a_csv(tmp_path):
    with pytest.raises(StudyError, match="areas_csv"):  # the provinces study ships a CSV: take it away
        _provinces_with_sinks(tmp_path, areas_csv=None)
    assert np.isclose(sink_areas(_provinces_with_sinks(tmp_path, areas_csv=str(_write(tmp_path, GOOD))))["A"]["forest"]["value"], 2.5)
