# rv32_fail.s - a riscv-tests-style guest that reports "test 2 failed" through HTIF:
# it writes (2 << 1) | 1 to its 64-bit tohost, low word then high word, as the riscv-tests'
# RVTEST_FAIL does (HTIF acts on the high word's store, as QEMU's does).
#   python -m hybridvmm asm examples/rv32_fail.s -o fail.img
#   python -m hybridvmm run fail.img            # exit status 1, "test 2 failed"
.isa rv32
        .org 0x80000000
        .entry start
start:  li    a0, 5
        la    t0, tohost
        sw    a0, 0(t0)
        sw    zero, 4(t0)
1:      j     1b
        .align 6
tohost: .word 0, 0
