"""The five sensitive instructions × every variant × both modes behave as the variant declares.

Expected user-mode behaviour (docs/theory.md, 'The pgm variants'): pgm and pgm-virt trap all five; pgm-hybrid runs
jrstu and popf; pgm-x86 runs all five.  Supervisor mode always executes.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

SENSITIVE = ("jrstu", "popf", "pushf", "srr", "rdtime")
EXECUTES_IN_USER = {
    "pgm": set(),
    "pgm-virt": set(),
    "pgm-hybrid": {"jrstu", "popf"},
    "pgm-x86": set(SENSITIVE),
}
VARIANTS = sorted(EXECUTES_IN_USER)
BASE, BOUND = 0x4000, 0x2000
AT = 0x100


def setup(t, user: bool, ie: bool = True):
    t.m.set_state(user=user, ie=ie, base=BASE, bound=BOUND, timer=1234, flags=0b0110, regs={15: 0x1000})


def run(t, name: str, **ops):
    t.put(AT, t.enc(name, **ops))
    t.m.set_state(pc=AT)
    return t.m.step()


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", SENSITIVE)
def test_spec_declares_what_the_design_says(rig, variant, name):
    t = rig(variant)
    assert (not t.isa.instructions[name].traps_in_user_mode) == (name in EXECUTES_IN_USER[variant])


def _assert_privileged_trap(t, res, before):
    assert res.trap is not None and res.trap.name == "privileged" and res.trap.pc == AT
    assert not res.completed
    assert t.m.state() == before                       # nothing changed, pc still at the instruction
    assert t.m.read(BASE + 0x1000 - 4, 4) == bytes(4)   # nothing pushed


OPS = {"jrstu": {"abs": 0x200}, "popf": {}, "pushf": {}, "srr": {"ra": 1, "rb": 2}, "rdtime": {"ra": 3}}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", SENSITIVE)
def test_user_mode_trap_or_execute(rig, variant, name):
    t = rig(variant)
    setup(t, user=True)
    if name == "popf":
        t.m.write(BASE + 0x1000, (0b1001 << 4 | 0).to_bytes(4, "little"))   # NZCV 1001, IE 0
    before = t.m.state()
    res = run(t, name, **OPS[name])
    if name not in EXECUTES_IN_USER[variant]:
        _assert_privileged_trap(t, res, replace(before, pc=AT))
        return
    assert res.trap is None and res.completed and t.m.user
    m = t.m
    if name == "jrstu":
        assert m.pc == 0x200                             # a plain jump
    elif name == "popf":
        assert m.flags == 0b1001 and m.ie                # flags popped, IE silently kept
        assert m.regs[15] == 0x1004
    elif name == "pushf":
        assert m.regs[15] == 0xFFC
        assert m.read(BASE + 0xFFC, 4) == (1 | 2 | 0b0110 << 4).to_bytes(4, "little")   # real M and IE
    elif name == "srr":
        assert (m.regs[1], m.regs[2]) == (BASE, BOUND)  # the real relocation
    else:
        assert m.regs[3] == 1234                         # the real timer


@pytest.mark.parametrize("variant", [v for v in VARIANTS if "popf" in EXECUTES_IN_USER[v]])
def test_user_mode_popf_cannot_clear_ie_either(rig, variant):
    t = rig(variant)
    setup(t, user=True, ie=True)
    t.m.write(BASE + 0x1000, (0).to_bytes(4, "little"))
    run(t, "popf")
    assert t.m.ie


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", SENSITIVE)
def test_supervisor_mode_executes(rig, variant, name):
    t = rig(variant)
    setup(t, user=False, ie=False)
    if name == "popf":
        t.m.write(BASE + 0x1000, (0b1001 << 4 | 2).to_bytes(4, "little"))
    res = run(t, name, **OPS[name])
    assert res.trap is None and res.completed
    m = t.m
    if name == "jrstu":
        assert m.user and m.pc == 0x200                 # jump and enter user mode
        assert (m.ie, m.base, m.bound) == (False, BASE, BOUND)
    elif name == "popf":
        assert m.flags == 0b1001 and m.ie and not m.user
    elif name == "pushf":
        assert m.read(BASE + 0xFFC, 4) == (0b0110 << 4).to_bytes(4, "little")
    elif name == "srr":
        assert (m.regs[1], m.regs[2]) == (BASE, BOUND)
    else:
        assert m.regs[3] == 1234


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name,ops", [("halt", {}), ("rti", {}), ("ei", {}), ("di", {}), ("setr", {"ra": 1, "rb": 2}),
                                      ("settimer", {"ra": 1}), ("in", {"ra": 1, "port": 1}), ("out", {"ra": 1, "port": 0})])
def test_always_privileged_instructions_trap_in_user_mode_on_every_variant(rig, variant, name, ops):
    t = rig(variant)
    setup(t, user=True)
    before = t.m.state()
    res = run(t, name, **ops)
    assert res.trap.name == "privileged" and t.m.state() == replace(before, pc=AT)
    assert t.m.console.output == bytearray()
