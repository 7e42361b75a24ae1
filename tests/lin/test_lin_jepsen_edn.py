"""Jepsen EDN histories: the reader, the hand-written files of tests/data/jepsen, the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sentinel.lin import (
    UNKNOWN,
    CheckResult,
    HistoryError,
    HistoryRecorder,
    Keyword,
    check_operations,
    check_operations_verbose,
    detect_format,
    edn_str,
    load_history,
    make_model,
    parse_history,
    read_edn,
    render_html,
)

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "jepsen"

# file, model it is guessed to be, --initial, verdict
FILES = [
    ("register.edn", "register", None, CheckResult.OK),
    ("cas-register.edn", "cas-register", 0, CheckResult.OK),
    ("cas-register-bad.edn", "cas-register", 0, CheckResult.ILLEGAL),
    ("multi-register.edn", "multi-register", {Keyword("x"): 0, Keyword("y"): 0}, CheckResult.OK),
    ("mutex.edn", "mutex", None, CheckResult.OK),
]


@pytest.mark.parametrize(("name", "model_name", "initial", "verdict"), FILES)
def test_each_model_file_is_read_and_judged(
    name: str, model_name: str, initial: object, verdict: CheckResult
) -> None:
    loaded = load_history(DATA / name)
    assert (loaded.format, loaded.model_name) == ("jepsen-edn", model_name)
    model = make_model(model_name, initial)
    assert check_operations(model, loaded.operations, timeout_s=30) is verdict


def test_nemesis_ops_are_skipped_and_info_stays_open() -> None:
    ops = load_history(DATA / "register.edn").operations
    assert len(ops) == 5 and {op.client_id for op in ops} == {0, 1, 2, 3}
    (crashed,) = [op for op in ops if op.client_id == 1]
    assert crashed.pending and crashed.output is UNKNOWN


def test_without_the_initial_value_the_cas_file_is_not_linearizable() -> None:
    ops = load_history(DATA / "cas-register.edn").operations
    assert check_operations(make_model("cas-register"), ops) is CheckResult.ILLEGAL


def test_edn_values() -> None:
    text = '[1 -2 3N 1.5 "a\\"b" :k/x nil true #{1} (1 2) {:a [1 {:b 2}]} #_ 9 #inst "t" \\c]'
    (vector,) = read_edn(text).forms
    assert vector[:6] == (1, -2, 3, 1.5, 'a"b', Keyword("k/x"))
    assert vector[6:] == (
        None,
        True,
        frozenset({1}),
        (1, 2),
        {Keyword("a"): (1, {Keyword("b"): 2})},
        "t",
        "c",
    )
    assert Keyword("a") != "a" and edn_str(vector) == (
        '[1 -2 3 1.5 "a\\"b" :k/x nil true #{1} [1 2] {:a [1 {:b 2}]} "t" "c"]'
    )


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        ("[{:process 0 :type :invoke :f :read}\n {:process 0\n", 3, "opened on line 2"),
        ("{:process 0, :type :invoke, :f :read :value nil]\n", 1, "expected '}'"),
        (
            "{:process 0 :type :invoke :f :read :value nil}\n"
            "{:process 0 :type :ok :f :read :value 1x}",
            2,
            "1x",
        ),
        ('{:process 0 :type :invoke :f :read :value "open}\n\n', 1, "closing '\"'"),
        (
            "{:process 0 :type :invoke :f :read :value nil}\n\n{:process 1 :type :ok :f :read}",
            3,
            ":invoke before",
        ),
        ("[{:process 0 :type :begin :f :read}]", 1, ":type :invoke, :ok"),
        ("[{:process 0 :type :invoke :f :read :time 1.5}]", 1, "integer :time"),
        (
            "{:process 0 :type :invoke :f :read}\n{:process 0 :type :ok :f :read :index true}",
            2,
            "integer :index",
        ),
        ("{:process 0 :type {:a 1} :f :read}", 1, ":type :invoke, :ok"),
        ("{:process 0 :type :invoke :f [{:a 1}]}", 1, "expected a keyword :f"),
        ('{:process 0 :type :invoke :f "read"}', 1, "expected a keyword :f"),
        ("[1 2]", 1, "expected an op map"),
        ("{:process 0 :type :invoke :f :cas :value 3}", 1, "expected [old new] as the :value"),
    ],
)
def test_malformed_files_name_the_line_and_what_was_expected(
    text: str, line: int, expected: str
) -> None:
    with pytest.raises(HistoryError) as err:
        parse_history(text, "h.edn", model_name="cas-register" if ":cas" in text else None)
    assert err.value.line == line and expected in err.value.message


def test_format_chosen_by_content() -> None:
    kv = '{:process 0, :type :invoke, :f :get, :key "k", :value nil}\n'
    assert detect_format(kv) == "kv"
    assert detect_format("; c\n\n  {:process 0,\n :type :invoke}") == "jepsen-edn"
    assert detect_format("[{:process 0}]") == "jepsen-edn"
    assert detect_format("INFO  jepsen.util - 0\t:invoke\t:read\tnil") == "jepsen-log"
    assert parse_history(kv, fmt="jepsen-edn").model_name == "kv"


def test_independent_keys_are_checked_apart() -> None:
    text = "\n".join(
        f"{{:process {p}, :type :{t}, :f :{f}, :value [{k} {v}]}}"
        for p, t, f, k, v in [
            (0, "invoke", "write", 1, 5),
            (0, "ok", "write", 1, 5),
            (1, "invoke", "cas", 2, "[nil 3]"),
            (1, "ok", "cas", 2, "[nil 3]"),
            (2, "invoke", "read", 1, "nil"),
            (2, "ok", "read", 1, 5),
            (2, "invoke", "read", 2, "nil"),
            (2, "ok", "read", 2, 3),
        ]
    )
    loaded = parse_history(text)
    assert loaded.model_name == "cas-register"
    result, info = check_operations_verbose(make_model("cas-register"), loaded.operations)
    assert result is CheckResult.OK and len(info.partitions) == 2
    bad = text.replace("[2 3]}", "[2 5]}")
    assert (
        check_operations(make_model("cas-register"), parse_history(bad).operations)
        is CheckResult.ILLEGAL
    )


def test_a_crash_completion_ends_the_pending_op_whatever_its_f() -> None:
    text = (
        "{:process 0 :type :invoke :f :write :value 1}\n"
        "{:process 0 :type :info :f :crash :value nil}\n"
        "{:process 0 :type :invoke :f :read :value nil}\n"
        "{:process 0 :type :ok :f :read :value 1}\n"
    )
    ops = parse_history(text).operations
    assert [op.pending for op in ops] == [True, False]
    assert check_operations(make_model("register"), ops) is CheckResult.OK


def test_recorder_jepsen_history_reads_back_as_recorded(tmp_path: Path) -> None:
    rec = HistoryRecorder()
    rec.ok(rec.invoke(0, "put", 'k"1', "a\nb"))
    rec.ok(rec.invoke(1, "get", 'k"1'), "a\nb")
    rec.info(rec.invoke(2, "append", "k2", "x"))
    rec.fail(rec.invoke(3, "delete", "k2"))
    rec.ok(rec.invoke(3, "get", "k2"), ":timed-out")
    in_flight = rec.invoke(4, "get", "k2")
    path = tmp_path / "h.edn"
    rec.write(str(path), "jepsen")
    loaded = load_history(path)
    assert loaded.model_name == "kv"

    def shape(ops: list) -> list:
        return sorted((op.input, repr(op.output), op.pending) for op in ops)

    assert shape(loaded.operations) == shape(rec.history())
    rec.ok(in_flight, "")
    with pytest.raises(ValueError, match="unknown history format"):
        rec.write(str(path), "xml")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sentinel.lin", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_checks_each_model_file() -> None:
    for name, model_name, initial, verdict in FILES:
        extra = [] if initial is None else ["--initial", edn_str(initial)]
        proc = run_cli("check", str(DATA / name), *extra)
        assert proc.returncode == (0 if verdict is CheckResult.OK else 1), proc.stderr
        assert f"\t{verdict.value}\t" in proc.stdout and f"model {model_name}" in proc.stdout


def test_cli_pictures_where_a_cas_register_history_breaks(tmp_path: Path) -> None:
    out = tmp_path / "bad.html"
    proc = run_cli(
        "check", str(DATA / "cas-register-bad.edn"), "--initial", "0", "--html", str(out)
    )
    assert proc.returncode == 1
    text = out.read_text()
    assert "breaks here: in state 1" in text and "read 0" in text and "cas [0 1]" in text


def test_cli_model_format_and_initial_errors_exit_3() -> None:
    mutex = str(DATA / "mutex.edn")
    proc = run_cli("check", mutex, "--model", "etcd-register")
    assert proc.returncode == 3 and "--model kv or register" in proc.stderr
    proc = run_cli("check", mutex, "--format", "kv")
    assert proc.returncode == 3 and f"{mutex}:3: not a kv history line" in proc.stderr
    proc = run_cli("check", mutex, "--initial", "{:x")
    assert proc.returncode == 3 and "--initial" in proc.stderr


def test_mutex_picture_shows_the_holder() -> None:
    text = (
        "{:process 0 :type :invoke :f :acquire}\n{:process 0 :type :ok :f :acquire}\n"
        "{:process 1 :type :invoke :f :acquire}\n{:process 1 :type :ok :f :acquire}\n"
    )
    model = make_model("mutex")
    result, info = check_operations_verbose(model, parse_history(text).operations)
    assert result is CheckResult.ILLEGAL
    assert "held by process 0" in render_html(info)
