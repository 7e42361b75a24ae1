"""Helpers for tests of processes on the router (used by tests/netsim and reusable by
other packages' process tests): condition waits with deadlines and an echo cluster."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import psutil

from sentinel.netsim.client import Network, connect
from sentinel.netsim.control import RouterHandle
from sentinel.netsim.echo import echo_node_main
from sentinel.netsim.procs import ProcessGroup

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout_s: float = 20.0, step_s: float = 0.02) -> T:
    """Poll `condition` until it returns something truthy (returned), or raise
    AssertionError after `timeout_s`. Use instead of bare sleeps."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(step_s)


@contextlib.contextmanager
def no_leaked_children(deadline_s: float = 15.0) -> Iterator[None]:
    """Fail (AssertionError) if a child process started inside the block outlives it.

    Children that existed before the block (multiprocessing's resource tracker, a fork
    server a test session keeps) are not counted: start those before entering. Survivors
    are killed before the failure is raised, so one leak cannot spoil later tests.
    """
    me = psutil.Process()
    before = {child.pid for child in me.children(recursive=True)}
    yield
    deadline = time.monotonic() + deadline_s
    while True:
        alive = []
        for child in me.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                if child.pid not in before and child.status() != psutil.STATUS_ZOMBIE:
                    alive.append(child)
        if not alive:
            return
        if time.monotonic() > deadline:
            for child in alive:
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.kill()
            raise AssertionError(f"processes outlived the test: {[c.pid for c in alive]}")
        time.sleep(0.05)


@dataclass
class EchoCluster:
    """A router and echo nodes 1..n in one process group (see `start_echo_cluster`)."""

    directory: Path
    group: ProcessGroup
    router: RouterHandle
    nodes: list[int]
    networks: list[Network] = field(default_factory=list)

    def start_node(self, endpoint: int) -> int:
        """Start (or restart, on a fresh pipe) echo node `endpoint`; its pid."""
        conn = self.router.add_node(endpoint)
        name = f"node{endpoint}"
        try:
            if name in self.group.names():
                return self.group.restart(name, (conn, endpoint))
            return self.group.start(name, echo_node_main, (conn, endpoint))
        finally:
            conn.close()

    def client(self) -> Network:
        """A new client connection (closed by `stop`)."""
        network = connect(self.directory)
        self.networks.append(network)
        return network

    def wait_ready(self, network: Network, timeout_s: float = 60.0) -> None:
        """Wait until every node answers an echo."""
        for node in self.nodes:
            end = network.end(node)
            wait_for(lambda end=end: end.call("Echo.echo", "up", 2.0) == "up", timeout_s)

    def stop(self) -> None:
        """Close clients, stop the router and every process."""
        try:
            for network in self.networks:
                network.close()
            self.router.shutdown()
        finally:
            self.group.stop_all()


def start_echo_cluster(directory: Path, nodes: int = 2, **router_options: object) -> EchoCluster:
    """Start a router in `directory` and echo nodes 1..nodes."""
    group = ProcessGroup()
    try:
        router = RouterHandle.start(directory, group, **router_options)  # type: ignore[arg-type]
        cluster = EchoCluster(directory, group, router, list(range(1, nodes + 1)))
        for endpoint in cluster.nodes:
            cluster.start_node(endpoint)
    except BaseException:
        group.stop_all()
        raise
    return cluster
