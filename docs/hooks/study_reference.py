"""Study-file reference, generated from the pydantic schema in ``forecast/run/study.py``.

The page ``docs/study-file.md`` holds the marker ``<!-- study-reference -->``; this MkDocs hook replaces it
with :func:`render` at build time, so the reference cannot drift from the code: every section of
:class:`forecast.run.study.Study` (with its class docstring) and every field of it (name, type, default, range,
and its ``Field(description=...)``) is listed, and each key's value and comment in the shipped studies
(``studies/*/study.toml``) is shown as an example. ``tests/test_docs.py`` checks that every field appears and
that every field has a description.

Run ``python docs/hooks/study_reference.py`` to print the generated Markdown.
"""

from __future__ import annotations

import inspect
import re
import sys
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- study-reference -->"

if str(ROOT) not in sys.path:  # `mkdocs build` from the checkout without an installed package
    sys.path.insert(0, str(ROOT))

from pydantic import BaseModel  # noqa: E402
from pydantic_core import PydanticUndefined  # noqa: E402

from forecast.run.study import Study  # noqa: E402

#: fields that are not keys of a study file
INTERNAL = {("", "source_path"): "Set by the loader to the file's path; not written in a study file"}


# --------------------------------------------------------------------------------------------------
# types, defaults and ranges
# --------------------------------------------------------------------------------------------------


def type_text(annotation: Any) -> str:
    """A TOML reader's name for a Python annotation."""
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is type(None):
        return "none"
    if annotation is Any:
        return "any"
    if origin is Literal:
        return " \\| ".join(f'`{_toml(a)}`' for a in args)
    if origin in (typing.Union, types.UnionType):
        parts = [type_text(a) for a in args if a is not type(None)]
        return " or ".join(parts) + (" (optional)" if type(None) in args else "")
    if origin is list:
        return f"array of {type_text(args[0])}" if args else "array"
    if origin is dict:
        value = args[1] if len(args) == 2 else Any
        if isinstance(value, type) and issubclass(value, BaseModel):
            return f"tables of `{value.__name__}` (one per {_dict_key_label(value)})"
        if get_origin(value) is dict:
            return "table of tables"
        return f"table ({type_text(value)} values)" if value is not Any else "table"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "table"
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _dict_key_label(model: type[BaseModel]) -> str:
    if model.__name__.startswith("Policy"):
        return "name"
    return "label" if model.__name__.startswith("Cap") else "region"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    return str(value)


def default_text(field) -> str:
    if field.is_required():
        return "**required**"
    default = field.get_default(call_default_factory=True)
    if default is None:
        return "not set"
    if isinstance(default, BaseModel):
        return "(section defaults)"
    if default is PydanticUndefined:
        return "**required**"
    return f"`{_toml(default)}`"


_BOUNDS = (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"))


def range_text(field) -> str:
    parts = []
    for meta in field.metadata:
        for attr, sign in _BOUNDS:
            value = getattr(meta, attr, None)
            if value is not None:
                parts.append(f"{sign} {value:,}" if isinstance(value, int) and abs(value) >= 100000 else f"{sign} {value:g}")
    return ", ".join(parts)


# --------------------------------------------------------------------------------------------------
# examples from the shipped studies
# --------------------------------------------------------------------------------------------------


def shipped_examples() -> dict[tuple[str, str], list[tuple[str, str, str]]]:
    """``(table, key) -> [(study, value as written, trailing comment), ...]`` from ``studies/*/study.toml``.
    ``table`` is the schema path: ``data``, ``sinks.forest_age.*``, ``targets`` (``[[targets]]``)."""
    examples: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for path in sorted((ROOT / "studies").glob("*/study.toml")):
        table = ""
        for line in path.read_text(encoding="utf-8").splitlines():
            header = re.match(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$", line)
            if header:
                table = _schema_table(header.group(1))
                continue
            m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$", line)
            if not m or table is None:
                continue
            value, comment = _split_comment(m.group(2))
            try:
                tomllib.loads(f"x = {value}")
            except tomllib.TOMLDecodeError:
                continue  # a value spanning lines
            if len(value) > 70:
                value = value[:67] + "..."
            examples.setdefault((table, m.group(1)), []).append((path.parent.name, value, comment))
    return examples


def _schema_table(header: str) -> str | None:
    parts = [p.strip().strip('"') for p in header.split(".")]
    if parts[0] in ("sinks",) and len(parts) == 3 and parts[1] in ("forest_age", "luc"):
        return f"sinks.{parts[1]}.*"
    return parts[0] if len(parts) == 1 else None  # [sinks.areas.China], [capacity.caps.x]: free tables


def _split_comment(text: str) -> tuple[str, str]:
    quote = None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return text[:i].strip(), text[i + 1:].strip()
    return text.strip(), ""


# --------------------------------------------------------------------------------------------------
# the page
# --------------------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(text: str) -> str:
    """reST inline code and roles (``x``, :class:`~a.b`) as Markdown code spans."""
    return re.sub(r"``([^`]+)``", r"`\1`", re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text))


def _doc(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    inherited = inspect.getdoc(BaseModel) or ""
    return "" if doc == inherited else _markdown(doc)


def pick_example(found: list[tuple[str, str, str]], field) -> tuple[str, str, str] | None:
    """The shipped study's value that says most: the first with a comment, else the first that differs from
    the default (none when every shipped study keeps the default without comment)."""
    with_comment = [e for e in found if e[2]]
    if with_comment:
        return with_comment[0]
    default = None if field.is_required() else field.get_default(call_default_factory=True)
    for example in found:
        try:
            value = tomllib.loads(f"x = {example[1]}")["x"]
        except tomllib.TOMLDecodeError:  # shortened
            return example
        if value != default:
            return example
    return None


def section_table(cls: type[BaseModel], table: str, examples) -> list[str]:
    rows = ["| key | type | default | range | description |", "|---|---|---|---|---|"]
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, field in cls.model_fields.items():
        text = _markdown(field.description or "")
        text = text + ("" if not text or text.endswith(".") else ".")
        example = pick_example(examples.get((table, name), []), field)
        if example:
            study, value, comment = example
            text += f"{' ' if text else ''}E.g. `{value}` in *{study}*{': ' + comment if comment else ''}."
        rows.append(f"| `{name}` | {type_text(field.annotation)} | {default_text(field)} | {range_text(field)} | {_cell(text)} |")
        if get_origin(field.annotation) is dict:
            value = get_args(field.annotation)[1]
            if isinstance(value, type) and issubclass(value, BaseModel):
                nested.append((name, value))
    out = rows
    for name, model in nested:
        out += ["", f"#### `[{table}.{name}.<{_dict_key_label(model)}>]`", ""]
        doc = _doc(model)
        if doc:
            out += [doc, ""]
        out += section_table(model, f"{table}.{name}.*", examples)
    return out


def render() -> str:
    """The generated reference: one heading and one table per section of :class:`Study`."""
    examples = shipped_examples()
    out = [
        f"Generated from `forecast/run/study.py` (`{Study.__module__}.Study`) when the site is built. "
        "*Type* is what TOML must hold (strict: `\"1000\"` is not an integer, NaN and infinity are refused "
        "everywhere); *range* lists the bounds checked when the file is read; the description is the "
        "key's `Field(description=...)` in the schema, followed by the key's value (and comment) in the shipped "
        "studies where one sets it.",
        "",
    ]
    for name, field in Study.model_fields.items():
        if ("", name) in INTERNAL:
            out += [f"### `{name}` (internal)", "", INTERNAL[("", name)] + ".", ""]
            continue
        annotation = field.annotation
        if get_origin(annotation) is list:
            model, heading = get_args(annotation)[0], f"[[{name}]]"
        elif get_origin(annotation) is dict:  # named tables, e.g. [policy.<name>]
            model = get_args(annotation)[1]
            heading = f"[{name}.<{_dict_key_label(model)}>]"
        else:
            model, heading = annotation, f"[{name}]"
        out += [f"### `{heading}`", ""]
        if heading.startswith("[["):
            out += [f"An array of tables: repeat `{heading}` once per entry (default: none).", ""]
        elif field.is_required():
            out += ["Required.", ""]
        doc = _doc(model)
        if doc:
            out += [doc, ""]
        out += section_table(model, name, examples)
        out.append("")
    return "\n".join(out)


def on_page_markdown(markdown: str, page, **kwargs) -> str:  # MkDocs hook
    if MARKER in markdown:
        return markdown.replace(MARKER, render())
    return markdown


if __name__ == "__main__":
    print(render())
