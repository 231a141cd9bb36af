"""Random-but-valid programs for any ISA in ``isa_specs/``: for property tests and the
scanning benchmark.

A program is a run of instruction *slots* (plain instructions, branches, jumps, calls,
returns, traps, halts, indirect jumps and calls in chosen proportions), optionally with
blobs of random data after instructions that never fall through.  Every direct target is
the start of a slot (so nothing overlaps), and the slot after each non-falling-through
instruction is made the target of some branch, so most of the program is reachable.
Everything is read from the spec: lengths, flow kinds (including operand-dependent ones
such as RISC-V ``jal``/``jalr``) and target fields.

An indirect jump or call never computes its target from the spec's zero register
(RISC-V ``jalr t6,453(zero)``): that target is a constant the scanner rightly follows, and
it could land in a data blob, breaking "generated data is never reached".
"""

from __future__ import annotations

import random
from bisect import bisect_left
from dataclasses import dataclass, field

from hybridvmm.image import FLAG_CODE, Image, Section
from hybridvmm.isa import ISA, Decoder, InstructionSpec
from hybridvmm.scan.dataflow import compile_expr

WEIGHTS = {
    "none": 72.0,
    "branch": 12.0,
    "call": 4.0,
    "jump": 4.0,
    "return": 3.0,
    "trap": 2.0,
    "indirect-jump": 1.0,
    "indirect-call": 1.0,
    "halt": 0.5,
}
"""Relative frequency of each flow kind among the slots (kinds the ISA lacks are dropped)."""

NO_FALLTHROUGH = ("jump", "return", "halt", "indirect-jump")
POOL = 32


@dataclass
class Program:
    """A generated program and what the generator knows about it."""

    image: Image
    slots: list[int]
    flows: list[str]
    data: list[tuple[int, int]] = field(default_factory=list)

    @property
    def instructions(self) -> int:
        return len(self.slots)


class Generator:
    """Random programs for one ISA (build once; ``program`` many times)."""

    def __init__(self, isa: ISA, decoder: Decoder | None = None):
        self.isa = isa
        self.decoder = decoder or Decoder(isa)
        self.by_flow: dict[str, list[InstructionSpec]] = {}
        for spec in isa.instructions.values():
            for flow in dict.fromkeys(r.flow for r in spec.flow_rules):
                self.by_flow.setdefault(flow, []).append(spec)
        self.kinds = [k for k in WEIGHTS if self.by_flow.get(k)]
        self.weights = [WEIGHTS[k] for k in self.kinds]
        self._target = {
            s.name: next((f for f in s.format.fields if isa.fields[f].kind in ("pcrel", "abs")), None)
            for s in isa.instructions.values()
        }
        self._pools: dict[tuple[str, str], list[bytes]] = {}
        self._constant_target = _constant_target_fields(isa)

    # --- operands ------------------------------------------------------------------------
    def _operands(self, spec: InstructionSpec, flow: str, rng: random.Random) -> dict[str, int] | None:
        """Random operands for which ``spec`` has ``flow`` (None if none found quickly)."""
        fields = self.isa.fields
        for _ in range(20):
            ops = {}
            for f in spec.format.fields:
                fs = fields[f]
                if fs.kind == "reg":
                    ops[f] = rng.randrange(len(self.isa.registers[fs.regfile].names))
                else:
                    lo, hi = fs.value_range()
                    lo = max(lo, 0) if fs.wrap else lo
                    ops[f] = rng.randint(lo, hi) >> fs.shift << fs.shift
            for rule in spec.flow_rules:
                if rule.flow == flow:
                    for name, op, value in rule.conditions:
                        if op == "==":
                            ops[name] = value
                    break
            if spec.flow_for(ops) == flow and not self._targets_constant(spec, ops):
                return ops
        return None

    def _targets_constant(self, spec: InstructionSpec, ops: dict[str, int]) -> bool:
        """Does ``spec`` with ``ops`` compute its ``pc`` from the zero register alone?"""
        zero, fields = self._constant_target
        return zero is not None and any(ops.get(f) == zero for f in fields.get(spec.name, ()))

    def _pooled(self, spec: InstructionSpec, flow: str, rng: random.Random) -> bytes | None:
        key = (spec.name, flow)
        pool = self._pools.get(key)
        if pool is None:
            pool = []
            for _ in range(POOL):
                ops = self._operands(spec, flow, rng)
                if ops is not None:
                    pool.append(self.decoder.encode(spec, ops))
            self._pools[key] = pool
        return rng.choice(pool) if pool else None

    def _fits(self, spec: InstructionSpec, address: int, target: int) -> dict[str, int] | None:
        f = self._target[spec.name]
        fs = self.isa.fields[f]
        value = target - address if fs.kind == "pcrel" else target
        lo, hi = fs.value_range()
        if lo <= value <= hi and not value & ((1 << fs.shift) - 1):
            return {f: value}
        return None

    def instruction(self, address: int, length: int, targets: list[int], rng: random.Random) -> bytes:
        """A random instruction of exactly ``length`` bytes at ``address``; a direct target,
        if it has one, is one of ``targets`` (self-modifying-code tests rewrite with it)."""
        specs = [s for s in self.isa.instructions.values() if s.length == length]
        for _ in range(50):
            spec = rng.choice(specs)
            flow = rng.choice([r.flow for r in spec.flow_rules])
            ops = self._operands(spec, flow, rng)
            if ops is None:
                continue
            if self._target[spec.name]:
                fit = self._fits(spec, address, rng.choice(targets))
                if fit is None:
                    continue
                ops.update(fit)
            return self.decoder.encode(spec, ops)
        return self._pooled(self.by_flow["none"][0], "none", rng) or b""

    # --- programs ------------------------------------------------------------------------
    def program(self, n: int, rng: random.Random, base: int | None = None, data_chance: float = 0.0,
                max_data: int = 16) -> Program:
        """``n`` instruction slots at ``base`` (default: the ISA's load address or 0)."""
        isa = self.isa
        base = int(isa.system.get("load_address", 0)) if base is None else base
        align = isa.alignment
        kinds = rng.choices(self.kinds, self.weights, k=n)
        specs: list[InstructionSpec] = []
        for k in kinds:
            specs.append(rng.choice(self.by_flow[k]))
        slots: list[int] = []
        data: list[tuple[int, int, bytes]] = []
        addr = base
        for i, spec in enumerate(specs):
            slots.append(addr)
            addr += spec.length
            if kinds[i] in NO_FALLTHROUGH and data_chance and rng.random() < data_chance:
                size = rng.randint(1, max_data) * align
                data.append((addr, addr + size, rng.randbytes(size)))
                addr += size
        # who jumps where: first make every slot after a non-falling-through one a target
        controls = [i for i, spec in enumerate(specs) if kinds[i] in ("branch", "jump", "call") and self._target[spec.name]]
        targets: dict[int, int] = {}
        needs = [i + 1 for i in range(n - 1) if kinds[i] in NO_FALLTHROUGH]
        rng.shuffle(needs)
        for s in needs:
            k = bisect_left(controls, s)
            for c in (controls[j] for j in range(max(0, k - 8), min(len(controls), k + 8))):
                if c not in targets and self._fits(specs[c], slots[c], slots[s]) is not None:
                    targets[c] = s
                    break
        for c in controls:
            if c in targets:
                continue
            for _ in range(8):
                s = min(n - 1, max(0, c + int(rng.gauss(0, 40))))
                if self._fits(specs[c], slots[c], slots[s]) is not None:
                    targets[c] = s
                    break
            else:
                targets[c] = c
        out = bytearray()
        d = 0
        for i, spec in enumerate(specs):
            if i in targets:
                ops = self._operands(spec, kinds[i], rng) or {}
                ops.update(self._fits(spec, slots[i], slots[targets[i]]) or {})
                raw = self.decoder.encode(spec, ops)
            else:
                raw = self._pooled(spec, kinds[i], rng) or self._pooled(self.by_flow["none"][0], "none", rng)
            out += raw
            while d < len(data) and data[d][0] == base + len(out):
                out += data[d][2]
                d += 1
        image = Image(isa=isa.name, entry=base, sections=[Section("text", base, out, FLAG_CODE)], source="<synth>")
        return Program(image, slots, kinds, [(lo, hi) for lo, hi, _ in data])


def _constant_target_fields(isa: ISA) -> tuple[int | None, dict[str, tuple[str, ...]]]:
    """The zero register's number and, per instruction, the register fields its ``pc``
    statement reads (from ``[system.dataflow]``): what makes an indirect target a constant."""
    facts = isa.system.get("dataflow") or {}
    name = facts.get("zero_register")
    zero = isa.registers["gpr"].lookup(name) if name is not None else None
    fields: dict[str, tuple[str, ...]] = {}
    for insn, statements in facts.get("effects", {}).items():
        spec = isa.instructions.get(insn)
        if spec is None:
            continue
        for text in statements:
            dst, sep, rhs = text.partition("=")
            if sep and dst.strip() == "pc":
                _, used = compile_expr(rhs)
                fields[insn] = tuple(f for f in spec.format.fields if f in used and isa.fields[f].kind == "reg")
    return zero, fields
