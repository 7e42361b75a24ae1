"""Fixtures for netsim process tests: echo clusters and a no-leak check."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from multiprocessing import resource_tracker
from pathlib import Path

import pytest

from sentinel.netsim.testing import EchoCluster, no_leaked_children, start_echo_cluster


@pytest.fixture
def no_leaks() -> Iterator[None]:
    """Fail the test if any process started during it outlives it."""
    # spawn starts multiprocessing's resource tracker once per interpreter; it lives as long
    # as this process by design, so start it before taking the snapshot.
    resource_tracker.ensure_running()
    with no_leaked_children():
        yield


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
