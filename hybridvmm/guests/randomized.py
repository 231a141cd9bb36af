"""Random pgm guest programs: the differential tests' workload (bare machine vs every monitor mode).

A program is a small kernel and a user program, both drawn at random from a seed, built
to exercise everything a monitor must get exactly right:

* a **kernel** that installs a handler for every cause, optionally arms the interval timer
  (a random period) and runs a random supervisor block — arithmetic, loads and stores,
  console output, the five sensitive instructions (``pushf``/``popf`` included, so IE
  changes), ``ei``/``di``, ``settimer``, ``svc``, faulting loads, ``vmtrap``;
* a **user program**, either under the kernel's R or relocated to its own region through a
  trampoline (an R change the kernel's own next fetch goes through), entered with
  ``jrstu``: random blocks with counted loops, system calls, the sensitive instructions,
  privileged instructions (which trap), faults (bounds, misaligned, illegal), ``vmtrap``,
  and **self-modifying stores** that rewrite a subroutine between two calls of it —
  sometimes into a sensitive instruction, which a monitor must find and patch again;
* **handlers**: the system call handler saves the old PSW, enables interrupts (so the
  timer can *nest* inside it), restores the PSW and returns; the timer handler counts and
  re-arms; the fault handler skips the faulting instruction (its length read from its
  first parcel) and returns.

Programs are deterministic (the same seed gives the same bytes), always assemble, and
almost always halt; whatever they do, the bare machine defines it, and an equivalent
monitor must reproduce it exactly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from hybridvmm.asm import assemble
from hybridvmm.image import Image
from hybridvmm.isa import Decoder, load_isa

SIZE = 0x10000
"""Storage of the generated guests (the bare machine and each VM get this much)."""
UBASE = 0x8000
UBOUND = 0x4000
USER_ENTRY = 0x108
DATA = 0x3000
"""User data area (virtual), inside either R."""
KDATA = 0x6000

KERNEL_HEAD = """\
        .equ OLD_STATUS, 0x00
        .equ OLD_PC, 0x04
        .equ OLD_BASE, 0x08
        .equ OLD_BOUND, 0x0c
        .equ NEW_PSW, 0x20
        .org 0x100
trampoline:
        setr    r10, r11
        jrstu   {user_entry}
        .entry boot
boot:
        movl    sp, kstack_top
        clr     r12
        movl    r13, {size}
        movl    r1, NEW_PSW + 16
{vectors}
"""

HANDLERS = """\
; ---- handlers ------------------------------------------------------------------------
h_svc:
        movl    r12, psw_save
        clr     r13
        ld      r13, OLD_STATUS(r13)
        st      r13, 0(r12)
        clr     r13
        ld      r13, OLD_PC(r13)
        st      r13, 4(r12)
        clr     r13
        ld      r13, OLD_BASE(r13)
        st      r13, 8(r12)
        clr     r13
        ld      r13, OLD_BOUND(r13)
        st      r13, 12(r12)
        ld      r13, 0(r12)
        shri    r13, r13, 16
        andi    r13, r13, 0xff
        cmpi    r13, 0
        beq     k_exit
        cmpi    r13, 1
        bne     h_svc_count
        andi    r13, r1, 0x3f
        addi    r13, r13, 0x30
        out     r13, 0
h_svc_count:
        movl    r12, svc_count
        ld      r13, 0(r12)
        add     r13, r1
        st      r13, 0(r12)
        ei                              ; a timer interrupt may nest here
        nop
        nop
        nop
        di
        movl    r12, psw_save
        ld      r13, 0(r12)
        st      r13, OLD_STATUS - psw_save(r12)
        ld      r13, 4(r12)
        st      r13, OLD_PC - psw_save(r12)
        ld      r13, 8(r12)
        st      r13, OLD_BASE - psw_save(r12)
        ld      r13, 12(r12)
        st      r13, OLD_BOUND - psw_save(r12)
        rti
k_exit:
        movl    r12, ticks
        ld      r13, 0(r12)
        andi    r13, r13, 0x3f
        addi    r13, r13, 0x40
        out     r13, 0
        movi    r13, 10
        out     r13, 0
        halt
h_timer:
        movl    r12, ticks
        ld      r13, 0(r12)
        inc     r13
        st      r13, 0(r12)
        movl    r13, {period}
        settimer r13
        rti
h_fault:
        clr     r12
        ld      r13, OLD_PC(r12)
        ld      r12, OLD_BASE(r12)
        add     r12, r13
        ldb     r12, 1(r12)             ; the faulting instruction's first parcel, high byte
        shri    r12, r12, 6
        cmpi    r12, 2
        blt     h_fault_2
        add     r12, r12                ; 10 -> 4 bytes, 11 -> 6 bytes
        br      h_fault_skip
h_fault_2:
        movi    r12, 2
h_fault_skip:
        add     r13, r12
        clr     r12
        st      r13, OLD_PC(r12)
        rti
"""

KERNEL_TAIL = """\
        .align 4
psw_save:       .word 0, 0, 0, 0
svc_count:      .word 0
ticks:          .word 0
                .space 128
kstack_top:
"""

ALU2 = ("add", "sub", "adc", "and", "or", "xor", "mul", "cmp", "tst", "shl", "shr", "sar", "mov", "divu", "remu")
ALUI = ("addi", "andi", "ori", "xori", "shli", "shri", "sari", "muli")
BRANCHES = ("beq", "bne", "blt", "bge", "bgt", "ble", "bltu", "bgeu", "bmi", "bpl")
PRIVILEGED = ("ei", "di", "halt", "rti", "setr r1, r2", "settimer r1", "in r1, 1", "out r1, 0")
SENSITIVE = ("pushf", "popf", "srr", "rdtime", "jrstu")
REGS = [f"r{i}" for i in range(1, 10)]
"""Registers a generated instruction may read (r7-r9 count loops, r10/r11 carry R to the
trampoline, r12/r13 belong to the kernel, r14 is free, r15 is sp)."""
WREGS = [f"r{i}" for i in range(1, 7)]
"""Registers a generated instruction may write."""


@dataclass(frozen=True)
class RandomProgram:
    """A generated guest: its seed, the choices drawn, and the assembly source."""

    seed: int
    relocated: bool
    timer: int
    source: str

    def image(self, isa: str) -> Image:
        image = assemble(self.source, isa, f"random:{self.seed}")
        image.source = f"random:{self.seed}"
        return image


class _Gen:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.n = 0
        self.lines: list[str] = []
        self.subroutines: list[str] = []
        self.decoder = Decoder(load_isa("pgm"))

    def label(self, stem: str) -> str:
        self.n += 1
        return f"{stem}_{self.n}"

    def emit(self, text: str) -> None:
        self.lines.append(f"        {text}")

    def reg(self) -> str:
        return self.rng.choice(REGS)

    def wreg(self) -> str:
        return self.rng.choice(WREGS)

    def value(self) -> int:
        r = self.rng.random()
        if r < 0.3:
            return self.rng.choice([0, 1, 2, 3, 4, 0x7FFF, -0x8000, -1, -2])
        return self.rng.randint(-0x8000, 0x7FFF)

    # --- pieces ----------------------------------------------------------------------------
    def alu(self) -> None:
        rng = self.rng
        k = rng.random()
        if k < 0.45:
            op = rng.choice(ALU2)
            self.emit(f"{op} {self.reg() if op in ('cmp', 'tst') else self.wreg()}, {self.reg()}")
        elif k < 0.8:
            self.emit(f"{rng.choice(ALUI)} {self.wreg()}, {self.reg()}, {self.value()}")
        elif k < 0.9:
            self.emit(f"movi {self.wreg()}, {self.value()}")
        else:
            self.emit(f"movl {self.wreg()}, 0x{rng.getrandbits(32):x}")

    def memory(self, base: int, extent: int, faults: bool) -> None:
        rng = self.rng
        r, a = self.wreg(), self.wreg()
        while a == r:
            a = self.wreg()
        if faults and rng.random() < 0.15:
            address = rng.choice([0xFFFFFFF0, 0x7FFFFFFC, SIZE + 0x100, 0xFFFF0000])
            self.emit(f"movl {a}, 0x{address:x}")
        else:
            offset = rng.randrange(0, extent, 1 if rng.random() < 0.1 and faults else 4)
            self.emit(f"movl {a}, 0x{base + offset:x}")
        op = rng.choice(["ld", "st", "ldb", "stb"])
        self.emit(f"{op} {self.reg() if op in ('st', 'stb') else r}, 0({a})")

    def stack(self) -> None:
        r = self.wreg()
        if self.rng.random() < 0.5:
            self.emit(f"push {self.reg()}")
            self.emit(f"pop {r}")
        else:
            self.emit(f"push {r}")
            self.alu()
            self.emit(f"pop {r}")

    def sensitive(self, absolute: int, user: bool) -> None:
        """One of the five, used as a program would (``absolute``: how labels map to virtual;
        ``jrstu`` only in user code, where it is a jump)."""
        rng = self.rng
        which = rng.choice(SENSITIVE if user else SENSITIVE[:4])
        if which == "pushf":
            self.emit("pushf")
            self.emit(f"pop {self.wreg()}")
        elif which == "popf":
            r = self.wreg()
            self.emit(f"movi {r}, {rng.choice([0, 2, 0xf2, 0xf0, 0x62, 0x52])}")
            self.emit(f"push {r}")
            self.emit("popf")
        elif which == "srr":
            self.emit(f"srr {self.wreg()}, {self.wreg()}")
        elif which == "rdtime":
            self.emit(f"rdtime {self.wreg()}")
        else:
            target = self.label("after_jrstu")
            self.emit(f"jrstu {target} - {absolute}")
            self.lines.append(f"{target}:")

    def loop(self, body, depth: int) -> None:
        counter = self.rng.choice(["r8", "r9"]) if depth == 0 else "r7"
        top = self.label("loop")
        self.emit(f"movi {counter}, {self.rng.randint(1, 12)}")
        self.lines.append(f"{top}:")
        push_counter = depth == 0 and counter in ("r8", "r9")
        if push_counter:
            self.emit(f"push {counter}")
        body(depth + 1)
        if push_counter:
            self.emit(f"pop {counter}")
        self.emit(f"addi {counter}, {counter}, -1")
        self.emit(f"bne {top}")

    def branch(self) -> None:
        skip = self.label("skip")
        self.emit(f"cmp {self.reg()}, {self.reg()}")
        self.emit(f"{self.rng.choice(BRANCHES)} {skip}")
        self.alu()
        self.lines.append(f"{skip}:")

    def smc(self, absolute: int) -> None:
        """Call a subroutine, rewrite its first word (maybe into a sensitive instruction), call it again."""
        rng = self.rng
        name = self.label("smc")
        isa = self.decoder.isa
        replacement = rng.choice([
            ("addi", {"ra": 3, "rb": 3, "simm": rng.randint(-50, 50)}),
            ("movi", {"ra": 4, "simm": rng.randint(-50, 50)}),
            ("sensitive", None),
        ])
        if replacement[0] == "sensitive":
            first = rng.choice(["pushf", "srr", "rdtime"])
            ops = {"ra": 5, "rb": 6} if first == "srr" else ({"ra": 5} if first == "rdtime" else {})
            code = self.decoder.encode(isa.instructions[first], ops)
            second = self.decoder.encode(isa.instructions["pop" if first == "pushf" else "nop"],
                                         {"ra": 6} if first == "pushf" else {})
            word = code + second
        else:
            word = self.decoder.encode(isa.instructions[replacement[0]], replacement[1])
        value = int.from_bytes(word, "little")
        self.emit(f"call {name} - {absolute}")
        self.emit(f"movl r5, 0x{value:08x}")
        self.emit(f"movl r6, {name} - {absolute}")
        self.emit("st r5, 0(r6)")
        self.emit(f"call {name} - {absolute}")
        self.subroutines += ["        .align 4", f"{name}:", "        nop", "        nop", "        ret"]

    def block(self, depth: int, user: bool, absolute: int, count: int) -> None:
        rng = self.rng
        data_base = DATA if user else KDATA
        for _ in range(count):
            k = rng.random()
            if k < 0.30:
                self.alu()
            elif k < 0.42:
                self.memory(data_base, 0x400, True)
            elif k < 0.48:
                self.stack()
            elif k < 0.58:
                self.sensitive(absolute, user)
            elif k < 0.64:
                self.emit(f"svc {rng.choice([1, 2, 3])}")
            elif k < 0.70:
                self.branch()
            elif k < 0.74 and depth < 2:
                self.loop(lambda d: self.block(d, user, absolute, rng.randint(2, 5)), depth)
            elif k < 0.78:
                self.emit(rng.choice(PRIVILEGED) if user else rng.choice(("ei", "di", "settimer r1")))
            elif k < 0.80:
                self.emit(f"vmtrap {rng.randint(0, 5)}")
            elif k < 0.83 and depth == 0:
                self.smc(absolute)
            elif k < 0.85 and not user:
                self.emit(f"out {self.reg()}, 0")
            else:
                self.alu()


def generate(seed: int) -> RandomProgram:
    """The random program of ``seed``."""
    g = _Gen(seed)
    rng = g.rng
    relocated = rng.random() < 0.5
    timer = rng.choice([0, 0, rng.randint(8, 60), rng.randint(60, 400)])
    period = timer or 100
    vectors = []
    for cause in range(1, 7):
        handler = {5: "h_svc", 6: "h_timer"}.get(cause, "h_fault")
        vectors.append(f"        movl    r2, {handler}\n        st      r0, 0(r1)\n        st      r2, 4(r1)\n"
                       f"        st      r12, 8(r1)\n        st      r13, 12(r1)\n        addi    r1, r1, 16")
    user_entry = USER_ENTRY
    head = KERNEL_HEAD.format(user_entry=f"0x{user_entry:x}", size=f"0x{SIZE:x}", vectors="\n".join(vectors))
    g.lines.append(head.rstrip("\n"))
    for r in REGS:
        g.emit(f"movl {r}, 0x{rng.getrandbits(32):x}")
    if timer:
        g.emit(f"movl r1, {timer}")
        g.emit("settimer r1")
        g.emit("ei")
    g.block(0, False, 0, rng.randint(5, 25))
    g.emit("movl sp, ustack_top - {}".format(UBASE if relocated else 0))
    if rng.random() < 0.7:
        g.emit("ei")
    if relocated:
        g.emit(f"movl r10, 0x{UBASE:x}")
        g.emit(f"movl r11, 0x{UBOUND:x}")
        g.emit("jmp trampoline")
    else:
        g.emit("jrstu user_main")
    g.lines += g.subroutines
    g.subroutines = []
    g.lines.append(HANDLERS.format(period=period).rstrip("\n"))
    g.lines.append(KERNEL_TAIL.rstrip("\n"))
    # --- the user program -------------------------------------------------------------------
    absolute = UBASE if relocated else 0
    if relocated:
        g.lines.append('        .section user, "awx"')
        g.lines.append(f"        .org 0x{UBASE + 0x100:x}")
        g.emit("setr r10, r11")
        g.emit(f"jrstu 0x{user_entry:x}")
    else:
        g.lines.append('        .section user, "awx"')
        g.lines.append(f"        .org 0x{0x4000:x}")
    g.lines.append("user_main:")
    g.block(0, True, absolute, rng.randint(10, 40))
    g.emit("svc 0")
    g.emit("br . - 2")
    g.lines += g.subroutines
    g.lines.append("        .align 4")
    g.lines.append("        .space 256")
    g.lines.append("ustack_top:")
    return RandomProgram(seed, relocated, timer, "\n".join(g.lines) + "\n")
