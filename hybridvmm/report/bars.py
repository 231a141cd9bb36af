"""Per-mode bars of one image's comparison: simulated cycles, wall time, share direct, exits.

The four panels of Smith & Nair's efficiency discussion, from the numbers ``compare``
prints: the bare run is the first bar of each, a mode whose run diverged is drawn red.
"""

from __future__ import annotations

from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter

from hybridvmm.report.palette import BARE, DIVERGENT, EQUIVALENT
from hybridvmm.report.svg import STYLE, figure_svg
from hybridvmm.vmm.compare import ImageComparison


def _times(value: float, reference: float) -> str:
    return f" ({value / reference:.2f}×)" if reference else ""


def mode_bars(comparison: ImageComparison, colors: dict[str, str], prefix: str) -> str:
    """The four panels as inline SVG; ``colors`` maps exit causes to colours."""
    rows = comparison.rows
    data = [r.as_dict() for r in rows]
    bare = comparison.bare
    names = ["bare"] + [r.mode for r in rows]
    fills = [BARE] + [EQUIVALENT if r.equivalent else DIVERGENT for r in rows]
    short = ["" if r.run.instructions == bare.instructions else f"  stopped at {r.run.instructions:,} instr."
             for r in rows]
    cycles = [bare.instructions] + [d["host_cycles"] for d in data]
    wall = [bare.wall_s] + [d["wall_s"] for d in data]
    direct = [100.0] + [100 * d["direct_fraction"] for d in data]
    height = 0.8 + 0.3 * len(names)
    with rc_context(STYLE):
        fig = Figure(figsize=(11, 2 * height), layout="constrained")
        (a, b), (c, d) = fig.subplots(2, 2)
        _panel(a, names, cycles, fills, "simulated host cycles (bare = 1 per guest instruction)",
               [f"{v:,}" + _times(v, cycles[0]) + ("" if k == 0 else short[k - 1]) for k, v in enumerate(cycles)])
        _panel(b, names, wall, fills, "wall time, seconds (the host is Python too: see the note)",
               [f"{v:.3f}" + _times(v, wall[0]) for v in wall])
        _panel(c, names, direct, fills, "guest instructions run directly, %", [f"{v:.1f}%" for v in direct])
        c.set_xlim(0, 118)
        _exits(d, rows, colors)
    return figure_svg(fig, prefix)


def _panel(ax, names: list[str], values: list[float], fills: list[str], title: str, labels: list[str]) -> None:
    y = list(range(len(names)))
    ax.barh(y, values, color=fills, height=0.6)
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_title(title, loc="left", fontsize=9)
    top = max(values) if values and max(values) > 0 else 1
    ax.set_xlim(0, top * 1.55)
    for k, (v, text) in enumerate(zip(values, labels)):
        ax.text(v + top * 0.01, k, text, va="center", fontsize=8)
    if top >= 10_000:
        ax.xaxis.set_major_formatter(EngFormatter(places=0, sep=""))


def _exits(ax, rows, colors: dict[str, str]) -> None:
    """Stacked bars of exits by cause, one per mode."""
    names = [r.mode for r in rows]
    y = list(range(len(names)))
    left = [0] * len(rows)
    causes = sorted({c for r in rows if r.run.vm is not None for c in r.run.vm.stats.exits})
    for cause in causes:
        counts = [r.run.vm.stats.exits.get(cause, 0) if r.run.vm is not None else 0 for r in rows]
        ax.barh(y, counts, left=left, color=colors.get(cause, "#888888"), height=0.6, label=cause)
        left = [a + b for a, b in zip(left, counts)]
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_title("exits into the monitor, by cause", loc="left", fontsize=9)
    top = max(left) if left and max(left) > 0 else 1
    ax.set_xlim(0, top * 1.35)
    ax.xaxis.set_major_formatter(EngFormatter(places=0, sep=""))
    for k, total in enumerate(left):
        ax.text(total + top * 0.01, k, f"{total:,}", va="center", fontsize=8)
    if causes:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False, title="cause",
                  title_fontsize=7)
