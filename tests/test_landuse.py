"""Land-use carbon inventory: coefficients × areas, built-up land via energy, input checks."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.errors import InputError
from forecast.policy.inventory import Activity
from forecast.policy.landuse import LAND_TYPES, landuse_inventory, landuse_priors
from forecast.units import CO2_PER_C


def test_priors_cover_area_land_types():
    """The land-use account reads the baseline UPTAKE rates of the coefficient library (positive = uptake)."""
    specs = landuse_priors()
    for key in ("cropland", "forest", "grassland", "water_wetland", "unused_land"):
        assert specs[key].units.startswith("t C/ha/yr") and specs[key].citation
    assert specs["forest"].name == "ecosystems.rate_forest" and specs["forest"].support[0] >= 0  # a sink
    assert specs["water_wetland"].name == "ecosystems.rate_wetland"


def _moments(spec):
    """Mean and sd of a baseline entry (t C/ha/yr)."""
    if getattr(spec, "kind", "") == "reference":
        return spec.value, 0.0
    p = spec.params
    if spec.distribution == "LogNormal":
        m = np.exp(p["mu"] + p["sigma"] ** 2 / 2)
        return m, m * np.sqrt(np.exp(p["sigma"] ** 2) - 1)
    assert spec.distribution == "Normal"
    return p["mu"], p["sigma"]


def test_inventory_matches_prior_means_and_units():
    areas = {"forest": 200.0, "cropland": 120.0, "grassland": 260.0, "water": 25.0, "unused_land": 200.0}
    ds = landuse_inventory(areas, draws=40_000, random_seed=1)
    assert ds["emissions"].dims == ("sample", "land_type")
    assert ds["net"].attrs["units"] == "Mt CO2/yr"
    specs = landuse_priors()
    for name, area in areas.items():
        key = "water_wetland" if name == "water" else name
        mean, sd_rate = _moments(specs[key])
        expect = -area * mean * CO2_PER_C  # emission = minus the uptake
        sd = area * sd_rate * CO2_PER_C
        got = ds["emissions"].sel(land_type=key)
        assert float(got.mean()) == pytest.approx(expect, abs=5 * sd / np.sqrt(40_000) + 1e-9)
        assert float(got.std()) == pytest.approx(sd, rel=0.05, abs=1e-9)
    assert float(ds["net"].mean()) < 0  # forest uptake dominates


def test_built_up_energy_and_area_uncertainty():
    energy = [Activity("natural_gas", 100.0, "PJ", 0.05)]
    ds = landuse_inventory({"forest": 10.0, "built_up": 5.0}, energy=energy, draws=20_000, random_seed=2,
                           area_rel_sd=0.1)
    bu = ds["emissions"].sel(land_type="built_up")
    assert float(bu.mean()) == pytest.approx(100 * 1000 * 56_100 / 1e9, rel=0.01)  # 5.61 Mt CO2
    assert set(ds["land_type"].values) == {"forest", "built_up"}


def test_unknown_land_type_suggests():
    with pytest.raises(InputError, match="grassland"):
        landuse_inventory({"grasland": 1.0}, draws=10, random_seed=0)
    with pytest.raises(InputError, match="energy"):
        landuse_inventory({"built_up": 1.0}, draws=10, random_seed=0)
    with pytest.raises(InputError, match="twice"):
        landuse_inventory({"water": 1.0, "wetland": 2.0}, draws=10, random_seed=0)
    assert "built_up" in LAND_TYPES


def test_landuse_areas_file_with_a_repeated_land_type_or_absurd_area_is_refused(tmp_path):
    """The CLI's land-use file: a repeated land type is an error (not "the last row wins"), and an area
    beyond the Earth's land is refused with the range in the message."""
    from forecast.io.csvfile import read_user_csv
    from forecast.policy.landuse import landuse_inventory

    path = tmp_path / "areas.csv"
    path.write_text("land_type,area_mha\nforest,220\nforest,230\n", encoding="utf-8")
    with pytest.raises(InputError, match="land_type 'forest' appears more than once"):
        read_user_csv(path, required=("land_type", "area_mha"), numeric=("area_mha",), unique="land_type")
    with pytest.raises(InputError, match=r"must lie in 0-14,900 Mha"):
        landuse_inventory({"forest": 1e20}, draws=10)
    with pytest.raises(InputError, match=r"area_rel_sd is a relative 1-sigma uncertainty in \[0, 1\)"):
        landuse_inventory({"forest": 220.0}, draws=10, area_rel_sd=5.0)


@pytest.mark.parametrize("typed", ["nan", "NA", "n/a"])
def test_a_typed_missing_value_is_an_error_and_a_blank_cell_means_none(tmp_path, typed):
    """Only a blank rel_sd cell means 'no uncertainty given'; 'nan', 'NA' or 'n/a' typed in is an error
    naming the file and the column."""
    from forecast.policy.landuse import read_landuse

    path = tmp_path / "landuse.csv"
    path.write_text(f"land_type,area_mha,rel_sd\nforest,284,{typed}\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"landuse\.csv.*rel_sd"):
        read_landuse(path)
    path.write_text("land_type,area_mha,rel_sd\nforest,284,\n", encoding="utf-8")
    assert read_landuse(path)[1] == {"forest": 0.0}
