"""Model classes. Every model subclasses :class:`~forecast.models.base.BayesianModel` (settings, priors,
``fit -> self``, ``save`` / ``load``, diagnostics, ``sample_prior_predictive``) and writes ``prepare``,
``build_model`` and ``simulate``; ``predict(drivers, draws=..., random_seed=...)`` returns an xarray Dataset
with named dims and units. Importing this package registers the shipped models:
:func:`~forecast.models.base.model_class` maps a study's ``[model] type`` to its class."""

from forecast.models.base import BayesianModel, model_class, registered_models
from forecast.models.county import DriftModel
from forecast.models.ekc import EKCModel
from forecast.models.emission_factors import EmissionFactorModel
from forecast.models.gdp import GDPConvergenceModel
from forecast.models.kaya import KayaModel
from forecast.models.population import PopulationGrowthModel
from forecast.models.sinks import GlobalLandSinkModel

__all__ = ["BayesianModel", "DriftModel", "EKCModel", "EmissionFactorModel", "GDPConvergenceModel", "GlobalLandSinkModel",
           "KayaModel", "PopulationGrowthModel", "model_class", "registered_models"]
