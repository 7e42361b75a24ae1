"""Snapshots encoded and written by a forked copy of the node (what Redis's BGSAVE does).

Encoding a big state machine and writing and fsyncing it on the node's loop stops the node
for longer than an election timeout (a 13 MB state takes ~0.4 s), and every node compacts
at about the same index, so under load the cluster would change leader at each compaction.
`fork` gives a child a copy-on-write view of the state as it is
at that moment: the child encodes it, writes and fsyncs the snapshot file and exits, while
the parent keeps serving. The parent then reads the file back (one read, no encoding) and
compacts its log to it.

The child touches nothing the parent owns: it closes its copy of the router connection (so
the router still sees the node go when the node dies), writes under its own temporary name,
and leaves with `os._exit` (no atexit handlers, no buffered output). It dies with its node:
on Linux the kernel kills it when the node dies (PR_SET_PDEATHSIG); elsewhere it checks
that its node still lives before it renames its file. A snapshot file it did leave would be
one of committed state, which recovery uses like any interrupted compaction.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import signal
import time
from collections.abc import Callable, Iterable

from sentinel.host.storage import SNAPSHOT_SYNC_BYTES, Storage
from sentinel.raft.messages import SnapshotMeta

log = logging.getLogger(__name__)

#: A child that has not finished after this long is killed (and the snapshot tried again).
CHILD_SECONDS_MAX = 60.0
#: Every node compacts at about the same index, so five children encode at once on a
#: 2-core machine: they run below the nodes, which must keep answering within a heartbeat.
CHILD_NICENESS = 10
#: After a failed child (a full disk, say) no new one starts for this long: the kv server
#: asks again after every applied batch, and a fork per batch would only fail again.
RETRY_AFTER_FAILURE_S = 1.0
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class SnapshotFork:
    """At most one snapshot child at a time, polled from the node's loop."""

    def __init__(self, storage: Storage, close_in_child: Iterable[int] = ()) -> None:
        self.storage = storage
        self.close_in_child = tuple(close_in_child)
        self.pid = 0
        self.meta: SnapshotMeta | None = None
        self.started = 0.0
        self.forks = 0
        self.failures = 0
        self.retry_after = 0.0  # monotonic time before which no child starts after a failure

    @property
    def running(self) -> bool:
        """Whether a child is writing a snapshot now."""
        return self.pid != 0

    def can_start(self) -> bool:
        """Whether `start` may be called now: no child runs and no failure is too recent."""
        return not self.running and time.monotonic() >= self.retry_after

    def start(self, meta: SnapshotMeta, make_snapshot: Callable[[], bytes]) -> None:
        """Fork a child that writes `make_snapshot()` as the snapshot for `meta`."""
        assert self.can_start(), "one snapshot child at a time, none right after a failure"
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            _child_main(self.storage, meta, make_snapshot, parent, self.close_in_child)
        self.pid, self.meta, self.started = pid, meta, time.monotonic()
        self.forks += 1

    def collect(
        self, snapshot_index: int, fits: Callable[[int], bool] = lambda _bytes: True
    ) -> tuple[int, bytes] | None:
        """(index, data) of a snapshot the child finished writing, ready for the core's
        `compact` (the file is adopted: the next `save` will not write it again); None
        while it runs, when none runs, when it failed, when the node's snapshot has
        meanwhile moved past it (`snapshot_index`, e.g. a leader's snapshot arrived), or
        when its size does not `fit`. A file not returned is removed, so that a restart
        does not recover from it."""
        done = self._poll()
        if done is None:
            return None
        meta, written = done
        if not written:
            return None
        if meta.index <= snapshot_index:
            self.storage.discard_snapshot_file(meta)
            return None
        if not fits(self.storage.snapshot_file_data_bytes(meta)):  # (before reading it all)
            self.storage.discard_snapshot_file(meta)
            return None
        data = self.storage.read_snapshot_file(meta)
        self.storage.adopt_snapshot_file(meta)
        return meta.index, data

    def _poll(self) -> tuple[SnapshotMeta, bool] | None:
        """(meta, written) once the child has exited, else None (also when none runs)."""
        if not self.running:
            return None
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid == 0:
            if time.monotonic() - self.started < CHILD_SECONDS_MAX:
                return None
            log.error("snapshot child %d ran over %.0f s: killing it", self.pid, CHILD_SECONDS_MAX)
            os.kill(self.pid, signal.SIGKILL)
            _, status = os.waitpid(self.pid, 0)
        meta = self.meta
        assert meta is not None
        written = os.waitstatus_to_exitcode(status) == 0
        if not written:
            self.failures += 1
            self.retry_after = time.monotonic() + RETRY_AFTER_FAILURE_S
            log.error("snapshot child %d failed (status %d)", self.pid, status)
        self.pid, self.meta = 0, None
        return meta, written

    def stop(self) -> None:
        """Kill and reap a running child (the node is stopping)."""
        if self.running:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self.pid, self.meta = 0, None


def _child_main(
    storage: Storage,
    meta: SnapshotMeta,
    make_snapshot: Callable[[], bytes],
    parent: int,
    close_fds: tuple[int, ...],
) -> None:
    code = 1
    try:
        _die_with(parent)
        gc.disable()  # a collection would touch (and so copy) every page of the state
        os.nice(CHILD_NICENESS)  # the nodes' loops (this one's parent too) come first
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the cluster, not us
        for fd in close_fds:
            os.close(fd)
        data = make_snapshot()
        if os.getppid() == parent:  # a node that died gets no new file from us
            storage.write_snapshot_file(
                meta, data, tmp_suffix=f".{os.getpid()}.tmp", sync_every_bytes=SNAPSHOT_SYNC_BYTES
            )
            code = 0
    except BaseException:  # the exit status says it: the child has no log
        code = 1
    finally:
        os._exit(code)


def _die_with(parent: int) -> None:
    """Have the kernel SIGKILL this process when `parent` dies (Linux), and leave now if
    it already has."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: the rename check is all
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)
