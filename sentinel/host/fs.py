"""A tiny file-system interface for storage: the real disk, or memory that can "crash".

Storage needs only a flat directory of files with these operations, so the simulator can
give each node a `MemFileSystem` and call `crash()` on it: everything not yet synced is lost
(or, with a random source, torn: a random prefix of the unsynced tail survives, maybe with
garbage in its last bytes), exactly what a power cut does to a real disk.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
from typing import Protocol


class FileSystem(Protocol):
    """A flat directory. `write_atomic` and `truncate` are durable when they return;
    `append` is durable only after `sync` of that file."""

    def names(self) -> list[str]: ...
    def read(self, name: str) -> bytes: ...
    def read_range(self, name: str, offset: int, size: int) -> bytes: ...
    def size(self, name: str) -> int: ...
    def size_on_disk(self, name: str) -> int: ...
    def append(self, name: str, data: bytes) -> None: ...
    def sync(self, name: str) -> None: ...
    def write_atomic(
        self, name: str, data: bytes, tmp_suffix: str = ".tmp", sync_every_bytes: int = 0
    ) -> None: ...
    def truncate(self, name: str, size: int) -> None: ...
    def remove(self, name: str) -> None: ...
    def close(self) -> None: ...


#: Appends go into space allocated ahead of them, at least this much at a time ...
ALLOCATE_AHEAD_BYTES_MIN = 64 * 1024
#: ... and at most this much (in between: as much as the file already holds).
ALLOCATE_AHEAD_BYTES_MAX = 8 * 1024 * 1024


class OsFileSystem:
    """One real directory. Counts fsyncs (`fsyncs`) so tests can check group commit.

    An appended file grows in allocated pieces (`ALLOCATE_AHEAD_BYTES_MIN` up to `_MAX`,
    fsynced once each), and an append's `sync` is then an fdatasync: the file's size and
    blocks do not change, so the disk writes the data without a journal commit, which is
    most of an append's fsync on ext4 (~70 us of ~300 here). The allocated space reads as
    zeros: a reader of the file must take zeros after its last record for free space (the
    storage's recovery does, and cuts them off), and `close` cuts them off too."""

    def __init__(self, directory: str | os.PathLike[str], quota_bytes: int = 0) -> None:
        assert quota_bytes >= 0, "a quota cannot be negative"
        self.directory = os.fspath(directory)
        #: With a quota, the directory's files (whatever wrote them) may take at most this
        #: many bytes: a write past it fails with ENOSPC, as on a full disk (0: no quota).
        self.quota_bytes = quota_bytes
        os.makedirs(self.directory, exist_ok=True)
        self._fds: dict[str, int] = {}
        self._new: set[str] = set()
        self._ends: dict[str, int] = {}  # an open appended file's end of data
        self._allocated: dict[str, int] = {}  # ... and of the space allocated for it
        self._grown: set[str] = set()  # allocated more since the last sync
        self.fsyncs = 0

    def _path(self, name: str) -> str:
        if "/" in name or name in ("", ".", ".."):
            raise ValueError(f"bad file name {name!r}")
        return os.path.join(self.directory, name)

    def names(self) -> list[str]:
        """Files in the directory, sorted."""
        return sorted(os.listdir(self.directory))

    def read(self, name: str) -> bytes:
        """The whole file (its data only, for a file open for appends)."""
        with open(self._path(name), "rb") as f:
            data = f.read()
        end = self._ends.get(name)
        return data if end is None else data[:end]

    def read_range(self, name: str, offset: int, size: int) -> bytes:
        """`size` bytes from `offset` (fewer at the end of the file), in one read."""
        fd = os.open(self._path(name), os.O_RDONLY)
        try:
            return os.pread(fd, size, offset)
        finally:
            os.close(fd)

    def size(self, name: str) -> int:
        """Bytes in the file (0 when missing); the data only, for a file open for appends."""
        end = self._ends.get(name)
        if end is not None:
            return end
        try:
            return os.path.getsize(self._path(name))
        except FileNotFoundError:
            return 0

    def size_on_disk(self, name: str) -> int:
        """Bytes the file takes (0 when missing), space allocated ahead included."""
        try:
            return os.path.getsize(self._path(name))
        except FileNotFoundError:
            return 0

    def append(self, name: str, data: bytes) -> None:
        """Append bytes after the file's data (durable after `sync`)."""
        fd = self._fds.get(name)
        if fd is None:
            if not os.path.exists(self._path(name)):
                self._new.add(name)  # its directory entry needs an fsync too
            fd = os.open(self._path(name), os.O_WRONLY | os.O_CREAT, 0o600)
            self._fds[name] = fd
            self._ends[name] = self._allocated[name] = os.fstat(fd).st_size
        end = self._ends[name]
        if end + len(data) > self._allocated[name]:
            self._allocate(name, fd, end + len(data))
        view = memoryview(data)
        while view:
            done = os.pwrite(fd, view, end)
            view, end = view[done:], end + done
        self._ends[name] = end

    def _allocate(self, name: str, fd: int, need: int) -> None:
        """Allocate up to `need` bytes and some ahead; on a nearly full disk, just `need`.
        Raises ENOSPC (nothing written) when even that does not fit."""
        ahead = min(ALLOCATE_AHEAD_BYTES_MAX, max(ALLOCATE_AHEAD_BYTES_MIN, self._ends[name]))
        for extra in (ahead, 0) if ahead else (0,):
            try:
                self._check_room(need + extra - self._allocated[name])
                os.posix_fallocate(fd, 0, need + extra)
            except OSError as exc:
                if exc.errno == errno.ENOSPC and extra:
                    continue  # the space ahead does not fit: try the bytes needed alone
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise
                extra = 0  # a file system without allocation: plain appends, fsynced
            self._allocated[name] = need + extra
            self._grown.add(name)
            return

    def _check_room(self, extra_bytes: int) -> None:
        """Raise ENOSPC if `extra_bytes` more would pass the quota (if any)."""
        if not self.quota_bytes or extra_bytes <= 0:
            return
        used = 0
        for entry in os.scandir(self.directory):
            with contextlib.suppress(FileNotFoundError):
                used += entry.stat(follow_symlinks=False).st_size
        if used + extra_bytes > self.quota_bytes:
            raise OSError(
                errno.ENOSPC,
                f"No space left on device (quota of {self.quota_bytes} bytes, "
                f"{used} used, {extra_bytes} more asked)",
            )

    def sync(self, name: str) -> None:
        """fsync the file (and the directory, in case the append created it)."""
        fd = self._fds.get(name)
        if fd is not None:
            if name in self._grown:  # the size changed: the metadata must go to disk too
                self._grown.discard(name)
                os.fsync(fd)
            else:
                os.fdatasync(fd)
            self.fsyncs += 1
        if name in self._new:
            self._new.discard(name)
            self._sync_dir()

    def write_atomic(
        self, name: str, data: bytes, tmp_suffix: str = ".tmp", sync_every_bytes: int = 0
    ) -> None:
        """Temp file (`name + tmp_suffix`, which must end in ".tmp"), fsync, rename over
        `name`, fsync the directory. With `sync_every_bytes`, the data goes to disk in pieces
        of that size (fdatasync after each): one big flush makes every other process's fsync
        on this file system wait behind it (ext4 commits its journal as a whole)."""
        assert tmp_suffix.endswith(".tmp"), "recovery removes leftover *.tmp files"
        self._check_room(len(data))  # (the old file's space comes back only after)
        self._close_fd(name)
        tmp = self._path(name + tmp_suffix)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                piece = view[: sync_every_bytes or len(view)]
                while piece:
                    piece = piece[os.write(fd, piece) :]
                view = view[sync_every_bytes or len(view) :]
                if view:
                    os.fdatasync(fd)
            os.fsync(fd)
        except BaseException:  # a full disk: give back the space the half-written copy took
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        os.close(fd)
        os.replace(tmp, self._path(name))
        self._sync_dir()
        self.fsyncs += 2

    def truncate(self, name: str, size: int) -> None:
        """Cut the file to `size` bytes, durably."""
        self._close_fd(name)
        fd = os.open(self._path(name), os.O_WRONLY)
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.fsyncs += 1

    def remove(self, name: str) -> None:
        """Delete the file if it exists."""
        self._close_fd(name)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(name))

    def close(self) -> None:
        """Close every open file."""
        for name in list(self._fds):
            self._close_fd(name)

    def _close_fd(self, name: str) -> None:
        fd = self._fds.pop(name, None)
        if fd is not None:
            end = self._ends.pop(name)
            if self._allocated.pop(name) > end:
                os.ftruncate(fd, end)  # the space allocated ahead goes (durably or not:
            self._grown.discard(name)  # recovery takes zeros after the data for free space)
            os.close(fd)

    def _sync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class MemFileSystem:
    """Files in memory with a durable and a current version each; `crash()` loses the rest.

    Usage in the simulator: keep one MemFileSystem per node for the whole run; open storage
    with `Storage.open_fs(fs, cluster_id, node_id)`; at a crash call `fs.crash(rng)` (drop
    the old core and storage objects) and open again to recover.
    """

    def __init__(self) -> None:
        self._current: dict[str, bytearray] = {}
        self._durable: dict[str, bytes] = {}
        self.fsyncs = 0

    def names(self) -> list[str]:
        """Files that exist now, sorted."""
        return sorted(self._current)

    def read(self, name: str) -> bytes:
        """The file as the process sees it."""
        if name not in self._current:
            raise FileNotFoundError(name)
        return bytes(self._current[name])

    def read_range(self, name: str, offset: int, size: int) -> bytes:
        """`size` bytes from `offset` (fewer at the end of the file)."""
        return self.read(name)[offset : offset + size]

    def size(self, name: str) -> int:
        """Bytes in the file (0 when missing)."""
        return len(self._current.get(name, b""))

    def size_on_disk(self, name: str) -> int:
        """The same as `size`: nothing is allocated ahead in memory."""
        return self.size(name)

    def append(self, name: str, data: bytes) -> None:
        """Append bytes; they survive a crash only after `sync`."""
        self._current.setdefault(name, bytearray()).extend(data)

    def sync(self, name: str) -> None:
        """Make the file's current content durable."""
        if name in self._current:
            self._durable[name] = bytes(self._current[name])
            self.fsyncs += 1

    def write_atomic(
        self, name: str, data: bytes, tmp_suffix: str = ".tmp", sync_every_bytes: int = 0
    ) -> None:
        """Replace the file, durably and atomically."""
        self._current[name] = bytearray(data)
        self._durable[name] = bytes(data)
        self.fsyncs += 2

    def truncate(self, name: str, size: int) -> None:
        """Cut the file, durably."""
        self._current[name] = self._current[name][:size]
        self._durable[name] = bytes(self._current[name])
        self.fsyncs += 1

    def remove(self, name: str) -> None:
        """Delete the file (durably)."""
        self._current.pop(name, None)
        self._durable.pop(name, None)

    def close(self) -> None:
        """Nothing to close."""

    def crash(self, rng: random.Random | None = None) -> None:
        """Lose every unsynced write. With `rng`, keep a random prefix of each unsynced
        appended tail and maybe garble its last bytes (a torn write)."""
        for name in list(self._current):
            durable = self._durable.get(name)
            current = bytes(self._current[name])
            if durable is None:
                survivor = b""
                if rng is None or not current:
                    del self._current[name]
                    continue
            else:
                survivor = durable
            tail = current[len(survivor) :] if current.startswith(survivor) else b""
            if rng is not None and tail:
                keep = tail[: rng.randrange(len(tail) + 1)]
                if keep and rng.random() < 0.5:
                    cut = rng.randrange(len(keep))
                    keep = keep[:cut] + bytes(rng.randrange(256) for _ in keep[cut:])
                survivor += keep
            self._current[name] = bytearray(survivor)
            self._durable[name] = survivor
