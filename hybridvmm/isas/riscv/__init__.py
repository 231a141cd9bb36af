"""The RISC-V family: an RV32IMA hart with M/S/U and Sv32 on the ISA-agnostic core, its
CSRs, MMU, devices at QEMU virt's addresses and its semantics (see :mod:`.machine`)."""
