"""Tests for forecast.scenarios: the history-based default scenario and user-supplied CSV paths."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from forecast.errors import InputError
from forecast.scenarios import Scenario

LAST = 2022
FIRST = LAST + 1
Z = 5.0  # tolerance in Monte-Carlo standard errors

# Settings that switch off every random element the panel does not already pin down
QUIET = dict(long_run_growth_sd=0.0, population_growth_sd=0.0, max_shock_sd=0.0)


def growth_panel(rates: dict[str, tuple[float, float]], *, start=2000, last=LAST, gdp0=10_000.0, pop0=1e7) -> pd.DataFrame:
    """Regions with constant log growth (gdp per capita, population) per year."""
    rows = []
    for region, (g, p) in rates.items():
        for year in range(start, last + 1):
            t = year - start
            rows.append(dict(region=region, year=year, gdp_per_capita=gdp0 * math.exp(g * t),
                             population=pop0 * math.exp(p * t), co2=1.0 + 0.01 * t))
    return pd.DataFrame(rows)


@pytest.fixture
def panel() -> pd.DataFrame:
    return growth_panel({"A": (0.03, 0.01), "B": (0.05, 0.02)})


def log_growth(values: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Year-on-year log growth (sample, region, year), the first year relative to ``first`` (region,)."""
    logs = np.log(values)
    return np.diff(logs, axis=-1, prepend=np.log(first)[None, :, None].repeat(values.shape[0], axis=0))


# ------------------------------------------------------------------------------------------------
# from_history: the decay formula
# ------------------------------------------------------------------------------------------------


def test_deterministic_paths_follow_the_decay_formula(panel):
    horizon = 2100
    sc = Scenario.from_history(panel, horizon=horizon, window=10, long_run_growth=0.015, gdp_decay_years=15.0,
                               population_decay_years=30.0, **QUIET)
    ds = sc.draw(["A", "B"], start_year=FIRST, n_samples=50, rng=np.random.default_rng(1))
    assert ds["gdp_per_capita"].dims == ("sample", "region", "year")
    np.testing.assert_array_equal(ds["year"].values, np.arange(FIRST, horizon + 1))
    last = panel[panel["year"] == LAST].set_index("region").loc[["A", "B"]]
    gdp = ds["gdp_per_capita"].values
    pop = ds["population"].values
    g = log_growth(gdp, last["gdp_per_capita"].to_numpy())
    p = log_growth(pop, last["population"].to_numpy())
    t = np.arange(1, horizon - LAST + 1)
    g0 = np.array([0.03, 0.05])
    want_g = 0.015 + (g0[:, None] - 0.015) * np.exp(-t / 15.0)
    want_p = np.array([0.01, 0.02])[:, None] * np.exp(-t / 30.0)
    # every sample is the same path: the panel has no growth noise and all settings are quiet
    np.testing.assert_allclose(g, np.broadcast_to(want_g, g.shape), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(p, np.broadcast_to(want_p, p.shape), rtol=1e-8, atol=1e-12)
    median_g = np.median(g, axis=0)
    # first year: close to the recent rate (off by at most (g0 - gLR)(1 - e^{-1/tau}), 0.001 and 0.0023 here)
    assert np.all(np.abs(median_g[:, 0] - g0) <= (g0 - 0.015) * (1 - math.exp(-1 / 15)) + 1e-12)
    # late horizon: close to the long-run rate
    assert np.all(np.abs(median_g[:, -1] - 0.015) <= (g0 - 0.015) * math.exp(-t[-1] / 15) + 1e-12)
    assert np.all(np.abs(median_g[:, -1] - 0.015) < 2.5e-4)
    assert np.all(np.diff(median_g, axis=-1) < 0)  # decays monotonically from above
    # population growth decays toward 0
    assert np.all(np.diff(p[0], axis=-1) < 0) and np.all(p[0, :, -1] < 0.1 * p[0, :, 0])


def test_paths_start_from_the_last_observed_level(panel):
    sc = Scenario.from_history(panel, horizon=2030, **QUIET)
    ds = sc.draw(["B", "A"], start_year=FIRST, n_samples=3, rng=np.random.default_rng(0))
    last = panel[panel["year"] == LAST].set_index("region")
    for region, g0, p0 in (("A", 0.03, 0.01), ("B", 0.05, 0.02)):
        g1 = 0.015 + (g0 - 0.015) * math.exp(-1 / 15)
        np.testing.assert_allclose(ds["gdp_per_capita"].sel(region=region, year=FIRST).values,
                                   last.loc[region, "gdp_per_capita"] * math.exp(g1), rtol=1e-10)
        np.testing.assert_allclose(ds["population"].sel(region=region, year=FIRST).values,
                                   last.loc[region, "population"] * math.exp(p0 * math.exp(-1 / 30)), rtol=1e-10)
    assert list(ds["region"].values) == ["B", "A"]
    assert ds["gdp_per_capita"].attrs["units"] == "international-$ (2011 prices) per person"
    assert ds["population"].attrs["units"] == "people"


def test_window_uses_only_the_last_window_years():
    """8 %/yr until 2012, 3 %/yr after: a 10-year window sees only the 3 % years."""
    rows = []
    gdp = 10_000.0
    for year in range(2000, LAST + 1):
        if year > 2000:
            gdp *= math.exp(0.08 if year <= 2012 else 0.03)
        rows.append(dict(region="A", year=year, gdp_per_capita=gdp, population=1e6))
    panel = pd.DataFrame(rows)
    decay = math.exp(-1 / 15)
    n = 4000
    first_growth = {}
    for window in (10, 15):
        sc = Scenario.from_history(panel, horizon=2030, window=window, **QUIET)
        ds = sc.draw(["A"], start_year=FIRST, n_samples=n, rng=np.random.default_rng(0))
        first_growth[window] = np.log(ds["gdp_per_capita"].values[:, 0, 0] / gdp)
    # window 10: ten 3 % years, no spread, so g0 = 0.03 exactly in every sample
    np.testing.assert_allclose(first_growth[10], 0.015 + (0.03 - 0.015) * decay, rtol=1e-9)
    # window 15: five 8 % and ten 3 % years; g0 ~ N(mean, se) with se = sd / sqrt(15)
    rates = np.array([0.08] * 5 + [0.03] * 10)
    se = rates.std(ddof=1) / math.sqrt(15)
    want = 0.015 + (rates.mean() - 0.015) * decay
    assert abs(first_growth[15].mean() - want) < Z * decay * se / math.sqrt(n)
    assert abs(first_growth[15].std(ddof=1) - decay * se) < Z * decay * se / math.sqrt(2 * (n - 1))


def test_median_path_with_uncertain_long_run_growth(panel):
    """Default long_run_growth_sd: g_LR ~ N(0.015, 0.005) per sample. Growth in year t is increasing in g_LR,
    so the median path's growth is the formula at the median g_LR (MC SE of a normal median:
    sd * sqrt(pi / 2) / sqrt(n), times the weight 1 - e^{-t/tau} of g_LR)."""
    n = 4000
    sc = Scenario.from_history(panel, horizon=2080, population_growth_sd=0.0, max_shock_sd=0.0)
    ds = sc.draw(["A", "B"], start_year=FIRST, n_samples=n, rng=np.random.default_rng(123))
    last = panel[panel["year"] == LAST].set_index("region").loc[["A", "B"]]
    g = log_growth(ds["gdp_per_capita"].values, last["gdp_per_capita"].to_numpy())
    t = np.arange(1, 2080 - LAST + 1)
    weight = 1 - np.exp(-t / 15.0)
    g0 = np.array([0.03, 0.05])[:, None]
    want = 0.015 + (g0 - 0.015) * np.exp(-t / 15.0)
    se = 0.005 * math.sqrt(math.pi / 2) / math.sqrt(n) * weight
    assert np.all(np.abs(np.median(g, axis=0) - want) < Z * se + 1e-12)
    # the long-run rate is one world draw per sample, shared by the regions: A - B is deterministic
    np.testing.assert_allclose(g[:, 0] - g[:, 1], np.broadcast_to((0.03 - 0.05) * np.exp(-t / 15.0), (n, len(t))),
                               atol=1e-10)
    # its spread: sd of late growth / weight ~ 0.005 (SE of a sample sd: sd / sqrt(2 (n - 1)))
    sd = np.std(g[:, 0, -1] - (g0[0, 0] * np.exp(-t[-1] / 15.0)), ddof=1) / weight[-1]
    assert abs(sd - 0.005) < Z * 0.005 / math.sqrt(2 * (n - 1))


def test_growth_shock_sd_is_the_window_sd_capped_at_max_shock_sd():
    """Alternating +10 % / -4 % growth: sd 0.074 is capped at max_shock_sd. The growth variance across
    samples in year t is decay_t^2 g_se^2 + max_shock_sd^2 (g_LR fixed)."""
    rows, gdp = [], 10_000.0
    for i, year in enumerate(range(2000, LAST + 1)):
        if i:
            gdp *= math.exp(0.10 if i % 2 else -0.04)
        rows.append(dict(region="A", year=year, gdp_per_capita=gdp, population=1e6))
    panel = pd.DataFrame(rows)
    window, cap, n = 10, 0.02, 20_000
    sc = Scenario.from_history(panel, horizon=2040, window=window, max_shock_sd=cap, long_run_growth_sd=0.0,
                               population_growth_sd=0.0)
    ds = sc.draw(["A"], start_year=FIRST, n_samples=n, rng=np.random.default_rng(9))
    g = log_growth(ds["gdp_per_capita"].values, np.array([gdp]))[:, 0, :]
    rates = np.diff(np.log(panel["gdp_per_capita"].to_numpy()))[-window:]
    g_se = rates.std(ddof=1) / math.sqrt(window)
    assert rates.std(ddof=1) > cap  # the cap is active
    t = np.arange(1, 2040 - LAST + 1)
    var = np.exp(-2 * t / 15.0) * g_se**2 + cap**2
    sample_var = g.var(axis=0, ddof=1)
    se_var = var * math.sqrt(2 / (n - 1))  # normal draws
    assert np.all(np.abs(sample_var - var) < Z * se_var)
    # and the mean growth follows the formula (SE sqrt(var / n))
    want = 0.015 + (rates.mean() - 0.015) * np.exp(-t / 15.0)
    assert np.all(np.abs(g.mean(axis=0) - want) < Z * np.sqrt(var / n))


def test_same_seed_reproduces_other_seed_differs(panel):
    sc = Scenario.from_history(panel, horizon=2050)
    a = sc.draw(["A", "B"], start_year=FIRST, n_samples=20, rng=np.random.default_rng(5))
    b = sc.draw(["A", "B"], start_year=FIRST, n_samples=20, rng=np.random.default_rng(5))
    c = sc.draw(["A", "B"], start_year=FIRST, n_samples=20, rng=np.random.default_rng(6))
    for name in ("gdp_per_capita", "population"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
        assert not np.allclose(a[name].values, c[name].values)


# ------------------------------------------------------------------------------------------------
# from_history / draw: errors
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("horizon", [LAST, LAST - 5])
def test_from_history_rejects_horizon_not_after_the_data(panel, horizon):
    with pytest.raises(InputError, match=rf"horizon {horizon} must be after the last data year {LAST}"):
        Scenario.from_history(panel, horizon=horizon)


@pytest.mark.parametrize("window", [2, 0, -1])
def test_from_history_rejects_short_window(panel, window):
    with pytest.raises(InputError, match=rf"window must be at least 3 years, got {window}"):
        Scenario.from_history(panel, horizon=2050, window=window)


def test_from_history_rejects_unknown_setting_and_missing_column(panel):
    with pytest.raises(InputError, match="unknown scenario setting.*windw"):
        Scenario.from_history(panel, horizon=2050, windw=5)
    with pytest.raises(InputError, match="population"):
        Scenario.from_history(panel.drop(columns="population"), horizon=2050)


@pytest.mark.parametrize("column, value", [("gdp_per_capita", np.nan), ("population", 0.0)])
def test_from_history_rejects_non_positive_history(panel, column, value):
    """A missing or non-positive level in the recent window must be an InputError naming the column and
    region (from_csv checks the same for user paths); today the scenario silently returns NaN / zero paths."""
    bad = panel.copy()
    bad.loc[(bad["region"] == "B") & (bad["year"] == LAST), column] = value
    with pytest.raises(InputError, match=column) as info:
        sc = Scenario.from_history(bad, horizon=2030)
        sc.draw(["A", "B"], start_year=FIRST, n_samples=2, rng=np.random.default_rng(0))
    assert "B" in str(info.value)


def test_draw_errors(panel):
    sc = Scenario.from_history(panel, horizon=2030)
    with pytest.raises(InputError, match="no history for region.*Chna"):
        sc.draw(["A", "Chna"], start_year=FIRST, n_samples=2, rng=np.random.default_rng(0))
    with pytest.raises(InputError, match="horizon 2030 is before the first forecast year 2031"):
        sc.draw(["A"], start_year=2031, n_samples=2, rng=np.random.default_rng(0))
    short = pd.concat([panel[panel["region"] == "A"], panel[(panel["region"] == "B") & (panel["year"] <= 2020)]])
    sc = Scenario.from_history(short, horizon=2030)
    with pytest.raises(InputError, match=r"\['B'\] do not end in 2022"):
        sc.draw(["A", "B"], start_year=FIRST, n_samples=2, rng=np.random.default_rng(0))


# ------------------------------------------------------------------------------------------------
# from_csv
# ------------------------------------------------------------------------------------------------


def user_paths(regions=("A", "B"), years=range(FIRST, 2031), samples=None) -> pd.DataFrame:
    """Round-number paths (exact in binary floating point after a CSV round trip)."""
    rows = []
    for s in samples if samples is not None else [None]:
        for i, region in enumerate(regions):
            for year in years:
                k = year - FIRST
                row = dict(region=region, year=year, gdp_per_capita=20_000.0 + 250.0 * k + 5_000.0 * i + 1_000.0 * (s or 0),
                           population=1_000_000.0 * (i + 1) + 500.0 * k)
                if s is not None:
                    row = {"sample": s, **row}
                rows.append(row)
    return pd.DataFrame(rows)


def write(tmp_path, frame: pd.DataFrame, name="paths.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_from_csv_deterministic_path_is_returned_exactly(tmp_path, panel):
    paths = user_paths()
    sc = Scenario.from_csv(write(tmp_path, paths, "my_paths.csv"), panel)
    assert sc.horizon == 2030 and sc.name == "my_paths"
    ds = sc.draw(["B", "A"], start_year=FIRST, n_samples=4, rng=np.random.default_rng(0))
    for region in ("A", "B"):
        want = paths[paths["region"] == region].set_index("year")
        for name in ("gdp_per_capita", "population"):
            got = ds[name].sel(region=region).values
            np.testing.assert_array_equal(got, np.broadcast_to(want[name].to_numpy(), got.shape))


def test_from_csv_parquet_and_explicit_horizon(tmp_path, panel):
    paths = user_paths(years=range(FIRST, 2041))
    path = tmp_path / "p.parquet"
    paths.to_parquet(path)
    sc = Scenario.from_csv(path, panel, horizon=2035, name="custom")
    assert sc.horizon == 2035 and sc.name == "custom"
    ds = sc.draw(["A"], start_year=FIRST, n_samples=1, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(ds["year"].values, np.arange(FIRST, 2036))
    np.testing.assert_array_equal(ds["gdp_per_capita"].values[0, 0], 20_000.0 + 250.0 * np.arange(13))


def test_from_csv_with_samples_resamples_whole_paths(tmp_path, panel):
    paths = user_paths(samples=[3, 8])  # ids need not be 0..n-1
    sc = Scenario.from_csv(write(tmp_path, paths), panel)
    n = 4000
    ds = sc.draw(["A", "B"], start_year=FIRST, n_samples=n, rng=np.random.default_rng(17))
    gdp = ds["gdp_per_capita"].values  # (sample, region, year)
    cube = {s: np.stack([paths[(paths["sample"] == s) & (paths["region"] == r)]["gdp_per_capita"].to_numpy()
                         for r in ("A", "B")]) for s in (3, 8)}
    is_low = np.all(gdp == cube[3], axis=(1, 2))
    is_high = np.all(gdp == cube[8], axis=(1, 2))
    # each draw is one whole scenario sample, jointly for all regions and years (no mixing)
    assert np.all(is_low ^ is_high)
    # picked uniformly: fraction 1/2 within MC error
    assert abs(is_low.mean() - 0.5) < Z * math.sqrt(0.25 / n)


def test_from_csv_missing_file_and_column(tmp_path, panel):
    with pytest.raises(InputError, match="scenario file not found"):
        Scenario.from_csv(tmp_path / "nope.csv", panel)
    path = write(tmp_path, user_paths().drop(columns="population"))
    with pytest.raises(InputError, match=r"paths\.csv: missing column\(s\) population"):
        Scenario.from_csv(path, panel)


@pytest.mark.parametrize("value", [0.0, -5.0, np.nan])
def test_from_csv_rejects_non_positive_values(tmp_path, panel, value):
    paths = user_paths()
    paths.loc[(paths["region"] == "B") & (paths["year"] == 2026), "gdp_per_capita"] = value
    with pytest.raises(InputError, match=r"gdp_per_capita must be positive and finite \(region B, year 2026\)"):
        Scenario.from_csv(write(tmp_path, paths), panel)


def test_from_csv_path_that_stops_before_the_horizon(tmp_path, panel):
    paths = user_paths()
    paths = paths[~((paths["region"] == "B") & (paths["year"] > 2027))]
    sc = Scenario.from_csv(write(tmp_path, paths), panel)
    with pytest.raises(InputError, match=r"missing for sample 0, region B, year 2028.*2023-2030"):
        sc.draw(["A", "B"], start_year=FIRST, n_samples=2, rng=np.random.default_rng(0))
    # a horizon beyond the file's last year
    sc = Scenario.from_csv(write(tmp_path, user_paths()), panel, horizon=2035)
    with pytest.raises(InputError, match=r"region A, year 2031"):
        sc.draw(["A", "B"], start_year=FIRST, n_samples=2, rng=np.random.default_rng(0))


def test_from_csv_path_with_a_gap(tmp_path, panel):
    paths = user_paths()
    paths = paths[~((paths["region"] == "A") & (paths["year"] == 2025))]
    sc = Scenario.from_csv(write(tmp_path, paths), panel)
    with pytest.raises(InputError, match="region A, year 2025"):
        sc.draw(["A", "B"], start_year=FIRST, n_samples=2, rng=np.random.default_rng(0))


def test_from_csv_unknown_region(tmp_path, panel):
    paths = user_paths(regions=("A", "Bee"))  # a typo for B
    sc = Scenario.from_csv(write(tmp_path, paths), panel)
    with pytest.raises(InputError, match="no paths for region.*B"):
        sc.draw(["A", "B"], start_year=FIRST, n_samples=2, rng=np.random.default_rng(0))
    with pytest.raises(InputError, match="no history for region.*Bee"):
        sc.draw(["A", "Bee"], start_year=FIRST, n_samples=2, rng=np.random.default_rng(0))


def test_from_csv_duplicated_rows(tmp_path, panel):
    paths = user_paths()
    dup = pd.concat([paths, paths.iloc[[3]]], ignore_index=True)
    with pytest.raises(InputError, match=r"duplicated \(sample, region, year\) rows"):
        Scenario.from_csv(write(tmp_path, dup), panel)
    sampled = user_paths(samples=[0, 1])
    dup = pd.concat([sampled, sampled.iloc[[0]]], ignore_index=True)
    with pytest.raises(InputError, match="duplicated"):
        Scenario.from_csv(write(tmp_path, dup, "s.csv"), panel)


@pytest.mark.parametrize(("content", "message"), [
    (b"\x00\xff\xfe garbage\n1,2\n", "not UTF-8"),
    (b"", "is empty"),
    (b"region,year,gdp_per_capita,population\nA,next,20000,1e7\n", r"column 'year', row 1: 'next' is not a whole year"),
], ids=["binary", "empty", "text-year"])
def test_from_csv_unreadable_file_is_an_input_error_naming_it(tmp_path, panel, content, message):
    """A file that is not a CSV of paths answers with the file and the reason, never a parser traceback."""
    path = tmp_path / "paths.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        Scenario.from_csv(path, panel)
    assert "paths.csv" in str(info.value)
    (tmp_path / "folder").mkdir()
    with pytest.raises(InputError, match="scenario file not found.*it is a folder"):
        Scenario.from_csv(tmp_path / "folder", panel)
