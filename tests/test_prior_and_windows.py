"""Prior predictive checks through the shared model contract, and the CFE window table command."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import forecast.cli as cli
from forecast.evaluation.prior_check import prior_check_table
from forecast.models.sinks import GlobalLandSinkModel

runner = CliRunner()


def _sink_check(shared_data_dir, config=None) -> pd.DataFrame:
    model = GlobalLandSinkModel(config)
    return prior_check_table(model, model.prepare(data_dir=shared_data_dir), draws=400, random_seed=3).set_index(
        ["variable", "statistic"])


def test_prior_check_compares_prior_draws_with_the_observed_sink(shared_data_dir):
    """The library priors can produce the observed land sink (its mean inside the prior's 90 % range); a prior
    that puts the CO2 response 50 times too high cannot (P(prior mean >= observed) = 1): the check sees it."""
    table = _sink_check(shared_data_dir)
    row = table.loc[("sink_obs", "mean")]
    assert row["prior_q05"] <= row["observed"] <= row["prior_q95"]
    assert 0.0 < row["p_prior_above"] < 1.0 and 0.0 <= row["coverage_90"] <= 1.0
    absurd = _sink_check(shared_data_dir, {"sinks.k": {"distribution": "TruncatedNormal",
                                                       "params": {"mu": 6.0, "sigma": 0.1, "lower": 0.0}}})
    assert absurd.loc[("sink_obs", "mean"), "p_prior_above"] == 1.0


def test_prior_check_command_covers_emission_and_sink_models(shared_data_dir, tmp_path):
    from pathlib import Path

    study = Path(__file__).resolve().parent / "fixtures" / "small" / "study.toml"
    result = runner.invoke(cli.app, ["prior-check", str(study), "--data-dir", str(shared_data_dir), "--draws", "100",
                                     "--out", str(tmp_path / "pc"), "--quiet"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "pc" / "prior_check.csv")
    assert set(table["statistic"]) == {"mean", "sd", "min", "max"} and table["observed"].notna().all()


@pytest.mark.slow
def test_cfe_windows_command_on_a_short_window(shared_data_dir, tmp_path):
    """The window table is computed by the command, for the old and the new sink form, with provenance."""
    out = tmp_path / "cw"
    result = runner.invoke(cli.app, ["cfe-windows", "--window", "2000:2012", "--variant", "gcb/proportional",
                                     "--variant", "joint/kinetic", "--draws", "60", "--tune", "100", "--seed", "5",
                                     "--data-dir", str(shared_data_dir), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "cfe_windows.csv")
    assert list(table["variant"]) == ["gcb/proportional", "joint/kinetic"] and set(table["window"]) == {"2000-2012"}
    assert table["p_decline"].between(0, 1).all() and (table["ratio_q05"] <= table["ratio_q95"]).all()
    assert np.isnan(table.loc[0, "p_decline_models"]) and 0 <= table.loc[1, "p_decline_models"] <= 1
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["seed"] == 5 and prov["data_sha256"]["gcb2025_global_budget.csv"]
    prior = pd.read_csv(out / "prior_posterior_joint_kinetic.csv", index_col=0)
    assert {"eps_ref", "lam", "ratio"} <= set(prior.index) and (out / "prior_posterior_joint_kinetic.png").is_file()
    assert "0.57" in (out / "cfe_windows.md").read_text()
