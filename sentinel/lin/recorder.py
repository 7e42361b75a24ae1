"""A thread-safe recorder for client calls against a key/value store."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from typing import IO

from sentinel.lin.edn import edn_str
from sentinel.lin.history import PENDING, UNKNOWN, Operation
from sentinel.lin.kvformat import TIMED_OUT, KvRecord, write_kv_history
from sentinel.lin.models import KV_FUNCTIONS, KvInput


@dataclass(frozen=True, slots=True)
class _Open:
    process: int
    client_id: int
    input: KvInput
    call_time: int


class HistoryRecorder:
    """Collects a kv history from concurrent clients, timed with ``time.monotonic_ns``.

    ``token = rec.invoke(client, "get", key)`` before the call, then exactly
    one of ``rec.ok(token, value)``, ``rec.info(token)`` (outcome unknown,
    e.g. timed out) or ``rec.fail(token)`` (certainly not applied).  After
    an ``info`` the client is recorded under a fresh process id, as the kv
    format requires.  :meth:`history` feeds the checker; :meth:`write`
    stores the kv file, or Jepsen EDN (``fmt="jepsen"``) for Knossos or Elle.
    """

    FORMATS = ("kv", "jepsen")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens = itertools.count()
        self._open: dict[int, _Open] = {}
        self._busy: set[int] = set()  # clients with an open call
        self._process: dict[int, int] = {}  # client -> current process id
        self._used: set[int] = set()
        self._next_fresh = 0
        self._ops: list[tuple[int, Operation]] = []  # (token, op), fail ones left out
        self._records: list[KvRecord] = []
        self._times_ns: list[int] = []  # when each record happened, for Jepsen's :time
        self._began_ns = time.monotonic_ns()

    def _fresh_process(self, client_id: int) -> int:
        if client_id not in self._used and client_id >= 0:
            candidate = client_id
        else:
            while self._next_fresh in self._used:
                self._next_fresh += 1
            candidate = self._next_fresh
        self._used.add(candidate)
        self._process[client_id] = candidate
        return candidate

    def invoke(self, client_id: int, f: str, key: str, value: str | None = None) -> int:
        """Record a call; returns the token to complete it with."""
        if f not in KV_FUNCTIONS:
            raise ValueError(f"unknown kv operation {f!r}")
        if f in ("put", "append") and value is None:
            raise ValueError(f"{f} needs a value")
        op_input = KvInput(f, key, value if f in ("put", "append") else None)
        with self._lock:
            now = time.monotonic_ns()
            if client_id in self._busy:
                raise ValueError(f"client {client_id} already has a call in flight")
            process = self._process.get(client_id)
            if process is None:
                process = self._fresh_process(client_id)
            token = next(self._tokens)
            self._busy.add(client_id)
            self._open[token] = _Open(process, client_id, op_input, now)
            self._record(KvRecord(process, "invoke", f, key, op_input.value), now)
        return token

    def _record(self, rec: KvRecord, now_ns: int) -> None:
        self._records.append(rec)
        self._times_ns.append(now_ns - self._began_ns)

    def _close(self, token: int) -> _Open:
        try:
            call = self._open.pop(token)
        except KeyError:
            raise ValueError(f"token {token} is not an open call") from None
        self._busy.discard(call.client_id)
        return call

    def ok(self, token: int, value: str | None = None) -> None:
        """The call returned; ``value`` is what a get read."""
        with self._lock:
            now = time.monotonic_ns()
            call = self._close(token)
            f, key, arg = call.input
            output = (value if value is not None else UNKNOWN) if f == "get" else None
            if f == "get" and value is None:
                self._record(KvRecord(call.process, "info", f, key, TIMED_OUT), now)
            else:
                shown = value if f == "get" else arg
                self._record(KvRecord(call.process, "ok", f, key, shown), now)
            self._ops.append(
                (token, Operation(call.process, call.input, call.call_time, output, now))
            )

    def info(self, token: int) -> None:
        """The call's outcome is unknown (e.g. it timed out): it stays open to the end."""
        with self._lock:
            call = self._close(token)
            f, key, _ = call.input
            self._record(KvRecord(call.process, "info", f, key, TIMED_OUT), time.monotonic_ns())
            self._ops.append(
                (token, Operation(call.process, call.input, call.call_time, UNKNOWN, PENDING))
            )
            self._fresh_process(call.client_id)

    def fail(self, token: int) -> None:
        """The call certainly did not take effect; it is left out of the history."""
        with self._lock:
            call = self._close(token)
            f, key, _ = call.input
            self._record(KvRecord(call.process, "fail", f, key, TIMED_OUT), time.monotonic_ns())

    def history(self) -> list[Operation]:
        """Operations so far, in call order; calls still in flight count as unknown outcomes."""
        with self._lock:
            ops = [op for _, op in self._ops]
            ops += [
                Operation(c.process, c.input, c.call_time, UNKNOWN, PENDING)
                for c in self._open.values()
            ]
        return sorted(ops, key=lambda op: op.call_time)

    def records(self) -> list[KvRecord]:
        """The kv-format lines so far, in the order they happened."""
        with self._lock:
            return list(self._records)

    def write(self, dest: str | IO[str], fmt: str = "kv") -> None:
        """Write the history in kv format, or as Jepsen EDN with ``fmt="jepsen"`` (in-flight
        calls read back as unknown outcomes either way)."""
        if fmt == "kv":
            write_kv_history(self.records(), dest)
            return
        if fmt != "jepsen":
            raise ValueError(f"unknown history format {fmt!r} (want one of {self.FORMATS})")
        with self._lock:
            stamped = list(zip(self._records, self._times_ns, strict=True))
        lines = [_jepsen_line(rec, at_ns, index) for index, (rec, at_ns) in enumerate(stamped)]
        text = "".join(lines)
        if isinstance(dest, str):
            with open(dest, "w", encoding="utf-8") as fh:
                fh.write(text)
        else:
            dest.write(text)


def _jepsen_line(rec: KvRecord, at_ns: int, index: int) -> str:
    """One Jepsen op map: the key and value as a ``jepsen.independent`` tuple ``[k v]``.

    An ``:info`` or ``:fail`` carries ``nil`` where the kv format has ``:timed-out``:
    the invocation holds what was asked, and a ``nil`` read constrains nothing.
    """
    value = None if rec.type in ("info", "fail") else rec.value
    return (
        f"{{:process {rec.process}, :type :{rec.type}, :f :{rec.f}, "
        f":value {edn_str((rec.key, value))}, :time {at_ns}, :index {index}}}\n"
    )
