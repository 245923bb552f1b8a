"""Backtest: scoring functions on hand-made forecasts, the observed peak rule, one small real backtest."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from forecast.evaluation.backtest import (
    EASTERN_BLOC_1990,
    auc,
    brier_score,
    brier_skill,
    crps_ensemble,
    event_outcome,
    interval_coverage,
    observed_peak,
    reliability_table,
    score_events,
)
from forecast.errors import InputError


# ----------------------------------------------------------------------------- scores
def test_perfect_event_forecast_scores_perfectly():
    o = np.array([0, 1, 1, 0, 0, 1, 0, 0])
    assert brier_score(o.astype(float), o) == 0.0
    assert brier_skill(o.astype(float), o) == 1.0
    assert auc(o.astype(float), o) == 1.0
    assert auc(1.0 - o, o) == 0.0  # perfectly inverted ranking


def test_biased_forecast_has_negative_skill():
    rng = np.random.default_rng(0)
    o = (rng.random(1000) < 0.2).astype(float)
    p = np.full_like(o, 0.9)
    assert brier_score(p, o) == pytest.approx(np.mean((0.9 - o) ** 2))
    assert brier_skill(p, o) < -1.0  # (0.9-0.2)^2 + 0.16 vs 0.16: far worse than climatology
    assert brier_skill(np.full_like(o, o.mean()), o) == pytest.approx(0.0, abs=1e-12)
    # explicit base rate: the reference is the score of always forecasting it
    assert brier_skill(np.full_like(o, 0.5), o, base_rate=0.5) == pytest.approx(0.0, abs=1e-12)


def test_auc_random_is_half_and_ties_count_half():
    rng = np.random.default_rng(1)
    n = 4000
    o = (rng.random(n) < 0.3).astype(float)
    p = rng.random(n)
    # sd of the AUC under H0: sqrt((n1 + n0 + 1) / (12 n1 n0))
    n1, n0 = o.sum(), n - o.sum()
    se = math.sqrt((n1 + n0 + 1) / (12 * n1 * n0))
    assert abs(auc(p, o) - 0.5) < 4 * se
    assert auc(np.full(n, 0.3), o) == pytest.approx(0.5)  # all tied
    assert auc([0.1, 0.4, 0.4, 0.8], [0, 0, 1, 1]) == pytest.approx((1 + 1 + 0.5 + 1) / 4)
    assert math.isnan(auc([0.2, 0.3], [1, 1]))


def test_reliability_counts_sum_to_n_and_bins_are_right():
    rng = np.random.default_rng(2)
    p = rng.random(500)
    p[:3] = [0.0, 1.0, 0.1]
    o = (rng.random(500) < p).astype(float)
    table = reliability_table(p, o, bins=10)
    assert len(table) == 10
    assert table["count"].sum() == 500
    filled = table[table["count"] > 0]
    assert ((filled["mean_p"] >= filled["p_low"]) & (filled["mean_p"] <= filled["p_high"])).all()
    # calibrated by construction: observed frequencies track the mean forecast
    assert np.nanmax(np.abs(filled["observed_freq"] - filled["mean_p"])) < 0.25


def test_interval_coverage():
    rng = np.random.default_rng(3)
    draws = rng.normal(size=(200, 4000))
    truth = rng.normal(size=200)
    assert interval_coverage(draws * 10, truth, 0.9).mean() == 1.0  # wide intervals cover everything
    cov = interval_coverage(draws, truth, 0.9).mean()
    assert abs(cov - 0.9) < 4 * math.sqrt(0.09 / 200)
    assert interval_coverage(draws, truth + 100, 0.5).mean() == 0.0
    with pytest.raises(InputError):
        interval_coverage(draws, truth, 1.5)


def test_crps_point_mass_and_normal_closed_form():
    assert crps_ensemble(np.full(50, 3.0), 3.0) == pytest.approx(0.0, abs=1e-12)
    assert crps_ensemble(np.full(50, 3.0), 5.0) == pytest.approx(2.0)  # point mass: |x - y|
    rng = np.random.default_rng(4)
    mu, sigma, n = 1.0, 2.0, 200_000
    x = rng.normal(mu, sigma, n)
    for y in (1.0, 2.5, -4.0):
        z = (y - mu) / sigma
        closed = sigma * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / math.sqrt(math.pi))
        assert crps_ensemble(x, y) == pytest.approx(closed, rel=0.02, abs=0.01)
    # the O(n log n) form equals the O(n^2) definition
    small = rng.normal(size=(3, 40))
    y = np.array([0.1, -1.0, 2.0])
    brute = np.abs(small - y[:, None]).mean(1) - 0.5 * np.abs(small[:, :, None] - small[:, None, :]).mean((1, 2))
    np.testing.assert_allclose(crps_ensemble(small, y), brute, rtol=1e-10)
    # a biased ensemble scores worse than a calibrated one
    assert crps_ensemble(x + 3, mu) > crps_ensemble(x, mu)


def test_score_events_separates_eastern_bloc():
    events = pd.DataFrame({
        "cutoff": 2010, "horizon": 5,
        "region": ["Russia", "Poland", "France", "Chile", "Peru", "Spain"],
        "p": [0.9, 0.1, 0.8, 0.2, 0.1, 0.5], "outcome": [0.0, 0.0, 1.0, 0.0, np.nan, 1.0],
    })
    events["group"] = np.where(events["region"].isin(EASTERN_BLOC_1990), "eastern_bloc", "other")
    scores = score_events(events)
    row = scores[(scores["cutoff"] == 2010) & (scores["group"] == "all")].iloc[0]
    assert row["n"] == 5  # the undecidable row is left out
    assert scores[(scores["cutoff"] == 2010) & (scores["group"] == "eastern_bloc")].iloc[0]["n"] == 2
    assert scores[(scores["cutoff"] == 2010) & (scores["group"] == "other")].iloc[0]["auc"] == 1.0


# ----------------------------------------------------------------------------- peak rule
YEARS = np.arange(1990, 2024)


def _series(values) -> pd.Series:
    return pd.Series(values, index=YEARS, dtype=float)


def test_peak_rule_rising_series_has_not_peaked():
    assert observed_peak(_series(100 * 1.03 ** (YEARS - 1990))) is None


def test_peak_rule_peak_2005_then_20_percent_decline():
    values = np.where(YEARS <= 2005, 100 + 2.0 * (YEARS - 1990), 130 * (1 - 0.2 * (YEARS - 2005) / 18))
    s = _series(values)
    assert s.iloc[-1] / s.max() == pytest.approx(0.8, abs=0.01)
    assert observed_peak(s) in (2004, 2005, 2006)  # the smoothed maximum sits at the kink
    assert observed_peak(s, min_drop=0.25) is None  # a 20 % drop does not meet a 25 % threshold
    out = event_outcome(s, 2000, 10)
    assert out[0] == 1.0 and out[1] == "peaked_after_cutoff"
    assert event_outcome(s, 2010, 5)[:2] == (0.0, "peaked_before_cutoff")
    assert event_outcome(s, 1990, 5)[0] == 0.0  # peak after the window


def test_peak_rule_plateau_has_not_peaked():
    rng = np.random.default_rng(5)
    values = np.where(YEARS <= 2005, 100 + 2.0 * (YEARS - 1990), 130) + rng.normal(0, 1, len(YEARS))
    assert observed_peak(_series(values)) is None  # no 15 % drop


def test_peak_rule_peak_too_recent():
    values = np.where(YEARS <= 2018, 100 + 2.0 * (YEARS - 1990), 156 * 0.7)
    assert observed_peak(_series(values)) is None  # maximum after 2013: too recent to confirm
    assert observed_peak(_series(values), min_years_before_end=3) is not None
    # undecidable: the running maximum lies inside (2015, 2020]
    assert event_outcome(_series(values), 2015, 5)[1] == "undecidable"
    # decidable "no": the maximum after 2015 cannot move back into (2005, 2010]
    assert event_outcome(_series(values), 2005, 5)[:2] == (0.0, "not_peaked")


def test_peak_rule_validates_window():
    with pytest.raises(InputError):
        observed_peak(_series(np.ones(len(YEARS))), window=4)


# ----------------------------------------------------------------------------- real data
def test_small_real_backtest(shared_data_dir, tmp_path, monkeypatch):
    from forecast.evaluation.backtest import run_backtest
    from forecast.evaluation.backtest_report import write_backtest
    from forecast.run.study import default_study_path, load_study

    regions = ["United States", "Germany", "China", "India", "Poland", "Russia", "Brazil", "United Kingdom"]
    study = load_study(default_study_path())
    kwargs = dict(data_dir=shared_data_dir, regions=regions, draws=60, tune=100, forecast_draws=200, seed=3,
                  model="ekc", scenario="history", checkpoint_dir=tmp_path / "ck")
    # 1980: before the study's own 1990 start -- a rolling 33-year window (1948-1980) makes it possible
    result = run_backtest(study, [1980, 2010], **kwargs)
    assert result.fits.set_index("cutoff")["fit_start"].to_dict() == {1980: 1948, 2010: 1978}
    ev = result.events
    assert list(ev.columns) == ["cutoff", "horizon", "region", "group", "p", "outcome", "status", "observed_peak"]
    assert set(ev["region"]) == set(regions) and set(ev["horizon"]) == {0, 5, 10}
    for _, cell in ev.groupby(["cutoff", "horizon"]):
        assert cell["region"].is_unique  # one row per region and event
        decided = cell[cell["outcome"].notna()]
        assert set(decided["status"]) <= {"peaked_before_cutoff", "peaked_after_cutoff", "not_peaked"}
        assert (cell.loc[cell["outcome"].isna(), "status"] == "undecidable").all()
    assert ev["p"].between(0, 1).all()
    assert set(ev.loc[ev["region"].isin(["Poland", "Russia"]), "group"]) == {"eastern_bloc"}
    # the UK and Germany peaked long before 2010 by the rule; China had not by 2010 + 5
    uk = ev[(ev["region"] == "United Kingdom") & (ev["cutoff"] == 2010)].set_index("horizon")
    assert uk.loc[5, "status"] == "peaked_before_cutoff" and uk.loc[5, "outcome"] == 0.0
    assert uk.loc[0, "outcome"] == 1.0 and uk.loc[0, "p"] > 0.5  # already peaked, and the forecast leans that way
    china = ev[(ev["region"] == "China") & (ev["cutoff"] == 2010)].set_index("horizon")
    assert china.loc[0, "outcome"] == 0.0 and china.loc[0, "p"] < 0.1
    lv = result.region_levels
    assert set(lv["lead"]) == {5, 10} and len(lv) == 2 * 2 * len(regions)
    total = result.total_levels  # one sum-of-regions row per (cutoff, lead): the regions' draws summed
    assert len(total) == 2 * 2
    for r in total.itertuples():
        assert r.observed == pytest.approx(lv[(lv["cutoff"] == r.cutoff) & (lv["lead"] == r.lead)]["observed"].sum())
    assert ((lv["q05"] <= lv["median"]) & (lv["median"] <= lv["q95"])).all() and (lv["crps"] >= 0).all()
    pk = result.peaks
    assert ((pk["observed_peak"] > pk["cutoff"]) & (pk["lead"] == pk["observed_peak"] - pk["cutoff"])).all()
    assert pk["pit"].between(0, 1).all() and (pk["width_90"] >= 0).all()
    scores = result.scores(n_boot=50)
    assert {"event", "level"} <= set(scores["kind"])
    auc10 = scores[(scores["target"] == "peak within 10 y") & (scores["statistic"] == "auc")].iloc[0]
    assert np.isnan(auc10["estimate"]) or auc10["low"] <= auc10["estimate"] <= auc10["high"]
    summary = result.summary()
    assert "2010" in summary.index and "cov90_5y" in summary.columns and "skill_peaked" in summary.columns
    out = write_backtest(result, tmp_path / "bt", command="test")
    for name in ("backtest.md", "events.csv", "levels.csv", "scores.csv", "targets.csv", "provenance.json",
                 "reliability.png", "pit.png"):
        assert (out / name).is_file(), name
    assert "peak rule" in (out / "backtest.md").read_text().lower()
    prov = __import__("json").loads((out / "provenance.json").read_text())
    assert len(prov["data_sha256"]) == 64 and prov["seed"] == 3 and prov["package_version"]
    assert len(pd.read_csv(out / "events.csv")) == len(ev)

    # resume: a second run with the same settings reuses every saved cutoff and samples nothing
    import forecast.run.pipeline as pipeline

    monkeypatch.setattr(pipeline, "fit_model", lambda *a, **k: pytest.fail("refitted a saved cutoff"))
    again = run_backtest(study, [1980, 2010], **kwargs)
    pd.testing.assert_frame_equal(again.events, result.events)
    with pytest.raises(pytest.fail.Exception):  # other settings do not reuse the checkpoint
        run_backtest(study, [2010], **{**kwargs, "seed": 4})


# ----------------------------------------------------------------------------- CLI
SMALL_STUDY = __import__("pathlib").Path(__file__).resolve().parent / "fixtures" / "small" / "study.toml"


def _main(monkeypatch, *args) -> int:
    import sys

    import forecast.cli as cli

    import warnings

    monkeypatch.setattr(sys, "argv", ["carbon-forecast", *map(str, args)])
    with warnings.catch_warnings():  # main() installs warning filters; keep them out of other tests
        try:
            cli.main()
        except SystemExit as exit_:
            return exit_.code if isinstance(exit_.code, int) else 1
    return 0


def test_cli_backtest_bad_cutoff_exits_2_before_sampling(monkeypatch, capsys, tmp_path, shared_data_dir):
    from forecast.models.ekc import EKCModel

    monkeypatch.setattr(EKCModel, "fit", lambda *a, **k: pytest.fail("sampling started"))
    code = _main(monkeypatch, "backtest", SMALL_STUDY, "--cutoff", "2030", "--out", tmp_path / "bt",
                 "--data-dir", shared_data_dir, "--quiet")
    assert code == 2
    assert "cutoff" in capsys.readouterr().err
    assert not (tmp_path / "bt").exists()


def test_cli_backtest_writes_outputs(monkeypatch, capsys, tmp_path, shared_data_dir):
    code = _main(monkeypatch, "backtest", SMALL_STUDY, "--cutoff", "2012", "--out", tmp_path / "bt",
                 "--data-dir", shared_data_dir, "--draws", "50", "--tune", "80", "--forecast-draws", "100",
                 "--seed", "2")
    assert code == 0, capsys.readouterr().err
    err = capsys.readouterr()
    assert "Backtest ekc/history" in err.out and "targets met" in err.out
    events = pd.read_csv(tmp_path / "bt" / "events.csv")
    assert set(events["region"]) == {"China", "India", "United States", "Germany", "Japan"}
    assert (tmp_path / "bt" / "reliability.png").stat().st_size > 1000


def test_comparison_table_picks_the_better_variant_per_metric():
    from forecast.evaluation.backtest import comparison_table

    def scores(auc_10, skill_10, cov90):
        return pd.DataFrame([
            {"kind": "event", "target": "peak within 10 y", "statistic": "auc", "estimate": auc_10, "low": 0, "high": 1},
            {"kind": "event", "target": "peak within 10 y", "statistic": "brier_skill", "estimate": skill_10,
             "low": 0, "high": 1},
            {"kind": "level", "target": "5 y ahead", "statistic": "coverage_90", "estimate": cov90, "low": 0, "high": 1},
        ])

    table = comparison_table({"a": scores(0.7, 0.2, 0.80), "b": scores(0.8, 0.1, 0.93)})
    table = table.set_index(["target", "statistic"])
    assert table.loc[("peak within 10 y", "auc"), "best"] == "b"            # higher is better
    assert table.loc[("peak within 10 y", "brier_skill"), "best"] == "a"
    assert table.loc[("5 y ahead", "coverage_90"), "best"] == "b"          # closest to nominal 0.9
    assert np.isnan(table.loc[("peak within 5 y", "auc"), "a"])             # missing statistic stays missing


def test_cli_backtest_compares_models_on_the_same_cutoffs(monkeypatch, capsys, tmp_path, shared_data_dir):
    code = _main(monkeypatch, "backtest", SMALL_STUDY, "--cutoff", "2012", "--out", tmp_path / "cmp",
                 "--data-dir", shared_data_dir, "--draws", "50", "--tune", "80", "--forecast-draws", "100",
                 "--seed", "2", "--model", "ekc", "--model", "kaya", "--model", "ekc",
                 "--scenario", "history", "--scenario", "drivers", "--scenario", "drivers")
    assert code == 0, capsys.readouterr().err
    table = pd.read_csv(tmp_path / "cmp" / "comparison.csv")
    assert {"ekc/history", "kaya/drivers", "ekc/drivers"} <= set(table.columns)
    for folder in ("ekc-history", "kaya-drivers", "ekc-drivers"):
        events = pd.read_csv(tmp_path / "cmp" / folder / "events.csv")
        assert set(events["region"]) == {"China", "India", "United States", "Germany", "Japan"}
    levels = {v: pd.read_csv(tmp_path / "cmp" / v / "levels.csv") for v in ("ekc-history", "ekc-drivers")}
    # the same EKC fit, different scenarios: the forecasts must differ
    assert not np.allclose(levels["ekc-history"]["median"], levels["ekc-drivers"]["median"])
    assert "comparison" in (tmp_path / "cmp" / "comparison.md").read_text().lower()


def test_cli_backtest_bad_variant_exits_2(monkeypatch, capsys, tmp_path, shared_data_dir):
    code = _main(monkeypatch, "backtest", SMALL_STUDY, "--model", "arima", "--out", tmp_path / "x",
                 "--data-dir", shared_data_dir, "--quiet")
    assert code == 2 and "arima" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


# ----------------------------------------------------------------------------- new events and scores
def test_already_peaked_outcome():
    values = np.where(YEARS <= 2005, 100 + 2.0 * (YEARS - 1990), 130 * (1 - 0.2 * (YEARS - 2005) / 18))
    s = _series(values)
    assert event_outcome(s, 2010, 0)[:2] == (1.0, "peaked_before_cutoff")
    assert event_outcome(s, 2000, 0)[:2] == (0.0, "peaked_after_cutoff")
    rising = _series(100 * 1.03 ** (YEARS - 1990))
    assert event_outcome(rising, 2005, 0)[:2] == (0.0, "not_peaked")  # new highs after the cutoff
    plateau = _series(np.where(YEARS <= 2005, 100 + 2.0 * (YEARS - 1990), 130.0))
    assert event_outcome(plateau, 2015, 0)[1] == "undecidable"  # no new high, but no confirmed peak either


def test_log_score_and_pit():
    from forecast.evaluation.scores import log_score, pit

    assert log_score([0.5, 0.5], [1, 0]) == pytest.approx(math.log(2))
    assert log_score([1.0], [0]) == pytest.approx(-math.log(1e-3))  # clipped, finite
    rng = np.random.default_rng(1)
    draws = rng.normal(size=(4000, 300))
    values = pit(draws, rng.normal(size=4000))
    hist = np.histogram(values, bins=10, range=(0, 1))[0]
    assert hist.min() > 300 and hist.max() < 500  # uniform for a calibrated ensemble (400 per bin)
    assert pit(np.array([2000, 2001, 2001, 2002]), 2001) == pytest.approx(0.25 + 0.25)


def test_cluster_bootstrap_resamples_whole_cutoffs():
    from forecast.evaluation.scores import cluster_bootstrap

    frame = pd.DataFrame({"cutoff": np.repeat([1, 2, 3, 4], 5), "x": np.repeat([0.0, 1.0, 2.0, 3.0], 5)})
    t = cluster_bootstrap(frame, {"mean": lambda f: f["x"].mean()}, n_boot=400, seed=0).iloc[0]
    assert t["estimate"] == 1.5 and t["low"] < 1.5 < t["high"] and t["clusters"] == 4
    one = cluster_bootstrap(frame[frame["cutoff"] == 1], {"mean": lambda f: f["x"].mean()}, n_boot=10).iloc[0]
    assert one["estimate"] == 0.0 and np.isnan(one["low"])  # one cluster: no interval to be had


def test_paired_differences_of_a_model_with_itself_are_zero_and_unresolved():
    from forecast.evaluation.backtest import BacktestResult, paired_differences

    rng = np.random.default_rng(0)
    n = 60
    events = pd.DataFrame({"cutoff": np.repeat([1990, 1995, 2000], n // 3), "horizon": 10,
                           "region": [f"r{i}" for i in range(n)], "group": "other", "p": rng.uniform(size=n),
                           "outcome": rng.integers(0, 2, size=n).astype(float), "status": "x",
                           "observed_peak": pd.NA})
    empty = pd.DataFrame(columns=["cutoff", "region", "crps"])
    a = BacktestResult(events=events, levels=pd.DataFrame(), peaks=empty)
    better = events.assign(p=events["outcome"] * 0.9 + 0.05)
    out = paired_differences({"a": a, "same": a, "sharp": BacktestResult(events=better, levels=pd.DataFrame(),
                                                                          peaks=empty)}, n_boot=200)
    same = out[out["variant"] == "same"].set_index("statistic")
    assert (same["estimate"] == 0).all() and not same["resolved"].any()
    sharp = out[out["variant"] == "sharp"].set_index("statistic")
    assert sharp.loc["brier", "estimate"] < 0 and sharp.loc["brier", "resolved"]


def test_parse_cutoffs():
    from forecast.evaluation.backtest import parse_cutoffs

    assert parse_cutoffs("1970:1979:3") == [1970, 1973, 1976, 1979]
    assert parse_cutoffs("2000,2005") == [2000, 2005]
    with pytest.raises(InputError, match="START:STOP"):
        parse_cutoffs("1970:x")


# ----------------------------------------------------------------------------- the report shows the backtest
def _fake_result(model="ekc") -> "BacktestResult":
    from forecast.evaluation.backtest import BacktestResult, PEAK_COLUMNS

    rng = np.random.default_rng(2)
    rows = []
    for cutoff in (1990, 1995, 2000):
        for h in (0, 5, 10):
            for i in range(30):
                o = float(rng.uniform() < 0.3)
                rows.append({"cutoff": cutoff, "horizon": h, "region": f"r{i}", "group": "other",
                             "p": float(np.clip(0.3 * o + rng.uniform(0, 0.5), 0, 1)), "outcome": o,
                             "status": "not_peaked", "observed_peak": pd.NA})
    peaks = pd.DataFrame([{"cutoff": 1990, "region": "r1", "group": "other", "observed_peak": 1998, "lead": 8,
                           "median": 2001, "q05": 1992, "q25": 1996, "q75": 2006, "q95": 2015, "in_50": False,
                           "in_90": True, "width_90": 23, "abs_error": 3, "crps": 2.5, "pit": 0.3, "p_censored": 0.0}],
                         columns=PEAK_COLUMNS)
    return BacktestResult(events=pd.DataFrame(rows), levels=pd.DataFrame(), peaks=peaks,
                          fits=pd.DataFrame({"cutoff": [1990], "sampler_warnings": [0], "max_r_hat": [1.0],
                                             "min_ess_bulk": [500.0]}),
                          settings={"study": "small", "model": model, "scenario": "history",
                                    "cutoffs": [1990, 1995, 2000], "fit_years": 33, "last_data_year": 2023,
                                    "data_sha256": "0" * 64, "seed": 1, "window": 5})


def test_report_shows_the_backtest_of_the_study_model(tmp_path):
    from forecast.errors import StudyError
    from forecast.evaluation.backtest_report import write_backtest
    from forecast.run.stages.emissions import backtest_table
    from forecast.run.study import load_study

    write_backtest(_fake_result("ekc"), tmp_path / "bt", command="carbon-forecast backtest x")
    text = SMALL_STUDY.read_text().replace('type = "ekc"', 'type = "ekc"\nbacktest = "bt"')
    (tmp_path / "study.toml").write_text(text)
    table = backtest_table(load_study(tmp_path / "study.toml"))
    assert list(table["forecast"]) == ["P(already peaked)", "P(peak within 5 y)", "P(peak within 10 y)"]
    assert (table["decided forecasts"] == 90).all()
    assert "carbon-forecast backtest x" in table.attrs["description"]
    assert table.attrs["reliability_png"].endswith("reliability.png")
    # a backtest of another model is refused, naming the key
    write_backtest(_fake_result("kaya"), tmp_path / "bt", command="x")
    with pytest.raises(StudyError, match=r"\[model\] backtest.*'kaya'"):
        backtest_table(load_study(tmp_path / "study.toml"))
    (tmp_path / "study.toml").write_text(text.replace('backtest = "bt"', 'backtest = "nowhere"'))
    with pytest.raises(StudyError, match="not a backtest folder"):
        backtest_table(load_study(tmp_path / "study.toml"))


def test_uncertainty_table_follows_the_study_settings(tmp_path):
    from forecast.run.stages.emissions import uncertainty_table
    from forecast.run.study import load_study

    base = uncertainty_table(load_study(SMALL_STUDY)).set_index("source of uncertainty")["included"]
    assert base["model parameters (posterior, partially pooled across regions)"] == "yes"
    assert base["GDP and population paths"] == "no" and base["errors in historical emissions"] == "no"
    text = SMALL_STUDY.read_text().replace('type = "history"', 'type = "drivers"').replace(
        "degree = 2", "degree = 2\nmeasurement_error = 0.05")
    (tmp_path / "study.toml").write_text(text)
    other = uncertainty_table(load_study(tmp_path / "study.toml")).set_index("source of uncertainty")["included"]
    assert other["GDP and population paths"] == "yes" and other["errors in historical emissions"] == "yes"
    assert base["a decarbonisation rate that changes over time"] == "no"
    walk = text.replace('type = "ekc"', 'type = "kaya"\ncommon_drift = true')
    (tmp_path / "study.toml").write_text(walk)
    table = uncertainty_table(load_study(tmp_path / "study.toml")).set_index("source of uncertainty")["included"]
    assert table["a decarbonisation rate that changes over time"] == "yes"


# ----------------------------------------------------------------------------- China's provinces
def test_provinces_backtest_scores_ceads_at_short_leads(shared_data_dir, tmp_path):
    """A china_provinces study is scored against CEADs CO2 (to 2019): fit windows start in 2004 (the first
    GDP year), levels 1-3 years after the cutoff, only the 'already peaked' event (the others cannot have
    outcome 1 with a 10-year confirmation after 2009), no peak-year rows; the settings name CEADs and the
    fitted files with their SHA-256."""
    from forecast.evaluation.backtest import run_backtest
    from forecast.evaluation.backtest_report import write_backtest
    from forecast.run.study import default_study_path, load_study

    study = load_study(default_study_path("china-provinces"))
    regions = ["Beijing", "Henan", "Xinjiang", "Inner Mongolia"]
    result = run_backtest(study, [2015], data_dir=shared_data_dir, regions=regions, draws=60, tune=100,
                          forecast_draws=200, seed=5, model="ekc", scenario="history")
    assert result.fits["fit_start"].tolist() == [2004]
    ev = result.events
    assert set(ev["horizon"]) == {0} and set(ev["region"]) == set(regions)
    raw = pd.read_csv(shared_data_dir / "china_ceads_province_co2.csv").set_index(["province", "year"])
    lv = result.region_levels
    assert sorted(lv["lead"].unique()) == [1, 2, 3] and sorted(lv["year"].unique()) == [2016, 2017, 2018]
    for r in lv.itertuples():
        assert r.observed == raw.loc[(r.region, r.year), "Scope_1_Total"]
    for r in result.total_levels.itertuples():  # the provinces' sum, the number national caps are set on
        assert r.observed == pytest.approx(sum(raw.loc[(p, r.year), "Scope_1_Total"] for p in regions))
    assert result.peaks.empty
    # Xinjiang and Inner Mongolia set new highs after 2015: decided 0
    decided = ev.set_index("region")
    assert decided.loc["Xinjiang", "outcome"] == 0.0 and decided.loc["Inner Mongolia", "outcome"] == 0.0
    s = result.settings
    assert s["observed_source"] == "CEADs" and s["event_horizons"] == [0] and s["level_leads"] == [1, 2, 3]
    assert {f["file"] for f in s["data_files"]} >= {"china_ceads_province_co2.csv", "china_wb_province_population.csv",
                                                   "china_nbs_province_gdp.csv"}
    out = write_backtest(result, tmp_path / "bt", command="test")
    text = (out / "backtest.md").read_text()
    assert "CEADs SHA-256" in text and "not scored" in text and "Sum of the fitted regions 3 years ahead" in text


def test_backtest_refuses_an_unscoreable_source_before_sampling(tmp_path):
    from forecast.evaluation.backtest import run_backtest
    from forecast.run.study import load_study

    (tmp_path / "study.toml").write_text('[study]\nname = "t"\n[data]\nsource = "panel.csv"\n')
    with pytest.raises(InputError, match="owid or china_provinces"):
        run_backtest(load_study(tmp_path / "study.toml"), [2010])


def test_reported_scale_puts_the_inventory_offset_back():
    """A forecast of true emissions (history and forecast moved by exp(-δ) per sample) is put back on the
    inventory's scale: exp(δ) from the last observed year, times the random inventory error (sd 0 here, so
    exact); a model without the offset is left alone."""
    import xarray as xr

    from forecast.evaluation.backtest import reported_scale

    class _Model:
        def __init__(self, offset):
            self._offset = offset

        def has_offset(self):
            return self._offset

        def measurement_sd(self, regions):
            return np.zeros(len(regions))

    years = np.arange(2014, 2020)
    delta = np.array([[0.05, -0.02], [0.0, 0.1], [-0.03, 0.04]])  # (sample, region)
    true = np.linspace(100, 120, len(years))[None, None, :] * np.ones((3, 2, 1))
    ds = xr.Dataset({"co2": (("sample", "region", "year"), true * np.exp(-delta)[:, :, None])},
                    coords={"sample": range(3), "region": ["A", "B"], "year": years})
    panel = pd.DataFrame({"region": ["A", "B"], "year": [2016, 2016], "co2": [true[0, 0, 2]] * 2})
    co2 = ds["co2"].values
    np.testing.assert_allclose(reported_scale(ds, _Model(True), panel, ["A", "B"], co2, seed=1), true, rtol=1e-12)
    assert reported_scale(ds, _Model(False), panel, ["A", "B"], co2, seed=1) is co2


def test_provinces_study_shows_its_ceads_backtest():
    """The provinces study's committed backtest (CEADs, short leads) is shown with its level coverage and
    without a claim about peak-year or 5/10-year events it could not score."""
    from forecast.run.stages.emissions import backtest_table
    from forecast.run.study import default_study_path, load_study

    table = backtest_table(load_study(default_study_path("china-provinces")))
    assert table["forecast"].tolist() == ["P(already peaked)"]
    text = table.attrs["description"]
    assert "CEADs" in text and "1 y ahead" in text and "3 y ahead" in text and "not scored" in text
    assert "6-10 years ahead" not in text


def test_sum_of_regions_is_scored_per_draw_and_kept_apart_from_the_regions():
    """The total row sums the regions' forecasts draw by draw (so perfectly correlated regions give a band
    twice as wide as one region's, independent ones about sqrt(2) times), only over regions observed that
    year, needs two of them, and is scored as its own kind: the regions' level scores do not count it."""
    from forecast.evaluation.backtest import TOTAL_GROUP, BacktestResult, _total_levels

    rng = np.random.default_rng(0)
    years = np.array([2017, 2018])
    z = rng.standard_normal((4000, 1, 2))
    together = np.concatenate([100 + 10 * z, 100 + 10 * z, 100 + 10 * rng.standard_normal((4000, 1, 2))], axis=1)
    apart = 100 + 10 * rng.standard_normal((4000, 3, 2))
    obs = pd.DataFrame({"A": [100.0, 101.0], "B": [100.0, 99.0], "C": [np.nan, 100.0]}, index=years)

    def width(reported, lead):
        [row] = [r for r in _total_levels(2016, [lead], obs, ["A", "B", "C"], reported, years, 2018)]
        return row, row["q95"] - row["q05"]

    row, correlated = width(together, 1)
    assert row["observed"] == 200.0 and row["group"] == TOTAL_GROUP  # C is not observed in 2017
    np.testing.assert_allclose(row["median"], np.median(together[:, :2, 0].sum(axis=1)))
    _, independent = width(apart, 1)
    assert correlated / independent == pytest.approx(np.sqrt(2), rel=0.1)
    row, _ = width(together, 2)
    assert row["observed"] == 300.0  # all three observed in 2018
    assert _total_levels(2016, [1], obs[["A"]], ["A", "B"], together, years, 2018) == []  # one region only
    regional = [{"cutoff": 2016, "lead": 1, "year": 2017, "region": r, "group": "other", "observed": 1.0,
                 "q05": 0.0, "q25": 0.5, "median": 1.0, "q75": 1.5, "q95": 2.0, "in_50": True, "in_90": True,
                 "crps": 0.1, "crps_relative": 0.1, "crps_log": 0.1} for r in ("A", "B")]
    total = _total_levels(2016, [1], obs, ["A", "B", "C"], together, years, 2018)
    result = BacktestResult(events=pd.DataFrame(columns=["cutoff", "horizon", "region", "group", "p", "outcome"]),
                            levels=pd.DataFrame(regional + total), peaks=pd.DataFrame())
    assert int(result.level_scores.query("group == 'all'")["n"].sum()) == 2
    scores = result.scores(n_boot=50)
    assert set(scores["kind"]) == {"level", "total"}
    assert scores.query("kind == 'level' and statistic == 'n'")["estimate"].item() == 2
