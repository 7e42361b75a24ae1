"""The key/value EDN history format (porcupine's ``test_data/kv``, plus ``:info``/``:fail``).

One event per line, in real-time order::

    {:process 4, :type :invoke, :f :get, :key "5", :value nil}
    {:process 4, :type :ok, :f :get, :key "5", :value "x 9 1 y"}

A completion belongs to the latest invoke of the same process.  ``:info``
(value ``:timed-out``) leaves the operation open to the end of the history;
``:fail`` means it certainly did not happen, so it is dropped.  An invoke
that is never completed is treated like ``:info``.  The line number is the
time, so an operation precedes another exactly when its completion line
comes before the other's invoke line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from sentinel.lin.edn import unescape_string
from sentinel.lin.history import PENDING, UNKNOWN, HistoryError, Operation
from sentinel.lin.models import KV_FUNCTIONS, KvInput

_STRING = r'"(?:[^"\\]|\\.)*"'
_LINE = re.compile(
    r"\{\s*:process\s+(?P<process>-?\d+)\s*,?\s+:type\s+:(?P<type>[\w-]+)\s*,?"
    r"\s+:f\s+:(?P<f>[\w-]+)\s*,?\s+:key\s+(?P<key>" + _STRING + r")\s*,?"
    r"\s+:value\s+(?P<value>nil|:timed-out|" + _STRING + r")\s*\}"
)
_NEEDS_ESCAPE = re.compile(r'[\\"\x00-\x1f\x7f-\x9f\u2028\u2029]')
_SHORT = {"\n": "\\n", "\t": "\\t", "\r": "\\r", '"': '\\"', "\\": "\\\\"}
TYPES = ("invoke", "ok", "fail", "info")


@dataclass(frozen=True, slots=True)
class KvRecord:
    """One line of a kv history file."""

    process: int
    type: str
    f: str
    key: str
    value: str | None  # None is EDN nil; TIMED_OUT marks ``:timed-out``


TIMED_OUT = ":timed-out"


_unquote = unescape_string


def _quote(text: str) -> str:
    # Control and line-separator characters are escaped so one record stays one line.
    def escape(m: re.Match[str]) -> str:
        c = m.group(0)
        return _SHORT.get(c) or f"\\u{ord(c):04x}"

    return '"' + _NEEDS_ESCAPE.sub(escape, text) + '"'


def is_kv_line(line: str) -> bool:
    """True when ``line`` (stripped) is one event of the kv format."""
    return _LINE.fullmatch(line) is not None


def parse_kv_line(line: str, path: str | None = None, lineno: int | None = None) -> KvRecord:
    """Parse one non-blank line, raising :class:`HistoryError` with its location."""
    m = _LINE.fullmatch(line.strip())
    if m is None:
        raise HistoryError(f"not a kv history line: {line.strip()[:80]!r}", path, lineno)
    kind, f, raw = m["type"], m["f"], m["value"]
    if kind not in TYPES:
        raise HistoryError(f"unknown :type :{kind}", path, lineno)
    if f not in KV_FUNCTIONS:
        raise HistoryError(f"unknown :f :{f}", path, lineno)
    value = None if raw == "nil" else TIMED_OUT if raw == TIMED_OUT else _unquote(raw)
    if raw == TIMED_OUT and kind not in ("info", "fail"):
        raise HistoryError(f":timed-out on a :{kind} line", path, lineno)
    if kind == "invoke" and f in ("put", "append") and value is None:
        raise HistoryError(f":{f} invoke needs a string :value", path, lineno)
    return KvRecord(int(m["process"]), kind, f, _unquote(m["key"]), value)


def iter_kv_records(
    lines: Iterable[str], path: str | None = None
) -> Iterator[tuple[int, KvRecord]]:
    """Yield ``(line number, record)``, skipping blank lines and ``;`` comments."""
    for lineno, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith(";"):
            yield lineno, parse_kv_line(stripped, path, lineno)


def operations_from_kv_records(
    records: Iterable[tuple[int, KvRecord]], path: str | None = None
) -> list[Operation]:
    """Pair invokes with completions into operations (see the module docstring)."""
    open_calls: dict[int, tuple[int, KvRecord]] = {}
    started: list[tuple[int, KvRecord]] = []
    finished: dict[int, Operation | None] = {}  # call line -> op (None: failed)
    for lineno, rec in records:
        if rec.type == "invoke":
            if rec.process in open_calls:
                earlier = open_calls[rec.process][0]
                raise HistoryError(
                    f"process {rec.process} invokes again while its call on line "
                    f"{earlier} is still open",
                    path,
                    lineno,
                )
            open_calls[rec.process] = (lineno, rec)
            started.append((lineno, rec))
            continue
        if rec.process not in open_calls:
            raise HistoryError(
                f":{rec.type} for process {rec.process} with no open invoke", path, lineno
            )
        call_line, call = open_calls.pop(rec.process)
        if (rec.f, rec.key) != (call.f, call.key):
            raise HistoryError(
                f":{rec.type} :{rec.f} {rec.key!r} does not match the invoke :{call.f} "
                f"{call.key!r} on line {call_line}",
                path,
                lineno,
            )
        op_input = KvInput(call.f, call.key, call.value)
        if rec.type == "fail":
            finished[call_line] = None
        elif rec.type == "info":
            finished[call_line] = Operation(rec.process, op_input, call_line, UNKNOWN, PENDING)
        else:
            if rec.value == TIMED_OUT:
                raise HistoryError(":ok with :timed-out value", path, lineno)
            output = rec.value if call.f == "get" else None
            if call.f == "get" and output is None:
                raise HistoryError(":ok :get needs a string :value", path, lineno)
            finished[call_line] = Operation(rec.process, op_input, call_line, output, lineno)
    ops: list[Operation] = []
    for call_line, call in started:
        if call_line in finished:
            op = finished[call_line]
            if op is not None:
                ops.append(op)
        else:  # never completed: outcome unknown
            op_input = KvInput(call.f, call.key, call.value)
            ops.append(Operation(call.process, op_input, call_line, UNKNOWN, PENDING))
    return ops


def read_kv_history(source: str | IO[str], path: str | None = None) -> list[Operation]:
    """Read a kv history from text or an open file."""
    # Only newlines end a line: str.splitlines would also split inside values.
    lines = source.split("\n") if isinstance(source, str) else source
    return operations_from_kv_records(iter_kv_records(lines, path), path)


def format_kv_record(rec: KvRecord) -> str:
    """One kv history line for ``rec``."""
    if rec.value is None:
        value = "nil"
    elif rec.value == TIMED_OUT and rec.type in ("info", "fail"):
        value = TIMED_OUT
    else:
        value = _quote(rec.value)
    return (
        f"{{:process {rec.process}, :type :{rec.type}, :f :{rec.f}, "
        f":key {_quote(rec.key)}, :value {value}}}"
    )


def kv_records_from_operations(operations: Iterable[Operation]) -> list[KvRecord]:
    """Lines that read back as ``operations``.

    An operation with an unknown outcome gets its ``:info`` line right after
    its invoke: it stays open to the end wherever the line is, and this way
    its process is free for its next call.
    """
    stamped: list[tuple[float, int, int, int, KvRecord]] = []
    for n, op in enumerate(operations):
        f, key, value = op.input
        stamped.append((op.call_time, 0, n, 0, KvRecord(op.client_id, "invoke", f, key, value)))
        unknown_get = f == "get" and (op.output is UNKNOWN or op.output is None)
        if op.pending or unknown_get:
            info = KvRecord(op.client_id, "info", f, key, TIMED_OUT)
            stamped.append((op.call_time, 0, n, 1, info))
        else:
            out = op.output if f == "get" else value
            # At equal times calls sort first: the intervals are closed.
            stamped.append((op.return_time, 1, n, 0, KvRecord(op.client_id, "ok", f, key, out)))
    stamped.sort(key=lambda item: item[:4])
    return [item[4] for item in stamped]


def write_kv_history(
    operations: Iterable[Operation] | Iterable[KvRecord], dest: str | IO[str]
) -> None:
    """Write operations (or ready-made records) to a path or open file in kv format."""
    items = list(operations)
    records = (
        items if all(isinstance(r, KvRecord) for r in items) else kv_records_from_operations(items)  # type: ignore[arg-type]
    )
    text = "".join(format_kv_record(rec) + "\n" for rec in records)
    if isinstance(dest, str):
        with open(dest, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        dest.write(text)
