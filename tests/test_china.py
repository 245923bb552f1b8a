"""China provincial panel on the real shared data files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecast.data import load_panel
from forecast.data.china import (
    PROVINCE_GROUPS,
    data_coverage_table,
    load_province_panel,
)
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


# ---------------------------------------------------------------------------------------------- population to 2019
def test_extension_reproduces_exact_share_trends_and_national_growth():
    """Shares on exact exponential trends and a total that grows exactly as the national series: the rule
    must return the continuation to rounding (it would not if it dropped the anchor, the renormalisation or
    the national scaling)."""
    from forecast.data.china import extended_population

    years = np.arange(2010, 2017)
    rates = {"A": 0.01, "B": -0.02, "C": 0.0}
    national = pd.Series(1e9 * np.exp(0.005 * (np.arange(2010, 2020) - 2010)), index=np.arange(2010, 2020))

    def truth(y):
        raw = {p: np.exp(r * (y - 2010)) for p, r in rates.items()}
        total = 0.98 * national.loc[y]  # the provinces' total: a fixed fraction of the nation
        return {p: total * v / sum(raw.values()) for p, v in raw.items()}

    rows = [{"province": p, "year": int(y), "population": v} for y in years for p, v in truth(y).items()]
    out = extended_population(pd.DataFrame(rows), national, 2019)
    added = out[out["population_extended"]]
    assert sorted(added["year"].unique()) == [2017, 2018, 2019] and len(added) == 9
    assert not out.loc[~out["population_extended"], "year"].gt(2016).any()
    for r in added.itertuples():
        assert r.population == pytest.approx(truth(r.year)[r.province], rel=1e-9)


def test_extension_validated_on_a_real_holdout(shared_data_dir):
    """Extend the World Bank population from 2011 and compare with its real 2012-2016 values, over the 30
    panel provinces at 1-3 years ahead (the span 2017-2019 is extended by). Measured (this data, this rule):
    median |error| 0.49 %, max 9.40 % (Beijing 2014, after its 2010-2011 growth of 7 %/yr fell to 2 %/yr).
    Tolerances: 1.5x the measured median and 1.2x the measured max, so a change of the rule or of the
    files that makes it clearly worse fails. The horizon-5 errors are larger (max 15.8 %): that is why at most
    5 years are extended and the study extends 3."""
    from forecast.data.china import (
        population_extension_check,
        population_extension_summary,
    )

    check = population_extension_check(shared_data_dir, last=2011, through=2016)
    assert check["province"].nunique() == 30 and "Tibet" not in set(check["province"])
    assert sorted(check["horizon"].unique()) == [1, 2, 3, 4, 5]
    near = population_extension_summary(check, max_horizon=3)
    assert near["n"] == 90
    assert near["median_abs_pct"] <= 1.5 * 0.49
    assert near["max_abs_pct"] <= 1.2 * 9.40
    # the error grows with the horizon (a trend rule, not a lucky constant)
    by_h = check.assign(a=check["error_pct"].abs()).groupby("horizon")["a"].median()
    assert by_h.loc[1] < by_h.loc[3] < by_h.loc[5]


def test_panel_to_2019_flags_the_extended_population(shared_data_dir):
    from forecast.data.china import data_notes_table

    panel = load_province_panel(shared_data_dir, years=(2004, 2019), extend_population="national_share")
    assert len(panel) == 30 * 16 and not panel[["population", "gdp", "co2"]].isna().any().any()
    flagged = panel[panel["population_extended"]]
    assert set(flagged["year"]) == {2017, 2018, 2019} and len(flagged) == 90
    assert panel.attrs["population_extended"]["Beijing"] == [2017, 2018, 2019]
    assert any("extended, not observed" in n for n in panel.attrs["notes"])
    pop = next(p for p in panel.attrs["provenance"] if p["role"] == "wb_population")
    assert pop["extended_years"] == [2017, 2019] and pop["extension_rule"] == "national_share"
    # the observed years are the file's values, untouched
    raw = pd.read_csv(shared_data_dir / "china_wb_province_population.csv").set_index(["province", "year"])
    obs = panel[~panel["population_extended"]].set_index(["region", "year"])["population"]
    np.testing.assert_array_equal(obs.to_numpy(), raw.loc[obs.index, "population"].to_numpy())
    # no jump at the join: 2016->2017 growth within 2 points of the 2015->2016 growth in every province
    wide = panel.pivot(index="year", columns="region", values="population")
    g = np.log(wide).diff()
    assert (g.loc[2017] - g.loc[2016]).abs().max() < 0.02
    # the national total of the extended years grows as OWID China's population does
    owid = load_panel("owid", regions=["China"], years=(2016, 2019), data_dir=shared_data_dir,
                      require_complete=False).set_index("year")["population"]
    from forecast.data.china import extended_population

    ext = extended_population(raw.reset_index()[["province", "year", "population"]],
                              load_panel("owid", regions=["China"], data_dir=shared_data_dir,
                                         require_complete=False).set_index("year")["population"], 2019)
    totals = ext.groupby("year")["population"].sum()  # 31 provinces, Tibet included (the nation includes it)
    assert totals.loc[2019] == pytest.approx(totals.loc[2016] * owid.loc[2019] / owid.loc[2016], rel=1e-9)
    mine = ext[ext["year"] == 2019].set_index("province")["population"]
    np.testing.assert_allclose(wide.loc[2019].to_numpy(), mine.loc[wide.columns].to_numpy(), rtol=1e-12)
    notes = data_notes_table(panel).set_index("topic")
    assert (notes.loc["population extension", "first year"], notes.loc["population extension", "last year"]) == (2017, 2019)
    assert "median" in notes.loc["population extension", "note"] and "2017-2019 enter" in \
        notes.loc["overlap of CO2, GDP and population", "note"]
    assert "(no gaps filled)" in data_notes_table(load_province_panel(shared_data_dir)).set_index("topic").loc[
        "fitted panel", "note"]


def test_population_extension_rejects_bad_input(shared_data_dir, tmp_path):
    from forecast.data.china import extended_population

    with pytest.raises(InputError, match="2004-2016.*national_share"):  # without the extension: as before
        load_province_panel(shared_data_dir, years=(2004, 2019))
    with pytest.raises(InputError, match="2004-2019 with the population extended"):
        load_province_panel(shared_data_dir, years=(2004, 2020), extend_population="national_share")
    with pytest.raises(InputError, match="extend_population must be one of"):
        load_province_panel(shared_data_dir, extend_population="linear")
    pop = pd.read_csv(shared_data_dir / "china_wb_province_population.csv")[["province", "year", "population"]]
    national = load_panel("owid", regions=["China"], data_dir=shared_data_dir,
                          require_complete=False).set_index("year")["population"]
    with pytest.raises(InputError, match="at most 5 years"):
        extended_population(pop, national, 2022)
    with pytest.raises(InputError, match="Henan/2014"):  # a province missing in a trend year is named
        extended_population(pop[~((pop["province"] == "Henan") & (pop["year"] == 2014))], national, 2019)
    bad = pop.copy()
    bad.loc[(bad["province"] == "Gansu") & (bad["year"] == 2015), "population"] = -1.0
    with pytest.raises(InputError, match="positive and finite.*Gansu/2015"):
        extended_population(bad, national, 2019)
    with pytest.raises(InputError, match=r"OWID China population missing.*\[2018, 2019\]"):
        extended_population(pop, national.loc[:2017], 2019)
    # a malformed population file still fails on its columns, with the extension on
    for name in ("china_ceads_province_co2.csv", "china_nbs_province_gdp.csv", "owid_co2_data.csv"):
        (tmp_path / name).symlink_to(shared_data_dir / name)
    pop.rename(columns={"population": "pop"}).to_csv(tmp_path / "china_wb_province_population.csv", index=False)
    with pytest.raises(InputError, match="missing column.*population"):
        load_province_panel(tmp_path, years=(2004, 2019), extend_population="national_share")


def test_study_extension_key():
    from forecast.errors import StudyError
    from forecast.run.sources import study_years
    from forecast.run.study import _validate, default_study_path, load_study

    study = load_study(default_study_path("china-provinces"))
    assert study.data.extend_population == "national_share" and study_years(study) == (2004, 2019)
    # without [data] years: the source's complete years, or its extended ones with the extension
    unset = _validate({"study": {"name": "x"}, "data": {"source": "china_provinces"}}, "x")
    assert study_years(unset) == (2004, 2016)
    assert study_years(unset.with_overrides(data={"extend_population": "national_share"})) == (2004, 2019)
    with pytest.raises(StudyError, match="extend_population.*china_provinces"):
        _validate({"study": {"name": "x"}, "data": {"source": "owid", "extend_population": "national_share"}}, "x")
    with pytest.raises(StudyError, match="extend_population"):
        study.with_overrides(data={"extend_population": "linear"})
