"""Property-based checks of study files (hypothesis): a setting outside its physical or practical range is
rejected when the study is read, naming the key, in well under a second, before any data are loaded or
any model compiled; values inside the ranges are accepted."""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecast.errors import StudyError
from forecast.run.study import MAX_CHAINS, MAX_DRAWS, YEAR_RANGE, load_study

BASE = '[study]\nname = "fuzz"\n'


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_value(str(k))} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def study_with(tmp_path, data, table):
    """A study file with one drawn setting of ``table``; returns (path, section, key, value)."""
    section, key = data.draw(st.sampled_from(sorted(table)), label="setting")
    value = data.draw(table[(section, key)], label="value")
    path = tmp_path / "study.toml"
    path.write_text(BASE + f"[{section}]\n{key} = {toml_value(value)}\n", encoding="utf-8")
    return path, section, key, value


def not_finite():
    return st.sampled_from([math.nan, math.inf, -math.inf])


def floats_outside(lo: float, hi: float):
    return st.one_of(st.floats(max_value=lo, exclude_max=True, allow_nan=False, allow_infinity=False, min_value=-1e300),
                     st.floats(min_value=hi, exclude_min=True, allow_nan=False, allow_infinity=False, max_value=1e300),
                     not_finite())


def ints_outside(lo: int, hi: int):
    return st.one_of(st.integers(max_value=lo - 1, min_value=-10**12), st.integers(min_value=hi + 1, max_value=10**12))


def bad_years():
    outside = ints_outside(*YEAR_RANGE)
    return st.tuples(outside, st.integers(min_value=1, max_value=50)).map(lambda t: [t[0], t[0] + t[1]])


# (section, key) -> values that must be rejected
BAD = {
    ("scenario", "long_run_growth"): floats_outside(-0.05, 0.10),
    ("scenario", "long_run_growth_sd"): floats_outside(0.0, 0.05),
    ("scenario", "population_growth_sd"): floats_outside(0.0, 0.05),
    ("scenario", "max_shock_sd"): floats_outside(0.0, 0.3),
    ("scenario", "horizon"): ints_outside(1900, 2300),
    ("data", "years"): bad_years(),
    ("forecast", "peak_years"): st.lists(ints_outside(*YEAR_RANGE), min_size=1, max_size=3),
    ("forecast", "draws"): ints_outside(1, MAX_DRAWS),
    ("sampler", "draws"): ints_outside(1, MAX_DRAWS),
    ("sampler", "tune"): ints_outside(1, MAX_DRAWS),
    ("sampler", "chains"): ints_outside(1, MAX_CHAINS),
    ("sampler", "target_accept"): floats_outside(0.0, 1.0).filter(lambda v: not 0 < v < 1),
    ("model", "measurement_error"): floats_outside(0.0, 1.0).filter(lambda v: not 0 <= v < 1),
    ("model", "parameterization"): st.dictionaries(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
            lambda k: k not in ("drift", "slope", "curvature", "log_noise")),
        st.sampled_from(["centered", "non_centered"]), min_size=1, max_size=3),
    ("model", "turning_point_growth"): floats_outside(0.0, 0.2).filter(lambda v: not 0 < v < 0.2),
    ("sinks", "base_year"): ints_outside(1959, 2100),
    ("compensation", "year"): ints_outside(*YEAR_RANGE),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_out_of_range_settings_are_rejected_fast_naming_the_key(data, tmp_path):
    path, section, key, _ = study_with(tmp_path, data, BAD)
    start = time.perf_counter()
    with pytest.raises(StudyError) as err:
        load_study(path)
    assert time.perf_counter() - start < 1.0
    assert key in str(err.value) and section in str(err.value), str(err.value)


GOOD = {
    ("scenario", "long_run_growth"): st.floats(min_value=-0.05, max_value=0.10),
    ("scenario", "population_growth_sd"): st.floats(min_value=0.0, max_value=0.05),
    ("forecast", "draws"): st.integers(min_value=1, max_value=MAX_DRAWS),
    ("sampler", "chains"): st.integers(min_value=1, max_value=MAX_CHAINS),
    ("model", "measurement_error"): st.floats(min_value=0.0, max_value=0.99),
    ("data", "years"): st.tuples(st.integers(min_value=YEAR_RANGE[0], max_value=YEAR_RANGE[1] - 1),
                                 st.integers(min_value=1, max_value=50)).map(
        lambda t: [t[0], min(t[0] + t[1], YEAR_RANGE[1])]),
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_settings_within_their_ranges_are_accepted(data, tmp_path):
    path, section, key, value = study_with(tmp_path, data, GOOD)
    study = load_study(path)
    got = getattr(getattr(study, section), key)
    assert got == value or (isinstance(value, float) and math.isclose(got, value))
