"""What the classifier needs from an ISA's system model, and nothing more.

The classifier core is ISA-agnostic: it asks a *probe* (one per ISA family, living beside
that ISA's semantics in :mod:`hybridvmm.isas`) for operand instances, sampled machine
states, the states that differ from a given one *only in system state*, and the outcome
of executing one instruction with the ISA's own semantics.  States are plain JSON-able
dictionaries, so witnesses can be printed, stored and replayed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Protocol

from hybridvmm.isa import ISA, InstructionSpec

State = dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """The result of executing one instruction instance in one state.

    ``trap`` names the trap the instruction itself raised (None when it completed without
    trapping); ``storage_fault`` says that trap is one any storage access may raise in
    either mode (bounds, alignment), which the privilege test sets aside.  ``visible`` is
    the program-visible result (registers, flags, next pc, storage seen through R) and
    ``system`` the system state afterwards.
    """

    trap: str | None
    storage_fault: bool
    visible: dict[str, Any]
    system: dict[str, Any]


class Probe(Protocol):
    """One ISA family's system model, as the classifier sees it."""

    isa: ISA
    supervisor_mode: str
    """Name of the most privileged mode the probe compares (pgm: ``supervisor``)."""
    user_mode: str
    """Name of the least privileged mode (``user``)."""

    def instances(self, spec: InstructionSpec, rng: random.Random, count: int) -> list[dict[str, int]]:
        """Operand values for ``count`` instances of ``spec`` (edge values included)."""

    def sample_states(self, rng: random.Random, count: int) -> list[State]:
        """``count`` machine states (edge cases first), mode unset."""

    def with_mode(self, state: State, mode: str) -> State:
        """The same state in the named mode."""

    def mode_of(self, state: State) -> str:
        """The name of the mode ``state`` is in."""

    def system_variants(self, state: State, rng: random.Random) -> list[tuple[str, State]]:
        """States differing from ``state`` only in system state other than the mode, each
        with words saying how (``"IE 0 vs 1"``, ``"R.base 0x400 vs 0xc00 (storage moved along)"``)."""

    def execute(self, state: State, spec: InstructionSpec, operands: dict[str, int]) -> Outcome:
        """Run one instance in ``state`` with the ISA's own semantics."""

    def passage_of_time(self, state: State) -> Outcome:
        """What one innocuous instruction does in ``state``: the system-state change that
        is the passage of time (the interval timer counting), not a change made by an
        instruction."""

    def encode(self, spec: InstructionSpec, operands: dict[str, int]) -> tuple[str, str]:
        """(assembly text, hex encoding) of an instance, for witnesses."""

    def describe(self, key: str, value: Any) -> str:
        """A state component in words (``IE=1``, ``M=user``, ``r3=0x400``)."""

    def contrast(self, key: str, first: Any, second: Any) -> tuple[str, str]:
        """Two differing values of one program-visible component, in words."""

    def decode_instance(self, encoding: str) -> tuple[InstructionSpec, dict[str, int]]:
        """The instruction spec and operands of a witness's hex encoding (for replay)."""
