"""Study files: the TOML schema, its validation and loading.

A study file says which data, model, priors, sampler settings, scenario and outputs one run uses. Every
section and key is checked before any data is read or any sampling starts: an unknown key (a typo),
a wrong type or an inconsistent value gives a :class:`~forecast.errors.StudyError` that names the file
and the key. Relative paths inside a study file are relative to the file's own folder.

See ``studies/global/study.toml`` for a commented example of every section.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from forecast.errors import StudyError, did_you_mean
from forecast.limits import MAX_CHAINS, MAX_DRAWS, YEAR_RANGE

SHIPPED_EMISSION_MODELS = ("ekc", "kaya", "stirpat")


def emission_model_name(value: str) -> str:
    """``value`` if it names an emission model (``kind = "emissions"``) in the model registry, else a
    :class:`StudyError` listing the registered ones."""
    if value in SHIPPED_EMISSION_MODELS:  # known without importing the model code
        return value
    from forecast.models import registered_models

    known = {n: c for n, c in registered_models().items() if c.kind == "emissions"}
    if value not in known:
        raise StudyError(f"unknown emission model {value!r}{did_you_mean(value, known, n=1)}; registered: {', '.join(sorted(known))}")
    return value

DEFAULT_STUDY = "global"


class _Section(BaseModel):
    # forbid unknown keys (typos), do not coerce types silently ("1000" is not an int here), and no NaN or
    # infinity in any number: every setting is checked here, before data are loaded or a model compiled
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


# physical and practical ranges of the settings (YEAR_RANGE, MAX_DRAWS, MAX_CHAINS: forecast/limits.py); the
# error message names the key and the range


def _years_in_range(values, key: str):
    bad = [y for y in values or [] if not YEAR_RANGE[0] <= y <= YEAR_RANGE[1]]
    if bad:
        raise ValueError(f"{key}: years must lie in {YEAR_RANGE[0]}-{YEAR_RANGE[1]}, got {bad}")
    return values


class StudyInfo(_Section):
    """``[study]``: what the study is called and the seed every random draw of the run derives from."""

    name: str = Field(description="Short identifier of the study: the default output folder is "
                      "`results/<name>` (reduced to letters, digits, `.`, `_` and `-`), and exports carry it")
    title: str = Field(default="", description="One-line heading of the report and the exports' title "
                       "attribute; empty = the name")
    description: str = Field(default="", description="What the study does and why, in a few sentences: the "
                             "report's opening paragraph (may span lines)")
    seed: int = Field(default=1, ge=0, lt=2**32, description="Random seed of the whole run (sampler, forecast "
                      "draws, scenarios, sink and inventory draws each use a fixed offset from it): the same seed, "
                      "data and versions give the same numbers")

    @field_validator("name", "title", "description")
    @classmethod
    def _printable(cls, value: str, info):
        # the name and title go into file attributes (NetCDF cannot store a NUL) and one-line headings;
        # a description may span lines
        allowed = "\n\r\t" if info.field_name == "description" else ""
        bad = sorted({c for c in value if (ord(c) < 32 or ord(c) == 127) and c not in allowed})
        if bad:
            raise ValueError(f"{info.field_name} contains control character(s) "
                             f"{', '.join(repr(c) for c in bad)}; use printable text")
        return value


class DataSection(_Section):
    """``[data]``: which emission panel (region x year: population, GDP, CO2) the models are fitted to."""

    source: str = Field(default="owid", description='`"owid"` (Our World in Data CO2 file, downloaded to the user '
                        'cache or found in `CARBON_FORECAST_DATA`), `"china_provinces"` (CEADs provincial CO2, NBS '
                        'regional GDP and World Bank population; not downloaded) or the path of a tidy '
                        'CSV/Parquet panel with columns `region, year, population` (people), `gdp` (int-$ 2011, '
                        'total), `co2` (Mt CO2/yr), relative to the study file')
    path: str | None = Field(default=None, description='`owid` only: the path of a local copy of the OWID CO2 file '
                             '(OWID format, relative to the study file) instead of the one located or downloaded; '
                             'for any other tidy panel use `source`')
    years: list[int] | None = Field(default=None, description="Fit window `[start, end]`, both years included; "
                                    "not set = every year of the source (`china_provinces`: its complete years, 2004-2016, or 2004-2019 with "
                                    "`extend_population`)")
    min_population: float | None = Field(default=None, ge=0, le=2e10, description="Keep only regions with at least "
                                         "this many people in every year of the window (people; not set = no "
                                         "filter)")
    regions: list[str] | None = Field(default=None, description="Keep only these regions (exact names as in the "
                                      "data; an unknown name is an error with close-match suggestions); not set = "
                                      "every region that passes the filters")
    exclude_regions: list[str] = Field(default=[], description="Drop these regions after loading (exact names; a "
                                       "name not in the data is an error)")
    min_years: int = Field(default=10, ge=3, description="Drop regions with fewer complete years (population, GDP "
                           "and CO2 > 0 all present) in the window; also the minimum the emission and driver models "
                           "accept per region")
    extend_population: Literal["none", "national_share"] = Field(default="none", description=(
        '`china_provinces` only: `"none"` = World Bank provincial population only (it ends in 2016, so the '
        'panel ends there too); `"national_share"` = extend it to 2019 (the end of CEADs CO2): the provinces\' '
        "total follows China's national population (OWID) and each province's share continues its log-linear "
        "trend of the last 5 years (`forecast.data.china.extended_population`; the extended province-years are "
        "flagged in the panel and the report's data notes, with the rule's error on a 2012-2016 holdout)"))
    later_emissions: bool = Field(default=True, description=(
        "Condition the forecast on emissions published after the fit window's last year while GDP is not yet "
        "(OWID: CO2 runs to 2023, GDP to 2022): those years take the observed emissions in every sample and "
        "count as observed for P(already peaked). false: forecast them like any other year."))

    @model_validator(mode="after")
    def _extension_needs_provinces(self):
        if self.extend_population != "none" and self.source != "china_provinces":
            raise ValueError(f'extend_population = "{self.extend_population}" applies to source = '
                             f'"china_provinces" only (source is "{self.source}")')
        return self

    @field_validator("years")
    @classmethod
    def _ordered(cls, value):
        if value is not None and (len(value) != 2 or value[0] >= value[1]):
            raise ValueError(f"years must be [start, end] with start < end, got {list(value)}")
        return _years_in_range(value, "years")


class ModelSection(_Section):
    """``[model]``: the emission model and its structural choices. A key marked *EKC only* or *Kaya only* may
    stay at its default under the other model (a study can switch ``type``); another value there is an
    error naming the key."""

    type: str = Field(default="ekc", description='`"ekc"`: hierarchical EKC in growth form '
                      '(`forecast/models/ekc.py`); `"kaya"`: population x GDP per capita x carbon intensity '
                      '(`forecast/models/kaya.py`; `degree`, `varying_curvature` and `varying_drift` do not apply); '
                      '`"stirpat"`: emissions from population, GDP per capita and energy intensity with fitted '
                      'elasticities (`forecast/models/stirpat.py`; OWID data only, regions without energy data are '
                      'dropped; takes `residuals`, `likelihood`, `parameterization`, `varying_elasticities`, '
                      '`technology_income`, `drift_income`); or the name of any emission model registered through '
                      '`forecast.models.base.BayesianModel` (`kind = "emissions"`)')
    degree: Literal[2, 3] = Field(default=2, description="EKC only: degree of the income polynomial, 2 = quadratic "
                                  "(inverted U), 3 = cubic")
    residuals: Literal["ar1", "iid"] = Field(default="ar1", description='Growth shocks: `"ar1"` = persistent (each '
                                             "year's shock carries a fitted share of the last one), `\"iid\"` = "
                                             "independent from year to year")
    likelihood: Literal["studentt", "normal"] = Field(default="studentt", description='Distribution of the yearly '
                                                      'shocks: `"studentt"` (heavy tails: wars, collapses, the '
                                                      'pandemic do not drag the fit) or `"normal"`')
    parameterization: (Literal["mixed", "centered", "non_centered"]
                       | dict[Literal["drift", "slope", "curvature", "log_noise"], Literal["centered", "non_centered"]]) = Field(
        default="mixed", description='How the partially pooled terms are sampled (same posterior, different speed): '
        '`"mixed"` (drifts non-centred, slopes and shock scales centred: measured fastest on the country panel, '
        '`benchmarks/sampler_ess.py`), `"centered"`, `"non_centered"`, or a table term -> form for the terms '
        '`drift`, `slope`, `curvature`, `log_noise`')
    varying_curvature: bool = Field(default=False, description="EKC only: let the quadratic coefficient vary by "
                                    "region (partially pooled) instead of one shared curvature")
    varying_drift: bool = Field(default=True, description="EKC only: region-specific drifts (the trend of log "
                                "per-capita CO2 at constant income), partially pooled; false = one drift for all")
    drift_income: bool = Field(default=True, description="Let the drift depend on last year's income level, so "
                               "decarbonisation can speed up as regions get richer (what lets the curve turn)")
    turning_point_growth: float = Field(default=0.02, gt=0, lt=0.2, description="GDP-per-capita growth (log units "
                                        "per year) of the steady path along which the income turning point is read "
                                        "(report's turning-point table)")
    common_shocks: bool = Field(default=False, description="A year effect shared by all regions in the growth "
                                "(Kaya: of carbon intensity; EKC: of per-capita CO2; oil shocks, recessions, the "
                                "pandemic, national policy for provinces), fitted jointly and drawn "
                                "anew for each forecast year, the same for every region of a draw, so regional "
                                "forecasts are correlated and sums of regions carry their spread; false = "
                                "independent shocks per region (the model the default study's results were "
                                "computed with)")
    common_drift: bool = Field(default=False, description="Kaya only: a time-varying decarbonisation rate, every "
                               "region's drift moving by a random walk shared by all regions (small innovation sd, "
                               "prior `kaya.common_drift_sd`), continued in the forecasts")
    varying_elasticities: bool = Field(default=True, description="STIRPAT only: affluence and technology "
                                       "(energy-intensity) elasticities per region, partially pooled; false = one "
                                       "of each for all regions (the population elasticity is always shared)")
    technology_income: bool = Field(default=True, description="STIRPAT only: let the forecast energy-intensity "
                                    "path fall faster in years of faster GDP-per-capita growth (a fitted, shared "
                                    "coefficient); false = a pure drift walk per region")
    measurement_error: float | dict[str, float] | Literal["inventory"] = Field(
        default=0.0, description='Relative 1-sigma year-to-year error of the historical emissions (0 = exact, '
        '0.05 = 5 %), in [0, 1): one number, a table `{region = number}`, or `"inventory"` (China provinces: from '
        "the IPCC Approach 2 uncertainty of each province's CEADs fuel inventory)")
    compare_measurement_error: bool = Field(default=False, description="Also fit without the measurement error and "
                                            "report the peak-year intervals of both fits side by side")
    priors: dict[str, dict[str, Any]] = Field(default={}, description='Prior overrides by name from the prior '
                                              'library (`priors/ekc.toml`, `priors/kaya.toml`, '
                                              '`priors/stirpat.toml`), e.g. '
                                              '`"ekc.slope_mu" = { params = { mu = 0.7, sigma = 0.3 } }`; an '
                                              'unknown name is an error')
    rationale: str = Field(default="", description="Why this emission model: a sentence shown in the report")
    comparison: str | None = Field(default=None, description="A backtest comparison table (CSV written by "
                                   "`carbon-forecast backtest --model ekc --model kaya`, relative to the study "
                                   "file) shown next to the rationale")
    backtest: str | None = Field(default=None, description="A backtest folder of this emission model (written by "
                                 "`carbon-forecast backtest`, relative to the study file): its scores and "
                                 "reliability diagram are shown next to the forecast")

    @field_validator("measurement_error")
    @classmethod
    def _relative_sd(cls, value):
        values = value.values() if isinstance(value, dict) else [] if value == "inventory" else [value]
        bad = [v for v in values if not 0 <= v < 1]
        if bad:
            raise ValueError(f"measurement_error is a relative 1-sigma error in [0, 1), got {bad}")
        return value

    @field_validator("type")
    @classmethod
    def _registered_emission_model(cls, value: str) -> str:
        try:
            return emission_model_name(value)
        except StudyError as err:
            raise ValueError(str(err)) from None


class InventorySection(_Section):
    """How the emission inventory's uncertainty enters the emission model (China provinces: each province's
    CEADs fuel inventory; see forecast/models/measurement.py and forecast/policy/inventory.py)."""

    feeds_model: bool = Field(default=False, description="true: split each region's inventory uncertainty the IPCC "
                              "way (Vol. 1 Ch. 3, Table 3.2) into a systematic part (emission factors: one persistent "
                              "level offset per region) and a random part (activity data: year-to-year noise), and "
                              "fit the emission model with both")
    factors: str = Field(default="ipcc", description='The emission-factor draws: `"ipcc"` (IPCC 2006 Table 1.4 '
                         'ranges, `priors/emission_factors.toml`) or the path of a fitted `EmissionFactorModel` '
                         'saved with `.save()` (its posterior; relative to the study file)')
    year: int | None = Field(default=None, ge=YEAR_RANGE[0], le=YEAR_RANGE[1], description="Inventory year whose "
                             "fuel mix sets the split; not set = the panel's last year")
    source_correlation: float = Field(default=1.0, ge=0, le=1, description="Correlation of the factor errors of "
                                      "fuels that share a source (the coal types): 1 = one shared error, 0 = "
                                      "independent")
    draws: int = Field(default=4000, ge=100, le=MAX_DRAWS, description="Monte Carlo draws of activities and factors "
                       "used to compute each region's error split (more = a steadier split, slower)")


class SamplerSection(_Section):
    """``[sampler]``: the NUTS sampler of the emission model (and of the driver models; the land-sink model
    keeps its own draws and tune in ``[sinks]``)."""

    name: Literal["nutpie", "pymc", "numpyro"] = Field(default="nutpie", description='NUTS implementation: '
                                                       '`"nutpie"` (fastest here, `benchmarks/sampler_ess.py`), '
                                                       '`"pymc"` (PyMC\'s own) or `"numpyro"` (needs the `bench` '
                                                       'extra: JAX and NumPyro)')
    draws: int = Field(default=1000, ge=1, le=MAX_DRAWS, description="Posterior draws kept per chain")
    tune: int = Field(default=1000, ge=1, le=MAX_DRAWS, description="Warm-up (adaptation) draws per chain, discarded")
    chains: int = Field(default=2, ge=1, le=MAX_CHAINS, description="Independent chains, run in parallel (one "
                        "process per chain, at most the CPU count); R-hat needs at least 2")
    target_accept: float = Field(default=0.9, gt=0, lt=1, description="NUTS target acceptance rate: higher = "
                                 "smaller steps, fewer divergences, slower sampling")

    @field_validator("name")
    @classmethod
    def _installed(cls, value):
        import importlib.util

        missing = [m for m in {"numpyro": ("jax", "numpyro")}.get(value, ()) if importlib.util.find_spec(m) is None]
        if missing:
            raise ValueError(f"sampler {value!r} needs {' and '.join(missing)}: pip install -e \".[bench]\", "
                             "or use nutpie or pymc")
        return value


class ScenarioSection(_Section):
    """``[scenario]``: the paths of GDP per capita and population the emission forecasts are pushed through
    (see ``forecast/scenarios/``). Growth rates are log changes per year (0.015 = about 1.5 %/yr). The keys
    ``window`` .. ``population_growth_sd`` set the history scenario, which the drivers scenario also uses for
    what its models do not draw."""

    type: Literal["history", "csv", "drivers"] = Field(default="history", description='`"history"`: recent growth '
                                                       'decaying toward a long-run rate; `"csv"`: user paths from '
                                                       '`path`; `"drivers"`: probabilistic GDP per capita '
                                                       '(convergence to a frontier, `forecast/models/gdp.py`) and '
                                                       'population (`forecast/models/population.py`) fitted to the '
                                                       "study's panel")
    path: str | None = Field(default=None, description='`csv` only (required there): a CSV or Parquet with columns '
                             '`region, year, gdp_per_capita` (int-$ 2011 per person), `population` (people) and '
                             'optionally `sample` (draw id), covering every forecast year; relative to the study '
                             'file')
    gdp_frontier: str = Field(default="United States", description='`drivers` only: the frontier region that GDP '
                              'per capita converges toward (`""` = the richest region of the panel)')
    population_window: int = Field(default=15, ge=5, le=100, description="`drivers` only: years of recent "
                                   "population growth the population trend is fitted on")
    driver_priors: dict[str, dict[str, Any]] = Field(default={}, description='`drivers` only: prior overrides of '
                                                     'the driver models by name, each starting with `gdp.` or '
                                                     '`population.`, e.g. `"gdp.frontier_growth" = { params = '
                                                     '{ mu = 0.015, sigma = 0.01 } }`')
    horizon: int = Field(default=2060, ge=1900, le=2300, description="Last forecast year (included)")
    window: int = Field(default=10, ge=3, le=100, description="Years of history whose mean GDP-per-capita and "
                        "population growth start each region's path (and whose spread sets its yearly shocks)")
    # -5 %/yr to +10 %/yr spans every long-run rate on record
    long_run_growth: float = Field(default=0.015, ge=-0.05, le=0.10, description="Long-run GDP-per-capita growth "
                                   "(log units per year) every region's growth decays toward; one draw per sample, "
                                   "shared by all regions")
    long_run_growth_sd: float = Field(default=0.005, ge=0, le=0.05, description="Standard deviation of that "
                                      "long-run growth (log units per year)")
    gdp_decay_years: float = Field(default=15.0, gt=0, le=500, description="Time constant (years) of the "
                                   "exponential decay from recent to long-run GDP-per-capita growth")
    max_shock_sd: float = Field(default=0.03, ge=0, le=0.3, description="Cap on the sd of the yearly GDP-per-capita "
                                "growth shocks (log units), which is otherwise the region's sd in the window: keeps a "
                                "crisis year in the window from dominating 40 years")
    population_decay_years: float = Field(default=30.0, gt=0, le=500, description="Time constant (years) of the "
                                          "decay of population growth toward zero (demographic transition)")
    population_growth_sd: float = Field(default=0.002, ge=0, le=0.05, description="Standard deviation of the "
                                        "starting population growth rate (log units per year)")
    compare: list[Literal["history", "drivers"]] = Field(default=[], description=(
        "Further GDP / population scenarios the emission posterior is pushed through as well (same draws and "
        "seed); they sit beside the study's own scenario and the [policy.<name>] scenarios on the result's "
        "scenario dim (forecast/scenarios/axis.py). \"drivers\" fits the driver models too."))

    @model_validator(mode="after")
    def _path_for_csv(self):
        if self.type == "csv" and not self.path:
            raise ValueError("scenario type 'csv' needs a path")
        if self.type in self.compare or len(set(self.compare)) < len(self.compare):
            raise ValueError(f"compare {self.compare} must not repeat a scenario or name the study's own "
                             f"type {self.type!r}")
        return self


class ForecastSection(_Section):
    """``[forecast]``: which regions are forecast, with how many trajectories, and the peak questions asked."""

    draws: int = Field(default=2000, ge=1, le=MAX_DRAWS, description="Forecast trajectories per region (each pairs "
                       "a posterior draw with a scenario draw); refused before sampling if the forecast would not "
                       "fit in this machine's memory")
    focus_regions: list[str] = Field(default=[], description="Regions forecast and shown first (headline table, fan "
                                     "charts), in this order; empty = every fitted region")
    regions: Literal["focus", "all"] = Field(default="focus", description='`"focus"`: forecast the focus regions '
                                             'only; `"all"`: every fitted region (a large NetCDF)')
    peak_years: list[int] = Field(default=[2030, 2035], description="Years Y for which P(peak <= Y) is reported; "
                                  "each must lie after the last data year and by the horizon")

    @field_validator("peak_years")
    @classmethod
    def _peak_years(cls, value):
        return _years_in_range(value, "peak_years")


class ForestAgeTable(_Section):
    """``[sinks.forest_age.<region>]``: the region's forest age structure (forecast.sinks.ecosystems.ForestAgeing).
    Area shares (or areas) of the five age groups; none given = China's 9th National Forest Inventory shares."""

    young: float | None = Field(default=None, ge=0, description="Area share (or area) of young stands; the five "
                                "groups are normalised to shares")
    middle_aged: float | None = Field(default=None, ge=0, description="Area share (or area) of middle-aged stands")
    near_mature: float | None = Field(default=None, ge=0, description="Area share (or area) of near-mature stands")
    mature: float | None = Field(default=None, ge=0, description="Area share (or area) of mature stands")
    over_mature: float | None = Field(default=None, ge=0, description="Area share (or area) of over-mature stands")
    maturity_age: float | list[float] | None = Field(default=None, description="Years to maturity: a number, or "
                                                     "`[low, high]` for uniform draws; not set = the library prior "
                                                     "`ecosystems.forest_maturity_age`")
    reference_year: int = Field(default=2016, ge=YEAR_RANGE[0], le=YEAR_RANGE[1], description="The year the shares "
                                "(and the baseline forest rate) describe")
    rotation: float | None = Field(default=None, gt=0, description="Clear-cut-and-replant age in maturity ages (a "
                                   "stand reaching it restarts at age 0; harvested carbon is not counted); not set = "
                                   "no harvest, the upper bound of the ageing decline")
    ecosystem: str = Field(default="forest", description="The ecosystem of `[sinks.areas.<region>]` whose rate the "
                           "ageing factor scales")
    source: str = Field(default="", description="Where the shares come from (shown in the report)")


class LucTable(_Section):
    """``[sinks.luc.<region>]``: gross land-use-change emissions (Mt CO2/yr, positive = emission), a normal level."""

    mean: float = Field(description="Mean level of gross land-use-change emissions, Mt CO2/yr (positive = "
                        "emission); held over the forecast years")
    sd: float = Field(default=0.0, ge=0, description="Standard deviation of that level, Mt CO2/yr: one normal draw "
                      "per sample, the same in every year (0 = fixed)")
    source: str = Field(description="Where the number comes from (shown in the report)")
    citation: str = Field(default="", description="Full citation of the source, if any")


class SinksSection(_Section):
    """Carbon sinks: a global land-sink model with a declining CO2 fertilisation effect (CFE), regional
    ecosystem sinks scaled by it, and net emissions / neutrality for the regions that have areas."""

    enabled: bool = Field(default=False, description="Run the sink and neutrality part (needs at least one "
                          "`[sinks.areas.<region>]` table)")
    cfe_decline: Literal["exponential", "linear", "constant"] = Field(
        default="exponential", description="How the CO2 fertilisation sensitivity changes over time: exponential "
        "decline (half-life reported), linear decline to a floor of zero, or constant (no decline)")
    land_model: Literal["gcb", "joint"] = Field(default="gcb", description='`"gcb"`: the GCB land sink (adjusted '
                                                'DGVM mean) alone, `S = k eps(t) (C - C0)` (`GlobalLandSinkModel`, '
                                                'fast); `"joint"`: the budget residual and the 22 DGVMs together '
                                                '(`JointLandSinkModel`)')
    form: Literal["kinetic", "proportional"] = Field(default="kinetic", description='`joint` only: `"kinetic"` = '
                                                     'the fertilised uptake fills a land carbon pool that turns over '
                                                     '(sink kinetics); `"proportional"` = the sink is proportional to '
                                                     'the fertilised uptake')
    cfe_windows: str | None = Field(default=None, description="A folder written by `carbon-forecast cfe-windows` "
                                    "(relative to the study file): its table of the fitted decline per window, "
                                    "against Wang et al. 2020, is shown in the report")
    fit_years: list[int] = Field(default=[1959, 2024], description="Years `[start, end]` (included) the land-sink "
                                 "model is fitted on")
    co2_source: Literal["noaa_co2_gl", "noaa_co2_mlo"] = Field(default="noaa_co2_gl", description="Observed CO2 "
                                                               "(ppm) the future path is extrapolated from: NOAA "
                                                               "global marine-surface mean (from 1979) or Mauna Loa "
                                                               "(from 1959)")
    co2_scenario: str | None = Field(default=None, description="A CSV with columns `year, co2_ppm` (relative to the "
                                     "study file) giving the atmospheric CO2 path; not set = recent growth fading "
                                     "to zero (`co2_window`, `co2_decay_to_zero_by`; not an SSP pathway)")
    co2_window: int = Field(default=10, ge=2, description="Years of observed CO2 whose mean yearly increase (ppm/yr) "
                            "starts the extrapolated path")
    co2_decay_to_zero_by: int = Field(default=2100, ge=2000, description="Year by which the yearly CO2 increase "
                                      "falls linearly to zero; the concentration is flat after it")
    base_year: int = Field(default=2015, ge=1959, le=2100, description="The period the sequestration rates "
                           "describe: the CO2 fertilisation multiplier is 1 in this year")
    neutrality_years: list[int] = Field(default=[2050, 2060], description="Years Y for which P(net emissions <= 0 "
                                        "by Y) is reported; none may be after the horizon")
    # the land-sink model is small (66 years) and cheap: it keeps its own, generous sampler settings so a
    # short EKC run (e.g. in tests) does not leave it unconverged
    draws: int = Field(default=1000, ge=100, le=MAX_DRAWS, description="Posterior draws per chain of the land-sink "
                       "model (its own setting, independent of `[sampler]`)")
    tune: int = Field(default=1000, ge=200, le=MAX_DRAWS, description="Warm-up draws per chain of the land-sink "
                      "model; raise it (and draws) if the run stops because the land sink did not converge")
    priors: dict[str, dict[str, Any]] = Field(default={}, description="Prior overrides of the land-sink model by "
                                              "name (prior library `priors/`), as in `[model.priors]`")
    areas: dict[str, dict[str, Any]] = Field(default={}, description="`[sinks.areas.<region>]`: ecosystem areas in "
                                             "Mha (`forest`, `grassland`, `cropland_soil`, `wetland`, ...), with "
                                             "optional `uncertainty` (relative sd of the areas) and `source`; the "
                                             "regions must be forecast regions")
    rates: dict[str, Any] = Field(default={}, description="Sequestration rates by ecosystem (t C/ha/yr) that fix, "
                                  "change or add to the cited priors of `priors/ecosystems.toml`, e.g. "
                                  '`forest = { value = 0.6, units = "t C/ha/yr" }`')
    soc: bool | dict[str, Any] = Field(default=True, description="Cropland soil-carbon saturation: true = library "
                                       "defaults (initial SOC prior, ceiling 46.8 t C/ha), false = constant cropland "
                                       "rate, or a table with `initial` (t C/ha, a number or `[low, high]`), "
                                       "`ceiling` (t C/ha) and `ecosystem`")
    forest_age: dict[str, ForestAgeTable] = Field(default={}, description="Forest ageing per region (off where not "
                                                  "given); the region must have a `[sinks.areas.<region>]` table")
    luc: dict[str, LucTable] = Field(default={}, description="Gross land-use-change emissions per region, added to "
                                     "net emissions (0 where not given)")
    interannual_rel_sd: float | None = Field(default=None, ge=0, lt=1, description="Year-to-year variability of "
                                             "the ecosystem sink, relative sd; not set = the library value "
                                             "`ecosystems.sink_interannual_rel_sd` (0.23)")
    areas_csv: str | None = Field(default=None, description=(
        "CSV of ecosystem areas by region (columns `region, ecosystem, area_mha, source` and optionally "
        "`rel_sd`, `year`; format in `forecast/sinks/areas.py`), relative to the study file; merged with "
        "`[sinks.areas.<region>]` (a region in both is an error)"))

    @model_validator(mode="after")
    def _areas_when_enabled(self):
        if self.enabled and not self.areas and not self.areas_csv:
            raise ValueError("sinks are enabled but no [sinks.areas.<region>] table (or areas_csv) is given")
        if len(self.fit_years) != 2 or self.fit_years[0] >= self.fit_years[1]:
            raise ValueError(f"fit_years must be [start, end] with start < end, got {self.fit_years}")
        _years_in_range(self.fit_years, "fit_years")
        _years_in_range(self.neutrality_years, "neutrality_years")
        for table, what in ((self.forest_age, "forest_age"), (self.luc, "luc")):
            stray = [r for r in table if r not in self.areas]
            if stray and not self.areas_csv:  # with a CSV, checked against its regions before sampling
                raise ValueError(f"[sinks.{what}] region(s) {', '.join(stray)} have no [sinks.areas.<region>] table")
        return self


class CapacitySection(_Section):
    """Carbon carrying capacity under caps; each entry of ``caps`` names an allocation rule of
    :data:`forecast.policy.capacity.ALLOCATION_RULES` and its parameters, e.g.
    ``[capacity.caps.hold_2030] rule = "peak_level", reference_year = 2030``."""

    enabled: bool = Field(default=False, description="Compute carrying capacities (needs at least one "
                          "`[capacity.caps.<label>]` table)")
    years: list[int] = Field(default=[2030, 2060], description="Years whose capacities and overload probabilities "
                             "are reported (years outside the forecast are skipped)")
    caps: dict[str, dict[str, Any]] = Field(default={}, description="`[capacity.caps.<label>]`: one cap per label, "
                                            '`rule` = `"peak_level"` | `"per_capita"` | `"gdp_share"` | '
                                            '`"fixed_shares"` | `"neutrality"` (needs `[sinks]`) plus that rule\'s '
                                            'parameters (an unknown parameter is an error)')
    built_up_km2: dict[str, float] = Field(default={}, description="Built-up land per region (km²): adds the "
                                           "built-up-land capacity (km² the cap supports at the projected emissions "
                                           "per km²); regions must be forecast regions")

    @model_validator(mode="after")
    def _caps_when_enabled(self):
        if self.enabled and not self.caps:
            raise ValueError("capacity is enabled but no [capacity.caps.<label>] table is given")
        for label, spec in self.caps.items():
            if "rule" not in spec:
                raise ValueError(f"caps.{label} needs a 'rule' (one of the allocation rules)")
        _years_in_range(self.years, "years")
        return self


class CompensationSection(_Section):
    """Horizontal carbon compensation in one year between the forecast regions.

    ``allocation`` is one rule name (``per_capita`` | ``gdp_share`` | ``emissions_share`` | ``sink``), a
    table of shares (region -> share, summing to one), or a list of rule names to compare several rules,
    e.g. ``allocation = ["per_capita", "gdp_share", "emissions_share"]``: the report then has one
    compensation table and one flows table per rule (same price draws for every rule), and the payment
    draws are exported as ``compensation_payment`` for the first rule and ``compensation_payment__<rule>``
    for the others. ``reference_year`` is the grandfathering year of ``emissions_share``.
    """

    enabled: bool = Field(default=False, description="Compute the compensation balances, payments and flows")
    year: int = Field(default=2030, ge=YEAR_RANGE[0], le=YEAR_RANGE[1], description="The forecast year whose "
                      "emissions are balanced")
    allocation: str | list[str] | dict[str, float] = Field(
        default="per_capita", description='A rule name (`"per_capita"` | `"gdp_share"` | `"emissions_share"` | '
        '`"sink"`), a list of rule names to compare, or a table region -> share (shares summing to one)')
    reference_year: int | None = Field(default=None, ge=YEAR_RANGE[0], le=YEAR_RANGE[1], description="The "
                                       "grandfathering year of `emissions_share` (required by that rule): the year "
                                       "whose emission shares are allocated")
    price_median: float = Field(default=80.0, gt=0, description="Median carbon price, `currency` per t CO2")
    price_p05: float | None = Field(default=None, gt=0, description="5th percentile of the carbon price (`currency` "
                                    "per t CO2); give it with `price_p95` for an uncertain (log-normal) price, or "
                                    "neither for a fixed price")
    price_p95: float | None = Field(default=None, gt=0, description="95th percentile of the carbon price "
                                    "(`currency` per t CO2); see `price_p05`")
    currency: str = Field(default="CNY", description="Label of the money unit: prices per t CO2 and payments in "
                          "million `currency` per year")
    ability_to_pay: float | None = Field(default=None, ge=0, le=10, description=(
        "elasticity of the payers' split of the bill on GDP per capita: each deficit region pays in proportion "
        "to deficit x (GDP per capita / scheme mean)^ability_to_pay; receipts unchanged; none or 0 = plain "
        "(forecast/policy/compensation.py)"))

    @field_validator("allocation")
    @classmethod
    def _rule_list(cls, value):
        if isinstance(value, list):
            if not value:
                raise ValueError("allocation list is empty; give at least one rule name")
            dup = sorted({r for r in value if value.count(r) > 1})
            if dup:
                raise ValueError(f"allocation lists rule(s) more than once: {', '.join(dup)}")
        return value

    @property
    def rules(self) -> list[str | dict[str, float]]:
        """The allocations to run, in order (a single rule name or a shares table is a list of one)."""
        return list(self.allocation) if isinstance(self.allocation, list) else [self.allocation]


class LanduseSection(_Section):
    """Land-use carbon account of one region (areas in Mha by land type; see forecast/policy/landuse.py)."""

    enabled: bool = Field(default=False, description="Compute the land-use carbon account (needs "
                          "`[landuse.areas]`)")
    region: str = Field(default="", description="Name of the region the account describes (a label for the report "
                        "title; empty = \"the study region\")")
    source: str = Field(default="", description="Where the areas come from (shown in the report title)")
    areas: dict[str, float] = Field(default={}, description="Area per land type in Mha: `cropland`, `forest`, "
                                    "`grassland`, `water_wetland`, `unused_land` (an unknown land type is an error)")
    rel_sd: float = Field(default=0.0, ge=0, lt=1, description="Relative sd of every area (normal); 0 = areas exact")
    draws: int = Field(default=4000, ge=100, le=MAX_DRAWS, description="Monte Carlo draws of the account (areas "
                       "and uptake rates)")

    @model_validator(mode="after")
    def _areas_when_enabled(self):
        if self.enabled and not self.areas:
            raise ValueError("landuse is enabled but [landuse.areas] is empty")
        return self


class TargetSection(_Section):
    """One ``[[targets]]`` table: a goal whose probability the report gives per region
    (kinds and keys: :mod:`forecast.policy.targets`)."""

    kind: Literal["peak_by", "emissions_below", "per_capita_below", "intensity_reduction", "neutral_by"] = Field(
        description="`peak_by`: emissions peak in or before `year`; `emissions_below`: CO2 in `year` below `value` "
        "(Mt CO2/yr); `per_capita_below`: per-capita CO2 in `year` below `value` (t CO2/person/yr); "
        "`intensity_reduction`: carbon intensity in `year` at least `reduction` below its `base_year` value; "
        "`neutral_by`: net CO2 <= 0 from `year` through the horizon (runs with `[sinks]` only)")
    year: int = Field(description="The target year; must lie in the forecast window")
    value: float | None = Field(default=None, description="`emissions_below` (Mt CO2/yr) and `per_capita_below` "
                                "(t CO2/person/yr): the threshold")
    base_year: int | None = Field(default=None, description="`intensity_reduction`: the year the reduction is "
                                  "measured from (must have data)")
    reduction: float | None = Field(default=None, description="`intensity_reduction`: the share below the base "
                                    "year's carbon intensity, e.g. 0.65 = 65 % below")
    cfe: Literal["declining", "constant"] | None = Field(default=None, description="`neutral_by`: the sink variant, "
                                                         "with a declining or constant CO2 fertilisation effect "
                                                         "(not set = declining)")
    regions: list[str] | None = Field(default=None, description="Regions the target applies to; not set = every "
                                      "forecast region")
    label: str = Field(default="", description="How the report names the target; empty = built from the kind and "
                       "year")

    def spec(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v not in (None, "")}


class EffortSection(_Section):
    """``[effort]``: for every ``[[targets]]`` entry, the extra annual decline of carbon intensity (and, for
    ``neutral_by`` targets, the extra sink) needed for P(met) >= each probability
    (:mod:`forecast.policy.effort`)."""

    enabled: bool = Field(default=True, description="Compute the required effort (only runs when the study has "
                          "`[[targets]]`)")
    probabilities: list[float] = Field(default=[0.5, 0.8, 0.9], description="The P(target met) levels to reach, "
                                       "each strictly between 0 and 1 (sorted, repeats dropped)")
    max_decline: float = Field(default=0.5, gt=0, lt=1, description="Largest extra decline searched, log units per "
                               "year: a target not met even then is reported as unreachable")
    sink: bool = Field(default=True, description="Also compute the extra sink that `neutral_by` targets need")

    @field_validator("probabilities")
    @classmethod
    def _shares(cls, value):
        return _unit_interval_levels(value, "probabilities")


def _unit_interval_levels(value: list[float], label: str) -> list[float]:
    """Probability levels: at least one, each strictly between 0 and 1; sorted, without repeats."""
    if not value or any(not 0 < v < 1 for v in value):
        raise ValueError(f"{label} must lie strictly between 0 and 1, got {value}")
    return sorted(set(value))


class PolicyTable(_Section):
    """One ``[policy.<name>]`` table: a policy scenario applied to the forecast trajectories
    (kinds and keys: :mod:`forecast.scenarios.policy`)."""

    kind: Literal["intensity_pathway", "accelerated_decline", "intensity_csv"] = Field(
        description="`intensity_pathway`: carbon intensity follows pledged `reductions` below `base_year` by "
        "`years`; `accelerated_decline`: an extra intensity decline of `extra_decline` per year; `intensity_csv`: "
        "an intensity pathway whose pledges come from the CSV `path`")
    base_year: int | None = Field(default=None, description="`intensity_pathway`, `intensity_csv`: the year the "
                                  "reductions are measured from")
    years: list[int] | None = Field(default=None, description="`intensity_pathway`: the pledge years, one per "
                                    "reduction")
    reductions: list[float] | None = Field(default=None, description="`intensity_pathway`: shares below the base "
                                           "year's carbon intensity, one per year (0.65 = 65 % below)")
    extra_decline: float | None = Field(default=None, description="`accelerated_decline`: extra intensity decline, "
                                        "log units per year (0.02 = about 2 %/yr)")
    path: str | None = Field(default=None, description="`intensity_csv`: a CSV with columns `region, year, "
                             "reduction` (relative to the study file); regions missing from it keep the baseline")
    after: Literal["continue", "hold"] = Field(default="continue", description="After the last pledge year: "
                                               '`"continue"` the last segment\'s rate of decline, or `"hold"` the '
                                               "last pledged level")
    mode: Literal["ceiling", "follow"] = Field(default="ceiling", description='`"ceiling"`: the pledge is met at '
                                               "least, trajectories that decarbonise faster keep their own path; "
                                               '`"follow"`: every trajectory\'s intensity is the pledged path')
    achieved_year: int | None = Field(default=None, description="An observed year for which official statistics "
                                      "report progress: re-anchors the pledge on the forecast's own data (give "
                                      "with `achieved_reduction`)")
    achieved_reduction: float | None = Field(default=None, description="The reduction below `base_year` official "
                                             "statistics report for `achieved_year` (share); the remaining official "
                                             "reduction is applied from that year")
    regions: list[str] | None = Field(default=None, description="Regions the policy applies to; not set = all")
    label: str = Field(default="", description="How the report names the scenario; empty = built from the kind and "
                       "its settings")
    source: str = Field(default="", description="Where the pledge is published (shown in the report)")

    def spec(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v not in (None, "")}


class ReportSection(_Section):
    """``[report]``: what the report and the exports summarise the draws with."""

    quantiles: list[float] = Field(default=[0.05, 0.25, 0.5, 0.75, 0.95], description="Quantile levels of the "
                                   "exported bands (`bands.csv` / `bands.parquet` columns `q05` ... `q95`), "
                                   "each strictly between 0 and 1 (sorted, repeats dropped)")

    @field_validator("quantiles")
    @classmethod
    def _levels(cls, value):
        return _unit_interval_levels(value, "quantiles")


class Study(_Section):
    """A validated study file. ``source_path`` is where it was read from (None if built in code)."""

    study: StudyInfo
    data: DataSection = DataSection()
    model: ModelSection = ModelSection()
    sampler: SamplerSection = SamplerSection()
    inventory: InventorySection = InventorySection()
    scenario: ScenarioSection = ScenarioSection()
    forecast: ForecastSection = ForecastSection()
    sinks: SinksSection = SinksSection()
    capacity: CapacitySection = CapacitySection()
    compensation: CompensationSection = CompensationSection()
    landuse: LanduseSection = LanduseSection()
    targets: list[TargetSection] = []
    effort: EffortSection = EffortSection()
    policy: dict[str, PolicyTable] = {}
    report: ReportSection = ReportSection()
    source_path: str | None = None

    @property
    def base_dir(self) -> Path:
        return Path(self.source_path).parent if self.source_path else Path.cwd()

    def resolve(self, path: str | None) -> Path | None:
        """A path from the study file, relative to the file's folder."""
        if path is None:
            return None
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.base_dir / p

    def with_overrides(self, **sections: dict[str, Any]) -> "Study":
        """A copy with some keys replaced, e.g. ``study.with_overrides(sampler={"draws": 200})``."""
        raw = self.model_dump()
        unknown = [name for name in sections if name not in raw or name == "source_path"]
        if unknown:
            raise StudyError(f"with_overrides: unknown section(s) {', '.join(unknown)}; sections: {', '.join(n for n in raw if n != 'source_path')}")
        for section, values in sections.items():
            raw[section] = list(values) if isinstance(raw[section], list) else {**raw[section], **values}
        return _validate(raw, self.source_path or "<study>")


def _location(loc: tuple) -> str:
    parts = [str(p) for p in loc if not isinstance(p, int)]
    if not parts:
        return "(top level)"
    if len(parts) == 1:
        return f"[{parts[0]}]" if parts[0] in Study.model_fields else parts[0]
    return f"[{parts[0]}] {'.'.join(parts[1:])}"


def _known_keys(loc: tuple) -> list[str]:
    from typing import get_args, get_origin

    model: Any = Study
    parts = list(loc[:-1])
    while parts:
        part = parts.pop(0)
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model = field.annotation
        if get_origin(model) is dict and parts:  # a table of tables, e.g. [sinks.forest_age.<region>]
            model = get_args(model)[1]
            parts.pop(0)
    return list(getattr(model, "model_fields", {}))


def _validate(raw: dict[str, Any], label: str) -> Study:
    try:
        return Study.model_validate(raw)
    except ValidationError as err:
        lines = []
        for problem in err.errors():
            where = _location(problem["loc"])
            if problem["type"] == "extra_forbidden":
                key = str(problem["loc"][-1])
                lines.append(f"{where}: unknown key{did_you_mean(key, _known_keys(problem['loc']), n=1)}")
            elif problem["type"] == "missing":
                lines.append(f"{where}: required key is missing")
            else:
                got = problem.get("input")
                lines.append(f"{where}: {problem['msg']} (got {got!r})")
        raise StudyError(f"{label}: invalid study file\n  " + "\n  ".join(lines)) from None


def load_study(path: str | Path) -> Study:
    """Read and validate a study TOML file."""
    path = Path(path)
    if path.is_dir():
        path = path / "study.toml"
    if not path.is_file():
        raise StudyError(f"study file not found: {path}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise StudyError(f"{path}: not a study file: not UTF-8 text (byte {err.start}); a study is a TOML text file") from None
    except tomllib.TOMLDecodeError as err:
        raise StudyError(f"{path}: not valid TOML: {err}") from None
    raw["source_path"] = str(path.resolve())
    return _validate(raw, str(path))


def studies_dir() -> Path:
    """Folder of the built-in studies (source checkout first, then the copy bundled in the wheel)."""
    here = Path(__file__).resolve().parents[1]  # the forecast package
    checkout = here.parent / "studies"
    return checkout if checkout.is_dir() else here / "_bundled" / "studies"


def default_study_path(name: str = DEFAULT_STUDY) -> Path:
    path = studies_dir() / name / "study.toml"
    if not path.is_file():
        available = sorted(p.parent.name for p in studies_dir().glob("*/study.toml"))
        raise StudyError(f"no built-in study {name!r}; available: {', '.join(available) or 'none'}")
    return path
