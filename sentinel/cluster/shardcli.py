"""The sharding commands of the command line: `join`, `leave`, `move` and `shards`.

`join GID...`, `leave GID...` and `move SHARD GID` ask the shard controller (through the
router, as the kv commands do) for the next configuration and print it; the groups then move
the shards on their own. `shards` prints the latest configuration's shard map, each group's
leader and term, and the shards in flight, as the supervisor last saw them (`--json`: one
object). Groups that `join` must be groups of the cluster's layout (`up --groups`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sentinel.cluster.ctlsock import ControlError, request
from sentinel.cluster.settings import SettingsError
from sentinel.cluster.shardlayout import ShardLayout, load_layout

CHANGE_DEADLINE_S = 30.0


class ShardCliError(RuntimeError):
    """A failure to report as `error: ...` with exit status 1."""


def _gid(text: str) -> int:
    try:
        value = int(text.removeprefix("g"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a group id: {text!r} (like 2 or g2)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"group ids start at 1, not {value}")
    return value


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the sharding commands to the CLI's subparsers."""
    join = sub.add_parser("join", parents=[common], help="groups join the sharded store")
    join.add_argument("gids", nargs="+", type=_gid, metavar="GID")
    leave = sub.add_parser("leave", parents=[common], help="groups leave the sharded store")
    leave.add_argument("gids", nargs="+", type=_gid, metavar="GID")
    move = sub.add_parser("move", parents=[common], help="give one shard to a group")
    move.add_argument("shard", type=int)
    move.add_argument("gid", type=_gid, metavar="GID")
    shards = sub.add_parser("shards", parents=[common], help="the shard map and moves")
    shards.add_argument("--json", action="store_true", help="one JSON object")


def _layout(directory: Path) -> ShardLayout:
    try:
        layout = load_layout(directory)
    except SettingsError as e:
        raise ShardCliError(str(e)) from None
    if layout is None:
        raise ShardCliError(f"no sharded cluster in {directory} (start one with up --groups)")
    return layout


def change(args: argparse.Namespace, directory: Path) -> str:
    """Run join, leave or move; the line to print."""
    from sentinel.netsim.client import connect
    from sentinel.shard.config import ConfigError, group_names
    from sentinel.shard.ctlclient import CtlClerk, CtlError

    layout = _layout(directory)
    gids = args.gids if args.command != "move" else [args.gid]
    unknown = [g for g in gids if not 1 <= g <= layout.groups]
    if unknown:
        raise ShardCliError(f"no group {unknown[0]}: this cluster's groups are 1-{layout.groups}")
    try:
        with connect(directory) as net:
            clerk = CtlClerk(net, layout.ctl_ids, deadline_s=CHANGE_DEADLINE_S)
            if args.command == "join":
                config = clerk.join({g: group_names(g, layout.nodes) for g in args.gids})
            elif args.command == "leave":
                config = clerk.leave(args.gids)
            else:
                config = clerk.move(args.shard, args.gid)
    except (ConfigError, CtlError, OSError) as e:
        raise ShardCliError(str(e)) from None
    owners = " ".join(f"{s}:g{g}" if g else f"{s}:-" for s, g in enumerate(config.shards))
    return f"configuration {config.num}: {owners}"


def show(args: argparse.Namespace, directory: Path) -> str:
    """The `shards` report."""
    _layout(directory)
    try:
        reply = request(directory, {"cmd": "status"})
    except ControlError as e:
        raise ShardCliError(str(e)) from None
    shards = reply.get("status", {}).get("shards")
    if not reply.get("ok") or shards is None:
        raise ShardCliError(str(reply.get("error", "the supervisor reports no shards yet")))
    if args.json:
        return json.dumps(shards)
    lines = [f"configuration {shards['config_num']}"]
    for g in shards["groups"]:
        name = "ctl" if g["gid"] == 0 else f"g{g['gid']}"
        cfg = "" if g["gid"] == 0 else f"  applied config {g['config_num']}"
        lines.append(f"  {name:4} leader {g['leader']}  term {g['term']}{cfg}")
    owners = shards["owners"]
    lines.append("shard  " + " ".join(f"{s:>3}" for s in range(len(owners))))
    lines.append("group  " + " ".join(f"{'g' + str(g) if g else '-':>3}" for g in owners))
    moving = [f"{s} g{a}->g{b}" for s, a, b in shards["in_flight"]]
    lines.append("in flight: " + (", ".join(moving) or "none"))
    return "\n".join(lines)


def run(args: argparse.Namespace, directory: Path) -> str:
    """One sharding command; what to print (ShardCliError when refused)."""
    return show(args, directory) if args.command == "shards" else change(args, directory)
