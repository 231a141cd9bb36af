"""Derive Popek–Goldberg classes by executing each instruction in paired machine states.

The definitions (docs/theory.md, 'Instruction classes'), applied over sampled states and operand instances:

* **privileged** — in every sampled pair of states differing only in M, the instruction
  traps in user mode and does not trap in supervisor mode.  Pairs where either execution
  takes a storage fault (bounds, alignment, a page fault: something any storage access can
  do in either mode) are set aside, and so are pairs where it traps in both modes (that
  instance is a system call or an illegal one: neither sensitive nor a privilege test; an
  instruction that only ever traps in both is not privileged); at least one pair must
  remain.
* **control-sensitive** — in some state, without trapping, it leaves the system state
  different from what the passage of time alone leaves (one innocuous instruction run in
  the same state).
* **behavior-sensitive** — two states differing only in system state (M; IE or the
  timer; R's location with storage moved along) give different program-visible results,
  neither trapping.
* **user-sensitive** — either of the above with every state involved in user mode.

Each positive finding keeps the first witness found; sampling is deterministic per seed:
an instruction's operand instances and states come from the seed and its name alone, and
all its forms run on them, so a form's result does not depend on which others are
classified with it, in what order, or in which of the ``jobs`` processes.

A probe may classify an instruction as several *forms* (one per CSR of a CSR instruction),
name more than two modes and several readings of supervisor/user (*comparisons*: RISC-V's
M vs U and S vs U), and name *configuration* bits of its states.  When a theorem fails,
each violating form is classified again with each configuration setting held that no
refuting pair of states had; the settings that end the violation are the condition under
which the theorem holds, reported with the witness of what happens otherwise.  Holding a
setting only narrows the states, so a form that complies in every state still does
(privileged over fewer pairs, sensitive in fewer states).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from hybridvmm.classify.model import (
    BEHAVIOR,
    CONTROL,
    PRIVILEGED,
    USER,
    Classification,
    Condition,
    InstructionClass,
    Witness,
)
from hybridvmm.classify.probe import Comparison, Form, Outcome, Probe, State, optional
from hybridvmm.errors import UserError
from hybridvmm.isa import ISA, InstructionSpec, load_isa

DEFAULT_SAMPLES = 200
"""States sampled per instruction (each run in both modes and in its system variants)."""

THEOREMS: tuple[tuple[str, Callable[[InstructionClass], bool]], ...] = (
    ("Theorem 1", lambda ic: ic.sensitive and not ic.privileged),
    ("Theorem 3", lambda ic: ic.user_sensitive and not ic.privileged),
)
"""Each theorem and what violates it."""

Setting = tuple[str, bool]


def setting_text(setting: Setting) -> str:
    return f"{setting[0]}={int(setting[1])}"


def _first_difference(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    if a == b:
        return None
    for key in a:
        if a[key] != b.get(key):
            return key
    return None


@dataclass
class _Track:
    """Privilege bookkeeping of one form under one comparison."""

    pairs: int = 0
    refuted: bool = False
    tentative: bool = False
    """A pair that trapped in both modes gave the not-privileged witness (for now)."""
    seen: set[Setting] = field(default_factory=set)
    """Configuration settings of every pair that ran."""
    refuting: set[Setting] = field(default_factory=set)
    """Settings of the pairs that refuted privilege."""
    witness: dict[str, bool] | None = None
    """The configuration of the first pair that refuted privilege."""


@dataclass
class _Run:
    mode: str
    state: State
    out: Outcome


class _Classifier:
    def __init__(self, probe: Probe, samples: int, seed: int):
        self.probe = probe
        self.samples = samples
        self.seed = seed
        self.comparisons: tuple[Comparison, ...] = tuple(optional(probe, "comparisons"))
        self.modes: tuple[str, ...] = tuple(optional(probe, "modes"))
        self.configuration = optional(probe, "configuration")
        self.configure = optional(probe, "configure")
        self.mode_contrast = optional(probe, "mode_contrast")
        self._pools: dict[tuple[str, str], tuple] = {}
        self._passage: dict[tuple[int, int, str], Outcome] = {}

    def witness(self, tag: str, spec: InstructionSpec, ops: dict[str, int], states: list[State],
                outputs: dict[str, Any], explanation: str) -> Witness:
        text, encoding = self.probe.encode(spec, ops)
        return Witness(tag, text, encoding, states, outputs, explanation)

    def _pool(self, spec: InstructionSpec, label: str, hold: dict[str, bool] | None) -> tuple:
        """The operand instances and states every form of ``spec`` is run on (sampled once,
        so that its forms are compared on the same states), the generator after them, each
        state in every mode, and each state's configuration settings."""
        key = (spec.name, label)
        pool = self._pools.get(key)
        if pool is None:
            rng = random.Random(f"{self.seed}:{spec.name}{label}")
            instances = self.probe.instances(spec, rng, max(8, self.samples // 4))
            states = self.probe.sample_states(rng, self.samples)
            if hold:
                states = [self.configure(s, hold) for s in states]
            moded = [{mode: self.probe.with_mode(s, mode) for mode in self.modes} for s in states]
            settings = [set(self.configuration(s).items()) for s in states]
            pool = (instances, states, rng, moded, settings)
            if len(self._pools) > 4:
                self._pools.clear()
                self._passage.clear()
            self._pools[key] = pool
        return pool

    def _instances(self, form: Form, instances: list[dict[str, int]]) -> list[dict[str, int]]:
        if not form.fixed:
            return instances
        pick = random.Random(f"{self.seed}:{form.key}:operands")
        return [{**ops, **{f: (values[0] if len(values) == 1 else pick.choice(values)) for f, values in form.fixed.items()}}
                for ops in instances]

    def passage_of_time(self, pool: tuple, k: int, run: _Run) -> Outcome:
        """The probe's passage of time in the ``k``-th state of ``pool`` in ``run``'s mode
        (the same for every form run on that state)."""
        key = (id(pool), k, run.mode)
        out = self._passage.get(key)
        if out is None:
            out = self._passage[key] = self.probe.passage_of_time(run.state)
        return out

    def classify(self, spec: InstructionSpec, form: Form | None = None,
                 hold: dict[str, bool] | None = None) -> tuple[dict[Comparison, InstructionClass], dict[Comparison, _Track]]:
        """Classify one form under every comparison (``hold``: configuration bits fixed in every state)."""
        probe = self.probe
        form = form or Form(spec.name)
        label = "" if not hold else ":" + ",".join(setting_text(s) for s in sorted(hold.items()))
        pool = self._pool(spec, label, hold)
        instances, states, rng, moded, configured = pool
        if form.key != spec.name:
            rng = random.Random(f"{self.seed}:{form.key}{label}")
        instruction = spec.name if form.key != spec.name else ""
        ics = {c: InstructionClass(form.key, spec.classes, instruction=instruction) for c in self.comparisons}
        tracks = {c: _Track() for c in self.comparisons}
        instances = self._instances(form, instances)
        sampled = 0
        for k, base in enumerate(states):
            ops = instances[k % len(instances)]
            runs = {}
            for mode, state in moded[k].items():
                runs[mode] = _Run(mode, state, probe.execute(state, spec, ops))
            sampled += len(runs)
            settings = configured[k]
            for c in self.comparisons:
                self.check_privileged(ics[c], tracks[c], spec, ops, runs[c.supervisor], runs[c.user], c, settings)
            for run in runs.values():
                if run.out.trap is None:
                    want = [(ics[c], c) for c in self.comparisons if run.mode in c.modes
                            and not (ics[c].control_sensitive and (ics[c].user_sensitive or run.mode != c.user))]
                    if want:
                        self.check_control(want, spec, ops, run, self.passage_of_time(pool, k, run))
            order = list(runs.values())
            for i, a in enumerate(order):
                for b in order[i + 1:]:
                    if a.out.trap is not None or b.out.trap is not None:
                        continue
                    want = [ics[c] for c in self.comparisons
                            if a.mode in c.modes and b.mode in c.modes and not ics[c].behavior_sensitive]
                    if not want:
                        continue
                    key = _first_difference(a.out.visible, b.out.visible)
                    if key is not None:
                        w = self.behavior_witness(BEHAVIOR, spec, ops, a.state, b.state, a.out, b.out, key,
                                                  self.mode_contrast(a.mode, b.mode), want[0].name)
                        for ic in want:
                            ic.behavior_sensitive = True
                            ic.witnesses[BEHAVIOR] = w
            for run in runs.values():
                if run.out.trap is None:
                    want_c = [c for c in self.comparisons if run.mode in c.modes
                              and not (ics[c].behavior_sensitive and (ics[c].user_sensitive or run.mode != c.user))]
                    if want_c:
                        sampled += self.check_system_variants([(ics[c], c) for c in want_c], spec, ops, run, rng)
        for c in self.comparisons:
            ic, t = ics[c], tracks[c]
            ic.states_sampled = sampled
            ic.privileged = t.pairs > 0 and not t.refuted
            if ic.privileged and t.tentative:
                ic.not_privileged_because = ""
                ic.witnesses.pop("not-privileged", None)
            if t.pairs == 0 and not t.tentative:
                ic.not_privileged_because = "no sampled state let it run in supervisor mode without a storage fault"
        return ics, tracks

    def check_privileged(self, ic: InstructionClass, t: _Track, spec: InstructionSpec, ops: dict[str, int],
                         sup: _Run, usr: _Run, c: Comparison, settings: set[Setting]) -> None:
        """One pair of states differing only in M: does it agree with "privileged"?"""
        o_sup, o_usr = sup.out, usr.out
        if o_sup.storage_fault or o_usr.storage_fault:
            return
        t.seen |= settings
        if o_sup.trap is not None and o_usr.trap is not None:
            if not t.refuted and t.pairs == 0 and not t.tentative:
                t.tentative = True
                self.not_privileged(ic, spec, ops, sup, usr, c, f"in {c.supervisor} mode it trapped ({o_sup.trap})")
            return
        t.pairs += 1
        if o_sup.trap is None and o_usr.trap is not None:
            if not t.refuted and PRIVILEGED not in ic.witnesses:
                ic.witnesses[PRIVILEGED] = self.witness(
                    PRIVILEGED, spec, ops, [sup.state, usr.state],
                    {"supervisor": "no trap", "user": o_usr.trap},
                    f"`{ic.name}` is privileged: in {c.user} mode it trapped ({o_usr.trap}), "
                    f"in {c.supervisor} mode it did not",
                )
            return
        t.refuting |= settings
        if t.refuted:
            return
        t.refuted = True
        t.witness = dict(settings)
        t.tentative = False
        because = (f"in {c.supervisor} mode it trapped ({o_sup.trap})" if o_sup.trap is not None
                   else f"in {c.user} mode it did not trap")
        self.not_privileged(ic, spec, ops, sup, usr, c, because)

    def not_privileged(self, ic: InstructionClass, spec: InstructionSpec, ops: dict[str, int], sup: _Run, usr: _Run,
                       c: Comparison, because: str) -> None:
        ic.not_privileged_because = because
        ic.witnesses["not-privileged"] = self.witness(
            "not-privileged", spec, ops, [sup.state, usr.state],
            {"supervisor": sup.out.trap or "no trap", "user": usr.out.trap or "no trap"},
            f"`{ic.name}` is not privileged: {because}",
        )

    def check_control(self, ics: list[tuple[InstructionClass, Comparison]], spec: InstructionSpec, ops: dict[str, int],
                      run: _Run, ref: Outcome) -> None:
        """Did the instruction change the system state beyond the passage of time (``ref``)?"""
        state, out = run.state, run.out
        key = _first_difference(out.system, ref.system)
        if key is None:
            return
        before, after = state.get(key), out.system[key]
        outputs = {"changed": key, "before": before, "after": after, "time_alone_gives": ref.system[key]}
        made: dict[str, Witness] = {}

        def found(tag: str) -> Witness:
            if tag not in made:
                made[tag] = self.witness(tag, spec, ops, [state], outputs, (
                    f"`{ics[0][0].name}` is {tag}: in {self.probe.mode_of(state)} mode with "
                    f"{self.probe.describe(key, before)} it set {self.probe.describe(key, after)}"))
            return made[tag]

        for ic, c in ics:
            if not ic.control_sensitive:
                ic.control_sensitive = True
                ic.witnesses[CONTROL] = found(CONTROL)
            if run.mode == c.user and not ic.user_sensitive:
                ic.user_sensitive = True
                ic.witnesses[USER] = found(USER)

    def check_system_variants(self, ics: list[tuple[InstructionClass, Comparison]], spec: InstructionSpec,
                              ops: dict[str, int], run: _Run, rng: random.Random) -> int:
        """Do states differing from ``run``'s only in IE, the timer or R's location give
        other program-visible results?  Returns the number of states executed."""
        state, out = run.state, run.out
        executed = 0
        for variant in self.probe.system_variants(state, rng):
            label, alt = variant[0], variant[1]
            parts = variant[2] if len(variant) > 2 else ()
            if callable(parts):
                parts = parts()
            o_alt = self.probe.execute(alt, spec, ops)
            executed += 1
            if o_alt.trap is not None:
                if not parts:
                    continue
                key = None  # the whole trapped: a part alone may not
            else:
                key = _first_difference(out.visible, o_alt.visible)
                if key is None:
                    continue
            for part_label, part in parts:
                o_part = self.probe.execute(part, spec, ops)
                executed += 1
                part_key = None if o_part.trap is not None else _first_difference(out.visible, o_part.visible)
                if part_key is not None:  # the witness names the one part that shows it
                    label, alt, o_alt, key = part_label, part, o_part, part_key
                    break
            if key is None:
                continue
            made: dict[str, Witness] = {}
            for ic, c in ics:
                if not ic.behavior_sensitive:
                    ic.behavior_sensitive = True
                    if BEHAVIOR not in made:
                        made[BEHAVIOR] = self.behavior_witness(BEHAVIOR, spec, ops, state, alt, out, o_alt, key, label, ic.name)
                    ic.witnesses[BEHAVIOR] = made[BEHAVIOR]
                if run.mode == c.user and not ic.user_sensitive:
                    ic.user_sensitive = True
                    if USER not in made:
                        made[USER] = self.behavior_witness(USER, spec, ops, state, alt, out, o_alt, key, label, ic.name)
                    ic.witnesses[USER] = made[USER]
            return executed
        return executed

    def behavior_witness(self, tag: str, spec: InstructionSpec, ops: dict[str, int], s1: State, s2: State,
                         o1: Outcome, o2: Outcome, key: str, label: str, name: str | None = None) -> Witness:
        word = USER if tag == USER else BEHAVIOR
        first, second = self.probe.contrast(key, o1.visible[key], o2.visible[key])
        mode = f"in {self.probe.user_mode} mode, " if tag == USER else ""
        explanation = (f"`{name or spec.name}` is {word}: {mode}two states differing only in {label} "
                       f"gave {first} vs {second}")
        return self.witness(tag, spec, ops, [s1, s2], {"differs": key, "first": o1.visible[key], "second": o2.visible[key]}, explanation)


_FORKED: tuple | None = None
"""(classifier, tasks) handed to forked workers (inherited, not pickled)."""
PARALLEL_FROM = 64
"""Fewer tasks than this run in this process (forking costs more than it saves)."""


def _quiet_worker() -> None:
    """A worker ignores Ctrl-C: the terminal sends it to the whole process group, and the
    parent, which hears it too, ends the pool and says so once (no worker's traceback)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_chunk(span: tuple[int, int]) -> list[tuple]:
    worker, tasks = _FORKED  # type: ignore[misc]
    return [worker.classify(*tasks[i]) for i in range(*span)]


def _run_all(worker: _Classifier, tasks: list[tuple], jobs: int, progress: Callable[[str], None] | None,
             what: str) -> list[tuple]:
    """``worker.classify(*task)`` for every task, in order; across ``jobs`` forked processes
    when there are enough (each form's result depends only on the seed, never on the order
    or the process that ran it, so the answer is the same)."""
    global _FORKED
    if jobs > 1 and len(tasks) >= PARALLEL_FROM and "fork" in multiprocessing.get_all_start_methods():
        size = max(1, -(-len(tasks) // (jobs * 8)))
        spans = [(i, min(i + size, len(tasks))) for i in range(0, len(tasks), size)]
        out: list[tuple] = []
        _FORKED = (worker, tasks)
        try:
            with multiprocessing.get_context("fork").Pool(jobs, initializer=_quiet_worker) as pool:
                for chunk in pool.imap(_run_chunk, spans):
                    out.extend(chunk)
                    if progress is not None:
                        progress(f"{what} ({len(out)}/{len(tasks)})")
        finally:
            _FORKED = None
        return out
    out = []
    for k, task in enumerate(tasks):
        if progress is not None:
            progress(f"{what}: {task[1].key} ({k + 1}/{len(tasks)})")
        out.append(worker.classify(*task))
    return out


def _conditions(worker: _Classifier, results: dict[str, tuple], jobs: int,
                progress: Callable[[str], None] | None) -> dict[Comparison, dict[str, list[Condition]]]:
    """For every form violating a theorem under a comparison: the configuration settings
    that end the violation.  A candidate is a setting no refuting pair had; it is kept if the
    form complies both in the refuting witness's configuration with that one bit changed
    (the bit is the cause) and with only that bit held, the others sampled (it suffices)."""
    reruns: dict[tuple, dict] = {}

    def run(wanted: list[tuple[str, dict[str, bool]]]) -> None:
        todo, seen = [], set()
        for key, hold in wanted:
            label = (key, tuple(sorted(hold.items())))
            if label not in reruns and label not in seen:
                seen.add(label)
                todo.append((label, (results[key][0], results[key][1], hold)))
        for (label, _), (ics, _tracks) in zip(todo, _run_all(worker, [t for _, t in todo], jobs, progress,
                                                             "checking the settings that end violations")):
            reruns[label] = ics

    def held(key: str, hold: dict[str, bool]) -> dict:
        return reruns[(key, tuple(sorted(hold.items())))]

    cases = []  # (comparison, theorem, violates, key, candidate settings)
    for c in worker.comparisons:
        for theorem, violates in THEOREMS:
            for key, (spec, form, ics, tracks) in results.items():
                t = tracks[c]
                if violates(ics[c]) and t.witness is not None:
                    cases.append((c, theorem, violates, key, sorted(t.seen - t.refuting)))
    run([(key, {**results[key][3][c].witness, name: value})
         for c, _, _, key, cands in cases for name, value in cands])
    causes = {(c, theorem, key): [(n, v) for n, v in cands
                                   if not violates(held(key, {**results[key][3][c].witness, n: v})[c])]
              for c, theorem, violates, key, cands in cases}
    run([(key, {n: v}) for (c, theorem, key), settings in causes.items() for n, v in settings])
    found: dict[Comparison, dict[str, list[Condition]]] = {c: {} for c in worker.comparisons}
    for c, theorem, violates, key, _ in cases:
        ic = results[key][2][c]
        confirmed = [(n, v) for n, v in causes[(c, theorem, key)] if not violates(held(key, {n: v})[c])]
        if not confirmed:
            continue
        if theorem == "Theorem 1" and ic.classes_when is None:
            ic.classes_when = held(key, dict(confirmed[:1]))[c].derived
        words = tuple(setting_text(s) for s in confirmed)
        ic.when[theorem] = words
        groups = found[c].setdefault(theorem, [])
        group = next((g for g in groups if g.settings == words), None)
        if group is None:
            groups.append(Condition(words, [key]))
        else:
            group.forms.append(key)
    return {c: {t: g for t, g in by.items() if g} for c, by in found.items()}


def classify_isa(isa: ISA | str, samples: int = DEFAULT_SAMPLES, seed: int = 0, *, probe: Probe,
                 progress: Callable[[str], None] | None = None, jobs: int | None = None,
                 only: Iterable[str] | None = None) -> Classification:
    """Derive the class of every instruction (every form) of ``isa`` and return it with the verdicts.

    ``probe`` is the system model the instructions execute on: the family's
    (:func:`hybridvmm.isas.probe_for`), or one with mutated semantics.  The caller hands it
    in, so that this package never imports the ISA families whose probes import it.
    ``progress(text)`` is told which instruction is being classified; ``jobs`` processes
    share the work (default: one per CPU; the result does not depend on it); ``only``
    names the instructions or forms to classify (the verdicts are then about those).  With
    several comparisons the result is the first one's, the rest in ``others``.
    """
    isa = load_isa(isa) if isinstance(isa, str) else isa
    if samples < 1:
        raise UserError("--samples must be at least 1")
    if jobs is not None and jobs < 1:
        raise UserError("--jobs must be at least 1")
    jobs = jobs or os.cpu_count() or 1
    start = time.perf_counter()
    worker = _Classifier(probe, samples, seed)
    forms_of = optional(probe, "forms")
    work = [(spec, form) for spec in isa.instructions.values() for form in forms_of(spec)]
    if only is not None:
        wanted = set(only)
        unknown = wanted - {f.key for _, f in work} - {s.name for s, _ in work}
        if unknown:
            raise UserError(f"{isa.name} has no instruction or form {', '.join(sorted(unknown))}")
        work = [(spec, form) for spec, form in work if form.key in wanted or spec.name in wanted]
    results: dict[str, tuple] = {}
    for (spec, form), (ics, tracks) in zip(work, _run_all(worker, work, jobs, progress, f"classifying {isa.name}")):
        results[form.key] = (spec, form, ics, tracks)
    names = tuple(sorted({s[0] for r in results.values() for t in r[3].values() for s in t.seen}))
    conditions = _conditions(worker, results, jobs, progress) if names else {}
    several = len(worker.comparisons) > 1
    out = [Classification(isa.name, seed, samples, [r[2][c] for r in results.values()], 0.0,
                          c.label if several else "", worker.modes if several else (), names,
                          conditions.get(c, {}), note=c.note)
           for c in worker.comparisons]
    head = out[0]
    head.others = out[1:]
    head.seconds = time.perf_counter() - start
    return head


def replay(witness: Witness, probe: Probe) -> bool:
    """Execute a witness's states again on ``probe`` and check the recorded difference reappears."""
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
