"""Posterior draws x scenario draws -> emission trajectories, and the peak metrics read from them.

The Student-t growth shocks come from NumPy generators, one per fixed block of samples (so a seed gives
the same numbers on any thread count, with or without the progress bar); the AR(1) recursion, the only
part with a loop over years, is one numba function (:func:`simulate_growth`, the model's simulator,
parallel over samples).
"""

from __future__ import annotations

import contextvars
import sys
from contextlib import contextmanager
from typing import Iterable, Iterator

import numba
import numpy as np
import pandas as pd
import xarray as xr

from forecast.errors import InputError
from forecast.projection.peak import last_identifiable_year, peak_year_of, peak_years

DEFAULT_LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)
PEAK_YEARS = (2030, 2035)


class _Progress:
    """A rich progress bar over the steps of one forecast (its sample blocks)."""

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


SHOCK_BLOCK = 256  # samples per shock generator; part of what a seed means (see _block_generators)


def _blocks(n_samples: int) -> list[slice]:
    """The fixed sample blocks of one forecast: each has its own shock generator and is one progress step."""
    return [slice(i, min(i + SHOCK_BLOCK, n_samples)) for i in range(0, n_samples, SHOCK_BLOCK)]


def _block_generators(rng: np.random.Generator, n_samples: int) -> list[np.random.Generator]:
    """One independent NumPy generator per block of :data:`SHOCK_BLOCK` samples, spawned from a seed that
    is the first draw from ``rng``. The block, never the thread count or the progress slicing, decides
    which generator draws a sample's shocks, so a seed gives the same numbers however the work is run."""
    parent = np.random.SeedSequence(int(rng.integers(2**63)))
    return [np.random.default_rng(child) for child in parent.spawn(len(_blocks(n_samples)))]


def _unit_shocks(gen: np.random.Generator, nu: np.ndarray, n_regions: int, n_years: int) -> np.ndarray:
    """Unit Student-t shocks ``(len(nu), region, year)`` with per-sample degrees of freedom ``nu``; a
    sample with ``nu = inf`` gets standard normals (NumPy's ``standard_t`` returns NaN for an infinite df)."""
    shape = (len(nu), n_regions, n_years)
    normal = np.isinf(nu)
    if not normal.any():  # the fitted Student-t models: one call
        return gen.standard_t(nu[:, None, None], size=shape)
    out = gen.standard_normal(shape)
    if not normal.all():  # mixed (tests): the finite-nu samples are redrawn as Student-t
        out[~normal] = gen.standard_t(nu[~normal, None, None], size=(int((~normal).sum()), n_regions, n_years))
    return out


def _shocks(nu: np.ndarray, shape: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """Unit-scale Student-t shocks ``(sample, region, year)`` (float64) with per-sample degrees of freedom
    ``nu`` (inf = normal): exactly the shocks :func:`simulate_growth_paths` draws from the same ``rng``
    state, block by block (:func:`_block_generators`)."""
    n_samples, n_regions, n_years = shape
    if len(nu) != n_samples:
        raise InputError(f"{len(nu)} degrees of freedom for {n_samples} samples")
    nu = np.asarray(nu, dtype=np.float64)
    gens = _block_generators(rng, n_samples)
    return np.concatenate([_unit_shocks(g, nu[sl], n_regions, n_years) for g, sl in zip(gens, _blocks(n_samples))])


@numba.njit(cache=True)
def ar1_residual(previous: float, phi: float, shock: float) -> float:
    """The AR(1) residual ``u_t = φ u_{t-1} + shock`` (``shock = σ ε_t``, a change in log level).

    ``previous`` NaN marks the first change of a run, which has no earlier residual: it gets the
    stationary scale ``shock / sqrt(1 - φ²)``, as in the models' likelihoods (``has_prev = 0``)."""
    if np.isnan(previous):
        return shock / np.sqrt(1.0 - phi * phi)
    return phi * previous + shock


@numba.njit(parallel=True, cache=True)
def _growth_kernel(x, eps, x0, y0, u0, drift, slope, curvature, sigma, cubic, drift_income, phi, common, pinned):
    """The recursion of :func:`simulate_growth` (arguments as there, all float64, C-contiguous, already
    broadcast); parallel over samples, each trajectory independent, so the thread count changes no number.
    ``common`` ``(sample, year)`` is the year effect every region of a sample shares (zeros without one).
    ``pinned`` ``(sample, region, k)``: observed log levels of the first ``k`` years (NaN = not observed)."""
    n_samples, n_regions, n_years = x.shape
    n_pinned = pinned.shape[2]
    y = np.empty(x.shape)
    for s in numba.prange(n_samples):
        k, inc, f = cubic[s], drift_income[s], phi[s]
        for r in range(n_regions):
            d, b, c, sd = drift[s, r], slope[s, r], curvature[s, r], sigma[s, r]
            x_prev, level, resid = x0[s, r], y0[s, r], u0[s, r]
            for t in range(n_years):
                xt = x[s, r, t]
                mean = (d + inc * x_prev + b * (xt - x_prev) + c * (xt * xt - x_prev * x_prev)
                        + k * (xt * xt * xt - x_prev * x_prev * x_prev))
                resid = ar1_residual(resid, f, sd * eps[s, r, t])
                if t < n_pinned and not np.isnan(pinned[s, r, t]):
                    # an observed year: the level is known, and the residual is what the data imply for
                    # this draw (its shock was drawn all the same, so later years keep their random numbers)
                    resid = pinned[s, r, t] - level - mean - common[s, t]
                    level = pinned[s, r, t]
                else:
                    # (mean + resid) + 0.0 is exactly mean + resid: without a year effect nothing changes
                    level += mean + resid + common[s, t]
                y[s, r, t] = level
                x_prev = xt
    return y


def simulate_growth(params: dict[str, np.ndarray], *, x: np.ndarray, x0, y0, u0, shocks: np.ndarray,
                    common: np.ndarray | None = None, pinned: np.ndarray | None = None) -> np.ndarray:
    """The growth-form EKC as a generative model: log per-capita CO2 along given income paths and shocks.

    The one simulator of the model's likelihood (:class:`forecast.models.ekc.EKCModel`), used by
    :func:`simulate_growth_paths` (forecasts) and :func:`forecast.evaluation.sbc.ekc_sbc_setup` (SBC). Each year::

        Δy_t = drift + drift_income·x_{t-1} + slope·Δx_t + curvature·Δ(x_t²) + cubic·Δ(x_t³) + g_t + u_t
        u_t  = φ u_{t-1} + σ ε_t                                           (:func:`ar1_residual`)

    ``g_t`` is a year effect shared by every region of a sample (``common``; 0 without one), outside the
    AR(1) residual, as in :class:`forecast.models.kaya.KayaModel` with ``common_shocks=True``.

    Units: ``y`` is log(t CO2 per person per yr), ``x`` log(GDP per capita in int-$ 2011 per person) minus
    the model's centre ``x_center``; changes are per year.

    Parameters
    ----------
    params:
        ``drift, slope, curvature, sigma`` ``(sample, region)``; ``phi, drift_income`` and optionally
        ``cubic`` (default 0) ``(sample,)``; anything that broadcasts to those shapes.
    x:
        ``(sample, region, year)`` centred log GDP per capita of the simulated years.
    x0, y0:
        Centred log GDP per capita and log per-capita CO2 of the year before the first, ``(sample,
        region)`` or ``(region,)``.
    u0:
        Residual of the change into that year, same shapes; NaN where there is none (the first simulated
        change then starts a run at the stationary scale).
    shocks:
        ``(sample, region, year)`` unit shocks ``ε`` (e.g. :func:`_shocks`).
    common:
        ``(sample, year)`` year effects ``g`` in log units per year, shared by the regions of each sample
        (not unit shocks: already scaled); ``None`` = no year effect.
    pinned:
        ``(sample, region, k)`` observed log per-capita CO2 of the first ``k`` simulated years (NaN where a
        region has no observation): the path takes the observed level there and the residual it implies
        (``u_t = Δy_t − mean_t − g_t``), which carries on through φ. Emissions are often published a year
        before GDP; this conditions the forecast on them. ``None`` = nothing observed.

    Returns
    -------
    ``(sample, region, year)`` float64 log per-capita CO2.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    eps = np.ascontiguousarray(shocks, dtype=np.float64)
    if x.ndim != 3 or eps.shape != x.shape:
        raise InputError(f"shocks {eps.shape} do not match the income paths {x.shape}")
    # one compiled signature: every argument float64, C-contiguous and broadcast to its full shape
    rows = lambda a: np.ascontiguousarray(np.broadcast_to(np.asarray(a, dtype=np.float64), x.shape[:2]))  # noqa: E731
    per_sample = lambda a: np.ascontiguousarray(np.broadcast_to(np.asarray(a, dtype=np.float64), x.shape[:1]))  # noqa: E731
    years = (x.shape[0], x.shape[2])
    if common is None:
        common = np.zeros(years)
    elif np.ndim(common) != 2 or np.shape(common)[1] != x.shape[2] or np.shape(common)[0] not in (1, x.shape[0]):
        raise InputError(f"year effects {np.shape(common)} must be (sample, year) = {years}")
    common = np.ascontiguousarray(np.broadcast_to(np.asarray(common, dtype=np.float64), years))
    if pinned is None:
        pinned = np.empty(x.shape[:2] + (0,))
    elif np.ndim(pinned) != 3 or np.shape(pinned)[1] != x.shape[1] or np.shape(pinned)[2] > x.shape[2] \
            or np.shape(pinned)[0] not in (1, x.shape[0]):
        raise InputError(f"observed levels {np.shape(pinned)} must be (sample, region, k <= {x.shape[2]} years)")
    pinned = np.ascontiguousarray(np.broadcast_to(np.asarray(pinned, dtype=np.float64),
                                                  x.shape[:2] + (np.shape(pinned)[2],)))
    return _growth_kernel(x, eps, rows(x0), rows(y0), rows(u0), rows(params["drift"]), rows(params["slope"]),
                          rows(params["curvature"]), rows(params["sigma"]), per_sample(params.get("cubic", 0.0)),
                          per_sample(params["drift_income"]), per_sample(params["phi"]), common, pinned)


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
    common_shocks: np.ndarray | None = None,
    drift_steps: np.ndarray | None = None,
    observed: np.ndarray | None = None,
) -> np.ndarray:
    """Per-capita CO2 (t/person/yr) along GDP paths for each posterior draw of the growth-form EKC.

    Each year: ``Δy = drift + drift_income·x_prev + slope·Δx + curvature·Δ(x²) [+ cubic·Δ(x³)] + u`` with
    ``u_t = φ u_{t-1} + σ ε_t`` (Student-t ``ε``), starting from the last observed log level and the
    last observed residual ``u`` (:func:`simulate_growth`).

    With ``common_shock_sd`` in ``params`` (a model with a year effect shared across regions, e.g.
    :class:`~forecast.models.kaya.KayaModel` with ``common_shocks=True``) each sample also draws one year
    effect ``g_t ~ Normal(0, common_shock_sd)`` per forecast year, the same for all its regions (so
    regional shocks are correlated and sums of regions carry their spread), and the last observed residual
    is taken net of the last fitted year effect ``common_shock_last``. With ``common_drift_sd`` (``KayaModel``
    with ``common_drift=True``) the drift of every region also moves by a random walk shared by the regions
    of a sample, ``m_t = m_{t-1} + common_drift_sd·z_t`` from ``m = 0`` in the last fitted year (the model
    passes drifts of that year, its walk's last value included); ``common_shock_last`` then holds the
    shared part of the last change beyond them.

    The unit shocks ``ε`` are drawn with NumPy, one generator per block of :data:`SHOCK_BLOCK` samples
    spawned from the first draw from ``rng`` (:func:`_shocks` with the same ``rng`` state returns them as
    a cube); ``shocks`` replaces them by given values ``(sample, region, year)`` (common random numbers,
    tests). The year effects' unit normals are drawn from the same block generators after that block's
    ``ε``, only when the model has year effects (so models without them keep their numbers);
    ``common_shocks`` ``(sample, year)`` replaces them; the drift walk's unit normals ``z`` follow (and
    ``drift_steps`` replaces them). The numbers depend on ``rng`` only, not on the thread count or the
    progress bar.

    Parameters
    ----------
    params:
        ``drift, slope, curvature, sigma`` with shape ``(sample, region)``; ``cubic, phi, nu,
        drift_income`` with shape ``(sample,)`` (zeros / inf where the model lacks the term); optionally
        ``common_shock_sd`` and / or ``common_drift_sd`` ``(sample,)`` with ``common_shock_last`` ``(sample,
        region)`` (year effects, shared drift walk).
    state:
        Per-region last observed state (``last_year``, ``last_log_co2_per_capita``, ``last_x``,
        ``last_dy``, ``last_dx_terms``, ``last_x_prev``), as stored by the EKC model.
    gdp_per_capita:
        ``(sample, region, year)`` GDP per capita for ``years`` (int-$ 2011 per person).
    observed:
        ``(sample, region, k)`` per-capita CO2 (t/person/yr) observed in the first ``k`` forecast years, NaN
        where not observed (emissions published before GDP): those years take the observed value and the
        residual it implies in each draw (``pinned`` of :func:`simulate_growth`).

    Returns
    -------
    ``(sample, region, year)`` array of per-capita emissions.
    """
    last_year = state["last_year"].values
    if (last_year != years[0] - 1).any():
        raise InputError("all forecast regions must end their data in the year before the first forecast year")
    if np.ndim(gdp_per_capita) != 3 or np.shape(gdp_per_capita)[2] != len(years) or len(gdp_per_capita) == 0:
        raise InputError(f"GDP paths {np.shape(gdp_per_capita)} must be (sample >= 1, region, year) over the {len(years)} years")
    n_samples, n_regions, n_years = gdp_per_capita.shape
    expected = {"drift": (n_samples, n_regions), "slope": (n_samples, n_regions), "curvature": (n_samples, n_regions),
                "sigma": (n_samples, n_regions), "phi": (n_samples,), "nu": (n_samples,), "drift_income": (n_samples,)}
    if degree == 3:
        expected["cubic"] = (n_samples,)
    shared = [k for k in ("common_shock_sd", "common_drift_sd") if k in params]
    with_common = bool(shared)
    if with_common:
        expected.update({k: (n_samples,) for k in shared})
        expected["common_shock_last"] = (n_samples, n_regions)
    wrong = {k: np.shape(params[k]) for k, shape in expected.items() if np.shape(params[k]) != shape}
    if wrong or state.sizes.get("region") != n_regions:
        # the numba kernel does not check bounds: a mismatch must never reach it
        raise InputError(f"parameter draws do not match the GDP paths {gdp_per_capita.shape}: {wrong or 'regions differ'}")
    if shocks is not None and np.shape(shocks) != gdp_per_capita.shape:
        raise InputError(f"shocks {np.shape(shocks)} do not match the GDP paths {gdp_per_capita.shape}")
    if observed is not None:
        k = np.shape(observed)[2] if np.ndim(observed) == 3 else -1
        if np.ndim(observed) != 3 or np.shape(observed)[:2] != (n_samples, n_regions) or k > n_years:
            raise InputError(f"observed emissions {np.shape(observed)} must be (sample, region, k <= {n_years}) "
                             f"for GDP paths {gdp_per_capita.shape}")
        finite = np.isfinite(observed)
        if not (np.asarray(observed)[finite] > 0).all():
            raise InputError("observed per-capita emissions must be positive (NaN where not observed)")
    for label, given in (("common shocks", common_shocks), ("drift steps", drift_steps)):
        if given is not None and np.shape(given) != (n_samples, n_years):
            raise InputError(f"{label} {np.shape(given)} must be (sample, year) = {(n_samples, n_years)}")
    f8 = lambda a: np.ascontiguousarray(a, dtype=np.float64)  # noqa: E731
    nu = f8(params["nu"])
    if not (nu > 0).all():
        raise InputError("Student-t degrees of freedom nu must be positive (inf for normal shocks)")
    gdp = f8(gdp_per_capita)
    _check_gdp(gdp, state, years)
    draws = {k: f8(params[k]) for k in ("drift", "slope", "curvature", "sigma", "phi", "drift_income")}
    draws["cubic"] = f8(params["cubic"]) if degree == 3 else np.zeros(n_samples)
    u0 = _last_residual(draws, state, degree)
    scales = {k: f8(params[k]) for k in shared}
    for name, sd in scales.items():
        if not (np.isfinite(sd).all() and (sd >= 0).all()):
            raise InputError(f"{name} must be finite and non-negative")
    if with_common:
        u0 = u0 - f8(params["common_shock_last"])  # the last change's own shared part is not a residual

    generators = _block_generators(rng, n_samples)  # drawn even when shocks are given: the same rng use
    start = state["last_log_co2_per_capita"].values[None, :]
    if "last_level_sd" in state and (state["last_level_sd"].values > 0).any():
        # errors-in-variables: the last observed level is itself uncertain (one row per sample)
        start = start + rng.standard_normal((n_samples, n_regions)) * state["last_level_sd"].values
    report = _PROGRESS.get()
    blocks = _blocks(n_samples)
    if report is not None:
        report.add_steps(len(blocks))
    out = np.empty((n_samples, n_regions, n_years))
    for j, (gen, sl) in enumerate(zip(generators, blocks)):
        # one block at a time: its shocks and log incomes are the only cubes held besides the output
        eps = _unit_shocks(gen, nu[sl], n_regions, n_years) if shocks is None else shocks[sl]
        common = np.zeros((eps.shape[0], n_years)) if with_common else None
        if "common_shock_sd" in scales:  # one year effect per sample and year, shared by all regions
            unit = gen.standard_normal((eps.shape[0], n_years)) if common_shocks is None else common_shocks[sl]
            common += unit * scales["common_shock_sd"][sl, None]
        if "common_drift_sd" in scales:  # the shared drift walks on from 0 in the last fitted year
            unit = gen.standard_normal((eps.shape[0], n_years)) if drift_steps is None else drift_steps[sl]
            common += np.cumsum(unit * scales["common_drift_sd"][sl, None], axis=1)
        log_level = simulate_growth({k: v[sl] for k, v in draws.items()}, x=np.log(gdp[sl]) - x_center,
                                    x0=state["last_x"].values, y0=start[sl] if len(start) > 1 else start,
                                    u0=u0[sl], shocks=eps, common=common,
                                    pinned=None if observed is None else np.log(f8(observed[sl])))
        np.exp(log_level, out=out[sl])
        if report is not None:
            report.step(f"forecast: paths, block {j + 1}/{len(blocks)}")
    return out


def _last_residual(draws: dict[str, np.ndarray], state: xr.Dataset, degree: int) -> np.ndarray:
    """Each draw's residual of the last observed change ``(sample, region)``: the observed change minus
    that draw's mean change (the shock that carries into the forecast through φ). Log units per year."""
    terms = np.zeros((state.sizes["region"], 3))  # Δx, Δ(x²), Δ(x³) of the last observed change
    given = state["last_dx_terms"].values[:, :degree]
    terms[:, : given.shape[1]] = given
    mean = (draws["drift"] + draws["slope"] * terms[:, 0] + draws["curvature"] * terms[:, 1]
            + draws["cubic"][:, None] * terms[:, 2] + draws["drift_income"][:, None] * state["last_x_prev"].values)
    return state["last_dy"].values - mean


def _check_gdp(gdp: np.ndarray, state: xr.Dataset, years: np.ndarray) -> None:
    """Refuse GDP paths that are not positive, normal and finite (a log of them would be -inf, NaN or
    meaningless), naming the first bad cell."""
    bad = ~((gdp >= np.finfo(np.float64).tiny) & (gdp < np.inf))
    if not bad.any():
        return
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
    @property
    def last_peak_year(self) -> int:
        """Latest year a peak can be identified in (see :mod:`forecast.projection.peak`); a maximum there
        means "no peak by the horizon"."""
        return last_identifiable_year(self.horizon)

    def peak_year(self) -> xr.DataArray:
        """Peak year per sample trajectory, ``(sample, region)``: the year of the maximum centred 5-year
        mean of total emissions (the package's one peak rule, :func:`forecast.projection.peak.peak_years`)."""
        return peak_year_of(self.ds)

    def peak_level(self) -> xr.DataArray:
        """Maximum total emissions per trajectory, ``(sample, region)``, Mt CO2/yr."""
        out = self.ds["co2"].max("year")
        out.attrs = {"long_name": "peak CO2 emissions", "units": "Mt CO2/yr"}
        return out

    def peak_year_probability(self, by: int) -> pd.Series:
        """P(peak year <= ``by``) per region (a maximum at the last identifiable year is not a peak)."""
        peak = self.peak_year()
        hit = (peak <= by) & (peak < self.last_peak_year)
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
        table["p_no_peak_by_horizon"] = (peak >= self.last_peak_year).mean("sample").to_series()
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
        from forecast.io.export import quantile_bands

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
                       random_seed: int | None = None, progress: bool | None = None,
                       observed_co2: pd.DataFrame | None = None) -> Forecast:
    """Push posterior draws of ``model`` through ``scenario``; join with the observed history in ``panel``.

    Returns a :class:`Forecast` over history + horizon with dims ``(sample, region, year)``. ``progress``:
    a progress bar on stderr over the sample blocks, shown only when stderr is a terminal
    and ``progress`` is not False (the numbers never depend on it). ``observed_co2`` (tidy ``region, year,
    co2``, Mt CO2/yr): emissions observed after the panel's last year, before GDP is (the EKC and Kaya
    forecasts take them as known, see :meth:`forecast.models.ekc.EKCModel.predict`); the coordinate
    ``co2_observed`` (region, year) marks them and ``last_observed_year`` then counts them as observed.
    """
    regions = list(regions) if regions is not None else model.regions
    if draws < 1:
        raise InputError(f"draws must be a positive integer, got {draws}")
    extra = {} if observed_co2 is None or not len(observed_co2) else {"observed_co2": observed_co2}
    with progress_bar(progress, f"forecast: {len(regions)} regions x {draws} draws"):
        pred = model.predict(scenario, draws=draws, random_seed=random_seed, regions=regions, **extra)
    pred["co2"] = pred["co2_per_capita"] * pred["population"] / 1e6
    # which posterior draw each sample used (kept as coordinates of ``sample``, as ArviZ predictions are)
    origin = {k: pred[k] for k in ("chain", "draw") if k in pred.coords}
    pred = pred.drop_vars(list(origin))
    history = _history_cube(panel, regions)
    history = history.sel(year=history["year"] < pred["year"].min())
    hist_b = history.expand_dims(sample=pred["sample"].values).transpose("sample", "region", "year")
    if "inventory_offset" in pred:
        # a persistent inventory error moves the whole series: the history of each sample is shifted by
        # the same offset as its forecast, so the peak rule never sees a jump at the last observed year
        # (forecast.models.measurement)
        shift = np.exp(-pred["inventory_offset"])
        hist_b = hist_b.assign(co2=hist_b["co2"] * shift, co2_per_capita=hist_b["co2_per_capita"] * shift)
    ds = xr.concat([hist_b, pred[list(hist_b.data_vars)]], dim="year", join="outer")
    last_history = int(history["year"].max())
    co2_observed = xr.DataArray(np.zeros((len(regions), ds.sizes["year"]), dtype=bool),
                                coords={"region": regions, "year": ds["year"].values}, dims=("region", "year"))
    co2_observed.loc[{"year": ds["year"].values <= last_history}] = True
    if extra:
        later = observed_co2[observed_co2["region"].isin(regions) & observed_co2["year"].isin(pred["year"].values)]
        for region, year in zip(later["region"], later["year"].astype(int)):
            co2_observed.loc[{"region": region, "year": year}] = True
    # the last year up to which emissions are observed without a gap (history, then observed later years)
    run = co2_observed.cumprod("year").sum("year").values
    last_observed = ds["year"].values[np.maximum(run - 1, 0)]
    ds = ds.assign_coords(
        is_forecast=("year", ds["year"].values > last_history),
        last_observed_year=("region", last_observed.astype(int)),
        co2_observed=co2_observed.assign_attrs(long_name="emissions observed (not simulated) in this year"),
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
