"""The uncertainty chain: emission factors -> inventory -> emission model -> peak year.

A synthetic world with a known inventory error: four regions burn coal and gas; the inventory uses the IPCC
default coal factor while the true coal factor is 6 % higher (a systematic error, the same every year), and
activity statistics err by 1 % a year (random). Measured coal factors inform an EmissionFactorModel; its
posterior sets the prior of each region's persistent offset δ in the EKC. Small fits (4 regions x 30 years).
"""

from __future__ import annotations

import math
import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest

from forecast import EKCModel, Scenario
from forecast.errors import InputError, SamplerWarning
from forecast.models.emission_factors import EmissionFactorModel
from forecast.models.measurement import OFFSET
from forecast.policy.inventory import (
    ceads_source_correlation,
    factor_multipliers,
    inventory_error_split,
)
from forecast.projection.propagate import forecast_emissions, simulate_growth
from forecast.projection.waterfall import STAGES, stage_forecast, uncertainty_waterfall

COAL, GAS = "other_bituminous_coal", "natural_gas"
COAL_SHARE = 0.8  # of reported emissions
COAL_BIAS = 1.06  # true coal factor / the default the inventory used
TRUE_OFFSET = -math.log(COAL_SHARE * COAL_BIAS + (1 - COAL_SHARE))  # log(reported / true) = -0.0469
RANDOM_SD = 0.01  # activity-data error, log units, independent each year
SIGMA = 0.03  # true growth-shock sd
N_REGIONS, N_IID_REGIONS, FIRST, LAST = 4, 10, 1990, 2019
X_CENTER = math.log(10_000.0)
FIT = {"draws": 400, "tune": 500, "chains": 2, "progress": False}


def _true_panel(seed: int = 3, n_regions: int = N_REGIONS) -> pd.DataFrame:
    """True emissions from the growth-form EKC (normal AR(1) shocks), rising slowly at the end."""
    rng = np.random.default_rng(seed)
    n_years = LAST - FIRST + 1
    N_REGIONS = n_regions  # the module constant's role, for this panel
    x = np.cumsum(np.full((N_REGIONS, n_years), 0.03) + rng.normal(0, 0.01, (N_REGIONS, n_years)), axis=1)
    x += rng.uniform(-0.8, -0.2, (N_REGIONS, 1))
    params = {"drift": rng.normal(0.0, 0.002, N_REGIONS), "slope": np.full(N_REGIONS, 0.7),
              "sigma": np.full(N_REGIONS, SIGMA), "curvature": -0.05, "phi": 0.3, "drift_income": -0.01}
    y0 = rng.normal(1.5, 0.2, N_REGIONS)
    eps = rng.standard_normal((1, N_REGIONS, n_years - 1))
    y = simulate_growth(params, x=x[None, :, 1:], x0=x[:, 0], y0=y0, u0=0.0, shocks=eps)[0]
    y = np.concatenate([y0[:, None], y], axis=1)
    rows = [{"region": f"R{r}", "year": FIRST + t, "population": 1e7, "gdp_per_capita": math.exp(x[r, t] + X_CENTER),
             "co2_per_capita": math.exp(y[r, t])} for r in range(N_REGIONS) for t in range(n_years)]
    frame = pd.DataFrame(rows)
    frame["co2"] = frame["co2_per_capita"] * frame["population"] / 1e6
    frame["gdp"] = frame["gdp_per_capita"] * frame["population"]
    return frame


def _observed(true: pd.DataFrame, offset, seed: int = 4) -> pd.DataFrame:
    """The inventory: true emissions times exp(offset_region + e_it), e_it ~ N(0, RANDOM_SD)."""
    rng = np.random.default_rng(seed)
    off = true["region"].map(offset) if isinstance(offset, dict) else offset
    factor = np.exp(off + RANDOM_SD * rng.standard_normal(len(true)))
    return true.assign(co2=true["co2"] * factor, co2_per_capita=true["co2_per_capita"] * factor)


def _coal_measurements(seed: int = 5) -> pd.DataFrame:
    """20 measured coal factors and 10 gas factors of the region's own fuel (3 % and 2 % scatter)."""
    rng = np.random.default_rng(seed)
    coal = 94_600 * COAL_BIAS * np.exp(0.03 * rng.standard_normal(20))
    gas = 56_100 * np.exp(0.02 * rng.standard_normal(10))
    return pd.DataFrame({"category": [COAL] * 20 + [GAS] * 10, "region": "plant",
                         "value": np.concatenate([coal, gas])})


def _split(factors):
    mult = factor_multipliers([COAL, GAS], 4000, factors=factors, region="plant", random_seed=1)
    return inventory_error_split({"coal": COAL_SHARE, "gas": 1 - COAL_SHARE}, {"coal": COAL, "gas": GAS},
                                 {"coal": RANDOM_SD, "gas": RANDOM_SD}, mult, random_seed=2)


def _fit(panel, **errors):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplerWarning)
        return EKCModel(likelihood="normal", parameterization="non_centered", **errors).fit(panel, random_seed=7, **FIT)


@pytest.fixture(scope="module")
def factor_posterior():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplerWarning)
        return EmissionFactorModel().fit(_coal_measurements(), random_seed=3, draws=400, tune=500, chains=2,
                                         progress=False)


@pytest.fixture(scope="module")
def chain_fit(factor_posterior):
    """EKC fitted on the biased inventory with the offset prior from the factor posterior."""
    split = _split(factor_posterior).relative()
    observed = _observed(_true_panel(), TRUE_OFFSET)
    model = _fit(observed, measurement_error=split["random_error"], systematic_error=split["systematic_error"],
                 systematic_bias=split["systematic_bias"])
    return observed, model


@pytest.mark.slow
def test_inventory_split_recovers_the_factor_bias(factor_posterior):
    ipcc, fitted = _split("ipcc"), _split(factor_posterior)
    print(f"\ntrue offset {TRUE_OFFSET:+.4f}; IPCC prior: {ipcc.bias:+.4f} ± {ipcc.systematic_sd:.4f}; "
          f"factor posterior: {fitted.bias:+.4f} ± {fitted.systematic_sd:.4f}; random {fitted.random_sd:.4f}")
    # IPCC default factors know nothing of the bias: the truth lies outside their 94 % interval
    assert abs(TRUE_OFFSET - ipcc.bias) > 1.88 * ipcc.systematic_sd
    # the measured factors find it
    assert abs(TRUE_OFFSET - fitted.bias) < 1.88 * fitted.systematic_sd
    # the activity part is the random part, the same whichever factors are used
    assert fitted.random_sd == pytest.approx(ipcc.random_sd, rel=1e-12)


@pytest.mark.slow
def test_chain_recovers_the_offset(chain_fit):
    observed, model = chain_fit
    post = model.idata.posterior[OFFSET]
    hdi = az.hdi(post, hdi_prob=0.94)[OFFSET]
    print("\nrecovered offset (94% HDI):", {r: tuple(np.round(hdi.sel(region=r).values, 4)) for r in model.regions},
          f"truth {TRUE_OFFSET:+.4f}")
    assert ((hdi.sel(hdi="lower") < TRUE_OFFSET) & (TRUE_OFFSET < hdi.sel(hdi="higher"))).all()
    # the forecast's history is corrected for it: observed x exp(-δ) per sample
    scenario = Scenario.from_history(observed, horizon=2050)
    fc = forecast_emissions(model, scenario, observed, draws=400, random_seed=1)
    ratio = (fc.ds["co2"].sel(year=2010) / observed.set_index(["region", "year"])["co2"].xs(2010, level="year")
             .to_xarray()).mean("sample")
    np.testing.assert_allclose(ratio.values, np.exp(-post.mean(("chain", "draw")).values), rtol=0.01)


@pytest.mark.slow
def test_systematic_error_taken_as_iid_makes_intervals_too_narrow():
    """The same inventory error (5 % systematic, 1 % random) over ten regions, once as a persistent offset
    and once as independent year-to-year noise: the iid version explains real growth shocks away as
    measurement error, so the shock link of the forecast collapses."""
    rng = np.random.default_rng(11)
    offsets = {f"R{r}": float(v) for r, v in enumerate(rng.normal(0, 0.05, N_IID_REGIONS))}
    observed = _observed(_true_panel(seed=8, n_regions=N_IID_REGIONS), offsets, seed=9)
    scenario = Scenario.from_history(observed, horizon=2060)
    found = {}
    for label, errors in (("chain", {"measurement_error": RANDOM_SD, "systematic_error": 0.05}),
                          ("iid", {"measurement_error": math.hypot(0.05, RANDOM_SD)})):
        model = _fit(observed, **errors)
        hdi = az.hdi(model.idata.posterior["log_noise_mu"], hdi_prob=0.94)["log_noise_mu"].values
        shocks_only = stage_forecast(model, scenario, observed, ["R0"], STAGES[0], draws=600, random_seed=3)
        full = forecast_emissions(model, scenario, observed, draws=1000, random_seed=2)
        level = np.log(full.ds["co2"].sel(year=2030))
        found[label] = {"hdi": hdi, "shock_width": _width(shocks_only.peak_table().loc["R0"]),
                        "peak_width": _width(full.peak_table()).mean(),
                        "level_width": float((level.quantile(0.95, "sample") - level.quantile(0.05, "sample")).mean())}
        print(f"\n{label}: log sigma_mu 94% HDI {np.round(hdi, 3)} (truth {math.log(SIGMA):.3f}); R0 peak-year 90% "
              f"width, shocks only: {found[label]['shock_width']} y; all sources, mean over regions: "
              f"{found[label]['peak_width']:.1f} y; log 2030 level 90% width {found[label]['level_width']:.3f}")
    chain, iid = found["chain"], found["iid"]
    # the chain recovers the true shock size; the iid treatment puts it below its 94 % interval
    assert chain["hdi"][0] < math.log(SIGMA) < chain["hdi"][1]
    assert iid["hdi"][1] < math.log(SIGMA)
    # so its shock link of the peak-year interval and its level intervals are too narrow
    assert iid["shock_width"] < chain["shock_width"]
    assert iid["level_width"] < chain["level_width"]


def _width(table):
    return table["peak_year_q95"] - table["peak_year_q05"]


@pytest.mark.slow
def test_inventory_link_moves_levels_not_dynamics(chain_fit):
    """Stage 4 of the waterfall is stage 3 with every path moved by exp(-δ - e): the same shocks (same seed),
    a constant log ratio per sample whose mean and sd are those of the offset and the last-level error."""
    observed, model = chain_fit
    scenario = Scenario.from_history(observed, horizon=2060)
    before, after = (stage_forecast(model, scenario, observed, ["R0"], stage, draws=2000, random_seed=5)
                     for stage in STAGES[2:])
    future = before.ds["year"] > LAST
    ratio = np.log(after.ds["co2"].sel(year=future) / before.ds["co2"].sel(year=future)).sel(region="R0")
    np.testing.assert_allclose(ratio.std("year").values, 0.0, atol=1e-9)
    shift = ratio.isel(year=0).values
    delta = model.idata.posterior[OFFSET].sel(region="R0").values.ravel()
    m = model.measurement_sd(model.regions)[0]
    se = shift.std() / math.sqrt(len(shift))
    assert abs(shift.mean() + delta.mean()) < 4 * se
    assert shift.std() == pytest.approx(math.hypot(delta.std(), m), rel=4 / math.sqrt(2 * len(shift)))


@pytest.mark.slow
def test_waterfall_adds_one_link_at_a_time(chain_fit):
    observed, model = chain_fit
    scenario = Scenario.from_history(observed, horizon=2060)
    table = uncertainty_waterfall(model, scenario, observed, "R0", draws=600, random_seed=3)
    print("\n" + table.round(3).to_string())
    assert list(table["stage"]) == list(STAGES)
    assert (table["added_years"].cumsum() == table["width_90"]).all()
    assert table["width_90"].iloc[0] <= table["width_90"].iloc[-1]
    with pytest.raises(InputError, match="R9"):
        uncertainty_waterfall(model, scenario, observed, "R9")


def test_bad_offset_settings_fail_before_sampling():
    observed = _observed(_true_panel(), TRUE_OFFSET)
    with pytest.raises(InputError, match="systematic_error.*R7"):
        EKCModel(systematic_error={"R7": 0.05}).prepare(observed)
    with pytest.raises(InputError, match="systematic_bias"):
        EKCModel(systematic_bias=2.0).prepare(observed)
    with pytest.raises(InputError, match="systematic_error"):
        EKCModel(systematic_error=-0.1).prepare(observed)


def test_fuels_of_one_source_share_its_factor_error():
    r = ceads_source_correlation(["Raw_Coal", "Coke", "Natural_Gas"])
    np.testing.assert_array_equal(r, [[1, 1, 0], [1, 1, 0], [0, 0, 1]])
    mult = factor_multipliers([COAL], 20_000, random_seed=1)
    split = {rho: inventory_error_split({"a": 1.0, "b": 1.0}, {"a": COAL, "b": COAL}, {"a": 0.0, "b": 0.0}, mult,
                                        source_correlation=rho, random_seed=2).systematic_sd for rho in (0.0, 1.0)}
    # two equal fuels: a shared error keeps the full sd, independent errors divide it by sqrt(2)
    s = 0.028275  # priors/emission_factors.toml, other_bituminous_coal
    se = s / math.sqrt(2 * 20_000) * 4
    assert split[1.0] == pytest.approx(s, abs=se)
    assert split[0.0] == pytest.approx(s / math.sqrt(2), abs=se)
