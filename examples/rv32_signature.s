# rv32_signature.s - a compliance-style guest: it leaves its results between the symbols
# begin_signature and end_signature, then stops the machine through the test finisher.
#   python -m hybridvmm asm examples/rv32_signature.s -o sig.img
#   python -m hybridvmm run sig.img --signature out.sig     # one 8-digit hex word per line
.isa rv32
        .org 0x80000000
        .entry start
start:  la    s0, begin_signature
        li    t0, 0xdeadbeef
        sw    t0, 0(s0)
        li    t0, 10
        sw    t0, 4(s0)
        li    t5, 0x100000      # the SiFive test finisher
        li    t6, 0x5555        # FINISHER_PASS
        sw    t6, 0(t5)
        .org 0x80002000
begin_signature:
        .word 0, 0, 0x12345678
end_signature:
