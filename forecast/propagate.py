"""Posterior draws x scenario draws -> emission trajectories, and the peak metrics read from them.

No Python loop over draws, regions or years: one numba kernel, parallel over samples, draws the Student-t
shocks in place from a counter-based stream, integrates the AR(1) recursion and exponentiates, with SIMD
elementary functions from :mod:`forecast.simd` (called on at most ``KERNEL_CHUNKS`` sample slices, the
steps of the optional progress bar; slicing changes no number).
"""

from __future__ import annotations

import contextvars
import os
import sys
from contextlib import contextmanager
from typing import Iterable, Iterator

import numba
import numpy as np
import pandas as pd
import xarray as xr

from forecast.errors import InputError
from forecast.simd import JIT, exp64, f64_as_i64, fill_student_t, log64, student_t_cube, t_exponents

DEFAULT_LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)
PEAK_YEARS = (2030, 2035)


KERNEL_CHUNKS = 16  # the path kernel runs over at most this many sample slices (progress steps)


class _Progress:
    """A rich progress bar over the steps of one forecast (the kernel's sample slices)."""

    def __init__(self, bar, task):
        self._bar, self._task = bar, task

    def add_steps(self, n: int) -> None:
        total = next(t.total for t in self._bar.tasks if t.id == self._task) or 0
        self._bar.update(self._task, total=total + n)

    def step(self, description: str) -> None:
        self._bar.update(self._task, advance=1, description=description)


# set by forecast_emissions for the duration of one forecast (per thread/context, so concurrent chunked
# forecasts in worker threads never report into it); None = no progress output
_PROGRESS: contextvars.ContextVar[_Progress | None] = contextvars.ContextVar("forecast_progress", default=None)


def _stderr_is_tty() -> bool:
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


@contextmanager
def progress_bar(progress: bool | None, description: str) -> Iterator[_Progress | None]:
    """Progress output for a forecast: shown unless ``progress`` is False, and only on a terminal."""
    if progress is False or not _stderr_is_tty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        reporter = _Progress(bar, bar.add_task(description, total=None))
        token = _PROGRESS.set(reporter)
        try:
            yield reporter
        finally:
            _PROGRESS.reset(token)


def stream_key(rng: np.random.Generator) -> int:
    """The 63-bit key of the counter-based shock stream of one forecast, drawn from ``rng``."""
    return int(rng.integers(2**63))


def _shocks(nu: np.ndarray, shape: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """Unit-scale Student-t shocks ``(sample, region, year)`` (float32) with per-sample degrees of freedom
    ``nu`` (inf = normal): exactly the shocks :func:`simulate_growth_paths` draws in place from the same
    ``rng`` state. Counter-based (see :mod:`forecast.simd`), so they depend on ``rng`` only, never on the
    number of threads."""
    n_samples, n_regions, n_years = shape
    if len(nu) != n_samples:
        raise InputError(f"{len(nu)} degrees of freedom for {n_samples} samples")
    return student_t_cube(stream_key(rng), nu, n_regions, n_years)


SAMPLE_BLOCK = 8  # samples per parallel task: the per-task scratch rows are allocated once per block

# a float64 is positive, normal and finite iff its bits, as an unsigned integer, lie in [_NORMAL_LO, inf)
# (zero, negatives, subnormals, inf and NaN all fall outside; an integer test, so fast-math cannot drop it)
_NORMAL_LO = np.uint64(0x0010000000000000)
_NORMAL_SPAN = np.uint64(0x7FF0000000000000 - 0x0010000000000000)


@numba.njit(parallel=True, **JIT)
def _growth_kernel(key, sample0, fixed_shocks, gdp, x_center, last_x, last_dy, last_terms, last_x_prev, start, drift,
                   slope, curv, cubic, income, phi, sigma, t_a, out, invalid):
    """Integrate the growth-form EKC year by year for every (sample, region) trajectory, into ``out``.

    Per sample, SIMD loops over its region x year cells (the Student-t shocks, drawn in place unless
    ``fixed_shocks`` is non-empty; centred log GDP, counting into ``invalid[s]`` the GDP cells that are not
    positive and finite; the exponential of the log level) around the scalar AR(1) recursion, which starts
    from each draw's residual of the last observed change. Sample ``s`` of this call is sample
    ``sample0 + s`` of the shock stream ``key``; cell ``(s, r, h)`` is variate number
    ``(s·n_regions + r)·n_years + h`` (:func:`forecast.simd.student_t_cube`). ``start`` holds one row of
    last observed log levels, or one per sample.
    """
    n_samples, n_regions, n_years = gdp.shape
    cells = n_regions * n_years
    draw = fixed_shocks.shape[0] == 0
    for block in numba.prange((n_samples + SAMPLE_BLOCK - 1) // SAMPLE_BLOCK):
        eps = np.empty(cells, dtype=np.float32)  # float32 keeps the shock loops 8 SIMD lanes wide
        u = np.empty(cells, dtype=np.float32)
        w = np.empty(cells, dtype=np.float32)
        x = np.empty(cells)
        for s in range(block * SAMPLE_BLOCK, min(n_samples, (block + 1) * SAMPLE_BLOCK)):
            if draw:
                fill_student_t(key, np.uint64(sample0 + s) * np.uint64(cells), t_a[s], eps, u, w)
            else:
                given = fixed_shocks[s].reshape(cells)
                for j in range(cells):
                    eps[j] = given[j]
            g = gdp[s].reshape(cells)
            bad = 0
            for j in range(cells):
                bad += (np.uint64(f64_as_i64(g[j])) - _NORMAL_LO) >= _NORMAL_SPAN
                x[j] = log64(g[j]) - x_center
            invalid[s] = bad
            y_out = out[s].reshape(cells)
            f, cu, inc = phi[s], cubic[s], income[s]
            level = start[min(s, start.shape[0] - 1)]
            for r in range(n_regions):
                d, b, c, sd = drift[s, r], slope[s, r], curv[s, r], sigma[s, r]
                terms = last_terms[r]
                resid = last_dy[r] - (d + b * terms[0] + c * terms[1] + cu * terms[2] + inc * last_x_prev[r])
                x_prev = last_x[r]
                y = level[r]
                for h in range(r * n_years, (r + 1) * n_years):
                    xh = x[h]
                    mean = (d + inc * x_prev + b * (xh - x_prev) + c * (xh * xh - x_prev * x_prev)
                            + cu * (xh * xh * xh - x_prev * x_prev * x_prev))
                    resid = f * resid + sd * eps[h]
                    y += mean + resid
                    y_out[h] = y
                    x_prev = xh
            for j in range(cells):
                y_out[j] = exp64(y_out[j])


def _key_cache_by_simd_too(kernel) -> None:
    """numba keys a cached kernel by its own file's stamp only, but this kernel inlines forecast.simd: fold
    that module's stamp in, so an edit there recompiles the kernel instead of running the old code.
    (numba's private cache API; if it changes, this is a no-op and forecast/simd.py says what to do.)"""
    import forecast.simd

    try:
        cache_file = kernel._cache._cache_file
        simd_stat = os.stat(forecast.simd.__file__)
        cache_file._source_stamp = (*cache_file._source_stamp, simd_stat.st_mtime, simd_stat.st_size)
    except (AttributeError, OSError, TypeError):
        pass


_key_cache_by_simd_too(_growth_kernel)


def simulate_growth_paths(
    params: dict[str, np.ndarray],
    *,
    state: xr.Dataset,
    x_center: float,
    degree: int,
    gdp_per_capita: np.ndarray,
    years: np.ndarray,
    rng: np.random.Generator,
    shocks: np.ndarray | None = None,
) -> np.ndarray:
    """Per-capita CO2 (t/person/yr) along GDP paths for each posterior draw of the growth-form EKC.

    Each year: ``Δy = drift + drift_income·x_prev + slope·Δx + curvature·Δ(x²) [+ cubic·Δ(x³)] + u`` with
    ``u_t = φ u_{t-1} + σ ε_t`` (Student-t ``ε``), starting from the last observed log level and the
    last observed residual ``u``. Compiled with numba and parallel over samples.

    The unit shocks ``ε`` are drawn in place from a counter-based stream whose key is the first draw from
    ``rng`` (:func:`_shocks` with the same ``rng`` state returns them as a cube); ``shocks`` replaces them
    by given values ``(sample, region, year)`` (common random numbers, tests).

    Parameters
    ----------
    params:
        ``drift, slope, curvature, sigma`` with shape ``(sample, region)``; ``cubic, phi, nu,
        drift_income`` with shape ``(sample,)`` (zeros / inf where the model lacks the term).
    state:
        Per-region last observed state (``last_year``, ``last_log_co2_per_capita``, ``last_x``,
        ``last_dy``, ``last_dx_terms``, ``last_x_prev``), as stored by the EKC model.
    gdp_per_capita:
        ``(sample, region, year)`` GDP per capita for ``years`` (int-$ 2011 per person).

    Returns
    -------
    ``(sample, region, year)`` array of per-capita emissions.
    """
    last_year = state["last_year"].values
    if (last_year != years[0] - 1).any():
        raise InputError("all forecast regions must end their data in the year before the first forecast year")
    if np.ndim(gdp_per_capita) != 3 or np.shape(gdp_per_capita)[2] != len(years) or len(gdp_per_capita) == 0:
        raise InputError(f"GDP paths {np.shape(gdp_per_capita)} must be (sample >= 1, region, year) over the {len(years)} years")
    n_samples, n_regions, _ = gdp_per_capita.shape
    expected = {"drift": (n_samples, n_regions), "slope": (n_samples, n_regions), "curvature": (n_samples, n_regions),
                "sigma": (n_samples, n_regions), "phi": (n_samples,), "nu": (n_samples,), "drift_income": (n_samples,)}
    if degree == 3:
        expected["cubic"] = (n_samples,)
    wrong = {k: np.shape(params[k]) for k, shape in expected.items() if np.shape(params[k]) != shape}
    if wrong or state.sizes.get("region") != n_regions:
        # the numba kernel does not check bounds: a mismatch must never reach it
        raise InputError(f"parameter draws do not match the GDP paths {gdp_per_capita.shape}: {wrong or 'regions differ'}")
    f8 = lambda a: np.ascontiguousarray(a, dtype=np.float64)  # noqa: E731
    drift, slope, curv, sigma = (f8(params[k]) for k in ("drift", "slope", "curvature", "sigma"))
    cubic = f8(params["cubic"]) if degree == 3 else np.zeros(len(drift))
    phi, nu, income = f8(params["phi"]), f8(params["nu"]), f8(params["drift_income"])

    # the kernel starts each draw's AR(1) residual from the last observed change minus that draw's mean
    # change (the shock that carries into the forecast); a degree-2 model has no cubic term
    terms = np.zeros((n_regions, 3))
    given_terms = state["last_dx_terms"].values[:, :degree]
    terms[:, : given_terms.shape[1]] = given_terms

    # the kernel runs over fixed sample slices (each sample's path depends on its own inputs and its cell
    # numbers in the shock stream only, so the slicing changes no number); a progress bar, when shown,
    # advances per slice
    # (one call without a bar: every call wakes the thread pool and ends on a partly idle block)
    report = _PROGRESS.get()
    step = n_samples if report is None else max(1, -(-n_samples // KERNEL_CHUNKS))
    slices = [slice(i, i + step) for i in range(0, n_samples, step)]
    if report is not None:
        report.add_steps(len(slices))
    key = np.uint64(stream_key(rng))
    if shocks is None:
        fixed = np.empty((0, n_regions, len(years)), dtype=np.float32)
    else:
        fixed = np.ascontiguousarray(shocks, dtype=np.float32)
        if fixed.shape != gdp_per_capita.shape:
            raise InputError(f"shocks {fixed.shape} do not match the GDP paths {gdp_per_capita.shape}")
    start = state["last_log_co2_per_capita"].values[None, :]
    if "last_level_sd" in state and (state["last_level_sd"].values > 0).any():
        # errors-in-variables: the last observed level is itself uncertain (one row per sample)
        start = start + rng.standard_normal((n_samples, n_regions)) * state["last_level_sd"].values
    gdp, start = f8(gdp_per_capita), f8(start)
    last_x, last_dy, last_x_prev = (f8(state[k].values) for k in ("last_x", "last_dy", "last_x_prev"))
    if not (nu > 0).all():
        raise InputError("Student-t degrees of freedom nu must be positive (inf for normal shocks)")
    t_a = t_exponents(nu)
    out = np.empty((n_samples, n_regions, len(years)))  # allocated by NumPy (huge pages), filled in place
    invalid = np.zeros(n_samples, dtype=np.int64)
    for j, sl in enumerate(slices):
        _growth_kernel(key, sl.start, fixed[sl], gdp[sl], float(x_center), last_x, last_dy, terms, last_x_prev,
                       start[sl] if len(start) > 1 else start, drift[sl], slope[sl], curv[sl], cubic[sl], income[sl],
                       phi[sl], sigma[sl], t_a[sl], out[sl], invalid[sl])
        if invalid[sl].any():
            _raise_invalid_gdp(gdp, state, years)
        if report is not None:
            report.step(f"forecast: paths, slice {j + 1}/{len(slices)}")
    return out


def _raise_invalid_gdp(gdp: np.ndarray, state: xr.Dataset, years: np.ndarray) -> None:
    """The error for GDP paths the kernel found not positive and finite, naming the first bad cell."""
    bad = ~((gdp >= np.finfo(np.float64).tiny) & (gdp < np.inf))
    sample, region, year = np.argwhere(bad)[0]
    name = state["region"].values[region] if "region" in state.coords else region
    raise InputError(f"GDP per capita paths must be positive and finite: {int(bad.sum())} cells are not "
                     f"(first: sample {sample}, region {name}, year {years[year]}: {gdp[sample, region, year]})")


# ---------------------------------------------------------------------- forecast container
class Forecast:
    """Emission trajectories over history + horizon, with peak metrics.

    ``ds`` is an xarray Dataset with dims ``(sample, region, year)``: ``co2`` (Mt CO2/yr),
    ``co2_per_capita`` (t CO2/person/yr), ``gdp_per_capita``, ``population``; coordinate
    ``is_forecast`` (year) and ``last_observed_year`` (region). History years hold observed values.
    """

    def __init__(self, ds: xr.Dataset):
        self.ds = ds

    @property
    def horizon(self) -> int:
        return int(self.ds["year"].max())

    @property
    def regions(self) -> list[str]:
        return [str(r) for r in self.ds["region"].values]

    # -- peak metrics -------------------------------------------------------
    def peak_year(self) -> xr.DataArray:
        """Year of maximum total emissions per sample trajectory, ``(sample, region)``."""
        co2 = self.ds["co2"].fillna(-np.inf)
        idx = co2.argmax("year")
        out = self.ds["year"][idx].drop_vars("year", errors="ignore")
        out.name = "peak_year"
        out.attrs = {"long_name": "year of peak CO2 emissions", "units": "year"}
        return out

    def peak_level(self) -> xr.DataArray:
        """Maximum total emissions per trajectory, ``(sample, region)``, Mt CO2/yr."""
        out = self.ds["co2"].max("year")
        out.attrs = {"long_name": "peak CO2 emissions", "units": "Mt CO2/yr"}
        return out

    def peak_year_probability(self, by: int) -> pd.Series:
        """P(peak year <= ``by``) per region (a peak at the horizon itself is not a peak)."""
        peak = self.peak_year()
        hit = (peak <= by) & (peak < self.horizon)
        return hit.mean("sample").to_series().rename(f"p_peak_by_{by}")

    def peak_table(self, years: Iterable[int] = PEAK_YEARS) -> pd.DataFrame:
        """Per region: P(already peaked), P(peak <= year) for each year, P(no peak by the horizon),
        peak-year quantiles and the peak-level interval. Probabilities lead: peak-year distributions are
        often bimodal (already past vs. decades away), so a median alone misleads."""
        peak = self.peak_year()
        level = self.peak_level()
        last = self.ds["last_observed_year"]
        table = pd.DataFrame(index=pd.Index(self.regions, name="region"))
        table["p_already_peaked"] = (peak <= last).mean("sample").to_series()
        for year in years:
            table[f"p_peak_by_{year}"] = self.peak_year_probability(year)
        table["p_no_peak_by_horizon"] = (peak >= self.horizon).mean("sample").to_series()
        for q in (0.05, 0.5, 0.95):
            table[f"peak_year_q{int(q * 100):02d}"] = peak.quantile(q, dim="sample", method="lower").to_series().astype(int)
        table["peak_co2_mean"] = level.mean("sample").to_series()
        table["peak_co2_q05"] = level.quantile(0.05, dim="sample").to_series()
        table["peak_co2_q95"] = level.quantile(0.95, dim="sample").to_series()
        return table

    def peak_year_distribution(self) -> pd.DataFrame:
        """Probability of each peak year, per region (long table: region, peak_year, probability)."""
        peak = self.peak_year().to_series().reset_index()
        counts = peak.groupby(["region", "peak_year"]).size().rename("count").reset_index()
        counts["probability"] = counts["count"] / self.ds.sizes["sample"]
        return counts.drop(columns="count")

    def summary(self, levels=DEFAULT_LEVELS, variables=("co2", "co2_per_capita")) -> pd.DataFrame:
        """Tidy credible intervals: region, year, variable, mean and quantile columns (forecast years)."""
        from forecast.export import quantile_bands

        fc = self.ds.sel(year=self.ds["is_forecast"])
        return quantile_bands(fc, variables=list(variables), levels=levels)


def _history_cube(panel: pd.DataFrame, regions: list[str]) -> xr.Dataset:
    hist = panel[panel["region"].isin(regions)]
    cube = hist.set_index(["region", "year"])[["co2", "co2_per_capita", "gdp_per_capita", "population"]].to_xarray()
    return cube.reindex(region=regions)


VARIABLE_ATTRS = {
    "co2": {"units": "Mt CO2/yr", "long_name": "territorial CO2 emissions (fossil and industry)"},
    "co2_per_capita": {"units": "t CO2 per person per yr", "long_name": "per-capita CO2 emissions"},
    "gdp_per_capita": {"units": "international-$ (2011 prices) per person", "long_name": "GDP per capita"},
    "population": {"units": "people", "long_name": "population"},
}


def forecast_emissions(model, scenario, panel: pd.DataFrame, *, regions=None, draws: int = 1000,
                       random_seed: int | None = None, progress: bool | None = None) -> Forecast:
    """Push posterior draws of ``model`` through ``scenario``; join with the observed history in ``panel``.

    Returns a :class:`Forecast` over history + horizon with dims ``(sample, region, year)``. ``progress``:
    a progress bar on stderr over the shock blocks and path slices, shown only when stderr is a terminal
    and ``progress`` is not False (the numbers never depend on it).
    """
    regions = list(regions) if regions is not None else model.regions
    if draws < 1:
        raise InputError(f"draws must be a positive integer, got {draws}")
    with progress_bar(progress, f"forecast: {len(regions)} regions x {draws} draws"):
        pred = model.predict(scenario, draws=draws, random_seed=random_seed, regions=regions)
    pred["co2"] = pred["co2_per_capita"] * pred["population"] / 1e6
    # which posterior draw each sample used (kept as coordinates of ``sample``, as ArviZ predictions are)
    origin = {k: pred[k] for k in ("chain", "draw") if k in pred.coords}
    pred = pred.drop_vars(list(origin))
    history = _history_cube(panel, regions)
    history = history.sel(year=history["year"] < pred["year"].min())
    hist_b = history.expand_dims(sample=pred["sample"].values).transpose("sample", "region", "year")
    ds = xr.concat([hist_b, pred[list(hist_b.data_vars)]], dim="year", join="outer")
    ds = ds.assign_coords(
        is_forecast=("year", ds["year"].values > int(history["year"].max())),
        last_observed_year=("region", np.full(len(regions), int(history["year"].max()))),
        **origin,
    )
    for name, attrs in VARIABLE_ATTRS.items():
        ds[name].attrs = attrs
    ds.attrs["scenario"] = scenario.name
    return Forecast(ds)


def forecast_peak(model, scenario, *, panel: pd.DataFrame | None = None, regions=None, draws: int = 1000,
                  random_seed: int | None = None, progress: bool | None = None) -> Forecast:
    """Forecast total emissions and their peak; ``panel`` (observed history) defaults to the panel the
    scenario was built from."""
    if panel is None:
        panel = scenario.history
    if "co2" not in panel.columns:
        raise InputError("the history panel has no 'co2' column: pass the observed panel as panel=")
    return forecast_emissions(model, scenario, panel, regions=regions, draws=draws, random_seed=random_seed,
                              progress=progress)
