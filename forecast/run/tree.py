"""One result tree per run: an :class:`xarray.DataTree` that holds what a study produced.

::

    /                         attrs: study, seed, package_version, schema_version, provenance, priors (JSON)
    /predictions              the forecast: ([scenario, ]sample, region, year[, cfe]) with chain / draw of
                              each sample, peak_year ([scenario, ]sample, region); a run that compares
                              scenarios has them on one ``scenario`` dim (forecast.scenarios.axis)
    /posterior/<model>        the posterior of every fitted model (emission model, land sink, drivers)
    /observed/<model>         what each model was fitted to or starts from (its ``constant_data``)
    /diagnostics/<model>      R-hat, ESS per parameter (the ``az.summary`` columns) and divergences
    /tables/<name>            every result table by its stable name (``table.attrs["title"]`` kept)

Variants are coordinates of a dim (``cfe``, ``scenario``), never parallel variables. ``carbon-forecast run`` writes the
tree as ``result.nc`` (NetCDF-4 groups); ``xarray.open_datatree("result.nc")`` reads it back.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

import numpy as np
import pandas as pd
import xarray as xr

from forecast._version import __version__
from forecast.io.jsonable import to_jsonable
from forecast.run.results import RunResult

TREE_FILE = "result.nc"


def _json(value: Any) -> str:
    return json.dumps(to_jsonable(value), ensure_ascii=False, allow_nan=False)


def table_dataset(table: pd.DataFrame) -> xr.Dataset:
    """A table as a Dataset over a ``row`` dim: one variable per column (the index becomes columns);
    text and mixed columns are stored as strings, so any table survives NetCDF."""
    frame = table.reset_index() if not isinstance(table.index, pd.RangeIndex) else table
    data = {}
    for i, column in enumerate(frame.columns):
        values = frame.iloc[:, i]
        if values.dtype.kind in "biuf":
            data[str(column)] = ("row", values.to_numpy())
        else:
            data[str(column)] = ("row", values.map(lambda v: "" if v is None or v is pd.NA else str(v)).to_numpy(str))
    # a NetCDF name may not hold "/" (the group separator); the column's own name stays in attrs
    ds = xr.Dataset({k.replace("/", "_") or f"column_{i}": v for i, (k, v) in enumerate(data.items())},
                    coords={"row": np.arange(len(frame))})
    for key, name in zip(ds.data_vars, data):
        ds[key].attrs["column"] = name
    ds.attrs["title"] = str(table.attrs.get("title", ""))
    return ds


def _diagnostics_dataset(frame: pd.DataFrame) -> xr.Dataset:
    ds = table_dataset(frame)
    ds.attrs.update({k: (_json(v) if not isinstance(v, (int, float, str)) else v) for k, v in frame.attrs.items()})
    return ds


def result_tree(result: RunResult, models: Iterable[Any] = ()) -> xr.DataTree:
    """The tree of ``result`` plus the posteriors of ``models`` (fitted :class:`BayesianModel` objects)."""
    predictions = result.predictions()
    nodes: dict[str, xr.Dataset] = {
        "/": xr.Dataset(attrs={
            "study": str(result.study.get("name", "")),
            "seed": _json(result.study.get("seed")),
            "package_version": __version__,
            "schema_version": 2,
            "provenance": _json(result.provenance),
            "priors": _json(result.priors_used),
            "study_settings": _json(result.study),
        }),
        "/predictions": predictions,
        "/diagnostics/emissions": _diagnostics_dataset(result.diagnostics),
    }
    for model in models:
        idata = getattr(model, "idata", None)
        if idata is None:
            continue
        nodes[f"/posterior/{model.name}"] = idata.posterior
        if "constant_data" in idata.groups():
            nodes[f"/observed/{model.name}"] = idata.constant_data
        if getattr(model, "diagnostics", None) is not None:
            nodes[f"/diagnostics/{model.name}"] = _diagnostics_dataset(model.diagnostics.to_frame())
    for name, table in (result.tables or {}).items():
        nodes[f"/tables/{name}"] = table_dataset(table)
    for name in ("peak_table", "turning_points"):
        table = getattr(result, name)
        if table is not None and len(table):
            nodes[f"/tables/{name}"] = table_dataset(table)
    return xr.DataTree.from_dict(nodes)


def write_tree(tree: xr.DataTree, path) -> None:
    """Write ``tree`` to NetCDF-4 with groups (float64 kept: this is the archive, not the exchange file)."""
    tree.to_netcdf(path, engine="h5netcdf")
