"""pgm's system model for the classifier: sampled states, system-state variants, execution.

A state is a JSON-able dict: registers, flags, pc, M (``user``), IE, R (``base``,
``bound``), the timer and its pending request, and ``storage_seed`` from which the whole
storage is filled deterministically.  A relocated state adds ``moved_from``: the window
R covers was copied from there, so the storage seen through R is the same — exactly the
"location of R with the storage moved along" of docs/theory.md, 'Instruction classes'.  The instruction under test
is written at ``pc`` inside R's window before anything is moved.

Execution uses the real pgm semantics (:class:`~hybridvmm.isas.pgm.machine.PgmMachine`) with a
trap handler that records the instruction's own trap instead of swapping PSWs.
"""

from __future__ import annotations

import random
from typing import Any

from hybridvmm.classify.probe import DecoderWords, Outcome, SeededFills, State, sample_immediate
from hybridvmm.isa import Decoder, ISA, InstructionSpec
from hybridvmm.isas.pgm.machine import PgmMachine
from hybridvmm.isas.pgm.semantics import Semantic

STORAGE = 0x2000
LOW = 0x100
"""Windows start at or above this, clear of the absolute PSW and vector area."""
STORAGE_FAULTS = frozenset({"bounds", "misaligned"})
SYSTEM_KEYS = ("user", "ie", "base", "bound", "timer", "timer_pending", "halted")
M32 = 0xFFFFFFFF


class PgmProbe(DecoderWords):
    """The classifier's view of a pgm variant."""

    def __init__(self, isa: ISA, semantics: dict[str, Semantic] | None = None):
        """``semantics`` overrides instruction semantics (a mutated machine, for experiments)."""
        self.isa = isa
        self.decoder = Decoder(isa)
        self.machine = PgmMachine(isa, STORAGE, semantics=semantics)
        self.machine.trap_handler = self._record
        self._trap = None
        self._fill = SeededFills(STORAGE)
        self._nop = isa.instructions[isa.system.get("probe_reference", "nop")]

    # --- sampling --------------------------------------------------------------------
    def instances(self, spec: InstructionSpec, rng: random.Random, count: int) -> list[dict[str, int]]:
        fields = [self.isa.fields[f] for f in spec.format.fields]
        out: list[dict[str, int]] = []
        for k in range(count):
            ops = {}
            for f in fields:
                if f.kind == "reg":
                    ops[f.name] = rng.randrange(f.value_range()[1] + 1)
                else:
                    ops[f.name] = sample_immediate(f, k, rng)
            out.append(ops)
        return out

    def sample_states(self, rng: random.Random, count: int) -> list[State]:
        states = []
        for k in range(count):
            edge = k < 16
            if edge and k % 4 == 0:  # R reaching the top of storage
                bound = rng.choice([0x40, 0x200, 0x800])
                base = STORAGE - bound
            else:
                bound = rng.choice([0x40, 0x100, 0x200, 0x400, 0x800])
                base = LOW + 4 * rng.randrange((STORAGE - LOW - bound) // 4 + 1)
            pool = [bound - 4, bound - 1, bound, bound + 4, 0, 4, M32 - 3, base, base + bound]
            regs = []
            for r in range(16):
                roll = rng.random()
                if roll < 0.45:
                    regs.append(4 * rng.randrange(bound // 4))
                elif roll < 0.75:
                    regs.append(rng.getrandbits(32))
                else:
                    regs.append(rng.choice(pool) & M32)
            regs[15] = 4 * rng.randrange(1, bound // 4 + 1) if rng.random() < 0.85 else rng.choice(pool) & M32
            pc = 2 * rng.randrange((bound - 6) // 2 + 1)
            if edge and k % 4 == 1:
                pc = bound - 6
            ie = bool(rng.getrandbits(1))
            timer = rng.choice([0, 0, 1, 2, 3, rng.randint(4, 5000)]) if not edge else (k % 4)
            states.append({
                "regs": regs,
                "flags": rng.getrandbits(4),
                "pc": pc,
                "user": False,
                "ie": ie,
                "base": base,
                "bound": bound,
                "timer": timer,
                "timer_pending": (not ie) and rng.random() < 0.1,
                "storage_seed": rng.getrandbits(32),
            })
        return states

    supervisor_mode = "supervisor"
    user_mode = "user"

    def with_mode(self, state: State, mode: str) -> State:
        return {**state, "user": mode == self.user_mode}

    def mode_of(self, state: State) -> str:
        return self.user_mode if state["user"] else self.supervisor_mode

    def system_variants(self, state: State, rng: random.Random) -> list[tuple[str, State]]:
        variants = [(f"IE {int(state['ie'])} vs {int(not state['ie'])}", {**state, "ie": not state["ie"], "timer_pending": False})]
        other = state["timer"] + rng.randint(1, 5000) if state["timer"] < 3 else rng.randint(0, 2)
        variants.append((f"the timer ({state['timer']} vs {other})", {**state, "timer": other}))
        bound = state["bound"]
        candidates = [b for b in range(LOW, STORAGE - bound + 1, 0x40) if abs(b - state["base"]) >= bound]
        if candidates and "moved_from" not in state:
            new_base = rng.choice(candidates)
            variants.append((
                f"R.base (0x{state['base']:x} vs 0x{new_base:x}, storage moved along)",
                {**state, "base": new_base, "moved_from": state["base"]},
            ))
        return variants

    # --- execution ---------------------------------------------------------------------
    def _record(self, trap) -> None:
        if self._trap is None and not trap.interrupt:
            self._trap = trap

    def _prepare(self, state: State, raw: bytes) -> None:
        m = self.machine
        m.progress()  # every run is a fresh start: the trap-loop guard must never swallow a trap
        storage = bytearray(self._fill(state["storage_seed"]))
        origin = state.get("moved_from", state["base"])
        at = origin + state["pc"]
        storage[at:at + len(raw)] = raw
        if "moved_from" in state:
            window = storage[origin:origin + state["bound"]]
            storage[state["base"]:state["base"] + state["bound"]] = window
        m.write(0, bytes(storage))
        m.console.output.clear()
        m.set_state(
            regs=state["regs"], flags=state["flags"], pc=state["pc"], user=state["user"], ie=state["ie"],
            base=state["base"], bound=state["bound"], timer=state["timer"],
            timer_pending=state["timer_pending"], halted=False,
        )
        self._trap = None

    def _run(self, state: State, raw: bytes) -> Outcome:
        self._prepare(state, raw)
        m = self.machine
        m.step()
        trap = self._trap
        st = m.state()
        # The program's storage is what it saw through R when it ran; a new R is a change of
        # system state (control sensitivity), not a different program-visible result.
        window = m.read(state["base"], state["bound"])
        visible: dict[str, Any] = {f"r{i}": v for i, v in enumerate(st.regs)}
        visible.update(flags=st.flags, pc=st.pc, storage=window.hex())
        system = {k: getattr(st, k) for k in SYSTEM_KEYS}
        return Outcome(trap.name if trap else None, bool(trap and trap.name in STORAGE_FAULTS), visible, system)

    def execute(self, state: State, spec: InstructionSpec, operands: dict[str, int]) -> Outcome:
        return self._run(state, self.decoder.encode(spec, operands))

    def passage_of_time(self, state: State) -> Outcome:
        return self._run(state, self.decoder.encode(self._nop, {}))

    # --- words ---------------------------------------------------------------------------
    def describe(self, key: str, value: Any) -> str:
        if key == "user":
            return "M=" + ("user" if value else "supervisor")
        if key in ("ie", "timer_pending", "halted"):
            return f"{ {'ie': 'IE', 'timer_pending': 'timer-pending', 'halted': 'halted'}[key] }={int(bool(value))}"
        if key in ("base", "bound"):
            return f"R.{key}=0x{value:x}"
        if key == "timer":
            return f"timer={value}"
        if key.startswith("r") and key[1:].isdigit():
            return f"{key}=0x{value:x}"
        if key == "flags":
            return f"NZCV={value:04b}"
        if key == "pc":
            return f"next pc=0x{value:x}"
        if key == "storage":
            return f"storage through R {value[:16]}…"
        return f"{key}={value}"

    def contrast(self, key: str, a: Any, b: Any) -> tuple[str, str]:
        """Two differing values in words; storage shows the first differing word."""
        if key != "storage":
            return self.describe(key, a), self.describe(key, b)
        at = next(i for i in range(0, len(a), 2) if a[i:i + 2] != b[i:i + 2]) // 2 & ~3
        return (f"the word at R+0x{at:x} = 0x{int.from_bytes(bytes.fromhex(a[2 * at:2 * at + 8]), 'little'):08x}",
                f"0x{int.from_bytes(bytes.fromhex(b[2 * at:2 * at + 8]), 'little'):08x}")
