"""The machine benchmark's own pgm programs (``bench --builtin``), each checked against Python.

Four compute-heavy user-mode tasks — a sieve, recursive fibonacci, an insertion sort and
a checksum loop — each run under a tiny kernel that enters user mode with a relocated
R and re-arms the interval timer every ``QUANTUM`` instructions, so the benchmark
exercises relocation, the timer and trap entry/exit as a real guest does.  Each task ends
with ``svc 0`` and its result in r1; the kernel stores it at ``RESULT`` and halts.
:func:`expected` computes every result independently in Python, so a benchmark run is
also checked for correctness.

The tasks run at virtual address 0 of their region and use only pc-relative control
flow and constant data addresses, so they are position independent.  r13 belongs to
the kernel (it is 0: the kernel's foothold for saving a register - pgm has no absolute
addressing), as on MIPS k0/k1.
"""

from __future__ import annotations

from hybridvmm.image import Image

QUANTUM = 10_000
USER_BASE = 0x10000
USER_SIZE = 0x10000
RESULT = 0x98
TICKS = 0x90

KERNEL = f"""
        .equ QUANTUM, {QUANTUM}
        .equ USER_BASE, {USER_BASE:#x}
        .equ USER_SIZE, {USER_SIZE:#x}
        .org 0x30
        .word 0, k_fault, 0, 0x100000   ; 1 privileged
        .word 0, k_fault, 0, 0x100000   ; 2 illegal
        .word 0, k_fault, 0, 0x100000   ; 3 bounds
        .word 0, k_fault, 0, 0x100000   ; 4 misaligned
        .word 0, k_svc, 0, 0x100000     ; 5 svc
        .word 0, k_timer, 0, 0x100000   ; 6 timer
        .org 0x100
        .entry boot
boot:
        movi r13, 0
        movi r1, 3                      ; the task's PSW: user mode, IE = 1
        st r1, 0(r13)
        movi r1, 0                      ; pc = 0 (virtual)
        st r1, 4(r13)
        movl r1, USER_BASE
        st r1, 8(r13)
        movl r1, USER_SIZE
        st r1, 12(r13)
        movi r1, 0
        movl r1, QUANTUM
        settimer r1
        movi r1, 0
        rti
k_timer:                                ; count the tick, re-arm, resume the task
        st r1, {RESULT + 4:#x}(r13)
        ld r1, {TICKS:#x}(r13)
        addi r1, r1, 1
        st r1, {TICKS:#x}(r13)
        movl r1, QUANTUM
        settimer r1
        ld r1, {RESULT + 4:#x}(r13)
        rti
k_svc:                                  ; svc 0: exit with r1
        st r1, {RESULT:#x}(r13)
        halt
k_fault:
        movi r1, -1
        st r1, {RESULT:#x}(r13)
        halt
        .org USER_BASE
"""

SIEVE_N = 30_000
SIEVE = f"""
        .equ N, {SIEVE_N}
        .equ FLAGS, 0x4000
        movl r1, FLAGS
        movl r2, N
        movi r3, 0
        movi r4, 1
init:   mov r5, r1
        add r5, r3
        stb r4, 0(r5)
        addi r3, r3, 1
        cmp r3, r2
        blt init
        movi r3, 2
        movi r6, 0
        movi r9, 0
outer:  cmp r3, r2
        bge done
        mov r5, r1
        add r5, r3
        ldb r7, 0(r5)
        cmpi r7, 0
        beq next
        addi r6, r6, 1
        mov r8, r3
        mul r8, r3
inner:  cmp r8, r2
        bge next
        mov r5, r1
        add r5, r8
        stb r9, 0(r5)
        add r8, r3
        br inner
next:   addi r3, r3, 1
        br outer
done:   mov r1, r6
        svc 0
"""

FIB_N = 24
FIB = f"""
        movl sp, 0x8000
        movi r1, {FIB_N}
        callrel fib
        svc 0
fib:    cmpi r1, 2
        blt fib_base
        push r1
        addi r1, r1, -1
        callrel fib
        pop r2
        push r1
        addi r1, r2, -2
        callrel fib
        pop r2
        add r1, r2
fib_base:
        ret
"""

SORT_N = 600
SORT_SEED = 12345
SORT = f"""
        .equ N, {SORT_N}
        .equ ARR, 0x2000
        movl r1, ARR
        movl r2, N
        movl r3, {SORT_SEED}
        movl r10, 1103515245
        movi r4, 0
fill:   mul r3, r10
        addi r3, r3, 12345
        mov r5, r4
        shli r5, r5, 2
        add r5, r1
        st r3, 0(r5)
        addi r4, r4, 1
        cmp r4, r2
        blt fill
        movi r4, 1                      ; insertion sort, unsigned
isort:  cmp r4, r2
        bge sorted
        mov r5, r4
        shli r5, r5, 2
        add r5, r1
        ld r6, 0(r5)
ins:    cmp r5, r1
        beq place
        ld r7, -4(r5)
        cmp r7, r6
        bleu place
        st r7, 0(r5)
        addi r5, r5, -4
        br ins
place:  st r6, 0(r5)
        addi r4, r4, 1
        br isort
sorted: movi r4, 0                      ; r8 = sum of a[i] * (i + 1)
        movi r8, 0
        mov r5, r1
csum:   cmp r4, r2
        bge out
        ld r7, 0(r5)
        addi r9, r4, 1
        mul r9, r7
        add r8, r9
        addi r5, r5, 4
        addi r4, r4, 1
        br csum
out:    mov r1, r8
        svc 0
"""

CHECKSUM_LEN = 8192
CHECKSUM_PASSES = 16
CHECKSUM = f"""
        .equ LEN, {CHECKSUM_LEN}
        .equ BUF, 0x4000
        movl r1, BUF
        movl r2, LEN
        movi r3, 7                      ; byte generator: x = x * 75 + 74 (mod 2^32)
        movi r4, 0
gen:    muli r3, r3, 75
        addi r3, r3, 74
        mov r5, r1
        add r5, r4
        stb r3, 0(r5)
        addi r4, r4, 1
        cmp r4, r2
        bltu gen
        movi r6, 1                      ; a
        movi r7, 0                      ; b
        movi r11, {CHECKSUM_PASSES}
pass:   mov r5, r1
        mov r8, r1
        add r8, r2
byte:   ldb r9, 0(r5)
        add r6, r9
        add r7, r6
        addi r5, r5, 1
        cmp r5, r8
        bltu byte
        addi r11, r11, -1
        bne pass
        shli r7, r7, 16
        xor r7, r6
        mov r1, r7
        svc 0
"""

PROGRAMS = {"sieve": SIEVE, "fib": FIB, "sort": SORT, "checksum": CHECKSUM}
"""Name → user task source (appended to the kernel)."""

DESCRIPTIONS = {
    "sieve": f"sieve of Eratosthenes below {SIEVE_N} (byte loads/stores, loops)",
    "fib": f"recursive fibonacci({FIB_N}) (call/ret, push/pop)",
    "sort": f"insertion sort of {SORT_N} words (word loads/stores, unsigned compares)",
    "checksum": f"checksum of {CHECKSUM_LEN} bytes, {CHECKSUM_PASSES} passes (tight byte loop)",
}


def expected(name: str) -> int:
    """The result the task must leave in r1, computed here in plain Python."""
    m32 = 0xFFFFFFFF
    if name == "sieve":
        flags = bytearray([1]) * SIEVE_N
        count = 0
        for i in range(2, SIEVE_N):
            if flags[i]:
                count += 1
                for j in range(i * i, SIEVE_N, i):
                    flags[j] = 0
        return count
    if name == "fib":
        a, b = 0, 1
        for _ in range(FIB_N):
            a, b = b, a + b
        return a & m32
    if name == "sort":
        x, values = SORT_SEED, []
        for _ in range(SORT_N):
            x = (x * 1103515245 + 12345) & m32
            values.append(x)
        return sum(v * (i + 1) for i, v in enumerate(sorted(values))) & m32
    if name == "checksum":
        x, buf = 7, bytearray()
        for _ in range(CHECKSUM_LEN):
            x = (x * 75 + 74) & m32
            buf.append(x & 0xFF)
        a, b = 1, 0
        for _ in range(CHECKSUM_PASSES):
            for byte in buf:
                a = (a + byte) & m32
                b = (b + a) & m32
        return ((b << 16) & m32) ^ a
    raise KeyError(name)


def build(name: str, isa: str = "pgm") -> Image:
    """Kernel + task ``name`` assembled for ``isa``."""
    from hybridvmm.asm import assemble

    image = assemble(KERNEL + PROGRAMS[name], isa, f"bench:{name}")
    image.source = f"bench:{name}"
    return image


def result_of(machine) -> int:
    """The r1 the task exited with (stored by the kernel)."""
    return machine.storage.read_word(RESULT)
