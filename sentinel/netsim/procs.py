"""Process control: spawn, kill (SIGKILL), pause (SIGSTOP), resume (SIGCONT), restart.

A `ProcessGroup` records every process it started and signals only those, and only while
they are unreaped children (so a pid can never have been reused by a stranger). Nothing is
left running: `stop_all` runs on `with`-exit, on interpreter exit (atexit, before
multiprocessing's own handler, which would hang joining a stopped child) and, after
`install_sigterm_handler()`, on SIGTERM. Children die with their parent too: each child asks
the kernel for SIGKILL when its parent goes (`prctl(PR_SET_PDEATHSIG)`, Linux, only when
spawned from the main thread, since the kernel ties it to the spawning thread) and also
watches its parent pid from a daemon thread, so the guarantee holds on every path.
"""

from __future__ import annotations

import atexit
import ctypes
import logging
import multiprocessing
import multiprocessing.util  # registers its atexit hook first, so ours runs before it
import os
import signal
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

PARENT_WATCH_S = 0.2
STOP_JOIN_S = 5.0
PROCESSES_MAX = 1024  # distinct names in one group
PIDS_KEPT = 4096
_PR_SET_PDEATHSIG = 1

_groups: weakref.WeakSet[ProcessGroup] = weakref.WeakSet()


def _die_with_parent(owner_pid: int, use_pdeathsig: bool) -> None:
    """In the child: exit as soon as the process that started it (`owner_pid`) is gone.

    With spawn the owner is our parent: the kernel's parent-death signal covers it, and the
    watch sees the parent pid change. With forkserver our parent is the fork server, so the
    watch also checks that the owner still exists."""
    parent_pid = os.getppid()
    owner_is_parent = parent_pid == owner_pid
    if use_pdeathsig and owner_is_parent and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            log.debug("prctl(PR_SET_PDEATHSIG) unavailable; relying on the parent watch")
        if os.getppid() != owner_pid:  # the owner died before prctl took effect
            os._exit(1)

    def owner_gone() -> bool:
        if os.getppid() != parent_pid:
            return True
        if owner_is_parent:
            return False
        try:
            os.kill(owner_pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def watch() -> None:
        while not owner_gone():
            time.sleep(PARENT_WATCH_S)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _child_main(
    parent_pid: int, use_pdeathsig: bool, target: Callable[..., Any], args: tuple, kwargs: dict
) -> None:
    _die_with_parent(parent_pid, use_pdeathsig)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        target(*args, **kwargs)
    finally:
        _stop_every_group()  # a child's own children go first (multiprocessing would join them)


class ProcessGroup:
    """Named child processes started with an explicit start method (spawn by default)."""

    def __init__(self, start_method: str = "spawn") -> None:
        assert start_method in ("spawn", "forkserver"), "fork from a threaded parent is unsafe"
        self.context = multiprocessing.get_context(start_method)
        self._procs: dict[str, multiprocessing.process.BaseProcess] = {}
        self._specs: dict[str, tuple[Callable[..., Any], tuple, dict]] = {}
        self._paused: set[str] = set()
        self.started_pids: deque[int] = deque(maxlen=PIDS_KEPT)  # the most recent starts
        self._lock = threading.RLock()
        _groups.add(self)

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def start(
        self, name: str, target: Callable[..., Any], args: tuple = (), kwargs: dict | None = None
    ) -> int:
        """Start `target(*args, **kwargs)` in a fresh process called `name`; return its pid."""
        with self._lock:
            assert not self.is_alive(name), f"process {name!r} is already running"
            assert len(self._procs) < PROCESSES_MAX or name in self._procs, "too many names"
            kwargs = kwargs or {}
            on_main = threading.current_thread() is threading.main_thread()
            proc = self.context.Process(
                target=_child_main,
                args=(os.getpid(), on_main, target, args, kwargs),
                name=f"sentinel-{name}",
                daemon=False,  # a child may start children of its own; we stop them all anyway
            )
            proc.start()
            assert proc.pid is not None
            self._procs[name] = proc
            self._specs[name] = (target, args, kwargs)
            self._paused.discard(name)
            self.started_pids.append(proc.pid)
            return proc.pid

    def restart(self, name: str, args: tuple | None = None) -> int:
        """Kill `name` if it runs, then start a fresh process with the same target (and the
        same arguments unless new ones are given, e.g. a fresh pipe end)."""
        with self._lock:
            target, old_args, kwargs = self._specs[name]
            self.kill(name)
            return self.start(name, target, old_args if args is None else args, kwargs)

    def _signal(self, name: str, signum: int) -> bool:
        proc = self._procs.get(name)
        # exitcode is None only while the child is unreaped: its pid is still ours (with
        # spawn; a fork server reaps its children itself and reports a moment later).
        if proc is None or proc.exitcode is not None:
            return False
        try:
            os.kill(proc.pid, signum)  # type: ignore[arg-type]
        except ProcessLookupError:  # a fork server's child: reaped there, news not here yet
            return False
        return True

    def kill(self, name: str, join_s: float = STOP_JOIN_S) -> None:
        """SIGKILL `name` (a crash) and reap it."""
        with self._lock:
            if self._signal(name, signal.SIGKILL):
                self._procs[name].join(join_s)
            self._paused.discard(name)

    def pause(self, name: str) -> None:
        """SIGSTOP `name`: it stays alive but does nothing."""
        with self._lock:
            if self._signal(name, signal.SIGSTOP):
                self._paused.add(name)

    def resume(self, name: str) -> None:
        """SIGCONT `name`."""
        with self._lock:
            self._signal(name, signal.SIGCONT)
            self._paused.discard(name)

    def stop(self, name: str, grace_s: float = 0.0) -> None:
        """Stop `name`: SIGTERM (after SIGCONT) and `grace_s` to exit, then SIGKILL."""
        with self._lock:
            proc = self._procs.get(name)
            if proc is None:
                return
            if grace_s > 0 and self._signal(name, signal.SIGTERM):
                self._signal(name, signal.SIGCONT)
                proc.join(grace_s)
            self.kill(name)

    def stop_all(self) -> None:
        """Stop every process of the group (SIGKILL, then reap)."""
        with self._lock:
            for name in list(self._procs):
                self._signal(name, signal.SIGKILL)
            for proc in self._procs.values():
                proc.join(STOP_JOIN_S)
            self._paused.clear()

    def wait(self, name: str, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for `name` to end by itself; whether it has ended."""
        proc = self._procs.get(name)
        if proc is None:
            return True
        proc.join(timeout_s)
        return proc.exitcode is not None

    def is_alive(self, name: str) -> bool:
        """Whether `name` runs (paused counts as running)."""
        proc = self._procs.get(name)
        return proc is not None and proc.exitcode is None

    def is_paused(self, name: str) -> bool:
        """Whether `name` was paused and not resumed."""
        return name in self._paused

    def pid(self, name: str) -> int | None:
        """The pid of `name` while it runs."""
        proc = self._procs.get(name)
        return proc.pid if proc is not None and proc.exitcode is None else None

    def exitcode(self, name: str) -> int | None:
        """The exit code of `name` once it ended (negative: killed by that signal)."""
        proc = self._procs.get(name)
        return None if proc is None else proc.exitcode

    def names(self) -> list[str]:
        """Names of every process ever started in this group."""
        return list(self._procs)


def _stop_every_group() -> None:
    for group in list(_groups):
        try:
            group.stop_all()
        except Exception:  # at exit: keep stopping the others
            log.exception("stopping a process group at exit failed")


atexit.register(_stop_every_group)


def install_sigterm_handler() -> None:
    """Turn SIGTERM into SystemExit in the main thread, so `with` blocks, finally clauses and
    atexit handlers stop every child. Call once from a program's main thread."""

    def on_sigterm(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_sigterm)
