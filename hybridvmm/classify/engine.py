"""Derive Popek–Goldberg classes by executing each instruction in paired machine states.

The definitions (DESIGN §2), applied over sampled states and operand instances:

* **privileged** — in every sampled pair of states differing only in M, the instruction
  traps in user mode and does not trap in supervisor mode.  Pairs where the supervisor
  execution takes a storage fault (bounds, alignment: something any storage access can do
  in either mode) are set aside; at least one pair must remain.
* **control-sensitive** — in some state, without trapping, it leaves the system state
  different from what the passage of time alone leaves (one innocuous instruction run in
  the same state).
* **behavior-sensitive** — two states differing only in system state (M; IE or the
  timer; R's location with storage moved along) give different program-visible results,
  neither trapping.
* **user-sensitive** — either of the above with every state involved in user mode.

Each positive finding keeps the first witness found; sampling is deterministic per seed.
"""

from __future__ import annotations

import random
import time
from typing import Any, Callable

from hybridvmm.classify.model import (
    BEHAVIOR,
    CONTROL,
    PRIVILEGED,
    USER,
    Classification,
    InstructionClass,
    Witness,
)
from hybridvmm.classify.probe import Outcome, Probe, State
from hybridvmm.errors import UserError
from hybridvmm.isa import ISA, InstructionSpec, load_isa

DEFAULT_SAMPLES = 200
"""States sampled per instruction (each run in both modes and in its system variants)."""


def probe_for(isa: ISA) -> Probe:
    """The probe of ``isa``'s family, as registered in :mod:`hybridvmm.isas`."""
    from hybridvmm.isas import probe_class  # the families register probes that import this package

    return probe_class(isa)(isa)


def _first_difference(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    for key in a:
        if a[key] != b.get(key):
            return key
    return None


class _Classifier:
    def __init__(self, probe: Probe, samples: int, seed: int):
        self.probe = probe
        self.samples = samples
        self.seed = seed

    def witness(self, tag: str, spec: InstructionSpec, ops: dict[str, int], states: list[State],
                outputs: dict[str, Any], explanation: str) -> Witness:
        text, encoding = self.probe.encode(spec, ops)
        return Witness(tag, text, encoding, states, outputs, explanation)

    def classify(self, spec: InstructionSpec) -> InstructionClass:
        probe = self.probe
        rng = random.Random(f"{self.seed}:{spec.name}")
        ic = InstructionClass(spec.name, spec.classes)
        instances = probe.instances(spec, rng, max(8, self.samples // 4))
        pairs = 0
        refuted = False
        for k, base in enumerate(probe.sample_states(rng, self.samples)):
            ops = instances[k % len(instances)]
            sup, usr = probe.with_mode(base, probe.supervisor_mode), probe.with_mode(base, probe.user_mode)
            o_sup, o_usr = probe.execute(sup, spec, ops), probe.execute(usr, spec, ops)
            ic.states_sampled += 2
            if not refuted and not o_sup.storage_fault:
                pairs += 1
                refuted = not self.check_privileged(ic, spec, ops, sup, usr, o_sup, o_usr)
            for state, out in ((sup, o_sup), (usr, o_usr)):
                if out.trap is None and not (ic.control_sensitive and (ic.user_sensitive or probe.mode_of(state) != probe.user_mode)):
                    self.check_control(ic, spec, ops, state, out)
            if o_sup.trap is None and o_usr.trap is None and not ic.behavior_sensitive:
                key = _first_difference(o_sup.visible, o_usr.visible)
                if key is not None:
                    ic.behavior_sensitive = True
                    ic.witnesses[BEHAVIOR] = self.behavior_witness(
                        BEHAVIOR, spec, ops, sup, usr, o_sup, o_usr, key, "M supervisor vs user")
            for state, out in ((sup, o_sup), (usr, o_usr)):
                if out.trap is None and not (ic.behavior_sensitive and (ic.user_sensitive or probe.mode_of(state) != probe.user_mode)):
                    self.check_system_variants(ic, spec, ops, state, out, rng)
        ic.privileged = pairs > 0 and not refuted
        if pairs == 0:
            ic.not_privileged_because = "no sampled state let it run in supervisor mode without a storage fault"
        return ic

    def check_privileged(self, ic: InstructionClass, spec: InstructionSpec, ops: dict[str, int], sup: State,
                         usr: State, o_sup: Outcome, o_usr: Outcome) -> bool:
        """One pair of states differing only in M: does it agree with "privileged"?"""
        if o_sup.trap is not None or o_usr.trap is None:
            ic.not_privileged_because = (
                f"in supervisor mode it trapped ({o_sup.trap})" if o_sup.trap is not None
                else "in user mode it did not trap"
            )
            ic.witnesses["not-privileged"] = self.witness(
                "not-privileged", spec, ops, [sup, usr],
                {"supervisor": o_sup.trap or "no trap", "user": o_usr.trap or "no trap"},
                f"`{spec.name}` is not privileged: {ic.not_privileged_because}",
            )
            return False
        if PRIVILEGED not in ic.witnesses:
            ic.witnesses[PRIVILEGED] = self.witness(
                PRIVILEGED, spec, ops, [sup, usr],
                {"supervisor": "no trap", "user": o_usr.trap},
                f"`{spec.name}` is privileged: in user mode it trapped ({o_usr.trap}), in supervisor mode it did not",
            )
        return True

    def check_control(self, ic: InstructionClass, spec: InstructionSpec, ops: dict[str, int], state: State, out: Outcome) -> None:
        """Did the instruction change the system state beyond the passage of time?"""
        ref = self.probe.passage_of_time(state)
        key = _first_difference(out.system, ref.system)
        if key is None:
            return
        before, after = state.get(key), out.system[key]
        outputs = {"changed": key, "before": before, "after": after, "time_alone_gives": ref.system[key]}

        def explanation(word: str) -> str:
            return (f"`{spec.name}` is {word}: in {self.probe.mode_of(state)} mode with "
                    f"{self.probe.describe(key, before)} it set {self.probe.describe(key, after)}")

        if not ic.control_sensitive:
            ic.control_sensitive = True
            ic.witnesses[CONTROL] = self.witness(CONTROL, spec, ops, [state], outputs, explanation(CONTROL))
        if self.probe.mode_of(state) == self.probe.user_mode and not ic.user_sensitive:
            ic.user_sensitive = True
            ic.witnesses[USER] = self.witness(USER, spec, ops, [state], outputs, explanation(USER))

    def check_system_variants(self, ic: InstructionClass, spec: InstructionSpec, ops: dict[str, int], state: State,
                              out: Outcome, rng: random.Random) -> None:
        """Do states differing from ``state`` only in IE, the timer or R's location give
        other program-visible results?"""
        for label, alt in self.probe.system_variants(state, rng):
            o_alt = self.probe.execute(alt, spec, ops)
            ic.states_sampled += 1
            if o_alt.trap is not None:
                continue
            key = _first_difference(out.visible, o_alt.visible)
            if key is None:
                continue
            if not ic.behavior_sensitive:
                ic.behavior_sensitive = True
                ic.witnesses[BEHAVIOR] = self.behavior_witness(BEHAVIOR, spec, ops, state, alt, out, o_alt, key, label)
            if self.probe.mode_of(state) == self.probe.user_mode and not ic.user_sensitive:
                ic.user_sensitive = True
                ic.witnesses[USER] = self.behavior_witness(USER, spec, ops, state, alt, out, o_alt, key, label)
            return

    def behavior_witness(self, tag: str, spec: InstructionSpec, ops: dict[str, int], s1: State, s2: State,
                         o1: Outcome, o2: Outcome, key: str, label: str) -> Witness:
        word = USER if tag == USER else BEHAVIOR
        first, second = self.probe.contrast(key, o1.visible[key], o2.visible[key])
        mode = "in user mode, " if tag == USER else ""
        explanation = f"`{spec.name}` is {word}: {mode}two states differing only in {label} gave {first} vs {second}"
        return self.witness(tag, spec, ops, [s1, s2], {"differs": key, "first": o1.visible[key], "second": o2.visible[key]}, explanation)


def classify_isa(isa: ISA | str, samples: int = DEFAULT_SAMPLES, seed: int = 0, probe: Probe | None = None,
                 progress: Callable[[str], None] | None = None) -> Classification:
    """Derive the class of every instruction of ``isa`` and return it with the verdicts.

    ``probe`` replaces the ISA's registered system model (e.g. one with mutated semantics);
    ``progress(text)`` is told which instruction is being classified.
    """
    isa = load_isa(isa) if isinstance(isa, str) else isa
    if samples < 1:
        raise UserError("--samples must be at least 1")
    start = time.perf_counter()
    worker = _Classifier(probe or probe_for(isa), samples, seed)
    results = []
    specs = list(isa.instructions.values())
    for k, spec in enumerate(specs):
        if progress is not None:
            progress(f"classifying {isa.name}: {spec.name} ({k + 1}/{len(specs)})")
        results.append(worker.classify(spec))
    return Classification(isa.name, seed, samples, results, time.perf_counter() - start)


def replay(isa: ISA | str, witness: Witness, probe: Probe | None = None) -> bool:
    """Execute a witness's states again and check the recorded difference reappears."""
    isa = load_isa(isa) if isinstance(isa, str) else isa
    probe = probe or probe_for(isa)
    spec, ops = probe.decode_instance(witness.encoding)
    outcomes = [probe.execute(s, spec, ops) for s in witness.states]
    out = witness.outputs
    if witness.tag in (BEHAVIOR, USER) and "differs" in out:
        key = out["differs"]
        a, b = outcomes
        return a.trap is None and b.trap is None and a.visible[key] == out["first"] and b.visible[key] == out["second"]
    if witness.tag in (CONTROL, USER):
        (o,) = outcomes
        ref = probe.passage_of_time(witness.states[0])
        key = out["changed"]
        return o.trap is None and o.system[key] == out["after"] and ref.system[key] == out["time_alone_gives"] != out["after"]
    if witness.tag == PRIVILEGED:
        o_sup, o_usr = outcomes
        return o_sup.trap is None and o_usr.trap == out["user"]
    if witness.tag == "not-privileged":
        o_sup, o_usr = outcomes
        return (o_sup.trap or "no trap") == out["supervisor"] and (o_usr.trap or "no trap") == out["user"]
    raise ValueError(f"unknown witness tag {witness.tag}")
