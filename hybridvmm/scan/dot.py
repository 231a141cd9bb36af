"""Graphviz DOT for a scanned CFG: each block labelled with its disassembly, sensitive
instructions and patches highlighted, edges styled by kind.  Rendered with ``dot -Tsvg``
(:mod:`hybridvmm.scan.graphviz`); an excerpt (:mod:`hybridvmm.scan.excerpt`) keeps a
drawing to one function or one neighbourhood."""

from __future__ import annotations

from html import escape
from typing import Mapping

from hybridvmm.asm.disassembler import format_instruction
from hybridvmm.isa import Instruction
from hybridvmm.isa.spec import PRIVILEGED
from hybridvmm.scan.scanner import Scanner
from hybridvmm.scan.sites import Site
from hybridvmm.symbols import SymbolTable, describe

EDGE_STYLE = {
    "fallthrough": 'color="black"',
    "taken": 'color="darkgreen"',
    "jump": 'color="black", style="bold"',
    "call": 'color="blue", style="dashed"',
    "return-to": 'color="gray50", style="dotted"',
    "indirect": 'color="red", style="dashed"',
}
SITE_COLOR = "#ffb0b0"
USER_SITE_COLOR = "#ff6060"
PATCH_COLOR = "#ffd27a"
PRIVILEGED_COLOR = "#d6e6ff"
STUB_LIMIT = 3
"""Edges of one kind from one block leaving an excerpt, above which one stub lists their targets."""
STUB_LINES = 8


def to_dot(scanner: Scanner, sites: list[Site], name: str = "cfg",
           spaces: list[tuple] = (), symbols: SymbolTable | None = None, *,
           blocks: set[int] | None = None, patches: Mapping[int, str] | None = None,
           privileged: bool = False, title: str = "") -> str:
    """The CFG as DOT text with HTML-like labels (one table row per instruction); each
    relocated space, if any, is drawn as a cluster of its own.  With ``symbols``, a block
    title names its start (``0x100 <boot>``).

    For an excerpt (:mod:`hybridvmm.scan.excerpt`): ``blocks`` are the block starts to draw
    (None: all), and a space may be ``(label, scanner, sites, blocks)``; an edge that leaves
    the excerpt ends at a small dashed node naming its target.  ``patches`` maps a storage
    address to how it was patched (``patched``, ``patched at run time by hybrid``): that
    instruction is marked apart from the sites left alone.  ``privileged`` also tints the
    privileged instructions (those that trap once deprivileged).  ``title`` labels the graph.
    """
    out = [
        f"digraph {_quote(name)} {{",
        '  node [shape=plaintext, fontname="monospace", fontsize=10];',
        '  edge [fontname="sans-serif", fontsize=9];',
    ]
    if title:
        out += [f"  label={_quote(title)};", '  labelloc="t";', '  fontname="sans-serif";']
    look = _Look(symbols, patches or {}, privileged)
    out += _body(scanner, sites, "", "  ", look, blocks)
    for k, (label, sub, sub_sites, *rest) in enumerate(spaces):
        out.append(f"  subgraph cluster_{k} {{")
        out.append(f"    label={_quote(label)};")
        out += _body(sub, sub_sites, f"s{k}_", "    ", _Look(None, look.patches, privileged), rest[0] if rest else None)
        out.append("  }")
    out.append("}")
    return "\n".join(out) + "\n"


MARK_COLOR = {"patch": PATCH_COLOR, "user-site": USER_SITE_COLOR, "site": SITE_COLOR, "privileged": PRIVILEGED_COLOR}


def instruction_mark(ins: Instruction, site: Site | None, patch: str | None, privileged: bool) -> tuple[str, str]:
    """How a drawing marks one instruction: (``patch``, ``user-site``, ``site``,
    ``privileged`` or ``plain``; the tag written after it, `` [classes, patch]``)."""
    classes = sorted(site.classes) if site is not None else []
    if patch is not None:
        return "patch", " [" + ", ".join(classes + [patch]) + "]"
    if site is not None:
        return ("user-site" if site.user_sensitive else "site"), " [" + ", ".join(classes) + "]"
    if privileged and PRIVILEGED in ins.spec.classes:
        return "privileged", " [privileged]"
    return "plain", ""


class _Look:
    """How instructions are marked: names for addresses, patches, privileged tint."""

    def __init__(self, symbols: SymbolTable | None, patches: Mapping[int, str], privileged: bool):
        self.symbols = symbols
        self.patches = patches
        self.privileged = privileged


def _body(scanner: Scanner, sites: list[Site], prefix: str, indent: str, look: _Look,
          only: set[int] | None = None) -> list[str]:
    isa = scanner.isa
    cfg = scanner.cfg
    symbols = look.symbols
    base = scanner.base
    by_address = {s.address: s for s in sites}
    chosen = set(cfg.blocks) if only is None else set(only) & set(cfg.blocks)
    out = []
    for start in sorted(chosen):
        block = cfg.blocks[start]
        root = scanner.roots.get(start)
        title = describe(start, symbols) + (f" ({root[0]}{' ' + root[1] if root[1] else ''})" if root else "")
        rows = [f'<tr><td align="left" bgcolor="#e0e0e0"><b>{escape(title)}</b></td></tr>']
        marked = False
        for ins in block.instructions:
            text = escape(f"{ins.address:08x}  {format_instruction(ins, isa)}")
            kind, tag = instruction_mark(ins, by_address.get(ins.address), look.patches.get(base + ins.address),
                                         look.privileged)
            if kind == "plain":
                rows.append(f'<tr><td align="left">{text}</td></tr>')
            elif kind == "privileged":
                rows.append(f'<tr><td align="left" bgcolor="{MARK_COLOR[kind]}">{text}{escape(tag)}</td></tr>')
            else:
                rows.append(f'<tr><td align="left" bgcolor="{MARK_COLOR[kind]}"><b>{text}{escape(tag)}</b></td></tr>')
                marked = True
        border = ' color="red"' if marked else ""
        out.append(f'{indent}{prefix}b{start:x} [label=<<table border="1" cellborder="0" cellspacing="0"{border}>{"".join(rows)}</table>>];')
    leaving: dict[tuple[int, str], list[int]] = {}
    for edge in sorted(cfg.edges(), key=lambda e: (e.src, e.dst, e.kind)):
        if edge.src not in chosen:
            continue
        style = EDGE_STYLE.get(edge.kind, "")
        if edge.dst in chosen:
            out.append(f'{indent}{prefix}b{edge.src:x} -> {prefix}b{edge.dst:x} [label="{edge.kind}", {style}];')
        else:
            leaving.setdefault((edge.src, edge.kind), []).append(edge.dst)
    stubs: set[str] = set()
    for (src, kind), targets in leaving.items():
        names = [describe(t, symbols) for t in targets]
        if len(targets) > STUB_LIMIT:  # a jump table: one stub lists them, rather than a fan too wide for a page
            shown = names[:STUB_LINES] + ([f"… {len(names) - STUB_LINES} more"] if len(names) > STUB_LINES else [])
            groups = [(f"{prefix}x{src:x}_{kind.replace('-', '_')}", [f"{len(targets)} targets:", *shown])]
        else:
            groups = [(f"{prefix}x{t:x}", [name]) for t, name in zip(targets, names)]
        for node, label in groups:
            if node not in stubs:
                stubs.add(node)
                out.append(f'{indent}{node} [shape=box, style="dashed,rounded", fontname="sans-serif", label={_quote_lines(label)}];')
            out.append(f'{indent}{prefix}b{src:x} -> {node} [label="{kind}", {EDGE_STYLE.get(kind, "")}];')
    for a in sorted(scanner.indirect):
        b = scanner.indirect[a]
        src = cfg.block_of.get(a)
        if not b.resolved and src in chosen:
            out.append(f'{indent}{prefix}u{a:x} [shape=box, style=dashed, label="unresolved {b.kind}\\n0x{a:x}", fontname="sans-serif"];')
            out.append(f'{indent}{prefix}b{src:x} -> {prefix}u{a:x} [style=dashed, color="red"];')
    return out


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _quote_lines(lines: list[str]) -> str:
    """A DOT string of several centred lines."""
    return "\\n".join(_quote(line)[1:-1] for line in lines).join('""')
