"""One ``scenario`` dimension for every scenario of a run: GDP / population scenarios and policy scenarios.

A run forecasts emissions under the study's own GDP-per-capita and population scenario (``[scenario] type``:
``history``, ``drivers`` or ``csv``). ``[scenario] compare`` adds the other driver scenarios (the same
emission posterior, the same forecast seed, so the scenarios differ only by their GDP and population paths),
and every ``[policy.<name>]`` table bends the study's own forecast (:mod:`forecast.scenarios.policy`). They
all become coordinates of one ``scenario`` dim, in this order: the study's own scenario, the compared
driver scenarios, the policies. P(target met) per scenario is read off that dim
(:func:`forecast.scenarios.policy.scenario_target_table`).

Auxiliary coordinates along ``scenario`` describe each one (strings, CF auxiliary coordinates):

``scenario_kind``
    ``history``, ``drivers``, ``csv`` (a GDP / population scenario) or the policy kind
    (``intensity_pathway``, ``accelerated_decline``, ``intensity_csv``);
``scenario_drivers``
    the GDP / population scenario the emissions were forecast with (a policy's is the study's own);
``scenario_description``
    one line on what the scenario assumes;
``scenario_source``
    where a policy's pledge is published (empty where there is none).

Variables that differ between scenarios carry the dim: ``co2``, ``co2_per_capita``, ``net_co2`` and
``peak_year`` always, ``gdp_per_capita`` and ``population`` when driver scenarios are compared (policies
leave them alone). Variables without the dim are the same in every scenario (``sink``, and GDP and
population when only policies are compared) or, where their attrs carry ``scenario``, computed under that
scenario only (capacity and compensation draws).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from forecast.errors import InputError

DRIVER_DESCRIPTIONS = {
    "history": "GDP per capita and population: recent growth decaying toward long-run rates",
    "drivers": "GDP per capita and population from their Bayesian models (frontier convergence, damped trend)",
    "csv": "GDP per capita and population paths from a user CSV",
}
DRIVER_VARIABLES = ("gdp_per_capita", "population")
COORDS = ("scenario_kind", "scenario_drivers", "scenario_description", "scenario_source")


class CommonDraws:
    """``scenario`` drawn so that a forecast with it uses the same posterior draws and emission shocks as a
    forecast with ``own`` and the same seed (common random numbers): the model's generator is advanced by
    ``own``'s draw exactly as in the own forecast, and ``scenario``'s paths come from a generator of their own
    (seeded ``seed``). The difference between the two forecasts is then the GDP / population scenario alone,
    not Monte Carlo noise. Everything else is ``scenario``'s."""

    def __init__(self, scenario, own, *, seed: int):
        self.scenario, self.own, self.seed = scenario, own, int(seed)

    def __getattr__(self, name: str):
        return getattr(self.scenario, name)

    def draw(self, regions: list[str], *, start_year: int, n_samples: int, rng: np.random.Generator) -> xr.Dataset:
        self.own.draw(regions, start_year=start_year, n_samples=n_samples, rng=rng)  # advances rng only
        return self.scenario.draw(regions, start_year=start_year, n_samples=n_samples,
                                  rng=np.random.default_rng(self.seed))


def _with_net(other: xr.Dataset, own: xr.Dataset) -> xr.Dataset:
    """``other`` with ``net_co2`` = the own scenario's net emissions moved by the change of fossil emissions
    (the sink does not depend on the GDP scenario)."""
    if "net_co2" not in own or "net_co2" in other:
        return other
    out = other.copy()
    out["net_co2"] = (own["net_co2"] + other["co2"] - own["co2"]).transpose(*own["net_co2"].dims)
    out["net_co2"].attrs = own["net_co2"].attrs
    return out


def _check_same_draws(name: str, other: xr.Dataset, own: xr.Dataset) -> None:
    """The compared forecasts must use the same posterior draws in the same samples (:class:`CommonDraws`),
    else a difference between scenarios would mix the scenario with Monte Carlo noise of the posterior."""
    for key in ("chain", "draw", "region", "year"):
        if key in own.coords and (key not in other.coords or not np.array_equal(own[key].values, other[key].values)):
            raise InputError(f"scenario {name!r}: its forecast does not share the {key!r} coordinate of the "
                             "study's own forecast (forecast both with the same draws and seed)")


def scenario_axis(forecasts: Mapping[str, xr.Dataset], policies: Mapping[str, Mapping[str, Any]] | None = None, *,
                  kinds: Mapping[str, str] | None = None, base_dir: Path | None = None) -> xr.Dataset:
    """The variables of the forecasts that differ between scenarios, on one ``scenario`` dim.

    ``forecasts``: GDP / population scenario name -> forecast Dataset ``(sample, region, year[, cfe])``, the
    study's own first (the policies are applied to it); ``kinds``: name -> ``history | drivers | csv``
    (default: the name); ``policies``: ``[policy.<name>]`` specs (:func:`forecast.scenarios.policy.check_policy`).
    Returns ``co2``, ``co2_per_capita`` (``net_co2``), ``peak_year`` and, with more than one forecast,
    ``gdp_per_capita`` and ``population``, each with a leading ``scenario`` dim, and the coordinates of the
    module docstring."""
    from forecast.projection.peak import peak_year_of
    from forecast.scenarios.policy import (
        EMISSION_VARIABLES,
        apply_policy,
        check_policy,
        describe_policy,
    )

    if not forecasts:
        raise InputError("scenario_axis needs at least the study's own forecast")
    kinds = dict(kinds or {})
    own_name, own = next(iter(forecasts.items()))
    policies = dict(policies or {})
    checked = {name: check_policy(name, p, own, base_dir=base_dir) for name, p in policies.items()}
    clash = sorted(set(checked) & set(forecasts))
    if clash:
        raise InputError(f"policy {clash[0]!r}: the name is taken by a GDP / population scenario")
    members: dict[str, xr.Dataset] = {}
    rows: dict[str, tuple[str, str, str, str]] = {}
    for name, ds in forecasts.items():
        if name != own_name:
            _check_same_draws(name, ds, own)
            ds = _with_net(ds, own)
        kind = kinds.get(name, name)
        members[name] = ds
        rows[name] = (kind, name, DRIVER_DESCRIPTIONS.get(kind, f"GDP / population scenario {name!r}"), "")
    for name, policy in checked.items():
        members[name] = apply_policy(own, policy)
        rows[name] = (policy["kind"], own_name, describe_policy(name, policy), str(policy.get("source", "")))
    names = [v for v in EMISSION_VARIABLES if v in own]
    if len(forecasts) > 1:
        names += [v for v in DRIVER_VARIABLES if v in own]
    index = pd.Index(list(members), name="scenario")
    parts = []
    for ds in members.values():
        part = ds[names]
        parts.append(part.assign(peak_year=peak_year_of(ds)))
    axis = xr.concat(parts, dim=index, coords="minimal", compat="override", combine_attrs="override")
    axis.attrs = {}
    for name in [*names, "peak_year"]:
        axis[name].attrs = dict((own[name] if name in own else parts[0][name]).attrs)
    axis["peak_year"].attrs.setdefault("long_name", "year of maximum total CO2 emissions (peak rule) per scenario")
    axis["peak_year"].attrs.setdefault("units", "year")
    table = np.array(list(rows.values()), dtype=str)
    # plain unicode labels, so every NetCDF reader sees strings
    axis = axis.assign_coords(scenario=np.array(list(members), dtype=str))
    axis = axis.assign_coords({c: ("scenario", table[:, i]) for i, c in enumerate(COORDS)})
    axis["scenario"].attrs = {
        "long_name": "scenario: the study's own GDP / population scenario, the compared ones, then the policies",
        "own_scenario": own_name,
    }
    for c, text in zip(COORDS, ("kind of scenario (GDP / population scenario or policy kind)",
                                "GDP / population scenario the emissions were forecast with",
                                "what the scenario assumes", "where a policy's pledge is published")):
        axis[c].attrs["long_name"] = text
    return axis


def scenario_table(axis: xr.Dataset) -> pd.DataFrame:
    """One row per scenario of ``axis``, in order: ``scenario`` and its coordinates (``kind``, ``drivers``,
    ``description``, ``source``)."""
    return pd.DataFrame({"scenario": [str(s) for s in axis["scenario"].values],
                         **{c.removeprefix("scenario_"): [str(v) for v in axis[c].values] for c in COORDS}})


def with_scenario_axis(forecast: xr.Dataset, axis: xr.Dataset | None) -> xr.Dataset:
    """``forecast`` with every variable of ``axis`` in place of its single-scenario version (one dim for all
    scenarios); variables left without the dim that were computed under the own scenario only (capacity,
    compensation) get its name in a ``scenario`` attr. Without an axis, ``forecast`` as is."""
    if axis is None:
        return forecast
    own = str(axis["scenario"].attrs.get("own_scenario", axis["scenario"].values[0]))
    out = forecast.drop_vars([v for v in axis.data_vars if v in forecast]).assign(dict(axis.data_vars))
    out = out.assign_coords({c: axis[c] for c in ("scenario", *COORDS)})
    for name, var in out.data_vars.items():
        if "scenario" not in var.dims and _depends_on_emissions(name):
            var.attrs["scenario"] = own
    return out


def _depends_on_emissions(name: str) -> bool:
    """Forecast variables derived from the own scenario's emissions (capacity and compensation draws)."""
    return name.startswith(("cap__", "population_capacity", "gdp_capacity", "compensation_payment"))


def policy_scenarios(ds: xr.Dataset, policies: Mapping[str, Mapping[str, Any]], *, base_dir: Path | None = None,
                     baseline: str | None = None) -> xr.Dataset:
    """The forecast under its own scenario (named ``baseline``, default ``ds.attrs["scenario"]``) and under
    each policy: ``ds`` with the emission variables and ``peak_year`` on a leading ``scenario`` dim (GDP and
    population shared) and the scenario's coordinates (:func:`forecast.scenarios.axis.scenario_axis`).
    Every policy is checked before any is applied."""
    baseline = baseline or str(ds.attrs.get("scenario", "baseline"))
    if baseline in policies:
        raise InputError(f"policy {baseline!r}: the name is taken by the forecast's own scenario")
    return with_scenario_axis(ds, scenario_axis({baseline: ds}, policies, base_dir=base_dir))
