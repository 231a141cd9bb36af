"""The sites found in minios are exactly the sensitive-unprivileged instructions of its
source, per variant — found through the kernel's installed trap vectors, its syscall jump
table, and the relocated user tasks."""

from __future__ import annotations

import re

import pytest

from hybridvmm.asm import assemble
from hybridvmm.asm.syntax import strip_comment
from hybridvmm.guests import build_guest, guest_source
from hybridvmm.scan import find_sites, scan_image

# docs/theory.md, 'The pgm variants': which of the five sensitive instructions run (unprivileged) in user mode.
SITE_MNEMONICS = {
    "pgm-x86": {"jrstu", "popf", "pushf", "srr", "rdtime"},
    "pgm-hybrid": {"jrstu", "popf"},
    "pgm-virt": set(),
}
USER_SENSITIVE = {"pushf", "srr", "rdtime"}
_LABEL = re.compile(r"^\s*[A-Za-z_.$][\w.$]*\s*:")


def source_sites(name: str, variant: str) -> dict[int, str]:
    """Storage address → mnemonic of every site instruction written in the source.

    A label is put in front of each such line (labels take no space) and the source
    assembled again; the bytes must come out the same as the guest's.
    """
    marked, names, n = [], {}, 0
    for line in guest_source(name).splitlines():
        code = strip_comment(line)
        while (m := _LABEL.match(code)):
            code = code[m.end():]
        words = code.split()
        if words and words[0].lower() in SITE_MNEMONICS[variant]:
            marked.append(f"__site_{n}:")
            names[f"__site_{n}"] = words[0].lower()
            n += 1
        marked.append(line)
    image = assemble("\n".join(marked) + "\n", variant)
    reference = build_guest(name, variant)
    assert [(s.address, bytes(s.data)) for s in image.sections] == [(s.address, bytes(s.data)) for s in reference.sections]
    return {image.symbols[k]: v for k, v in names.items()}


@pytest.mark.parametrize("variant", sorted(SITE_MNEMONICS))
def test_sites_equal_the_sources_sensitive_unprivileged_instructions(variant, minios_spaces):
    image = build_guest("minios", variant)
    kernel = scan_image(image)
    specs = kernel.isa.instructions.values()
    sites = find_sites(kernel.cfg, specs)
    for space in minios_spaces(image):
        task = scan_image(image, space=space)
        sites += find_sites(task.cfg, specs, base=space.base)
    found = {s.physical: s.name for s in sites}
    assert len(found) == len(sites)
    assert found == source_sites("minios", variant)
    assert {s.physical for s in sites if s.user_sensitive} == {a for a, n in found.items() if n in USER_SENSITIVE}
    if variant == "pgm-virt":
        assert sites == []


def test_kernel_scan_finds_installed_vectors_and_the_syscall_table():
    image = build_guest("minios", "pgm-x86")
    sc = scan_image(image)
    assert sc.roots[image.symbols["trap_entry"]] == ("vector", "privileged")
    table = image.symbols["syscall_table"]
    handlers = {int.from_bytes(image.read(table + 4 * i, 4), "little") for i in range(8)}
    (dispatch,) = [b for b in sc.indirect.values() if b.targets == handlers]
    assert dispatch.resolved and dispatch.resolver == "constprop"
    assert not sc.problems
    without = scan_image(image, vectors=False)
    assert image.symbols["trap_entry"] not in without.instructions
