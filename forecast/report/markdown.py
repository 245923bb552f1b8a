"""Markdown rendering of a study run (the source of both ``report.md`` and ``report.html``)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from forecast.io.jsonable import to_jsonable
from forecast.mdtable import md_table
from forecast.metrics import cfe_tables, is_missing, last_observed_years, peak_by_years, peak_probability
from forecast.report._format import (
    MISSING,
    figure_alt,
    fmt_cell,
    fmt_interval,
    fmt_money,
    fmt_num,
    fmt_pct,
    fmt_year,
    md_code,
    md_escape,
)
from forecast.run.results import RunResult

__all__ = ["render_markdown"]

# Thresholds that make the automatic diagnostic warnings (used only when the sampler left none).
RHAT_WARN = 1.01
ESS_WARN = 400
N_WORST = 5


# --------------------------------------------------------------------------------------------------
# small accessors
# --------------------------------------------------------------------------------------------------


def _horizon(result: RunResult) -> int:
    h = (result.study or {}).get("horizon")
    try:
        return int(h)
    except (TypeError, ValueError):
        return int(np.max(result.forecast["year"].values))


def _focus(result: RunResult) -> list[str]:
    return [str(r) for r in ((result.study or {}).get("focus_regions") or [])]


def _ordered_regions(index: pd.Index, focus: list[str]) -> list[Any]:
    """Focus regions first (study order), then the others in table order."""
    labels = list(index)
    by_str = {str(lab): lab for lab in labels}
    first = [by_str[f] for f in focus if f in by_str]
    return first + [lab for lab in labels if lab not in first]


def _val(df: pd.DataFrame | None, region: Any, col: str) -> Any:
    if df is None or col not in df.columns or region not in df.index:
        return None
    return df.at[region, col]


def _region_label(region: Any, focus: list[str]) -> str:
    name = md_escape(region)
    return f"**{name}**" if str(region) in focus else name


def _value_cell(value: Any) -> str:
    if isinstance(value, Mapping):
        return md_code(json.dumps(to_jsonable(value), ensure_ascii=False))
    if isinstance(value, (list, tuple, set)):
        items = list(value)
        if any(isinstance(v, (Mapping, list, tuple)) for v in items):
            return md_code(json.dumps(to_jsonable(items), ensure_ascii=False))
        shown = ", ".join(md_escape(v) for v in items[:20])
        return (shown + (f", … ({len(items) - 20} more)" if len(items) > 20 else "")) if items else MISSING
    if is_missing(value):
        return MISSING
    return md_escape(value)


def _link(text: str, url: Any) -> str:
    if is_missing(url) or not str(url).strip():
        return text
    url = str(url).strip()
    if re.search(r"[\s<>]", url):
        return text
    return f"[{text}](<{url}>)"


def _rhat(x: Any) -> str:
    return MISSING if is_missing(x) else f"{float(x):.3f}"


def _ess(x: Any) -> str:
    return MISSING if is_missing(x) else f"{float(x):,.0f}"


# --------------------------------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------------------------------


def _summary_paragraph(result: RunResult) -> str:
    study = result.study or {}
    ds = result.forecast
    horizon = _horizon(result)
    n_regions = int(ds.sizes.get("region", 0))
    n_samples = int(ds.sizes.get("sample", 0))
    last_obs = last_observed_years(result)
    first_fc = (min(last_obs.values()) + 1) if last_obs else None
    settings = []
    if study.get("name"):
        settings.append(f"study {md_code(study['name'])}")
    if study.get("seed") is not None:
        settings.append(f"seed {md_escape(study['seed'])}")
    span = f" from {first_fc} to {horizon}" if first_fc else f" up to {horizon}"
    parts = []
    if study.get("description") and str(study["description"]).strip():
        desc = md_escape(study["description"]).rstrip()
        parts.append(desc if desc.endswith((".", "!", "?")) else desc + ".")
    parts += [
        f"This report gives probabilistic forecasts of annual CO₂ emissions for {n_regions} "
        f"region{'s' if n_regions != 1 else ''}{span}, based on {n_samples:,} posterior predictive "
        f"samples" + (f" ({', '.join(settings)})." if settings else ".")
    ]
    # the peak table follows at once: the paragraph says what the numbers are, the table gives them
    warnings = _diag_warnings(result)
    if warnings:
        parts.append(f"⚠ The sampler reported {len(warnings)} warning{'s' if len(warnings) != 1 else ''}; see Sampler diagnostics before relying on these numbers.")
    return " ".join(parts)


def _study_section(result: RunResult) -> str:
    study = result.study or {}
    if not study:
        return "## Study settings\n\n_No study settings recorded._"
    rows = [(md_escape(k), _value_cell(v)) for k, v in _flatten(study)]
    return "## Study settings\n\n" + md_table(["Setting", "Value"], rows)


def _flatten(d: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested settings as dotted keys: {"sampler": {"draws": 1000}} → [("sampler.draws", 1000)]."""
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out += _flatten(v, key + ".")
        else:
            out.append((key, v))
    return out


def _provenance_section(result: RunResult) -> str:
    prov = result.provenance or []
    head = "## Data provenance\n\n"
    if not prov:
        return head + "_No data provenance recorded._"
    rows = []
    for p in prov:
        path = p.get("path")
        file_cell = md_code(str(path).replace("\\", "/").rsplit("/", 1)[-1]) if not is_missing(path) else MISSING
        source = md_escape(p.get("source", "")) or MISSING
        y0, y1 = p.get("year_min"), p.get("year_max")
        rows.append(
            (
                _link(source, p.get("url")),
                file_cell,
                md_code(p["sha256"]) if not is_missing(p.get("sha256")) else MISSING,
                fmt_num(p.get("rows")) if not is_missing(p.get("rows")) else MISSING,
                fmt_interval(y0, y1, fmt_year),
            )
        )
    return head + md_table(["Source", "File", "SHA-256", "Rows", "Years"], rows, ["l", "l", "l", "r", "c"])


def _param(v: Any) -> str:
    if isinstance(v, (float, np.floating)) and not isinstance(v, bool):
        return f"{float(v):.6g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_param(x) for x in v) + "]"
    return str(v)


def _format_params(params: Any) -> str:
    if isinstance(params, Mapping):
        return ", ".join(f"{k}={_param(v)}" for k, v in params.items())
    if isinstance(params, (list, tuple)):
        return ", ".join(_param(v) for v in params)
    return "" if is_missing(params) else str(params)


def _priors_section(result: RunResult) -> str:
    priors = result.priors_used or []
    head = "## Priors\n\n"
    if not priors:
        return head + "_No priors recorded._"
    rows = []
    for p in priors:
        dist = str(p.get("distribution", "") or "")
        params = _format_params(p.get("params"))
        dist_cell = md_escape(f"{dist}({params})" if params else dist) or MISSING
        src = [str(p[k]) for k in ("source", "citation") if not is_missing(p.get(k)) and str(p.get(k)).strip()]
        rows.append(
            (
                md_code(p.get("name", "")),
                dist_cell,
                md_escape(p.get("units", "")) or MISSING,
                md_escape(" — ".join(src)) or MISSING,
            )
        )
    return head + md_table(["Name", "Distribution", "Units", "Source / citation"], rows)


def _diag_warnings(result: RunResult) -> list[str]:
    diag = result.diagnostics
    attrs = dict(getattr(diag, "attrs", {}) or {})
    warnings = attrs.get("warnings") or []
    if isinstance(warnings, str):
        warnings = [warnings]
    warnings = [str(w) for w in warnings if str(w).strip()]
    if warnings or diag is None:
        return warnings
    # The sampler left no warnings: apply the usual thresholds ourselves.
    auto = []
    div = attrs.get("divergences")
    if not is_missing(div) and int(div) > 0:
        auto.append(f"{int(div)} divergent transitions.")
    if "r_hat" in diag.columns:
        rmax = pd.to_numeric(diag["r_hat"], errors="coerce").max()
        if not is_missing(rmax) and rmax > RHAT_WARN:
            auto.append(f"max R-hat {rmax:.3f} > {RHAT_WARN}.")
    for col, label in (("ess_bulk", "bulk"), ("ess_tail", "tail")):
        if col in diag.columns:
            emin = pd.to_numeric(diag[col], errors="coerce").min()
            if not is_missing(emin) and emin < ESS_WARN:
                auto.append(f"min {label} ESS {emin:,.0f} < {ESS_WARN}.")
    return auto


def _worst_parameters(diag: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in ("r_hat", "ess_bulk", "ess_tail") if c in diag.columns]
    if not cols or diag.empty:
        return diag.iloc[0:0]
    d = diag[cols].apply(pd.to_numeric, errors="coerce")
    picks: list[Any] = []
    if "r_hat" in d:
        picks += list(d["r_hat"].sort_values(ascending=False, na_position="last").index[:N_WORST])
    ess_cols = [c for c in ("ess_bulk", "ess_tail") if c in d]
    if ess_cols:
        picks += list(d[ess_cols].min(axis=1).sort_values(na_position="last").index[:N_WORST])
    seen: list[Any] = []
    for p in picks:
        if p not in seen:
            seen.append(p)
    worst = d.loc[seen]
    sort_cols = [c for c in ("r_hat",) if c in worst]
    if sort_cols:
        worst = worst.sort_values("r_hat", ascending=False, na_position="last", kind="stable")
    return worst


def _diagnostics_section(result: RunResult) -> str:
    diag = result.diagnostics
    attrs = dict(getattr(diag, "attrs", {}) or {})
    out = ["## Sampler diagnostics"]
    if diag is None or (diag.empty and not attrs):
        out.append("_No sampler diagnostics recorded._")
        return "\n\n".join(out)

    def _col(name: str, how: str) -> Any:
        if name not in diag.columns:
            return None
        s = pd.to_numeric(diag[name], errors="coerce").dropna()
        return None if s.empty else (s.max() if how == "max" else s.min())

    bullets = [
        f"- Sampler: {md_escape(attrs.get('sampler')) if not is_missing(attrs.get('sampler')) else MISSING}",
        f"- Chains: {fmt_num(attrs.get('chains'))}",
        f"- Draws: {fmt_num(attrs.get('draws'))}",
        f"- Divergences: {fmt_num(attrs.get('divergences'))}",
        f"- Max R-hat: {_rhat(_col('r_hat', 'max'))}",
        f"- Min bulk ESS: {_ess(_col('ess_bulk', 'min'))}",
        f"- Min tail ESS: {_ess(_col('ess_tail', 'min'))}",
    ]
    if not is_missing(attrs.get("seconds")):
        bullets.append(f"- Sampling time: {float(attrs['seconds']):,.1f} s")
    out.append("\n".join(bullets))
    warnings = _diag_warnings(result)
    if warnings:
        block = ["> ⚠ **Warnings**", ">"] + [f"> - ⚠ {md_escape(w)}" for w in warnings]
        out.append("\n".join(block))
    else:
        out.append(
            f"No sampler warnings (R-hat ≤ {RHAT_WARN}, ESS ≥ {ESS_WARN} and no divergences are the usual thresholds)."
        )
    worst = _worst_parameters(diag)
    if not worst.empty:
        rows = [
            (
                md_code(idx),
                _rhat(worst.at[idx, "r_hat"]) if "r_hat" in worst else MISSING,
                _ess(worst.at[idx, "ess_bulk"]) if "ess_bulk" in worst else MISSING,
                _ess(worst.at[idx, "ess_tail"]) if "ess_tail" in worst else MISSING,
            )
            for idx in worst.index
        ]
        out.append(
            "Worst-mixing parameters (highest R-hat, lowest ESS):\n\n"
            + md_table(["Parameter", "R-hat", "Bulk ESS", "Tail ESS"], rows, ["l", "r", "r", "r"])
        )
    return "\n\n".join(out)


def _median_peak_cell(pt: pd.DataFrame, region: Any, horizon: int) -> str:
    """The median peak year, or 'none by <horizon>' when half the samples or more do not peak by then."""
    no_peak = _val(pt, region, "p_no_peak_by_horizon")
    if not is_missing(no_peak) and float(no_peak) >= 0.5:
        return f"none by {horizon}"
    return fmt_year(_val(pt, region, "peak_year_q50"))


def _peak_section(result: RunResult) -> str:
    pt = result.peak_table
    horizon = _horizon(result)
    focus = _focus(result)
    out = ["## Peak year"]
    out.append(
        "Probabilities come first here: the peak-year distribution is often bimodal (already peaked "
        "versus still rising at the horizon), so the median peak year (given for comparison with published "
        "point estimates) can point at a year that almost no sample trajectory actually peaks in."
        + (" Focus regions are in bold and listed first." if focus else "")
    )
    if pt is None or pt.empty:
        out.append("_No peak-year results._")
        return "\n\n".join(out)
    units = str(result.forecast["co2"].attrs.get("units", "Mt CO2/yr")) if "co2" in result.forecast else "Mt CO2/yr"
    by_years = [y for y in peak_by_years(result) if y < horizon]
    headers = [
        "Region",
        "P(already peaked)",
        *(f"P(peak ≤ {y})" for y in by_years),
        f"P(no peak by {horizon})",
        "Peak year, median",
        "Peak year (5–95%)",
        f"Peak level, {md_escape(units)} (5–95%)",
    ]
    rows = []
    for r in _ordered_regions(pt.index, focus):
        rows.append(
            (
                _region_label(r, focus),
                fmt_pct(_val(pt, r, "p_already_peaked")),
                *(fmt_pct(peak_probability(result, r, y)) for y in by_years),
                fmt_pct(_val(pt, r, "p_no_peak_by_horizon")),
                _median_peak_cell(pt, r, horizon),
                fmt_interval(_val(pt, r, "peak_year_q05"), _val(pt, r, "peak_year_q95"), fmt_year),
                fmt_interval(_val(pt, r, "peak_co2_q05"), _val(pt, r, "peak_co2_q95")),
            )
        )
    out.append(md_table(headers, rows, ["l"] + ["r"] * (len(by_years) + 3) + ["c", "c"]))
    return "\n\n".join(out)


def _turning_section(result: RunResult) -> str:
    tp = result.turning_points
    focus = _focus(result)
    kaya = (result.study or {}).get("model", {}).get("model") == "kaya"
    out = ["## Turning points (Kaya model: income at which per-capita emissions stop rising)" if kaya
           else "## EKC turning points"]
    if tp is None or tp.empty:
        out.append("_No environmental Kuznets curve results._")
        return "\n\n".join(out)
    gdp_units = (
        str(result.forecast["gdp_per_capita"].attrs.get("units", "int-$ 2011/person"))
        if "gdp_per_capita" in result.forecast
        else "int-$ 2011/person"
    )
    out.append(
        "P(inverted U) is the share of posterior draws in which emissions per capita first rise and "
        "then fall with GDP per capita; the turning point is the GDP per capita at the top of the "
        f"curve ({md_escape(gdp_units)}), summarised over the draws that have one."
    )
    out.append(_inverted_u_scope_note(tp, kaya))
    headers = ["Region", "P(inverted U)", "Turning point 5%", "Turning point 50%", "Turning point 95%", "Last observed GDP/cap"]
    rows = [
        (
            _region_label(r, focus),
            fmt_pct(_val(tp, r, "p_inverted_u")),
            fmt_money(_val(tp, r, "turning_gdp_pc_q05")),
            fmt_money(_val(tp, r, "turning_gdp_pc_q50")),
            fmt_money(_val(tp, r, "turning_gdp_pc_q95")),
            fmt_money(_val(tp, r, "last_gdp_pc")),
        )
        for r in _ordered_regions(tp.index, focus)
    ]
    out.append(md_table(headers, rows, ["l", "r", "r", "r", "r", "r"]))
    return "\n\n".join(out)


def _inverted_u_scope_note(tp: pd.DataFrame, kaya: bool) -> str:
    """Say whether P(inverted U) is one number for the whole panel (shared curvature, or the Kaya θ < 0)."""
    scope = set(tp.get("p_inverted_u_scope", pd.Series(dtype=object)).dropna())
    if scope != {"global"}:
        return ("P(inverted U) and the turning points are per region (the curvature varies by region)."
                if scope == {"region"} else "")
    why = ("the Kaya model turns only through the shared income term θ (an inverted U when θ < 0)" if kaya
           else "the curvature and the income-dependent drift are shared by all regions (set varying_curvature "
                "= true for a per-region curvature)")
    return (f"**P(inverted U) is one number for the whole panel, repeated in every row**: {why}. The turning "
            "points differ by region through each region's drift and slope, and they assume steady growth of "
            "GDP per capita at the study's turning_point_growth; the EKC comparison table gives the growth-free "
            "curve-only turning point beside the published ones.")


NEUTRALITY_YEAR_TITLE = "Neutrality-year distribution"


def _neutrality_year_table(neutral: pd.DataFrame, constant: pd.DataFrame | None, horizon: int) -> str:
    """Quantiles of the neutrality year over all draws and P(not neutral by the horizon), per region, with
    the declining CFE and with the CFE held constant (tables of :func:`forecast.sinks.neutrality.neutrality_table`)."""
    never = int(neutral.attrs.get("never_value", horizon + 1))
    last = never - 1

    def year(v: Any) -> str:
        if is_missing(v):
            return MISSING
        return f"after {last}" if int(v) >= never else fmt_year(v)

    rows = []
    for region, r in neutral.iterrows():
        views = [("declining", r)]
        if constant is not None and region in constant.index:
            views.append(("constant", constant.loc[region]))
        for label, row in views:
            rows.append([md_escape(region), label] + [year(row.get(f"neutrality_year_{q}")) for q in ("q05", "q50", "q95")]
                        + [fmt_pct(row.get("p_not_neutral_by_horizon"))])
    headers = ["Region", "CFE", "Neutrality year 5%", "Median", "95%", f"P(not neutral by {last})"]
    text = (f"{NEUTRALITY_YEAR_TITLE} (first year from which net emissions stay at or below zero; quantiles over "
            f"all draws, \"after {last}\" = not neutral by the horizon), with the declining CFE and with the CFE "
            "held at its last fitted value:")
    return text + "\n\n" + md_table(headers, rows, ["l", "l", "r", "r", "r", "r"])


def _sinks_section(result: RunResult) -> str:
    sinks = result.sinks or {}
    if not sinks:
        return ""
    out = ["## Carbon sinks and neutrality"]
    cfe = sinks.get("cfe_summary")
    half = sinks.get("half_life")
    joint = sinks.get("land_model") == "joint"
    data = ("the Global Carbon Budget 2025 budget residual (fossil + land-use change − atmospheric growth − ocean "
            "sink) and its 22 vegetation models fitted jointly" if joint
            else "the Global Carbon Budget 2025 land sink (the adjusted mean of its vegetation models)")
    form = (" CO₂ fertilisation raises net primary production, which fills a land pool with a fitted turnover "
            "time, so the sink slows when CO₂ growth slows whatever the fertilisation does (sink kinetics)."
            if sinks.get("form") == "kinetic" else "")
    text = (
        f"A global land-sink model fitted to {data}, against NOAA/Law Dome CO₂, estimates how the CO₂ "
        f"fertilisation effect (CFE) has changed.{form} It scales the ecosystem sequestration rates of each region "
        f"under the CO₂ path `{md_escape(sinks.get('co2_scenario', ''))}`. "
        f"P(CFE declining) = {fmt_pct(sinks.get('p_decline'))}"
    )
    ratio = sinks.get("cfe_ratio")
    if ratio:
        text += f"; ε(2015)/ε(1982) = {ratio[0.5]:.2f} (90%: {ratio[0.05]:.2f}–{ratio[0.95]:.2f})"
    if half:
        text += f"; half-life {half[0.5]:.0f} years (90%: {half[0.05]:.0f}–{half[0.95]:.0f})"
    if sinks.get("p_decline_models") is not None:
        text += f"; in the vegetation models P(declining) = {fmt_pct(sinks['p_decline_models'])}"
    text += (
        ". Published satellite estimate for comparison: about 21% per 100 ppm in 1982 and 12% in 2015, a ratio of "
        "0.57 (Wang S. et al. 2020, Science 370:1295; erratum 2021; contested in two Technical Comments, Science 373, "
        "2021). The sink data identify the *relative* path (the decline); the absolute level leans on the priors "
        "(1982 value, and in the kinetic form the NPP scale and turnover time)."
    )
    out.append(text)
    diag = sinks.get("diagnostics")
    if diag is not None and len(diag):
        line = (f"Land-sink sampler: max R-hat {diag['r_hat'].max():.3f}, min bulk ESS {diag['ess_bulk'].min():.0f}, "
                f"divergences {diag.attrs.get('divergences', 0)}.")
        for warning in diag.attrs.get("warnings", []):
            line += f"\n\n> ⚠ {md_escape(warning)}"
        out.append(line)
    if cfe is not None and not cfe.empty:
        rows = [(str(int(y)), fmt_num(r.get("mean")), fmt_interval(r.get("q05"), r.get("q95"))) for y, r in cfe.iterrows()]
        out.append(md_table(["Year", "CFE, % per 100 ppm (mean)", "90% interval"], rows, ["l", "r", "r"]))
    windows = sinks.get("cfe_windows")
    if windows is not None and len(windows):
        from forecast.sinks.cfe_windows import markdown_table

        out.append("Does the decline depend on the years fitted? Each row refits a land-sink model on one window "
                   "(`carbon-forecast cfe-windows`; *gcb* = the GCB land sink alone, *joint* = budget residual and "
                   "22 vegetation models; *kinetic* separates fertilisation from sink kinetics). "
                   "ε(2015)/ε(1982) = 0.57 is Wang et al.'s ratio.")
        out.append(markdown_table(windows))
    neutral, constant = cfe_tables(sinks)
    if neutral is not None and not neutral.empty:
        cols = [c for c in neutral.columns if c.startswith("p_neutral_by_") and c != "p_neutral_by_horizon"]
        headers = ["Region"] + [f"P(neutral by {c[-4:]})" for c in cols] + ["same, constant CFE" for c in cols[-1:]] + [
            "Net CO₂ at horizon, Mt/yr (90%)"]
        rows = []
        for region, r in neutral.iterrows():
            row = [md_escape(region)] + [fmt_pct(r[c]) for c in cols]
            if constant is not None and region in constant.index:
                row.append(fmt_pct(constant.loc[region, cols[-1]]))
            else:
                row.append("—")
            row.append(f"{fmt_num(r.get('net_at_horizon_mean'))} ({fmt_interval(r.get('net_at_horizon_q05'), r.get('net_at_horizon_q95'))})")
            rows.append(row)
        out.append(
            "Neutrality = net emissions (fossil CO₂ + land-use-change emissions − ecosystem sinks, see the terms table below) at or below zero from that year through "
            "the horizon. Emissions follow the emission forecast above: no new climate policy is assumed."
        )
        out.append(md_table(headers, rows, ["l"] + ["r"] * (len(headers) - 1)))
        out.append(_neutrality_year_table(neutral, constant, _horizon(result)))
    gap = sinks.get("sink_gap")
    if gap is not None and not gap.empty:
        rows = [
            (md_escape(reg), str(int(yr)), fmt_num(r["sink_decline_mean"]), fmt_num(r["sink_constant_mean"]),
             f"{fmt_num(r['gap_mean'])} ({fmt_interval(r['gap_q05'], r['gap_q95'])})")
            for (reg, yr), r in gap.iterrows()
        ]
        out.append("How much a forecast that ignores the CFE decline would overstate the sink (Mt CO₂/yr):")
        out.append(md_table(["Region", "Year", "Sink, declining CFE", "Sink, constant CFE", "Overstatement (90%)"], rows,
                            ["l", "l", "r", "r", "r"]))
    return "\n\n".join(out)


def _emission_terms_section(result: RunResult) -> str:
    """What net CO2 includes and leaves out (:func:`forecast.sinks.neutrality.emission_terms_table`)."""
    terms = (result.sinks or {}).get("emission_terms")
    if terms is None or terms.empty:
        return ""
    rows = [[md_escape(str(v)) for v in row] for row in terms.itertuples(index=False, name=None)]
    return ("### What net CO₂ includes\n\nNet CO₂ = fossil CO₂ + land-use-change emissions − ecosystem sinks "
            "(Mt CO₂/yr); the terms and what is left out:\n\n"
            + md_table(["Term", "Status", "Sign", "Treatment", "Source"], rows, ["l"] * 5))


def _figures_section(figure_paths: Mapping[str, str]) -> str:
    if not figure_paths:
        return ""
    out = ["## Figures"]
    for region, path in figure_paths.items():
        p = str(path).replace("\\", "/")
        target = f"<{p}>" if re.search(r"[\s()]", p) else p
        out.append(f"### {md_escape(region)}\n\n![{md_escape(figure_alt(region, p))}]({target})")
    return "\n\n".join(out)


def _extra_table(name: str, df: pd.DataFrame) -> str:
    head = f"## {md_escape(name)}"
    if df is not None and df.attrs.get("description"):
        head += "\n\n" + md_escape(str(df.attrs["description"]))  # a sentence that introduces the table
    if df is None or df.empty:
        return head + "\n\n_Empty table._"
    frame = df
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None:
        frame = frame.reset_index()
    headers = [md_escape(c) for c in frame.columns]
    align = ["r" if pd.api.types.is_numeric_dtype(frame[c]) else "l" for c in frame.columns]
    names = [str(c) for c in frame.columns]
    formats = [fmt_pct if n.startswith(("p_", "P(")) else fmt_year if "year" in n.lower() else fmt_cell for n in names]
    rows = [[md_escape(fmt(v)) for fmt, v in zip(formats, row)] for row in frame.itertuples(index=False, name=None)]
    return head + "\n\n" + md_table(headers, rows, align)


_HOW_TO_READ = """## How to read this

- Every number is a summary of posterior predictive samples: a probability is the share of
  simulated emission trajectories with that property, not a statement of certainty. "<1%" and
  ">99%" mean that (almost) no sample disagrees; with a finite number of samples 0% and 100% are
  never claimed.
- The peak year of a trajectory is the year of its highest centred 5-year mean, so a single
  exceptional year does not decide it. "Already peaked" means that year is an observed one; "no peak
  by the horizon" means the 5-year mean is still at its highest in the last year it can be computed,
  two years before the horizon.
- Emissions are published a year or so before GDP (Our World in Data: CO2 to 2023, GDP to 2022). The
  model is fitted on the years with both, and the later observed emissions are then taken as known in
  every trajectory (table "Emissions observed after the last GDP year"); they count as observed for
  "already peaked".
- The fan charts show the median forecast with 50% (dark) and 90% (light) bands; the dotted line
  marks the last observed year. The side panel shows the whole peak-year distribution.
- Forecasts are conditional on the model, the priors and the data listed above; check the sampler
  diagnostics first — warnings there mean the numbers may be unreliable."""


# --------------------------------------------------------------------------------------------------
# public
# --------------------------------------------------------------------------------------------------


def render_markdown(result: RunResult, figure_paths: Mapping[str, str] | None = None) -> str:
    """The full report as Markdown (CommonMark + pipe tables).

    ``figure_paths`` maps region → image path relative to the report (as returned by
    :func:`forecast.report.figures.save_figures`).
    """
    study = result.study or {}
    title = str(study.get("title") or study.get("name") or "Carbon forecast report")
    tables = dict(result.tables or {})

    def take(names) -> list[str]:
        return [_extra_table(str(df.attrs.get("title", n)), df) for n in names if (df := tables.pop(n, None)) is not None]

    # the answer first (peak probabilities, targets, fan charts), then how far to trust it (diagnostics,
    # why this model), then the rest of the results, and method, data and settings last
    tables.pop("effort_curve", None)  # drawn as the effort figure, too long to read as a table
    answer = [_summary_paragraph(result), _peak_section(result),
              *take(["peak_by_group", "targets", "effort", "scenarios", "policy_scenarios", "backtest", "peak_check"]),
              _figures_section(figure_paths or {}), _sinks_section(result), _emission_terms_section(result)]
    trust = [_diagnostics_section(result), *take(["uncertainties", "model_choice", "measurement_error"]),
             *take([n for n in list(tables) if n.startswith("diagnostics__")]),
             *take(["prior_check", *[n for n in list(tables) if n.startswith("prior_check__")]])]
    results = [_turning_section(result), *take(list(tables))]
    appendix = ["## Appendix: method, data and settings\n\nHow to read the numbers, the priors, the data files "
                "and every setting of this run.", _HOW_TO_READ, _priors_section(result),
                _provenance_section(result), _study_section(result)]
    sections = [f"# {md_escape(title)}", *answer, *trust, *results, *appendix]
    return "\n\n".join(s for s in sections if s) + "\n"
