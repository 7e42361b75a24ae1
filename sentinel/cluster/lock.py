"""One supervisor per cluster directory: an flock on `<dir>/supervisor.lock`.

The kernel drops an flock when its holder dies, however it dies (SIGKILL included), so a stale
lock file never blocks a later `up`. The file also records the holder's pid for messages.
The descriptor is close-on-exec, so spawned children never hold the lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = "supervisor.lock"


class DirectoryBusy(RuntimeError):
    """Another live supervisor uses the directory."""


class DirectoryLock:
    """An exclusive, non-blocking lock on a cluster directory."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock and write our pid, or raise DirectoryBusy naming the holder."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = holder_pid(self.path.parent)
            who = f" (supervisor pid {holder})" if holder else ""
            raise DirectoryBusy(
                f"a cluster is already running in {self.path.parent}{who}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Drop the lock (the file stays; it is harmless when unlocked)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def is_locked(directory: Path) -> bool:
    """Whether a live supervisor holds the lock of `directory`."""
    try:
        fd = os.open(directory / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops our shared lock, if we got it
    return False


def holder_pid(directory: Path) -> int | None:
    """The pid written by the lock's holder, if readable."""
    try:
        text = (directory / LOCK_NAME).read_text()[:32]
        return int(text.strip())
    except (OSError, ValueError):
        return None
