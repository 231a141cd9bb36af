"""A patched image on the bare machine traps at exactly the patched addresses, and with
each trap emulated (the original run in place, as a monitor would) it behaves exactly as
the unpatched image."""

from __future__ import annotations

from hybridvmm.guests import build_guest
from hybridvmm.image import Image
from hybridvmm.isas import build_machine
from hybridvmm.patch import patch_image

GUEST = """
        .org 0x70                       ; new PSW for cause 5 (svc): supervisor, IE off
        .word 0, svc_handler, 0, 0x10000
        .org 0x100
        .entry start
start:  movl sp, 0x8000
        movi r1, 100
        settimer r1
        pushf
        di
        popf
        srr r1, r2
        rdtime r3
        jrstu user
text:   .asciz "data: pushf srr"       ; never executed
        .align 2
user:   pushf
        pop r4
        srr r5, r6
        rdtime r7
        push r4
        popf
        movi r8, 3
loop:   rdtime r9
        add r10, r9
        dec r8
        bne loop
        jrstu done
        halt
done:   svc 0
svc_handler:
        movi r1, 'k'
        out r1, 0
        halt
"""


def run_emulating(image: Image, variant: str, max_steps: int = 3_000_000):
    """Run ``image`` bare; every illegal-instruction trap must be at a patched address,
    where the original is executed in place.  Returns (machine, trap addresses)."""
    m = build_machine(variant, image=image)
    patches = {p.address: p for p in image.patches}
    hits: list[int] = []
    stray: list = []

    def dispatcher(trap) -> None:
        where = m.base + trap.address
        if trap.name == "illegal" and where in patches:
            hits.append(where)
        else:
            if trap.name == "illegal":
                stray.append(trap)
            m.deliver(trap)

    m.trap_handler = dispatcher
    steps = 0
    while not m.halted and steps < max_steps:
        before = len(hits)
        m.step()
        steps += 1
        if len(hits) > before:
            patch = patches[hits[-1]]
            m.write(patch.address, patch.original)
            m.step()
            m.write(patch.address, patch.replacement)
    assert not stray, stray
    assert m.halted
    return m, hits


def test_patched_guest_traps_exactly_at_the_patched_addresses(tools):
    image = tools.build(GUEST, "pgm-x86")
    result = patch_image(image)
    patched = {p.address for p in result.image.patches}
    assert len(patched) == 11  # 5 supervisor sites, 6 user sites (one in a loop)
    bare = build_machine("pgm-x86", image=image)
    bare.run(10_000)
    m, hits = run_emulating(result.image, "pgm-x86")
    assert set(hits) == patched
    assert len(hits) == len(patched) + 2  # the rdtime in the loop runs three times
    assert m.console.text() == bare.console.text() == "k"
    assert m.state() == bare.state()


def test_the_unpatched_image_never_traps_there(tools):
    image = tools.build(GUEST, "pgm-x86")
    m, hits = run_emulating(image, "pgm-x86")
    assert hits == []


def test_minios_user_sensitive_patches_trap_and_emulate_to_the_same_output(minios_spaces):
    image = build_guest("minios", "pgm-x86")
    result = patch_image(image, policy="user-sensitive", spaces=minios_spaces(image))
    patched = {p.address for p in result.image.patches}
    assert patched and all(p.kind == "user-sensitive" for p in result.image.patches)
    bare = build_machine("pgm-x86", image=image)
    assert bare.run(3_000_000).reason == "halted"
    m, hits = run_emulating(result.image, "pgm-x86")
    assert set(hits) == patched
    assert m.console.text() == bare.console.text()
