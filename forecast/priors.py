"""Prior library: priors kept as data (``priors/*.toml``), validated, overridable, turned into PyMC RVs.

Layout
------
Each TOML file is one namespace (its file stem); each top-level table is one entry, so the entry
``[drift_mu]`` in ``priors/ekc.toml`` is named ``ekc.drift_mu``. Two kinds of entries exist:

* priors (``kind = "prior"``, the default)::

      [drift_mu]
      distribution = "Normal"
      params = { mu = 0.0, sigma = 0.02 }
      units = "1/yr"
      description = "..."      # optional
      source = "..."           # required: what scale the prior encodes and why
      citation = "..."         # required

* reference values (``kind = "reference"``): published numbers used as checks in reports, never as
  priors. They carry ``value`` and/or ``low`` + ``high`` instead of ``distribution``/``params``, plus
  the same ``units``/``description``/``source``/``citation``. They are listed by the library but
  :meth:`ReferenceValue.to_pymc` raises :class:`~forecast.errors.PriorError`.

Every problem in a file (unknown key, unknown distribution, missing/invalid parameter, non-positive
scale, inverted interval, missing units/source/citation) raises :class:`~forecast.errors.PriorError`
naming the file and the entry.

PyMC and pandas are imported lazily so that listing priors stays fast.
"""

from __future__ import annotations

import functools
import math
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Union

from forecast.errors import PriorError, close_matches, did_you_mean, suggestion

__all__ = [
    "DISTRIBUTIONS",
    "PriorLibrary",
    "PriorSpec",
    "ReferenceValue",
    "default_library",
    "default_priors_dir",
]

# --------------------------------------------------------------------------------------------------
# Supported distributions
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Dist:
    """Parameter rules for one supported distribution (the PyMC class of the same name)."""

    parametrizations: tuple[frozenset[str], ...]  # exactly one of these key sets must be given
    optional: frozenset[str] = frozenset()
    positive: frozenset[str] = frozenset()
    interval: bool = False  # lower < upper when both given

    def allowed(self) -> set[str]:
        return set().union(*self.parametrizations) | set(self.optional)


def _fs(*names: str) -> frozenset[str]:
    return frozenset(names)


DISTRIBUTIONS: Mapping[str, _Dist] = MappingProxyType(
    {
        "Normal": _Dist((_fs("mu", "sigma"),), positive=_fs("sigma")),
        "HalfNormal": _Dist((_fs("sigma"),), positive=_fs("sigma")),
        "LogNormal": _Dist((_fs("mu", "sigma"),), positive=_fs("sigma")),
        "StudentT": _Dist((_fs("nu", "sigma"),), optional=_fs("mu"), positive=_fs("nu", "sigma")),
        "HalfStudentT": _Dist((_fs("nu", "sigma"),), positive=_fs("nu", "sigma")),
        "Gamma": _Dist(
            (_fs("alpha", "beta"), _fs("mu", "sigma")), positive=_fs("alpha", "beta", "mu", "sigma")
        ),
        "Exponential": _Dist((_fs("lam"), _fs("scale")), positive=_fs("lam", "scale")),
        "Beta": _Dist(
            (_fs("alpha", "beta"), _fs("mu", "sigma")), positive=_fs("alpha", "beta", "mu", "sigma")
        ),
        "Uniform": _Dist((_fs("lower", "upper"),), interval=True),
        "TruncatedNormal": _Dist(
            (_fs("mu", "sigma"),), optional=_fs("lower", "upper"), positive=_fs("sigma"), interval=True
        ),
    }
)
"""Supported distribution names -> parameter rules. Names are the PyMC class names."""

# distributions whose values are positive whatever their parameters
_POSITIVE = frozenset({"HalfNormal", "HalfStudentT", "Gamma", "Exponential", "LogNormal"})

_PRIOR_KEYS = frozenset({"kind", "distribution", "params", "units", "description", "source", "citation"})
_REFERENCE_KEYS = frozenset({"kind", "value", "low", "high", "units", "description", "source", "citation"})
_OVERRIDE_KEYS = frozenset({"distribution", "params", "source", "citation", "description"})
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

STUDY_OVERRIDE = "study override"


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def _where(name: str, file: str) -> str:
    """Message prefix naming the file and the entry."""
    ns, _, key = name.partition(".")
    return f"{file}: entry [{key or ns}] ({name})"


def _fmt(x: float) -> str:
    return f"{x:g}"


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _number(value: Any, what: str, where: str) -> float:
    if not _is_number(value):
        raise PriorError(f"{where}: {what} must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise PriorError(f"{where}: {what} must be finite, got {value!r}")
    return x


def _text(value: Any, key: str, where: str, *, required: bool) -> str:
    if value is None:
        if required:
            raise PriorError(f"{where}: missing required key {key!r} (must be a non-empty string)")
        return ""
    if not isinstance(value, str):
        raise PriorError(f"{where}: {key!r} must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise PriorError(f"{where}: {key!r} must not be empty")
    return value.strip()


def _validate_params(distribution: Any, params: Any, where: str) -> dict[str, float]:
    """Check ``params`` against the rules of ``distribution``; return them as floats (order kept)."""
    if not isinstance(distribution, str) or distribution not in DISTRIBUTIONS:
        hint = did_you_mean(distribution, DISTRIBUTIONS, cutoff=0.5)
        raise PriorError(
            f"{where}: unknown distribution {distribution!r}{hint}; "
            f"supported: {', '.join(DISTRIBUTIONS)}"
        )
    rules = DISTRIBUTIONS[distribution]
    if not isinstance(params, Mapping):
        raise PriorError(f"{where}: 'params' must be a table like {{ mu = 0.0, sigma = 1.0 }}")
    given = set(params)
    unknown = sorted(given - rules.allowed())
    if unknown:
        raise PriorError(
            f"{where}: {distribution} does not take parameter(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(sorted(rules.allowed()))}"
        )
    required = given - set(rules.optional)
    if required not in rules.parametrizations:
        options = " or ".join("{" + ", ".join(sorted(p)) + "}" for p in rules.parametrizations)
        raise PriorError(
            f"{where}: {distribution} needs parameters {options}"
            + (f" (+ optional {', '.join(sorted(rules.optional))})" if rules.optional else "")
            + f", got {{{', '.join(sorted(given))}}}"
        )
    out: dict[str, float] = {}
    for key, value in params.items():
        x = _number(value, f"{distribution} parameter {key!r}", where)
        if key in rules.positive and not x > 0:
            raise PriorError(f"{where}: {distribution} parameter {key!r} must be > 0, got {_fmt(x)}")
        out[key] = x
    if rules.interval and "lower" in out and "upper" in out and not out["lower"] < out["upper"]:
        raise PriorError(
            f"{where}: {distribution} needs lower < upper, got lower={_fmt(out['lower'])}, "
            f"upper={_fmt(out['upper'])} (inverted or empty interval)"
        )
    if distribution == "TruncatedNormal" and "lower" not in out and "upper" not in out:
        raise PriorError(f"{where}: TruncatedNormal needs 'lower' and/or 'upper' (else use Normal)")
    if distribution == "Beta" and "mu" in out:
        mu, sigma = out["mu"], out["sigma"]
        if not (0 < mu < 1 and sigma**2 < mu * (1 - mu)):
            raise PriorError(
                f"{where}: Beta(mu, sigma) needs 0 < mu < 1 and sigma**2 < mu*(1-mu), "
                f"got mu={_fmt(mu)}, sigma={_fmt(sigma)}"
            )
    return out


# --------------------------------------------------------------------------------------------------
# Entries
# --------------------------------------------------------------------------------------------------


class _LibraryEntry:
    """What a prior and a reference value share: a ``family.key`` name and the texts every entry carries."""

    name: str

    def _set_texts(self, where: str) -> None:
        for key in ("units", "source", "citation"):
            object.__setattr__(self, key, _text(getattr(self, key), key, where, required=True))
        object.__setattr__(self, "description", _text(self.description, "description", where, required=False))

    @property
    def family(self) -> str:
        """Namespace (file stem), e.g. ``"ekc"``."""
        return self.name.partition(".")[0]

    @property
    def key(self) -> str:
        """Entry key inside its file, e.g. ``"drift_mu"``."""
        return self.name.partition(".")[2] or self.name


@dataclass(frozen=True)
class PriorSpec(_LibraryEntry):
    """One prior: a named, cited PyMC distribution. Validated on construction.

    ``name`` is the full library name (``"ekc.drift_mu"``); ``file`` the TOML file it came from.
    ``params`` is a read-only mapping of floats, in the order written in the file.
    """

    name: str
    distribution: str
    params: Mapping[str, float] = field(hash=False)
    units: str
    description: str
    source: str
    citation: str
    file: str = "<memory>"

    kind = "prior"  # class attribute, not a field

    def __post_init__(self) -> None:
        where = _where(self.name, self.file)
        params = _validate_params(self.distribution, self.params, where)
        object.__setattr__(self, "params", MappingProxyType(params))
        self._set_texts(where)

    # -- naming ------------------------------------------------------------------------------------
    @property
    def var_name(self) -> str:
        """Default PyMC variable name: the full name with ``.`` replaced by ``_``."""
        return self.name.replace(".", "_")

    @property
    def support(self) -> tuple[float, float]:
        """``(lower, upper)`` bounds of the values this prior can take (``-inf`` / ``inf`` if unbounded)."""
        p = self.params
        if self.distribution in _POSITIVE:
            return 0.0, math.inf
        if self.distribution == "Beta":
            return 0.0, 1.0
        if self.distribution in ("Uniform", "TruncatedNormal"):
            return p.get("lower", -math.inf), p.get("upper", math.inf)
        return -math.inf, math.inf

    # -- PyMC --------------------------------------------------------------------------------------
    def _pymc_args(self, kwargs: dict[str, Any]) -> tuple[type, dict[str, Any]]:
        clash = sorted(set(kwargs) & set(self.params))
        if clash:
            raise PriorError(
                f"prior {self.name!r}: parameter(s) {', '.join(clash)} are set by the library entry; "
                "change them with PriorLibrary.with_overrides instead of passing them to to_pymc"
            )
        import pymc as pm

        return getattr(pm, self.distribution), {**self.params, **kwargs}

    def to_pymc(self, var_name: str | None = None, **kwargs: Any):
        """Create this prior as a random variable in the current ``pm.Model`` context.

        ``var_name`` defaults to :attr:`var_name` (``"ekc_drift_mu"``); ``kwargs`` (``dims=``,
        ``shape=``, ``initval=``, ...) pass through to the PyMC distribution.
        """
        cls, args = self._pymc_args(kwargs)
        return cls(var_name or self.var_name, **args)

    def to_dist(self, **kwargs: Any):
        """The same distribution as an unnamed PyMC ``.dist`` (no model needed), e.g. for ``pm.draw``."""
        cls, args = self._pymc_args(kwargs)
        return cls.dist(**args)

    # -- display -----------------------------------------------------------------------------------
    def describe(self) -> str:
        """Short human string, e.g. ``"Normal(mu=0, sigma=0.02)"``."""
        args = ", ".join(f"{k}={_fmt(v)}" for k, v in self.params.items())
        return f"{self.distribution}({args})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "distribution": self.distribution,
            "params": dict(self.params),
            "units": self.units,
            "description": self.description,
            "source": self.source,
            "citation": self.citation,
            "file": self.file,
        }

    def __str__(self) -> str:
        return f"{self.name} ~ {self.describe()} [{self.units}]"


@dataclass(frozen=True)
class ReferenceValue(_LibraryEntry):
    """A published reference value or range used as a check in reports; not a prior.

    Has ``value`` and/or ``low`` + ``high`` (``low < high``, ``value`` inside if both given).
    """

    name: str
    units: str
    description: str
    source: str
    citation: str
    file: str = "<memory>"
    value: float | None = None
    low: float | None = None
    high: float | None = None

    kind = "reference"

    def __post_init__(self) -> None:
        where = _where(self.name, self.file)
        for key in ("value", "low", "high"):
            v = getattr(self, key)
            if v is not None:
                object.__setattr__(self, key, _number(v, repr(key), where))
        if (self.low is None) != (self.high is None):
            raise PriorError(f"{where}: reference entries need both 'low' and 'high' (or only 'value')")
        if self.value is None and self.low is None:
            raise PriorError(f"{where}: reference entries need 'value' or 'low' + 'high'")
        if self.low is not None and not self.low < self.high:
            raise PriorError(
                f"{where}: reference range needs low < high, got low={_fmt(self.low)}, high={_fmt(self.high)}"
            )
        if self.value is not None and self.low is not None and not self.low <= self.value <= self.high:
            raise PriorError(f"{where}: 'value' {_fmt(self.value)} lies outside [low, high]")
        self._set_texts(where)

    @property
    def is_range(self) -> bool:
        return self.low is not None

    def to_pymc(self, var_name: str | None = None, **kwargs: Any):
        raise PriorError(
            f"{self.name!r} ({self.file}) is a reference value ({self.describe()}), not a prior; "
            "it cannot be turned into a PyMC distribution"
        )

    to_dist = to_pymc

    def describe(self) -> str:
        """E.g. ``"15000–20000"``, ``"21"`` or ``"21 (9–33)"`` (units not included)."""
        rng = f"{_fmt(self.low)}–{_fmt(self.high)}" if self.low is not None else ""
        if self.value is None:
            return rng
        return f"{_fmt(self.value)} ({rng})" if rng else _fmt(self.value)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "units": self.units,
            "description": self.description,
            "source": self.source,
            "citation": self.citation,
            "file": self.file,
        }

    def __str__(self) -> str:
        return f"{self.name} = {self.describe()} [{self.units}] (reference)"


Entry = Union[PriorSpec, ReferenceValue]


def _parse_entry(ns: str, key: str, table: Any, file: str) -> Entry:
    name = f"{ns}.{key}"
    where = _where(name, file)
    if not _NAME_RE.match(key):
        raise PriorError(f"{where}: entry keys must be identifiers (letters, digits, '_'; no dots)")
    if not isinstance(table, dict):
        raise PriorError(
            f"{where}: top-level key must be a table [{key}] describing one entry, got {type(table).__name__}"
        )
    kind = table.get("kind", "prior")
    if kind not in ("prior", "reference"):
        raise PriorError(f"{where}: unknown kind {kind!r}; use 'prior' (default) or 'reference'")
    allowed = _PRIOR_KEYS if kind == "prior" else _REFERENCE_KEYS
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise PriorError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))} for a {kind} entry; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    common = {k: table.get(k) for k in ("units", "description", "source", "citation")}
    if kind == "reference":
        return ReferenceValue(
            name=name, file=file, value=table.get("value"), low=table.get("low"), high=table.get("high"), **common
        )
    for k in ("distribution", "params"):
        if k not in table:
            raise PriorError(f"{where}: missing required key {k!r}")
    return PriorSpec(name=name, distribution=table["distribution"], params=table["params"], file=file, **common)


def _load_file(path: Path) -> list[Entry]:
    file = str(path)
    ns = path.stem
    if not _NAME_RE.match(ns):
        raise PriorError(f"{file}: file stem {ns!r} must be an identifier (it is the namespace of its entries)")
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise PriorError(f"{file}: invalid TOML: {exc}") from exc
    except OSError as exc:
        raise PriorError(f"{file}: cannot read prior file: {exc}") from exc
    return [_parse_entry(ns, key, table, file) for key, table in data.items()]


# --------------------------------------------------------------------------------------------------
# Library
# --------------------------------------------------------------------------------------------------


def default_priors_dir() -> Path:
    """``<repo>/priors`` in a source checkout, else ``forecast/_bundled/priors`` in an installed wheel."""
    pkg = Path(__file__).resolve().parent  # == Path(forecast.__file__).parent
    checkout = pkg.parent / "priors"
    bundled = pkg / "_bundled" / "priors"
    if checkout.is_dir() and (pkg.parent / "pyproject.toml").is_file():
        return checkout
    if bundled.is_dir():
        return bundled
    if checkout.is_dir():
        return checkout
    raise PriorError(f"no prior library found (looked for {checkout} and {bundled})")


PathLike = Union[str, Path]


class PriorLibrary:
    """An immutable, validated collection of priors and reference values, keyed by full name."""

    def __init__(self, entries: Iterable[Entry] | Mapping[str, Entry] = ()) -> None:
        items = entries.values() if isinstance(entries, Mapping) else entries
        out: dict[str, Entry] = {}
        for e in items:
            if e.name in out:
                raise PriorError(
                    f"duplicate entry {e.name!r}: defined in {out[e.name].file} and in {e.file}"
                )
            out[e.name] = e
        self._entries: Mapping[str, Entry] = MappingProxyType(out)

    # -- loading -----------------------------------------------------------------------------------
    @classmethod
    def load(cls, paths: PathLike | Iterable[PathLike] | None = None) -> PriorLibrary:
        """Load all ``*.toml`` files from the default directory, or from the given files/directories."""
        if paths is None:
            paths = [default_priors_dir()]
        elif isinstance(paths, (str, Path)):
            paths = [paths]
        files: list[Path] = []
        for p in map(Path, paths):
            if p.is_dir():
                found = sorted(p.glob("*.toml"))
                if not found:
                    raise PriorError(f"{p}: no *.toml prior files in directory")
                files.extend(found)
            elif p.is_file():
                if p.suffix != ".toml":
                    raise PriorError(f"{p}: prior files must end in .toml")
                files.append(p)
            else:
                raise PriorError(f"{p}: prior file or directory not found")
        entries: list[Entry] = []
        for f in files:
            entries.extend(_load_file(f))
        return cls(entries)

    # -- access ------------------------------------------------------------------------------------
    def names(self, kind: str | None = None) -> list[str]:
        """All entry names (in file order), or only those of ``kind`` ("prior" or "reference")."""
        if kind not in (None, "prior", "reference"):
            raise PriorError(f"unknown kind {kind!r}; use 'prior' or 'reference'")
        return [n for n, e in self._entries.items() if kind is None or e.kind == kind]

    def families(self) -> list[str]:
        return list(dict.fromkeys(e.family for e in self._entries.values()))

    def get(self, name: str) -> Entry:
        """Entry by full name (``"ekc.drift_mu"``); unknown names raise PriorError with close matches."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            pass
        names = list(self._entries)
        close = close_matches(name, names, n=5)
        # also match a bare or misspelt key against the keys of every family
        by_key = {n.partition(".")[2]: n for n in names}
        key = str(name).rpartition(".")[2]
        close += [by_key[k] for k in close_matches(key, by_key, n=3, cutoff=0.75)]
        raise PriorError(
            f"unknown prior {name!r}{suggestion(close)}; families: {', '.join(self.families()) or 'none'}"
        )

    def __getitem__(self, name: str) -> Entry:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"PriorLibrary({len(self)} entries; families: {', '.join(self.families())})"

    def family(self, prefix: str) -> dict[str, Entry]:
        """Entries of one namespace keyed by their short key: ``family("ekc")["drift_mu"]``.

        Unknown families raise PriorError (an empty result would hide a typo).
        """
        ns = prefix.rstrip(".")
        out = {e.key: e for e in self._entries.values() if e.family == ns}
        if not out:
            hint = did_you_mean(ns, self.families())
            raise PriorError(f"unknown prior family {prefix!r}{hint}; families: {', '.join(self.families())}")
        return out

    def priors(self) -> dict[str, PriorSpec]:
        """All priors (no reference values), keyed by full name."""
        return {n: e for n, e in self._entries.items() if isinstance(e, PriorSpec)}

    def references(self) -> dict[str, ReferenceValue]:
        """All reference values, keyed by full name."""
        return {n: e for n, e in self._entries.items() if isinstance(e, ReferenceValue)}

    # -- overrides ---------------------------------------------------------------------------------
    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]] | None) -> PriorLibrary:
        """A new library with some priors replaced, e.g. from a study file::

            lib.with_overrides({"ekc.slope_mu": {"params": {"sigma": 1.0}},
                                "ekc.nu": {"distribution": "Exponential", "params": {"lam": 1/30}}})

        Each override may set ``distribution``, ``params``, ``description``, ``source``, ``citation``.
        With the same distribution, ``params`` are merged into the library's; with a new distribution
        they replace them. If the distribution or params change and no ``citation`` is given, ``source``
        becomes "study override" and the citation records the library prior it replaced; ``units`` are
        always kept. Unknown names raise PriorError naming all of them; results are re-validated.
        """
        if not overrides:
            return self
        if not isinstance(overrides, Mapping):
            raise PriorError(f"prior overrides must be a table of name -> table, got {type(overrides).__name__}")
        unknown = [n for n in overrides if n not in self._entries]
        if unknown:
            hints = [f"{n!r}{did_you_mean(n, self._entries)}" for n in unknown]
            raise PriorError(f"unknown prior name(s) in overrides: {', '.join(hints)}")
        new = dict(self._entries)
        for name, ov in overrides.items():
            old = self._entries[name]
            where = f"override for {name!r} (library entry from {old.file})"
            if isinstance(old, ReferenceValue):
                raise PriorError(f"{where}: {name!r} is a reference value, not a prior; it cannot be overridden")
            if not isinstance(ov, Mapping):
                raise PriorError(f"{where}: must be a table with distribution/params/source/citation")
            bad = sorted(set(ov) - _OVERRIDE_KEYS)
            if bad:
                raise PriorError(
                    f"{where}: unknown key(s) {', '.join(map(repr, bad))}; "
                    f"allowed: {', '.join(sorted(_OVERRIDE_KEYS))}"
                )
            dist = ov.get("distribution", old.distribution)
            if "params" in ov and not isinstance(ov["params"], Mapping):
                raise PriorError(f"{where}: 'params' must be a table")
            if dist == old.distribution:
                params = {**old.params, **ov.get("params", {})}
            elif "params" in ov:
                params = dict(ov["params"])
            else:
                raise PriorError(f"{where}: changing the distribution to {dist!r} needs 'params'")
            changed = dist != old.distribution or params != dict(old.params)
            source, citation = old.source, old.citation
            if "citation" in ov:
                citation = ov["citation"]
                source = ov.get("source", STUDY_OVERRIDE if changed else old.source)
            elif changed:
                source = ov.get("source", STUDY_OVERRIDE)
                citation = f"none given (study override of library prior {old.describe()}; {old.citation})"
            elif "source" in ov:
                source = ov["source"]
            try:
                new[name] = replace(
                    old,
                    distribution=dist,
                    params=params,
                    source=source,
                    citation=citation,
                    description=ov.get("description", old.description),
                )
            except PriorError as exc:
                raise PriorError(f"{where}: {exc}") from exc
        return PriorLibrary(new)

    # -- reporting ---------------------------------------------------------------------------------
    def to_frame(self):
        """pandas DataFrame, one row per entry: name, kind, distribution, params, units, source,
        citation, description, file. For priors ``params`` is ``"mu=0, sigma=0.02"``; reference rows
        have distribution ``"reference"`` and params like ``"low=15000, high=20000"``."""
        import pandas as pd

        rows = []
        for e in self._entries.values():
            if isinstance(e, PriorSpec):
                dist = e.distribution
                params = ", ".join(f"{k}={_fmt(v)}" for k, v in e.params.items())
            else:
                dist = "reference"
                params = ", ".join(
                    f"{k}={_fmt(getattr(e, k))}" for k in ("value", "low", "high") if getattr(e, k) is not None
                )
            rows.append(
                {
                    "name": e.name,
                    "kind": e.kind,
                    "distribution": dist,
                    "params": params,
                    "units": e.units,
                    "source": e.source,
                    "citation": e.citation,
                    "description": e.description,
                    "file": e.file,
                }
            )
        columns = ["name", "kind", "distribution", "params", "units", "source", "citation", "description", "file"]
        return pd.DataFrame(rows, columns=columns)


def lognormal_from_range(default: float, lower: float, upper: float, *, coverage: float = 0.95) -> tuple[float, float]:
    """Log-normal ``(mu, sigma)`` from a default value and its ``coverage`` interval ``[lower, upper]``.

    ``mu = log(default)`` (the default is the median); ``sigma = max(log(upper/default), log(default/lower)) / z``
    with ``z`` the normal quantile (1.96 for 95 %). For a log-symmetric range this equals
    ``(log upper - log lower) / (2 z)``; for an asymmetric one the wider side is used, so the log-normal's
    interval covers the whole published range.
    """
    from scipy.stats import norm

    if not (0 < lower <= default <= upper) or lower == upper:
        raise PriorError(f"need 0 < lower <= default <= upper with lower < upper, got {lower}, {default}, {upper}")
    z = float(norm.ppf(0.5 + coverage / 2))
    return math.log(default), max(math.log(upper / default), math.log(default / lower)) / z


@functools.lru_cache(maxsize=1)
def default_library() -> PriorLibrary:
    """The shipped prior library, loaded once (``default_library.cache_clear()`` to reload)."""
    return PriorLibrary.load()
