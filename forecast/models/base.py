"""The one base of every model: settings, priors by name, fit, diagnostics, save / load, a registry.

A model subclasses :class:`BayesianModel` and writes three things:

``prepare(data, **options) -> arrays``
    the input checked (each problem an :class:`~forecast.errors.InputError` naming the column, region or
    year) and turned into the arrays the likelihood needs;
``build_model(arrays) -> pm.Model``
    the likelihood (no sampling);
``simulate(params, drivers, shocks)``
    the same generative process run forward from given parameters and unit shocks; ``predict``, the
    simulation-based calibration and the recovery tests use it, so the process is written once, beside
    its likelihood.

and says which of its variables the diagnostics look at (``parameter_names``). What it keeps for
forecasting (the last observed state per region, say) goes into ``constant_data`` through ``state``.
``predict(drivers, draws=..., random_seed=...)`` returns an :class:`xarray.Dataset` with named dims and
``units`` / ``long_name`` on every variable.

Everything else is here, written once:

* **Settings** are the constructor's keyword arguments (read from its signature, like scikit-learn and
  PyMC-Marketing's ``ModelIO``), stored as attributes of the same name and, after a fit, as JSON in the
  posterior's attributes with a hash. :meth:`BayesianModel.load` rebuilds ``cls(**settings)`` and
  refuses a file of another model, model version, altered settings, or settings that differ from the
  ones the caller expects.
* **Priors** come by name from the prior library (``priors/<family>.toml``); ``model_config`` overrides
  them, and an unknown name is an error.
* **fit** samples with the package's sampler choice and raises R-hat / ESS / divergence problems as
  :class:`~forecast.errors.SamplerWarning`; **sample_prior_predictive** shows what the priors alone imply.
* **Registry**: every concrete subclass registers under its ``name``; :func:`forecast.models.model_class`
  maps a study's ``[model] type`` to the class, so nothing downstream needs an ``if type == ...`` chain.
"""

from __future__ import annotations

import inspect
import json
import time
import warnings
from pathlib import Path
from typing import Any, ClassVar

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from forecast.errors import InputError, ModelStateError, PriorError, SamplerWarning
from forecast.models.persistence import config_hash, load_checked, save_idata
from forecast.models.sampling import CompiledModelCache, Diagnostics, diagnose, sample_model

MODEL_KEYS = ("model", "model_version")  # identify the class in saved settings; not constructor arguments
_REGISTRY: dict[str, type[BayesianModel]] = {}


def register(cls: type[BayesianModel]) -> type[BayesianModel]:
    """Add ``cls`` to the registry under ``cls.name`` (done for every subclass that sets its own name)."""
    other = _REGISTRY.get(cls.name)
    if other is not None and other.__qualname__ != cls.__qualname__:
        raise ValueError(f"model name {cls.name!r} is taken by {other.__module__}.{other.__qualname__}")
    _REGISTRY[cls.name] = cls
    return cls


class BayesianModel:
    """Base class of every model (see the module docstring for the contract).

    Class attributes a subclass sets: ``name`` (registry key, also the name in saved files), ``version``
    (bump it when saved posteriors of the old version can no longer be read), ``family`` (its prior
    family). ``fit_defaults`` changes the sampler defaults of :meth:`fit` for the model.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "0"
    family: ClassVar[str] = ""
    # "emissions": predict(scenario, draws=, random_seed=, regions=) gives co2_per_capita, gdp_per_capita
    # and population (sample, region, year), so a study can use it as its [model] type
    kind: ClassVar[str] = ""
    fit_defaults: ClassVar[dict[str, Any]] = {}
    # prior entries of the family whose values must be positive: Student-t degrees of freedom. An override
    # that puts prior mass at or below zero (a Normal, a Uniform from -5) is refused when the priors are
    # read, before any sampling
    positive_priors: ClassVar[tuple[str, ...]] = ("nu",)
    sampler_cores: ClassVar[int | None] = None  # None: one process per chain
    # predict(..., observed_co2=) takes emissions observed after the fit's last year (before GDP is) as known
    takes_later_emissions: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__ and cls.name:
            register(cls)

    def __init__(self, model_config: dict[str, Any] | None = None):
        self.model_config = dict(model_config or {})
        self.idata: az.InferenceData | None = None
        self.diagnostics: Diagnostics | None = None
        self.arrays_: Any = None  # what prepare() returned for the last fit (None after load)

    # ------------------------------------------------------------------ to be written by a model
    def prepare(self, data: Any, **options: Any) -> Any:  # pragma: no cover - abstract
        """Check ``data`` and turn it into the arrays :meth:`build_model` needs."""
        raise NotImplementedError(f"{type(self).__name__} must define prepare(data)")

    def build_model(self, arrays: Any) -> pm.Model:  # pragma: no cover - abstract
        """The PyMC model (the likelihood) for prepared arrays; no sampling."""
        raise NotImplementedError(f"{type(self).__name__} must define build_model(arrays)")

    def simulate(self, params: Any, drivers: Any, shocks: Any) -> Any:  # pragma: no cover - abstract
        """The generative process forward: parameters and unit shocks -> outcomes."""
        raise NotImplementedError(f"{type(self).__name__} has no forward simulator")

    def predict(self, drivers: Any = None, *, draws: int = 1000, random_seed: int | None = None,
                **options: Any) -> xr.Dataset:  # pragma: no cover - abstract
        """Posterior predictive outcomes as a Dataset with named dims and units."""
        raise NotImplementedError(f"{type(self).__name__} has no predict()")

    def parameter_names(self) -> list[str]:
        """Variables the diagnostics look at (default: every free variable of the posterior)."""
        post = self._require_fit().posterior
        return [str(v) for v in post.data_vars]

    def state(self, arrays: Any) -> xr.Dataset | None:
        """What forecasts start from (last observed state per region), kept in ``constant_data``."""
        return None

    def fit_attrs(self, arrays: Any) -> dict[str, Any]:
        """Extra scalars kept in the posterior's attributes (e.g. the centring constant of a covariate)."""
        return {}

    def label_posterior(self, posterior: xr.Dataset, arrays: Any) -> None:
        """Add ``units`` / ``long_name`` to posterior variables in place (nothing by default)."""

    def trim_posterior(self, idata: az.InferenceData, arrays: Any) -> az.InferenceData:
        """The posterior as the rest of the package sees it, e.g. without the placeholder regions a model
        laid out for a reused compilation adds (nothing to trim by default)."""
        return idata

    def check_settings(self) -> None:
        """Raise :class:`InputError` naming the setting when one is out of range (called before any fit)."""

    def restore(self, idata: az.InferenceData) -> None:
        """Rebuild what a loaded model needs beyond ``idata`` (nothing by default)."""

    # ------------------------------------------------------------------ settings
    @classmethod
    def setting_names(cls) -> list[str]:
        """The constructor's arguments: they are the model's settings."""
        params = inspect.signature(cls.__init__).parameters.values()
        return [p.name for p in params if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    @classmethod
    def setting_defaults(cls) -> dict[str, Any]:
        """The settings that have a default in the constructor, with it."""
        params = inspect.signature(cls.__init__).parameters
        return {name: params[name].default for name in cls.setting_names()
                if params[name].default is not inspect.Parameter.empty}

    def get_settings(self) -> dict[str, Any]:
        """Model name and version plus every constructor argument, as stored in a saved model."""
        return {"model": self.name, "model_version": self.version,
                **{name: getattr(self, name) for name in self.setting_names()}}

    # ------------------------------------------------------------------ priors
    def priors(self):
        """This model's prior family with the overrides of ``model_config`` applied (unknown names fail);
        override names may omit the family prefix."""
        from forecast.priors import default_library

        if not self.family:
            if self.model_config:
                raise InputError(f"the {self.name} model has no prior library to override: "
                                 f"{', '.join(map(repr, self.model_config))}")
            return {}
        prefix = f"{self.family}."
        foreign = [k for k in self.model_config if "." in str(k) and not str(k).startswith(prefix)]
        if foreign:  # e.g. a kaya.* override given to the EKC model: never silently renamed or dropped
            raise PriorError(f"prior override(s) {', '.join(map(repr, foreign))} are not of the {self.family} "
                             f"family: the {self.name} model takes {self.family}.* priors "
                             f"(list them with `carbon-forecast priors list {self.family}`)")
        overrides = {(k if k.startswith(prefix) else prefix + k): v for k, v in self.model_config.items()}
        specs = default_library().with_overrides(overrides).family(self.family)
        for key in self.positive_priors:
            spec = specs.get(key)
            if spec is not None and spec.support[0] < 0:
                raise PriorError(f"prior {spec.name} = {spec.describe()}: its values must be positive (Student-t "
                                 "degrees of freedom), but this prior allows values below zero; use Gamma, "
                                 "Exponential, LogNormal or HalfNormal, or a Uniform / TruncatedNormal with "
                                 "lower >= 0")
        return specs

    def prior_terms(self) -> list[str]:
        """Prior-library entries this configuration uses (default: the whole family)."""
        return list(self.priors())

    def priors_used(self) -> list[dict[str, Any]]:
        """The prior entries this configuration uses, as dicts with units and citations."""
        specs = self.priors()
        return [specs[name].to_dict() for name in self.prior_terms()]

    # ------------------------------------------------------------------ fit
    def fit(self, data: Any = None, *, random_seed: int | None = None, sampler: str | None = None,
            draws: int | None = None, tune: int | None = None, chains: int | None = None,
            target_accept: float | None = None, progress: bool | None = None,
            compiled_cache: CompiledModelCache | None = None, **options: Any):
        """Sample the posterior given ``data`` (``options`` go to :meth:`prepare`); returns ``self``.

        Keeps ``idata`` (ArviZ InferenceData: posterior, sample stats, ``constant_data`` with the state
        forecasts start from, the settings in the posterior's attributes) and ``diagnostics``. Defaults:
        nutpie, 1000 draws after 1000 tuning steps, 2 chains, target_accept 0.9 (a model may change them).
        ``compiled_cache``: reuse a nutpie compilation of an earlier fit of the same model structure with
        this data swapped in (:class:`~forecast.models.sampling.CompiledModelCache`; for repeated fits such
        as a backtest's cutoffs).
        """
        self.check_settings()
        arrays = self.prepare(data, **options)
        model = self.build_model(arrays)
        run = {"sampler": "nutpie", "draws": 1000, "tune": 1000, "chains": 2, "target_accept": 0.9,
               **self.fit_defaults}
        given = {"sampler": sampler, "draws": draws, "tune": tune, "chains": chains, "target_accept": target_accept}
        run.update({k: v for k, v in given.items() if v is not None})
        settings = self.get_settings()
        start = time.perf_counter()
        # the settings are part of the compile-cache key: a model's text form need not show every setting
        idata = sample_model(model, random_seed=random_seed, progress=progress, cache_key=config_hash(settings),
                             cores=self.sampler_cores, compiled_cache=compiled_cache, **run)
        idata = self.trim_posterior(idata, arrays)
        seconds = time.perf_counter() - start
        self.arrays_ = arrays
        self.idata = self._with_metadata(idata, arrays, settings, sampler=run["sampler"], seed=random_seed)
        self.diagnostics = diagnose(self.idata, self.parameter_names(), sampler=run["sampler"], seconds=seconds)
        for message in self.diagnostics.warnings:
            warnings.warn(f"{self.name} fit: {message}", SamplerWarning, stacklevel=2)
        return self

    def attach(self, idata: az.InferenceData, arrays: Any, *, sampler: str = "external",
               random_seed: int | None = None):
        """Adopt a posterior sampled elsewhere (another sampler, a synthetic posterior in a test) for
        prepared ``arrays``: the state and settings are attached as :meth:`fit` does; returns ``self``."""
        self.arrays_ = arrays
        self.idata = self._with_metadata(idata, arrays, self.get_settings(), sampler=sampler, seed=random_seed)
        return self

    def _with_metadata(self, idata: az.InferenceData, arrays: Any, settings: dict[str, Any], *, sampler: str,
                       seed: int | None) -> az.InferenceData:
        from forecast._version import __version__

        self.label_posterior(idata.posterior, arrays)
        state = self.state(arrays)
        if state is not None:
            if "constant_data" in idata.groups():
                del idata.constant_data
            idata.add_groups(constant_data=state)
        idata.posterior.attrs.update({
            "model_settings": json.dumps(settings, sort_keys=True, default=str),
            "config_hash": config_hash(settings),
            "model_class": f"{type(self).__module__}.{type(self).__qualname__}",
            "package_version": __version__,
            "sampler": sampler,
            "random_seed": -1 if seed is None else int(seed),
            **self.fit_attrs(arrays),
        })
        return idata

    def build_prior_model(self, arrays: Any) -> pm.Model:
        """The model whose prior draws :meth:`sample_prior_predictive` takes; the same as
        :meth:`build_model` unless the fitting form uses an improper reparameterisation (a flat prior with
        the real prior as a potential, which cannot be sampled forward)."""
        return self.build_model(arrays)

    def sample_prior_predictive(self, data: Any = None, *, draws: int = 500, random_seed: int | None = None,
                                **options: Any) -> az.InferenceData:
        """What the priors alone imply: ``prior`` and ``prior_predictive`` groups for ``data``'s design
        (nothing is fitted; ``idata`` is left as it is)."""
        self.check_settings()
        with self.build_prior_model(self.prepare(data, **options)):
            return pm.sample_prior_predictive(draws=draws, random_seed=random_seed)

    def prior_predictive_of_fit(self, *, draws: int = 500, random_seed: int | None = None) -> az.InferenceData:
        """:meth:`sample_prior_predictive` for the design of the fitted data (after :meth:`fit`/:meth:`load`):
        what the priors alone imply for exactly the data the posterior saw."""
        self._require_fit()
        if getattr(self, "arrays_", None) is None:
            raise ModelStateError(f"the {self.name} model keeps no fitted arrays; pass the data to sample_prior_predictive")
        with self.build_prior_model(self.arrays_):
            return pm.sample_prior_predictive(draws=draws, random_seed=random_seed)

    # ------------------------------------------------------------------ results
    def _require_fit(self) -> az.InferenceData:
        if self.idata is None:
            raise ModelStateError(f"the {self.name} model has not been fitted: call fit(data) or "
                                  f"{type(self).__name__}.load(path) first")
        return self.idata

    @property
    def regions(self) -> list[str]:
        post = self._require_fit().posterior
        return [str(r) for r in post["region"].values] if "region" in post.dims else []

    def draw_index(self, n: int, rng: np.random.Generator) -> xr.Dataset:
        """Which posterior draw each of ``n`` forecast samples uses: ``chain`` and ``draw`` on a ``sample``
        dim (without replacement unless ``n`` exceeds the draws available), so predictions keep where each
        sample came from."""
        post = self._require_fit().posterior
        n_chains, n_draws = int(post.sizes["chain"]), int(post.sizes["draw"])
        total = n_chains * n_draws
        pick = rng.choice(total, size=n, replace=n > total)
        return xr.Dataset(coords={"sample": np.arange(n),
                                  "chain": ("sample", post["chain"].values[pick // n_draws]),
                                  "draw": ("sample", post["draw"].values[pick % n_draws])})

    def posterior_draws(self, names: list[str], n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``n`` joint posterior draws of ``names`` as arrays ``(sample[, region][, ...])``, plus ``chain`` and
        ``draw`` (which posterior draw each sample is)."""
        index = self.draw_index(n, rng)
        post = self._require_fit().posterior
        sel = post[list(names)].sel(chain=index["chain"], draw=index["draw"])
        out = {}
        for name in names:
            da = sel[name]
            out[name] = np.asarray(da.transpose("sample", *[d for d in da.dims if d != "sample"]).values)
        out["chain"], out["draw"] = index["chain"].values, index["draw"].values
        return out

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the fitted model (posterior, state, settings) to NetCDF, atomically."""
        return save_idata(self._require_fit(), path)

    @classmethod
    def load(cls, path: str | Path, **expected: Any):
        """Load a model written by :meth:`save`.

        Refuses (:class:`~forecast.errors.ModelStateError`) a file of another model or model version, one
        whose settings no longer match their hash, and one whose settings differ from ``expected`` (e.g.
        ``load(path, model_config=study_priors, degree=3)``): a saved fit is never silently reused under
        other settings.
        """
        unknown = sorted(set(expected) - set(cls.setting_names()))
        if unknown:
            raise InputError(f"{cls.__name__}.load: unknown setting(s) {', '.join(unknown)}; "
                             f"settings: {', '.join(cls.setting_names())}")
        idata, settings = load_checked(path, model=cls.name, version=cls.version,
                                       model_config=expected.get("model_config"))
        stored = {k: v for k, v in settings.items() if k not in MODEL_KEYS}
        # a setting added to the class after the file was written takes its default, which by rule
        # reproduces the model as it was (otherwise the model version is bumped and the file refused)
        stored = {**cls.setting_defaults(), **stored}
        differ = {k: (stored.get(k), v) for k, v in expected.items()
                  if k != "model_config" and _jsonable(stored.get(k)) != _jsonable(v)}
        if differ:
            detail = "; ".join(f"{k}: saved {a!r}, expected {b!r}" for k, (a, b) in differ.items())
            raise ModelStateError(f"{path} was fitted with other settings ({detail}); refit the model")
        extra = sorted(set(stored) - set(cls.setting_names()))
        if extra:
            raise ModelStateError(f"{path} holds settings {', '.join(extra)} that {cls.__name__} does not take")
        model = cls(**stored)
        model.idata = idata
        model.restore(idata)
        model.diagnostics = diagnose(idata, model.parameter_names(), sampler=str(idata.posterior.attrs.get("sampler", "")))
        return model


def _jsonable(value: Any) -> str:
    """A value as it is stored in the settings JSON (so tuples and lists, ints and floats compare alike)."""
    return json.dumps(value, sort_keys=True, default=str)


# ---------------------------------------------------------------------- panel helpers shared by models
def checked_columns(panel: pd.DataFrame, columns, *, positive, min_years: int) -> pd.DataFrame:
    """``panel[columns]`` checked and sorted by region and year: columns present, ``positive`` columns
    positive and finite, no duplicated region-years, every region with at least ``min_years`` rows.
    Each problem is an :class:`InputError` naming the column, region or year at fault."""
    if not isinstance(panel, pd.DataFrame):
        raise InputError(f"the panel must be a pandas DataFrame, got {type(panel).__name__}")
    missing = [c for c in columns if c not in panel.columns]
    if missing:
        raise InputError(f"panel lacks column(s) {', '.join(missing)}; found {', '.join(map(str, panel.columns))}")
    frame = panel.loc[:, list(columns)].copy()
    for column in positive:
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values) | (values <= 0)
        if bad.any():
            rows = frame.loc[bad, ["region", "year"]].head(3).to_dict("records")
            raise InputError(f"{column} must be positive and finite; bad rows (first 3): {rows}")
    if frame.duplicated(["region", "year"]).any():
        dup = frame.loc[frame.duplicated(["region", "year"]), ["region", "year"]].head(3).to_dict("records")
        raise InputError(f"duplicated region-year rows: {dup}")
    frame = frame.sort_values(["region", "year"], kind="stable")
    counts = frame.groupby("region", sort=True)["year"].size()
    short = counts[counts < min_years]
    if len(short):
        raise InputError(f"regions with fewer than {min_years} years of data: "
                         + ", ".join(f"{r} ({n} years)" for r, n in short.items()))
    return frame


def yearly_panel(panel: pd.DataFrame, column: str, *, min_years: int) -> pd.DataFrame:
    """``region, year, <column>`` checked (:func:`checked_columns`) with one shared last data year."""
    frame = checked_columns(panel, ["region", "year", column], positive=[column], min_years=min_years)
    frame = frame.reset_index(drop=True)
    last = frame.groupby("region")["year"].max()
    if last.nunique() > 1:
        raise InputError(f"regions must share their last data year; found {sorted(last.unique().tolist())}")
    return frame


def lagged(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Add ``d_<column>`` (change from the previous calendar year of the same region; NaN after a gap)
    and ``prev_<column>``."""
    prev = frame.groupby("region", sort=False)[["year", column]].shift(1)
    consecutive = (frame["year"] - prev["year"]) == 1
    out = frame.copy()
    out[f"prev_{column}"] = prev[column].where(consecutive)
    out[f"d_{column}"] = (frame[column] - prev[column]).where(consecutive)
    return out


def check_regions(model: BayesianModel, regions: list[str] | None) -> list[str]:
    """``regions`` (default: all the model was fitted on), each one known to the fitted model."""
    known = model.regions
    regions = list(known if regions is None else regions)
    unknown = [r for r in regions if r not in known]
    if unknown:
        raise InputError(f"regions not in the fitted {model.name} model: {', '.join(map(str, unknown))}")
    return regions
