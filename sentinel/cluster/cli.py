"""The command line: `python -m sentinel.cluster <command> [--dir DIR] ...`.

`up` runs the supervisor in this terminal (see `up`); every other command talks to it over the
control socket of the cluster directory, except `logs` (reads files) and the key/value
commands `put`, `get`, `append`, `delete` and `cas` and `load` (clients through the router).
Exit status: 0 done, 1 refused or failed (the message says why: a refused command changed
nothing; a write that timed out says its outcome is unknown; `restart` started a node that
did not stay up; `load` found a history that is not linearizable, or could not tell), 2 bad
usage. A supervisor too busy to take a command is asked again until the command's deadline.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sentinel.cluster import kv, shardcli
from sentinel.cluster.ctlsock import ControlError, request
from sentinel.cluster.lock import DirectoryBusy, is_locked
from sentinel.cluster.settings import (
    ELECTION_MS_DEFAULT,
    HEARTBEAT_MS_DEFAULT,
    MAXRAFTSTATE_DEFAULT,
    REDIS_PORT_DEFAULT,
    RunOptions,
    SettingsError,
    node_log_path,
    tail_lines,
)
from sentinel.cluster.shardlayout import ShardLayout, load_cluster
from sentinel.shard.config import node_id_of

DEFAULT_DIR = ".sentinel"
DOWN_WAIT_S = 60.0
#: add, remove and replace wait for their commits (and add for the promotion).
MEMBER_WAIT_S = 200.0
LOG_LINES_DEFAULT = 40
LOG_TAIL_BYTES_MAX = 1024 * 1024
LOAD_HELP = "clients that keep the cluster busy, then a linearizability check"
STDIN_HELP = "default: read from standard input, taken as is (a trailing newline included)"


class CliError(RuntimeError):
    """A failure to report as `error: ...` with exit status 1."""


def _node_number(text: str) -> int:
    """A node number, or a sharded cluster's node name (g2.1: group 2's first, ctl.1)."""
    try:
        value = int(text) if text.isdigit() else node_id_of(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a node number or name: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"node numbers start at 1, not {value}")
    return value


def _group(text: str) -> list[int]:
    try:
        ids = [_node_number(part) for part in text.split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"a group is node numbers separated by commas (like 1,2), not {text!r}"
        ) from None
    return ids


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--dir", default=os.environ.get("SENTINEL_DIR", DEFAULT_DIR),
        help="the cluster directory (default ./.sentinel or $SENTINEL_DIR)",
    )  # fmt: skip
    parser = argparse.ArgumentParser(
        prog="python -m sentinel.cluster", description="Run and control a local Sentinel cluster."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up = sub.add_parser("up", parents=[common], help="start (or recover) the cluster here")
    up.add_argument("-n", "--nodes", type=int, default=None, help="nodes (1-99, default 5)")
    up.add_argument(
        "--groups", type=int, default=None,
        help="sharded: a controller group and this many shard groups of -n nodes (default 3)",
    )  # fmt: skip
    up.add_argument("--unreliable", action="store_true", help="drop and delay messages")
    up.add_argument("--long-reordering", action="store_true", help="hold back some replies")
    up.add_argument(
        "--election-ms", type=int, default=ELECTION_MS_DEFAULT,
        help="election timeout: a random value in [this, 2 x this) (default %(default)s)",
    )  # fmt: skip
    up.add_argument(
        "--heartbeat-ms", type=int, default=HEARTBEAT_MS_DEFAULT,
        help="leader heartbeat interval (default %(default)s)",
    )  # fmt: skip
    up.add_argument(
        "--maxraftstate",
        type=int,
        default=MAXRAFTSTATE_DEFAULT,
        help="snapshot when a node's raft log passes these bytes; -1: never (default 8 MiB)",
    )
    up.add_argument("--no-dashboard", action="store_true", help="plain status lines")
    up.add_argument("--app", default=None, help="node application (module:attribute)")
    up.add_argument("--seed", type=int, default=None, help="router and partition seed")
    up.add_argument(
        "--disk-quota-mb", type=int, default=0,
        help="each node's directory holds at most this many MiB (0: no limit); a node "
        "out of room stops acking until there is room again",
    )  # fmt: skip
    up.add_argument(
        "--redis-port", type=int,
        default=int(os.environ.get("SENTINEL_REDIS_PORT", REDIS_PORT_DEFAULT)),
        help="serve Redis clients on this port (default %(default)s, or $SENTINEL_REDIS_PORT;"
        " 0: no Redis port)",
    )  # fmt: skip
    up.add_argument(
        "--redis-bind", default="127.0.0.1",
        help="the Redis port's address (default %(default)s; another needs --redis-password)",
    )  # fmt: skip
    up.add_argument("--redis-password", default=None, help="Redis clients must AUTH with this")
    status = sub.add_parser("status", parents=[common], help="show the cluster's state")
    status.add_argument("--json", action="store_true", help="one JSON object")
    for name, what in (
        ("kill", "SIGKILL a node"),
        ("pause", "SIGSTOP a node"),
        ("resume", "SIGCONT a paused node"),
        ("restart", "start a fresh process on a node's directory"),
    ):
        sub.add_parser(name, parents=[common], help=what).add_argument("node", type=_node_number)
    partition = sub.add_parser("partition", parents=[common], help="split the network")
    partition.add_argument("groups", nargs="+", type=_group, metavar="GROUP", help="e.g. 1,2")
    sub.add_parser("heal", parents=[common], help="remove every partition")
    net = sub.add_parser("net", parents=[common], help="reliable or unreliable network")
    net.add_argument("preset", choices=("reliable", "unreliable"))
    put = sub.add_parser("put", parents=[common], help="store a value")
    put.add_argument("key")
    put.add_argument("value", nargs="?", help=STDIN_HELP)
    get = sub.add_parser("get", parents=[common], help="read a value")
    get.add_argument("key")
    append = sub.add_parser("append", parents=[common], help="append to a value")
    append.add_argument("key")
    append.add_argument("value", nargs="?", help=STDIN_HELP)
    delete = sub.add_parser("delete", parents=[common], help="remove a key")
    delete.add_argument("key")
    cas = sub.add_parser("cas", parents=[common], help="compare and set a value")
    cas.add_argument("key")
    cas.add_argument("value", nargs="?", help=f"the new value ({STDIN_HELP})")
    expect = cas.add_mutually_exclusive_group(required=True)
    expect.add_argument("--expect", metavar="OLD", help="set only if the value is OLD")
    expect.add_argument("--absent", action="store_true", help="set only if there is no value")
    _add_load(sub.add_parser("load", parents=[common], help=LOAD_HELP))
    logs = sub.add_parser("logs", parents=[common], help="the tail of a node's log file")
    logs.add_argument("node", type=_node_number)
    logs.add_argument("--lines", type=int, default=LOG_LINES_DEFAULT)
    sub.add_parser("down", parents=[common], help="stop the cluster (data stays on disk)")
    shardcli.add_parsers(sub, common)
    sub.add_parser("add", parents=[common], help="add a new node (learner, then voter)")
    for name, what in (
        ("remove", "remove a node from the cluster"),
        ("replace", "add a new node, then remove this one (e.g. it lost its disk)"),
    ):
        change = sub.add_parser(name, parents=[common], help=what)
        change.add_argument("node", type=_node_number)
        change.add_argument(
            "--force", action="store_true",
            help="even if the voters that are up would be short of a quorum",
        )  # fmt: skip
    members = sub.add_parser("members", parents=[common], help="the cluster's members")
    members.add_argument("--json", action="store_true", help="one JSON object")
    return parser


def _add_load(load: argparse.ArgumentParser) -> None:
    load.description = (
        "Client threads make gets, appends, puts and deletes on new keys, printing calls/s "
        "and latency each second; at the end (or Ctrl-C) the history is written to "
        "<dir>/load-history.edn and checked for linearizability. Exit status 1 when a round "
        "is not linearizable or cannot be told."
    )
    load.add_argument(
        "--clients", type=int, default=4, help="threads, one call at a time each (default 4)"
    )
    load.add_argument("--keys", type=int, default=5, help="new keys they share (default 5)")
    load.add_argument(
        "--seconds", type=float, default=30.0, help="0: until Ctrl-C (default %(default)s)"
    )
    load.add_argument(
        "--op-timeout-s", type=float, default=5.0, help="each call's deadline (default %(default)s)"
    )
    load.add_argument(
        "--check-timeout-s", type=float, default=60.0,
        help="the linearizability checker's time limit (default %(default)s)",
    )  # fmt: skip
    load.add_argument("--seed", type=int, default=None, help="of the clients' random choices")
    load.add_argument(
        "--round-calls", type=int, default=50_000,
        help="each round of this many calls has its own keys and check (default %(default)s)",
    )  # fmt: skip
    load.add_argument(
        "--history-format", choices=("kv", "jepsen"), default="kv",
        help="kv: porcupine's kv lines; jepsen: Jepsen EDN op maps with [key value] tuples, "
        "for Knossos or Elle too (default %(default)s)",
    )  # fmt: skip


def _ask(directory: Path, payload: dict[str, Any]) -> dict[str, Any]:
    try:
        reply = request(directory, payload)
    except ControlError as e:
        raise CliError(str(e)) from None
    if not reply.get("ok"):
        raise CliError(str(reply.get("error", "refused")))
    return reply


def cmd_up(args: argparse.Namespace, directory: Path) -> int:
    from sentinel.cluster.up import StartupError, run_up  # dashboard and raft: only for `up`

    try:
        options = RunOptions(
            unreliable=args.unreliable,
            long_reordering=args.long_reordering,
            election_ms=args.election_ms,
            heartbeat_ms=args.heartbeat_ms,
            maxraftstate=args.maxraftstate,
            app=args.app,
            seed=args.seed,
            disk_quota_mb=args.disk_quota_mb,
            redis_port=args.redis_port,
            redis_bind=args.redis_bind,
            redis_password=args.redis_password,
        )
        options.check_app()
        if args.groups is not None and args.app is not None:
            raise SettingsError("--app does not apply to --groups (their nodes run the shards)")
        if args.nodes is not None and not 1 <= args.nodes <= 99:
            raise SettingsError(f"-n must be 1 to 99, not {args.nodes}")
        dashboard = False if args.no_dashboard else None
        return run_up(directory, args.nodes, options, dashboard, groups=args.groups)
    except (SettingsError, DirectoryBusy, StartupError) as e:
        raise CliError(str(e)) from None


def cmd_status(args: argparse.Namespace, directory: Path) -> int:
    status = _ask(directory, {"cmd": "status"})["status"]
    if args.json:
        print(json.dumps(status))
    else:
        from sentinel.cluster.table import status_table  # rich: only when needed

        print(status_table(status))
    return 0


def cmd_down(args: argparse.Namespace, directory: Path) -> int:
    reply = _ask(directory, {"cmd": "down"})
    deadline = time.monotonic() + DOWN_WAIT_S
    while is_locked(directory):  # the supervisor drops its lock as its very last act
        if time.monotonic() > deadline:
            raise CliError(f"the supervisor (pid {reply.get('supervisor_pid')}) is still stopping")
        time.sleep(0.05)
    print(f"cluster in {directory} stopped; data kept")
    return 0


def cmd_logs(args: argparse.Namespace, directory: Path) -> int:
    try:
        identity = load_cluster(directory)  # plain, or sharded
    except SettingsError as e:
        raise CliError(str(e)) from None
    if identity is None:
        raise CliError(f"no cluster in {directory}")
    from sentinel.cluster.members import current_ids

    if args.node not in identity.node_ids and isinstance(identity, ShardLayout):
        raise CliError(f"no node {args.node} in this sharded cluster")
    if args.node not in identity.node_ids and args.node not in current_ids(
        directory, identity.node_ids
    ):
        raise CliError(f"no node {args.node}: nodes are 1-{identity.nodes}")
    if args.lines < 1:
        raise CliError("--lines must be positive")
    path = node_log_path(directory, args.node)
    try:
        lines = tail_lines(path, LOG_TAIL_BYTES_MAX)
    except FileNotFoundError:
        raise CliError(f"node {args.node} has no log yet ({path})") from None
    print("\n".join(lines[-args.lines :]))
    return 0


def cmd_simple(args: argparse.Namespace, directory: Path) -> int:
    payload: dict[str, Any] = {"cmd": args.command}
    if args.command in ("kill", "pause", "resume", "restart"):
        payload["node"] = args.node
    elif args.command == "partition":
        payload["groups"] = args.groups
    elif args.command == "net":
        payload["preset"] = args.preset
    print(_ask(directory, payload).get("message", "ok"))
    return 0


def cmd_members(args: argparse.Namespace, directory: Path) -> int:
    """add / remove / replace (each waits for its commit) and members."""
    payload: dict[str, Any] = {"cmd": args.command}
    if args.command in ("remove", "replace"):
        payload.update(node=args.node, force=args.force)
    try:
        reply = request(directory, payload, timeout_s=MEMBER_WAIT_S)
    except ControlError as e:
        raise CliError(str(e)) from None
    if not reply.get("ok"):
        raise CliError(str(reply.get("error", "refused")))
    if args.command != "members":
        print(reply.get("message", "ok"))
    elif args.json:
        print(json.dumps(reply["members"]))
    else:
        from sentinel.cluster.table import members_table

        print(members_table(reply["members"]))
    return 0


def cmd_kv(args: argparse.Namespace, directory: Path) -> int:
    if not is_locked(directory):
        raise CliError(f"no cluster is running in {directory}")
    try:
        print(_run_kv(args, directory))
    except kv.KVError as e:
        raise CliError(str(e)) from None
    return 0


def _run_kv(args: argparse.Namespace, directory: Path) -> str:
    """One key/value command; what to print. A missing key (get, delete) and a failed
    comparison (cas) are refusals: exit status 1, like a failed `git update-ref <old>`."""
    key = args.key
    if args.command in ("put", "append"):
        kv.call(directory, args.command, key, _value(args))
        return "OK"
    if args.command == "get":
        value = kv.call(directory, "get", key)
        if value is None:
            raise CliError(f"no key {key!r}")
        return value
    if args.command == "delete":
        if not kv.call(directory, "delete", key):
            raise CliError(f"no key {key!r}")
        return "deleted"
    expected = None if args.absent else args.expect
    if not kv.call(directory, "cas", key, expected, _value(args)):
        want = "no value" if expected is None else f"the value {expected!r}"
        raise CliError(f"not set: {key!r} does not hold {want}")
    return "OK"


def _value(args: argparse.Namespace) -> str:
    """The value argument, or else standard input: the only way to pass a value over the
    kernel's 128 KiB limit on one argument (values may have up to 1 MiB)."""
    if args.value is not None:
        return args.value
    if sys.stdin is None or sys.stdin.isatty():
        raise CliError("no value: give one, or pipe it on standard input")
    return kv.read_value(sys.stdin.buffer)


def cmd_load(args: argparse.Namespace, directory: Path) -> int:
    from sentinel.cluster.load import LoadOptions, run_load  # the client and the checker

    opts = LoadOptions(
        clients=args.clients, keys=args.keys, seconds=args.seconds,
        op_timeout_s=args.op_timeout_s, check_timeout_s=args.check_timeout_s, seed=args.seed,
        round_calls=args.round_calls, history_format=args.history_format,
    )  # fmt: skip
    problems = opts.problems()
    if problems:
        raise CliError("; ".join(problems))
    if not is_locked(directory):
        raise CliError(f"no cluster is running in {directory}")
    try:
        client = kv.connect(directory)
    except kv.KVError as e:
        raise CliError(str(e)) from None
    # Ctrl-C and SIGTERM end the run early, the history still checked. Set here, not
    # inherited: a shell starts a background job with SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)
    with client:
        try:
            return run_load(directory, client, opts, lambda line: print(line, flush=True))
        except KeyboardInterrupt:  # a second one, while the last round was being checked
            raise CliError("interrupted: the last round was not checked") from None


def cmd_shards(args: argparse.Namespace, directory: Path) -> int:
    try:
        print(shardcli.run(args, directory))
    except shardcli.ShardCliError as e:
        raise CliError(str(e)) from None
    return 0


COMMANDS = {
    "up": cmd_up, "status": cmd_status, "down": cmd_down, "logs": cmd_logs, "load": cmd_load,
}  # fmt: skip
COMMANDS.update(dict.fromkeys(("put", "get", "append", "delete", "cas"), cmd_kv))
COMMANDS.update(dict.fromkeys(("join", "leave", "move", "shards"), cmd_shards))
COMMANDS.update(dict.fromkeys(("add", "remove", "replace", "members"), cmd_members))


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit status."""
    args = build_parser().parse_args(argv)
    directory = Path(args.dir).absolute()
    try:
        return COMMANDS.get(args.command, cmd_simple)(args, directory)
    except CliError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `status --json | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
