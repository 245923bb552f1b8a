"""Policy scenarios: the forecast's trajectories bent by a policy, side by side on one ``scenario`` dim.

A policy scenario changes emissions, never GDP or population, and is applied to the posterior forecast
trajectories (no refit): the model's spread of outcomes stays, the policy moves it. Kinds (a study's
``[policy.<name>]`` tables, or mappings in Python):

``intensity_pathway``
    Carbon intensity (CO2 per unit GDP) follows a pledged path: ``reductions`` below the ``base_year``
    level by ``years`` (e.g. China's 2030 pledge, 65 % below 2005 by 2030: ``base_year = 2005, years =
    [2030], reductions = [0.65]``). The path runs log-linearly from each trajectory's last observed
    intensity to the first pledge, between pledges, and after the last one keeps the last segment's rate
    (``after = "continue"``, as Liu & Raftery 2021 continue NDC rates after 2030) or holds the last level
    (``after = "hold"``). ``mode = "ceiling"`` (default): the pledge is met at least, a trajectory that
    decarbonises faster keeps its own path (``I' = min(I, path)``); ``mode = "follow"``: every
    trajectory's intensity is the path (emissions then vary only with GDP and population).
    Official statistics measure a pledge on their own GDP and emission series, which can differ a lot from
    the forecast's (China: 48.4 % below 2005 by 2020 in the State Council white paper "Responding to Climate
    Change: China's Policy and Actions", 2021, but about 34 % on the OWID / Maddison int-$ GDP of the China
    study). ``achieved_year`` and ``achieved_reduction`` re-anchor the pledge on the official progress: the
    pledged level is then ``I(achieved_year) · (1 - reduction) / (1 - achieved_reduction)`` on the forecast's
    own data, i.e. the *remaining* official reduction applied from the year it was measured.
``accelerated_decline``
    An extra intensity decline of ``extra_decline`` log units per year on every trajectory
    (:func:`forecast.policy.effort.bend`, the lever of the required-effort analysis).
``intensity_csv``
    An ``intensity_pathway`` whose pledges come from a CSV (``path``) with columns ``region, year,
    reduction`` (share below ``base_year``), one path per region; regions missing from the file keep the
    baseline.

Every kind may carry ``regions`` (default: all), ``label`` and ``source`` (where the pledge is published).
Net emissions, where present, move by the same change of emissions.

Non-fossil share paths: not a kind, and why
-------------------------------------------
China's updated NDC (2021) also pledges a non-fossil share of primary energy consumption of around 25 % by
2030 (15.9 % in 2020: State Council white paper "Responding to Climate Change: China's Policies and Actions",
2021). As carbon intensity this would read CO2/GDP = (energy/GDP) x (fossil share) x (CO2 per unit of fossil
energy), the path scaling the fossil share. The study panel (``owid_co2_data.csv``, /work/shared/data
SOURCES.md) has ``energy_per_gdp``, ``primary_energy_consumption`` and ``co2_per_unit_energy`` but no fossil
or non-fossil share of primary energy (that is in OWID's separate energy dataset, not in the data folder),
so the share in the base year and its history cannot be taken from the data the forecast is fitted on; and
the emission models forecast carbon intensity as a whole, not energy intensity x fuel mix, so a share path
has no forecast quantity to act on without a second, unfitted assumption about energy intensity. Rather than
invent one, the kind is left out; a user who has an energy model can give the resulting intensity path as an
``intensity_csv``.

Against Liu & Raftery (2021)
----------------------------
Liu P.R. & Raftery A.E. (2021), Commun. Earth Environ. 2:29 (doi:10.1038/s43247-021-00097-8; the paper is
not in the project's reference folder, the figures here are from its abstract, PMC8064561) give
P(China meets its NDC) = 16 % (USA 2 %) from a Kaya model with carbon intensity as a random walk with
drift, and find that the average emission decline of 1 %/yr the NDCs need would have to rise to 1.8 %/yr for
an even chance of 2 degC. The China study here gives P(intensity over 65 % below 2005 by 2030) of about 1 %
under the history scenario (the report's scenario table; it also gives the drivers scenario and the
pledge scenarios side by side). Where and why the numbers differ:

1. the pledge: theirs is the NDC in force before China's 2021 update (the 2015 NDC: intensity 60-65 % below
   2005 by 2030 and a peak around 2030); here the 2021 update's "over 65 %". How they turned the NDC into
   an emission criterion is in their paper and not reproduced here;
2. the measure: here intensity is CO2 over OWID / Maddison GDP in 2011 int-$, on which China was about 34 %
   below 2005 in 2020, against 48.4 % in official statistics (white paper above), so the same pledge asks
   for a much larger remaining cut here (``achieved_*`` re-anchors it: the ``ndc_2030_official`` kind of
   scenario);
3. the data: theirs end in 2015, these in 2022;
4. the model: a growth-form EKC (or the Kaya model of forecast.models.kaya) fitted to a global panel, not
   their random walk of intensity with UN population forecasts.

So the comparison is qualitative: both find China's intensity pledge unlikely on current trends, and the
numbers are not comparable one to one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from forecast.errors import InputError
from forecast.units import carbon_intensity_kg_per_dollar

KINDS = {
    "intensity_pathway": {"base_year", "years", "reductions"},
    "accelerated_decline": {"extra_decline"},
    "intensity_csv": {"base_year", "path"},
}
OPTIONAL = {"regions", "label", "source", "after", "mode", "achieved_year", "achieved_reduction"}
EMISSION_VARIABLES = ("co2", "co2_per_capita", "net_co2")


def check_policy(name: str, policy: Mapping[str, Any], ds: xr.Dataset, *, base_dir: Path | None = None) -> dict:
    """Validate one policy against the forecast ``ds``; returns it with ``regions`` (and a CSV's pledges
    as ``pledges``: region -> (years, reductions)) filled in. Errors name the policy and the key."""
    policy = dict(policy)
    kind = policy.get("kind")
    where = f"policy {name!r}"
    if kind not in KINDS:
        raise InputError(f"{where}: unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
    missing = sorted(KINDS[kind] - set(policy))
    extra = sorted(set(policy) - KINDS[kind] - OPTIONAL - {"kind"})
    if missing or extra:
        raise InputError(f"{where}: " + "; ".join(([f"missing key(s) {', '.join(missing)}"] if missing else [])
                                                 + ([f"unknown key(s) {', '.join(extra)}"] if extra else [])))
    regions = [str(r) for r in ds["region"].values]
    chosen = list(policy.get("regions") or regions)
    unknown = [r for r in chosen if r not in regions]
    if unknown:
        raise InputError(f"{where}: regions not in the forecast: {', '.join(unknown)}")
    policy["regions"] = chosen
    if kind == "accelerated_decline":
        if not (np.isfinite(policy["extra_decline"]) and 0 <= policy["extra_decline"] < 1):
            raise InputError(f"{where}: extra_decline must be in [0, 1) log units per year, got {policy['extra_decline']!r}")
        return policy
    policy.setdefault("after", "continue")
    policy.setdefault("mode", "ceiling")
    if policy["after"] not in ("continue", "hold") or policy["mode"] not in ("ceiling", "follow"):
        raise InputError(f"{where}: after must be continue|hold and mode ceiling|follow, got "
                         f"{policy['after']!r}, {policy['mode']!r}")
    _check_base_year(where, int(policy["base_year"]), ds)
    if ("achieved_year" in policy) != ("achieved_reduction" in policy):
        raise InputError(f"{where}: give achieved_year and achieved_reduction together")
    if "achieved_year" in policy:
        _check_base_year(where, int(policy["achieved_year"]), ds)
        if not 0 <= float(policy["achieved_reduction"]) < 1:
            raise InputError(f"{where}: achieved_reduction is a share in [0, 1), got {policy['achieved_reduction']!r}")
    if kind == "intensity_csv":
        policy["pledges"] = _read_pledges(where, Path(policy["path"]) if base_dir is None else base_dir / policy["path"],
                                          chosen, int(policy["base_year"]), ds)
    else:
        policy["pledges"] = {r: _check_pledges(where, policy["years"], policy["reductions"], policy["base_year"], ds)
                             for r in chosen}
    return policy


def _check_base_year(where: str, base_year: int, ds: xr.Dataset) -> None:
    observed = ds["year"].values[~ds["is_forecast"].values.astype(bool)]
    if base_year not in {int(y) for y in observed}:
        raise InputError(f"{where}: base_year {base_year} is not an observed year "
                         f"({int(observed.min())}-{int(observed.max())})")


def _check_pledges(where: str, years, reductions, base_year: int, ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    years, reductions = np.asarray(years, dtype=float), np.asarray(reductions, dtype=float)
    last_obs, horizon = int(ds["last_observed_year"].max()), int(ds["year"].max())
    if len(years) == 0 or len(years) != len(reductions):
        raise InputError(f"{where}: years and reductions must be lists of the same non-zero length")
    if (years % 1 != 0).any() or (np.diff(years) <= 0).any() or years[0] <= last_obs or years[-1] > horizon:
        raise InputError(f"{where}: pledge years {years.astype(int).tolist()} must increase and lie in the "
                         f"forecast years {last_obs + 1}-{horizon}")
    if not ((reductions > 0) & (reductions < 1)).all():
        raise InputError(f"{where}: reductions are shares below {base_year} in (0, 1), got {reductions.tolist()}")
    return years, reductions


def _read_pledges(where: str, path: Path, regions: list[str], base_year: int,
                  ds: xr.Dataset) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The pledges of ``regions`` in the CSV, each region's checked like an ``intensity_pathway``'s (years
    increasing inside the forecast, reductions in (0, 1)); errors name the file, the region and the row."""
    from forecast.io.csvfile import read_user_csv

    if not path.is_file():
        raise InputError(f"{where}: pledge file not found: {path}")
    table = read_user_csv(path, required=("region", "year", "reduction"), numeric=("year", "reduction"),
                          text=("region",), what=f"pledge file of {where}")
    table["region"] = table["region"].astype(str)
    missing = table["year"].isna() | table["reduction"].isna()
    if missing.any():
        row = int(np.flatnonzero(missing.to_numpy())[0])
        raise InputError(f"{path}: row {row + 1} (region {table['region'].iloc[row]!r}): year and reduction are both needed")
    out = {}
    for region, rows in table.groupby("region", sort=False):
        if region in regions:
            rows = rows.sort_values("year", kind="stable")
            try:
                out[region] = _check_pledges(where, rows["year"].to_numpy(float), rows["reduction"].to_numpy(float),
                                             base_year, ds)
            except InputError as err:
                raise InputError(f"{path}, region {region!r}: {err}") from None
    return out


# ---------------------------------------------------------------------------------------------- applying
def _intensity(ds: xr.Dataset) -> xr.DataArray:
    return carbon_intensity_kg_per_dollar(ds["co2"], ds["gdp_per_capita"], ds["population"])


def _log_path(log_start: np.ndarray, t0: int, log_base: np.ndarray, years: np.ndarray, reductions: np.ndarray,
              all_years: np.ndarray, after: str) -> np.ndarray:
    """Log intensity path ``(sample, year)``: from ``log_start`` (sample,) in ``t0`` through the pledged
    levels ``log_base + log(1 - reduction)`` at ``years``, then on at the last rate or held."""
    knots_t = np.concatenate([[t0], years])
    knots = np.column_stack([log_start, log_base[:, None] + np.log1p(-reductions)[None, :]])
    out = np.stack([np.interp(all_years, knots_t, k) for k in knots])
    late = all_years > years[-1]
    if after == "continue" and late.any():
        rate = (knots[:, -1] - knots[:, -2]) / (knots_t[-1] - knots_t[-2])
        out[:, late] = knots[:, -1:] + rate[:, None] * (all_years[late] - years[-1])
    return out


def _log_anchor(intensity: xr.DataArray, policy: Mapping[str, Any]) -> np.ndarray:
    """Log of the intensity the pledged reductions are taken from, per sample: the base year's, or the
    achieved year's scaled back to the base year by the officially achieved reduction."""
    if "achieved_year" not in policy:
        return np.log(intensity.sel(year=int(policy["base_year"])).values)
    achieved = intensity.sel(year=int(policy["achieved_year"])).values
    return np.log(achieved) - np.log1p(-float(policy["achieved_reduction"]))


def _pathway_factor(ds: xr.Dataset, region: str, policy: Mapping[str, Any]) -> np.ndarray:
    """Multiplier of the region's emissions ``(sample, year)`` that puts its intensity on the path."""
    years, reductions = policy["pledges"][region]
    sub = ds.sel(region=region)
    intensity = _intensity(sub).transpose("sample", "year")
    t0 = int(sub["last_observed_year"])
    all_years = sub["year"].values
    log_i = np.log(intensity.values)
    path = _log_path(log_i[:, all_years == t0][:, 0], t0, _log_anchor(intensity, policy), years, reductions,
                     all_years, policy["after"])
    # a hair below the path (1e-9 relative), so a pledged level counts as met, not as missed by rounding
    target = (path if policy["mode"] == "follow" else np.minimum(path, log_i)) - 1e-9
    return np.where(all_years > t0, np.exp(target - log_i), 1.0)


def apply_policy(ds: xr.Dataset, policy: Mapping[str, Any]) -> xr.Dataset:
    """``ds`` with the checked ``policy`` applied to its emission variables (see the module docstring)."""
    if policy["kind"] == "accelerated_decline":
        from forecast.policy.effort import bend

        keep = ds["region"].isin(policy["regions"])
        return bend(ds, xr.where(keep, float(policy["extra_decline"]), 0.0))
    factor = xr.ones_like(ds["co2"]).transpose("sample", "region", "year").copy()
    for region in policy["regions"]:
        if region in policy["pledges"]:
            factor.loc[{"region": region}] = _pathway_factor(ds, region, policy)
    out = ds.copy()
    for name in ("co2", "co2_per_capita"):
        out[name] = (ds[name] * factor).transpose(*ds[name].dims).assign_attrs(ds[name].attrs)
    if "net_co2" in ds:
        out["net_co2"] = (ds["net_co2"] + out["co2"] - ds["co2"]).transpose(*ds["net_co2"].dims)
        out["net_co2"].attrs = ds["net_co2"].attrs
    return out


def describe_policy(name: str, policy: Mapping[str, Any]) -> str:
    """One line on what a checked policy assumes (its ``label`` when it has one)."""
    if policy.get("label"):
        return str(policy["label"])
    if policy["kind"] == "accelerated_decline":
        return f"extra intensity decline of {policy['extra_decline']:g}/yr"
    if policy["kind"] == "intensity_csv":
        return f"intensity pledges from {Path(policy['path']).name} ({policy['mode']})"
    pledges = ", ".join(f"-{r:.0%} by {int(y)}" for y, r in zip(policy["years"], policy["reductions"]))
    anchor = (f", {policy['achieved_reduction']:.1%} achieved by {policy['achieved_year']} officially"
              if "achieved_year" in policy else "")
    return f"carbon intensity {pledges} vs {policy['base_year']}{anchor} ({policy['mode']}, then {policy['after']})"


def scenario_target_table(scenarios: xr.Dataset, targets: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """P(target met) per scenario, target and region: :func:`forecast.policy.targets.target_table` on each
    scenario of a ``scenario`` dim (:func:`forecast.scenarios.axis.policy_scenarios`, :func:`forecast.scenarios.axis.scenario_axis`),
    with leading ``scenario``, ``scenario_kind`` and ``policy`` (what the scenario assumes) columns."""
    from forecast.policy.targets import target_table

    targets = list(targets)
    frames = []
    for name in scenarios["scenario"].values:
        one = scenarios.sel(scenario=name)
        table = target_table(one, targets, peak_year=one.get("peak_year"))
        table.insert(0, "scenario", str(name))
        table.insert(1, "scenario_kind", str(one["scenario_kind"].values) if "scenario_kind" in one.coords else "")
        table.insert(2, "policy", str(one["scenario_description"].values) if "scenario_description" in one.coords
                     else "forecast as is")
        frames.append(table)
    return pd.concat(frames, ignore_index=True)
