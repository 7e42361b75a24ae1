"""The router process with real echo node processes: presets, partitions, kill, pause,
counters, deferred replies. Few, short tests with generous deadlines (2 shared cores)."""

from __future__ import annotations

import threading
import time

import pytest

from sentinel.netsim.control import RouterError
from sentinel.netsim.echo import EchoStatus
from sentinel.netsim.faults import RELIABLE
from sentinel.netsim.rpc import RpcCall, RpcError, RpcReply
from sentinel.netsim.testing import EchoCluster, wait_for
from sentinel.wire import decode, encode

pytestmark = pytest.mark.processes
CALL_S = 5.0


def _wait_ready(cluster: EchoCluster, network) -> None:
    cluster.wait_ready(network)


def _parallel_calls(network, dst: int, count: int, threads: int, timeout_s: float):
    """`count` calls of Echo.echo from `threads` threads; [(answer, seconds)] in call order."""
    results: list = [None] * count

    def worker(first: int) -> None:
        end = network.end(dst)
        for index in range(first, count, threads):
            start = time.monotonic()
            answer = end.call("Echo.echo", index, timeout_s)
            results[index] = (answer, time.monotonic() - start)

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(120)
    return results


def test_reliable_counters_are_exact_and_statuses_posted(cluster_factory) -> None:
    cluster = cluster_factory(nodes=2)
    network = cluster.client()
    _wait_ready(cluster, network)
    before = cluster.router.stats()
    sizes = {1: 0, 2: 0}
    reply_sizes = {1: 0, 2: 0}
    for index in range(40):
        node = 1 + index % 2
        payload = "x" * index
        assert network.end(node).call("Echo.echo", payload, CALL_S) == payload
        sizes[node] += len(encode(RpcCall("Echo.echo", payload)))
        reply_sizes[node] += len(encode(RpcReply(payload)))
    after = cluster.router.stats()
    me = network.endpoint_id

    def delta(endpoint: int, name: str) -> int:
        old = getattr(before[endpoint], name) if endpoint in before else 0
        return getattr(after[endpoint], name) - old

    assert delta(me, "sent_msgs") == 40 and delta(me, "received_msgs") == 40
    assert delta(me, "sent_bytes") == sizes[1] + sizes[2]
    assert delta(me, "received_bytes") == reply_sizes[1] + reply_sizes[2]
    for node in (1, 2):
        assert delta(node, "received_msgs") == 20 and delta(node, "sent_msgs") == 20
        assert delta(node, "received_bytes") == sizes[node]
        assert delta(node, "sent_bytes") == reply_sizes[node]
    for name in ("dropped_msgs", "unreachable_msgs", "overflow_msgs", "delayed_msgs"):
        assert after[me].__getattribute__(name) == before[me].__getattribute__(name)
    report = wait_for(lambda: (r := cluster.router.report()).statuses.keys() == {1, 2} and r)
    assert report.totals.sent_msgs == sum(item.sent_msgs for item in report.stats)
    statuses = {k: decode(v, EchoStatus) for k, v in report.statuses.items()}
    assert statuses[1].pid == cluster.group.pid("node1")
    # a client can read the same report over its own connection
    assert network.report().statuses.keys() == {1, 2}


def test_presets_drop_delay_and_reorder(cluster_factory) -> None:
    cluster = cluster_factory(nodes=1, seed=12345)
    network = cluster.client()
    _wait_ready(cluster, network)
    cluster.router.set_faults("unreliable")
    results = _parallel_calls(network, 1, 300, threads=10, timeout_s=CALL_S)
    ok = sum(answer == index for index, (answer, _) in enumerate(results))
    # 0.9 * 0.9 = 81% expected; these bounds are ~9 standard deviations wide
    assert 180 < ok < 285, ok
    assert all(seconds < CALL_S for _, seconds in results)  # losses fail fast via notices
    stats = cluster.router.stats()
    assert stats[network.endpoint_id].dropped_msgs + stats[1].dropped_msgs == 300 - ok
    cluster.router.set_faults("long_reordering")
    results = _parallel_calls(network, 1, 12, threads=12, timeout_s=CALL_S)
    assert all(answer == index for index, (answer, _) in enumerate(results))
    assert max(seconds for _, seconds in results) >= 0.2  # P(no reply delayed) = 3^-12
    cluster.router.set_faults("reliable")
    assert network.end(1).call("Echo.echo", "calm", CALL_S) == "calm"


def test_partition_disconnect_and_heal(cluster_factory) -> None:
    cluster = cluster_factory(nodes=3)
    network = cluster.client()
    _wait_ready(cluster, network)
    one = network.end(1)
    assert one.call("Echo.relay", (2, "a"), CALL_S) == "a"
    cluster.router.partition([[1], [2, 3]])
    assert one.call("Echo.relay", (2, "b"), CALL_S) == "unreachable"
    assert network.end(2).call("Echo.relay", (3, "c"), CALL_S) == "c"
    assert one.call("Echo.echo", "client in no group", CALL_S) == "client in no group"
    cluster.router.heal()
    assert one.call("Echo.relay", (2, "d"), CALL_S) == "d"
    cluster.router.disconnect(1)
    start = time.monotonic()
    assert one.call("Echo.echo", "e", CALL_S) is None
    assert time.monotonic() - start < CALL_S  # the unreachable notice, not the timeout
    cluster.router.connect(1)
    assert one.call("Echo.echo", "f", CALL_S) == "f"
    with pytest.raises(RouterError, match="two groups"):
        cluster.router.partition([[1, 2], [2, 3]])
    with pytest.raises(RouterError, match="node ids"):
        cluster.router.add_node(0)
    assert one.call("Echo.echo", "g", CALL_S) == "g"  # refused requests harm nothing
    cluster.router.set_long_delays(True)
    assert cluster.router.report().config.long_delays
    cluster.router.set_long_delays(False)
    assert cluster.router.report().config == RELIABLE


def test_kill_pause_resume_restart(cluster_factory) -> None:
    cluster = cluster_factory(nodes=2)
    network = cluster.client()
    _wait_ready(cluster, network)
    old_pid = cluster.group.pid("node1")
    hanging: list = []
    caller = threading.Thread(
        target=lambda: hanging.append(network.end(1).call("Echo.hang", None, 60.0))
    )
    caller.start()

    def handled() -> int:
        blob = cluster.router.statuses().get(1)
        return decode(blob, EchoStatus).handled if blob else 0

    wait_for(lambda: handled() >= 2)  # the echo of wait_ready, then the hanging call
    start = time.monotonic()
    cluster.group.kill("node1")
    caller.join(60)
    assert hanging == [None]
    assert time.monotonic() - start < 30  # told by the router, not by the 60 s timeout
    wait_for(lambda: not cluster.router.stats()[1].connected)
    start = time.monotonic()
    assert network.end(1).call("Echo.echo", "dead?", 2.0) is None
    assert time.monotonic() - start < 2.0 + 1.0
    cluster.group.pause("node2")
    assert network.end(2).call("Echo.echo", "asleep", 0.5) is None
    cluster.group.resume("node2")
    assert network.end(2).call("Echo.echo", "awake", CALL_S) == "awake"
    new_pid = cluster.start_node(1)
    assert new_pid != old_pid
    wait_for(lambda: network.end(1).call("Echo.pid", None, 2.0) == new_pid, timeout_s=60)


def test_deferred_replies_and_rpc_errors(cluster_factory) -> None:
    cluster = cluster_factory(nodes=1)
    network = cluster.client()
    _wait_ready(cluster, network)
    end = network.end(1)
    assert end.call("Echo.later", {"k": [1, 2]}, CALL_S) == {"k": [1, 2]}
    with pytest.raises(RpcError, match="unknown method"):
        end.call("Echo.nope", 1, CALL_S)
    with pytest.raises(RpcError, match="unknown method"):
        end.call("Nothing.echo", 1, CALL_S)
    with pytest.raises(RpcError, match="raised"):
        end.call("Echo.relay", "not a pair", CALL_S)
    assert end.call("Echo.echo", "still serving", CALL_S) == "still serving"
