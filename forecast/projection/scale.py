"""Scale-out: forecasts with many draws in bounded memory, and many independent fits in parallel.

Chunked forecasts
-----------------
:func:`predict_chunked` returns the same variables as :meth:`forecast.models.ekc.EKCModel.predict`
(``co2_per_capita``, ``gdp_per_capita``, ``population``, plus the total ``co2`` in Mt/yr), but the
``sample`` dimension is a lazy dask array split into chunks of ``chunk`` samples. Chunk ``i`` is computed by
the model's own ``predict`` (hence the existing :func:`forecast.projection.propagate.simulate_growth_paths` kernel) with
its own generator seeded by the child seed ``SeedSequence(random_seed).spawn(n_chunks)[i]``. Consequences:

* memory is bounded by a chunk (times the number of chunks the scheduler holds at once), not by ``draws``;
* results depend on ``(random_seed, draws, chunk)`` only, never on the scheduler or the number of threads;
* the numbers are **not** those of ``model.predict(..., random_seed=random_seed)``: that call seeds one
  generator with ``random_seed`` for all samples, here every chunk has its own stream. Both are exact
  samples from the same predictive distribution, so they agree statistically (to Monte-Carlo error), not
  number by number. With a single chunk (``chunk >= draws``) the result equals
  ``model.predict(..., random_seed=np.random.SeedSequence(random_seed).spawn(1)[0])`` exactly.

:func:`reduce_quantiles` and :func:`peak_year_chunked` reduce the lazy cube chunk by chunk (mergeable
sums and histograms), never holding all samples: peak-year probabilities, peak-year quantiles and means are
exact; quantile bands of emissions come from per-cell log-scale histograms (two passes: per-cell range,
then counts), accurate to a fraction of one bin (``(log max - log min) / bins``).

Computing ``co2`` and the other variables in separate ``compute`` calls recomputes the chunks (they are
deterministic, so the values agree); compute them together (``dask.compute(a, b)``) to share the work.

Many fits
---------
:func:`fit_many` fits independent models (one per panel) on a dask.distributed cluster and returns small
per-panel summaries (posterior means of scalar parameters, max R-hat, divergences), never the traces.
:func:`load_county_panels` builds per-province panels of China's counties (CO2 only: the county file has
no GDP or population, so the EKC cannot be fitted per county); :class:`DriftModel` is the tiny
hierarchical log-CO2 growth model used for them; :func:`fit_counties` fits it to every province's panel and
returns a tidy table (the ``carbon-forecast counties`` command). :func:`connect_scheduler` connects to an
existing cluster by address, with a clear :class:`~forecast.errors.InputError` when it cannot.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import dask
import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr

from forecast.errors import InputError
from forecast.projection.peak import last_identifiable_year, peak_years
from forecast.projection.propagate import DEFAULT_LEVELS, PEAK_YEARS, VARIABLE_ATTRS, _history_cube

VARIABLES = ("co2_per_capita", "gdp_per_capita", "population")
_NUMBA_LOCK = threading.Lock()  # numba's "workqueue" threading layer is not safe for concurrent calls


# ---------------------------------------------------------------------------- chunked forecast
def _chunk_seeds(random_seed: int | None, n_chunks: int) -> list[np.random.SeedSequence]:
    return np.random.SeedSequence(random_seed).spawn(n_chunks)


def _predict_block(model, scenario, regions: list[str], n: int, seed: np.random.SeedSequence) -> np.ndarray:
    """One chunk: ``(4, n, region, year)`` = co2_per_capita, gdp_per_capita, population, co2 (Mt/yr)."""
    import numba

    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel numba function has run yet in this process
        layer = None
    if layer in (None, "workqueue"):
        with _NUMBA_LOCK:
            ds = model.predict(scenario, draws=n, random_seed=seed, regions=regions)
    else:
        ds = model.predict(scenario, draws=n, random_seed=seed, regions=regions)
    arrays = [ds[v].transpose("sample", "region", "year").values for v in VARIABLES]
    return np.stack(arrays + [arrays[0] * arrays[2] / 1e6])


def predict_chunked(model, scenario, *, draws: int, random_seed: int | None, regions=None,
                    chunk: int = 1000) -> xr.Dataset:
    """Lazy per-capita (and total) emissions along ``scenario``, chunked over samples (see module docstring).

    Returns a Dataset with dims ``(sample, region, year)`` backed by dask arrays with ``sample`` chunks of
    ``chunk``: ``co2_per_capita`` (t/person/yr), ``gdp_per_capita``, ``population`` and ``co2``
    (``co2_per_capita * population / 1e6``, Mt CO2/yr). Nothing is computed until asked for.
    """
    if int(draws) < 1 or int(chunk) < 1:
        raise InputError(f"draws and chunk must be positive integers, got draws={draws}, chunk={chunk}")
    if random_seed is None:
        # a chunked forecast must be reproducible chunk by chunk: fix the entropy once, here
        random_seed = int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0])
    draws, chunk = int(draws), int(chunk)
    regions = list(regions) if regions is not None else list(model.regions)
    unknown = [r for r in regions if r not in model.regions]
    if unknown:
        raise InputError(f"regions not in the fitted model: {', '.join(unknown)}")
    # the forecast years, from a one-sample call (cheap, and validates model + scenario up front)
    probe = model.predict(scenario, draws=1, random_seed=0, regions=regions)
    years = probe["year"].values
    sizes = [min(chunk, draws - start) for start in range(0, draws, chunk)]
    seeds = _chunk_seeds(random_seed, len(sizes))
    # model and scenario enter the graph once (one key each), not once per chunk
    model_d = dask.delayed(model, traverse=False)
    scenario_d = dask.delayed(scenario, traverse=False)
    block = dask.delayed(_predict_block, pure=False)
    shape_tail = (len(regions), len(years))
    pieces = [
        da.from_delayed(block(model_d, scenario_d, regions, n, seed), shape=(4, n, *shape_tail), dtype=np.float64)
        for n, seed in zip(sizes, seeds)
    ]
    cube = da.concatenate(pieces, axis=1)
    dims = ("sample", "region", "year")
    ds = xr.Dataset(
        {name: (dims, cube[i], dict(VARIABLE_ATTRS[name])) for i, name in enumerate((*VARIABLES, "co2"))},
        coords={"sample": np.arange(draws), "region": regions, "year": years},
        attrs={"scenario": getattr(scenario, "name", ""), "random_seed": int(random_seed), "chunk": chunk},
    )
    return ds


# ---------------------------------------------------------------------------- reductions
def _histogram_block(x: np.ndarray, lo: np.ndarray, width: np.ndarray, bins: int) -> np.ndarray:
    """Counts per (region, year, bin) of the log values ``x`` (sample, region, year) of one chunk."""
    n, n_regions, n_years = x.shape
    idx = np.floor((x - lo) / width).astype(np.int64)
    np.clip(idx, 0, bins - 1, out=idx)
    cell = np.arange(n_regions * n_years).reshape(n_regions, n_years) * bins
    counts = np.bincount((idx + cell).ravel(), minlength=n_regions * n_years * bins)
    return counts.astype(np.int32).reshape(1, n_regions, n_years, bins)  # int32: a chunk holds < 2**31 samples


def _histogram_quantiles(counts: np.ndarray, lo: np.ndarray, width: np.ndarray, levels) -> np.ndarray:
    """Quantiles ``(level, region, year)`` from per-cell histograms, linear within the bin."""
    total = counts.sum(axis=-1, keepdims=True)
    cdf = np.cumsum(counts, axis=-1)
    out = []
    for q in levels:
        target = q * total  # rank, as a count
        b = np.minimum((cdf < target).sum(axis=-1, keepdims=True), counts.shape[-1] - 1)
        below = np.take_along_axis(cdf, b, axis=-1) - np.take_along_axis(counts, b, axis=-1)
        inside = np.take_along_axis(counts, b, axis=-1)
        frac = np.where(inside > 0, (target - below) / np.maximum(inside, 1), 0.5)
        out.append((lo + (b[..., 0] + np.clip(frac[..., 0], 0, 1)) * width))
    return np.stack(out)


def reduce_quantiles(pred: xr.Dataset, *, variable: str = "co2", levels=DEFAULT_LEVELS, bins: int = 1024,
                     scheduler: str | None = None) -> xr.Dataset:
    """Mean and quantile bands over samples of ``pred[variable]``, chunk by chunk (no full materialisation).

    Two passes over the lazy chunks: (1) per-cell min / max / sum (exact mean), (2) per-cell histograms of
    the log values with ``bins`` bins between them; quantiles are read off the summed histograms, exact to a
    fraction of one bin. Returns a Dataset ``mean (region, year)`` and ``bands (quantile, region, year)``.
    """
    arr = pred[variable].data
    if not isinstance(arr, da.Array):
        arr = da.from_array(np.asarray(arr), chunks=(max(1, pred.sizes["sample"]),) + arr.shape[1:])
    n = arr.shape[0]
    logs = da.log(arr)
    lo, hi, total = dask.compute(logs.min(axis=0), logs.max(axis=0), arr.sum(axis=0), scheduler=scheduler)
    width = np.where(hi > lo, (hi - lo) / bins, 1.0)
    hist = logs.map_blocks(_histogram_block, lo, width, bins, dtype=np.int32, new_axis=3,
                           chunks=((1,) * logs.numblocks[0], *logs.chunks[1:], (bins,)))
    counts = hist.sum(axis=0, dtype=np.int64, split_every=2).compute(scheduler=scheduler)
    q = np.exp(_histogram_quantiles(counts, lo, width, levels))
    coords = {"region": pred["region"].values, "year": pred["year"].values}
    return xr.Dataset(
        {"mean": (("region", "year"), total / n), "bands": (("quantile", "region", "year"), q)},
        coords={**coords, "quantile": list(levels)},
        attrs={"variable": variable, "samples": n, "bins": bins,
               "units": pred[variable].attrs.get("units", "")},
    )


def _peak_block(co2: np.ndarray, hist: np.ndarray, all_years: np.ndarray) -> np.ndarray:
    """Peak year per trajectory ``(sample, region)`` of history (region, year_h) + forecast (sample, region, year_f)."""
    full = np.concatenate([np.broadcast_to(hist, (co2.shape[0], *hist.shape)), co2], axis=-1)
    return peak_years(full, all_years)


def peak_year_chunked(pred: xr.Dataset, *, history: pd.DataFrame | None = None, years: Iterable[int] = PEAK_YEARS,
                      scheduler: str | None = None) -> pd.DataFrame:
    """Peak-year probabilities per region from a (lazy) chunked forecast, by dask sum reductions.

    ``history`` (a panel with ``region, year, co2``; e.g. ``scenario.history``) is prepended as in
    :func:`forecast.projection.propagate.forecast_emissions`, so a peak in the observed years counts; without it the
    trajectories start in the first forecast year. Columns follow :meth:`Forecast.peak_table`:
    ``p_already_peaked``, ``p_peak_by_<year>`` (a peak at the horizon is not a peak), ``p_no_peak_by_horizon``
    and the peak-year quantiles ``peak_year_q05/q50/q95`` (method "lower", exact from the counts per year).
    """
    regions = [str(r) for r in pred["region"].values]
    f_years = pred["year"].values
    if history is not None:
        cube = _history_cube(history, regions)
        cube = cube.sel(year=cube["year"] < f_years.min())
        hist = cube["co2"].transpose("region", "year").values
        h_years = cube["year"].values
        last_observed = int(h_years.max())
    else:
        hist = np.empty((len(regions), 0))
        h_years = np.empty(0, dtype=f_years.dtype)
        last_observed = int(f_years.min()) - 1
    all_years = np.concatenate([h_years, f_years]).astype(np.int64)
    last_peak = last_identifiable_year(int(all_years.max()))
    co2 = pred["co2"].data
    if not isinstance(co2, da.Array):
        co2 = da.from_array(np.asarray(co2), chunks=(max(1, pred.sizes["sample"]), -1, -1))
    peak = co2.map_blocks(_peak_block, hist, all_years, drop_axis=2, dtype=np.int64)
    n = co2.shape[0]
    years = list(years)
    # counts of each peak year per region: everything else follows exactly from them
    one_hot = peak[:, :, None] == da.from_array(all_years[None, None, :])
    counts = one_hot.sum(axis=0)
    counts = np.asarray(counts.compute(scheduler=scheduler))  # (region, year)
    table = pd.DataFrame(index=pd.Index(regions, name="region"))
    table["p_already_peaked"] = counts[:, all_years <= last_observed].sum(axis=1) / n
    for year in years:
        table[f"p_peak_by_{year}"] = counts[:, (all_years <= year) & (all_years < last_peak)].sum(axis=1) / n
    table["p_no_peak_by_horizon"] = counts[:, all_years >= last_peak].sum(axis=1) / n
    cum = np.cumsum(counts, axis=1)
    for q in (0.05, 0.5, 0.95):
        rank = int(np.floor(q * (n - 1)))  # method="lower": the rank-th smallest (0-based)
        table[f"peak_year_q{int(q * 100):02d}"] = all_years[(cum <= rank).sum(axis=1)].astype(int)
    return table


# ---------------------------------------------------------------------------- many fits
from forecast.models.county import DriftModel  # noqa: E402  (re-exported: the county model)


EKC_SCALARS = ("drift_income", "slope_mu", "curvature", "drift_mu", "phi", "nu")


def summarize_fit(model) -> dict[str, Any]:
    """Small, picklable summary of a fitted model: posterior means of scalar parameters + diagnostics."""
    post = model.idata.posterior
    names = getattr(model, "scalar_parameters", EKC_SCALARS)
    out: dict[str, Any] = {}
    for name in names:
        if name in post and set(post[name].dims) <= {"chain", "draw"}:
            out[f"{name}_mean"] = float(post[name].mean())
    diag = getattr(model, "diagnostics", None)
    if diag is not None:
        out.update(max_r_hat=float(diag.max_r_hat), min_ess_bulk=float(diag.min_ess_bulk),
                   divergences=int(diag.divergences), seconds=float(diag.seconds), n_warnings=len(diag.warnings))
    if "region" in post.dims:
        out["n_regions"] = int(post.sizes["region"])
    return out


def _fit_one(name: str, panel: pd.DataFrame, model_factory: Callable[[], Any], seed: int,
             sampler_kwargs: dict[str, Any]) -> dict[str, Any]:
    import warnings

    start = time.perf_counter()
    model = model_factory()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(panel, random_seed=seed, **sampler_kwargs)
    return {"name": name, "random_seed": seed, **summarize_fit(model), "wall_seconds": time.perf_counter() - start}


def connect_scheduler(address: str, *, timeout: float = 10.0):
    """A ``distributed.Client`` of the running cluster whose scheduler listens at ``address``
    (``tcp://host:port``; ``host:port`` means tcp).

    A malformed address, an unknown scheme or a scheduler that does not answer within ``timeout`` seconds
    raises :class:`~forecast.errors.InputError` naming the address. For TCP-based schemes the port is probed
    with a plain socket first, so an unreachable address never leaves a half-built client behind.
    """
    import socket

    from distributed import Client
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    address = str(address).strip()
    hint = "give the scheduler address of a running cluster as tcp://host:port"
    try:
        scheme, location = parse_address(address)
        get_backend(scheme)
        host, port = parse_host_port(location) if scheme in ("tcp", "tls", "ws", "wss") else (None, None)
    except (ValueError, TypeError) as err:
        raise InputError(f"bad dask scheduler address {address!r}: {err}; {hint}") from None
    if timeout <= 0:
        raise InputError(f"connect timeout must be positive, got {timeout}")
    if host is not None:
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
                pass
        except OSError as err:
            raise InputError(f"no dask scheduler reachable at {address!r} ({err or 'timed out'}); {hint}, "
                             "or use 'local' for a temporary local cluster") from None
    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError) as err:
        raise InputError(f"could not connect to the dask scheduler at {address!r} within {timeout:g} s: {err}") from None


def fit_many(panels: Mapping[str, pd.DataFrame] | Iterable[tuple[str, pd.DataFrame]], model_factory: Callable[[], Any],
             *, client=None, random_seed: int | None = None, sampler_kwargs: dict[str, Any] | None = None,
             n_workers: int = 2, connect_timeout: float = 10.0) -> pd.DataFrame:
    """Fit one independent model per panel in parallel on dask.distributed; one summary row per panel.

    ``panels``: mapping name -> panel DataFrame, or an iterable of ``(name, panel)`` pairs.
    ``model_factory``: picklable zero-argument callable returning an unfitted model with
    ``fit(panel, random_seed=..., **sampler_kwargs)`` (e.g. ``EKCModel`` or :class:`DriftModel`).
    ``client``: a ``distributed.Client``, a scheduler address string (connects to that cluster with
    :func:`connect_scheduler`, waiting at most ``connect_timeout`` seconds), or None (a temporary
    ``LocalCluster(n_workers, threads_per_worker=1, processes=True)``, closed afterwards).
    Seeds: panel ``i`` gets ``SeedSequence(random_seed).spawn(n)[i]`` (as an integer), so results do not
    depend on the cluster. Only the summaries (see :func:`summarize_fit`) travel back, not the traces.
    """
    from distributed import Client, LocalCluster

    items = list(panels.items()) if isinstance(panels, Mapping) else [(str(k), v) for k, v in panels]
    names = [name for name, _ in items]
    if len(set(names)) != len(names):
        raise InputError("panel names must be unique")
    if not items:
        return pd.DataFrame()
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(random_seed).spawn(len(items))]
    kwargs = dict(sampler_kwargs or {})
    own_cluster = own_client = None
    if client is None:
        # non-daemonic workers, so samplers that start processes (PyMC with cores > 1) can run inside them
        with dask.config.set({"distributed.worker.daemon": False}):
            own_cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
        client = own_client = Client(own_cluster)
    elif isinstance(client, str):
        client = own_client = connect_scheduler(client, timeout=connect_timeout)
    try:
        futures = [client.submit(_fit_one, name, panel, model_factory, seed, kwargs, pure=False)
                   for (name, panel), seed in zip(items, seeds)]
        rows = client.gather(futures)
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()
    return pd.DataFrame(rows).set_index("name")


DEFAULT_COUNTY_FILE = Path(__file__).resolve().parents[3] / "shared" / "data" / "china_county_co2.csv"


def load_county_panels(path: str | Path | None = None, *, provinces: Iterable[str] | None = None,
                       max_counties: int | None = None, min_years: int = 10) -> dict[str, pd.DataFrame]:
    """China's counties (``china_county_co2.csv``) as small tidy panels, one per province.

    Columns ``region`` (county: English name + admin code, unique), ``year``, ``co2`` (Mt CO2/yr). The file
    has no county GDP or population, so these panels fit CO2-only models such as :class:`DriftModel`, not
    the EKC. Blank and non-positive cells are dropped; counties with fewer than ``min_years`` are dropped;
    ``max_counties`` keeps the first counties (by admin code) of each province, for small demos.
    """
    path = Path(path) if path is not None else DEFAULT_COUNTY_FILE
    if not path.is_file():
        raise InputError(f"county file not found: {path}")
    wide = pd.read_csv(path)
    value_cols = [c for c in wide.columns if c.startswith("co2_")]
    wide["region"] = wide["county_en"].astype(str) + " (" + wide["distcode"].astype(str) + ")"
    long = wide.melt(id_vars=["province_en", "distcode", "region"], value_vars=value_cols, var_name="year",
                     value_name="co2")
    long["year"] = long["year"].str[4:].astype(int)
    long = long[np.isfinite(long["co2"]) & (long["co2"] > 0)]
    n_years = long.groupby("region")["year"].transform("size")
    long = long[n_years >= min_years]
    wanted = None if provinces is None else set(provinces)
    out = {}
    for province, group in long.groupby("province_en", sort=True):
        name = str(province).removesuffix(" Province")
        if wanted is not None and name not in wanted and province not in wanted:
            continue
        if max_counties is not None:
            keep = sorted(group["distcode"].unique())[:max_counties]
            group = group[group["distcode"].isin(keep)]
        out[name] = group[["region", "year", "co2"]].sort_values(["region", "year"]).reset_index(drop=True)
    return out


COUNTY_COLUMNS = ("province", "n_counties", "first_year", "last_year", "n_rows", "drift_mu_mean", "drift_sd_mean",
                  "max_r_hat", "min_ess_bulk", "divergences", "n_warnings", "seconds", "wall_seconds", "random_seed")


def fit_counties(path: str | Path | None = None, *, client=None, provinces: Iterable[str] | None = None,
                 max_counties: int | None = None, min_years: int = 10, random_seed: int | None = None,
                 sampler_kwargs: dict[str, Any] | None = None, n_workers: int = 2,
                 connect_timeout: float = 10.0) -> pd.DataFrame:
    """Fit :class:`DriftModel` to the county panel of every province (:func:`load_county_panels`) with
    :func:`fit_many` and return a tidy table, one row per province, columns :data:`COUNTY_COLUMNS`
    (``drift_mu_mean``: posterior mean of the provincial mean growth of log county CO2, 1/yr).

    ``client`` as in :func:`fit_many` (None = a temporary LocalCluster of ``n_workers`` processes, or a
    scheduler address). ``provinces`` names provinces as in the keys of :func:`load_county_panels`
    (e.g. ``"Anhui"``, ``"Beijing City"``); an unknown name raises :class:`InputError` listing the known ones.
    """
    if max_counties is not None and int(max_counties) < 1:
        raise InputError(f"max_counties must be a positive integer, got {max_counties}")
    path = Path(path) if path is not None else DEFAULT_COUNTY_FILE
    if isinstance(client, str):  # a bad address fails before the data are read
        client = connect_scheduler(client, timeout=connect_timeout)
        try:
            return fit_counties(path, client=client, provinces=provinces, max_counties=max_counties,
                                min_years=min_years, random_seed=random_seed, sampler_kwargs=sampler_kwargs)
        finally:
            client.close()
    panels = load_county_panels(path, max_counties=max_counties, min_years=min_years)
    if provinces is not None:
        wanted = [str(p) for p in provinces]
        unknown = [p for p in wanted if p not in panels and p.removesuffix(" Province") not in panels]
        if unknown:
            raise InputError(f"unknown province(s) {', '.join(map(repr, unknown))}; known: {', '.join(panels)}")
        keep = {p.removesuffix(" Province") if p not in panels else p for p in wanted}
        panels = {name: panel for name, panel in panels.items() if name in keep}
    if not panels:
        raise InputError(f"no county panel with at least {min_years} years of CO2 data")
    table = fit_many(panels, DriftModel, client=client, random_seed=random_seed, sampler_kwargs=sampler_kwargs,
                     n_workers=n_workers, connect_timeout=connect_timeout)
    table.index.name = "province"
    table = table.reset_index()
    shape = pd.DataFrame([{"province": name, "n_counties": panel["region"].nunique(),
                           "first_year": int(panel["year"].min()), "last_year": int(panel["year"].max()),
                           "n_rows": len(panel)} for name, panel in panels.items()])
    table = shape.merge(table.drop(columns=["n_regions"], errors="ignore"), on="province", how="left")
    table = table[[c for c in COUNTY_COLUMNS if c in table.columns]]
    table.attrs["path"] = str(path.resolve())
    return table


# ---------------------------------------------------------------------------- synthetic demo model
def synthetic_ekc(n_regions: int = 30, *, first_year: int = 1990, last_year: int = 2022, horizon: int = 2060,
                  posterior_draws: int = 500, seed: int = 0):
    """A fitted-looking :class:`EKCModel` (hand-made posterior, real region state) and its scenario.

    For benchmarks and tests of the scale-out code: no sampling, but ``predict`` runs the real code path
    (``posterior_draws`` -> ``Scenario.draw`` -> ``simulate_growth_paths``). Returns ``(model, scenario, panel)``.
    """
    import arviz as az

    from forecast.models.ekc import EKCModel, prepare_panel
    from forecast.scenarios import Scenario

    rng = np.random.default_rng(seed)
    years = np.arange(first_year, last_year + 1)
    rows = []
    for i in range(n_regions):
        log_gdp = rng.uniform(7.5, 10.5) + np.cumsum(rng.normal(0.025, 0.02, len(years)))
        log_cpc = rng.uniform(-0.5, 2.5) + np.cumsum(rng.normal(0.01, 0.03, len(years)))
        pop = rng.uniform(1e6, 1e8) * np.exp(np.cumsum(rng.normal(0.008, 0.002, len(years))))
        cpc = np.exp(log_cpc)
        rows.append(pd.DataFrame({"region": f"R{i:03d}", "year": years, "gdp_per_capita": np.exp(log_gdp),
                                  "population": pop, "co2_per_capita": cpc, "co2": cpc * pop / 1e6}))
    panel = pd.concat(rows, ignore_index=True)
    model = EKCModel()
    data = prepare_panel(panel, degree=2, min_years=model.min_years)
    chains, n = 2, max(1, posterior_draws // 2)
    shape_r = (chains, n, n_regions)
    posterior = {
        "drift": rng.normal(-0.005, 0.01, shape_r),
        "slope": rng.normal(0.7, 0.1, shape_r),
        "sigma": rng.uniform(0.01, 0.04, shape_r),
        "slope_mu": rng.normal(0.7, 0.05, (chains, n)),
        "curvature": rng.normal(-0.08, 0.02, (chains, n)),
        "phi": rng.uniform(0.2, 0.6, (chains, n)),
        "nu": rng.uniform(4, 20, (chains, n)),
        "drift_income": rng.normal(-0.005, 0.002, (chains, n)),
    }
    idata = az.from_dict(posterior=posterior, dims={k: ["region"] for k in ("drift", "slope", "sigma")},
                         coords={"region": data.regions})
    model.attach(idata, data, sampler="synthetic", random_seed=seed)
    scenario = Scenario.from_history(panel, horizon=horizon, name="synthetic")
    return model, scenario, panel
