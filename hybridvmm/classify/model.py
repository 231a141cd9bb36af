"""What the classifier finds: derived classes with witnesses, and the theorem verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hybridvmm.isa.spec import BEHAVIOR, CLASS_TAGS as TAGS, CONTROL, PRIVILEGED, USER

__all__ = [
    "BEHAVIOR", "CONTROL", "PRIVILEGED", "TAGS", "USER",
    "Classification", "Condition", "InstructionClass", "Verdict", "Witness",
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
    """The derived class of one instruction, or of one form of it (over all its sampled
    instances and states)."""

    name: str
    declared: frozenset[str]
    privileged: bool = False
    control_sensitive: bool = False
    behavior_sensitive: bool = False
    user_sensitive: bool = False
    witnesses: dict[str, Witness] = field(default_factory=dict)
    not_privileged_because: str = ""
    states_sampled: int = 0
    instruction: str = ""
    """The instruction this is a form of (empty: the form is the instruction itself)."""
    when: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Theorem → configuration settings any one of which ends this form's violation of it
    (found by classifying the form again with the setting held)."""
    classes_when: frozenset[str] | None = None
    """The classes derived with the first setting of ``when["Theorem 1"]`` held."""

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
            **({"instruction": self.instruction} if self.instruction else {}),
            **({"when": {t: list(s) for t, s in self.when.items()}} if self.when else {}),
            **({"derived_when": sorted(self.classes_when)} if self.classes_when is not None else {}),
        }


@dataclass
class Condition:
    """System settings that end some violations: for each of ``forms``, any one of
    ``settings`` (``mcounteren.TM=0``) held in every sampled state makes it comply."""

    settings: tuple[str, ...]
    forms: list[str]

    @property
    def text(self) -> str:
        return self.settings[0] if len(self.settings) == 1 else "(" + " or ".join(self.settings) + ")"

    def as_dict(self) -> dict[str, Any]:
        return {"any_of": list(self.settings), "forms": list(self.forms)}


@dataclass
class Verdict:
    """A theorem's condition checked: holds, or the instructions that violate it — and,
    where violations depend on system settings, the settings under which it holds."""

    theorem: str
    condition: str
    holds: bool
    violations: list[str]
    conditions: list[Condition] = field(default_factory=list)
    unconditional: list[str] = field(default_factory=list)
    """Violations no setting found ends."""

    @property
    def holds_when(self) -> bool:
        """Fails as sampled, but holds whenever the settings of ``conditions`` hold."""
        return not self.holds and bool(self.conditions) and not self.unconditional

    @property
    def when_text(self) -> str:
        return " and ".join(c.text for c in self.conditions)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"holds": self.holds, "violations": list(self.violations)}
        if self.conditions:
            out["holds_when"] = self.holds_when
            out["when"] = [c.as_dict() for c in self.conditions]
            out["unconditional"] = list(self.unconditional)
        return out


@dataclass
class Classification:
    """The whole result for one ISA."""

    isa: str
    seed: int
    samples: int
    instructions: list[InstructionClass]
    seconds: float = 0.0
    comparison: str = ""
    """Which modes stood for supervisor and user (``M vs U``); empty for a two-mode machine."""
    modes: tuple[str, ...] = ()
    configuration: tuple[str, ...] = ()
    """The named configuration bits sampled as part of the system state."""
    conditions: dict[str, list[Condition]] = field(default_factory=dict)
    """Theorem → the settings found to end its conditional violations."""
    others: list["Classification"] = field(default_factory=list)
    """The same instructions under the other comparisons (``S vs U``)."""
    note: str = ""
    """Why the comparison's modes stand for supervisor and user."""

    def by_name(self, name: str) -> InstructionClass:
        for ic in self.instructions:
            if ic.name == name:
                return ic
        raise KeyError(name)

    def _verdict(self, theorem: str, condition: str, bad: list[str]) -> Verdict:
        conditions = self.conditions.get(theorem, [])
        covered = {f for c in conditions for f in c.forms}
        return Verdict(theorem, condition, not bad, bad, list(conditions), [b for b in bad if b not in covered])

    @property
    def theorem1(self) -> Verdict:
        bad = [i.name for i in self.instructions if i.sensitive and not i.privileged]
        return self._verdict("Theorem 1", "sensitive ⊆ privileged", bad)

    @property
    def theorem3(self) -> Verdict:
        bad = [i.name for i in self.instructions if i.user_sensitive and not i.privileged]
        return self._verdict("Theorem 3", "user-sensitive ⊆ privileged", bad)

    def comparison_named(self, label: str) -> "Classification":
        """This classification or one of ``others`` by its comparison label (``S vs U``)."""
        for c in (self, *self.others):
            if c.comparison == label:
                return c
        raise KeyError(label)

    @property
    def disagreements(self) -> list[InstructionClass]:
        return [i for i in self.instructions if not i.agrees_with_spec]

    def as_dict(self) -> dict[str, Any]:
        return {
            "isa": self.isa,
            "seed": self.seed,
            "samples": self.samples,
            **({"comparison": self.comparison, "modes": list(self.modes), "reading": self.note} if self.comparison else {}),
            **({"configuration": list(self.configuration)} if self.configuration else {}),
            "theorem1": self.theorem1.as_dict(),
            "theorem3": self.theorem3.as_dict(),
            "instructions": [i.as_dict() for i in self.instructions],
            **({"comparisons": [o.as_dict() for o in self.others]} if self.others else {}),
        }
