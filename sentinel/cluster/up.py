"""`python -m sentinel.cluster up`: lock the directory, start the cluster, show the dashboard,
and stop every process on the way out (q, `down`, Ctrl-C, SIGTERM, SIGHUP).

The supervisor logs to `<dir>/supervisor.log` only: nothing but the dashboard (or the plain
status lines) is written to the terminal while the cluster runs.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from sentinel.cluster import shardsup
from sentinel.cluster.commands import handle_request, on_key_action
from sentinel.cluster.ctlsock import ControlServer
from sentinel.cluster.lock import DirectoryLock
from sentinel.cluster.settings import (
    STDERR_LOG_NAME,
    SUPERVISOR_LOG_NAME,
    RunOptions,
    open_identity,
)
from sentinel.cluster.shardlayout import load_layout, open_layout
from sentinel.cluster.supervisor import Supervisor
from sentinel.dashboard import run_dashboard

log = logging.getLogger(__name__)


def setup_logging(directory: Path) -> None:
    """Root logging to `<dir>/supervisor.log` (and nowhere else)."""
    handler = logging.FileHandler(directory / SUPERVISOR_LOG_NAME)
    handler.setFormatter(
        logging.Formatter("%(asctime)s supervisor %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)  # a warning on stderr would tear the live dashboard


@contextlib.contextmanager
def stderr_to(path: Path) -> Iterator[None]:
    """Point file descriptor 2 at `path` while the cluster runs. Children inherit it, so a
    node's dying traceback (printed by multiprocessing) lands in the file, not on top of the
    live dashboard; the terminal's stderr comes back afterwards."""
    sys.stderr.flush()
    saved = os.dup(2)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    os.dup2(fd, 2)
    os.close(fd)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


class StartupError(RuntimeError):
    """The router or a node did not start; the message says why."""


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def run_up(
    directory: Path, nodes: int | None, options: RunOptions, dashboard: bool | None,
    groups: int | None = None,
) -> int:  # fmt: skip
    """Run a cluster (sharded: `groups`, or a directory holding a sharded cluster) until it
    is asked to stop; the exit status."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = DirectoryLock(directory)
    lock.acquire()  # DirectoryBusy: the caller prints it
    try:
        make: Callable[[], Supervisor]
        if groups is not None or load_layout(directory) is not None:
            layout, recovered = open_layout(directory, groups, nodes)
            fresh = not recovered
            make = functools.partial(shardsup.ShardSupervisor, directory, layout, options, fresh)
        else:
            identity, recovered = open_identity(directory, nodes)
            make = functools.partial(Supervisor, directory, identity, options)
        setup_logging(directory)
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _exit_on_signal)
        with stderr_to(directory / STDERR_LOG_NAME):
            return _serve(directory, make(), recovered, dashboard)
    finally:
        lock.release()


def _serve(directory: Path, sup: Supervisor, recovered: bool, dashboard: bool | None) -> int:
    plain = None if dashboard is None else not dashboard
    server: ControlServer | None = None
    try:
        what = "recovering" if recovered else "starting"
        log.info("%s cluster %s (%d nodes)", what, sup.identity.cluster_id, len(sup.node_ids))
        if plain or (plain is None and not sys.stdout.isatty()):
            print(f"{what} {len(sup.node_ids)}-node cluster in {directory}", flush=True)
        try:
            sup.start()
        except Exception as e:  # the router or a node could not start: say where to look
            log.exception("start-up failed")
            raise StartupError(
                f"the cluster did not start: {e} (see {directory}/supervisor.log)"
            ) from None
        server = ControlServer(directory, lambda request: handle_request(sup, request))
        reason = run_dashboard(
            sup.dashboard_view,
            lambda action: on_key_action(sup, action),
            stop=sup.stop_event,
            plain=plain,
        )
        log.info("dashboard ended: %s", reason)
        return 0
    except KeyboardInterrupt:
        log.info("interrupted")
        return 130
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # let the shutdown finish
        if server is not None:
            server.close()
        sup.shutdown()
        print(f"cluster stopped; data kept in {directory}", flush=True)
