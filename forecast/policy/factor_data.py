"""Measured / published emission factors as data for :class:`~forecast.models.emission_factors.EmissionFactorModel`.

A measurements file is a CSV, one published or measured factor a row:

``category``
    a factor category of ``priors/emission_factors.toml`` (e.g. ``other_bituminous_coal``);
``region``
    where the factor applies (a country, a province, a sample source);
``value``, ``units``
    the factor in units convertible to the category's (e.g. ``kg CO2/TJ``, ``t C/TJ``), or
    ``ratio to IPCC default`` (a factor stated relative to the IPCC 2006 default on the same per-energy basis;
    multiplied by the category's prior median, which is that default);
``feeds``
    ``yes``: the row is a measurement for the factor model; ``no``: kept for reference only, the ``note``
    says why (e.g. a figure on another basis than the model's);
``citation``
    the publication the number is typed from (required: a factor without a source is not data);
``note``
    optional free text.

The package ships one such file, ``priors/emission_factor_measurements.csv`` (:func:`shipped_measurements_path`);
its rows and what could and could not be verified are described in the file's notes and in
``docs`` (inventory page). Every problem is an :class:`~forecast.errors.InputError` naming the file, the row
(1 = first data row) and the category, raised before any model is built.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from forecast.errors import InputError, did_you_mean

__all__ = ["RATIO_UNITS", "MAX_RATIO_TO_DEFAULT", "read_factor_measurements", "shipped_measurements_path"]

RATIO_UNITS = "ratio to IPCC default"
#: A per-energy CO2 factor more than this factor away from the IPCC default of its category is a unit or
#: typing error, not a fuel: the Table 1.4 ranges of the coals, oils and gases span at most about -20 %/+20 %
#: (IPCC 2006 Vol. 2 Ch. 1 Table 1.4; the widest here, coke oven gas, 37,300-54,100 kg CO2/TJ around 44,400).
MAX_RATIO_TO_DEFAULT = 1.5
FEEDS = {"yes": True, "no": False}
COLUMNS = ("category", "region", "value", "units", "feeds", "citation")


def shipped_measurements_path() -> Path:
    """The measurements file shipped with the package (next to the priors, so it is in the wheel too)."""
    from forecast.priors import default_priors_dir

    return default_priors_dir() / "emission_factor_measurements.csv"


def read_factor_measurements(path: str | Path | None = None, *, fed_only: bool = True) -> pd.DataFrame:
    """The measurements of ``path`` (default: the shipped file) checked and converted to the prior units.

    Returns columns ``category, region, value, units, feeds, citation, note, value_as_given,
    units_as_given`` (``value``/``units``: in the category's prior units, e.g. kg CO2/TJ), only the
    ``feeds = yes`` rows unless ``fed_only=False``. The result goes straight into
    ``EmissionFactorModel().fit(frame)``; with no fed rows it is empty (the model is then prior-only).
    """
    from forecast.io.csvfile import read_user_csv
    from forecast.policy.inventory import factor_unit_ratio
    from forecast.priors import default_library

    path = shipped_measurements_path() if path is None else Path(path)
    frame = read_user_csv(path, required=COLUMNS, numeric=("value",), text=("category", "region", "units"),
                          what="emission-factor measurements file")
    specs = default_library().family("emission_factors")
    cats = {k: v for k, v in specs.items() if v.distribution == "LogNormal"}
    rows = []
    for i, row in enumerate(frame.to_dict("records"), start=1):
        where = f"{path}: row {i}"
        cat = str(row["category"]).strip()
        if cat not in cats:
            raise InputError(f"{where}: unknown category {cat!r}{did_you_mean(cat, cats, cutoff=0.5)}; "
                             f"priors/emission_factors.toml has {', '.join(cats)}")
        where = f"{where} ({cat}, {str(row['region']).strip()})"
        feeds = str(row["feeds"]).strip().lower()
        if feeds not in FEEDS:
            raise InputError(f"{where}: feeds must be yes or no, got {row['feeds']!r}")
        citation = "" if pd.isna(row["citation"]) else str(row["citation"]).strip()
        if not citation:
            raise InputError(f"{where}: no citation; every factor needs the publication it is typed from")
        value = float(row["value"])
        if not math.isfinite(value) or value <= 0:
            raise InputError(f"{where}: value must be positive and finite, got {row['value']!r}")
        units = str(row["units"]).strip()
        default = math.exp(cats[cat].params["mu"])
        try:
            converted = value * default if units == RATIO_UNITS else value * factor_unit_ratio(units, cats[cat].units, category=cat)
        except InputError as err:
            raise InputError(f"{where}: {err} (or give units {RATIO_UNITS!r})") from None
        ratio = converted / default
        if FEEDS[feeds] and not 1 / MAX_RATIO_TO_DEFAULT <= ratio <= MAX_RATIO_TO_DEFAULT:
            raise InputError(f"{where}: {value:g} {units} is {ratio:.2f} x the IPCC default {default:,.0f} "
                             f"{cats[cat].units}; a per-energy factor this far off is a unit or basis error "
                             f"(allowed {1 / MAX_RATIO_TO_DEFAULT:.2f}-{MAX_RATIO_TO_DEFAULT:.2f} x)")
        note = row.get("note", "")
        rows.append({"category": cat, "region": str(row["region"]).strip(), "value": converted,
                     "units": cats[cat].units, "feeds": FEEDS[feeds], "citation": citation,
                     "note": "" if pd.isna(note) else str(note), "value_as_given": value, "units_as_given": units})
    out = pd.DataFrame(rows, columns=["category", "region", "value", "units", "feeds", "citation", "note",
                                      "value_as_given", "units_as_given"])
    if fed_only:
        out = out[out["feeds"]].reset_index(drop=True)
    out.attrs["path"] = str(path)
    return out
