"""The report's optional dependencies: found, or one line saying how to install them.

matplotlib and jinja2 are heavy for a tool that otherwise needs three small packages, so
they are the ``report`` extra; nothing else imports them.
"""

from __future__ import annotations

import importlib.util

from hybridvmm.errors import UserError

MODULES = ("matplotlib", "jinja2")
INSTALL = "pip install 'hybridvmm[report]'"


def missing() -> list[str]:
    """The report's modules that are not installed."""
    return [name for name in MODULES if importlib.util.find_spec(name) is None]


def require() -> None:
    """Raise a one-line :class:`UserError` (exit 2) naming what is missing and how to install it."""
    absent = missing()
    if absent:
        raise UserError(f"report needs {' and '.join(absent)} (the report extra): {INSTALL}")
