"""What a cluster directory holds, and the options `up` takes.

`<dir>/cluster.json` is written once, when a directory is first used: the cluster id (the
nodes' disks are stamped with it, so a node never opens another cluster's data) and the number
of nodes. A later `up` on the same directory recovers that cluster from its disks. Timing,
the fault preset and maxraftstate are per run (they change no data on disk).
"""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentinel.redis.session import is_loopback
from sentinel.shard.config import LAYOUT_NAME

if TYPE_CHECKING:  # netsim is imported only by `up`: the other commands start faster
    from sentinel.netsim.faults import FaultConfig

SETTINGS_NAME = "cluster.json"
SUPERVISOR_LOG_NAME = "supervisor.log"
#: Where the processes' stray stderr goes while the cluster runs (crash tracebacks).
STDERR_LOG_NAME = "stderr.log"
NODES_MAX = 99
TICK_MS = 10
#: The node's defaults (NodeSpec: 5 and 15 ticks of 10 ms).
ELECTION_MS_DEFAULT = 150
HEARTBEAT_MS_DEFAULT = 50
#: Snapshot when a node's raft state on disk passes this; a long-running demo stays bounded.
MAXRAFTSTATE_DEFAULT = 8 * 1024 * 1024
SETTINGS_BYTES_MAX = 64 * 1024
#: Where `up` serves Redis clients by default (`--redis-port`; $SENTINEL_REDIS_PORT).
REDIS_PORT_DEFAULT = 7379


def node_log_path(directory: Path, node_id: int) -> Path:
    """Node `node_id`'s log file (sentinel.host.node writes it, NODE_LOG_NAME)."""
    return directory / f"node-{node_id}" / "node.log"


def tail_lines(path: Path, bytes_max: int) -> list[str]:
    """The lines of a file's last `bytes_max` bytes (FileNotFoundError when it is missing)."""
    with path.open("rb") as f:
        f.seek(max(0, f.seek(0, os.SEEK_END) - bytes_max))
        return f.read().decode(errors="replace").splitlines()


class SettingsError(ValueError):
    """A bad option or an unreadable cluster directory; the message says which."""


@dataclasses.dataclass(frozen=True, slots=True)
class Identity:
    """The part of a cluster that lives on disk: its id and its size."""

    cluster_id: str
    nodes: int

    def __post_init__(self) -> None:
        if not 1 <= self.nodes <= NODES_MAX:
            raise SettingsError(f"a cluster has 1 to {NODES_MAX} nodes, not {self.nodes}")

    @property
    def node_ids(self) -> tuple[int, ...]:
        """1..nodes."""
        return tuple(range(1, self.nodes + 1))


@dataclasses.dataclass(frozen=True, slots=True)
class RunOptions:
    """Per-run options of `up`."""

    unreliable: bool = False
    long_reordering: bool = False
    election_ms: int = ELECTION_MS_DEFAULT
    heartbeat_ms: int = HEARTBEAT_MS_DEFAULT
    maxraftstate: int = MAXRAFTSTATE_DEFAULT  # -1: never snapshot (6.824's convention)
    app: str | None = None  # "module:attribute"; None: the default application
    seed: int | None = None
    #: Each node's directory may hold at most this many MiB (0: no limit): fill one (any
    #: file will do) to see a node run out of disk and recover once there is room.
    disk_quota_mb: int = 0
    #: The Redis front door's port (0: none), address and AUTH password (required beyond
    #: loopback).
    redis_port: int = 0
    redis_bind: str = "127.0.0.1"
    redis_password: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.redis_port <= 65535:
            raise SettingsError(f"--redis-port must be 0..65535, not {self.redis_port}")
        if not is_loopback(self.redis_bind) and not self.redis_password:
            raise SettingsError(
                "--redis-bind needs --redis-password: a Redis port open beyond this machine"
                " must require AUTH (protected mode)"
            )
        if not 0 <= self.disk_quota_mb <= 1 << 20:
            raise SettingsError(f"--disk-quota-mb must be 0..{1 << 20}, not {self.disk_quota_mb}")
        if not TICK_MS <= self.heartbeat_ms <= 10_000:
            raise SettingsError(f"--heartbeat-ms must be 10..10000, not {self.heartbeat_ms}")
        if not 2 * self.heartbeat_ms <= self.election_ms <= 60_000:
            raise SettingsError(
                f"--election-ms must be at least twice --heartbeat-ms ({2 * self.heartbeat_ms})"
                f" and at most 60000, not {self.election_ms}"
            )
        if self.maxraftstate < -1 or self.maxraftstate == 0:
            raise SettingsError(
                f"--maxraftstate must be -1 (off) or positive, not {self.maxraftstate}"
            )

    def check_app(self) -> None:
        """Fail now, not in every node process, when `app` does not name an attribute of an
        importable module."""
        if self.app is None:
            return
        import importlib

        module, _, attr = self.app.partition(":")
        try:
            found = hasattr(importlib.import_module(module), attr) if module and attr else False
        except ImportError as e:
            raise SettingsError(f"--app {self.app}: {e}") from None
        if not found:
            raise SettingsError(f"--app {self.app}: expected module:attribute of an application")

    @property
    def faults(self) -> FaultConfig:
        """The fault configuration of this preset."""
        from sentinel.netsim.faults import FaultConfig

        return FaultConfig(reliable=not self.unreliable, long_reordering=self.long_reordering)

    @property
    def election_ticks(self) -> int:
        return max(2, self.election_ms // TICK_MS)

    @property
    def heartbeat_ticks(self) -> int:
        return max(1, self.heartbeat_ms // TICK_MS)


def preset_name(config: FaultConfig) -> str:
    """The PRESETS name of `config`, or a description of its flags."""
    from sentinel.netsim.faults import PRESETS

    for name, preset in PRESETS.items():
        if preset == config:
            return name
    words = ["reliable" if config.reliable else "unreliable"]
    words += [flag for flag in ("long_reordering", "long_delays") if getattr(config, flag)]
    return "_".join(words)


def read_json(path: Path, what: str) -> Any:
    """The JSON in `path` (at most SETTINGS_BYTES_MAX bytes), or None when there is no such
    file; SettingsError naming `what` the file should be when it cannot be read."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise SettingsError(f"cannot read {path}: {e.strerror}") from None
    try:
        if len(raw) > SETTINGS_BYTES_MAX:
            raise ValueError("too large")
        return json.loads(raw)
    except ValueError as e:
        raise SettingsError(f"{path} is not {what} ({e})") from None


def write_json(path: Path, data: Any) -> None:
    """Write `data` as JSON to `path` atomically (a temporary file, fsynced, renamed)."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, json.dumps(data, indent=2).encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def load_identity(directory: Path) -> Identity | None:
    """The plain cluster's identity stored in `directory` (cluster.json), or None if it
    holds none. A sharded store's directory holds shards.json instead: a caller that
    serves either reads `shardlayout.load_cluster`."""
    path = directory / SETTINGS_NAME
    data = read_json(path, "a cluster settings file")
    if data is None:
        return None
    try:
        return Identity(str(data["cluster_id"]), int(data["nodes"]))
    except (ValueError, KeyError, TypeError) as e:
        raise SettingsError(f"{path} is not a cluster settings file ({e})") from None


def create_identity(directory: Path, nodes: int) -> Identity:
    """A fresh identity for a new cluster, written atomically to `directory`."""
    identity = Identity(f"sentinel-{uuid.uuid4().hex[:12]}", nodes)
    write_json(directory / SETTINGS_NAME, dataclasses.asdict(identity))
    return identity


def open_identity(directory: Path, nodes: int | None) -> tuple[Identity, bool]:
    """The cluster in `directory` (recovered: True) or a new one of `nodes` nodes (False).

    Asking for a different size than the stored cluster's is an error: membership changes are
    not supported, and silently ignoring `-n` would surprise."""
    identity = load_identity(directory)
    if identity is None and (directory / LAYOUT_NAME).exists():
        raise SettingsError(
            f"{directory} holds a sharded store ({LAYOUT_NAME}), not a plain cluster; "
            "it starts with `up --groups`, or use another --dir"
        )
    if identity is not None:
        if nodes is not None and nodes != identity.nodes:
            raise SettingsError(
                f"{directory} holds a {identity.nodes}-node cluster; "
                f"-n {nodes} does not match (use another --dir for a new cluster)"
            )
        return identity, True
    return create_identity(directory, nodes if nodes is not None else 5), False


def last_line(path: Path, chars_max: int) -> str:
    """The last non-empty line of a log file (shortened), or "" if there is none."""
    try:
        lines = [line.strip() for line in tail_lines(path, 4096) if line.strip()]
    except OSError:
        return ""
    if not lines:
        return ""
    last = lines[-1]
    return last if len(last) <= chars_max else last[: chars_max - 3] + "..."
