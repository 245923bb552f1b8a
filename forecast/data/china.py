"""China provincial panel: CEADs CO2 + NBS gross regional product + World Bank population.

Three files (see ``SOURCES.md`` section 4 of the shared data directory):

* ``china_ceads_province_co2.csv`` -- CEADs provincial inventories 1997-2019, Mt CO2. We use
  ``Scope_1_Total`` (territorial fuel combustion + cement process CO2; scope-2 heat/electricity excluded).
  Tibet is not covered by CEADs, so **Tibet is excluded** from the panel (30 provinces remain).
* ``china_nbs_province_gdp.csv`` -- NBS gross regional product (GRP) 2004-2023, **nominal**, current
  prices, 100 million yuan.
* ``china_wb_province_population.csv`` -- World Bank subnational population 2000-2016, persons.

The three overlap only in **2004-2016** (GDP starts 2004, population ends 2016), so the complete panel
covers 2004-2016; :func:`data_coverage_table` reports the ranges.

The files are looked up in ``data_dir``, then in ``$CARBON_FORECAST_DATA`` (they are not downloaded).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecast.data import ENV_DATA_DIR, check_data_dir, UNITS, file_provenance, load_panel, validate_panel
from forecast.errors import DataNotFoundError, InputError, did_you_mean

__all__ = [
    "CHINA_FILES",
    "PROVINCE_GROUPS",
    "COMPLETE_YEARS",
    "load_province_panel",
    "select_provinces",
    "data_coverage_table",
    "data_notes_table",
]

#: label -> file name of the three provincial inputs.
CHINA_FILES: dict[str, str] = {
    "ceads_co2": "china_ceads_province_co2.csv",
    "nbs_grp": "china_nbs_province_gdp.csv",
    "wb_population": "china_wb_province_population.csv",
}

#: Years in which CO2, GDP and population all exist in the shared files.
COMPLETE_YEARS: tuple[int, int] = (2004, 2016)

_EAST = ("Beijing", "Tianjin", "Hebei", "Liaoning", "Shanghai", "Jiangsu", "Zhejiang", "Fujian", "Shandong",
         "Guangdong", "Hainan")
_CENTRAL = ("Shanxi", "Jilin", "Heilongjiang", "Anhui", "Jiangxi", "Henan", "Hubei", "Hunan")
_WEST = ("Inner Mongolia", "Guangxi", "Chongqing", "Sichuan", "Guizhou", "Yunnan", "Shaanxi", "Gansu", "Qinghai",
         "Ningxia", "Xinjiang", "Tibet")

#: NBS three-belt classification (east / central / west), spelled as in the data files. Tibet is listed
#: (west) although it is not in the CO2 panel.
PROVINCE_GROUPS: dict[str, str] = {
    **{p: "east" for p in _EAST},
    **{p: "central" for p in _CENTRAL},
    **{p: "west" for p in _WEST},
}

_CO2_COLUMN = "Scope_1_Total"
_GRP_COLUMN = "grp_100m_yuan_current"
_YUAN_PER_UNIT = 1e8  # NBS unit: 100 million yuan


def _resolve(label: str, data_dir: str | os.PathLike[str] | None) -> Path:
    name = CHINA_FILES[label]
    check_data_dir(data_dir)
    looked = []
    for base, how in ((data_dir, "data_dir"), (os.environ.get(ENV_DATA_DIR), f"${ENV_DATA_DIR}")):
        if not base:
            looked.append(f"{how} (not set)")
            continue
        cand = Path(base).expanduser() / name
        looked.append(f"{cand} ({how})")
        if cand.is_file():
            return cand.resolve()
    raise DataNotFoundError(
        f"China provincial data file {name!r} not found. Looked in: {'; '.join(looked)}. "
        f"Pass data_dir=DIR (or set {ENV_DATA_DIR}=DIR) with the files of SOURCES.md section 4."
    )


def resolve_china_file(label: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Path of one China data file (label of :data:`CHINA_FILES`), from ``data_dir`` or the data setting."""
    if label not in CHINA_FILES:
        raise InputError(f"unknown China data file {label!r}; known: {', '.join(CHINA_FILES)}")
    return _resolve(label, data_dir)


def _read(label: str, path: Path, columns: list[str]) -> pd.DataFrame:
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"Cannot parse {str(path)!r} as CSV: {exc}") from exc
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"{label} file {str(path)!r}: missing column(s) {missing}; found {list(df.columns)}.")
    df = df[columns].copy()
    df["province"] = df["province"].astype("str")
    df["year"] = pd.to_numeric(df["year"], errors="raise").astype("int64")
    if df.duplicated(["province", "year"]).any():
        dup = df.loc[df.duplicated(["province", "year"]), ["province", "year"]].head(5).to_records(index=False)
        raise InputError(f"{label} file {str(path)!r}: duplicated province/year rows {list(dup)}.")
    return df


def _read_all(data_dir) -> tuple[dict[str, pd.DataFrame], dict[str, Path]]:
    paths = {k: _resolve(k, data_dir) for k in CHINA_FILES}
    frames = {
        "ceads_co2": _read("ceads_co2", paths["ceads_co2"], ["province", "year", _CO2_COLUMN]),
        "nbs_grp": _read("nbs_grp", paths["nbs_grp"], ["province", "year", _GRP_COLUMN]),
        "wb_population": _read("wb_population", paths["wb_population"], ["province", "year", "population"]),
    }
    return frames, paths


def load_province_panel(
    data_dir: str | os.PathLike[str] | None = None,
    years: tuple[int, int] = COMPLETE_YEARS,
    regions: list[str] | None = None,
    exclude_regions: list[str] | None = None,
) -> pd.DataFrame:
    """China's provinces as a tidy panel in the package format (like :func:`forecast.data.load_panel`).

    Columns ``region`` (province, English spelling of the files, e.g. ``"Inner Mongolia"``), ``year``,
    ``population`` (people; World Bank subnational), ``gdp`` (international-$ at 2011 prices, total),
    ``co2`` (Mt CO2/yr; CEADs ``Scope_1_Total``), ``gdp_per_capita``, ``co2_per_capita``, ``group``
    (NBS belt: east / central / west) and ``grp_nominal_yuan`` (NBS nominal GRP, yuan, current prices).
    Validated with :func:`forecast.data.validate_panel`; ``attrs``: ``units``, ``source``, ``provenance``
    (every file used, with SHA-256), ``notes``.

    **GDP conversion.** NBS GRP is nominal (current yuan). It is converted with one *national* implicit
    factor per year::

        gdp[p, t] = nominal[p, t] * OWID_China_gdp[t] / sum_q nominal[q, t]

    where ``OWID_China_gdp`` is China's real GDP (international-$ 2011, Maddison via OWID) and the sum runs
    over the provinces in the panel (the 30 with CO2). This removes national inflation and converts at
    PPP, but it **ignores price-level differences between provinces** (a yuan buys more in Guizhou than in
    Shanghai) and province-specific inflation. Provincial GRP sums exceed national GDP by a few percent in
    NBS data; the scaling makes the provinces add up exactly to the national total (Tibet's ~0.1 % share
    is thereby spread over the other provinces pro rata).

    **Coverage.** Tibet has no CEADs CO2 and is excluded. The three sources overlap only in 2004-2016;
    ``years`` outside that window raise :class:`InputError` (the panel must be complete).

    **Selection.** ``regions`` keeps only these provinces, ``exclude_regions`` drops these (see
    :func:`select_provinces`); GDP is converted on all 30 provinces first, so a subset keeps the same
    deflator and PPP factor.

    Raises:
        InputError: bad ``years``, malformed files, a province missing a value in the window, a selected
            or excluded province that is not in the panel (named, with Tibet's reason).
        DataNotFoundError: a file is not found in ``data_dir`` / ``$CARBON_FORECAST_DATA``.
    """
    try:
        lo, hi = (int(y) for y in years)
    except (TypeError, ValueError):
        raise InputError(f"years must be a (start, end) pair of whole numbers, got {years!r}.") from None
    if lo > hi:
        raise InputError(f"years: start {lo} is after end {hi}.")
    if lo < COMPLETE_YEARS[0] or hi > COMPLETE_YEARS[1]:
        raise InputError(
            f"years {lo}-{hi} outside {COMPLETE_YEARS[0]}-{COMPLETE_YEARS[1]}, the only years in which CEADs CO2 "
            "(1997-2019), NBS GRP (2004-2023) and World Bank provincial population (2000-2016) all exist."
        )
    frames, paths = _read_all(data_dir)
    co2 = frames["ceads_co2"].rename(columns={_CO2_COLUMN: "co2"})
    grp = frames["nbs_grp"]
    pop = frames["wb_population"]
    in_window = lambda d: d.loc[(d["year"] >= lo) & (d["year"] <= hi)]  # noqa: E731
    co2, grp, pop = in_window(co2), in_window(grp), in_window(pop)

    provinces = sorted(set(co2["province"]))  # CEADs defines the panel (no Tibet)
    unknown = [p for p in provinces if p not in PROVINCE_GROUPS]
    if unknown:
        raise InputError(f"CEADs provinces without an east/central/west group: {unknown}.")
    wanted_years = list(range(lo, hi + 1))
    grid = pd.MultiIndex.from_product([provinces, wanted_years], names=["province", "year"]).to_frame(index=False)
    df = grid.merge(co2, how="left").merge(grp, how="left").merge(pop, how="left")
    for col, label in (("co2", "ceads_co2"), ("population", "wb_population"), (_GRP_COLUMN, "nbs_grp")):
        miss = df[col].isna()
        if miss.any():
            rows = ", ".join(f"{r.province}/{r.year}" for r in df.loc[miss].head(5).itertuples())
            raise InputError(f"{CHINA_FILES[label]}: no {col!r} for province/year {rows}"
                             f"{' ...' if miss.sum() > 5 else ''}.")

    national = load_panel("owid", regions=["China"], years=(lo, hi), data_dir=paths["ceads_co2"].parent
                          if data_dir is None else data_dir, require_complete=False)
    nat_gdp = national.set_index("year")["gdp"].reindex(wanted_years)
    if nat_gdp.isna().any():
        raise InputError(f"OWID China GDP missing for year(s) {list(nat_gdp.index[nat_gdp.isna()])}.")
    nominal = df[_GRP_COLUMN] * _YUAN_PER_UNIT
    total = nominal.groupby(df["year"]).transform("sum")
    df["gdp"] = nominal * df["year"].map(nat_gdp) / total
    df["grp_nominal_yuan"] = nominal
    df["group"] = df["province"].map(PROVINCE_GROUPS)
    df = df.rename(columns={"province": "region"})[["region", "year", "population", "gdp", "co2", "group",
                                                      "grp_nominal_yuan"]]
    df = validate_panel(df, source_label="China provincial panel")

    prov: list[dict[str, Any]] = []
    for label, path in paths.items():
        item = file_provenance(path, source=f"china_{label}")
        item.update(role=label, rows=int(len(df)), regions=int(df["region"].nunique()), year_min=lo, year_max=hi)
        prov.append(item)
    for item in national.attrs.get("provenance", []):
        prov.append({**item, "role": "national real GDP (China) used to deflate and convert GRP"})
    units = dict(UNITS)
    units.update(group="NBS belt (east/central/west)", grp_nominal_yuan="yuan, current prices")
    df.attrs = {
        "units": units,
        "source": "china_provinces",
        "provenance": prov,
        "notes": [
            "co2 = CEADs Scope_1_Total (Mt CO2/yr).",
            "gdp = NBS nominal GRP x OWID China real GDP / sum of provincial GRP (national implicit deflator "
            "and PPP factor; provincial price-level differences ignored; provinces sum to the national total).",
            "Tibet excluded (no CEADs CO2).",
            f"complete overlap of the three sources: {COMPLETE_YEARS[0]}-{COMPLETE_YEARS[1]}.",
        ],
    }
    return select_provinces(df, regions, exclude_regions)


def select_provinces(panel: pd.DataFrame, regions: list[str] | None = None,
                     exclude_regions: list[str] | None = None) -> pd.DataFrame:
    """Keep the provinces in ``regions`` (all if ``None``) minus those in ``exclude_regions``.

    Every name must be a province of ``panel``; unknown names raise :class:`InputError` naming them (with
    close spellings, and the reason for Tibet: no CEADs inventory). An empty selection is an error too.
    ``attrs`` are kept; ``attrs["notes"]`` records the selection.
    """
    known = sorted(panel["region"].unique())
    for key, names in (("regions", regions), ("exclude_regions", exclude_regions)):
        if names is None:
            continue
        if isinstance(names, str):
            raise InputError(f"{key} must be a list of province names, got the string {names!r}")
        unknown = [str(n) for n in names if n not in known]
        if unknown:
            parts = []
            for n in unknown:
                if n == "Tibet":
                    parts.append("'Tibet' (no CEADs CO2 inventory, not in the panel)")
                    continue
                parts.append(repr(n) + did_you_mean(n, known, n=2))
            raise InputError(f"{key}: province(s) not in the China provincial panel: {', '.join(parts)}. "
                             f"Provinces: {', '.join(known)}.")
    if regions is None and not exclude_regions:
        return panel
    keep = set(known if regions is None else regions) - set(exclude_regions or [])
    if not keep:
        raise InputError("regions / exclude_regions leave no province in the China provincial panel")
    attrs = dict(panel.attrs)
    out = panel[panel["region"].isin(keep)].reset_index(drop=True)
    dropped = [p for p in known if p not in keep]
    attrs["notes"] = [*attrs.get("notes", []),
                      f"study selection: {len(keep)} of {len(known)} provinces (left out: {', '.join(dropped)})."]
    out.attrs = attrs
    return out


def data_coverage_table(data_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Year coverage of each provincial source and of their overlap.

    One row per source (``ceads_co2``, ``nbs_grp``, ``wb_population``) and a final row ``complete``:
    columns ``file``, ``variable``, ``unit``, ``provinces`` (number with any data), ``year_min``,
    ``year_max`` and ``years_complete`` (number of years in which *every* province of the source has a
    value). The ``complete`` row gives the years in which GDP, population and CO2 all exist for all 30 CEADs
    provinces -- 2004-2016 with the shared files: GRP starts in 2004 and World Bank provincial population
    ends in 2016, so 1997-2003 and 2017-2019 CEADs emissions cannot enter the panel.
    """
    frames, _ = _read_all(data_dir)
    meta = {
        "ceads_co2": (_CO2_COLUMN, "Mt CO2/yr"),
        "nbs_grp": (_GRP_COLUMN, "100 million yuan, current prices"),
        "wb_population": ("population", "persons"),
    }
    rows = []
    year_sets = []
    provinces = sorted(set(frames["ceads_co2"]["province"]))
    for label, (var, unit) in meta.items():
        d = frames[label].dropna(subset=[var])
        n_prov = d["province"].nunique()
        full = d.groupby("year")["province"].nunique()
        # years in which every CEADs province has a value
        covered = {int(y) for y, g in d.groupby("year") if set(provinces) <= set(g["province"])}
        year_sets.append(covered)
        rows.append({"source": label, "file": CHINA_FILES[label], "variable": var, "unit": unit,
                     "provinces": int(n_prov), "year_min": int(d["year"].min()), "year_max": int(d["year"].max()),
                     "years_complete": int((full == n_prov).sum())})
    common = sorted(set.intersection(*year_sets))
    gaps = [y for y in range(common[0], common[-1] + 1) if y not in common] if common else []
    rows.append({"source": "complete", "file": "", "variable": "co2, gdp, population", "unit": "",
                 "provinces": len(provinces), "year_min": common[0] if common else np.nan,
                 "year_max": common[-1] if common else np.nan, "years_complete": len(common)})
    out = pd.DataFrame(rows).set_index("source")
    out.attrs["gaps"] = gaps
    return out


def data_notes_table(panel: pd.DataFrame, data_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The provincial data's coverage, gaps and conversions as a report table (no sampling).

    One row per topic -- each source file with its years (from :func:`data_coverage_table`), the years of
    the fitted panel and why only those, Tibet, the GDP deflation, the study's province selection -- with
    columns ``topic``, ``file``, ``first year``, ``last year``, ``provinces`` and ``note``.
    ``panel`` is the panel the study fitted (from :func:`load_province_panel`); the source files are read
    from ``data_dir``, else from the folder the panel's provenance names.
    """
    if "region" not in panel.columns or "year" not in panel.columns:
        raise InputError("data_notes_table needs the provincial panel (columns region, year, ...)")
    if data_dir is None:
        paths = [p.get("path") for p in panel.attrs.get("provenance", []) if p.get("role") == "ceads_co2"]
        data_dir = Path(paths[0]).parent if paths else None
    cov = data_coverage_table(data_dir)
    what = {
        "ceads_co2": ("CO2 (CEADs Scope_1_Total, Mt CO2/yr)",
                      "territorial fuel combustion + cement process CO2; no inventory for Tibet"),
        "nbs_grp": ("GDP (NBS gross regional product)", "nominal, current prices (100 million yuan); deflated, see below"),
        "wb_population": ("population (World Bank subnational)", "persons"),
    }
    rows = []
    for label, (topic, note) in what.items():
        r = cov.loc[label]
        rows.append({"topic": topic, "file": r["file"], "first year": r["year_min"], "last year": r["year_max"],
                     "provinces": r["provinces"], "note": note})
    c = cov.loc["complete"]
    co2 = cov.loc["ceads_co2"]
    unused = [f"{co2['year_min']}-{int(c['year_min']) - 1}" if co2["year_min"] < c["year_min"] else "",
              f"{int(c['year_max']) + 1}-{co2['year_max']}" if co2["year_max"] > c["year_max"] else ""]
    unused = " and ".join(u for u in unused if u)
    rows.append({"topic": "overlap of CO2, GDP and population", "file": "", "first year": c["year_min"],
                 "last year": c["year_max"], "provinces": c["provinces"],
                 "note": "the only years in which all three exist (GDP starts 2004, population ends 2016)"
                         + (f"; CEADs CO2 of {unused} cannot enter the panel" if unused else "")})
    fitted = sorted(panel["region"].unique())
    rows.append({"topic": "fitted panel", "file": "", "first year": int(panel["year"].min()),
                 "last year": int(panel["year"].max()), "provinces": len(fitted),
                 "note": f"{len(panel)} province-years, complete (no gaps filled)"})
    rows.append({"topic": "Tibet", "file": "", "first year": np.nan, "last year": np.nan, "provinces": np.nan,
                 "note": "excluded: CEADs has no inventory for Tibet (its GDP and population exist)"})
    rows.append({"topic": "GDP deflation", "file": "owid_co2_data.csv", "first year": np.nan, "last year": np.nan,
                 "provinces": np.nan,
                 "note": "GRP x OWID (Maddison) China real GDP / sum of provincial GRP, per year: one national "
                         "implicit deflator and PPP factor to 2011 international-$; provincial price levels and "
                         "inflation differences ignored; provinces sum to the national total"})
    for note in panel.attrs.get("notes", []):
        if note.startswith("study selection"):  # written by select_provinces
            rows.append({"topic": "study selection", "file": "", "first year": np.nan, "last year": np.nan,
                         "provinces": len(fitted), "note": note.removeprefix("study selection: ")})
    return pd.DataFrame(rows)
