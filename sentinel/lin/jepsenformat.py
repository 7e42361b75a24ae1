"""Jepsen register logs (Knossos / porcupine ``test_data/jepsen``).

Each event is a log line ``INFO  jepsen.util - <process>\\t:<type>\\t:<f>\\t<value>``
with type invoke/ok/fail/info, f read/write/cas and value ``nil``, an
integer, ``[from to]`` or ``:timed-out``.

* ``ok`` completes the process's open operation.
* ``fail`` on a cas completes it as "did not apply"; on a read it completes
  it with an unknown result; on a write it certainly did not happen (dropped).
* ``info`` leaves the outcome unknown: the operation stays open to the end.
* an invoke never completed is treated like ``info``.

Like porcupine's parser, lines that are not ``jepsen.util`` event lines
(other loggers, stack traces, blank lines) are skipped, and so are events of
the non-numeric ``:nemesis`` process.  A ``jepsen.util`` line that does not
parse, or that breaks the pairing rules, raises :class:`HistoryError`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import IO, Any

from sentinel.lin.history import PENDING, UNKNOWN, HistoryError, Operation
from sentinel.lin.models import RegisterInput

log = logging.getLogger(__name__)

_EVENT = re.compile(
    r"^\s*(?:\S+\s+)*?\w+\s+jepsen\.util\s+-\s+(?P<process>\S+)\s+:(?P<type>[\w-]+)"
    r"\s+:(?P<f>[\w-]+)\s+(?P<value>.*?)\s*$"
)
_INT = re.compile(r"-?\d+")
_PAIR = re.compile(r"\[\s*(-?\d+)\s*,?\s+(-?\d+)\s*\]")
TIMED_OUT = ":timed-out"
MARKER = "jepsen.util"


def _parse_value(text: str, path: str | None, lineno: int) -> Any:
    """``nil`` -> None, integer -> int, ``[a b]`` -> (a, b), ``:timed-out`` -> TIMED_OUT."""
    if text == "nil":
        return None
    if text == TIMED_OUT:
        return TIMED_OUT
    if _INT.fullmatch(text):
        return int(text)
    pair = _PAIR.fullmatch(text)
    if pair:
        return int(pair[1]), int(pair[2])
    raise HistoryError(
        f"bad value {text!r} (want nil, an integer, [from to] or :timed-out)", path, lineno
    )


def _invoke_input(f: str, value: Any, path: str | None, lineno: int) -> RegisterInput:
    if f == "read":
        if value is not None:
            raise HistoryError(f":invoke :read takes nil, not {value!r}", path, lineno)
        return RegisterInput("read")
    if f == "write":
        if not isinstance(value, int):
            raise HistoryError(f":invoke :write needs an integer, not {value!r}", path, lineno)
        return RegisterInput("write", value)
    if not isinstance(value, tuple):
        raise HistoryError(f":invoke :cas needs [from to], not {value!r}", path, lineno)
    return RegisterInput("cas", value)


def _ok_output(f: str, value: Any, path: str | None, lineno: int) -> Any:
    if value == TIMED_OUT:
        raise HistoryError(":ok with :timed-out value", path, lineno)
    if f == "read":
        if value is not None and not isinstance(value, int):
            raise HistoryError(f":ok :read returns nil or an integer, not {value!r}", path, lineno)
        return value
    if f == "cas":
        return True
    return None


def read_jepsen_history(source: str | IO[str], path: str | None = None) -> list[Operation]:
    """Read a Jepsen register log from text or an open file into register operations."""
    lines: Iterable[str] = source.split("\n") if isinstance(source, str) else source
    open_calls: dict[int, tuple[int, RegisterInput]] = {}
    started: list[tuple[int, int, RegisterInput]] = []
    finished: dict[int, Operation | None] = {}  # call line -> op, None when dropped
    for lineno, line in enumerate(lines, start=1):
        if MARKER not in line:
            if line.strip():
                log.debug("%s:%d: skipping non-event line", path, lineno)
            continue
        m = _EVENT.match(line)
        if m is None:
            raise HistoryError(f"malformed jepsen.util line: {line.strip()[:80]!r}", path, lineno)
        raw_process, kind, f = m["process"], m["type"], m["f"]
        if not _INT.fullmatch(raw_process):
            if raw_process.startswith(":"):  # :nemesis and friends are not clients
                continue
            raise HistoryError(f"bad process {raw_process!r}", path, lineno)
        process = int(raw_process)
        if kind not in ("invoke", "ok", "fail", "info"):
            raise HistoryError(f"unknown type :{kind}", path, lineno)
        if f not in ("read", "write", "cas"):
            raise HistoryError(f"unknown operation :{f}", path, lineno)
        value = _parse_value(m["value"], path, lineno)
        if kind == "invoke":
            if process in open_calls:
                raise HistoryError(
                    f"process {process} invokes again while its call on line "
                    f"{open_calls[process][0]} is still open",
                    path,
                    lineno,
                )
            op_input = _invoke_input(f, value, path, lineno)
            open_calls[process] = (lineno, op_input)
            started.append((lineno, process, op_input))
            continue
        if process not in open_calls:
            raise HistoryError(f":{kind} for process {process} with no open invoke", path, lineno)
        call_line, op_input = open_calls.pop(process)
        if op_input.f != f:
            raise HistoryError(
                f":{kind} :{f} does not match :invoke :{op_input.f} on line {call_line}",
                path,
                lineno,
            )
        if kind == "ok":
            output = _ok_output(f, value, path, lineno)
            finished[call_line] = Operation(process, op_input, call_line, output, lineno)
        elif kind == "info":
            finished[call_line] = Operation(process, op_input, call_line, UNKNOWN, PENDING)
        elif f == "cas":
            finished[call_line] = Operation(process, op_input, call_line, False, lineno)
        elif f == "read":
            finished[call_line] = Operation(process, op_input, call_line, UNKNOWN, lineno)
        else:
            finished[call_line] = None
    ops: list[Operation] = []
    for call_line, process, op_input in started:
        if call_line not in finished:
            ops.append(Operation(process, op_input, call_line, UNKNOWN, PENDING))
        elif finished[call_line] is not None:
            ops.append(finished[call_line])  # type: ignore[arg-type]
    return ops
