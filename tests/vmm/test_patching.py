"""Run-time patches are real (the trap is in storage) and invisible to the guest: loads see
the original bytes, stores into patched code drop the patch and the new code is scanned
and patched again before it runs, and a jump into the middle of a patched instruction —
or to an instruction hidden inside another — behaves as on the bare machine."""

from __future__ import annotations

import pytest

from hybridvmm.asm import assemble
from hybridvmm.isa import Decoder, load_isa
from hybridvmm.vmm import Monitor
from hybridvmm.vmm.compare import first_divergence, run_bare, run_monitor

X86 = load_isa("pgm-x86")
D = Decoder(X86)


def enc(name: str, **ops: int) -> bytes:
    return D.encode(X86.instructions[name], ops)


SELF_READ = """
        .org 0x100
        .entry boot
boot:   movl sp, 0x8000
        call sub                ; sub's pushf is scanned and patched before it runs
        movl r2, sub
        ld r3, 0(r2)            ; the guest reads its own code: the original bytes
        movi r9, 4
show:   out r3, 0
        shri r3, r3, 8
        addi r9, r9, -1
        bne show
        halt
        .align 4
sub:    pushf
        pop r1
        ret
"""

SELF_MODIFY = """
        .org 0x100
        .entry boot
boot:   movl sp, 0x8000
        call sub                ; pushf (patched) runs once
        out r1, 0
        movl r2, sub
        movl r4, 0x{movi:08x}   ; movi r1, 0x4b: overwrites pushf + pop r1
        st r4, 0(r2)
        call sub
        out r1, 0
        movl r4, 0x{srr:08x}    ; srr r1, r6 + nop: sensitive again, must be patched again
        st r4, 0(r2)
        call sub
        out r1, 0
        halt
        .align 4
sub:    pushf
        pop r1
        ret
"""

MIDDLE = """
        .org 0x100
        .entry boot
boot:   movl sp, 0x8000
        cmpi r0, 0
        beq go                  ; taken at run time ...
        jmp never               ; ... but the scanner follows this path first: never's jrstu is patched
go:     br never + 2            ; into the middle of the (patched) jrstu: its immediate is code
never:  jrstu 0x00418050        ; bytes 00 c3 | 50 80 41 00 = movi r5, 0x41 at never + 2
        out r5, 0
        halt
"""

HIDDEN = """
        .org 0x100
        .entry boot
boot:   movl sp, 0x8000
        call hid                ; movl r6, ...; ret
        call hid + 2            ; the pushf; pop r1 hidden in movl's immediate; ret
        out r6, 0
        out r1, 0
        shri r6, r6, 24
        out r6, 0
        halt
hid:    movl r6, 0x23100600     ; 00 c0 60?? | 00 06 (pushf) 10 23 (pop r1)
        ret
"""


def _equivalent(source: str, mode: str = "patch", isa: str = "pgm-x86"):
    image = assemble(source, isa)
    ref = run_bare(image, isa)
    run = run_monitor([image], mode, isa)[0]
    assert ref.reason == "halted"
    assert first_divergence(ref, run, image, load_isa(isa)) is None
    assert run.console == ref.console
    return image, ref, run


def test_the_patch_is_in_storage_but_the_guest_reads_the_original():
    image, ref, run = _equivalent(SELF_READ)
    vm = run.vm
    sub = image.symbols["sub"]
    assert run.console[:2] == enc("pushf")                     # what the guest read: the original
    assert vm.window.read(sub, 2) == enc("vmtrap", code=0)       # what storage holds: the trap
    assert vm.guest_storage()[sub:sub + 2] == enc("pushf")
    assert vm.stats.patches_applied >= 1 and vm.stats.patches_hit == 1
    assert [r.address for r in vm.patches.table()] == [sub]


@pytest.mark.parametrize("mode", ["patch", "hybrid", "interpret"])
def test_self_modifying_code_after_patching_runs_the_new_code(mode):
    movi = int.from_bytes(enc("movi", ra=1, simm=0x4B), "little")
    srr = int.from_bytes(enc("srr", ra=1, rb=6) + enc("nop"), "little")
    image, ref, run = _equivalent(SELF_MODIFY.format(movi=movi, srr=srr), mode)
    assert run.console[1:2] == b"\x4b"
    if mode == "patch":
        stats = run.vm.stats
        assert stats.patches_dropped >= 1                      # the store dropped the pushf patch
        assert stats.patches_hit == 2                          # pushf, then the srr written later
        assert run.vm.window.read(image.symbols["sub"], 2) == enc("vmtrap", code=0)


@pytest.mark.parametrize("mode", ["patch", "pure", "interpret"])
def test_a_jump_into_the_middle_of_a_patched_instruction_behaves_as_bare(mode):
    image, ref, run = _equivalent(MIDDLE, mode, "pgm-virt" if mode == "pure" else "pgm-x86")
    assert run.console == b"A"
    if mode == "patch":
        never = image.symbols["never"]
        assert run.vm.patches.at(never) is not None             # the jrstu was patched
        assert run.vm.window.read(never + 2, 4) != bytes.fromhex("50804100")


def test_an_instruction_hidden_inside_another_is_patched_and_both_keep_their_meaning():
    image, ref, run = _equivalent(HIDDEN)
    hid = image.symbols["hid"]
    assert run.vm.patches.at(hid + 2) is not None               # the hidden pushf
    assert run.vm.stats.patches_hit == 1
    assert run.console[0] == 0x00 and run.console[2] == 0x23    # movl kept its full immediate


def test_a_forged_vmtrap_is_the_guests_own_illegal_instruction():
    source = """
        .org 0x100
        .entry boot
boot:   movl r1, 0x20 + 16 * 2      ; the illegal-instruction vector
        movl r2, handler
        st r0, 0(r1)
        st r2, 4(r1)
        movl r3, 0x100000
        st r0, 8(r1)
        st r3, 12(r1)
        vmtrap 0                    ; a hypercall the monitor never offered
        halt
handler: movi r4, 0x49
        out r4, 0
        halt
"""
    for mode in ("pure", "hybrid", "patch", "interpret"):
        image, ref, run = _equivalent(source, mode, "pgm-x86" if mode != "pure" else "pgm-virt")
        assert run.console == b"I" and run.vm.stats.patches_hit == 0
        assert run.vm.vcpu.stats.traps == {"illegal": 1}


def test_statically_patched_images_run_in_every_mode():
    from hybridvmm.patch import patch_image

    image = assemble(SELF_READ, "pgm-x86")
    patched = patch_image(image, "pgm-x86").image
    assert patched.patches
    ref = run_bare(image, "pgm-x86")
    for mode in ("pure", "interpret", "hybrid", "patch"):
        run = run_monitor([patched], mode, "pgm-x86")[0]
        assert run.console == ref.console and run.state == ref.state, mode
    assert run_bare(patched, "pgm-x86").console == ref.console     # bare runs the original view


def test_patch_traps_are_counted_only_for_patches():
    monitor = Monitor([assemble(SELF_READ, "pgm-x86")], "patch")
    monitor.run()
    vm = monitor.vms[0]
    assert vm.stats.exits.get("illegal") == 1 and vm.stats.patches_hit == 1 and vm.stats.emulated >= 2


def test_an_instruction_the_scanner_refused_as_overlapping_is_patched_when_it_is_fetched():
    """The scanner decodes never + 2 first and refuses never's jrstu (it would cover a known
    instruction); the translate hook still patches the jrstu the moment the host fetches it."""
    source = MIDDLE.replace("beq go", "bne go").replace("jmp never ", "jmp go   ")
    image = assemble(source, "pgm-x86")
    monitor = Monitor([image], "patch")
    vm = monitor.vms[0]
    never = image.symbols["never"]
    monitor.switch_to(vm)
    vm.target = vm.stop_at = 10**6
    monitor.direct.enter(vm)
    space = vm.lazy
    space.on_translate(monitor.host, never + 2, vm.window.offset + never + 2, monitor.host.instruction_at(never + 2))
    scan = next(iter(space.spaces.values())).scanner
    assert never + 2 in scan.cfg.instructions and never not in scan.cfg.instructions
    assert vm.patches.at(never) is None
    jrstu = monitor.host.instruction_at(never)                  # the host's first fetch of it
    assert jrstu.name == "vmtrap" and vm.patches.at(never) is not None


def test_a_fetch_beyond_storage_with_patches_present_is_a_bounds_fault():
    """Regression (found by hostile-topbase): a guest whose R.base lies past the end of its
    storage, once the VM had patches, made the host ask the patch set for code outside the
    host storage (an IndexError) instead of taking a bounds fault."""
    source = """
        .org 0x100
        .entry boot
boot:   movl sp, 0x8000
        call sub                    ; pushf: patched, so the patch set is not empty
        movl r1, 0x20 + 16 * 3      ; the bounds vector -> handler
        movl r2, handler
        movl r3, 0x100000
        st r0, 0(r1)
        st r2, 4(r1)
        st r0, 8(r1)
        st r3, 12(r1)
        movl r10, 0x200000          ; R.base past the end of the 1 MiB storage
        movl r11, 0x1000
        setr r10, r11               ; the next fetch faults
handler: movi r4, 0x42
        out r4, 0
        halt
sub:    pushf
        pop r5
        ret
"""
    for mode in ("patch", "hybrid", "pure"):
        image, ref, run = _equivalent(source, mode, "pgm-virt" if mode == "pure" else "pgm-x86")
        assert run.console == b"B"
