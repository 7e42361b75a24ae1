"""A client follows the cluster's membership (kvraft/follow.py), over a scripted network
whose timers and replies the test fires by hand: it takes the newest committed
configuration, follows a named leader, ignores a stale or uncommitted or malformed one, and
rediscovers servers when none of those it knows answers."""

from __future__ import annotations

from typing import Any

from sentinel.kvraft.client import Client
from sentinel.kvraft.follow import METHOD, MembershipFollower
from sentinel.netsim.client import NetworkClosed
from sentinel.netsim.rpc import RpcReply


class HandNetwork:
    """Records timers and Status calls; the test fires them."""

    def __init__(self) -> None:
        self.timers: list[Any] = []
        self.calls: list[tuple[int, Any]] = []  # (server, callback)
        self.closed = False

    def call_later(self, delay_s: float, callback: Any) -> None:
        if self.closed:
            raise NetworkClosed("closed")
        self.timers.append(callback)

    def call_async(self, dst: int, method: str, args: Any, timeout_s: float, callback: Any) -> None:
        assert method == METHOD
        self.calls.append((dst, callback))

    def on_reader_thread(self) -> bool:
        return False

    def add_flush_hook(self, hook: Any) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def tick(self) -> int:
        """Fire the next timer; the server it asked."""
        self.timers.pop(0)()
        return self.calls[-1][0]

    def answer(self, value: Any) -> None:
        _, callback = self.calls.pop(0)
        callback(None if value is None else RpcReply(value))


def status(node: int, leader: int, voters: list[int], index: int, commit: int, learners=()):  # type: ignore[no-untyped-def]
    return {"node": node, "leader": leader, "voters": voters, "learners": list(learners),
            "conf_index": index, "commit": commit, "id_max": 9, "match": {}}  # fmt: skip


def follower(servers: list[int], rediscover=None):  # type: ignore[no-untyped-def]
    net = HandNetwork()
    client = Client(net, servers, coalesce=False)  # type: ignore[arg-type]
    follow = MembershipFollower(client, rediscover)
    follow.start()
    return net, client, follow


def test_takes_the_newest_committed_configuration_and_drops_removed_servers() -> None:
    net, client, _ = follower([1, 2, 3])
    assert net.tick() == 1  # the client's last leader first
    net.answer(status(1, 1, [1, 2, 3, 4], 7, 9))
    assert client.servers == (1, 2, 3, 4)
    assert net.tick() == 1
    net.answer(status(1, 1, [2, 3, 4], 8, 8, learners=[5]))
    assert client.servers == (2, 3, 4, 5)


def test_a_stale_uncommitted_or_malformed_configuration_is_not_taken() -> None:
    net, client, follow = follower([2, 3, 4])
    net.tick()
    net.answer(status(2, 2, [2, 3, 4], 8, 8))
    for bad in (
        status(2, 2, [1, 2, 3], 5, 9),  # older: a removed node that never heard of it
        status(2, 2, [2, 3, 4, 6], 9, 8),  # not committed yet
        {"voters": "x"},
        status(2, 2, [2, 2, 3], 10, 10),
        status(2, 2, [], 10, 10),
        status(2, 2, [True, 3], 10, 10),
    ):
        net.tick()
        net.answer(bad)
        assert client.servers == (2, 3, 4) and follow.conf_index == 8, bad
        if net.timers and net.calls:
            net.answer(None)


def test_a_named_leader_is_asked_next() -> None:
    net, client, _ = follower([1, 2, 3])
    assert net.tick() == 1
    net.answer(status(1, 4, [1, 2, 3], 0, 3))  # a node that lags, naming leader 4
    assert net.tick() == 4
    net.answer(status(4, 4, [2, 3, 4], 6, 6))
    assert client.servers == (2, 3, 4)
    assert net.tick() == 2  # the round is over: REFRESH_S later, a new one


def test_when_no_known_server_answers_the_cluster_directory_names_new_ones() -> None:
    net, client, _ = follower([1, 2, 3], rediscover=lambda: [1, 2, 3, 4, 5, 6])
    asked = []
    for _ in range(4):  # 1 (the last leader), 2, 3: silent (removed and stopped); then 4
        asked.append(net.tick())
        if asked[-1] != 4:
            net.answer(None)
    assert asked == [1, 2, 3, 4]
    net.answer(status(4, 5, [4, 5, 6], 12, 12))
    assert client.servers == (4, 5, 6)


def test_it_stops_with_the_client() -> None:
    net, client, _ = follower([1])
    client.close()
    net.timers.pop(0)()
    assert net.calls == [] and not net.timers
