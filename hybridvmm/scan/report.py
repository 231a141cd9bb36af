"""A scan as data (``scan --json``) and as text: blocks, edges, sites, unresolved, data."""

from __future__ import annotations

from hybridvmm.asm.disassembler import format_instruction
from hybridvmm.scan.model import Problem
from hybridvmm.scan.ranges import data_ranges
from hybridvmm.scan.scanner import Scanner
from hybridvmm.scan.sites import Site
from hybridvmm.symbols import SymbolTable


def _problem(p: Problem) -> dict:
    return {
        "address": p.address,
        "reason": p.reason,
        "source": p.source,
        "kind": p.kind,
        "conflicts_with": p.conflicts_with,
        "detail": p.detail,
    }


def scan_report(scanner: Scanner, sites: list[Site], patched: set[int] | None = None,
                symbols: SymbolTable | None = None) -> dict:
    """Everything ``scan`` prints, as JSON-ready data (addresses as integers); with
    ``symbols``, each block carries the ``<symbol+off>`` that names its start ("" if none)."""
    isa = scanner.isa
    cfg = scanner.cfg
    patched = patched or set()
    blocks = [cfg.blocks[s] for s in sorted(cfg.blocks)]
    edges = sorted(cfg.edges(), key=lambda e: (e.src, e.dst, e.kind))
    data = data_ranges(cfg, scanner.memory.regions())
    indirect = [scanner.indirect[a] for a in sorted(scanner.indirect)]
    problems = sorted(scanner.problems.values(), key=lambda p: (p.address, p.source if p.source is not None else -1, p.kind))
    return {
        "isa": isa.name,
        "base": scanner.base,
        "roots": [{"address": a, "kind": k, "name": n} for a, (k, n) in sorted(scanner.roots.items())],
        "summary": {
            "instructions": len(cfg.instructions),
            "blocks": len(blocks),
            "edges": len(edges),
            "sites": len(sites),
            "user_sensitive_sites": sum(1 for s in sites if s.user_sensitive),
            "indirect": len(indirect),
            "unresolved": sum(1 for b in indirect if not b.resolved),
            "overlaps": sum(1 for p in problems if p.reason == "overlap"),
            "problems": len(problems),
            "data_bytes": sum(hi - lo for lo, hi in data),
        },
        "blocks": [
            {"start": b.start, "end": b.end, "instructions": len(b), "name": symbols.nearest(b.start) if symbols else ""}
            for b in blocks
        ],
        "edges": [{"src": e.src, "dst": e.dst, "kind": e.kind, "address": e.address} for e in edges],
        "sites": [
            {
                "address": s.address,
                "physical": s.physical,
                "length": s.length,
                "instruction": format_instruction(s.instruction, isa),
                "classes": sorted(s.classes),
                "user_sensitive": s.user_sensitive,
                "block": s.block,
                "patched": s.physical in patched,
            }
            for s in sites
        ],
        "indirect": [
            {
                "address": b.address,
                "kind": b.kind,
                "instruction": format_instruction(cfg.instructions[b.address], isa),
                "block": cfg.block_of[b.address],
                "resolved": b.resolved,
                "resolver": b.resolver,
                "targets": sorted(b.targets),
            }
            for b in indirect
        ],
        "unresolved": [b.address for b in indirect if not b.resolved],
        "problems": [_problem(p) for p in problems],
        "data": [{"start": lo, "end": hi, "length": hi - lo} for lo, hi in data],
    }


def render_text(report: dict) -> list[str]:
    """The report as readable lines (hex addresses)."""
    s = report["summary"]
    lines = [
        f"{report['isa']}: {s['instructions']} instructions in {s['blocks']} blocks, {s['edges']} edges, "
        f"{s['sites']} sensitive sites ({s['user_sensitive_sites']} user-sensitive), "
        f"{s['unresolved']} of {s['indirect']} indirect branches unresolved, {s['problems']} problems, "
        f"{s['data_bytes']} data bytes",
        "",
        "roots:",
    ]
    if report.get("classes"):
        lines[1:1] = [f"classes: {report['classes']}"]
    lines += [f"  0x{r['address']:x}  {r['kind']}{' ' + r['name'] if r['name'] else ''}" for r in report["roots"]]
    lines += ["", "blocks:"]
    names = {b["start"]: b.get("name", "") for b in report["blocks"]}
    block = lambda a: f"0x{a:x} {names[a]}" if names.get(a) else f"0x{a:x}"  # noqa: E731
    lines += [
        f"  0x{b['start']:x}-0x{b['end']:x}  {b['instructions']} instructions" + (f"  {b['name']}" if b.get("name") else "")
        for b in report["blocks"]
    ]
    lines += ["", "edges:"]
    lines += [f"  0x{e['src']:x} -> 0x{e['dst']:x}  {e['kind']} (at 0x{e['address']:x})" for e in report["edges"]]
    lines += ["", "sensitive sites:" if report["sites"] else "sensitive sites: none"]
    for site in report["sites"]:
        marks = ", ".join(site["classes"]) + ("; patched" if site["patched"] else "")
        where = f"0x{site['address']:x}" + (f" (storage 0x{site['physical']:x})" if site["physical"] != site["address"] else "")
        lines.append(f"  {where}  {site['instruction']:<24} {marks}  (block {block(site['block'])})")
    lines += ["", "indirect branches:" if report["indirect"] else "indirect branches: none"]
    for b in report["indirect"]:
        if b["resolved"]:
            status = f"resolved by {b['resolver']} -> " + ", ".join(f"0x{t:x}" for t in b["targets"])
        else:
            partial = (" (partial: " + ", ".join(f"0x{t:x}" for t in b["targets"]) + ")") if b["targets"] else ""
            status = "UNRESOLVED" + partial
        lines.append(f"  0x{b['address']:x}  {b['instruction']:<24} {status}")
    if report["problems"]:
        lines += ["", "problems (edges not followed):"]
        for p in report["problems"]:
            src = f"from 0x{p['source']:x}" if p["source"] is not None else "root"
            lines.append(f"  0x{p['address']:x}  {p['reason']:<11} {p['kind']} {src}: {p['detail']}")
    lines += ["", "data ranges:" if report["data"] else "data ranges: none"]
    lines += [f"  0x{d['start']:x}-0x{d['end']:x}  {d['length']} bytes" for d in report["data"]]
    return lines
