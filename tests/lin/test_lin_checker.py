"""Hand-made histories for the search itself: real time, pending calls, timeouts, events."""

from __future__ import annotations

import time

import pytest

from sentinel.lin import (
    PENDING,
    UNKNOWN,
    CheckResult,
    Event,
    EventKind,
    KvInput,
    Model,
    Operation,
    RegisterInput,
    check_events,
    check_events_verbose,
    check_operations,
    check_operations_verbose,
    events_from_operations,
    kv_model,
    operations_from_events,
    register_model,
)

W = RegisterInput("write", 1)


def op(client: int, f: str, arg: object, call: float, out: object, ret: float) -> Operation:
    return Operation(client, RegisterInput(f, arg), call, out, ret)


def test_empty_history_is_ok() -> None:
    assert check_operations(register_model, []) is CheckResult.OK
    result, info = check_operations_verbose(register_model, [])
    assert result is CheckResult.OK
    assert all(part.result is CheckResult.OK for part in info.partitions)


def test_stale_read_after_write_returned_is_illegal() -> None:
    history = [op(0, "write", 1, 0, None, 10), op(1, "read", None, 20, None, 30)]
    assert check_operations(register_model, history) is CheckResult.ILLEGAL


def test_overlapping_read_may_see_old_or_new() -> None:
    for seen in (None, 1):
        history = [op(0, "write", 1, 0, None, 10), op(1, "read", None, 5, seen, 30)]
        assert check_operations(register_model, history) is CheckResult.OK


def test_intervals_are_closed_touching_ends_overlap() -> None:
    # The read is called exactly when the write returns: they overlap.
    history = [op(0, "write", 1, 0, None, 10), op(1, "read", None, 10, None, 20)]
    assert check_operations(register_model, history) is CheckResult.OK
    history = [op(0, "write", 1, 0, None, 10), op(1, "read", None, 11, None, 20)]
    assert check_operations(register_model, history) is CheckResult.ILLEGAL


def test_pending_operation_may_take_effect_any_time_after_its_call_or_never() -> None:
    pending = op(0, "write", 7, 5, UNKNOWN, PENDING)
    read = [op(1, "read", None, 100, 7, 110), op(1, "read", None, 200, 7, 210)]
    assert check_operations(register_model, [pending, *read]) is CheckResult.OK
    never = [op(1, "read", None, 100, None, 110)]
    assert check_operations(register_model, [pending, *never]) is CheckResult.OK
    before_call = [op(1, "read", None, 0, 7, 4)]
    assert check_operations(register_model, [pending, *before_call]) is CheckResult.ILLEGAL
    # Once seen, it cannot be un-done.
    flip = [op(1, "read", None, 100, 7, 110), op(1, "read", None, 200, None, 210)]
    assert check_operations(register_model, [pending, *flip]) is CheckResult.ILLEGAL


def test_cas_outputs() -> None:
    write = op(0, "write", 1, 0, None, 1)
    applied = op(0, "cas", (1, 2), 2, True, 3)
    after = op(0, "read", None, 4, 2, 5)
    assert check_operations(register_model, [write, applied, after]) is CheckResult.OK
    wrongly_failed = op(0, "cas", (1, 2), 2, False, 3)
    assert check_operations(register_model, [write, wrongly_failed]) is CheckResult.ILLEGAL
    unknown = op(0, "cas", (1, 2), 2, UNKNOWN, PENDING)
    for value in (1, 2):
        later = op(1, "read", None, 10, value, 11)
        assert check_operations(register_model, [write, unknown, later]) is CheckResult.OK


def test_kv_partitions_are_independent_but_all_must_hold() -> None:
    ok = [
        Operation(0, KvInput("append", "a", "x"), 0, None, 1),
        Operation(0, KvInput("get", "a"), 2, "x", 3),
        Operation(1, KvInput("put", "b", "y"), 0, None, 1),
        Operation(1, KvInput("get", "b"), 2, "y", 3),
    ]
    assert check_operations(kv_model, ok) is CheckResult.OK
    bad = [*ok, Operation(2, KvInput("get", "b"), 4, "x", 5)]
    assert check_operations(kv_model, bad) is CheckResult.ILLEGAL


def test_model_without_optional_methods() -> None:
    class Counter:
        def init(self) -> int:
            return 0

        def step(self, state: int, input: str, output: int | None) -> tuple[bool, int]:
            if input == "inc":
                return True, state + 1
            return output == state, state

    history = [
        Operation(0, "inc", 0, None, 10),
        Operation(1, "inc", 0, None, 10),
        Operation(2, "get", 5, 1, 6),
        Operation(2, "get", 11, 2, 12),
    ]
    assert check_operations(Counter(), history) is CheckResult.OK
    history.append(Operation(3, "get", 13, 1, 14))
    assert check_operations(Counter(), history) is CheckResult.ILLEGAL


def test_events_api_matches_operations() -> None:
    history = [
        op(0, "write", 1, 0, None, 10),
        op(1, "read", None, 5, 1, 30),
        op(2, "read", None, 40, UNKNOWN, PENDING),
    ]
    events = events_from_operations(history)
    assert [e.kind for e in events] == [
        EventKind.CALL,
        EventKind.CALL,
        EventKind.RETURN,
        EventKind.RETURN,
        EventKind.CALL,
        EventKind.RETURN,
    ]
    assert check_events(register_model, events) is CheckResult.OK
    back = operations_from_events(events)
    assert [(o.input, o.output) for o in back] == [(o.input, o.output) for o in history]
    # A call with no return is pending.
    events = [
        Event(EventKind.CALL, 0, W, 0),
        Event(EventKind.CALL, 1, RegisterInput("read"), 1),
        Event(EventKind.RETURN, 1, 1, 1),
    ]
    assert operations_from_events(events)[0].pending
    assert check_events(register_model, events) is CheckResult.OK
    result, info = check_events_verbose(register_model, events)
    assert result is CheckResult.OK and len(info.partitions) == 1


def test_verbose_keeps_longest_partial_for_each_operation() -> None:
    history = [
        op(0, "write", 1, 0, None, 10),
        op(1, "write", 2, 0, None, 10),
        op(2, "read", None, 20, 1, 30),
        op(3, "read", None, 40, 2, 50),  # needs the value the read above ruled out
    ]
    result, info = check_operations_verbose(register_model, history)
    assert result is CheckResult.ILLEGAL
    (part,) = info.partitions
    assert part.result is CheckResult.ILLEGAL
    longest = part.partial_linearizations()[0]
    assert longest == (1, 0, 2)  # write 2, write 1, read 1: then read 2 is impossible
    assert part.longest[3] is None  # the last read never fits
    assert info.partial_linearizations() == [part.partial_linearizations()]


def _pathological(n: int) -> list[Operation]:
    """n overlapping appends then a get no order can explain: the search must try every
    order (each gives a different string), which takes far too long."""
    ops = [Operation(i, KvInput("append", "k", f"<{i}>"), 0, None, 100) for i in range(n)]
    return [*ops, Operation(n, KvInput("get", "k"), 200, "impossible", 210)]


def test_timeout_zero_gives_unknown() -> None:
    assert check_operations(kv_model, _pathological(12), timeout_s=0) is CheckResult.UNKNOWN


def test_tiny_timeout_stops_a_hard_search_quickly() -> None:
    start = time.monotonic()
    result = check_operations(kv_model, _pathological(30), timeout_s=0.2)
    assert result is CheckResult.UNKNOWN
    assert time.monotonic() - start < 5
    result, info = check_operations_verbose(kv_model, _pathological(30), timeout_s=0.2)
    assert result is CheckResult.UNKNOWN
    assert info.partitions[0].result is CheckResult.UNKNOWN


def test_violation_in_an_easy_partition_beats_a_hard_one() -> None:
    hard = _pathological(30)[:-1]  # linearizable, but a long search if misled
    hard.append(Operation(99, KvInput("get", "k"), 200, "impossible", 210))
    easy = [
        Operation(50, KvInput("put", "e", "v"), 0, None, 1),
        Operation(50, KvInput("get", "e"), 2, "w", 3),
    ]
    assert check_operations(kv_model, hard + easy, timeout_s=30) is CheckResult.ILLEGAL


def test_bad_times_are_rejected() -> None:
    with pytest.raises(ValueError):
        check_operations(register_model, [op(0, "read", None, 5, None, 4)])


def test_base_model_defaults() -> None:
    model = Model()
    with pytest.raises(NotImplementedError):
        model.init()
    assert model.partition([]) == [[]]
    assert model.describe_state(3) == "3"


def test_a_long_history_is_checked_in_memory_that_grows_with_it() -> None:
    """40,000 overlapping appends and reads on one key. A cache key holding a bitset of
    every operation made the search's memory quadratic: ~200 MB here, over 11 GB for a
    745,000-call run of `python -m sentinel.cluster load`."""
    import tracemalloc

    n, ops, value = 40_000, [], ""
    for i in range(n):
        if i % 2:
            ops.append(Operation(i % 3, KvInput("get", "k"), 10 * i, value, 10 * i + 15))
        else:
            value += "x" if i % 4 else "y"
            value = value[-8:]  # a short value: the bitsets, not the states, should cost
            ops.append(Operation(i % 3, KvInput("put", "k", value), 10 * i, None, 10 * i + 15))
    tracemalloc.start()
    try:
        assert check_operations(kv_model, ops) is CheckResult.OK
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * 1024 * 1024, f"the check took {peak / 2**20:.0f} MiB at its peak"
