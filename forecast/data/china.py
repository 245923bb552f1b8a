"""China provincial panel: CEADs CO2 + NBS gross regional product + World Bank population.

Three files (see ``SOURCES.md`` section 4 of the shared data directory):

* ``china_ceads_province_co2.csv`` -- CEADs provincial inventories 1997-2019, Mt CO2. We use
  ``Scope_1_Total`` (territorial fuel combustion + cement process CO2; scope-2 heat/electricity excluded).
  Tibet is not covered by CEADs, so **Tibet is excluded** from the panel (30 provinces remain).
* ``china_nbs_province_gdp.csv`` -- NBS gross regional product (GRP) 2004-2023, **nominal**, current
  prices, 100 million yuan.
* ``china_wb_province_population.csv`` -- World Bank subnational population 2000-2016, persons.

The three overlap only in **2004-2016** (GDP starts 2004, population ends 2016), so the complete panel
covers 2004-2016; :func:`data_coverage_table` reports the ranges. With ``extend_population =
"national_share"`` the population is extended to 2019 (:func:`extended_population`, validated on a 2012-2016
holdout by :func:`population_extension_check`) so the panel can use CEADs CO2 to its end; the extended
province-years are flagged in the column ``population_extended``.

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
    "EXTENDED_YEARS",
    "POPULATION_EXTENSIONS",
    "extended_population",
    "population_extension_check",
    "population_extension_summary",
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
#: Years a panel may cover when the population is extended (``extend_population = "national_share"``):
#: GRP starts in 2004, CEADs CO2 ends in 2019.
EXTENDED_YEARS: tuple[int, int] = (2004, 2019)
#: ``"none"``: World Bank population only; ``"national_share"``: :func:`extended_population`.
POPULATION_EXTENSIONS: tuple[str, ...] = ("none", "national_share")
#: years of each province's population share the extension's log-linear trend is fitted to: 5 balanced the
#: median and the worst error on an earlier split (``population_extension_check(last=2006, through=2011,
#: trend_years=k)`` for k = 3, 5, 7: median |error| at 1-3 years ahead
#: 1.15, 0.80, 0.69 %, worst 6.9, 7.4, 8.6 %); the 2012-2016 holdout was computed in the same pass, so it is a check
#: of the rule, not a blind one
SHARE_TREND_YEARS = 5
#: at most this many years are extended: the 2012-2016 holdout validates horizons 1-5, no further
MAX_POPULATION_EXTENSION = 5

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


def load_ceads_co2(data_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """CEADs provincial CO2 as tidy ``region, year, co2`` (Mt CO2/yr, ``Scope_1_Total``), every year of the
    file (1997-2019), with ``attrs["provenance"]`` (the file and its SHA-256)."""
    path = _resolve("ceads_co2", data_dir)
    raw = _read("ceads_co2", path, ["province", "year", _CO2_COLUMN])
    out = pd.DataFrame({"region": raw["province"], "year": raw["year"],
                        "co2": pd.to_numeric(raw[_CO2_COLUMN], errors="coerce")})
    out.attrs["provenance"] = [file_provenance(path, source="china_ceads_co2")]
    return out


def _read_all(data_dir) -> tuple[dict[str, pd.DataFrame], dict[str, Path]]:
    paths = {k: _resolve(k, data_dir) for k in CHINA_FILES}
    frames = {
        "ceads_co2": _read("ceads_co2", paths["ceads_co2"], ["province", "year", _CO2_COLUMN]),
        "nbs_grp": _read("nbs_grp", paths["nbs_grp"], ["province", "year", _GRP_COLUMN]),
        "wb_population": _read("wb_population", paths["wb_population"], ["province", "year", "population"]),
    }
    return frames, paths


def _population_wide(pop: pd.DataFrame, label: str = "wb_population") -> pd.DataFrame:
    """``pop`` (province, year, population) as a year x province table, checked for what the extension needs."""
    bad = pop[~np.isfinite(pd.to_numeric(pop["population"], errors="coerce")) | (pop["population"] <= 0)]
    if len(bad):
        rows = ", ".join(f"{r.province}/{r.year}" for r in bad.head(5).itertuples())
        raise InputError(f"{CHINA_FILES[label]}: population must be positive and finite to extend it; "
                         f"offending province/year {rows}.")
    return pop.pivot(index="year", columns="province", values="population").sort_index()


def extended_population(pop: pd.DataFrame, national: pd.Series, through: int, *,
                      trend_years: int = SHARE_TREND_YEARS, label: str = "wb_population") -> pd.DataFrame:
    """Provincial population extended from the file's last year ``L`` to ``through`` (people).

    ``pop``: tidy ``province, year, population`` (every province of the file, Tibet included, since the
    national total includes it); ``national``: China's population by year (people; OWID, i.e. UN WPP), which
    must cover ``L`` to ``through``. Returns ``pop`` with the rows ``L+1 .. through`` added and a boolean
    column ``population_extended`` (True on the added rows).

    **Rule** (``"national_share"``): the provinces' total grows as China's national population does,
    ``total[t] = total[L] * national[t] / national[L]``, and each province's share of that total continues
    its log-linear trend of the last ``trend_years`` years, anchored at its last observed share and
    renormalised to sum to one::

        share[p, t] = share[p, L] * exp(b_p * (t - L)) / sum_q share[q, L] * exp(b_q * (t - L))

    with ``b_p`` the least-squares slope of ``log share[p]`` on the year over ``L - trend_years + 1 .. L``.

    **Why this rule.** The national series is the best-measured number there is and runs to 2023, so the
    sum follows it rather than 30 separate extrapolations; migration shows up as slowly changing shares,
    which the trend carries on. The extension starts at the last observed value (no jump in the year after
    ``L``): the emission model works on yearly log changes of per-capita CO2 and GDP, where a level jump
    would be read as a shock. The rule cannot foresee breaks in a province's trend (e.g. Beijing's growth
    of 7 %/yr in 2010-2011 against about 2 %/yr after); :func:`population_extension_check` measures its error
    on real years. The national series (UN WPP via OWID) and the World Bank provincial sum grow at slightly
    different rates (2012-2016: about 0.65 vs 0.50 %/yr), part of the measured error.

    Raises:
        InputError: ``through - L`` above :data:`MAX_POPULATION_EXTENSION`; a province without a positive
            value in every trend year; national population missing for a year needed.
    """
    wide = _population_wide(pop, label)
    last = int(wide.index.max())
    through = int(through)
    out = pop.assign(population_extended=False)
    if through <= last:
        return out
    if through - last > MAX_POPULATION_EXTENSION:
        raise InputError(f"population can be extended by at most {MAX_POPULATION_EXTENSION} years (the holdout "
                         f"validates no further): {CHINA_FILES[label]} ends in {last}, asked for {through}.")
    years = list(range(last - trend_years + 1, last + 1))
    hist = wide.reindex(years)
    if hist.isna().any().any():
        missing = [f"{p}/{y}" for y in years for p in hist.columns if pd.isna(hist.loc[y, p])][:5]
        raise InputError(f"{CHINA_FILES[label]}: extending the population needs every province in each of the "
                         f"last {trend_years} years {years[0]}-{last}; missing province/year {', '.join(missing)}.")
    needed = list(range(last, through + 1))
    nat = pd.Series(national, dtype=float).reindex(needed)
    if nat.isna().any() or (nat <= 0).any():
        raise InputError(f"OWID China population missing or not positive for year(s) "
                         f"{[y for y in needed if not nat.get(y, 0) > 0]}: needed to extend the provincial population "
                         f"from {last} to {through}.")
    shares = hist.div(hist.sum(axis=1), axis=0)
    slope = np.polyfit(np.asarray(years, dtype=float) - last, np.log(shares.to_numpy()), 1)[0]  # per province, 1/yr
    ahead = np.arange(1, through - last + 1)
    share = shares.loc[last].to_numpy() * np.exp(np.outer(ahead, slope))
    share /= share.sum(axis=1, keepdims=True)
    total = hist.loc[last].sum() * nat.loc[last + ahead].to_numpy() / nat.loc[last]
    added = pd.DataFrame(share * total[:, None], index=last + ahead, columns=hist.columns)
    added = added.rename_axis(index="year", columns="province").stack().rename("population").reset_index()
    added["population_extended"] = True
    return pd.concat([out, added[out.columns]], ignore_index=True)


def population_extension_check(data_dir: str | os.PathLike[str] | None = None, *, last: int = 2011,
                               through: int = 2016, trend_years: int = SHARE_TREND_YEARS,
                               provinces: list[str] | None = None) -> pd.DataFrame:
    """The extension rule against real World Bank years: cut the file at ``last``, extend to ``through``
    with :func:`extended_population` and compare with the values the file has.

    One row per province (``provinces``, default: the 30 CEADs provinces) and year ``last+1 .. through``:
    ``province``, ``year``, ``horizon`` (years after ``last``), ``observed`` and ``extended`` (people),
    ``error_pct`` (100 * (extended / observed - 1), signed). :func:`population_extension_summary` condenses it.
    """
    frames, paths = _read_all(data_dir)
    pop = frames["wb_population"]
    if not (pop["year"] <= last).any() or through > int(pop["year"].max()):
        raise InputError(f"population_extension_check: {CHINA_FILES['wb_population']} must cover {last} and "
                         f"{through} (it has {int(pop['year'].min())}-{int(pop['year'].max())}).")
    national = _national_population(paths, data_dir)
    ext = extended_population(pop[pop["year"] <= last], national, through, trend_years=trend_years)
    ext = ext[ext["population_extended"]].drop(columns="population_extended")
    real = pop[(pop["year"] > last) & (pop["year"] <= through)]
    table = ext.merge(real, on=["province", "year"], suffixes=("_extended", ""))
    keep = sorted(set(frames["ceads_co2"]["province"])) if provinces is None else list(provinces)
    table = table[table["province"].isin(keep)]
    out = pd.DataFrame({"province": table["province"], "year": table["year"], "horizon": table["year"] - last,
                        "observed": table["population"], "extended": table["population_extended"]})
    out["error_pct"] = 100.0 * (out["extended"] / out["observed"] - 1.0)
    out = out.sort_values(["province", "year"]).reset_index(drop=True)
    out.attrs = {"last": last, "through": through, "trend_years": trend_years}
    return out


def population_extension_summary(check: pd.DataFrame, max_horizon: int | None = None) -> dict[str, Any]:
    """Median and maximum absolute % error of :func:`population_extension_check` over all province-years
    with ``horizon <= max_horizon`` (all if ``None``), and the province and year of the maximum."""
    cell = check if max_horizon is None else check[check["horizon"] <= max_horizon]
    if not len(cell):
        raise InputError("population_extension_summary: no province-years in the check table")
    err = cell["error_pct"].abs()
    worst = cell.loc[err.idxmax()]
    return {"n": len(cell), "median_abs_pct": float(err.median()), "max_abs_pct": float(err.max()),
            "worst_province": str(worst["province"]), "worst_year": int(worst["year"]),
            "horizons": f"1-{int(cell['horizon'].max())}"}


def _national_population(paths: dict[str, Path], data_dir) -> pd.Series:
    """China's population by year (people; OWID), read from the folder of the provincial files."""
    national = load_panel("owid", regions=["China"], data_dir=paths["ceads_co2"].parent if data_dir is None
                          else data_dir, require_complete=False)
    return national.set_index("year")["population"].dropna()


def load_province_panel(
    data_dir: str | os.PathLike[str] | None = None,
    years: tuple[int, int] = COMPLETE_YEARS,
    regions: list[str] | None = None,
    exclude_regions: list[str] | None = None,
    extend_population: str = "none",
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

    **Population extension.** ``extend_population = "national_share"`` extends the World Bank population
    beyond its last year (2016) by :func:`extended_population`, so ``years`` may run to 2019
    (:data:`EXTENDED_YEARS`, the end of CEADs CO2). The column ``population_extended`` (bool) marks the
    extended province-years; ``attrs["population_extended"]`` lists them (``{province: [years]}``) and
    ``attrs["notes"]`` and the provenance say so. ``"none"`` (default): no extension, the column is all False.

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
    if extend_population not in POPULATION_EXTENSIONS:
        raise InputError(f"extend_population must be one of {', '.join(map(repr, POPULATION_EXTENSIONS))}, "
                         f"got {extend_population!r}")
    extend = extend_population != "none"
    allowed = EXTENDED_YEARS if extend else COMPLETE_YEARS
    if lo < allowed[0] or hi > allowed[1]:
        why = (" with the population extended (CEADs CO2 ends in 2019)" if extend else
               ", the only years in which CEADs CO2 (1997-2019), NBS GRP (2004-2023) and World Bank provincial "
               "population (2000-2016) all exist (extend_population = 'national_share' reaches 2019)")
        raise InputError(f"years {lo}-{hi} outside {allowed[0]}-{allowed[1]}{why}.")
    frames, paths = _read_all(data_dir)
    co2 = frames["ceads_co2"].rename(columns={_CO2_COLUMN: "co2"})
    grp = frames["nbs_grp"]
    pop = frames["wb_population"]
    pop_last = int(pop["year"].max()) if len(pop) else None
    if extend and pop_last is not None and hi > pop_last:
        pop = extended_population(pop, _national_population(paths, data_dir), hi)
    else:
        pop = pop.assign(population_extended=False)
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
    df["population_extended"] = df["population_extended"].astype(bool)
    df = df.rename(columns={"province": "region"})[["region", "year", "population", "gdp", "co2", "group",
                                                      "grp_nominal_yuan", "population_extended"]]
    df = validate_panel(df, source_label="China provincial panel")
    extended = {r: sorted(int(y) for y in g["year"]) for r, g in df[df["population_extended"]].groupby("region")}

    prov: list[dict[str, Any]] = []
    for label, path in paths.items():
        item = file_provenance(path, source=f"china_{label}")
        item.update(role=label, rows=int(len(df)), regions=int(df["region"].nunique()), year_min=lo, year_max=hi)
        if label == "wb_population" and extended:
            years = sorted({y for ys in extended.values() for y in ys})
            item.update(year_max=pop_last, extended_years=[years[0], years[-1]], extension_rule=extend_population,
                        extension_note=_extension_note(years, len(extended)))
        prov.append(item)
    for item in national.attrs.get("provenance", []):
        role = "national real GDP (China) used to deflate and convert GRP"
        if extended:
            role += "; national population used to extend the provincial population"
        prov.append({**item, "role": role})
    units = dict(UNITS)
    units.update(group="NBS belt (east/central/west)", grp_nominal_yuan="yuan, current prices",
                 population_extended="True = population extended beyond the World Bank file (not observed)")
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
            *([_extension_note(sorted({y for ys in extended.values() for y in ys}), len(extended))]
              if extended else []),
        ],
        "population_extended": extended,
    }
    return select_provinces(df, regions, exclude_regions)


def _extension_note(years: list[int], provinces: int) -> str:
    return (f"population {years[0]}-{years[-1]} of {provinces} provinces extended, not observed (World Bank file "
            f"ends {years[0] - 1}): provinces' total follows China's national population (OWID), each province's "
            f"share continues its log-linear trend of the last {SHARE_TREND_YEARS} years (column "
            "population_extended).")


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
    # CEADs years the panel cannot use: before GRP starts, and after the population ends unless extended
    last_used = max(int(c["year_max"]), int(panel["year"].max()))
    unused = [f"{co2['year_min']}-{int(c['year_min']) - 1}" if co2["year_min"] < c["year_min"] else "",
              f"{last_used + 1}-{co2['year_max']}" if co2["year_max"] > last_used else ""]
    unused = " and ".join(u for u in unused if u)
    extended = (f"; {int(c['year_max']) + 1}-{last_used} enter with the population extended (below)"
                if last_used > c["year_max"] else "")
    rows.append({"topic": "overlap of CO2, GDP and population", "file": "", "first year": c["year_min"],
                 "last year": c["year_max"], "provinces": c["provinces"],
                 "note": "the only years in which all three exist (GDP starts 2004, population ends 2016)"
                         + (f"; CEADs CO2 of {unused} cannot enter the panel" if unused else "") + extended})
    fitted = sorted(panel["region"].unique())
    flagged = panel["population_extended"].astype(bool) if "population_extended" in panel.columns else None
    n_ext = int(flagged.sum()) if flagged is not None else 0
    rows.append({"topic": "fitted panel", "file": "", "first year": int(panel["year"].min()),
                 "last year": int(panel["year"].max()), "provinces": len(fitted),
                 "note": f"{len(panel)} province-years, complete"
                         + (f"; population extended in {n_ext} of them (see below)" if n_ext else " (no gaps filled)")})
    if n_ext:
        rows.append(_extension_row(panel, flagged, data_dir))
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


def _extension_row(panel: pd.DataFrame, flagged: pd.Series, data_dir) -> dict[str, Any]:
    """The data-notes row of an extended population: which years, the rule, and the rule's error when the
    same extension is made from 2011 and compared with the real 2012-2016 values (computed here, from the
    files, over the fitted provinces, at the horizons the panel extends)."""
    years = sorted(int(y) for y in panel.loc[flagged, "year"].unique())
    horizon = years[-1] - years[0] + 1
    check = population_extension_check(data_dir, provinces=sorted(panel["region"].unique()))
    err = population_extension_summary(check, max_horizon=horizon)
    return {"topic": "population extension", "file": CHINA_FILES["wb_population"], "first year": years[0],
            "last year": years[-1], "provinces": int(panel.loc[flagged, "region"].nunique()),
            "note": (f"not observed: the provinces' total follows China's population (OWID), each share continues "
                     f"its log-linear trend of the last {SHARE_TREND_YEARS} years (population_extended = True). "
                     f"Checked by extending 2011 to 2012-2016: |error| 1-{horizon} years ahead median "
                     f"{err['median_abs_pct']:.2f} %, max {err['max_abs_pct']:.1f} % ({err['worst_province']} "
                     f"{err['worst_year']})")}
