"""The ISA-agnostic API a monitor builds on: privilege modes by name, take/elapse/arm_countdown/
service_interrupts, translate hooks, storage marks for a second watcher, progress(), code views,
paged contexts."""

from __future__ import annotations

from hybridvmm.isas.pgm import SUPERVISOR, USER
from hybridvmm.machine import TRAP_LOOP, Storage, Trap
from hybridvmm.machine.codecache import CodeCache, Context


def _vectors(t, handler: int = 0x300) -> None:
    m = t.m
    for cause in range(1, 7):
        m.write_psw(m.vector_address(cause), (0, handler, 0, m.storage.size))


# --- privilege as a value with named modes -------------------------------------------------------------
def test_priv_is_a_value_and_user_is_derived(rig):
    m = rig().m
    assert m.priv == SUPERVISOR and m.mode == "supervisor" and not m.user
    m.user = True
    assert m.priv == USER and m.mode == "user"
    assert m.MODES == {0: "supervisor", 1: "user"}


def test_stats_count_by_mode_name(rig):
    t = rig()
    t.exec("nop")
    t.exec("nop", user=True)
    t.exec("nop", user=True)
    s = t.m.stats
    assert s.by_mode == {"supervisor": 1, "user": 2}
    assert s.as_dict()["supervisor"] == 1 and s.as_dict()["user"] == 2 and s.instructions == 3


# --- take ---------------------------------------------------------------------------------------------
def test_take_counts_hooks_and_vectors_a_reflected_trap(rig):
    t = rig(vectors=True)
    m = t.m
    _vectors(t)
    seen = []
    m.hook_trap(lambda machine, trap: seen.append((trap.name, trap.pc)))
    m.set_state(pc=0x1234, user=True, ie=True)
    m.take(Trap(m.cause["svc"], "svc", 0x1236, 0x1234, code=7))
    assert seen == [("svc", 0x1236)] and m.stats.traps == {"svc": 1}
    assert m.pc == 0x300 and not m.user
    status, pc, _, _ = m.read_psw(m.old_psw)
    assert pc == 0x1236 and status & 1 and (status >> 8) & 0xFF == m.cause["svc"] and (status >> 16) & 0xFF == 7


# --- time -----------------------------------------------------------------------------------------------
def test_elapse_counts_in_the_current_mode_and_expires_the_countdown(rig):
    m = rig().m
    m.user = True
    m.arm_countdown(5)
    m.elapse(3)
    assert m.countdown == 2 and not m.timer_pending and m.stats.by_mode["user"] == 3
    m.elapse(2)
    assert m.countdown == 0 and m.timer_pending


def test_service_interrupts_takes_a_due_interrupt_without_executing(rig):
    t = rig(vectors=True)
    m = t.m
    _vectors(t)
    m.set_state(pc=0x1000, ie=True)
    m.arm_countdown(1)
    m.elapse(1)
    assert m.timer_pending and m.pc == 0x1000
    m.service_interrupts()
    assert m.pc == 0x300 and not m.timer_pending and m.stats.instructions == 1
    assert m.read_psw(m.old_psw)[1] == 0x1000


def test_arm_countdown_skip_current_is_what_settimer_does(rig):
    t = rig()
    t.r[1] = 3
    t.exec("settimer", ra=1)
    assert t.m.timer == 3                                   # the settimer itself did not count
    t.m.arm_countdown(3)
    t.exec("nop")
    assert t.m.timer == 2


# --- translate hooks --------------------------------------------------------------------------------------
def test_translate_hook_sees_first_fetches_only(rig):
    t = rig()
    m = t.m
    seen = []
    m.hook_translate(lambda machine, vaddr, paddr, ins: seen.append((vaddr, paddr, ins.name)))
    m.set_r(0x2000, 0x1000)
    t.put(0x100, t.enc("nop"), t.enc("nop"), t.enc("halt"))
    m.set_state(pc=0x100)
    m.run(10)
    m.set_state(pc=0x100, halted=False)
    m.run(10)
    assert seen == [(0x100, 0x2100, "nop"), (0x102, 0x2102, "nop"), (0x104, 0x2104, "halt")]


def test_a_translate_hook_that_changes_the_code_gets_the_new_code(rig):
    """A monitor patching at first fetch: the patched instruction is what runs."""
    t = rig()
    m = t.m
    nop, halt = t.enc("nop"), t.enc("halt")

    def patch(machine, vaddr, paddr, ins):
        if ins.name == "nop" and vaddr == 0x102:
            machine.storage.write(paddr, halt)
            return True
        return False

    m.hook_translate(patch)
    t.put(0x100, nop, nop, nop)
    m.set_state(pc=0x100)
    result = m.run(10)
    assert result.halted and m.pc == 0x104 and m.stats.instructions == 2


# --- marks for a second watcher --------------------------------------------------------------------------
class _Watcher:
    def __init__(self):
        self.dropped: list[tuple[int, int]] = []

    def drop_physical(self, start: int, end: int) -> None:
        self.dropped.append((start, end))


def test_storage_marks_let_a_second_watcher_see_stores(rig):
    t = rig()
    m = t.m
    w = _Watcher()
    m.storage.watch(w)
    m.storage.mark(0x3000, 0x3006, 1)
    t.r[1] = 0x3004
    t.r[2] = 0x11223344
    t.exec("st", ra=2, rb=1, simm=0)
    t.exec("st", ra=2, rb=1, simm=0x100)                  # unmarked: nobody told
    data = [d for d in w.dropped if d[0] >= 0x3000]       # (the rig rewrites its code at 0x1000)
    assert data == [(0x3004, 0x3008)]
    m.storage.mark(0x3000, 0x3006, -1)
    t.exec("st", ra=2, rb=1, simm=0)
    assert [d for d in w.dropped if d[0] >= 0x3000] == data and not m.storage.touches_code(0x3000, 0x3008)


def test_window_marks_are_in_root_addresses():
    root = Storage(0x4000)
    win = root.window(0x1000, 0x1000)
    w = _Watcher()
    root.watch(w)
    win.mark(0x10, 0x14, 1)
    root.write(0x1010, b"\x01")
    assert w.dropped == [(0x1010, 0x1011)]


# --- progress and the trap-loop guard ---------------------------------------------------------------------
def test_a_monitor_reporting_progress_is_never_a_trap_loop(rig):
    """An rti whose old PSW points at itself traps every time in user mode; a monitor that
    emulates it each time is working, however often the same (cause, pc) repeats."""
    t = rig()
    m = t.m
    count = []

    def monitor(trap):
        count.append(trap.pc)
        m.pc = trap.pc
        m.progress()
        if len(count) == 100:
            m.stop("enough")

    m.trap_handler = monitor
    t.put(0x1000, t.enc("rti"))
    m.set_state(pc=0x1000, user=True)
    result = m.run(1000)
    assert result.reason == "stopped" and len(count) == 100


def test_without_progress_the_same_trap_is_a_trap_loop(rig):
    t = rig()
    m = t.m
    m.trap_handler = lambda trap: setattr(m, "pc", trap.pc)
    t.put(0x1000, t.enc("rti"))
    m.set_state(pc=0x1000, user=True)
    assert m.run(1000).reason == TRAP_LOOP


# --- code views -----------------------------------------------------------------------------------------
def test_code_view_decodes_other_bytes_than_storage(rig):
    t = rig()
    m = t.m
    halt, nop = t.enc("halt"), t.enc("nop")
    t.put(0x1000, halt)
    m.code_view = lambda p: nop + halt if p == 0x1000 else None
    m.set_state(pc=0x1000)
    m.step()
    assert not m.halted and m.pc == 0x1002 and m.read(0x1000, 2) == halt


# --- paged contexts ----------------------------------------------------------------------------------------
def test_paged_context_drops_by_physical_address():
    storage = Storage(0x4000)
    cache = CodeCache(storage, 6)
    ctx = cache.put(Context("paged", None))

    class Ins:
        raw = b"\0\0\0\0"

    cache.add(ctx, 0x10000, 0x2000, Ins(), lambda: 0, lambda: 0)
    cache.add(ctx, 0x20000, 0x2000, Ins(), lambda: 0, lambda: 0)      # two pages mapping one frame
    cache.add(ctx, 0x10004, 0x3000, Ins(), lambda: 0, lambda: 0)
    assert storage.touches_code(0x2000, 0x2004)
    storage.write(0x2002, b"\x01")
    assert set(ctx.insns) == {0x10004} and not storage.touches_code(0x2000, 0x2004)
    assert ctx.physical_of(0x10004) == 0x3000
    cache.clear()
    assert not any(storage.marks)
