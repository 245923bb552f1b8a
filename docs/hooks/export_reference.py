"""Parts of the export-schema page generated from ``forecast/io/export.py`` at build time.

``docs/export-schema.md`` holds markers that this MkDocs hook replaces, so the page shows what the code
writes: ``<!-- export:schema-version -->`` (``SCHEMA_VERSION``), ``<!-- export:bands-columns -->`` (the
columns of ``bands.csv`` with the default quantile levels, their types and meanings: the same table the
``datapackage.json`` descriptor carries), ``<!-- export:datapackage -->`` (that descriptor, as
``datapackage()`` writes it) and ``<!-- export:cf-units -->`` (unit labels and their UDUNITS form in
``forecast.nc``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from forecast.io import export  # noqa: E402


def bands_columns() -> str:
    descriptor = export.datapackage(export.band_columns())
    rows = ["| column | type | meaning |", "|---|---|---|"]
    for field in descriptor["resources"][0]["schema"]["fields"]:
        rows.append(f"| `{field['name']}` | {field['type']} | {field['description']} |")
    return "\n".join(rows)


def datapackage_json() -> str:
    return "```json\n" + json.dumps(export.datapackage(export.band_columns()), indent=2) + "\n```"


def cf_units() -> str:
    rows = ["| unit label (`units_label`) | CF / UDUNITS `units` |", "|---|---|"]
    rows += [f"| `{label}` | `{cf}` |" for label, cf in export.CF_UNITS.items()]
    rows += ["", "| variable | `cell_methods` |", "|---|---|"]
    rows += [f"| `{name}` | `{method}` |" for name, method in export.CF_CELL_METHODS.items()]
    return "\n".join(rows)


REPLACEMENTS = {
    "<!-- export:schema-version -->": lambda: str(export.SCHEMA_VERSION),
    "<!-- export:bands-columns -->": bands_columns,
    "<!-- export:datapackage -->": datapackage_json,
    "<!-- export:cf-units -->": cf_units,
}


def on_page_markdown(markdown: str, page, **kwargs) -> str:  # MkDocs hook
    for marker, make in REPLACEMENTS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    return markdown
