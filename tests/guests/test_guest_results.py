"""The workloads and micro-guests compute what they claim: every printed result is
recomputed here in Python (at the test sizes, and at a few other sizes)."""

from __future__ import annotations

import re
import zlib

import pytest

from hybridvmm.guests import GUESTS, VARIANTS

M32 = 0xFFFFFFFF


def lcg(seed: int, n: int):
    x = seed
    for _ in range(n):
        x = (x * 1103515245 + 12345) & M32
        yield x


def small(name: str) -> dict:
    return dict(GUESTS[name].small)


def primes_below(n: int) -> list[int]:
    flags = bytearray([1]) * n
    flags[:2] = b"\0\0"
    for p in range(2, int(n ** 0.5) + 1):
        if flags[p]:
            flags[p * p::p] = bytes(len(range(p * p, n, p)))
    return [i for i in range(n) if flags[i]]


def fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


# --- the workloads run as minios tasks -------------------------------------------------------
@pytest.mark.parametrize("isa", VARIANTS)
def test_workloads_run_as_minios_tasks(isa, guest_run):
    for name in ("sieve", "fib", "sort", "checksum"):
        run = guest_run(name, isa)
        assert run.result.halted
        assert run.lines[0].startswith(f"minios: booting {name}: 1 tasks")
        assert f"minios: task 1 {name} exited with status 0" in run.output
        assert run.output.endswith("minios: halt\n")
        stats = run.machine.stats
        assert stats.by_mode["user"] > stats.by_mode["supervisor"] / 2  # user-heavy even at the test size
        assert stats.timer_interrupts > 5  # and preempted by the kernel's timer


@pytest.mark.parametrize("n", [None, 1000, 10007])
def test_sieve(n, guest_run):
    n = n or small("sieve")["SIEVE_N"]
    run = guest_run("sieve", "pgm-x86", SIEVE_N=n)
    primes = primes_below(n)
    x = 10
    while x < n:
        assert f"sieve: primes below {x}: {len(primes_below(x))}\n" in run.output
        x *= 10
    assert f"sieve: primes below {n}: {len(primes)}\n" in run.output
    assert run.output.count(f"sieve: primes below {n}:") == 1
    assert f"sieve: the largest prime below {n} is {primes[-1]}\n" in run.output


@pytest.mark.parametrize("n", [None, 1, 2, 18])
def test_fib(n, guest_run):
    n = small("fib")["FIB_N"] if n is None else n
    run = guest_run("fib", "pgm-hybrid", FIB_N=n)
    assert "fib: " + " ".join(str(fib(i)) for i in range(11)) + "\n" in run.output
    calls = 2 * fib(n + 1) - 1
    assert f"fib: fib({n}) = {fib(n)} ({calls} calls)\n" in run.output


@pytest.mark.parametrize("n,seed", [(None, None), (1, 5), (2, 9), (777, 31337)])
def test_sort(n, seed, guest_run):
    defines = small("sort")
    if n is not None:
        defines.update(SORT_N=n, SORT_SEED=seed)
    run = guest_run("sort", "pgm-virt", **defines)
    n, seed = defines["SORT_N"], defines.get("SORT_SEED", 2024)
    a = sorted(lcg(seed, n))
    checksum = sum((i + 1) * v for i, v in enumerate(a)) & M32
    assert f"sort: {n} words, sorted: yes, min 0x{a[0]:08x}, max 0x{a[-1]:08x}, checksum 0x{checksum:08x}\n" in run.output


@pytest.mark.parametrize("n", [None, 1, 4096])
def test_checksum(n, guest_run):
    n = n or small("checksum")["CHECKSUM_LEN"]
    run = guest_run("checksum", "pgm-x86", CHECKSUM_LEN=n)
    data = bytes((x >> 16) & 0xFF for x in lcg(7, n))
    assert f"checksum: {n} bytes, crc32 0x{zlib.crc32(data):08x}, adler32 0x{zlib.adler32(data):08x}\n" in run.output


# --- micro-guests ------------------------------------------------------------------------------
@pytest.mark.parametrize("isa", VARIANTS)
def test_syscalls(isa, guest_run):
    run = guest_run("syscalls", isa)
    n = small("syscalls")["SYSCALLS_N"]
    xor = 0
    for k in range(1, n + 1):
        xor ^= 2 * k  # SYS_COUNT is the 2k-th call
    total = n * (n + 1) // 2
    assert run.output == (
        f"syscalls: user mode will make {2 * n} system calls\n"
        f"syscalls: kernel served {2 * n + 1} calls; kernel sum 1..{n} = {total}, user saw {total}, "
        f"xor of the counts 0x{xor:08x}\n"
    )
    assert run.machine.stats.traps == {"svc": 2 * n + 1}
    assert run.machine.stats.by_mode["user"] > 0


@pytest.mark.parametrize("isa", VARIANTS)
def test_privileged(isa, guest_run):
    run = guest_run("privileged", isa)
    n = small("privileged")["PRIV_N"]
    size = run.machine.storage.size
    assert run.lines[0] == f"privileged: supervisor only, R = (0x00000000, 0x{size:08x})"
    assert run.lines[1] == (f"privileged: {n} rounds; IE=0 after di: {n}, IE=1 after ei: {n}, IE=0 after popf: {n}, "
                            f"srr as set: {2 * n}, rdtime right after settimer: {n}")
    stats = run.machine.stats
    assert stats.by_mode.get("user", 0) == 0 and stats.traps == {} and stats.timer_interrupts == 0


@pytest.mark.parametrize("isa", VARIANTS)
@pytest.mark.parametrize("ticks,period", [(None, None), (10, 7), (50, 100)])
def test_timer(isa, ticks, period, guest_run):
    defines = small("timer") if ticks is None else {"TIMER_TICKS": ticks, "TIMER_PERIOD": period}
    run = guest_run("timer", isa, **defines)
    ticks = defines["TIMER_TICKS"]
    period = defines.get("TIMER_PERIOD", 40)
    # the first slice gives the user loop period - 2 instructions (ei and jrstu count),
    # every later one period - 1 (the handler's rti counts); the loop is inc, br, inc, ...
    user = (period - 2) + (ticks - 1) * (period - 1)
    assert run.machine.stats.by_mode["user"] == user
    assert run.machine.stats.timer_interrupts == ticks
    assert run.lines[-1] == f"timer: after {ticks} interrupts the user loop had counted to {(user + 1) // 2}"


def queens(n: int) -> tuple[int, int]:
    mask, solutions, calls = (1 << n) - 1, 0, 0

    def place(cols, d1, d2):
        nonlocal solutions, calls
        calls += 1
        if cols == mask:
            solutions += 1
            return
        free = ~(cols | d1 | d2) & mask
        while free:
            bit = free & -free
            free ^= bit
            place(cols | bit, ((d1 | bit) << 1) & M32, (d2 | bit) >> 1)

    place(0, 0, 0)
    return solutions, calls


def collatz_longest(limit: int) -> tuple[int, int]:
    best = (0, 0)
    for start in range(1, limit):
        n, steps = start, 0
        while n != 1:
            n, steps = (n // 2 if n % 2 == 0 else 3 * n + 1), steps + 1
        if steps > best[1]:
            best = (start, steps)
    return best


@pytest.mark.parametrize("isa", VARIANTS)
def test_kcompute(isa, guest_run):
    run = guest_run("kcompute", isa)
    n, limit = small("kcompute")["QUEENS_N"], small("kcompute")["COLLATZ_N"]
    solutions, calls = queens(n)
    start, steps = collatz_longest(limit)
    assert run.output == (f"kcompute: {n}-queens has {solutions} solutions ({calls} placements tried)\n"
                          f"kcompute: below {limit} the longest Collatz chain starts at {start} ({steps} steps)\n")
    stats = run.machine.stats
    assert stats.by_mode.get("user", 0) == 0 and stats.traps == {}  # all supervisor, not a single trap


def test_kcompute_eight_queens(guest_run):
    run = guest_run("kcompute", "pgm-x86", QUEENS_N=8, COLLATZ_N=10)
    assert re.search(r"kcompute: 8-queens has 92 solutions \((\d+) placements tried\)", run.output)
    assert int(re.search(r"\((\d+) placements", run.output).group(1)) == queens(8)[1]
