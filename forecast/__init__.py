"""carbon-forecast: probabilistic carbon peak, sink and neutrality forecasts from Bayesian models.

Typical notebook use::

    from forecast import load_panel, EKCModel, Scenario, forecast_peak
    panel = load_panel("owid", years=(1990, 2022), min_population=5e6)
    model = EKCModel().fit(panel, random_seed=1)
    fc = forecast_peak(model, Scenario.from_history(panel, horizon=2060), draws=2000, random_seed=1)
    fc.peak_table()

The names below are imported on first use (PEP 562), so ``import forecast`` and the command line's
``--help`` do not load PyMC.
"""

import os
from importlib import import_module
from typing import Any

from forecast._version import __version__


def _configure_pytensor() -> None:
    """Tell PyTensor, before it is first imported, that it has no BLAS to link to, unless the user
    configured one. The package samples with nutpie, which compiles the model through numba and never
    uses PyTensor's C BLAS; without this, PyTensor searches for a BLAS on every run of a pip install,
    fails, and prints a warning about a library the sampler does not use. (With ``[sampler] name =
    "pymc"`` the C backend falls back to NumPy's dot products, exactly as it does after that warning.)"""
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    if "blas__ldflags" not in flags:
        os.environ["PYTENSOR_FLAGS"] = ",".join(f for f in (flags, "blas__ldflags=") if f)


_configure_pytensor()

_LAZY = {
    "CarbonForecastError": "forecast.errors",
    "InputError": "forecast.errors",
    "load_panel": "forecast.data",
    "EKCModel": "forecast.models.ekc",
    "KayaModel": "forecast.models.kaya",
    "GlobalLandSinkModel": "forecast.models.sinks",
    "BayesianModel": "forecast.models.base",
    "Forecast": "forecast.projection.propagate",
    "forecast_emissions": "forecast.projection.propagate",
    "forecast_peak": "forecast.projection.propagate",
    "Scenario": "forecast.scenarios",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'forecast' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
