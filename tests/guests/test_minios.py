"""minios beyond its golden file: the mechanisms it demonstrates really happened, its
numbers are right, it behaves identically on every variant, and a machine that breaks
any of the mechanisms (IE in popf, srr, rdtime, jrstu, ei, pushf) changes its output."""

from __future__ import annotations

import re

import pytest

from hybridvmm.guests import VARIANTS, build_guest
from hybridvmm.isas import build_machine
from hybridvmm.isas.pgm import SEMANTICS, Semantic

QUANTUM = 400
USER_ENTRY = 0x10C
TASKS = ["alpha", "beta", "gamma", "sysinfo", "rogue", "snoop", "spinner"]


def words(image, address, count):
    data = b"".join(
        image.read(address + 4 * i, 4) for i in range(count)
    )
    return [int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data), 4)]


def task_table(image):
    """(name, base, bound, limit) per task, read from the assembled image."""
    out = []
    for i in range(len(TASKS)):
        name_ptr, base, bound, limit = words(image, image.symbols["task_table"] + 16 * i, 4)
        raw = image.read(name_ptr, 16)
        out.append((raw[:raw.index(0)].decode(), base, bound, limit))
    return out


def summary(lines):
    text = "\n".join(lines)
    m = re.search(r"minios: (\d+) timer interrupts \((\d+) in user mode, (\d+) in kernel mode\)", text)
    total, user, kernel = map(int, m.groups())
    m = re.search(r"minios: (\d+) dispatches, (\d+) context switches, (\d+) system calls", text)
    dispatches, switches, syscalls = map(int, m.groups())
    per_task = {}
    for m in re.finditer(r"minios: task (\d+) (\w+): (exited \((\d+)\)|killed), (\d+) ticks, (\d+) system calls", text):
        per_task[m.group(2)] = dict(id=int(m.group(1)), state=m.group(3), ticks=int(m.group(5)), syscalls=int(m.group(6)))
    return dict(total=total, user=user, kernel=kernel, dispatches=dispatches, switches=switches, syscalls=syscalls, tasks=per_task)


@pytest.fixture(params=VARIANTS)
def minios(request, guest_run):
    return guest_run("minios", request.param)


def test_boot_fills_the_task_table_regions(minios):
    table = task_table(minios.image)
    assert [t[0] for t in table] == TASKS
    assert minios.lines[0] == f"minios: booting minios demo: {len(TASKS)} tasks, time slice {QUANTUM} instructions"
    for i, (name, base, bound, limit) in enumerate(table, 1):
        line = f"minios: task {i} {name}: R = (0x{base:08x}, 0x{bound:08x})"
        if limit:
            line += f", CPU limit {limit} ticks"
        assert line in minios.lines
    # regions are disjoint and none overlaps the kernel
    spans = sorted((base, base + bound) for _, base, bound, _ in table)
    kernel_end = max(s.end for s in minios.image.sections if s.name == "text")
    assert spans[0][0] >= kernel_end
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_compute_tasks_print_correct_results(minios):
    out = minios.output
    for k in range(1, 5):
        n = 100 * k
        assert f"alpha: step {k}: sum of squares 1..{n} = {sum(i * i for i in range(1, n + 1))}\n" in out
        limit = 150 * k
        primes = sum(1 for p in range(2, limit) if all(p % d for d in range(2, int(p ** 0.5) + 1)))
        assert f"beta: step {k}: primes below {limit}: {primes}\n" in out
    for start in (27, 97, 871, 6171):
        n, steps = start, 0
        while n != 1:
            n, steps = (n // 2 if n % 2 == 0 else 3 * n + 1), steps + 1
        assert f"gamma: collatz({start}) reaches 1 after {steps} steps; yielding\n" in out


def test_three_tasks_interleave(minios):
    owners = [line.split(":")[0] for line in minios.lines if line.split(":")[0] in ("alpha", "beta", "gamma", "sysinfo")]
    # every one of them wrote several lines ...
    for task in ("alpha", "beta", "gamma", "sysinfo"):
        assert owners.count(task) >= 4
    # ... and their lines are interleaved, not one task after the other
    switches = sum(1 for a, b in zip(owners, owners[1:]) if a != b)
    assert switches >= 8
    first, last = owners.index("alpha"), len(owners) - 1 - owners[::-1].index("alpha")
    between = set(owners[first:last + 1])
    assert {"alpha", "gamma", "sysinfo"} <= between  # alpha ran, then others, then alpha again


def test_preemption_really_happened(minios):
    s = summary(minios.lines)
    stats = minios.machine.stats
    assert s["total"] == s["user"] + s["kernel"]
    assert s["user"] > 50 and s["kernel"] > 10  # ticks in user mode and inside system calls
    assert stats.timer_interrupts == s["total"]  # every tick the kernel counted was a real interrupt
    assert stats.traps["timer"] == s["total"]
    assert stats.traps["svc"] == s["syscalls"]
    assert sum(t["ticks"] for t in s["tasks"].values()) == s["total"]
    assert sum(t["syscalls"] for t in s["tasks"].values()) == s["syscalls"]
    # alpha's step 4 alone is ~2400 user instructions: it cannot finish in one 400-slice
    assert s["tasks"]["alpha"]["ticks"] >= 6
    assert s["switches"] > 50 and s["dispatches"] > s["switches"]


def test_killed_tasks_are_reported(minios):
    out = minios.output
    image = minios.image
    table = {t[0]: t for t in task_table(image)}
    # rogue: the pc reported is the (virtual) address of its halt instruction
    rogue = image.symbols["rogue_main"]
    section = next(s for s in image.sections if s.name == "rogue")
    offset = next(i for i in range(rogue - section.address, len(section.data), 2)
                  if section.data[i:i + 2] == bytes([0x00, 0x02]))  # halt
    halt_pc = section.address + offset - table["rogue"][1]
    assert f"minios: task 5 rogue killed: privileged instruction 'halt' at pc 0x{halt_pc:08x}\n" in out
    assert "the machine did not stop me" not in out
    assert re.search(r"minios: task 6 snoop killed: bounds violation at pc 0x0000011e\n", out)
    assert "snoop: reading above my stack at 0x00001000\n" in out
    assert "snoop: read " not in out
    assert "minios: task 7 spinner killed: CPU limit exceeded at pc " in out
    s = summary(minios.lines)
    assert s["tasks"]["spinner"]["ticks"] == table["spinner"][3]
    assert "minios: all tasks done: 4 exited, 3 killed" in out
    assert [t for t, v in s["tasks"].items() if v["state"] == "killed"] == ["rogue", "snoop", "spinner"]
    assert out.endswith("minios: halt\n")
    assert minios.machine.user is False  # halted by the kernel, in supervisor mode


def test_sysinfo_srr_shows_its_own_region(minios):
    _, base, bound, _ = task_table(minios.image)[3]
    assert f"sysinfo: task 4: srr says R = (0x{base:08x}, 0x{bound:08x})\n" in minios.output


def test_sysinfo_pushf_and_user_mode_jrstu(minios):
    m = re.search(r"sysinfo: pushf says status 0x([0-9a-f]{8}): M=(\d) IE=(\d)\n", minios.output)
    status = int(m.group(1), 16)
    assert status & 3 == 3 and m.group(2) == "1" and m.group(3) == "1"
    assert status & ~0xF3 == 0  # only NZCV, IE and M are pushed
    assert "sysinfo: jrstu in user mode was a plain jump; pushf still says M=1\n" in minios.output
    assert "jrstu did not jump" not in minios.output


def test_sysinfo_rdtime_readings(minios):
    m = re.search(r"sysinfo: rdtime says (\d+) left, then (\d+) left: (\d+) instructions apart\n", minios.output)
    first, second, apart = map(int, m.groups())
    assert 0 < second < first <= QUANTUM
    assert first - second == apart == 102  # rdtime + movi + 50 * (dec + bne)


def test_sysinfo_user_popf_cannot_disable_interrupts(minios):
    m = re.search(r"sysinfo: after a popf of IE=0, a 1500-instruction loop was preempted (\d+) times\n", minios.output)
    assert int(m.group(1)) >= 1500 // QUANTUM


def test_identical_output_and_expected_traps_on_every_variant(guest_run):
    runs = {v: guest_run("minios", v) for v in VARIANTS}
    outputs = {r.output for r in runs.values()}
    assert len(outputs) == 1
    # privileged traps: the rogue's halt, plus every sensitive instruction the variant
    # traps in user mode (sysinfo runs pushf twice, srr, rdtime twice, jrstu, popf)
    privileged = {v: r.machine.stats.traps.get("privileged", 0) for v, r in runs.items()}
    assert privileged == {"pgm-virt": 1 + 7, "pgm-hybrid": 1 + 5, "pgm-x86": 1}
    # the emulated instructions are the only user instructions that did not complete
    user = {v: r.machine.stats.by_mode.get("user", 0) for v, r in runs.items()}
    assert user["pgm-x86"] - user["pgm-hybrid"] == 5
    assert user["pgm-x86"] - user["pgm-virt"] == 7
    assert len({r.machine.stats.timer_interrupts for r in runs.values()}) == 1


def test_identical_output_for_other_time_slices():
    """The kernel charges an emulated instruction exactly one tick, even when that tick
    ends the time slice (the emulation then takes the timer interrupt itself)."""
    expired = []
    for quantum in (122, 134, 257, 611):
        outputs = set()
        for v in VARIANTS:
            image = build_guest("minios", v, {"QUANTUM": quantum})
            m = build_machine(image.isa, image=image)
            m.hook_address(image.symbols["emu_expired"], lambda machine, address: expired.append(quantum))
            assert m.run(5_000_000).halted
            outputs.add(m.console.text())
        assert len(outputs) == 1, f"variants differ with QUANTUM={quantum}"
    # (if the kernel changes, pick time slices that end on an emulated instruction again)
    assert expired, "no time slice ended on an emulated instruction: pick other quanta"


# --- a broken machine (as a broken monitor would present it) changes the output -------------
def _wrap(name, after):
    """Semantics of ``name`` followed by ``after(machine, instruction, (user, ie) before)``."""
    original = SEMANTICS[name]

    def factory(m, ins, env):
        handler = original.factory(m, ins, env)

        def broken():
            before = (m.user, m.ie)
            nxt = handler()
            after(m, ins, before)
            return nxt
        return broken
    return {name: Semantic(factory, original.system)}


def _set_ra(m, ins, value):
    m.regs[ins.operands["ra"]] = value & 0xFFFFFFFF


def _clear_pushed_m(m, ins, before):
    if before[0]:
        word = int.from_bytes(m.read_virtual(m.regs[15], 4), "little")
        m.write_virtual(m.regs[15], (word & ~1).to_bytes(4, "little"))


def _user_popf_sets_ie(m, ins, before):
    if before[0]:
        word = int.from_bytes(m.read_virtual((m.regs[15] - 4) & 0xFFFFFFFF, 4), "little")
        m.ie = bool(word & 2)


BROKEN = {
    # supervisor popf does not restore IE: kputc leaves interrupts off for the rest of
    # every system call, so fewer ticks land in kernel mode
    "popf-keeps-ie": (_wrap("popf", lambda m, ins, b: setattr(m, "ie", b[1])), "in kernel mode)"),
    # srr in user mode reveals a different (say, the monitor's real) base
    "srr-real-base": (_wrap("srr", lambda m, ins, b: b[0] and _set_ra(m, ins, m.regs[ins.operands["ra"]] + 0x100000)),
                      "sysinfo: task 4: srr says R = (0x00107000, 0x00001000)"),
    # rdtime in user mode reads a timer that is not the task's
    "rdtime-wrong": (_wrap("rdtime", lambda m, ins, b: b[0] and _set_ra(m, ins, m.regs[ins.operands["ra"]] + 1)),
                     "sysinfo: rdtime says"),
    # jrstu does not enter user mode: the tasks would run privileged
    "jrstu-stays-supervisor": (_wrap("jrstu", lambda m, ins, b: setattr(m, "user", b[0])), None),
    # pushf in user mode reveals M = 0 (a deprivileged kernel's view leaking)
    "pushf-says-supervisor": (_wrap("pushf", _clear_pushed_m), "pushf says status 0x00000062: M=0 IE=1"),
    # popf in user mode does change IE: the spin loop is no longer preempted
    "user-popf-sets-ie": (_wrap("popf", _user_popf_sets_ie), "a 1500-instruction loop was preempted"),
    # ei does nothing: no timer interrupt ever reaches the tasks
    "ei-ignored": (_wrap("ei", lambda m, ins, b: setattr(m, "ie", b[1])), None),
}


@pytest.mark.parametrize("mutation", list(BROKEN))
def test_broken_mechanism_changes_the_output(mutation, guest_run, guest_run_fresh):
    semantics, changed_line = BROKEN[mutation]
    good = guest_run("minios", "pgm-x86")
    bad = guest_run_fresh("minios", "pgm-x86", small=False, semantics=semantics)
    assert bad.output != good.output
    if changed_line is not None:
        bad_lines = [line for line in bad.lines if changed_line in line]
        good_lines = [line for line in good.lines if changed_line in line]
        assert bad_lines and bad_lines != good_lines
    if mutation == "jrstu-stays-supervisor":
        # the first task runs in supervisor mode; its first svc is a trap from supervisor
        # mode, which the kernel treats as its own bug
        assert "minios: PANIC: trap cause 5" in bad.output
        assert "rogue killed" not in bad.output and "all tasks done" not in bad.output
    if mutation == "ei-ignored":
        assert not bad.result.halted  # the spinner is never preempted
