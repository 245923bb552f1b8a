"""Required effort on synthetic trajectories with a known answer (no MCMC).

The synthetic region: log emissions rise with a per-draw growth rate g ~ Normal(MU, SD) from the last
observed year T0 and bend down with curvature C, so a trajectory peaks at T0 + (g - δ) / C after an extra
decline δ. The centred 5-year mean of exp(quadratic) is symmetric about that peak, so the peak year (an
integer) is <= Y exactly when g - δ <= C (Y + 0.5 - T0): the effort for probability p is
MU + SD z_p - C (Y + 0.5 - T0), and the tests compare with it within its Monte Carlo error.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.stats import norm

from forecast.errors import InputError
from forecast.policy.effort import (
    bend,
    effort_curve,
    effort_table,
    required_effort,
    required_sink,
)
from forecast.policy.targets import parse_target, target_met
from forecast.projection.propagate import Forecast

MU, SD, C, T0, N = 0.03, 0.01, 0.002, 2023, 4000
YEARS = np.arange(2000, 2061)


def synthetic(n: int = N, seed: int = 1, sink: float | None = None) -> xr.Dataset:
    g = np.random.default_rng(seed).normal(MU, SD, size=(n, 1, 1))
    t = YEARS - T0
    co2 = np.exp(np.log(10_000) + g * np.maximum(t, 0) - C * t**2 / 2) * np.ones((n, 1, len(YEARS)))
    dims = ("sample", "region", "year")
    ds = xr.Dataset({"co2": (dims, co2), "population": (dims, np.full(co2.shape, 1.4e9)),
                     "gdp_per_capita": (dims, np.full(co2.shape, 1e4))},
                    coords={"sample": np.arange(n), "region": ["Synth"], "year": YEARS,
                            "is_forecast": ("year", YEARS > T0), "last_observed_year": ("region", [T0])})
    ds["co2_per_capita"] = ds["co2"] * 1e6 / ds["population"]
    if sink is not None:  # a constant sink in forecast years, NaN in history (as a run's net_co2)
        ds["net_co2"] = (ds["co2"] - sink).where(ds["is_forecast"])
    return ds


def analytic_peak_effort(p: float, year: int) -> float:
    return MU + SD * norm.ppf(p) - C * (year + 0.5 - T0)


def quantile_se(p: float, n: int = N) -> float:
    """Monte Carlo standard error of the p-quantile of Normal(MU, SD) draws (asymptotic)."""
    return SD * np.sqrt(p * (1 - p) / n) / norm.pdf(norm.ppf(p))


@pytest.fixture(scope="module")
def peak2030():
    return required_effort(synthetic(), {"kind": "peak_by", "year": 2030}, probs=(0.2, 0.5, 0.8, 0.9))


def test_peak_effort_matches_the_known_decline_within_monte_carlo_error(peak2030):
    for p in (0.2, 0.5, 0.8, 0.9):
        got = float(peak2030["required"].sel(region="Synth", probability=p))
        assert abs(got - analytic_peak_effort(p, 2030)) < 4 * quantile_se(p), p
        assert peak2030["status"].sel(region="Synth", probability=p) == "needs effort"
        # the reported interval is about +- 1.64 standard errors wide
        width = float(peak2030["required_high"].sel(region="Synth", probability=p)
                      - peak2030["required_low"].sel(region="Synth", probability=p))
        assert 2 < width / quantile_se(p) < 5


def test_median_effort_brings_the_median_peak_year_to_the_target_year(peak2030):
    ds = synthetic()
    bent = bend(ds, float(peak2030["required"].sel(region="Synth", probability=0.5)))
    # the median peak year as the report gives it (peak_table's q50: the lower median of the draws)
    assert Forecast(ds).peak_table().loc["Synth", "peak_year_q50"] > 2035  # the effort moved it
    assert Forecast(bent).peak_table().loc["Synth", "peak_year_q50"] == 2030
    peak = Forecast(bent).peak_year()
    # and P(peak by 2030) of the bent trajectories is 0.5 up to one draw (the quantile's own draw)
    assert abs(float((peak <= 2030).mean()) - 0.5) <= 1 / N
    assert float(peak2030["p_met_check"].sel(region="Synth", probability=0.5)) >= 0.5


def test_effort_is_monotone_in_the_probability(peak2030):
    required = peak2030["required"].sel(region="Synth").values
    assert (np.diff(required) > 0).all()
    curve = effort_curve(peak2030)
    assert (np.diff(curve["p_met"]) >= 0).all() and curve["p_met"].iloc[0] == pytest.approx(
        float(peak2030["p_met_now"].sel(region="Synth")))


def test_a_target_already_met_needs_no_effort():
    # P(peak by 2055) = P(g <= C * 32.5 = 0.065) = P(z <= 3.5) > 0.999
    res = required_effort(synthetic(), {"kind": "peak_by", "year": 2055}, probs=(0.5, 0.9))
    assert (res["required"] == 0).all() and (res["status"] == "already met").all()
    assert float(res["p_met_now"].sel(region="Synth")) > 0.99


def test_an_impossible_target_says_so_instead_of_a_number():
    # the observed emissions rise to 2023: no decline after 2023 can move the peak to 2015
    res = required_effort(synthetic(n=500), {"kind": "peak_by", "year": 2015}, probs=(0.5,))
    assert res["status"].item() == "unreachable" and np.isnan(res["required"].item())
    table = effort_table([res])
    assert table.loc[0, "status"] == "unreachable" and np.isnan(table.loc[0, "required"])
    # an observed year's emissions cannot be changed either
    past = required_effort(synthetic(n=500), {"kind": "emissions_below", "year": 2010, "value": 100.0}, probs=(0.5,))
    assert past["status"].item() == "unreachable"


def test_level_and_intensity_targets_match_their_closed_forms():
    ds = synthetic()
    e2040 = ds["co2"].sel(region="Synth", year=2040).values
    res = required_effort(ds, {"kind": "emissions_below", "year": 2040, "value": 9000.0}, probs=(0.5, 0.9))
    closed = np.maximum(np.log(e2040 / 9000.0) / (2040 - T0), 0)
    for p in (0.5, 0.9):
        assert float(res["required"].sel(probability=p).item()) == pytest.approx(
            np.quantile(closed, p, method="inverted_cdf"), abs=1e-9)
    # GDP flat: intensity 2040 / 2005 = E2040 / E2005, the 2005 level being observed
    ratio = e2040 / float(ds["co2"].sel(region="Synth", year=2005)[0])
    res = required_effort(ds, {"kind": "intensity_reduction", "year": 2040, "base_year": 2005, "reduction": 0.3},
                          probs=(0.8,))
    closed = np.maximum(np.log(ratio / 0.7) / (2040 - T0), 0)
    assert res["required"].item() == pytest.approx(np.quantile(closed, 0.8, method="inverted_cdf"), abs=1e-9)
    assert res["extra_decline_pct"].item() == pytest.approx(100 * (1 - np.exp(-res["required"].item())))


def test_sink_enhancement_for_neutrality_is_the_largest_net_emission_from_the_target_year():
    ds = synthetic(sink=2000.0)
    target = {"kind": "neutral_by", "year": 2060}
    res = required_sink(ds, target, probs=(0.5, 0.9))
    worst = (ds["net_co2"].sel(region="Synth", year=slice(2060, None))).max("year").values
    for p in (0.5, 0.9):
        assert res["required"].sel(probability=p).item() == pytest.approx(
            np.quantile(np.maximum(worst, 0), p, method="inverted_cdf"), rel=1e-9)
    assert res["required"].attrs["units"] == "Mt CO2/yr"
    # the decline lever answers the same target: net 2060 <= 0 needs E_2060 exp(-37 δ) <= 2000
    decline = required_effort(ds, target, probs=(0.5,))
    e2060 = ds["co2"].sel(region="Synth", year=2060).values
    closed = np.maximum(np.log(e2060 / 2000.0) / (2060 - T0), 0)
    assert decline["required"].item() == pytest.approx(np.quantile(closed, 0.5, method="inverted_cdf"), abs=1e-9)
    assert bool(target_met(bend(ds, decline["required"].item()), {**target, "regions": ["Synth"]}).mean() >= 0.5)


@pytest.mark.parametrize("target, kwargs, message", [
    ({"kind": "peak_by", "year": 2030}, {"probs": (0.5, 1.2)}, "strictly between 0 and 1"),
    ({"kind": "peak_by", "year": 2030, "regions": ["Atlantis"]}, {}, "regions not in the forecast: Atlantis"),
    ({"kind": "peak_by", "year": 2070}, {}, "outside the forecast years"),
    ({"kind": "peak_by", "year": 2030}, {"lever": "sink"}, "only answers neutral_by"),
    ({"kind": "neutral_by", "year": 2060}, {}, "no forecast region has net emissions"),
])
def test_bad_requests_fail_before_any_work(target, kwargs, message):
    with pytest.raises(InputError, match=message):
        required_effort(synthetic(n=10), target, **kwargs)


def test_short_form_targets():
    assert parse_target("peak_by:2030") == {"kind": "peak_by", "year": 2030}
    assert parse_target("intensity_reduction:2030:2005:0.65") == {
        "kind": "intensity_reduction", "year": 2030, "base_year": 2005, "reduction": 0.65}
    with pytest.raises(InputError, match="takes 2 value"):
        parse_target("emissions_below:2030")
    with pytest.raises(InputError, match="unknown kind"):
        parse_target("peak:2030")
    with pytest.raises(InputError, match="year must be a number"):
        parse_target("peak_by:soon")


# ---------------------------------------------------------------------------------------------- CLI
@pytest.fixture()
def saved_run(tmp_path):
    """A run folder holding only a forecast.nc of the synthetic region (what `effort --from` reads)."""
    folder = tmp_path / "run"
    folder.mkdir()
    synthetic(n=1000).to_netcdf(folder / "forecast.nc", engine="h5netcdf")
    study = tmp_path / "study.toml"
    study.write_text('[study]\nname = "synthetic"\n[[targets]]\nkind = "peak_by"\nyear = 2030\n', encoding="utf-8")
    return folder, study


def test_cli_effort_from_a_saved_run_writes_tables_and_figure(saved_run, tmp_path, console_script):
    folder, study = saved_run
    code, out, err = console_script("effort", study, "--from", folder, "--prob", "0.5",
                                 "--target", "emissions_below:2040:9000", "--out", tmp_path / "out")
    assert code == 0, err
    import pandas as pd

    table = pd.read_csv(tmp_path / "out" / "effort.csv")
    assert list(table["target"]) == ["CO2 in 2040 < 9000 Mt"] and table.loc[0, "status"] == "needs effort"
    # the same number the function gives on the same draws
    direct = required_effort(xr.load_dataset(folder / "forecast.nc"), parse_target("emissions_below:2040:9000"), (0.5,))
    assert table.loc[0, "required"] == pytest.approx(direct["required"].item())
    assert (tmp_path / "out" / "effort.png").stat().st_size > 10_000
    assert "Required effort" in out


@pytest.mark.parametrize("args, message", [
    (["--target", "peak_by:2070"], "outside the forecast years"),
    (["--target", "peak_by"], "takes 1 value"),
    (["--prob", "1.5"], "strictly between 0 and 1"),
    (["--target", "neutral_by:2060"], "no forecast region has net emissions"),
])
def test_cli_effort_bad_input_is_one_line_exit_2(saved_run, args, message, console_script):
    folder, study = saved_run
    code, _, err = console_script("effort", study, "--from", folder, *args)
    assert code == 2 and message in " ".join(err.split()) and "Traceback" not in err


def test_cli_effort_names_a_missing_run(saved_run, tmp_path, console_script):
    _, study = saved_run
    code, _, err = console_script("effort", study, "--from", tmp_path / "nowhere")
    assert code == 2 and "no saved run" in err and not (tmp_path / "nowhere").exists()
