"""Horizontal carbon compensation between regions: who pays whom, at an uncertain carbon price.

Balance per region and forecast draw (Mt CO2/yr, positive = deficit = pays) in one ``year``:

* **allocation mode** -- ``balance = co2 − share × Σ co2``: the *actual* total emissions of the regions in
  the scheme in that draw are allocated by shares summing to one (fixed shares, or population / GDP /
  emission shares computed per draw), so the balances sum to zero in every draw. A region whose
  emissions equal its allocation pays nothing (balances within 1e-12 × the total of zero, i.e. rounding
  noise, are set to exactly zero).
* **sink mode** (``allocation="sink"``) -- raw balance ``co2 − sink`` (the region's ecosystem sink,
  positive = uptake). Raw balances do not sum to zero; they are normalised so that only the amount that
  can be matched is traded: with deficits ``D = Σ max(b, 0)`` and surpluses ``S = Σ max(−b, 0)``, the
  traded volume is ``V = min(D, S)``, each deficit is scaled by ``V / D`` and each surplus by ``V / S``.
  Signs are kept, balances then sum to zero, and the unmatched remainder ``Σ b = D − S`` (the group's net
  emissions, positive when it is not carbon neutral) is reported as ``unmatched`` (not compensated inside
  the group).

Price: one carbon price per draw (``currency`` per t CO2), log-normal with the given median and 90 %
range. If the range is asymmetric in log space a two-piece (split) log-normal is used:
``log price = log median + σ_lo z`` for ``z < 0`` and ``σ_hi z`` for ``z ≥ 0`` with
``σ_lo = log(median/p05) / 1.645`` and ``σ_hi = log(p95/median) / 1.645``, so all three quantiles are
reproduced exactly (it is a plain log-normal when the range is symmetric in logs).

``payment = price × balance`` in million ``currency`` per year (price per t × Mt).

Ability to pay (``ability_to_pay = η``, optional): the receivers are paid ``price × surplus`` as above, but
the total bill is split among the deficit regions in proportion to ``deficit_r × (y_r / ȳ)^η`` instead of
``deficit_r`` alone (``y`` = GDP per capita in the compensation year, per draw; ``ȳ`` its mean over the
scheme, which cancels). Richer payers carry more of the bill, poorer ones less; the payers' total, the
receipts and so the zero sum are unchanged, and ``η = 0`` is the plain scheme. Zhao et al. 2022 (J. Nat.
Resour. 37(5), the seed paper) ask that regional horizontal compensation weigh economic development level
and poverty; the functional form and η are a choice made here (no published value), reported with the
result. ``burden`` is the deficit after the adjustment (Mt CO2/yr equivalent), so ``payment = price × burden``.

Each payer's payment is
split among the surplus regions in proportion to their surplus: ``flow[s, payer, payee] =
payment[s, payer] × surplus[s, payee] / Σ surplus[s]``; row sums are the payers' payments and column
sums the payees' receipts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import norm

from forecast.policy.capacity import _gdp, as_dataset, validate_shares
from forecast.errors import InputError, did_you_mean
from forecast.metrics import HEADLINE_VARIANTS, headline

__all__ = ["SHARE_RULES", "compensation", "compensation_table", "flow_table", "sample_price"]

_Z95 = float(norm.ppf(0.95))

#: Share rules computed per draw from the forecast in the compensation year.
SHARE_RULES = {
    "per_capita": "population share",
    "gdp_share": "GDP share (gdp_per_capita × population)",
    "emissions_share": "share of emissions in `reference_year` (grandfathering)",
}


def sample_price(n: int, median: float, p05: float | None = None, p95: float | None = None,
                 random_seed: int | np.random.Generator | None = None) -> np.ndarray:
    """``n`` carbon-price draws with the given median and 5 % / 95 % quantiles (split log-normal, see the
    module docstring). Without ``p05``/``p95`` the price is fixed at the median."""
    vals = [median] + [v for v in (p05, p95) if v is not None]
    if any(not np.isfinite(v) or v <= 0 for v in vals):
        raise InputError(f"carbon price quantiles must be finite and > 0, got median={median}, p05={p05}, p95={p95}")
    if (p05 is None) != (p95 is None):
        raise InputError("give both price_p05 and price_p95 (or neither for a fixed price)")
    if p05 is None:
        return np.full(n, float(median))
    if not p05 <= median <= p95:
        raise InputError(f"carbon price quantiles out of order: need p05 <= median <= p95, got "
                         f"p05={p05}, median={median}, p95={p95}")
    rng = random_seed if isinstance(random_seed, np.random.Generator) else np.random.default_rng(random_seed)
    z = rng.standard_normal(n)
    s_lo, s_hi = np.log(median / p05) / _Z95, np.log(p95 / median) / _Z95
    return median * np.exp(np.where(z < 0, s_lo * z, s_hi * z))


def _year(ds: xr.Dataset, year) -> int:
    if year is None or isinstance(year, bool) or int(year) != year:
        raise InputError(f"year must be a whole number, got {year!r}")
    if int(year) not in ds["year"].values:
        raise InputError(f"year {year} not in the forecast ({int(ds['year'].min())}-{int(ds['year'].max())})")
    return int(year)


def _shares(ds: xr.Dataset, allocation, year: int, regions: list[str], reference_year) -> xr.DataArray:
    if isinstance(allocation, (Mapping, pd.Series, xr.DataArray)):
        s = validate_shares(allocation, [str(r) for r in ds["region"].values], "compensation shares")
        return s
    if allocation == "per_capita":
        w = ds["population"].sel(year=year, region=regions)
    elif allocation == "gdp_share":
        w = _gdp(ds).sel(year=year, region=regions)
    elif allocation == "emissions_share":
        if reference_year is None:
            raise InputError("emissions_share needs reference_year (the year whose emission shares are allocated)")
        ref = _year(ds, reference_year)
        w = ds["co2"].sel(year=ref, region=regions)
    else:
        raise InputError(f"unknown allocation {allocation!r}{did_you_mean(allocation, list(SHARE_RULES) + ['sink'], cutoff=0.5)}; "
                         f"use a mapping region -> share, 'sink' or one of {', '.join(SHARE_RULES)}")
    if w.isnull().any() or (w < 0).any():
        raise InputError(f"{allocation}: missing or negative weights in the forecast for year {year}")
    share = w / w.sum("region")
    return validate_shares(share, regions, f"{allocation} shares")


def _ability_weights(ds: xr.Dataset, year: int, regions: list[str], eta: float) -> xr.DataArray:
    """``(y_r / mean y)^eta`` per (sample, region), y = GDP per capita in ``year`` (int-$ 2011 per person)."""
    if "gdp_per_capita" in ds:
        y = ds["gdp_per_capita"]
    elif "gdp" in ds and "population" in ds:
        y = ds["gdp"] / ds["population"]
    else:
        raise InputError("ability_to_pay needs 'gdp_per_capita' (or 'gdp' and 'population') in the forecast")
    y = y.sel(year=year, region=regions, drop=True)
    if "sample" not in y.dims:
        y = y.expand_dims(sample=ds["sample"].values)
    bad = (~np.isfinite(y) | (y <= 0)).any("sample")
    if bad.any():
        raise InputError(f"ability_to_pay: GDP per capita missing or <= 0 in {year} for region(s) "
                         f"{[str(r) for r in y['region'].values[bad.values]]}")
    return (y / y.mean("region")) ** eta


def _burden(balance: xr.DataArray, weight: xr.DataArray) -> xr.DataArray:
    """Deficits re-split by ``deficit × weight`` with the same total per draw; surpluses unchanged."""
    deficit = balance.clip(min=0)
    weighted = deficit * weight
    wsum = weighted.sum("region")
    with np.errstate(divide="ignore", invalid="ignore"):
        share = xr.where(wsum > 0, weighted / wsum, 0.0)
    return xr.where(balance > 0, share * deficit.sum("region"), balance).transpose("sample", "region")


def compensation(ds, allocation: Any, year: int, *, price_median: float, price_p05: float | None = None,
                 price_p95: float | None = None, random_seed: int | np.random.Generator | None = None,
                 currency: str = "USD", regions=None, reference_year: int | None = None,
                 ability_to_pay: float | None = None) -> xr.Dataset:
    """Compensation balances, payments and flows in ``year``.

    Args:
        ds: a :class:`~forecast.projection.propagate.Forecast` or its Dataset (``co2``; ``population``,
            ``gdp_per_capita`` or ``sink`` as the allocation needs).
        allocation: a mapping region -> share (shares >= 0 summing to one within 1e-9; the listed regions
            form the scheme), a rule name in :data:`SHARE_RULES` (``reference_year`` for
            ``"emissions_share"``), or ``"sink"``.
        year: the compensation year.
        price_median, price_p05, price_p95: carbon price, ``currency`` per t CO2 (see :func:`sample_price`).
        random_seed: seed of the price draws.
        currency: label of the money unit (payments are in million ``currency`` per year).
        regions: the regions in the scheme for rule/sink allocations (default: all forecast regions).
        ability_to_pay: elasticity η >= 0 of the payers' split on GDP per capita (see the module
            docstring); None or 0 = no adjustment.

    Returns:
        Dataset with ``balance`` (sample, region; Mt CO2/yr, positive = deficit), ``payment`` (sample, region;
        million currency/yr, positive = pays), ``price`` (sample), ``flow`` (sample, payer, payee; million
        currency/yr), ``share`` (allocation mode) or ``unmatched`` (sink mode; Mt CO2/yr); with
        ``ability_to_pay`` also ``burden`` (sample, region; Mt CO2/yr) and ``ability_weight``. In sink mode
        the sink is the headline variant (declining CO2 fertilisation), named in ``attrs["sink_variant"]``
        (e.g. ``"cfe=declining"``); the variant is not a coordinate of the outputs.
    """
    ds = as_dataset(ds)
    year = _year(ds, year)
    known = [str(r) for r in ds["region"].values]
    if isinstance(allocation, (Mapping, pd.Series, xr.DataArray)):
        shares = _shares(ds, allocation, year, known, reference_year)
        regions = [str(r) for r in shares["region"].values]
    else:
        if regions is None:
            regions = known
        regions = [str(r) for r in ([regions] if isinstance(regions, str) else regions)]
        unknown = [r for r in regions if r not in known]
        if unknown:
            raise InputError(f"compensation: region(s) not in the forecast: "
                             f"{', '.join(f'{r!r}{did_you_mean(r, known, cutoff=0.5)}' for r in unknown)}")
        if len(regions) < 2:
            raise InputError("compensation needs at least two regions")
        shares = None if allocation == "sink" else _shares(ds, allocation, year, regions, reference_year)
    if not isinstance(currency, str) or not currency:
        raise InputError(f"currency must be a non-empty label, got {currency!r}")
    if ability_to_pay is not None and (isinstance(ability_to_pay, bool)
                                       or not isinstance(ability_to_pay, (int, float, np.integer, np.floating))
                                       or not np.isfinite(ability_to_pay) or ability_to_pay < 0):
        raise InputError(f"ability_to_pay must be a number >= 0 (an elasticity on GDP per capita), got {ability_to_pay!r}")

    co2 = ds["co2"].sel(year=year, region=regions, drop=True).transpose("sample", "region")
    if co2.isnull().any():
        bad = [str(r) for r in co2["region"].values[co2.isnull().any("sample").values]]
        raise InputError(f"compensation: missing emissions in {year} for region(s) {bad}")
    out = xr.Dataset()
    if shares is None:
        if "sink" not in ds:
            raise InputError("allocation='sink' needs a 'sink' variable in the forecast (run with sinks enabled)")
        sink = headline(ds["sink"]).sel(year=year, region=regions, drop=True).transpose("sample", "region")
        # headline() picks the declining-CFE variant with .sel, which leaves ``cfe`` behind as a scalar
        # coordinate (dropped with the others below); the variant used is recorded in the attrs instead
        variant = {str(c): str(sink[c].values) for c in sink.coords if sink[c].ndim == 0}
        if sink.isnull().any():
            bad = [str(r) for r in sink["region"].values[sink.isnull().any("sample").values]]
            raise InputError(f"compensation: no sink in {year} for region(s) {bad}")
        raw = co2 - sink
        deficit = raw.clip(min=0).sum("region")
        surplus = (-raw).clip(min=0).sum("region")
        volume = np.minimum(deficit, surplus)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale_d = xr.where(deficit > 0, volume / deficit, 0.0)
            scale_s = xr.where(surplus > 0, volume / surplus, 0.0)
        balance = xr.where(raw > 0, raw * scale_d, raw * scale_s)
        out["unmatched"] = (raw.sum("region")).assign_attrs(
            units="Mt CO2/yr", long_name="net balance of the group not compensated inside it (deficits - surpluses)")
        out["raw_balance"] = raw.assign_attrs(units="Mt CO2/yr", long_name="emissions - sink before normalisation")
        mode = "sink"
        out.attrs["sink_variant"] = ", ".join(f"{k}={v}" for k, v in variant.items() if k in HEADLINE_VARIANTS) or "none"
    else:
        allocated = shares.sel(region=regions) * co2.sum("region")
        balance = co2 - allocated
        # rounding noise (|b| <= 1e-12 x total) is not a deficit: a region on its allocation pays nothing
        balance = xr.where(abs(balance) <= 1e-12 * co2.sum("region"), 0.0, balance)
        out["share"] = shares.assign_attrs(units="1", long_name="allocation share")
        out["allocation"] = allocated.transpose("sample", "region").assign_attrs(
            units="Mt CO2/yr", long_name="allocated emissions (share x actual total)")
        mode = allocation if isinstance(allocation, str) else "fixed shares"
    balance = balance.transpose("sample", "region")

    n = ds.sizes["sample"]
    price = xr.DataArray(sample_price(n, price_median, price_p05, price_p95, random_seed), dims="sample",
                         coords={"sample": ds["sample"].values})
    if ability_to_pay:
        weight = _ability_weights(ds, year, regions, float(ability_to_pay))
        burden = _burden(balance, weight)
        out["ability_weight"] = weight.transpose("sample", "region").assign_attrs(
            units="1", long_name=f"(GDP per capita / scheme mean)^{ability_to_pay:g}")
        out["burden"] = burden.assign_attrs(units="Mt CO2/yr", long_name="deficit re-split by ability to pay")
    else:
        burden = balance
    payment = price * burden
    pay = payment.clip(min=0).values  # (sample, payer)
    surplus = (-balance).clip(min=0).values  # (sample, payee)
    total = surplus.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(total > 0, surplus / total, 0.0)
    flow = pay[:, :, None] * weight[:, None, :]
    money = f"million {currency}/yr"
    out["co2"] = co2.assign_attrs(units="Mt CO2/yr", long_name=f"emissions in {year}")
    out["balance"] = balance.assign_attrs(units="Mt CO2/yr", long_name="balance (positive = deficit, pays)")
    out["price"] = price.assign_attrs(units=f"{currency} per t CO2", long_name="carbon price")
    out["payment"] = payment.transpose("sample", "region").assign_attrs(
        units=money, long_name="payment (positive = pays, negative = receives)")
    out["flow"] = xr.DataArray(flow, dims=("sample", "payer", "payee"),
                               coords={"sample": ds["sample"].values, "payer": regions, "payee": regions},
                               attrs={"units": money, "long_name": "payment from payer to payee"})
    # only the dimensions stay as coordinates: the forecast's bookkeeping coordinates (is_forecast,
    # co2_observed, last_observed_year, the scalar year and cfe) would otherwise ride along into every output
    # and become stray columns of compensation_table; the year is in the attrs
    out = out.reset_coords(drop=True)
    out.attrs.update(year=year, mode=mode, currency=currency, ability_to_pay=float(ability_to_pay or 0.0),
                     price_median=price_median,
                     price_p05=price_p05 if price_p05 is not None else price_median,
                     price_p95=price_p95 if price_p95 is not None else price_median)
    return out


def _q(da: xr.DataArray, q: float) -> xr.DataArray:
    return da.quantile(q, dim="sample").drop_vars("quantile")


def compensation_table(comp: xr.Dataset) -> pd.DataFrame:
    """Per region: balance mean (Mt CO2/yr), payment mean / q05 / q95 (million currency/yr, positive = pays),
    P(pays) = P(payment > 0), P(receives)."""
    if not isinstance(comp, xr.Dataset) or "payment" not in comp:
        raise InputError("compensation_table expects the Dataset returned by compensation()")
    p = comp["payment"]
    t = xr.Dataset({
        "balance_mean": comp["balance"].mean("sample"),
        "payment_mean": p.mean("sample"),
        "payment_q05": _q(p, 0.05),
        "payment_q95": _q(p, 0.95),
        "p_pays": (p > 0).mean("sample"),
        "p_receives": (p < 0).mean("sample"),
    }).to_dataframe().reset_index()
    t.attrs["units"] = {"balance_mean": "Mt CO2/yr", "payment": comp["payment"].attrs.get("units")}
    return t


def flow_table(comp: xr.Dataset, *, drop_zero: bool = True) -> pd.DataFrame:
    """Long table of flows: payer, payee, mean, q05, q95 (million currency/yr) and P(flow > 0); pairs that
    never carry a flow are dropped when ``drop_zero``. Sorted by mean flow, largest first."""
    if not isinstance(comp, xr.Dataset) or "flow" not in comp:
        raise InputError("flow_table expects the Dataset returned by compensation()")
    f = comp["flow"]
    t = xr.Dataset({"mean": f.mean("sample"), "q05": _q(f, 0.05), "q95": _q(f, 0.95),
                    "p_positive": (f > 0).mean("sample")}).to_dataframe().reset_index()
    if drop_zero:
        t = t.loc[t["p_positive"] > 0]
    t = t.sort_values("mean", ascending=False, kind="stable").reset_index(drop=True)
    t.attrs["units"] = f.attrs.get("units")
    return t
