"""carbon-forecast: probabilistic carbon peak, sink and neutrality forecasts from Bayesian models.

Typical notebook use::

    from forecast import load_panel, EKCModel, Scenario, forecast_peak
    panel = load_panel("owid", years=(1990, 2022), min_population=5e6)
    model = EKCModel().fit(panel, random_seed=1)
    fc = forecast_peak(model, Scenario.from_history(panel, horizon=2060), draws=2000, random_seed=1)
    fc.peak_table()
"""

import os
from importlib.metadata import PackageNotFoundError, version

# numba's OpenMP threads otherwise spin after each parallel kernel and, on a 2-core machine, starve the
# Python and NumPy work that follows (measured: a 0.55 s loop took 4.3 s after a propagation kernel).
# Read when the OpenMP runtime starts, i.e. at the first parallel kernel: setting it here is early enough.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    __version__ = version("carbon-forecast")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"

from forecast.data import load_panel  # noqa: E402
from forecast.errors import CarbonForecastError, InputError  # noqa: E402
from forecast.models.ekc import EKCModel  # noqa: E402
from forecast.models.sinks import GlobalLandSinkModel  # noqa: E402
from forecast.propagate import Forecast, forecast_emissions, forecast_peak  # noqa: E402
from forecast.scenarios import Scenario  # noqa: E402

__all__ = [
    "CarbonForecastError",
    "EKCModel",
    "GlobalLandSinkModel",
    "Forecast",
    "InputError",
    "Scenario",
    "__version__",
    "forecast_emissions",
    "forecast_peak",
    "load_panel",
]
