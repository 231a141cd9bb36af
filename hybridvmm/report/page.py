"""The HTML page, from the jinja2 template beside this module (autoescaped: guest output and
file names are text, the figures' SVG alone is marked safe)."""

from __future__ import annotations

from typing import Any


def render(context: dict[str, Any]) -> str:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader("hybridvmm.report", "templates"), autoescape=select_autoescape(default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["count"] = lambda n: f"{n:,}"
    env.filters["percent"] = lambda x: f"{x:.1%}"
    env.filters["times"] = lambda x: "–" if x is None else f"{x:.2f}×"
    return env.get_template("report.html.j2").render(**context)
