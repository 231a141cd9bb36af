"""A disk image for the virtio block device, safe by default.

The file the user names is read once and never modified by a run: the guest reads and
writes a private copy in memory (each machine — each VM — its own, made on first use).
Only when asked (``run --drive-write``) are the guest's writes written back, when the run
ends, atomically: a temporary file beside the image, then a rename over it (the target of
a symbolic link, keeping the file's permissions), so an interrupted write-back leaves the
old image whole.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from hybridvmm.errors import UserError, read_input

SECTOR = 512


class Drive:
    """A disk image's bytes and where they came from."""

    def __init__(self, data: bytes | bytearray, path: str | Path | None = None):
        self.path = Path(path) if path is not None else None
        self._original = bytes(data)
        self._data: bytearray | None = None
        self.writes = 0
        """Sectors written by the guest (writes to the copy)."""

    @classmethod
    def open(cls, path: str | Path) -> "Drive":
        """The image at ``path`` (a one-line :class:`UserError` if it cannot be read)."""
        p = Path(path)
        if p.exists() and not p.is_dir() and not stat.S_ISREG(p.stat().st_mode):
            raise UserError(f"{p}: not a regular file (a disk image must be one)")
        return cls(read_input(p), p)

    def copy(self) -> "Drive":
        """A fresh private copy of the original image (another machine's disk)."""
        clone = Drive.__new__(Drive)
        clone.path, clone._original, clone._data, clone.writes = self.path, self._original, None, 0
        return clone

    @property
    def data(self) -> bytearray:
        if self._data is None:
            self._data = bytearray(self._original)
        return self._data

    @property
    def sectors(self) -> int:
        return len(self._original) // SECTOR

    def read(self, offset: int, length: int) -> bytes:
        return bytes(self.data[offset:offset + length])

    def write(self, offset: int, data: bytes) -> None:
        self.data[offset:offset + len(data)] = data
        self.writes += len(data) // SECTOR

    @property
    def modified(self) -> bool:
        return self._data is not None and self._data != self._original

    def write_back(self) -> bool:
        """Replace the file with the guest's copy, atomically (True if it changed)."""
        if self.path is None or not self.modified:
            return False
        target = Path(os.path.realpath(self.path))
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        except OSError as exc:
            raise UserError(f"{self.path}: cannot write the disk back: {exc.strerror or exc}") from None
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(self.data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException as exc:
            if os.path.exists(tmp):
                os.unlink(tmp)
            if isinstance(exc, OSError):
                raise UserError(f"{self.path}: cannot write the disk back: {exc.strerror or exc}") from None
            raise
        self._original = bytes(self._data)
        return True
