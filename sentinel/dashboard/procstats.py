"""CPU % and RSS of node processes, with psutil, for the NodeView's cpu and rss columns.

psutil's `cpu_percent()` measures since the previous call on the same Process object, so the
sampler keeps one object per pid across frames. A pid that is gone, a zombie or not ours to read
yields None (unknown), never an exception: a node killed between two frames is normal here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psutil

TRACKED_PIDS_MAX = 1024  # far above any cluster; a bound so a pid leak cannot grow the cache


@dataclass(frozen=True, slots=True)
class ProcessSample:
    """One process's figures; None where unknown. `cpu_percent` is None on the first sample."""

    pid: int
    cpu_percent: float | None
    rss_bytes: int | None


class ProcessSampler:
    """Samples CPU % and RSS for a changing set of pids (call once per frame)."""

    def __init__(self) -> None:
        self._procs: dict[int, psutil.Process] = {}

    def sample(self, pids: Iterable[int]) -> dict[int, ProcessSample]:
        """Figures for each pid; pids no longer asked for are forgotten."""
        wanted = list(dict.fromkeys(pids))
        assert len(wanted) <= TRACKED_PIDS_MAX, len(wanted)
        for gone in set(self._procs) - set(wanted):
            del self._procs[gone]
        return {pid: self._sample_one(pid) for pid in wanted}

    def _sample_one(self, pid: int) -> ProcessSample:
        proc = self._procs.get(pid)
        first = False
        try:
            if proc is None or not proc.is_running():  # is_running also catches pid reuse
                proc = psutil.Process(pid)
                self._procs[pid] = proc
                first = True
            with proc.oneshot():
                cpu = proc.cpu_percent(interval=None)
                rss = proc.memory_info().rss
                if proc.status() == psutil.STATUS_ZOMBIE:
                    raise psutil.ZombieProcess(pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            self._procs.pop(pid, None)
            return ProcessSample(pid, None, None)
        return ProcessSample(pid, None if first else cpu, rss)
