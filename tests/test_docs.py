"""The documentation site cannot drift from the code: the study-file reference (generated from the schema by
``docs/hooks/study_reference.py``) lists every key of every section, and the API reference names every module
of the documented packages. Fast: no MkDocs build (that is the third command of ``.ci/run``)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import get_args, get_origin

import pytest
from pydantic import BaseModel

from forecast.run.study import Study

ROOT = Path(__file__).resolve().parents[1]


def _hook(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _generator():
    return _hook("study_reference")


def _sections(model: type[BaseModel], prefix: str = ""):
    """(heading as the page writes it, schema model) for every section and nested table of the schema."""
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if get_origin(annotation) is list and get_args(annotation) and isinstance(get_args(annotation)[0], type) \
                and issubclass(get_args(annotation)[0], BaseModel):
            yield f"[[{name}]]", get_args(annotation)[0]
        elif get_origin(annotation) is dict and isinstance(get_args(annotation)[1], type) \
                and issubclass(get_args(annotation)[1], BaseModel):  # named top-level tables, [policy.<name>]
            yield f"[{name}.<", get_args(annotation)[1]
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield f"[{name}]", annotation
            for sub, table in annotation.model_fields.items():
                value = get_args(table.annotation)[1] if get_origin(table.annotation) is dict else None
                if isinstance(value, type) and issubclass(value, BaseModel):
                    yield f"[{name}.{sub}.<", value


def _chunk(text: str, heading: str) -> str:
    start = re.search(rf"^#{{3,4}} `{re.escape(heading)}", text, flags=re.M).end()
    rest = text[start:]
    ends = [m.start() for m in re.finditer(r"^#{3,4} ", rest, flags=re.M)]
    return rest[: ends[0]] if ends else rest


@pytest.fixture(scope="module")
def reference() -> str:
    return _generator().render()


def test_study_reference_lists_every_section_and_key(reference):
    missing = []
    for heading, model in _sections(Study):
        if not re.search(rf"^#{{3,4}} `{re.escape(heading)}", reference, flags=re.M):
            missing.append(heading)
            continue
        chunk = _chunk(reference, heading)
        missing += [f"{heading} {key}" for key in model.model_fields if f"| `{key}` |" not in chunk]
    assert not missing, f"keys of the study schema missing from the generated reference: {missing}"
    # every top-level field is there, sections or not (source_path is noted as internal)
    assert all(f"`{name}" in reference or f"[{name}]" in reference or f"[{name}." in reference
               for name in Study.model_fields)


def _schema_models(model: type[BaseModel] = Study, seen: set | None = None):
    """Every pydantic model reachable from ``model`` through its fields (sections, tables of tables)."""
    seen = set() if seen is None else seen
    if model in seen:
        return
    seen.add(model)
    yield model
    for field in model.model_fields.values():
        stack = [field.annotation]
        while stack:
            annotation = stack.pop()
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                yield from _schema_models(annotation, seen)
            stack += list(get_args(annotation))


def test_every_study_key_has_a_description():
    """Each key of every section (and of tables such as ``[sinks.forest_age.<region>]``) has a real
    ``Field(description=...)``, and each section a docstring: the study-file reference shows them."""
    models = list(_schema_models())
    assert len(models) >= 15  # the walk reached the sections and the nested tables
    missing = [f"{m.__name__}.{name}" for m in models if m is not Study
               for name, field in m.model_fields.items()
               if len((field.description or "").split()) < 3]  # a word or two is a label, not a description
    assert not missing, f"study keys without a description (add Field(description=...)): {missing}"
    undocumented = [m.__name__ for m in models if m is not Study and not (m.__doc__ or "").strip()]
    assert not undocumented, f"study sections without a docstring: {undocumented}"


def test_the_reference_shows_each_description(reference):
    chunk = _chunk(reference, "[scenario]")
    description = Study.model_fields["scenario"].annotation.model_fields["gdp_decay_years"].description
    assert description in chunk
    assert "| `horizon` | integer | `2060` | ≥ 1900, ≤ 2300 | Last forecast year (included)." in chunk


def test_study_reference_shows_defaults_and_ranges(reference):
    chunk = _chunk(reference, "[sampler]")
    assert '| `name` | `"nutpie"` \\| `"pymc"` \\| `"numpyro"` | `"nutpie"` |' in chunk
    assert re.search(r"\| `chains` \| integer \| `2` \| ≥ 1, ≤ 32 \|", chunk)


def test_the_study_page_holds_the_marker():
    assert _generator().MARKER in (ROOT / "docs" / "study-file.md").read_text(encoding="utf-8")


DOCUMENTED_PACKAGES = ("models", "projection", "policy", "sinks", "evaluation", "data")


def test_api_reference_names_every_public_module():
    pages = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "docs" / "api").glob("*.md"))
    modules = [f"forecast.{pkg}.{p.stem}" for pkg in DOCUMENTED_PACKAGES
               for p in sorted((ROOT / "forecast" / pkg).glob("*.py")) if not p.stem.startswith("_")]
    missing = [m for m in modules + ["forecast.run.pipeline"] if f"::: {m}\n" not in pages]
    assert not missing, f"modules without an API page entry (add a '::: module' line to docs/api/): {missing}"


# --------------------------------------------------------------------------------------------------
# Sphinx roles in docstrings -> autorefs links (docs/hooks/griffe_crossrefs.py)
# --------------------------------------------------------------------------------------------------


def test_roles_become_optional_autorefs():
    convert = _hook("griffe_crossrefs").convert
    scope = {"EKCModel": "forecast.models.ekc.EKCModel", "Scenario": "forecast.scenarios.Scenario"}

    def resolve(name):
        return scope[name]  # a KeyError stands for griffe's NameResolutionError

    text = ("See :class:`~forecast.models.ekc.EKCModel`, :class:`EKCModel`, :meth:`Scenario.from_csv`, "
            ":py:func:`fan_chart()` and :func:`the helper <forecast.a.b>`; ``literal`` stays.")
    out = convert(text, resolve)
    assert ('<autoref identifier="forecast.models.ekc.EKCModel" optional><code>EKCModel</code></autoref>, '
            '<autoref identifier="forecast.models.ekc.EKCModel" optional><code>EKCModel</code></autoref>, ') in out
    assert '<autoref identifier="forecast.scenarios.Scenario.from_csv" optional><code>Scenario.from_csv</code>' in out
    # unresolvable: kept as written (the autoref is optional, so it renders as code without a warning)
    assert '<autoref identifier="fan_chart" optional><code>fan_chart()</code></autoref>' in out
    assert '<autoref identifier="forecast.a.b" optional><code>the helper</code></autoref>' in out
    assert ":class:" not in out and ":func:" not in out and "``literal`` stays." in out


def test_roles_resolve_in_the_docstring_owners_scope():
    griffe = pytest.importorskip("griffe")
    hook = _hook("griffe_crossrefs")
    modules = {
        "__init__.py": "",
        "errors.py": "class InputError(Exception):\n    'Bad input.'\n",
        "models.py": ("from pkg.errors import InputError\n\n"
                      "class Model:\n"
                      "    'Raises :class:`InputError`; see :meth:`fit` and :class:`~pkg.errors.InputError`.'\n\n"
                      "    def fit(self):\n        'Fit; :exc:`Missing` is unknown.'\n"),
    }
    with griffe.temporary_visited_package("pkg", modules, extensions=griffe.load_extensions(hook.SphinxRolesAsAutorefs)) as pkg:
        doc = pkg["models.Model"].docstring.value
        fit_doc = pkg["models.Model.fit"].docstring.value
    assert '<autoref identifier="pkg.errors.InputError" optional><code>InputError</code></autoref>' in doc
    assert '<autoref identifier="pkg.models.Model.fit" optional><code>fit</code></autoref>' in doc
    assert doc.count('identifier="pkg.errors.InputError"') == 2
    assert '<autoref identifier="Missing" optional><code>Missing</code></autoref>' in fit_doc


def test_mkdocstrings_loads_the_roles_extension():
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "docs/hooks/griffe_crossrefs.py:SphinxRolesAsAutorefs" in config


def test_getting_started_shows_the_report_screenshot():
    """The picture the page embeds exists (made by benchmarks/report_screenshot.py) and says what run it shows."""
    page = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]+\]\(([^)]+\.png)\)", page)
    assert images, "getting-started.md embeds no screenshot"
    for image in images:
        path = ROOT / "docs" / image
        assert path.is_file() and path.stat().st_size > 20_000, path
        assert "seed" in path.with_suffix(".txt").read_text(encoding="utf-8")


def test_screenshot_provenance_reads_the_run_summary(tmp_path):
    import json

    spec = importlib.util.spec_from_file_location("report_screenshot", ROOT / "benchmarks" / "report_screenshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (tmp_path / "summary.json").write_text(json.dumps({
        "package_version": "9.9", "study": {"name": "global", "seed": 7},
        "provenance": [{"sha256": "ab" * 32}, {"path": "no hash"}]}))
    text = module.provenance(tmp_path)
    assert "study: global (seed 7)" in text and "package version: 9.9" in text and "ab" * 32 in text
    assert "no summary.json" in module.provenance(tmp_path / "missing")
