"""rvminios, the bundled RISC-V guest: its golden console output, that it really uses what
it claims (Sv32 in U-mode with one address space per task, the machine timer forwarded to
S-mode as the supervisor timer interrupt, ecalls from U, PMP, delegation), that its
results are right, that GNU as makes the same bytes of it, and that it runs unchanged
on QEMU's virt board."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter

import pytest

from hybridvmm.guests import GUESTS, build_guest, guest_info, read_source
from hybridvmm.isas import build_machine

RAM_BASE = 0x80000000
STI, MTI = 0x80000005, 0x80000007
U_ECALL, S_ECALL, LOAD_PAGE_FAULT = 8, 9, 13
PTE_R, PTE_W, PTE_X, PTE_U = 0x2, 0x4, 0x8, 0x10
EQU = {m.group(1): int(m.group(2), 0)
       for m in re.finditer(r"^\s*\.equ\s+(\w+),\s*(0x[0-9a-fA-F]+|\d+)\s*(?:#.*)?$", read_source("rvminios.s"), re.M)}
"""The source's plain-number constants (TCB layout, user addresses, QUANTUM)."""

PREFIX = "riscv64-unknown-elf-"
AS, LD, OBJCOPY = (shutil.which(PREFIX + t) for t in ("as", "ld", "objcopy"))
QEMU = shutil.which("qemu-system-riscv32")


def test_registered_for_rv32_only():
    g = guest_info("rvminios")
    assert (g.isa, g.variants, g.kind, g.origin) == ("rv32", ("rv32",), "os", RAM_BASE)
    image = build_guest("rvminios")
    assert image.isa == "rv32" and image.entry == RAM_BASE == image.symbols["_start"]
    user = image.symbols["user_text_end"] - image.symbols["user_text"]
    assert image.symbols["user_text"] % 4096 == 0 and 0 < user <= 4096  # one page, mapped at USER_TEXT
    assert sum(len(s.data) for s in image.sections) < 8192


def test_golden_output(guest_run, golden):
    run = guest_run("rvminios", "rv32")
    assert run.result.halted and run.machine.exit_code == 0, run.result
    golden("rvminios", run.output)


def test_run_command(cli, golden):
    r = cli("run", "guest:rvminios")
    assert r.code == 0, r.err
    golden("rvminios", r.out)


def test_results_are_right(guest_run):
    out = guest_run("rvminios", "rv32").output

    def collatz(n: int) -> int:
        steps = 0
        while n != 1:
            n, steps = (n // 2 if n % 2 == 0 else 3 * n + 1), steps + 1
        return steps

    for k in range(1, EQU["ALPHA_STEPS"] + 1):
        n = EQU["ALPHA_N"] * k
        best = max(range(1, n), key=lambda m: (collatz(m), -m))
        assert f"alpha: the longest Collatz chain below {n} starts at {best} ({collatz(best)} steps)\n" in out
    for k in range(1, EQU["BETA_STEPS"] + 1):
        n = EQU["BETA_N"] * k
        count = sum(all(m % d for d in range(2, int(m ** 0.5) + 1)) for m in range(2, n))
        assert f"beta: primes below {n}: {count}\n" in out
    assert 'alpha: my page 0x00011000 still holds "alpha"\n' in out
    assert 'beta: my page 0x00011000 still holds "beta"\n' in out


def instrumented_run():
    """Run rvminios recording every mode change (with the cause CSR of the level entered
    and satp on entering U) and every instruction translation made in U-mode."""
    image = build_guest("rvminios")
    m = build_machine("rv32", image=image)
    changes: list[tuple[str, str, int]] = []
    user_satps: set[int] = set()
    fetches: dict[int, int] = {}

    def on_mode(machine, was, now):
        c = machine.csr
        changes.append((was, now, {"machine": c.mcause, "supervisor": c.scause, "user": 0}[now]))
        if now == "user":
            user_satps.add(c.satp)

    def on_translate(machine, vaddr, paddr, ins):
        if machine.priv == 0:
            fetches[vaddr] = paddr - machine.storage.offset + RAM_BASE

    m.hook_mode(on_mode)
    m.hook_translate(on_translate)
    result = m.run(5_000_000)
    assert result.halted and m.exit_code == 0
    return image, m, changes, user_satps, fetches


def walk(m, satp: int, va: int) -> tuple[int, int, int]:
    """The guest's own page tables, walked by hand: (level of the leaf, its flags, physical address)."""
    pte = m.physical_word(((satp & 0x3FFFFF) << 12) + (va >> 22) * 4)
    assert pte & 1, hex(va)
    if pte & (PTE_R | PTE_W | PTE_X):
        return 1, pte & 0x3FF, ((pte >> 20) << 22) | (va & 0x3FFFFF)
    leaf = m.physical_word(((pte >> 10) << 12) + (va >> 12 & 0x3FF) * 4)
    assert leaf & 1, hex(va)
    return 0, leaf & 0x3FF, ((leaf >> 10) << 12) | (va & 0xFFF)


def test_it_uses_what_it_claims():
    image, m, changes, user_satps, fetches = instrumented_run()
    out = m.console.text()
    ticks, switches, calls = map(int, re.search(
        r"all tasks done: (\d+) timer interrupts, (\d+) context switches, (\d+) system calls", out).groups())
    assert ticks > 20 and switches > 20 and calls == 12

    # every entry to U-mode runs under Sv32, in one of two address spaces
    assert len(user_satps) == 2 and all(s >> 31 for s in user_satps)
    # U-mode fetched only the user text page, through a translation (VA 0x10000 -> its frame)
    text = image.symbols["user_text"]
    assert fetches and all(pa == text + va - EQU["USER_TEXT"] for va, pa in fetches.items())
    assert {va >> 12 for va in fetches} == {EQU["USER_TEXT"] >> 12}

    # traps out of U went to S (delegated): timer interrupts, ecalls, one page fault
    from_user = Counter(cause for was, now, cause in changes if was == "user" and now == "supervisor")
    assert from_user == {STI: ticks, U_ECALL: calls, LOAD_PAGE_FAULT: 1}
    # the machine timer trapped to M, which forwarded each tick to S; S called the firmware
    to_machine = Counter(cause for was, now, cause in changes if now == "machine")
    assert set(to_machine) == {MTI, S_ECALL}
    assert to_machine[MTI] in (ticks, ticks + 1)  # the last tick may come after the last task
    assert set(m.stats.traps) == {"s-timer", "ecall-u", "load-page-fault", "m-timer", "ecall-s"}  # the kernel never faulted
    assert m.stats.traps["s-timer"] == ticks

    # the page tables, as the guest left them
    tcbs, size, satp_at = image.symbols["tcbs"], EQU["TCB_SIZE"], EQU["T_SATP"]
    satps = [m.physical_word(tcbs + k * size + satp_at) for k in range(EQU["NTASKS"])]
    assert set(satps) == user_satps
    own = []
    for satp in satps:
        assert walk(m, satp, RAM_BASE + 0x1234) == (1, 0xEF, RAM_BASE + 0x1234)  # superpage V R W X G A D, no U
        assert walk(m, satp, 0x10000005)[:2] == (1, 0xE7)  # the UART: superpage, no U
        level, flags, pa = walk(m, satp, EQU["USER_TEXT"])
        assert (level, pa, flags & (PTE_R | PTE_W | PTE_X | PTE_U)) == (0, text, PTE_R | PTE_X | PTE_U)
        level, flags, pa = walk(m, satp, EQU["USER_OWN"])
        assert level == 0 and flags & (PTE_R | PTE_W | PTE_X | PTE_U) == PTE_R | PTE_W | PTE_U
        own.append(pa)
    assert len(set(own)) == 2  # the same virtual page, two frames

    # what the firmware set up
    assert m.get_csr("medeleg") == 0xB1FF and m.get_csr("mideleg") == 0x222
    assert m.get_csr("pmpcfg0") & 0xFFFF == 0x1B1F and m.get_csr("mcounteren") == 2


def test_a_kernel_fault_is_a_panic_with_a_failure_exit():
    image = build_guest("rvminios")
    m = build_machine("rv32", image=image)
    on_timer = image.symbols["on_timer"]

    def corrupt_tp(machine, address):
        machine.x[4] = 0x00400000  # tp: a TCB pointer into unmapped memory

    m.hook_address(on_timer - RAM_BASE, corrupt_tp)
    result = m.run(5_000_000)
    assert result.halted and m.exit_code == 3
    load = on_timer + 20  # lw t0, T_TICKS(tp), after ticks++ (two auipc pairs and an addi)
    assert m.console.text().endswith(f"rvminios: kernel trap: scause 0x0000000d at pc 0x{load:08x}, "
                                     f"address 0x{0x00400000 + EQU['T_TICKS']:08x}\n")


def test_a_trap_the_firmware_does_not_expect_stops_the_run():
    image = build_guest("rvminios")
    m = build_machine("rv32", image=image)
    m.hook_address(image.symbols["s_main"] - RAM_BASE, lambda machine, address: machine.set_csr("medeleg", 0))
    result = m.run(5_000_000)  # the first ecall from U now goes to M (ticks still go to S: mideleg)
    assert result.halted and m.exit_code == 2
    assert m.console.text().endswith("rvminios: firmware: unexpected trap\n")


def test_constants_override(guest_run):
    default = guest_run("rvminios", "rv32")
    faster = guest_run("rvminios", "rv32", QUANTUM=500)
    task_lines = sorted(ln for ln in default.lines if not ln.startswith("rvminios:"))
    assert sorted(ln for ln in faster.lines if not ln.startswith("rvminios:")) == task_lines
    assert "time slice 500 instructions" in faster.output
    assert faster.machine.stats.timer_interrupts > 3 * default.machine.stats.timer_interrupts


def test_bench_lists_the_riscv_workloads_with_isa_rv32(cli):
    r = cli("bench", "--isa", "rv32", "--list")
    assert r.code == 0 and [line.split()[0] for line in r.out.splitlines()] == ["rvminios", "rvloop", "rvcsr", "v-test"]
    r = cli("bench", "--list")
    assert r.code == 0 and "rvminios" not in r.out and "minios" in r.out


def test_the_riscv_guests():
    assert [g.name for g in GUESTS.values() if g.isa == "rv32"] == ["rvminios", "rvcounters", "rvloop", "rvcsr"]


def raw(image) -> bytes:
    """The image as one flat binary from its lowest address (what QEMU's -kernel loads)."""
    lo = min(s.address for s in image.sections)
    blob = bytearray(max(s.end for s in image.sections) - lo)
    for s in image.sections:
        blob[s.address - lo:s.end - lo] = s.data
    return bytes(blob)


@pytest.mark.skipif(not all((AS, LD, OBJCOPY)), reason="GNU binutils for RISC-V not installed")
def test_gnu_as_makes_the_same_bytes(tmp_path):
    src, obj, elf, out = (tmp_path / n for n in ("rvminios.s", "rvminios.o", "rvminios.elf", "rvminios.bin"))
    src.write_text(read_source("rvminios.s"))
    subprocess.run([AS, "-march=rv32ima_zicsr_zifencei", "-mno-relax", str(src), "-o", str(obj)], check=True, capture_output=True)
    subprocess.run([LD, "-m", "elf32lriscv", f"-Ttext=0x{RAM_BASE:x}", str(obj), "-o", str(elf)], check=True, capture_output=True)
    subprocess.run([OBJCOPY, "-O", "binary", "-j", ".text", str(elf), str(out)], check=True)
    ours, gnu = raw(build_guest("rvminios")), out.read_bytes()
    assert gnu[:len(ours)] == ours
    # GNU pads the section to its alignment (a page, from .balign PAGE): to 2 bytes with a
    # zero, to 4 with c.nop, then with nops
    tail = gnu[len(ours):]
    assert len(gnu) % 4096 == 0 and len(tail) < 4096
    head = {0: b"", 1: b"\0\x01\x00", 2: b"\x01\x00", 3: b"\0"}[len(ours) % 4]
    assert tail == head + b"\x13\x00\x00\x00" * ((len(tail) - len(head)) // 4)


@pytest.mark.skipif(QEMU is None, reason="qemu-system-riscv32 not installed (Debian qemu-system-misc)")
def test_runs_unchanged_on_qemu_virt(tmp_path, guest_run):
    kernel = tmp_path / "rvminios.bin"
    kernel.write_bytes(raw(build_guest("rvminios")))
    done = subprocess.run([QEMU, "-machine", "virt", "-bios", "none", "-kernel", str(kernel), "-nographic", "-monitor", "none"],
                          capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr.decode(errors="replace")

    def lines(text: str) -> list[str]:
        """Sorted, with the counts that depend on QEMU's wall-clock timer masked."""
        timed = re.compile(r"\d+ (timer interrupts|context switches|ticks)")
        return sorted(timed.sub(r"N \1", ln) for ln in text.splitlines())

    assert lines(done.stdout.decode()) == lines(guest_run("rvminios", "rv32").output)
