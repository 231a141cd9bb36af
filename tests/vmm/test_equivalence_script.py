"""scripts/equivalence_at_scale.py: slices of a long run, merged, tabulate as one run does."""

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "equivalence_at_scale.py"


def load_script():
    spec = importlib.util.spec_from_file_location("equivalence_at_scale", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def table(text: str) -> str:
    return text.split("\n", 1)[1]  # everything but the heading (timings, where the seeds came from)


def test_merged_slices_equal_one_run(tmp_path, capsys):
    script = load_script()
    assert script.main(["--programs", "2", "--start", "40", "--json", str(tmp_path / "a.json")]) == 0
    capsys.readouterr()
    assert script.main(["--programs", "1", "--start", "42", "--json", str(tmp_path / "b.json")]) == 0
    capsys.readouterr()
    assert script.main(["--programs", "3", "--start", "40"]) == 0
    whole = capsys.readouterr().out
    assert script.main(["--merge", str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0
    merged = capsys.readouterr().out
    assert merged.startswith("3 random programs (merged from 2 files)")
    assert table(merged) == table(whole)
    rows = json.loads((tmp_path / "a.json").read_text())
    assert {r["seed"] for r in rows} == {40, 41}
    assert "pgm-x86    pure             no              3         3" in whole  # the "no" cell stays no
