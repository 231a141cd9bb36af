"""The interval timer: the exact instruction boundary of its interrupt, pending while IE = 0,
delivery right after the instruction that sets IE = 1, rdtime, and determinism."""

from __future__ import annotations

import struct

import pytest

HEAD = """
        .org 0x80
        .word 0, on_timer, 0, 0x10000
        .org 0x100
        .entry start
start:
"""
TAIL = """
        .org 0x800
on_timer:
        halt
"""


def old_psw(m) -> tuple[int, int, int, int]:
    return struct.unpack("<4I", m.read(0, 16))


def prog(body: str) -> str:
    return HEAD + body + TAIL


def finish(m, stepping: bool) -> None:
    if stepping:
        for _ in range(1000):
            if m.halted:
                break
            m.step()
    else:
        m.run(1000)
    assert m.halted


@pytest.mark.parametrize("n", [1, 2, 3, 7])
@pytest.mark.parametrize("stepping", [False, True])
def test_interrupt_after_exactly_n_instructions(asm_machine, n, stepping):
    m = asm_machine(prog(f"""
        movi r1, {n}
        ei
        settimer r1          ; at 0x106
        nop                  ; 0x108, 0x10a, ... : the n-th of these completes, then the interrupt
""" + "        nop\n" * 20))
    finish(m, stepping)
    status, pc, _, _ = old_psw(m)
    assert pc == 0x108 + 2 * n
    assert status == 2 | 6 << 8                               # IE was 1; cause timer
    assert m.stats.timer_interrupts == 1 and m.stats.traps == {"timer": 1}
    assert m.stats.by_mode["supervisor"] == 3 + n + 1         # movi, ei, settimer, n nops, halt


def test_rdtime_reads_the_instructions_still_to_complete_including_itself(asm_machine):
    m = asm_machine(prog("""
        movi r1, 5
        settimer r1
        rdtime r2            ; 1st after settimer: 5
        rdtime r3            ; 2nd: 4
        nop
        rdtime r4            ; 4th: 2
        halt
"""))
    m.run(20)
    assert (m.regs[2], m.regs[3], m.regs[4]) == (5, 4, 2)


@pytest.mark.parametrize("stepping", [False, True])
def test_pending_while_ie_is_zero_then_taken_right_after_ei(asm_machine, stepping):
    m = asm_machine(prog("""
        movi r1, 2
        settimer r1          ; 0x104
        nop                  ; 0x106
        nop                  ; 0x108: expires here, IE = 0 → pending
        rdtime r5            ; 0x10a: the timer is off now
        nop                  ; 0x10c
        ei                   ; 0x10e: the interrupt is taken right after this
        movi r6, 1           ; 0x110: not executed before the interrupt
        halt
"""))
    m.run(4)
    assert m.timer_pending and m.timer == 0 and m.stats.timer_interrupts == 0
    finish(m, stepping)
    assert old_psw(m)[1] == 0x110 and m.regs[5] == 0 and m.regs[6] == 0
    assert m.stats.timer_interrupts == 1 and not m.timer_pending


def test_delivered_right_after_popf_sets_ie(asm_machine):
    m = asm_machine(prog("""
        movl sp, 0x4000
        movi r1, 2           ; a status word with IE = 1
        push r1
        movi r1, 1
        settimer r1
        nop                  ; expires: pending
        popf                 ; IE = 1 → taken before the next instruction
after_popf:
        movi r6, 1
        halt
"""))
    m.run(100)
    status, pc, _, _ = old_psw(m)
    assert m.regs[6] == 0 and pc == m.symbols["after_popf"] and status == 2 | 6 << 8


def test_delivered_right_after_rti_restores_ie(asm_machine):
    m = asm_machine(prog("""
        movi r1, 2           ; status: supervisor, IE = 1
        st r1, 0(r0)
        movl r1, resume
        st r1, 4(r0)
        movi r1, 0
        st r1, 8(r0)
        movl r1, 0x10000
        st r1, 12(r0)
        movi r1, 1
        settimer r1
        nop                  ; expires with IE = 0: pending
        rti                  ; loads IE = 1 → the interrupt comes before `resume` runs
resume:
        movi r6, 1
        halt
"""))
    m.run(100)
    assert m.regs[6] == 0 and old_psw(m)[:2] == (2 | 6 << 8, m.symbols["resume"])


def test_user_mode_popf_on_x86_cannot_enable_the_pending_interrupt(asm_machine):
    m = asm_machine(prog("""
        halt
"""), isa="pgm-x86")
    from hybridvmm.isa import Decoder
    d, ins = Decoder(m.isa), m.isa.instructions
    code = b"".join([d.encode(ins["movi"], {"ra": 1, "simm": 2}), d.encode(ins["push"], {"ra": 1}),
                     d.encode(ins["popf"], {}), d.encode(ins["nop"], {}), d.encode(ins["svc"], {"code": 0})])
    m.write(0x4000, code)
    m.set_state(user=True, ie=False, timer_pending=True, pc=0, base=0x4000, bound=0x100, regs={15: 0x100})
    m.trap_handler = lambda trap: m.stop(trap.name)
    result = m.run(100)
    assert result.detail == "svc" and m.timer_pending and not m.ie     # popf left IE alone


def test_faults_do_not_count_svc_does(rig):
    t = rig()
    seen = []

    def monitor(trap):
        seen.append((trap.name, trap.pc))
        if trap.name == "misaligned":
            t.m.pc = trap.pc + 4                          # skip the faulting ld
        elif trap.name == "timer":
            t.m.stop()

    t.m.trap_handler = monitor
    t.put(0x100, t.enc("movi", ra=1, simm=3), t.enc("settimer", ra=1),
          t.enc("ld", ra=2, rb=3, simm=1),                  # fault: not counted
          t.enc("svc", code=1),                             # counted (1)
          t.enc("nop"), t.enc("nop"),                       # 2, 3 → interrupt before the next
          t.enc("nop"))
    t.m.set_state(pc=0x100, ie=True, regs={3: 0x200})
    t.m.run(100)
    assert seen == [("misaligned", 0x106), ("svc", 0x10C), ("timer", 0x110)]


def test_settimer_discards_a_pending_request_and_zero_turns_it_off(rig):
    t = rig()
    t.put(0x100, t.enc("settimer", ra=1), t.enc("ei"), t.enc("nop"), t.enc("nop"), t.enc("halt"))
    t.m.set_state(pc=0x100, timer_pending=True, timer=50, regs={1: 0})
    t.m.run(10)
    assert t.m.halted and t.traps == [] and t.m.timer == 0 and not t.m.timer_pending


def test_an_interrupt_already_due_is_taken_first_by_step(rig):
    t = rig()
    t.put(0x100, t.enc("nop"))
    t.m.set_state(pc=0x100, ie=True, timer_pending=True)
    res = t.m.step()
    assert [e.name for e in res.events] == ["timer"] and res.interrupt.pc == 0x100
    assert res.trap is None


TASKS = """
        .org 0x70
        .word 0, on_svc, 0, 0x10000
        .word 0, on_timer, 0, 0x10000
        .org 0x100
        .entry start
start:
        movi r1, 37
        settimer r1
        movi r1, 3                  ; status: user + IE
        st r1, 0(r0)
        movi r1, 0
        st r1, 4(r0)
        movl r1, 0x4000
        st r1, 8(r0)
        movl r1, 0x1000
        st r1, 12(r0)
        movi r13, 0
        rti
on_timer:
        st r1, 0x20(r13)            ; r13 belongs to the kernel: 0
        ld r1, 0x24(r13)
        addi r1, r1, 1
        st r1, 0x24(r13)            ; count ticks at 0x24... inside unused vector 0
        movi r1, 37
        settimer r1
        ld r1, 0x20(r13)
        rti
on_svc:
        halt
        .org 0x4000
        movi r2, 0
        movl r3, 20000
loop:   add r2, r3
        addi r3, r3, -1
        bne loop
        svc 0
"""


def test_run_and_step_agree_exactly_and_runs_are_deterministic(asm_machine):
    fast = asm_machine(TASKS)
    assert fast.run(10_000_000).halted
    slow = asm_machine(TASKS)
    while not slow.halted:
        slow.step()
    again = asm_machine(TASKS)
    again.run(10_000_000)
    assert fast.snapshot() == slow.snapshot() == again.snapshot()
    assert fast.regs[2] == sum(range(1, 20001)) & 0xFFFFFFFF
    ticks = int.from_bytes(fast.read(0x24, 4), "little")
    assert ticks == fast.stats.timer_interrupts > 1000
    user = fast.stats.by_mode["user"]
    assert user == 2 + 3 * 20000 + 1
    # movi, settimer; then per tick an interval of 37 counted instructions followed by the
    # handler's 5 instructions before its settimer and the settimer itself (not counted);
    # the last interval is cut short by svc/halt.
    partial = fast.stats.instructions - 2 - 43 * ticks
    assert 0 < partial <= 37
