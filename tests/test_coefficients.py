"""The one coefficient library (priors/ecosystems.toml), the one C -> CO2 constant, forest ageing and
net-emission terms that add up."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from forecast.errors import InputError, StudyError
from forecast.policy.landuse import landuse_inventory, landuse_priors
from forecast.priors import ReferenceValue, default_priors_dir
from forecast.sinks.coefficients import (
    LAND_CLASSES,
    LANDUSE_CLASS,
    baseline_specs,
    coefficient_table,
    potential,
)
from forecast.sinks.ecosystems import (
    EcosystemSinks,
    ForestAgeing,
    ageing_comparison,
    stand_uptake,
)
from forecast.sinks.neutrality import emission_terms_table, net_emission_terms
from forecast.units import CO2_PER_C, MT_CO2_PER_MHA_T_C_PER_HA

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------------
# One library, read by both accounts
# --------------------------------------------------------------------------------------------------


def test_every_land_class_is_defined_once_with_baseline_and_citation():
    keys: dict[str, list[str]] = {}
    for path in sorted(default_priors_dir().glob("*.toml")):
        for key in tomllib.loads(path.read_text(encoding="utf-8")):
            keys.setdefault(key, []).append(path.name)
    for c in LAND_CLASSES:
        assert keys.get(f"rate_{c}") == ["ecosystems.toml"], c  # defined once, in the library
    # no second coefficient file under another name (the former priors/landuse.toml)
    assert not [k for k in keys if k in LANDUSE_CLASS or k == "water_wetland"]
    for c, spec in baseline_specs().items():
        assert spec.units == "t C/ha/yr" and spec.source and spec.citation, c


def test_both_accounts_read_the_same_library_entries():
    lib_rates = EcosystemSinks({"X": {c: 1.0 for c in LAND_CLASSES}}, soc=None).rates
    land = landuse_priors()
    for land_type, c in LANDUSE_CLASS.items():
        if land_type == "built_up":
            continue
        entry = baseline_specs()[c]
        assert land[land_type] is entry  # the same object of the same library
        sink_side = lib_rates[c]
        if isinstance(entry, ReferenceValue):
            assert sink_side.value == entry.value  # fixed (IPCC Tier 1) rates become FixedRate
        else:
            assert sink_side is entry


def test_landuse_emission_is_minus_the_sink_for_the_same_area_and_rate():
    """One sign convention: a forest's land-use emission equals minus its sink (same prior, many draws)."""
    n = 40_000
    sink = EcosystemSinks({"X": {"forest": 100.0}}, soc=None).simulate([2030], draws=n, random_seed=3)
    land = landuse_inventory({"forest": 100.0}, draws=n, random_seed=3)
    s, e = float(sink["sink"].mean()), float(land["emissions"].sel(land_type="forest").mean())
    assert s > 0 and e < 0
    assert e == pytest.approx(-s, rel=0.02)


def test_cropland_potential_is_not_the_baseline():
    crop = baseline_specs()["cropland_soil"]
    pot = potential("cropland_soil")
    assert (pot.low, pot.high) == (0.05, 0.68) and "Journal of Natural Resources 37(5)" in pot.citation
    assert crop.params["mu"] < pot.value  # the realised rate is below the best-management potential
    table = coefficient_table().set_index("land_class")
    assert list(table.index) == list(LAND_CLASSES)
    assert table.loc["grassland", "potential"] == "not assessed"
    assert table.loc["built_up", "baseline"] == "0" and "Settlements" in table.loc["built_up", "baseline_citation"]


# --------------------------------------------------------------------------------------------------
# One C -> CO2 constant
# --------------------------------------------------------------------------------------------------

_OTHER_C_TO_CO2 = re.compile(r"3\.66\d*|3\.67\b|44(?:\.0+)?\s*/\s*12\b|44\.0095|12\.011?\b|12\.01\b")


def test_one_carbon_to_co2_constant_in_the_package():
    offenders = []
    for path in sorted((ROOT / "forecast").rglob("*.py")):
        if path.name == "units.py" and path.parent.name == "forecast":
            continue
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _OTHER_C_TO_CO2.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not offenders, "use forecast.units.CO2_PER_C:\n" + "\n".join(offenders)
    assert CO2_PER_C == pytest.approx(44.0095 / 12.011) and MT_CO2_PER_MHA_T_C_PER_HA == CO2_PER_C


def test_the_grep_finds_a_stray_constant():
    """The pattern above is able to fail."""
    for line in ("x * 3.664", "c = 44 / 12", "44.0/12", "m = 12.011", "3.67 t CO2"):
        assert _OTHER_C_TO_CO2.search(line), line
    assert not _OTHER_C_TO_CO2.search("x * CO2_PER_C  # 2036.6")


# --------------------------------------------------------------------------------------------------
# Forest ageing
# --------------------------------------------------------------------------------------------------


def test_young_stands_take_up_more_per_hectare_than_old_ones():
    from forecast.sinks.ecosystems import AGE_GROUP_BOUNDS

    def group_mean(group):
        lo, hi = AGE_GROUP_BOUNDS[group]
        return float(stand_uptake(np.linspace(lo, hi, 201)).mean())

    means = [group_mean(g) for g in ("young", "middle_aged", "near_mature", "mature", "over_mature")]
    assert means[0] > means[4]  # young stands > over-mature stands, per hectare
    assert means[1] == max(means) and means[1] > means[2] > means[3] > means[4]  # peak in middle age, then saturating
    rates = stand_uptake([0.2, 0.58, 1.2, 1.8])
    assert rates[1] == rates.max() and stand_uptake(0.0) == 0.0


def test_an_ageing_china_forest_sinks_less_in_2060_than_constant_rate_times_multiplier():
    age = ForestAgeing.china_default()
    assert sum(age.shares.values()) == pytest.approx(1.0)
    f = age.factor([2016, 2060], [25.0, 40.0, 60.0])
    assert np.allclose(f[:, 0], 1.0) and (f[:, 1] < 1.0).all()
    assert f[0, 1] < f[1, 1] < f[2, 1]  # faster-maturing forests saturate sooner
    table = ageing_comparison(year=2060, draws=400, random_seed=1)
    assert table.loc["with ageing", "mean"] < table.loc["constant rate x m(t)", "mean"]
    # a forest of only young stands first takes up MORE as it reaches middle age
    young = ForestAgeing({"young": 1, "middle_aged": 0, "near_mature": 0, "mature": 0, "over_mature": 0})
    assert young.factor([2026], [40.0])[0, 0] > 1.0


def test_harvest_and_replanting_keeps_the_sink_closer_to_today():
    no_harvest = ForestAgeing.china_default().factor([2060], [40.0])[0, 0]
    rotation = ForestAgeing.china_default(rotation=1.0).factor([2060], [40.0])[0, 0]
    assert no_harvest < rotation


def test_forest_age_inputs_are_checked():
    with pytest.raises(InputError, match="middle_aged"):
        ForestAgeing({"young": 1, "midle_aged": 1, "near_mature": 0, "mature": 0, "over_mature": 0})
    with pytest.raises(InputError, match=r"\[sinks.forest_age.China\].*unknown key.*'maturity_agee'"):
        EcosystemSinks({"China": {"forest": 1.0}}, forest_age={"China": {"maturity_agee": 30}})
    with pytest.raises(InputError, match="no areas"):
        EcosystemSinks({"China": {"forest": 1.0}}, forest_age={"Chna": {}})


def test_study_schema_names_an_unknown_forest_age_key(tmp_path):
    from forecast.run.study import load_study

    text = (ROOT / "studies" / "china" / "study.toml").read_text(encoding="utf-8")
    path = tmp_path / "study.toml"
    path.write_text(text.replace("[sinks.forest_age.China]\n", "[sinks.forest_age.China]\nyung = 0.3\n"), encoding="utf-8")
    with pytest.raises(StudyError, match=r"\[sinks\] forest_age\.China\.yung: unknown key.*young"):
        load_study(path)
    path.write_text(text + "\n[sinks.luc.Chna]\nmean = 1.0\nsource = \"x\"\n", encoding="utf-8")
    with pytest.raises(StudyError, match="Chna"):
        load_study(path)


# --------------------------------------------------------------------------------------------------
# Net emissions that add up
# --------------------------------------------------------------------------------------------------


def _cube(value, n=400, regions=("A", "B"), years=range(2030, 2041)):
    coords = {"sample": np.arange(n), "region": list(regions), "year": list(years)}
    shape = (n, len(regions), len(coords["year"]))
    return xr.DataArray(np.full(shape, float(value)), dims=("sample", "region", "year"), coords=coords,
                        attrs={"units": "Mt CO2/yr"})


def test_net_emission_terms_add_up_with_luc_and_sink_variability():
    ds = net_emission_terms(_cube(1000.0), _cube(300.0), luc={"A": {"mean": 50.0, "sd": 10.0}}, random_seed=2)
    np.testing.assert_allclose(ds["net_co2"], ds["fossil_co2"] + ds["luc_co2"] - ds["sink"], rtol=0, atol=1e-9)
    assert float(ds["luc_co2"].sel(region="B").max()) == 0.0
    assert float(ds["luc_co2"].sel(region="A").mean()) == pytest.approx(50.0, abs=1.5)
    # the sink varies from year to year about its mean state, by the library's relative sd (0.23)
    assert float(ds["sink"].std()) == pytest.approx(0.23 * 300.0, rel=0.05)
    assert float(ds["sink"].mean()) == pytest.approx(300.0, rel=0.01)
    quiet = net_emission_terms(_cube(1000.0), _cube(300.0), interannual_rel_sd=0.0, random_seed=2)
    np.testing.assert_allclose(quiet["net_co2"], 700.0)


def test_net_emission_terms_refuse_bad_luc():
    with pytest.raises(InputError, match="'C'"):
        net_emission_terms(_cube(1.0), _cube(1.0), luc={"C": {"mean": 1.0}})
    with pytest.raises(InputError, match="sd >= 0"):
        net_emission_terms(_cube(1.0), _cube(1.0), luc={"A": {"mean": 1.0, "sd": -1.0}})


def test_terms_table_lists_included_and_excluded_terms():
    table = emission_terms_table(luc_regions=["China"]).set_index("term")
    assert table.loc["Fossil and industry CO2", "status"] == "included"
    assert table.loc["Land-use-change emissions (gross, from land conversion)", "status"] == "included for China"
    assert table.loc["Non-CO2 gases (CH4, N2O, F-gases)", "status"] == "excluded"
    assert "Nature Climate Change 11: 425" in table.loc["Inventory vs model land-flux definitions", "source"]
    none = emission_terms_table().set_index("term")
    assert none.loc["Land-use-change emissions (gross, from land conversion)", "status"].startswith("excluded")
