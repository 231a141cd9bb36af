"""The cost table: the shipped one, a user's entries over it, and every bad file a one-line error."""

from __future__ import annotations

import json

import pytest

from hybridvmm.errors import UserError
from hybridvmm.vmm.costs import EVENTS, default_costs, load_costs


def test_the_shipped_table_prices_every_event_and_cites_a_source():
    costs = default_costs()
    assert set(costs.cycles) == set(EVENTS)
    assert all(costs.sources[e].strip() for e in EVENTS)
    assert costs.cycles["direct"] == 1 and costs.cycles["trap"] > costs.cycles["interpreted"] > costs.cycles["direct"]


def test_a_users_entries_replace_only_themselves(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('trap = 5000\n[interpreted]\ncycles = 10\nsource = "my threaded interpreter"\n')
    costs, shipped = load_costs(path), default_costs()
    assert costs.cycles["trap"] == 5000 and costs.cycles["interpreted"] == 10
    assert costs.sources["interpreted"] == "my threaded interpreter"
    assert all(costs.cycles[e] == shipped.cycles[e] for e in EVENTS if e not in ("trap", "interpreted"))


def test_host_cycles_follow_the_table(cli, tmp_path):
    """The same run priced by two tables: the difference is exactly the changed entry times its count."""
    path = tmp_path / "mine.toml"
    path.write_text("trap = 2300\n")
    plain = json.loads(cli("run", "guest:fib:small", "--mode", "patch", "--json").out)["monitor"]
    priced = json.loads(cli("run", "guest:fib:small", "--mode", "patch", "--json", "--costs", str(path)).out)["monitor"]
    # the exits priced by `trap`: those whose cause has no entry of its own
    exits = sum(n for cause, n in plain["exits"].items() if f"exit-{cause}" not in EVENTS)
    assert exits > 0
    assert priced["host_cycles"] - plain["host_cycles"] == (2300 - default_costs().cycles["trap"]) * exits


def test_an_exit_cause_with_an_entry_is_priced_by_it(cli, tmp_path):
    """RISC-V's exits by cause each have an entry: changing one changes the cycles by its count."""
    path = tmp_path / "mine.toml"
    path.write_text("exit-mmio = 10000\nexit-csr = 0\n")
    plain = json.loads(cli("run", "guest:rvminios", "--mode", "pure", "--json").out)["monitor"]
    priced = json.loads(cli("run", "guest:rvminios", "--mode", "pure", "--json", "--costs", str(path)).out)["monitor"]
    shipped = default_costs().cycles
    mmio, csr = plain["exits"]["mmio"], plain["exits"]["csr"]
    assert mmio > 0 and csr > 0
    assert priced["host_cycles"] - plain["host_cycles"] == (10000 - shipped["exit-mmio"]) * mmio - shipped["exit-csr"] * csr


@pytest.mark.parametrize("text, says", [
    ("bogus = 3\n", "unknown cost 'bogus'"),
    ("trap = -1\n", "non-negative integer"),
    ("trap = 1.5\n", "non-negative integer"),
    ("trap = true\n", "non-negative integer"),
    ('[trap]\nsource = "no cycles"\n', "non-negative integer"),
    ("trap = \n", "TOML syntax error"),
    ("x = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n", "nested too deeply"),  # found by fuzzing: RecursionError
])
def test_a_bad_table_is_one_line(tmp_path, text, says):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UserError) as err:
        load_costs(path)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_a_table_that_is_not_text(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(UserError, match="not UTF-8"):
        load_costs(path)
