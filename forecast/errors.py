"""Exceptions raised for problems a user can fix (bad input, missing data, bad study files).

Every check that guards user input raises one of these *before* any sampling starts, with a message
that names the file, key, region or year at fault. The CLI prints the message without a traceback.
"""

from __future__ import annotations


class CarbonForecastError(Exception):
    """Base class for all errors the package raises on purpose."""


class InputError(CarbonForecastError, ValueError):
    """Input data or arguments are malformed (missing columns, bad values, unknown names)."""


class DataNotFoundError(CarbonForecastError, FileNotFoundError):
    """A data file could not be found locally nor downloaded."""


class StudyError(InputError):
    """A study file is invalid (unknown key, wrong type, inconsistent settings)."""


class PriorError(InputError):
    """A prior name is unknown or a prior entry is malformed."""


class ModelStateError(CarbonForecastError, RuntimeError):
    """A model method was called in the wrong state (e.g. predict before fit, or a stale saved file)."""


class SamplerWarning(UserWarning):
    """Sampler diagnostics (R-hat, ESS, divergences) flag a problem with a fit."""
