"""What the classifier needs from an ISA's system model, and nothing more.

The classifier core is ISA-agnostic: it asks a *probe* (one per ISA family, living beside
that ISA's semantics in :mod:`hybridvmm.isas`) for operand instances, sampled machine
states, the states that differ from a given one *only in system state*, and the outcome
of executing one instruction with the ISA's own semantics.  States are plain JSON-able
dictionaries, so witnesses can be printed, stored and replayed.

Beyond the required methods a probe may supply (the engine falls back to the defaults of
:class:`ProbeDefaults` when it does not):

* **forms** — where operands decide the class (a RISC-V CSR instruction's class is set by its
  CSR number; docs/theory.md, 'Instruction classes', defines classes per instance), one instruction is classified as
  several *forms*, each with some operands held to given values; ``instance_key`` names the
  form a decoded instance belongs to, so a scanner can look its derived class up.
* **modes and comparisons** — a machine with more than two privilege levels names them all
  (``modes``, most privileged first) and says which pairs stand for Popek–Goldberg's
  supervisor/user (``comparisons``): each gives its own classes and verdicts.
* **configuration** — named bits of the sampled system state that system software sets
  once (counter enables, trap-virtualization bits).  When a theorem fails only in some
  configurations, the engine finds the settings under which it holds and reports them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Protocol

from hybridvmm.asm import format_instruction
from hybridvmm.isa import ISA, InstructionSpec

State = dict[str, Any]


def sample_immediate(field: Any, k: int, rng: random.Random) -> int:
    """The ``k``-th sampled value of a non-register operand field: its edges first (zero,
    both ends of its range, small positive and negative steps), then uniform draws, kept
    in range and aligned to the field's implicit low zero bits."""
    lo, hi = field.value_range()
    edges = [0, lo, hi, 4, -4 if lo < 0 else 8, 2, 6]
    v = edges[k] if k < len(edges) else rng.randint(lo, hi)
    v = min(max(v, lo), hi)
    return v - (v % (1 << field.shift))


class SeededFills:
    """Storage contents drawn from a seed, ``size`` bytes each, remembered (the classifier
    asks for the same sampled state's storage many times)."""

    LIMIT = 4096

    def __init__(self, size: int):
        self.size = size
        self._fills: dict[int, bytes] = {}

    def __call__(self, seed: int) -> bytes:
        data = self._fills.get(seed)
        if data is None:
            data = random.Random(seed).randbytes(self.size)
            if len(self._fills) > self.LIMIT:
                self._fills.clear()
            self._fills[seed] = data
        return data


@dataclass(frozen=True)
class Outcome:
    """The result of executing one instruction instance in one state.

    ``trap`` names the trap the instruction itself raised (None when it completed without
    trapping); ``storage_fault`` says that trap is one any storage access may raise in
    either mode (bounds, alignment), which the privilege test sets aside.  ``visible`` is
    the program-visible result (registers, flags, next pc, storage seen through R) and
    ``system`` the system state afterwards; when ``trap`` is set the classifier compares
    neither, so a probe may leave them empty.
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

    def system_variants(self, state: State, rng: random.Random) -> list[tuple[Any, ...]]:
        """States differing from ``state`` only in system state other than the mode, each
        with words saying how (``"IE 0 vs 1"``, ``"R.base 0x400 vs 0xc00 (storage moved along)"``).
        A variant may be ``(words, state, parts)``: one state differing in several components
        at once, with ``parts`` the ``(words, state)`` differing in each alone — tried, in
        order, only once the whole shows a difference (so that the witness names the part)
        or traps (a part alone may not); ``parts`` may be a function returning them."""

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


@dataclass(frozen=True)
class Form:
    """One row of the classification: an instruction with some operands held to given
    values (``fixed``: field → the values it may take; empty: every instance)."""

    key: str
    fixed: dict[str, tuple[int, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Comparison:
    """One reading of Popek–Goldberg's two modes on a machine with more: ``supervisor`` is
    the mode an instruction must not trap in, ``user`` the one it must trap in to be
    privileged, and ``modes`` the modes whose states the sensitivity definitions range over
    (the modes the guest uses)."""

    supervisor: str
    user: str
    modes: tuple[str, ...]
    note: str = ""
    """Why this pair stands for supervisor and user (printed with the verdicts)."""

    @property
    def label(self) -> str:
        return f"{self.supervisor} vs {self.user}"


class ProbeDefaults:
    """What a probe that leaves out the optional parts means (and a base class supplying them)."""

    supervisor_mode: str
    user_mode: str

    def forms(self, spec: InstructionSpec) -> list[Form]:
        """The forms of ``spec``: by default the instruction itself."""
        return [Form(spec.name)]

    def instance_key(self, spec: InstructionSpec, operands: dict[str, int]) -> str:
        """The key of the form an instance belongs to."""
        return spec.name

    @property
    def modes(self) -> tuple[str, ...]:
        """Every mode, most privileged first."""
        return (self.supervisor_mode, self.user_mode)

    @property
    def comparisons(self) -> tuple[Comparison, ...]:
        """The supervisor/user readings to classify under; the first is the headline one."""
        return (Comparison(self.supervisor_mode, self.user_mode, (self.supervisor_mode, self.user_mode)),)

    def configuration(self, state: State) -> dict[str, bool]:
        """The named configuration bits of ``state`` (none by default)."""
        return {}

    def configure(self, state: State, settings: dict[str, bool]) -> State:
        """The same state with configuration bits set."""
        if settings:
            raise ValueError(f"no configuration bits: {', '.join(settings)}")
        return state

    def mode_contrast(self, a: str, b: str) -> str:
        """Words for two states differing in the mode."""
        return f"M {a} vs {b}"


class DecoderWords:
    """``encode`` and ``decode_instance`` for a probe that has its ISA's ``decoder``: an
    instance as the text and hex the report prints, and back."""

    isa: ISA
    decoder: Any

    def encode(self, spec: InstructionSpec, operands: dict[str, int]) -> tuple[str, str]:
        raw = self.decoder.encode(spec, operands)
        return format_instruction(self.decoder.decode(raw, 0), self.isa), raw.hex()

    def decode_instance(self, encoding: str) -> tuple[InstructionSpec, dict[str, int]]:
        ins = self.decoder.decode(bytes.fromhex(encoding), 0)
        return ins.spec, ins.operands


def optional(probe: Any, name: str) -> Any:
    """``probe``'s own ``name``, or the default's bound to it."""
    own = getattr(type(probe), name, None)
    if own is not None:
        return getattr(probe, name)
    default = getattr(ProbeDefaults, name)
    if isinstance(default, property):
        return default.fget(probe)
    return default.__get__(probe)
