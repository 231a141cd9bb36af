; hostile-vmtrap: executes vmtrap (the monitor's patch and hypercall trap) itself, in both modes
        .org 0x100
main:   vmtrap  0                       ; what every patch looks like
        vmtrap  255
        movl    sp, ustack_top
        jrstu   user
user:   vmtrap  0
        vmtrap  1
        svc     0
        .align 4
                .space 128
ustack_top:
