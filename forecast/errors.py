"""Exceptions raised for problems a user can fix (bad input, missing data, bad study files).

Every check that guards user input raises one of these *before* any sampling starts, with a message
that names the file, key, region or year at fault. The CLI prints the message without a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class CarbonForecastError(Exception):
    """Base class for all errors the package raises on purpose."""


class InputError(CarbonForecastError, ValueError):
    """Input data or arguments are malformed (missing columns, bad values, unknown names)."""


class DataNotFoundError(CarbonForecastError, FileNotFoundError):
    """A data file could not be found locally nor downloaded."""


class DataHashError(CarbonForecastError, ValueError):
    """A downloaded data file is not the registered version (its SHA-256 differs)."""


class StudyError(InputError):
    """A study file is invalid (unknown key, wrong type, inconsistent settings)."""


class PriorError(InputError):
    """A prior name is unknown or a prior entry is malformed."""


class ModelStateError(CarbonForecastError, RuntimeError):
    """A model method was called in the wrong state (e.g. predict before fit, or a stale saved file)."""


class SamplerWarning(UserWarning):
    """Sampler diagnostics (R-hat, ESS, divergences) flag a problem with a fit."""


def close_matches(word: object, candidates: Iterable[object], *, n: int = 3, cutoff: float = 0.6) -> list[str]:
    """Up to ``n`` candidates that look like ``word`` (``difflib`` ratio >= ``cutoff``), best first.

    If nothing matches as spelled, the comparison is repeated ignoring case ("china" finds "China").
    """
    names = list(dict.fromkeys(str(c) for c in candidates))
    word = str(word)
    close = difflib.get_close_matches(word, names, n=n, cutoff=cutoff)
    if not close:
        lowered: dict[str, str] = {}
        for c in names:
            lowered.setdefault(c.lower(), c)
        close = [lowered[c] for c in difflib.get_close_matches(word.lower(), list(lowered), n=n, cutoff=cutoff)]
    return close


def did_you_mean(word: object, candidates: Iterable[object], *, n: int = 3, cutoff: float = 0.6) -> str:
    """``" (did you mean 'x' or 'y'?)"`` for the close matches of ``word`` among ``candidates``, else ``""``.

    The one suggestion helper of the package: append it to the message that names the unknown word.
    """
    return suggestion(close_matches(word, candidates, n=n, cutoff=cutoff))


def suggestion(matches: Iterable[object]) -> str:
    """``" (did you mean 'x' or 'y'?)"`` for already chosen ``matches`` (duplicates dropped), or ``""``."""
    matches = list(dict.fromkeys(str(m) for m in matches))
    return f" (did you mean {' or '.join(map(repr, matches))}?)" if matches else ""
