"""The on-disk cache of compiled nutpie models (forecast/models/compile_cache.py): the key changes with
anything that changes the compiled code, a second compilation reads the machine code back and samples the
same draws, and a damaged entry costs a recompilation, never a failure."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

from forecast.models import compile_cache


def _model(slope: float = 2.0, data: np.ndarray | None = None, constant: np.ndarray | None = None) -> pm.Model:
    data = np.arange(10.0) if data is None else data
    constant = np.linspace(0, 1, 500) if constant is None else constant  # printed abbreviated by dprint
    with pm.Model(coords={"i": [f"r{k}" for k in range(10)]}) as model:
        x = pm.Data("x", data, dims="i")
        a = pm.Normal("a")
        s = pm.HalfNormal("s")
        pm.Deterministic("scaled", slope * a + constant.sum())
        pm.Normal("y", a * x, s, observed=0.5 * np.arange(10.0), dims="i")
    return model


def test_the_key_is_stable_and_sees_every_change():
    key = compile_cache.cache_key(_model())
    assert key == compile_cache.cache_key(_model())  # rebuilt model, same key
    # a deterministic's formula (not in the log density), a value inside a large constant, the data, the
    # settings hash: each gives another key
    changed = _model(constant=np.r_[np.linspace(0, 1, 499), 2.0])
    others = {compile_cache.cache_key(_model(slope=3.0)), compile_cache.cache_key(changed),
              compile_cache.cache_key(_model(data=np.arange(10.0) + 1)), compile_cache.cache_key(_model(), "other settings")}
    assert key not in others and len(others) == 4


def test_switched_off_by_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CARBON_FORECAST_CACHE", str(tmp_path))
    assert compile_cache.cache_root() == tmp_path / "compiled-models"
    monkeypatch.setenv(compile_cache.ENV_SWITCH, "0")
    assert compile_cache.cache_root() is None


def _entry(root, model):
    key = compile_cache.cache_key(model)
    return root / "compiled-models" / key[:2] / key


@pytest.mark.slow
def test_second_compilation_reads_the_cache_and_a_damaged_entry_is_rebuilt(monkeypatch, tmp_path):
    import nutpie

    monkeypatch.setenv("CARBON_FORECAST_CACHE", str(tmp_path))
    monkeypatch.delenv(compile_cache.ENV_SWITCH, raising=False)
    model = _model()
    first = compile_cache.compile_pymc_model(model)
    assert first.compiled_logp_func.cache_hits == 0
    folder = _entry(tmp_path, model)
    assert compile_cache.entry_is_sound(folder)

    second = compile_cache.compile_pymc_model(_model())
    assert second.compiled_logp_func.cache_hits == 1 and second.compiled_expand_func.cache_hits == 1
    draws = [nutpie.sample(c, draws=50, tune=50, chains=1, seed=3, progress_bar=False).posterior
             for c in (first, second)]
    np.testing.assert_array_equal(draws[0]["a"].values, draws[1]["a"].values)
    np.testing.assert_array_equal(draws[0]["scaled"].values, draws[1]["scaled"].values)

    # a data file damaged after the entry was written: detected by the manifest, rebuilt, same draws
    data_file = next(p for p in folder.iterdir() if p.suffix == ".nbc")
    data_file.write_bytes(data_file.read_bytes()[:-100] + b"\0" * 100)
    assert not compile_cache.entry_is_sound(folder)
    third = compile_cache.compile_pymc_model(_model())
    assert third.compiled_logp_func.cache_hits == 0
    assert compile_cache.entry_is_sound(folder)
    redrawn = nutpie.sample(third, draws=50, tune=50, chains=1, seed=3, progress_bar=False).posterior
    np.testing.assert_array_equal(draws[0]["a"].values, redrawn["a"].values)


def test_an_unusable_cache_falls_back_to_a_plain_compilation(monkeypatch, tmp_path):
    """The cache folder cannot be created (a file is in the way): compiled anyway, nothing raised."""
    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CARBON_FORECAST_CACHE", str(blocker))
    monkeypatch.delenv(compile_cache.ENV_SWITCH, raising=False)
    calls = []
    import nutpie

    monkeypatch.setattr(nutpie, "compile_pymc_model", lambda model, **kw: calls.append(kw) or ("compiled", kw))
    assert compile_cache.compile_pymc_model(_model()) == ("compiled", {})
    assert calls == [{}]  # one plain compilation, no cached attempt


def test_entry_without_manifest_is_not_sound(tmp_path):
    (tmp_path / "x.nbi").write_bytes(b"index")
    assert not compile_cache.entry_is_sound(tmp_path)
    (tmp_path / compile_cache.MANIFEST).write_text("{not json")
    assert not compile_cache.entry_is_sound(tmp_path)


def test_the_key_repeats_in_a_new_process():
    """Nothing process-specific (memory addresses of random generators, object ids) enters the key."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys; sys.path[:0] = [{root!r}, {tests!r}]; import test_compile_cache as t; "
            "from forecast.models import compile_cache; print(compile_cache.cache_key(t._model()))")
    here = Path(__file__).resolve().parent
    code = code.format(root=str(here.parent), tests=str(here))
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert other == compile_cache.cache_key(_model())


def test_prune_keeps_the_most_recently_used(tmp_path):
    import os

    for i in range(4):
        entry = tmp_path / "ab" / f"entry{i}"
        entry.mkdir(parents=True)
        (entry / compile_cache.MANIFEST).write_text("{}")
        os.utime(entry / compile_cache.MANIFEST, (1000 + i, 1000 + i))
    compile_cache.prune(tmp_path, keep=2)
    assert sorted(p.name for p in (tmp_path / "ab").iterdir()) == ["entry2", "entry3"]


def test_an_entry_another_process_is_writing_is_left_alone(monkeypatch, tmp_path):
    """No manifest yet, files fresh: compiled without the cache and the entry kept; an old one is rebuilt."""
    import os

    import nutpie

    monkeypatch.setenv("CARBON_FORECAST_CACHE", str(tmp_path))
    monkeypatch.delenv(compile_cache.ENV_SWITCH, raising=False)
    calls = []
    monkeypatch.setattr(nutpie, "compile_pymc_model", lambda model, **kw: calls.append(kw) or "compiled")
    folder = _entry(tmp_path, _model())
    folder.mkdir(parents=True)
    (folder / "logp.nbi").write_bytes(b"half written")
    assert compile_cache.compile_pymc_model(_model()) == "compiled" and calls == [{}]
    assert (folder / "logp.nbi").exists()
    for path in (folder / "logp.nbi", folder):
        os.utime(path, (0, 0))  # written long ago: a crashed compilation
    compile_cache.compile_pymc_model(_model())
    assert calls[-1] == {"cache": True} and not (folder / "logp.nbi").exists()
