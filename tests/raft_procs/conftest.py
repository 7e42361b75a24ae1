"""Fixtures for the 6.824 Raft tests on real processes: `make_cluster` and a no-leak check.

harness.py is loaded under the unique name `raft_procs_harness` (test folders may hold
modules with the same basename; --import-mode=importlib does not make them packages).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from multiprocessing import resource_tracker
from pathlib import Path
from typing import Any

import pytest

from sentinel.netsim.testing import no_leaked_children

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:  # node processes (spawned: they inherit sys.path) load test apps
    sys.path.insert(0, _HERE)
_NAME = "raft_procs_harness"
if _NAME not in sys.modules:
    _spec = importlib.util.spec_from_file_location(_NAME, Path(__file__).with_name("harness.py"))
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[_NAME] = _module
    _spec.loader.exec_module(_module)

from raft_procs_harness import TEST_LIMIT_S, RaftCluster  # noqa: E402


@pytest.fixture
def no_leaks() -> Iterator[None]:
    """Fail the test if any process started during it outlives it."""
    resource_tracker.ensure_running()  # lives as long as this interpreter, by design
    with no_leaked_children():
        yield


@pytest.fixture
def make_cluster(tmp_path: Path, no_leaks: None) -> Iterator[Callable[..., RaftCluster]]:
    """`make_cluster(n, unreliable=False, snapshot=False)`: a RaftCluster, always cleaned
    up; the test fails if it took longer than 6.824's 120 s limit."""
    made: list[RaftCluster] = []

    def make(n: int, unreliable: bool = False, snapshot: bool = False, **kw: Any) -> RaftCluster:
        cluster = RaftCluster(tmp_path / f"c{len(made)}", n, unreliable, snapshot, **kw)
        made.append(cluster)
        return cluster

    try:
        yield make
    finally:
        for cluster in made:
            cluster.cleanup()
    for cluster in made:
        took = cluster.elapsed()
        assert took <= TEST_LIMIT_S, f"test took longer than {TEST_LIMIT_S} s ({took:.1f} s)"
