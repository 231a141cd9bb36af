"""The exit timeline: when, in guest-instruction time, each exit of each mode happened.

One strip per mode, one lane per cause, a tick per exit.  Ticks closer than the drawing can
show are drawn once (the counts are in the bars), so a run with thousands of exits still
makes a small figure.
"""

from __future__ import annotations

from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import StrMethodFormatter

from hybridvmm.report.exits import ExitTimeline
from hybridvmm.report.svg import STYLE, figure_svg

COLUMNS = 1500
"""Distinct tick positions across the time axis."""


def exit_timeline(strips: list[tuple[str, ExitTimeline]], vm: str, end: int, colors: dict[str, str],
                  prefix: str, ends: dict[str, int] | None = None) -> str | None:
    """``strips`` = (mode, its timeline); ``vm``: whose exits; ``end``: the time axis' length
    (guest instructions); ``ends``: where a mode's run ended, marked when before ``end``.
    None when no mode has a timed exit."""
    ends = ends or {}
    strips = [(mode, t.events.get(vm, [])) for mode, t in strips]
    strips = [(mode, events) for mode, events in strips if events]
    if not strips:
        return None
    end = max([end] + [t for _, events in strips for t, _ in events]) or 1
    lanes = [sorted({c for _, c in events}) for _, events in strips]
    with rc_context(STYLE):
        fig = Figure(figsize=(11, 0.5 + sum(0.55 + 0.24 * len(c) for c in lanes)), layout="constrained")
        axes = fig.subplots(len(strips), 1, sharex=True, squeeze=False,
                            gridspec_kw={"height_ratios": [1 + len(c) for c in lanes]})
        for ax, (mode, events), causes in zip(axes[:, 0], strips, lanes):
            row = {c: k for k, c in enumerate(causes)}
            seen: set[tuple[int, str]] = set()
            points: dict[str, list[int]] = {c: [] for c in causes}
            for t, cause in events:
                key = (t * COLUMNS // end, cause)
                if key not in seen:
                    seen.add(key)
                    points[cause].append(t)
            for cause, ts in points.items():
                ax.plot(ts, [row[cause]] * len(ts), linestyle="none", marker="|", markersize=9,
                        color=colors.get(cause, "#888888"))
            ax.set_yticks(range(len(causes)), causes)
            ax.set_ylim(-0.7, len(causes) - 0.3)
            ax.invert_yaxis()
            ax.set_title(f"{mode}: {len(events):,} exits", loc="left", fontsize=9)
            stop = ends.get(mode)
            if stop is not None and stop < end:
                ax.axvline(stop, color="#555555", linestyle=":", linewidth=1)
                ax.annotate(f" run ended at {stop:,}", (stop, 0), xycoords=("data", "axes fraction"), fontsize=7,
                            color="#555555", va="bottom")
            ax.grid(axis="x", color="#dddddd", linewidth=0.5)
        last = axes[-1, 0]
        last.set_xlim(0, end)
        last.set_xlabel("guest instructions executed")
        last.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    return figure_svg(fig, prefix)
