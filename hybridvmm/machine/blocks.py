"""The block compiler: a run of guest instructions compiled into one Python function.

The machine dispatches one Python call per guest instruction (``pc = entry[pc]()``).  For
code that runs often, a *block* — straight-line instructions from a head up to and
including the first control transfer, stopping before any instruction that needs the exact
machine state (a system instruction, a hooked address) — is compiled into one function:
each instruction's *piece* (its one-line semantics with the operands, immediates and
targets baked in as literals, supplied by the ISA family; or, where the family has none, a
call of the instruction's own handler) one after the other, so the per-instruction
dispatch disappears.  A block whose last instruction branches back to its own head loops
inside the function (*chained to itself*), a bounded number of times per dispatch.

Exactness, which the per-instruction path defines:

* **Instruction counts** — the run loop counts one instruction per dispatch; a block adds
  the rest to the machine's ``_extra`` cell, exactly as many as completed.
* **A trap in mid-block** — every piece raises before it changes anything (as every
  semantic routine does), with the faulting instruction's pc: the block adds the
  instructions completed before it and re-raises; the loop then takes the trap at that pc,
  so the state and pc are those of the per-instruction path.  ``SyncSignal`` (an MMIO access,
  a device word) likewise stops the block before that instruction, which then runs exactly.
* **The timer** — the loop enters blocks only while its budget covers any block's worst
  case (:data:`BLOCK_MAX` instructions), so the countdown expires at the exact instruction.
* **Stores into code** — a store that overwrites decoded code while a block runs (its own
  code, a patch site) sets the machine's ``_in_block`` cell to 2; the block checks it after
  every instruction that may store and stops right after that one, so nothing stale runs
  (the code cache has dropped the block meanwhile).
* **Invalidation** — a block is dropped with any translation it contains (stores, run-time
  patches, ``sfence.vma``/``satp``, a new mapping), by the code cache.

Tiering: compiling costs tens of microseconds per instruction, so only code that runs often
repays it.  Between chunks the run loop *samples* where it is; an address sampled
:data:`THRESHOLD` times is compiled (a hot loop is sampled again and again, cold code rarely).
"""

from __future__ import annotations

import ast
import builtins
import linecache
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from hybridvmm.isa import Instruction
from hybridvmm.machine.codecache import Context
from hybridvmm.machine.traps import SyncSignal, TrapSignal

if TYPE_CHECKING:
    from hybridvmm.machine.core import Machine

BLOCK_MAX = 64
"""The most instructions one dispatch of a block may run (its own length times the times a
self-chained block repeats).  The run loop's chunks are sized so that this cannot overshoot."""
MAX_LENGTH = 48
"""The most instructions in one block."""
MIN_LENGTH = 4
"""Fewer instructions than this (and no loop) are not worth a block: its entry and exit cost
about what the dispatches it saves do."""
PAGE_SHIFT = 12
"""Binary translation decodes ahead within the page of a block's head (no page walk)."""
THRESHOLD = 2
"""Samples at an address before its block is compiled (see the module docstring and the
README's figures: compiling at the first sample compiled code that never ran again)."""


@dataclass
class Piece:
    """One instruction inside a block: statements with its operands baked in.

    ``lines`` use the names in ``names`` (bound once per block) and local temporaries; a
    sequential piece falls through, a terminal one ends in ``return <pc>`` on every path."""

    lines: list[str]
    names: dict[str, Any] = field(default_factory=dict)
    terminal: bool = False
    branch: tuple[str, int, int] | None = None
    """A conditional branch: (condition, taken target, next): lets the compiler chain a
    block that branches back to its own head."""
    writes: bool = True
    """It may store (and so overwrite decoded code): the block checks after it."""


@dataclass
class Block:
    """A compiled block (``run`` is what the run loop dispatches at ``head``)."""

    head: int
    addresses: tuple[int, ...]
    run: Callable[[], int]
    loops: bool
    dead: bool = False
    back_target: int | None = None
    """Where its last instruction branches (taken), if that is before its head."""


PieceSource = Callable[[Instruction, Context, Callable[[], int], int], "Piece | None"]


class BlockCompiler:
    """Compiles blocks for one machine (see the module docstring)."""

    def __init__(self, machine: "Machine", piece: PieceSource | None):
        self.m = machine
        self.piece = piece
        self.compiled = 0
        """Blocks compiled."""
        self.instructions = 0
        """Instructions compiled (summed over blocks)."""
        self._code: dict[tuple, Any] = {}
        """What determines a block's source → its compiled code (see :meth:`_build`)."""
        self.cache: dict[tuple[int, int], bytes] = {}
        """Binary translation's translation cache as the cost model sees it: (virtual head,
        root address of the head) → the bytes translated.  A block compiled again (its
        mapping was dropped and made anew, as a context switch does) is found there, as a
        monitor that keys its translations by address finds them; a store into a block's
        bytes invalidates it (as a write-protected code page does), so it is translated
        again."""
        self.translations = 0
        """Eager (binary translation) blocks not found in :attr:`cache`: translated."""
        self.translated_instructions = 0
        self.invalidated = 0
        """Translations a store into their code invalidated."""
        self._by_page: dict[int, set[tuple[int, int]]] = {}
        """Root page → the keys of :attr:`cache` whose bytes lie in it."""
        machine.code.written.append(self._written)

    def compile(self, ctx: Context, head: int, eager: bool = False) -> Block | None:
        """Compile the block at ``head`` of ``ctx`` (None if none worth compiling starts there;
        ``eager``: any block at all, however short — binary translation translates everything).

        A block runs on through conditional branches (each a side exit taken when its
        condition holds) and ends at the first other control transfer, before an instruction
        that needs the exact state, or at :data:`MAX_LENGTH`; one that ends by going back to
        its head is chained to itself."""
        insns, entry = ctx.insns, ctx.entry
        if head not in insns or head in ctx.sync or head in ctx.blocks:
            return None
        chosen: list[tuple[Instruction, Piece]] = []
        pc = head
        while len(chosen) < MAX_LENGTH:
            ins = insns.get(pc)
            if ins is None and eager and chosen and pc >> PAGE_SHIFT == head >> PAGE_SHIFT:
                ins = self._decode_ahead(ctx, pc)
            if ins is None or pc in ctx.sync or (chosen and pc == head):
                break
            piece = self.piece(ins, ctx, entry[pc], len(chosen)) if self.piece is not None else None
            if piece is None:
                piece = fallback_piece(ins, entry[pc], len(chosen))
            chosen.append((ins, piece))
            if piece.terminal and not (piece.branch is not None and piece.branch[1] != head
                                       and piece.branch[2] == ins.next_address):
                break
            pc = ins.next_address
        if not chosen or (not eager and len(chosen) < MIN_LENGTH and not self._loops(head, chosen)):
            return None
        block = self._build(head, chosen)
        self.m.code.add_block(ctx, block)
        if eager:
            self._account(ctx, head, chosen)
        self.compiled += 1
        self.instructions += len(chosen)
        return block

    def compile_loop_head(self, ctx: Context, block: Block) -> Block | None:
        """A hot block found in the middle of a loop (where the run loop's sample fell)
        that ends by branching back to an earlier address a little before its head: compile
        the loop from that address too, so that the loop chains to itself."""
        target = block.back_target
        if target is None or target in ctx.blocks or not 0 < block.head - target <= 4 * MAX_LENGTH:
            return None
        return self.compile(ctx, target)

    def _decode_ahead(self, ctx: Context, pc: int) -> Instruction | None:
        """Translation decodes a block's instructions before they run (within the head's
        page only: nothing is walked or faulted on that the per-instruction path would not)."""
        try:
            self.m._translate_current(pc)
        except TrapSignal:
            return None
        return ctx.insns.get(pc) if self.m._ctx is ctx else None

    def _account(self, ctx: Context, head: int, chosen: list[tuple[Instruction, Piece]]) -> None:
        key = (head, ctx.physical[head])
        raw = b"".join(ins.raw for ins, _ in chosen)
        if self.cache.get(key) == raw:
            return
        self.cache[key] = raw
        for page in range(key[1] >> PAGE_SHIFT, ((key[1] + len(raw) - 1) >> PAGE_SHIFT) + 1):
            self._by_page.setdefault(page, set()).add(key)
        self.translations += 1
        self.translated_instructions += len(chosen)

    def _written(self, start: int, end: int) -> None:
        """A store into translated code (root ``[start, end)``): its translations are void."""
        if not self.cache:
            return
        cache, by_page = self.cache, self._by_page
        for page in range(start >> PAGE_SHIFT, ((end - 1) >> PAGE_SHIFT) + 1):
            keys = by_page.get(page)
            if not keys:
                continue
            doomed = [key for key in keys if key in cache and key[1] < end and key[1] + len(cache[key]) > start]
            for key in doomed:
                del cache[key]
                keys.discard(key)
            self.invalidated += len(doomed)

    def forget(self) -> None:
        """Drop what this compiler remembers (its machine is discarded)."""
        self._code.clear()
        self.cache.clear()
        self._by_page.clear()

    @staticmethod
    def _loops(head: int, chosen: list[tuple[Instruction, Piece]]) -> bool:
        """Does the block end by going back to its own head (conditionally or not)?"""
        last = chosen[-1][1]
        return (last.branch is not None and last.branch[1] == head) or last.lines == [f"return {head}"]

    def _build(self, head: int, chosen: list[tuple[Instruction, Piece]]) -> Block:
        m = self.m
        names: dict[str, Any] = {"L": m._left, "R": m._resume, "IB": m._in_block, "BR": m._block_runs,
                                 "TrapSignal": TrapSignal, "SyncSignal": SyncSignal, "SINGLE": m._ctx.entry[head]}
        for _, piece in chosen:
            for name, value in piece.names.items():
                if names.setdefault(name, value) is not value:
                    raise RuntimeError(f"block piece name {name} bound twice to different values")
        idx = {ins.address: k for k, (ins, _) in enumerate(chosen)}
        names["IDX"] = idx
        last = chosen[-1][1]
        loops = self._loops(head, chosen)
        # the source is a function of the pieces' text, of the addresses, and of which names
        # stand for the same object (dead stores): a block made again over the same code —
        # its mapping was dropped and made anew, as a context switch does on RISC-V — finds
        # its compiled code here, and costs only the binding of its names
        seen: dict[int, int] = {}
        key = (head, loops, tuple((ins.address, ins.next_address, tuple(piece.lines), piece.terminal, piece.branch,
                                   piece.writes) for ins, piece in chosen),
               tuple(names), tuple(seen.setdefault(id(v), len(seen)) for v in names.values()))
        code = self._code.get(key)
        if code is None:
            code = self._code[key] = self._compile_source(head, chosen, names, loops)
        scope: dict[str, Any] = {}
        exec(code, scope)
        run = scope["make"](**names)
        target = last.branch[1] if last.branch is not None else None
        return Block(head, tuple(idx), run, loops, back_target=target if target is not None and target < head else None)

    def _compile_source(self, head: int, chosen: list[tuple[Instruction, Piece]], names: dict[str, Any],
                        loops: bool) -> Any:
        """The block's function as Python source, compiled (``make(**names)`` returns it)."""
        n = len(chosen)
        writes = any(piece.writes for _, piece in chosen[:-1])
        # L[0]: instructions the run loop may still run in this chunk (it takes one off per
        # dispatch itself); a block runs only if it fits, and takes off the rest it ran.
        # ran(k): what L must say once instructions 0..k have run and the block returns.
        ran = (lambda k: f"L[0] = left - j * {n} - {k}") if loops else (lambda k: f"L[0] = left - {k}")
        out = ["def run():", "    left = L[0]", f"    if left < {n}:", "        return SINGLE()", "    BR[0] += 1"]
        if loops:
            out += [f"    rounds = left // {n}", "    j = 0"]
        if writes:
            out += ["    IB[0] = 1", "    W = False"]
        out.append("    try:")
        pad = " " * (12 if loops else 8)
        if loops:
            out.append("        while True:")
        body = live_lines([piece for _, piece in chosen])
        for k, (ins, piece) in enumerate(chosen):
            final = k == n - 1
            if final and loops:
                if piece.branch is not None:
                    cond, _, fall = piece.branch
                    out += [f"{pad}if not ({cond}):", f"{pad}    {ran(k)}", f"{pad}    return {fall}"]
                out += [f"{pad}j += 1", f"{pad}if j == rounds:", f"{pad}    L[0] = left - j * {n} + 1",
                        f"{pad}    return {head}"]
                continue
            if final:
                out.append(f"{pad}{ran(k)}")
                out.extend(pad + line for line in body[k])
                if not piece.terminal:
                    out.append(f"{pad}return {ins.next_address}")
                continue
            if piece.terminal:                     # a conditional branch mid-block: a side exit
                cond, taken, _ = piece.branch
                out += [f"{pad}if {cond}:", f"{pad}    {ran(k)}", f"{pad}    return {taken}"]
                continue
            noted = after_writes(body[k]) if piece.writes else None
            out.extend(pad + line for line in (noted or body[k]))
            if piece.writes:
                # it overwrote decoded code: stop right after it
                out += [f"{pad}if {'W' if noted else 'IB[0] == 2'}:", f"{pad}    {ran(k)}",
                        f"{pad}    return {ins.next_address}"]
        # the instruction at k trapped (a trap names where its instruction is) or must run
        # exactly: k completed before it, and the run loop takes off nothing
        undone = [f"        {ran('k')}"] if loops else [f"        if k < {n - 1}:", f"            {ran('k')}"]
        out += ["    except TrapSignal as e:", "        k = IDX[e.address]", *undone, "        R[0] = e.address",
                "        raise",
                "    except SyncSignal as e:", "        k = IDX[e.pc]", *undone, "        R[0] = e.pc", "        raise"]
        if writes:
            out += ["    finally:", "        IB[0] = 0"]
        out = keep_in_locals(out, names, self.m.block_locals, loops)
        if loops:
            out = hoist_addresses(out)
        params = ", ".join(names)
        source = f"def make({params}):\n" + "\n".join("    " + line for line in out) + "\n    return run\n"
        filename = f"<block 0x{head:x} of {n}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        return compile(source, filename, "exec")


NEVER_STORE = frozenset({"load", "tr", "tw", "fault", "misaligned_target", "TrapSignal", "illegal", "_div", "_rem",
                         "_div32", "_rem32", "int", "get"})
"""Callables a piece may call without storing (anything else it calls may overwrite code)."""
BUILTIN_NAMES = frozenset(dir(builtins))
NOT_STORING = NEVER_STORE | BUILTIN_NAMES
"""Names a piece may call without storing: :data:`NEVER_STORE` and Python's builtins."""
LOCAL_SAFE_CALLS = NEVER_STORE | {"store", "inval", "SyncSignal"}
"""What a block may call and still keep registers in locals: none of these reads or writes
the register file or the flags (a store's slow path reaches memory and devices only; a
trap's handler reads them only after the block has written them back)."""
_CALL = re.compile(r"\b([A-Za-z_]\w*)\(")
_ASSIGN = r"\s*(?:[-+*/%&|^]|<<|>>|//|\*\*)?=(?!=)"


def callable_name(name: str) -> str:
    """A piece's name for a callable without its piece-number suffix (``load_3`` → ``load``)."""
    return name.rsplit("_", 1)[0]


def after_writes(lines: list[str]) -> list[str] | None:
    """A piece's lines noting in the local ``W`` whether each call that may store (a store's
    slow path, where it reaches the machine: its fast path never writes watched code) made
    the block's code stale, so that the check after the piece costs a local's test on the
    fast path; None where such a call is not a statement of its own."""
    out = []
    for line in lines:
        out.append(line)
        calls = [name for name in _CALL.findall(line) if callable_name(name) not in NOT_STORING]
        if not calls:
            continue
        stripped = line.lstrip()
        if not (len(calls) == 1 and stripped.startswith(calls[0] + "(") and stripped.endswith(")")):
            return None
        out.append(line[:len(line) - len(stripped)] + "W = IB[0] == 2")
    return out


def keep_in_locals(out: list[str], names: dict[str, Any], lists: tuple, loops: bool) -> list[str]:
    """The block's lines with the register file (and the machine's other ``lists``: pgm's
    flag cells) kept in Python locals while it runs: loaded before the instructions, written
    back in ``finally`` (so on every way out, a trap's included, before anyone can look).
    Only where every use is a constant index, the block calls nothing that might read them
    behind its back, and the locals save more than their loading costs."""
    start = out.index("    try:")
    end = next(i for i in range(start, len(out)) if out[i].startswith("    except "))
    body = "\n".join(out[start + 1:end])
    if any(callable_name(name) not in LOCAL_SAFE_CALLS for name in _CALL.findall(body)):
        return out
    loads, stores, total = [], [], 0
    for n, obj in enumerate(lists):
        aliases = [alias for alias, value in names.items() if value is obj]
        if not aliases:
            continue
        pattern = "|".join(re.escape(a) for a in aliases)
        uses = re.findall(rf"\b(?:{pattern})\[(\d+)\]", body)
        if len(uses) != len(re.findall(rf"\b(?:{pattern})\b", body)):
            return out                                     # an index computed at run time, or the list itself
        written = set(re.findall(rf"\b(?:{pattern})\[(\d+)\]{_ASSIGN}", body))
        indices = sorted(set(uses), key=int)
        total += len(uses) - len(indices) - len(written)
        loads += [f"L{n}_{i} = {aliases[0]}[{i}]" for i in indices]
        stores += [f"{aliases[0]}[{i}] = L{n}_{i}" for i in sorted(written, key=int)]
        body = re.sub(rf"\b(?:{pattern})\[(\d+)\]", lambda m, n=n: f"L{n}_{m.group(1)}", body)
    if not loads or (total <= 0 and not loops):
        return out
    new = out[:start] + ["    " + "; ".join(loads), "    try:"] + body.split("\n") + out[end:]
    if stores:
        if new[-2] == "    finally:":
            new.append("        " + "; ".join(stores))
        else:
            new += ["    finally:", "        " + "; ".join(stores)]
    return new


_ADDRESS = re.compile(r"^(\s*)(\w+) = (L\d+_\d+) \+ \((-?\d+)\) & (\w+)$")
_LOOP = "        while True:"


def hoist_addresses(out: list[str]) -> list[str]:
    """A loop block's lines with each address that is a register (kept in a local the loop
    never writes) plus a constant computed once before the loop, and with it the tests that
    depend on that address alone (alignment, within RAM): what is left in the loop is the
    test of the code marks, which stores can change. The tests keep their order, so that a
    mark is looked up only where it was before."""
    if _LOOP not in out:
        return out
    loop = out.index(_LOOP)
    end = next(i for i in range(loop, len(out)) if out[i].startswith("    except ") or out[i] == "    finally:")
    body = out[loop + 1:end]
    text = "\n".join(body)
    before: list[str] = []
    n = 0
    for i, line in enumerate(body[:-1]):
        match = _ADDRESS.match(line)
        test = re.fullmatch(r"(\s*)if (.*):", body[i + 1])
        if match is None or test is None or test.group(1) != match.group(1):
            continue
        indent, var, register, offset, mask = match.groups()
        if re.search(rf"\b{register}{_ASSIGN}", text):
            continue                                       # the loop writes the register: not invariant
        terms = test.group(2).split(" or ")
        fixed = [t for t in terms if re.fullmatch(rf"{var} (?:&|>) \d+", t)]
        marks = [t for t in terms if re.fullmatch(rf"\w+\[{var}(?: >> \d+)?\]", t)]
        if len(fixed) + len(marks) != len(terms) or terms[:len(fixed)] != fixed:
            continue
        address = f"HA{n}"
        before.append(f"        {address} = {register} + ({offset}) & {mask}")
        tests = marks
        if fixed:
            before.append(f"        HF{n} = " + " or ".join(re.sub(rf"\b{var}\b", address, t) for t in fixed))
            tests = [f"HF{n}"] + marks
        body[i] = f"{indent}{var} = {address}"
        body[i + 1] = f"{indent}if {' or '.join(tests)}:"
        n += 1
    if not before:
        return out
    return out[:loop] + before + [_LOOP] + body + out[end:]


_TOP_WRITE = re.compile(r"^(\w+)\[(\d+)\] = (.*)$")


def live_lines(pieces: list[Piece]) -> list[list[str]]:
    """Each piece's lines without the stores a later piece makes dead: a top-level store
    into ``obj[i]`` (a flag, a register) that a later piece stores again before anything
    reads ``obj`` or can leave the block (no call, which may trap; no exit in between).
    pgm's arithmetic sets the lazy flags and a compare sets them again right after: only
    the compare's survive."""
    ids = [{alias: id(obj) for alias, obj in piece.names.items()} for piece in pieces]
    info = [_store_info(piece, names) for piece, names in zip(pieces, ids)]
    out = []
    for k, piece in enumerate(pieces):
        writes, reads, pure = info[k]
        dead = set()
        for line_no, slot in writes.items():
            if slot[0] not in reads:
                for later in range(k + 1, len(pieces)):
                    w, r, p = info[later]
                    if slot[0] in r or not p:
                        break
                    if slot in w.values():
                        dead.add(line_no)
                        break
        out.append([line for i, line in enumerate(piece.lines) if i not in dead])
    return out


def _store_info(piece: Piece, names: dict[str, int]) -> tuple[dict[int, tuple[int, str]], set[int], bool]:
    """(top-level stores without a call: line → (object id, index); objects read; whether
    the piece is free of calls and exits)."""
    writes: dict[int, tuple[int, str]] = {}
    lhs: dict[str, int] = {}
    for i, line in enumerate(piece.lines):
        m = _TOP_WRITE.match(line)
        if m and m.group(1) in names and not _calls(m.group(3)):
            writes[i] = (names[m.group(1)], m.group(2))
            lhs[m.group(1)] = lhs.get(m.group(1), 0) + 1
    reads = set()
    text = "\n".join(piece.lines)
    for alias, obj in names.items():
        if len(re.findall(rf"\b{re.escape(alias)}\b", text)) > lhs.get(alias, 0):
            reads.add(obj)
    try:
        tree = ast.parse(text)
        pure = not piece.terminal and not any(isinstance(node, (ast.Call, ast.Return, ast.Raise))
                                               for node in ast.walk(tree))
    except SyntaxError:
        pure = False
    return writes, reads, pure


def _calls(expression: str) -> bool:
    """Does ``expression`` call anything (or fail to parse)?"""
    try:
        return any(isinstance(node, ast.Call) for node in ast.walk(ast.parse(expression, mode="eval")))
    except SyntaxError:
        return True


def fallback_piece(ins: Instruction, handler: Callable[[], int], k: int) -> Piece:
    """An instruction the family gives no piece for: its own handler, called."""
    name = f"h{k}"
    if ins.flow == "none":
        return Piece([f"{name}()"], {name: handler})
    return Piece([f"return {name}()"], {name: handler}, terminal=True)
