"""The public client's asynchronous calls (`*_async` -> Future) against real processes:
results and errors like the blocking calls, input refused at once, the bounded FIFO queue,
deadlines, close, and exactly-once appends under an unreliable network with the recorded
history checked by sentinel.lin."""

from __future__ import annotations

import os
import random
import threading
import time
from concurrent.futures import CancelledError, Future

import pytest
from harness_kv import OP_DEADLINE_S
from scenarios_kv import LIN_TIMEOUT_S, check_clnt_appends

import sentinel
from sentinel.kvraft import InvalidRequest
from sentinel.kvraft.client import Client, ClientClosed, QueueFull
from sentinel.kvraft.errors import OutcomeUnknown, Unavailable, ValueTooLarge
from sentinel.lin import CheckResult, HistoryRecorder, check_operations, kv_model
from sentinel.netsim.client import connect as connect_network
from sentinel.netsim.testing import wait_for

pytestmark = pytest.mark.processes


def test_async_results_match_the_blocking_calls(make_cluster):
    cfg = make_cluster(3)
    with sentinel.connect(cfg.directory) as kv:
        assert kv.get_async("k").result(OP_DEADLINE_S) is None
        assert kv.put_async("k", "v").result(OP_DEADLINE_S) is None
        assert kv.append_async("k", "w").result(OP_DEADLINE_S) is None
        assert kv.get_async("k").result(OP_DEADLINE_S) == "vw"
        assert kv.cas_async("k", "nope", "x").result(OP_DEADLINE_S) is False
        assert kv.cas_async("k", "vw", "x").result(OP_DEADLINE_S) is True
        assert kv.cas_async("new", None, "1").result(OP_DEADLINE_S) is True
        assert kv.delete_async("k").result(OP_DEADLINE_S) is True
        assert kv.delete_async("k").result(OP_DEADLINE_S) is False
        assert kv.get("new") == "1"  # blocking and async calls share the sessions
        kv.put("big", "b" * (1024 * 1024 - 100))
        with pytest.raises(ValueTooLarge):
            kv.append_async("big", "b" * 200).result(OP_DEADLINE_S)


def test_bad_input_raises_at_once_and_sends_nothing(make_cluster):
    cfg = make_cluster(3)
    with sentinel.connect(cfg.directory) as kv:
        bad = [
            lambda: kv.put_async("", "v"),
            lambda: kv.put_async(7, "v"),  # type: ignore[arg-type]
            lambda: kv.append_async("k", b"bytes"),  # type: ignore[arg-type]
            lambda: kv.put_async("k", "v" * (1024 * 1024 + 1)),
            lambda: kv.cas_async("k", 1, "v"),  # type: ignore[arg-type]
            lambda: kv.get_async("k" * 1025),
        ]
        for call in bad:
            with pytest.raises(InvalidRequest):
                call()
        with pytest.raises(ValueError, match="timeout_s"):
            kv.put_async("k", "v", timeout_s=0)
        assert len(kv._sessions) == 0  # no session was even lent out, so nothing was sent
        assert kv.get_async("k").result(OP_DEADLINE_S) is None


def test_one_clerk_serves_queued_calls_in_fifo_order(make_cluster):
    cfg = make_cluster(3)
    network = connect_network(cfg.directory)
    with Client(network, [1, 2, 3], clerks_max=1) as kv:
        futures = [kv.append_async("log", f"<{i}>", timeout_s=OP_DEADLINE_S) for i in range(30)]
        for future in futures:
            assert future.result(OP_DEADLINE_S) is None
        assert kv.get("log") == "".join(f"<{i}>" for i in range(30))
        assert len(kv._sessions) == 1


def test_many_sessions_chained_from_callbacks_apply_every_append_once(make_cluster):
    cfg = make_cluster(3)
    sessions, per_session = 8, 15
    network = connect_network(cfg.directory)
    with Client(network, [1, 2, 3], clerks_max=sessions) as kv:
        errors: list[BaseException] = []
        done = threading.Event()
        left = [sessions]
        lock = threading.Lock()

        def next_append(me: int, j: int) -> None:
            if j == per_session:
                with lock:
                    left[0] -= 1
                    if left[0] == 0:
                        done.set()
                return
            future = kv.append_async(f"s{me}", f"x {me} {j} y", timeout_s=OP_DEADLINE_S)
            future.add_done_callback(lambda f: finished(f, me, j))

        def finished(future: Future, me: int, j: int) -> None:
            if future.exception() is not None:
                errors.append(future.exception())  # type: ignore[arg-type]
            next_append(me, j + 1)  # on the reader thread: the session's next call

        for me in range(sessions):
            next_append(me, 0)
        assert done.wait(OP_DEADLINE_S * 2), "the chains did not finish"
        assert not errors, errors
        for me in range(sessions):
            check_clnt_appends(me, kv.get(f"s{me}"), per_session)
        assert len(kv._sessions) == sessions


def test_calls_made_in_one_callback_travel_as_one_batch_and_each_gets_its_answer(make_cluster):
    cfg = make_cluster(3)
    calls = 20
    network = connect_network(cfg.directory)
    with Client(network, [1, 2, 3], clerks_max=calls) as kv:
        kv.put("shared", "0", timeout_s=OP_DEADLINE_S)  # a leader is known
        futures: list[Future] = []
        started = threading.Event()

        def burst(_first: Future) -> None:  # on the reader thread: held for its flush
            for i in range(calls):
                if i % 2:
                    futures.append(kv.get_async("shared", timeout_s=OP_DEADLINE_S))
                else:
                    futures.append(kv.append_async(f"a{i}", f"x {i} y", timeout_s=OP_DEADLINE_S))
            started.set()

        before = kv.coalescer.batches_sent
        kv.get_async("shared", timeout_s=OP_DEADLINE_S).add_done_callback(burst)
        assert started.wait(OP_DEADLINE_S)
        results = [f.result(OP_DEADLINE_S) for f in futures]
        assert results == [None if i % 2 == 0 else "0" for i in range(calls)]
        assert kv.coalescer.batches_sent > before  # the burst left as a batch
        for i in range(0, calls, 2):  # each write applied exactly once, under its own session
            assert kv.get(f"a{i}", timeout_s=OP_DEADLINE_S) == f"x {i} y"


def test_queue_bound_cancel_deadline_and_close(make_cluster):
    cfg = make_cluster(3)
    network = connect_network(cfg.directory)
    kv = Client(network, [1, 2, 3], clerks_max=1, queue_max=2)
    try:
        kv.put("k", "before", timeout_s=OP_DEADLINE_S)  # a registered session
        for i in range(3):
            cfg.shutdown_server(i)
        t0 = time.monotonic()
        stuck = kv.put_async("k", "during", timeout_s=1.0)  # holds the only clerk
        read = kv.get_async("k", timeout_s=1.0)  # waits for it
        cancelled = kv.put_async("k", "never", timeout_s=OP_DEADLINE_S)
        with pytest.raises(QueueFull):
            kv.put_async("k", "no room", timeout_s=OP_DEADLINE_S)
        assert cancelled.cancel()  # still queued: nothing was sent
        with pytest.raises(OutcomeUnknown, match="may or may not have been applied"):
            stuck.result(OP_DEADLINE_S)
        with pytest.raises(Unavailable):  # its deadline passed while it queued
            read.result(OP_DEADLINE_S)
        with pytest.raises(CancelledError):
            cancelled.result(0)
        assert time.monotonic() - t0 < OP_DEADLINE_S
        in_flight = kv.put_async("k", "at close", timeout_s=OP_DEADLINE_S)
        queued = kv.get_async("k", timeout_s=OP_DEADLINE_S)
        wait_for(lambda: kv._waiting, OP_DEADLINE_S)  # the get waits for the put's clerk
    finally:
        kv.close()
    with pytest.raises(ClientClosed):
        queued.result(OP_DEADLINE_S)
    with pytest.raises(OutcomeUnknown):  # sent, never answered: honest about it
        in_flight.result(OP_DEADLINE_S)
    with pytest.raises(ClientClosed):
        kv.get_async("k")
    with pytest.raises(ClientClosed):
        kv.get("k")


def test_unreliable_async_appends_are_exactly_once_and_linearizable(make_cluster):
    seed = int.from_bytes(os.urandom(4), "little")
    print(f"seed={seed}")
    rng = random.Random(seed)
    cfg = make_cluster(3, unreliable=True)
    sessions, run_s = 5, 3.0
    rec = HistoryRecorder()
    network = connect_network(cfg.directory)
    with Client(network, [1, 2, 3], clerks_max=sessions) as kv:
        counts = [0] * sessions
        errors: list[BaseException] = []
        stop_at = time.monotonic() + run_s
        live = [sessions]
        lock = threading.Lock()
        done = threading.Event()

        def submit(me: int) -> None:
            if time.monotonic() >= stop_at or errors:
                with lock:
                    live[0] -= 1
                    if live[0] == 0:
                        done.set()
                return
            if rng.random() < 0.3:  # read anyone's key
                key = f"k{rng.randrange(sessions)}"
                token = rec.invoke(me, "get", key)
                future = kv.get_async(key, timeout_s=OP_DEADLINE_S)
            else:  # append to my own key (6.824's GenericTest shape: per-key histories)
                value = f"x {me} {counts[me]} y"
                token = rec.invoke(me, "append", f"k{me}", value)
                future = kv.append_async(f"k{me}", value, timeout_s=OP_DEADLINE_S)
                counts[me] += 1
            future.add_done_callback(lambda f: finished(f, me, token))

        def finished(future: Future, me: int, token: int) -> None:
            error = future.exception()
            if error is None:
                value = future.result()
                rec.ok(token, value if value is not None else "")
            else:
                rec.info(token)
                errors.append(error)
            submit(me)

        for me in range(sessions):
            submit(me)
        assert done.wait(OP_DEADLINE_S * 2), "the chains did not finish"
        assert not errors, f"seed={seed}: {errors[0]!r}"
        cfg.set_unreliable(False)
        final = [kv.get(f"k{me}", timeout_s=OP_DEADLINE_S) or "" for me in range(sessions)]
    for me in range(sessions):  # every append applied exactly once, in order
        check_clnt_appends(me, final[me], counts[me])
    history = rec.history()
    assert len(history) > sessions, "hardly any calls completed"
    result = check_operations(kv_model, history, timeout_s=LIN_TIMEOUT_S)
    assert result is CheckResult.OK, f"seed={seed}: history of {len(history)} is {result.value}"
