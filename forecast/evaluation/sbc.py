"""Simulation-based calibration (SBC) of the package's models.

SBC (Talts et al. 2018, arXiv:1804.06788; Modrák et al. 2023, Bayesian Analysis) checks a model's
implementation and its sampler together: for r = 1..R draw ``theta ~ prior``, simulate ``y ~ p(y | theta)``,
fit the model to ``y`` and record the rank of ``theta`` among L (thinned) posterior draws. If simulator,
likelihood and sampler agree, every rank is uniform on ``0..L``; a too narrow posterior gives a U-shaped
histogram, a too wide one a hump, a biased one a slope.

Generic parts: :func:`sbc_ranks` (the loop), :func:`rank_statistic`, :func:`uniformity_test` (chi-square over
bins and the ECDF "gamma" test of Säilynoja, Bürkner & Vehtari 2022 with simultaneous bands) and
:func:`sbc_plot`. Concrete set-ups: :func:`sink_sbc_setup` (global land sink, real CO2 as covariate) and
:func:`ekc_sbc_setup` (growth-form EKC on a small panel).

Simulators: the AR(1) likelihoods of both models condition on the *observed* previous value, so PyMC's
prior predictive of the observed node is not the generative process (it would use the template's data as
lags). The set-ups therefore draw theta jointly with ``pm.sample_prior_predictive`` and generate the data
with the models' own simulators: the EKC with :func:`forecast.projection.propagate.simulate_growth`, the code that
also runs its forecasts, and the land sink with :meth:`forecast.models.sinks.GlobalLandSinkModel.simulate`
(mean sink plus AR(1) anomalies). Refits reuse one nutpie compilation per model and swap the
observed ``pm.Data`` container with ``CompiledPyMCModel.with_data``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from forecast.models.sampling import _compiled_nutpie  # one compilation per model graph + data, per process

__all__ = [
    "SBCSetup",
    "rank_statistic",
    "thin_draws",
    "sbc_ranks",
    "uniformity_test",
    "sbc_plot",
    "sink_sbc_setup",
    "ekc_sbc_setup",
]


# ----------------------------------------------------------------------------------------------------
# Generic SBC
# ----------------------------------------------------------------------------------------------------


def rank_statistic(theta: float, draws: np.ndarray, rng: np.random.Generator | None = None) -> int:
    """Number of ``draws`` below ``theta`` (0..len(draws)); ties are split at random (needed for discrete
    or clamped parameters, otherwise ties push ranks to one end)."""
    draws = np.asarray(draws, dtype=float).reshape(-1)
    below = int(np.sum(draws < theta))
    ties = int(np.sum(draws == theta))
    if ties:
        rng = rng if rng is not None else np.random.default_rng()
        below += int(rng.integers(0, ties + 1))
    return below


def thin_draws(draws: np.ndarray, L: int) -> np.ndarray:
    """``L`` draws evenly spaced through ``draws`` (chains x draws, or flat). Thinning reduces the
    autocorrelation that would otherwise make ranks look non-uniform (Talts et al. 2018, sec. 5)."""
    arr = np.asarray(draws, dtype=float)
    flat = arr.reshape(-1) if arr.ndim <= 1 else arr.reshape(arr.shape[0], -1)
    if flat.ndim == 2:  # keep each chain's draws together, thin within chains
        chains, n = flat.shape
        per = -(-L // chains)
        if per > n:
            raise ValueError(f"cannot keep {L} draws from {chains} chains of {n}")
        idx = np.linspace(0, n - 1, per).round().astype(int)
        return flat[:, idx].reshape(-1)[:L]
    if L > flat.size:
        raise ValueError(f"cannot keep {L} draws from {flat.size}")
    return flat[np.linspace(0, flat.size - 1, L).round().astype(int)]


SimulateFn = Callable[[int, np.random.Generator], tuple[Mapping[str, float], Any]]
FitFn = Callable[[Any, int], Mapping[str, np.ndarray]]


def sbc_ranks(
    simulate_prior_and_data: SimulateFn,
    fit_posterior: FitFn,
    params: Sequence[str],
    R: int,
    L: int,
    seed: int = 0,
    *,
    progress: Callable[[int, float], None] | None = None,
) -> pd.DataFrame:
    """Run R SBC replications and return the ranks, one row per replication, one column per parameter.

    ``simulate_prior_and_data(r, rng)`` returns ``(theta, data)`` with ``theta`` a mapping parameter ->
    true value; ``fit_posterior(data, seed)`` returns a mapping parameter -> posterior draws (any shape;
    a leading chain axis is respected when thinning). Each rank is the number of the ``L`` thinned draws
    below the true value, so it lies in ``0..L``. ``attrs`` hold ``L``, ``R``, ``seconds``.
    """
    if R < 1 or L < 1:
        raise ValueError(f"R and L must be positive, got R={R}, L={L}")
    rng = np.random.default_rng(seed)
    rows = []
    start = time.perf_counter()
    for r in range(R):
        theta, data = simulate_prior_and_data(r, rng)
        post = fit_posterior(data, int(rng.integers(0, 2**31 - 1)))
        rows.append({p: rank_statistic(float(theta[p]), thin_draws(post[p], L), rng) for p in params})
        if progress is not None:
            progress(r + 1, time.perf_counter() - start)
    out = pd.DataFrame(rows, columns=list(params))
    out.index.name = "replication"
    out.attrs = {"L": int(L), "R": int(R), "seconds": time.perf_counter() - start}
    return out


def _bin_of(ranks: np.ndarray, L: int, bins: int) -> np.ndarray:
    return (np.asarray(ranks, dtype=np.int64) * bins) // (L + 1)


def _bin_probs(L: int, bins: int) -> np.ndarray:
    """Exact probability of each bin under uniform ranks 0..L (bins may hold unequal numbers of ranks)."""
    return np.bincount(_bin_of(np.arange(L + 1), L, bins), minlength=bins) / (L + 1)


def _chisq_p(ranks: np.ndarray, L: int, bins: int) -> float:
    counts = np.bincount(_bin_of(ranks, L, bins), minlength=bins)
    expected = _bin_probs(L, bins) * len(ranks)
    return float(stats.chisquare(counts, expected).pvalue)


def _gamma_stat(ranks: np.ndarray, L: int, grid: np.ndarray) -> np.ndarray:
    """Säilynoja et al. (2022) ECDF statistic for rows of ``ranks`` (M, N): the smallest two-sided
    binomial tail probability of the ECDF over the evaluation ``grid`` (rank thresholds k: P(rank < k))."""
    ranks = np.atleast_2d(ranks)
    n = ranks.shape[1]
    hist = np.apply_along_axis(np.bincount, 1, ranks, minlength=L + 1)
    below = np.cumsum(hist, axis=1)[:, grid - 1]  # number of ranks < k for each k in grid
    z = grid / (L + 1)
    lower = stats.binom.cdf(below, n, z)
    upper = stats.binom.sf(below - 1, n, z)
    return np.min(2.0 * np.minimum(lower, upper), axis=1)


def uniformity_test(
    ranks: pd.DataFrame | pd.Series | np.ndarray,
    L: int,
    *,
    bins: int | None = None,
    n_sim: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Test that SBC ranks (values 0..L) are uniform; one row per parameter.

    Columns: ``chisq_p`` (Pearson chi-square over ``bins`` bins with the exact expected count of each
    bin; default ``bins = min(20, max(2, R // 5))`` so every bin expects about 5 or more ranks),
    ``ecdf_p`` (the ECDF "gamma" test of Säilynoja, Bürkner & Vehtari 2022, Statistics and Computing
    32:32: the smallest binomial tail probability of the rank ECDF, calibrated by ``n_sim`` simulations of
    uniform ranks, so it is a simultaneous test over all evaluation points), ``gamma``, ``bins``, ``R``.
    Small p-values mean non-uniform ranks, i.e. a miscalibrated posterior.
    """
    frame = ranks.to_frame() if isinstance(ranks, pd.Series) else pd.DataFrame(ranks)
    values = frame.to_numpy()
    if values.size == 0:
        raise ValueError("no ranks given")
    if (values < 0).any() or (values > L).any() or (values % 1 != 0).any():
        raise ValueError(f"ranks must be whole numbers in 0..{L}")
    values = values.astype(np.int64)
    R = values.shape[0]
    bins = int(bins) if bins is not None else int(min(20, max(2, R // 5)))
    bins = max(2, min(bins, L + 1))
    grid = np.unique(np.linspace(1, L, min(L, 100)).round().astype(int))
    rng = np.random.default_rng(seed)
    null = _gamma_stat(rng.integers(0, L + 1, size=(n_sim, R)), L, grid)
    rows = {}
    for j, name in enumerate(frame.columns):
        g = float(_gamma_stat(values[:, j][None, :], L, grid)[0])
        rows[str(name)] = {
            "chisq_p": _chisq_p(values[:, j], L, bins),
            "ecdf_p": float((np.sum(null <= g) + 1) / (n_sim + 1)),
            "gamma": g,
            "bins": bins,
            "R": R,
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "parameter"
    return out


def sbc_plot(ranks: pd.DataFrame, L: int, path: str | os.PathLike[str] | None = None, *, bins: int | None = None,
             title: str = ""):
    """Rank histograms, one panel per parameter, with the 99 % band of each bin's count under uniformity
    (binomial(R, p_bin) 0.5 % and 99.5 % quantiles). Returns the matplotlib Figure; writes it to ``path``."""
    from matplotlib.figure import Figure

    frame = pd.DataFrame(ranks)
    R = len(frame)
    bins = int(bins) if bins is not None else int(min(20, max(2, R // 5)))
    probs = _bin_probs(L, bins)
    lo, hi = stats.binom.ppf(0.005, R, probs), stats.binom.ppf(0.995, R, probs)
    n = frame.shape[1]
    ncol = min(3, n)
    nrow = -(-n // ncol)
    fig = Figure(figsize=(3.6 * ncol, 2.8 * nrow), layout="constrained")
    axes = fig.subplots(nrow, ncol, squeeze=False)
    centers = np.arange(bins)
    for ax, name in zip(axes.flat, frame.columns):
        counts = np.bincount(_bin_of(frame[name].to_numpy(), L, bins), minlength=bins)
        ax.fill_between(np.arange(bins + 1) - 0.5, np.r_[lo, lo[-1]], np.r_[hi, hi[-1]], step="post",
                        color="0.85", label="99 % band")
        ax.plot(centers, probs * R, color="0.4", lw=1)
        ax.bar(centers, counts, width=0.9, color="C0", alpha=0.8)
        ax.set_title(str(name))
        ax.set_xlabel(f"rank bin (L = {L})")
        ax.set_xticks([])
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


# ----------------------------------------------------------------------------------------------------
# Concrete set-ups
# ----------------------------------------------------------------------------------------------------


@dataclass
class SBCSetup:
    """What :func:`sbc_ranks` needs for one model: simulator, fitter, parameter names, thinning L."""

    name: str
    simulate: SimulateFn
    fit: FitFn
    params: list[str]
    L: int
    R: int

    def run(self, seed: int = 0, progress=None) -> pd.DataFrame:
        return sbc_ranks(self.simulate, self.fit, self.params, self.R, self.L, seed, progress=progress)


def _prior_pool(specs_vars: Callable[[], None], R: int, seed: int, names: Sequence[str]) -> dict[str, np.ndarray]:
    """R joint prior draws of ``names`` from a PyMC model built by ``specs_vars`` (inside a model context)."""
    import pymc as pm

    with pm.Model() as model:
        specs_vars()
    return _prior_draws(model, R, seed, names)


def _prior_draws(model, R: int, seed: int, names: Sequence[str]) -> dict[str, np.ndarray]:
    import pymc as pm

    with model:
        prior = pm.sample_prior_predictive(draws=R, var_names=list(names), random_seed=seed).prior
    return {n: prior[n].values[0] for n in names}  # (R, ...)


def _nutpie_fitter(compiled, data_name: str, var_names: Sequence[str], *, draws: int, tune: int, chains: int,
                   target_accept: float, derived: Callable[[dict], dict] | None = None) -> FitFn:
    import nutpie

    def fit(data: np.ndarray, seed: int) -> dict[str, np.ndarray]:
        model = compiled.with_data(**{data_name: data})
        idata = nutpie.sample(model, draws=draws, tune=tune, chains=chains, cores=min(chains, os.cpu_count() or 1),
                              seed=seed, progress_bar=False, target_accept=target_accept)
        post = {n: idata.posterior[n].values for n in var_names}  # (chain, draw)
        return derived(post) if derived else post

    return fit


def _check_thinning(L: int | None, draws: int, chains: int) -> int:
    L = int(L) if L is not None else max(1, (draws * chains) // 2)
    if L > draws * chains:
        raise ValueError(f"L = {L} exceeds the {draws * chains} posterior draws")
    return L


SINK_PARAMS = ["lam", "k", "eps_ref", "beta_ref", "sigma", "phi"]


def sink_sbc_setup(
    co2: np.ndarray,
    years: np.ndarray,
    R: int,
    *,
    draws: int = 200,
    tune: int = 700,
    chains: int = 2,
    L: int | None = None,
    fit_config: dict[str, Any] | None = None,
    generate_config: dict[str, Any] | None = None,
    seed: int = 0,
    target_accept: float = 0.9,
) -> SBCSetup:
    """SBC of :class:`~forecast.models.sinks.GlobalLandSinkModel` (exponential decline, AR(1) normal
    residuals): real CO2 ``co2`` (ppm) over ``years`` as covariate, sinks simulated from prior draws.

    ``fit_config`` overrides the priors of the fitted model, ``generate_config`` those used to draw the
    true parameters (default: the fitting priors). Setting them differently gives a deliberately
    miscalibrated check, e.g. ``generate_config={"decline_rate": {"params": {"mu": 0, "sigma": 0.15}}}``.
    Parameters: ``lam, k, eps_ref, beta_ref (= k * eps_ref), sigma, phi``.
    """
    from forecast.models.sinks import GlobalLandSinkModel, SinkArrays

    co2 = np.asarray(co2, dtype=float)
    years = np.asarray(years).astype(int)
    fitter = GlobalLandSinkModel(fit_config)
    gen = GlobalLandSinkModel(fit_config if generate_config is None else {**(fit_config or {}), **generate_config})
    L = _check_thinning(L, draws, chains)
    specs = gen.priors()

    def prior_vars():
        specs["eps_ref"].to_pymc("eps_ref")
        specs["k"].to_pymc("k")
        specs["decline_rate"].to_pymc("lam")
        specs["noise_sigma"].to_pymc("sigma")
        specs["ar1"].to_pymc("phi")

    pool = _prior_pool(prior_vars, R, seed, ["eps_ref", "k", "lam", "sigma", "phi"])
    x = (co2 - float(fitter.c0)) / 100.0

    co2_path = pd.Series(co2, index=pd.Index(years, name="year"))

    def simulate(r: int, rng: np.random.Generator):
        # the sink model's own simulator: mean sink plus AR(1) anomalies from a stationary start
        th = {n: float(v[r]) for n, v in pool.items()}
        th["beta_ref"] = th["k"] * th["eps_ref"]
        params = {n: np.array([th[n]]) for n in ("k", "eps_ref", "lam", "sigma", "phi")}
        sink = gen.simulate(params, co2_path, rng.standard_normal(years.size)[None, :])
        return th, sink[0][:, None]

    template = SinkArrays(years, co2, (0.12 * 21.0 * x)[:, None], ["land_sink"])
    compiled = _compiled_nutpie(fitter.build_model(template), "sbc-sinks")

    def derived(post):
        post["beta_ref"] = post["k"] * post["eps_ref"]
        return post

    fit = _nutpie_fitter(compiled, "land_sink", ["lam", "k", "eps_ref", "sigma", "phi"], draws=draws, tune=tune,
                         chains=chains, target_accept=target_accept, derived=derived)
    return SBCSetup("land_sink", simulate, fit, list(SINK_PARAMS), L, R)


EKC_PARAMS = ["drift_mu", "drift_income", "slope_mu", "curvature", "phi", "log_noise_mu"]


def ekc_template_panel(n_regions: int = 6, n_years: int = 20, seed: int = 1) -> pd.DataFrame:
    """A small panel whose income paths serve as fixed covariates of the EKC SBC (CO2 is a placeholder,
    replaced by simulated changes)."""
    rng = np.random.default_rng(seed)
    xs = np.empty((n_regions, n_years))
    for r in range(n_regions):
        growth = rng.uniform(0.0, 0.05) + rng.normal(0, 0.025, n_years)
        growth[0] = rng.uniform(-1.5, 1.5)
        xs[r] = np.cumsum(growth)
    xs -= xs.mean()
    rows = [{"region": f"R{r:02d}", "year": 2000 + t, "gdp_per_capita": float(np.exp(xs[r, t] + np.log(1e4))),
             "co2_per_capita": float(np.exp(0.01 * t))} for r in range(n_regions) for t in range(n_years)]
    return pd.DataFrame(rows)


def ekc_sbc_setup(
    R: int,
    *,
    n_regions: int = 6,
    n_years: int = 20,
    draws: int = 200,
    tune: int = 400,
    chains: int = 2,
    L: int | None = None,
    fit_config: dict[str, Any] | None = None,
    generate_config: dict[str, Any] | None = None,
    seed: int = 0,
    target_accept: float = 0.9,
    parameterization: str = "non_centered",
) -> SBCSetup:
    """SBC of the growth-form :class:`~forecast.models.ekc.EKCModel` (quadratic, AR(1), Student-t) on a
    ``n_regions x n_years`` template panel. True parameters (population and region level) are joint prior
    draws from ``pm.sample_prior_predictive`` on the model built from the template; the changes ``dy`` are
    simulated with the model's simulator :func:`forecast.projection.propagate.simulate_growth` (the forecasts' own
    code) and swapped into the compiled model. ``fit_config`` /
    ``generate_config`` as in :func:`sink_sbc_setup`. Parameters: :data:`EKC_PARAMS`.
    """
    from forecast.models.ekc import EKCModel, prepare_panel
    from forecast.projection.propagate import simulate_growth

    panel = ekc_template_panel(n_regions, n_years, seed=seed + 1)
    fitter = EKCModel(fit_config, parameterization=parameterization)
    gen = EKCModel(fit_config if generate_config is None else {**(fit_config or {}), **generate_config},
                   parameterization=parameterization)
    data = prepare_panel(panel, degree=2)
    L = _check_thinning(L, draws, chains)
    names = ["drift", "slope", "sigma", "curvature", "drift_income", "phi", "nu", "drift_mu", "slope_mu",
             "log_noise_mu"]
    pool = _prior_draws(gen.build_model(data), R, seed, names)
    # the template is rectangular (every region has the same consecutive years), so observation i is change
    # i % (n_years - 1) of region i // (n_years - 1): the simulator's (region, year) cube, flattened
    n_changes = n_years - 1
    if not (data.region_idx == np.repeat(np.arange(n_regions), n_changes)).all():
        raise ValueError("the EKC SBC template panel must hold the same consecutive years for every region")
    x = np.log(panel.pivot(index="region", columns="year", values="gdp_per_capita").to_numpy()) - data.x_center

    def simulate(r: int, rng: np.random.Generator):
        th = {n: v[r] for n, v in pool.items()}
        nu = float(th["nu"])  # inf: normal shocks (NumPy's standard_t gives NaN for an infinite df)
        eps = (rng.standard_t(nu, size=n_regions * n_changes) if np.isfinite(nu)
               else rng.standard_normal(n_regions * n_changes)).reshape(1, n_regions, n_changes)
        # each region's first change starts its AR(1) run (u0 NaN: stationary scale), as has_prev = 0 does
        # in the likelihood; y0 = 0 because only the changes are observed
        y = simulate_growth(th, x=x[None, :, 1:], x0=x[:, 0], y0=0.0, u0=np.nan, shocks=eps)
        dy = np.diff(y[0], axis=-1, prepend=0.0).reshape(-1)
        return {p: float(th[p]) for p in EKC_PARAMS}, dy

    compiled = _compiled_nutpie(fitter.build_model(data), "sbc-ekc")
    fit = _nutpie_fitter(compiled, "dy", EKC_PARAMS, draws=draws, tune=tune, chains=chains,
                         target_accept=target_accept)
    return SBCSetup("ekc", simulate, fit, list(EKC_PARAMS), L, R)
