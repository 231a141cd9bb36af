"""The classification in words: the table, the verdicts with their witnesses or conditions."""

from __future__ import annotations

from hybridvmm.classify.model import BEHAVIOR, CONTROL, USER, Classification, Condition, InstructionClass, Verdict
from hybridvmm.isa import ISA

NOT_SENSITIVE_MARK = "privileged but not sensitive:"
"""How a spec's ``doc`` says why a privileged instruction is not sensitive (the rest of it)."""
NOT_SENSITIVE_WHY = "they neither change the system state nor behave differently with it"
"""Why, where the spec does not say."""
NOT_SENSITIVE_TAIL = ("they trap in user mode, though the theorems need only the sensitive to "
                      "(docs/theory.md, 'Instruction classes')")
MOST_NAMED = 8
"""More forms of one instruction than this are counted in the footnote, not named."""


def not_sensitive_reasons(isa: ISA) -> dict[str, str]:
    """Instruction → why it is privileged but not sensitive, where its spec says so."""
    out = {}
    for spec in isa.instructions.values():
        _, mark, why = spec.doc.partition(NOT_SENSITIVE_MARK)
        if mark and why.strip():
            out[spec.name] = why.strip()
    return out


def privileged_not_sensitive(result: Classification) -> list[InstructionClass]:
    """The rows derived privileged but not sensitive (Popek and Goldberg's readers ask why)."""
    return [ic for ic in result.instructions if ic.privileged and not ic.sensitive]


def _mark(flag: bool) -> str:
    return "yes" if flag else "-"


def _negated(condition: Condition) -> str:
    """When a condition's settings all fail (``a=0 or b=0`` → ``a=1 and b=1``)."""
    flipped = []
    for s in condition.settings:
        name, _, value = s.rpartition("=")
        flipped.append(f"{name}={1 - int(value)}" if value in ("0", "1") else f"not {s}")
    return " and ".join(flipped)


def _sensitivity(ic: InstructionClass, verdict: Verdict, prefer_user: bool = False) -> str:
    tag = USER if verdict.theorem == "Theorem 3" else (CONTROL if ic.control_sensitive else BEHAVIOR)
    if prefer_user and USER in ic.witnesses:  # a setting-dependent violation shows in user mode
        tag = USER
    return ic.witnesses[tag].explanation


def _verdict_lines(result: Classification, verdict: Verdict) -> list[str]:
    prefix = f"{result.comparison}: " if result.comparison else ""
    head = f"{prefix}{verdict.theorem} ({verdict.condition})"
    if verdict.holds:
        return [f"{head}: HOLDS"]
    if verdict.holds_when:
        lines = [f"{head}: HOLDS WHEN {verdict.when_text}"]
    else:
        lines = [f"{head}: FAILS — {', '.join(verdict.violations)}"]
    for name in verdict.unconditional:
        ic = result.by_name(name)
        lines.append(f"  {_sensitivity(ic, verdict)}; it is not privileged: {ic.not_privileged_because}.")
    word = "user-sensitive" if verdict.theorem == "Theorem 3" else "sensitive"
    for condition in verdict.conditions:
        ic = result.by_name(condition.forms[0])
        refuted = ic.witnesses["not-privileged"]
        lines.append(f"  with {_negated(condition)}, {', '.join(condition.forms)} "
                     f"{'is' if len(condition.forms) == 1 else 'are'} {word} and unprivileged; witness "
                     f"`{refuted.instruction}`: {refuted.explanation.split(': ', 1)[-1]}, and {_sensitivity(ic, verdict, True)}.")
    return lines


def _disagreement_lines(result: Classification) -> list[str]:
    bad = result.disagreements
    if not bad:
        return []
    plain = [ic for ic in bad if not ic.instruction]
    forms: dict[str, list[InstructionClass]] = {}
    for ic in bad:
        if ic.instruction:
            forms.setdefault(ic.instruction, []).append(ic)
    lines = [""]
    if plain:
        lines.append(f"{len(plain)} instruction(s) disagree with the spec's declared class (the spec or the semantics is wrong):")
        lines += [f"  {ic.name}: {ic.disagreement()}" for ic in plain]
    if forms:
        total = {}
        for ic in result.instructions:
            if ic.instruction:
                total[ic.instruction] = total.get(ic.instruction, 0) + 1
        lines.append("Forms whose derived class differs from the one class the spec declares for the whole instruction:")
        for name, ics in forms.items():
            declared = ", ".join(sorted(ics[0].declared)) or "innocuous"
            lines.append(f"  {name}: {len(ics)} of {total[name]} forms (declared: {declared})")
    return lines


def _footnote_lines(result: Classification, reasons: dict[str, str]) -> list[str]:
    """After the table: the privileged instructions that are not sensitive, and why (the
    spec's words where it has them), forms of one instruction counted when there are many."""
    found = privileged_not_sensitive(result)
    if not found:
        return []
    groups: dict[str, list[str]] = {}
    for ic in found:
        groups.setdefault(ic.instruction or ic.name, []).append(ic.name)
    named: dict[str, list[str]] = {}
    for base, names in groups.items():
        shown = names if len(names) <= MOST_NAMED else [f"{len(names)} forms of {base}"]
        named.setdefault(reasons.get(base, NOT_SENSITIVE_WHY), []).extend(shown)
    items = "; ".join(f"{', '.join(names)} ({why})" for why, names in named.items())
    return ["", f"* privileged but not sensitive: {items}: {NOT_SENSITIVE_TAIL}."]


def format_text(result: Classification, reasons: dict[str, str] | None = None) -> str:
    """The table, the disagreements and the two verdicts with witnesses in words (per
    comparison, with the settings a verdict depends on).  ``reasons``: why an instruction is
    privileged but not sensitive, for the footnote after the table."""
    with_forms = any(ic.instruction for ic in result.instructions)
    if with_forms:
        count = len({ic.instruction or ic.name for ic in result.instructions})
        lines = [f"{result.isa}: {len(result.instructions)} forms of {count} instructions (where operands decide the "
                 f"class, each value is a form: name@operand), {result.samples} states sampled per form "
                 f"(seed {result.seed})"]
    else:
        lines = [f"{result.isa}: {len(result.instructions)} instructions, {result.samples} states sampled per instruction "
                 f"(seed {result.seed})"]
    if result.comparison:
        lines.append(f"modes {', '.join(result.modes)}; Popek–Goldberg's supervisor and user read as:")
        for c in (result, *result.others):
            lines.append(f"  {c.comparison}: {c.note}" if c.note else f"  {c.comparison}")
        if result.configuration:
            lines.append(f"configuration sampled as system state: {', '.join(result.configuration)}")
        lines.append(f"the table is {result.comparison}; --json has every form under each reading")
    lines.append("")
    rows = [("instruction", "P", "CS", "BS", "US", "declared agrees")]
    for ic in result.instructions:
        if ic.instruction:
            agrees = "yes" if ic.agrees_with_spec else "no"
        else:
            agrees = "yes" if ic.agrees_with_spec else "NO: " + ic.disagreement()
        rows.append((ic.name, _mark(ic.privileged), _mark(ic.control_sensitive), _mark(ic.behavior_sensitive),
                     _mark(ic.user_sensitive), agrees))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for r in rows:
        lines.append("  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
    lines += _footnote_lines(result, reasons or {})
    lines.append("")
    for c in (result, *result.others):
        if c is not result:
            lines.append("")
        for verdict in (c.theorem1, c.theorem3):
            lines += _verdict_lines(c, verdict)
    lines += _disagreement_lines(result)
    return "\n".join(lines)
