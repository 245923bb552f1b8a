"""China provincial panel on the real shared data files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast.data.china import PROVINCE_GROUPS, data_coverage_table, load_province_panel
from forecast.data import load_panel
from forecast.errors import DataNotFoundError, InputError


@pytest.fixture(scope="module")
def panel(shared_data_dir):
    return load_province_panel(shared_data_dir)


def test_shape_and_years(panel):
    assert panel["region"].nunique() == 30
    assert "Tibet" not in set(panel["region"])
    assert sorted(panel["year"].unique()) == list(range(2004, 2017))
    assert len(panel) == 30 * 13
    assert not panel[["population", "gdp", "co2"]].isna().any().any()
    assert list(panel.columns[:7]) == ["region", "year", "population", "gdp", "co2", "gdp_per_capita", "co2_per_capita"]
    assert panel.attrs["units"]["gdp"] == "international-$ (2011 prices)"


def test_gdp_sums_to_owid_china(panel, shared_data_dir):
    owid = load_panel("owid", regions=["China"], years=(2004, 2016), data_dir=shared_data_dir,
                      require_complete=False).set_index("year")["gdp"]
    total = panel.groupby("year")["gdp"].sum()
    np.testing.assert_allclose(total.to_numpy(), owid.loc[total.index].to_numpy(), rtol=1e-9)
    # relative provincial GRP kept: ratio of two provinces equals the nominal ratio
    y = panel[panel["year"] == 2010].set_index("region")
    raw = pd.read_csv(shared_data_dir / "china_nbs_province_gdp.csv")
    raw = raw[raw["year"] == 2010].set_index("province")["grp_100m_yuan_current"]
    assert y.loc["Jiangsu", "gdp"] / y.loc["Gansu", "gdp"] == pytest.approx(raw["Jiangsu"] / raw["Gansu"], rel=1e-12)


def test_co2_matches_ceads(panel, shared_data_dir):
    raw = pd.read_csv(shared_data_dir / "china_ceads_province_co2.csv")
    row = raw[(raw["province"] == "Inner Mongolia") & (raw["year"] == 2012)].iloc[0]
    value = panel.loc[(panel["region"] == "Inner Mongolia") & (panel["year"] == 2012), "co2"].item()
    assert value == row["Scope_1_Total"]
    pop = pd.read_csv(shared_data_dir / "china_wb_province_population.csv")
    p = pop[(pop["province"] == "Inner Mongolia") & (pop["year"] == 2012)]["population"].item()
    assert panel.loc[(panel["region"] == "Inner Mongolia") & (panel["year"] == 2012), "population"].item() == p


def test_groups(panel):
    assert set(panel["region"]) <= set(PROVINCE_GROUPS)
    assert panel["group"].notna().all()
    counts = pd.Series(PROVINCE_GROUPS).value_counts()
    assert counts.to_dict() == {"east": 11, "west": 12, "central": 8}
    assert PROVINCE_GROUPS["Inner Mongolia"] == "west" and PROVINCE_GROUPS["Guangdong"] == "east"


def test_provenance(panel, shared_data_dir):
    prov = panel.attrs["provenance"]
    names = {p["path"].rsplit("/", 1)[-1] for p in prov}
    assert names == {"china_ceads_province_co2.csv", "china_nbs_province_gdp.csv",
                     "china_wb_province_population.csv", "owid_co2_data.csv"}
    assert all(len(p["sha256"]) == 64 for p in prov)


def test_coverage_table(shared_data_dir):
    t = data_coverage_table(shared_data_dir)
    assert (t.loc["complete", "year_min"], t.loc["complete", "year_max"]) == (2004, 2016)
    assert t.loc["complete", "years_complete"] == 13
    assert (t.loc["ceads_co2", "year_min"], t.loc["ceads_co2", "year_max"]) == (1997, 2019)
    assert (t.loc["wb_population", "year_min"], t.loc["wb_population", "year_max"]) == (2000, 2016)
    assert (t.loc["nbs_grp", "year_min"], t.loc["nbs_grp", "year_max"]) == (2004, 2023)


def test_bad_inputs(shared_data_dir, tmp_path, monkeypatch):
    with pytest.raises(InputError, match="2004-2016"):
        load_province_panel(shared_data_dir, years=(2000, 2016))
    monkeypatch.delenv("CARBON_FORECAST_DATA", raising=False)
    with pytest.raises(DataNotFoundError, match="is empty"):  # a folder asked for must be usable
        load_province_panel(tmp_path)
    (tmp_path / "README.txt").write_text("not the data")
    with pytest.raises(DataNotFoundError, match="china_"):
        load_province_panel(tmp_path)
    sub = load_province_panel(shared_data_dir, years=(2010, 2012))
    assert sorted(sub["year"].unique()) == [2010, 2011, 2012]


# ---------------------------------------------------------------------------------------------- selection
def test_select_provinces_filters_and_names_unknown(panel):
    from forecast.data.china import select_provinces

    sub = select_provinces(panel, regions=["Beijing", "Henan", "Xinjiang"], exclude_regions=["Henan"])
    assert sorted(sub["region"].unique()) == ["Beijing", "Xinjiang"]
    assert len(sub) == 2 * 13 and sub.attrs["provenance"] == panel.attrs["provenance"]
    assert "left out" in sub.attrs["notes"][-1] and "Henan" in sub.attrs["notes"][-1]
    # the GDP of a kept province is unchanged (the deflator is computed on all 30 provinces)
    both = panel.merge(sub, on=["region", "year"], suffixes=("", "_sub"))
    np.testing.assert_array_equal(both["gdp"], both["gdp_sub"])
    assert select_provinces(panel) is panel
    with pytest.raises(InputError, match=r"regions: .*'Bejing' \(did you mean 'Beijing'"):
        select_provinces(panel, regions=["Bejing", "Henan"])
    with pytest.raises(InputError, match=r"exclude_regions: .*'Tibet' \(no CEADs CO2 inventory"):
        select_provinces(panel, exclude_regions=["Tibet"])
    with pytest.raises(InputError, match="leave no province"):
        select_provinces(panel, regions=["Henan"], exclude_regions=["Henan"])


def test_study_data_regions_and_exclusions_apply_to_provinces(shared_data_dir):
    from forecast.errors import StudyError
    from forecast.run.pipeline import load_study_panel
    from forecast.run.study import default_study_path, load_study

    study = load_study(default_study_path("china-provinces"))
    assert load_study_panel(study, data_dir=shared_data_dir)["region"].nunique() == 30
    excl = study.with_overrides(data={"exclude_regions": ["Hainan", "Qinghai"]})
    p = load_study_panel(excl, data_dir=shared_data_dir)
    assert p["region"].nunique() == 28 and not {"Hainan", "Qinghai"} & set(p["region"])
    focus = study.forecast.focus_regions
    only = study.with_overrides(data={"regions": [*focus, "Hubei"]})
    assert set(load_study_panel(only, data_dir=shared_data_dir)["region"]) == {*focus, "Hubei"}
    with pytest.raises(StudyError, match=r"\[data\] regions: .*'Hubie'"):
        load_study_panel(study.with_overrides(data={"regions": [*focus, "Hubie"]}), data_dir=shared_data_dir)
    with pytest.raises(StudyError, match=r"\[data\] exclude_regions: .*'Tibet'"):
        load_study_panel(study.with_overrides(data={"exclude_regions": ["Tibet"]}), data_dir=shared_data_dir)
    # excluding a focus province is caught too
    with pytest.raises(StudyError, match="focus_regions.*Beijing"):
        load_study_panel(study.with_overrides(data={"exclude_regions": ["Beijing"]}), data_dir=shared_data_dir)


def test_data_notes_table_documents_the_gaps(panel, shared_data_dir):
    from forecast.data.china import data_notes_table, select_provinces

    notes = data_notes_table(panel).set_index("topic")
    co2 = notes.loc["CO2 (CEADs Scope_1_Total, Mt CO2/yr)"]
    assert (co2["first year"], co2["last year"], co2["provinces"]) == (1997, 2019, 30)
    gdp = notes.loc["GDP (NBS gross regional product)"]
    pop = notes.loc["population (World Bank subnational)"]
    assert (gdp["first year"], gdp["last year"]) == (2004, 2023) and (pop["first year"], pop["last year"]) == (2000, 2016)
    overlap = notes.loc["overlap of CO2, GDP and population"]
    assert (overlap["first year"], overlap["last year"]) == (2004, 2016)
    assert "1997-2003 and 2017-2019" in overlap["note"]
    assert "no inventory for Tibet" in notes.loc["Tibet", "note"]
    assert "deflator" in notes.loc["GDP deflation", "note"] and "2011 international-$" in notes.loc["GDP deflation", "note"]
    assert notes.loc["fitted panel", "provinces"] == 30 and "study selection" not in notes.index
    # the folder comes from the panel's provenance; a study selection is listed
    sub = select_provinces(load_province_panel(shared_data_dir, years=(2008, 2016)), exclude_regions=["Hainan"])
    sub_notes = data_notes_table(sub, shared_data_dir).set_index("topic")
    assert (sub_notes.loc["fitted panel", "first year"], sub_notes.loc["fitted panel", "provinces"]) == (2008, 29)
    assert "Hainan" in sub_notes.loc["study selection", "note"]
    with pytest.raises(InputError, match="provincial panel"):
        data_notes_table(pd.DataFrame({"x": [1]}))
