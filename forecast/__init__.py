"""carbon-forecast: probabilistic carbon peak, sink and neutrality forecasts from Bayesian models.

Typical notebook use::

    from forecast import load_panel, EKCModel, Scenario, forecast_peak
    panel = load_panel("owid", years=(1990, 2022), min_population=5e6)
    model = EKCModel().fit(panel, random_seed=1)
    fc = forecast_peak(model, Scenario.from_history(panel, horizon=2060), draws=2000, random_seed=1)
    fc.peak_table()
"""

from forecast._version import __version__
from forecast.data import load_panel
from forecast.errors import CarbonForecastError, InputError
from forecast.models.ekc import EKCModel
from forecast.models.sinks import GlobalLandSinkModel
from forecast.propagate import Forecast, forecast_emissions, forecast_peak
from forecast.scenarios import Scenario

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
