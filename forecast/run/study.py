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

SHIPPED_EMISSION_MODELS = ("ekc", "kaya")


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
    name: str
    title: str = ""
    description: str = ""
    seed: int = Field(default=1, ge=0, lt=2**32)

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
    source: str = "owid"
    path: str | None = None
    years: list[int] | None = None
    min_population: float | None = Field(default=None, ge=0, le=2e10)  # people
    regions: list[str] | None = None
    exclude_regions: list[str] = []
    min_years: int = Field(default=10, ge=3)

    @field_validator("years")
    @classmethod
    def _ordered(cls, value):
        if value is not None and (len(value) != 2 or value[0] >= value[1]):
            raise ValueError(f"years must be [start, end] with start < end, got {list(value)}")
        return _years_in_range(value, "years")


class ModelSection(_Section):
    # "ekc": hierarchical EKC (forecast/models/ekc.py); "kaya": population x GDP per capita x carbon
    # intensity (forecast/models/kaya.py; degree and varying_curvature do not apply); or the name of any
    # emission model registered through forecast.models.base.BayesianModel (kind = "emissions")
    type: str = "ekc"
    degree: Literal[2, 3] = 2
    residuals: Literal["ar1", "iid"] = "ar1"
    likelihood: Literal["studentt", "normal"] = "studentt"
    parameterization: (Literal["mixed", "centered", "non_centered"]
                       | dict[Literal["drift", "slope", "curvature", "log_noise"], Literal["centered", "non_centered"]]) = "mixed"
    varying_curvature: bool = False
    varying_drift: bool = True
    drift_income: bool = True
    turning_point_growth: float = Field(default=0.02, gt=0, lt=0.2)
    # kaya only: a year effect shared by all regions in the intensity growth (oil shocks, recessions, the
    # pandemic), fitted jointly and drawn anew for each forecast year, the same for every region of a draw,
    # so regional forecasts are correlated and sums of regions carry their spread. false = independent
    # shocks per region (the model the default study's results were computed with)
    common_shocks: bool = False
    # kaya only: a time-varying decarbonisation rate, every region's drift moving by a random walk shared
    # by all regions (small innovation sd, prior kaya.common_drift_sd), continued in the forecasts
    common_drift: bool = False
    # relative 1-sigma error of historical emissions: a number, {region = number}, or "inventory" (China
    # provinces: from the IPCC Approach 2 uncertainty of each province's CEADs fuel inventory)
    measurement_error: float | dict[str, float] | Literal["inventory"] = 0.0
    compare_measurement_error: bool = False  # also fit without it and report the peak-year intervals side by side
    priors: dict[str, dict[str, Any]] = {}
    # why this emission model: a sentence for the report, and a backtest comparison table (CSV written by
    # `carbon-forecast backtest --model ekc --model kaya`, relative to the study file) shown next to it
    rationale: str = ""
    comparison: str | None = None
    # a backtest folder of this emission model (written by `carbon-forecast backtest`, relative to the
    # study file): its scores and reliability diagram are shown next to the forecast
    backtest: str | None = None

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

    # true: split each region's inventory uncertainty the IPCC way (Vol. 1 Ch. 3, Table 3.2) into a
    # systematic part (emission factors: one persistent level offset per region) and a random part
    # (activity data: year-to-year noise), and fit the emission model with both
    feeds_model: bool = False
    # the factor draws: "ipcc" (IPCC 2006 Table 1.4 ranges, priors/emission_factors.toml; the default) or
    # the path of a fitted EmissionFactorModel saved with .save() (its posterior, relative to the study file)
    factors: str = "ipcc"
    # inventory year whose fuel mix sets the split (default: the panel's last year)
    year: int | None = Field(default=None, ge=YEAR_RANGE[0], le=YEAR_RANGE[1])
    # correlation of the factor errors of fuels that share a source (the coal types): 1 = one error
    source_correlation: float = Field(default=1.0, ge=0, le=1)
    draws: int = Field(default=4000, ge=100, le=MAX_DRAWS)


class SamplerSection(_Section):
    name: Literal["nutpie", "pymc", "numpyro"] = "nutpie"
    draws: int = Field(default=1000, ge=1, le=MAX_DRAWS)
    tune: int = Field(default=1000, ge=1, le=MAX_DRAWS)
    chains: int = Field(default=2, ge=1, le=MAX_CHAINS)
    target_accept: float = Field(default=0.9, gt=0, lt=1)

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
    # "history": recent growth decaying toward a long-run rate; "csv": user paths; "drivers": probabilistic
    # GDP per capita (convergence to a frontier, forecast/models/gdp.py) and population
    # (forecast/models/population.py) fitted to the study's panel
    type: Literal["history", "csv", "drivers"] = "history"
    path: str | None = None
    gdp_frontier: str = "United States"  # drivers: frontier region ("" = the richest region of the panel)
    population_window: int = Field(default=15, ge=5, le=100)  # drivers: years of recent growth the population trend uses
    driver_priors: dict[str, dict[str, Any]] = {}  # drivers: overrides, e.g. "gdp.frontier_growth" = {...}
    horizon: int = Field(default=2060, ge=1900, le=2300)
    window: int = Field(default=10, ge=3, le=100)
    # growth rates are log changes per year: -5 %/yr to +10 %/yr spans every long-run rate on record
    long_run_growth: float = Field(default=0.015, ge=-0.05, le=0.10)
    long_run_growth_sd: float = Field(default=0.005, ge=0, le=0.05)
    gdp_decay_years: float = Field(default=15.0, gt=0, le=500)
    max_shock_sd: float = Field(default=0.03, ge=0, le=0.3)
    population_decay_years: float = Field(default=30.0, gt=0, le=500)
    population_growth_sd: float = Field(default=0.002, ge=0, le=0.05)
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
    draws: int = Field(default=2000, ge=1, le=MAX_DRAWS)
    focus_regions: list[str] = []
    regions: Literal["focus", "all"] = "focus"
    peak_years: list[int] = [2030, 2035]

    @field_validator("peak_years")
    @classmethod
    def _peak_years(cls, value):
        return _years_in_range(value, "peak_years")


class ForestAgeTable(_Section):
    """``[sinks.forest_age.<region>]``: the region's forest age structure (forecast.sinks.ecosystems.ForestAgeing).
    Area shares (or areas) of the five age groups; none given = China's 9th National Forest Inventory shares."""

    young: float | None = Field(default=None, ge=0)
    middle_aged: float | None = Field(default=None, ge=0)
    near_mature: float | None = Field(default=None, ge=0)
    mature: float | None = Field(default=None, ge=0)
    over_mature: float | None = Field(default=None, ge=0)
    maturity_age: float | list[float] | None = None  # years, or [low, high]; default: library prior
    reference_year: int = Field(default=2016, ge=YEAR_RANGE[0], le=YEAR_RANGE[1])  # year the shares describe
    rotation: float | None = Field(default=None, gt=0)  # clear-cut-and-replant age, in maturity ages
    ecosystem: str = "forest"
    source: str = ""


class LucTable(_Section):
    """``[sinks.luc.<region>]``: gross land-use-change emissions (Mt CO2/yr, positive = emission), a normal level."""

    mean: float
    sd: float = Field(default=0.0, ge=0)
    source: str
    citation: str = ""


class SinksSection(_Section):
    """Carbon sinks: a global land-sink model with a declining CO2 fertilisation effect (CFE), regional
    ecosystem sinks scaled by it, and net emissions / neutrality for the regions that have areas."""

    enabled: bool = False
    cfe_decline: Literal["exponential", "linear", "constant"] = "exponential"
    # "gcb": the GCB land sink (adjusted DGVM mean) alone, S = k eps(t) (C - C0) (GlobalLandSinkModel);
    # "joint": the budget residual and the 22 DGVMs together (JointLandSinkModel), with sink kinetics
    # (form = "kinetic") or without ("proportional")
    land_model: Literal["gcb", "joint"] = "gcb"
    form: Literal["kinetic", "proportional"] = "kinetic"
    # a folder written by `carbon-forecast cfe-windows` (relative to the study file): its table of the
    # fitted decline per window, against Wang et al. 2020, is shown in the report
    cfe_windows: str | None = None
    fit_years: list[int] = [1959, 2024]
    co2_source: Literal["noaa_co2_gl", "noaa_co2_mlo"] = "noaa_co2_gl"
    co2_scenario: str | None = None  # CSV with year, co2_ppm; default: recent growth fading to zero
    co2_window: int = Field(default=10, ge=2)
    co2_decay_to_zero_by: int = Field(default=2100, ge=2000)
    base_year: int = Field(default=2015, ge=1959, le=2100)  # the period the sequestration rates describe (multiplier = 1)
    neutrality_years: list[int] = [2050, 2060]
    # the land-sink model is small (66 years) and cheap: it keeps its own, generous sampler settings so a
    # short EKC run (e.g. in tests) does not leave it unconverged
    draws: int = Field(default=1000, ge=100, le=MAX_DRAWS)
    tune: int = Field(default=1000, ge=200, le=MAX_DRAWS)
    priors: dict[str, dict[str, Any]] = {}
    areas: dict[str, dict[str, Any]] = {}
    rates: dict[str, Any] = {}
    soc: bool | dict[str, Any] = True
    forest_age: dict[str, ForestAgeTable] = {}  # forest ageing per region (off where not given)
    luc: dict[str, LucTable] = {}  # land-use-change emissions per region (0 where not given)
    interannual_rel_sd: float | None = Field(default=None, ge=0, lt=1)  # sink variability; None = library 0.23

    @model_validator(mode="after")
    def _areas_when_enabled(self):
        if self.enabled and not self.areas:
            raise ValueError("sinks are enabled but no [sinks.areas.<region>] table is given")
        if len(self.fit_years) != 2 or self.fit_years[0] >= self.fit_years[1]:
            raise ValueError(f"fit_years must be [start, end] with start < end, got {self.fit_years}")
        _years_in_range(self.fit_years, "fit_years")
        _years_in_range(self.neutrality_years, "neutrality_years")
        for table, what in ((self.forest_age, "forest_age"), (self.luc, "luc")):
            stray = [r for r in table if r not in self.areas]
            if stray:
                raise ValueError(f"[sinks.{what}] region(s) {', '.join(stray)} have no [sinks.areas.<region>] table")
        return self


class CapacitySection(_Section):
    """Carbon carrying capacity under caps; each entry of ``caps`` names an allocation rule of
    :data:`forecast.policy.capacity.ALLOCATION_RULES` and its parameters, e.g.
    ``[capacity.caps.hold_2030] rule = "peak_level", reference_year = 2030``."""

    enabled: bool = False
    years: list[int] = [2030, 2060]
    caps: dict[str, dict[str, Any]] = {}
    built_up_km2: dict[str, float] = {}

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

    enabled: bool = False
    year: int = Field(default=2030, ge=YEAR_RANGE[0], le=YEAR_RANGE[1])
    # a rule name | a list of rule names | a table of shares
    allocation: str | list[str] | dict[str, float] = "per_capita"
    reference_year: int | None = Field(default=None, ge=YEAR_RANGE[0], le=YEAR_RANGE[1])
    price_median: float = Field(default=80.0, gt=0)
    price_p05: float | None = Field(default=None, gt=0)
    price_p95: float | None = Field(default=None, gt=0)
    currency: str = "CNY"

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

    enabled: bool = False
    region: str = ""
    source: str = ""
    areas: dict[str, float] = {}
    rel_sd: float = Field(default=0.0, ge=0, lt=1)
    draws: int = Field(default=4000, ge=100, le=MAX_DRAWS)

    @model_validator(mode="after")
    def _areas_when_enabled(self):
        if self.enabled and not self.areas:
            raise ValueError("landuse is enabled but [landuse.areas] is empty")
        return self


class TargetSection(_Section):
    """One ``[[targets]]`` table: a goal whose probability the report gives per region
    (kinds and keys: :mod:`forecast.policy.targets`)."""

    kind: Literal["peak_by", "emissions_below", "per_capita_below", "intensity_reduction", "neutral_by"]
    year: int
    value: float | None = None
    base_year: int | None = None
    reduction: float | None = None
    cfe: Literal["declining", "constant"] | None = None  # neutral_by: the sink variant (default declining)
    regions: list[str] | None = None
    label: str = ""

    def spec(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v not in (None, "")}


class EffortSection(_Section):
    """``[effort]``: for every ``[[targets]]`` entry, the extra annual decline of carbon intensity (and, for
    ``neutral_by`` targets, the extra sink) needed for P(met) >= each probability
    (:mod:`forecast.policy.effort`)."""

    enabled: bool = True
    probabilities: list[float] = [0.5, 0.8, 0.9]
    max_decline: float = Field(default=0.5, gt=0, lt=1)  # log units per year: beyond it a target is "unreachable"
    sink: bool = True  # also the sink enhancement of neutral_by targets

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

    kind: Literal["intensity_pathway", "accelerated_decline", "intensity_csv"]
    base_year: int | None = None
    years: list[int] | None = None
    reductions: list[float] | None = None  # shares below the base year's carbon intensity, one per year
    extra_decline: float | None = None  # accelerated_decline: log units per year
    path: str | None = None  # intensity_csv: region, year, reduction (relative to the study file)
    after: Literal["continue", "hold"] = "continue"
    mode: Literal["ceiling", "follow"] = "ceiling"
    # the reduction official statistics report for an observed year: re-anchors the pledge on the data
    achieved_year: int | None = None
    achieved_reduction: float | None = None
    regions: list[str] | None = None
    label: str = ""
    source: str = ""  # where the pledge is published

    def spec(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v not in (None, "")}


class ReportSection(_Section):
    quantiles: list[float] = [0.05, 0.25, 0.5, 0.75, 0.95]

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
