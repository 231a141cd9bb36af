"""The image container: a construct schema for guest programs, plus raw binaries.

Layout (all integers little-endian; documented in ``isa_specs/FORMAT.md``)::

    magic "HVMI" | version u16 | isa (u8-prefixed UTF-8) | entry u64
    sections: u16 count × { name (u8-prefixed) | address u64 | flags u8 | data (u32-prefixed) }
    symbols:  u32 count × { name (u16-prefixed) | address u64 }
    patches:  u32 count × { address u64 | kind (u8-prefixed) | original (u8-prefixed) | replacement (u8-prefixed) }
    crc32 of everything above (u32)

A truncated or corrupt file raises :class:`~hybridvmm.errors.ImageError` with one line.
"""

from __future__ import annotations

import os
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import construct as cs

from hybridvmm.errors import ImageError

MAGIC = b"HVMI"
VERSION = 1

MAX_SECTION_BYTES = 256 << 20
"""The largest section a program may hold (an ELF segment, an assembled section): larger is
a corrupt header or a runaway ``.org``/``.space``, never a guest a machine could run."""

FLAG_CODE = 1
FLAG_DATA = 2
FLAG_WRITE = 4

_Name8 = cs.PascalString(cs.Int8ul, "utf8")
SECTION_NAME_BYTES = 255
"""The longest section (and ISA) name an image holds, in UTF-8 bytes."""
SYMBOL_NAME_BYTES = 0xFFFF
"""The longest symbol name an image holds, in UTF-8 bytes."""


def fit_name(name: str, limit: int = SECTION_NAME_BYTES) -> str:
    """``name`` cut to at most ``limit`` UTF-8 bytes, never inside a character."""
    data = name.encode("utf-8")
    return name if len(data) <= limit else data[:limit].decode("utf-8", errors="ignore")

BODY = cs.Struct(
    "magic" / cs.Const(MAGIC),
    "version" / cs.Int16ul,
    "isa" / _Name8,
    "entry" / cs.Int64ul,
    "sections" / cs.PrefixedArray(
        cs.Int16ul,
        cs.Struct(
            "name" / _Name8,
            "address" / cs.Int64ul,
            "flags" / cs.Int8ul,
            "data" / cs.Prefixed(cs.Int32ul, cs.GreedyBytes),
        ),
    ),
    "symbols" / cs.PrefixedArray(
        cs.Int32ul,
        cs.Struct("name" / cs.PascalString(cs.Int16ul, "utf8"), "address" / cs.Int64ul),
    ),
    "patches" / cs.PrefixedArray(
        cs.Int32ul,
        cs.Struct(
            "address" / cs.Int64ul,
            "kind" / _Name8,
            "original" / cs.Prefixed(cs.Int8ul, cs.GreedyBytes),
            "replacement" / cs.Prefixed(cs.Int8ul, cs.GreedyBytes),
        ),
    ),
)

IMAGE = cs.Struct(
    "body" / cs.RawCopy(BODY),
    "crc32" / cs.Checksum(cs.Int32ul, lambda data: zlib.crc32(data), cs.this.body.data),
    cs.Terminated,
)


@dataclass
class Section:
    """A contiguous range of guest storage with its contents."""

    name: str
    address: int
    data: bytearray
    flags: int = FLAG_CODE | FLAG_DATA | FLAG_WRITE

    @property
    def end(self) -> int:
        return self.address + len(self.data)

    def contains(self, address: int) -> bool:
        return self.address <= address < self.end


@dataclass(frozen=True)
class PatchRecord:
    """One patch as data: where, what was there, what is there now, and why."""

    address: int
    original: bytes
    replacement: bytes
    kind: str


@dataclass
class Image:
    """A guest program: ISA, entry point, sections, symbols and a patch table."""

    isa: str
    entry: int
    sections: list[Section] = field(default_factory=list)
    symbols: dict[str, int] = field(default_factory=dict)
    patches: list[PatchRecord] = field(default_factory=list)
    source: str = ""
    platform: dict[str, Any] = field(default_factory=dict, compare=False)
    """What the program expects of the machine beyond its sections, when it says (a bundled
    guest: ``ram`` bytes, and ``drive`` as (name, disk bytes)); not kept in the image file.
    Options the user gives (``--ram``, ``--drive``) take precedence."""

    # --- storage view --------------------------------------------------------------
    def section_at(self, address: int) -> Section | None:
        for s in self.sections:
            if s.contains(address):
                return s
        return None

    def read(self, address: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``address``, stopping at the end of its section."""
        s = self.section_at(address)
        if s is None:
            return b""
        off = address - s.address
        return bytes(s.data[off:off + length])

    def write(self, address: int, data: bytes) -> None:
        """Overwrite bytes that lie inside one section."""
        s = self.section_at(address)
        if s is None or address + len(data) > s.end:
            raise ImageError(f"write of {len(data)} bytes at 0x{address:x} falls outside the image's sections")
        off = address - s.address
        s.data[off:off + len(data)] = data

    @property
    def low(self) -> int:
        return min((s.address for s in self.sections), default=0)

    @property
    def high(self) -> int:
        return max((s.end for s in self.sections), default=0)

    def copy(self) -> "Image":
        return Image(
            self.isa,
            self.entry,
            [Section(s.name, s.address, bytearray(s.data), s.flags) for s in self.sections],
            dict(self.symbols),
            list(self.patches),
            self.source,
            dict(self.platform),
        )

    # --- serialisation -------------------------------------------------------------
    def to_bytes(self) -> bytes:
        self._check_writable()
        body = dict(
            magic=MAGIC,
            version=VERSION,
            isa=self.isa,
            entry=self.entry,
            sections=[dict(name=s.name, address=s.address, flags=s.flags, data=bytes(s.data)) for s in self.sections],
            symbols=[dict(name=n, address=a) for n, a in sorted(self.symbols.items(), key=lambda kv: (kv[1], kv[0]))],
            patches=[
                dict(address=p.address, kind=p.kind, original=p.original, replacement=p.replacement)
                for p in sorted(self.patches, key=lambda p: p.address)
            ],
        )
        return IMAGE.build(dict(body=dict(value=body)))

    def _check_writable(self) -> None:
        """Refuse, as one ImageError, what the container cannot hold (a name too long for its
        length prefix, too many sections), instead of failing deep inside the builder."""
        where = self.source or "image"
        names = [("ISA", self.isa, SECTION_NAME_BYTES)] + [("section", s.name, SECTION_NAME_BYTES) for s in self.sections]
        names += [("symbol", n, SYMBOL_NAME_BYTES) for n in self.symbols]
        for what, name, limit in names:
            size = len(name.encode("utf-8"))
            if size > limit:
                raise ImageError(f"{where}: {what} name '{fit_name(name, 40)}…' is {size} bytes; "
                                 f"an image holds {what} names of at most {limit} bytes")
        if len(self.sections) > 0xFFFF:
            raise ImageError(f"{where}: {len(self.sections)} sections; an image holds at most {0xFFFF}")

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "<bytes>") -> "Image":
        if not data.startswith(MAGIC):
            raise ImageError(f"{source}: not a hybridvmm image (bad magic)")
        try:
            parsed = IMAGE.parse(data)
        except cs.ChecksumError:
            raise ImageError(f"{source}: corrupt image (checksum mismatch)") from None
        except cs.TerminatedError:
            raise ImageError(f"{source}: corrupt image (trailing bytes after the checksum)") from None
        except (cs.StreamError, cs.ConstructError, UnicodeDecodeError):
            raise ImageError(f"{source}: truncated or corrupt image") from None
        body = parsed.body.value
        if body.version != VERSION:
            raise ImageError(f"{source}: image format version {body.version} is not supported (want {VERSION})")
        img = cls(
            isa=body.isa,
            entry=body.entry,
            sections=[Section(s.name, s.address, bytearray(s.data), s.flags) for s in body.sections],
            symbols={s.name: s.address for s in body.symbols},
            patches=[PatchRecord(p.address, bytes(p.original), bytes(p.replacement), p.kind) for p in body.patches],
            source=source,
        )
        img.check()
        return img

    def check(self) -> None:
        """Sections must not overlap (a corrupt or hand-made image could say so)."""
        ordered = sorted(self.sections, key=lambda s: s.address)
        for a, b in zip(ordered, ordered[1:]):
            if b.address < a.end:
                raise ImageError(f"{self.source}: sections '{a.name}' and '{b.name}' overlap")

    def save(self, path: str | Path) -> None:
        """Write atomically: a failed write never leaves a half-written file behind."""
        write_file_atomic(Path(path), self.to_bytes())


def write_file_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` as ordinary tools do, atomically: a temporary file in the
    same directory (created mode 0600 by ``mkstemp``, whatever the umask), flushed to disk,
    then renamed over ``path``.  A symbolic link at ``path`` is replaced by the file (its
    target is left alone); any failure removes the temporary file and leaves what was there."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def raw_image(data: bytes, isa: str, base: int, entry: int | None = None, source: str = "<raw>") -> Image:
    """A raw binary as an image with one section at ``base``."""
    return Image(isa=isa, entry=base if entry is None else entry, sections=[Section("raw", base, bytearray(data))], source=source)
