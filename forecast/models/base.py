"""What the driver models (GDP per capita, population) share: settings, priors by name, fit, save, load.

A subclass says which prior family it reads (``family``), how it turns a panel into arrays
(``prepare``), which PyMC model those arrays give (``build_model``) and which parameters the diagnostics
look at (``parameter_names``). Everything else (sampling with the package's sampler choice, R-hat / ESS /
divergence checks raised as :class:`~forecast.errors.SamplerWarning`, checked NetCDF persistence) is here.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from forecast.errors import InputError, ModelStateError, SamplerWarning
from forecast.persistence import config_hash, load_checked, save_idata
from forecast.sampling import Diagnostics, diagnose, sample_model


def checked_columns(panel: pd.DataFrame, columns, *, positive, min_years: int) -> pd.DataFrame:
    """``panel[columns]`` checked and sorted by region and year: columns present, ``positive`` columns
    positive and finite, no duplicated region-years, every region with at least ``min_years`` rows.
    Each problem is an :class:`InputError` naming the column, region or year at fault."""
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


class BayesianPanelModel:
    """Base class: constructor stores settings; :meth:`fit` samples; :meth:`save` / :meth:`load` persist."""

    name = "base"
    version = "0"
    family = ""

    def __init__(self, model_config: dict[str, Any] | None = None, *, min_years: int = 10):
        self.model_config = dict(model_config or {})
        self.min_years = min_years
        self.idata: az.InferenceData | None = None
        self.diagnostics: Diagnostics | None = None

    # -- to be provided by subclasses --------------------------------------------------------------
    def prepare(self, panel: pd.DataFrame) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def build_model(self, data: dict[str, Any]) -> pm.Model:  # pragma: no cover - abstract
        raise NotImplementedError

    def parameter_names(self) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def state(self, data: dict[str, Any]) -> xr.Dataset:  # pragma: no cover - abstract
        """Per-region last observed state that forecasts start from (kept in ``constant_data``)."""
        raise NotImplementedError

    def extra_settings(self) -> dict[str, Any]:
        return {}

    # -- shared -----------------------------------------------------------------------------------
    def get_settings(self) -> dict[str, Any]:
        return {"model": self.name, "model_version": self.version, "model_config": self.model_config,
                "min_years": self.min_years, **self.extra_settings()}

    def priors(self):
        """This model's prior family with the overrides of ``model_config`` applied (unknown names fail)."""
        from forecast.priors import default_library

        prefix = f"{self.family}."
        overrides = {(k if k.startswith(prefix) else prefix + k): v for k, v in self.model_config.items()}
        return default_library().with_overrides(overrides).family(self.family)

    def priors_used(self) -> list[dict[str, Any]]:
        return [spec.to_dict() for spec in self.priors().values()]

    def fit(self, panel: pd.DataFrame, *, random_seed: int | None = None, sampler: str = "nutpie", draws: int = 1000,
            tune: int = 1000, chains: int = 2, target_accept: float = 0.9, progress: bool | None = None):
        """Sample the posterior; keeps ``idata`` (dims ``chain, draw, region``) and ``diagnostics``."""
        data = self.prepare(panel)
        model = self.build_model(data)
        start = time.perf_counter()
        idata = sample_model(model, sampler=sampler, draws=draws, tune=tune, chains=chains, random_seed=random_seed,
                             target_accept=target_accept, progress=progress)
        seconds = time.perf_counter() - start
        if "constant_data" in idata.groups():
            del idata.constant_data
        idata.add_groups(constant_data=self.state(data))
        settings = self.get_settings()
        idata.posterior.attrs.update({"model_settings": json.dumps(settings, sort_keys=True, default=str),
                                      "config_hash": config_hash(settings), "sampler": sampler,
                                      "random_seed": -1 if random_seed is None else int(random_seed)})
        self.idata = idata
        self.diagnostics = diagnose(idata, self.parameter_names(), sampler=sampler, seconds=seconds)
        for message in self.diagnostics.warnings:
            warnings.warn(f"{self.name} fit: {message}", SamplerWarning, stacklevel=2)
        return self

    def _require_fit(self) -> az.InferenceData:
        if self.idata is None:
            raise ModelStateError(f"the {self.name} model has not been fitted: call fit(panel) or load(path) first")
        return self.idata

    @property
    def regions(self) -> list[str]:
        return [str(r) for r in self._require_fit().posterior["region"].values]

    def posterior_draws(self, names: list[str], n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``n`` joint posterior draws of ``names`` (``(sample,)`` or ``(sample, region)`` arrays)."""
        post = self._require_fit().posterior.stack(sample=("chain", "draw"))
        pick = rng.choice(post.sizes["sample"], size=n, replace=n > post.sizes["sample"])
        out = {}
        for name in names:
            da = post[name]
            da = da.transpose("sample", "region") if "region" in da.dims else da
            out[name] = np.asarray(da.values)[pick]
        return out

    def save(self, path: str | Path) -> Path:
        """Write the fitted model (posterior, region state, settings) to NetCDF, atomically."""
        return save_idata(self._require_fit(), path)

    @classmethod
    def load(cls, path: str | Path, *, model_config: dict[str, Any] | None = None):
        """Load a model written by :meth:`save`; a file of another model, version or config fails loudly."""
        idata, settings = load_checked(path, model=cls.name, version=cls.version, model_config=model_config)
        kwargs = {k: v for k, v in settings.items() if k not in ("model", "model_version", "model_config")}
        model = cls(settings["model_config"], **kwargs)
        model.idata = idata
        model.diagnostics = diagnose(idata, model.parameter_names(), sampler=str(idata.posterior.attrs.get("sampler", "")))
        return model
