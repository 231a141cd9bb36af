"""What every ISA family's machine must do, whatever the ISA (py65's ``Common6502Tests``).

A family's test class subclasses :class:`MachineContract` and supplies a *contract program*:
it enters user mode, runs ``ITERATIONS`` times round a loop whose first instruction is at
the label ``loop`` and that makes one system call per iteration (its handler, in a more
privileged mode, prints one console byte and returns), then makes a last system call whose
handler ends the run (the machine halts).  Everything else here is ISA-agnostic.
"""

from __future__ import annotations

from typing import Any

from hybridvmm.machine import HALTED, STOPPED, Machine, Trap


class MachineContract:
    ITERATIONS = 20
    SYSCALL: str = ""
    """The trap name of the program's system call."""
    USER: str = "user"
    KERNEL: str = ""
    """The mode the system-call handler runs in."""

    # --- what a family supplies ----------------------------------------------------------------
    def make(self) -> Machine:
        """A fresh machine with the contract program loaded and reset to its entry."""
        raise NotImplementedError

    def storage_address(self, m: Machine, label: str) -> int:
        """The storage address of a label of the program (what ``hook_address`` takes)."""
        raise NotImplementedError

    # --- helpers --------------------------------------------------------------------------------
    def finished(self) -> Machine:
        m = self.make()
        result = m.run(1_000_000)
        assert result.reason == HALTED, result
        return m

    @staticmethod
    def fingerprint(m: Machine) -> tuple[Any, ...]:
        snap = m.snapshot()
        return snap.storage, snap.cpu, snap.console, snap.stats.as_dict(), snap.halted

    # --- the contract ------------------------------------------------------------------------------
    def test_the_program_runs_to_its_end(self):
        m = self.finished()
        assert len(m.console.output) == self.ITERATIONS + 1
        assert m.stats.traps.get(self.SYSCALL) == self.ITERATIONS + 1

    def test_runs_are_deterministic(self):
        assert self.fingerprint(self.finished()) == self.fingerprint(self.finished())

    def test_stepping_equals_running(self):
        ref = self.finished()
        m = self.make()
        steps = 0
        while not m.halted:
            m.step()
            steps += 1
            assert steps < 1_000_000
        assert self.fingerprint(m) == self.fingerprint(ref)

    def test_running_in_chunks_equals_one_run(self):
        ref = self.finished()
        for chunk in (1, 2, 5, 13):
            m = self.make()
            total = 0
            while not m.halted:
                total += m.run(chunk).steps
            assert self.fingerprint(m) == self.fingerprint(ref), chunk
            assert total == ref.stats.instructions

    def test_snapshot_and_restore_resume_identically(self):
        m = self.make()
        m.run(37)
        snap = m.snapshot()
        m.run(1_000_000)
        end = self.fingerprint(m)
        m.restore(snap)
        assert m.snapshot() == snap and not m.halted
        m.run(1_000_000)
        assert self.fingerprint(m) == end

    def test_address_hook_fires_before_the_instruction_and_is_removable(self):
        m = self.make()
        seen: list[int] = []
        loop = self.storage_address(m, "loop")
        h = m.hook_address(loop, lambda machine, a: seen.append(a))
        m.run(1_000_000)
        assert seen == [loop] * self.ITERATIONS
        h.remove()
        assert not h.active
        m2 = self.make()
        m2.hook_address(loop, lambda machine, a: None).remove()
        m2.run(1_000_000)
        assert self.fingerprint(m2) == self.fingerprint(self.finished())

    def test_address_hook_can_stop_the_run_before_the_instruction(self):
        m = self.make()
        loop = self.storage_address(m, "loop")
        m.hook_address(loop, lambda machine, a: machine.stop("here"))
        result = m.run(1_000_000)
        assert result.reason == STOPPED and result.detail == "here" and m.mode == self.USER
        assert self.storage_address(m, "loop") == m.physical_of(m.pc) - m.storage.offset

    def test_no_hooks_means_no_slow_path(self):
        m = self.make()
        loop = self.storage_address(m, "loop")

        def entries():
            return [(ctx, v) for ctx in m.code.contexts.values() for v, p in ctx.physical.items()
                    if p - m.storage.offset == loop]
        m.run(60)
        assert entries() and all(ctx.entry[v] is ctx.exact[v] for ctx, v in entries())
        h = m.hook_address(loop, lambda machine, a: None)
        m.run(60)
        assert entries() and all(ctx.entry[v] is not ctx.exact[v] for ctx, v in entries())
        h.remove()
        m.run(60)
        assert entries() and all(ctx.entry[v] is ctx.exact[v] for ctx, v in entries())

    def test_trap_and_output_hooks_see_everything(self):
        m = self.make()
        traps: list[Trap] = []
        out: list[int] = []
        m.hook_trap(lambda machine, trap: traps.append(trap))
        m.hook_output(lambda machine, b: out.append(b))
        m.run(1_000_000)
        calls = [t for t in traps if t.name == self.SYSCALL]
        assert len(calls) == self.ITERATIONS + 1 and bytes(out) == bytes(m.console.output)

    def test_mode_hook_reports_mode_names(self):
        m = self.make()
        changes: list[tuple[str, str]] = []
        m.hook_mode(lambda machine, was, now: changes.append((was, now)))
        m.run(1_000_000)
        assert (self.KERNEL, self.USER) in changes and (self.USER, self.KERNEL) in changes
        assert all(was in m.MODES.values() and now in m.MODES.values() for was, now in changes)

    def test_modes_are_ranked_and_a_reset_machine_is_most_privileged(self):
        m = self.make()
        rank = {name: m.priv_rank(level) for level, name in m.MODES.items()}
        assert list(rank.values()) == sorted(rank.values(), reverse=True)  # MODES: most privileged first
        assert rank[self.KERNEL] > rank[self.USER] == 0
        assert m.mode == next(iter(m.MODES.values()))

    def test_trap_handler_replaces_the_vectors_and_deliver_performs_them(self):
        ref = self.finished()
        m = self.make()
        got: list[Trap] = []

        def handler(trap: Trap) -> None:
            got.append(trap)
            m.stop("trapped")
        m.trap_handler = handler
        result = m.run(1_000_000)
        assert result.reason == STOPPED and got[0].name == self.SYSCALL
        assert m.pc == got[0].pc and m.mode == self.USER              # the state at the trap point
        assert bytes(m.console.output) == b""
        m.trap_handler = None
        m.deliver(got[0])
        m.run(1_000_000)
        assert bytes(m.console.output) == bytes(ref.console.output)
        assert m.cpu_state() == ref.cpu_state()

    def test_take_is_a_trap_as_the_machines_own(self):
        ref = self.finished()
        m = self.make()
        pending: list[Trap] = []
        m.trap_handler = lambda trap: (pending.append(trap), m.stop())
        m.run(1_000_000)
        m.trap_handler = None
        seen: list[str] = []
        m.hook_trap(lambda machine, trap: seen.append(trap.name))
        m.take(pending[0])
        assert seen == [self.SYSCALL] and m.mode == self.KERNEL
        m.run(1_000_000)
        assert bytes(m.console.output) == bytes(ref.console.output)

    def test_translate_hook_sees_each_address_once_per_mapping_and_can_force_retranslation(self):
        m = self.make()
        loop = self.storage_address(m, "loop")
        calls: list[int] = []
        first = {"pending": True}

        def on_translate(machine, vaddr, paddr, ins):
            calls.append(paddr - machine.storage.offset)
            if paddr - machine.storage.offset == loop and first["pending"]:
                first["pending"] = False
                return True
            return None
        m.hook_translate(on_translate)
        m.run(1_000_000)
        assert calls.count(loop) == 2                                 # once, then again after "changed"
        assert len(calls) == len(set(calls)) + 1

    def test_a_store_over_translated_code_and_a_flush_keep_the_result(self):
        ref = self.finished()
        m = self.make()
        m.run(60)
        loop = self.storage_address(m, "loop")
        original = m.read(loop, 4)
        m.write(loop, original)                       # a store over decoded code drops it...
        m.flush_translations()                        # ...and so does a flush: neither changes behaviour
        m.run(1_000_000)
        assert self.fingerprint(m)[1:] == self.fingerprint(ref)[1:]

    def test_elapse_counts_in_the_current_mode_and_advances_the_countdown(self):
        m = self.make()
        before = m.stats.by_mode.get(m.mode, 0)
        m.arm_countdown(10)
        m.elapse(4)
        assert m.stats.by_mode[m.mode] == before + 4 and m.countdown == 6
