"""Ecosystem areas by region from a CSV file the user supplies (e.g. provincial areas typed from official tables).

The sink account (:class:`forecast.sinks.ecosystems.EcosystemSinks`) needs, for every region, the area of
each land class of the coefficient library (``priors/ecosystems.toml``: forest, grassland, cropland_soil,
wetland, built_up, unused_land). For one or two regions a study lists them in ``[sinks.areas.<region>]``;
for 30 provinces a table is easier to type and to check against its source. Format (UTF-8, one header
line, comma-separated; ``#`` starts a comment line)::

    region,ecosystem,area_mha,source,rel_sd,year
    Beijing,forest,0.71,"<table, publisher, year, page>",0.05,2019
    Beijing,grassland,0.01,"<...>",,2019

* ``region``: the forecast's region name (e.g. ``Inner Mongolia`` as in the CEADs province files);
* ``ecosystem``: a land class of the coefficient library (see above);
* ``area_mha``: area in million hectares (Mha), >= 0. Official Chinese tables give 10^4 ha (divide by 100)
  or 10^4 mu (divide by 1500);
* ``source``: where the figure comes from (table, publisher, year); required on every row -- an area
  without a citation is refused;
* ``rel_sd`` (optional): relative 1-sigma uncertainty of the area (e.g. 0.05); empty = fixed area;
* ``year`` (optional): the reference year of the area (kept in the areas table for the record).

The rates are per hectare of the land classes of China's Third National Land Survey (``priors/ecosystems.toml``
header): areas from another classification (e.g. the forest inventory's forest area, which excludes
non-special shrub land) change what a per-hectare rate means -- say so in ``source``.

Errors (:class:`forecast.errors.InputError`) name the file, the line and the region before anything is
sampled: missing file or columns, unknown columns, unknown land classes (with a suggestion), areas that are
not finite numbers >= 0, an empty source, a bad ``rel_sd`` or ``year``, a (region, ecosystem) pair given
twice.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from forecast.errors import InputError, did_you_mean
from forecast.sinks.coefficients import LAND_CLASSES

__all__ = ["AREA_COLUMNS", "REQUIRED_COLUMNS", "read_areas_csv"]

REQUIRED_COLUMNS = ("region", "ecosystem", "area_mha", "source")
AREA_COLUMNS = REQUIRED_COLUMNS + ("rel_sd", "year")


def _number(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{where}: {what} must be a number, got {text!r}") from None
    if not np.isfinite(value):
        raise InputError(f"{where}: {what} must be finite, got {text!r}")
    return value


def _row(row: dict[str, str], where: str, classes: tuple[str, ...]) -> tuple[str, str, dict[str, Any]]:
    region = (row.get("region") or "").strip()
    if not region:
        raise InputError(f"{where}: empty region")
    where = f"{where} (region {region!r})"
    eco = (row.get("ecosystem") or "").strip()
    if eco not in classes:
        raise InputError(f"{where}: unknown ecosystem {eco!r}{did_you_mean(eco, classes)}; land classes of the "
                         f"coefficient library: {', '.join(classes)}")
    area = _number((row.get("area_mha") or "").strip(), "area_mha (Mha)", where)
    if area < 0:
        raise InputError(f"{where}: area_mha must be >= 0 Mha, got {area:g}")
    source = (row.get("source") or "").strip()
    if not source:
        raise InputError(f"{where}: empty source -- every area needs the table it was typed from")
    spec: dict[str, Any] = {"value": area, "source": source}
    sd = (row.get("rel_sd") or "").strip()
    if sd:
        rel = _number(sd, "rel_sd (relative sd)", where)
        if not 0 <= rel < 1:
            raise InputError(f"{where}: rel_sd is a relative sd in [0, 1), got {rel:g}")
        spec["rel_sd"] = rel
    year = (row.get("year") or "").strip()
    if year:
        y = _number(year, "year", where)
        if y != int(y) or not 1900 <= y <= 2100:
            raise InputError(f"{where}: year must be a whole year in 1900-2100, got {year!r}")
    return region, eco, spec


def read_areas_csv(path: str | Path, classes: tuple[str, ...] = LAND_CLASSES) -> dict[str, dict[str, Any]]:
    """Areas ``{region: {ecosystem: {"value": Mha, "source": str[, "rel_sd": float]}}}`` from a CSV in the
    format of the module docstring, ready for :class:`~forecast.sinks.ecosystems.EcosystemSinks`.

    ``classes``: the allowed ecosystem names (default: the coefficient library's land classes)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"ecosystem areas file {path} not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"ecosystem areas file {path}: cannot read it as UTF-8 text ({exc})") from None
    lines = [(i, line) for i, line in enumerate(text.splitlines(), start=1) if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise InputError(f"ecosystem areas file {path} is empty (header: {','.join(REQUIRED_COLUMNS)}[,rel_sd][,year])")
    reader = csv.DictReader([line for _, line in lines])
    header = [h.strip() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(f"ecosystem areas file {path}: missing column(s) {', '.join(missing)} (header: {', '.join(header)}; "
                         f"required: {', '.join(REQUIRED_COLUMNS)})")
    unknown = [c for c in header if c not in AREA_COLUMNS]
    if unknown:
        raise InputError(f"ecosystem areas file {path}: unknown column(s) {', '.join(map(repr, unknown))}"
                         f"{did_you_mean(unknown[0], AREA_COLUMNS)}; columns: {', '.join(AREA_COLUMNS)}")
    out: dict[str, dict[str, Any]] = {}
    seen: dict[tuple[str, str], int] = {}
    for (lineno, _), row in zip(lines[1:], reader):
        where = f"{path}, line {lineno}"
        if None in row:  # more fields than the header
            raise InputError(f"{where}: more fields than the {len(header)} columns of the header")
        region, eco, spec = _row(row, where, classes)
        if (region, eco) in seen:
            raise InputError(f"{where} (region {region!r}): {eco!r} given twice (first on line {seen[region, eco]})")
        seen[region, eco] = lineno
        out.setdefault(region, {})[eco] = spec
    if not out:
        raise InputError(f"ecosystem areas file {path} has a header but no rows")
    return out
