# Every instruction of isa_specs/rv64.toml (rv32's and RV64's own), then GNU-style
# pseudo-instructions at XLEN = 64, in syntax that both GNU as and the hybridvmm
# assembler accept.  The test appends one line per CSR named in the spec, assembles it
# with both (GNU: -march=rv64ima_zicsr_zifencei -mno-relax, linked at 0) and
# disassembles it with both.
    .text
_start:
# --- U and J types -----------------------------------------------------------------
    lui a0,0x12345
    lui t6,0xfffff
    lui zero,0
    auipc a1,0x1
    auipc s11,0xfffff
    jal ra,_start
    jal zero,fwd
    jalr ra,0(a0)
    jalr zero,0(ra)
    jalr t0,-2048(t1)
    jalr s1,2047(s2)
# --- branches ----------------------------------------------------------------------
back:
    beq a0,a1,back
    bne a2,a3,fwd
    blt a4,a5,back
    bge a6,a7,fwd
    bltu s2,s3,back
    bgeu s4,s5,fwd
    beq zero,zero,back
fwd:
# --- loads and stores ----------------------------------------------------------------
    lb a0,0(sp)
    lh a1,-2048(sp)
    lw a2,2047(sp)
    lbu a3,-1(gp)
    lhu a4,4(tp)
    sb a5,0(s0)
    sh a6,-2048(s1)
    sw a7,2047(t2)
    sw zero,-4(sp)
# --- register-immediate ----------------------------------------------------------------
    addi a0,a1,-2048
    addi a0,a1,2047
    addi zero,zero,0
    slti t0,t1,-1
    sltiu t2,t3,1
    xori t4,t5,-1
    ori s6,s7,1365
    andi s8,s9,-256
    slli s10,s11,0x3f
    srli a2,a3,0x20
    srai a4,a5,0x3f
    srli a0,a0,0x1
    srai a1,a1,0x10
    slli ra,sp,0x0
# --- register-register (I and M) ---------------------------------------------------------
    add a0,a1,a2
    sub a3,a4,a5
    sll a6,a7,s2
    slt s3,s4,s5
    sltu s6,s7,s8
    xor s9,s10,s11
    srl t3,t4,t5
    sra t6,ra,sp
    or gp,tp,t0
    and t1,t2,s0
    mul a0,a1,a2
    mulh a3,a4,a5
    mulhsu a6,a7,s2
    mulhu s3,s4,s5
    div s6,s7,s8
    divu s9,s10,s11
    rem t3,t4,t5
    remu t6,zero,ra
# --- A: lr/sc and every AMO, each with its four aq/rl orderings ------------------------------
    lr.w a0,(a1)
    sc.w a0,a2,(a1)
    lr.w.aq t0,(t1)
    sc.w.aq t0,t2,(t1)
    lr.w.rl zero,(s11)
    sc.w.rl zero,sp,(s11)
    lr.w.aqrl ra,(t6)
    sc.w.aqrl ra,a7,(t6)
    amoswap.w a0,a2,(a1)
    amoswap.w.aq t0,t2,(t1)
    amoswap.w.rl zero,sp,(s11)
    amoswap.w.aqrl ra,a7,(t6)
    amoadd.w t0,t2,(t1)
    amoadd.w.aq zero,sp,(s11)
    amoadd.w.rl ra,a7,(t6)
    amoadd.w.aqrl a0,a2,(a1)
    amoxor.w zero,sp,(s11)
    amoxor.w.aq ra,a7,(t6)
    amoxor.w.rl a0,a2,(a1)
    amoxor.w.aqrl t0,t2,(t1)
    amoand.w ra,a7,(t6)
    amoand.w.aq a0,a2,(a1)
    amoand.w.rl t0,t2,(t1)
    amoand.w.aqrl zero,sp,(s11)
    amoor.w a0,a2,(a1)
    amoor.w.aq t0,t2,(t1)
    amoor.w.rl zero,sp,(s11)
    amoor.w.aqrl ra,a7,(t6)
    amomin.w t0,t2,(t1)
    amomin.w.aq zero,sp,(s11)
    amomin.w.rl ra,a7,(t6)
    amomin.w.aqrl a0,a2,(a1)
    amomax.w zero,sp,(s11)
    amomax.w.aq ra,a7,(t6)
    amomax.w.rl a0,a2,(a1)
    amomax.w.aqrl t0,t2,(t1)
    amominu.w ra,a7,(t6)
    amominu.w.aq a0,a2,(a1)
    amominu.w.rl t0,t2,(t1)
    amominu.w.aqrl zero,sp,(s11)
    amomaxu.w a0,a2,(a1)
    amomaxu.w.aq t0,t2,(t1)
    amomaxu.w.rl zero,sp,(s11)
    amomaxu.w.aqrl ra,a7,(t6)
# --- fences ------------------------------------------------------------------------------
    fence iorw,iorw
    fence r,w
    fence rw,rw
    fence i,o
    fence io,iorw
    fence w,r
    fence.tso
    fence.i
# --- system and privileged -----------------------------------------------------------------
    ecall
    ebreak
    sret
    mret
    wfi
    sfence.vma zero,zero
    sfence.vma a0,zero
    sfence.vma a0,a1
    sfence.vma
    sfence.vma a1
# --- Zicsr (numbers as well as names) --------------------------------------------------------
    csrrw a0,mstatus,a1
    csrrs a2,mepc,zero
    csrrc zero,mie,a3
    csrrwi a4,mtvec,31
    csrrsi a5,sstatus,0
    csrrci zero,mip,1
    csrrw t0,0x7c0,t1
    csrrs t2,0x800,zero
# --- RV64I: doubleword and unsigned-word loads and stores ------------------------------
    ld a0,0(sp)
    ld t6,-2048(s0)
    ld zero,2047(a1)
    lwu a2,8(gp)
    lwu s11,-4(tp)
    sd a3,0(sp)
    sd zero,-2048(s1)
    sd t5,2047(t2)
# --- RV64I/M: word operations ---------------------------------------------------------
    addiw a0,a1,-2048
    addiw a0,a1,2047
    addiw t0,zero,0
    slliw a2,a3,0x0
    slliw a4,a5,0x1f
    srliw a6,a7,0x1
    srliw s2,s3,0x10
    sraiw s4,s5,0x1f
    sraiw t3,t4,0x3
    addw a0,a1,a2
    subw a3,a4,a5
    sllw a6,a7,s2
    srlw s3,s4,s5
    sraw s6,s7,s8
    mulw s9,s10,s11
    divw t3,t4,t5
    divuw t6,zero,ra
    remw sp,gp,tp
    remuw t0,t1,t2
# --- RV64A: lr.d/sc.d and every doubleword AMO, each with its four orderings --------------
    lr.d a0,(a1)
    sc.d a0,a2,(a1)
    lr.d.aq t0,(t1)
    sc.d.aq t0,t2,(t1)
    lr.d.rl zero,(s11)
    sc.d.rl zero,sp,(s11)
    lr.d.aqrl ra,(t6)
    sc.d.aqrl ra,a7,(t6)
    amoswap.d a0,a2,(a1)
    amoswap.d.aq t0,t2,(t1)
    amoswap.d.rl zero,sp,(s11)
    amoswap.d.aqrl ra,a7,(t6)
    amoadd.d t0,t2,(t1)
    amoadd.d.aq zero,sp,(s11)
    amoadd.d.rl ra,a7,(t6)
    amoadd.d.aqrl a0,a2,(a1)
    amoxor.d zero,sp,(s11)
    amoxor.d.aq ra,a7,(t6)
    amoxor.d.rl a0,a2,(a1)
    amoxor.d.aqrl t0,t2,(t1)
    amoand.d ra,a7,(t6)
    amoand.d.aq a0,a2,(a1)
    amoand.d.rl t0,t2,(t1)
    amoand.d.aqrl zero,sp,(s11)
    amoor.d a0,a2,(a1)
    amoor.d.aq t0,t2,(t1)
    amoor.d.rl zero,sp,(s11)
    amoor.d.aqrl ra,a7,(t6)
    amomin.d t0,t2,(t1)
    amomin.d.aq zero,sp,(s11)
    amomin.d.rl ra,a7,(t6)
    amomin.d.aqrl a0,a2,(a1)
    amomax.d zero,sp,(s11)
    amomax.d.aq ra,a7,(t6)
    amomax.d.rl a0,a2,(a1)
    amomax.d.aqrl t0,t2,(t1)
    amominu.d ra,a7,(t6)
    amominu.d.aq a0,a2,(a1)
    amominu.d.rl t0,t2,(t1)
    amominu.d.aqrl zero,sp,(s11)
    amomaxu.d a0,a2,(a1)
    amomaxu.d.aq t0,t2,(t1)
    amomaxu.d.rl zero,sp,(s11)
    amomaxu.d.aqrl ra,a7,(t6)
# --- GNU pseudo-instructions at XLEN = 64 -----------------------------------------------
    sext.w a0,a1
    negw a2,a3
    ld a4,data
    lwu a5,data
    sd a6,data,t0
    la a7,data
    call back
    tail fwd
    rdcycle s2
    rdtime s3
    rdinstret s4
    nop
    mv a0,a1
    not a0,a1
    neg a0,a1
    csrr a0,mscratch
    li a0,0
    li a0,2047
    li a0,-2048
    li a0,2048
    li a0,0x12345678
    li a0,0x7ffff800
    li a0,0x7fffffff
    li a0,0x80000000
    li a0,0xffffffff
    li a0,-0x80000000
    li a0,-0x80000001
    li a0,0x100000000
    li a0,0x123456789abcdef0
    li a0,0xdeadbeefcafebabe
    li a0,0x7fffffffffffffff
    li a0,0x8000000000000000
    li a0,0xffffffffffffffff
    li a0,0xffffffff00000000
    li t6,-0x123456789
# --- what the symbol forms above point at, 8-byte aligned --------------------------------
    .p2align 3
data:
    ret
