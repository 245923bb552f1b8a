"""Self-contained HTML rendering of the Markdown report.

The Markdown is parsed with ``markdown-it-py`` (CommonMark + pipe tables; raw HTML in the text is
escaped, not passed through). Every image is inlined as a base64 ``data:`` URI, so the single HTML
file can be mailed or archived without its ``figures/`` directory.
"""

from __future__ import annotations

import base64
import html as _html
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token

from forecast.report._format import figure_alt

__all__ = ["render_html"]

_MIME = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
}

_CSS = """
:root { color-scheme: light; }
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       line-height: 1.5; color: #1b1f23; background: #fff; margin: 0; }
main { max-width: 64rem; margin: 0 auto; padding: 1.5rem 1.25rem 4rem; }
h1 { font-size: 1.8rem; border-bottom: 2px solid #d0d7de; padding-bottom: .3rem; }
h2 { font-size: 1.35rem; margin-top: 2.2rem; border-bottom: 1px solid #d0d7de; padding-bottom: .2rem; }
h3 { font-size: 1.1rem; margin-top: 1.5rem; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .9rem; display: block;
        overflow-x: auto; max-width: 100%; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; vertical-align: top; }
th { background: #f0f3f6; font-weight: 600; }
tbody tr:nth-child(even) { background: #f8f9fa; }
td { font-variant-numeric: tabular-nums; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85em;
       background: #f0f3f6; padding: .05rem .25rem; border-radius: 3px; word-break: break-all; }
blockquote { margin: 1rem 0; padding: .6rem 1rem; background: #fff8e1; border-left: 4px solid #f0a500;
             color: #5a4300; }
blockquote p { margin: .2rem 0; }
img { max-width: 100%; height: auto; border: 1px solid #e1e4e8; }
a { color: #0969da; }
@media print { table { display: table; } main { max-width: none; } }
"""


def _data_uri(path: Path) -> str | None:
    mime = _MIME.get(path.suffix.lower())
    if mime is None or not path.is_file():
        return None
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _resolve_local(src: str, out_dir: Path) -> Path | None:
    """A relative image ``src`` as a file inside ``out_dir``; None for URLs or paths escaping it."""
    parts = urlsplit(src)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    rel = unquote(parts.path)
    if os.path.isabs(rel):
        return None
    root = out_dir.resolve()
    candidate = (root / rel).resolve()
    try:
        candidate.relative_to(root)
    except ValueError:
        return None
    return candidate


def _inline_images(tokens: list[Token], out_dir: Path) -> set[str]:
    """Replace image sources by data URIs in place; return the set of embedded relative paths."""
    embedded: set[str] = set()
    for tok in tokens:
        if not tok.children:
            continue
        new_children: list[Token] = []
        for child in tok.children:
            if child.type != "image":
                new_children.append(child)
                continue
            src = str(child.attrGet("src") or "")
            local = _resolve_local(src, out_dir)
            uri = _data_uri(local) if local is not None else None
            if src.startswith("data:"):
                new_children.append(child)
            elif uri is not None:
                child.attrSet("src", uri)
                embedded.add(unquote(urlsplit(src).path))
                new_children.append(child)
            else:
                # Never leave an external or dangling link in a "self-contained" file.
                alt = child.content or "image"
                text = Token("text", "", 0)
                text.content = f"[figure not available: {alt}]"
                new_children.append(text)
        tok.children = new_children
    return embedded


def _title(tokens: list[Token]) -> str:
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open" and tok.tag == "h1" and i + 1 < len(tokens):
            inline = tokens[i + 1]
            text = "".join(c.content for c in (inline.children or []) if c.type in ("text", "code_inline"))
            return text or inline.content
    return "Carbon forecast report"


def render_html(markdown_text: str, figure_paths: Mapping[str, str] | None, out_dir: str | os.PathLike[str]) -> str:
    """Render the report Markdown to one self-contained HTML document (returned as a string).

    ``out_dir`` is the directory relative image paths are resolved against (where ``report.md``
    lives). Figures in ``figure_paths`` that the Markdown does not reference are appended at the
    end, so every figure ends up in the HTML.
    """
    out_dir = Path(out_dir)
    md = MarkdownIt("commonmark", {"html": False, "typographer": False}).enable("table")
    env: dict = {}
    tokens = md.parse(markdown_text, env)
    embedded = _inline_images(tokens, out_dir)
    body = md.renderer.render(tokens, md.options, env)

    extra = []
    for region, rel in (figure_paths or {}).items():
        rel = str(rel).replace("\\", "/")
        if rel in embedded:
            continue
        local = _resolve_local(rel, out_dir)
        uri = _data_uri(local) if local is not None else None
        if uri is None:
            continue
        alt = _html.escape(figure_alt(region, rel), quote=True)
        extra.append(f'<h3>{_html.escape(str(region))}</h3>\n<p><img src="{uri}" alt="{alt}" /></p>')
    if extra:
        body += "<h2>Figures</h2>\n" + "\n".join(extra) + "\n"

    title = _html.escape(_title(tokens))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8" />\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1" />\n'
        f"<title>{title}</title>\n<style>{_CSS}</style>\n</head>\n"
        f"<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )
