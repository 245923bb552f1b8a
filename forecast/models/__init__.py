"""Model classes. Every model follows one protocol: ``fit(data, random_seed=...) -> self`` (keeps
``idata`` and ``diagnostics``), ``predict(scenario, draws=..., random_seed=...)`` -> xarray Dataset with
dims ``(sample, region, year)``, ``save(path)`` / ``load(path)``."""

from forecast.models.ekc import EKCModel
from forecast.models.emission_factors import EmissionFactorModel
from forecast.models.sinks import GlobalLandSinkModel

__all__ = ["EKCModel", "EmissionFactorModel", "GlobalLandSinkModel"]
