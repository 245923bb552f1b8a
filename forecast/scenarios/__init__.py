"""Scenarios: paths of GDP per capita and population (with uncertainty) that forecasts are pushed through.

Default: :meth:`Scenario.from_history`
--------------------------------------
For each region, the log growth rate of GDP per capita starts at its recent mean (last ``window`` years)
and decays exponentially (time constant ``gdp_decay_years``) toward a long-run rate shared by all regions:

    g_rt = g_LR + (g0_r - g_LR) exp(-(t - T) / tau) + eta_rt

* ``g0_r ~ Normal(recent mean, its standard error)``: how well the recent rate is known;
* ``g_LR ~ Normal(long_run_growth, long_run_growth_sd)``, one draw per sample (a shared world outcome);
  the default 1.5 %/yr +- 0.5 is the order of long-run per-capita growth of frontier economies
  (Maddison Project Database 2023);
* ``eta_rt ~ Normal(0, s_r)``, with ``s_r`` the standard deviation of the region's annual growth in the
  window, capped at ``max_shock_sd`` (keeps a crisis year in the window from dominating 40 years).

Population growth starts at its recent mean and decays toward zero with time constant
``population_decay_years`` (demographic transition), with a small uncertainty on the starting rate.
Levels start from the last observed year, so every path is anchored to the data.

User paths: :meth:`Scenario.from_csv`
-------------------------------------
A tidy CSV or Parquet with columns ``region, year, gdp_per_capita, population`` (int-$ 2011 per person;
people) and optionally ``sample`` (integer draw id). Without ``sample`` the path is deterministic; with
it, forecast samples pick scenario draws at random. Years must cover the forecast window without gaps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from forecast.errors import InputError
from forecast.io.csvfile import check_header, check_names
from forecast.limits import MAX_GDP_PER_CAPITA, MAX_SCENARIO_POPULATION, YEAR_RANGE

PATH_VARIABLES = ("gdp_per_capita", "population")
# keys of a study's [scenario] table that choose which scenarios a run compares, not how one is drawn: a
# scenario built from the table's settings ignores them
STUDY_ONLY_SETTINGS = ("compare",)
UNITS = {"gdp_per_capita": "international-$ (2011 prices) per person", "population": "people"}


@dataclass(frozen=True)
class HistoryScenarioSettings:
    """Settings of the history-based default scenario (growth rates are in log units per year)."""

    window: int = 10
    long_run_growth: float = 0.015
    long_run_growth_sd: float = 0.005
    gdp_decay_years: float = 15.0
    max_shock_sd: float = 0.03
    population_decay_years: float = 30.0
    population_growth_sd: float = 0.002


class Scenario:
    """GDP-per-capita and population paths for a set of regions up to ``horizon`` (inclusive).

    Use :meth:`from_history` or :meth:`from_csv`; then :meth:`draw` returns sampled paths.
    """

    def __init__(self, *, horizon: int, history: pd.DataFrame, name: str, user_paths: pd.DataFrame | None = None,
                 settings: HistoryScenarioSettings | None = None):
        self.horizon = int(horizon)
        self.history = history
        self.name = name
        self.user_paths = user_paths
        self.settings = settings or HistoryScenarioSettings()

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_history(cls, panel: pd.DataFrame, *, horizon: int = 2060, name: str = "history", **settings) -> "Scenario":
        """The default scenario, derived from the recent history in ``panel`` (see module docstring)."""
        needed = {"region", "year", "gdp_per_capita", "population"}
        missing = needed - set(panel.columns)
        if missing:
            raise InputError(f"panel lacks column(s) {', '.join(sorted(missing))} needed for a scenario")
        settings = {k: v for k, v in settings.items() if k not in STUDY_ONLY_SETTINGS}
        try:
            parsed = HistoryScenarioSettings(**settings)
        except TypeError as err:
            raise InputError(f"unknown scenario setting: {err}") from None
        if parsed.window < 3:
            raise InputError(f"scenario window must be at least 3 years, got {parsed.window}")
        last = int(panel["year"].max())
        if horizon <= last:
            raise InputError(f"horizon {horizon} must be after the last data year {last}")
        for column in ("gdp_per_capita", "population"):
            values = pd.to_numeric(panel[column], errors="coerce").to_numpy(dtype=float)
            bad = ~np.isfinite(values) | (values <= 0)
            if bad.any():
                row = panel.loc[bad].iloc[0]
                raise InputError(f"{column} must be positive and finite for a scenario (region {row['region']}, year {row['year']})")
        # keep observed emissions too (when present) so forecasts can be joined to history
        keep = [c for c in ("region", "year", "gdp_per_capita", "population", "co2", "co2_per_capita") if c in panel.columns]
        history = panel.loc[:, keep].sort_values(["region", "year"])
        return cls(horizon=horizon, history=history.reset_index(drop=True), name=name, settings=parsed)

    @classmethod
    def from_csv(cls, path: str | Path, panel: pd.DataFrame, *, horizon: int | None = None, name: str | None = None) -> "Scenario":
        """User-supplied paths (see module docstring); ``panel`` supplies the observed history."""
        path = Path(path)
        if not path.is_file():
            raise InputError(f"scenario file not found: {path}" + (" (it is a folder)" if path.is_dir() else ""))
        try:
            paths = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, encoding="utf-8")
        except UnicodeDecodeError as err:
            raise InputError(f"{path}: not UTF-8 text (byte {err.start}); save the scenario as UTF-8 CSV") from None
        except pd.errors.EmptyDataError:
            raise InputError(f"{path}: the scenario file is empty") from None
        except Exception as err:  # pandas' parser errors, pyarrow's several error types
            raise InputError(f"{path}: cannot read the scenario file ({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None
        if path.suffix != ".parquet":
            check_header(path, paths, str(path))
        paths = _check_paths(paths, path)
        horizon = int(paths["year"].max()) if horizon is None else int(horizon)
        scenario = cls.from_history(panel, horizon=horizon, name=name or path.stem)
        scenario.user_paths = paths
        return scenario

    # ------------------------------------------------------------------ sampling
    def years(self, start_year: int) -> np.ndarray:
        return np.arange(start_year, self.horizon + 1)

    def draw(self, regions: list[str], *, start_year: int, n_samples: int, rng: np.random.Generator) -> xr.Dataset:
        """Sampled paths with dims ``(sample, region, year)`` for years ``start_year .. horizon``."""
        unknown = sorted(set(regions) - set(self.history["region"]))
        if unknown:
            raise InputError(f"scenario has no history for region(s): {', '.join(unknown)}")
        years = self.years(start_year)
        if len(years) == 0:
            raise InputError(f"scenario horizon {self.horizon} is before the first forecast year {start_year}")
        if self.user_paths is not None:
            gdp, pop = self._draw_user(regions, years, n_samples, rng)
        else:
            gdp, pop = self._draw_history(regions, years, n_samples, rng)
        coords = {"sample": np.arange(n_samples), "region": list(regions), "year": years}
        ds = xr.Dataset(
            {
                "gdp_per_capita": (("sample", "region", "year"), gdp),
                "population": (("sample", "region", "year"), pop),
            },
            coords=coords,
            attrs={"scenario": self.name},
        )
        for name in PATH_VARIABLES:
            ds[name].attrs["units"] = UNITS[name]
        ds["gdp_per_capita"].attrs["long_name"] = "GDP per capita"
        ds["population"].attrs["long_name"] = "population"
        return ds

    def _recent(self, regions: list[str], start_year: int) -> pd.DataFrame:
        """Per region: last observed levels and recent growth statistics (log units per year)."""
        window = self.settings.window
        hist = self.history[self.history["region"].isin(regions)]
        hist = hist[hist["year"] < start_year]
        rows = []
        for region, group in hist.groupby("region", sort=False):
            tail = group.tail(window + 1)
            if len(tail) < 3:
                raise InputError(f"region {region}: fewer than 3 years of history before {start_year} for a scenario")
            g = np.diff(np.log(tail["gdp_per_capita"].to_numpy())) / np.diff(tail["year"].to_numpy())
            p = np.diff(np.log(tail["population"].to_numpy())) / np.diff(tail["year"].to_numpy())
            rows.append(
                {
                    "region": region,
                    "last_year": int(tail["year"].iloc[-1]),
                    "gdp0": float(tail["gdp_per_capita"].iloc[-1]),
                    "pop0": float(tail["population"].iloc[-1]),
                    "g_mean": g.mean(),
                    "g_se": g.std(ddof=1) / np.sqrt(len(g)),
                    "g_sd": g.std(ddof=1),
                    "p_mean": p.mean(),
                }
            )
        return pd.DataFrame(rows).set_index("region").loc[list(regions)]

    def _draw_history(self, regions, years, n, rng):
        s = self.settings
        recent = self._recent(regions, int(years[0]))
        if (recent["last_year"] != years[0] - 1).any():
            late = recent.index[recent["last_year"] != years[0] - 1].tolist()
            raise InputError(f"regions {late} do not end in {years[0] - 1}; forecast regions must share their last data year")
        n_regions, n_years = len(regions), len(years)
        t = np.arange(1, n_years + 1)  # years since the last observation
        g0 = rng.normal(recent["g_mean"].to_numpy(), recent["g_se"].to_numpy(), size=(n, n_regions))
        g_lr = rng.normal(s.long_run_growth, s.long_run_growth_sd, size=(n, 1))
        decay = np.exp(-t / s.gdp_decay_years)
        shock_sd = np.minimum(recent["g_sd"].to_numpy(), s.max_shock_sd)
        growth = g_lr[..., None] + (g0 - g_lr)[..., None] * decay + rng.standard_normal((n, n_regions, n_years)) * shock_sd[:, None]
        gdp = recent["gdp0"].to_numpy()[:, None] * np.exp(np.cumsum(growth, axis=-1))
        p0 = rng.normal(recent["p_mean"].to_numpy(), s.population_growth_sd, size=(n, n_regions))
        pop_growth = p0[..., None] * np.exp(-t / s.population_decay_years)
        pop = recent["pop0"].to_numpy()[:, None] * np.exp(np.cumsum(pop_growth, axis=-1))
        return gdp, pop

    def _draw_user(self, regions, years, n, rng):
        paths = self.user_paths
        missing = sorted(set(regions) - set(paths["region"]))
        if missing:
            raise InputError(f"scenario '{self.name}' has no paths for region(s): {', '.join(missing)}")
        sub = paths[paths["region"].isin(regions) & paths["year"].isin(years)]
        cube = sub.set_index(["sample", "region", "year"])[list(PATH_VARIABLES)].to_xarray()
        cube = cube.reindex(region=list(regions), year=years)
        for name in PATH_VARIABLES:
            if cube[name].isnull().any():
                gap = cube[name].isnull().stack(cell=("sample", "region", "year"))
                first = gap.cell.values[gap.values][0]
                raise InputError(
                    f"scenario '{self.name}': {name} missing for sample {first[0]}, region {first[1]}, year {first[2]}"
                    f" (paths must cover {years[0]}-{years[-1]})"
                )
        pick = rng.integers(0, cube.sizes["sample"], size=n)
        gdp = cube["gdp_per_capita"].transpose("sample", "region", "year").values[pick]
        pop = cube["population"].transpose("sample", "region", "year").values[pick]
        return gdp, pop


# the largest value a path may hold, per variable (bounds and sources in forecast/limits.py)
_PATH_MAX = {"gdp_per_capita": MAX_GDP_PER_CAPITA, "population": MAX_SCENARIO_POPULATION}


def _check_paths(paths: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The user's paths checked: columns present, rows present, region names, whole years in YEAR_RANGE,
    whole sample ids, values positive, finite and in their physical range, no repeated (sample, region, year).
    Errors name the file, column, row (1 = first data row), region and year."""
    missing = [c for c in ("region", "year", *PATH_VARIABLES) if c not in paths.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, paths.columns))}")
    if paths.empty:
        raise InputError(f"{path}: the scenario file has a header but no rows")
    check_names(paths, "region", str(path))
    paths = paths.assign(region=paths["region"].astype(str))
    for column in ("year", "sample"):
        if column not in paths.columns:
            continue
        values = pd.to_numeric(paths[column], errors="coerce").astype("float64")
        bad = ~np.isfinite(values) | (values != values.round())
        if column == "year":
            bad |= (values < YEAR_RANGE[0]) | (values > YEAR_RANGE[1])
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            rule = f"is not a whole year in {YEAR_RANGE[0]}-{YEAR_RANGE[1]}" if column == "year" else "is not a whole draw id"
            raise InputError(f"{path}: column {column!r}, row {row + 1}: {str(paths[column].iloc[row])!r} {rule}")
        paths[column] = values.astype("int64")
    for column in PATH_VARIABLES:
        values = pd.to_numeric(paths[column], errors="coerce").astype("float64")
        bad = ~np.isfinite(values) | (values <= 0) | (values > _PATH_MAX[column])
        if bad.any():
            row = paths.loc[bad].iloc[0]
            raise InputError(f"{path}: {column} must be positive and finite (region {row['region']}, year {row['year']}) "
                             f"and at most {_PATH_MAX[column]:.0e} {UNITS[column]}; got {str(row[column])!r}")
        paths[column] = values
    if "sample" not in paths.columns:
        paths = paths.assign(sample=0)
    dup = paths.duplicated(["sample", "region", "year"])
    if dup.any():
        row = paths.loc[dup].iloc[0]
        raise InputError(f"{path}: duplicated (sample, region, year) rows, first: sample {row['sample']}, region "
                         f"{row['region']!r}, year {row['year']}")
    return paths


class DriverScenario(Scenario):
    """GDP-per-capita and population paths drawn from fitted probabilistic driver models.

    ``gdp_model`` is a :class:`~forecast.models.gdp.GDPConvergenceModel`, ``population_model`` a
    :class:`~forecast.models.population.PopulationGrowthModel` (either may be ``None``: that driver then
    comes from the history default). Both must be fitted (:meth:`fit_drivers`) before :meth:`draw`.
    Each forecast sample pairs one posterior draw of each driver model with its own simulated shocks, so
    parameter and shock uncertainty both reach the emission forecast.
    """

    def __init__(self, *, horizon: int, history: pd.DataFrame, name: str, gdp_model=None, population_model=None,
                 settings: HistoryScenarioSettings | None = None):
        super().__init__(horizon=horizon, history=history, name=name, settings=settings)
        self.gdp_model = gdp_model
        self.population_model = population_model

    @classmethod
    def from_models(cls, panel: pd.DataFrame, *, horizon: int = 2060, gdp_model=None, population_model=None,
                    name: str = "drivers", **settings) -> "DriverScenario":
        """A scenario over ``panel``'s regions whose drivers come from the given (fitted or not) models."""
        from forecast.models.gdp import GDPConvergenceModel
        from forecast.models.population import PopulationGrowthModel

        base = Scenario.from_history(panel, horizon=horizon, name=name, **settings)
        return cls(horizon=base.horizon, history=base.history, name=name, settings=base.settings,
                   gdp_model=GDPConvergenceModel() if gdp_model is None else gdp_model,
                   population_model=PopulationGrowthModel() if population_model is None else population_model)

    def fit_drivers(self, **fit_kwargs) -> "DriverScenario":
        """Fit the driver models on the scenario's history (keyword arguments go to each ``fit``)."""
        for model in (self.gdp_model, self.population_model):
            if model is not None and model.idata is None:
                model.fit(self.history, **fit_kwargs)
        return self

    @property
    def driver_models(self) -> list:
        return [m for m in (self.gdp_model, self.population_model) if m is not None]

    def draw(self, regions: list[str], *, start_year: int, n_samples: int, rng: np.random.Generator) -> xr.Dataset:
        ds = super().draw(regions, start_year=start_year, n_samples=n_samples, rng=rng)
        years = ds["year"].values
        if self.gdp_model is not None:
            ds["gdp_per_capita"].values = self.gdp_model.paths(list(regions), years, draws=n_samples, rng=rng)
        if self.population_model is not None:
            ds["population"].values = self.population_model.paths(list(regions), years, draws=n_samples, rng=rng)
        return ds
