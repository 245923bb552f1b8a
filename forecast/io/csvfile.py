"""Reading a user's CSV file (activities, land-use areas) with one set of checks: the file exists, is
UTF-8 text, has a header and at least one row, has the required columns (each once), every row has no more
fields than the header, text columns hold names without control characters, and numeric columns hold finite
numbers. Every problem is an :class:`~forecast.errors.InputError` naming the file, the column and the row
(1 = the first data row), never a parser traceback."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.errors import InputError

# C0 and C1 control characters (NUL, escape, bell, ...) and the Unicode line separators: they never belong in
# a name, and printed in a report or terminal they hide or rewrite text
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def bad_name_mask(names: pd.Series) -> pd.Series:
    """True where a name is missing, blank or holds a control character."""
    text = names.astype("str")
    return names.isna() | (text.str.strip() == "") | text.str.contains(_CONTROL)


def check_names(frame: pd.DataFrame, column: str, label: str) -> None:
    """InputError naming ``label``, ``column`` and the first row whose name is missing, blank or holds a
    control character (shown escaped)."""
    bad = bad_name_mask(frame[column])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        value = frame[column].iloc[row]
        empty = pd.isna(value) or not str(value).strip()
        what = "is empty" if empty else f"{str(value)!r} holds a control character"
        raise InputError(f"{label}: column {column!r}, row {row + 1}: {what}"
                         + (f" ({int(bad.sum())} such rows)" if bad.sum() > 1 else ""))


def check_header(path: Path, frame: pd.DataFrame, label: str, **read_kwargs) -> None:
    """A header that names a column twice, or a data row with more fields than the header (pandas would take
    the extra first field as the row label and shift every value one column), is an InputError.
    ``read_kwargs``: the options ``frame`` was read with (e.g. ``comment="#"``)."""
    if not isinstance(frame.index, pd.RangeIndex):
        raise InputError(f"{label}: a data row has more fields than the header ({len(frame.columns)} columns); "
                         "check for unquoted commas or a missing column name")
    raw = [str(c).strip() for c in pd.read_csv(path, header=None, nrows=1, dtype="str", **read_kwargs).iloc[0]]
    dup = sorted({c for c in raw if raw.count(c) > 1})
    if dup:
        raise InputError(f"{label}: column(s) {', '.join(map(repr, dup))} appear more than once in the header")


def read_user_csv(path: str | Path, *, required: Sequence[str], numeric: Sequence[str] = (),
                  unique: str | None = None, text: Sequence[str] = (), what: str = "file") -> pd.DataFrame:
    """``path`` as a DataFrame, checked (module docstring); ``unique``: a column whose values may not repeat;
    ``text``: columns of names (no blanks, no control characters)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} not found: {path}")
    try:
        # only a blank cell is missing: 'nan', 'NA' or 'n/a' typed into a number column is an error, not a blank
        frame = pd.read_csv(path, encoding="utf-8", skipinitialspace=True, keep_default_na=False, na_values=[""])
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 text (byte {err.start}); save the {what} as UTF-8 CSV") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the {what} is empty; it needs a header with {', '.join(required)} and rows") from None
    except (pd.errors.ParserError, ValueError) as err:
        raise InputError(f"{path}: not a readable CSV ({str(err).splitlines()[0]})") from None
    check_header(path, frame, str(path), encoding="utf-8", skipinitialspace=True, keep_default_na=False, na_values=[""])
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, frame.columns))}")
    if frame.empty:
        raise InputError(f"{path}: the {what} has a header but no rows")
    for column in text:
        if column in frame.columns:
            check_names(frame, column, str(path))
    for column in numeric:
        if column not in frame.columns:
            continue
        frame[column] = _finite(frame[column], column, path)
    if unique is not None and frame[unique].duplicated().any():
        dup = sorted(frame.loc[frame[unique].duplicated(), unique].astype(str).unique())
        raise InputError(f"{path}: {unique} {', '.join(map(repr, dup))} appears more than once")
    return frame


def _finite(column: pd.Series, name: str, path: Path) -> pd.Series:
    """The column as floats (blank = NaN); true/false or text that is not a finite number is an InputError."""
    if pd.api.types.is_bool_dtype(column.dtype):
        raise InputError(f"{path}: column {name!r}, row 1: {column.iloc[0]!r} is not a number")
    values = pd.to_numeric(column, errors="coerce")
    bad = values.isna() & column.notna() | ~np.isfinite(values.fillna(0.0))
    if column.dtype == object:  # a True/False among numbers: pandas reads it as text, to_numeric keeps it
        bad |= column.map(lambda v: isinstance(v, bool) or str(v).strip().lower() in ("true", "false"))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{path}: column {name!r}, row {row + 1}: {column.iloc[row]!r} is not a finite number")
    return values.astype("float64")
