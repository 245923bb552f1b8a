"""Machine-readable exports of a study run (stable, documented schema).

:func:`export_all` writes four files into one directory (wrap it in
:func:`forecast.io.atomic.atomic_output_dir` for an all-or-nothing write):

``bands.csv`` and ``bands.parquet`` — quantile bands (:func:`quantile_bands`), described for other tools
    by a Frictionless Tabular Data Package descriptor ``datapackage.json`` (:func:`datapackage`)
    A tidy long table, one row per ``(region, variable, variant, year)``, sorted by region, variable,
    variant, year. Columns, in this order:

    ========== ======= =============================================================================
    column     type    meaning
    ========== ======= =============================================================================
    region     string  region name as in the input data
    year       int     calendar year (history and forecast horizon)
    variable   string  ``co2`` (Mt CO2/yr), ``co2_per_capita`` (t CO2/person/yr),
                       ``gdp_per_capita`` (int-$ 2011/person), ``population`` (people), ...
    variant    string  ``""`` for a variable without variants; else the variant as ``dim=value``
                       (e.g. ``cfe=constant`` for the sink with the CO2-fertilisation effect held at
                       its last fitted value, ``scenario=ndc_2030`` for a scenario of a run that
                       compares scenarios; several dims joined by ``,``)
    units      string  units of ``mean`` and the quantile columns (the variable's ``units`` attr)
    observed   bool    True in the years the region's data were observed (history), else False
    mean       float   mean over posterior predictive samples
    q05 … q95  float   sample quantiles (linear interpolation, NaNs skipped), one column per level
    ========== ======= =============================================================================

    Quantile column names are ``q`` followed by the digits of the level after the decimal point,
    with trailing zeros removed and right-padded to at least two digits: 0.05 → ``q05``,
    0.5 → ``q50``, 0.95 → ``q95``, 0.025 → ``q025``, 0.975 → ``q975``. The default levels are
    0.05, 0.25, 0.5, 0.75, 0.95. In history years every sample holds the observed value, so all
    quantiles equal the observation. Floats are written with full (round-trip) precision, so
    ``pd.read_parquet(path)`` gives back the same frame, and so does ``pd.read_csv(path,
    keep_default_na=False)`` (without ``keep_default_na=False`` pandas reads the empty ``variant`` of
    a variable without variants as NaN).

``forecast.nc`` — all draws (:func:`export_netcdf`)
    NetCDF-4 (HDF5, written with h5netcdf), zlib-compressed. Same dimensions, coordinates and
    variables as ``RunResult.forecast``: dims ``(sample, region, year)`` and, for variables with
    variants, a variant dim (``cfe`` for ``sink`` and ``net_co2``); variables ``co2``,
    ``co2_per_capita``, ``gdp_per_capita``, ``population`` (each with ``units`` and ``long_name``);
    coordinates ``is_forecast (year)`` and ``last_observed_year (region)``; CF-1.8 metadata (global
    ``Conventions`` and ``featureType = timeSeries``; a ``time (year)`` coordinate at mid-year in days since
    1970 with one-year ``time_bnds``, written for years 1678-2261; ``cell_methods``; ``units`` in UDUNITS
    form such as ``Mt yr-1``, with the package's own label, e.g. ``Mt CO2/yr``, in ``units_label``;
    ``region`` as ``cf_role = timeseries_id``); plus the data variable
    ``peak_year (sample, region)`` (int32, calendar year of maximum total emissions per sample).
    A run that compares scenarios (``[scenario] compare``, ``[policy.<name>]``) has them on one ``scenario``
    dim (:mod:`forecast.scenarios.axis`): ``co2``, ``co2_per_capita``, ``net_co2`` and ``peak_year`` gain it
    (``gdp_per_capita`` and ``population`` too when GDP / population scenarios are compared), with the
    string coordinates ``scenario_kind``, ``scenario_drivers``, ``scenario_description`` and
    ``scenario_source`` along it; the study's own scenario comes first.
    Floating-point variables are stored as float32 (about 7 significant digits). Global attributes:

    ``study`` (study name), ``title``, ``seed`` (int, or string if not an integer), ``created``
    (ISO 8601 UTC timestamp), ``package_version`` (``forecast.__version__``: the installed
    distribution version, or ``"0.0.0+source"`` in an uninstalled source tree), ``schema_version``
    (int, currently 2), and ``provenance``, ``priors`` and ``study_settings``: JSON strings (NetCDF
    attributes cannot hold nested structures; decode them with ``json.loads``).

``summary.json`` — headline numbers (:func:`summary_dict`)
    UTF-8 JSON, strictly valid (missing values / NaN are written as ``null``)::

        {
          "schema_version": 2,
          "package_version": "0.1.0",
          "created": "2025-01-01T12:00:00+00:00",
          "study": {...study settings: name, title, focus_regions, horizon, seed, quantiles, ...},
          "provenance": [{"source", "path", "sha256", "rows", "year_min", "year_max", "url"?}, ...],
          "priors": [{"name", "distribution", "params", "units", "source", "citation"}, ...],
          "diagnostics": {
            "sampler": str|null, "chains": int|null, "draws": int|null,
            "divergences": int|null, "max_r_hat": float|null,
            "min_ess_bulk": float|null, "min_ess_tail": float|null,
            "warnings": [str, ...]
          },
          "scenarios": [{"name", "kind", "drivers", "description", "source"}, ...]
                           # only when the run compares scenarios: the scenario dim, in order
          "sinks": {...}   # only when the study enables sinks: p_cfe_decline, cfe_half_life_years,
                           # cfe_percent_per_100ppm {year: {mean, q05, q50, q95}}, neutrality
                           # {cfe: {region: {p_neutral_by_<year>, ...}}} (cfe: declining, constant),
                           # sink_overstatement_if_cfe_constant {"region|year": {...}} (Mt CO2/yr)
          "regions": {
            "<region>": {
              "focus": bool,                         # listed in study.focus_regions
              "last_observed_year": int|null,
              "p_already_peaked": float|null,        # probabilities in [0, 1]
              "p_peak_by_2030": float|null,          # P(peak year <= 2030)
              "p_peak_by_2035": float|null,          # (+ any other p_peak_by_<year> of the study)
              "p_no_peak_by_horizon": float|null,
              "peak_year": {"q05": ..., "q50": ..., "q95": ...},
              "peak_co2": {"mean": ..., "q05": ..., "q95": ..., "units": "Mt CO2/yr"},
              "p_inverted_u": float|null,
              "turning_point_gdp_per_capita": {"q05": ..., "q50": ..., "q95": ...,
                                               "units": "int-$ 2011/person"},
              "last_gdp_per_capita": float|null,
              "targets": [{"target": str, "kind": str, "year": int, "p_met": float}, ...]
                                                     # only when the study has [[targets]]
              "effort": [{"target", "lever", "probability", "status", "required", "required_low",
                          "required_high", "units", "extra_decline_pct"}, ...]
                                                     # with [[targets]] and [effort] enabled: the extra
                                                     # intensity decline (or sink) for P(met) >= probability;
                                                     # status "unreachable" has required null
              "policy_scenarios": [{"scenario", "scenario_kind", "policy", "target", "p_met"}, ...]
                                                     # with [[targets]] and a scenario dim: P(met) in
                                                     # every scenario; policy = what it assumes
            }, ...
          }
        }

    Keys are always present; values that the run did not produce are ``null``.

Schema changes that remove or rename a column or key bump ``schema_version``; additions do not.
Version 2: variants are coordinates, not parallel variables (``sink`` and ``net_co2`` gain a ``cfe``
dim; ``sink_constant_cfe`` and ``neutrality_constant_cfe`` are gone), bands gain ``variant`` and
``observed``.
"""

from __future__ import annotations

import datetime as _dt
import io
import itertools
import warnings
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from forecast._version import __version__
from forecast.io.atomic import atomic_path, atomic_write_bytes, atomic_write_text
from forecast.errors import InputError
from forecast.io.jsonable import to_jsonable  # re-exported (in __all__) for existing callers
from forecast.metrics import is_missing, last_observed_years, peak_by_years, peak_probability  # idem
from forecast.run.results import RunResult

__all__ = [
    "DEFAULT_LEVELS",
    "SCHEMA_VERSION",
    "band_columns",
    "export_all",
    "export_bands",
    "export_json",
    "export_netcdf",
    "level_column",
    "package_version",
    "peak_by_years",
    "peak_probability",
    "quantile_bands",
    "summary_dict",
    "to_jsonable",
]

SCHEMA_VERSION = 2
DEFAULT_LEVELS: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)

BANDS_CSV = "bands.csv"
BANDS_PARQUET = "bands.parquet"
NETCDF_FILE = "forecast.nc"
JSON_FILE = "summary.json"
DATAPACKAGE_FILE = "datapackage.json"



# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def package_version() -> str:
    """``forecast.__version__``: the installed distribution's version, or ``"0.0.0+source"`` when not installed."""
    return __version__


def level_column(level: float) -> str:
    """Column name of a quantile level: 0.05 → 'q05', 0.5 → 'q50', 0.975 → 'q975', 1 → 'q100'."""
    try:
        lv = float(level)
    except (TypeError, ValueError) as exc:
        raise InputError(f"Quantile level {level!r} is not a number.") from exc
    if not (0.0 <= lv <= 1.0) or math.isnan(lv):
        raise InputError(f"Quantile level {level!r} must lie in [0, 1].")
    if lv == 1.0:
        return "q100"
    digits = f"{lv:.12f}".split(".")[1].rstrip("0")
    return "q" + digits.ljust(2, "0")


def band_columns(levels: Sequence[float] = DEFAULT_LEVELS) -> list[str]:
    """The exact column list of :func:`quantile_bands` for ``levels``."""
    return ["region", "year", "variable", "variant", "units", "observed", "mean", *(level_column(lv) for lv in levels)]


def _check_levels(levels: Iterable[float]) -> list[float]:
    levels = [float(lv) for lv in levels]
    if not levels:
        raise InputError("At least one quantile level is required.")
    names = [level_column(lv) for lv in levels]
    if len(set(names)) != len(names):
        raise InputError(f"Quantile levels {levels} give duplicate column names {names}.")
    return levels


def _json_dumps(obj: Any) -> str:
    return json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


# --------------------------------------------------------------------------------------------------
# quantile bands
# --------------------------------------------------------------------------------------------------


def quantile_bands(
    ds: xr.Dataset,
    variables: Sequence[str] | None = None,
    levels: Sequence[float] = DEFAULT_LEVELS,
) -> pd.DataFrame:
    """Tidy quantile bands over the ``sample`` dimension (see module docstring for the schema).

    Parameters
    ----------
    ds:
        Dataset with dims ``(sample, region, year)`` (any order).
    variables:
        Variables to summarise; default: every data variable with ``sample``, ``region`` and ``year``
        dims (further dims are variants: one set of rows per variant).
    levels:
        Quantile levels in [0, 1].
    """
    levels = _check_levels(levels)
    qcols = [level_column(lv) for lv in levels]
    if variables is None:
        variables = [
            str(v)
            for v, da in ds.data_vars.items()
            if {"sample", "region", "year"} <= set(da.dims)
        ]
    else:
        variables = list(variables)
        for v in variables:
            if v not in ds.data_vars:
                raise InputError(f"Variable {v!r} is not in the forecast dataset (has {list(ds.data_vars)}).")
            if "sample" not in ds[v].dims:
                raise InputError(f"Variable {v!r} has no 'sample' dimension; cannot compute bands.")
            if "region" not in ds[v].dims or "year" not in ds[v].dims:
                raise InputError(f"Variable {v!r} needs 'region' and 'year' dimensions for quantile bands.")
    frames = [_variant_bands(ds, v, sel, levels, qcols) for v in variables for sel in _variants(ds[v])]
    frames = [f for f in frames if len(f)]
    columns = band_columns(levels)
    if frames:
        df = pd.concat(frames, ignore_index=True)
    else:
        df = pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
    df = df[columns].astype(
        {"region": "str", "variable": "str", "variant": "str", "units": "str", "year": "int64", "observed": "bool"}
        | {c: "float64" for c in ["mean", *qcols]}
    )
    df = df.sort_values(["region", "variable", "variant", "year"], kind="stable").reset_index(drop=True)
    return df


def _variants(da: xr.DataArray) -> list[dict[str, Any]]:
    """One selection per variant of ``da`` (every combination of its dims beyond sample, region, year)."""
    dims = [d for d in da.dims if d not in ("sample", "region", "year")]
    combos = itertools.product(*[da[d].values.tolist() for d in dims])
    return [dict(zip(dims, combo)) for combo in combos]


def _variant_bands(ds: xr.Dataset, name: str, sel: dict[str, Any], levels: list[float], qcols: list[str]) -> pd.DataFrame:
    """Band rows of one variable (one variant of it), defined cells only."""
    da = ds[name].sel(sel).astype("float64")
    with warnings.catch_warnings():
        # variables defined for some regions or years only (e.g. sinks) are NaN elsewhere
        warnings.filterwarnings("ignore", message="All-NaN slice", category=RuntimeWarning)
        warnings.filterwarnings("ignore", message="Mean of empty slice", category=RuntimeWarning)
        q = da.quantile(levels, dim="sample").transpose("region", "year", "quantile")
        mean = da.mean("sample").transpose("region", "year")
    regions = [str(r) for r in da["region"].values]
    years = np.asarray(da["year"].values).astype("int64")
    n_r, n_y = len(regions), len(years)
    observed = np.zeros((n_r, n_y), dtype=bool)
    if "last_observed_year" in ds.coords:
        last = np.asarray(ds["last_observed_year"].reindex(region=da["region"].values).values, dtype=float)
        observed = years[None, :] <= last[:, None]
    if "is_forecast" in ds.coords:
        observed &= ~np.asarray(ds["is_forecast"].reindex(year=da["year"].values).values, dtype=bool)[None, :]
    data: dict[str, Any] = {
        "region": np.repeat(np.array(regions, dtype=object), n_y),
        "year": np.tile(years, n_r),
        "variable": [name] * (n_r * n_y),
        "variant": [",".join(f"{k}={v}" for k, v in sel.items())] * (n_r * n_y),
        "units": [str(ds[name].attrs.get("units", ""))] * (n_r * n_y),
        "observed": observed.reshape(-1),
        "mean": mean.values.reshape(-1),
    }
    qv = q.values.reshape(n_r * n_y, len(levels))
    for i, col in enumerate(qcols):
        data[col] = qv[:, i]
    frame = pd.DataFrame(data)
    return frame[frame["mean"].notna()]  # rows where the variable is not defined


def export_bands(
    result: RunResult, out_dir: str | os.PathLike[str], levels: Sequence[float] = DEFAULT_LEVELS
) -> dict[str, Path]:
    """Write ``bands.csv``, ``bands.parquet`` and their ``datapackage.json`` (Frictionless descriptor)
    into ``out_dir``; return ``{"csv": path, "parquet": path, "datapackage": path}``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    df = quantile_bands(result.predictions(), levels=levels)
    csv_path = atomic_write_text(out_dir / BANDS_CSV, df.to_csv(index=False, lineterminator="\n"))
    buf = io.BytesIO()
    df.to_parquet(buf, index=False, engine="pyarrow")
    parquet_path = atomic_write_bytes(out_dir / BANDS_PARQUET, buf.getvalue())
    package = atomic_write_text(out_dir / DATAPACKAGE_FILE, json.dumps(datapackage(list(df.columns)), indent=1) + "\n")
    return {"csv": csv_path, "parquet": parquet_path, "datapackage": package}


_FIELD_DOCS = {
    "region": ("string", "region name as in the input data"),
    "year": ("integer", "calendar year (history and forecast horizon)"),
    "variable": ("string", "forecast variable, e.g. co2 (Mt CO2/yr), co2_per_capita, gdp_per_capita, population"),
    "variant": ("string", "empty for a variable without variants, else dim=value (e.g. cfe=constant, scenario=ndc_2030)"),
    "units": ("string", "units of mean and the quantile columns"),
    "observed": ("boolean", "True in the years the region's data were observed (history)"),
    "mean": ("number", "mean over posterior predictive samples"),
}


def datapackage(columns: Sequence[str], *, name: str = "carbon-forecast-bands") -> dict[str, Any]:
    """A Frictionless Tabular Data Package descriptor for ``bands.csv`` / ``bands.parquet`` with the
    given column order: field types and meanings, the primary key, and "" as the missing value only in
    the number columns (an empty ``variant`` is a value, not a missing one)."""
    fields = []
    for column in columns:
        kind, text = _FIELD_DOCS.get(column, ("number", f"sample quantile at level 0.{column[1:]}"))
        field = {"name": column, "type": kind, "description": text}
        if kind == "boolean":
            field.update(trueValues=["True"], falseValues=["False"])
        if kind == "number":
            field["missingValues"] = [""]
        fields.append(field)
    schema = {"fields": fields, "primaryKey": ["region", "variable", "variant", "year"], "missingValues": []}
    return {
        "profile": "tabular-data-package", "name": name, "version": f"{SCHEMA_VERSION}.0.0",
        "description": "Quantile bands of a carbon-forecast run: one row per region, variable, variant and year.",
        "resources": [
            {"name": "bands", "path": BANDS_CSV, "profile": "tabular-data-resource", "format": "csv",
             "mediatype": "text/csv", "encoding": "utf-8", "schema": schema},
            {"name": "bands-parquet", "path": BANDS_PARQUET, "format": "parquet",
             "mediatype": "application/vnd.apache.parquet", "schema": schema},
        ],
    }


# --------------------------------------------------------------------------------------------------
# NetCDF
# --------------------------------------------------------------------------------------------------


def _netcdf_attr(value: Any) -> Any:
    """A value NetCDF can store as an attribute: str, number, or 1-D list of numbers; else JSON string."""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, (str, int, float, np.integer, np.floating)):
        return value
    if isinstance(value, (list, tuple, np.ndarray)):
        arr = np.asarray(value)
        if arr.ndim == 1 and arr.size and arr.dtype.kind in "iuf":
            return arr
        if arr.ndim == 1 and arr.size and all(isinstance(x, str) for x in value):
            return json.dumps(list(value), ensure_ascii=False)
    return json.dumps(to_jsonable(value), ensure_ascii=False, allow_nan=False)


def _clean_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): _netcdf_attr(v) for k, v in attrs.items() if v is not None}


#: the package's unit labels -> UDUNITS strings that CF readers parse; the label stays in ``units_label``.
#: Quantities UDUNITS cannot name (people, international dollars, calendar years) are "1" per CF.
CF_UNITS = {
    "Mt CO2/yr": "Mt yr-1", "Mt CO2/yr (positive = emission)": "Mt yr-1", "t CO2 per person per yr": "t yr-1",
    "t CO2/person/yr": "t yr-1", "int-$/person": "1",
    "people": "1", "international-$ (2011 prices) per person": "1", "int-$ 2011/person": "1", "year": "1",
    "yr": "yr", "1/yr": "yr-1", "t C/ha/yr": "t ha-1 yr-1", "Mha": "Mha", "1": "1",
}
#: rates of a year (annual totals / means) vs values at a point in the year (mid-year population)
CF_CELL_METHODS = {"co2": "time: mean", "co2_per_capita": "time: mean", "gdp_per_capita": "time: mean",
                   "sink": "time: mean", "net_co2": "time: mean", "population": "time: point"}
#: days from the CF reference date to 1 July of each year are the time coordinate's values
CF_TIME_UNITS = "days since 1970-01-01 00:00:00"


def _cf_time(years: np.ndarray) -> tuple[xr.DataArray, xr.DataArray]:
    """Mid-year ``time`` (year) and its one-year ``time_bnds`` (year, nv) in days since 1970, proleptic
    Gregorian: a reader that knows CF sees dates; ``year`` stays the dimension for everyone else."""
    origin = np.datetime64("1970-01-01")
    mid = np.array([(np.datetime64(f"{int(y):04d}-07-01") - origin).astype(int) for y in years], dtype=float)
    bounds = np.array([[(np.datetime64(f"{int(y):04d}-01-01") - origin).astype(int),
                        (np.datetime64(f"{int(y) + 1:04d}-01-01") - origin).astype(int)] for y in years], dtype=float)
    time = xr.DataArray(mid, dims="year", attrs={"standard_name": "time", "long_name": "middle of the year",
                                                 "axis": "T", "bounds": "time_bnds"})
    return time, xr.DataArray(bounds, dims=("year", "nv"))


def _cf_attrs(ds: xr.Dataset) -> xr.Dataset:
    """CF-1.8 metadata: UDUNITS units (the package's label kept in ``units_label``), cell methods, a
    time coordinate with bounds, the region as the time series' id."""
    for name, var in ds.variables.items():
        label = var.attrs.get("units")
        if isinstance(label, str) and label in CF_UNITS:
            var.attrs["units_label"] = label
            var.attrs["units"] = CF_UNITS[label]
        if name in CF_CELL_METHODS and "year" in var.dims:
            var.attrs["cell_methods"] = CF_CELL_METHODS[name]
    # (readers decode time to datetime64[ns], which holds 1678-2261; beyond, the year dim alone is written)
    if "year" in ds.dims and np.issubdtype(ds["year"].dtype, np.integer) and 1678 <= int(ds["year"].min()) \
            and int(ds["year"].max()) <= 2261:
        time, bounds = _cf_time(ds["year"].values)
        ds = ds.assign_coords(time=time)
        ds["time_bnds"] = bounds
        ds["time"].attrs.update({"units": CF_TIME_UNITS, "calendar": "proleptic_gregorian"})
        ds["year"].attrs.setdefault("long_name", "calendar year")
    if "region" in ds.coords:
        ds["region"].attrs.update({"cf_role": "timeseries_id", "long_name": "region"})
    if "sample" in ds.dims:
        ds["sample"].attrs.setdefault("long_name", "posterior predictive sample")
    return ds


def _netcdf_dataset(result: RunResult) -> xr.Dataset:
    ds = result.forecast.copy()
    if hasattr(ds, "drop_encoding"):
        ds = ds.drop_encoding()
    if not isinstance(result.peak_year, xr.DataArray):
        raise InputError("RunResult.peak_year must be an xarray DataArray with dims (sample, region).")
    ds["peak_year"] = result.peak_year
    if result.scenarios is not None:  # every scenario of the run on the scenario dim
        from forecast.scenarios.axis import with_scenario_axis

        ds = with_scenario_axis(ds, result.scenarios)
    peak = ds["peak_year"].copy()
    if peak.dtype.kind in "iu" or (peak.dtype.kind == "f" and bool(np.isfinite(peak).all())):
        peak = peak.astype("int32")
    peak.attrs = {
        **peak.attrs,
        "units": "year",
        "long_name": "Year of maximum total CO2 emissions over history and horizon",
    }
    ds["peak_year"] = peak
    # float64 -> float32 halves the file; index coordinates (dimension labels) are left alone.
    new_vars = {
        name: var.astype("float32", keep_attrs=True)
        for name, var in ds.data_vars.items()
        if var.dtype.kind == "f" and var.dtype != np.float32
    }
    new_coords = {
        name: var.astype("float32", keep_attrs=True)
        for name, var in ds.coords.items()
        if name not in ds.dims and var.dtype.kind == "f" and var.dtype != np.float32
    }
    ds = ds.assign(new_vars).assign_coords(new_coords)
    # Region labels: plain unicode so every reader sees strings.
    if "region" in ds.coords:
        region_attrs = dict(ds["region"].attrs)
        ds = ds.assign_coords(region=np.asarray([str(r) for r in ds["region"].values], dtype=str))
        ds["region"].attrs = region_attrs
    for var in ds.variables.values():
        var.attrs = _clean_attrs(var.attrs)
    ds = _cf_attrs(ds)

    study = result.study or {}
    seed = study.get("seed")
    if isinstance(seed, (bool, np.bool_)) or seed is None:
        seed_attr: Any = "none" if seed is None else str(seed)
    elif isinstance(seed, (int, np.integer)):
        seed_attr = int(seed)
    else:
        seed_attr = str(seed)
    attrs = _clean_attrs(result.forecast.attrs)
    attrs.update(
        {
            "study": str(study.get("name", "")),
            "title": str(study.get("title", study.get("name", ""))),
            "seed": seed_attr,
            "created": _now_iso(),
            "package_version": package_version(),
            "schema_version": SCHEMA_VERSION,
            "provenance": json.dumps(to_jsonable(result.provenance), ensure_ascii=False, allow_nan=False),
            "priors": json.dumps(to_jsonable(result.priors_used), ensure_ascii=False, allow_nan=False),
            "study_settings": json.dumps(to_jsonable(study), ensure_ascii=False, allow_nan=False),
            "Conventions": "CF-1.8",
            "featureType": "timeSeries",
        }
    )
    ds.attrs = attrs
    return ds


def export_netcdf(result: RunResult, path: str | os.PathLike[str], complevel: int = 4) -> Path:
    """Write all draws of ``result.forecast`` plus ``peak_year`` to a compressed NetCDF file.

    Floating-point variables are stored as float32. The file is written to a temp name and moved
    into place, so ``path`` is either the old file or the complete new one.
    """
    path = Path(path)
    ds = _netcdf_dataset(result)
    encoding: dict[str, dict[str, Any]] = {}
    for name, var in ds.variables.items():
        if var.ndim == 0 or var.dtype.kind not in "iuf":
            continue
        enc: dict[str, Any] = {"zlib": True, "complevel": int(complevel)}
        if var.ndim > 1:
            enc["shuffle"] = True
        encoding[str(name)] = enc
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf", encoding=encoding)
    return path


# --------------------------------------------------------------------------------------------------
# JSON summary
# --------------------------------------------------------------------------------------------------


def _get(df: pd.DataFrame, region: Any, col: str) -> Any:
    if df is None or col not in getattr(df, "columns", ()) or region not in df.index:
        return None
    value = df.at[region, col]
    return None if is_missing(value) else to_jsonable(value)


def _diag_summary(diag: pd.DataFrame | None) -> dict[str, Any]:
    attrs = dict(getattr(diag, "attrs", {}) or {})

    def _col(name: str, how: str) -> Any:
        if diag is None or name not in diag.columns:
            return None
        s = pd.to_numeric(diag[name], errors="coerce").dropna()
        if s.empty:
            return None
        return float(s.max() if how == "max" else s.min())

    warnings = attrs.get("warnings") or []
    if isinstance(warnings, str):
        warnings = [warnings]
    return {
        "sampler": attrs.get("sampler"),
        "chains": attrs.get("chains"),
        "draws": attrs.get("draws"),
        "divergences": attrs.get("divergences"),
        "max_r_hat": _col("r_hat", "max"),
        "min_ess_bulk": _col("ess_bulk", "min"),
        "min_ess_tail": _col("ess_tail", "min"),
        "warnings": [str(w) for w in warnings],
    }


def _region_order(result: RunResult) -> list[Any]:
    seen: list[Any] = []
    for source in (result.peak_table, result.turning_points):
        if source is None:
            continue
        for r in source.index:
            if r not in seen:
                seen.append(r)
    if not seen and "region" in result.forecast.coords:
        seen = list(result.forecast["region"].values)
    return seen


def summary_dict(result: RunResult) -> dict[str, Any]:
    """The JSON summary as plain Python data (already NaN-free; see module docstring)."""
    study = dict(result.study or {})
    focus = [str(r) for r in (study.get("focus_regions") or [])]
    last_obs = last_observed_years(result)
    co2_units = str(result.forecast["co2"].attrs.get("units", "Mt CO2/yr")) if "co2" in result.forecast else "Mt CO2/yr"
    gdp_units = (
        str(result.forecast["gdp_per_capita"].attrs.get("units", "int-$ 2011/person"))
        if "gdp_per_capita" in result.forecast
        else "int-$ 2011/person"
    )
    pt, tp = result.peak_table, result.turning_points
    regions: dict[str, Any] = {}
    for r in _region_order(result):
        entry: dict[str, Any] = {
            "focus": str(r) in focus,
            "last_observed_year": last_obs.get(str(r)),
        }
        entry["p_already_peaked"] = _get(pt, r, "p_already_peaked")
        for year in peak_by_years(result):
            entry[f"p_peak_by_{year}"] = peak_probability(result, r, year)
        entry["p_no_peak_by_horizon"] = _get(pt, r, "p_no_peak_by_horizon")
        entry["peak_year"] = {q: _get(pt, r, f"peak_year_{q}") for q in ("q05", "q50", "q95")}
        entry["peak_co2"] = {
            "mean": _get(pt, r, "peak_co2_mean"),
            "q05": _get(pt, r, "peak_co2_q05"),
            "q95": _get(pt, r, "peak_co2_q95"),
            "units": co2_units,
        }
        entry["p_inverted_u"] = _get(tp, r, "p_inverted_u")
        entry["turning_point_gdp_per_capita"] = {
            "q05": _get(tp, r, "turning_gdp_pc_q05"),
            "q50": _get(tp, r, "turning_gdp_pc_q50"),
            "q95": _get(tp, r, "turning_gdp_pc_q95"),
            "units": gdp_units,
        }
        entry["last_gdp_per_capita"] = _get(tp, r, "last_gdp_pc")
        if result.targets is not None and len(result.targets):
            rows = result.targets[result.targets["region"] == r]
            entry["targets"] = [{"target": t.target, "kind": t.kind, "year": int(t.year), "p_met": float(t.p_met)}
                                for t in rows.itertuples()]
        _add_effort(entry, result, r)
        regions[str(r)] = entry
    summary = {
        "schema_version": SCHEMA_VERSION,
        "package_version": package_version(),
        "created": _now_iso(),
        "study": study,
        "provenance": list(result.provenance or []),
        "priors": list(result.priors_used or []),
        "diagnostics": _diag_summary(result.diagnostics),
        "regions": regions,
    }
    if result.sinks:
        summary["sinks"] = _sinks_summary(result.sinks)
    if result.scenarios is not None:
        summary["scenarios"] = _scenarios_summary(result.scenarios)
    return to_jsonable(summary)


def _add_effort(entry: dict[str, Any], result: RunResult, region: Any) -> None:
    """The region's required-effort rows and P(target met) per policy scenario (when the run has them)."""
    tables = result.tables or {}
    effort = tables.get("effort")
    if effort is not None and len(effort):
        rows = effort[effort["region"] == str(region)]
        entry["effort"] = [{"target": e.target, "lever": e.lever, "probability": float(e.probability),
                            "status": e.status, "required": e.required, "required_low": e.required_low,
                            "required_high": e.required_high, "units": e.units,
                            "extra_decline_pct": e.extra_decline_pct} for e in rows.itertuples()]
    scenarios = tables.get("policy_scenarios")
    if scenarios is not None and len(scenarios):
        rows = scenarios[scenarios["region"] == str(region)]
        entry["policy_scenarios"] = [{"scenario": s.scenario, "scenario_kind": getattr(s, "scenario_kind", None),
                                      "policy": s.policy, "target": s.target, "p_met": float(s.p_met)}
                                     for s in rows.itertuples()]


def _scenarios_summary(axis: xr.Dataset) -> list[dict[str, Any]]:
    """One entry per coordinate of the run's ``scenario`` dim, in order, with what describes it."""
    from forecast.scenarios.axis import COORDS

    return [{"name": str(name), **{c.removeprefix("scenario_"): str(axis[c].values[i])
                                   for c in COORDS if c in axis.coords}}
            for i, name in enumerate(axis["scenario"].values)]


def _by_variant(frame: pd.DataFrame | None, records) -> dict[str, Any]:
    """``{variant: records(rows of that variant)}`` for a table indexed by (variant, ...)."""
    if frame is None:
        return {}
    return {str(v): records(frame.xs(v, level=0)) for v in dict.fromkeys(frame.index.get_level_values(0))}


def _sinks_summary(sinks: Mapping[str, Any]) -> dict[str, Any]:
    """The sink and neutrality part of ``summary.json`` (present only when a study enables sinks)."""
    def records(frame: pd.DataFrame | None) -> dict[str, Any]:
        if frame is None:
            return {}
        return {str(k): {c: v for c, v in row.items()} for k, row in frame.iterrows()}

    gap = sinks.get("sink_gap")
    return {
        "p_cfe_decline": sinks.get("p_decline"),
        "cfe_half_life_years": {f"q{int(q * 100):02d}": v for q, v in (sinks.get("half_life") or {}).items()},
        "cfe_percent_per_100ppm": records(sinks.get("cfe_summary")),
        "co2_scenario": sinks.get("co2_scenario"),
        "neutrality": _by_variant(sinks.get("neutrality"), records),
        "sink_overstatement_if_cfe_constant": {} if gap is None else {
            f"{region}|{year}": dict(row) for (region, year), row in gap.iterrows()},
    }


def export_json(result: RunResult, path: str | os.PathLike[str]) -> Path:
    """Write :func:`summary_dict` as strictly valid UTF-8 JSON (NaN → null)."""
    return atomic_write_text(Path(path), _json_dumps(summary_dict(result)))


# --------------------------------------------------------------------------------------------------
# everything
# --------------------------------------------------------------------------------------------------


def export_all(
    result: RunResult, out_dir: str | os.PathLike[str], levels: Sequence[float] = DEFAULT_LEVELS
) -> dict[str, Path]:
    """Write ``bands.csv``, ``bands.parquet``, ``datapackage.json``, ``forecast.nc`` and ``summary.json``
    into ``out_dir``.

    Returns ``{"bands_csv", "bands_parquet", "datapackage", "netcdf", "json"}`` → paths. The caller should wrap
    this in :func:`forecast.io.atomic.atomic_output_dir` for an all-or-nothing output directory.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bands = export_bands(result, out_dir, levels=levels)
    return {
        "bands_csv": bands["csv"],
        "bands_parquet": bands["parquet"],
        "datapackage": bands["datapackage"],
        "netcdf": export_netcdf(result, out_dir / NETCDF_FILE),
        "json": export_json(result, out_dir / JSON_FILE),
    }
