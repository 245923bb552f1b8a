"""Fan charts of total CO2 emissions with the peak-year distribution.

Figures are built with :class:`matplotlib.figure.Figure` and the Agg canvas directly, never through
``pyplot``: no display is needed, no global backend is switched, and nothing is kept alive in
pyplot's figure registry after saving.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from forecast.errors import InputError
from forecast.metrics import cfe_tables, peak_probability
from forecast.report._format import fmt_pct, slugify
from forecast.run.results import RunResult

__all__ = ["capacity_chart", "compensation_chart", "effort_chart", "fan_chart", "figure_regions", "peak_year_histogram",
           "save_figures", "scenario_chart"]

FIGURE_DIR = "figures"
_BAND_COLOR = "#1f77b4"
_PEAKED_COLOR = "#7f7f7f"
_FUTURE_COLOR = "#1f77b4"
_NOPEAK_COLOR = "#d62728"


def _region_key(result: RunResult, region: Any) -> Any:
    """The coordinate label in ``result.forecast`` matching ``region`` (compared as strings)."""
    labels = list(result.forecast["region"].values)
    for lab in labels:
        if lab == region or str(lab) == str(region):
            return lab
    raise InputError(f"Region {region!r} is not in the forecast (regions: {[str(x) for x in labels]}).")


def _last_observed_year(result: RunResult, region: Any) -> int | None:
    ds = result.forecast
    if "last_observed_year" in ds.coords and "region" in ds["last_observed_year"].dims:
        y = ds["last_observed_year"].sel(region=region).values
        if np.isfinite(float(y)):
            return int(y)
    if "is_forecast" in ds.coords:
        hist = ds["year"].values[~np.asarray(ds["is_forecast"].values, dtype=bool)]
        if hist.size:
            return int(hist.max())
    return None


def _peak_samples(result: RunResult, region: Any) -> np.ndarray:
    if result.peak_year is None or "region" not in result.peak_year.dims:
        return np.array([], dtype=float)
    try:
        da = result.peak_year.sel(region=region)
    except KeyError:
        return np.array([], dtype=float)
    vals = np.asarray(da.values, dtype=float).reshape(-1)
    return vals[np.isfinite(vals)]


def peak_year_histogram(result: RunResult, region: Any, ax: Axes, *, compact: bool = False) -> Axes:
    """Histogram of ``peak_year`` for ``region`` (share of samples per year).

    Bars at or before the last observed year ("already peaked") are grey, the final horizon year
    ("no peak by horizon": emissions still highest at the end) is red, everything else blue.
    """
    region = _region_key(result, region)
    peaks = _peak_samples(result, region)
    last_obs = _last_observed_year(result, region)
    horizon = int(np.max(result.forecast["year"].values))
    ax.set_title("Peak-year distribution", fontsize=8 if compact else 9)
    if not compact:
        ax.set_xlabel("peak year", fontsize=8)
        ax.set_ylabel("share of samples", fontsize=8)
    ax.tick_params(labelsize=6 if compact else 7)
    if peaks.size == 0:
        ax.text(0.5, 0.5, "no peak-year samples", ha="center", va="center", transform=ax.transAxes, fontsize=8)
        return ax
    years = np.round(peaks).astype(int)
    lo, hi = int(years.min()), int(years.max())
    counts = np.bincount(years - lo, minlength=hi - lo + 1)
    share = counts / years.size
    xs = np.arange(lo, hi + 1)
    colors = []
    for x in xs:
        if last_obs is not None and x <= last_obs:
            colors.append(_PEAKED_COLOR)
        elif x >= horizon:
            colors.append(_NOPEAK_COLOR)
        else:
            colors.append(_FUTURE_COLOR)
    ax.bar(xs, share, width=0.9, color=colors, edgecolor="none")
    ax.yaxis.set_major_formatter(lambda v, _pos: f"{v * 100:.0f}%" if -1e-9 <= v <= 1 + 1e-9 else "")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    handles = []
    if last_obs is not None:
        ax.axvline(last_obs + 0.5, color="black", linestyle=":", linewidth=1)
        p_done = float(np.mean(years <= last_obs))
        handles.append(Patch(color=_PEAKED_COLOR, label=f"already peaked: {fmt_pct(p_done)}"))
        # Make the "already peaked" mass visible even when it is spread over many history years.
        if p_done > 0:
            ax.text(
                0.02, 0.97, f"peaked\n{fmt_pct(p_done)}", transform=ax.transAxes, ha="left", va="top",
                fontsize=6 if compact else 8, color="black",
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "#eeeeee", "edgecolor": _PEAKED_COLOR},
            )
    handles.append(Patch(color=_FUTURE_COLOR, label="peak within horizon"))
    p_none = float(np.mean(years >= horizon))
    handles.append(Patch(color=_NOPEAK_COLOR, label=f"no peak by {horizon}: {fmt_pct(p_none)}"))
    if not compact:
        ax.legend(handles=handles, fontsize=6.5, loc="upper right", frameon=False)
    ax.set_ylim(0, max(share.max() * 1.45, 0.05))
    ax.set_xlim(lo - 1, max(hi, horizon) + 1)
    return ax


def fan_chart(result: RunResult, region: Any, ax: Axes | None = None, *, peak_ax: Axes | None = None) -> Axes:
    """Fan chart of total ``co2`` for ``region``; returns the main Axes (``ax.figure`` is the figure).

    Observed emissions (black), forecast median and shaded 50 % / 90 % bands over the horizon, a
    dotted vertical line at the last observed year, and the title with P(peak ≤ 2030). The
    peak-year distribution goes to ``peak_ax`` if given; with ``ax=None`` a new two-panel figure is
    created; with only ``ax`` given it is drawn as an inset.
    """
    region = _region_key(result, region)
    ds = result.forecast
    if "co2" not in ds:
        raise InputError("The forecast dataset has no 'co2' variable; cannot draw a fan chart.")
    inset = False
    if ax is None:
        fig = Figure(figsize=(10, 4.2), dpi=110, layout="constrained")
        FigureCanvasAgg(fig)
        gs = fig.add_gridspec(1, 2, width_ratios=[2.3, 1])
        ax = fig.add_subplot(gs[0, 0])
        peak_ax = fig.add_subplot(gs[0, 1])
    elif peak_ax is None:
        peak_ax = ax.inset_axes([0.07, 0.56, 0.32, 0.36])
        inset = True

    da = ds["co2"].sel(region=region).transpose("sample", "year")
    years = np.asarray(da["year"].values, dtype=int)
    values = np.asarray(da.values, dtype=float)
    units = str(ds["co2"].attrs.get("units", "Mt CO2/yr"))
    last_obs = _last_observed_year(result, region)
    if last_obs is None:
        last_obs = int(years.max())
    hist = years <= last_obs
    fut = years >= last_obs  # include the last observation so the fan connects to the line

    top = 0.0
    if hist.any():
        observed = values[0, hist]
        if np.isfinite(observed).any():
            top = float(np.nanmax(observed))
        ax.plot(years[hist], observed, color="black", linewidth=1.6, label="observed")
    if (years > last_obs).any():
        with np.errstate(all="ignore"):
            q = np.nanquantile(values[:, fut], [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
        yf = years[fut]
        if np.isfinite(q[4]).any():
            top = max(top, float(np.nanmax(q[4])))
        ax.fill_between(yf, q[0], q[4], color=_BAND_COLOR, alpha=0.18, linewidth=0, label="90% band")
        ax.fill_between(yf, q[1], q[3], color=_BAND_COLOR, alpha=0.38, linewidth=0, label="50% band")
        ax.plot(yf, q[2], color=_BAND_COLOR, linewidth=1.8, label="median forecast")
    ax.axvline(last_obs, color="black", linestyle=":", linewidth=1, label=f"last observed ({last_obs})")
    p2030 = peak_probability(result, region, 2030)
    ax.set_title(f"{region}: total CO₂ emissions — P(peak ≤ 2030): {fmt_pct(p2030)}", fontsize=11)
    ax.set_xlabel("year")
    ax.set_ylabel(f"CO₂ emissions ({units})")
    ax.set_xlim(years.min(), years.max())
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(lambda v, _pos: f"{v:,.10g}")
    if inset:
        # Leave head-room above the data for the inset panel.
        ax.set_ylim(0, max(top, 1e-9) * 1.7)
    ax.grid(True, alpha=0.3, linewidth=0.5)
    ax.legend(fontsize=8, loc="upper right" if inset else "best")
    peak_year_histogram(result, region, peak_ax, compact=inset)
    return ax


def figure_regions(result: RunResult) -> list[Any]:
    """Regions that get a figure: ``study['focus_regions']`` present in the forecast, in that order.

    If the study names no focus regions, every region gets one.
    """
    labels = list(result.forecast["region"].values)
    focus = list((result.study or {}).get("focus_regions") or [])
    if not focus:
        return labels
    by_str = {str(lab): lab for lab in labels}
    out = []
    for r in focus:
        lab = by_str.get(str(r))
        if lab is not None and lab not in out:
            out.append(lab)
    return out


def net_chart(result: RunResult, region: Any) -> Axes:
    """Emissions, ecosystem sinks (with and without the CFE decline) and net emissions, 50/90% bands."""
    ds = result.forecast
    fig = Figure(figsize=(10, 4.2), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    future = ds.sel(year=ds["is_forecast"], region=region)
    years = np.asarray(future["year"].values, dtype=int)
    series = [(future["co2"], "emissions", "tab:gray", False),
              (future["sink"].sel(cfe="declining"), "sink (declining CFE)", "tab:green", False),
              (future["sink"].sel(cfe="constant"), "sink (constant CFE)", "tab:olive", True),
              (future["net_co2"].sel(cfe="declining"), "net emissions", "tab:blue", False)]
    for da, label, color, dashed in series:
        values = np.asarray(da.transpose("sample", "year").values, dtype=float)
        q05, q25, q50, q75, q95 = np.nanquantile(values, [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
        ax.plot(years, q50, color=color, lw=2, ls="--" if dashed else "-", label=f"{label} (median)")
        if not dashed:
            ax.fill_between(years, q05, q95, color=color, alpha=0.15, lw=0)
            ax.fill_between(years, q25, q75, color=color, alpha=0.3, lw=0)
    ax.axhline(0, color="black", lw=0.8)
    p60 = None
    neutral = cfe_tables(result.sinks)[0]
    if neutral is not None and region in neutral.index:
        cols = [c for c in neutral.columns if c.startswith("p_neutral_by_") and c != "p_neutral_by_horizon"]
        if cols:
            p60 = (cols[-1].removeprefix("p_neutral_by_"), float(neutral.loc[region, cols[-1]]))
    title = f"{region}: emissions, ecosystem sinks and net CO₂ (Mt CO₂/yr)"
    if p60:
        title += f" — P(neutral by {p60[0]}): {fmt_pct(p60[1])}"
    ax.set_title(title)
    ax.set_xlabel("year")
    ax.set_ylabel("Mt CO₂/yr")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    return ax


def group_chart(result: RunResult, groups: dict[str, str]) -> Axes:
    """P(already peaked) and P(peak by 2030) per region, regions grouped (e.g. east / central / west)."""
    table = result.peak_table
    known = ["east", "central", "west"]  # NBS belt order; other group names follow in first-seen order
    order = {g: i for i, g in enumerate(dict.fromkeys([g for g in known if g in groups.values()] + list(groups.values())))}
    regions = sorted((r for r in table.index if str(r) in groups), key=lambda r: (order[groups[str(r)]], str(r)))
    fig = Figure(figsize=(10, 0.28 * len(regions) + 1.2), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    y = np.arange(len(regions))[::-1]
    colors = {g: c for g, c in zip(order, ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:red"))}
    by2030 = "p_peak_by_2030" if "p_peak_by_2030" in table.columns else None
    if by2030:
        ax.barh(y, table.loc[regions, by2030], color=[colors[groups[str(r)]] for r in regions], alpha=0.45,
                label="P(peak by 2030)")
    ax.barh(y, table.loc[regions, "p_already_peaked"], color=[colors[groups[str(r)]] for r in regions],
            label="P(already peaked)")
    ax.set_yticks(y, [f"{r} ({groups[str(r)]})" for r in regions], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability")
    ax.axvline(0.5, color="black", lw=0.6, ls=":")
    ax.set_title("Peak probabilities by region group (dark: already peaked; light: peak by 2030)")
    ax.grid(axis="x", alpha=0.3)
    return ax


_GROUP_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:red")


def _grouped(regions: list[Any], groups: dict[str, str] | None) -> tuple[list[Any], dict[str, str], dict[str, str]]:
    """Regions sorted by group (NBS belt order east / central / west first) then name, the group of each
    region (one group ``"all"`` without ``groups``) and a colour per group."""
    groups = {str(r): groups[str(r)] for r in regions if groups and str(r) in groups} or {str(r): "all" for r in regions}
    known = ["east", "central", "west"]
    order = list(dict.fromkeys([g for g in known if g in groups.values()] + list(groups.values())))
    rank = {g: i for i, g in enumerate(order)}
    kept = sorted((r for r in regions if str(r) in groups), key=lambda r: (rank[groups[str(r)]], str(r)))
    colors = {g: _GROUP_COLORS[i % len(_GROUP_COLORS)] for i, g in enumerate(order)}
    return kept, groups, colors


def _group_legend(ax: Axes, colors: dict[str, str]) -> None:
    if len(colors) > 1:
        ax.legend(handles=[Patch(color=c, label=g) for g, c in colors.items()], fontsize=7, loc="lower right",
                  frameon=False)


def capacity_variables(result: RunResult) -> dict[str, str]:
    """``{cap label: variable}`` for the cap draws in the forecast (``cap__<label>``, written by capacity runs)."""
    return {str(v).removeprefix("cap__"): str(v) for v in result.forecast.data_vars if str(v).startswith("cap__")}


def capacity_chart(result: RunResult, groups: dict[str, str] | None = None, years: list[int] | None = None) -> Axes:
    """P(overload) = P(projected emissions > cap) per region under every cap of the run, regions grouped
    and coloured by group (e.g. east / central / west); one panel per cap, one marker per year.

    ``years`` default: 2030 and the horizon, where the cap is defined (else the cap's last year).
    """
    ds = result.forecast
    caps = capacity_variables(result)
    if not caps:
        raise InputError("the forecast has no cap draws (cap__<label>); run a study with [capacity] enabled")
    regions, groups, colors = _grouped(list(ds["region"].values), groups)
    fig = Figure(figsize=(5 * len(caps) + 1, 0.28 * len(regions) + 1.6), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(caps), sharey=True, squeeze=False)[0]
    y = np.arange(len(regions))[::-1]
    horizon = int(ds["year"].max())
    for ax, (label, var) in zip(axes, caps.items()):
        cap = ds[var].sel(region=regions)
        defined = [int(t) for t in cap["year"].values if bool(cap.sel(year=t).notnull().any())]
        wanted = [t for t in (years or (2030, horizon)) if t in defined] or defined[-1:]
        marks = []
        for t, marker in zip(wanted, ("o", "s", "^", "D")):
            co2, c = ds["co2"].sel(region=regions, year=t), cap.sel(year=t)
            p = (co2 > c).where(co2.notnull() & c.notnull()).mean("sample").values
            ax.scatter(p, y, c=[colors[groups[str(r)]] for r in regions], marker=marker, s=28,
                       edgecolors="black", linewidths=0.4, zorder=3)
            marks.append(Line2D([], [], color="none", marker=marker, markerfacecolor="lightgrey",
                                markeredgecolor="black", label=str(t)))
        ax.set_xlim(-0.03, 1.03)
        ax.axvline(0.5, color="black", lw=0.6, ls=":")
        ax.set_xlabel("P(overload) = P(emissions > cap)")
        ax.set_title(f"cap '{label}'", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.add_artist(ax.legend(handles=marks, title="year", fontsize=7, title_fontsize=7, loc="upper right",
                                frameon=False))
        _group_legend(ax, colors)
    axes[0].set_yticks(y, [f"{r} ({groups[str(r)]})" for r in regions], fontsize=8)
    fig.suptitle("Carrying capacity: probability that emissions exceed the cap, by region group")
    return axes[0]


def compensation_chart(result: RunResult, groups: dict[str, str] | None = None) -> Axes:
    """Compensation payment per region (``compensation_payment``): mean and 90 % interval over the draws,
    coloured by region group; positive = pays, negative = receives."""
    ds = result.forecast
    if "compensation_payment" not in ds:
        raise InputError("the forecast has no 'compensation_payment'; run a study with [compensation] enabled")
    pay = ds["compensation_payment"]
    year = next((int(t) for t in pay["year"].values if bool(pay.sel(year=t).notnull().any())), None)
    if year is None:
        raise InputError("compensation_payment has no values")
    in_scheme = [r for r in pay["region"].values if bool(pay.sel(region=r, year=year).notnull().any())]
    regions, groups, colors = _grouped(in_scheme, groups)
    values = np.asarray(pay.sel(year=year, region=regions).transpose("sample", "region").values, dtype=float)
    mean = np.nanmean(values, axis=0)
    q05, q95 = np.nanquantile(values, [0.05, 0.95], axis=0)
    fig = Figure(figsize=(10, 0.28 * len(regions) + 1.4), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    y = np.arange(len(regions))[::-1]
    cols = [colors[groups[str(r)]] for r in regions]
    ax.hlines(y, q05, q95, colors=cols, lw=2.5, alpha=0.55)
    ax.scatter(mean, y, c=cols, s=26, edgecolors="black", linewidths=0.4, zorder=3)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, [f"{r} ({groups[str(r)]})" for r in regions], fontsize=8)
    ax.set_xlabel(f"payment in {year} ({pay.attrs.get('units', '')}; positive = pays, negative = receives)")
    ax.set_title(f"Horizontal compensation in {year}: mean payment (dot) and 90% interval (bar), by region group")
    ax.grid(axis="x", alpha=0.3)
    _group_legend(ax, colors)
    return ax


def effort_chart(result: RunResult) -> Axes:
    """P(target met) against the extra annual decline of carbon intensity (% per year), one line per
    (target, region), from the ``effort_curve`` table (:func:`forecast.policy.effort.effort_curve`); dotted
    lines at the probabilities of the ``effort`` table."""
    curves = result.tables["effort_curve"]
    curves = curves[curves["lever"] == "decline"]
    fig = Figure(figsize=(8, 4.5), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for (target, region), rows in curves.groupby(["target", "region"], sort=False):
        ax.step(rows["extra_decline_pct"], rows["p_met"], where="post", lw=1.8, label=f"{region}: {target}")
    effort = result.tables.get("effort")
    for p in sorted(set(effort["probability"])) if effort is not None else []:
        ax.axhline(p, color="black", lw=0.6, ls=":")
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("extra decline of carbon intensity from the first forecast year (% per year)")
    ax.set_ylabel("P(target met)")
    ax.set_title("Required effort: probability of meeting each target against the extra decline")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return ax


def scenario_chart(result: RunResult, regions: list[Any] | None = None, *, max_regions: int = 4) -> Axes:
    """Emissions under every scenario of the run's ``scenario`` axis, one panel per region (the figure
    regions, at most ``max_regions``): observed emissions, then per scenario the forecast median (line) and
    90 % band (shaded), with P(peak ≤ 2030) of each scenario in the legend. Returns the first panel."""
    scen = result.scenarios
    if scen is None or "co2" not in scen or "scenario" not in scen["co2"].dims:
        raise InputError("The run has no scenario axis; a scenario chart needs [scenario] compare or [policy.<name>].")
    regions = [_region_key(result, r) for r in (regions or figure_regions(result))][:max_regions]
    names = [str(s) for s in scen["scenario"].values]
    fig = Figure(figsize=(5.2 * min(len(regions), 2), 3.8 * ((len(regions) + 1) // 2)), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots((len(regions) + 1) // 2, min(len(regions), 2), squeeze=False).ravel()
    colors = [f"C{i}" for i in range(len(names))]
    for ax, region in zip(axes, regions):
        last_obs = _last_observed_year(result, region)
        own = result.forecast["co2"].sel(region=region).transpose("sample", "year")
        years = np.asarray(own["year"].values, dtype=int)
        if last_obs is not None:
            hist = years <= last_obs
            ax.plot(years[hist], own.values[0, hist], color="black", lw=1.5, label="observed")
        for name, color in zip(names, colors):
            da = scen["co2"].sel(scenario=name, region=region).transpose("sample", "year")
            yrs = np.asarray(da["year"].values, dtype=int)
            fut = yrs >= (last_obs if last_obs is not None else yrs.min())
            with np.errstate(all="ignore"):
                q = np.nanquantile(da.values[:, fut], [0.05, 0.5, 0.95], axis=0)
            p = _scenario_peak_probability(scen, name, region, 2030)
            ax.fill_between(yrs[fut], q[0], q[2], color=color, alpha=0.15, lw=0)
            ax.plot(yrs[fut], q[1], color=color, lw=1.6, label=f"{name}: P(peak ≤ 2030) {fmt_pct(p)}")
        ax.set_title(f"{region}: CO₂ emissions by scenario (median, 90% band)", fontsize=10)
        ax.set_ylabel(f"CO₂ ({result.forecast['co2'].attrs.get('units', 'Mt CO2/yr')})")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3, lw=0.5)
        ax.legend(fontsize=7, loc="best")
    for ax in axes[len(regions):]:
        ax.set_visible(False)
    return axes[0]


def _scenario_peak_probability(scen, name: str, region: Any, year: int) -> float:
    """P(peak year ≤ ``year``) of one scenario, from the axis's ``peak_year`` draws (NaN without them)."""
    if "peak_year" not in scen:
        return float("nan")
    draws = scen["peak_year"].sel(scenario=name, region=region).values
    return float(np.mean(draws <= year))


def _save(ax: Axes, out_dir: Path, rel: str, dpi: int) -> str:
    """Write the figure of ``ax`` to ``out_dir / rel`` and free it; returns ``rel``."""
    try:
        ax.figure.savefig(out_dir / rel, dpi=dpi, metadata={"Software": None})
    finally:
        ax.figure.clear()
    return rel


def save_figures(result: RunResult, out_dir: str | os.PathLike[str], dpi: int = 110) -> dict[str, str]:
    """Write ``figures/fan_<slug>.png`` per figure region; return ``{region: relative POSIX path}``."""
    out_dir = Path(out_dir)
    fig_dir = out_dir / FIGURE_DIR
    fig_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, str] = {}
    used: set[str] = set()
    for region in figure_regions(result):
        slug = slugify(region)
        base, n = slug, 2
        while slug in used:
            slug, n = f"{base}_{n}", n + 1
        used.add(slug)
        ax = fan_chart(result, region)
        fig = ax.figure
        rel = f"{FIGURE_DIR}/fan_{slug}.png"
        try:
            fig.savefig(out_dir / rel, dpi=dpi, metadata={"Software": None})
        finally:
            fig.clear()
            del fig, ax
        paths[str(region)] = rel
    groups = (result.study or {}).get("region_groups")
    if groups:
        ax = group_chart(result, groups)
        rel = f"{FIGURE_DIR}/peak_by_group.png"
        ax.figure.savefig(out_dir / rel, dpi=dpi, metadata={"Software": None})
        ax.figure.clear()
        paths = {"Peak probabilities by region group": rel, **paths}
    backtest = (result.tables or {}).get("backtest")
    source = backtest.attrs.get("reliability_png") if backtest is not None else None
    if source and Path(source).is_file():
        import shutil

        rel = f"{FIGURE_DIR}/backtest_reliability.png"
        shutil.copyfile(source, out_dir / rel)  # drawn by the backtest itself: the report shows that very figure
        paths["Backtest: did past peak probabilities come true? (reliability)"] = rel
    shown = {str(r) for r in figure_regions(result)}  # the focus regions: 30 provinces' charts would bury the report
    for region in [r for r in (result.sinks or {}).get("regions", []) if str(r) in shown]:
        paths[f"{region}: emissions, sinks and net"] = _save(net_chart(result, region), out_dir,
                                                              f"{FIGURE_DIR}/net_{slugify(region)}.png", dpi)
    land = (result.sinks or {}).get("model")
    if land is not None and getattr(land, "idata", None) is not None:
        from forecast.sinks.cfe_windows import prior_posterior_figure

        rel = f"{FIGURE_DIR}/land_sink_prior_posterior.png"
        prior_posterior_figure(land, out_dir / rel, random_seed=0)
        paths["Land sink: what the data add to the priors (prior vs posterior)"] = rel
    scen = getattr(result, "scenarios", None)
    if scen is not None and "co2" in scen and "scenario" in scen["co2"].dims and figure_regions(result):
        paths["Scenarios: emissions under each scenario, median and 90% band"] = _save(
            scenario_chart(result), out_dir, f"{FIGURE_DIR}/scenarios.png", dpi)
    curves = (result.tables or {}).get("effort_curve")
    if curves is not None and (curves["lever"] == "decline").any():
        paths["Required effort: P(target met) against the extra intensity decline"] = _save(
            effort_chart(result), out_dir, f"{FIGURE_DIR}/effort.png", dpi)
    for name, draw, key in (("capacity_by_group", capacity_chart, "Carrying capacity: P(overload) by region group"),
                            ("compensation_by_group", compensation_chart, "Compensation payments by region group")):
        if draw is capacity_chart and not capacity_variables(result):
            continue
        if draw is compensation_chart and "compensation_payment" not in result.forecast:
            continue
        paths[key] = _save(draw(result, groups), out_dir, f"{FIGURE_DIR}/{name}.png", dpi)
    return paths
