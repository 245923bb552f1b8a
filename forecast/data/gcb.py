"""The Global Carbon Budget 2025 land sink and the CO2 record it is fitted against: file resolution,
validation and loading (the GCB "Terrestrial Sink" and its 22 DGVMs, NOAA Mauna Loa CO2 with the Law Dome
spline before 1959). The model fitted to them is :class:`forecast.models.sinks.GlobalLandSinkModel`."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecast.errors import DataNotFoundError, InputError, did_you_mean

SINK_UNITS = "GtC/yr"

GCB_BUDGET_FILE = "gcb2025_global_budget.csv"
GCB_HISTORICAL_FILE = "gcb2025_historical_budget.csv"
GCB_LAND_MODELS_FILE = "gcb2025_land_sink_models.csv"
LAWDOME_FILE = "lawdome_ghg_spline.csv"
NOAA_FIRST_YEAR = 1959
GCB_CITATION = (
    "Friedlingstein P. et al. 2025, Global Carbon Budget 2025, Earth Syst. Sci. Data, doi:10.5194/essd-2025-659"
)
#: The 22 DGVMs of the GCB 2025 "Terrestrial Sink" sheet (S2 simulations).
DGVM_SERIES: tuple[str, ...] = (
    "CABLE-POP", "CLASSIC", "CLM6.0", "CLM-FATES", "DLEM", "ED", "ELM", "ELM-FATES", "GDSTEM", "IBIS",
    "iMAPLE", "ISAM", "JSBACH", "JULES-ES", "LPJ-EOSIM", "LPJ-GUESS", "LPJml", "LPX", "Orchidee", "SDGVM",
    "VISIT", "VISIT-UT",
)
_MIN_YEARS = 10


# ----------------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------------


def _resolve_file(filename: str, data_dir: str | os.PathLike[str] | None) -> Path:
    """``data_dir / filename``, else ``$CARBON_FORECAST_DATA / filename`` (the GCB files are not registered
    download sources, so there is no cache or download step)."""
    from forecast.data import ENV_DATA_DIR, check_data_dir

    looked = []
    if check_data_dir(data_dir) is not None:
        cand = Path(data_dir).expanduser() / filename
        looked.append(f"{cand}  (data_dir)")
        if cand.is_file():
            return cand.resolve()
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        cand = Path(env).expanduser() / filename
        looked.append(f"{cand}  (${ENV_DATA_DIR})")
        if cand.is_file():
            return cand.resolve()
    else:
        looked.append(f"${ENV_DATA_DIR}  (not set)")
    places = "\n".join(f"  - {p}" for p in looked)
    raise DataNotFoundError(
        f"Data file {filename!r} not found. Looked in:\n{places}\n"
        f"Pass data_dir=DIR (CLI --data-dir) or set {ENV_DATA_DIR}=DIR to the directory holding it."
    )


def check_year_range(years: Any) -> tuple[int, int]:
    try:
        first, last = (int(y) for y in years)
        ok = all(float(y) == int(y) for y in years)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputError(f"years must be a (first, last) pair of whole years, got {years!r}")
    if first > last:
        raise InputError(f"years must be (first, last) with first <= last, got {years!r}")
    return first, last


def validate_sink_data(data: pd.DataFrame, *, label: str = "land-sink data") -> pd.DataFrame:
    """Check a ``year, land_sink, co2_ppm`` table and return a clean copy (those columns, float/int types).

    Years must be whole numbers, strictly increasing, without gaps; ``land_sink`` (GtC/yr) finite;
    ``co2_ppm`` finite and positive; at least 10 years. Raises :class:`InputError` naming the year at fault.
    """
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"{label}: expected a pandas DataFrame with columns year, land_sink, co2_ppm, got {type(data).__name__}")
    missing = [c for c in ("year", "land_sink", "co2_ppm") if c not in data.columns]
    if missing:
        raise InputError(
            f"{label}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, data.columns))}"
        )
    if len(data) < _MIN_YEARS:
        raise InputError(f"{label}: needs at least {_MIN_YEARS} years, got {len(data)}")
    year = pd.to_numeric(data["year"], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(year).all() or (year % 1 != 0).any():
        raise InputError(f"{label}: column 'year' must hold whole numbers")
    steps = np.diff(year)
    if (steps <= 0).any():
        i = int(np.argmax(steps <= 0))
        raise InputError(
            f"{label}: years must be strictly increasing (year {int(year[i + 1])} follows {int(year[i])})"
        )
    if (steps > 1).any():
        i = int(np.argmax(steps > 1))
        raise InputError(f"{label}: gap in years between {int(year[i])} and {int(year[i + 1])}")
    sink = pd.to_numeric(data["land_sink"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(sink)
    if bad.any():
        raise InputError(f"{label}: land_sink must be finite; bad year(s): {', '.join(str(int(y)) for y in year[bad][:5])}")
    co2 = pd.to_numeric(data["co2_ppm"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(co2) | (co2 <= 0)
    if bad.any():
        raise InputError(
            f"{label}: co2_ppm must be positive and finite; bad year(s): {', '.join(str(int(y)) for y in year[bad][:5])}"
        )
    out = pd.DataFrame({"year": year.astype("int64"), "land_sink": sink, "co2_ppm": co2})
    out.attrs = dict(getattr(data, "attrs", {}) or {})
    return out


def _co2_for_years(first: int, last: int, data_dir) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Annual CO2 (ppm): NOAA Mauna Loa from 1959, the Law Dome 20-yr spline before."""
    from forecast.data import file_provenance, load_co2_concentration

    parts, prov = [], []
    if last >= NOAA_FIRST_YEAR:
        noaa = load_co2_concentration("noaa_co2_mlo", data_dir=data_dir)
        parts.append(noaa[["year", "co2_ppm"]])
        prov.extend(noaa.attrs.get("provenance", []))
    if first < NOAA_FIRST_YEAR:
        path = _resolve_file(LAWDOME_FILE, data_dir)
        law = pd.read_csv(path)
        law = law.rename(columns={"co2_ppm_spline": "co2_ppm"})[["year", "co2_ppm"]]
        parts.insert(0, law[law["year"] < NOAA_FIRST_YEAR])
        prov.append(file_provenance(path, source="lawdome_ghg_spline (MacFarling Meure et al. 2006)"))
    co2 = pd.concat(parts, ignore_index=True)
    return co2, prov


def load_land_sink_data(
    data_dir: str | os.PathLike[str] | None = None,
    series: str = "GCB",
    years: tuple[int, int] = (1959, 2024),
) -> pd.DataFrame:
    """Annual global land sink paired with atmospheric CO2.

    Parameters
    ----------
    data_dir:
        Directory holding the GCB 2025 and NOAA files; default ``$CARBON_FORECAST_DATA`` (NOAA Mauna Loa is
        a registered source, so it may also come from the download cache).
    series:
        ``"GCB"`` (the budget's land sink, ``land_sink`` of ``gcb2025_global_budget.csv``; before 1959 the
        ``gcb2025_historical_budget.csv`` series) or any column of ``gcb2025_land_sink_models.csv``
        (a DGVM name such as ``"JULES-ES"``, ``"GCB unadjusted"``, ``"Multi-model mean"``; 1959-2024).
    years:
        ``(first, last)``, inclusive; every year must be available.

    Returns
    -------
    DataFrame ``year`` (int), ``land_sink`` (GtC/yr, positive = uptake), ``co2_ppm`` (ppm; NOAA Mauna Loa
    annual mean, Law Dome spline before 1959), validated by :func:`validate_sink_data`; ``attrs`` hold
    ``units``, ``series``, ``citation`` and ``provenance`` (one dict per file read).
    """
    from forecast.data import file_provenance

    first, last = check_year_range(years)
    prov: list[dict[str, Any]] = []
    if series == "GCB":
        path = _resolve_file(GCB_BUDGET_FILE, data_dir)
        sink = pd.read_csv(path)[["year", "land_sink"]]
        prov.append(file_provenance(path, source="gcb2025_global_budget"))
        if first < int(sink["year"].min()):
            hpath = _resolve_file(GCB_HISTORICAL_FILE, data_dir)
            hist = pd.read_csv(hpath)[["year", "land_sink"]]
            sink = pd.concat([hist[hist["year"] < sink["year"].min()], sink], ignore_index=True)
            prov.append(file_provenance(hpath, source="gcb2025_historical_budget"))
    else:
        path = _resolve_file(GCB_LAND_MODELS_FILE, data_dir)
        table = pd.read_csv(path)
        columns = [c for c in table.columns if c != "year" and c != "Model Spread (sd)"]
        if series not in columns:
            hint = did_you_mean(series, columns, cutoff=0.5)
            raise InputError(f"unknown land-sink series {series!r}{hint}; choose 'GCB' or one of {', '.join(columns)}")
        sink = table[["year", series]].rename(columns={series: "land_sink"})
        prov.append(file_provenance(path, source="gcb2025_land_sink_models"))
    sink = sink.dropna(subset=["land_sink"])
    co2, co2_prov = _co2_for_years(first, last, data_dir)
    prov.extend(co2_prov)
    frame = sink.merge(co2, on="year", how="inner")
    frame = frame[(frame["year"] >= first) & (frame["year"] <= last)].sort_values("year").reset_index(drop=True)
    wanted = set(range(first, last + 1))
    missing = sorted(wanted - set(frame["year"].astype(int)))
    if missing:
        have = f"{int(frame['year'].min())}-{int(frame['year'].max())}" if len(frame) else "none"
        raise InputError(
            f"land sink ({series}) and CO2 are not both available for year(s) {year_list(missing)} "
            f"(requested {first}-{last}; paired years available in range: {have})"
        )
    out = validate_sink_data(frame, label=f"land-sink data ({series})")
    out.attrs = {
        "units": {"land_sink": SINK_UNITS, "co2_ppm": "ppm"},
        "series": series,
        "citation": GCB_CITATION,
        "provenance": prov,
    }
    return out


def load_land_sink_models(
    data_dir: str | os.PathLike[str] | None = None,
    years: tuple[int, int] = (1959, 2024),
    models: Iterable[str] | None = None,
) -> pd.DataFrame:
    """The DGVM land sinks of the GCB 2025 "Terrestrial Sink" sheet with NOAA Mauna Loa CO2, long format.

    Returns a DataFrame ``year, series, land_sink, co2_ppm`` (GtC/yr, ppm), one row per model and year,
    for ``models`` (default: all 22 of :data:`DGVM_SERIES`).
    """
    models = list(DGVM_SERIES if models is None else models)
    if not models:
        raise InputError("models must name at least one DGVM series")
    frames = []
    prov: list[dict[str, Any]] = []
    for name in models:
        one = load_land_sink_data(data_dir, series=name, years=years)
        prov = one.attrs["provenance"]
        frames.append(one.assign(series=name))
    out = pd.concat(frames, ignore_index=True)[["year", "series", "land_sink", "co2_ppm"]]
    out.attrs = {"units": {"land_sink": SINK_UNITS, "co2_ppm": "ppm"}, "series": models,
                 "citation": GCB_CITATION, "provenance": prov}
    return out


def year_list(years: list[int]) -> str:
    shown = ", ".join(map(str, years[:5]))
    return shown + (f" ... ({len(years)} years)" if len(years) > 5 else "")


# ----------------------------------------------------------------------------------------------------
# Budget residual: the observation-based land sink
# ----------------------------------------------------------------------------------------------------

#: Budget terms whose errors are systematic (a level that is wrong every year, GCB 1-sigma stated for the
#: last decade), carried into the residual land sink: name -> column of gcb2025_global_budget.csv.
BUDGET_TERMS = {"fossil": "fossil_emissions_excluding_carbonation", "land_use_change": "land_use_change_emissions",
                "ocean": "ocean_sink"}
HISTORY_START = 1850


def load_budget_residual(data_dir: str | os.PathLike[str] | None = None,
                         years: tuple[int, int] = (1959, 2024)) -> pd.DataFrame:
    """The land sink as the residual of the Global Carbon Budget, with the terms it is made of (GtC/yr).

    ``residual = E_FOS + E_LUC - G_ATM - S_OCEAN - S_CEMENT`` (= GCB land sink + budget imbalance): the
    observation-based estimate of the land sink, independent of the vegetation models. Columns ``year,
    residual, fossil, land_use_change, ocean, atmospheric_growth`` (GtC/yr); ``attrs`` hold ``units``,
    ``citation`` and ``provenance``. Every year of ``years`` must be in the file (1959-2024).
    """
    from forecast.data import file_provenance

    first, last = check_year_range(years)
    path = _resolve_file(GCB_BUDGET_FILE, data_dir)
    table = pd.read_csv(path)
    need = ["year", "atmospheric_growth", "cement_carbonation_sink", *BUDGET_TERMS.values()]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    table = table[(table["year"] >= first) & (table["year"] <= last)].dropna(subset=need[1:])
    absent = sorted(set(range(first, last + 1)) - set(table["year"].astype(int)))
    if absent:
        raise InputError(f"{path}: the budget terms are not all available for year(s) {year_list(absent)}")
    out = pd.DataFrame({"year": table["year"].astype("int64").to_numpy()})
    for name, column in BUDGET_TERMS.items():
        out[name] = table[column].to_numpy(dtype=float)
    out["atmospheric_growth"] = table["atmospheric_growth"].to_numpy(dtype=float)
    out["residual"] = (out["fossil"] + out["land_use_change"] - out["atmospheric_growth"] - out["ocean"]
                       - table["cement_carbonation_sink"].to_numpy(dtype=float))
    out.attrs = {"units": SINK_UNITS, "citation": GCB_CITATION,
                 "provenance": [file_provenance(path, source="gcb2025_global_budget")]}
    return out


def load_co2_history(data_dir: str | os.PathLike[str] | None = None, first: int = HISTORY_START,
                     last: int = 2024) -> pd.DataFrame:
    """Annual CO2 (ppm) for every year ``first``-``last``: the Law Dome spline before 1959, NOAA Mauna
    Loa from then on. ``attrs["provenance"]`` lists the files."""
    co2, prov = _co2_for_years(first, last, data_dir)
    co2 = co2[(co2["year"] >= first) & (co2["year"] <= last)].sort_values("year").reset_index(drop=True)
    absent = sorted(set(range(first, last + 1)) - set(co2["year"].astype(int)))
    if absent:
        raise InputError(f"CO2 history: no annual CO2 for year(s) {year_list(absent)}")
    co2.attrs = {"units": "ppm", "provenance": prov}
    return co2


def load_joint_sink_data(data_dir: str | os.PathLike[str] | None = None, years: tuple[int, int] = (1959, 2024),
                         models: Iterable[str] | None = None, history_start: int = HISTORY_START) -> dict[str, Any]:
    """Everything the joint land-sink model fits: the budget residual and its terms for ``years``, the
    DGVM sinks (default all 22) for the same years, and CO2 from ``history_start`` to the last year.

    Returns a dict ``budget`` (DataFrame of :func:`load_budget_residual`), ``models`` (DataFrame, year x
    DGVM, GtC/yr), ``co2`` (DataFrame year, co2_ppm) and ``provenance``."""
    first, last = check_year_range(years)
    if history_start > first:
        raise InputError(f"history_start ({history_start}) must not be after the first fitted year ({first})")
    budget = load_budget_residual(data_dir, (first, last))
    names = list(DGVM_SERIES if models is None else models)
    path = _resolve_file(GCB_LAND_MODELS_FILE, data_dir)
    table = pd.read_csv(path)
    unknown = [n for n in names if n not in table.columns]
    if unknown:
        raise InputError(f"{path}: unknown DGVM(s) {', '.join(unknown)}{did_you_mean(unknown[0], DGVM_SERIES, cutoff=0.5)}")
    dgvm = table.set_index("year").loc[:, names]
    dgvm = dgvm.reindex(budget["year"].to_numpy())
    if dgvm.isna().any().any():
        bad = dgvm.index[dgvm.isna().any(axis=1)].tolist()
        raise InputError(f"{path}: DGVM sinks missing in year(s) {year_list([int(y) for y in bad])}")
    co2 = load_co2_history(data_dir, history_start, last)
    from forecast.data import file_provenance

    prov = [*budget.attrs["provenance"], file_provenance(path, source="gcb2025_land_sink_models"),
            *co2.attrs["provenance"]]
    return {"budget": budget, "models": dgvm, "co2": co2, "provenance": prov}
