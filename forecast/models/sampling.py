"""Running the NUTS sampler for any model of the package, and checking what it produced.

One entry point, :func:`sample_model`, so every model offers the same ``sampler=`` choice and the same
diagnostics. nutpie is the default: on the EKC panel it gives several times the effective samples per
second of PyMC's own NUTS (see ``benchmarks/sampler_ess.py``). Compiling a PyMC model for nutpie costs
seconds, so compiled models are cached per process, keyed by the model's graph and data, and their
machine code on disk across processes (:mod:`forecast.models.compile_cache`).

Reusing one compilation for other data
--------------------------------------
A backtest fits the same model to many data sets (one per cutoff). Keyed by graph *and* data, the cache
above never hits there, and compiling was most of each fit (``benchmarks/backtest_speed.py`` measures
a backtest both ways). :class:`CompiledModelCache` keys a compilation by the model's *structure* only
(:func:`structure_key`: the graph, its constants and the shapes of the free variables, not the values of its
``pm.Data`` containers) and swaps the data of the model at hand into it with nutpie's ``with_data``. For a
model whose data all live in ``pm.Data`` this is the same posterior computation as a fresh compile: the
compiled code is the same, only the arrays it reads differ (``tests/test_backtest_reuse.py`` checks that
the draws are identical for the same data and seed). Anything baked into the graph as a constant is part
of the key, so a model that differs in it is compiled anew, never sampled with stale numbers.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from dataclasses import dataclass, field
from typing import Literal

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytensor
from threadpoolctl import threadpool_limits

from forecast.errors import InputError

log = logging.getLogger(__name__)

Sampler = Literal["nutpie", "pymc", "numpyro"]
SAMPLERS: tuple[str, ...] = ("nutpie", "pymc", "numpyro")

# Thresholds follow Vehtari et al. (2021, Bayesian Analysis 16:667): rank-normalised R-hat below 1.01
# and at least 100 effective draws per chain for bulk and tail quantities.
RHAT_MAX = 1.01
ESS_PER_CHAIN_MIN = 100

_COMPILED_CACHE: dict[str, object] = {}


@dataclass
class Diagnostics:
    """Convergence diagnostics of one fit.

    ``table`` has one row per scalar parameter (``r_hat``, ``ess_bulk``, ``ess_tail``, ...);
    ``warnings`` are human-readable sentences, empty when the fit looks healthy.
    """

    table: pd.DataFrame
    divergences: int
    chains: int
    draws: int
    sampler: str
    seconds: float = float("nan")
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.warnings

    @property
    def max_r_hat(self) -> float:
        return float(self.table["r_hat"].max())

    @property
    def min_ess_bulk(self) -> float:
        return float(self.table["ess_bulk"].min())

    @property
    def min_ess_tail(self) -> float:
        return float(self.table["ess_tail"].min())

    def to_frame(self) -> pd.DataFrame:
        """The per-parameter table with the run-level facts in ``attrs`` (for reports)."""
        frame = self.table.copy()
        frame.attrs = {
            "divergences": self.divergences,
            "chains": self.chains,
            "draws": self.draws,
            "sampler": self.sampler,
            "seconds": self.seconds,
            "warnings": list(self.warnings),
        }
        return frame


def _model_key(model: pm.Model) -> str:
    """A hash of the model graph and its data, so identical models reuse one compilation."""
    digest = hashlib.sha256()
    digest.update(str(model.str_repr()).encode())
    # str_repr names the variables but not how deterministic means are computed: hash the graph too
    digest.update(pytensor.dprint(model.logp(), file="str", print_type=True).encode())
    for var in model.observed_RVs:
        value = model.rvs_to_values[var]
        raw = value.get_value() if hasattr(value, "get_value") else getattr(value, "data", None)
        if raw is not None:
            digest.update(np.ascontiguousarray(raw).tobytes())
    for var in model.data_vars:
        digest.update(var.name.encode())
        digest.update(np.ascontiguousarray(var.get_value()).tobytes())
    for name, coord in model.coords.items():
        digest.update(name.encode())
        digest.update(repr(tuple(coord) if coord is not None else None).encode())
    return digest.hexdigest()


def structure_key(model: pm.Model) -> str:
    """A hash of everything that fixes the compiled code of ``model`` but not its ``pm.Data`` values: the
    variables and their distributions, the graphs of the log density and of the deterministics, every
    constant in them (an array baked into the graph is structure, not swappable data), the shapes of the
    free variables, and the names, dtypes and ranks of the data containers. Two models with the same key
    compile to the same function of their data, so one compilation serves both (:class:`CompiledModelCache`)."""
    from pytensor.graph.traversal import ancestors
    from pytensor.tensor.variable import TensorConstant

    # deterministics in terms of the value variables, as nutpie compiles them (the random variables of
    # the raw graph carry their generator's memory address, which differs between two builds)
    outputs = [model.logp(), *model.replace_rvs_by_values(model.deterministics)]
    digest = hashlib.sha256()
    digest.update(str(model.str_repr()).encode())
    digest.update(pytensor.dprint(outputs, file="str", print_type=True).encode())
    for var in ancestors(outputs):
        if isinstance(var, TensorConstant):
            data = np.asarray(var.data)
            digest.update(f"{data.dtype}{data.shape}".encode())
            digest.update(np.ascontiguousarray(data).tobytes())
    for name, value in sorted(model.initial_point().items()):
        digest.update(f"{name}{np.shape(value)}".encode())
    for var in model.data_vars:
        digest.update(f"{var.name}:{var.dtype}:{var.ndim}".encode())
    return digest.hexdigest()


class CompiledModelCache:
    """nutpie compilations reused across data sets of the same model structure.

    ``compiled_for(model)`` returns a compiled model holding ``model``'s current ``pm.Data`` values: the
    first model of a structure (:func:`structure_key`) is compiled, later ones get that compilation with
    their data swapped in (``CompiledPyMCModel.with_data``). Data containers may change length (the number
    of observations); the free variables may not change shape, or the key changes and a new compilation
    is made. Pass the cache to :func:`sample_model` (``compiled_cache=``): the posterior's coordinates are
    then relabelled from the model at hand, because a compiled model carries the labels of the model it
    was compiled from. ``compiles`` and ``reuses`` count what happened (for benchmarks and tests).
    """

    def __init__(self) -> None:
        self._compiled: dict[str, object] = {}
        self.compiles = 0
        self.reuses = 0

    def __len__(self) -> int:
        return len(self._compiled)

    def compiled_for(self, model: pm.Model, key_extra: str = ""):
        import nutpie

        key = structure_key(model) + key_extra
        base = self._compiled.get(key)
        if base is None:
            base = self._compiled[key] = nutpie.compile_pymc_model(model)
            self.compiles += 1
        else:
            self.reuses += 1
        values = {var.name: var.get_value() for var in model.data_vars}
        return base.with_data(**{name: value for name, value in values.items() if name in base.shared_data})


def relabel_posterior(idata: az.InferenceData, model: pm.Model) -> az.InferenceData:
    """``idata``'s posterior with the coordinate labels of ``model`` (same dims, same lengths): a compiled
    model reused for other data still carries the labels of the model it was compiled from."""
    posterior = idata.posterior
    labels = {}
    for dim, size in posterior.sizes.items():
        values = model.coords.get(dim)
        if values is None or dim in ("chain", "draw"):
            continue
        if len(values) != size:
            raise RuntimeError(f"posterior dim {dim!r} has {size} entries but the model has {len(values)}: "
                               "a reused compilation does not fit this model")
        labels[dim] = np.asarray(values)
    idata.posterior = posterior.assign_coords(labels)
    return idata


def _compiled_nutpie(model: pm.Model, key_extra: str = ""):
    from forecast.models import compile_cache  # across processes: machine code on disk (compile_cache.py)

    key = _model_key(model) + key_extra
    if key not in _COMPILED_CACHE:
        _COMPILED_CACHE[key] = compile_cache.compile_pymc_model(model, key_extra)
    return _COMPILED_CACHE[key]


def _show_progress(progress: bool | None) -> bool:
    if progress is not None:
        return progress
    return sys.stderr.isatty() and not os.environ.get("CI")


def sample_model(
    model: pm.Model,
    *,
    sampler: str = "nutpie",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    random_seed: int | None = None,
    target_accept: float = 0.9,
    progress: bool | None = None,
    cache_key: str = "",
    cores: int | None = None,
    compiled_cache: CompiledModelCache | None = None,
) -> az.InferenceData:
    """Draw posterior samples of ``model`` with the chosen NUTS implementation.

    Parameters
    ----------
    sampler:
        ``"nutpie"`` (default), ``"pymc"`` (PyMC's own NUTS) or ``"numpyro"`` (needs JAX).
    draws, tune, chains:
        Draws kept per chain, warm-up draws per chain, number of chains.
    random_seed:
        Seed for the sampler; the same seed and data give the same draws.
    cores:
        Chains run in parallel on this many processes (default: one per chain, at most the CPU count);
        1 runs them in sequence (e.g. inside a dask worker that may not start processes).
    compiled_cache:
        nutpie only: reuse the compilation of an earlier model of the same structure, with this model's
        data swapped in (:class:`CompiledModelCache`), instead of the per-process cache keyed by graph and
        data. For many fits of one model to different data, e.g. the cutoffs of a backtest.
    """
    if sampler not in SAMPLERS:
        raise InputError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    for label, value in (("draws", draws), ("tune", tune), ("chains", chains)):
        if int(value) < 1:
            raise InputError(f"{label} must be a positive integer, got {value!r}")
    show = _show_progress(progress)
    # one BLAS thread per chain: chains already run in parallel, and OpenBLAS threads on top of them
    # oversubscribe the cores (a 175 x 175 product took 2 ms instead of 0.1 ms on 2 busy cores)
    with threadpool_limits(limits=1, user_api="blas"):
        return _sample(model, sampler=sampler, draws=draws, tune=tune, chains=chains, random_seed=random_seed,
                       target_accept=target_accept, show=show, cache_key=cache_key, cores=cores,
                       compiled_cache=compiled_cache)


def _sample(model: pm.Model, *, sampler: str, draws: int, tune: int, chains: int, random_seed: int | None,
            target_accept: float, show: bool, cache_key: str, cores: int | None,
            compiled_cache: CompiledModelCache | None = None) -> az.InferenceData:
    if sampler == "nutpie":
        import nutpie

        if compiled_cache is not None:
            compiled = compiled_cache.compiled_for(model, cache_key)
        else:
            compiled = _compiled_nutpie(model, cache_key)
        idata = nutpie.sample(
            compiled,
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores or min(chains, os.cpu_count() or 1),
            seed=random_seed,
            progress_bar=show,
            target_accept=target_accept,
        )
        if compiled_cache is not None:
            idata = relabel_posterior(idata, model)
    else:
        with model:
            idata = pm.sample(
                draws=draws,
                tune=tune,
                chains=chains,
                cores=1 if sampler == "numpyro" else (cores or min(chains, os.cpu_count() or 1)),
                random_seed=random_seed,
                target_accept=target_accept,
                nuts_sampler=sampler,
                progressbar=show,
                compute_convergence_checks=False,
            )
    return idata


def diagnose(
    idata: az.InferenceData, var_names: list[str] | None = None, *, sampler: str = "", seconds: float = float("nan")
) -> Diagnostics:
    """R-hat, bulk/tail ESS and divergences of ``idata``, with a warning for each problem found."""
    posterior = idata.posterior
    chains = int(posterior.sizes["chain"])
    draws = int(posterior.sizes["draw"])
    table = az.summary(idata, var_names=var_names, kind="diagnostics")
    divergences = 0
    if "sample_stats" in idata.groups() and "diverging" in idata.sample_stats:
        divergences = int(idata.sample_stats["diverging"].sum())
    warnings = []
    if chains < 2:
        warnings.append("only one chain: R-hat cannot detect chains that disagree; run at least 2 chains")
    worst_rhat = table["r_hat"].max()
    if np.isfinite(worst_rhat) and worst_rhat > RHAT_MAX:
        names = ", ".join(table.index[table["r_hat"] > RHAT_MAX][:5])
        warnings.append(f"R-hat up to {worst_rhat:.3f} (> {RHAT_MAX}) for {names}: chains have not mixed")
    ess_min = ESS_PER_CHAIN_MIN * chains
    for column in ("ess_bulk", "ess_tail"):
        low = table[column] < ess_min
        if low.any():
            names = ", ".join(table.index[low][:5])
            warnings.append(
                f"{column} as low as {table[column].min():.0f} (< {ess_min}) for {names}: draw more samples"
            )
    if divergences:
        share = divergences / (chains * draws)
        warnings.append(
            f"{divergences} divergent transitions ({share:.1%} of draws): the posterior may be biased; "
            "try a higher target_accept or the other parameterization"
        )
    return Diagnostics(
        table=table,
        divergences=divergences,
        chains=chains,
        draws=draws,
        sampler=sampler,
        seconds=seconds,
        warnings=warnings,
    )
