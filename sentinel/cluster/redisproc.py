"""The Redis front door as one of the cluster's child processes (`up --redis-port N`).

The supervisor starts it after the nodes, in the same process group (so it is stopped on every
exit path with the rest, SIGKILLed at worst), waits until it listens (its status file appears)
or ends (a port in use: `up` then fails with the reason), and reads its counters from that
file for the views (`sentinel.redis.service.read_status`). If it dies later, the supervisor
starts it again (`restart`), with an event.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from pathlib import Path

from sentinel.netsim.procs import ProcessGroup
from sentinel.redis.service import read_status, serve
from sentinel.redis.session import Options

log = logging.getLogger(__name__)

PROCESS_NAME = "redis"
#: How long `up` waits for the front door to listen.
READY_TIMEOUT_S = 15.0
READY_POLL_S = 0.05
#: Automatic restarts of a front door that died, within a window, before it is left down.
RESTARTS_MAX = 5
RESTART_WINDOW_S = 60.0
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
        await serve(Path(directory), options, stop)  # plain or sharded, by the directory

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


def restart(group: ProcessGroup) -> int:
    """Start the front door again with the same options (it died); its pid. Returns at once:
    the new process listens within a moment (the cluster's views show it when it does)."""
    return group.restart(PROCESS_NAME)


class Keeper:
    """Restarts a front door that died while the cluster runs: at most RESTARTS_MAX times
    in RESTART_WINDOW_S (past that something keeps killing it, and it stays down)."""

    def __init__(self) -> None:
        self._restarts_s: list[float] = []  # monotonic times of the restarts in the window
        self.given_up = False

    def check(self, group: ProcessGroup) -> str | None:
        """Restart the front door if it ended; the event's text then, else None."""
        code = None if self.given_up else exit_status(group)
        if code is None:
            return None
        now = time.monotonic()
        self._restarts_s = [t for t in self._restarts_s if now - t < RESTART_WINDOW_S]
        text = f"redis front door ended (exit status {code}; see redis.log)"
        if len(self._restarts_s) >= RESTARTS_MAX:
            self.given_up = True
            return f"{text}; {RESTARTS_MAX} restarts in {RESTART_WINDOW_S:g} s, left down"
        self._restarts_s.append(now)
        return f"{text}; restarted (pid {restart(group)})"


def stop(group: ProcessGroup) -> None:
    """SIGTERM, STOP_GRACE_S to close its connections, then SIGKILL."""
    group.stop(PROCESS_NAME, STOP_GRACE_S)


def exit_status(group: ProcessGroup) -> int | None:
    """The front door's exit status once it has ended; None while it runs."""
    if group.is_alive(PROCESS_NAME):
        return None
    return group.exitcode(PROCESS_NAME)
