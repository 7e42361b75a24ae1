"""Key/value clients in the simulator, histories checked by sentinel.lin."""

from __future__ import annotations

import pytest

from sentinel.kvraft import KVStateMachine, Put, Result, ResultCode
from sentinel.lin import CheckResult, KvInput, Operation
from sentinel.sim import InvariantViolation, SimOptions, build, sweep

KV = SimOptions(nodes=5, sim_seconds=10.0, workload="kv")


def test_kv_histories_are_linearizable_under_faults() -> None:
    seeds = range(0, 4)
    print(f"kv seeds {seeds.start}..{seeds.stop - 1}")
    summary = sweep(seeds, KV)
    print(summary.line())
    assert not summary.failures, "\n\n".join(str(f) for f in summary.failures)
    assert summary.acked > 100 * len(seeds)  # the clients really got answers
    # Gets are served by the kv server's ReadIndex rounds and leases, not through the log.
    assert summary.gets_readindex > 0 and summary.gets_lease > 0
    # The clients' attempts were coalesced, and sessions expired under their clients.
    assert summary.kv_batches > 0 and summary.sessions_expired > 0


def test_the_kv_history_records_calls_and_retries() -> None:
    print("seed 3 (replay: python -m sentinel.sim --seed 3 --workload kv)")
    cluster, timers, workload = build(3, KV)
    cluster.run_until(10_000_000, timers)
    ops = workload.operations()
    assert len(ops) >= workload.completed > 100
    assert {op.input.f for op in ops} == {"get", "put", "append"}
    assert all(op.call_time <= op.return_time for op in ops)
    assert workload.check(cluster) is CheckResult.OK


def test_a_lost_write_is_caught_by_the_linearizability_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Plant a bug in the state machine: every Put of a value ending in '3;' answers OK but
    changes nothing (on every replica alike, so raft's invariants cannot see it)."""
    real_apply = KVStateMachine._apply_command

    def lossy_apply(self: KVStateMachine, index: int, command: object, *rest: int) -> object:
        if isinstance(command, Put) and command.value.endswith("3;"):
            return Result(ResultCode.OK)  # the applied index moved; the value did not
        return real_apply(self, index, command, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(KVStateMachine, "_apply_command", lossy_apply)
    print("kv seeds 0..1 with a lossy Put planted")
    summary = sweep(range(0, 2), KV)
    print(summary.line())
    assert summary.failures, "the lost write went unnoticed"
    assert all(f.what.startswith("linearizability") for f in summary.failures)


def test_the_checker_rejects_a_hand_made_stale_read() -> None:
    cluster, _timers, workload = build(1, SimOptions(nodes=3, sim_seconds=1.0, workload="kv"))
    workload.history[:] = [
        Operation(0, KvInput("put", "a", "x"), 0, None, 10),
        Operation(1, KvInput("get", "a"), 20, "", 30),  # must see "x"
    ]
    with pytest.raises(InvariantViolation, match="linearizability"):
        workload.check(cluster)


def test_a_call_is_answered_by_its_own_entry_not_an_equal_one_of_another_term() -> None:
    # Gets carry no client id, so two clients' Gets of one key are the same bytes. In seed
    # 91112 a leader paused since term 3 woke up and took a client's Get at index 122, where
    # the log already held another client's Get of that key (term 5) from 0.8 s before.
    # Matching by index and bytes alone answered the new call with that old read's value,
    # a stale read the checker rejected. A call's entry is its (index, term).
    options = SimOptions(nodes=3, sim_seconds=10.0, workload="kv", profile="mixed")
    print("seed 91112 (replay: python -m sentinel.sim --seed 91112 --nodes 3 --workload kv)")
    cluster, timers, workload = build(91112, options)
    cluster.run_until(10_000_000, timers)
    assert workload.check(cluster) is CheckResult.OK
