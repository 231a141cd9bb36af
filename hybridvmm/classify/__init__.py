"""Derive Popek–Goldberg instruction classes by differential execution; theorem verdicts."""

from hybridvmm.classify.engine import DEFAULT_SAMPLES, classify_isa, replay
from hybridvmm.classify.model import Classification, InstructionClass, Verdict, Witness

__all__ = ["DEFAULT_SAMPLES", "Classification", "InstructionClass", "Verdict", "Witness", "classify_isa", "replay"]
