; skeleton.s — a pgm guest to start from: a new PSW for every trap cause, a handler for
; each, a kernel stack and klib's console routines.  Copy it and fill in the TODOs
; (docs/writing-guests.md, 'A vector and handler template').
;   python -m hybridvmm asm examples/skeleton.s -o skeleton.img
;   python -m hybridvmm run skeleton.img
.isa pgm

        .include "klib.s"               ; PSW layout, kvectors, kputs ..., unexpected

        .text
        .entry boot
boot:                                   ; supervisor mode, IE = 0, R = all of storage
        movl    sp, kstack_top
        srr     r2, r3                  ; the handlers run under the R we booted with
        movl    r1, handlers
        call    kvectors                ; new PSW of cause c: supervisor, IE = 0, handlers[c - 1]
        movl    r1, s_hello             ; TODO: the kernel
        call    kputs
        svc     7                       ; a system call, to see a trap and its return
        movl    r1, s_back
        call    kputs
        halt

; A handler starts with the trapped program's registers live and its PSW at OLD_STATUS
; (status: mode, IE, flags, cause, code) and OLD_PC.  r12 and r13 are the kernel's: it
; needs a register to address storage.  rti resumes the saved PSW.
on_svc:
        clr     r12
        ld      r13, OLD_STATUS(r12)
        shri    r13, r13, 16
        andi    r13, r13, 0xff          ; the svc number (status bits 16..23)
        mov     r1, r13                 ; TODO: serve the call
        call    kputdec
        movi    r1, '\n'
        call    kputc
        rti                             ; back after the svc (its saved pc is the next instruction)

        .data
handlers:
        .word   unexpected              ; 1 privileged instruction in user mode
        .word   unexpected              ; 2 illegal instruction (and vmtrap, bare)
        .word   unexpected              ; 3 address outside R.bound
        .word   unexpected              ; 4 misaligned word access
        .word   on_svc                  ; 5 svc
        .word   unexpected              ; 6 interval timer
s_hello:        .asciz "skeleton: hello; svc "
s_back:         .asciz "skeleton: back from the handler\n"
s_unexpected:   .asciz "skeleton: unexpected trap, status "
        .align  4
        .space  256
kstack_top:
