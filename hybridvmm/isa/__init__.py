"""ISA descriptions: the spec model, its loader/validator, construct codecs and decoder."""

from hybridvmm.isa.decoder import DecodeCache, Decoder, Instruction, overlapping, shared_decoder
from hybridvmm.isa.loader import available_isas, check_family, load_isa, specs_dir
from hybridvmm.isa.spec import ISA, InstructionSpec

__all__ = [
    "shared_decoder",
    "ISA",
    "DecodeCache",
    "Decoder",
    "Instruction",
    "InstructionSpec",
    "available_isas",
    "check_family",
    "load_isa",
    "overlapping",
    "specs_dir",
]
