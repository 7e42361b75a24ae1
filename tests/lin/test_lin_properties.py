"""Property tests: histories cut from a real sequential run are linearizable, and a
read no interleaving can explain makes them illegal (kv and register models)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sentinel.lin import (
    PENDING,
    UNKNOWN,
    CheckResult,
    KvInput,
    Operation,
    RegisterInput,
    check_operations,
    kv_model,
    register_model,
)

# No deadline and no too-slow check: a loaded CI machine must not make these flaky.
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FAST_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
SPACING = 10  # distance between linearisation points; intervals reach up to 3x that


def _interval(draw: st.DrawFn, point: int) -> tuple[int, int]:
    return point - draw(st.integers(0, 3 * SPACING)), point + draw(st.integers(0, 3 * SPACING))


@st.composite
def kv_runs(draw: st.DrawFn) -> list[Operation]:
    """Operations applied one by one to a real dict; each interval contains its
    operation's moment, so that order is a linearisation.  Some calls time out
    (pending) whether or not they took effect."""
    store: dict[str, str] = {}
    ops = []
    for n in range(draw(st.integers(1, 24))):
        point = SPACING * (n + 1)
        f = draw(st.sampled_from(["get", "get", "put", "append", "append", "delete"]))
        key = draw(st.sampled_from(["a", "b"]))
        value = draw(st.text(alphabet="xyz012", min_size=1, max_size=3))
        call, ret = _interval(draw, point)
        client = draw(st.integers(0, 5))
        if draw(st.integers(0, 9)) == 0:  # timed out ...
            kv_input = KvInput(f, key, value if f in ("put", "append") else None)
            if draw(st.booleans()):  # ... and never happened
                ops.append(Operation(client, kv_input, call, UNKNOWN, PENDING))
                continue
            ret, timed_out = PENDING, True
        else:
            timed_out = False
        current = store.get(key, "")
        if f == "get":
            ops.append(
                Operation(client, KvInput("get", key), call, UNKNOWN if timed_out else current, ret)
            )
            continue
        store[key] = {"put": value, "append": current + value, "delete": ""}[f]
        kv_value = value if f in ("put", "append") else None
        ops.append(
            Operation(client, KvInput(f, key, kv_value), call, UNKNOWN if timed_out else None, ret)
        )
    return ops


@st.composite
def register_runs(draw: st.DrawFn) -> list[Operation]:
    """Like kv_runs, for one register with read / write / cas."""
    state: int | None = None
    ops = []
    for n in range(draw(st.integers(1, 24))):
        point = SPACING * (n + 1)
        f = draw(st.sampled_from(["read", "read", "write", "cas", "cas"]))
        call, ret = _interval(draw, point)
        client = draw(st.integers(0, 5))
        if f == "read":
            reg_input, output = RegisterInput("read"), state
        elif f == "write":
            value = draw(st.integers(0, 4))
            reg_input, output, state = RegisterInput("write", value), None, value
        else:
            expected, new = draw(st.integers(0, 4)), draw(st.integers(0, 4))
            reg_input, output = RegisterInput("cas", (expected, new)), state == expected
            if output:
                state = new
        if draw(st.integers(0, 9)) == 0:  # timed out: the outcome is unknown
            ops.append(Operation(client, reg_input, call, UNKNOWN, PENDING))
        else:
            ops.append(Operation(client, reg_input, call, output, ret))
    return ops


def _completed_reads(ops: list[Operation], f: str) -> list[int]:
    return [i for i, o in enumerate(ops) if o.input.f == f and o.output is not UNKNOWN]


@SETTINGS
@given(kv_runs())
def test_kv_sequential_runs_are_linearizable(ops: list[Operation]) -> None:
    assert check_operations(kv_model, ops, timeout_s=30) is CheckResult.OK


@SETTINGS
@given(kv_runs(), st.data())
def test_kv_impossible_read_is_illegal(ops: list[Operation], data: st.DataObject) -> None:
    reads = _completed_reads(ops, "get")
    assume(reads)
    i = data.draw(st.sampled_from(reads))
    # Values only ever contain x, y, z, 0, 1, 2: no interleaving yields "#".
    ops[i] = Operation(ops[i].client_id, ops[i].input, ops[i].call_time, "#", ops[i].return_time)
    assert check_operations(kv_model, ops, timeout_s=30) is CheckResult.ILLEGAL


@SETTINGS
@given(register_runs())
def test_register_sequential_runs_are_linearizable(ops: list[Operation]) -> None:
    assert check_operations(register_model, ops, timeout_s=30) is CheckResult.OK


@SETTINGS
@given(register_runs(), st.data())
def test_register_impossible_read_is_illegal(ops: list[Operation], data: st.DataObject) -> None:
    reads = _completed_reads(ops, "read")
    assume(reads)
    i = data.draw(st.sampled_from(reads))
    # Only 0..4 are ever written.
    ops[i] = Operation(ops[i].client_id, ops[i].input, ops[i].call_time, 99, ops[i].return_time)
    assert check_operations(register_model, ops, timeout_s=30) is CheckResult.ILLEGAL


register_inputs = st.one_of(
    st.just(RegisterInput("read")),
    st.builds(RegisterInput, st.just("write"), st.integers(0, 3)),
    st.builds(RegisterInput, st.just("cas"), st.tuples(st.integers(0, 3), st.integers(0, 3))),
)
register_outputs = st.one_of(st.none(), st.integers(0, 3), st.booleans(), st.just(UNKNOWN))
kv_inputs = st.builds(
    KvInput,
    st.sampled_from(["get", "put", "append", "delete"]),
    st.just("k"),
    st.text(alphabet="ab", max_size=2),
)
kv_outputs = st.one_of(st.none(), st.just(UNKNOWN), st.text(alphabet="ab", max_size=3))


def _agrees(model: Any, state: Any, op_input: Any, output: Any) -> None:
    """The fast shapes the search inlines must say what step says; read-only ops
    must leave every state alone."""
    legal, new_state = model.step(state, op_input, output)
    shape = model.compile_operation(op_input, output)
    if shape is not None:
        kind, arg = shape
        if kind == "read":
            expected = (arg == state, state)
        elif kind == "read_any":
            expected = (True, state)
        elif kind == "set":
            expected = (True, arg)
        else:
            assert kind == "concat"
            expected = (True, state + arg)
        assert expected[0] == legal
        if legal:
            assert expected[1] == new_state
    if model.is_read_only(op_input, output) and legal:
        assert new_state == state


@FAST_SETTINGS
@given(st.one_of(st.none(), st.integers(0, 3)), register_inputs, register_outputs)
def test_register_fast_paths_agree_with_step(state: Any, op_input: Any, output: Any) -> None:
    if op_input.f == "cas" and output is None:
        output = UNKNOWN
    _agrees(register_model, state, op_input, output)


@FAST_SETTINGS
@given(st.text(alphabet="ab", max_size=3), kv_inputs, kv_outputs)
def test_kv_fast_paths_agree_with_step(state: str, op_input: KvInput, output: Any) -> None:
    if op_input.f not in ("put", "append"):
        op_input = op_input._replace(value=None)
    _agrees(kv_model, state, op_input, output)


def _brute_force(model: Any, ops: list[Operation]) -> bool:
    """Try every order that respects real time; no cache, no pruning."""

    def extend(state: Any, left: frozenset[int]) -> bool:
        if not left:
            return True
        for i in left:
            # i may go next only if no other remaining op returned before i was called
            if any(ops[j].return_time < ops[i].call_time for j in left if j != i):
                continue
            legal, new_state = model.step(state, ops[i].input, ops[i].output)
            if legal and extend(new_state, left - {i}):
                return True
        return False

    return extend(model.init(), frozenset(range(len(ops))))


@st.composite
def random_register_histories(draw: st.DrawFn) -> list[Operation]:
    """Small histories with arbitrary outputs: some linearizable, many not."""
    ops = []
    for _ in range(draw(st.integers(0, 7))):
        reg_input = draw(register_inputs)
        call = draw(st.integers(0, 40))
        if draw(st.integers(0, 5)) == 0:
            ops.append(Operation(0, reg_input, call, UNKNOWN, PENDING))
            continue
        ret = call + draw(st.integers(0, 20))
        if reg_input.f == "read":
            output = draw(st.one_of(st.none(), st.integers(0, 3)))
        elif reg_input.f == "cas":
            output = draw(st.booleans())
        else:
            output = None
        ops.append(Operation(0, reg_input, call, output, ret))
    return ops


@SETTINGS
@given(random_register_histories())
def test_register_verdict_matches_brute_force(ops: list[Operation]) -> None:
    want = CheckResult.OK if _brute_force(register_model, ops) else CheckResult.ILLEGAL
    assert check_operations(register_model, ops, timeout_s=30) is want


@st.composite
def random_kv_histories(draw: st.DrawFn) -> list[Operation]:
    ops = []
    for _ in range(draw(st.integers(0, 7))):
        f = draw(st.sampled_from(["get", "get", "put", "append", "delete"]))
        kv_input = KvInput(
            f, "k", draw(st.sampled_from(["a", "b"])) if f in ("put", "append") else None
        )
        call = draw(st.integers(0, 40))
        if draw(st.integers(0, 5)) == 0:
            ops.append(Operation(0, kv_input, call, UNKNOWN, PENDING))
            continue
        output = draw(st.sampled_from(["", "a", "b", "ab", "ba"])) if f == "get" else None
        ops.append(Operation(0, kv_input, call, output, call + draw(st.integers(0, 20))))
    return ops


@SETTINGS
@given(random_kv_histories())
def test_kv_verdict_matches_brute_force(ops: list[Operation]) -> None:
    want = CheckResult.OK if _brute_force(kv_model, ops) else CheckResult.ILLEGAL
    assert check_operations(kv_model, ops, timeout_s=30) is want
