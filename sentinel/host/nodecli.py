"""`python -m sentinel.host.nodecli`: run a small raft cluster by hand (router + n nodes) and
print each node's status once a second until Ctrl-C. The real supervisor is sentinel.cluster;
this is for a person trying a node out, and for reading its logs (`<dir>/node-<id>/node.log`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from sentinel.host.node import DEFAULT_APP, NodeSpec, spawn_node
from sentinel.host.nodestatus import decode_status
from sentinel.host.recovery import lost_disk
from sentinel.netsim.control import RouterHandle
from sentinel.netsim.faults import PRESETS
from sentinel.netsim.procs import ProcessGroup, install_sigterm_handler


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sentinel.host.nodecli",
        description="Run a router and N raft node processes in DIR; print their status.",
    )
    parser.add_argument("--dir", type=Path, help="cluster directory (default: a temp dir)")
    parser.add_argument("-n", "--nodes", type=int, default=3, help="number of nodes (3)")
    parser.add_argument("--app", default=DEFAULT_APP, help=f"module:factory ({DEFAULT_APP})")
    parser.add_argument("--snapshots", action="store_true", help="recorder: compact every 10")
    parser.add_argument("--tick-ms", type=int, default=10)
    parser.add_argument("--heartbeat-ticks", type=int, default=10)
    parser.add_argument("--election-ticks", type=int, default=30)
    parser.add_argument("--faults", choices=sorted(PRESETS), default="reliable")
    parser.add_argument("--seconds", type=float, default=0, help="stop after (0: Ctrl-C)")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def _spec(args: argparse.Namespace, directory: Path, node_id: int, peers: tuple) -> NodeSpec:
    return NodeSpec(
        str(directory), node_id, peers, app=args.app,
        app_options={"snapshots": args.snapshots}, tick_ms=args.tick_ms,
        heartbeat_ticks=args.heartbeat_ticks, election_ticks=args.election_ticks,
        log_level=args.log_level,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    install_sigterm_handler()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="sentinel-raft-"))
    peers = tuple(range(1, args.nodes + 1))
    specs = [_spec(args, directory, node_id, peers) for node_id in peers]
    directories = {spec.node_id: spec.directory for spec in specs}
    lost = [why for node_id in peers if (why := lost_disk(directories, node_id))]
    if lost:
        print("\n".join(f"error: {why}" for why in lost), file=sys.stderr)
        return 2
    with ProcessGroup() as group:
        router = RouterHandle.start(directory, group)
        router.set_faults(args.faults)
        for spec in specs:
            spawn_node(spec, router, group)
        print(f"cluster in {directory}; node logs in node-<id>/node.log; Ctrl-C stops")
        end = time.monotonic() + args.seconds if args.seconds else None
        try:
            while end is None or time.monotonic() < end:
                time.sleep(1.0)
                for node_id, blob in sorted(router.statuses().items()):
                    st = decode_status(blob)
                    if st is not None:
                        print(
                            f"node {node_id} pid {st.pid} {st.role:<13} term {st.term:<4} "
                            f"leader {st.leader} commit {st.commit} applied {st.applied} "
                            f"log {st.log_length} snap {st.snapshot_index} disk {st.disk_bytes}B"
                        )
                print()
        except KeyboardInterrupt:
            pass
        finally:
            router.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
