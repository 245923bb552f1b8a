"""Tests for forecast.priors: the shipped library, PyMC conversion, overrides and malformed files."""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # harmless if a conftest already did this
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pymc as pm  # noqa: E402
import pytest  # noqa: E402
from scipy import special, stats  # noqa: E402

from forecast.errors import PriorError  # noqa: E402
from forecast.priors import (  # noqa: E402
    DISTRIBUTIONS,
    PriorLibrary,
    PriorSpec,
    ReferenceValue,
    default_library,
    default_priors_dir,
)

EKC_NAMES = [
    "common_shock_sd",
    "drift_mu",
    "drift_income",
    "drift_sigma",
    "slope_mu",
    "slope_sigma",
    "curvature_mu",
    "curvature_sigma",
    "cubic_mu",
    "cubic_sigma",
    "log_noise_mu",
    "log_noise_sigma",
    "ar1",
    "nu",
]
REFERENCE_NAMES = ["ekc_turning_point_industry", "peaked_cities_gdp_per_capita", "cfe_1982", "cfe_2015"]

N_DRAWS = 20_000
SEED = 20240611


@pytest.fixture(scope="module")
def lib() -> PriorLibrary:
    return PriorLibrary.load()


# ------------------------------------------------------------------------------------------------
# Shipped library
# ------------------------------------------------------------------------------------------------


def test_default_dir_is_repo_priors():
    assert default_priors_dir() == ROOT / "priors"


def test_shipped_library_has_all_ekc_entries_with_citations(lib):
    ekc = lib.family("ekc")
    assert sorted(ekc) == sorted(EKC_NAMES)
    for key in EKC_NAMES:
        assert f"ekc.{key}" in lib
    for name in lib.names():
        e = lib.get(name)
        assert e.citation.strip() and e.source.strip() and e.units.strip(), name
    assert default_library() is default_library()
    assert default_library().names() == lib.names()


def test_shipped_ekc_values(lib):
    expected = {
        "drift_mu": ("Normal", {"mu": 0.0, "sigma": 0.02}),
        "drift_sigma": ("HalfNormal", {"sigma": 0.01}),
        "drift_income": ("Normal", {"mu": 0.0, "sigma": 0.02}),
        "slope_mu": ("Normal", {"mu": 0.8, "sigma": 0.5}),
        "slope_sigma": ("HalfNormal", {"sigma": 0.5}),
        "curvature_mu": ("Normal", {"mu": 0.0, "sigma": 0.5}),
        "curvature_sigma": ("HalfNormal", {"sigma": 0.25}),
        "cubic_mu": ("Normal", {"mu": 0.0, "sigma": 0.2}),
        "cubic_sigma": ("HalfNormal", {"sigma": 0.1}),
        "log_noise_mu": ("Normal", {"mu": -3.2, "sigma": 0.5}),
        "log_noise_sigma": ("HalfNormal", {"sigma": 0.5}),
        "ar1": ("TruncatedNormal", {"mu": 0.0, "sigma": 0.5, "lower": -0.95, "upper": 0.95}),
        "nu": ("Gamma", {"alpha": 2.0, "beta": 0.1}),
    }
    for key, (dist, params) in expected.items():
        spec = lib.get(f"ekc.{key}")
        assert isinstance(spec, PriorSpec)
        assert (spec.distribution, dict(spec.params)) == (dist, params), key
    assert "Juárez" in lib.get("ekc.nu").citation
    assert lib.get("ekc.drift_mu").describe() == "Normal(mu=0, sigma=0.02)"
    assert lib.get("ekc.drift_mu").units.startswith("1/yr")


def test_shipped_references(lib):
    refs = lib.references()
    for key in REFERENCE_NAMES:
        assert isinstance(refs[f"reference.{key}"], ReferenceValue)
    tp = refs["reference.ekc_turning_point_industry"]
    assert (tp.low, tp.high, tp.is_range) == (15000, 20000, True)
    pk = refs["reference.peaked_cities_gdp_per_capita"]
    assert (pk.low, pk.high) == (19000, 22000)
    assert "Nature Sustainability" in pk.citation
    assert refs["reference.cfe_1982"].value == pytest.approx(21)
    assert refs["reference.cfe_2015"].value == pytest.approx(12)
    assert "Science" in refs["reference.cfe_2015"].citation
    # references are listed but are not priors
    assert set(refs) <= set(lib.names())
    assert not set(refs) & set(lib.names(kind="prior"))
    assert not set(refs) & set(lib.priors())


def test_get_unknown_lists_close_matches(lib):
    with pytest.raises(PriorError, match="ekc.slope_mu"):
        lib.get("ekc.slop_mu")
    with pytest.raises(PriorError, match="ekc.drift_mu"):
        lib.get("drift_mu")  # bare key: suggest the qualified name
    with pytest.raises(PriorError, match="nosuchfamily"):
        lib.family("nosuchfamily")


def test_to_frame(lib):
    df = lib.to_frame()
    for col in ["name", "distribution", "params", "units", "source", "citation"]:
        assert col in df.columns
    assert len(df) == len(lib)
    row = df.set_index("name").loc["ekc.ar1"]
    assert row["distribution"] == "TruncatedNormal"
    assert row["params"] == "mu=0, sigma=0.5, lower=-0.95, upper=0.95"
    assert df.set_index("name").loc["reference.cfe_1982", "distribution"] == "reference"


def test_to_dict_roundtrip(lib):
    spec = lib.get("ekc.nu")
    d = spec.to_dict()
    assert d["name"] == "ekc.nu" and d["params"] == {"alpha": 2.0, "beta": 0.1}
    rebuilt = PriorSpec(**{k: v for k, v in d.items() if k != "kind"})
    assert rebuilt == spec
    assert hash(rebuilt) == hash(spec)


# ------------------------------------------------------------------------------------------------
# PyMC conversion: sample moments match the analytic ones
# ------------------------------------------------------------------------------------------------


def _half_t_moments(nu: float, sigma: float) -> tuple[float, float]:
    # E|T| and E T^2 for Student-t with nu > 2
    m1 = 2 * math.sqrt(nu / math.pi) * math.exp(special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2)) / (nu - 1)
    m2 = nu / (nu - 2)
    return sigma * m1, sigma * math.sqrt(m2 - m1**2)


def analytic_mean_sd(spec: PriorSpec) -> tuple[float, float]:
    p = dict(spec.params)
    d = spec.distribution
    if d == "HalfStudentT":
        return _half_t_moments(p["nu"], p["sigma"])
    if d == "Normal":
        rv = stats.norm(p["mu"], p["sigma"])
    elif d == "HalfNormal":
        rv = stats.halfnorm(scale=p["sigma"])
    elif d == "LogNormal":
        rv = stats.lognorm(s=p["sigma"], scale=math.exp(p["mu"]))
    elif d == "StudentT":
        rv = stats.t(p["nu"], loc=p.get("mu", 0.0), scale=p["sigma"])
    elif d == "Gamma" and "alpha" in p:
        rv = stats.gamma(p["alpha"], scale=1 / p["beta"])
    elif d == "Gamma":
        rv = stats.gamma((p["mu"] / p["sigma"]) ** 2, scale=p["sigma"] ** 2 / p["mu"])
    elif d == "Exponential":
        rv = stats.expon(scale=p["scale"] if "scale" in p else 1 / p["lam"])
    elif d == "Beta":
        rv = stats.beta(p["alpha"], p["beta"])
    elif d == "Uniform":
        rv = stats.uniform(p["lower"], p["upper"] - p["lower"])
    elif d == "TruncatedNormal":
        lo, hi = p.get("lower", -np.inf), p.get("upper", np.inf)
        rv = stats.truncnorm((lo - p["mu"]) / p["sigma"], (hi - p["mu"]) / p["sigma"], p["mu"], p["sigma"])
    else:  # pragma: no cover
        raise AssertionError(d)
    return float(rv.mean()), float(rv.std())


def _all_distributions_library(tmp_path: Path) -> PriorLibrary:
    # one entry per supported distribution (finite 4th moments so the sd check is valid)
    entries = {
        "normal": ("Normal", "{ mu = 1.5, sigma = 0.3 }"),
        "halfnormal": ("HalfNormal", "{ sigma = 2.0 }"),
        "lognormal": ("LogNormal", "{ mu = 0.2, sigma = 0.25 }"),
        "studentt": ("StudentT", "{ nu = 10.0, mu = -1.0, sigma = 0.5 }"),
        "halfstudentt": ("HalfStudentT", "{ nu = 10.0, sigma = 1.0 }"),
        "gamma": ("Gamma", "{ alpha = 3.0, beta = 2.0 }"),
        "gamma_musigma": ("Gamma", "{ mu = 4.0, sigma = 1.0 }"),
        "exponential": ("Exponential", "{ lam = 0.5 }"),
        "exponential_scale": ("Exponential", "{ scale = 3.0 }"),
        "beta": ("Beta", "{ alpha = 2.0, beta = 5.0 }"),
        "uniform": ("Uniform", "{ lower = -2.0, upper = 5.0 }"),
        "truncnormal": ("TruncatedNormal", "{ mu = 0.5, sigma = 1.0, lower = 0.0 }"),
    }
    text = "".join(
        f'[{k}]\ndistribution = "{d}"\nparams = {p}\nunits = "u"\nsource = "s"\ncitation = "c"\n\n'
        for k, (d, p) in entries.items()
    )
    f = tmp_path / "alld.toml"
    f.write_text(text, encoding="utf-8")
    lib = PriorLibrary.load(f)
    assert {e.distribution for e in lib.priors().values()} == set(DISTRIBUTIONS)
    return lib


def _check_moments(specs: list[PriorSpec]) -> None:
    with pm.Model() as model:
        scalars = [s.to_pymc() for s in specs]
        # N_DRAWS i.i.d. copies as one vector variable each: pm.draw(draws=N) would call the compiled
        # function N times, one call with shape=N is ~100x faster and gives the same i.i.d. sample
        rvs = [s.to_pymc(f"{s.var_name}_mc", shape=(N_DRAWS,)) for s in specs]
        draws = pm.draw(rvs, random_seed=SEED)
    assert [v.name for v in scalars] == [s.name.replace(".", "_") for s in specs]
    assert all(model[s.var_name].ndim == 0 for s in specs)
    for spec, x in zip(specs, draws):
        assert x.shape == (N_DRAWS,), spec.name
        mean, sd = analytic_mean_sd(spec)
        # tolerance: 5 Monte-Carlo standard errors of the sample mean and sample sd
        se_mean = sd / math.sqrt(N_DRAWS)
        m4 = float(np.mean((x - x.mean()) ** 4))
        se_sd = math.sqrt(max(m4 - x.var() ** 2, 0.0) / N_DRAWS) / (2 * x.std())
        assert abs(x.mean() - mean) < 5 * se_mean, (spec.name, x.mean(), mean, se_mean)
        assert abs(x.std() - sd) < 5 * se_sd, (spec.name, x.std(), sd, se_sd)


def test_to_pymc_moments_shipped_ekc(lib):
    _check_moments(list(lib.family("ekc").values()))


def test_to_pymc_moments_every_distribution(tmp_path):
    _check_moments(list(_all_distributions_library(tmp_path).priors().values()))


def test_moment_check_detects_wrong_scale(lib):
    # the check above must be able to fail: a prior with twice the sd is rejected
    spec = lib.get("ekc.slope_mu")
    wrong = dataclasses.replace(spec, params={"mu": 0.8, "sigma": 1.0})
    with pm.Model():
        x = pm.draw(wrong.to_pymc("w", shape=(N_DRAWS,)), random_seed=SEED)
    mean, sd = analytic_mean_sd(spec)
    assert abs(x.std() - sd) > 5 * sd / math.sqrt(2 * N_DRAWS)


def test_to_pymc_names_and_kwargs(lib):
    spec = lib.get("ekc.slope_mu")
    with pm.Model(coords={"region": ["a", "b", "c"]}) as model:
        v = spec.to_pymc()
        w = spec.to_pymc("slope", dims="region")
        z = lib.get("ekc.ar1").to_pymc(shape=(2,))
    assert v.name == "ekc_slope_mu" and "ekc_slope_mu" in model.named_vars
    assert model.named_vars_to_dims["slope"] == ("region",)
    assert pm.draw(w, random_seed=1).shape == (3,)
    assert pm.draw(z, random_seed=1).shape == (2,)
    with pytest.raises(PriorError, match="sigma"):
        with pm.Model():
            spec.to_pymc(sigma=3.0)  # library params cannot be silently overridden here


def test_to_dist_without_model(lib):
    x = pm.draw(lib.get("ekc.ar1").to_dist(shape=(2000,)), random_seed=3)
    assert x.min() >= -0.95 and x.max() <= 0.95


def test_reference_entries_cannot_become_pymc(lib):
    ref = lib.get("reference.cfe_1982")
    assert isinstance(ref, ReferenceValue)
    with pm.Model() as model:
        with pytest.raises(PriorError, match="reference"):
            ref.to_pymc()
        with pytest.raises(PriorError, match="reference"):
            lib.get("reference.ekc_turning_point_industry").to_pymc("tp")
    assert not model.named_vars
    with pytest.raises(PriorError, match="reference"):
        ref.to_dist()
    with pytest.raises(PriorError, match="reference"):
        lib.with_overrides({"reference.cfe_1982": {"params": {"mu": 1.0}}})


# ------------------------------------------------------------------------------------------------
# Overrides
# ------------------------------------------------------------------------------------------------


def test_overrides_change_params_and_keep_original(lib):
    new = lib.with_overrides({"ekc.slope_mu": {"params": {"sigma": 1.0}}})
    assert dict(new.get("ekc.slope_mu").params) == {"mu": 0.8, "sigma": 1.0}
    assert dict(lib.get("ekc.slope_mu").params) == {"mu": 0.8, "sigma": 0.5}  # original untouched
    assert new.get("ekc.drift_mu") == lib.get("ekc.drift_mu")
    assert new.get("ekc.slope_mu").source == "study override"
    with pm.Model():
        x = pm.draw(new.get("ekc.slope_mu").to_pymc(shape=(N_DRAWS,)), random_seed=SEED)
    assert abs(x.std() - 1.0) < 5 * 1.0 / math.sqrt(2 * N_DRAWS)


def test_override_distribution_change(lib):
    new = lib.with_overrides({"ekc.nu": {"distribution": "Exponential", "params": {"lam": 1 / 30}}})
    nu = new.get("ekc.nu")
    assert nu.distribution == "Exponential" and dict(nu.params) == pytest.approx({"lam": 1 / 30})
    assert nu.source == "study override"
    assert nu.units == lib.get("ekc.nu").units
    assert nu.citation  # still non-empty; records what it replaced
    cited = lib.with_overrides(
        {"ekc.nu": {"distribution": "Exponential", "params": {"lam": 0.1}, "citation": "My study 2025"}}
    ).get("ekc.nu")
    assert cited.citation == "My study 2025"


def test_unknown_override_names_raise(lib):
    with pytest.raises(PriorError) as exc:
        lib.with_overrides({"ekc.slope_mu": {"params": {"sigma": 1.0}}, "ekc.slop": {}, "ekc.bogus_prior": {}})
    assert "ekc.slop" in str(exc.value) and "ekc.bogus_prior" in str(exc.value)


def test_overrides_are_revalidated(lib):
    with pytest.raises(PriorError, match="ekc.slope_mu"):
        lib.with_overrides({"ekc.slope_mu": {"params": {"sigma": -1.0}}})
    with pytest.raises(PriorError, match="lower < upper"):
        lib.with_overrides({"ekc.ar1": {"params": {"lower": 0.5, "upper": -0.5}}})
    with pytest.raises(PriorError, match="needs 'params'"):
        lib.with_overrides({"ekc.nu": {"distribution": "Exponential"}})
    with pytest.raises(PriorError, match="units"):
        lib.with_overrides({"ekc.nu": {"units": "other"}})


# ------------------------------------------------------------------------------------------------
# Malformed files
# ------------------------------------------------------------------------------------------------

GOOD = 'units = "u"\nsource = "s"\ncitation = "c"\n'


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('distribution = "Uniform"\nparams = { lower = 1.0, upper = 0.0 }\n' + GOOD, "lower < upper"),
        (
            'distribution = "TruncatedNormal"\nparams = { mu = 0.0, sigma = 1.0, lower = 2.0, upper = 1.0 }\n' + GOOD,
            "lower < upper",
        ),
        ('distribution = "Normal"\nparams = { mu = 0.0, sigma = -1.0 }\n' + GOOD, "> 0"),
        ('distribution = "HalfNormal"\nparams = { sigma = 0.0 }\n' + GOOD, "> 0"),
        ('distribution = "Normal"\nparams = { mu = 0.0, sigma = 1.0 }\nunits = "u"\nsource = "s"\n', "citation"),
        ('distribution = "Normal"\nparams = { mu = 0.0, sigma = 1.0 }\nunits = "u"\nsource = "s"\ncitation = " "\n', "citation"),
        ('distribution = "Normal"\nparams = { mu = 0.0, sigma = 1.0 }\nsource = "s"\ncitation = "c"\n', "units"),
        ('distribution = "Cauchy"\nparams = { alpha = 0.0, beta = 1.0 }\n' + GOOD, "unknown distribution"),
        ('distribution = "Normal"\nparams = { mu = 0.0, sigma = 1.0 }\nprior_weight = 2\n' + GOOD, "prior_weight"),
        ('distribution = "Normal"\nparams = { mu = 0.0, sd = 1.0 }\n' + GOOD, "sd"),
        ('distribution = "Normal"\nparams = { mu = 0.0 }\n' + GOOD, "sigma"),
        ('distribution = "Gamma"\nparams = { alpha = 2.0, beta = 1.0, mu = 1.0 }\n' + GOOD, "Gamma"),
        ('distribution = "Normal"\nparams = { mu = "zero", sigma = 1.0 }\n' + GOOD, "number"),
        ('params = { mu = 0.0, sigma = 1.0 }\n' + GOOD, "distribution"),
        ('kind = "reference"\nlow = 5.0\nhigh = 1.0\n' + GOOD, "low < high"),
        ('kind = "reference"\ndistribution = "Normal"\nvalue = 1.0\n' + GOOD, "distribution"),
        ('kind = "reference"\n' + GOOD, "value"),
    ],
)
def test_malformed_entry_names_file_and_entry(tmp_path, body, fragment):
    f = tmp_path / "badfam.toml"
    f.write_text('[fine]\ndistribution = "Normal"\nparams = { mu = 0.0, sigma = 1.0 }\n' + GOOD + "\n[broken]\n" + body)
    with pytest.raises(PriorError) as exc:
        PriorLibrary.load(tmp_path)
    msg = str(exc.value)
    assert str(f) in msg, msg
    assert "broken" in msg and "fine" not in msg, msg
    assert fragment in msg, msg


def test_valid_tmp_file_loads(tmp_path):
    # the same template without the defect loads, so the failures above are due to the defects
    f = tmp_path / "goodfam.toml"
    f.write_text('[fine]\ndistribution = "Normal"\nparams = { mu = 0.0, sigma = 1.0 }\n' + GOOD)
    lib = PriorLibrary.load([f])
    assert lib.names() == ["goodfam.fine"]


def test_file_level_problems(tmp_path):
    bad_toml = tmp_path / "a" / "syntax.toml"
    bad_toml.parent.mkdir()
    bad_toml.write_text("[x\n")
    with pytest.raises(PriorError, match="syntax.toml"):
        PriorLibrary.load(bad_toml)
    with pytest.raises(PriorError, match="not found"):
        PriorLibrary.load(tmp_path / "missing.toml")
    # the same name in two directories
    for d in ("b", "c"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "fam.toml").write_text('[x]\ndistribution = "HalfNormal"\nparams = { sigma = 1.0 }\n' + GOOD)
    with pytest.raises(PriorError, match="duplicate entry 'fam.x'"):
        PriorLibrary.load([tmp_path / "b", tmp_path / "c"])
    # a dotted header creates a nested table: rejected as an unknown key
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "fam.toml").write_text('[x.y]\ndistribution = "HalfNormal"\nparams = { sigma = 1.0 }\n' + GOOD)
    with pytest.raises(PriorError, match="unknown key"):
        PriorLibrary.load(tmp_path / "d")
