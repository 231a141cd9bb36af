"""The bundled ISA descriptions (TOML), shipped as package data ``hybridvmm.isa_specs``."""
