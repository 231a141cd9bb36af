"""``report IMAGE... -o report.html``: the page's content, its self-containment, its file rules."""

from __future__ import annotations

import re
import stat
from html import unescape

import pytest

from hybridvmm.vmm import COMPARE_MODES

from .page import Page, remote_references


def test_prediction_table_has_a_row_per_mode_with_the_verdict(pgm_report):
    assert pgm_report.code == 0  # both divergences are the ones the theory predicts
    page = Page(pgm_report.html)
    assert list(page.rows) == list(COMPARE_MODES)
    assert page.rows == {"pure": "diverged", "interpret": "equivalent", "hybrid-no-patch": "diverged",
                         "hybrid": "equivalent", "patch": "equivalent", "bt": "equivalent"}
    text = page.all_text
    assert "Theorem 1 fails" in text and "Theorem 3 fails" in text


def test_each_divergence_names_its_first_event_and_the_responsible_instruction(pgm_report):
    html = pgm_report.html
    for mode in ("pure", "hybrid-no-patch"):
        block = re.search(rf'<div class="divergence[^"]*" id="divergence-1-{mode}">(.*?)</div>', html, re.S)
        assert block, mode
        text = " ".join(re.sub(r"<[^>]+>", " ", block.group(1)).split())
        assert "first divergent event after" in text and "bare" in text and "responsible" in text
    pure = re.search(r'id="divergence-1-pure">(.*?)</div>', html, re.S).group(1)
    assert "srr r2, r3" in pure and "&lt;boot+0x6&gt;" in pure  # the deprivileged kernel's srr, named


def test_figures_are_inline_svg_with_page_unique_ids(pgm_report):
    page = Page(pgm_report.html)
    assert page.svgs >= 4  # bars, exit timeline, and the CFG figures
    dupes = {i for i in page.ids if page.ids.count(i) > 1}
    assert not dupes, sorted(dupes)[:5]
    refs = set(re.findall(r'url\(#([^)]+)\)|href="#([^"]+)"', pgm_report.html))
    assert {a or b for a, b in refs} <= set(page.ids)  # every reference lands in its own figure


def test_nothing_on_the_page_loads_from_elsewhere(pgm_report, riscv_report):
    for rendered in (pgm_report, riscv_report):
        page = Page(rendered.html)
        assert remote_references(rendered.html) == []
        assert page.loads == []
        assert not page.tags & {"script", "link", "img", "iframe", "object", "embed"}


def test_bars_and_timeline_show_the_modes_and_exit_causes(pgm_report):
    html = pgm_report.html
    costs = re.search(r'<figure class="bars">(.*?)</figure>', html, re.S).group(1)
    for title in ("simulated host cycles", "wall time", "run directly", "exits into the monitor, by cause"):
        assert title in costs
    assert "interpret</text>" in costs or ">interpret<" in costs
    timeline = re.search(r'<figure class="timeline">(.*?)</figure>', html, re.S).group(1)
    assert "guest instructions executed" in timeline
    for strip in ("pure:", "hybrid:", "patch:"):
        assert strip in timeline
    assert "svc" in timeline and "No exits in interpret" in " ".join(timeline.split())
    assert "only simulated\ncycles carry the ratios" in html or "only simulated cycles carry the ratios" in " ".join(html.split())


def test_cfg_figures_mark_sites_and_run_time_patches(pgm_report):
    html = pgm_report.html
    figures = re.findall(r'<figure class="cfg">(.*?)</figure>', html, re.S)
    assert 1 <= len(figures) <= 12
    text = unescape(" ".join(figures))
    assert "user-sensitive" in text and "patched at run time by hybrid, patch" in text
    assert 'fill="#ffd27a"' in text  # patched (patch mode patched every site of redpill)
    assert "sensitive-unprivileged sites and" in html


def test_riscv_report(riscv_report):
    assert riscv_report.code == 0
    page = Page(riscv_report.html)
    assert set(page.rows.values()) == {"equivalent"} and list(page.rows) == list(COMPARE_MODES)
    text = page.all_text
    assert "on rv32" in text and "found no sensitive-unprivileged instruction" in text
    assert "[privileged]" in riscv_report.html and "Every mode was equivalent" in text
    assert page.svgs >= 3


def test_the_file_follows_the_output_rules(pgm_report, cli, tmp_path):
    assert stat.S_IMODE(pgm_report.path.stat().st_mode) == 0o600
    r = cli("report", "guest:redpill", "-o", str(pgm_report.path))
    assert r.code == 2 and "file exists" in r.err and len(r.err.strip().splitlines()) == 1


def test_an_input_is_never_the_output(cli, tmp_path, pgm_report):
    image = tmp_path / "guest.img"
    from hybridvmm.loading import load_program

    load_program("guest:redpill").save(image)
    r = cli("report", str(image), "-o", str(image), "--force")
    assert r.code == 2 and "refusing to overwrite a file this command reads" in r.err


def test_several_images_get_a_section_each(tmp_path_factory):
    from .conftest import render

    rendered = render(tmp_path_factory, "two.html", "guest:redpill", "guest:redpill", "--modes", "hybrid", "--no-locate")
    page = Page(rendered.html)
    assert {"image-1", "image-2"} <= set(page.ids)
    assert rendered.html.count('<figure class="timeline">') == 2


@pytest.mark.parametrize("argv, message", [
    (["--modes", "pure,warp"], "unknown mode warp"),
    (["--max-steps", "0"], "--max-steps 0: must be at least 1"),
])
def test_bad_options_are_one_line_errors(cli, tmp_path, argv, message):
    pytest.importorskip("matplotlib")
    pytest.importorskip("jinja2")
    out = tmp_path / "r.html"
    r = cli("report", "guest:redpill", "-o", str(out), *argv)
    assert r.code == 2 and message in r.err and len(r.err.strip().splitlines()) == 1
    assert not out.exists()
