"""RISC-V's system model for the classifier: M, S and U, Sv32 or Sv39, the CSR file, one form per CSR.

Modes and the Popek–Goldberg pair
    States run in M, S and U.  Without the H extension a classic VMM runs every mode of its
    guest in real U, so "privileged" must mean *traps in U, not in the most privileged mode
    the guest uses*: **M vs U** (the headline: a guest that uses M, as the riscv-tests and
    firmware do; sensitivity ranges over states in M, S and U) and **S vs U** (a guest
    kernel in S, as Linux; states in S and U only).

A state
    A JSON-able dict: the registers ``x``, ``pc``, ``mode``, every stored CSR by name, the
    counters ``cycle``/``time``/``instret`` (the timer), the PMP entries (``pmpcfg``,
    ``pmpaddr``), the LR/SC ``reservation``, and ``storage_seed`` from which the program's
    page is filled (the instruction sits at ``pc``, one of a few places in the page).  RAM is
    two page-table sets (A and B) of the machine's paging geometry, one page per level (Sv32
    on RV32: 2; Sv39 on RV64: 3), then the program's page (0x80004000 on RV32, 0x80006000
    on RV64) with a copy beside it.  With ``satp`` on (in the machine's satp format), set A
    maps the page onto itself and set B onto the copy, each through a 4 KiB leaf: the same
    storage at another location, R's "location with storage moved along".  The leaf is a
    user page in U and a supervisor page in S (S may run no user page), and A and D are
    preset, so every mode sees the same storage and no walk writes.  Register values,
    ``xscratch``/``xepc``/``xtval``… and the PMP addresses are XLEN (or pmpaddr) wide; the
    counters are 64-bit at either XLEN (RV32 reads them in halves, ``cycleh``…).  PMP
    entry 0 grants everything (the others are sampled), MPRV is clear, and the devices are
    detached: memory-mapped I/O is storage a monitor protects by mapping, not an
    instruction's system state.

System state and its variants
    The mode, every stored CSR, the counters and PMP are system state; the program sees its
    registers, the next pc, the reservation and its page.  A state's variants differ from
    it in the interrupt enables (``mstatus.MIE``/``SIE``), the timer, the other system
    registers, the configuration bits, or the location of the program's page.

Configuration
    ``mcounteren``/``scounteren`` CY/TM/IR and ``mstatus`` TVM/TW/TSR are sampled as part of
    the state and named, so the classifier can report which settings a theorem needs
    (``rdtime`` in U traps unless both counter enables let it through).

Forms
    Each CSR the machine's CSR file has is its own form of each CSR instruction
    (``csrrs@time``), since the CSR decides the class; every other number, named by the spec
    or not (``fcsr``, the hypervisor CSRs; on RV64 ``cycleh``…, ``mstatush`` and the odd
    ``pmpcfg``, which RV64 does not have), is one more form, ``csrrs@other``, whose samples
    draw the number at random.

Execution uses the machine's own semantics (:class:`~hybridvmm.isas.riscv.machine.RiscvMachine`):
the state is set, the instruction written at ``pc``, one step taken, and a trap handler
records the instruction's own trap instead of vectoring.
"""

from __future__ import annotations

import random
from operator import attrgetter, itemgetter
from typing import Any

from hybridvmm.classify.probe import Comparison, DecoderWords, Form, Outcome, ProbeDefaults, SeededFills, State, sample_immediate
from hybridvmm.isa import ISA, InstructionSpec, shared_decoder
from hybridvmm.isas.riscv.constants import (
    MACHINE,
    MIE,
    MPP,
    MPP_SHIFT,
    MSTATUS_WRITABLE,
    MPRV,
    MXR,
    PTE_A,
    PTE_D,
    PTE_R,
    PTE_U,
    PTE_V,
    PTE_W,
    PTE_X,
    RAM_BASE,
    SEI,
    SIE,
    SUM,
    SUPERVISOR,
    TSR,
    TVM,
    TW,
    USER,
)
from hybridvmm.isas.riscv.csrs import CY, IR, MEDELEG_WRITABLE, MIDELEG_WRITABLE, MIE_WRITABLE, MIP_WRITABLE, STORED, TM
from hybridvmm.isas.riscv.devices import Bus
from hybridvmm.isas.riscv.machine import RiscvMachine
from hybridvmm.isas.riscv.mmu import Geometry
from hybridvmm.isas.riscv.semantics import Semantic

PAGE = 0x1000
M32, M64 = 0xFFFFFFFF, (1 << 64) - 1
XKEYS = tuple(f"x{i}" for i in range(1, 32))
_stored = itemgetter(*STORED)
_stored_attrs = attrgetter(*STORED)
LEAF = PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D

MODES = {"M": MACHINE, "S": SUPERVISOR, "U": USER}
MODE_OF = {v: k for k, v in MODES.items()}
STORAGE_FAULTS = frozenset({"misaligned-fetch", "fetch-access", "load-access", "store-access", "misaligned-load",
                            "misaligned-store", "fetch-page-fault", "load-page-fault", "store-page-fault"})
"""Traps any storage access may raise in any mode (set aside by the privilege test)."""
COUNTERS = (("cycle", CY), ("time", TM), ("instret", IR))
_counters = itemgetter("cycle", "time", "instret")
CONFIGURATION = {
    **{f"mcounteren.{n}": ("mcounteren", 1 << b) for n, b in (("CY", CY), ("TM", TM), ("IR", IR))},
    **{f"scounteren.{n}": ("scounteren", 1 << b) for n, b in (("CY", CY), ("TM", TM), ("IR", IR))},
    "mstatus.TVM": ("mstatus", TVM), "mstatus.TW": ("mstatus", TW), "mstatus.TSR": ("mstatus", TSR),
}
"""Named configuration bits: (CSR, bit mask)."""
CONFIG_MASK = {"mcounteren": 0b111, "scounteren": 0b111, "mstatus": TVM | TW | TSR}
VIEW_BITS = MPRV | SUM | MXR
"""mstatus bits held clear in sampled states: MPRV would change what M-mode loads and stores
see; SUM and MXR cannot change what S sees of its (supervisor, RWX) page, so only the
variant of the other system registers sets them."""
ASIDS = (0, 1)
PMP_NAPOT_RWX = 0x1F
PMP_ALL = {32: 0x7FFFFFFF, 64: (1 << 53) - 1}
"""pmpaddr0 of the NAPOT entry granting everything, as the riscv-tests program it per XLEN."""
OTHER_REGISTERS = ("mscratch", "sscratch", "mepc", "sepc", "mcause", "scause", "mtval", "stval", "mtvec", "stvec",
                   "medeleg", "mideleg", "mie", "mip", "mcountinhibit", "menvcfg", "senvcfg")


class Layout:
    """Where the probe's pages lie for one paging geometry (see the module docstring): page-table
    sets A and B, one page per level each (root first), then the program's page and its copy."""

    def __init__(self, geometry: Geometry):
        self.geometry = geometry
        levels = geometry.levels
        self.set_a = tuple(RAM_BASE + k * PAGE for k in range(levels))
        self.set_b = tuple(RAM_BASE + (levels + k) * PAGE for k in range(levels))
        self.root_a, self.root_b = self.set_a[0], self.set_b[0]
        self.home = RAM_BASE + 2 * levels * PAGE
        self.copy = self.home + PAGE
        self.window = self.home
        """The program's page: its virtual address, and its physical one in M and through set A."""
        self.table_bytes = 2 * levels * PAGE
        self.ram = self.table_bytes + 2 * PAGE
        self.tables = {True: self._tables(True), False: self._tables(False)}

    def _tables(self, user: bool) -> bytes:
        """Sets A and B: the program's page as a user or a supervisor page, a 4 KiB leaf."""
        g = self.geometry
        size, index = g.pte_bytes, (1 << g.vpn_bits) - 1
        data = bytearray(self.table_bytes)
        leaf = LEAF | (PTE_U if user else 0)
        for tables, target in ((self.set_a, self.home), (self.set_b, self.copy)):
            for level, table in zip(range(g.levels - 1, -1, -1), tables):
                at = table - RAM_BASE + size * (self.window >> (12 + g.vpn_bits * level) & index)
                pte = (target >> 12) << 10 | leaf if level == 0 else (tables[g.levels - level] >> 12) << 10 | PTE_V
                data[at:at + size] = pte.to_bytes(size, "little")
        return bytes(data)


PCS = (0x000, 0x004, 0x3A0, 0x7FC, 0x800, 0xC44, 0xFF8, 0xFFC)
"""Where in its page the instruction sits (page ends included); it is written at all of
them, so that its translations outlive a change of the rest of the page."""


class RiscvProbe(ProbeDefaults, DecoderWords):
    """The classifier's view of an RV32 or RV64 hart (see the module docstring)."""

    supervisor_mode = "M"
    user_mode = "U"
    modes = ("M", "S", "U")
    comparisons = (
        Comparison("M", "U", ("M", "S", "U"),
                   "without the H extension a classic VMM runs every guest mode in U, so privileged means "
                   "trapping in U but not in M, the most privileged mode a guest such as firmware or the "
                   "riscv-tests uses; sensitivity ranges over M, S and U"),
        Comparison("S", "U", ("S", "U"),
                   "a guest kernel in S (as Linux) deprivileged to U: trapping in U but not in S; sensitivity "
                   "ranges over S and U"),
    )

    def __init__(self, isa: ISA, semantics: dict[str, Semantic] | None = None):
        """``semantics`` overrides instruction semantics (a mutated machine, for experiments);
        ``machine.csr`` may be altered too (a mutated CSR file)."""
        self.isa = isa
        self.decoder = shared_decoder(isa)
        layout = self.layout = Layout(paging_geometry(isa))
        self.window, self.home, self.copy = layout.window, layout.home, layout.copy
        m = self.machine = RiscvMachine(isa, layout.ram, semantics=semantics)
        xlen = self.bits = m.xlen.bits
        mask = m.xlen.mask
        fmt = self.satp_format = m.csr.satp_format
        self._asid_shift = (fmt.asid_mask & -fmt.asid_mask).bit_length() - 1
        self._fixed_status = m.csr.fixed_status
        self._pmp_all = PMP_ALL[xlen]
        self._pmp_bits = m.pmp.addr_mask.bit_length()
        w, sign = self.window, m.xlen.sign
        wide = (M32, 0x80000000, 0x7FFFFFFF, mask ^ 0x7FFFFFFF) if xlen > 32 else ()
        self._edges = (0, 1, 2, 4, mask, sign, sign - 1, *wide, w, w + PAGE - 4, w + PAGE, w - 4, self.copy,
                       layout.root_a)
        """Edge values of a register (RV64 adds the 32-bit edges the *w operations turn on)."""
        m.bus = Bus([])
        m.code.max_contexts = 256
        m.AHEAD = 0  # one instruction per run: the page's other words are data
        m.flush_translations()
        m.trap_handler = self._record
        self._trap = None
        self._fill = SeededFills(PAGE)
        self._window: tuple | None = None
        self._page = b""
        self._page_hex: str | None = None
        self._pages = b""
        self._code: set[int] = set()
        self._encoded: dict[tuple, bytes] = {}
        """Storage indices of the words translated since RAM was last written."""
        self._nop = self.decoder.encode(isa.instructions["addi"], {"rd": 0, "rs1": 0, "imm_i": 0})
        self._csr_field = {s.name: next((f for f in s.format.fields if isa.fields[f].kind == "csr"), None)
                           for s in isa.instructions.values()}
        spec_names = isa.csr_names
        self.csr_names = {n: spec_names.get(n, m.csr.table[n].name) for n in sorted(m.csr.table)}
        """Every CSR the CSR file has, by number (named as the spec names it): one form each."""
        self._other = tuple(n for n in range(4096) if n not in self.csr_names)
        pool = random.Random(0)
        self._other_pool = [{**self._others(pool), "mstatus": self._status(pool, 0, pool.getrandbits(32) & (SUM | MXR)),
                             **self._pmp(pool)} for _ in range(64)]
        """Values for the other system registers, drawn from by the variants (cheaper than fresh ones)."""

    # --- forms ---------------------------------------------------------------------------
    def forms(self, spec: InstructionSpec) -> list[Form]:
        field = self._csr_field.get(spec.name)
        if field is None:
            return [Form(spec.name)]
        out = [Form(f"{spec.name}@{name}", {field: (number,)}) for number, name in self.csr_names.items()]
        out.append(Form(f"{spec.name}@other", {field: self._other}))
        return out

    def instance_key(self, spec: InstructionSpec, operands: dict[str, int]) -> str:
        field = self._csr_field.get(spec.name)
        if field is None:
            return spec.name
        name = self.csr_names.get(operands[field])
        return f"{spec.name}@{name if name is not None else 'other'}"

    # --- sampling --------------------------------------------------------------------
    def instances(self, spec: InstructionSpec, rng: random.Random, count: int) -> list[dict[str, int]]:
        fields = [self.isa.fields[f] for f in spec.format.fields]
        csr_op = self._csr_field.get(spec.name) is not None
        out: list[dict[str, int]] = []
        for k in range(count):
            ops = {}
            for f in fields:
                lo, hi = f.value_range()
                if f.kind == "reg":
                    # a CSR instruction reads without writing when its source is x0: half of them
                    ops[f.name] = 0 if (csr_op and f.name == "rs1" and k % 2 == 0) else rng.randrange(hi + 1)
                elif csr_op and f.name == "zimm":
                    ops[f.name] = 0 if k % 2 == 0 else rng.randint(lo, hi)
                else:
                    ops[f.name] = sample_immediate(f, k, rng)
            out.append(ops)
        return out

    def _register(self, rng: random.Random) -> int:
        roll = rng.random()
        if roll < 0.45:
            return self.window + 4 * rng.randrange(PAGE // 4)
        if roll < 0.55:
            return self.window + rng.randrange(PAGE)
        if roll < 0.8:
            return rng.getrandbits(self.bits)
        return rng.choice(self._edges)

    def _satp(self, root: int, asid: int) -> int:
        """satp selecting the paged mode with this root and ASID, in the machine's format."""
        fmt = self.satp_format
        return fmt.paged_mode << fmt.mode_shift | asid << self._asid_shift | root >> 12

    def _home(self, satp: int) -> int:
        """The physical page the program's page is at through ``satp``'s table set."""
        return self.copy if self.satp_format.root(satp) == self.layout.root_b else self.home

    def _paged(self, satp: int) -> bool:
        fmt = self.satp_format
        return fmt.mode(satp) == fmt.paged_mode

    def _others(self, rng: random.Random) -> dict[str, int]:
        """Random legal values of the system registers that do not shape the program's view."""
        xlen = self.bits
        tvec = lambda: rng.getrandbits(xlen) & ~2  # noqa: E731 - modes 0 and 1 only
        return {
            "mscratch": rng.getrandbits(xlen), "sscratch": rng.getrandbits(xlen),
            "mepc": rng.getrandbits(xlen) & ~3, "sepc": rng.getrandbits(xlen) & ~3,
            "mcause": rng.getrandbits(xlen), "scause": rng.getrandbits(xlen),
            "mtval": rng.getrandbits(xlen), "stval": rng.getrandbits(xlen),
            "mtvec": tvec(), "stvec": tvec(),
            "medeleg": rng.getrandbits(32) & MEDELEG_WRITABLE, "mideleg": rng.getrandbits(32) & MIDELEG_WRITABLE,
            "mie": rng.getrandbits(32) & MIE_WRITABLE,
            "mip": rng.getrandbits(32) & MIP_WRITABLE if rng.random() < 0.25 else 0,
            "mcountinhibit": rng.getrandbits(3) & 0b101,
            "menvcfg": rng.getrandbits(1), "senvcfg": rng.getrandbits(1),
        }

    def _status(self, rng: random.Random, config: int, view: int = 0) -> int:
        ms = rng.getrandbits(32) & MSTATUS_WRITABLE & ~(VIEW_BITS | CONFIG_MASK["mstatus"]) | view
        if ms >> MPP_SHIFT & 3 == 2:
            ms &= ~MPP
        return ms | config | self._fixed_status

    def _pmp(self, rng: random.Random) -> dict[str, list[int]]:
        """PMP entry 0 grants everything (every mode sees all of RAM); the rest at random."""
        cfg = [PMP_NAPOT_RWX] + [self._pmp_cfg(rng) for _ in range(15)]
        addr = [self._pmp_all] + [rng.getrandbits(self._pmp_bits) for _ in range(15)]
        return {"pmpcfg": cfg, "pmpaddr": addr}

    @staticmethod
    def _pmp_cfg(rng: random.Random) -> int:
        b = rng.getrandbits(8) & 0x9F
        if b & 2 and not b & 1:
            b &= ~2
        return b

    def sample_states(self, rng: random.Random, count: int) -> list[State]:
        states = []
        for k in range(count):
            state: State = {"x": [0] + [self._register(rng) for _ in range(31)],
                            "pc": self.window + rng.choice(PCS), "mode": "M"}
            state.update({name: 0 for name in STORED})
            state.update(self._others(rng))
            # the first states try each counter-enable combination; then at random
            enables = ((0, 0), (7, 7), (7, 0), (0, 7))[k] if k < 4 else (rng.getrandbits(32), rng.getrandbits(32))
            state["mcounteren"], state["scounteren"] = enables
            state["mstatus"] = self._status(rng, rng.getrandbits(32) & CONFIG_MASK["mstatus"])
            paging = rng.random()
            root = self.layout.root_a if paging < 0.8 else self.layout.root_b
            state["satp"] = 0 if paging < 0.4 else self._satp(root, ASIDS[0])
            for name, _ in COUNTERS:
                state[name] = rng.choice((0, 1, 2, M32, M64 - 1, rng.getrandbits(64), rng.getrandbits(40)))
            state.update(self._pmp(rng))
            state["reservation"] = None if rng.random() < 0.5 else self.window + 4 * rng.randrange(PAGE // 4)
            state["storage_seed"] = rng.getrandbits(32)
            states.append(state)
        return states

    def with_mode(self, state: State, mode: str) -> State:
        return {**state, "mode": mode}

    def mode_of(self, state: State) -> str:
        return state["mode"]

    def mode_contrast(self, a: str, b: str) -> str:
        return f"the mode ({a} vs {b})"

    def configuration(self, state: State) -> dict[str, bool]:
        return {name: bool(state[reg] & bit) for name, (reg, bit) in CONFIGURATION.items()}

    def configure(self, state: State, settings: dict[str, bool]) -> State:
        out = dict(state)
        for name, value in settings.items():
            reg, bit = CONFIGURATION[name]
            out[reg] = out[reg] | bit if value else out[reg] & ~bit
        return out

    def system_variants(self, state: State, rng: random.Random) -> list[tuple[Any, ...]]:
        """One state differing in every part of the system state but the mode (its parts, each
        alone, built only if the engine asks): the interrupt enables, the timer, the other
        system registers, the location of the program's page and the configuration bits."""
        ms = state["mstatus"]
        now = _counters(state)
        later = [(c + rng.randint(1, 1 << 20) + (rng.randint(1, 1 << 20) << 32)) & M64 for c in now]  # both halves move
        fresh = dict(self._other_pool[rng.randrange(len(self._other_pool))])
        keep = MIE | SIE | CONFIG_MASK["mstatus"]
        fresh["mstatus"] = fresh["mstatus"] & ~keep | ms & keep
        satp = state["satp"]
        layout = self.layout
        if satp:
            fresh["satp"] = satp & ~self.satp_format.asid_mask | ASIDS[1] << self._asid_shift
        moved = satp ^ ((layout.root_a ^ layout.root_b) >> 12) if satp else self._satp(layout.root_a, ASIDS[0])
        if rng.random() < 0.5:
            flipped = {name: rng.random() < 0.5 for name in CONFIGURATION}
        else:
            flipped = {name: not value for name, value in self.configuration(state).items()}
        timer = dict(zip(("cycle", "time", "instret"), later))
        whole = {**state, **fresh, **timer, "satp": moved}
        whole["mstatus"] = whole["mstatus"] ^ (MIE | SIE)
        whole = self.configure(whole, flipped)

        def parts() -> list[tuple[str, State]]:
            configured = self.configure(state, flipped)
            location = (f"translation (bare vs {layout.geometry.name} mapping the program's page onto itself)"
                        if not satp else
                        f"the location of the program's page (physical 0x{self._home(satp):x} vs "
                        f"0x{self._home(moved):x}, "
                        "storage moved along)")
            return [
                (f"the interrupt enables (mstatus.MIE/SIE {int(bool(ms & MIE))}{int(bool(ms & SIE))} vs "
                 f"{int(not ms & MIE)}{int(not ms & SIE)})", {**state, "mstatus": ms ^ (MIE | SIE)}),
                (f"the timer (cycle/time/instret {_counts(now)} vs {_counts(later)})", {**state, **timer}),
                ("the other system registers (scratch, epc, cause, tval, tvec, delegation, mie/mip, xPP/xPIE, "
                 "SUM/MXR, envcfg, satp.ASID, PMP entries 1-15)", {**state, **fresh}),
                (location, {**state, "satp": moved}),
                ("the configuration bits (mcounteren, scounteren, mstatus.TVM/TW/TSR)", configured),
            ]
        return [("the interrupt enables, the timer, the other system registers, the location of the program's page "
                 "and the configuration bits", whole, parts)]

    # --- execution ---------------------------------------------------------------------
    def _record(self, trap) -> None:
        if self._trap is None and not trap.interrupt:
            self._trap = trap

    def _prepare(self, state: State, raw: bytes) -> None:
        m = self.machine
        user = state["mode"] == "U"
        window = (state["storage_seed"], raw)
        if window != self._window:
            page = bytearray(self._fill(state["storage_seed"]))
            for at in PCS:
                page[at:at + 4] = raw
            self._page = bytes(page)
            self._pages = self._page + self._page
            self._page_hex = None
            self._window = window
        data = m.storage.data
        layout = self.layout
        table_bytes = layout.table_bytes
        tables = layout.tables[user]
        if not data.startswith(tables):
            data[:table_bytes] = tables  # no code is ever translated from the tables
        if not data.endswith(self._pages):
            # Code is only ever translated at the pcs run: drop those whose word changes,
            # then write directly.
            pages = self._pages
            for p in [p for p in self._code if data[p:p + 4] != pages[p - table_bytes:p - table_bytes + 4]]:
                m.storage.invalidate_physical(p, p + 4)
                self._code.discard(p)
            data[table_bytes:] = pages
        c = m.csr
        c.__dict__.update(zip(STORED, _stored(state)))  # the CSR file's state is exactly these attributes
        # The PLIC's lines into mip are detached with the devices: SEIP is the software bit
        # alone, as the state says (else a previous run's sip write would linger in it).
        m.plic.lines.set_state({"seip_soft": state["mip"] >> SEI & 1, "seip_line": 0})
        retired = m.stats.instructions
        inhibit = c.mcountinhibit
        cy, tm, ir = _counters(state)
        c.counter_offset = [cy - retired, tm - retired, ir - retired]
        c.counter_frozen = [cy if inhibit & 1 else None, None, ir if inhibit & 4 else None]
        pmp = m.pmp
        if pmp.cfg[0] != PMP_NAPOT_RWX or pmp.addr[0] != self._pmp_all:
            # an instruction reprogrammed entry 0: contexts made since saw other permissions
            pmp.set_state({"cfg": state["pmpcfg"], "addr": state["pmpaddr"]})
            m.flush_translations()
        elif pmp.cfg != state["pmpcfg"] or pmp.addr != state["pmpaddr"]:
            # Entry 0 matches every address first, so the other entries never decide a check:
            # the regions need no rebuilding (a write to any entry rebuilds them anyway).
            pmp.cfg, pmp.addr = list(state["pmpcfg"]), list(state["pmpaddr"])
        m.x[:] = state["x"]
        m.x[0] = 0
        m.pc = state["pc"]
        m.priv = MODES[state["mode"]]
        window = self.window
        home = window if m.priv == MACHINE or not state["satp"] else self._home(state["satp"])
        reserved = state["reservation"]
        # a state's reservation is an address in the program's page; the hart holds the
        # physical address that page is at
        m.reservation = None if reserved is None else home + (reserved - window)
        m.halted = False
        m.exit_code = None
        m.refresh_mapping()
        m.progress()  # every run is a fresh start: the core's trap-loop guard must never swallow a trap
        self._code.add(home - RAM_BASE + state["pc"] - window)
        self._trap = None

    def _run(self, state: State, raw: bytes) -> Outcome:
        self._prepare(state, raw)
        m = self.machine
        m.step()
        trap = self._trap
        if trap is not None:  # what a trapping run left is never compared
            return Outcome(trap.name, trap.name in STORAGE_FAULTS, {}, {})
        c = m.csr
        # the storage the program saw as it ran (a new satp is a change of system state)
        satp = state["satp"]
        moved = self._paged(satp) and state["mode"] != "M" and self._home(satp) == self.copy
        seen = self.copy if moved else self.home
        page = m.read_physical(seen, PAGE)
        if page == self._page:
            if self._page_hex is None:
                self._page_hex = page.hex()
            words = self._page_hex
        else:
            words = page.hex()
        visible: dict[str, Any] = dict(zip(XKEYS, m.x[1:]))
        # the reservation as the program can tell it apart: which word of its page (sc.w
        # succeeds there), not where the page lies in physical memory
        reserved = m.reservation
        if reserved is not None and seen <= reserved < seen + PAGE:
            reserved += self.window - seen
        visible.update(pc=m.pc, reservation=reserved, storage=words)
        system: dict[str, Any] = {"mode": MODE_OF[m.priv]}
        system.update(zip(STORED, _stored_attrs(c)))
        system.update((name, c.counter(which)) for name, which in COUNTERS)
        system.update(pmpcfg=list(m.pmp.cfg), pmpaddr=list(m.pmp.addr))
        return Outcome(None, False, visible, system)

    def execute(self, state: State, spec: InstructionSpec, operands: dict[str, int]) -> Outcome:
        key = (spec.name, *operands.values())
        raw = self._encoded.get(key)
        if raw is None:
            if len(self._encoded) > 1 << 16:
                self._encoded.clear()
            raw = self._encoded[key] = self.decoder.encode(spec, operands)
        return self._run(state, raw)

    def passage_of_time(self, state: State) -> Outcome:
        return self._run(state, self._nop)

    # --- words ---------------------------------------------------------------------------
    def describe(self, key: str, value: Any) -> str:
        if key == "mode":
            return f"mode={value}"
        if key.startswith("x") and key[1:].isdigit():
            return f"{key} ({self.isa.registers['gpr'].names[int(key[1:])]})=0x{value:x}"
        if key == "pc":
            return f"next pc=0x{value:x}"
        if key == "storage":
            return f"the program's page {value[:16]}…"
        if key == "reservation":
            return "no reservation" if value is None else f"reservation at 0x{value:x}"
        if isinstance(value, list):
            return f"{key}=[{', '.join(f'0x{v:x}' for v in value)}]"
        if isinstance(value, bool):
            return f"{key}={int(value)}"
        if isinstance(value, int):
            return f"{key}=0x{value:x}"
        return f"{key}={value}"

    def contrast(self, key: str, a: Any, b: Any) -> tuple[str, str]:
        """Two differing values in words; the page shows the first differing word."""
        if key != "storage":
            return self.describe(key, a), self.describe(key, b)
        at = next(i for i in range(0, len(a), 2) if a[i:i + 2] != b[i:i + 2]) // 2 & ~3
        return (f"the word at 0x{self.window + at:x} = 0x{int.from_bytes(bytes.fromhex(a[2 * at:2 * at + 8]), 'little'):08x}",
                f"0x{int.from_bytes(bytes.fromhex(b[2 * at:2 * at + 8]), 'little'):08x}")


def paging_geometry(isa: ISA) -> Geometry:
    """The page-table format ``isa``'s hart pages with (Sv32 on RV32, Sv39 on RV64), as its
    machine says: the probe's tables are built for it before the probe's hart is sized."""
    m = RiscvMachine(isa, PAGE)
    fmt = m.csr.satp_format
    geometry = m.paging_geometry(fmt.paged_mode << fmt.mode_shift)
    m.close()
    assert geometry is not None
    return geometry


def _counts(values: list[int]) -> str:
    return "/".join(str(v) for v in values)
