"""What the classifier finds: derived classes with witnesses, and the theorem verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hybridvmm.isa.spec import BEHAVIOR, CLASS_TAGS as TAGS, CONTROL, PRIVILEGED, USER

__all__ = [
    "BEHAVIOR", "CONTROL", "PRIVILEGED", "TAGS", "USER",
    "Classification", "InstructionClass", "Verdict", "Witness",
]


@dataclass
class Witness:
    """Evidence for one positive finding, replayable.

    ``states`` are full machine-state dictionaries (the input states), ``instruction`` the
    encoded instance (hex) and its text, ``outputs`` what differed, ``explanation`` the
    finding in words.
    """

    tag: str
    instruction: str
    encoding: str
    states: list[dict[str, Any]]
    outputs: dict[str, Any]
    explanation: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "instruction": self.instruction,
            "encoding": self.encoding,
            "states": self.states,
            "outputs": self.outputs,
            "explanation": self.explanation,
        }


@dataclass
class InstructionClass:
    """The derived class of one instruction (over all its sampled instances and states)."""

    name: str
    declared: frozenset[str]
    privileged: bool = False
    control_sensitive: bool = False
    behavior_sensitive: bool = False
    user_sensitive: bool = False
    witnesses: dict[str, Witness] = field(default_factory=dict)
    not_privileged_because: str = ""
    states_sampled: int = 0

    @property
    def sensitive(self) -> bool:
        return self.control_sensitive or self.behavior_sensitive

    @property
    def derived(self) -> frozenset[str]:
        flags = (self.privileged, self.control_sensitive, self.behavior_sensitive, self.user_sensitive)
        return frozenset(t for t, on in zip(TAGS, flags) if on)

    @property
    def agrees_with_spec(self) -> bool:
        return self.derived == self.declared

    def disagreement(self) -> str:
        """Words for a declared-vs-derived mismatch ('' when they agree)."""
        missing = sorted(self.declared - self.derived)
        extra = sorted(self.derived - self.declared)
        parts = []
        if extra:
            parts.append(f"derived but not declared: {', '.join(extra)}")
        if missing:
            parts.append(f"declared but not derived: {', '.join(missing)}")
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "privileged": self.privileged,
            "control_sensitive": self.control_sensitive,
            "behavior_sensitive": self.behavior_sensitive,
            "user_sensitive": self.user_sensitive,
            "agrees_with_spec": self.agrees_with_spec,
            "declared": sorted(self.declared),
            "states_sampled": self.states_sampled,
            "witness": {tag: w.as_dict() for tag, w in self.witnesses.items()} or None,
        }


@dataclass
class Verdict:
    """A theorem's condition checked: holds, or the instructions that violate it."""

    theorem: str
    condition: str
    holds: bool
    violations: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"holds": self.holds, "violations": list(self.violations)}


@dataclass
class Classification:
    """The whole result for one ISA."""

    isa: str
    seed: int
    samples: int
    instructions: list[InstructionClass]
    seconds: float = 0.0

    def by_name(self, name: str) -> InstructionClass:
        for ic in self.instructions:
            if ic.name == name:
                return ic
        raise KeyError(name)

    @property
    def theorem1(self) -> Verdict:
        bad = [i.name for i in self.instructions if i.sensitive and not i.privileged]
        return Verdict("Theorem 1", "sensitive ⊆ privileged", not bad, bad)

    @property
    def theorem3(self) -> Verdict:
        bad = [i.name for i in self.instructions if i.user_sensitive and not i.privileged]
        return Verdict("Theorem 3", "user-sensitive ⊆ privileged", not bad, bad)

    @property
    def disagreements(self) -> list[InstructionClass]:
        return [i for i in self.instructions if not i.agrees_with_spec]

    def as_dict(self) -> dict[str, Any]:
        return {
            "isa": self.isa,
            "seed": self.seed,
            "samples": self.samples,
            "theorem1": self.theorem1.as_dict(),
            "theorem3": self.theorem3.as_dict(),
            "instructions": [i.as_dict() for i in self.instructions],
        }
