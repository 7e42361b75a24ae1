"""Fixtures for the sharding tests on real processes: `procs` (a GroupProcs, always cleaned
up, with a no-leak check) and the scenario modules under unique names."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from multiprocessing import resource_tracker
from pathlib import Path

import pytest

from sentinel.netsim.testing import no_leaked_children


def _load(name: str, path: Path) -> None:
    if name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


_HERE = Path(__file__).parent
_load("harness_shard", _HERE / "harness.py")
_load("ctl_scenarios", _HERE.parent / "shard" / "ctl_scenarios.py")
_load("workload_shard", _HERE / "workload.py")

from harness_shard import TEST_LIMIT_S, GroupProcs, start_forkserver  # noqa: E402


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[GroupProcs]:
    """A router with no groups yet; every process it starts is stopped at the end."""
    resource_tracker.ensure_running()
    start_forkserver()
    with no_leaked_children():
        made = GroupProcs(tmp_path / "c")
        try:
            yield made
        finally:
            made.cleanup()
        assert made.elapsed() <= TEST_LIMIT_S, f"took over {TEST_LIMIT_S} s"
