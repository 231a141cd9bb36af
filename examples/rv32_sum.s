# rv32_sum.s — sum 1..10 on RISC-V, then ecall.  Instructions are written as GNU
# objdump -M no-aliases prints them, which GNU as also accepts.
.isa rv32
        .text
        .org 0x80000000
_start: addi    a0,zero,0           # sum
        addi    t0,zero,1           # i
        addi    t1,zero,11          # limit
loop:   add     a0,a0,t0
        addi    t0,t0,1
        blt     t0,t1,loop
        csrrs   a1,mhartid,zero     # which hart am I?
        ecall
