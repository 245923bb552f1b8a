"""Property-based checks of study files (hypothesis): a setting outside its physical or practical range is
rejected when the study is read, naming the key, in well under a second, before any data are loaded or
any model compiled; values inside the ranges are accepted."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecast.errors import InputError, PriorError, StudyError
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


@pytest.mark.parametrize(("key", "value"), [("name", "a\u0000b"), ("name", "two\nlines"), ("title", "a\u0007b"),
                                            ("description", "a\u0000b")])
def test_control_characters_in_the_study_name_are_refused(tmp_path, key, value):
    """A NUL in the study name reached the NetCDF writer after sampling (a traceback); a newline would break
    one-line headings. Refused when the study is read, naming the key; a description may span lines."""
    path = tmp_path / "study.toml"
    escaped = json.dumps(value)  # TOML's escapes for control characters (\u0000) are JSON's
    text = f"[study]\nname = {escaped}\n" if key == "name" else BASE + f"{key} = {escaped}\n"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(StudyError, match=rf"\[study\] {key}: .*control character"):
        load_study(path)
    path.write_text(BASE + 'description = """two\nlines"""\n', encoding="utf-8")
    assert load_study(path).study.description == "two\nlines"


def test_a_study_file_that_is_not_text_is_a_study_error(tmp_path):
    path = tmp_path / "study.toml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    with pytest.raises(StudyError, match="study.toml: not a study file: not UTF-8"):
        load_study(path)


# Student-t degrees of freedom: NumPy's standard_t gives NaN for nu = inf and fails for nu <= 0, so a prior
# override that allows such values must be refused before any sampling, and the shock draw must turn an
# infinite nu into normal shocks.


def test_student_t_shocks_take_infinite_nu_as_normal_and_refuse_bad_nu():
    from forecast.models.gdp import student_t

    shape = (4, 3, 5)
    finite = np.array([3.0, 5.0, 10.0, 30.0])
    # all finite (every fitted model): exactly NumPy's draws, so saved forecasts reproduce
    np.testing.assert_array_equal(student_t(np.random.default_rng(1), finite, shape),
                                  np.random.default_rng(1).standard_t(finite[:, None, None], size=shape))
    mixed = student_t(np.random.default_rng(2), np.array([np.inf, 4.0, np.inf, 8.0]), shape)
    assert np.isfinite(mixed).all()
    normal = student_t(np.random.default_rng(3), np.full(4000, np.inf), (4000, 2, 3))
    assert np.isfinite(normal).all() and abs(normal.std() - 1.0) < 0.03 and abs(normal.mean()) < 0.03
    for bad in (0.0, -1.0, np.nan):
        with pytest.raises(InputError, match="degrees of freedom"):
            student_t(np.random.default_rng(0), np.array([4.0, bad]), (2, 3))


NU_REFUSED = [{"distribution": "Normal", "params": {"mu": 5.0, "sigma": 10.0}},
              {"distribution": "Uniform", "params": {"lower": -5.0, "upper": 30.0}},
              {"distribution": "StudentT", "params": {"nu": 3.0, "mu": 10.0, "sigma": 5.0}},
              {"distribution": "TruncatedNormal", "params": {"mu": 5.0, "sigma": 10.0, "lower": -1.0}}]
NU_ACCEPTED = [{"distribution": "Exponential", "params": {"lam": 0.1}},
               {"distribution": "Uniform", "params": {"lower": 2.0, "upper": 30.0}},
               {"distribution": "TruncatedNormal", "params": {"mu": 5.0, "sigma": 10.0, "lower": 0.0}},
               {"params": {"alpha": 3.0, "beta": 0.2}}]


def _models():
    from forecast.models.ekc import EKCModel
    from forecast.models.gdp import GDPConvergenceModel
    from forecast.models.kaya import KayaModel
    from forecast.models.population import PopulationGrowthModel
    from forecast.models.sinks import GlobalLandSinkModel

    return {"ekc": EKCModel, "kaya": KayaModel, "gdp": GDPConvergenceModel, "population": PopulationGrowthModel,
            "sinks": GlobalLandSinkModel}


@pytest.mark.parametrize("family", ["ekc", "kaya", "gdp", "population", "sinks"])
def test_a_nu_prior_that_allows_values_at_or_below_zero_is_refused(family):
    """Every shipped nu prior is a Gamma (positive); an override may change it, but not to a prior with
    mass at or below zero (params are finite, so no prior gives nu = inf)."""
    from forecast.priors import default_library

    cls = _models()[family]
    assert default_library()[f"{family}.nu"].support == (0.0, float("inf"))
    for override in NU_REFUSED:
        with pytest.raises(PriorError, match=rf"{family}\.nu = .*must be positive"):
            cls(model_config={f"{family}.nu": override}).priors()
    for override in NU_ACCEPTED:
        assert cls(model_config={f"{family}.nu": override}).priors()["nu"].support[0] >= 0


def test_a_prior_of_another_family_is_named_as_given():
    """A kaya.* override given to the EKC model used to be reported as the unknown 'ekc.kaya.nu'."""
    with pytest.raises(PriorError) as info:
        _models()["ekc"](model_config={"kaya.nu": {"params": {"alpha": 3.0}}}).priors()
    message = str(info.value)
    assert "'kaya.nu'" in message and "ekc family" in message and "ekc.kaya.nu" not in message


def test_sink_fit_years_without_data_name_the_key(tmp_path, shared_data_dir):
    """[sinks] fit_years past the end of the GCB series was reported as a data problem without the key."""
    from forecast.run.stages.sinks import check_sinks

    path = tmp_path / "study.toml"
    path.write_text(BASE + '[sinks]\nenabled = true\nfit_years = [1990, 2030]\n[sinks.areas.China]\nforest = 284.1\n',
                    encoding="utf-8")
    with pytest.raises(StudyError, match=r"\[sinks\] fit_years \[1990, 2030\]: .*2025"):
        check_sinks(load_study(path), ["China"], 2060, data_dir=shared_data_dir)
