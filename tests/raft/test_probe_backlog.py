"""A follower back from a crash answers, at once, every heartbeat that queued for it while
it recovered (one per ReadIndex round it missed). The leader must answer that backlog with
one probe, not one APPEND of up to max_msg_bytes per answer (which once kept a leader
encoding for over a second, long enough to be deposed)."""

from __future__ import annotations

from raft_harness import Cluster

from sentinel.raft import Message, MessageType

T = MessageType
BACKLOG = 100


def _appends_to(c: Cluster, leader: int, dst: int, lose: bool = False) -> list[Message]:
    """Run the leader's Readys; the APPENDs it sent to `dst` (`lose`: taken off the queue)."""
    c.process(leader)
    sent = [m for m in c.queue if m.type is T.APPEND and m.dst == dst]
    if lose:
        c.queue = [m for m in c.queue if not (m.type is T.APPEND and m.dst == dst)]
    return sent


def _lagging_follower() -> tuple[Cluster, int]:
    c = Cluster(3, seed=7)
    c.elect(1)
    c.down.add(3)
    for k in range(20):
        c.propose(1, b"w%d" % k)
        c.deliver_all()
    c.tick_all(c.nodes[1].config.heartbeat_ticks)  # a heartbeat after the lost APPENDs
    term = c.nodes[1].term
    c.down.discard(3)
    return c, term


def test_a_backlog_of_heartbeat_answers_sends_one_probe() -> None:
    c, term = _lagging_follower()
    for _ in range(BACKLOG):
        c.nodes[1].step(Message(T.HEARTBEAT_RESP, 3, 1, term))
    appends = _appends_to(c, 1, 3)
    assert len(appends) == 1, [m.index for m in appends]
    c.deliver_all()
    assert c.nodes[3].log.last_index == c.nodes[1].log.last_index  # and it caught up


def test_a_lost_probe_is_retried_after_the_next_tick_heartbeat() -> None:
    c, term = _lagging_follower()
    c.nodes[1].step(Message(T.HEARTBEAT_RESP, 3, 1, term))
    assert len(_appends_to(c, 1, 3, lose=True)) == 1  # the probe, lost
    c.nodes[1].step(Message(T.HEARTBEAT_RESP, 3, 1, term))  # answers an older heartbeat
    assert _appends_to(c, 1, 3) == []
    c.tick(1, c.nodes[1].config.heartbeat_ticks)  # a tick heartbeat goes out after the probe
    c.process(1)
    c.nodes[1].step(Message(T.HEARTBEAT_RESP, 3, 1, term))
    assert len(_appends_to(c, 1, 3)) == 1  # presumed lost: probed again
    c.deliver_all()
    assert c.nodes[3].log.last_index == c.nodes[1].log.last_index


def test_a_far_behind_follower_is_sent_one_slice_per_answer() -> None:
    """The window allows max_inflight_msgs x max_msg_bytes at once; one answer must not make
    the leader slice and encode more than about max_msg_bytes of entries."""
    c = Cluster(3, seed=8, max_msg_bytes=1000, max_entry_bytes=500)
    c.elect(1)
    c.down.add(3)
    for k in range(100):
        c.propose(1, b"%0100d" % k)  # 124 bytes each with the overhead
        c.deliver_all()
    c.tick_all(c.nodes[1].config.heartbeat_ticks)
    c.down.discard(3)
    leader, follower = c.nodes[1], c.nodes[3]
    inbox = [Message(T.HEARTBEAT_RESP, 3, 1, leader.term)]
    answers = 0
    while follower.log.last_index < leader.log.last_index:
        assert inbox and answers < 200, "no progress"
        answers += 1
        leader.step(inbox.pop(0))  # one answer...
        sent = [m for m in leader.msgs if m.type is T.APPEND and m.dst == 3]
        # ...queues at most one slice of about max_msg_bytes for this follower
        assert sum(e.size_bytes for m in sent for e in m.entries) <= 2 * 1000
        c.process(1)
        for m in [m for m in c.queue if m.dst == 3]:
            follower.step(m)
        c.queue = [m for m in c.queue if m.dst != 3]
        c.process(3)
        inbox += [m for m in c.queue if m.src == 3 and m.dst == 1]
        c.queue = [m for m in c.queue if not (m.src == 3 and m.dst == 1)]
    assert answers > 3  # it took several slices
