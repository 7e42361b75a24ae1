"""The Redis front door as one of the cluster's child processes (`up --redis-port N`).

The supervisor starts it after the nodes, in the same process group (so it is stopped on every
exit path with the rest, SIGKILLed at worst), waits until it listens (its status file appears)
or ends (a port in use: `up` then fails with the reason), and reads its counters from that
file for the views (`sentinel.redis.service.read_status`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from pathlib import Path

from sentinel.cluster.shardlayout import LAYOUT_NAME
from sentinel.netsim.procs import ProcessGroup
from sentinel.redis.service import read_status, serve
from sentinel.redis.session import Options

log = logging.getLogger(__name__)

PROCESS_NAME = "redis"
#: How long `up` waits for the front door to listen.
READY_TIMEOUT_S = 15.0
READY_POLL_S = 0.05
#: SIGTERM's grace before SIGKILL at shutdown.
STOP_GRACE_S = 2.0


class RedisStartError(RuntimeError):
    """The front door did not start listening; the message says why."""


def run_front_door(directory: str, bind: str, port: int, password: str | None) -> None:
    """The child process: serve until SIGTERM (the supervisor's stop)."""
    logging.basicConfig(
        filename=str(Path(directory) / "redis.log"),
        level=logging.INFO,
        format="%(asctime)s redis %(levelname)s %(name)s: %(message)s",
    )

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        options = Options(bind=bind, port=port, password=password)
        if (Path(directory) / LAYOUT_NAME).exists():  # sharded: route by key
            from sentinel.cluster.shardredis import open_sharded_backend

            await serve(Path(directory), options, stop, open_sharded_backend)
        else:
            await serve(Path(directory), options, stop)

    asyncio.run(main())


def start(group: ProcessGroup, directory: Path, options: Options) -> int:
    """Start the front door and wait until it listens; its pid. RedisStartError if it ends
    first or stays silent past READY_TIMEOUT_S (it is stopped then)."""
    options.check()
    args = (str(directory), options.bind, options.port, options.password)
    pid = group.start(PROCESS_NAME, run_front_door, args)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        status = read_status(directory)
        if status is not None and status.pid == pid:
            log.info("redis front door on %s, pid %d", status.address, pid)
            return pid
        if not group.is_alive(PROCESS_NAME):
            raise RedisStartError(
                f"the Redis front door on {options.bind}:{options.port} ended at start "
                f"(exit status {group.exitcode(PROCESS_NAME)}; a port in use? see "
                f"{directory}/redis.log; --redis-port N picks another, 0 turns it off)"
            )
        time.sleep(READY_POLL_S)
    group.stop(PROCESS_NAME)
    raise RedisStartError(f"the Redis front door did not listen within {READY_TIMEOUT_S:g} s")


def stop(group: ProcessGroup) -> None:
    """SIGTERM, STOP_GRACE_S to close its connections, then SIGKILL."""
    group.stop(PROCESS_NAME, STOP_GRACE_S)


def exit_status(group: ProcessGroup) -> int | None:
    """The front door's exit status once it has ended; None while it runs."""
    if group.is_alive(PROCESS_NAME):
        return None
    return group.exitcode(PROCESS_NAME)
