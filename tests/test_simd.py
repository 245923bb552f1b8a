"""Tests for forecast.simd: the SIMD log/exp against NumPy, the counter-based uniforms against a NumPy
re-implementation of SplitMix64, and the Student-t variates against their distribution."""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from scipy import stats

from forecast import simd

J = dict(simd.JIT, cache=False)


@numba.njit(**J)
def _apply(f, x):
    """``f`` elementwise in a loop, the way the kernels use it (inlined, vectorised)."""
    out = np.empty_like(x)
    for i in range(x.size):
        out[i] = f(x[i])
    return out


def _log_all(x):
    return _apply(simd.log64, x)


def _exp_all(y):
    return _apply(simd.exp64, y)


@numba.njit(**J)
def _pairs(key, n):
    u = np.empty(n, dtype=np.float32)
    w = np.empty(n, dtype=np.float32)
    for i in range(n):
        u[i], w[i] = simd.uniform_pair(key, np.uint64(i))
    return u, w


def test_log64_matches_numpy_to_1e_14_over_the_double_range():
    rng = np.random.default_rng(0)
    x = np.concatenate([
        np.exp(rng.uniform(-700, 700, 200_000)),  # across exponents
        rng.uniform(0.5, 2.0, 200_000),  # around 1, where the split into 2^e · m changes sides
        np.ldexp(1.0, np.arange(-1000, 1000)),  # exact powers of two
        np.nextafter(np.sqrt(0.5), [0.0, 1.0]), np.nextafter(np.sqrt(2.0), [0.0, 3.0]),  # the split points
        [1.0, 2.2250738585072014e-308, 1.7976931348623157e308],
    ])
    got, want = _log_all(x), np.log(x)
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)
    assert got[np.flatnonzero(x == 1.0)[0]] == 0.0


def test_exp64_matches_numpy_to_1e_14_and_clamps_beyond_700():
    rng = np.random.default_rng(1)
    binades = np.arange(-1009, 1010) * math.log(2.0)  # y = n ln 2, where the reduction changes n
    y = np.concatenate([rng.uniform(-700, 700, 300_000), rng.uniform(-1, 1, 100_000),
                        binades[np.abs(binades) <= 700], [0.0, -0.0, 700.0, -700.0]])
    got = _exp_all(y)
    np.testing.assert_allclose(got, np.exp(y), rtol=1e-14)
    assert _exp_all(np.array([0.0]))[0] == 1.0
    np.testing.assert_allclose(_exp_all(np.array([800.0, -800.0])), np.exp([700.0, -700.0]), rtol=1e-14)


def _splitmix64_numpy(key: int, n: int) -> np.ndarray:
    """SplitMix64 (Steele, Lea & Flood 2014) written with NumPy's wrapping uint64 arithmetic: outputs 1..n."""
    with np.errstate(over="ignore"):
        z = np.uint64(key) + (np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def test_uniform_pairs_are_splitmix64_bits():
    key, n = 0x1234_5678_9ABC_DEF0, 50_000
    z = _splitmix64_numpy(key, n)
    u, w = _pairs(np.uint64(key), n)
    want_u = ((z >> np.uint64(33)).astype(np.float32) + np.float32(0.5)) * np.float32(2.0**-31)
    k = ((z >> np.uint64(8)) & np.uint64(0xFFFFFF)).astype(np.float64)
    want_w = (k + 0.5) * 2.0**-24 - 0.5  # exact in float64, and representable in float32
    np.testing.assert_array_equal(u, want_u)
    np.testing.assert_array_equal(w.astype(np.float64), want_w)
    assert (u > 0).all() and (u <= 1).all() and (np.abs(w) < 0.5).all()
    # the extremes of the 24-bit field stay strictly inside (-1/2, 1/2), and k = 2^23 is not rounded to 0
    edges = np.array([0, 2**23 - 1, 2**23, 2**24 - 1], dtype=np.float64)
    assert ((edges + 0.5) * 2.0**-24 - 0.5).astype(np.float32).astype(np.float64).tolist() == \
        ((edges + 0.5) * 2.0**-24 - 0.5).tolist()
    # SplitMix64's first outputs for seed 0 (the values any implementation of the generator gives)
    assert _splitmix64_numpy(0, 2).tolist() == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4]


def test_student_t_is_the_bailey_transform_of_its_uniforms():
    """Cell by cell, the float32 variate equals the float64 formula applied to its own (float32) uniforms."""
    key, n = 99, 40_000
    u, w = (v.astype(np.float64) for v in _pairs(np.uint64(key), n))
    for nu in (0.6, 1.0, 2.5, 4.3, 30.0, np.inf):  # 0.6: the largest a = 2/nu that the cap never reaches
        cube = simd.student_t_cube(key, np.array([nu]), 1, n)[0, 0].astype(np.float64)
        radius2 = -2.0 * np.log(u) if np.isinf(nu) else nu * np.expm1(-(2.0 / nu) * np.log(u))
        want = np.sqrt(radius2) * np.sin(np.pi * w)
        np.testing.assert_allclose(cube, want, rtol=2e-6, atol=1e-7, err_msg=f"nu={nu}")


@pytest.mark.parametrize("nu", [2.2, 4.3, 12.0, 80.0, np.inf])
def test_student_t_variates_follow_the_t_distribution(nu):
    """Kolmogorov-Smirnov on 10^6 variates (one stream, many samples and cells): the statistic must stay
    below the 0.1% critical value 1.95/sqrt(n), so a wrong transform (or a normal for a t) fails."""
    n_samples, n_regions, n_years = 2_000, 10, 50
    draws = simd.student_t_cube(2024, np.full(n_samples, nu), n_regions, n_years).ravel().astype(np.float64)
    dist = stats.norm() if np.isinf(nu) else stats.t(nu)
    d = stats.kstest(draws, dist.cdf).statistic
    assert d < 1.95 / math.sqrt(draws.size)
    # tails: P(|T| > q_0.999) against its binomial standard error
    q = dist.ppf(0.9995)
    p_hat = (np.abs(draws) > q).mean()
    assert abs(p_hat - 0.001) < 5 * math.sqrt(0.001 * 0.999 / draws.size)


def test_student_t_cells_are_independent_across_years_and_regions():
    """Neighbouring cells of the stream (next year, next region) are uncorrelated, also in |T| (a
    shared scale, as a multivariate t would have, correlates the magnitudes)."""
    cube = simd.student_t_cube(7, np.full(5_000, 5.0), 8, 30).astype(np.float64)
    n = cube[:, :, 1:].size
    for a, b in ((cube[:, :, 1:], cube[:, :, :-1]), (cube[:, 1:, :], cube[:, :-1, :])):
        for f in (lambda v: v, np.abs):
            r = np.corrcoef(f(a).ravel(), f(b).ravel())[0, 1]
            assert abs(r) < 5 / math.sqrt(n)


def test_student_t_cube_rejects_non_positive_degrees_of_freedom():
    with pytest.raises(ValueError, match="positive"):
        simd.student_t_cube(1, np.array([4.0, 0.0]), 2, 3)
    with pytest.raises(ValueError, match="positive"):
        simd.t_exponents(np.array([np.nan]))


def test_bit_casts_refuse_an_argument_of_another_type():
    """A float32 passed where float64 bits are read would be converted first, giving other bits: refused."""

    @numba.njit
    def wrong(x):
        return simd.f64_as_i64(x)

    assert wrong(1.0) == np.float64(1.0).view(np.int64)
    with pytest.raises(numba.core.errors.TypingError):
        wrong(np.float32(1.0))
