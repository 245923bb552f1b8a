"""Reading a user's CSV file (activities, land-use areas) with one set of checks: the file exists, is
UTF-8 text, has a header and at least one row, has the required columns, and numeric columns hold finite
numbers. Every problem is an :class:`~forecast.errors.InputError` naming the file, the column and the
row (1 = the first data row), never a parser traceback."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.errors import InputError


def read_user_csv(path: str | Path, *, required: Sequence[str], numeric: Sequence[str] = (),
                  unique: str | None = None, what: str = "file") -> pd.DataFrame:
    """``path`` as a DataFrame, checked (module docstring); ``unique``: a column whose values may not repeat."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} not found: {path}")
    try:
        frame = pd.read_csv(path, encoding="utf-8", skipinitialspace=True)
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 text (byte {err.start}); save the {what} as UTF-8 CSV") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the {what} is empty; it needs a header with {', '.join(required)} and rows") from None
    except (pd.errors.ParserError, ValueError) as err:
        raise InputError(f"{path}: not a readable CSV ({str(err).splitlines()[0]})") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, frame.columns))}")
    if frame.empty:
        raise InputError(f"{path}: the {what} has a header but no rows")
    for column in numeric:
        if column not in frame.columns:
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() & frame[column].notna() | ~np.isfinite(values.fillna(0.0))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"{path}: column {column!r}, row {row + 1}: {frame[column].iloc[row]!r} is not a finite number")
        frame[column] = values
    if unique is not None and frame[unique].duplicated().any():
        dup = sorted(frame.loc[frame[unique].duplicated(), unique].astype(str).unique())
        raise InputError(f"{path}: {unique} {', '.join(map(repr, dup))} appears more than once")
    return frame
