"""Without the optional extra, ``report`` says in one line how to install it (runs anywhere)."""

from __future__ import annotations

from hybridvmm.report import extras


def test_missing_extra_is_one_line_with_the_install_command(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(extras, "missing", lambda: ["matplotlib"])
    out = tmp_path / "r.html"
    r = cli("report", "guest:redpill", "-o", str(out))
    assert r.code == 2 and not out.exists()
    assert r.err.strip() == "hybridvmm: error: report needs matplotlib (the report extra): pip install 'hybridvmm[report]'"


def test_the_extra_names_what_the_report_imports():
    assert set(extras.MODULES) == {"matplotlib", "jinja2"}
