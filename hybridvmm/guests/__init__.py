"""Bundled guests: assembly sources shipped as package data, assembled on demand.

Every guest is addressable as ``guest:NAME`` wherever an image is accepted (``run``,
``disasm``, ``info``, ``scan``, ``patch``; see :mod:`hybridvmm.loading`) and
listed by ``python -m hybridvmm guests``.

* ``minios`` is a small preemptive kernel (``minios_kernel.s``) plus seven demo tasks
  (``minios_tasks.s``).
* The user-heavy workloads ``sieve``, ``fib``, ``sort`` and ``checksum`` are the same
  kernel followed by a different task file: the registry concatenates the sources, so
  the kernel exists once.
* The micro-guests ``syscalls``, ``privileged``, ``timer`` and ``kcompute`` are small
  standalone kernels, each stressing one kind of event a monitor must handle.
* ``rvminios`` (``rvminios.s``) is the RISC-V one: M-mode firmware, an S-mode kernel with
  Sv32 paging and a timer, two U-mode tasks.  It is GNU as source, written for a linker
  that puts ``.text`` at 0x80000000 (:attr:`Guest.origin` does that here), and runs on
  rv32 only (:attr:`Guest.variants`).  ``rvcounters`` shows RISC-V's one virtualization
  hole: a U-mode counter read that a monitor must make trap.  ``rvloop64`` is the user-mode compute loop
  ``rvloop`` at XLEN 64, under Sv39; ``xv6`` is a prebuilt ELF with its disk (``xv6/``).

Sizes are ``.equ`` constants in the sources; :func:`build_guest` can override any of
them (``defines={"FIB_N": 15}``), which the tests use to keep runs short.  On the command
line the same is written ``guest:fib:FIB_N=15`` (several as ``guest:sort:SORT_N=100,SORT_SEED=1``).
Every guest has a test-sized set of constants (``build_guest(name, small=True)``, or
``guest:NAME:small``) that runs in well under a second, for tests of the monitor too.  One source
assembles for every pgm variant: the variant decides only which sensitive instructions
trap in user mode, and the pgm guests are written to behave identically on all of them.
"""

from __future__ import annotations

import lzma
import re
from dataclasses import dataclass
from importlib import resources

from hybridvmm.asm import assemble
from hybridvmm.elf import load_elf
from hybridvmm.errors import UserError
from hybridvmm.image import Image
from hybridvmm.isa import check_family

VARIANTS = ("pgm-virt", "pgm-hybrid", "pgm-x86")
"""The pgm variants every bundled guest runs on (with identical console output)."""

DEFAULT_ISA = "pgm-x86"
"""The default variant: the one where user-mode sensitive instructions do not trap, so
that a monitor must scan and patch (the most interesting case)."""

KERNEL = "minios_kernel.s"
SHARED = (KERNEL, "klib.s", "hostile_lib.s")
"""Sources shared by several guests (the minios kernel, the micro-guests' output routines)."""


@dataclass(frozen=True)
class Guest:
    """One bundled guest: its name, description and the source files it is made of."""

    name: str
    description: str
    sources: tuple[str, ...]
    isa: str = DEFAULT_ISA
    kind: str = "micro"  # "os" | "workload" | "micro"
    small: tuple[tuple[str, int], ...] = ()
    """``.equ`` overrides for a test-sized run (well under a second on the bare machine)."""
    variants: tuple[str, ...] = VARIANTS
    """The ISAs it is written for, with one console output on all of them."""
    origin: int | None = None
    """Where ``.text`` starts, for a source that leaves that to the linker (GNU ``ld
    -Ttext``): a ``.org`` put before it.  None: the ISA's load address."""
    elf: str | None = None
    """A prebuilt guest: its ELF file among the package data (``sources`` is then empty)."""
    disk: str | None = None
    """Its disk image among the package data, xz-compressed (the guest's virtio disk)."""
    ram: int | None = None
    """The RAM it is built for (bytes)."""
    max_steps: int | None = None
    """The instruction limit ``run`` gives it by default, if more than the usual (an OS that
    takes tens of millions of instructions to boot)."""


GUESTS: dict[str, Guest] = {
    g.name: g
    for g in (
        Guest("minios", "preemptive mini OS: 7 user tasks, round robin, syscalls, srr/pushf/rdtime/jrstu/popf demos, kills",
              (KERNEL, "minios_tasks.s"), kind="os"),
        Guest("sieve", "minios + sieve of Eratosthenes task: counts the primes below SIEVE_N (user-heavy)",
              (KERNEL, "sieve.s"), kind="workload", small=(("SIEVE_N", 3000), ("QUANTUM", 500))),
        Guest("fib", "minios + recursive fibonacci task: prints fib(FIB_N) (user-heavy, call/ret)",
              (KERNEL, "fib.s"), kind="workload", small=(("FIB_N", 15), ("QUANTUM", 500))),
        Guest("sort", "minios + quicksort task: sorts SORT_N pseudo-random words, prints a checksum (user-heavy)",
              (KERNEL, "sort.s"), kind="workload", small=(("SORT_N", 300), ("QUANTUM", 500))),
        Guest("checksum", "minios + checksum task: CRC-32 and Adler-32 of a generated buffer (user-heavy)",
              (KERNEL, "checksum.s"), kind="workload", small=(("CHECKSUM_LEN", 1500), ("QUANTUM", 500))),
        Guest("syscalls", "micro: a user loop making 2*SYSCALLS_N system calls into a tiny kernel (svc-heavy)",
              ("syscalls.s", "klib.s"), small=(("SYSCALLS_N", 300),)),
        Guest("privileged", "micro: PRIV_N supervisor rounds of di/ei/pushf/popf/srr/setr/settimer/rdtime (privileged-heavy)",
              ("privileged.s", "klib.s"), small=(("PRIV_N", 300),)),
        Guest("timer", "micro: a user loop interrupted every TIMER_PERIOD instructions, TIMER_TICKS times (interrupt-heavy)",
              ("timer.s", "klib.s"), small=(("TIMER_TICKS", 300),)),
        Guest("kcompute", "micro: the kernel itself computing QUEENS_N-queens and Collatz chains, no user mode (supervisor-compute-heavy)",
              ("kcompute.s", "klib.s"), small=(("QUEENS_N", 6), ("COLLATZ_N", 200))),
        Guest("kjit", "micro: the kernel copying a routine into a buffer and calling it, KJIT_N times (code rewritten "
                      "before it is reused: where binary translation does not pay)",
              ("kjit.s", "klib.s"), small=(("KJIT_N", 40),)),
        Guest("redpill", "micro: a user program looking for the monitor with srr, pushf and rdtime (Red Pill); a kernel pushf/di/popf",
              ("redpill.s", "klib.s")),
        Guest("stopwatch", "micro: a user program timing LAPS loops with rdtime under a WATCHDOG timer (rdtsc-style timing)",
              ("stopwatch.s", "klib.s"), small=(("LAPS", 3),)),
        Guest("rvminios", "RISC-V: M-mode firmware, S-mode kernel with Sv32 and a timer, 2 U-mode tasks, ecalls, UART (rv32)",
              ("rvminios.s",), isa="rv32", kind="os", variants=("rv32",), origin=0x80000000),
        Guest("rvcounters", "RISC-V: M and S enable the counters for U, U reads time/instret/cycle and prints them "
                            "(the hole --counters passthrough leaves open) (rv32)",
              ("rvcounters.s",), isa="rv32", variants=("rv32",), origin=0x80000000),
        Guest("rvloop", "RISC-V: a compute loop of LOOP_N iterations in U-mode under Sv32, its checksum printed by M "
                        "(user-heavy) (rv32)",
              ("rvloop.s",), isa="rv32", kind="workload", variants=("rv32",), origin=0x80000000,
              small=(("LOOP_N", 2000),)),
        Guest("rvcsr", "RISC-V: an S-mode kernel reading and writing sscratch CSR_N times (privileged-heavy) (rv32)",
              ("rvcsr.s",), isa="rv32", variants=("rv32",), origin=0x80000000, small=(("CSR_N", 300),)),
        Guest("rvloop64", "RISC-V: rvloop for RV64, LOOP_N iterations of a compute loop (64-bit multiply, *w, ld/sd) "
                          "in U-mode under Sv39, its checksum printed by M (user-heavy) (rv64)",
              ("rvloop64.s",), isa="rv64", kind="workload", variants=("rv64",), origin=0x80000000,
              small=(("LOOP_N", 2000),)),
        Guest("xv6", "RISC-V: MIT's xv6-riscv (RV64IMA, Sv39, PLIC, UART, virtio disk, 16 MiB), booting to a shell (rv64)",
              (), isa="rv64", kind="os", variants=("rv64",), elf="xv6/kernel.elf", disk="xv6/fs.img.xz", ram=16 << 20,
              max_steps=2_000_000_000),
    )
}

HOSTILE = (
    ("bigbound", "loads and stores far beyond its storage through a huge R.bound"),
    ("topbase", "puts R.base near the top of storage, past its end, and where base + offset overflows 32 bits"),
    ("wrap", "address arithmetic that wraps around 2^32: once onto its own low core, then into nothing"),
    ("negoffset", "negative displacements and a stack pointer below address 0 (push, call)"),
    ("userpriv", "from user mode, sets R, the timer and IE, halts, does I/O and returns from a trap it never took"),
    ("kernelpriv", "as a kernel (deprivileged under a monitor), drives R, the timer and IE to extremes, rti to a forged PSW"),
    ("timer", "reads the interval timer in both modes, unarmed and armed (the real one must stay the monitor's)"),
    ("spin", "arms a timer, disables interrupts and spins forever"),
    ("vmtrap", "executes vmtrap 0 (what every patch is) and other codes itself: forged hypercalls, in both modes"),
    ("midpatch", "jumps into the middle of a sensitive instruction, and to sensitive ones hidden in another's immediate"),
    ("overwrite", "runs a sensitive instruction, overwrites it (word and byte stores, once with another sensitive one), reruns"),
    ("selfread", "reads its own code, sensitive instructions included, to find what a monitor patched"),
    ("pswwrite", "from user mode, rewrites the svc vector in the PSW area to enter supervisor mode at its own code"),
    ("trapstorm", "a storm of system calls, privileged traps, bounds faults and vmtraps with the timer firing"),
    ("doublefault", "points the bounds vector at storage that does not exist, then faults (a double fault: a trap loop)"),
    ("halt", "halts from user mode (trapped), then from supervisor mode"),
)
"""The hostile guests (issue F): each attempts one thing a monitor must contain."""

for _name, _what in HOSTILE:
    GUESTS[f"hostile-{_name}"] = Guest(f"hostile-{_name}", _what, (f"hostile_{_name}.s", "hostile_lib.s", "klib.s"),
                                       kind="hostile")

_EQU = re.compile(r"^(\s*\.(?:equ|set)\s+)([A-Za-z_.$][A-Za-z0-9_.$]*)(\s*,\s*)([^;#\n]*?)(\s*(?:[;#].*)?)$", re.MULTILINE)


def list_guests(kind: str | None = None) -> list[tuple[str, str]]:
    """(name, one-line description) of the bundled guests in a stable order: all but the
    hostile ones by default, or those of one ``kind``."""
    return [(g.name, g.description) for g in GUESTS.values()
            if (g.kind == kind if kind is not None else g.kind != "hostile")]


def guest_info(name: str) -> Guest:
    """The :class:`Guest` called ``name`` (UserError listing the names if there is none)."""
    guest = GUESTS.get(name)
    if guest is None:
        raise UserError(f"no bundled guest '{name}' (guests: {', '.join(GUESTS)})")
    return guest


def read_source(filename: str) -> str:
    """The text of one bundled source file."""
    return resources.files(__name__).joinpath(filename).read_text(encoding="utf-8")


def guest_source(name: str, defines: dict[str, int] | None = None) -> str:
    """The complete assembly source of a guest (its files concatenated), with ``defines``
    replacing the values of the named ``.equ`` constants."""
    guest = guest_info(name)
    text = "".join(_with_newline(read_source(f)) for f in guest.sources)
    if defines:
        text = _override(text, defines, name)
    if guest.origin is not None:
        text = f".org 0x{guest.origin:x}\n" + text
    return text


def parse_name(spec: str) -> tuple[str, dict[str, int]]:
    """Split ``NAME`` or ``NAME:CONST=VALUE,CONST=VALUE`` (the part after ``guest:``);
    the item ``small`` stands for the guest's test-sized constants."""
    name, sep, rest = spec.partition(":")
    defines: dict[str, int] = {}
    if sep:
        for item in rest.split(","):
            if item.strip() == "small":
                defines.update(guest_info(name).small)
                continue
            key, eq, value = item.partition("=")
            key = key.strip()
            try:
                if not eq or not key:
                    raise ValueError
                defines[key] = int(value.strip().replace("_", ""), 0)
            except ValueError:
                raise UserError(f"guest:{spec}: expected guest:NAME:CONST=VALUE[,CONST=VALUE...], got '{item}'") from None
    return name, defines


def build_guest(name: str, isa: str | None = None, defines: dict[str, int] | None = None, *, small: bool = False) -> Image:
    """Assemble bundled guest ``name`` for ``isa``, one of its variants (default: its own ISA).

    ``small`` selects the guest's test-sized constants (:attr:`Guest.small`);
    ``defines`` overrides ``.equ`` constants of the sources (e.g. ``{"SIEVE_N": 1000}``);
    ``name`` may carry overrides too, as ``"sieve:SIEVE_N=1000"`` (what ``guest:`` on
    the command line passes).  Naming a constant the guest does not have is a UserError.
    """
    spec = name
    name, inline = parse_name(name)
    if small:
        inline = {**dict(guest_info(name).small), **inline}
    if defines:
        inline.update(defines)
    guest = guest_info(name)
    variant = isa or guest.isa
    if isa is not None:
        check_family(f"guest:{spec}", "a bundled guest", guest.isa, isa)
    if guest.elf is not None:
        return _prebuilt(guest, spec, inline)
    image = assemble(guest_source(name, inline or None), variant, f"guest:{spec}")
    image.source = f"guest:{spec}"
    return image


def _prebuilt(guest: Guest, spec: str, defines: dict[str, int]) -> Image:
    """A prebuilt guest: its ELF, with the RAM and the disk it expects (decompressed)."""
    if defines:
        raise UserError(f"guest:{spec}: a prebuilt guest has no constants to override")
    files = resources.files(__name__)
    image = load_elf(files.joinpath(guest.elf).read_bytes(), source=f"guest:{spec}")
    image.source = f"guest:{spec}"
    if guest.ram is not None:
        image.platform["ram"] = guest.ram
    if guest.max_steps is not None:
        image.platform["max_steps"] = guest.max_steps
    if guest.disk is not None:
        image.platform["drive"] = (f"guest:{guest.name} {guest.disk.removesuffix('.xz')}",
                                   lzma.decompress(files.joinpath(guest.disk).read_bytes()))
    return image


def _with_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def _override(text: str, defines: dict[str, int], name: str) -> str:
    wanted = dict(defines)
    seen: set[str] = set()

    def replace(m: re.Match) -> str:
        key = m.group(2)
        if key not in wanted:
            return m.group(0)
        seen.add(key)
        return f"{m.group(1)}{key}{m.group(3)}{int(wanted[key])}{m.group(5)}"

    text = _EQU.sub(replace, text)
    unknown = sorted(set(wanted) - seen)
    if unknown:
        own = "".join(read_source(f) for f in guest_info(name).sources if f not in SHARED)
        available = [m.group(2) for m in _EQU.finditer(own)]
        raise UserError(f"guest '{name}' has no constant {', '.join(unknown)} (its own constants: {', '.join(available)})")
    return text


__all__ = ["DEFAULT_ISA", "GUESTS", "VARIANTS", "Guest", "build_guest", "guest_info", "guest_source", "list_guests", "parse_name", "read_source"]


TASK_TABLE_ENTRIES = 7
"""Task slots in the minios family's ``task_table`` (name, R.base, R.bound, CPU limit)."""


def task_regions(image: Image) -> list[tuple[int, int, int]]:
    """(R.base, R.bound, entry) of each user task of a minios-family image, read from its
    ``task_table``; tasks run relocated, so a scanner sees their code only through these
    (``scan --space BASE:BOUND:ENTRY``).  Empty for images without a task table."""
    if "task_table" not in image.symbols or "trampoline_end" not in image.symbols:
        return []
    table, entry = image.symbols["task_table"], image.symbols["trampoline_end"]
    regions = []
    for i in range(TASK_TABLE_ENTRIES):
        base, bound = (int.from_bytes(image.read(table + 16 * i + 4 * k, 4), "little") for k in (1, 2))
        if bound:
            regions.append((base, bound, entry))
    return regions
