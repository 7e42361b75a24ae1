"""Fixtures for the 6.824 kvraft tests on real processes: `make_cluster` and a no-leak check.

harness.py and scenarios.py are loaded under the unique names `harness_kv` and
`scenarios_kv` (test folders may hold modules with the same basename; --import-mode=importlib
does not make them packages).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from multiprocessing import resource_tracker
from pathlib import Path

import pytest

from sentinel.netsim.testing import no_leaked_children


def _load(name: str, filename: str) -> None:
    if name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(filename))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


_load("harness_kv", "harness.py")
_load("scenarios_kv", "scenarios.py")

from harness_kv import TEST_LIMIT_S, KVCluster, start_forkserver  # noqa: E402


@pytest.fixture
def no_leaks() -> Iterator[None]:
    """Fail the test if any process started during it outlives it."""
    resource_tracker.ensure_running()  # lives as long as this interpreter, by design
    start_forkserver()  # likewise
    with no_leaked_children():
        yield


@pytest.fixture
def make_cluster(tmp_path: Path, no_leaks: None) -> Iterator[Callable[..., KVCluster]]:
    """`make_cluster(n, unreliable=False, maxraftstate=-1, node_options=None)`: a
    KVCluster, always cleaned up; the test fails if it took longer than 6.824's 120 s limit."""
    made: list[KVCluster] = []

    def make(
        n: int, unreliable: bool = False, maxraftstate: int = -1, node_options=None
    ) -> KVCluster:
        cluster = KVCluster(
            tmp_path / f"c{len(made)}", n, unreliable, maxraftstate, node_options=node_options
        )
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
