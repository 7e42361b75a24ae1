"""The supervisor's handle on the router process: start it, feed it node connections,
change faults, read counters and status blobs, stop it.

Thread-safe: one control request at a time, under a lock (the control pipe is a
request/answer channel).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from multiprocessing.connection import Connection
from multiprocessing.reduction import send_handle
from pathlib import Path

from sentinel.netsim import protocol as p
from sentinel.netsim.faults import PRESETS, FaultConfig
from sentinel.netsim.procs import ProcessGroup
from sentinel.netsim.router import router_main
from sentinel.netsim.stats import EndpointStats
from sentinel.wire import decode, encode

ROUTER_NAME = "router"
START_TIMEOUT_S = 30.0
CONTROL_TIMEOUT_S = 30.0


class RouterError(RuntimeError):
    """The router refused a control request or did not answer."""


class RouterHandle:
    """Control of one router process (see `start`)."""

    def __init__(self, group: ProcessGroup, control: Connection, cluster_dir: Path) -> None:
        self.group = group
        self.cluster_dir = cluster_dir
        self._control = control
        self._lock = threading.Lock()

    @classmethod
    def start(
        cls,
        cluster_dir: str | os.PathLike[str],
        group: ProcessGroup,
        seed: int = 0,
        msg_bytes_max: int = p.MSG_BYTES_MAX,
    ) -> RouterHandle:
        """Write a fresh auth key, spawn the router in `group` and wait until it listens."""
        directory = Path(cluster_dir)
        directory.mkdir(parents=True, exist_ok=True)
        p.create_authkey(directory)
        ours, theirs = group.context.Pipe(duplex=True)
        group.start(ROUTER_NAME, router_main, (theirs, str(directory), seed, msg_bytes_max))
        theirs.close()
        handle = cls(group, ours, directory)
        if not ours.poll(START_TIMEOUT_S):
            group.kill(ROUTER_NAME)
            raise RouterError(f"router did not start within {START_TIMEOUT_S} s")
        answer = decode(ours.recv_bytes(), p.Ack)
        if not answer.ok:
            raise RouterError(answer.error)
        return handle

    @property
    def pid(self) -> int | None:
        """The router's pid while it runs."""
        return self.group.pid(ROUTER_NAME)

    def _ask(self, request: object, fd: int | None = None) -> object:
        with self._lock:
            self._control.send_bytes(encode(request))
            if fd is not None:
                send_handle(self._control, fd, self.pid)  # type: ignore[arg-type]
            if not self._control.poll(CONTROL_TIMEOUT_S):
                raise RouterError(f"router did not answer {type(request).__name__}")
            answer = decode(self._control.recv_bytes(p.MSG_BYTES_MAX))
        if isinstance(answer, p.Ack) and not answer.ok:
            raise RouterError(answer.error)
        return answer

    def add_node(self, endpoint: int) -> Connection:
        """Make a fresh pipe for node `endpoint`, hand the router its end (replacing any older
        connection of that node) and return the node's end, to pass to the node process."""
        router_end, node_end = self.group.context.Pipe(duplex=True)
        try:
            self._ask(p.RegisterNode(endpoint), fd=router_end.fileno())
        except BaseException:
            node_end.close()
            raise
        finally:
            router_end.close()  # the router holds its own duplicate now
        return node_end

    def set_faults(self, config: FaultConfig | str) -> None:
        """Switch preset (a FaultConfig or a name from `faults.PRESETS`)."""
        self._ask(p.SetFaults(PRESETS[config] if isinstance(config, str) else config))

    def set_long_delays(self, on: bool) -> None:
        """Turn long delays for unreachable peers on or off, keeping the rest of the preset."""
        self.set_faults(self.report().config.with_(long_delays=on))

    def partition(self, groups: Iterable[Iterable[int]]) -> None:
        """Cut the network into groups of endpoint ids."""
        self._ask(p.Partition(tuple(tuple(group) for group in groups)))

    def heal(self) -> None:
        """Remove partitions and reconnect every endpoint."""
        self._ask(p.Heal())

    def connect(self, endpoint: int) -> None:
        """Restore the links of one endpoint."""
        self._ask(p.SetConnected(endpoint, True))

    def disconnect(self, endpoint: int) -> None:
        """Cut every link of one endpoint."""
        self._ask(p.SetConnected(endpoint, False))

    def set_link_delay(self, src: int, dst: int, delay_ms: int) -> None:
        """Delay the one-way link src -> dst by `delay_ms` (0 removes it)."""
        self._ask(p.SetLinkDelay(src, dst, delay_ms))

    def report(self, endpoints: Iterable[int] | None = None) -> p.RouterReport:
        """Counters, totals, status blobs and fault settings. With `endpoints`, the counters
        and statuses of those endpoints only (the totals still cover all)."""
        wanted = None if endpoints is None else tuple(endpoints)
        answer = self._ask(p.GetReport(wanted))
        assert isinstance(answer, p.RouterReport)
        return answer

    def stats(self) -> dict[int, EndpointStats]:
        """Counters per endpoint id."""
        return {item.endpoint_id: item for item in self.report().stats}

    def statuses(self) -> dict[int, bytes]:
        """The last status blob each endpoint posted."""
        return self.report().statuses

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop the router (politely, then by SIGKILL) and close the control pipe."""
        try:
            if self.group.is_alive(ROUTER_NAME):
                self._ask(p.Shutdown())
                if not self.group.wait(ROUTER_NAME, timeout_s):
                    self.group.kill(ROUTER_NAME)
        except (RouterError, OSError, EOFError):
            self.group.kill(ROUTER_NAME)
        finally:
            self._control.close()
