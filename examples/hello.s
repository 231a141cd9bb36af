; hello.s — the smallest complete pgm program: print a string through the console port
; and halt.  Assemble and run it:
;   python -m hybridvmm asm examples/hello.s -o hello.img
;   python -m hybridvmm run hello.img --mode bare
.isa pgm

.equ CONSOLE, 0                 ; out rX, CONSOLE writes the low byte of rX

        .text
start:  movl  r1, message       ; r1 walks the string
loop:   ldb   r2, 0(r1)         ; next byte (zero-extended)
        cmpi  r2, 0
        beq   done
        out   r2, CONSOLE       ; privileged: fine, we boot in supervisor mode
        addi  r1, r1, 1
        br    loop
done:   halt

        .data
message: .asciz "hello from pgm\n"
