"""The classifier's derived classes for the scanner: one class per instruction form, on demand, cached.

:class:`DerivedClasses` is a scanner ``classes_of``: asked about a decoded instruction, it
names the instruction's form (the probe's ``instance_key``: ``csrrs@time``) and answers
with the classes the classifier derived for that form under the headline comparison (M vs
U on RISC-V).  Where a form violates Theorem 1 only under some configuration settings, the
classes are those derived with the setting that ends the violation held (a monitor sets
it: it clears the counter enables), and :attr:`DerivedClasses.assumed` says so.

Forms are derived when first needed, all those of a scan at once (``prepare``), and never
again in the process.  Results also go to a file cache, keyed by the ISA, the samples, the
seed and a fingerprint of the spec files and of this package's source, so that a second
scan of real code starts at once: ``$HYBRIDVMM_CACHE`` names its directory (``off``: none),
else ``$XDG_CACHE_HOME/hybridvmm`` or ``~/.cache/hybridvmm``.  A form's classes do not depend
on which other forms were classified with it (each instruction's states come from the seed
alone), so a cache filled piecemeal equals one filled at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable

from hybridvmm.classify.engine import DEFAULT_SAMPLES, classify_isa
from hybridvmm.classify.probe import Probe, optional
from hybridvmm.isa import ISA, Instruction, load_isa

CACHE_VERSION = 1


@lru_cache(maxsize=1)
def _source_fingerprint() -> str:
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def fingerprint(isa: ISA) -> str:
    """What the derived classes depend on: the spec files and the package's source."""
    h = hashlib.sha256(_source_fingerprint().encode())
    for name in isa.files:
        try:
            h.update(Path(name).read_bytes())
        except OSError:
            h.update(name.encode())
    return h.hexdigest()[:20]


def cache_dir() -> Path | None:
    """Where derived classes are kept between runs (None: nowhere)."""
    chosen = os.environ.get("HYBRIDVMM_CACHE")
    if chosen is not None:
        return None if chosen.lower() in ("", "0", "off", "no", "none") else Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "hybridvmm"


class DerivedClasses:
    """A scanner ``classes_of`` answering with derived classes (see the module docstring)."""

    def __init__(self, isa: ISA | str, samples: int = DEFAULT_SAMPLES, seed: int = 0, *, probe: Probe,
                 jobs: int | None = None, progress: Callable[[str], None] | None = None, cache: bool = False):
        """``probe`` is the system model to classify on (:func:`hybridvmm.isas.probe_for`);
        ``cache`` keeps the results on disk, for the family's own probe only (a mutated
        machine's classes would poison the cache); ``progress`` is told what is being
        classified."""
        self.isa = load_isa(isa) if isinstance(isa, str) else isa
        self.samples, self.seed, self.jobs, self.progress = samples, seed, jobs, progress
        self.probe = probe
        self._key = optional(self.probe, "instance_key")
        self.table: dict[str, frozenset[str]] = {}
        """Form → the classes scans use."""
        self.assumed: dict[str, str] = {}
        """Form → the setting its classes assume (forms whose Theorem 1 violation it ends)."""
        self.comparison = ""
        self._file: Path | None = None
        directory = cache_dir() if cache else None
        if directory is not None:
            self._file = directory / f"derived-{self.isa.name}-s{samples}-seed{seed}-{fingerprint(self.isa)}.json"
            self._load()

    def key(self, ins: Instruction) -> str:
        return self._key(ins.spec, ins.operands)

    def prepare(self, instructions: Iterable[Instruction]) -> None:
        """Derive, in one classification, the forms of ``instructions`` not known yet."""
        missing = {self.key(ins) for ins in instructions} - set(self.table)
        if not missing:
            return
        result = classify_isa(self.isa, self.samples, self.seed, probe=self.probe, progress=self.progress,
                              jobs=self.jobs, only=sorted(missing))
        self.comparison = result.comparison
        for ic in result.instructions:
            self.table[ic.name] = ic.classes_when if ic.classes_when is not None else ic.derived
            if ic.classes_when is not None:
                self.assumed[ic.name] = " or ".join(ic.when["Theorem 1"])
        self._save()

    def __call__(self, ins: Instruction) -> frozenset[str]:
        key = self.key(ins)
        if key not in self.table:
            self.prepare([ins])
        return self.table[key]

    def describe(self) -> str:
        """Where the classes come from, in words (for a scan report)."""
        words = (f"derived by the classifier ({self.comparison + ', ' if self.comparison else ''}"
                 f"{self.samples} states per form, seed {self.seed})")
        if self.assumed:
            settings = sorted(set(self.assumed.values()))
            words += "; assuming " + " and ".join(f"({s})" if " or " in s else s for s in settings)
        return words

    # --- the file cache ----------------------------------------------------------------
    def _load(self) -> None:
        try:
            data = json.loads(self._file.read_text())  # type: ignore[union-attr]
        except (OSError, ValueError):
            return
        if data.get("version") != CACHE_VERSION:
            return
        self.comparison = data.get("comparison", "")
        for key, entry in data.get("forms", {}).items():
            self.table[key] = frozenset(entry["classes"])
            if entry.get("assumes"):
                self.assumed[key] = entry["assumes"]

    def _save(self) -> None:
        if self._file is None:
            return
        data = {"version": CACHE_VERSION, "isa": self.isa.name, "samples": self.samples, "seed": self.seed,
                "comparison": self.comparison,
                "forms": {k: {"classes": sorted(v), **({"assumes": self.assumed[k]} if k in self.assumed else {})}
                          for k, v in sorted(self.table.items())}}
        try:
            self._file.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=self._file.parent, delete=False, suffix=".tmp") as f:
                json.dump(data, f)
            os.replace(f.name, self._file)
        except OSError:
            self._file = None  # a cache that cannot be written is no cache


def derived_classes(isa: ISA | str, samples: int = DEFAULT_SAMPLES, seed: int = 0, **kwargs) -> DerivedClasses:
    """The derived classes of ``isa``'s forms as a scanner ``classes_of``."""
    return DerivedClasses(isa, samples, seed, **kwargs)
