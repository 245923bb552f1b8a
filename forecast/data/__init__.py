"""Locate, download, cache, validate and load the input data sets.

Units used throughout (the OWID conventions, kept unchanged):

* ``population`` -- people
* ``gdp`` -- total GDP, international-$ at 2011 prices (Maddison Project Database 2023)
* ``co2`` -- territorial fossil-fuel + industry CO2 emissions, Mt CO2 per year (excluding land-use change)
* ``gdp_per_capita`` -- international-$ (2011 prices) per person (derived: ``gdp / population``)
* ``co2_per_capita`` -- t CO2 per person per year (derived: ``co2 * 1e6 / population``)
* ``co2_ppm`` -- atmospheric CO2 dry-air mole fraction, ppm (NOAA GML annual means)

A data file is looked up in this order (see :func:`resolve_data_file`): an explicit ``path``, the
``data_dir`` argument (CLI ``--data-dir``), the directory in the environment variable
``CARBON_FORECAST_DATA``, the user cache directory (``cache_dir`` argument, else ``CARBON_FORECAST_CACHE``,
else ``platformdirs.user_cache_dir("carbon-forecast")``), and finally a download into that cache.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import shutil
import sys
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecast.errors import DataHashError, DataNotFoundError, InputError, did_you_mean
from forecast.io.csvfile import bad_name_mask, check_header
from forecast.limits import (
    MAX_CO2,
    MAX_GDP,
    MAX_GDP_PER_CAPITA,
    MAX_JUMP,
    MAX_POPULATION,
    MIN_POPULATION,
    PPM_RANGE,
    YEAR_RANGE,
)
from forecast.units import per_capita_t

__all__ = [
    "DataSource",
    "SOURCES",
    "PANEL_COLUMNS",
    "REQUIRED_COLUMNS",
    "UNITS",
    "ENV_DATA_DIR",
    "ENV_CACHE_DIR",
    "default_cache_dir",
    "resolve_data_file",
    "file_provenance",
    "validate_panel",
    "load_panel",
    "data_info",
    "load_co2_concentration",
]

logger = logging.getLogger(__name__)

#: Environment variable naming a directory that holds the data files (same role as ``--data-dir``).
ENV_DATA_DIR = "CARBON_FORECAST_DATA"
#: Environment variable overriding the user cache directory used for downloads.
ENV_CACHE_DIR = "CARBON_FORECAST_CACHE"
#: Set to 1 to accept a download whose SHA-256 differs from the registered one.
ENV_ACCEPT_CHANGED = "CARBON_FORECAST_ACCEPT_CHANGED_DATA"
_APP_NAME = "carbon-forecast"


# ----------------------------------------------------------------------------------------------------
# Source registry
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataSource:
    """A known public data set.

    Attributes:
        name: registry key (e.g. ``"owid"``).
        filename: local file name, used in ``--data-dir``, ``CARBON_FORECAST_DATA`` and the cache
            (a download is stored under this name whatever the upstream name is).
        url: upstream download URL.
        description: one line on what the file holds, with units.
        citation: how to cite the data, with licence.
        sha256: hex SHA-256 of the version the package was built and validated on (the file in the
            project's shared data folder). A download must match it; ``None`` = not pinned.
    """

    name: str
    filename: str
    url: str
    description: str
    citation: str
    sha256: str | None = None


SOURCES: dict[str, DataSource] = {
    "owid": DataSource(
        name="owid",
        filename="owid_co2_data.csv",
        url="https://nyc3.digitaloceanspaces.com/owid-public/data/co2/owid-co2-data.csv",
        description=(
            "Our World in Data CO2 dataset, country x year: population (people), gdp (international-$, "
            "2011 prices, total), co2 (Mt CO2/yr, territorial fossil + industry, excl. land-use change)."
        ),
        citation=(
            "Our World in Data, CO2 and Greenhouse Gas Emissions dataset (owid/co2-data), CC BY 4.0. "
            "Underlying data: Global Carbon Budget 2024 (Friedlingstein et al. 2025, Earth Syst. Sci. Data); "
            "Maddison Project Database 2023 (Bolt & van Zanden); population from OWID (HYDE, Gapminder, "
            "UN WPP 2024)."
        ),
        sha256="94f8bf80fd1bc4681baf753dd367b6ece25c5a9caf80bbd73921990845e0708e",
    ),
    "noaa_co2_gl": DataSource(
        name="noaa_co2_gl",
        filename="noaa_co2_annmean_gl.csv",
        url="https://gml.noaa.gov/webdata/ccgg/trends/co2/co2_annmean_gl.csv",
        description="NOAA GML global marine-surface annual mean atmospheric CO2 (ppm), from 1979.",
        citation=(
            "Lan, X., Tans, P. and Thoning, K.W.: Trends in globally-averaged CO2 determined from NOAA "
            "Global Monitoring Laboratory measurements, https://gml.noaa.gov/ccgg/trends/ (public domain)."
        ),
        sha256="3566ac5772ae5f51669dc23e332ff828afd05b39a93107830de05c2643aba894",
    ),
    "noaa_co2_mlo": DataSource(
        name="noaa_co2_mlo",
        filename="noaa_co2_annmean_mlo.csv",
        url="https://gml.noaa.gov/webdata/ccgg/trends/co2/co2_annmean_mlo.csv",
        description="NOAA GML Mauna Loa annual mean atmospheric CO2 (ppm), from 1959.",
        citation=(
            "Lan, X., Tans, P. and Thoning, K.W., NOAA GML, and Keeling, R., Scripps Institution of "
            "Oceanography: Mauna Loa CO2 annual mean data, https://gml.noaa.gov/ccgg/trends/ (public domain)."
        ),
        sha256="668ad1eae324db95cefa45f57ca96f5a9c6d08355e7133e7d39a5e7db9847712",
    ),
}

#: Columns every panel must provide.
REQUIRED_COLUMNS: tuple[str, ...] = ("region", "year", "population", "gdp", "co2")
#: Columns of a loaded panel, in order (extra covariates follow).
PANEL_COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + ("gdp_per_capita", "co2_per_capita")
_VALUE_COLUMNS: tuple[str, ...] = ("population", "gdp", "co2")

#: Units of the panel columns (attached as ``df.attrs["units"]``).
UNITS: dict[str, str] = {
    "population": "people",
    "gdp": "international-$ (2011 prices)",
    "co2": "Mt CO2/yr",
    "gdp_per_capita": "international-$ (2011 prices) per person",
    "co2_per_capita": "t CO2 per person per yr",
}

_OWID_COLUMNS: dict[str, str] = {  # file column -> panel column
    "country": "region",
    "iso_code": "iso_code",
    "year": "year",
    "population": "population",
    "gdp": "gdp",
    "co2": "co2",
}

#: optional OWID columns a model may ask for (``load_panel(columns=...)``), with their units; read when the
#: file has them, dropped from the panel unless asked for
OWID_OPTIONAL_COLUMNS: dict[str, str] = {
    "energy_per_gdp": "kWh per international-$ (2011 prices)",  # primary energy / GDP (EIA, Energy Institute)
}

_MAX_REPORTED = 5  # offending rows quoted in an error message


def _get_source(source: str) -> DataSource:
    try:
        return SOURCES[source]
    except (KeyError, TypeError):
        known = ", ".join(sorted(SOURCES))
        hint = did_you_mean(str(source), SOURCES)
        raise InputError(f"Unknown data source {source!r}{hint}. Known sources: {known}.") from None


# ----------------------------------------------------------------------------------------------------
# Locating and downloading files
# ----------------------------------------------------------------------------------------------------


def default_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Directory where downloads are cached.

    ``cache_dir`` if given, else ``$CARBON_FORECAST_CACHE``, else ``platformdirs.user_cache_dir("carbon-forecast")``.
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir(_APP_NAME))


def check_data_dir(data_dir: str | os.PathLike[str] | None) -> Path | None:
    """``data_dir`` as a Path if it is a usable folder; a folder that was asked for (``--data-dir``,
    ``data_dir=``) but does not exist, is a file or is empty is a :class:`DataNotFoundError`, never a
    silent fall-back to ``$CARBON_FORECAST_DATA`` or the download cache."""
    if data_dir is None:
        return None
    folder = Path(data_dir).expanduser()
    if not folder.exists():
        raise DataNotFoundError(f"data folder {str(folder)!r} (--data-dir / data_dir) does not exist")
    if not folder.is_dir():
        raise DataNotFoundError(f"data folder {str(folder)!r} (--data-dir / data_dir) is a file, not a folder")
    if not any(folder.iterdir()):
        raise DataNotFoundError(f"data folder {str(folder)!r} (--data-dir / data_dir) is empty")
    return folder


def resolve_data_file(
    source: str,
    *,
    path: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    progress: bool | None = None,
) -> Path:
    """Return the absolute path of the local file for a registered source, downloading it if needed.

    Resolution order (first hit wins):

    1. ``path`` -- an explicit file; it must exist (no fallback), else :class:`DataNotFoundError`.
    2. ``data_dir / filename`` -- the ``data_dir`` argument (CLI ``--data-dir``).
    3. ``$CARBON_FORECAST_DATA / filename``.
    4. ``cache / filename`` with cache = ``cache_dir``, else ``$CARBON_FORECAST_CACHE``, else the
       platform user cache dir for ``carbon-forecast``.
    5. Download ``SOURCES[source].url`` into the cache (only if ``download``). The file is fetched into a
       private staging directory inside the cache and moved into place only when complete, so a failed
       download never leaves a partial file behind.

    Args:
        source: a key of :data:`SOURCES` (unknown names raise :class:`InputError`).
        progress: show a download progress bar; default: only when stderr is a terminal.

    Raises:
        InputError: unknown source name.
        DataNotFoundError: the file is nowhere to be found and could not be downloaded; the message
            lists every place looked at.
    """
    ds = _get_source(source)

    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            what = "is a directory, not a file" if p.is_dir() else "does not exist"
            raise DataNotFoundError(f"Data file for source {source!r} given explicitly as {str(p)!r} {what}.")
        return p.resolve()

    looked: list[str] = []
    if check_data_dir(data_dir) is not None:
        cand = Path(data_dir).expanduser() / ds.filename
        looked.append(f"{cand}  (data_dir / --data-dir)")
        if cand.is_file():
            return cand.resolve()

    env_dir = os.environ.get(ENV_DATA_DIR)
    if env_dir:
        cand = Path(env_dir).expanduser() / ds.filename
        looked.append(f"{cand}  (${ENV_DATA_DIR})")
        if cand.is_file():
            return cand.resolve()
    else:
        looked.append(f"${ENV_DATA_DIR}  (not set)")

    cache = default_cache_dir(cache_dir)
    cached = cache / ds.filename
    looked.append(f"{cached}  (download cache)")
    if cached.is_file():
        return cached.resolve()

    if not download:
        failure = f"Downloading from {ds.url} is disabled."
    else:
        try:
            return _download(ds, cache, progress=progress)
        except DataHashError:
            raise  # not a missing file: the wrong one
        except Exception as exc:  # network, HTTP status, permissions: all reported the same way
            failure = f"Downloading from {ds.url} failed: {type(exc).__name__}: {exc}"

    places = "\n".join(f"  - {p}" for p in looked)
    raise DataNotFoundError(
        f"Data file {ds.filename!r} for source {source!r} not found. Looked in:\n{places}\n{failure}\n"
        f"Put {ds.filename} in a directory and pass it with --data-dir DIR (or set {ENV_DATA_DIR}=DIR), "
        f"or pass the file path explicitly, or allow the download."
    )


def _download(ds: DataSource, cache: Path, *, progress: bool | None) -> Path:
    """Download ``ds.url`` to ``cache / ds.filename`` atomically; return the absolute path."""
    import pooch

    if progress is None:
        progress = bool(getattr(sys.stderr, "isatty", lambda: False)())
    cache.mkdir(parents=True, exist_ok=True)
    final = cache / ds.filename
    staging = Path(tempfile.mkdtemp(prefix=f".{ds.filename}.", suffix=".part", dir=cache))
    pooch_logger = pooch.get_logger()
    old_level = pooch_logger.level
    logger.info("Downloading %s from %s to %s", ds.name, ds.url, final)
    try:
        # pooch's own INFO messages suggest passing known_hash to pooch; meaningless to our users.
        pooch_logger.setLevel(logging.WARNING)
        fetched = Path(
            pooch.retrieve(ds.url, known_hash=None, fname=ds.filename, path=staging, progressbar=progress)
        )
        if fetched.stat().st_size == 0:
            raise OSError(f"downloaded file from {ds.url} is empty")
        # checked here rather than by pooch's known_hash so that the message can say what to do
        got = pooch.file_hash(str(fetched), alg="sha256")
        if ds.sha256 and got != ds.sha256 and os.environ.get(ENV_ACCEPT_CHANGED) != "1":
            raise DataHashError(
                f"the file downloaded from {ds.url} has SHA-256 {got}, but the registered version of "
                f"{ds.name!r} has {ds.sha256}: upstream changed or the download is corrupt. Nothing was "
                f"stored. To use the new version on purpose, set {ENV_ACCEPT_CHANGED}=1 (its hash is then "
                "recorded in every result's provenance) or pass a file you trust with --data-dir."
            )
        os.replace(fetched, final)  # atomic within one file system
    finally:
        pooch_logger.setLevel(old_level)
        shutil.rmtree(staging, ignore_errors=True)
    return final.resolve()


# ----------------------------------------------------------------------------------------------------
# Provenance
# ----------------------------------------------------------------------------------------------------

_hash_cache: dict[tuple[str, int, int], str] = {}
_hash_lock = threading.Lock()


def _sha256(path: Path, st: os.stat_result) -> str:
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _hash_lock:
        hit = _hash_cache.get(key)
    if hit is not None:
        return hit
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    with _hash_lock:
        _hash_cache[key] = digest
    return digest


def file_provenance(
    path: str | os.PathLike[str], source: str | None = None, url: str | None = None
) -> dict[str, Any]:
    """Describe a data file for reproducibility.

    Returns a dict with ``source`` (registry name or label, may be ``None``), ``path`` (absolute, str),
    ``sha256`` (hex digest of the bytes), ``registered_version`` (whether it equals the registry's hash;
    ``None`` without one), ``size_bytes``, ``retrieved`` (file modification time as an
    ISO-8601 UTC timestamp -- for a download, when it was fetched) and ``url`` (given, else the registered
    URL of ``source``, else ``None``). The hash is cached in-process per (path, size, mtime).
    """
    p = Path(path).expanduser().resolve()
    try:
        st = p.stat()
    except OSError as exc:
        raise DataNotFoundError(f"Cannot read data file {str(p)!r}: {exc}") from exc
    if url is None and source in SOURCES:
        url = SOURCES[source].url
    digest = _sha256(p, st)
    registered = SOURCES[source].sha256 if source in SOURCES else None
    return {
        "source": source,
        "path": str(p),
        "sha256": digest,
        # whether this is the version the package was validated on (None: no registered version)
        "registered_version": None if registered is None else digest == registered,
        "size_bytes": st.st_size,
        "retrieved": datetime.fromtimestamp(st.st_mtime, tz=timezone.utc).isoformat(timespec="seconds"),
        "url": url,
    }


# ----------------------------------------------------------------------------------------------------
# Reading (with an in-process cache of parsed files)
# ----------------------------------------------------------------------------------------------------

_frame_cache: OrderedDict[tuple[Any, ...], pd.DataFrame] = OrderedDict()
_frame_lock = threading.Lock()
_FRAME_CACHE_SIZE = 8


def _cached_read(path: Path, kind: str) -> pd.DataFrame:
    """Parse ``path`` (``kind`` = "owid" | "table" | "ppm"), cached per (path, mtime, size).

    The returned frame is a shallow copy; with copy-on-write the cached one cannot be modified through it.
    """
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size, kind)
    with _frame_lock:
        hit = _frame_cache.get(key)
        if hit is not None:
            _frame_cache.move_to_end(key)
            return hit.copy(deep=False)
    reader = {"owid": _read_owid, "table": _read_table, "ppm": _read_ppm_table}[kind]
    df = reader(path)
    with _frame_lock:
        _frame_cache[key] = df
        while len(_frame_cache) > _FRAME_CACHE_SIZE:
            _frame_cache.popitem(last=False)
    return df.copy(deep=False)


def _read_csv(path: Path, **kwargs: Any) -> pd.DataFrame:
    try:
        return pd.read_csv(path, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"Cannot parse {str(path)!r} as CSV: {exc}") from exc


def _read_owid(path: Path) -> pd.DataFrame:
    """Raw OWID frame with columns region, iso_code, year, population, gdp, co2 (aggregates kept), plus the
    :data:`OWID_OPTIONAL_COLUMNS` the file has."""
    header = list(_read_csv(path, nrows=0).columns)
    missing = [c for c in _OWID_COLUMNS if c not in header]
    if missing:
        raise InputError(_missing_columns_message(missing, header, f"OWID file {str(path)!r}"))
    optional = [c for c in OWID_OPTIONAL_COLUMNS if c in header]
    df = _read_csv(path, usecols=list(_OWID_COLUMNS) + optional, dtype={"country": "str", "iso_code": "str"})
    df = df.rename(columns=_OWID_COLUMNS)[list(_OWID_COLUMNS.values()) + optional]
    return df


def _read_table(path: Path) -> pd.DataFrame:
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several unrelated types
            raise InputError(f"Cannot read {str(path)!r} as Parquet: {exc}") from exc
    df = _read_csv(path)
    check_header(path, df, f"panel file {str(path)!r}", encoding="utf-8")
    return df


def _read_ppm_table(path: Path) -> pd.DataFrame:
    # Upstream NOAA files start with '#' comment lines and name the columns year, mean, unc.
    df = _read_csv(path, comment="#", skipinitialspace=True)
    df.columns = [str(c).strip() for c in df.columns]
    return df.rename(columns={"mean": "co2_ppm", "unc": "uncertainty_ppm"})


# ----------------------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------------------


def _missing_columns_message(missing: Sequence[str], found: Sequence[str], label: str) -> str:
    parts = [f"{m!r}{did_you_mean(m, [str(f) for f in found])}" for m in missing]
    return (
        f"{label}: missing required column(s) {', '.join(parts)}. "
        f"Columns found: {', '.join(repr(str(c)) for c in found) or '(none)'}."
    )


def _fmt_rows(df: pd.DataFrame, mask: pd.Series | np.ndarray, col: str | None = None) -> str:
    bad = df.loc[mask]
    items = []
    for _, row in bad.head(_MAX_REPORTED).iterrows():
        s = f"{row['region']}/{row['year']}"
        if col is not None:
            s += f" ({col}={row[col]!r})"
        items.append(s)
    more = f" and {len(bad) - _MAX_REPORTED} more" if len(bad) > _MAX_REPORTED else ""
    return ", ".join(items) + more


def _coerce_structure(df: pd.DataFrame, source_label: str) -> pd.DataFrame:
    """Check the required columns, region names and integer years; return with region str, year int64."""
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{source_label}: expected a pandas DataFrame, got {type(df).__name__}.")
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(_missing_columns_message(missing, list(df.columns), source_label))
    if df.columns.duplicated().any():
        dup = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        raise InputError(f"{source_label}: duplicated column name(s) {', '.join(map(repr, dup))}.")
    if len(df) == 0:
        raise InputError(f"{source_label}: the data contain no rows.")

    df = df.copy(deep=False)
    region = df["region"]
    bad_region = bad_name_mask(region)
    if bad_region.any():
        rows = [str(i) for i in df.index[bad_region][:_MAX_REPORTED]]
        names = ", ".join(repr(str(r)) for r in region[bad_region].head(_MAX_REPORTED))
        raise InputError(
            f"{source_label}: {int(bad_region.sum())} row(s) have an empty region name or one with a control "
            f"character (row index {', '.join(rows)}{' ...' if bad_region.sum() > _MAX_REPORTED else ''}: {names})."
        )
    df["region"] = region.astype("str")

    year = df["year"]
    if not (pd.api.types.is_integer_dtype(year.dtype) and not year.isna().any()):
        num = pd.to_numeric(year, errors="coerce").astype("float64")
        bad = ~np.isfinite(num) | (num % 1 != 0)
        if bad.any():
            raise InputError(
                f"{source_label}: column 'year' must hold whole numbers; offending region/year: "
                f"{_fmt_rows(df, bad)}."
            )
        year = num
    outside = (year < YEAR_RANGE[0]) | (year > YEAR_RANGE[1])
    if outside.any():  # checked before the cast: a year of 1e30 does not fit an int64
        raise InputError(
            f"{source_label}: column 'year' must lie in {YEAR_RANGE[0]}-{YEAR_RANGE[1]}; offending region/year: "
            f"{_fmt_rows(df, outside)}."
        )
    df["year"] = year.astype("int64")

    for col in _VALUE_COLUMNS:
        s = df[col]
        if pd.api.types.is_bool_dtype(s.dtype):
            raise InputError(f"{source_label}: column {col!r} must be numeric, found true/false values.")
        if not pd.api.types.is_numeric_dtype(s.dtype):
            num = pd.to_numeric(s, errors="coerce")
            bad = num.isna() & s.notna()
            if bad.any():
                raise InputError(
                    f"{source_label}: column {col!r} must be numeric; offending region/year: "
                    f"{_fmt_rows(df, bad, col)}."
                )
            s = num
        df[col] = s.astype("float64")
    return df


def _check_jumps(df: pd.DataFrame, source_label: str) -> None:
    """A factor of MAX_JUMP or more between a region's consecutive population or GDP values (missing years
    skipped) is an InputError naming the region and year: real series move by at most a few times a year."""
    ordered = df.sort_values(["region", "year"], kind="stable")
    for col in ("population", "gdp"):
        known = ordered.loc[ordered[col].notna(), ["region", "year", col]]
        step = np.log(known[col]).groupby(known["region"], sort=False).diff().abs()
        bad = step >= np.log(MAX_JUMP)
        if bad.any():
            row = known.loc[bad[bad].index[0]]
            before = known.loc[(known["region"] == row["region"]) & (known["year"] < row["year"]), ["year", col]].iloc[-1]
            raise InputError(
                f"{source_label}: column {col!r} of region {row['region']!r} jumps by a factor of "
                f"{np.exp(step[bad].iloc[0]):.3g} from {before[col]:.4g} in {int(before['year'])} to {row[col]:.4g} in "
                f"{int(row['year'])} (more than {MAX_JUMP:g}x, a unit or typing error; real series move a few times "
                "at most)."
            )


def validate_panel(df: pd.DataFrame, *, source_label: str = "panel") -> pd.DataFrame:
    """Check a region x year panel and return a clean copy.

    Checks (each failure raises :class:`InputError` whose message starts with ``source_label``):

    * required columns ``region, year, population, gdp, co2`` present (misspellings get suggestions);
    * no empty region names and none with control characters; ``year`` whole numbers in
      :data:`forecast.limits.YEAR_RANGE`;
    * ``population`` (people) and ``gdp`` (international-$ 2011) strictly positive and finite,
      ``co2`` (Mt CO2/yr) finite and >= 0 -- wherever present (missing values, NaN, are allowed here;
      :func:`load_panel` drops them with ``require_complete``);
    * physical ranges (:mod:`forecast.limits`, with sources): population 1 to 1e10 people, gdp at most 1e15
      int-$, co2 at most 1e5 Mt CO2/yr, gdp per capita at most 1e6 int-$;
    * no duplicated (region, year) pairs;
    * no factor of 1,000 or more between a region's consecutive population or gdp values.

    Returns a frame with ``region`` (str), ``year`` (int64), float ``population, gdp, co2``, derived
    ``gdp_per_capita`` (int-$ per person) and ``co2_per_capita`` (t CO2 per person per yr, ``co2*1e6/population``),
    extra columns kept after these, sorted by region and year with a fresh RangeIndex. ``attrs["units"]``
    is set.
    """
    df = _coerce_structure(df, source_label)

    df["gdp_per_capita"] = df["gdp"] / df["population"]
    # each value in its physical range (bounds and sources in forecast/limits.py): infinities, negative people,
    # or a region emitting more than the whole world are unit or typing errors, refused before any fit
    checks = (
        ("population", lambda s: ~np.isfinite(s) | (s <= 0), "strictly positive and finite (people)"),
        ("gdp", lambda s: ~np.isfinite(s) | (s <= 0), "strictly positive and finite (international-$)"),
        ("co2", lambda s: ~np.isfinite(s) | (s < 0), "finite and >= 0 (Mt CO2/yr)"),
        ("population", lambda s: (s < MIN_POPULATION) | (s > MAX_POPULATION),
         f"in {MIN_POPULATION:g}-{MAX_POPULATION:.0e} people (world 2023: 8.1e9)"),
        ("gdp", lambda s: s > MAX_GDP, f"at most {MAX_GDP:.0e} international-$ (world 2022: 1.3e14)"),
        ("co2", lambda s: s > MAX_CO2, f"at most {MAX_CO2:.0e} Mt CO2/yr (world 2023: 37,792)"),
        ("gdp_per_capita", lambda s: s > MAX_GDP_PER_CAPITA,
         f"at most {MAX_GDP_PER_CAPITA:.0e} international-$ per person (check the units of gdp and population)"),
    )
    for col, is_bad, rule in checks:
        s = df[col]
        bad = s.notna() & is_bad(s.to_numpy(dtype="float64", na_value=np.nan))
        if bad.any():
            raise InputError(
                f"{source_label}: column {col!r} must be {rule}; {int(bad.sum())} offending value(s) at "
                f"region/year {_fmt_rows(df, bad, col)}."
            )

    dup = df.duplicated(["region", "year"], keep="first")
    if dup.any():
        raise InputError(
            f"{source_label}: duplicated (region, year) pair(s): {_fmt_rows(df, dup)}. "
            "Each region must have at most one row per year."
        )

    _check_jumps(df, source_label)
    df["co2_per_capita"] = per_capita_t(df["co2"], df["population"])
    extra = [c for c in df.columns if c not in PANEL_COLUMNS]
    df = df[list(PANEL_COLUMNS) + extra]
    df = df.sort_values(["region", "year"], kind="stable").reset_index(drop=True)
    df.attrs = {"units": dict(UNITS)}
    return df


# ----------------------------------------------------------------------------------------------------
# Panel loading
# ----------------------------------------------------------------------------------------------------


def _is_registered(source: Any) -> bool:
    return isinstance(source, str) and source in SOURCES


def _panel_file(
    source: str | os.PathLike[str],
    *,
    path: str | os.PathLike[str] | None,
    data_dir: str | os.PathLike[str] | None,
    cache_dir: str | os.PathLike[str] | None,
    download: bool,
    progress: bool | None = None,
) -> tuple[Path, str, str | None]:
    """Return (file, kind, registered source name or None) for a panel source."""
    if _is_registered(source):
        if source != "owid":
            raise InputError(
                f"Source {source!r} is not a region x year emissions panel; panel sources: 'owid' "
                "or a path to a CSV/Parquet file with columns region, year, population, gdp, co2."
            )
        file = resolve_data_file(
            source, path=path, data_dir=data_dir, cache_dir=cache_dir, download=download, progress=progress
        )
        return file, "owid", "owid"
    if path is not None:
        raise InputError("Give the panel file either as `source` or as `path`, not both.")
    p = Path(source).expanduser()
    looks_like_path = isinstance(source, os.PathLike) or p.suffix != "" or os.sep in str(source)
    if not looks_like_path and not p.exists():
        raise InputError(
            f"Unknown data source {str(source)!r}{did_you_mean(str(source), SOURCES)}. Use 'owid' or a path "
            "to a CSV/Parquet file with columns region, year, population, gdp, co2."
        )
    if not p.is_file():
        raise DataNotFoundError(f"Panel data file {str(p)!r} does not exist.")
    return p.resolve(), "table", None


def load_panel(
    source: str | os.PathLike[str] = "owid",
    *,
    path: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    years: tuple[int | None, int | None] | None = None,
    regions: Sequence[str] | str | None = None,
    min_population: float | None = None,
    require_complete: bool = True,
    min_years: int = 10,
    columns: Sequence[str] = (),
) -> pd.DataFrame:
    """Load a validated region x year panel of population, GDP and CO2.

    Args:
        source: ``"owid"`` (Our World in Data CO2 file, located with :func:`resolve_data_file`; aggregates
            such as World, continents and income groups -- rows with an empty ``iso_code`` -- are dropped,
            ``country`` becomes ``region`` and ``iso_code`` is kept), or a path to a tidy CSV/Parquet file
            with columns ``region, year, population (people), gdp (international-$ 2011, total),
            co2 (Mt CO2/yr)``; extra columns (e.g. numeric covariates) are kept.
        path, data_dir, cache_dir, download: where to find the OWID file (see :func:`resolve_data_file`).
            ``path`` is an OWID-format file; use ``source`` for a generic panel file.
        years: ``(start, end)``, inclusive; either end may be ``None`` (open).
        regions: keep only these regions (exact names). Unknown names raise :class:`InputError` with
            close-match suggestions.
        min_population: keep only regions whose population is >= this (people) in *every* year kept
            (after the year window and completeness filters; years with missing population are ignored).
        require_complete: drop region-years with missing population, gdp or co2 or with co2 = 0 (no
            level to fit in logs; listed in ``provenance[0]["dropped_zero_co2"]``), then drop regions with
            fewer than ``min_years`` complete years in the window.
        min_years: see ``require_complete`` (not applied when ``require_complete`` is False).
        columns: extra columns a model needs (e.g. ``("energy_per_gdp",)`` for the STIRPAT model): for OWID
            one of :data:`OWID_OPTIONAL_COLUMNS` (kept, with its units; other optional columns are dropped),
            for a table a column it must have. Missing values there are kept (NaN): the model decides.

    Returns:
        DataFrame with columns ``region`` (str), ``year`` (int64), ``population`` (people), ``gdp``
        (international-$ 2011 prices), ``co2`` (Mt CO2/yr), ``gdp_per_capita`` (int-$ per person),
        ``co2_per_capita`` (t CO2 per person per yr), then extra columns (``iso_code`` for OWID); sorted
        by region and year, RangeIndex. ``attrs``: ``units`` (column -> unit), ``source`` (label) and
        ``provenance`` (list with one :func:`file_provenance` dict extended by ``rows``, ``regions``,
        ``year_min``, ``year_max`` of the result).

    Raises:
        InputError: bad arguments, malformed data, unknown regions, an explicitly requested region
            that a filter removed, or an empty result (the message names the filter).
        DataNotFoundError: the file could not be found or downloaded.
    """
    file, kind, registered = _panel_file(
        source, path=path, data_dir=data_dir, cache_dir=cache_dir, download=download
    )
    label = f"{registered} data file {str(file)!r}" if registered else f"panel file {str(file)!r}"
    raw = _cached_read(file, kind)
    columns = list(dict.fromkeys(columns))
    if kind == "owid":
        unknown = [c for c in columns if c not in OWID_OPTIONAL_COLUMNS]
        if unknown:
            raise InputError(f"{label}: column(s) {', '.join(map(repr, unknown))} are not read from the OWID file; "
                             f"optional OWID columns: {', '.join(OWID_OPTIONAL_COLUMNS)}.")
        absent = [c for c in columns if c not in raw.columns]
        if absent:
            raise InputError(_missing_columns_message(absent, list(raw.columns), label))
        raw = raw.drop(columns=[c for c in OWID_OPTIONAL_COLUMNS if c in raw.columns and c not in columns])
    elif columns:
        absent = [c for c in columns if c not in raw.columns]
        if absent:
            raise InputError(_missing_columns_message(absent, list(raw.columns), label))

    aggregates: set[str] = set()
    if kind == "owid":
        iso = raw["iso_code"]
        is_agg = iso.isna() | (iso.astype("str").str.strip() == "")
        aggregates = set(raw.loc[is_agg, "region"].dropna().astype("str"))
        raw = raw.loc[~is_agg]
    df = _coerce_structure(raw, label)

    year_window = _check_years(years)
    wanted = _check_regions(regions)
    if min_population is not None:
        if not _is_real(min_population) or min_population < 0:
            raise InputError(f"min_population must be a non-negative number of people, got {min_population!r}.")
    if isinstance(min_years, bool) or not isinstance(min_years, (int, np.integer)) or min_years < 1:
        raise InputError(f"min_years must be a positive integer, got {min_years!r}.")

    data_span = f"{int(df['year'].min())}-{int(df['year'].max())}"

    # --- regions
    if wanted is not None:
        known = set(df["region"].unique())
        unknown = [r for r in wanted if r not in known]
        if unknown:
            parts = []
            for r in unknown:
                if r in aggregates:
                    parts.append(f"{r!r} (an aggregate, not a country; aggregates are excluded)")
                else:
                    parts.append(f"{r!r}{did_you_mean(r, known)}")
            raise InputError(f"{label}: unknown region(s) {', '.join(parts)}.")
        df = df.loc[df["region"].isin(wanted)]

    # --- years
    if year_window is not None:
        lo, hi = year_window
        mask = pd.Series(True, index=df.index)
        if lo is not None:
            mask &= df["year"] >= lo
        if hi is not None:
            mask &= df["year"] <= hi
        df = df.loc[mask]
        if df.empty:
            which = f" for region(s) {', '.join(map(repr, wanted))}" if wanted else ""
            raise InputError(
                f"{label}: no rows in years {_fmt_window(year_window)}{which} (the data cover {data_span})."
            )

    df = validate_panel(df, source_label=label)

    # --- completeness
    zero_co2: dict[str, list[int]] = {}
    if require_complete:
        before = set(df["region"])
        # emission models work with log emissions: a reported 0 (a few early years of small economies,
        # e.g. El Salvador or Haiti in the 1950s) carries no level to fit, so it is dropped like a missing
        # year rather than failing the whole panel; the dropped years are listed in the provenance
        zero = df["co2"] == 0
        for region, years_ in df.loc[zero].groupby("region")["year"]:
            zero_co2[str(region)] = [int(y) for y in years_]
        df = df.loc[~zero].dropna(subset=list(_VALUE_COLUMNS))
        counts = df.groupby("region").size()
        enough = counts.index[counts >= min_years]
        if wanted is not None:
            short = [r for r in wanted if r not in enough]
            if short:
                details = ", ".join(f"{r!r} has {int(counts.get(r, 0))}" for r in short)
                raise InputError(
                    f"{label}: requested region(s) have too few complete years (population, gdp and co2 "
                    f"all present) in {_fmt_window(year_window)}: {details}; min_years={min_years}. "
                    "Widen the year window, lower min_years or remove the region."
                )
        df = df.loc[df["region"].isin(enough)]
        if df.empty:
            raise InputError(
                f"{label}: no region has at least min_years={min_years} complete years (population, gdp "
                f"and co2 all present) in {_fmt_window(year_window)} ({len(before)} region(s) before this "
                "filter). Widen the year window, lower min_years or pass require_complete=False."
            )

    # --- population threshold
    if min_population is not None:
        low = df["population"] < min_population  # NaN compares False: missing years are ignored
        small = set(df.loc[low, "region"])
        if wanted is not None:
            dropped = [r for r in wanted if r in small]
            if dropped:
                details = ", ".join(
                    f"{r!r} (min {df.loc[df['region'] == r, 'population'].min():,.0f})" for r in dropped
                )
                raise InputError(
                    f"{label}: requested region(s) have population below min_population="
                    f"{min_population:,.0f} people in at least one kept year ({_fmt_window(year_window)}): {details}."
                )
        df = df.loc[~df["region"].isin(small)]
        if df.empty:
            raise InputError(
                f"{label}: no region has population >= min_population={min_population:,.0f} people in "
                f"every year of {_fmt_window(year_window)}."
            )

    df = df.reset_index(drop=True)
    prov = file_provenance(file, source=registered or str(file))
    prov.update(
        rows=int(len(df)),
        regions=int(df["region"].nunique()),
        year_min=int(df["year"].min()),
        year_max=int(df["year"].max()),
    )
    if zero_co2:
        prov["dropped_zero_co2"] = zero_co2
    df.attrs = {
        "units": {**UNITS, **{c: OWID_OPTIONAL_COLUMNS[c] for c in columns if c in OWID_OPTIONAL_COLUMNS}},
        "source": registered or str(file),
        "provenance": [prov],
    }
    return df


def _is_real(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) and math.isfinite(x)


def _check_years(years: Any) -> tuple[int | None, int | None] | None:
    if years is None:
        return None
    try:
        lo, hi = years
    except (TypeError, ValueError):
        raise InputError(f"years must be a (start, end) pair, got {years!r}.") from None
    out = []
    for y in (lo, hi):
        if y is None:
            out.append(None)
        elif _is_real(y) and float(y) == int(y):
            out.append(int(y))
        else:
            raise InputError(f"years must be whole numbers or None, got {years!r}.")
    if out[0] is not None and out[1] is not None and out[0] > out[1]:
        raise InputError(f"years: start {out[0]} is after end {out[1]}.")
    return out[0], out[1]


def _check_regions(regions: Any) -> list[str] | None:
    if regions is None:
        return None
    if isinstance(regions, str):
        regions = [regions]
    wanted = list(dict.fromkeys(str(r) for r in regions))
    if not wanted:
        raise InputError("regions is an empty list; pass None to keep all regions.")
    return wanted


def _fmt_window(window: tuple[int | None, int | None] | None) -> str:
    if window is None:
        return "all years"
    lo, hi = window
    return f"{'...' if lo is None else lo}-{'...' if hi is None else hi}"


# ----------------------------------------------------------------------------------------------------
# Info and atmospheric CO2
# ----------------------------------------------------------------------------------------------------


def data_info(source: str | os.PathLike[str] = "owid", **resolve_kwargs: Any) -> dict[str, Any]:
    """Summarise a data source (for ``carbon-forecast data info``).

    ``resolve_kwargs`` are passed to :func:`resolve_data_file` (``path, data_dir, cache_dir, download,
    progress``). Returns ``source``, ``path``, ``provenance`` (:func:`file_provenance`), ``rows``,
    ``regions`` (number of regions; countries only for OWID, ``None`` for the NOAA series), ``year_min``,
    ``year_max`` (all rows), ``complete_year_min``/``complete_year_max`` (rows with population, gdp and
    co2 all present; panel sources only), ``columns`` (as loaded), and for registered sources
    ``description``, ``citation``, ``url``.
    """
    allowed = {"path", "data_dir", "cache_dir", "download", "progress"}
    bad = set(resolve_kwargs) - allowed
    if bad:
        raise InputError(f"data_info: unexpected argument(s) {', '.join(sorted(bad))}.")
    info: dict[str, Any] = {}
    if _is_registered(source) and source != "owid":
        file = resolve_data_file(source, **resolve_kwargs)
        df = _validate_ppm(_cached_read(file, "ppm"), f"{source} data file {str(file)!r}")
        info.update(rows=len(df), regions=None)
        registered: str | None = source
    else:
        progress = resolve_kwargs.pop("progress", None)
        file, kind, registered = _panel_file(
            source,
            path=resolve_kwargs.get("path"),
            data_dir=resolve_kwargs.get("data_dir"),
            cache_dir=resolve_kwargs.get("cache_dir"),
            download=resolve_kwargs.get("download", True),
            progress=progress,
        )
        raw = _cached_read(file, kind)
        if kind == "owid":
            iso = raw["iso_code"]
            raw = raw.loc[~(iso.isna() | (iso.astype("str").str.strip() == ""))]
        df = _coerce_structure(raw, f"panel file {str(file)!r}")
        complete = df.dropna(subset=list(_VALUE_COLUMNS))
        info.update(
            rows=len(df),
            regions=int(df["region"].nunique()),
            complete_rows=len(complete),
            complete_year_min=int(complete["year"].min()) if len(complete) else None,
            complete_year_max=int(complete["year"].max()) if len(complete) else None,
        )
    prov = file_provenance(file, source=registered or str(file))
    info = {
        "source": registered or str(file),
        "path": prov["path"],
        "provenance": prov,
        **info,
        "year_min": int(df["year"].min()),
        "year_max": int(df["year"].max()),
        "columns": [str(c) for c in df.columns],
    }
    if registered:
        ds = SOURCES[registered]
        info.update(description=ds.description, citation=ds.citation, url=ds.url)
    return info


def _validate_ppm(df: pd.DataFrame, label: str) -> pd.DataFrame:
    missing = [c for c in ("year", "co2_ppm") if c not in df.columns]
    if missing:
        raise InputError(_missing_columns_message(missing, list(df.columns), label))
    if df.empty:
        raise InputError(f"{label}: the data contain no rows.")
    keep = ["year", "co2_ppm"] + (["uncertainty_ppm"] if "uncertainty_ppm" in df.columns else [])
    df = df[keep].copy()
    year = pd.to_numeric(df["year"], errors="coerce").astype("float64")
    if year.isna().any() or (year % 1 != 0).any() or ((year < YEAR_RANGE[0]) | (year > YEAR_RANGE[1])).any():
        raise InputError(f"{label}: column 'year' must hold whole numbers in {YEAR_RANGE[0]}-{YEAR_RANGE[1]}.")
    df["year"] = year.astype("int64")
    for col in keep[1:]:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    steps = np.diff(df["year"].to_numpy())
    if (steps <= 0).any():
        i = int(np.argmax(steps <= 0))
        raise InputError(f"{label}: years must be strictly increasing (year {df['year'].iloc[i + 1]} follows "
                         f"{df['year'].iloc[i]}).")
    if (steps > 1).any():
        i = int(np.argmax(steps > 1))
        raise InputError(f"{label}: gap in years between {df['year'].iloc[i]} and {df['year'].iloc[i + 1]}.")
    ppm = df["co2_ppm"].to_numpy()
    bad = ~np.isfinite(ppm) | (ppm < PPM_RANGE[0]) | (ppm > PPM_RANGE[1])
    if bad.any():
        yrs = ", ".join(str(y) for y in df["year"].to_numpy()[bad][:_MAX_REPORTED])
        raise InputError(f"{label}: co2_ppm must be positive and finite, in {PPM_RANGE[0]:g}-{PPM_RANGE[1]:g} ppm (forecast/limits.py); "
                         f"offending year(s): {yrs}.")
    df = df.reset_index(drop=True)
    return df


def load_co2_concentration(
    source: str | os.PathLike[str] = "noaa_co2_gl",
    *,
    path: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> pd.DataFrame:
    """Load annual mean atmospheric CO2 (NOAA GML).

    Args:
        source: ``"noaa_co2_gl"`` (global marine surface, from 1979), ``"noaa_co2_mlo"`` (Mauna Loa, from
            1959), or a path to a CSV with columns ``year, co2_ppm`` (optional ``uncertainty_ppm``). Upstream
            NOAA files (``#`` comment header, columns ``year, mean, unc``) are read too.

    Returns:
        DataFrame with ``year`` (int64, strictly increasing without gaps), ``co2_ppm`` (ppm, > 0) and, if
        present, ``uncertainty_ppm`` (ppm); attrs ``units``, ``source``, ``provenance``.
    """
    if _is_registered(source):
        if source == "owid":
            raise InputError("Source 'owid' is not a CO2 concentration series; use 'noaa_co2_gl' or 'noaa_co2_mlo'.")
        file = resolve_data_file(source, path=path, data_dir=data_dir, cache_dir=cache_dir, download=download)
        registered: str | None = source
    else:
        if path is not None:
            raise InputError("Give the CO2 concentration file either as `source` or as `path`, not both.")
        file = Path(source).expanduser()
        if not file.is_file():
            if file.suffix == "" and os.sep not in str(source):
                known = ", ".join(k for k in sorted(SOURCES) if k != "owid")
                raise InputError(f"Unknown CO2 concentration source {str(source)!r}; known: {known}.")
            raise DataNotFoundError(f"CO2 concentration file {str(file)!r} does not exist.")
        file = file.resolve()
        registered = None
    label = f"{registered or 'CO2 concentration'} data file {str(file)!r}"
    df = _validate_ppm(_cached_read(file, "ppm"), label)
    prov = file_provenance(file, source=registered or str(file))
    prov.update(rows=len(df), year_min=int(df["year"].min()), year_max=int(df["year"].max()))
    df.attrs = {
        "units": {"co2_ppm": "ppm (dry-air mole fraction)", "uncertainty_ppm": "ppm"},
        "source": registered or str(file),
        "provenance": [prov],
    }
    return df
