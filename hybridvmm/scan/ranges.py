"""Data ranges: program bytes that no scanned instruction covers.

Code and data share an image, so only control-flow scanning tells them apart; whatever is
never reached is reported (and protected from the patcher) as data.
"""

from __future__ import annotations

from hybridvmm.scan.cfg import ControlFlowGraph


def code_ranges(cfg: ControlFlowGraph) -> list[tuple[int, int]]:
    """Merged ``[start, end)`` ranges covered by scanned instructions."""
    out: list[tuple[int, int]] = []
    for start in sorted(cfg.blocks):
        end = cfg.blocks[start].end
        if out and out[-1][1] == start:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def data_ranges(cfg: ControlFlowGraph, regions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``[start, end)`` ranges of ``regions`` (the program's bytes) not covered by code."""
    code = code_ranges(cfg)
    out: list[tuple[int, int]] = []
    k = 0
    for lo, hi in sorted(regions):
        pos = lo
        while k < len(code) and code[k][1] <= lo:
            k += 1
        j = k
        while j < len(code) and code[j][0] < hi:
            c_lo, c_hi = code[j]
            if c_lo > pos:
                out.append((pos, c_lo))
            pos = max(pos, c_hi)
            j += 1
        if pos < hi:
            out.append((pos, hi))
    return out
