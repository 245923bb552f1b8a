"""Property-based fuzzing (hypothesis) of the data files a user hands the package: tidy panels (CSV and
Parquet), scenario paths, CO2 paths, inventory activities, land-use areas and policy pledges.

Each strategy builds a valid file and then corrupts it in one drawn way (absurd magnitudes, a x1e6 jump, years
of 1e12 or -5 or 2000.5, NUL and control characters in names, duplicated rows or columns, NaN / inf, an empty
file, a header only, another encoding, missing or extra columns, a ragged row). The property: the reader
either accepts the file and returns data that satisfy the documented invariants (finite, positive where
required, within the physical ranges of ``forecast/limits.py``, unique and strictly increasing years per
region) or raises :class:`InputError` whose message names the file; never any other exception. Corruptions
that no real file can contain (``MUST_FAIL``) must be refused.

Runs derandomized (the same examples every time) with small ``max_examples``: the whole file takes well under a
minute. Temporary files come from ``tempfile`` inside each example, so no function-scoped fixture is reused
across examples and no health check needs suppressing.
"""

from __future__ import annotations

import math
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from forecast.data import load_panel, validate_panel
from forecast.errors import CarbonForecastError, InputError
from forecast.io.csvfile import bad_name_mask
from forecast.limits import (
    MAX_CO2,
    MAX_GDP,
    MAX_GDP_PER_CAPITA,
    MAX_JUMP,
    MAX_POPULATION,
    MAX_SCENARIO_POPULATION,
    MIN_POPULATION,
    PPM_RANGE,
    YEAR_RANGE,
)

FUZZ = settings(max_examples=100, deadline=None, derandomize=True, database=None)
FEW = settings(max_examples=15, deadline=None, derandomize=True, database=None)


@contextmanager
def folder():
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


def assert_clear(err: BaseException, path: Path) -> None:
    """A user error that says which file is at fault (column / row / region / year follow in the text)."""
    assert isinstance(err, InputError), f"{type(err).__name__} instead of InputError: {err}"
    assert path.name in str(err), f"the message does not name the file {path.name}: {err}"


def attempt(read, path: Path, must_fail: bool):
    """``read(path)``: None after a clear InputError, else the result; any other exception fails the test."""
    try:
        out = read(path)
    except InputError as err:
        assert_clear(err, path)
        return None
    assert not must_fail, f"a corrupt file was accepted: {path.read_bytes()[:300]!r}"
    return out


# ---------------------------------------------------------------------------------------------- corruptions
# Each corruption takes a valid frame and a hypothesis ``data`` object and returns the bytes of the file.
# Names in MUST_FAIL describe files no real data set contains: they must be refused.

NUMBERS = st.sampled_from([1e300, -1e300, -1.0, 0.0, math.nan, math.inf, -math.inf, 1e-300, 5e10, 1e16])
YEARS = st.sampled_from([1e12, -5, 0, 2000.5, 1749, 2301, math.nan, math.inf, 2**63, "MMXX"])
BAD_NAMES = st.sampled_from(["A\x00B", "\x00", "A\x1b[31mB", "tab\there", "line\nbreak", "\x7f", "A\u2028B", "", "  "])


def to_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def set_cell(column: str, values):
    def corrupt(frame, data):
        frame = frame.astype({column: object})
        row = data.draw(st.integers(0, len(frame) - 1), label="row")
        frame.iloc[row, frame.columns.get_loc(column)] = data.draw(values, label=f"{column} value")
        return to_csv(frame)
    return corrupt


def whole_column(column: str, values):
    def corrupt(frame, data):
        return to_csv(frame.assign(**{column: data.draw(values, label=f"all of {column}")}))
    return corrupt


def duplicate_row(frame, data):
    row = data.draw(st.integers(0, len(frame) - 1), label="row")
    return to_csv(pd.concat([frame, frame.iloc[[row]]], ignore_index=True))


def drop_column(column: str):
    return lambda frame, data: to_csv(frame.drop(columns=column))


def duplicate_column(column: str):
    def corrupt(frame, data):
        text = frame.to_csv(index=False).splitlines()
        position = list(frame.columns).index(column)
        lines = [line + "," + line.split(",")[position] for line in text]
        return ("\n".join(lines) + "\n").encode("utf-8")
    return corrupt


def extra_column(frame, data):
    value = data.draw(st.sampled_from(["x", math.nan, math.inf, 1e300, "\x00"]), label="extra value")
    return to_csv(frame.assign(extra=value))


def ragged_row(frame, data):
    lines = frame.to_csv(index=False).splitlines()
    row = data.draw(st.integers(1, len(lines) - 1), label="row")
    lines[row] += ",surplus"
    return ("\n".join(lines) + "\n").encode("utf-8")


def header_only(frame, data):
    return (",".join(frame.columns) + "\n").encode("utf-8")


def empty(frame, data):
    return data.draw(st.sampled_from([b"", b"\n", b"   \n\n"]), label="empty bytes")


def other_encoding(frame, data):
    name_column = frame.columns[0]
    frame = frame.astype({name_column: object})
    frame.iloc[0, 0] = "São Tomé"
    codec = data.draw(st.sampled_from(["latin-1", "utf-16", "cp1252"]), label="encoding")
    return frame.to_csv(index=False).encode(codec, errors="replace")  # names the codec lacks become ?


def junk(frame, data):
    return data.draw(st.binary(min_size=1, max_size=200), label="junk")


def jump(column: str):
    """One value x1e6 in an otherwise smooth series (the region's other years untouched)."""
    def corrupt(frame, data):
        frame = frame.copy()
        row = data.draw(st.integers(1, len(frame) - 1), label="row")
        frame.loc[row, column] = frame.loc[row, column] * 1e6 / (1e3 if column == "gdp" else 1.0)
        return to_csv(frame)
    return corrupt


def rename(frame, data):
    column = data.draw(st.sampled_from(list(frame.columns)), label="renamed column")
    return to_csv(frame.rename(columns={column: column.upper() + "_"}))


# ---------------------------------------------------------------------------------------------- panels
@st.composite
def panels(draw, max_regions: int = 3) -> pd.DataFrame:
    """A smooth, valid tidy panel: region, year, population (people), gdp (int-$), co2 (Mt CO2/yr)."""
    names = draw(st.lists(st.text(st.characters(categories=("L",), max_codepoint=0x2FF), min_size=1, max_size=8),
                          min_size=1, max_size=max_regions, unique=True), label="regions")
    start = draw(st.integers(1950, 2010), label="first year")
    length = draw(st.integers(3, 12), label="years")
    rows = []
    for name in names:
        pop0 = draw(st.floats(1e3, 1e9), label="population")
        gdp_pc0 = draw(st.floats(500.0, 1e5), label="gdp per capita")
        co2_pc0 = draw(st.floats(0.05, 30.0), label="t CO2 per person")
        growth = np.exp(np.arange(length) * draw(st.floats(-0.02, 0.05), label="growth"))
        pop = pop0 * growth
        rows.append(pd.DataFrame({"region": name, "year": np.arange(start, start + length),
                                  "population": pop, "gdp": pop * gdp_pc0 * growth,
                                  "co2": pop * co2_pc0 * growth / 1e6}))
    return pd.concat(rows, ignore_index=True)


PANEL_CORRUPTIONS = {
    # a missing value (NaN, blank) is legal in a panel: load_panel drops the region-year
    "population_absurd": (set_cell("population", NUMBERS.filter(lambda v: not math.isnan(v))), True),
    "gdp_absurd": (set_cell("gdp", NUMBERS.filter(lambda v: not math.isnan(v))), True),
    "co2_absurd": (set_cell("co2", st.sampled_from([1e300, -1.0, math.inf, -math.inf, 1e6, 1e12])), True),
    "value_missing": (lambda frame, data: set_cell(data.draw(st.sampled_from(["population", "gdp", "co2"]), label="column"),
                                                   st.sampled_from([math.nan, ""]))(frame, data), False),
    "population_jump": (jump("population"), True),
    "gdp_jump": (jump("gdp"), True),
    "year_absurd": (set_cell("year", YEARS), True),
    "region_bad_name": (set_cell("region", BAD_NAMES), True),
    "duplicated_row": (duplicate_row, True),
    "all_nan": (whole_column("co2", st.just(math.nan)), True),  # nothing complete is left to load
    "missing_column": (lambda frame, data: drop_column(data.draw(st.sampled_from(list(frame.columns)),
                                                                 label="dropped column"))(frame, data), True),
    "duplicated_column": (duplicate_column("co2"), True),
    "extra_column": (extra_column, False),
    "ragged_row": (ragged_row, True),
    "header_only": (header_only, True),
    "empty": (empty, True),
    "other_encoding": (other_encoding, False),
    "junk": (junk, True),
    "renamed_column": (rename, True),
    "none": (lambda frame, data: to_csv(frame), False),
}


def check_panel_invariants(df: pd.DataFrame) -> None:
    """What a loaded panel promises (load_panel's docstring and forecast/limits.py)."""
    assert len(df) > 0
    assert df["year"].dtype == np.int64
    assert df["year"].between(*YEAR_RANGE).all()
    assert not bad_name_mask(df["region"]).any()
    assert not df.duplicated(["region", "year"]).any()
    for _, group in df.groupby("region"):
        assert (np.diff(group["year"].to_numpy()) > 0).all(), "years not strictly increasing"
    values = df[["population", "gdp", "co2", "gdp_per_capita", "co2_per_capita"]].to_numpy(float)
    assert np.isfinite(values).all()
    assert df["population"].between(MIN_POPULATION, MAX_POPULATION).all()
    assert ((df["gdp"] > 0) & (df["gdp"] <= MAX_GDP)).all()
    assert ((df["co2"] > 0) & (df["co2"] <= MAX_CO2)).all()  # zeros are dropped with require_complete
    assert (df["gdp_per_capita"] <= MAX_GDP_PER_CAPITA).all()
    for column in ("population", "gdp"):
        steps = np.log(df[column]).groupby(df["region"]).diff().abs().dropna()
        assert (steps < np.log(MAX_JUMP)).all()


@FUZZ
@given(frame=panels(), corruption=st.sampled_from(sorted(PANEL_CORRUPTIONS)), data=st.data())
def test_panel_csv_is_loaded_clean_or_refused_naming_the_file(frame, corruption, data):
    corrupt, must_fail = PANEL_CORRUPTIONS[corruption]
    with folder() as tmp:
        path = tmp / "panel.csv"
        path.write_bytes(corrupt(frame, data))
        out = attempt(lambda p: load_panel(p, min_years=1), path, must_fail)
        if out is not None:
            check_panel_invariants(out)


@FEW
@given(frame=panels(), corruption=st.sampled_from(["population", "gdp", "co2", "year", "region", "none"]),
       data=st.data())
def test_panel_parquet_is_loaded_clean_or_refused_naming_the_file(frame, corruption, data):
    """The Parquet path keeps the dtypes of the writer: NaN/inf floats, huge years, NUL in region names."""
    if corruption != "none":
        values = {"year": YEARS.filter(lambda v: not isinstance(v, str)), "region": BAD_NAMES}.get(corruption, NUMBERS)
        value = data.draw(values, label="value")
        frame = frame.astype({corruption: object if isinstance(value, str) else float})
        frame.loc[data.draw(st.integers(0, len(frame) - 1), label="row"), corruption] = value
    with folder() as tmp:
        path = tmp / "panel.parquet"
        frame.to_parquet(path)
        if data.draw(st.booleans(), label="truncate"):
            path.write_bytes(path.read_bytes()[: data.draw(st.integers(0, 200), label="bytes kept")])
            corruption = "truncated"
        out = attempt(lambda p: load_panel(p, min_years=1), path, must_fail=corruption not in ("none", "co2"))
        if out is not None:
            check_panel_invariants(out)


@FEW
@given(frame=panels(max_regions=1), data=st.data())
def test_a_plausible_large_step_is_accepted(frame, data):
    """The jump check is conservative: a x3.5 step (Kuwait's GDP in 1991, the largest in OWID) passes."""
    frame.loc[len(frame) // 2:, "gdp"] *= data.draw(st.floats(1 / 3.5, 3.5), label="step")
    frame = frame[frame["gdp"] / frame["population"] <= MAX_GDP_PER_CAPITA]
    if len(frame) > 1:
        check_panel_invariants(validate_panel(frame).dropna())


# ---------------------------------------------------------------------------------------------- regressions
@pytest.mark.parametrize("column, value, words", [
    ("population", 1e300, ["population", "A/2001"]),
    ("population", 0.5, ["population", "A/2001"]),
    ("population", 2e10, ["population", "A/2001"]),
    ("co2", 1e9, ["co2", "A/2001", "world"]),
    ("gdp", 1e16, ["gdp", "A/2001"]),
    ("year", 1e12, ["year", "1750-2300"]),
    ("year", -5, ["year", "1750-2300"]),
    ("region", "A\x00", ["control character", "'A\\x00'"]),
])
def test_regression_absurd_values_are_refused(tmp_path, column, value, words):
    """Before: all of these loaded (a region with 1e300 people, a year 1e12, NUL in a name)."""
    frame = pd.DataFrame({"region": "A", "year": [2000, 2001, 2002], "population": 1e6, "gdp": 1e10, "co2": 5.0})
    frame = frame.astype({column: object})
    frame.loc[1, column] = value
    path = tmp_path / "panel.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError) as err:
        load_panel(path, min_years=1)
    for word in [path.name, *words]:
        assert word in str(err.value)


def test_regression_one_year_jump_names_region_and_years(tmp_path):
    """Before: population x1e6 in one year of a smooth series was accepted (and fitted)."""
    frame = pd.DataFrame({"region": "Atlantis", "year": range(2000, 2006), "population": 1e3 * 1.01 ** np.arange(6),
                          "gdp": 1e7, "co2": 0.01})
    frame.loc[3, "population"] *= 1e6
    path = tmp_path / "panel.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError, match=r"'population' of region 'Atlantis' jumps by a factor of 1.01e\+06 from 1020 in 2002 "
                                         r"to .* in 2003"):
        load_panel(path, min_years=1)


def test_regression_ragged_row_does_not_shift_columns(tmp_path):
    """Before: one surplus field in the first data row made pandas use 'region' as the index and shift every
    column one place to the left (years became regions, population became years), silently."""
    path = tmp_path / "panel.csv"
    path.write_text("region,year,population,gdp,co2\nA,2000,1e6,1e10,5,9\nA,2001,1e6,1e10,5\n", encoding="utf-8")
    with pytest.raises(InputError, match="more fields than the header"):
        load_panel(path, min_years=1)


def test_shipped_owid_panel_passes_the_physical_checks(shared_data_dir):
    """The ranges are conservative: the whole OWID country panel (1750-2023) loads."""
    df = load_panel("owid", data_dir=shared_data_dir, require_complete=False)
    assert df["region"].nunique() > 200


# ---------------------------------------------------------------------------------------------- scenarios
HISTORY = validate_panel(pd.DataFrame({"region": np.repeat(["A", "B"], 10), "year": np.tile(np.arange(2010, 2020), 2),
                                       "population": 1e6, "gdp": 1e10, "co2": 5.0}))


@st.composite
def scenario_paths(draw) -> pd.DataFrame:
    """Valid user paths for regions A and B, 2020 to 2020 + n, with or without a ``sample`` column."""
    n = draw(st.integers(1, 10), label="years")
    samples = draw(st.integers(1, 3), label="samples")
    years = np.arange(2020, 2021 + n)
    index = pd.MultiIndex.from_product([range(samples), ["A", "B"], years], names=["sample", "region", "year"])
    frame = index.to_frame(index=False)
    frame["gdp_per_capita"] = draw(st.floats(500.0, 1e5), label="gdp per capita") * 1.02 ** (frame["year"] - 2020)
    frame["population"] = draw(st.floats(1e3, 1e9), label="population")
    return frame if samples > 1 or draw(st.booleans(), label="keep sample") else frame.drop(columns="sample")


# corruptions every delimited input file gets, whatever its columns
FILE_CORRUPTIONS = {
    "duplicated_row": (duplicate_row, True),
    "ragged_row": (ragged_row, True),
    "header_only": (header_only, True),
    "empty": (empty, True),
    "junk": (junk, True),
    "none": (lambda frame, data: to_csv(frame), False),
}


SCENARIO_CORRUPTIONS = {
    **FILE_CORRUPTIONS,
    "gdp_absurd": (set_cell("gdp_per_capita", NUMBERS), True),
    "population_absurd": (set_cell("population", st.sampled_from([1e300, -1.0, 0.0, math.nan, math.inf, 3e10])), True),
    "year_absurd": (set_cell("year", YEARS), True),
    "region_bad_name": (set_cell("region", BAD_NAMES), True),
    "missing_column": (drop_column("population"), True),
    "duplicated_column": (duplicate_column("population"), True),
    "other_encoding": (other_encoding, True),  # the region 'São Tomé' is not in the history either
    "extra_column": (extra_column, False),
}


@FUZZ
@given(frame=scenario_paths(), corruption=st.sampled_from(sorted(SCENARIO_CORRUPTIONS)), data=st.data())
def test_scenario_csv_is_read_clean_or_refused_naming_the_file(frame, corruption, data):
    from forecast.scenarios import Scenario

    corrupt, must_fail = SCENARIO_CORRUPTIONS[corruption]
    with folder() as tmp:
        path = tmp / "paths.csv"
        path.write_bytes(corrupt(frame, data))

        def read(p):
            scenario = Scenario.from_csv(p, HISTORY)
            # the same pre-sampling check the drivers stage runs: every forecast year covered
            scenario.draw(["A", "B"], start_year=2020, n_samples=2, rng=np.random.default_rng(0))
            return scenario.user_paths

        paths = attempt(read, path, must_fail)
    if paths is not None:
        assert paths["year"].between(*YEAR_RANGE).all() and paths["year"].dtype == np.int64
        assert not paths.duplicated(["sample", "region", "year"]).any()
        assert not bad_name_mask(paths["region"]).any()
        assert ((paths["population"] > 0) & (paths["population"] <= MAX_SCENARIO_POPULATION)).all()
        assert ((paths["gdp_per_capita"] > 0) & (paths["gdp_per_capita"] <= MAX_GDP_PER_CAPITA)).all()


def test_regression_header_only_scenario_file(tmp_path):
    """Before: ValueError 'cannot convert float NaN to integer' (a traceback) for a header without rows."""
    from forecast.scenarios import Scenario

    path = tmp_path / "paths.csv"
    path.write_text("region,year,gdp_per_capita,population\n", encoding="utf-8")
    with pytest.raises(InputError, match="header but no rows"):
        Scenario.from_csv(path, HISTORY)


@pytest.mark.parametrize("row, message", [
    ("A,1000000000000,1e4,1e6", r"column 'year', row 3: '1000000000000' is not a whole year in 1750-2300"),
    ("A\x00,2021,1e4,1e6", r"column 'region', row 3: 'A\\x00' holds a control character"),
    ("A,2021,1e4,1e300", r"population must be positive and finite \(region A, year 2021\) and at most 2e\+10"),
])
def test_regression_scenario_rows_outside_their_range(tmp_path, row, message):
    """Before: a year 1e12, a NUL in a region name or 1e300 people were read as user paths."""
    from forecast.scenarios import Scenario

    path = tmp_path / "paths.csv"
    path.write_text(f"region,year,gdp_per_capita,population\nB,2020,1e4,1e6\nB,2021,1e4,1e6\n{row}\n", encoding="utf-8")
    with pytest.raises(InputError, match=message):
        Scenario.from_csv(path, HISTORY)


# ---------------------------------------------------------------------------------------------- CO2 paths
@st.composite
def co2_paths(draw) -> pd.DataFrame:
    start = draw(st.integers(1960, 2030), label="first year")
    years = np.arange(start, start + draw(st.integers(1, 40), label="years"))
    ppm = draw(st.floats(280.0, 450.0), label="first ppm") + draw(st.floats(0, 5), label="growth") * (years - start)
    frame = pd.DataFrame({"year": years, "co2_ppm": ppm})
    if draw(st.booleans(), label="named"):
        frame.insert(0, "scenario", draw(st.sampled_from(["ssp245", "flat", "hoch ñ"]), label="name"))
    return frame


CO2_CORRUPTIONS = {
    **FILE_CORRUPTIONS,
    "ppm_absurd": (set_cell("co2_ppm", st.sampled_from([1e300, -1.0, 0.0, 1e-300, math.nan, math.inf, 0.0004, 4e5])),
                   True),
    "year_absurd": (set_cell("year", YEARS), True),
    "missing_column": (drop_column("co2_ppm"), True),
    "duplicated_column": (duplicate_column("co2_ppm"), True),
    "extra_column": (extra_column, False),
}


@FUZZ
@given(frame=co2_paths(), corruption=st.sampled_from(sorted(CO2_CORRUPTIONS)), data=st.data())
def test_co2_path_csv_is_read_clean_or_refused_naming_the_file(frame, corruption, data):
    from forecast.scenarios.co2 import read_co2_scenarios

    corrupt, must_fail = CO2_CORRUPTIONS[corruption]
    if "scenario" in frame.columns and corruption == "none":
        frame.loc[0, "scenario"] = data.draw(st.sampled_from(["ok", "a\x00b", "x\x1b"]), label="scenario name")
        must_fail = frame.loc[0, "scenario"] != "ok"
    with folder() as tmp:
        path = tmp / "co2.csv"
        path.write_bytes(corrupt(frame, data))
        paths = attempt(lambda p: read_co2_scenarios(p, horizon=None), path, must_fail)
    for scenario in (paths or {}).values():
        years, ppm = scenario.ppm.index.to_numpy(), scenario.ppm.to_numpy()
        assert (np.diff(years) == 1).all() and ((years >= YEAR_RANGE[0]) & (years <= YEAR_RANGE[1])).all()
        assert ((ppm >= PPM_RANGE[0]) & (ppm <= PPM_RANGE[1])).all()
        assert not bad_name_mask(pd.Series([scenario.name])).any()


def test_regression_co2_path_in_ppb_or_year_1e12(tmp_path):
    """Before: a path of 1e300 ppm, of 4e-4 (a mole fraction) or starting in year 1e12 was accepted."""
    from forecast.scenarios.co2 import read_co2_scenarios

    path = tmp_path / "co2.csv"
    path.write_text("year,co2_ppm\n2020,0.00041\n2021,0.00042\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"co2_ppm must be positive and finite, in 150-5000 ppm; offending year\(s\): "
                                         r"2020, 2021"):
        read_co2_scenarios(path, horizon=None)
    path.write_text("year,co2_ppm\n1000000000000,400\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"co2.csv.*whole numbers in 1750-2300"):
        read_co2_scenarios(path, horizon=None)


# ---------------------------------------------------------------------------------------------- activities
@st.composite
def activities(draw) -> pd.DataFrame:
    cats = draw(st.lists(st.sampled_from(["natural_gas", "crude_oil", "lpg", "motor_gasoline", "gas_diesel_oil"]),
                         min_size=1, max_size=5, unique=True), label="categories")
    frame = pd.DataFrame({"category": cats, "value": [draw(st.floats(0.0, 1e9), label="value") for _ in cats],
                          "units": [draw(st.sampled_from(["TJ", "PJ", "GJ"]), label="units") for _ in cats]})
    if draw(st.booleans(), label="with rel_sd"):
        frame["rel_sd"] = [draw(st.floats(0.0, 0.5), label="rel_sd") for _ in cats]
    return frame


ACTIVITY_CORRUPTIONS = {
    **FILE_CORRUPTIONS,
    "value_absurd": (set_cell("value", st.sampled_from([1e300, -1.0, math.nan, math.inf, -math.inf, "True", "1e3x"])),
                     True),
    "units_bad": (set_cell("units", st.sampled_from(["", "parsec", "TJ\x00", "kg CO2/TJ", math.nan])), True),
    "category_bad_name": (set_cell("category", BAD_NAMES), True),
    "missing_column": (drop_column("units"), True),
    "duplicated_column": (duplicate_column("value"), True),
    "other_encoding": (other_encoding, False),
    "extra_column": (extra_column, False),
}


@FUZZ
@given(frame=activities(), corruption=st.sampled_from(sorted(ACTIVITY_CORRUPTIONS)), data=st.data())
def test_activities_csv_is_read_clean_or_refused_naming_the_file(frame, corruption, data):
    from forecast.policy.inventory import MAX_ACTIVITY, read_activities

    corrupt, must_fail = ACTIVITY_CORRUPTIONS[corruption]
    with folder() as tmp:
        path = tmp / "activities.csv"
        path.write_bytes(corrupt(frame, data))
        acts = attempt(read_activities, path, must_fail)
    for name, act in (acts or {}).items():
        assert name == act.category and not bad_name_mask(pd.Series([name])).any()
        assert math.isfinite(act.value) and 0 <= act.value <= MAX_ACTIVITY
        assert 0 <= act.rel_sd <= 1 and act.distribution in ("normal", "lognormal")


def test_regression_activity_errors_name_file_and_row(tmp_path):
    """Before: a blank category became the category 'nan', a blank distribution 'nan', and a bad value's error
    named the category but not the file or row."""
    from forecast.policy.inventory import read_activities

    path = tmp_path / "acts.csv"
    path.write_text("category,value,units\n,1,TJ\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"acts.csv: column 'category', row 1: is empty"):
        read_activities(path)
    path.write_text("category,value,units,distribution\nlpg,1,TJ,\n", encoding="utf-8")
    assert read_activities(path)["lpg"].distribution == "normal"
    path.write_text("category,value,units\nlpg,1,TJ\ncrude_oil,-1,TJ\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"acts.csv: row 2: activity 'crude_oil': value must lie in 0-1e\+15"):
        read_activities(path)
    path.write_text("category,value,units,value\nlpg,1,TJ,2\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"'value' appear more than once"):
        read_activities(path)


# ---------------------------------------------------------------------------------------------- land use
@st.composite
def land_areas(draw) -> pd.DataFrame:
    types = draw(st.lists(st.sampled_from(["cropland", "forest", "grassland", "water_wetland", "unused_land"]),
                          min_size=1, max_size=5, unique=True), label="land types")
    frame = pd.DataFrame({"land_type": types, "area_mha": [draw(st.floats(0.0, 500.0), label="area") for _ in types]})
    if draw(st.booleans(), label="with rel_sd"):
        frame["rel_sd"] = [draw(st.floats(0.0, 0.5), label="rel_sd") for _ in types]
    return frame


LANDUSE_CORRUPTIONS = {
    **FILE_CORRUPTIONS,
    "area_absurd": (set_cell("area_mha", st.sampled_from([1e300, -1.0, math.nan, math.inf, 2e4, "many"])), True),
    "land_type_bad": (set_cell("land_type", st.sampled_from(["", "foresst", "forest\x00", "ocean", math.nan])), True),
    "alias_twice": (lambda frame, data: to_csv(pd.concat(
        [frame.assign(land_type="water"), frame.assign(land_type="wetland")]).head(2)), True),
    "rel_sd_absurd": (lambda frame, data: to_csv(frame.assign(rel_sd=data.draw(
        st.sampled_from([-0.1, 1.0, 5.0, math.inf]), label="rel_sd"))), True),
    "missing_column": (drop_column("area_mha"), True),
}


@FUZZ
@given(frame=land_areas(), corruption=st.sampled_from(sorted(LANDUSE_CORRUPTIONS)), data=st.data())
def test_landuse_csv_is_read_clean_or_refused_naming_the_file(frame, corruption, data):
    from forecast.policy.landuse import LAND_TYPES, MAX_AREA_MHA, read_landuse

    corrupt, must_fail = LANDUSE_CORRUPTIONS[corruption]
    with folder() as tmp:
        path = tmp / "areas.csv"
        path.write_bytes(corrupt(frame, data))
        read = attempt(read_landuse, path, must_fail)
    if read is not None:
        areas, rel = read
        assert all(0 <= a <= MAX_AREA_MHA for a in areas.values())
        assert all(name.strip().lower() in LAND_TYPES for name in areas)
        assert all(0 <= r < 1 for r in (rel.values() if isinstance(rel, dict) else [rel]))


# ---------------------------------------------------------------------------------------------- pledges
@st.composite
def pledges(draw) -> pd.DataFrame:
    years = draw(st.lists(st.integers(2021, 2050), min_size=1, max_size=3, unique=True), label="years")
    return pd.DataFrame({"region": "A", "year": sorted(years),
                         "reduction": sorted(draw(st.floats(0.01, 0.9), label="reduction") for _ in years)})


PLEDGE_CORRUPTIONS = {
    **FILE_CORRUPTIONS,
    "reduction_absurd": (set_cell("reduction", st.sampled_from([1e300, -0.5, 0.0, 1.0, 65.0, math.nan, math.inf])),
                         True),
    "year_absurd": (set_cell("year", st.sampled_from([1e12, -5, 2030.5, 2010, 2100, math.nan])), True),
    "region_bad_name": (set_cell("region", st.sampled_from(["A\x00", "", "\x1b"])), True),
    "missing_column": (drop_column("reduction"), True),
}


@FEW
@given(frame=pledges(), corruption=st.sampled_from(sorted(PLEDGE_CORRUPTIONS)), data=st.data())
def test_pledge_csv_is_checked_clean_or_refused_naming_the_file(frame, corruption, data):
    from test_policy_scenarios import flat_intensity

    from forecast.scenarios.policy import check_policy

    corrupt, must_fail = PLEDGE_CORRUPTIONS[corruption]
    with folder() as tmp:
        path = tmp / "pledges.csv"
        path.write_bytes(corrupt(frame, data))
        policy = {"kind": "intensity_csv", "base_year": 2005, "path": str(path)}
        checked = attempt(lambda p: check_policy("csv", policy, flat_intensity(n=3)), path, must_fail)
    for years, reductions in (checked or {"pledges": {}})["pledges"].values():
        assert (np.diff(years) > 0).all() and (years > 2020).all() and (years <= 2050).all()
        assert ((reductions > 0) & (reductions < 1)).all()


def test_regression_pledge_rows_are_checked(tmp_path):
    """Before: a pledge file's reductions were never checked (NaN, 65 or -0.5 flowed into the intensity path)."""
    from test_policy_scenarios import flat_intensity

    from forecast.scenarios.policy import check_policy

    path = tmp_path / "pledges.csv"
    path.write_text("region,year,reduction\nA,2030,65\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"pledges.csv, region 'A': policy 'p': reductions are shares"):
        check_policy("p", {"kind": "intensity_csv", "base_year": 2005, "path": str(path)}, flat_intensity(n=3))


# ---------------------------------------------------------------------------------------------- CLI
runner = CliRunner()


@FEW
@given(kind=st.sampled_from(["activities", "landuse"]), data=st.data())
def test_cli_inventory_refuses_a_corrupt_file_before_any_draw(kind, data):
    """``carbon-forecast inventory --activities/--landuse FILE``: a corrupt file is a CarbonForecastError
    (exit code 2 through the console script), and no output folder is written."""
    from forecast import cli

    table = ACTIVITY_CORRUPTIONS if kind == "activities" else LANDUSE_CORRUPTIONS
    name = data.draw(st.sampled_from(sorted(n for n, (_, must) in table.items() if must)), label="corruption")
    frame = data.draw(activities() if kind == "activities" else land_areas(), label="file")
    with folder() as tmp:
        path, out = tmp / "input.csv", tmp / "out"
        path.write_bytes(table[name][0](frame, data))
        result = runner.invoke(cli.app, ["inventory", f"--{kind}", str(path), "--out", str(out), "--draws", "100"])
        assert result.exit_code != 0
        assert isinstance(result.exception, CarbonForecastError), repr(result.exception)
        assert cli.exit_code(result.exception) == 2
        assert "input.csv" in str(result.exception)
        assert not out.exists(), "a half-written output folder"


@FEW
@given(frame=panels(), corruption=st.sampled_from(sorted(n for n, (_, must) in PANEL_CORRUPTIONS.items() if must)),
       data=st.data())
def test_cli_prior_check_refuses_a_corrupt_study_panel(frame, corruption, data):
    """A study whose ``[data] source`` is a corrupt tidy panel fails in ``prior-check`` when the data are
    loaded, with the file named, before any prior draw."""
    from forecast import cli

    with folder() as tmp:
        (tmp / "panel.csv").write_bytes(PANEL_CORRUPTIONS[corruption][0](frame, data))
        study = tmp / "study.toml"
        study.write_text('[study]\nname = "fuzz"\n[data]\nsource = "panel.csv"\nmin_years = 3\n', encoding="utf-8")
        result = runner.invoke(cli.app, ["prior-check", str(study), "--draws", "10", "--quiet"])
        assert isinstance(result.exception, CarbonForecastError), repr(result.exception)
        assert cli.exit_code(result.exception) == 2
        assert "panel.csv" in str(result.exception)
