"""Policy scenarios on a scenario dim, on hand-made trajectories with a known intensity (no MCMC)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from forecast.errors import InputError, StudyError
from forecast.policy.targets import check_targets_on
from forecast.scenarios.axis import policy_scenarios
from forecast.scenarios.policy import scenario_target_table
from forecast.units import carbon_intensity_kg_per_dollar

YEARS = np.arange(2000, 2051)
LAST = 2020


def flat_intensity(n: int = 200, seed: int = 3) -> xr.Dataset:
    """Two regions whose carbon intensity falls 1 %/yr to 2020 and then by a per-draw rate around 1 %/yr;
    GDP grows 5 %/yr, population is flat."""
    rng = np.random.default_rng(seed)
    rate = np.where(YEARS <= LAST, -0.01, rng.normal(-0.01, 0.005, size=(n, 2, 1)))
    log_intensity = np.cumsum(np.broadcast_to(rate, (n, 2, len(YEARS))), axis=-1)
    gdp_pc = 1e4 * np.exp(0.05 * (YEARS - 2000)) * np.ones((n, 2, 1))
    pop = np.full((n, 2, len(YEARS)), 1e8)
    co2 = 0.5 * np.exp(log_intensity) * gdp_pc * pop / 1e9  # kg/$ x $ -> Mt
    dims = ("sample", "region", "year")
    ds = xr.Dataset({"co2": (dims, co2), "gdp_per_capita": (dims, gdp_pc), "population": (dims, pop)},
                    coords={"sample": np.arange(n), "region": ["A", "B"], "year": YEARS,
                            "is_forecast": ("year", YEARS > LAST), "last_observed_year": ("region", [LAST, LAST])},
                    attrs={"scenario": "history"})
    ds["co2_per_capita"] = ds["co2"] * 1e6 / ds["population"]
    return ds


PLEDGE = {"kind": "intensity_pathway", "base_year": 2005, "years": [2030], "reductions": [0.5]}


def intensity(ds):
    return carbon_intensity_kg_per_dollar(ds["co2"], ds["gdp_per_capita"], ds["population"])


def test_pledge_pathway_is_met_and_the_baseline_kept():
    ds = flat_intensity()
    scen = policy_scenarios(ds, {"pledge": PLEDGE, "follow": {**PLEDGE, "mode": "follow", "after": "hold"}})
    assert list(scen["scenario"].values) == ["history", "pledge", "follow"]
    xr.testing.assert_identical(scen["co2"].sel(scenario="history", drop=True), ds["co2"])
    ratio = intensity(scen.sel(year=2030)) / intensity(scen.sel(year=2005))
    # the pledge: at most half the 2005 intensity in 2030 (ceiling); exactly half when followed
    assert float(ratio.sel(scenario="pledge").max()) <= 0.5
    np.testing.assert_allclose(ratio.sel(scenario="follow"), 0.5, rtol=1e-8)
    # the baseline falls ~1 %/yr from 2005: ~0.74 of its 2005 level in 2030, far from the pledge
    assert float(ratio.sel(scenario="history").median()) == pytest.approx(np.exp(-0.25), rel=0.02)
    # held after 2030: the followed intensity stays at the pledged level; history years are never touched
    np.testing.assert_allclose(intensity(scen.sel(scenario="follow", year=2050)),
                               intensity(scen.sel(scenario="follow", year=2030)), rtol=1e-8)
    np.testing.assert_array_equal(scen["co2"].sel(year=slice(None, LAST)).std("scenario"), 0)


def test_continued_pledge_rate_and_accelerated_decline():
    ds = flat_intensity()
    scen = policy_scenarios(ds, {"follow": {**PLEDGE, "mode": "follow"},
                                 "fast": {"kind": "accelerated_decline", "extra_decline": 0.03, "regions": ["A"]}})
    log_i = np.log(intensity(scen))
    # followed and continued: the 2020-2030 rate goes on after 2030 (log-linear path)
    rate = (log_i.sel(year=2030) - log_i.sel(year=2020)) / 10
    np.testing.assert_allclose((log_i.sel(year=2040) - log_i.sel(year=2030)) / 10, rate, rtol=1e-6)
    # the accelerated decline lowers A's emissions by exp(-0.03 (t - 2020)), B's not at all
    change = (scen["co2"].sel(scenario="fast") / scen["co2"].sel(scenario="history")).sel(sample=0)
    np.testing.assert_allclose(change.sel(region="A", year=2040), np.exp(-0.03 * 20))
    np.testing.assert_allclose(change.sel(region="B"), 1.0)


def test_target_table_per_scenario():
    ds = flat_intensity()
    scen = policy_scenarios(ds, {"pledge": PLEDGE})
    targets = check_targets_on(ds, [{"kind": "intensity_reduction", "year": 2030, "base_year": 2005, "reduction": 0.5}])
    table = scenario_target_table(scen, targets).set_index(["scenario", "region"])
    assert (table.loc["pledge", "p_met"] == 1.0).all()
    assert (table.loc["history", "p_met"] == 0.0).all()
    assert table.loc[("pledge", "A"), "policy"].startswith("carbon intensity -50% by 2030 vs 2005")


@pytest.mark.parametrize("policy, message", [
    ({"kind": "intensity_path"}, "unknown kind"),
    ({**PLEDGE, "years": [2019]}, "must increase and lie in the forecast years 2021-2050"),
    ({**PLEDGE, "reductions": [65]}, r"shares below 2005 in \(0, 1\)"),
    ({**PLEDGE, "base_year": 1990}, "base_year 1990 is not an observed year"),
    ({**PLEDGE, "regions": ["Atlantis"]}, "regions not in the forecast: Atlantis"),
    ({**PLEDGE, "mode": "floor"}, "mode ceiling|follow"),
    ({"kind": "accelerated_decline"}, "missing key"),
    ({"kind": "intensity_csv", "base_year": 2005, "path": "nowhere.csv"}, "pledge file not found"),
])
def test_bad_policies_name_the_policy_and_key(policy, message):
    with pytest.raises(InputError, match=message) as err:
        policy_scenarios(flat_intensity(n=5), {"mine": policy})
    assert "policy 'mine'" in str(err.value)


def test_pledges_from_csv(tmp_path):
    path = tmp_path / "pledges.csv"
    path.write_text("region,year,reduction\nA,2030,0.5\nA,2040,0.7\n", encoding="utf-8")
    scen = policy_scenarios(flat_intensity(), {"csv": {"kind": "intensity_csv", "base_year": 2005, "path": str(path),
                                                       "mode": "follow"}})
    ratio = intensity(scen.sel(scenario="csv", year=2040)) / intensity(scen.sel(scenario="csv", year=2005))
    np.testing.assert_allclose(ratio.sel(region="A"), 0.3, rtol=1e-8)
    # B has no pledge in the file: it keeps the baseline
    xr.testing.assert_equal(scen["co2"].sel(scenario="csv", region="B", drop=True),
                            scen["co2"].sel(scenario="history", region="B", drop=True))


def test_study_policy_and_effort_keys_are_validated(tmp_path):
    from forecast.run.study import load_study

    base = '[study]\nname = "t"\n'
    path = tmp_path / "study.toml"
    path.write_text(base + '[policy.x]\nkind = "intensity_pathway"\nyaers = [2030]\n', encoding="utf-8")
    with pytest.raises(StudyError, match=r"\[policy\] x.yaers: unknown key"):
        load_study(path)
    path.write_text(base + "[effort]\nprobabilities = [0.5, 1.5]\n", encoding="utf-8")
    with pytest.raises(StudyError, match="strictly between 0 and 1"):
        load_study(path)
    path.write_text(base + '[[targets]]\nkind = "neutral_by"\nyear = 2060\ncfe = "constant"\n', encoding="utf-8")
    assert load_study(path).targets[0].spec() == {"kind": "neutral_by", "year": 2060, "cfe": "constant"}


def test_pledge_reanchored_on_officially_achieved_progress():
    ds = flat_intensity()
    # officially 40 % below 2005 by 2015 (our data: ~10 %); pledge 50 % by 2030: 1/0.6 - 1 = 1/6 left to go
    scen = policy_scenarios(ds, {"official": {**PLEDGE, "mode": "follow", "achieved_year": 2015,
                                              "achieved_reduction": 0.4}})
    ratio = intensity(scen.sel(scenario="official", year=2030)) / intensity(scen.sel(scenario="official", year=2015))
    np.testing.assert_allclose(ratio, 0.5 / 0.6, rtol=1e-8)
    with pytest.raises(InputError, match="achieved_year and achieved_reduction together"):
        policy_scenarios(ds, {"x": {**PLEDGE, "achieved_year": 2015}})
