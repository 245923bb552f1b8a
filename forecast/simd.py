"""Branch-free elementary functions and a counter-based Student-t generator for numba kernels.

Why this module exists: without Intel SVML (not shipped with the pip llvmlite) numba calls ``exp``/``log``
one element at a time through libm, so a loop that needs one of them per cell cannot use SIMD. The
functions here are written with arithmetic, bit casts and selects only, so LLVM vectorises the loops that
inline them (AVX2: 4 float64 or 8 float32 lanes). They are compiled with ``error_model="numpy"`` (a
division may not raise, which would add a branch) and without the ``reassoc`` fast-math flag, because the
rounding tricks below (``x + 1.5·2^52 - 1.5·2^52``) must not be simplified away.

Accuracy (checked against NumPy in tests/test_simd.py):

- :func:`log64`, :func:`exp64`: float64, relative error below 1e-14 for positive normal inputs and
  ``|y| <= 700`` (``exp64`` clamps beyond). ``log(m)`` uses the series ``2 atanh(s)``, ``s = (m-1)/(m+1)``,
  with ``m`` in ``[√½, √2)``; ``exp`` reduces to ``2^n · e^f``, ``|f| <= ln2/2``, and sums the Taylor series.
- :func:`student_t`: float32, the variates are exact transforms of their uniforms up to ~1e-6 relative
  (for ``ν >= 0.51``; see :func:`t_from_uniforms`).

Editing this module: numba keys a cached kernel by its own file's stamp only; ``forecast.propagate`` folds
this module's stamp into its kernel's key (through numba's private cache API). Should that stop working
with a newer numba, delete ``forecast/__pycache__/*.nbi`` after an edit here, or the old code keeps running.

Random numbers: the variate number ``i`` of stream ``key`` is built from the 64-bit output of SplitMix64
(Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators", OOPSLA; the generator that
seeds xoshiro) at position ``i + 1``, ``mix(key + (i + 1)·γ)``. A counter-based generator makes every cell
of a forecast cube a pure function of ``(key, cell index)``: results do not depend on the thread count or
on how a kernel is sliced. Each output gives two uniforms (31 and 24 bits) and one Student-t variate by
Bailey's trigonometric method (Bailey 1994, "Polar generation of random variates with the
t-distribution", Math. Comp. 62, 779-781): ``T = sqrt(ν (U^(-2/ν) - 1)) · cos(2πV)``, which is
rejection-free (so it vectorises) and tends to Box-Muller's normal as ``ν → ∞``. ``cos(2πV)`` is drawn
as ``sin(πW)``, ``W`` uniform on ``(-½, ½)``: both are arcsine distributed.
"""

from __future__ import annotations

import math
from decimal import Context, Decimal

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

# no "reassoc" (see the module docstring), no "arcp"/"afn": a division stays exact, so the scalar
# remainder of a vectorised loop gives the same bits as its SIMD body
FASTMATH = {"nnan", "ninf", "nsz", "contract"}
JIT = {"fastmath": FASTMATH, "error_model": "numpy", "cache": True}


def _bitcast(src, dst, llvm_type):
    """A numba intrinsic that reinterprets the bits of a ``src`` scalar as ``dst`` (no conversion)."""

    @intrinsic
    def cast(typingctx, x):
        if x != src:  # a converted argument would have other bits: refuse it (a typing error)
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], llvm_type)

        return dst(src), codegen

    return cast


f64_as_i64 = _bitcast(types.float64, types.int64, ir.IntType(64))
i64_as_f64 = _bitcast(types.int64, types.float64, ir.DoubleType())
f32_as_i32 = _bitcast(types.float32, types.int32, ir.IntType(32))
i32_as_f32 = _bitcast(types.int32, types.float32, ir.FloatType())

_f32 = np.float32
_LN2 = math.log(2.0)
_MANTISSA64 = np.int64(0x000FFFFFFFFFFFFF)
_SQRT_HALF64 = np.int64(np.float64(math.sqrt(0.5)).view(np.int64))
_MANTISSA32 = np.int32(0x007FFFFF)
_SQRT_HALF32 = np.int32(np.float32(math.sqrt(0.5)).view(np.int32))
# ln 2 split Cody-Waite style: _LN2_HI has 32 trailing zero bits, so n·_LN2_HI is exact for |n| < 2^32
_LN2_HI = float(np.array(np.float64(_LN2).view(np.int64) & ~np.int64(0xFFFFFFFF)).view(np.float64))
_LN2_LO = float(Decimal(2).ln(Context(prec=40)) - Decimal(_LN2_HI))
_ROUND64 = 1.5 * 2.0**52  # adding and subtracting it rounds a double to an integer
_ROUND32 = _f32(1.5 * 2.0**23)
# the float32 split of ln 2: 12 significant bits, so n·_LN2_HI32 is exact for |n| < 2^12
_LN2_HI32 = _f32(np.array(np.float32(_LN2).view(np.int32) & ~np.int32(0xFFF)).view(np.float32))
_LN2_LO32 = _f32(_LN2 - float(_LN2_HI32))
_ROUND32_BITS = np.int32(_ROUND32.view(np.int32))
_GAMMA = np.uint64(0x9E3779B97F4A7C15)  # SplitMix64's increment (the golden ratio in 64 bits)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


@numba.njit(inline="always", **JIT)
def log64(x):
    """Natural log of a positive normal float64 (relative error < 1e-14)."""
    # split x = 2^e · m with m in [√½, √2): shifting by the bits of √½ makes the exponent field e
    bits = f64_as_i64(np.float64(x)) - _SQRT_HALF64
    e = np.float64(np.int32(bits >> np.int64(52)))
    m = i64_as_f64(np.int64((bits & _MANTISSA64) + _SQRT_HALF64))
    s = (m - 1.0) / (m + 1.0)  # |s| <= 0.1716
    s2 = s * s
    s4 = s2 * s2
    # 2 atanh(s) = 2s Σ s^(2k) / (2k + 1), k = 0..8, by Estrin's scheme (a short dependency chain)
    p = ((1.0 + s2 * (1.0 / 3.0)) + s4 * ((1.0 / 5.0) + s2 * (1.0 / 7.0))
         + (s4 * s4) * (((1.0 / 9.0) + s2 * (1.0 / 11.0)) + s4 * ((1.0 / 13.0) + s2 * (1.0 / 15.0))
                        + (s4 * s4) * (1.0 / 17.0)))
    return e * _LN2 + 2.0 * s * p


@numba.njit(inline="always", **JIT)
def exp64(y):
    """e^y for float64 ``y`` clamped to [-700, 700] (relative error < 1e-14)."""
    y = min(max(y, -700.0), 700.0)
    rounded = y * (1.0 / _LN2) + _ROUND64
    n = rounded - _ROUND64  # nearest integer to y / ln2
    f = (y - n * _LN2_HI) - n * _LN2_LO  # |f| <= ln2 / 2
    # Taylor series of e^f to f^13 by Estrin's scheme (a short dependency chain)
    f2 = f * f
    f4 = f2 * f2
    p = (((1.0 + f) + f2 * (0.5 + f * (1.0 / 6.0))) + f4 * ((1.0 / 24.0 + f * (1.0 / 120.0))
                                                           + f2 * (1.0 / 720.0 + f * (1.0 / 5040.0)))
         + (f4 * f4) * (((1.0 / 40320.0 + f * (1.0 / 362880.0)) + f2 * (1.0 / 3628800.0 + f * (1.0 / 39916800.0)))
                        + f4 * (1.0 / 479001600.0 + f * (1.0 / 6227020800.0))))
    # 2^n from the low bits of `rounded`, which hold n (two's complement)
    return p * i64_as_f64(np.int64((f64_as_i64(rounded) + np.int64(1023)) << np.int64(52)))


@numba.njit(inline="always", **JIT)
def _mix64(z):
    """SplitMix64's output function of its state ``z`` (uint64)."""
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@numba.njit(inline="always", **JIT)
def splitmix64(key, index):
    """64 random bits: SplitMix64's output number ``index + 1`` for seed ``key`` (both uint64)."""
    return _mix64(key + (index + np.uint64(1)) * _GAMMA)


@numba.njit(inline="always", **JIT)
def _minus_log32(u):
    """-ln u for a float32 u in (0, 1] (absolute error < 1e-7·(1 + |ln u|))."""
    bits = np.int32(f32_as_i32(_f32(u)) - _SQRT_HALF32)  # (numba widens int32 arithmetic to int64)
    e = _f32(bits >> np.int32(23))
    m = i32_as_f32(np.int32((bits & _MANTISSA32) + _SQRT_HALF32))
    s = (m - _f32(1.0)) / (m + _f32(1.0))
    s2 = s * s
    p = _f32(1.0 / 9.0)
    p = p * s2 + _f32(1.0 / 7.0)
    p = p * s2 + _f32(1.0 / 5.0)
    p = p * s2 + _f32(1.0 / 3.0)
    p = p * s2 + _f32(1.0)
    return -(e * _f32(_LN2) + _f32(2.0) * s * p)


@numba.njit(inline="always", **JIT)
def _expm1_32(x):
    """e^x - 1 for a float32 x in [0, 87] without cancellation for small x (relative error < 1e-6)."""
    x = _f32(x)  # the rounding trick below only works in float32
    rounded = x * _f32(1.0 / _LN2) + _ROUND32
    n = rounded - _ROUND32
    f = (x - n * _LN2_HI32) - n * _LN2_LO32
    q = _f32(1.0 / 5040.0)
    q = q * f + _f32(1.0 / 720.0)
    q = q * f + _f32(1.0 / 120.0)
    q = q * f + _f32(1.0 / 24.0)
    q = q * f + _f32(1.0 / 6.0)
    q = q * f + _f32(0.5)
    q = q * f + _f32(1.0)
    q = q * f  # e^f - 1
    scale = i32_as_f32(np.int32((f32_as_i32(rounded) - _ROUND32_BITS + np.int32(127)) << np.int32(23)))  # 2^n
    return scale * q + (scale - _f32(1.0))


@numba.njit(inline="always", **JIT)
def _sin_pi32(w):
    """sin(π w) for a float32 w in [-½, ½] (absolute error < 2e-7): Taylor series to w^11."""
    w2 = w * w
    c = _f32(-0.0073704309457143504)  # -π^11 / 11!
    c = c * w2 + _f32(0.082145886611128228)  # π^9 / 9!
    c = c * w2 - _f32(0.59926452932079207)  # -π^7 / 7!
    c = c * w2 + _f32(2.5501640398773455)  # π^5 / 5!
    c = c * w2 - _f32(5.1677127800499703)  # -π^3 / 3!
    c = c * w2 + _f32(3.1415926535897931)  # π
    return w * c


def t_exponents(nu: np.ndarray) -> np.ndarray:
    """The per-stream constants ``a = 2/ν`` of :func:`student_t` (float32), checked: ``ν`` must be positive
    (``inf`` for the normal, then a tiny ``a``: ``ν·expm1(a E) = 2E·(1 + O(a))``, Box-Muller's normal).
    Computed here, outside fast-math code, because that code may assume no infinities."""
    nu = np.asarray(nu, dtype=np.float64)
    if not (nu > 0).all():
        raise ValueError("Student-t degrees of freedom must be positive (inf for the normal)")
    return np.where(np.isinf(nu), 1e-20, 2.0 / np.where(np.isinf(nu), 1.0, nu)).astype(np.float32)


@numba.njit(inline="always", **JIT)
def _uniforms(z):
    """The two float32 uniforms ``(u, w)`` of :func:`uniform_pair` from 64 random bits ``z``."""
    u = (_f32(np.int32(z >> np.uint64(33))) + _f32(0.5)) * _f32(2.0**-31)
    w = _f32(np.int32((z >> np.uint64(8)) & np.uint64(0xFFFFFF))) * _f32(2.0**-24) + _f32(2.0**-25 - 0.5)
    return u, w


@numba.njit(inline="always", **JIT)
def uniform_pair(key, index):
    """Two float32 uniforms from output number ``index`` of stream ``key``: ``u`` in (0, 1] from 31 bits
    (24 significant: it rounds to 1, a variate of 0, with probability 2^-25) and ``w = (k + ½)·2^-24 - ½``
    in (-½, ½), exactly, from 24 other bits ``k``."""
    return _uniforms(splitmix64(key, index))


@numba.njit(inline="always", **JIT)
def t_from_uniforms(u, w, a):
    """Bailey's transform: ``sqrt(ν (u^(-2/ν) - 1)) · sin(π w)`` with ``a = 2/ν`` from :func:`t_exponents`;
    float32. Exact (to float32) for ``ν >= 0.51``: below, the far tail (``-ln u > 43.5 ν``) is capped."""
    a = _f32(a)
    x = min(a * _minus_log32(u), _f32(87.0))  # -(2/ν) ln u, capped below float32 overflow (e^87)
    radius2 = (_f32(2.0) / a) * _expm1_32(x)  # ν (u^(-2/ν) - 1)
    return math.sqrt(max(radius2, _f32(0.0))) * _sin_pi32(w)


@numba.njit(inline="always", **JIT)
def student_t(key, index, a):
    """Student-t variate number ``index`` of stream ``key`` (uint64), ``a = 2/ν`` from :func:`t_exponents`;
    float32."""
    u, w = uniform_pair(key, index)
    return t_from_uniforms(u, w, a)


@numba.njit(inline="always", **JIT)
def fill_student_t(key, first, a, out, u, w):
    """``out[j] = student_t(key, first + j, a)`` for every ``j``, with scratch rows ``u`` and ``w`` as long as
    ``out`` (float32). Two loops, not one: the hash and the transform each make a short loop body whose
    iterations the CPU overlaps; fused, one iteration's long dependency chain stalls it (~1.5x slower).
    The generator state advances by one increment per variate (what :func:`splitmix64` computes from the
    index with a multiplication: 64-bit products cost three 32-bit ones on AVX2; 1.3x faster)."""
    z = key + (first + np.uint64(1)) * _GAMMA
    for j in range(out.shape[0]):
        u[j], w[j] = _uniforms(_mix64(z))
        z += _GAMMA
    for j in range(out.shape[0]):
        out[j] = t_from_uniforms(u[j], w[j], a)


@numba.njit(parallel=True, **JIT)
def _student_t_cube(key, a, n_regions, n_years):
    n_samples = a.shape[0]
    cells = n_regions * n_years
    out = np.empty((n_samples, n_regions, n_years), dtype=np.float32)
    for s in numba.prange(n_samples):
        u = np.empty(cells, dtype=np.float32)
        w = np.empty(cells, dtype=np.float32)
        fill_student_t(key, np.uint64(s) * np.uint64(cells), a[s], out[s].reshape(cells), u, w)
    return out


def student_t_cube(key: int, nu: np.ndarray, n_regions: int, n_years: int) -> np.ndarray:
    """Unit Student-t variates ``(sample, region, year)`` (float32) of stream ``key``, sample ``s`` with
    degrees of freedom ``nu[s]`` (``inf`` = normal); cell ``(s, r, h)`` is variate number
    ``(s·n_regions + r)·n_years + h``: the numbers a kernel drawing in place gets for the same key."""
    return _student_t_cube(np.uint64(key), t_exponents(nu), int(n_regions), int(n_years))
