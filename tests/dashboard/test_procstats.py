"""ProcessSampler on real processes: this one, a child we start and stop, and a dead pid."""

from __future__ import annotations

import os
import subprocess
import sys

from sentinel.dashboard.procstats import ProcessSampler


def test_sample_own_process_twice() -> None:
    sampler = ProcessSampler()
    first = sampler.sample([os.getpid()])[os.getpid()]
    assert first.cpu_percent is None  # psutil needs two looks to measure CPU
    assert first.rss_bytes is not None and first.rss_bytes > 1024 * 1024
    sum(range(200_000))  # a little CPU between the two looks
    second = sampler.sample([os.getpid()])[os.getpid()]
    assert second.cpu_percent is not None and second.cpu_percent >= 0.0


def test_dead_and_reaped_child_is_unknown() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)  # fmt: skip
    sampler = ProcessSampler()
    try:
        alive = sampler.sample([child.pid])[child.pid]
        assert alive.rss_bytes is not None
    finally:
        child.kill()
        child.wait(timeout=30)
        assert child.stdin is not None
        child.stdin.close()
    gone = sampler.sample([child.pid])[child.pid]
    assert gone.cpu_percent is None and gone.rss_bytes is None


def test_forgets_pids_no_longer_asked_for() -> None:
    sampler = ProcessSampler()
    sampler.sample([os.getpid()])
    assert set(sampler.sample([]).keys()) == set()
    again = sampler.sample([os.getpid()])[os.getpid()]
    assert again.cpu_percent is None  # a fresh first look
