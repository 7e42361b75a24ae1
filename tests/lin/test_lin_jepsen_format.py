"""Jepsen register logs: every line kind, pairing, and malformed input."""

from __future__ import annotations

import pytest

from sentinel.lin import (
    PENDING,
    UNKNOWN,
    CheckResult,
    HistoryError,
    RegisterInput,
    check_operations,
    parse_history,
    read_jepsen_history,
    register_model,
)


def log(*events: str) -> str:
    """Jepsen log text from 'process type f value' shorthand."""
    lines = []
    for event in events:
        process, kind, f, value = event.split(" ", 3)
        lines.append(f"INFO  jepsen.util - {process}\t:{kind}\t:{f}\t{value}")
    return "\n".join(lines) + "\n"


def test_every_line_kind_is_understood() -> None:
    text = log(
        "0 invoke read nil",  # 1
        "0 ok read nil",  # 2  read saw the empty register
        "1 invoke write 4",  # 3
        "1 ok write 4",  # 4
        "2 invoke cas [4 7]",  # 5
        "2 ok cas [4 7]",  # 6  applied
        "3 invoke cas [1 2]",  # 7
        "3 fail cas [1 2]",  # 8  did not apply
        "4 invoke read nil",  # 9
        "4 fail read :timed-out",  # 10 completed, result unknown
        "5 invoke write 9",  # 11
        "5 info write :timed-out",  # 12 may or may not have happened
        "6 invoke cas [7 8]",  # 13
        "6 info cas :timed-out",  # 14
        "7 invoke read nil",  # 15
        "7 info read :timed-out",  # 16
        "8 invoke write 1",  # 17
        "8 fail write 1",  # 18 certainly did not happen: dropped
        "9 invoke read nil",  # 19
        "9 ok read 7",  # 20
        "10 invoke write 3",  # 21 never completed: open to the end
    )
    ops = read_jepsen_history(text, "t.log")
    got = [(op.client_id, op.input, op.output, op.call_time, op.return_time) for op in ops]
    assert got == [
        (0, RegisterInput("read"), None, 1, 2),
        (1, RegisterInput("write", 4), None, 3, 4),
        (2, RegisterInput("cas", (4, 7)), True, 5, 6),
        (3, RegisterInput("cas", (1, 2)), False, 7, 8),
        (4, RegisterInput("read"), UNKNOWN, 9, 10),
        (5, RegisterInput("write", 9), UNKNOWN, 11, PENDING),
        (6, RegisterInput("cas", (7, 8)), UNKNOWN, 13, PENDING),
        (7, RegisterInput("read"), UNKNOWN, 15, PENDING),
        (9, RegisterInput("read"), 7, 19, 20),
        (10, RegisterInput("write", 3), UNKNOWN, 21, PENDING),
    ]
    assert check_operations(register_model, ops) is CheckResult.OK


def test_info_write_may_or_may_not_have_happened() -> None:
    base = ["3 invoke write 4", "3 info write :timed-out", "1 invoke write 2", "1 ok write 2"]
    took_effect = read_jepsen_history(log(*base, "2 invoke read nil", "2 ok read 4"))
    no_effect = read_jepsen_history(log(*base, "2 invoke read nil", "2 ok read 2"))
    assert check_operations(register_model, took_effect) is CheckResult.OK
    assert check_operations(register_model, no_effect) is CheckResult.OK
    never_written = read_jepsen_history(log(*base, "2 invoke read nil", "2 ok read 5"))
    assert check_operations(register_model, never_written) is CheckResult.ILLEGAL


def test_failed_cas_means_it_did_not_apply() -> None:
    # The register holds 1, so a cas from 1 cannot have failed.
    text = log("0 invoke write 1", "0 ok write 1", "1 invoke cas [1 2]", "1 fail cas [1 2]")
    assert check_operations(register_model, read_jepsen_history(text)) is CheckResult.ILLEGAL
    text = log("0 invoke write 1", "0 ok write 1", "1 invoke cas [3 2]", "1 fail cas [3 2]")
    assert check_operations(register_model, read_jepsen_history(text)) is CheckResult.OK


def test_nil_read_after_a_write_is_a_violation() -> None:
    text = log("0 invoke write 1", "0 ok write 1", "1 invoke read nil", "1 ok read nil")
    assert check_operations(register_model, read_jepsen_history(text)) is CheckResult.ILLEGAL


def test_failed_write_is_dropped() -> None:
    text = log("0 invoke write 1", "0 fail write 1", "1 invoke read nil", "1 ok read nil")
    ops = read_jepsen_history(text)
    assert len(ops) == 1
    assert check_operations(register_model, ops) is CheckResult.OK


def test_other_lines_and_the_nemesis_are_skipped() -> None:
    text = (
        "2017-01-01 12:00:00,000{GMT}\tINFO  [jepsen worker 0] jepsen.core - starting\n"
        "\n"
        + log("0 invoke write 1")
        + "INFO  jepsen.util - :nemesis\t:info\t:start\tnil\n"
        + "   at clojure.lang.AFn.run(AFn.java:22)\n"
        + log("0 ok write 1")
    )
    ops = parse_history(text, "mixed.log").operations
    assert [(op.call_time, op.return_time) for op in ops] == [(3, 6)]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (log("0 invoke read nil", "0 ok read banana"), 2, "bad value"),
        (log("0 invoke write nil"), 1, "integer"),
        (log("0 invoke cas 3"), 1, "[from to]"),
        (log("0 invoke read nil", "0 ok write 1"), 2, "does not match"),
        (log("0 ok read 1"), 1, "no open invoke"),
        (log("0 invoke read nil", "0 invoke read nil"), 2, "still open"),
        (log("0 invoke frobnicate nil"), 1, "unknown operation"),
        (log("0 explode read nil"), 1, "unknown type"),
        (log("0 invoke write 1", "0 ok write :timed-out"), 2, ":timed-out"),
        (log("0 invoke read nil") + "INFO  jepsen.util - oops\n", 2, "malformed"),
    ],
)
def test_malformed_lines_name_file_and_line(text: str, line: int, words: str) -> None:
    with pytest.raises(HistoryError) as caught:
        read_jepsen_history(text, "bad.log")
    assert caught.value.line == line
    assert caught.value.path == "bad.log"
    assert f"bad.log:{line}:" in str(caught.value)
    assert words in str(caught.value)
