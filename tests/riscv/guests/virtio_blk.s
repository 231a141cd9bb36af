# A virtio-blk driver for QEMU virt's first virtio-mmio transport (version 2), in M-mode:
# it checks the transport (magic, version 2, device 2, vendor "QEMU"), negotiates
# features (BLK_SIZE, FLUSH and VERSION_1 if offered), sets up queue 0 with 8 entries, and
# performs requests of three descriptors (header, 512 data bytes, status), each completed
# by the used-buffer interrupt through the PLIC (context 0, source 1), which the handler
# acknowledges (InterruptACK) and completes.  It prints:
#     capacity <sectors in hex>
#     0: <sector 0 up to its first newline>
#     1: <sector 1 up to its first newline, or "-" if it starts with a zero byte>
# then writes "written by the guest\n" to sector 1, reads it back and prints it the same
# way, reads past the end (status 1, printed as "past the end: 1"), and ends through the
# test finisher (pass; status 3 if the transport is not a block device, 4 if FEATURES_OK
# was refused, 5 for an unexpected trap).
        .org 0x80000000
        .equ UART, 0x10000000
        .equ VIRTIO, 0x10001000
        .equ PLIC, 0x0c000000
        .equ PLIC_ENABLE0, 0x0c002000
        .equ PLIC_CONTEXT0, 0x0c200000
        .equ FINISHER, 0x100000
        .equ MEIE, 0x800
        .equ M_EXTERNAL, 0x8000000b
        .equ NUM, 8

        .entry _start
_start:
        la    t0, trap
        csrw  mtvec, t0
        li    s0, UART
        li    s1, VIRTIO
        lw    t0, 0x000(s1)               # magic
        li    t1, 0x74726976
        bne   t0, t1, not_blk
        lw    t0, 0x004(s1)               # version
        li    t1, 2
        bne   t0, t1, not_blk
        lw    t0, 0x008(s1)               # device id
        bne   t0, t1, not_blk
        lw    t0, 0x00c(s1)               # vendor
        li    t1, 0x554d4551
        bne   t0, t1, not_blk
        sw    zero, 0x070(s1)             # status: reset
        li    s2, 1                       # ACKNOWLEDGE
        sw    s2, 0x070(s1)
        ori   s2, s2, 2                   # DRIVER
        sw    s2, 0x070(s1)
        sw    zero, 0x014(s1)             # device features, bits 0-31
        lw    t0, 0x010(s1)
        li    t1, (1 << 6) | (1 << 9)     # BLK_SIZE, FLUSH
        and   t0, t0, t1
        sw    zero, 0x024(s1)
        sw    t0, 0x020(s1)
        li    t1, 1
        sw    t1, 0x014(s1)               # bits 32-63
        lw    t0, 0x010(s1)
        andi  t0, t0, 1                   # VERSION_1
        sw    t1, 0x024(s1)
        sw    t0, 0x020(s1)
        ori   s2, s2, 8                   # FEATURES_OK
        sw    s2, 0x070(s1)
        lw    t0, 0x070(s1)
        andi  t0, t0, 8
        beqz  t0, refused
        sw    zero, 0x030(s1)             # queue 0
        lw    t0, 0x044(s1)
        bnez  t0, not_blk                 # must not be ready yet
        lw    t0, 0x034(s1)
        li    t1, NUM
        bltu  t0, t1, not_blk
        sw    t1, 0x038(s1)               # QueueNum
        la    t0, desc
        sw    t0, 0x080(s1)
        sw    zero, 0x084(s1)
        la    t0, avail
        sw    t0, 0x090(s1)
        sw    zero, 0x094(s1)
        la    t0, used
        sw    t0, 0x0a0(s1)
        sw    zero, 0x0a4(s1)
        li    t0, 1
        sw    t0, 0x044(s1)               # QueueReady
        ori   s2, s2, 4                   # DRIVER_OK
        sw    s2, 0x070(s1)
        li    t1, PLIC
        li    t0, 1
        sw    t0, 4(t1)                   # source 1: priority 1
        li    t1, PLIC_ENABLE0
        li    t0, 2
        sw    t0, 0(t1)
        li    t1, PLIC_CONTEXT0
        sw    zero, 0(t1)
        li    t0, MEIE
        csrs  mie, t0

        la    a0, s_capacity
        jal   puts
        lw    a0, 0x100(s1)               # config: capacity, low word
        jal   puthex
        jal   newline

        li    a0, 0                       # read sector 0
        li    a1, 0
        jal   request
        la    a0, s_zero
        jal   puts
        jal   putline
        li    a0, 0                       # read sector 1
        li    a1, 1
        jal   request
        la    a0, s_one
        jal   puts
        jal   putline

        la    t0, message                 # write sector 1
        la    t1, buffer
        li    t2, 512
copy:
        lbu   t3, 0(t0)
        sb    t3, 0(t1)
        addi  t1, t1, 1
        addi  t2, t2, -1
        beqz  t3, pad
        addi  t0, t0, 1
pad:
        bnez  t2, copy
        li    a0, 1
        li    a1, 1
        jal   request
        li    a0, 0                       # and read it back
        li    a1, 1
        jal   request
        la    a0, s_one
        jal   puts
        jal   putline

        lw    a1, 0x100(s1)               # past the end: capacity + 1
        addi  a1, a1, 1
        li    a0, 0
        jal   request
        mv    s3, a0
        la    a0, s_past
        jal   puts
        mv    a0, s3
        jal   puthex
        jal   newline
pass:
        li    t0, FINISHER
        li    t1, 0x5555
        sw    t1, 0(t0)
        j     pass

# request(a0 = type, a1 = sector) -> a0 = status: one 3-descriptor chain on `buffer`,
# waited for with interrupts on (the device completes it at the notify).
request:
        la    t0, header
        sw    a0, 0(t0)
        sw    zero, 4(t0)
        sw    a1, 8(t0)
        sw    zero, 12(t0)
        la    t1, desc
        sw    t0, 0(t1)                   # 0: header, 16 bytes, NEXT, next 1
        sw    zero, 4(t1)
        li    t2, 16
        sw    t2, 8(t1)
        li    t2, 1 | (1 << 16)
        sw    t2, 12(t1)
        la    t0, buffer                  # 1: buffer, 512 bytes, NEXT (| WRITE for a read)
        sw    t0, 16(t1)
        sw    zero, 20(t1)
        li    t2, 512
        sw    t2, 24(t1)
        li    t2, 1 | (2 << 16)
        bnez  a0, writes
        ori   t2, t2, 2
writes:
        sw    t2, 28(t1)
        la    t0, status                  # 2: status, 1 byte, WRITE
        li    t2, 0xff
        sb    t2, 0(t0)
        sw    t0, 32(t1)
        sw    zero, 36(t1)
        li    t2, 1
        sw    t2, 40(t1)
        li    t2, 2
        sw    t2, 44(t1)
        la    t0, avail                   # avail.ring[idx % NUM] = 0, then idx + 1
        lhu   t2, 2(t0)
        andi  t3, t2, NUM - 1
        slli  t3, t3, 1
        add   t3, t3, t0
        sh    zero, 4(t3)
        fence
        addi  t2, t2, 1
        sh    t2, 2(t0)
        fence
        la    t0, done
        sw    zero, 0(t0)
        csrsi mstatus, 8                  # MIE on while the request runs
        sw    zero, 0x050(s1)             # QueueNotify
wait:
        lw    t2, 0(t0)
        beqz  t2, wait
        csrci mstatus, 8
        la    t0, status
        lbu   a0, 0(t0)
        ret

trap:
        csrr  t0, mcause
        li    t1, M_EXTERNAL
        bne   t0, t1, unexpected
        li    t1, PLIC_CONTEXT0
        lw    t2, 4(t1)                   # claim: source 1
        lw    t3, 0x060(s1)               # InterruptStatus
        andi  t3, t3, 3
        sw    t3, 0x064(s1)               # InterruptACK
        la    t3, done
        li    t4, 1
        sw    t4, 0(t3)
        sw    t2, 4(t1)                   # complete
        mret

# Print the zero-terminated string at a0.
puts:
        lbu   t0, 0(a0)
        beqz  t0, 1f
        sb    t0, 0(s0)
        addi  a0, a0, 1
        j     puts
1:      ret

# Print `buffer` up to its first newline (or "-" if it starts with a zero byte), then a newline.
putline:
        la    t1, buffer
        lbu   t0, 0(t1)
        bnez  t0, 2f
        li    t0, '-'
        sb    t0, 0(s0)
        j     newline
2:      lbu   t0, 0(t1)
        li    t2, '\n'
        beq   t0, t2, newline
        beqz  t0, newline
        sb    t0, 0(s0)
        addi  t1, t1, 1
        j     2b
newline:
        li    t0, '\n'
        sb    t0, 0(s0)
        ret

# Print a0 in hex, without leading zeros.
puthex:
        li    t1, 28
        li    t3, 0                       # a digit printed yet
3:      srl   t0, a0, t1
        andi  t0, t0, 15
        bnez  t0, 4f
        bnez  t3, 4f
        bnez  t1, 6f                      # a leading zero (not the last digit): skipped
4:      li    t3, 1
        li    t2, 10
        blt   t0, t2, 5f
        addi  t0, t0, 'a' - 10 - '0'
5:      addi  t0, t0, '0'
        sb    t0, 0(s0)
6:      addi  t1, t1, -4
        bgez  t1, 3b
        ret

not_blk:
        li    a0, 3
        j     fail
refused:
        li    a0, 4
        j     fail
unexpected:
        li    a0, 5
fail:
        li    t0, FINISHER
        slli  a0, a0, 16
        li    t1, 0x3333
        or    t1, t1, a0
        sw    t1, 0(t0)
        j     fail

s_capacity: .asciz "capacity "
s_zero:     .asciz "0: "
s_one:      .asciz "1: "
s_past:     .asciz "past the end: "
message:    .asciz "written by the guest\n"

        .align 4
done:   .word 0
status: .word 0
header: .zero 16
        .align 12
desc:   .zero 16 * NUM
avail:  .zero 6 + 2 * NUM
        .align 12
used:   .zero 6 + 8 * NUM
        .align 4
buffer: .zero 512
