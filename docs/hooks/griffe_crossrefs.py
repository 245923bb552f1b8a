"""Sphinx cross-reference roles in docstrings as links of the API reference (a Griffe extension).

The docstrings are written for Sphinx as much as for this site: ``:class:`~forecast.models.ekc.EKCModel```,
``:func:`fan_chart```, ``:meth:`Scenario.from_csv```. mkdocstrings renders docstrings as Markdown, where such
a role is plain text. This extension, loaded by mkdocstrings (``extensions`` in ``mkdocs.yml``), rewrites each
role before the docstring is parsed into an *optional* autorefs element::

    <autoref identifier="forecast.models.ekc.EKCModel" optional><code>EKCModel</code></autoref>

so mkdocs-autorefs turns it into a link wherever the target has a page on the site, and into plain code
(no warning, so ``mkdocs build --strict`` stays green) where it has none (private helpers, modules outside the
API reference). Short names are resolved in the docstring owner's scope, the way Python would see them (its
members, its module's imports); ``~`` shows the last component only, as in Sphinx. The docstrings stay as they
are.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import griffe

#: a Sphinx Python-domain role: :class:`target`, :py:func:`~a.b.c`, :meth:`Title <target>`
ROLE = re.compile(
    r":(?:py:)?(?P<role>class|func|meth|mod|data|attr|exc|obj|const|type):"
    r"`(?P<tilde>~)?(?:(?P<title>[^`<]+?)\s*<(?P<explicit>[^`>]+)>|(?P<target>[^`]+))`"
)


def _identifier(target: str, resolve: Callable[[str], str]) -> str:
    """The full dotted path of ``target`` (a full path, a name in scope, or ``Name.member``); ``target``
    itself when it cannot be resolved (the autoref is optional, so it then renders as code)."""
    target = target.strip().lstrip(".").removesuffix("()")
    head, _, rest = target.partition(".")
    try:
        resolved = resolve(head)
    except Exception:  # griffe's NameResolutionError, alias errors: leave the name as written
        return target
    return f"{resolved}.{rest}" if rest else resolved


def convert(text: str, resolve: Callable[[str], str]) -> str:
    """``text`` with every Sphinx role replaced by an optional autorefs element (see the module docstring)."""

    def replace(match: re.Match) -> str:
        target = match["explicit"] or match["target"]
        identifier = _identifier(target, resolve)
        if match["title"]:
            shown = match["title"]
        else:
            shown = target.strip().lstrip(".")
            if match["tilde"]:
                shown = shown.rsplit(".", 1)[-1]
        return (f'<autoref identifier="{html.escape(identifier)}" optional>'
                f"<code>{html.escape(shown)}</code></autoref>")

    return ROLE.sub(replace, text)


class SphinxRolesAsAutorefs(griffe.Extension):
    """Rewrite Sphinx roles in every docstring of the loaded packages (see the module docstring)."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        docstring = obj.docstring
        if docstring is None or ":" not in docstring.value or "`" not in docstring.value:
            return
        # a full path (``forecast.models.ekc.EKCModel``) does not resolve in scope and is kept as written
        docstring.value = convert(docstring.value, obj.resolve)
