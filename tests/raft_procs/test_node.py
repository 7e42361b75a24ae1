"""The node process itself: status blobs, hostile input, exit when the router goes away."""

from __future__ import annotations

import pytest

from sentinel.host.node import node_name
from sentinel.host.nodestatus import decode_status
from sentinel.netsim import protocol as p
from sentinel.netsim.testing import wait_for
from sentinel.raft.messages import Message, MessageType
from sentinel.wire import encode

pytestmark = pytest.mark.processes


def _statuses(cfg):
    return {k: decode_status(v) for k, v in cfg.router.statuses().items()}


def test_status_blobs_report_the_cluster(make_cluster):
    cfg = make_cluster(3)
    leader = cfg.check_one_leader()
    cfg.one(7, 3, False)

    def settled():
        st = _statuses(cfg)
        return len(st) == 3 and all(s is not None and s.applied >= 2 for s in st.values()) and st

    st = wait_for(settled, 20.0)
    assert st[leader + 1].role == "LEADER"
    assert {s.leader for s in st.values()} == {leader + 1}
    for node_id, s in st.items():
        assert s.node_id == node_id and s.pid == cfg.group.pid(node_name(node_id))
        assert s.disk_bytes > 0 and s.raft_state_bytes > 0 and s.log_length == s.last_index
        assert s.raft_msgs_received > 0 and s.raft_bytes_received > 0
        assert s.app["commands"] == 1 and s.app["errors"] == 0


def test_garbage_and_forged_messages_are_refused(make_cluster):
    cfg = make_cluster(3)
    cfg.check_one_leader()
    endpoint = cfg.net.endpoint
    # Frames with a wire header but damaged after it: only the node can tell (the router drops
    # payloads without the header itself, tests/netsim/test_hostile.py).
    endpoint.send_frame(1, encode("truncated")[:-3], p.F_REQUEST)
    endpoint.send_frame(1, encode(b"cut short")[:-1], p.F_REPLY)
    # a raft message from a client that claims to come from node 2
    forged = Message(MessageType.APPEND, 2, 1, 10**6, commit=10**6)
    endpoint.send_frame(1, encode(forged), p.F_REQUEST)
    # a raft message whose own src is the client: not a peer
    stranger = Message(MessageType.HEARTBEAT, endpoint.endpoint_id, 1, 1)
    endpoint.send_frame(1, encode(stranger), p.F_REQUEST)
    endpoint.send_frame(1, encode({"what": "not raft"}), p.F_REQUEST)
    endpoint.flush()  # the client's endpoint is corked (its reader thread batches sends)

    def refused():
        s = _statuses(cfg).get(1)
        return s is not None and s.bad_frames >= 2 and s.invalid_msgs >= 2 and s

    s = wait_for(refused, 20.0)
    assert s.term < 10**6, "a forged message changed the term"
    cfg.one(5, 3, False)  # node 1 still serves, and the cluster still agrees


def test_nodes_exit_when_the_router_goes(make_cluster):
    cfg = make_cluster(3)
    cfg.check_one_leader()
    cfg.router.shutdown()
    for i in range(3):
        assert cfg.group.wait(node_name(i + 1), 20.0), f"node {i + 1} outlived its router"
        assert cfg.group.exitcode(node_name(i + 1)) == 0


def test_application_interface_deferred_writes_and_read_index(make_cluster):
    """An Application on the node: a write is answered once applied, a ReadIndex read once
    ready; followers refuse both; a cut-off leader's reads stop once its lease runs out."""
    cfg = make_cluster(3, app="raft_procs_regapp:Register")

    def find_leader():
        for i in range(3):
            if cfg.net.end(i + 1).call("Reg.put", "v1", 2.0) == "ok":
                return i + 1
        return None

    leader = wait_for(find_leader, 20.0)
    reg = cfg.net.end(leader)
    assert reg.call("Reg.get", None, 5.0) == ("ok", "v1")
    assert reg.call("Reg.put", "v2", 5.0) == "ok"
    assert reg.call("Reg.get", None, 5.0) == ("ok", "v2")
    follower = cfg.net.end(leader % 3 + 1)
    assert follower.call("Reg.get", None, 5.0) == ("wrong leader", "")
    assert follower.call("Reg.put", "x", 5.0) == "wrong leader"
    assert "LEADER" in reg.call("Reg.roles", None, 5.0)
    cfg.disconnect(leader - 1)  # cut off: no quorum confirms it any more

    def refused() -> bool:
        # Within its lease (~0.1 s from its last confirmed read round) it still answers,
        # correctly: nobody else can be elected meanwhile. After that, never.
        answer = reg.call("Reg.get", None, 5.0)
        assert answer in (("ok", "v2"), ("retry", ""), ("wrong leader", "")), answer
        return answer != ("ok", "v2")

    wait_for(refused, 20.0)
    answer = reg.call("Reg.get", None, 5.0)
    assert answer in (("retry", ""), ("wrong leader", "")), answer
