"""The package's one peak rule (forecast.projection.peak), shared by the product and the backtest."""

import numpy as np
import pytest

from forecast.projection.peak import PEAK_WINDOW, centred_mean, last_identifiable_year, peak_years

YEARS = np.arange(1990, 2031)


def test_centred_mean_matches_a_direct_average():
    rng = np.random.default_rng(0)
    x = rng.gamma(5.0, 10.0, size=(3, YEARS.size))
    m = centred_mean(x, 5)
    assert np.isnan(m[:, :2]).all() and np.isnan(m[:, -2:]).all()
    for t in range(2, YEARS.size - 2):
        np.testing.assert_allclose(m[:, t], x[:, t - 2:t + 3].mean(axis=1))


def test_a_missing_year_only_blanks_the_windows_that_hold_it():
    """Regression: a running sum spread one NaN to every later year, so the peak of every draw fell in
    history (controls then got P ~ 0.3 instead of ~0.05)."""
    x = np.linspace(10.0, 50.0, YEARS.size)  # rising to the end
    x[5] = np.nan
    m = centred_mean(x, 5)
    assert np.isnan(m[3:8]).all()
    assert np.isfinite(m[8:-2]).all() and np.isfinite(m[2:3]).all()
    assert peak_years(x, YEARS) == last_identifiable_year(int(YEARS[-1]))


def test_a_one_year_spike_does_not_set_the_peak():
    x = np.concatenate([np.linspace(10, 40, 20), np.linspace(40, 30, YEARS.size - 20)])
    spiked = x.copy()
    spiked[10] = 60.0  # one exceptional year, far above the later plateau
    assert int(np.argmax(spiked)) == 10
    assert peak_years(spiked, YEARS) == peak_years(x, YEARS)
    assert 2008 <= peak_years(x, YEARS) <= 2012  # the turn of the plateau, not the 2000 spike


def test_rising_trajectories_peak_at_the_last_identifiable_year():
    x = np.vstack([np.arange(YEARS.size, dtype=float), np.arange(YEARS.size, dtype=float)[::-1]])
    assert peak_years(x, YEARS).tolist() == [2028, 1992]
    assert last_identifiable_year(2030) == 2030 - PEAK_WINDOW // 2


@pytest.mark.parametrize("window", [0, 2, -1])
def test_window_must_be_odd_and_positive(window):
    with pytest.raises(ValueError, match="odd"):
        centred_mean(np.ones(10), window)
