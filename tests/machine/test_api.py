"""The machine API later issues build on: state, system instructions, console, snapshots,
hooks, windows for VMs, semantics overrides, building machines per ISA."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hybridvmm.errors import UserError
from hybridvmm.isas import build_machine, machine_class
from hybridvmm.isas.pgm import SEMANTICS, PgmMachine, PgmState, Semantic
from hybridvmm.machine import Storage
from hybridvmm.machine.traps import SyncSignal

LOOP = """
        .org 0x100
        .entry start
start:
        movl sp, 0x8000
        movi r1, 0
        movi r2, 100
loop:
        addi r1, r1, 3
        push r1
        pop r3
        addi r2, r2, -1
        bne loop
        movi r4, 72
        out r4, 0
        movi r4, 105
        out r4, 0
        halt
"""


# --- state -----------------------------------------------------------------------------------------
def test_reset_state(rig):
    m = rig(size=0x8000).m
    assert m.state() == PgmState(tuple([0] * 16), 0, 0x100, False, False, 0, 0x8000, 0, False, False)


def test_set_state_and_state_round_trip(rig):
    m = rig().m
    s = PgmState(tuple(range(100, 116)), 0b1010, 0x222, True, True, 0x1000, 0x800, 17, True, False)
    m.set_state(**{**s.as_dict()})
    assert m.state() == s
    m.set_state(regs={3: 0xFFFFFFFF + 2})                   # partial, masked to 32 bits
    assert m.state() == replace(s, regs=s.regs[:3] + (1,) + s.regs[4:])
    with pytest.raises(TypeError):
        m.set_state(bogus=1)


def test_psw_round_trip(rig):
    m = rig().m
    m.load_psw(0b1011_0011 | 6 << 8 | 9 << 16, 0x4444, 0x100, 0x200)
    assert (m.user, m.ie, m.flags, m.pc, m.base, m.bound) == (True, True, 0b1011, 0x4444, 0x100, 0x200)
    assert m.psw() == (0b1011_0011, 0x4444, 0x100, 0x200)
    assert m.psw(5, 7) == (0b1011_0011 | 5 << 8 | 7 << 16, 0x4444, 0x100, 0x200)


def test_halt_completes_and_stops(rig):
    t = rig()
    res = t.exec("halt")
    assert res.completed and res.halted and t.m.pc == 0x1002 and t.m.stats.by_mode["supervisor"] == 1
    assert t.m.run(10).reason == "halted" and t.m.step().completed is False


def test_ei_di(rig):
    t = rig()
    t.exec("ei")
    assert t.m.ie
    t.exec("di")
    assert not t.m.ie


def test_setr_takes_effect_at_the_next_fetch(rig):
    t = rig()
    t.m.write(0x4000 + 0x1002, t.enc("movi", ra=5, simm=42))        # where the next pc maps to
    t.exec("setr", ra=1, rb=2, regs={1: 0x4000, 2: 0x2000})
    assert t.m.R == (0x4000, 0x2000) and t.m.pc == 0x1002
    t.m.step()
    assert t.r[5] == 42


def test_console_ports(rig):
    t = rig()
    t.m.console.feed(b"hi")
    t.exec("in", ra=1, port=2)
    assert t.r[1] == 2
    t.exec("in", ra=1, port=1)
    assert t.r[1] == ord("h")
    t.exec("in", ra=1, port=1)
    t.exec("in", ra=2, port=1)
    assert (t.r[1], t.r[2]) == (ord("i"), 0xFFFFFFFF)
    t.exec("in", ra=3, port=2)
    assert t.r[3] == 0
    t.exec("out", ra=4, port=0, regs={4: 0x141})                       # the low byte only
    t.exec("out", ra=4, port=5, regs={4: 0x42})                        # another port: ignored
    t.exec("in", ra=5, port=9, regs={5: 7})
    assert t.m.console.output == b"A" and t.r[5] == 0


# --- snapshots ---------------------------------------------------------------------------------------
def test_snapshot_restore_resumes_identically(asm_machine):
    m = asm_machine(LOOP)
    m.run(50)
    snap = m.snapshot()
    m.run()
    end = m.snapshot()
    assert m.halted and m.regs[1] == 300 and m.console.output == b"Hi"
    m.restore(snap)
    assert m.snapshot() == snap and not m.halted and m.console.output == b""
    m.run()
    assert m.snapshot() == end


def test_restore_drops_decoded_code(rig):
    t = rig()
    t.put(0x100, t.enc("movi", ra=1, simm=1), t.enc("halt"))
    t.m.set_state(pc=0x100)
    snap = t.m.snapshot()
    t.m.write(0x100, t.enc("movi", ra=1, simm=2))
    t.m.run(5)
    assert t.r[1] == 2
    t.m.restore(snap)
    t.m.run(5)
    assert t.r[1] == 1


# --- hooks -------------------------------------------------------------------------------------------------
def test_address_hook_fires_before_the_instruction_and_is_removable(asm_machine):
    m = asm_machine(LOOP)
    loop = m.symbols["loop"]
    seen = []
    h = m.hook_address(loop, lambda mm, a: seen.append((a, mm.regs[1])))
    m.run(30)
    assert seen[:3] == [(loop, 0), (loop, 3), (loop, 6)]
    h.remove()
    assert not h.active
    n = len(seen)
    m.run()
    assert len(seen) == n and m.regs[1] == 300


def test_address_hook_uses_storage_addresses_under_any_r(rig):
    t = rig()
    t.m.set_r(0x4000, 0x1000)
    t.put(0x10, t.enc("nop"), t.enc("halt"))
    hits = []
    t.m.hook_address(0x4010, lambda m, a: hits.append((a, m.pc)))
    t.m.set_state(pc=0x10)
    t.m.run(5)
    assert hits == [(0x4010, 0x10)]


def test_address_hook_can_redirect_or_stop(rig):
    t = rig()
    t.put(0x100, t.enc("movi", ra=1, simm=1), t.enc("halt"))
    t.put(0x200, t.enc("movi", ra=1, simm=2), t.enc("halt"))
    t.m.hook_address(0x100, lambda m, a: setattr(m, "pc", 0x200))
    t.m.set_state(pc=0x100)
    t.m.run(10)
    assert t.r[1] == 2
    t.m.hooks.clear()
    t.m.hook_address(0x100, lambda m, a: m.stop("hook"))
    t.m.set_state(pc=0x100, halted=False)
    result = t.m.run(10)
    assert result.reason == "stopped" and result.detail == "hook" and t.m.pc == 0x100 and t.r[1] == 2


def test_trap_and_output_hooks(asm_machine, rig):
    m = asm_machine(LOOP)
    out, traps = [], []
    ho = m.hook_output(lambda mm, b: out.append(b))
    m.run()
    assert bytes(out) == b"Hi"
    ho.remove()
    t = rig()
    ht = t.m.hook_trap(lambda mm, trap: traps.append((trap.name, mm.pc)))
    t.exec("svc", code=1)
    ht.remove()
    t.exec("svc", code=1)
    assert traps == [("svc", 0x1002)] and len(t.traps) == 2


def test_no_hooks_means_no_slow_path(asm_machine):
    """With no hooks installed, ordinary instructions run straight from the hot loop."""
    m = asm_machine(LOOP)
    m.run(20)
    fast = m._ctx.entry
    loop = m.symbols["loop"]
    assert fast[loop] is m._ctx.exact[loop]
    h = m.hook_address(loop, lambda mm, a: None)
    m.run(20)
    with pytest.raises(SyncSignal):
        m._ctx.entry[loop]()
    h.remove()
    m.run(20)
    assert m._ctx.entry[loop] is m._ctx.exact[loop]


# --- a VM's machine over a window of real storage, sharing the register file ------------------------------------
def test_window_machine_shares_registers_and_sees_its_allocation(rig):
    real = rig(size=0x20000)
    vm = PgmMachine(real.isa, storage=real.m.storage.window(0x10000, 0x8000), share_registers_with=real.m)
    assert vm.regs is real.m.regs and vm.storage.size == 0x8000 and vm.R == (0, 0x8000)
    vm.write(0x100, real.enc("st", ra=1, rb=2, simm=0))
    vm.set_state(pc=0x100, regs={1: 0xABCDEF01, 2: 0x40})
    vm.step()
    assert real.m.read(0x10040, 4) == (0xABCDEF01).to_bytes(4, "little")
    # the VM's virtual system state is its own
    vm.set_state(user=True, ie=True, timer=9)
    assert (real.m.user, real.m.ie, real.m.timer) == (False, False, 0)
    # the VM's old PSW lives at the start of its allocation
    vm.trap_handler = None
    vm.write_psw(vm.vector_address(5), (0, 0x200, 0, 0x8000))
    vm.write(0x104, real.enc("svc", code=3))
    vm.step()
    assert real.m.read(0x10000, 8) == (1 | 2 | 5 << 8 | 3 << 16).to_bytes(4, "little") + (0x106).to_bytes(4, "little")


def test_a_store_by_one_machine_drops_the_others_decoded_code(rig):
    real = rig(size=0x20000)
    vm = PgmMachine(real.isa, storage=real.m.storage.window(0x10000, 0x8000))
    real.m.write(0x10100, real.enc("movi", ra=1, simm=1))
    vm.set_state(pc=0x100)
    vm.step()
    assert vm.regs[1] == 1
    real.exec("st", ra=3, rb=4, simm=0, regs={3: int.from_bytes(real.enc("movi", ra=1, simm=7), "little"), 4: 0x10100})
    vm.set_state(pc=0x100)
    vm.step()
    assert vm.regs[1] == 7


def test_window_storage_bounds():
    s = Storage(0x1000)
    with pytest.raises(ValueError):
        s.window(0x800, 0x1000)


# --- semantics are data; the machine is chosen per ISA ------------------------------------------------------
def test_semantics_override_changes_behaviour(rig):
    """The classifier's mutation tests build a machine whose `add` also reads IE."""
    base = SEMANTICS["add"]

    def add_reading_ie(m, ins, env):
        h = base.factory(m, ins, env)
        ra = ins.operands["ra"]

        def mutated() -> int:
            nxt = h()
            m.regs[ra] += int(m.ie)
            return nxt
        return mutated

    from hybridvmm.isa import load_isa
    m = PgmMachine(load_isa("pgm"), 0x2000, semantics={"add": Semantic(add_reading_ie, system=True)})
    t = rig()
    m.write(0x100, t.enc("add", ra=1, rb=2))
    m.set_state(pc=0x100, ie=True, regs={1: 1, 2: 1})
    m.step()
    assert m.regs[1] == 3


def test_build_machine_for_every_pgm_variant():
    for name in ("pgm", "pgm-virt", "pgm-hybrid", "pgm-x86"):
        m = build_machine(name, storage_size=0x1000)
        assert isinstance(m, PgmMachine) and m.isa.name == name and m.storage.size == 0x1000


def test_build_machine_without_a_model_is_a_user_error(monkeypatch):
    from hybridvmm.isas import FAMILIES
    monkeypatch.delitem(FAMILIES, "rv32")               # an ISA whose family has no model
    with pytest.raises(UserError, match="no machine model"):
        machine_class("rv32")


def test_image_too_large_for_storage_is_a_user_error():
    from hybridvmm.image import Image, Section
    img = Image("pgm", 0x100, [Section("big", 0xF000, bytearray(0x2000))])
    m = build_machine("pgm", storage_size=0x10000)
    with pytest.raises(UserError, match="does not fit"):
        m.load(img)
    assert build_machine("pgm", image=img).storage.size >= 0x11000


def test_instruction_at_decodes_under_the_current_mapping(rig):
    t = rig()
    t.put(0x300, t.enc("beq", rel=-4))
    ins = t.m.instruction_at(0x300)
    assert ins.name == "beq" and ins.target == 0x2FC


def test_a_discarded_window_machine_is_not_kept_alive_by_the_storage(rig):
    import gc
    import weakref

    real = rig(size=0x20000)
    vm = PgmMachine(real.isa, storage=real.m.storage.window(0x10000, 0x8000))
    vm.write(0x100, real.enc("nop"))
    vm.set_state(pc=0x100)
    vm.step()
    ref = weakref.ref(vm)
    del vm
    gc.collect()
    assert ref() is None
    real.m.write(0x10100, real.enc("halt"))              # a store there still works


def test_close_releases_the_code_marks(rig):
    t = rig()
    t.exec("movl", ra=1, imm32=5)
    assert any(t.m.storage.marks)
    t.m.close()
    assert not any(t.m.storage.marks)


def test_mode_hook_lets_run_stop_when_the_guest_enters_user_mode(rig):
    t = rig(vectors=True)
    m = t.m
    m.write_psw(m.vector_address(5), (0, 0x300, 0, 0x10000))
    m.write(0x300, t.enc("halt"))
    t.put(0x100, t.enc("movi", ra=1, simm=1), t.enc("movi", ra=1, simm=2), t.enc("jrstu", abs=0x200))
    t.put(0x200, t.enc("movi", ra=2, simm=3), t.enc("svc", code=0))
    changes = []

    def on_mode(machine, was, now):
        changes.append((was, now, machine.pc))
        if now == "user":
            machine.stop("entered user mode")

    h = m.hook_mode(on_mode)
    m.set_state(pc=0x100)
    result = m.run(100)
    assert result.detail == "entered user mode" and m.pc == 0x200 and m.user and m.regs[2] == 0
    assert m.run(100).halted
    assert changes == [("supervisor", "user", 0x200), ("user", "supervisor", 0x300)]
    h.remove()
    assert m.hooks.mode == []
