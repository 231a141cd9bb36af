"""From the runs to the page: every figure drawn, every number put where the template wants it."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from hybridvmm import __version__
from hybridvmm.report.bars import mode_bars
from hybridvmm.report.cfg import cfg_section
from hybridvmm.report.collect import UNTIMED, Collected
from hybridvmm.report.page import render
from hybridvmm.report.palette import BARE, DIVERGENT, EQUIVALENT, cause_colors
from hybridvmm.report.timechart import exit_timeline
from hybridvmm.vmm.compare import ImageComparison, ModeResult


@dataclass
class Settings:
    """The options the runs were made with, as the page states them."""

    modes: list[str]
    slice_length: int
    max_steps: int
    costs: str = "default"


def build_report(collected: Collected, settings: Settings) -> str:
    """The whole page as HTML text."""
    causes = {c for comp in collected.comparisons for row in comp.rows if row.run.vm is not None
              for c in row.run.vm.stats.exits}
    colors = cause_colors(causes)
    images = [_image(k, comp, collected, colors) for k, comp in enumerate(collected.comparisons)]
    return render({
        "title": "hybridvmm report: " + ", ".join(i["name"] for i in images),
        "images": images,
        "isa": collected.isa.name,
        "settings": settings,
        "colors": {"bare": BARE, "equivalent": EQUIVALENT, "divergent": DIVERGENT},
        "versions": versions(),
        "untimed": sorted(UNTIMED & causes),
    })


def _image(k: int, comp: ImageComparison, collected: Collected, colors: dict[str, str]) -> dict[str, Any]:
    prefix = f"i{k + 1}"
    vm_name = next((r.run.vm.name for r in comp.rows if r.run.vm is not None), f"vm{k + 1}")
    strips = [(mode, t) for mode, t in collected.timelines.items()]
    ends = {r.mode: r.run.instructions for r in comp.rows}
    runtime = collected.runtime_patches(k)
    return {
        "index": k + 1,
        "name": comp.image.source or f"image {k + 1}",
        "isa": comp.isa.name,
        "bare": {"instructions": comp.bare.instructions, "ending": f"{comp.bare.reason} {comp.bare.detail}".strip(),
                 "wall_s": comp.bare.wall_s},
        "rows": [_row(r) for r in comp.rows],
        "divergences": [_divergence(r) for r in comp.rows if r.divergence is not None],
        "unexpected": [r.mode for r in comp.rows if r.unexpected],
        "bars": mode_bars(comp, colors, f"{prefix}-bars"),
        "timeline": exit_timeline(strips, vm_name, comp.bare.instructions, colors, f"{prefix}-time", ends),
        "no_exits": [r.mode for r in comp.rows if r.mode not in collected.timelines],
        "cfg": cfg_section(comp.image, comp.isa, runtime, f"{prefix}-cfg"),
        "runtime_patches": {mode: len(records) for mode, records in runtime.items()},
    }


def _row(row: ModeResult) -> dict[str, Any]:
    d = row.as_dict()
    exits = dict(sorted(row.run.vm.stats.exits.items())) if row.run.vm is not None else {}
    return {**d, "exits": exits, "exit_total": sum(exits.values()), "unexpected": row.unexpected,
            "status": "unexpected" if row.unexpected else ("equivalent" if row.equivalent else "diverged")}


def _divergence(row: ModeResult) -> dict[str, Any]:
    first, *rest = row.divergence.lines(row.mode)
    details = [tuple(line.split(": ", 1)) if ": " in line else ("", line) for line in rest]
    return {"mode": row.mode, "first": first, "details": details, "unexpected": row.unexpected,
            "reason": row.reason, "predicted": row.predicted}


def versions() -> dict[str, str]:
    """What drew the page: hybridvmm, matplotlib, jinja2 and Graphviz (if present)."""
    out = {"hybridvmm": __version__}
    for name in ("matplotlib", "jinja2"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "present"
    dot = shutil.which("dot")
    if dot:
        try:
            done = subprocess.run([dot, "-V"], capture_output=True, text=True, timeout=10)
            words = (done.stderr or done.stdout).split()
            out["Graphviz"] = words[words.index("version") + 1] if "version" in words else "present"
        except (OSError, subprocess.TimeoutExpired):
            pass
    return out
