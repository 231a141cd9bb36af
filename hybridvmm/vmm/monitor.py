"""The monitor: dispatcher, allocator and interpreter routines running VMs in one of the modes.

The loop, per VM and slice (a round robin over the VMs, Smith & Nair Fig. 8.4 for the
switch between them): while the slice lasts, if the mode interprets code of the guest's
current *virtual* mode, the virtual CPU runs it (a mode hook hands the CPU back when the
guest enters a mode that runs directly); otherwise the guest runs directly on the host in
real user mode (:class:`~hybridvmm.vmm.direct.DirectExecution`), with the real timer armed
for the VM's next virtual timer event or the end of its slice, and every trap comes back
through the :class:`~hybridvmm.vmm.dispatcher.Dispatcher`.

Everything ISA-specific — composing the guest's mapping with its window, entering real
user mode, saving the registers a switch must save — comes from the ISA family's
virtualization model (``hybridvmm.isas.virt_model``); this module names no ISA.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable

from hybridvmm.errors import UserError
from hybridvmm.image import Image
from hybridvmm.isa import ISA, load_isa
from hybridvmm.isas import storage_for, virt_model
from hybridvmm.machine import HALTED, MAX_STEPS, STOPPED, TRAP_LOOP, YIELDED
from hybridvmm.vmm import routines
from hybridvmm.vmm.adaptive import AdaptiveTranslation
from hybridvmm.vmm.allocator import Allocation, allocate
from hybridvmm.vmm.backend import VirtModel
from hybridvmm.vmm.costs import Costs, default_costs
from hybridvmm.vmm.direct import DirectExecution
from hybridvmm.vmm.dispatcher import Dispatcher
from hybridvmm.vmm.lazy import LazyPatcher
from hybridvmm.vmm.modes import Mode, mode_named
from hybridvmm.vmm.vm import VM

DEFAULT_SLICE = 100_000
"""Guest instructions a VM runs before the monitor switches to the next one."""

Tracer = Callable[[str, str], None]
"""``tracer(category, line)``: one trace line of a category (insn, trap, exit, patch, switch, scan)."""


class Monitor:
    """Run ``images`` as VMs under ``mode`` on one host machine."""

    def __init__(self, images: Iterable[Image], mode: Mode | str, *, isa: ISA | str | None = None,
                 slice_length: int = DEFAULT_SLICE, max_steps: int = 50_000_000, costs: Costs | None = None,
                 tracer: Tracer | None = None, trace_categories: Iterable[str] = (),
                 virt_options: dict[str, Any] | None = None, adaptive: int = 0):
        """``virt_options`` go to the family's virtualization model (RISC-V: ``counters``);
        ``adaptive``: translate a direct site after it has trapped that many times (0: never;
        :mod:`hybridvmm.vmm.adaptive`)."""
        images = list(images)
        if not images:
            raise UserError("no guest to run")
        check_slice(slice_length)
        self.mode = mode_named(mode) if isinstance(mode, str) else mode
        if adaptive < 0:
            raise UserError("--adaptive must be a number of exits (0: off)")
        if adaptive and not self.mode.adapts:
            raise UserError(f"--adaptive: {self.mode.name} runs no code directly that it does not translate already "
                            f"(adaptive translation is for pure, hybrid and patch)")
        first = load_isa(isa or images[0].isa) if not isinstance(isa, ISA) else isa
        for image in images:
            if load_isa(image.isa).name != first.name and isa is None:
                raise UserError(f"{image.source or 'image'}: ISA {image.isa} differs from {first.name}: "
                                f"the VMs of one run share one host machine")
        self.isa = first
        self.virt: VirtModel = virt_for(first, virt_options or {})
        self.slice = slice_length
        self.costs = costs or default_costs()
        self.tracer = tracer
        self.categories = frozenset(trace_categories) if tracer else frozenset()
        self.tracing = bool(self.categories & {"exit", "patch"})
        """Whether the dispatcher builds trace lines at all (it is on the hot exit path)."""
        sizes = [storage_for(first, image) for image in images]
        self.allocation: Allocation = allocate(sizes)
        self.host = self.virt.new_host(self.allocation.host_size, list(self.allocation.windows))
        self.direct = DirectExecution(self.host, self.virt, self.mode)
        self.direct.on_enter = self._install_patch_views
        self.adaptive = AdaptiveTranslation(self.host, adaptive) if adaptive else None
        self.dispatcher = Dispatcher(self.direct, self.emit, self.tracing,
                                     self.adaptive.emulated if self.adaptive else None)
        self.host.trap_handler = self.dispatcher
        self.vms: list[VM] = []
        for k, image in enumerate(images):
            window = self.allocation.window(self.host.storage, k)
            vm = VM(k + 1, f"vm{k + 1}", image, first, self.virt, self.host, window, max_steps)
            if self.mode.patch:
                vm.lazy = LazyPatcher(vm, first, self.mode.patch, self.virt.code_space, self._scan_tracer(vm))
            if self.mode.interprets_some:
                vm.vcpu.hook_mode(self._yield_hook(vm))
            # binary translation: what runs on the virtual CPU is translated on first execution
            # (the block compiler, with or without --no-compile's tiering)
            vm.vcpu.compile_eager = self.mode.translates
            self.vms.append(vm)
        self.current: VM | None = None
        """The VM whose world is loaded on the host (its registers are the host's)."""
        self.progress: Callable[[str], None] | None = None
        """Told after every slice how far the VMs are (a long run's sign of life)."""
        if self.mode.patch:
            self.host.hook_translate(lambda host, vaddr, paddr, ins: self.current.lazy.on_translate(host, vaddr, paddr, ins))
        self._install_tracing()

    @property
    def escapes(self) -> list[str]:
        """Resource-control violations seen at entry to direct execution (none, ever, is the claim)."""
        return self.direct.escapes

    def _install_patch_views(self, vm: VM) -> None:
        """Before the VM runs directly: the host decodes the VM's patched code, and (where
        the family honours it) its loads see the original bytes under the patches."""
        self.host.code_view = vm.patches.host_code
        self.host.load_overlay = vm.patches if self.host.honours_code_overlay else None

    # --- tracing ------------------------------------------------------------------------------
    def emit(self, vm: VM, category: str, text: str) -> None:
        if category in self.categories:
            self.tracer(category, f"[{vm.name}] {vm.vcpu.mode[0].upper()}  {category:<6} {text}")

    def _scan_tracer(self, vm: VM):
        if not ({"scan", "patch"} & self.categories):
            return None
        return lambda category, text: self.emit(vm, category, text)

    def _install_tracing(self) -> None:
        if "insn" in self.categories:
            from hybridvmm.asm.disassembler import format_instruction
            from hybridvmm.machine.trace import TraceSymbols, with_symbol
            from hybridvmm.symbols import SymbolTable

            names = {vm.name: TraceSymbols(SymbolTable.from_image(vm.image)) for vm in self.vms}
            direct = self.direct

            def tracer_for(where: str):
                def on_instruction(machine, ins) -> None:
                    # the count and the symbol as the bare machine's trace gives them: the host
                    # is ahead of the VM by what it ran since the last credit, and the pc is the
                    # image's where the guest-physical address it maps to (the host's physical
                    # one less the VM's window) is the pc itself
                    vm = self.current
                    count = vm.guest_instructions
                    if machine is self.host and direct.vm is vm:
                        count += machine.stats.instructions - direct.synced
                    p = machine.physical_of(ins.address)
                    identity = p is not None and p - vm.window.offset + vm.vcpu.physical_base == ins.address
                    line = (f"{where:<6} {count:>9}  {ins.address:08x}  {ins.raw.hex():<12}  "
                            f"{format_instruction(ins, self.isa)}")
                    self.emit(vm, "insn", with_symbol(line, names[vm.name].name(ins.address, identity)))
                return on_instruction

            self.host.tracer = tracer_for("direct")
            for vm in self.vms:
                vm.vcpu.tracer = tracer_for("interp")
        if "trap" in self.categories:
            for vm in self.vms:
                vm.vcpu.hook_trap(lambda machine, trap, vm=vm: self.emit(
                    vm, "trap", f"{trap.describe()}; saved pc 0x{trap.pc:x}"))

    def _yield_hook(self, vm: VM):
        """While the VM is interpreted, hand the CPU back when it enters a mode that runs directly."""
        direct = self.direct

        def on_mode(machine, was: str, now: str) -> None:
            if vm.interpreting and direct.runs_directly(vm):
                machine.stop(f"entered {now} mode", reason=YIELDED)
        return on_mode

    # --- the loop -------------------------------------------------------------------------------
    def run(self, until: int | None = None) -> list[VM]:
        """Run every VM to its end (halt, trap loop, or its instruction limit).

        ``until``: return as soon as the (single) VM has executed exactly that many guest
        instructions, keeping its place in the current slice (lock-step comparison uses
        this; slices, and so the real timer, go on exactly as in an uninterrupted run).
        """
        while True:
            active = [vm for vm in self.vms if not vm.done]
            if not active:
                break
            for vm in active:
                if until is not None and vm.guest_instructions >= until:
                    return self._finish_run()
                if not self.begin_slice(vm):
                    continue
                self.switch_to(vm)
                start = time.perf_counter()
                try:
                    self.run_slice(vm, vm.target if until is None else min(vm.target, until))
                finally:  # (Ctrl-C too: the time it ran is reported)
                    vm.stats.wall_s += time.perf_counter() - start
                self.report_progress()
        return self._finish_run()

    def begin_slice(self, vm: VM) -> bool:
        """Give ``vm`` a new slice if its last one is over; False if its instruction limit
        has ended it instead."""
        if vm.guest_instructions >= vm.target:
            budget = min(self.slice, vm.max_steps - vm.guest_instructions)
            if budget <= 0:
                vm.finish(MAX_STEPS)
                return False
            vm.target = vm.guest_instructions + budget
        return True

    def report_progress(self) -> None:
        """Tell the progress line (if any) how far each VM has come."""
        if self.progress is not None:
            self.progress(", ".join(f"{v.name} {v.guest_instructions:,}" for v in self.vms) + " guest instructions")

    def interrupted(self) -> list[VM]:
        """Settle the statistics of a run cut short (Ctrl-C): a VM caught running directly is
        taken off the host, so the instructions the host ran ahead of its virtual CPU are
        credited, and the per-mode counts are filled in as at the end of a run."""
        if self.direct.vm is not None:
            self.direct.leave(self.host.pc)
        return self._finish_run()

    def _finish_run(self) -> list[VM]:
        if self.current is not None:
            self.current.world = self.virt.save(self.host)
        compositions = getattr(self.virt, "composition_stats", None)
        for vm in self.vms:
            vm.stats.by_mode = dict(vm.vcpu.stats.by_mode)
            vm.stats.reflected = dict(vm.vcpu.stats.traps)
            self._translation_stats(vm)
            if compositions is not None:
                vm.stats.compositions = compositions(vm.vcpu)
                refills = vm.stats.compositions.get("refills", 0)
                if refills:
                    vm.stats.exits["refill"] = refills
        return self.vms

    def _translation_stats(self, vm: VM) -> None:
        """Binary translation's counters: under ``bt`` every instruction the virtual CPU ran
        in a mode that does not run directly came from the translation cache (adaptive
        translation counts its blocks as it runs them)."""
        vcpu, stats = vm.vcpu, vm.stats
        if self.mode.translates:
            stats.translated = {m: n for m, n in stats.interpreted.items() if self.mode.interprets(m)}
        stats.callouts = vcpu.callouts
        stats.translations = vcpu.blocks.translations
        stats.instructions_translated = vcpu.blocks.translated_instructions
        stats.translations_dropped = vcpu.blocks.invalidated

    def switch_to(self, vm: VM) -> None:
        """World switch (Fig. 8.4): save the retiring VM's registers, load the next one's.
        Each VM's PSW and virtual timer live in its virtual CPU; the real timer is
        programmed for the next VM when it enters direct execution."""
        if self.current is vm:
            return
        if self.current is not None:
            self.current.world = self.virt.save(self.host)
            vm.stats.switches += 1
            self.emit(vm, "switch", f"switch from {self.current.name} to {vm.name}")
        self.virt.restore(self.host, vm.world)
        self.current = vm

    def run_slice(self, vm: VM, stop: int) -> None:
        """Run ``vm`` until it has executed ``stop`` guest instructions (or ends)."""
        vm.stop_at = stop
        while not vm.done and vm.guest_instructions < stop:
            if vm.adaptive_at is not None:
                self.adaptive.run(vm)
            elif self.direct.runs_directly(vm):
                self.run_directly(vm)
            else:
                self.interpret(vm)

    def interpret(self, vm: VM) -> None:
        vcpu = vm.vcpu
        vcpu.refresh_mapping()
        vm.interpreting = True
        try:
            result = routines.interpret(vcpu, vm.stop_at - vm.guest_instructions)
        finally:
            vm.interpreting = False
        if result.reason == HALTED:
            vm.finish(HALTED)
        elif result.reason == TRAP_LOOP:
            vm.finish(TRAP_LOOP, result.detail)
        elif result.reason == STOPPED:
            vm.finish(STOPPED, result.detail)

    def run_directly(self, vm: VM) -> None:
        result = self.direct.run(vm, vm.stop_at - vm.guest_instructions)
        if result.reason == TRAP_LOOP and not vm.done:
            vm.finish(TRAP_LOOP, result.detail)

    # --- results ------------------------------------------------------------------------------------
    def close(self) -> None:
        for vm in self.vms:
            vm.close()

    def summary(self) -> dict[str, Any]:
        return {"mode": self.mode.name, "isa": self.isa.name, "slice": self.slice,
                "host_storage": self.allocation.host_size, "vms": len(self.vms)}


def check_slice(slice_length: int) -> None:
    """``--slice`` is checked the same way whether or not a monitor will use it."""
    if slice_length < 1:
        raise UserError("--slice must be at least 1")


def virt_for(isa: ISA, options: dict[str, Any]) -> VirtModel:
    """The family's virtualization model, with ``options`` it must accept."""
    cls = virt_model(isa)
    try:
        return cls(isa, **options)
    except TypeError:
        names = ", ".join(f"--{k}" for k in options)
        raise UserError(f"{names}: not an option of {isa.name}'s monitor") from None


def run_guests(images: Iterable[Image], mode: Mode | str, **kwargs: Any) -> Monitor:
    """Build a monitor for ``images`` in ``mode`` and run it to the end."""
    monitor = Monitor(images, mode, **kwargs)
    monitor.run()
    return monitor
