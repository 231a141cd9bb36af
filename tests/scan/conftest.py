"""Helpers for the scanner/patcher tests: assemble a guest, scan it, read its CFG as sets."""

from __future__ import annotations

import pytest

from hybridvmm.asm import assemble
from hybridvmm.image import Image
from hybridvmm.scan import Scanner, scan_image


class CFGTools:
    """Small helpers handed to tests as the ``tools`` fixture."""

    @staticmethod
    def build(source: str, isa: str = "pgm") -> Image:
        return assemble(source, isa)

    @staticmethod
    def scan(image: Image, **kw) -> Scanner:
        return scan_image(image, **kw)

    @staticmethod
    def nodes(scanner: Scanner) -> set[int]:
        return set(scanner.graph.nodes)

    @staticmethod
    def edges(scanner: Scanner) -> set[tuple[int, int, str]]:
        return {(e.src, e.dst, e.kind) for e in scanner.cfg.edges()}

    @staticmethod
    def sym(image: Image, *names: str) -> list[int]:
        return [image.symbols[n] for n in names]


@pytest.fixture
def tools() -> type[CFGTools]:
    return CFGTools


def task_spaces(image: Image) -> tuple:
    """minios's user tasks as relocated spaces, read from its task table
    (name, R.base, R.bound, limit per task), each entered at USER_ENTRY."""
    from hybridvmm.guests import task_regions
    from hybridvmm.scan import Space

    return tuple(Space(base, bound, (entry,)) for base, bound, entry in task_regions(image))


@pytest.fixture
def minios_spaces():
    return task_spaces
