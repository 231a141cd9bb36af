"""SVG made fit to sit inline in one HTML page.

matplotlib and Graphviz write SVG documents: an XML prolog, a DOCTYPE naming a DTD by URL,
namespace URLs, metadata, and ids (``clip1``, ``node1``) that two figures on one page would share.  Inline,
the prolog and DOCTYPE are noise, the metadata dates the file, and shared ids make one
figure clip by another's path; :func:`inline` removes the first three and gives every id a
figure's own prefix.
"""

from __future__ import annotations

import io
import re
from typing import Any

_PROLOG = re.compile(r"<\?xml[^>]*\?>\s*|<!DOCTYPE[^>]*>\s*|<!--.*?-->\s*", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_ID = re.compile(r'\bid="([^"]+)"')
_NAMESPACES = re.compile(r'\s+xmlns(?::xlink)?="http://www\.w3\.org/(?:2000/svg|1999/xlink)"')
_ROOT = re.compile(r"<svg\b[^>]*>")
_SIZE = re.compile(r'\s(width|height)="([0-9.]+)pt"')

STYLE = {
    "svg.fonttype": "none",  # text stays text: the page's own sans-serif, searchable, no embedded glyphs
    "svg.hashsalt": "hybridvmm-report",  # the same figure gives the same bytes
    "font.family": "sans-serif",
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
"""matplotlib settings for every report figure."""


def inline(svg: str, prefix: str) -> str:
    """``svg`` without prolog, DOCTYPE, comments and metadata, its ids prefixed with ``prefix``,
    and sized to fit the page (:func:`fit`).  The namespace declarations go too: HTML's parser
    puts ``<svg>`` and ``xlink:href`` in their namespaces itself, and the page then holds no
    URL at all."""
    svg = fit(_NAMESPACES.sub("", _METADATA.sub("", _PROLOG.sub("", svg))))
    ids = set(_ID.findall(svg))
    if not ids:
        return svg.strip()

    def scoped(name: str) -> str:
        return f"{prefix}-{name}" if name in ids else name

    svg = _ID.sub(lambda m: f'id="{scoped(m.group(1))}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{scoped(m.group(1))})", svg)
    svg = re.sub(r'((?:xlink:)?href)="#([^"]+)"', lambda m: f'{m.group(1)}="#{scoped(m.group(2))}"', svg)
    return svg.strip()


def fit(svg: str) -> str:
    """Never wider than the page nor taller than the window, never larger than drawn: the
    root's fixed width and height become a style (its viewBox keeps the proportions)."""
    root = _ROOT.search(svg)
    if root is None or "viewBox" not in root.group(0):
        return svg
    size = dict((k, float(v)) for k, v in _SIZE.findall(root.group(0)))
    if "width" not in size:
        return svg
    tag = _SIZE.sub("", root.group(0))
    style = f'style="width: min(100%, {size["width"]:g}pt); height: auto; max-height: 92vh"'
    tag = tag[:-1].rstrip("/ ") + f" {style}>" if not tag.endswith("/>") else tag
    return svg[:root.start()] + tag + svg[root.end():]


def figure_svg(figure: Any, prefix: str) -> str:
    """A matplotlib figure as inline SVG (see :func:`inline`)."""
    from matplotlib import rc_context

    buffer = io.StringIO()
    with rc_context(STYLE):  # the SVG settings are read when saving
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    return inline(buffer.getvalue(), prefix)
