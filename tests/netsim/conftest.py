"""Fixtures for netsim process tests: echo clusters and a no-leak check."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from multiprocessing import resource_tracker
from pathlib import Path

import psutil
import pytest

from sentinel.netsim.testing import EchoCluster, start_echo_cluster

LEAK_DEADLINE_S = 15.0


@pytest.fixture
def no_leaks() -> Iterator[None]:
    """Fail the test if any process started during it outlives it."""
    # spawn starts multiprocessing's resource tracker once per interpreter; it lives as long
    # as this process by design, so start it before taking the snapshot.
    resource_tracker.ensure_running()
    me = psutil.Process()
    before = {child.pid for child in me.children(recursive=True)}
    yield
    deadline = time.monotonic() + LEAK_DEADLINE_S
    while True:
        extra = [c for c in me.children(recursive=True) if c.pid not in before]
        alive = []
        for child in extra:
            try:
                if child.status() != psutil.STATUS_ZOMBIE:
                    alive.append(child)
            except psutil.NoSuchProcess:
                pass
        if not alive:
            return
        if time.monotonic() > deadline:
            for child in alive:
                child.kill()
            pytest.fail(f"processes outlived the test: {[c.pid for c in alive]}")
        time.sleep(0.05)


@pytest.fixture
def cluster_factory(tmp_path: Path, no_leaks: None) -> Iterator[Callable[..., EchoCluster]]:
    """Start echo clusters: `cluster_factory(nodes=2, **router_options)`; all stopped after."""
    made: list[EchoCluster] = []

    def make(nodes: int = 2, subdir: str = "", **options: object) -> EchoCluster:
        directory = tmp_path / f"c{len(made)}" / subdir
        cluster = start_echo_cluster(directory, nodes, **options)
        made.append(cluster)
        return cluster

    try:
        yield make
    finally:
        for cluster in made:
            cluster.stop()
