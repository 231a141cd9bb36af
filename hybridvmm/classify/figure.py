"""An SVG figure in the manner of Smith & Nair Fig. 8.8: the sensitive and privileged sets.

Two overlapping ellipses inside a box of all instructions; each instruction's name is set
in the region it belongs to (user-sensitive names are marked), innocuous unprivileged
instructions are counted in the box, and the caption states both verdicts.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from hybridvmm.classify.model import Classification

WIDTH = 760


def _column(names: list[str], x: float, y_mid: float, marked: set[str], size: int = 14) -> list[str]:
    """Names stacked around ``y_mid``; user-sensitive ones red and starred."""
    step = size + 4
    top = y_mid - step * (len(names) - 1) / 2
    out = []
    for i, name in enumerate(names):
        style = 'fill="#b00020" font-weight="bold"' if name in marked else 'fill="#111"'
        label = f"{name} *" if name in marked else name
        out.append(
            f'<text x="{x:.0f}" y="{top + i * step:.0f}" font-size="{size}" text-anchor="middle" '
            f'font-family="monospace" {style}>{escape(label)}</text>'
        )
    return out


def _wrap(names: list[str], width: int) -> list[str]:
    lines, cur = [], ""
    for n in names:
        if cur and len(cur) + len(n) + 2 > width:
            lines.append(cur + ",")
            cur = n
        else:
            cur = f"{cur}, {n}" if cur else n
    if cur:
        lines.append(cur)
    return lines


MAX_COLUMN = 14
"""Labels one region shows when an ISA has forms (the rest are counted)."""


def _labels(ics: list, marked: set[str]) -> list[str]:
    """Names for one region: an instruction's forms there become one ``name@… ×N`` label
    (marked if any is), and a column of forms is cut at :data:`MAX_COLUMN`."""
    if not any(ic.instruction for ic in ics):
        return [ic.name for ic in ics]
    groups: dict[str, list] = {}
    for ic in ics:
        groups.setdefault(ic.instruction or ic.name, []).append(ic)
    out = []
    for name, members in groups.items():
        label = members[0].name if len(members) == 1 else f"{name}@… ×{len(members)}"
        if any(m.name in marked for m in members):
            marked.add(label)
        out.append(label)
    if len(out) > MAX_COLUMN:
        out = out[:MAX_COLUMN - 1] + [f"+{len(out) - MAX_COLUMN + 1} more"]
    return out


def render_svg(result: Classification) -> str:
    """The figure for one classified ISA, as SVG text."""
    marked = {i.name for i in result.instructions if i.user_sensitive}
    sens_only = _labels([i for i in result.instructions if i.sensitive and not i.privileged], marked)
    both = _labels([i for i in result.instructions if i.sensitive and i.privileged], marked)
    priv_only = _labels([i for i in result.instructions if i.privileged and not i.sensitive], marked)
    innocuous = _labels([i for i in result.instructions if not i.sensitive and not i.privileged], set())
    t1, t3 = result.theorem1, result.theorem3

    def verdict_text(v) -> str:
        if v.holds:
            return f"{v.theorem} ({v.condition}) holds"
        if v.holds_when:
            return f"{v.theorem} ({v.condition}) holds when {v.when_text}"
        return f"{v.theorem} ({v.condition}) fails: {', '.join(v.violations)}"

    parts = [
        "<svg>",  # replaced below once the height is known
        f"<title>Popek-Goldberg classes of {escape(result.isa)}</title>",
        '<rect x="0" y="0" width="100%" height="100%" fill="white"/>',
        '<rect x="20" y="40" width="720" height="330" fill="none" stroke="#444" stroke-width="1.5"/>',
        f'<text x="30" y="30" font-size="18" font-family="sans-serif" font-weight="bold">{escape(result.isa)}: sensitive and privileged instructions</text>',
        '<ellipse cx="290" cy="200" rx="190" ry="130" fill="#f6c26b" fill-opacity="0.45" stroke="#b07000" stroke-width="2"/>',
        '<ellipse cx="470" cy="200" rx="190" ry="130" fill="#7fb3e6" fill-opacity="0.45" stroke="#1f5f9f" stroke-width="2"/>',
        '<text x="170" y="88" font-size="16" font-family="sans-serif" fill="#7a4d00">sensitive</text>',
        '<text x="530" y="88" font-size="16" font-family="sans-serif" fill="#1f4f7f">privileged</text>',
    ]
    parts += _column(sens_only, 200, 200, marked)
    parts += _column(both, 380, 200, marked)
    parts += _column(priv_only, 560, 200, marked)
    parts.append(
        f'<text x="30" y="350" font-size="12" font-family="sans-serif" fill="#333">innocuous and unprivileged: '
        f'{sum(1 for i in result.instructions if not i.sensitive and not i.privileged)} '
        f'{"forms" if any(i.instruction for i in result.instructions) else "instructions"}</text>'
    )
    y = 395
    for line in (verdict_text(t1), verdict_text(t3)):
        colour = "#1b5e20" if line.endswith("holds") or " holds when " in line else "#b00020"
        parts.append(f'<text x="30" y="{y}" font-size="15" font-family="sans-serif" fill="{colour}">{escape(line)}</text>')
        y += 22
    notes = [
        "* user-sensitive: sensitive even when executed in user mode.",
        "Classes derived by executing each instruction in sampled pairs of machine states.",
    ]
    for i, note in enumerate(notes):
        parts.append(f'<text x="30" y="{445 + i * 16}" font-size="12" font-family="sans-serif" fill="#333">{escape(note)}</text>')
    y = 445 + 16 * len(notes) + 8
    for line in _wrap(innocuous, 110):
        parts.append(f'<text x="30" y="{y}" font-size="10" font-family="monospace" fill="#666">{escape(line)}</text>')
        y += 13
    height = y + 10
    parts[0] = f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}">'
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
