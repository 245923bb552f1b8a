"""Shared test fixtures."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """Directory with the real data files (``$CARBON_FORECAST_TEST_DATA`` or ``../shared/data``)."""
    env = os.environ.get("CARBON_FORECAST_TEST_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    if not (path / "owid_co2_data.csv").is_file():
        pytest.skip(f"shared data directory not found: {path}")
    return path


@pytest.fixture()
def console_script(monkeypatch, capsys):
    """Run the console script ``forecast.cli.main`` in-process: ``run(*args) -> (exit code, stdout,
    stderr)``. Any exception other than SystemExit propagates, i.e. a traceback fails the test."""
    import warnings

    from forecast import cli

    def run(*args) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["carbon-forecast", *map(str, args)])
        capsys.readouterr()
        code = 0
        with warnings.catch_warnings():  # main() installs warning filters; keep them out of other tests
            try:
                cli.main()
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
