"""Trap entry and exit through the in-storage PSWs; nested traps; svc from both modes;
a monitor taking every trap; the trap-loop stop."""

from __future__ import annotations

import struct

import pytest

from hybridvmm.machine import TRAP_LOOP

SIZE = 0x10000
VECTORS = """
        .org 0x30
        .word 0x00, on_privileged, 0, 0x10000     ; 1 privileged
        .word 0x00, on_illegal, 0, 0x10000        ; 2 illegal
        .word 0x00, on_bounds, 0, 0x10000         ; 3 bounds
        .word 0x00, on_misaligned, 0, 0x10000     ; 4 misaligned
        .word 0xF2, on_svc, 0, 0x10000            ; 5 svc: IE = 1 and NZCV = 1111 in the new PSW
        .word 0x00, on_timer, 0, 0x10000          ; 6 timer
"""
HANDLERS = """
        .org 0x800
on_privileged: halt
on_illegal:    halt
on_bounds:     halt
on_misaligned: halt
on_svc:        halt
on_timer:      halt
"""


def old_psw(m) -> tuple[int, int, int, int]:
    return struct.unpack("<4I", m.read(0, 16))


def program(body: str) -> str:
    return VECTORS + "\n        .org 0x100\n        .entry start\nstart:\n" + body + HANDLERS


def user_task(m, code: bytes, base=0x4000, bound=0x1000, status_ie=True, flags=0):
    m.write(base, code)
    m.set_state(user=True, ie=status_ie, flags=flags, pc=0, base=base, bound=bound)


def test_svc_from_user_mode_saves_the_exact_psw_and_loads_the_new_one(rig, asm_machine):
    m = asm_machine(program("halt"))
    t = rig()
    user_task(m, t.enc("nop") + t.enc("svc", code=0x99), flags=0b1010)
    m.run(10)
    status, pc, base, bound = old_psw(m)
    assert status == 1 | 2 | 0b1010 << 4 | 5 << 8 | 0x99 << 16
    assert (pc, base, bound) == (4, 0x4000, 0x1000)                      # pc = next instruction
    assert m.halted
    # the new PSW: supervisor, IE from the vector (1), NZCV from the vector (1111), its R
    assert (m.user, m.ie, m.flags, m.base, m.bound) == (False, True, 0b1111, 0, 0x10000)
    assert m.stats.traps == {"svc": 1} and m.stats.by_mode == {"supervisor": 1, "user": 2}


def test_svc_from_supervisor_mode(asm_machine):
    m = asm_machine(program("        movi r1, 1\n        svc 3\n"))
    m.run(10)
    status, pc, base, bound = old_psw(m)
    assert status == 5 << 8 | 3 << 16                                   # M = 0, IE = 0, flags 0
    assert (pc, base, bound) == (0x100 + 6, 0, 0x10000)
    assert m.halted and m.stats.traps == {"svc": 1}


def test_privileged_instruction_in_user_mode_saves_the_faulting_pc(rig, asm_machine):
    m = asm_machine(program("halt"))
    t = rig()
    user_task(m, t.enc("movi", ra=1, simm=1) + t.enc("ei"), status_ie=False)
    m.run(10)
    status, pc, base, bound = old_psw(m)
    assert (status, pc, base, bound) == (1 | 1 << 8, 4, 0x4000, 0x1000)
    assert m.stats.by_mode["user"] == 1                                  # the fault did not complete


@pytest.mark.parametrize("code,cause,fault_pc", [
    ("ld r1, 0(r2)", 3, 0),        # bounds: r2 = bound
    ("ld r1, 2(r3)", 4, 0),        # misaligned
    ("vmtrap 5", 2, 0),            # illegal on the bare machine, code kept
])
def test_faults_vector_with_cause(asm_machine, code, cause, fault_pc):
    from hybridvmm.asm import assemble
    m = asm_machine(program("halt"))
    user = assemble(f".org 0\n{code}\n", "pgm").sections[0].data
    user_task(m, bytes(user))
    m.set_state(regs={2: 0x1000, 3: 0})
    m.run(10)
    status, pc, base, bound = old_psw(m)
    assert status >> 8 & 0xFF == cause and pc == fault_pc and status & 1 == 1
    if code.startswith("vmtrap"):
        assert status >> 16 == 5


def test_fetch_fault_vectors_with_bounds(rig, asm_machine):
    m = asm_machine(program("halt"))
    user_task(m, b"", bound=0x10, status_ie=False)
    m.set_state(pc=0x10)
    m.run(10)
    assert old_psw(m)[:2] == (1 | 3 << 8, 0x10)


def test_rti_restores_every_psw_field(asm_machine):
    m = asm_machine(program("""
        movl r1, 0xB3          ; status: user, IE, NZCV = 1011
        st r1, 0(r0)
        movi r1, 0x20
        st r1, 4(r0)           ; pc
        movl r1, 0x4000
        st r1, 8(r0)           ; R.base
        movl r1, 0x800
        st r1, 12(r0)          ; R.bound
        rti
"""))
    m.run(9)
    assert (m.user, m.ie, m.flags, m.pc, m.base, m.bound) == (True, True, 0b1011, 0x20, 0x4000, 0x800)


def test_rti_ignores_cause_and_code_bits(asm_machine):
    m = asm_machine(program("""
        movl r1, 0x00FF0500
        st r1, 0(r0)
        movl r1, 0x200
        st r1, 4(r0)
        rti
        .org 0x200
        halt
"""))
    assert m.run(20).halted
    assert (m.user, m.ie, m.flags) == (False, False, 0)


def test_svc_round_trip_through_a_handler_that_returns(rig):
    t = rig(vectors=True)
    m = t.m
    m.write_psw(0x70, (0, 0x800, 0, 0x10000))                 # svc → 0x800 supervisor
    m.write(0x800, t.enc("addi", ra=5, rb=5, simm=1) + t.enc("rti"))
    m.write(0x4000, t.enc("svc", code=1) + t.enc("svc", code=2) + t.enc("movi", ra=6, simm=7))
    m.set_state(user=True, ie=False, pc=0, base=0x4000, bound=0x100, flags=0b0110)
    m.run(7)
    assert (m.regs[5], m.regs[6], m.pc, m.user, m.base, m.flags) == (2, 7, 8, True, 0x4000, 0b0110)
    assert m.stats.traps == {"svc": 2}


def test_nested_trap_overwrites_old_psw_and_a_careful_handler_survives_it(rig):
    """The svc handler saves the old PSW, takes a nested svc, restores it and returns."""
    t = rig(vectors=True)
    m = t.m
    m.write_psw(0x70, (0, 0x800, 0, 0x10000))
    save = 0xA00
    outer = b"".join([
        t.enc("cmpi", ra=9, simm=0),                   # r9 = nesting depth
        t.enc("bne", rel=0x100 - 4),                   # nested entry: on to the inner part at 0x900
        t.enc("addi", ra=9, rb=9, simm=1),
        *[t.enc("ld", ra=10, rb=0, simm=4 * i) + t.enc("st", ra=10, rb=11, simm=4 * i) for i in range(4)],
        t.enc("svc", code=2),                          # nested trap
        *[t.enc("ld", ra=10, rb=11, simm=4 * i) + t.enc("st", ra=10, rb=0, simm=4 * i) for i in range(4)],
        t.enc("addi", ra=9, rb=9, simm=-1),
        t.enc("rti"),
    ])
    m.write(0x800, outer)
    inner = t.enc("movi", ra=8, simm=0x55) + t.enc("rti")
    m.write(0x900, inner)
    m.write(0x4000, t.enc("svc", code=1) + t.enc("halt"))
    m.set_state(user=False, pc=0, base=0x4000, bound=0x100, regs={0: 0, 11: save})
    m.run(100)
    assert m.halted and m.regs[8] == 0x55 and m.regs[9] == 0
    assert m.pc == 4 and m.base == 0x4000
    assert m.stats.traps == {"svc": 2}
    # the save area kept the outer PSW (the task's svc 1), which rti finally used
    assert struct.unpack("<4I", m.read(save, 16)) == (5 << 8 | 1 << 16, 2, 0x4000, 0x100)


def test_trap_handler_takes_every_trap_instead_of_the_vectors(rig):
    t = rig(vectors=True)
    m = t.m
    taken = []

    def monitor(trap):
        taken.append(trap)
        m.regs[1] += 100
        if trap.name == "privileged":
            m.pc = trap.pc + 2                           # emulate: skip the instruction
            if m.instruction_at(trap.pc).name == "halt":
                m.stop("guest halted")

    m.trap_handler = monitor
    m.write(0x4000, t.enc("svc", code=9) + t.enc("di") + t.enc("halt"))
    m.set_state(user=True, pc=0, base=0x4000, bound=0x100)
    result = m.run(100)
    assert result.reason == "stopped" and result.detail == "guest halted"
    assert [(x.name, x.pc, x.code) for x in taken] == [("svc", 2, 9), ("privileged", 2, 0), ("privileged", 4, 0)]
    assert m.read(0, 16) == bytes(16)                   # no PSW swap happened
    assert m.user and m.base == 0x4000 and m.regs[1] == 300


def test_trap_handler_can_deliver_normally(rig):
    t = rig(vectors=True)
    m = t.m
    m.write_psw(0x70, (0, 0x800, 0, 0x10000))
    m.write(0x800, t.enc("halt"))
    m.trap_handler = m.deliver
    m.write(0x4000, t.enc("svc", code=4))
    m.set_state(user=True, pc=0, base=0x4000, bound=0x100)
    assert m.run(5).halted
    assert old_psw(m) == (1 | 5 << 8 | 4 << 16, 2, 0x4000, 0x100)


def test_empty_vectors_stop_with_a_trap_loop(rig):
    t = rig(vectors=True)
    m = t.m
    m.write(0x100, t.enc("svc", code=0))
    m.set_state(pc=0x100)
    result = m.run(1000)
    assert result.reason == TRAP_LOOP and "bounds" in result.detail
    assert m.stats.traps["svc"] == 1


def test_step_reports_the_trap_and_the_state_at_the_fault(rig):
    t = rig()
    res = t.exec("ld", ra=1, rb=2, simm=0, regs={1: 3, 2: 0x20000}, flags=0b0101)
    assert not res.completed and res.trap.name == "bounds" and res.events == (res.trap,)
    assert (t.m.pc, t.r[1], t.m.flags) == (0x1000, 3, 0b0101)
    assert t.m.stats.instructions == 0 and t.m.stats.traps == {"bounds": 1}


def test_a_monitor_that_makes_no_progress_is_stopped(rig):
    t = rig()
    t.m.trap_handler = lambda trap: None                 # never advances past the fault
    t.put(0x100, t.enc("vmtrap", code=1))
    t.m.set_state(pc=0x100)
    result = t.m.run(1000)
    assert result.reason == TRAP_LOOP and result.steps == 0


def test_a_monitor_that_emulates_is_not_a_trap_loop(rig):
    t = rig()
    t.m.set_state(user=True, pc=0x100)
    t.put(0x100, *[t.enc("di")] * 40, t.enc("svc", code=0))

    def emulate(trap):
        if trap.name == "svc":
            t.m.stop()
        else:
            t.m.pc = trap.pc + 2

    t.m.trap_handler = emulate
    result = t.m.run(1000)
    assert result.reason == "stopped" and t.m.stats.traps == {"privileged": 40, "svc": 1}


def test_a_trap_code_is_described_in_hex():
    """Regression (a new user): an illegal instruction's bits printed as code=3222283635."""
    from hybridvmm.machine import Trap

    text = Trap(2, "illegal", 0x80000000, 0x80000000, code=3222283635, instruction="csrrs").describe()
    assert "code=0xc0102573" in text and "3222283635" not in text
