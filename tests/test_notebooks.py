"""The example notebooks in studies/*/ execute top to bottom (FAST mode), so they never rot."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "studies").glob("*/*.ipynb"))
#: notebooks that must exist (issue 6): one per shipped study; any further studies/*/*.ipynb runs too
EXPECTED = ("china-provinces/example.ipynb", "china/example.ipynb", "global/example.ipynb")


@pytest.mark.heavy
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.parent.name + "/" + p.name for p in NOTEBOOKS])
def test_notebook_executes(path, shared_data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FAST", "1")
    monkeypatch.setenv("CARBON_FORECAST_DATA", str(shared_data_dir))
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert (tmp_path / "bands_example.csv").stat().st_size > 0


def test_there_is_an_example_notebook():
    assert NOTEBOOKS, "studies/*/ should hold at least one example notebook"
    found = {p.parent.name + "/" + p.name for p in NOTEBOOKS}
    assert set(EXPECTED) <= found, f"missing example notebooks: {sorted(set(EXPECTED) - found)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.parent.name + "/" + p.name for p in NOTEBOOKS])
def test_notebook_is_saved_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{path.parent.name}/{path.name}: clear the outputs of cells {dirty} before saving"
