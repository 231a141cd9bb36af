"""DOT text to SVG through Graphviz's ``dot`` program: the layout no Python library matches.

Graphviz is a system package (Debian ``graphviz``), not a Python one, so it may be absent:
:func:`have_dot` says whether it is, and :func:`render_svg` fails with one line saying how
to install it.
"""

from __future__ import annotations

import shutil
import subprocess

from hybridvmm.errors import UserError

INSTALL_HINT = "Graphviz's dot is needed to draw SVG (Debian: apt-get install graphviz)"
TIMEOUT_S = 120


def have_dot() -> bool:
    return shutil.which("dot") is not None


def render_svg(dot_text: str) -> str:
    """The SVG Graphviz lays out for ``dot_text`` (a one-line UserError without Graphviz)."""
    exe = shutil.which("dot")
    if exe is None:
        raise UserError(INSTALL_HINT)
    try:
        done = subprocess.run([exe, "-Tsvg"], input=dot_text.encode(), capture_output=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise UserError(f"Graphviz's dot took more than {TIMEOUT_S} s to lay out the graph; draw less of it "
                        f"(--function or --around)") from None
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        raise UserError(f"Graphviz's dot failed: {reason[-1] if reason else f'exit {done.returncode}'}")
    return done.stdout.decode()
