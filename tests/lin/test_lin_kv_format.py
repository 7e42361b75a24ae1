"""The kv EDN format: reading, writing, :info/:fail, malformed input, the recorder."""

from __future__ import annotations

import io
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentinel.lin import (
    PENDING,
    UNKNOWN,
    CheckResult,
    HistoryError,
    HistoryRecorder,
    KvInput,
    Operation,
    check_operations,
    detect_format,
    kv_model,
    load_history,
    read_kv_history,
    write_kv_history,
)


def line(process: int, kind: str, f: str, key: str, value: str) -> str:
    return f'{{:process {process}, :type :{kind}, :f :{f}, :key "{key}", :value {value}}}'


def test_pairs_by_process_and_uses_line_numbers_as_times() -> None:
    text = "\n".join(
        [
            line(0, "invoke", "put", "k", '"a"'),
            line(1, "invoke", "get", "k", "nil"),
            line(0, "ok", "put", "k", '"a"'),
            line(1, "ok", "get", "k", '"a"'),
        ]
    )
    ops = read_kv_history(text)
    assert ops == [
        Operation(0, KvInput("put", "k", "a"), 1, None, 3),
        Operation(1, KvInput("get", "k", None), 2, "a", 4),
    ]


def test_info_stays_open_and_fail_is_dropped() -> None:
    text = "\n".join(
        [
            line(0, "invoke", "append", "k", '"x"'),
            line(0, "info", "append", "k", ":timed-out"),
            line(1, "invoke", "append", "k", '"y"'),
            line(1, "fail", "append", "k", ":timed-out"),
            line(2, "invoke", "get", "k", "nil"),
            line(2, "info", "get", "k", ":timed-out"),
            line(3, "invoke", "get", "k", "nil"),
            line(3, "ok", "get", "k", '"x"'),
        ]
    )
    ops = read_kv_history(text)
    assert [(op.client_id, op.output, op.return_time) for op in ops] == [
        (0, UNKNOWN, PENDING),
        (2, UNKNOWN, PENDING),
        (3, "x", 8),
    ]
    assert check_operations(kv_model, ops) is CheckResult.OK
    # The failed append of "y" certainly did not happen.
    bad = text.replace(line(3, "ok", "get", "k", '"x"'), line(3, "ok", "get", "k", '"xy"'))
    assert check_operations(kv_model, read_kv_history(bad)) is CheckResult.ILLEGAL


def test_unknown_get_constrains_nothing_and_delete_resets() -> None:
    ops = [
        Operation(0, KvInput("put", "k", "v"), 0, None, 1),
        Operation(1, KvInput("get", "k"), 2, UNKNOWN, PENDING),
        Operation(0, KvInput("delete", "k"), 3, None, 4),
        Operation(0, KvInput("get", "k"), 5, "", 6),
    ]
    assert check_operations(kv_model, ops) is CheckResult.OK


@pytest.mark.parametrize(
    ("lines", "bad_line", "words"),
    [
        (["{:process 0, :type :invoke}"], 1, "not a kv history line"),
        ([line(0, "invoke", "get", "k", "nil"), "garbage"], 2, "not a kv history line"),
        ([line(0, "ok", "get", "k", '"a"')], 1, "no open invoke"),
        (
            [line(0, "invoke", "get", "k", "nil"), line(0, "invoke", "get", "k", "nil")],
            2,
            "still open",
        ),
        (
            [line(0, "invoke", "get", "k", "nil"), line(0, "ok", "put", "k", '"a"')],
            2,
            "does not match",
        ),
        ([line(0, "invoke", "put", "k", "nil")], 1, "needs a string"),
        ([line(0, "invoke", "cas", "k", "nil")], 1, "unknown :f"),
        ([line(0, "started", "get", "k", "nil")], 1, "unknown :type"),
        (
            [line(0, "invoke", "get", "k", "nil"), line(0, "ok", "get", "k", ":timed-out")],
            2,
            ":timed-out",
        ),
    ],
)
def test_malformed_input_names_the_line(lines: list[str], bad_line: int, words: str) -> None:
    with pytest.raises(HistoryError) as caught:
        read_kv_history("\n".join(lines), "h.txt")
    assert (caught.value.path, caught.value.line) == ("h.txt", bad_line)
    assert words in str(caught.value)


def test_unrecognised_format_and_missing_file(tmp_path) -> None:
    with pytest.raises(HistoryError, match="unrecognised"):
        detect_format("hello world\n", "x")
    with pytest.raises(HistoryError, match="cannot read"):
        load_history(tmp_path / "missing.txt")


kv_values = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6)


@st.composite
def kv_operations(draw: st.DrawFn) -> list[Operation]:
    ops = []
    for t in range(draw(st.integers(0, 12))):
        f = draw(st.sampled_from(["get", "put", "append", "delete"]))
        key = draw(st.sampled_from(["a", "b c", 'q"uote', "back\\slash"]))
        value = draw(kv_values) if f in ("put", "append") else None
        pending = draw(st.booleans()) and draw(st.booleans())
        call = 10 * t
        if pending:
            ops.append(Operation(t, KvInput(f, key, value), call, UNKNOWN, PENDING))
        else:
            out = draw(kv_values) if f == "get" else None
            ret = call + draw(st.integers(0, 25))
            ops.append(Operation(t, KvInput(f, key, value), call, out, ret))
    return ops


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kv_operations())
def test_written_histories_read_back_the_same(ops: list[Operation]) -> None:
    buf = io.StringIO()
    write_kv_history(ops, buf)
    back = read_kv_history(buf.getvalue())
    # Times become line numbers; what must survive is each operation and the
    # real-time order between every pair of them.
    assert sorted(map(repr, (o.input for o in back))) == sorted(map(repr, (o.input for o in ops)))

    def key(o: Operation) -> tuple:
        return (o.client_id, o.input, repr(o.output), o.pending)

    assert sorted(map(key, back)) == sorted(map(key, ops))
    by_key = {key(o): o for o in back}
    for a in ops:
        for b in ops:
            if a is not b and key(a) != key(b):
                ra, rb = by_key[key(a)], by_key[key(b)]
                assert (a.return_time < b.call_time) == (ra.return_time < rb.call_time)
    assert check_operations(kv_model, back) is check_operations(kv_model, ops)


def test_recorder_threads_and_file_round_trip(tmp_path) -> None:
    rec = HistoryRecorder()
    store: dict[str, str] = {}
    lock = threading.Lock()

    def client(cid: int) -> None:
        for n in range(30):
            key = str(n % 3)
            token = rec.invoke(cid, "append", key, f"<{cid}.{n}>")
            with lock:
                store[key] = store.get(key, "") + f"<{cid}.{n}>"
            rec.ok(token)
            token = rec.invoke(cid, "get", key)
            with lock:
                value = store.get(key, "")
            rec.ok(token, value)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    history = rec.history()
    assert len(history) == 6 * 30 * 2
    assert check_operations(kv_model, history) is CheckResult.OK
    path = tmp_path / "rec.txt"
    rec.write(str(path))
    loaded = load_history(path)
    assert loaded.format == "kv"
    assert len(loaded.operations) == len(history)
    assert check_operations(kv_model, loaded.operations) is CheckResult.OK


def test_recorder_info_fail_and_fresh_process_ids(tmp_path) -> None:
    rec = HistoryRecorder()
    t1 = rec.invoke(7, "put", "k", "v")
    rec.info(t1)  # may or may not have happened
    t2 = rec.invoke(7, "append", "k", "w")
    rec.fail(t2)  # certainly did not happen
    t3 = rec.invoke(7, "get", "k")
    rec.ok(t3, "v")
    with pytest.raises(ValueError):
        rec.ok(t3, "v")
    t4 = rec.invoke(8, "get", "k")
    with pytest.raises(ValueError, match="in flight"):
        rec.invoke(8, "get", "k")
    rec.ok(t4, "vw")  # would need the failed append
    history = rec.history()
    assert [op.pending for op in history] == [True, False, False]
    processes = [op.client_id for op in history]
    assert processes[0] == 7 and processes[1] != 7  # a new id after :info
    assert check_operations(kv_model, history) is CheckResult.ILLEGAL
    path = tmp_path / "r.txt"
    rec.write(str(path))
    text = path.read_text()
    assert ":type :info" in text and ":type :fail" in text and ":timed-out" in text
    assert check_operations(kv_model, load_history(path).operations) is CheckResult.ILLEGAL
