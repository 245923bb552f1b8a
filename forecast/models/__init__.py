"""Model classes. Every model subclasses :class:`~forecast.models.base.BayesianModel` (settings, priors,
``fit -> self``, ``save`` / ``load``, diagnostics, ``sample_prior_predictive``) and writes ``prepare``,
``build_model`` and ``simulate``; ``predict(drivers, draws=..., random_seed=...)`` returns an xarray Dataset
with named dims and units. Importing this package registers the shipped models:
:func:`~forecast.models.base.model_class` maps a study's ``[model] type`` to its class."""

from forecast.errors import InputError, did_you_mean
from forecast.models.base import _REGISTRY, BayesianModel
from forecast.models.county import DriftModel
from forecast.models.ekc import EKCModel
from forecast.models.emission_factors import EmissionFactorModel
from forecast.models.gdp import GDPConvergenceModel
from forecast.models.kaya import KayaModel
from forecast.models.population import PopulationGrowthModel
from forecast.models.sinks import GlobalLandSinkModel
from forecast.models.stirpat import StirpatModel

__all__ = ["BayesianModel", "DriftModel", "EKCModel", "EmissionFactorModel", "GDPConvergenceModel", "GlobalLandSinkModel",
           "KayaModel", "PopulationGrowthModel", "StirpatModel", "model_class", "registered_models"]


def model_class(name: str) -> type[BayesianModel]:
    """The model class registered as ``name`` (a study's ``[model] type``); unknown names are an
    :class:`~forecast.errors.InputError` that lists the known ones."""
    if name not in _REGISTRY:
        raise InputError(f"unknown model type {name!r}{did_you_mean(name, _REGISTRY, n=1)}; "
                         f"known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def registered_models() -> dict[str, type[BayesianModel]]:
    """Name -> class of every registered model (the shipped ones and any subclass defined since)."""
    return dict(sorted(_REGISTRY.items()))
