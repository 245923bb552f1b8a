"""Compiled nutpie models kept on disk, so a second run of the same model skips most of the compilation.

Compiling a PyMC model for nutpie has two parts: PyTensor builds and rewrites the log-density graphs (a
few seconds), then numba compiles nutpie's two C callbacks, the log density with its gradient and the
"expand" function that computes the stored variables, with everything they call (most of the time: 35 of
44 s for the default study's emission model, measured with cProfile on a loaded 2-core machine). PyTensor
already caches its per-operation numba code in its ``compiledir``; the two callbacks are not cached
across processes, because numba keys its cache on a pickle of the callbacks' closures, which hold numba
dispatchers with a fresh random id in every process, so the key never repeats (measured: each run wrote a
new cache entry and none was ever read).

This module gives the two callbacks numba's own on-disk cache with a key that does repeat:
:func:`model_fingerprint` (the model's log-density and deterministic graphs, every constant and data array,
the coordinates) plus the versions of Python, NumPy, numba, llvmlite, PyTensor, PyMC, nutpie and this
package; numba adds the CPU and its target features, and the size and modification time of nutpie's
source. Everything else nutpie needs (PyTensor functions, initial points, shared data) is rebuilt from the
model as before, so only machine code is reused, and only for the same graph.

What numba will not cache stays uncached: code that embeds an absolute address of this process (numba's
"dynamic globals"). PyTensor calls SciPy's Cython special functions through such an address, e.g. the
digamma in the gradient of a Student-t likelihood's degrees of freedom, so the log-density callback of the
EKC and Kaya models with ``likelihood = "studentt"`` is compiled in every run (measured on the default
study: its expand callback and the land-sink model's two callbacks are read back, the emission model's
log density is not).

Where: ``<cache>/compiled-models/<first 2 hex>/<key>/`` with ``<cache>`` the data cache folder
(:func:`forecast.data.default_cache_dir`: ``$CARBON_FORECAST_CACHE`` or the user cache folder). Set
``CARBON_FORECAST_COMPILE_CACHE=0`` to switch it off.

Safety: each entry carries a manifest with the SHA-256 of its files, written after a successful compile
and checked before numba reads the entry; an entry that is incomplete, changed or unreadable is deleted and
the model compiled afresh, and any error of the cache path falls back to a plain compilation. A corrupt
cache therefore costs one compilation, never a failed run.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import re
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

ENV_SWITCH = "CARBON_FORECAST_COMPILE_CACHE"
MANIFEST = "manifest.json"
MAX_ENTRIES = 200  # compiled models kept (least recently used dropped first)
WRITE_WINDOW = 900.0  # seconds: longer than a cold compilation on a busy 2-core machine (about 2 x 60 s)
#: packages whose code ends up in, or produces, the compiled callbacks
VERSIONED = ("numpy", "numba", "llvmlite", "pytensor", "pymc", "nutpie", "carbon-forecast")

_PATCH_LOCK = threading.Lock()
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


# --------------------------------------------------------------------------------------------------
# the key
# --------------------------------------------------------------------------------------------------


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "implementation": sys.implementation.name}
    for name in VERSIONED:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:  # a source checkout without metadata
            from forecast._version import __version__

            out[name] = __version__ if name == "carbon-forecast" else "unknown"
    return out


def _array_digest(digest, value: Any) -> None:
    array = np.asarray(value)
    digest.update(f"{array.dtype.str}{array.shape}".encode())
    if array.dtype.hasobject:  # e.g. coordinate labels
        digest.update(repr(array.tolist()).encode())
    else:
        digest.update(np.ascontiguousarray(array).tobytes())


def model_fingerprint(model) -> str:
    """SHA-256 of what nutpie compiles from ``model``: the printed graphs of the log density (with the
    transforms' Jacobians) and of every deterministic, the exact bytes of every constant and shared
    variable they use (the printed graph abbreviates large constants), observed data and coordinates."""
    import pytensor
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import ancestors

    digest = hashlib.sha256()
    outputs = [model.logp(), *model.deterministics]
    digest.update(str(model.str_repr()).encode())
    # random generators print with their memory address, which changes in every process
    printed = pytensor.dprint(outputs, file="str", print_type=True)
    digest.update(_ADDRESS.sub("", printed).encode())
    for var in ancestors(outputs):
        if "RandomGenerator" in str(var.type):  # state of the generators, not a value the callbacks use
            continue
        if isinstance(var, Constant):
            _array_digest(digest, var.data)
        elif isinstance(var, SharedVariable):
            digest.update(str(var.name).encode())
            _array_digest(digest, var.get_value(borrow=True))
    for rv in model.free_RVs:
        transform = model.rvs_to_transforms.get(rv)
        digest.update(f"{rv.name}:{type(transform).__module__}.{type(transform).__qualname__}".encode())
    for name, coord in model.coords.items():
        digest.update(name.encode())
        _array_digest(digest, np.asarray(coord if coord is not None else [], dtype=object))
    return digest.hexdigest()


def cache_key(model, extra: str = "") -> str:
    """The disk key: :func:`model_fingerprint`, ``extra`` (e.g. the model settings' hash) and the versions."""
    digest = hashlib.sha256(model_fingerprint(model).encode())
    digest.update(extra.encode())
    digest.update(json.dumps(_versions(), sort_keys=True).encode())
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------------
# where, and whether an entry can be trusted
# --------------------------------------------------------------------------------------------------


def cache_root() -> Path | None:
    """``<data cache>/compiled-models``, or None when switched off by ``CARBON_FORECAST_COMPILE_CACHE=0``."""
    if os.environ.get(ENV_SWITCH, "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    from forecast.data import default_cache_dir

    return default_cache_dir() / "compiled-models"


def _file_hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file() and p.name != MANIFEST and ".tmp." not in p.name}


def entry_is_sound(folder: Path) -> bool:
    """True when every file of the entry is listed in its manifest with the same SHA-256 (and nothing
    else is there): the entry was written completely by a compile that finished."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        return bool(manifest.get("files")) and manifest["files"] == _file_hashes(folder)
    except (OSError, ValueError, TypeError, AttributeError, KeyError):
        return False


def _being_written(folder: Path, seconds: float = WRITE_WINDOW) -> bool:
    """No manifest yet and a file changed within ``seconds``: a compilation in another process is filling
    the entry (a crashed one leaves it older, and it is then rebuilt)."""
    if (folder / MANIFEST).exists():
        return False
    times = [p.stat().st_mtime for p in folder.iterdir()] + [folder.stat().st_mtime]
    return time.time() - max(times) < seconds


def prune(root: Path, keep: int) -> None:
    """Delete all but the ``keep`` most recently used entries under ``root`` (use = manifest modification
    time, refreshed on every read), so the cache does not grow without bound (about 1 MB an entry)."""
    manifests = sorted(root.glob(f"*/*/{MANIFEST}"), key=lambda p: p.stat().st_mtime, reverse=True)
    for manifest in manifests[keep:]:
        shutil.rmtree(manifest.parent, ignore_errors=True)


def _write_manifest(folder: Path, key: str) -> None:
    tmp = folder / f"{MANIFEST}.tmp.{os.getpid()}"
    tmp.write_text(json.dumps({"key": key, "versions": _versions(), "files": _file_hashes(folder)}, indent=1),
                   encoding="utf-8")
    os.replace(tmp, folder / MANIFEST)


# --------------------------------------------------------------------------------------------------
# numba's cache, keyed by our key, for nutpie's two callbacks
# --------------------------------------------------------------------------------------------------


def _keyed_function_cache(folder: Path, key: str):
    """A numba ``FunctionCache`` class that stores in ``folder`` and indexes entries by ``key`` (numba's
    own index key would pickle the callbacks' closures, whose dispatcher ids change in every process)."""
    from numba.core import caching

    class Locator(caching._CacheLocator):
        def __init__(self, py_func, py_file):
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno

        def ensure_cache_path(self):
            folder.mkdir(parents=True, exist_ok=True)

        def get_cache_path(self):
            return str(folder)

        def get_source_stamp(self):  # nutpie's source: a reinstall invalidates the entry
            st = os.stat(self._py_file)
            return st.st_mtime, st.st_size

        def get_disambiguator(self):
            return str(self._lineno)

        @classmethod
        def from_function(cls, py_func, py_file):
            return cls(py_func, os.path.abspath(py_file))

    class Impl(caching.CompileResultCacheImpl):
        _locator_classes = [Locator]

    class KeyedCache(caching.FunctionCache):
        _impl_class = Impl

        def _index_key(self, sig, codegen):
            return sig, codegen.magic_tuple(), ("carbon-forecast", key)

    return KeyedCache


@contextlib.contextmanager
def _callbacks_cached_in(folder: Path, key: str):
    """While active, numba C callbacks (``numba.cfunc``, which nutpie uses for exactly its two) cache in
    ``folder`` under ``key``. PyTensor's jitted functions are dispatchers, not C callbacks: unaffected."""
    from numba.core import ccallback

    with _PATCH_LOCK:
        original = ccallback.FunctionCache
        ccallback.FunctionCache = _keyed_function_cache(folder, key)
        try:
            yield
        finally:
            ccallback.FunctionCache = original


def compile_pymc_model(model, key_extra: str = ""):
    """``nutpie.compile_pymc_model(model)``, with the two C callbacks read from / written to the disk cache.
    Falls back to a plain compilation whenever the cache cannot be used (switched off, unwritable, corrupt)."""
    import nutpie

    root = cache_root()
    if root is None:
        return nutpie.compile_pymc_model(model)
    folder = None
    try:
        key = cache_key(model, key_extra)
        folder = root / key[:2] / key
        if folder.exists() and not entry_is_sound(folder):
            if _being_written(folder):  # another process is compiling this model now: leave its entry alone
                log.info("compiled-model cache entry %s is being written by another process", folder)
                return nutpie.compile_pymc_model(model)
            log.info("compiled-model cache entry %s is incomplete or changed: compiling afresh", folder)
            shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)  # an unwritable cache fails here, before the compilation
        with _callbacks_cached_in(folder, key):
            compiled = nutpie.compile_pymc_model(model, cache=True)
    except Exception as err:  # the cache must never fail a run: compile without it
        log.warning("compiled-model cache not used (%s: %s); compiling without it", type(err).__name__, err)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        return nutpie.compile_pymc_model(model)
    hits = sum(getattr(getattr(compiled, name, None), "cache_hits", 0)
               for name in ("compiled_logp_func", "compiled_expand_func"))
    log.info("nutpie callbacks %s the compiled-model cache (%s)", "read from" if hits == 2 else "written to", folder)
    with contextlib.suppress(OSError):
        if hits < 2:
            _write_manifest(folder, key)
            prune(root, MAX_ENTRIES)
        else:
            os.utime(folder / MANIFEST)  # recently used: kept by prune()
    return compiled
