; hostile-spin: disables interrupts, arms a timer it will never take, and spins forever
        .org 0x100
main:   movi    r1, 50
        settimer r1
        di
spin:   br      spin
