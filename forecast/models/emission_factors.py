"""Hierarchical Bayesian emission factors by category (fuel types; any positive factor).

The model
---------
For each category ``c`` (a key of the ``emission_factors`` prior family, ``priors/emission_factors.toml``):

    log factor_c        = mu_c + s_c * z0_c,          z0_c ~ N(0, 1)      (factor_c ~ LogNormal(mu_c, s_c))
    tau_c               ~ HalfNormal  (prior ``region_sigma``)
    log factor_{c,r}    = log factor_c + tau_c * z_{c,r},  z_{c,r} ~ N(0, 1)
    sigma_c             ~ HalfNormal  (prior ``measurement_sigma``)
    measurement_{c,r,i} ~ LogNormal(log factor_{c,r}, sigma_c)

``mu_c, s_c`` come from the IPCC default and its 95 % range (:func:`lognormal_from_range`). Measurements
(plant- or sample-level factors; ``region`` may also be a sample source) are data; regions are partially
pooled towards the category factor, so a region with few measurements is pulled towards ``factor_c`` more
than one with many. Without measurements the model is prior only (``factor_c`` only; posterior = prior).
All region-category pairs are in the model, so a region without measurements of one category gets that
category's factor with the between-region spread (the prior predictive of a region).

Non-centred forms throughout: the prior scales are a few %, the log factors ~11.

Measurements from a file: :func:`forecast.policy.factor_data.read_factor_measurements` (checked, converted to
the prior units, each row with its citation) gives the frame ``fit`` takes; ``carbon-forecast factors`` fits and
saves the model, ``carbon-forecast inventory --factors`` and ``[inventory] factors`` use its posterior.
"""

from __future__ import annotations

from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from forecast.errors import InputError, did_you_mean
from forecast.policy.inventory import factor_unit_ratio
from forecast.models.base import BayesianModel
from forecast.priors import lognormal_from_range

__all__ = ["EmissionFactorModel", "lognormal_from_range", "prior_factor_draws", "HYPERPRIORS"]

MODEL_VERSION = "emission-factors-1"
FAMILY = "emission_factors"
HYPERPRIORS = ("region_sigma", "measurement_sigma")
Z95 = 1.959963984540054
DEFAULT_REGION = "all"


def _priors(model_config: dict[str, Any] | None, family: str = FAMILY):
    from forecast.priors import default_library

    overrides = {(k if "." in k else f"{family}.{k}"): v for k, v in (model_config or {}).items()}
    return default_library().with_overrides(overrides).family(family)


def _category_specs(specs: dict, categories: list[str] | None, family: str) -> dict:
    available = {k: v for k, v in specs.items() if k not in HYPERPRIORS and v.distribution == "LogNormal"}
    if categories is None:
        return available
    out = {}
    for c in categories:
        if c not in available:
            hint = did_you_mean(c, available, cutoff=0.5)
            raise InputError(f"unknown emission-factor category {c!r}{hint}; priors/{family}.toml has {', '.join(available)}")
        out[c] = available[c]
    return out


def prior_factor_draws(categories: list[str] | None = None, n: int = 1000, random_seed: int | None = None,
                       model_config: dict[str, Any] | None = None) -> xr.DataArray:
    """Draws of the category factors straight from their priors: (sample, category), no sampling run."""
    specs = _category_specs(_priors(model_config), categories, FAMILY)
    rng = np.random.default_rng(random_seed)
    cats = list(specs)
    values = np.column_stack([np.exp(specs[c].params["mu"] + specs[c].params["sigma"] * rng.standard_normal(n)) for c in cats])
    return _with_units(xr.DataArray(values, dims=("sample", "category"),
                                    coords={"sample": np.arange(n), "category": cats}, name="factor"), specs)


def _with_units(da: xr.DataArray, specs: dict) -> xr.DataArray:
    cats = [str(c) for c in da["category"].values]
    units = [specs[c].units for c in cats]
    da = da.assign_coords(units=("category", units))
    if len(set(units)) == 1:
        da.attrs["units"] = units[0]
    return da


class EmissionFactorModel(BayesianModel):
    """Hierarchical log-normal emission factors (see the module docstring for the equations).

    Parameters
    ----------
    model_config:
        Prior overrides by name, e.g. ``{"natural_gas": {"params": {"sigma": 0.05}}}`` (the
        ``emission_factors.`` prefix may be omitted).
    centered_min_n:
        Region cells with at least this many measurements use the centred form, the others the non-centred.
        Default ``None``: all non-centred (measured best on simulated data with 2-50 measurements per region:
        centring the data-rich cells gave divergences through the tau-category funnel when few regions
        inform a category).
    categories:
        Categories to model (keys of ``priors/emission_factors.toml``); default: those with measurements,
        or all categories when there are none.
    """

    name = "emission_factors"
    version = MODEL_VERSION
    family = FAMILY
    fit_defaults = {"target_accept": 0.95}  # the tau-category funnel needs small steps

    def __init__(self, model_config: dict[str, Any] | None = None, *, categories: list[str] | None = None,
                 centered_min_n: int | None = None):
        super().__init__(model_config)
        self.categories = list(categories) if categories is not None else None
        self.centered_min_n = None if centered_min_n is None else int(centered_min_n)

    # ------------------------------------------------------------------ settings
    def priors(self) -> dict:
        return _priors(self.model_config)

    def priors_used(self, categories: list[str] | None = None, with_measurements: bool = True) -> list[dict[str, Any]]:
        specs = self.priors()
        cats = _category_specs(specs, categories or self.categories, FAMILY)
        used = [cats[c].to_dict() for c in cats]
        if with_measurements:
            used += [specs[h].to_dict() for h in HYPERPRIORS]
        return used

    # ------------------------------------------------------------------ data
    def prepare(self, data: pd.DataFrame | None = None, **options: Any) -> dict[str, Any]:
        """Check measurements (columns ``category, value[, region, units]``) and convert to prior units."""
        specs = self.priors()
        if data is None or len(data) == 0:
            cats = _category_specs(specs, self.categories, FAMILY)
            return {"categories": list(cats), "regions": [], "cat_idx": np.zeros(0, int), "reg_idx": np.zeros(0, int),
                    "values": np.zeros(0), "specs": cats}
        if not isinstance(data, pd.DataFrame):
            raise InputError(f"measurements must be a pandas DataFrame, got {type(data).__name__}")
        missing = [c for c in ("category", "value") if c not in data.columns]
        if missing:
            raise InputError(f"measurements lack column(s) {', '.join(missing)}; need category, value[, region, units]")
        frame = data.copy()
        frame["category"] = frame["category"].astype(str)
        frame["region"] = frame["region"].astype(str) if "region" in frame.columns else DEFAULT_REGION
        values = pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values) | (values <= 0)
        if bad.any():
            rows = frame.loc[bad, ["category", "region"]].head(3).to_dict("records")
            raise InputError(f"measured factors must be positive and finite; bad rows (first 3): {rows}")
        wanted = self.categories if self.categories is not None else list(dict.fromkeys(frame["category"]))
        cats = _category_specs(specs, wanted, FAMILY)
        unknown = sorted(set(frame["category"]) - set(cats))
        if unknown:
            _category_specs(specs, unknown, FAMILY)  # raises with suggestions if not in the library
            raise InputError(f"measurements for categories not modelled: {', '.join(unknown)} (categories={self.categories})")
        if "units" in frame.columns:
            ratio = np.array([factor_unit_ratio(str(u), cats[c].units, category=c)
                              for u, c in zip(frame["units"], frame["category"])])
            values = values * ratio
        regions = list(dict.fromkeys(frame["region"]))
        return {
            "categories": list(cats),
            "regions": regions,
            "cat_idx": pd.Categorical(frame["category"], categories=list(cats)).codes.astype(int),
            "reg_idx": pd.Categorical(frame["region"], categories=regions).codes.astype(int),
            "values": values,
            "specs": cats,
        }

    def build_model(self, prepared: dict[str, Any]) -> pm.Model:
        specs = self.priors()
        cats = prepared["categories"]
        mu = np.array([prepared["specs"][c].params["mu"] for c in cats])
        s = np.array([prepared["specs"][c].params["sigma"] for c in cats])
        coords: dict[str, Any] = {"category": cats}
        has_data = len(prepared["values"]) > 0
        if has_data:
            coords["region"] = prepared["regions"]
            coords["obs"] = np.arange(len(prepared["values"]))
        with pm.Model(coords=coords) as model:
            z0 = pm.Normal("factor_z", 0.0, 1.0, dims="category")
            log_factor = pm.Deterministic("log_factor", mu + s * z0, dims="category")
            pm.Deterministic("factor", pm.math.exp(log_factor), dims="category")
            if has_data:
                tau = specs["region_sigma"].to_pymc("tau", dims="category")
                # Mixed parameterisation: cells (category, region) with at least ``centered_min_n``
                # measurements are centred (the data pin them down), the others non-centred (no funnel).
                n_c, n_r = len(cats), len(prepared["regions"])
                counts = np.zeros((n_c, n_r), int)
                np.add.at(counts, (prepared["cat_idx"], prepared["reg_idx"]), 1)
                flat = counts.ravel()
                cell_cat = np.repeat(np.arange(n_c), n_r)
                threshold = np.inf if self.centered_min_n is None else self.centered_min_n
                cen = np.flatnonzero(flat >= threshold)
                non = np.flatnonzero(flat < threshold)
                log_flat = pt.zeros(n_c * n_r)
                if len(non):
                    z = pm.Normal("region_z", 0.0, 1.0, shape=len(non))
                    log_flat = pt.set_subtensor(log_flat[non], log_factor[cell_cat[non]] + tau[cell_cat[non]] * z)
                if len(cen):
                    x = pm.Normal("region_log_centered", mu=log_factor[cell_cat[cen]], sigma=tau[cell_cat[cen]],
                                  shape=len(cen))
                    log_flat = pt.set_subtensor(log_flat[cen], x)
                log_region = pm.Deterministic("log_region_factor", log_flat.reshape((n_c, n_r)),
                                              dims=("category", "region"))
                pm.Deterministic("region_factor", pm.math.exp(log_region), dims=("category", "region"))
                sigma = specs["measurement_sigma"].to_pymc("sigma_meas", dims="category")
                ci, ri = prepared["cat_idx"], prepared["reg_idx"]
                pm.Normal("log_measurement", mu=log_region[ci, ri], sigma=sigma[ci],
                          observed=np.log(prepared["values"]), dims="obs")
        return model

    def parameter_names(self) -> list[str]:
        names = ["factor"]
        if self.idata is not None and "tau" in self.idata.posterior:
            names += ["tau", "sigma_meas", "region_factor"]
        return names

    # ------------------------------------------------------------------ fit
    def label_posterior(self, posterior: xr.Dataset, prepared: dict[str, Any]) -> None:
        for var in ("factor", "region_factor"):
            if var in posterior:
                posterior[var] = _with_units(posterior[var], prepared["specs"])
                posterior[var].attrs["long_name"] = "CO2 emission factor"

    def state(self, prepared: dict[str, Any]) -> xr.Dataset | None:
        """Measurements per (category, region); ``None`` for a prior-only fit."""
        if not prepared["regions"]:
            return None
        counts = np.zeros((len(prepared["categories"]), len(prepared["regions"])), int)
        np.add.at(counts, (prepared["cat_idx"], prepared["reg_idx"]), 1)
        return xr.Dataset({"n_measurements": (("category", "region"), counts)},
                          coords={"category": prepared["categories"], "region": prepared["regions"]})

    def fit_attrs(self, prepared: dict[str, Any]) -> dict[str, Any]:
        return {"prior_only": int(not prepared["regions"])}

    # ------------------------------------------------------------------ outputs
    @property
    def category_names(self) -> list[str]:
        return [str(c) for c in self._require_fit().posterior["category"].values]

    @property
    def regions(self) -> list[str]:
        post = self._require_fit().posterior
        return [str(r) for r in post["region"].values] if "region" in post.dims else []

    def factors(self, level: str = "region") -> xr.DataArray:
        """Posterior factors (chain, draw, category[, region]) with ``units``.

        ``level="region"`` gives region factors when measurements had regions, else the category factors;
        ``level="category"`` always the category factor.
        """
        post = self._require_fit().posterior
        if level not in ("region", "category"):
            raise InputError(f"level must be 'region' or 'category', got {level!r}")
        if level == "region" and "region_factor" in post:
            return post["region_factor"]
        return post["factor"]

    def factor_draws(self, n: int = 1000, random_seed: int | None = None, level: str = "region") -> xr.DataArray:
        """``n`` posterior draws (resampled with replacement) as (sample, category[, region]) with units.

        ``level="new_region"`` draws the factor of a region without measurements
        (``exp(log factor_c + tau_c z)``; ``tau_c`` from its posterior; a prior-only fit has ``tau_c = 0``:
        its category prior, the IPCC range, already spans sources, see ``priors/emission_factors.toml``).
        """
        post = self._require_fit().posterior
        rng = np.random.default_rng(random_seed)
        if level == "new_region":
            base = post["log_factor"].stack(sample=("chain", "draw")).transpose("sample", "category").values
            idx = rng.integers(0, base.shape[0], size=n)
            if "tau" in post:
                tau = post["tau"].stack(sample=("chain", "draw")).transpose("sample", "category").values[idx]
            else:
                # prior only: the category prior is the IPCC range, which already spans the factors of
                # different sources and countries; adding the between-region scale would count it twice
                tau = np.zeros(base[idx].shape)
            values = np.exp(base[idx] + tau * rng.standard_normal(tau.shape))
            da = xr.DataArray(values, dims=("sample", "category"),
                              coords={"sample": np.arange(n), "category": post["category"].values}, name="factor")
            return _with_units(da, self.priors())
        src = self.factors(level)
        stacked = src.stack(sample=("chain", "draw")).reset_index("sample", drop=True)
        idx = rng.integers(0, stacked.sizes["sample"], size=n)
        out = stacked.isel(sample=idx).assign_coords(sample=np.arange(n))
        dims = ("sample", "category") + (("region",) if "region" in out.dims else ())
        out = out.transpose(*dims)
        out.attrs = dict(src.attrs)
        return out

    def predict(self, drivers: Any = None, *, draws: int = 1000, random_seed: int | None = None,
                level: str = "region") -> xr.Dataset:
        """Posterior factor draws as a Dataset: ``factor`` ``(sample, category[, region])`` with units.
        With ``drivers`` (activities: a mapping category -> activity or a table ``category, value, units``)
        also ``emissions``: the Approach 2 total over as many draws (Mt CO2, :meth:`inventory`)."""
        ds = xr.Dataset({"factor": self.factor_draws(draws, random_seed=random_seed, level=level)})
        if drivers is not None:
            total = self.inventory(drivers, n=draws, random_seed=random_seed, level=level).total
            ds["emissions"] = total.assign_coords(sample=ds["sample"].values).assign_attrs(
                units=total.attrs.get("units", "Mt CO2"), long_name="inventory total (Approach 2)")
        return ds

    def inventory(self, activities: Any, **kwargs: Any):
        """IPCC Approach 2 inventory over this model's posterior factor draws: Σ activity × factor per draw
        (see :func:`forecast.policy.inventory.inventory_from_posterior` for ``region``, ``level``, ``n``, ...)."""
        from forecast.policy.inventory import inventory_from_posterior

        return inventory_from_posterior(self, activities, **kwargs)

    def summary(self, hdi_prob: float = 0.94) -> pd.DataFrame:
        """Posterior median and HDI of the factors, one row per category (and region)."""
        frames = []
        for level in ("category", "region"):
            da = self.factors(level)
            if level == "region" and "region" not in da.dims:
                continue
            med = da.median(("chain", "draw"))
            hdi = az.hdi(da, hdi_prob=hdi_prob)[da.name]
            parts = {"median": med, "hdi_low": hdi.sel(hdi="lower", drop=True), "hdi_high": hdi.sel(hdi="higher", drop=True)}
            frame = xr.Dataset({k: v.drop_vars("units", errors="ignore") for k, v in parts.items()}
                               ).to_dataframe().reset_index()
            frame.insert(0, "level", level)
            frames.append(frame)
        out = pd.concat(frames, ignore_index=True)
        out.attrs["units"] = self.factors("category").attrs.get("units", "")
        return out
