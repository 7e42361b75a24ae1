"""A node's simulated disk: `MemFileSystem` that can also crash in the middle of a write,
or be full.

`arm(ops)` makes the `ops`-th following mutating operation raise `DiskCrash` before it
happens, so the simulator can crash a node halfway through persisting a Ready (after the
log append, before its fsync, say). The simulator then calls `crash(rng)`, which loses or
tears whatever was not synced, as a power cut would. While `full`, every write that takes
space (append, replace) fails with ENOSPC and changes nothing; sync, truncate and remove
still work, as on a real full disk.
"""

from __future__ import annotations

import errno
import random

from sentinel.host import MemFileSystem


class DiskCrash(Exception):
    """The power went out during a disk operation (raised by an armed SimDisk)."""


class SimDisk(MemFileSystem):
    """A crashable in-memory directory that can crash on a chosen operation."""

    def __init__(self) -> None:
        super().__init__()
        self._ops_left = 0  # 0: not armed
        self.full = False

    def arm(self, ops: int) -> None:
        """Crash on the `ops`-th mutating operation from now (1 = the next one)."""
        assert ops >= 1, "arm with a positive operation count"
        self._ops_left = ops

    def disarm(self) -> None:
        """Cancel a pending crash."""
        self._ops_left = 0

    @property
    def armed(self) -> bool:
        """Whether a crash is pending."""
        return self._ops_left > 0

    def _tick(self) -> None:
        if self._ops_left:
            self._ops_left -= 1
            if self._ops_left == 0:
                raise DiskCrash("simulated power cut during a disk operation")

    def _need_room(self) -> None:
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device (simulated)")

    def append(self, name: str, data: bytes) -> None:
        """Append (see MemFileSystem), unless the disk is full or the power goes out first."""
        self._need_room()
        self._tick()
        super().append(name, data)

    def sync(self, name: str) -> None:
        """Sync (see MemFileSystem), unless the power goes out first."""
        self._tick()
        super().sync(name)

    def write_atomic(
        self, name: str, data: bytes, tmp_suffix: str = ".tmp", sync_every_bytes: int = 0
    ) -> None:
        """Atomic replace (see MemFileSystem), unless the disk is full or the power goes out
        first."""
        self._need_room()
        self._tick()
        super().write_atomic(name, data, tmp_suffix, sync_every_bytes)

    def truncate(self, name: str, size: int) -> None:
        """Truncate (see MemFileSystem), unless the power goes out first."""
        self._tick()
        super().truncate(name, size)

    def crash(self, rng: random.Random | None = None) -> None:
        """Lose (or, with `rng`, tear) every unsynced write and disarm."""
        self._ops_left = 0
        super().crash(rng)
