"""The patcher: traps in place, originals in the table, idempotent, reversible, data untouched."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hybridvmm.errors import ImageError
from hybridvmm.guests import build_guest
from hybridvmm.image import Image, PatchRecord
from hybridvmm.isa import Decoder, load_isa
from hybridvmm.patch import PatchSpecError, TrapPatch, patch_at, patch_image, read_original, unpatch_image
from hybridvmm.scan import data_ranges, scan_image
from hybridvmm.scan.synth import Generator

SOURCE = """
        .entry start
start:  pushf
        di
        popf
        srr r1, r2
        jrstu user
msg:    .asciz "pushf srr rdtime"       ; data that would decode as sensitive instructions
        .align 2
user:   rdtime r3
        svc 1
        br user
"""


def _bytes(image: Image) -> dict[int, int]:
    return {s.address + i: b for s in image.sections for i, b in enumerate(s.data)}


def test_sites_become_vmtrap_padded_with_nops(tools):
    image = tools.build(SOURCE, "pgm-x86")
    result = patch_image(image)
    isa = load_isa("pgm-x86")
    decoder = Decoder(isa)
    assert [(p.address, p.kind) for p in result.added] == [
        (image.entry, "user-sensitive"),
        (image.entry + 4, "sensitive"),
        (image.entry + 6, "user-sensitive"),
        (image.entry + 8, "sensitive"),
        (image.symbols["user"], "user-sensitive"),
    ]
    for p in result.image.patches:
        assert p.original == image.read(p.address, len(p.original))
        assert result.image.read(p.address, len(p.replacement)) == p.replacement
        names, off = [], 0
        while off < len(p.replacement):
            ins = decoder.decode(p.replacement, p.address + off, off)
            names.append((ins.name, dict(ins.operands)))
            off += ins.length
        assert names[0] == ("vmtrap", {"code": 0})
        assert [n for n, _ in names[1:]] == ["nop"] * (len(p.original) // 2 - 1)


def test_only_site_bytes_change_and_data_never(tools):
    image = tools.build(SOURCE, "pgm-x86")
    result = patch_image(image)
    before, after = _bytes(image), _bytes(result.image)
    changed = {a for a in before if before[a] != after[a]}
    site_bytes = {p.address + i for p in result.added for i in range(len(p.original))}
    assert changed <= site_bytes
    msg, user = tools.sym(image, "msg", "user")
    assert all(before[a] == after[a] for a in range(msg, user))
    assert result.image.symbols == image.symbols and result.image.entry == image.entry


def test_unpatch_is_the_identity_and_patching_twice_changes_nothing(tools):
    image = tools.build(SOURCE, "pgm-x86")
    once = patch_image(image).image
    twice = patch_image(once)
    assert twice.added == [] and len(twice.kept) == len(once.patches)
    assert twice.image.to_bytes() == once.to_bytes()
    assert unpatch_image(once).to_bytes() == image.to_bytes()
    assert unpatch_image(twice.image).to_bytes() == image.to_bytes()


def test_user_sensitive_then_all_sensitive_equals_all_sensitive(tools):
    image = tools.build(SOURCE, "pgm-x86")
    first = patch_image(image, policy="user-sensitive")
    assert {p.kind for p in first.added} == {"user-sensitive"} and len(first.skipped) == 2
    upgraded = patch_image(first.image, policy="all-sensitive")
    assert len(upgraded.added) == 2 and len(upgraded.kept) == 3
    assert upgraded.image.to_bytes() == patch_image(image).image.to_bytes()


def test_variant_decides_the_sites(tools):
    image = tools.build(SOURCE, "pgm")
    assert patch_image(image, "pgm-virt").added == []
    hybrid = patch_image(image, "pgm-hybrid")
    assert [p.address for p in hybrid.added] == [image.entry + 4, image.entry + 8]  # popf, jrstu
    assert hybrid.image.isa == "pgm"  # the input's ISA name is kept (unpatch is byte-exact)
    assert patch_image(image, "pgm-hybrid", policy="user-sensitive").added == []


def test_scanning_a_patched_image_sees_the_original_program(tools):
    image = tools.build(SOURCE, "pgm-x86")
    patched = patch_image(image).image
    a, b = scan_image(image), scan_image(patched)
    assert set(a.graph.edges) == set(b.graph.edges) and set(a.instructions) == set(b.instructions)
    assert read_original(patched, image.entry, 10) == image.read(image.entry, 10)
    assert patch_at(patched, image.entry + 9).address == image.entry + 8
    assert patch_at(patched, image.entry + 2) is None


def test_a_changed_patched_byte_is_refused(tools):
    image = tools.build(SOURCE, "pgm-x86")
    patched = patch_image(image).image
    patched.write(image.entry, b"\x01\x01")
    with pytest.raises(ImageError, match="changed after patching"):
        unpatch_image(patched)
    with pytest.raises(ImageError):
        patch_image(patched)
    overlapping = patch_image(image).image
    overlapping.patches.append(PatchRecord(image.entry + 1, b"\x00", b"\x00", "sensitive"))
    with pytest.raises(ImageError, match="overlap"):
        unpatch_image(overlapping)


def test_the_trap_comes_from_the_spec():
    pgm = load_isa("pgm-x86")
    trap = TrapPatch.for_isa(pgm, Decoder(pgm))
    assert (trap.trap.name, trap.pad.name) == tuple(pgm.system["patch"][k] for k in ("trap", "pad"))
    assert trap.replacement(6) == trap.trap_bytes + trap.pad_bytes * 2
    with pytest.raises(PatchSpecError):
        trap.replacement(3)
    rv32 = load_isa("rv32")
    with pytest.raises(PatchSpecError, match="does not say how to patch"):
        TrapPatch.for_isa(rv32, Decoder(rv32))


def test_an_isa_without_sites_needs_no_trap(tools):
    image = tools.build("""
    .entry start
    start:  csrrs a0, mstatus, zero
            ecall
            jal zero, start
    """, "rv32")
    result = patch_image(image)
    assert result.sites == [] and result.added == []
    assert result.image.to_bytes() == image.to_bytes()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 300))
def test_random_programs_patch_only_reached_sites(seed, n):
    isa = load_isa("pgm-x86")
    program = Generator(isa).program(n, random.Random(seed), data_chance=0.5)
    image = program.image
    result = patch_image(image, isa)
    scanner = result.scanner
    before, after = _bytes(image), _bytes(result.image)
    site_bytes = set()
    for p in result.added:
        ins = scanner.instructions[p.address]  # every patch is a reached instruction
        assert ins.raw == p.original and ins.spec.sensitive and not ins.spec.privileged
        site_bytes.update(range(p.address, p.address + len(p.original)))
    assert {a for a in before if before[a] != after[a]} <= site_bytes
    for lo, hi in data_ranges(scanner.cfg, scanner.memory.regions()) + program.data:
        assert all(before[a] == after[a] for a in range(lo, hi))
    assert unpatch_image(result.image).to_bytes() == image.to_bytes()
    assert patch_image(result.image, isa).image.to_bytes() == result.image.to_bytes()


def test_minios_patch_unpatch_round_trip(minios_spaces):
    image = build_guest("minios", "pgm-x86")
    result = patch_image(image, spaces=minios_spaces(image))
    assert len(result.added) == len(result.sites) == 14
    assert unpatch_image(result.image).to_bytes() == image.to_bytes()
    again = patch_image(result.image, spaces=minios_spaces(image))
    assert again.added == [] and again.image.to_bytes() == result.image.to_bytes()
