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
