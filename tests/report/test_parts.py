"""The report's pieces on their own: the exit timeline, inline SVG, the CFG without Graphviz."""

from __future__ import annotations

import pytest

from hybridvmm.loading import load_program
from hybridvmm.report.exits import ExitTimeline
from hybridvmm.report.svg import inline
from hybridvmm.vmm.monitor import Monitor


@pytest.mark.parametrize("guest, mode", [("guest:redpill", "patch"), ("guest:rvcounters", "pure")])
def test_timeline_has_every_exit_the_monitor_counts_in_order(guest, mode):
    monitor = Monitor([load_program(guest)], mode)
    timeline = ExitTimeline()
    timeline.attach(monitor)
    monitor.run()
    vm = monitor.vms[0]
    events = timeline.events[vm.name]
    counted = {c: n for c, n in vm.stats.exits.items() if c != "refill"}
    assert timeline.counts(vm.name) == counted and sum(counted.values()) > 0
    times = [t for t, _ in events]
    assert times == sorted(times) and 0 <= times[0] and times[-1] <= vm.guest_instructions
    monitor.close()



def test_the_report_times_the_exits_of_the_runs_it_compares():
    """Each mode runs once: the timeline is recorded on the run the table shows (no rerun),
    and a mode without exits has none."""
    from hybridvmm.report.collect import UNTIMED, collect

    collected = collect([load_program("guest:redpill")], ["interpret", "pure", "patch"], None, 1_000_000, locate=False)
    rows = {row.mode: row for row in collected.comparisons[0].rows}
    assert set(collected.timelines) == {"pure", "patch"}
    for mode, timeline in collected.timelines.items():
        vm = rows[mode].run.vm
        counted = {c: n for c, n in vm.stats.exits.items() if c not in UNTIMED}
        assert timeline.counts(vm.name) == counted and sum(counted.values()) > 0

def test_inline_svg_scopes_ids_and_drops_what_a_page_does_not_need():
    svg = ('<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
           '<svg xmlns:xlink="http://www.w3.org/1999/xlink" width="100pt" height="50pt" viewBox="0 0 100 50" '
           'xmlns="http://www.w3.org/2000/svg"><metadata><rdf:RDF/></metadata><!-- made by a tool -->'
           '<defs><clipPath id="c1"><rect/></clipPath><path id="m1"/></defs>'
           '<g clip-path="url(#c1)"><use xlink:href="#m1"/></g></svg>')
    out = inline(svg, "f2")
    assert out.startswith("<svg ") and "http" not in out and "metadata" not in out and "<!--" not in out
    assert 'id="f2-c1"' in out and "url(#f2-c1)" in out and 'xlink:href="#f2-m1"' in out
    assert 'width="100pt"' not in out and "width: min(100%, 100pt)" in out and 'viewBox="0 0 100 50"' in out


def test_without_graphviz_the_cfg_figures_are_listings(monkeypatch):
    pytest.importorskip("matplotlib")
    from hybridvmm.isa import load_isa
    from hybridvmm.report import cfg

    monkeypatch.setattr(cfg, "have_dot", lambda: False)
    image = load_program("guest:redpill")
    section = cfg.cfg_section(image, load_isa(image.isa), {}, "t")
    assert not section.graphviz and section.figures
    assert all(f.svg is None and f.listing.blocks for f in section.figures)
    kinds = {kind for f in section.figures for _, rows, _ in f.listing.blocks for _, kind, _ in rows}
    assert "user-site" in kinds
