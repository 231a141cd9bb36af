; =====================================================================================
;  minios — a small preemptive kernel for the pgm machine (Popek–Goldberg teaching ISA)
; =====================================================================================
;
;  This file is the kernel only.  A guest is this kernel followed by a *task file*
;  (minios_tasks.s, sieve.s, fib.s, ...) that supplies:
;
;      QUANTUM       .equ: the time slice, in executed instructions
;      NTASKS        .equ: how many tasks the table lists (1 .. MAX_TASKS)
;      guest_name    an .asciz string printed in the boot banner
;      task_table    NTASKS entries of 4 words: name (kernel address of an .asciz),
;                    region base, region bound, CPU limit in timer ticks (0 = none)
;      the tasks     each in its own section, placed at  base + USER_ENTRY
;
;  What the kernel shows (each mechanism leaves a visible trace in the console output):
;
;  * Boot in supervisor mode: fill the six new-PSW vectors, give every task its own
;    relocation region R = (base, bound), install a trampoline in it.
;  * Enter user mode with `jrstu` (PDP-10 JRST 1) through the trampoline.
;  * Round-robin scheduling with timer preemption: every dispatch arms the interval
;    timer (`settimer`) with QUANTUM instructions; the timer interrupt takes the CPU back.
;  * System calls through `svc n` (see SYSCALLS below), served with interrupts ON, so
;    the timer can fire inside the kernel too ("kernel ticks", counted separately).
;  * Critical sections bracketed by `pushf` ... `di` ... `popf` (kputc, sys_getticks):
;    pushf/popf save and restore IE, so the code is right whether it was entered with
;    interrupts on (system calls) or off (trap handlers, boot).  If popf failed to
;    restore IE, the long console writes of the system calls would run uninterruptible
;    and the "kernel mode" tick count in the final summary would change.
;  * A task that executes a privileged instruction (halt, out, setr, ...) is killed and
;    reported; so is one that leaves its region (bounds trap) or exceeds its CPU limit.
;  * Sensitive instructions executed by a task in user mode: on pgm-x86 they simply run
;    (jrstu = plain jump, popf leaves IE alone, pushf/srr/rdtime reveal the real values);
;    on pgm-hybrid pushf/srr/rdtime trap, on pgm-virt all five trap.  The kernel
;    *emulates* a trapped sensitive instruction with exactly its user-mode meaning, and
;    charges it exactly one instruction of the task's time slice.  Result: the console
;    output is identical on all three variants - which is what a virtual machine
;    monitor must reproduce, too.
;
;  Conventions
;  * r12 and r13 belong to the kernel (like k0/k1 on MIPS): the first instructions of
;    a trap handler must overwrite them to get a foothold - pgm has no absolute-address
;    store - so their user-mode values do not survive a trap.  Tasks must not use them.
;    Kernel code that runs with interrupts on must not keep values in them either.
;  * Kernel calls: arguments in r1..r4, result in r1; r0..r6 are clobbered, r7..r11, r14
;    are preserved; r7 holds the current task's TCB in most kernel paths.
;  * The kernel runs with the R it booted with: base 0, bound = all of storage, so its
;    virtual addresses are physical addresses and it reaches low core directly.
;
;  Storage map
;      0x0000  old PSW (status, pc, R.base, R.bound), stored by every trap
;      0x0010  low-core scratch: the interval timer sampled at trap entry
;      0x0020  new PSWs, 16 bytes per cause (causes 1..6 used)
;      0x0100  trampoline (also copied to 0x0100 of every task region)
;      0x010c  kernel code, then kernel data, TCBs and the kernel stack
;      tasks   wherever task_table puts them
;
;  SYSCALLS (svc n; arguments and results in the task's registers)
;      svc 0  exit      r1 = status
;      svc 1  putc      r1 = character
;      svc 2  puts      r1 = address of a NUL-terminated string (in the task's region)
;      svc 3  yield     give up the rest of the time slice
;      svc 4  getid     -> r1 = task id (1, 2, ...)
;      svc 5  putdec    r1 = unsigned number, printed in decimal
;      svc 6  puthex    r1 = number, printed as 0x%08x
;      svc 7  getticks  -> r1 = timer interrupts charged to this task, r2 = in total
;  Console output of a task is line-buffered by the kernel (a line appears when its
;  newline is written), so preemption interleaves whole lines, never half lines.

; ---- the machine (isa_specs/pgm.toml, [system]) --------------------------------------
        .equ OLD_STATUS, 0x00
        .equ OLD_PC, 0x04
        .equ OLD_BASE, 0x08
        .equ OLD_BOUND, 0x0c
        .equ LC_TIMER, 0x10             ; low-core scratch word (not touched by hardware)
        .equ NEW_PSW, 0x20
        .equ PSW_SIZE, 16
        .equ PSW_M, 1                   ; status bit 0: 1 = user mode
        .equ PSW_IE, 2                  ; status bit 1: interrupts enabled
        .equ PSW_FLAGS, 0xf0            ; status bits 4..7: V C Z N
        .equ CAUSE_PRIVILEGED, 1
        .equ CAUSE_ILLEGAL, 2
        .equ CAUSE_BOUNDS, 3
        .equ CAUSE_MISALIGNED, 4
        .equ CAUSE_SVC, 5
        .equ CAUSE_TIMER, 6
        .equ NCAUSES, 6
        .equ CONSOLE, 0                 ; console output port

; ---- opcodes (high byte of an instruction's first parcel) the kernel must recognise --
        .equ OP_HALT, 0x02
        .equ OP_RTI, 0x03
        .equ OP_EI, 0x04
        .equ OP_DI, 0x05
        .equ OP_PUSHF, 0x06
        .equ OP_POPF, 0x07
        .equ OP_SRR, 0x28
        .equ OP_RDTIME, 0x29
        .equ OP_SETR, 0x2a
        .equ OP_SETTIMER, 0x2b
        .equ OP_IN, 0x2c
        .equ OP_OUT, 0x2d
        .equ OP_JRSTU, 0xc3             ; 6-byte: target in bytes 2..5

; ---- task control block (one per task) -----------------------------------------------
        .equ T_REGS, 0                  ; r0..r15, 4 bytes each
        .equ T_SP, 60
        .equ T_STATUS, 64               ; the task's PSW: status, pc, R.base, R.bound
        .equ T_PC, 68
        .equ T_BASE, 72
        .equ T_BOUND, 76
        .equ T_STATE, 80
        .equ T_ID, 84
        .equ T_NAME, 88
        .equ T_TICKS, 92                ; timer interrupts taken while it was current
        .equ T_LIMIT, 96                ; CPU limit in ticks (0 = none)
        .equ T_SYSCALLS, 100
        .equ T_EXIT, 104                ; exit status
        .equ T_LINELEN, 108             ; bytes in the line buffer
        .equ T_LINE, 112                ; line buffer
        .equ LINE_MAX, 76
        .equ TCB_SIZE, 188
        .equ MAX_TASKS, 8

        .equ ST_FREE, 0
        .equ ST_NEW, 1                  ; never ran: first dispatch goes through jrstu
        .equ ST_READY, 2                ; runnable, resumed with rti
        .equ ST_EXITED, 3
        .equ ST_KILLED, 4

        .equ TRAMPOLINE, 0x100
        .equ KSTACK_SIZE, 1024

; =====================================================================================
;  The trampoline.  `setr` changes the relocation register for the kernel itself, at
;  once: the very next instruction is fetched through the task's R, i.e. from the
;  task's region.  So the instructions after `setr` must sit at the same virtual
;  address in the kernel and in every task - the kernel copies these 12 bytes to offset
;  0x100 of each region at boot (the same trick as xv6's trampoline page).  Only the
;  `setr` runs from the kernel's copy; `clr`, `clr`, `jrstu` run from the task's copy,
;  still in supervisor mode, and jrstu drops to user mode at USER_ENTRY.
;  (So the jrstu that really enters user mode is code the kernel wrote at run time: a
;  monitor that only scanned the image before starting would never have seen it.)
; =====================================================================================
        .org TRAMPOLINE
trampoline:
        setr    r10, r11                ; R = (task base, task bound); next fetch: task copy
        clr     r10                     ; scrub the kernel's values ...
        clr     r11
        jrstu   USER_ENTRY              ; ... and enter user mode at the task's entry
trampoline_end:
        .equ USER_ENTRY, trampoline_end ; every task starts at this virtual address

; =====================================================================================
;  Boot (supervisor mode, interrupts off, R = all of storage)
; =====================================================================================
        .entry boot
boot:
        movl    sp, kstack_top
        ; --- the new-PSW vectors: every cause enters trap_entry in supervisor mode with
        ;     interrupts off and the kernel's own R, which srr tells us (the boot R).
        srr     r1, r2                  ; r1 = R.base, r2 = R.bound of the kernel
        movl    r3, kernel_bound
        st      r2, 0(r3)
        movl    r3, NEW_PSW + PSW_SIZE  ; cause 1's new PSW
        movi    r4, NCAUSES
        movl    r5, trap_entry
        clr     r6                      ; status: supervisor, IE = 0, flags clear
boot_vec:
        st      r6, 0(r3)               ; status
        st      r5, 4(r3)               ; pc
        st      r1, 8(r3)               ; R.base
        st      r2, 12(r3)              ; R.bound
        addi    r3, r3, PSW_SIZE
        dec     r4
        bne     boot_vec

        movl    r1, msg_boot
        call    kputs
        movl    r1, guest_name
        call    kputs
        movl    r1, msg_boot2
        call    kputs
        movi    r1, NTASKS
        call    kputdec
        movl    r1, msg_boot3
        call    kputs
        movl    r1, QUANTUM
        call    kputdec
        movl    r1, msg_boot4
        call    kputs

        ; --- one TCB per task-table entry
        movl    r8, task_table
        movl    r7, tcbs
        movi    r9, 1                   ; task id
boot_task:
        movi    r1, TCB_SIZE            ; zero the TCB
        mov     r2, r7
boot_zero:
        clr     r3
        st      r3, 0(r2)
        addi    r2, r2, 4
        addi    r1, r1, -4
        bne     boot_zero
        st      r9, T_ID(r7)
        ld      r1, 0(r8)
        st      r1, T_NAME(r7)
        ld      r1, 4(r8)
        st      r1, T_BASE(r7)
        ld      r1, 8(r8)
        st      r1, T_BOUND(r7)
        ld      r1, 12(r8)
        st      r1, T_LIMIT(r7)
        movi    r1, PSW_M | PSW_IE      ; the task's PSW: user mode, interrupts on
        st      r1, T_STATUS(r7)
        movi    r1, ST_NEW
        st      r1, T_STATE(r7)
        ; --- install the trampoline at offset 0x100 of the region (3 words)
        ld      r1, T_BASE(r7)
        movl    r2, trampoline
        ld      r3, 0(r2)
        st      r3, TRAMPOLINE(r1)
        ld      r3, 4(r2)
        st      r3, TRAMPOLINE+4(r1)
        ld      r3, 8(r2)
        st      r3, TRAMPOLINE+8(r1)
        ; --- "minios: task 1 alpha: R = (0x00004000, 0x00001000)"
        movl    r1, msg_task
        call    kputs
        call    kput_task
        movl    r1, msg_region
        call    kputs
        ld      r1, T_BASE(r7)
        call    kputhex
        movl    r1, msg_comma
        call    kputs
        ld      r1, T_BOUND(r7)
        call    kputhex
        movl    r1, msg_rparen
        call    kputs
        ld      r1, T_LIMIT(r7)
        cmpi    r1, 0
        beq     boot_nolimit
        movl    r1, msg_limit
        call    kputs
        ld      r1, T_LIMIT(r7)
        call    kputdec
        movl    r1, msg_ticks
        call    kputs
boot_nolimit:
        movi    r1, '\n'
        call    kputc
        addi    r8, r8, 16
        addi    r7, r7, TCB_SIZE
        inc     r9
        cmpi    r9, NTASKS + 1
        blt     boot_task

        ; round robin starts after the last task, i.e. with task 1
        movl    r1, current
        movl    r2, tcbs + (NTASKS - 1) * TCB_SIZE
        st      r2, 0(r1)
        br      schedule

; =====================================================================================
;  Trap entry: every cause comes here (the new PSWs all point at it), with the
;  interrupted PSW in low core at 0x00 and interrupts off.
; =====================================================================================
trap_entry:
        ; The machine has swapped PSWs: mode, IE, pc and R of the interrupted program are
        ; at 0x00..0x0f; its registers are untouched and still live.  pgm can only
        ; address storage through a register, so r12/r13 (the kernel's) give us a
        ; foothold.  The timer is read first, before any kernel instruction has counted
        ; against it: the emulation of a trapped sensitive instruction needs its value.
        rdtime  r13                     ; the task's remaining time slice
        clr     r12                     ; r12 = 0: base register for low core
        st      r13, LC_TIMER(r12)
        ld      r13, OLD_STATUS(r12)
        andi    r13, r13, PSW_M
        beq     trap_from_kernel        ; the trap interrupted supervisor code
        ; --- from user mode: save the task's registers in its TCB
        movl    r13, current
        ld      r13, 0(r13)
        st      r0, 0(r13)
        st      r1, 4(r13)
        st      r2, 8(r13)
        st      r3, 12(r13)
        st      r4, 16(r13)
        st      r5, 20(r13)
        st      r6, 24(r13)
        st      r7, 28(r13)
        st      r8, 32(r13)
        st      r9, 36(r13)
        st      r10, 40(r13)
        st      r11, 44(r13)
        st      r12, 48(r13)            ; (r12/r13 are the kernel's: already clobbered)
        st      r12, 52(r13)
        st      r14, 56(r13)
        st      r15, 60(r13)
        ; --- and its PSW: from here on a new trap may overwrite low core
        ld      r0, OLD_STATUS(r12)
        st      r0, T_STATUS(r13)
        ld      r0, OLD_PC(r12)
        st      r0, T_PC(r13)
        ld      r0, OLD_BASE(r12)
        st      r0, T_BASE(r13)
        ld      r0, OLD_BOUND(r12)
        st      r0, T_BOUND(r13)
        mov     r7, r13                 ; r7 = current TCB from now on
        movl    sp, kstack_top          ; the kernel's own stack
        ld      r1, T_STATUS(r7)
        shri    r1, r1, 8
        andi    r1, r1, 0xff            ; the cause
        cmpi    r1, CAUSE_SVC
        beq     do_svc
        cmpi    r1, CAUSE_TIMER
        beq     do_tick
        cmpi    r1, CAUSE_PRIVILEGED
        beq     do_privileged
        movl    r2, msg_bounds
        cmpi    r1, CAUSE_BOUNDS
        beq     do_kill
        movl    r2, msg_misaligned
        cmpi    r1, CAUSE_MISALIGNED
        beq     do_kill
        movl    r2, msg_illegal         ; illegal/undecodable instruction (or vmtrap)
do_kill:
        mov     r1, r2
        br      kill_task

; ---- a trap taken in supervisor mode ------------------------------------------------
trap_from_kernel:
        ; The only expected case: the timer fired while a system call ran with
        ; interrupts on.  The kernel code we interrupted owns every register except
        ; r12/r13, so the handler works with those two and absolute addresses only, and
        ; does not switch tasks: it notes that the time slice is over (need_resched) and
        ; returns; the system call switches tasks when it is done.
        ld      r13, OLD_STATUS(r12)
        shri    r13, r13, 8
        andi    r13, r13, 0xff
        cmpi    r13, CAUSE_TIMER
        bne     kernel_panic
        movl    r13, kernel_ticks
        ld      r12, 0(r13)
        inc     r12
        st      r12, 0(r13)
        movl    r13, total_ticks
        ld      r12, 0(r13)
        inc     r12
        st      r12, 0(r13)
        movl    r13, current            ; charge the tick to the task being served
        ld      r13, 0(r13)
        ld      r12, T_TICKS(r13)
        inc     r12
        st      r12, T_TICKS(r13)
        movl    r13, need_resched
        movi    r12, 1
        st      r12, 0(r13)
        rti                             ; back into the system call, flags and IE restored

kernel_panic:
        movl    sp, kstack_top
        movl    r1, msg_panic
        call    kputs
        clr     r1
        ld      r1, OLD_STATUS(r1)
        shri    r1, r1, 8
        andi    r1, r1, 0xff
        call    kputdec
        movl    r1, msg_at_pc
        call    kputs
        clr     r1
        ld      r1, OLD_PC(r1)
        call    kputhex
        movi    r1, '\n'
        call    kputc
        halt

; =====================================================================================
;  Timer interrupt from user mode: the time slice is over
; =====================================================================================
do_tick:
        movl    r1, user_ticks
        ld      r2, 0(r1)
        inc     r2
        st      r2, 0(r1)
quantum_over:                           ; (also reached from an emulated instruction)
        movl    r1, total_ticks
        ld      r2, 0(r1)
        inc     r2
        st      r2, 0(r1)
        ld      r2, T_TICKS(r7)
        inc     r2
        st      r2, T_TICKS(r7)
        ld      r1, T_LIMIT(r7)         ; resource control: a CPU limit in ticks
        cmpi    r1, 0
        beq     schedule
        cmp     r2, r1
        bltu    schedule
        movl    r1, msg_cpu_limit
        br      kill_task

; =====================================================================================
;  The scheduler: round robin over the task table (interrupts off)
; =====================================================================================
schedule:
        movl    sp, kstack_top          ; whatever the kernel was doing is finished
        movl    r1, current
        ld      r7, 0(r1)
        mov     r8, r7
        movi    r9, NTASKS
sched_next:
        addi    r8, r8, TCB_SIZE
        movl    r2, tcbs + NTASKS * TCB_SIZE
        cmp     r8, r2
        bltu    sched_check
        movl    r8, tcbs
sched_check:
        ld      r3, T_STATE(r8)
        cmpi    r3, ST_NEW
        beq     sched_found
        cmpi    r3, ST_READY
        beq     sched_found
        dec     r9
        bne     sched_next
        br      shutdown                ; nobody left to run
sched_found:
        movl    r1, dispatches
        ld      r2, 0(r1)
        inc     r2
        st      r2, 0(r1)
        cmp     r8, r7
        beq     sched_same
        movl    r1, switches
        ld      r2, 0(r1)
        inc     r2
        st      r2, 0(r1)
sched_same:
        movl    r1, current
        st      r8, 0(r1)
        mov     r7, r8
        movl    r1, need_resched
        clr     r2
        st      r2, 0(r1)
        movl    r1, QUANTUM             ; a fresh time slice
        settimer r1
        ld      r3, T_STATE(r7)
        cmpi    r3, ST_NEW
        beq     launch
        br      resume

; ---- first dispatch of a task: through the trampoline and jrstu ----------------------
launch:
        movi    r1, ST_READY
        st      r1, T_STATE(r7)
        ld      r10, T_BASE(r7)         ; for the trampoline's setr
        ld      r11, T_BOUND(r7)
        clr     r0
        clr     r1
        clr     r2
        clr     r3
        clr     r4
        clr     r5
        clr     r6
        clr     r7
        clr     r8
        clr     r9
        clr     r14
        ei                              ; jrstu keeps IE: the task must run interruptible
        clr     r12                     ; (after ei: a pending tick may use r12/r13)
        clr     r13
        mov     sp, r11                 ; the task's stack starts at the top of its region
        jmp     trampoline

; ---- resume a task that ran before: load its PSW into low core and rti ---------------
resume_rearm:
        ; r1 = the time slice the task must find when it continues.  The RESUME_COST
        ; instructions from here to the rti (inclusive) count against the timer too.
        addi    r1, r1, RESUME_COST
        settimer r1
        br      resume
resume:
        clr     r0
        ld      r1, T_STATUS(r7)
        st      r1, OLD_STATUS(r0)
        ld      r1, T_PC(r7)
        st      r1, OLD_PC(r0)
        ld      r1, T_BASE(r7)
        st      r1, OLD_BASE(r0)
        ld      r1, T_BOUND(r7)
        st      r1, OLD_BOUND(r0)
        mov     r13, r7
        ld      r0, 0(r13)
        ld      r1, 4(r13)
        ld      r2, 8(r13)
        ld      r3, 12(r13)
        ld      r4, 16(r13)
        ld      r5, 20(r13)
        ld      r6, 24(r13)
        ld      r7, 28(r13)
        ld      r8, 32(r13)
        ld      r9, 36(r13)
        ld      r10, 40(r13)
        ld      r11, 44(r13)
        ld      r12, 48(r13)
        ld      r14, 56(r13)
        ld      r15, 60(r13)
        clr     r13
        rti                             ; the second half of the PSW swap: M, IE, flags,
                                        ; pc and R of the task come back from low core
        ; br + clr + 8 + mov + 15 loads + clr + rti
        .equ RESUME_COST, 1 + 1 + 8 + 1 + 15 + 1 + 1

; =====================================================================================
;  Privileged-instruction trap from user mode: emulate a sensitive instruction the
;  variant traps, kill the task for anything else.  Interrupts stay off throughout.
; =====================================================================================
do_privileged:
        ld      r1, T_PC(r7)            ; the pc of a fault is the faulting instruction
        movi    r2, 2
        call    user_ptr                ; r1 = where its first parcel is in storage
        ldb     r2, 0(r1)               ; operand byte (ra << 4 | rb)
        ldb     r3, 1(r1)               ; opcode byte
        cmpi    r3, OP_PUSHF
        beq     emu_pushf
        cmpi    r3, OP_POPF
        beq     emu_popf
        cmpi    r3, OP_SRR
        beq     emu_srr
        cmpi    r3, OP_RDTIME
        beq     emu_rdtime
        cmpi    r3, OP_JRSTU
        beq     emu_jrstu
        ; a truly privileged instruction: name it and kill the task
        movl    r4, priv_names
priv_find:
        ld      r5, 0(r4)
        cmpi    r5, 0
        beq     priv_unknown
        cmp     r5, r3
        beq     priv_found
        addi    r4, r4, 8
        br      priv_find
priv_found:
        ld      r8, 4(r4)
        br      priv_kill
priv_unknown:
        movl    r8, msg_unknown_insn
priv_kill:
        call    tfinish
        movl    r1, msg_task
        call    kputs
        call    kput_task
        movl    r1, msg_killed_priv
        call    kputs
        mov     r1, r8
        call    kputs
        movl    r1, msg_quote
        call    kputs
        br      kill_report_pc

; The emulations.  Each does what the instruction does in user mode on pgm-x86, to the
; task's saved registers, flags and stack, then accounts one instruction of time.

emu_pushf:
        ; push NZCV, IE and M: the task's own status (M = 1, IE = 1 as it ran)
        ld      r8, T_STATUS(r7)
        andi    r8, r8, PSW_FLAGS | PSW_IE | PSW_M
        ld      r1, T_SP(r7)
        addi    r1, r1, -4
        st      r1, T_SP(r7)
        call    user_word
        st      r8, 0(r1)
        br      emu_next2

emu_popf:
        ; pop NZCV (and IE, which user mode may not change: left alone)
        ld      r1, T_SP(r7)
        call    user_word
        ld      r8, 0(r1)
        ld      r1, T_SP(r7)
        addi    r1, r1, 4
        st      r1, T_SP(r7)
        andi    r8, r8, PSW_FLAGS
        ld      r1, T_STATUS(r7)
        andi    r1, r1, ~PSW_FLAGS
        or      r1, r8
        st      r1, T_STATUS(r7)
        br      emu_next2

emu_srr:
        ; ra = R.base, rb = R.bound: the task's R, which is its real R on this machine
        shri    r3, r2, 4
        andi    r3, r3, 15
        shli    r3, r3, 2
        add     r3, r7
        ld      r1, T_BASE(r7)
        st      r1, T_REGS(r3)
        andi    r3, r2, 15
        shli    r3, r3, 2
        add     r3, r7
        ld      r1, T_BOUND(r7)
        st      r1, T_REGS(r3)
        br      emu_next2

emu_rdtime:
        ; ra = the interval timer as the task would have read it: trap_entry sampled it
        ; before any kernel instruction ran, so that sample is exactly the value.
        shri    r3, r2, 4
        andi    r3, r3, 15
        shli    r3, r3, 2
        add     r3, r7
        movl    r1, LC_TIMER
        ld      r1, 0(r1)
        st      r1, T_REGS(r3)
        br      emu_next2

emu_jrstu:
        ; in user mode jrstu is a plain jump: pc = the 32-bit target in bytes 2..5
        ld      r1, T_PC(r7)
        movi    r2, 6
        call    user_ptr
        ldb     r2, 5(r1)
        ldb     r3, 4(r1)
        shli    r2, r2, 8
        or      r2, r3
        ldb     r3, 3(r1)
        shli    r2, r2, 8
        or      r2, r3
        ldb     r3, 2(r1)
        shli    r2, r2, 8
        or      r2, r3
        st      r2, T_PC(r7)
        br      emu_time

emu_next2:
        ld      r1, T_PC(r7)            ; step over the 2-byte instruction
        addi    r1, r1, 2
        st      r1, T_PC(r7)
emu_time:
        ; Time: natively the instruction would have taken one tick of the time slice.
        ; The sample S taken at trap entry is the slice left before it, so S - 1 is left
        ; after it; if that is 0 the timer would have expired right here.
        movl    r1, LC_TIMER
        ld      r1, 0(r1)
        addi    r1, r1, -1
        ble     emu_expired
        br      resume_rearm
emu_expired:
        movl    r1, user_ticks          ; the interrupt the task would have taken now
        ld      r2, 0(r1)
        inc     r2
        st      r2, 0(r1)
        br      quantum_over

; =====================================================================================
;  System calls (entered with interrupts off; served with interrupts on)
; =====================================================================================
do_svc:
        ld      r1, T_SYSCALLS(r7)
        inc     r1
        st      r1, T_SYSCALLS(r7)
        movl    r1, syscalls
        ld      r2, 0(r1)
        inc     r2
        st      r2, 0(r1)
        ei                              ; the PSW is saved in the TCB: traps may nest now
        ld      r1, T_STATUS(r7)
        shri    r1, r1, 16
        andi    r1, r1, 0xff            ; the svc number
        cmpi    r1, NSYSCALLS
        bgeu    sys_bad
        shli    r1, r1, 2
        movl    r2, syscall_table
        add     r2, r1
        ld      r2, 0(r2)
        jmpr    r2

syscall_table:
        .word   sys_exit, sys_putc, sys_puts, sys_yield
        .word   sys_getid, sys_putdec, sys_puthex, sys_getticks
        .equ NSYSCALLS, 8
; The system-call numbers (the kernel's ABI: indexes into the table above), for the
; task sources that are assembled after this file.
        .equ SYS_EXIT, 0
        .equ SYS_PUTC, 1
        .equ SYS_PUTS, 2
        .equ SYS_YIELD, 3
        .equ SYS_GETID, 4
        .equ SYS_PUTDEC, 5
        .equ SYS_PUTHEX, 6
        .equ SYS_GETTICKS, 7

syscall_return:
        ; Leaving the kernel: interrupts off until rti loads the task's PSW.  If the
        ; timer fired while we served the call, the slice is over: switch tasks.
        di
        movl    r1, need_resched
        ld      r2, 0(r1)
        cmpi    r2, 0
        beq     resume
        br      schedule

sys_bad:
        di
        movl    r1, msg_bad_syscall
        br      kill_task

sys_exit:
        ld      r1, T_R1(r7)
        st      r1, T_EXIT(r7)
        call    tfinish
        movl    r1, msg_task
        call    kputs
        call    kput_task
        movl    r1, msg_exited
        call    kputs
        ld      r1, T_EXIT(r7)
        call    kputdec
        movi    r1, '\n'
        call    kputc
        di
        movi    r1, ST_EXITED
        st      r1, T_STATE(r7)
        br      schedule

sys_putc:
        ld      r1, T_R1(r7)
        call    tputc
        br      syscall_return

sys_puts:
        ld      r8, T_R1(r7)            ; the string's address in the task's region
sys_puts_loop:
        mov     r1, r8
        movi    r2, 1
        call    user_ptr
        ldb     r1, 0(r1)
        cmpi    r1, 0
        beq     syscall_return
        call    tputc
        inc     r8
        br      sys_puts_loop

sys_yield:
        movl    r1, need_resched        ; one store: no critical section needed
        movi    r2, 1
        st      r2, 0(r1)
        br      syscall_return

sys_getid:
        ld      r1, T_ID(r7)
        st      r1, T_R1(r7)
        br      syscall_return

sys_putdec:
        ld      r1, T_R1(r7)
        movl    r2, tputc
        call    putdec
        br      syscall_return

sys_puthex:
        ld      r1, T_R1(r7)
        movl    r2, tputc
        call    puthex
        br      syscall_return

sys_getticks:
        ; Two counters the timer handler updates: read them as one consistent pair.
        pushf                           ; save IE (on, here) ...
        di                              ; ... and keep the timer handler out
        ld      r1, T_TICKS(r7)
        movl    r2, total_ticks
        ld      r2, 0(r2)
        popf                            ; IE back to what it was
        st      r1, T_R1(r7)
        st      r2, T_R2(r7)
        br      syscall_return
        .equ T_R1, 4
        .equ T_R2, 8

; =====================================================================================
;  Killing a task (interrupts off; r1 = reason, r7 = TCB)
; =====================================================================================
kill_task:
        mov     r8, r1
        call    tfinish
        movl    r1, msg_task
        call    kputs
        call    kput_task
        movl    r1, msg_killed
        call    kputs
        mov     r1, r8
        call    kputs
kill_report_pc:
        movl    r1, msg_at_pc
        call    kputs
        ld      r1, T_PC(r7)
        call    kputhex
        movi    r1, '\n'
        call    kputc
        di
        movi    r1, ST_KILLED
        st      r1, T_STATE(r7)
        br      schedule

; =====================================================================================
;  Shutdown: everybody has exited or was killed
; =====================================================================================
shutdown:
        movl    r7, tcbs
        clr     r8                      ; exited
        clr     r9                      ; killed
shut_count:
        ld      r1, T_STATE(r7)
        cmpi    r1, ST_EXITED
        bne     shut_notexit
        inc     r8
shut_notexit:
        cmpi    r1, ST_KILLED
        bne     shut_next
        inc     r9
shut_next:
        addi    r7, r7, TCB_SIZE
        movl    r1, tcbs + NTASKS * TCB_SIZE
        cmp     r7, r1
        bltu    shut_count
        movl    r1, msg_done
        call    kputs
        mov     r1, r8
        call    kputdec
        movl    r1, msg_done_exited
        call    kputs
        mov     r1, r9
        call    kputdec
        movl    r1, msg_done_killed
        call    kputs
        ; "minios: 57 timer interrupts (49 in user mode, 8 in kernel mode)"
        movl    r1, msg_kernel
        call    kputs
        movl    r1, total_ticks
        ld      r1, 0(r1)
        call    kputdec
        movl    r1, msg_sum_ticks
        call    kputs
        movl    r1, user_ticks
        ld      r1, 0(r1)
        call    kputdec
        movl    r1, msg_sum_user
        call    kputs
        movl    r1, kernel_ticks
        ld      r1, 0(r1)
        call    kputdec
        movl    r1, msg_sum_kernel
        call    kputs
        ; "minios: 120 dispatches, 98 context switches, 210 system calls"
        movl    r1, msg_kernel
        call    kputs
        movl    r1, dispatches
        ld      r1, 0(r1)
        call    kputdec
        movl    r1, msg_sum_dispatches
        call    kputs
        movl    r1, switches
        ld      r1, 0(r1)
        call    kputdec
        movl    r1, msg_sum_switches
        call    kputs
        movl    r1, syscalls
        ld      r1, 0(r1)
        call    kputdec
        movl    r1, msg_sum_syscalls
        call    kputs
        ; one line per task
        movl    r7, tcbs
shut_task:
        movl    r1, msg_task
        call    kputs
        call    kput_task
        movl    r1, msg_colon
        call    kputs
        ld      r1, T_STATE(r7)
        cmpi    r1, ST_EXITED
        bne     shut_killed
        movl    r1, msg_st_exited
        call    kputs
        ld      r1, T_EXIT(r7)
        call    kputdec
        movl    r1, msg_rparen
        call    kputs
        br      shut_stats
shut_killed:
        movl    r1, msg_st_killed
        call    kputs
shut_stats:
        movl    r1, msg_comma
        call    kputs
        ld      r1, T_TICKS(r7)
        call    kputdec
        movl    r1, msg_st_ticks
        call    kputs
        ld      r1, T_SYSCALLS(r7)
        call    kputdec
        movl    r1, msg_st_syscalls
        call    kputs
        addi    r7, r7, TCB_SIZE
        movl    r1, tcbs + NTASKS * TCB_SIZE
        cmp     r7, r1
        bltu    shut_task
        movl    r1, msg_halt
        call    kputs
        halt

; =====================================================================================
;  Kernel library
; =====================================================================================

; user_ptr: r1 = virtual address in the current task's region, r2 = length.
; Returns r1 = the storage address.  The kernel runs with R = all of storage, so it
; must do the task's relocation and bounds check itself: a bad address kills the task
; exactly as the hardware bounds trap would have.
user_ptr:
        ld      r3, T_BOUND(r7)
        cmp     r1, r3
        bgeu    user_ptr_bad            ; start beyond the bound
        sub     r3, r1                  ; room left in the region
        cmp     r2, r3
        bgtu    user_ptr_bad            ; runs over the bound
        ld      r3, T_BASE(r7)
        add     r1, r3
        ret
user_ptr_bad:
        di
        movl    r1, msg_bounds
        br      kill_task

; user_word: user_ptr for a word access (r1 = virtual address): like the hardware, it
; checks the alignment first (a misaligned word kills the task as the trap would)
user_word:
        andi    r2, r1, 3
        bne     user_word_bad
        movi    r2, 4
        br      user_ptr
user_word_bad:
        di
        movl    r1, msg_misaligned
        br      kill_task

; kputc: r1 = character to the console.
; Called with interrupts on (system calls) and off (traps, boot), so it saves IE and
; restores it instead of ending with `ei`: the pushf ... di ... popf bracket.  Inside
; it, the device and the byte count are updated without a timer interrupt in between.
kputc:
        pushf                           ; push flags + IE as they are now
        di                              ; critical section: no interrupt from here ...
        out     r1, CONSOLE
        movl    r2, console_bytes
        ld      r3, 0(r2)
        inc     r3
        st      r3, 0(r2)
        popf                            ; ... to here; IE is what it was before
        ret

; kputs: r1 = NUL-terminated string (kernel address)
kputs:
        push    r8
        mov     r8, r1
kputs_loop:
        ldb     r1, 0(r8)
        cmpi    r1, 0
        beq     kputs_done
        call    kputc
        inc     r8
        br      kputs_loop
kputs_done:
        pop     r8
        ret

kputdec:
        movl    r2, kputc
        br      putdec
kputhex:
        movl    r2, kputc
        br      puthex

; kput_task: "<id> <name>" of the task in r7
kput_task:
        ld      r1, T_ID(r7)
        call    kputdec
        movi    r1, ' '
        call    kputc
        ld      r1, T_NAME(r7)
        br      kputs

; putdec: r1 = unsigned number, printed in decimal through the routine in r2
putdec:
        push    r8
        push    r9
        mov     r8, r2
        mov     r9, sp                  ; digits go on the stack, least significant first
        movi    r3, 10
putdec_digit:
        mov     r4, r1
        remu    r4, r3
        addi    r4, r4, '0'
        push    r4
        divu    r1, r3
        bne     putdec_digit
putdec_out:
        pop     r1
        callr   r8
        cmp     sp, r9
        bne     putdec_out
        pop     r9
        pop     r8
        ret

; puthex: r1 = number, printed as 0x%08x through the routine in r2
puthex:
        push    r8
        push    r9
        push    r10
        mov     r8, r2
        mov     r9, r1
        movi    r10, 8
        movi    r1, '0'
        callr   r8
        movi    r1, 'x'
        callr   r8
puthex_digit:
        shri    r1, r9, 28
        cmpi    r1, 10
        blt     puthex_num
        addi    r1, r1, 'a' - 10
        br      puthex_put
puthex_num:
        addi    r1, r1, '0'
puthex_put:
        callr   r8
        shli    r9, r9, 4
        dec     r10
        bne     puthex_digit
        pop     r10
        pop     r9
        pop     r8
        ret

; tputc: r1 = character from the current task (r7): into its line buffer, which goes
; to the console when the line is complete (or the buffer is full)
tputc:
        ld      r2, T_LINELEN(r7)
        addi    r3, r7, T_LINE
        add     r3, r2
        stb     r1, 0(r3)
        inc     r2
        st      r2, T_LINELEN(r7)
        cmpi    r1, '\n'
        beq     tflush
        cmpi    r2, LINE_MAX
        bge     tflush
        ret
tflush:
        push    r8
        push    r9
        addi    r8, r7, T_LINE
        ld      r9, T_LINELEN(r7)
tflush_loop:
        cmpi    r9, 0
        beq     tflush_done
        ldb     r1, 0(r8)
        call    kputc
        inc     r8
        dec     r9
        br      tflush_loop
tflush_done:
        clr     r1
        st      r1, T_LINELEN(r7)
        pop     r9
        pop     r8
        ret

; tfinish: end the task's unfinished line, if any (before the kernel reports on it)
tfinish:
        ld      r1, T_LINELEN(r7)
        cmpi    r1, 0
        beq     tfinish_done
        movi    r1, '\n'
        br      tputc
tfinish_done:
        ret

; =====================================================================================
;  Kernel data
; =====================================================================================
        .align 4
priv_names:                             ; opcode, name: for the kill report
        .word   OP_HALT, name_halt, OP_RTI, name_rti, OP_EI, name_ei, OP_DI, name_di
        .word   OP_SETR, name_setr, OP_SETTIMER, name_settimer, OP_IN, name_in
        .word   OP_OUT, name_out, 0, 0
name_halt:      .asciz "halt"
name_rti:       .asciz "rti"
name_ei:        .asciz "ei"
name_di:        .asciz "di"
name_setr:      .asciz "setr"
name_settimer:  .asciz "settimer"
name_in:        .asciz "in"
name_out:       .asciz "out"

msg_boot:       .asciz "minios: booting "
msg_boot2:      .asciz ": "
msg_boot3:      .asciz " tasks, time slice "
msg_boot4:      .asciz " instructions\n"
msg_kernel:     .asciz "minios: "
msg_task:       .asciz "minios: task "
msg_region:     .asciz ": R = ("
msg_comma:      .asciz ", "
msg_rparen:     .asciz ")"
msg_colon:      .asciz ": "
msg_quote:      .asciz "'"
msg_limit:      .asciz ", CPU limit "
msg_ticks:      .asciz " ticks"
msg_exited:     .asciz " exited with status "
msg_killed:     .asciz " killed: "
msg_killed_priv: .asciz " killed: privileged instruction '"
msg_unknown_insn: .asciz "?"
msg_at_pc:      .asciz " at pc "
msg_bounds:     .asciz "bounds violation"
msg_misaligned: .asciz "misaligned access"
msg_illegal:    .asciz "illegal instruction"
msg_bad_syscall: .asciz "bad system call"
msg_cpu_limit:  .asciz "CPU limit exceeded"
msg_panic:      .asciz "minios: PANIC: trap cause "
msg_done:       .asciz "minios: all tasks done: "
msg_done_exited: .asciz " exited, "
msg_done_killed: .asciz " killed\n"
msg_sum_ticks:  .asciz " timer interrupts ("
msg_sum_user:   .asciz " in user mode, "
msg_sum_kernel: .asciz " in kernel mode)\n"
msg_sum_dispatches: .asciz " dispatches, "
msg_sum_switches: .asciz " context switches, "
msg_sum_syscalls: .asciz " system calls\n"
msg_st_exited:  .asciz "exited ("
msg_st_killed:  .asciz "killed"
msg_st_ticks:   .asciz " ticks, "
msg_st_syscalls: .asciz " system calls\n"
msg_halt:       .asciz "minios: halt\n"

        .align 4
current:        .word 0                 ; TCB of the running (or last run) task
need_resched:   .word 0                 ; set by a kernel-mode tick or yield
kernel_bound:   .word 0
total_ticks:    .word 0
user_ticks:     .word 0
kernel_ticks:   .word 0
dispatches:     .word 0
switches:       .word 0
syscalls:       .word 0
console_bytes:  .word 0
tcbs:           .space TCB_SIZE * MAX_TASKS
kstack:         .space KSTACK_SIZE
kstack_top:

; =====================================================================================
;  (the task file follows)
; =====================================================================================
