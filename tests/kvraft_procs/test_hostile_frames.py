"""Hostile frames at a node: a client floods the leader with junk; nothing changes.

An authenticated client sends 200,000 malformed frames to the leader of a 5-node kv cluster
as fast as its socket takes them. Each payload begins like a wire frame (so the router, which
never unpickles, passes it on) and is broken further in: a cut header, a zero length with
padding, a checksummed pickle that is garbage. The leader must stay the leader in the same
term (no election anywhere), log a few lines rather than one per frame, and the cluster must
keep serving with every acknowledged write intact. (The leader mutes the client after its
first bad frames and drops the rest unread (host/inbox.py); it reports each frame it refused
to the router, which cuts the client off after a few: router.REFUSED_FRAMES_MAX; and the
router keeps peers' traffic ahead of any client's: links.py.)
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from harness_kv import OP_DEADLINE_S

import sentinel
from sentinel.host.nodestatus import NodeStatus
from sentinel.netsim import protocol as p
from sentinel.netsim.client import connect
from sentinel.netsim.framing import LENGTH
from sentinel.netsim.testing import wait_for
from sentinel.wire import decode
from sentinel.wire.testing import checked_frame

FLOOD_FRAMES = 200_000
#: Junk payloads, in turn: each starts with the wire codec's magic and version.
JUNK = (
    b"SN\x01junk",  # a header cut short
    b"SN\x01\x00" + bytes(20),  # a zero length, then padding
    checked_frame(b"not a pickle"),  # a valid checksum around garbage
)
#: The leader's node.log may grow this much (one line per frame was 5.4 MB).
LOG_GROWTH_BYTES_MAX = 64 * 1024
KEYS = 20


def _log_bytes(node_dir: Path) -> int:
    return sum(f.stat().st_size for f in node_dir.glob("node.log*"))


def _flood(net, dst: int) -> tuple[float, float]:
    """Write FLOOD_FRAMES junk messages to `dst` in big writes until done or cut off; the
    share of the bytes written and the seconds it took."""
    header = p.ROUTE.pack(net.endpoint_id, dst, 0, p.F_REQUEST)
    messages = [LENGTH.pack(len(header) + len(j)) + header + j for j in JUNK]
    data = memoryview(b"".join(messages[k % len(JUNK)] for k in range(FLOOD_FRAMES)))
    began = time.monotonic()
    fd = net.endpoint.fileno()  # nothing else is sent on this connection meanwhile
    written = 0
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the router cut us off
        while written < len(data):
            written += os.write(fd, data[written:])
    return written / len(data), time.monotonic() - began


def _connected(cfg, endpoint: int) -> bool:
    return any(s.connected for s in cfg.router.report((endpoint,)).stats)


def test_a_junk_flood_at_the_leader_changes_no_leader_and_loses_nothing(make_cluster):
    cfg = make_cluster(5)
    want = {f"k{i}": f"v{i}" for i in range(KEYS)}
    with sentinel.connect(cfg.directory) as kv:
        for key, value in want.items():
            kv.put(key, value, timeout_s=OP_DEADLINE_S)
    leader = cfg.wait_leader()
    before = cfg.states()
    term = before[leader].term
    assert all(st is not None and st.term == term for st in before), before
    leader_dir = cfg.directory / f"node-{leader + 1}"
    log_before = _log_bytes(leader_dir)

    with connect(cfg.directory) as net:
        flooder = net.endpoint_id
        flood_began = time.monotonic()
        share, took_s = _flood(net, leader + 1)
        # The leader refuses a few frames (then mutes the client) and the router cuts it off.
        wait_for(lambda: not _connected(cfg, flooder), OP_DEADLINE_S)
    with connect(cfg.directory) as probe:
        # The router hands every client's messages to a node in the order they came: once
        # this State call is answered, the leader has handled (or shed) every junk frame.
        end = probe.end(leader + 1)
        deadline = time.monotonic() + OP_DEADLINE_S
        while end.call("KVServer.State", None, 1.0) is None:
            assert time.monotonic() < deadline, "the leader never answered after the flood"
    report = cfg.router.report()

    def refused() -> int:  # (the leader posts its status every 200 ms)
        return decode(cfg.router.statuses()[leader + 1], NodeStatus).bad_frames

    bad = wait_for(refused, OP_DEADLINE_S)  # fails if no junk reached the leader
    growth = _log_bytes(leader_dir) - log_before
    overflow = {s.endpoint_id: s.overflow_msgs for s in report.stats if s.overflow_msgs}
    print(
        f"{share:.0%} of a flood of {FLOOD_FRAMES} "
        f"frames written in {took_s:.2f} s before the client was cut off; the leader refused "
        f"{bad} (the rest dropped unread); router overflow {overflow}; leader log +{growth} "
        "bytes"
    )

    after = cfg.states()
    assert [st.term for st in after if st] == [term] * 5, f"an election: {after}"
    assert after[leader] is not None and after[leader].is_leader, "the leader changed"
    assert growth <= LOG_GROWTH_BYTES_MAX, f"the leader's log grew {growth} bytes"

    def counted() -> str | None:  # the count follows the first line within about a second
        text = (leader_dir / "node.log").read_text(errors="replace")
        return text if "more bad frames in the last" in text else None

    text = wait_for(counted, 10.0)
    lines_max = 2 + time.monotonic() - flood_began  # the first in full, then one a second
    assert text.count("bad frame from") <= lines_max, "bad frames are logged one by one"
    assert f"client {flooder} sent" in text and "dropped unread" in text  # muted
    with sentinel.connect(cfg.directory) as kv:
        got = {key: kv.get(key, timeout_s=OP_DEADLINE_S) for key in want}
        assert got == want
        kv.put("after", "flood", timeout_s=OP_DEADLINE_S)
        assert kv.get("after", timeout_s=OP_DEADLINE_S) == "flood"
