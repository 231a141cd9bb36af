"""Graphviz DOT for a scanned CFG: each block labelled with its disassembly, sensitive
instructions highlighted, edges styled by kind.  Rendered with ``dot -Tsvg``."""

from __future__ import annotations

from html import escape

from hybridvmm.asm.disassembler import format_instruction
from hybridvmm.scan.scanner import Scanner
from hybridvmm.scan.sites import Site
from hybridvmm.symbols import SymbolTable

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


def to_dot(scanner: Scanner, sites: list[Site], name: str = "cfg",
           spaces: list[tuple[str, Scanner, list[Site]]] = (), symbols: SymbolTable | None = None) -> str:
    """The CFG as DOT text with HTML-like labels (one table row per instruction); each
    relocated space, if any, is drawn as a cluster of its own.  With ``symbols``, a block
    title names its start (``0x100 <boot>``)."""
    out = [
        f"digraph {_quote(name)} {{",
        '  node [shape=plaintext, fontname="monospace", fontsize=10];',
        '  edge [fontname="sans-serif", fontsize=9];',
    ]
    out += _body(scanner, sites, "", "  ", symbols)
    for k, (label, sub, sub_sites) in enumerate(spaces):
        out.append(f"  subgraph cluster_{k} {{")
        out.append(f"    label={_quote(label)};")
        out += _body(sub, sub_sites, f"s{k}_", "    ")
        out.append("  }")
    out.append("}")
    return "\n".join(out) + "\n"


def _body(scanner: Scanner, sites: list[Site], prefix: str, indent: str, symbols: SymbolTable | None = None) -> list[str]:
    isa = scanner.isa
    cfg = scanner.cfg
    by_address = {s.address: s for s in sites}
    out = []
    for start in sorted(cfg.blocks):
        block = cfg.blocks[start]
        root = scanner.roots.get(start)
        label = symbols.nearest(start) if symbols else ""
        title = f"0x{start:x}" + (f" {label}" if label else "") + (f" ({root[0]}{' ' + root[1] if root[1] else ''})" if root else "")
        rows = [f'<tr><td align="left" bgcolor="#e0e0e0"><b>{escape(title)}</b></td></tr>']
        for ins in block.instructions:
            text = escape(f"{ins.address:08x}  {format_instruction(ins, isa)}")
            site = by_address.get(ins.address)
            if site is None:
                rows.append(f'<tr><td align="left">{text}</td></tr>')
            else:
                color = USER_SITE_COLOR if site.user_sensitive else SITE_COLOR
                tag = escape(" [" + ", ".join(sorted(site.classes)) + "]")
                rows.append(f'<tr><td align="left" bgcolor="{color}"><b>{text}{tag}</b></td></tr>')
        border = ' color="red"' if any(i.address in by_address for i in block.instructions) else ""
        out.append(f'{indent}{prefix}b{start:x} [label=<<table border="1" cellborder="0" cellspacing="0"{border}>{"".join(rows)}</table>>];')
    for edge in sorted(cfg.edges(), key=lambda e: (e.src, e.dst, e.kind)):
        style = EDGE_STYLE.get(edge.kind, "")
        out.append(f'{indent}{prefix}b{edge.src:x} -> {prefix}b{edge.dst:x} [label="{edge.kind}", {style}];')
    for a in sorted(scanner.indirect):
        b = scanner.indirect[a]
        if not b.resolved:
            src = cfg.block_of[a]
            out.append(f'{indent}{prefix}u{a:x} [shape=box, style=dashed, label="unresolved {b.kind}\\n0x{a:x}", fontname="sans-serif"];')
            out.append(f'{indent}{prefix}b{src:x} -> {prefix}u{a:x} [style=dashed, color="red"];')
    return out


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
