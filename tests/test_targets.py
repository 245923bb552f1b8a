"""Target probabilities on hand-made draws, and the checks on target definitions."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from forecast.errors import InputError
from forecast.policy.targets import check_target, describe, target_met, target_table

YEARS = np.arange(2000, 2041)


def hand_made() -> xr.Dataset:
    """Four draws for two regions. Region A: draws 0-1 peak in 2025, draw 2 in 2035, draw 3 keeps rising.
    Region B falls throughout (peaked in the first year). GDP and population are flat, so intensity
    moves with CO2."""
    co2 = np.zeros((4, 2, len(YEARS)))
    t = YEARS - 2000
    for s, peak in enumerate([2025, 2025, 2035, None]):
        co2[s, 0] = 100 + t if peak is None else 100 + np.minimum(t, peak - 2000) - 2 * np.maximum(0, YEARS - peak)
    co2[:, 1] = 50 * 0.97 ** t
    ds = xr.Dataset(
        {"co2": (("sample", "region", "year"), co2),
         "gdp_per_capita": (("sample", "region", "year"), np.full(co2.shape, 1e4)),
         "population": (("sample", "region", "year"), np.full(co2.shape, 1e7))},
        coords={"sample": np.arange(4), "region": ["A", "B"], "year": YEARS})
    ds["co2_per_capita"] = ds["co2"] * 1e6 / ds["population"]
    return ds


def checked(target):
    return check_target(target, regions=["A", "B"], first_year=2000, last_forecast_year=2040, data_years=range(2000, 2023))


def test_peak_by_counts_trajectories_and_never_the_horizon():
    ds = hand_made()
    p = target_met(ds, checked({"kind": "peak_by", "year": 2030})).mean("sample")
    assert float(p.sel(region="A")) == 0.5  # draws 0 and 1
    assert float(p.sel(region="B")) == 1.0
    p35 = target_met(ds, checked({"kind": "peak_by", "year": 2035})).mean("sample")
    assert float(p35.sel(region="A")) == 0.75  # the rising draw peaks at the horizon: not a peak


def test_emissions_per_capita_and_intensity_targets():
    ds = hand_made()
    # A in 2030: draws 0,1 -> 125 - 10 = 115; draw 2 -> 130; draw 3 -> 130
    p = target_met(ds, checked({"kind": "emissions_below", "year": 2030, "value": 120, "regions": ["A"]}))
    assert p.sel(region="A").values.tolist() == [True, True, False, False]
    pc = target_met(ds, checked({"kind": "per_capita_below", "year": 2030, "value": 11.6}))  # t/person
    assert pc.sel(region="A").values.tolist() == [True, True, False, False]
    # B's intensity falls 3 %/yr: 2030 / 2005 = 0.97^25 = 0.467, i.e. 53.3 % below
    met = target_met(ds, checked({"kind": "intensity_reduction", "year": 2030, "base_year": 2005, "reduction": 0.53}))
    assert bool(met.sel(region="B").all())
    missed = target_met(ds, checked({"kind": "intensity_reduction", "year": 2030, "base_year": 2005, "reduction": 0.54}))
    assert not bool(missed.sel(region="B").any())


def test_target_table_rows_and_standard_error():
    ds = hand_made()
    targets = [checked({"kind": "peak_by", "year": 2030}), checked({"kind": "emissions_below", "year": 2030, "value": 120})]
    table = target_table(ds, targets)
    assert len(table) == 4 and set(table["target"]) == {"peak by 2030", "CO2 in 2030 < 120 Mt"}
    row = table[(table["region"] == "A") & (table["kind"] == "peak_by")].iloc[0]
    assert row["p_met"] == 0.5 and row["mc_se"] == pytest.approx(np.sqrt(0.25 / 4))


@pytest.mark.parametrize("target, message", [
    ({"kind": "peak_before", "year": 2030}, "unknown kind"),
    ({"kind": "peak_by", "year": 2030, "regions": ["Atlantis"]}, "regions not in the forecast: Atlantis"),
    ({"kind": "peak_by", "year": 2070}, "outside the forecast years"),
    ({"kind": "emissions_below", "year": 2030}, "missing key"),
    ({"kind": "emissions_below", "year": 2030, "value": -3}, "positive"),
    ({"kind": "intensity_reduction", "year": 2030, "base_year": 1980, "reduction": 0.65}, "base year 1980 has no data"),
    ({"kind": "intensity_reduction", "year": 2030, "base_year": 2005, "reduction": 65}, r"share in \(0, 1\)"),
    ({"kind": "peak_by", "year": 2030, "colour": "red"}, "unknown key"),
])
def test_bad_targets_are_rejected(target, message):
    with pytest.raises(InputError, match=message):
        checked(target)


def test_describe_labels():
    assert describe({"kind": "intensity_reduction", "year": 2030, "base_year": 2005, "reduction": 0.65}) == \
        "carbon intensity 2030 ≥ 65% below 2005"
    assert describe({"kind": "peak_by", "year": 2030, "label": "China's pledge"}) == "China's pledge"
