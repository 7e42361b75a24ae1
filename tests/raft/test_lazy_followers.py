"""Lazy followers (Config.lazy_followers): between ticks a leader sends new entries only to
the quorum - 1 followers that keep up best; the others get them once per tick."""

from __future__ import annotations

from raft_harness import Cluster

from sentinel.raft import Message, MessageType

T = MessageType


def appends_with_entries(c: Cluster) -> dict[int, int]:
    """Queued APPENDs that carry entries, per destination."""
    out: dict[int, int] = {}
    for m in c.queue:
        if m.type is T.APPEND and m.entries:
            out[m.dst] = out.get(m.dst, 0) + 1
    return out


def settled(n: int, seed: int) -> Cluster:
    """Node 1 leads; two ticks passed, so the eager set was chosen on what kept up."""
    c = Cluster(n, seed=seed, lazy_followers=True)
    c.elect(1)
    c.tick(1, 2)
    c.deliver_all()
    return c


def test_a_proposal_goes_at_once_to_a_quorum_only_and_commits_with_it() -> None:
    c = settled(5, seed=1)
    index, _ = c.propose(1, b"x")
    c.process(1)
    sent = appends_with_entries(c)
    assert sorted(sent) == [2, 3]  # quorum 3: the leader and two followers (lowest ids)
    c.deliver_all()
    assert c.nodes[1].log.committed == index  # committed without nodes 4 and 5
    assert c.nodes[4].log.last_index < index and c.nodes[5].log.last_index < index
    c.tick(1)  # the tick's broadcast brings the lazy ones along, with the commit
    c.deliver_all()
    for i in c.ids:
        assert c.applied[i].get(index) == b"x", i


def test_lazy_followers_get_one_append_per_tick_however_many_proposals() -> None:
    c = settled(3, seed=2)
    first = c.nodes[1].log.last_index + 1
    for k in range(10):
        c.propose(1, b"v%d" % k)
        c.deliver_all()
    lazy = 3
    assert c.nodes[lazy].log.last_index < first  # nothing yet: it waits for the tick
    sent_to_lazy: list[Message] = []
    c.tick(1)
    c.process(1)
    sent_to_lazy = [m for m in c.queue if m.dst == lazy and m.type is T.APPEND]
    assert len(sent_to_lazy) == 1 and len(sent_to_lazy[0].entries) == 10
    c.deliver_all()
    assert c.logs_equal(1, 2, 3)


def test_a_follower_that_stops_answering_loses_its_place_within_two_ticks() -> None:
    c = settled(3, seed=3)
    assert c.nodes[1].eager == (2,)
    c.crash(2)
    index, _ = c.propose(1, b"after the crash")
    c.deliver_all()
    assert c.nodes[1].log.committed < index  # its one eager follower is gone
    for _ in range(2):
        c.tick(1)
        c.deliver_all()
    assert c.nodes[1].eager == (3,)
    assert c.nodes[1].log.committed >= index
    later, _ = c.propose(1, b"no tick needed now")
    c.deliver_all()
    assert c.nodes[1].log.committed == later


def test_a_lazy_follower_far_behind_is_caught_up_on_every_answer() -> None:
    """Catching up from a crash does not go at one APPEND per tick: while a lazy follower
    lacks what stood at the last tick, each of its answers brings the next slice."""
    c = Cluster(3, seed=4, lazy_followers=True, max_msg_entries=2, max_inflight_msgs=1)
    c.elect(1)
    c.crash(3)
    for k in range(20):
        c.propose(1, b"w%d" % k)
        c.deliver_all()
    c.tick(1, 2)  # node 3 is lazy now; node 2 keeps up
    c.deliver_all()
    assert c.nodes[1].eager == (2,)
    c.restart(3)
    for _ in range(c.nodes[1].config.heartbeat_ticks):  # a heartbeat finds node 3 back ...
        c.tick(1)
        c.process(1)
        if any(m.dst == 3 for m in c.queue):
            break
    c.deliver_all()
    assert c.logs_equal(1, 2, 3)  # ... and its answers bring the rest, with no more ticks


def test_off_every_follower_gets_every_append_at_once() -> None:
    c = Cluster(5, seed=5)
    c.elect(1)
    c.tick(1, 2)
    c.deliver_all()
    c.propose(1, b"x")
    c.process(1)
    assert sorted(appends_with_entries(c)) == [2, 3, 4, 5]


def test_a_tick_sends_an_eager_follower_only_news_it_lacks() -> None:
    """A tick brings the lazy follower along; the eager one hears from it only when it has
    not been told of the commit index yet (node processes send that news on ticks)."""
    c = settled(3, seed=6)
    c.nodes[1].commit_news_on_tick = True
    c.propose(1, b"a")
    c.deliver_all()  # committed by nodes 1 and 2; node 2 has not heard so yet
    c.tick(1)
    c.process(1)
    assert {m.dst for m in c.queue if m.type is T.APPEND} == {2, 3}
    c.deliver_all()
    assert all(c.applied[i] for i in c.ids)

    index, _ = c.propose(1, b"b")
    c.process(1)  # node 2 gets the entry at once, and with it the news of "a"
    c.tick(1)
    c.process(1)
    to_eager = [m for m in c.queue if m.dst == 2 and m.type is T.APPEND]
    to_lazy = [m for m in c.queue if m.dst == 3 and m.type is T.APPEND]
    assert len(to_eager) == 1 and [e.index for e in to_eager[0].entries] == [index]
    assert len(to_lazy) == 1 and [e.index for e in to_lazy[0].entries] == [index]
    c.deliver_all()
    assert c.logs_equal(1, 2, 3)
