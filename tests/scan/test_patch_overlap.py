"""Overlapping instructions: every reachable instruction keeps its meaning after patching.

A jump into the middle of a 6-byte ``jrstu 0x23100600`` reaches the ``pushf; pop r1`` its
immediate hides.  The scanner decodes the hidden instructions first and refuses the real
``jrstu`` as overlapping; the patcher must still trap both (before, it patched only the
hidden ``pushf``, corrupting the ``jrstu``'s target and leaving the ``jrstu`` itself
unpatched)."""

from __future__ import annotations

from hybridvmm.asm import assemble
from hybridvmm.isa import Decoder, load_isa
from hybridvmm.patch import patch_image, unpatch_image
from hybridvmm.vmm.compare import run_bare, run_monitor

SOURCE = """
        .org 0x100
        .entry boot
boot:   movl sp, 0x8000
        cmpi r0, 1
        beq real                ; never taken at run time; scanned after the fall-through path
        call hid + 2            ; the hidden pushf; pop r1, then the ret after the jrstu
        out r1, 0
        halt
real:   jmp hid
hid:    jrstu 0x23100600        ; 00 c3 | 00 06 = pushf | 10 23 = pop r1
        ret
"""


def test_the_real_and_the_hidden_instruction_are_both_patched():
    isa = load_isa("pgm-x86")
    d = Decoder(isa)
    image = assemble(SOURCE, "pgm-x86")
    hid = image.symbols["hid"]
    result = patch_image(image, "pgm-x86")
    table = {p.address: p for p in result.image.patches}
    assert set(table) >= {hid, hid + 2}
    assert table[hid].original == image.read(hid, 6) and table[hid + 2].original == image.read(hid + 2, 2)
    vmtrap, nop = d.encode(isa.instructions["vmtrap"], {"code": 0}), d.encode(isa.instructions["nop"], {})
    assert result.image.read(hid, 6) == vmtrap + vmtrap + nop      # each start traps
    assert unpatch_image(result.image).sections == image.sections   # and the originals come back exactly
    assert patch_image(result.image, "pgm-x86").added == []         # idempotent


def test_the_patched_image_runs_as_the_original_in_every_mode():
    image = assemble(SOURCE, "pgm-x86")
    patched = patch_image(image, "pgm-x86").image
    ref = run_bare(image, "pgm-x86")
    assert ref.reason == "halted" and len(ref.console) == 1
    for mode in ("pure", "interpret", "hybrid", "patch"):
        run = run_monitor([patched], mode, "pgm-x86")[0]
        assert run.console == ref.console and run.state == ref.state, mode
        assert run.storage == ref.storage                           # the guest never sees a patch
