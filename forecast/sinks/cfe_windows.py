"""Does the land-sink data identify a decline of the CO2 fertilisation effect, and on which window?

:func:`window_table` refits the land-sink models on several windows (by default the satellite study's
1982-2015, 1959-2014 and 1959-2024) in three variants and sets the fitted decline beside the one Wang S. et
al. (2020, Science 370:1295) report, about 21 -> 12 % per 100 ppm from 1982 to 2015 (ratio 0.57):

* ``gcb/proportional``: :class:`~forecast.models.sinks.GlobalLandSinkModel` on the GCB land sink (the
  adjusted DGVM mean), ``S = k eps(t) (C - C_0)/100``;
* ``joint/proportional`` and ``joint/kinetic``: :class:`~forecast.models.sinks_joint.JointLandSinkModel` on
  the budget residual and the 22 DGVMs, without and with sink kinetics.

``eps(2015)/eps(1982) = exp(-33 lam)`` for the exponential path, whatever the window. The table is written
by ``carbon-forecast cfe-windows`` (CSV, Markdown and provenance with seed, data hashes and version), and
:func:`prior_posterior_table` / :func:`prior_posterior_figure` show what the data add to the priors.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecast.errors import InputError, SamplerWarning

WINDOWS: tuple[tuple[int, int], ...] = ((1982, 2015), (1959, 2014), (1959, 2024))
VARIANTS: tuple[str, ...] = ("gcb/proportional", "joint/proportional", "joint/kinetic")
WANG2020_RATIO = 12.0 / 21.0  # eps(2015)/eps(1982), Wang S. et al. 2020 (priors/sinks.toml: wang2020_comments)
RATIO_YEARS = (1982, 2015)


def make_model(variant: str, decline: str = "exponential", priors: dict[str, Any] | None = None):
    """The land-sink model of a ``data/form`` variant (see the module docstring)."""
    from forecast.models.sinks import GlobalLandSinkModel
    from forecast.models.sinks_joint import JointLandSinkModel

    if variant not in VARIANTS:
        raise InputError(f"unknown land-sink variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    data, form = variant.split("/")
    if data == "gcb":
        return GlobalLandSinkModel(priors, decline=decline)
    return JointLandSinkModel(priors, form=form, decline=decline)


def _interval(da, probs=(0.05, 0.5, 0.95)) -> list[float]:
    return [float(v) for v in np.quantile(np.asarray(da).ravel(), probs)]


def window_row(model, window: tuple[int, int], variant: str) -> dict[str, Any]:
    """One table row: the fitted decline on ``window`` against Wang et al. (2020)."""
    lam = _interval(model.decline_rate())
    ratio = _interval(model.cfe_ratio(RATIO_YEARS[1], RATIO_YEARS[0]))
    eps = model.cfe_summary(years=list(RATIO_YEARS))
    diag = model.diagnostics
    row = {
        "window": f"{window[0]}-{window[1]}", "variant": variant, "p_decline": model.p_decline(),
        "lam_q05": lam[0], "lam_q50": lam[1], "lam_q95": lam[2],
        "ratio_q05": ratio[0], "ratio_q50": ratio[1], "ratio_q95": ratio[2],
        "wang2020_ratio": WANG2020_RATIO, "wang2020_inside": bool(ratio[0] <= WANG2020_RATIO <= ratio[2]),
        "eps_1982_q50": float(eps.loc[RATIO_YEARS[0], "q50"]), "eps_2015_q50": float(eps.loc[RATIO_YEARS[1], "q50"]),
        "p_decline_models": np.nan, "ratio_models_q50": np.nan,
        "max_r_hat": float(diag.table["r_hat"].max()), "min_ess_bulk": float(diag.table["ess_bulk"].min()),
        "divergences": int(diag.divergences),
    }
    post = model.idata.posterior
    if "lam_models" in post:
        lam_models = post["lam_models"].values.ravel()
        row["p_decline_models"] = float((lam_models > 0).mean())
        row["ratio_models_q50"] = float(np.median(np.exp(-(RATIO_YEARS[1] - RATIO_YEARS[0]) * lam_models)))
    return row


def fit_windows(windows: Iterable[tuple[int, int]] = WINDOWS, variants: Iterable[str] = VARIANTS, *,
                data_dir=None, seed: int = 20261202, draws: int = 1000, tune: int = 1000,
                progress=None) -> dict[tuple[tuple[int, int], str], Any]:
    """Refit every variant on every window: ``{(window, variant): fitted model}``.

    Sampler warnings are not printed here but kept in each model's ``diagnostics`` (and in the table of
    :func:`window_table`). ``progress``: optional callable given a line of text per fit."""
    windows = [tuple(int(y) for y in w) for w in windows]
    variants = list(variants)
    for w in windows:
        if len(w) != 2 or w[0] >= w[1] or w[1] - w[0] < 9:
            raise InputError(f"a window is (first, last) with at least 10 years, got {w}")
        if w[0] < 1959 or w[1] > 2024:
            raise InputError(f"window {w[0]}-{w[1]}: the budget residual and the DGVMs cover 1959-2024")
    for variant in variants:
        make_model(variant)  # unknown variants fail before any sampling
    fits = {}
    for i, window in enumerate(windows):
        for j, variant in enumerate(variants):
            model = make_model(variant)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SamplerWarning)  # reported in the table instead
                model.fit(years=window, data_dir=data_dir, random_seed=seed + 100 * i + j, draws=draws, tune=tune,
                          progress=False)
            model.seconds_ = round(time.perf_counter() - start, 1)
            fits[(window, variant)] = model
            if progress:
                ratio = _interval(model.cfe_ratio(RATIO_YEARS[1], RATIO_YEARS[0]))
                progress(f"{window[0]}-{window[1]} {variant}: P(decline) {model.p_decline():.2f}, "
                         f"eps(2015)/eps(1982) {ratio[1]:.2f} ({ratio[0]:.2f}-{ratio[2]:.2f}), {model.seconds_:.0f} s")
    return fits


def window_table(fits: dict[tuple[tuple[int, int], str], Any], *, seed: int | None = None, draws: int | None = None,
                 tune: int | None = None) -> pd.DataFrame:
    """One row per fitted (window, variant) (see :func:`window_row`); settings in ``attrs``."""
    rows = []
    for (window, variant), model in fits.items():
        row = window_row(model, window, variant)
        row["seconds"] = getattr(model, "seconds_", np.nan)
        rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs = {"seed": seed, "draws": draws, "tune": tune}
    return table


def markdown_table(table: pd.DataFrame) -> str:
    """The window table for a report: P(decline) and eps(2015)/eps(1982) per window and variant."""
    from forecast.mdtable import md_table

    rows = []
    for _, r in table.iterrows():
        models = "—" if pd.isna(r.get("p_decline_models")) else f"{r['p_decline_models']:.2f}"
        rows.append([str(r["window"]), str(r["variant"]), f"{r['p_decline']:.2f}",
                     f"{r['ratio_q50']:.2f} ({r['ratio_q05']:.2f}–{r['ratio_q95']:.2f})",
                     "yes" if r["wang2020_inside"] else "no", models,
                     f"{r['max_r_hat']:.3f} / {r['min_ess_bulk']:.0f}"])
    headers = ["Window", "Data / form", "P(decline)", "ε(2015)/ε(1982), median (90%)", "0.57 inside?",
               "DGVMs: P(decline)", "max R-hat / min ESS"]
    return md_table(headers, rows, ["l", "l", "r", "r", "l", "r", "r"])


def write_windows(table: pd.DataFrame, out_dir: str | Path, *, command: str, data_dir=None) -> Path:
    """Write ``cfe_windows.csv``, ``cfe_windows.md`` and ``provenance.json`` (command, seed, sampler
    settings, package version, SHA-256 of every data file read) into ``out_dir``."""
    from forecast._version import __version__
    from forecast.data.gcb import load_joint_sink_data
    from forecast.io.atomic import atomic_write_text

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "cfe_windows.csv", table.to_csv(index=False, float_format="%.4g"))
    text = ("# Decline of the CO2 fertilisation effect by fitting window\n\n"
            f"Wang S. et al. (2020, Science 370:1295) report eps(2015)/eps(1982) = 12/21 = {WANG2020_RATIO:.2f} "
            "from satellite and ground data. Written by `" + command + "`.\n\n" + markdown_table(table) + "\n")
    atomic_write_text(out / "cfe_windows.md", text)
    files = load_joint_sink_data(data_dir)["provenance"]
    prov = {"command": command, "package_version": __version__, **table.attrs,
            "data_sha256": {Path(str(f.get("path", ""))).name: f.get("sha256") for f in files}}
    atomic_write_text(out / "provenance.json", json.dumps(prov, indent=2, default=str) + "\n")
    return out


# ----------------------------------------------------------------------------------------------------
# Prior against posterior
# ----------------------------------------------------------------------------------------------------

PRIOR_POSTERIOR_VARS = ("eps_ref", "k", "tau", "lam", "lam_models")


def prior_posterior_table(model, *, draws: int = 2000, random_seed: int = 0) -> pd.DataFrame:
    """Prior and posterior medians and 90 % intervals of the land-sink parameters and of
    eps(2015)/eps(1982), with ``shrinkage`` = 1 - posterior width / prior width (0: the data add nothing,
    1: the data pin it down)."""
    idata = model._require_fit()
    prior = model.prior_predictive_of_fit(draws=draws, random_seed=random_seed).prior
    rows = []
    names = [n for n in PRIOR_POSTERIOR_VARS if n in idata.posterior and n in prior]
    for name in names + ["ratio"]:
        if name == "ratio":
            lam_prior = prior["lam"].values.ravel() if "lam" in prior else np.zeros(1)
            pr = np.exp(-(RATIO_YEARS[1] - RATIO_YEARS[0]) * lam_prior)
            po = model.cfe_ratio(RATIO_YEARS[1], RATIO_YEARS[0]).values.ravel()
        else:
            pr, po = prior[name].values.ravel(), idata.posterior[name].values.ravel()
        p, q = _interval(pr), _interval(po)
        rows.append({"parameter": name, "prior_q05": p[0], "prior_q50": p[1], "prior_q95": p[2],
                     "posterior_q05": q[0], "posterior_q50": q[1], "posterior_q95": q[2],
                     "shrinkage": 1.0 - (q[2] - q[0]) / (p[2] - p[0]) if p[2] > p[0] else np.nan})
    return pd.DataFrame(rows).set_index("parameter")


def prior_posterior_figure(model, path: str | Path, *, draws: int = 2000, random_seed: int = 0) -> Path:
    """Densities of prior and posterior for each land-sink parameter, one panel each (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    idata = model._require_fit()
    prior = model.prior_predictive_of_fit(draws=draws, random_seed=random_seed).prior
    names = [n for n in PRIOR_POSTERIOR_VARS if n in idata.posterior and n in prior]
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 2.8))
    for ax, name in zip(np.atleast_1d(axes), names):
        pr, po = prior[name].values.ravel(), idata.posterior[name].values.ravel()
        lo, hi = np.quantile(np.concatenate([pr, po]), [0.005, 0.995])
        bins = np.linspace(lo, hi, 50)
        ax.hist(pr, bins=bins, density=True, alpha=0.5, label="prior", color="0.6")
        ax.hist(po, bins=bins, density=True, alpha=0.6, label="posterior", color="tab:green")
        ax.set_title(name)
        ax.set_yticks([])
    np.atleast_1d(axes)[0].legend(frameon=False, loc="upper right")  # "best" is slow with many bars
    fig.suptitle(f"{type(model).__name__} ({getattr(model, 'form', 'proportional')}): prior vs posterior", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
