"""Required effort: how much faster carbon intensity must fall, or how much more sink is needed, for a
target to be met with a given probability -- read from the forecast trajectories, without refitting.

The levers
----------
*Extra intensity decline* ``δ`` (log units per year). Every forecast trajectory is bent by the same
extra decline from the last observed year ``t0`` on::

    E'_t = E_t · exp(-δ · (t - t0))      for t > t0 (forecast years),   E'_t = E_t  for t <= t0

so the first forecast year already carries one year of it. GDP and population are left as they are, so
this is the same as an extra decline of carbon intensity (CO2 per unit GDP) and of per-capita CO2 by
``δ`` a year; net emissions move by the same change of emissions (``net' = net + E' - E``). ``δ = 0.02``
is about 2 % a year (``1 - exp(-δ)`` is the share, reported as ``extra_decline_pct``).

*Sink enhancement* ``S`` (Mt CO2/yr) for ``neutral_by`` targets: ``net'_t = net_t - S`` in every forecast
year (extra removals from afforestation, soil carbon or CCS held constant, the simplest schedule that
answers "how big a sink"; ramps are left to policy scenarios).

Targets are the study's (:mod:`forecast.policy.targets`): whether a bent trajectory meets one is decided
by :func:`~forecast.policy.targets.target_met` itself, so a peak target uses the one peak rule of
:mod:`forecast.projection.peak` and a neutrality target the neutrality-year rule of
:mod:`forecast.sinks.neutrality`.

Why the per-draw minimal effort, not a bootstrap
-------------------------------------------------
For each trajectory ``s`` we find the smallest effort ``δ*_s`` with which it meets the target (bisection,
40 halvings; 0 if it meets it already, ``inf`` if not even ``max_effort`` does). Every target is monotone in
the lever -- more decline never raises emissions in any year, so it never makes a level, intensity or
neutrality target fail -- and so a trajectory meets the target with effort ``δ`` exactly when
``δ >= δ*_s``. Hence

    P(target met | δ) = (1/N) Σ_s 1[δ*_s <= δ]

is the empirical CDF of the ``δ*_s``: the effort-probability curve *is* that CDF, for every ``δ`` at once
and exactly the share :func:`~forecast.policy.targets.target_table` would count on the bent trajectories.
The effort needed for probability ``p`` is its ``p``-quantile (``inverted_cdf``: the smallest ``δ`` with
a share ``>= p``), monotone in ``p`` by construction. The spread of the ``δ*_s`` is the uncertainty that
matters to a planner (how much effort which confidence costs); a bootstrap over samples would only
measure the Monte Carlo error of one quantile, which the order statistics give without resampling: the
``level`` interval of the ``p``-quantile is ``[δ*_(l), δ*_(u)]`` with ``l, u`` the binomial(N, p)
quantiles (distribution-free; draws treated as independent, as in ``target_table``'s ``mc_se``).

One caveat: the peak rule ranks centred 5-year means, and a mean of bent years is bent a little less at
its window's ends, so for a peak target monotonicity holds only up to that smoothing. ``p_met_check``
re-counts P(target met) on trajectories bent by the reported effort, so a departure would show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from forecast.errors import InputError
from forecast.policy.targets import check_targets_on, describe, target_met

DEFAULT_PROBS = (0.5, 0.8, 0.9)
#: largest extra decline tried (log units per year, about -39 %/yr): a target not met even then is unreachable
MAX_DECLINE = 0.5
BISECTIONS = 40  # halvings of [0, max]: 0.5 / 2**40 ~ 5e-13 per year, far below any Monte Carlo error
LEVERS = {
    "decline": {"units": "log units per year", "long_name": "extra annual decline of carbon intensity"},
    "sink": {"units": "Mt CO2/yr", "long_name": "extra ecosystem or engineered sink in every forecast year"},
}

__all__ = ["DEFAULT_PROBS", "bend", "effort_curve", "effort_table", "load_forecast", "minimal_effort",
           "required_effort", "required_sink"]


# ---------------------------------------------------------------------------------------------- levers
def _years_after(ds: xr.Dataset) -> xr.DataArray:
    """``max(0, year - last observed year)`` per (region, year): the years of extra decline."""
    if "last_observed_year" not in ds.coords:
        raise InputError("the forecast has no last_observed_year coordinate (a Forecast.ds or a saved run's forecast)")
    return np.maximum(ds["year"] - ds["last_observed_year"], 0)


def bend(ds: xr.Dataset, decline: Any) -> xr.Dataset:
    """``ds`` with every trajectory's emissions lowered by an extra intensity decline ``decline`` (log units
    per year; a number or a DataArray broadcasting against ``(sample, region)``) from the last observed
    year on; per-capita CO2 and net emissions follow, GDP and population do not."""
    factor = np.exp(-xr.DataArray(decline) * _years_after(ds))
    out = ds.copy()
    out["co2"] = ds["co2"] * factor
    out["co2_per_capita"] = ds["co2_per_capita"] * factor
    if "net_co2" in ds:
        out["net_co2"] = ds["net_co2"] + out["co2"] - ds["co2"]
    for name in ("co2", "co2_per_capita", "net_co2"):
        if name in ds:
            out[name] = out[name].transpose(*ds[name].dims)
            out[name].attrs = ds[name].attrs
    return out


def _add_sink(ds: xr.Dataset, extra: Any) -> xr.Dataset:
    """``ds`` with ``extra`` Mt CO2/yr more sink in every forecast year (net emissions lowered by it)."""
    if "net_co2" not in ds:
        raise InputError("a sink enhancement needs net emissions (net_co2): run the study with [sinks]")
    out = ds.copy()
    forecast_years = ds["is_forecast"].astype(float)
    out["net_co2"] = (ds["net_co2"] - xr.DataArray(extra) * forecast_years).transpose(*ds["net_co2"].dims)
    out["net_co2"].attrs = ds["net_co2"].attrs
    return out


_LEVER_FUNCS: dict[str, Callable[[xr.Dataset, Any], xr.Dataset]] = {"decline": bend, "sink": _add_sink}


# ---------------------------------------------------------------------------------------------- per draw
def _upper_bound(ds: xr.Dataset, lever: str, max_effort: float | None) -> float:
    """The largest effort tried: ``max_effort``, else 0.5/yr (decline) or the largest net emission plus
    one (sink: enough to make every finite trajectory net negative)."""
    if max_effort is not None:
        if not (np.isfinite(max_effort) and max_effort > 0):
            raise InputError(f"max_effort must be a positive number, got {max_effort!r}")
        return float(max_effort)
    if lever == "decline":
        return MAX_DECLINE
    largest = float(ds["net_co2"].where(ds["is_forecast"]).max())
    return max(largest, 0.0) + 1.0 if np.isfinite(largest) else 1.0


def minimal_effort(ds: xr.Dataset, target: Mapping[str, Any], *, lever: str = "decline",
                   max_effort: float | None = None) -> xr.DataArray:
    """The smallest effort with which each trajectory meets ``target`` (checked), ``(sample, region)``:
    0 where it meets it already, ``inf`` where even ``max_effort`` does not. Units of the lever
    (:data:`LEVERS`). Bisection on all trajectories at once; see the module docstring."""
    if lever not in _LEVER_FUNCS:
        raise InputError(f"unknown lever {lever!r}; levers: {', '.join(_LEVER_FUNCS)}")
    ds = ds.sel(region=list(target["regions"]))
    apply = _LEVER_FUNCS[lever]
    hi = _upper_bound(ds, lever, max_effort)
    shape = xr.zeros_like(ds["co2"].isel(year=0, drop=True)).transpose("sample", "region")

    def met(amount: xr.DataArray) -> xr.DataArray:
        return target_met(apply(ds, amount), target).transpose("sample", "region")

    met_now, met_max = met(shape), met(shape + hi)
    low, high = shape.copy(), shape + hi
    for _ in range(BISECTIONS):
        mid = (low + high) / 2
        ok = met(mid)
        high, low = xr.where(ok, mid, high), xr.where(ok, low, mid)
    out = xr.where(met_now, 0.0, xr.where(met_max, high, np.inf))
    out.name = "minimal_effort"
    out.attrs = {**LEVERS[lever], "lever": lever, "max_effort": hi, "target": describe(target)}
    return out


# ---------------------------------------------------------------------------------------------- summaries
def _quantile_with_interval(values: np.ndarray, p: float, level: float) -> tuple[float, float, float]:
    """``p``-quantile (``inverted_cdf``) of ``values`` (may hold ``inf``) and its distribution-free
    ``level`` Monte Carlo interval from the order statistics (binomial(N, p) ranks)."""
    x = np.sort(values)
    n = len(x)
    k = int(np.ceil(p * n))  # the smallest share >= p: the k-th order statistic (1-based)
    lo_rank = int(stats.binom.ppf((1 - level) / 2, n, p))
    hi_rank = int(stats.binom.ppf((1 + level) / 2, n, p)) + 1
    return float(x[max(k, 1) - 1]), float(x[min(max(lo_rank, 1), n) - 1]), float(x[min(hi_rank, n) - 1])


def _check_probs(probs: Iterable[float]) -> list[float]:
    probs = [float(p) for p in probs]
    bad = [p for p in probs if not 0 < p < 1]
    if not probs or bad:
        raise InputError(f"probabilities must lie strictly between 0 and 1, got {bad or probs}")
    return sorted(set(probs))


def _status(required: float, reachable: bool) -> str:
    if not reachable:
        return "unreachable"
    return "already met" if required == 0 else "needs effort"


def required_effort(forecast_ds: Any, target: Mapping[str, Any], probs: Iterable[float] = DEFAULT_PROBS, *,
                    lever: str = "decline", max_effort: float | None = None, level: float = 0.9) -> xr.Dataset:
    """The effort needed for P(``target`` met) >= each of ``probs``, per region of the target.

    ``forecast_ds``: a forecast Dataset (``Forecast.ds``, a run's ``result.forecast`` or a saved run's
    predictions) or a :class:`~forecast.projection.propagate.Forecast`; ``target``: a target mapping
    (:mod:`forecast.policy.targets`), checked against the forecast first. ``lever``: ``"decline"`` (extra
    intensity decline, log units per year) or ``"sink"`` (extra sink, Mt CO2/yr; ``neutral_by`` targets).

    Returns a Dataset with dims ``(region, probability)``: ``required`` (NaN where ``status`` is
    ``unreachable``: not even ``max_effort`` gives probability ``p``), ``required_low`` / ``required_high``
    (the ``level`` Monte Carlo interval), ``extra_decline_pct`` (decline lever: ``100 (1 - exp(-required))``,
    % per year), ``p_met_check`` (P(met) re-counted on trajectories bent by ``required``) and ``status``
    (``already met`` | ``needs effort`` | ``unreachable``); per region ``p_met_now``; and the per-draw
    ``minimal_effort`` ``(sample, region)`` whose empirical CDF is the effort-probability curve
    (:func:`effort_curve`). Attributes name the target, lever and units.
    """
    ds = getattr(forecast_ds, "ds", forecast_ds)
    if not isinstance(ds, xr.Dataset) or "co2" not in ds:
        raise InputError("required_effort needs a forecast Dataset with co2 (sample, region, year)")
    probs = _check_probs(probs)
    if not 0 < level < 1:
        raise InputError(f"level must lie strictly between 0 and 1, got {level!r}")
    if lever == "sink" and target.get("kind") != "neutral_by":
        raise InputError(f"target {describe(target)}: a sink enhancement only answers neutral_by targets")
    (target,) = check_targets_on(ds, [target])
    minimal = minimal_effort(ds, target, lever=lever, max_effort=max_effort)
    return _summarise(ds, target, minimal, probs, lever=lever, level=level)


def required_sink(forecast_ds: Any, target: Mapping[str, Any], probs: Iterable[float] = DEFAULT_PROBS,
                  **kwargs) -> xr.Dataset:
    """:func:`required_effort` with the sink lever: extra Mt CO2/yr of sink for a ``neutral_by`` target."""
    return required_effort(forecast_ds, target, probs, lever="sink", **kwargs)


def _summarise(ds: xr.Dataset, target: Mapping[str, Any], minimal: xr.DataArray, probs: list[float], *,
               lever: str, level: float) -> xr.Dataset:
    regions = [str(r) for r in minimal["region"].values]
    shape = (len(regions), len(probs))
    required, low, high = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    status = np.empty(shape, dtype=object)
    for i, region in enumerate(regions):
        values = minimal.sel(region=region).values
        for j, p in enumerate(probs):
            q, lo, hi = _quantile_with_interval(values, p, level)
            status[i, j] = _status(q, np.isfinite(q))
            required[i, j] = q if np.isfinite(q) else np.nan
            low[i, j], high[i, j] = lo, hi  # an infinite upper end: the interval reaches "unreachable"
    dims, attrs = ("region", "probability"), {**LEVERS[lever]}
    out = xr.Dataset(
        {"required": (dims, required, attrs), "required_low": (dims, low, attrs), "required_high": (dims, high, attrs),
         "status": (dims, status.astype(str)),
         "p_met_now": ("region", (minimal == 0).mean("sample").values),
         "minimal_effort": minimal.drop_vars([c for c in minimal.coords if c not in minimal.dims])},
        coords={"region": regions, "probability": probs})
    out["p_met_check"] = (dims, _recount(ds, target, out["required"], lever))
    if lever == "decline":
        out["extra_decline_pct"] = (dims, 100 * (1 - np.exp(-required)), {"units": "% per year"})
    out["probability"].attrs = {"long_name": "required probability of meeting the target"}
    out.attrs = {"target": describe(target), "kind": target["kind"], "year": int(target["year"]), "lever": lever,
                 "interval_level": level, "samples": int(ds.sizes["sample"]),
                 "t0": "last observed year (the decline applies from the first forecast year on)"}
    return out


def _recount(ds: xr.Dataset, target: Mapping[str, Any], required: xr.DataArray, lever: str) -> np.ndarray:
    """P(met) counted again on trajectories given the reported effort (NaN where unreachable)."""
    out = np.full(required.shape, np.nan)
    sub = ds.sel(region=list(required["region"].values))
    for j, p in enumerate(required["probability"].values):
        amount = required.sel(probability=p)
        if amount.isnull().all():
            continue
        bent = _LEVER_FUNCS[lever](sub, amount.fillna(0.0))
        share = target_met(bent, {**target, "regions": list(required["region"].values)}).mean("sample")
        out[:, j] = np.where(amount.isnull(), np.nan, share.values)
    return out


def effort_curve(effort: xr.Dataset, points: int = 201) -> pd.DataFrame:
    """The effort-probability curve of :func:`required_effort`'s result: per region, P(target met) on a
    grid of efforts from 0 to the largest finite per-draw effort (tidy: ``region, effort, p_met``, plus
    ``extra_decline_pct`` for the decline lever)."""
    minimal = effort["minimal_effort"]
    finite = minimal.values[np.isfinite(minimal.values)]
    top = float(finite.max()) if finite.size and finite.max() > 0 else 0.05
    grid = np.linspace(0.0, top, points)
    rows = []
    for region in minimal["region"].values:
        values = np.sort(minimal.sel(region=region).values)
        share = np.searchsorted(values, grid, side="right") / len(values)  # the empirical CDF
        rows.append(pd.DataFrame({"region": str(region), "effort": grid, "p_met": share}))
    table = pd.concat(rows, ignore_index=True)
    if effort.attrs.get("lever") == "decline":
        table["extra_decline_pct"] = 100 * (1 - np.exp(-table["effort"]))
    table.attrs = {"target": effort.attrs.get("target", ""), "lever": effort.attrs.get("lever", ""),
                   "units": minimal.attrs.get("units", "")}
    return table


def effort_table(results: Iterable[xr.Dataset]) -> pd.DataFrame:
    """One row per (target, lever, region, probability) of several :func:`required_effort` results:
    ``target, lever, region, probability, status, required, required_low, required_high, units,
    extra_decline_pct, p_met_now, p_met_check``."""
    frames = []
    for res in results:
        frame = res[["required", "required_low", "required_high", "status", "p_met_check"]].to_dataframe().reset_index()
        frame["p_met_now"] = frame["region"].map(res["p_met_now"].to_series())
        frame["extra_decline_pct"] = (res["extra_decline_pct"].to_dataframe().reset_index()["extra_decline_pct"]
                                      if "extra_decline_pct" in res else np.nan)
        frame.insert(0, "target", res.attrs["target"])
        frame.insert(1, "lever", res.attrs["lever"])
        frame["units"] = res["required"].attrs.get("units", "")
        frames.append(frame)
    columns = ["target", "lever", "region", "probability", "status", "required", "required_low", "required_high",
               "units", "extra_decline_pct", "p_met_now", "p_met_check"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def load_forecast(path: str | Path, scenario: str | None = None) -> xr.Dataset:
    """The forecast of a saved run: ``path`` is a run folder (its ``result.nc``), a ``result.nc`` (the
    ``/predictions`` group) or a ``forecast.nc``. Float64 from ``result.nc``; ``forecast.nc`` is float32.
    A run with a ``scenario`` dim gives ``scenario`` (default: the study's own, the first)."""
    path = Path(path)
    if path.is_dir():
        path = path / "result.nc" if (path / "result.nc").is_file() else path / "forecast.nc"
    if not path.is_file():
        raise InputError(f"no saved run at {path} (give a folder written by `carbon-forecast run` or `report`, "
                         "or its result.nc / forecast.nc)")
    try:
        if path.name == "forecast.nc":
            ds = xr.load_dataset(path, engine="h5netcdf")
        else:
            with xr.open_datatree(path, engine="h5netcdf") as tree:
                ds = tree["predictions"].to_dataset().load()
    except (OSError, KeyError, ValueError) as err:
        raise InputError(f"{path}: not a saved run ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})") from None
    missing = [v for v in ("co2", "co2_per_capita", "gdp_per_capita", "population") if v not in ds]
    missing += [c for c in ("is_forecast", "last_observed_year") if c not in ds.coords]
    if missing:
        raise InputError(f"{path}: the saved forecast lacks {', '.join(missing)}")
    if "scenario" in ds.dims:
        names = [str(s) for s in ds["scenario"].values]
        if scenario is not None and scenario not in names:
            raise InputError(f"{path}: no scenario {scenario!r} (has {', '.join(names)})")
        ds = ds.sel(scenario=scenario or names[0]).drop_vars(
            ["scenario", "scenario_kind", "scenario_drivers", "scenario_description", "scenario_source"],
            errors="ignore")
    elif scenario is not None:
        raise InputError(f"{path}: the saved run has no scenario dim (asked for scenario {scenario!r})")
    return ds.drop_vars("peak_year", errors="ignore")
