# rv32_bad.s - three mistakes; asm reports each with its line, then writes nothing
        addd  a0, a0, a1        # no such instruction
        li    t0, 42
        li    t1, 4294967296    # does not fit in 32 bits
        j     nowhere           # no such label
