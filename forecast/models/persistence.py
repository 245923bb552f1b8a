"""Saving and loading fitted models: one NetCDF format and one set of checks for every model class.

A saved model is its InferenceData without warm-up draws, with the model's settings (JSON) and a hash of
them in the posterior's attributes. Loading checks the model name and version, that the settings still
match their hash (the file was not altered), and optionally that it was fitted with the prior overrides
the caller expects; any mismatch is a :class:`~forecast.errors.ModelStateError`, never a silent reuse.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import arviz as az

from forecast.errors import InputError, ModelStateError


def config_hash(settings: dict[str, Any]) -> str:
    """Short, stable hash of a settings dict (also used as the compile-cache key of a model)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def save_idata(idata: az.InferenceData, path: str | Path) -> Path:
    """Write ``idata`` without warm-up groups to NetCDF, atomically (temp file, then rename)."""
    from forecast.io.atomic import atomic_path

    path = Path(path)
    keep = [g for g in idata.groups() if not g.startswith("warmup")]  # warm-up is not posterior; halves the file
    with atomic_path(path) as tmp:
        az.InferenceData(**{g: idata[g] for g in keep}).to_netcdf(str(tmp))
    return path


def load_checked(path: str | Path, *, model: str, version: str,
                 model_config: dict[str, Any] | None = None) -> tuple[az.InferenceData, dict[str, Any]]:
    """Read a saved model and verify it; returns the InferenceData and the stored settings."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"no saved model at {path}")
    if not path.is_file():
        raise InputError(f"{path} is a folder, not a saved model; give its model.nc")
    try:
        idata = az.from_netcdf(str(path))
    except (OSError, ValueError) as err:  # not HDF5 / NetCDF at all, or a truncated file
        raise InputError(f"{path} is not a model file written by carbon-forecast: it cannot be read as "
                         f"NetCDF ({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None
    if "posterior" not in idata.groups():
        raise ModelStateError(f"{path} was not written by a carbon-forecast model (no posterior group)")
    attrs = idata.posterior.attrs
    if "model_settings" not in attrs:
        raise ModelStateError(f"{path} was not written by a carbon-forecast model (no model settings)")
    settings = json.loads(attrs["model_settings"])
    found = (settings.get("model"), settings.get("model_version"))
    if found != (model, version):
        raise ModelStateError(f"{path} holds model {found[0]!r} version {found[1]!r}; "
                              f"this package reads {model!r} version {version!r}. Refit the model.")
    if config_hash(settings) != attrs.get("config_hash"):
        raise ModelStateError(f"{path}: the stored configuration does not match its hash; the file was altered")
    if model_config is not None and dict(model_config) != settings["model_config"]:
        raise ModelStateError(f"{path} was fitted with prior overrides {settings['model_config']}, "
                              f"not {dict(model_config)}; refit the model")
    return idata, settings
