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
