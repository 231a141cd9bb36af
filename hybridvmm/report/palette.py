"""Colours shared by every figure of a report, so one exit cause has one colour throughout."""

from __future__ import annotations

BARE = "#9a9a9a"
EQUIVALENT = "#4c78a8"
DIVERGENT = "#e45756"

_CAUSES = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d",
           "#bab0ac", "#1f77b4", "#8c564b")


def cause_colors(causes: list[str] | set[str]) -> dict[str, str]:
    """A colour per exit cause, by name order (the same causes always get the same colours)."""
    return {cause: _CAUSES[k % len(_CAUSES)] for k, cause in enumerate(sorted(causes))}
