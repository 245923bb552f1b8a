"""Package hygiene, checked statically (nothing of ``forecast`` is imported to build these graphs):

* no import cycle among the modules of ``forecast`` (module-level imports; and, apart from one known
  exception, none even when imports inside functions are counted);
* every third-party module imported anywhere in ``forecast/`` is declared in ``pyproject.toml``
  (dependencies or an optional extra), and every declared runtime dependency is imported somewhere
  (or is listed below with the reason it is needed without an ``import``).

Graph edges: ``import a.b`` and ``from a.b import c`` give the edge to ``a.b``, or to ``a.b.c`` when
that is a module of the package; relative imports are resolved. The implicit import of a parent
package's ``__init__`` is not an edge (importing ``forecast.errors`` runs ``forecast/__init__.py``
first, which is how packages work); importing the package itself (``import forecast``) is.
Imports under ``if TYPE_CHECKING:`` are ignored (never executed).
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "forecast"
PKG_DIR = ROOT / PACKAGE

# Cycles that exist only through imports inside functions and are being removed elsewhere. Each entry is
# the set of modules on the cycle.
KNOWN_FUNCTION_LEVEL_CYCLES: list[frozenset[str]] = []

# import name -> distribution name, where they differ (the installed metadata is not consulted, so that the
# test gives the same answer whatever happens to be installed).
IMPORT_TO_DIST = {
    "markdown_it": "markdown-it-py",
    "yaml": "pyyaml",
    "sklearn": "scikit-learn",
    "PIL": "pillow",
    "dateutil": "python-dateutil",
}

# Declared runtime dependencies that the package needs without importing them.
NEEDED_WITHOUT_IMPORT = {
    "h5netcdf": "NetCDF-4 engine: export.py writes forecast.nc with to_netcdf(engine='h5netcdf'); persistence.py "
                "saves and loads fitted models with ArviZ, whose to_netcdf/from_netcdf default to engine='h5netcdf'",
    "pyarrow": "pandas engine for Parquet (export.py: DataFrame.to_parquet(engine='pyarrow'))",
}


# ---------------------------------------------------------------------------------------------- parsing
def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(PKG_DIR.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> Iterator[tuple[ast.AST, bool]]:
    """(import node, inside a function) for every import executed at run time."""

    def walk(node: ast.AST, in_function: bool) -> Iterator[tuple[ast.AST, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for sub in child.orelse:
                    yield from walk(sub, in_function)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, in_function
            elif (isinstance(child, ast.Call) and isinstance(child.func, ast.Name) and child.func.id == "__import__"
                  and child.args and isinstance(child.args[0], ast.Constant) and isinstance(child.args[0].value, str)):
                yield child, in_function
            yield from walk(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    yield from walk(tree, False)


def _targets(module: str, node: ast.AST) -> list[str]:
    """Absolute names of what an import statement imports (modules, or ``package.attribute``)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.Call):  # __import__("name")
        return [node.args[0].value]
    assert isinstance(node, ast.ImportFrom)
    if node.level:
        is_package = MODULES[module].name == "__init__.py"
        base = module.split(".")
        base = base if is_package else base[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    return [f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in MODULES else prefix for alias in node.names]


def _scan() -> tuple[dict[str, set[str]], dict[str, set[str]], dict[str, set[str]]]:
    """Module-level graph, graph counting function-level imports too, third-party top-level name -> modules."""
    top: dict[str, set[str]] = {m: set() for m in MODULES}
    full: dict[str, set[str]] = {m: set() for m in MODULES}
    external: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, in_function in _imports(tree):
            for target in _targets(module, node):
                head = target.split(".")[0]
                if head == PACKAGE:
                    while target not in MODULES:  # "forecast.io.export.quantile_bands" -> "forecast.io.export"
                        target = target.rsplit(".", 1)[0]
                    if target != module:
                        full[module].add(target)
                        if not in_function:
                            top[module].add(target)
                elif head and head not in sys.stdlib_module_names and head != "__future__":
                    external.setdefault(head, set()).add(module)
    return top, full, external


TOP, FULL, EXTERNAL = _scan()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def _describe(graph: dict[str, set[str]], cycles: list[list[str]]) -> str:
    lines = []
    for comp in cycles:
        members = set(comp)
        edges = [f"{a} -> {b}" for a in comp for b in sorted(graph[a]) if b in members]
        lines.append("{" + ", ".join(comp) + "}: " + "; ".join(edges))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- cycles
def test_graph_sees_the_package():
    assert {"forecast", "forecast.io.export", "forecast.report", "forecast.models.ekc"} <= set(MODULES)
    assert "forecast.errors" in TOP["forecast.data"]  # "from .errors import ..." resolved
    assert "forecast.report.markdown" in TOP["forecast.report"]
    assert "forecast.run.pipeline" in FULL["forecast.cli"] and "forecast.run.pipeline" not in TOP["forecast.cli"]


def test_no_cycle_among_module_level_imports():
    cycles = _cycles(TOP)
    assert not cycles, "import cycles among module-level imports:\n" + _describe(TOP, cycles)


def test_no_cycle_counting_function_level_imports():
    """Lazy imports hide cycles from the interpreter, not from the design: report them all, and fail on
    any other than the known ones."""
    cycles = _cycles(FULL)
    report = _describe(FULL, cycles)
    print("cycles counting imports inside functions:\n" + (report or "none"))
    unexpected = [c for c in cycles if frozenset(c) not in KNOWN_FUNCTION_LEVEL_CYCLES]
    assert not unexpected, "import cycles (counting imports inside functions):\n" + _describe(FULL, unexpected)


def test_export_does_not_import_the_package_itself():
    assert all(PACKAGE not in FULL[m] for m in MODULES if m != PACKAGE), \
        [m for m in MODULES if m != PACKAGE and PACKAGE in FULL[m]]


def test_report_takes_its_metrics_from_the_metrics_module():
    report_modules = [m for m in MODULES if m == "forecast.report" or m.startswith("forecast.report.")]
    assert all("forecast.io.export" not in FULL[m] for m in report_modules)
    assert any("forecast.metrics" in TOP[m] for m in report_modules)


# ---------------------------------------------------------------------------------------------- dependencies
def _dist_name(requirement: str) -> str:
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1)
    return re.sub(r"[-_.]+", "-", name).lower()


PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
RUNTIME = {_dist_name(r) for r in PYPROJECT["dependencies"]}
EXTRAS = {extra: {_dist_name(r) for r in reqs} for extra, reqs in PYPROJECT.get("optional-dependencies", {}).items()}


def _dist_of(import_name: str) -> str:
    return _dist_name(IMPORT_TO_DIST.get(import_name, import_name))


def test_scan_finds_third_party_imports():
    assert {"numpy", "pandas", "xarray", "pymc", "markdown_it"} <= set(EXTERNAL)
    assert "os" not in EXTERNAL and "tomllib" not in EXTERNAL and PACKAGE not in EXTERNAL


def test_every_imported_third_party_module_is_declared():
    declared = RUNTIME.union(*EXTRAS.values())
    missing = {name: sorted(mods) for name, mods in EXTERNAL.items() if _dist_of(name) not in declared}
    assert not missing, f"imported but not declared in pyproject.toml (import name: importing modules): {missing}"


def test_every_declared_runtime_dependency_is_used():
    imported = {_dist_of(name) for name in EXTERNAL}
    unused = sorted(RUNTIME - imported - set(NEEDED_WITHOUT_IMPORT))
    assert not unused, f"declared in [project] dependencies but imported nowhere in forecast/: {unused}"
    stale = sorted(set(NEEDED_WITHOUT_IMPORT) - RUNTIME)
    assert not stale, f"NEEDED_WITHOUT_IMPORT lists packages that are not declared: {stale}"


@pytest.mark.parametrize("name", sorted(NEEDED_WITHOUT_IMPORT))
def test_needed_without_import_is_really_not_imported(name):
    """If one of these becomes a real import, take it off the exception list."""
    assert name not in {_dist_of(n) for n in EXTERNAL}


def test_no_blas_warning_in_the_users_terminal():
    """PyTensor's "could not link to a BLAS" warning is about a library nutpie does not use; importing the
    package configures PyTensor so that compiling a model prints nothing (unless the user set BLAS flags)."""
    import subprocess
    import sys

    code = ("import forecast, numpy as np, pymc as pm\n"
            "with pm.Model() as m:\n"
            "    x = pm.Normal('x', 0, 1, shape=3)\n"
            "    pm.Normal('y', pm.math.dot(np.ones((2, 3)), x), 1, observed=[0.0, 1.0])\n"
            "m.compile_logp()({'x': np.zeros(3)})\n")
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTENSOR_FLAGS"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "BLAS" not in done.stderr
