"""Built-in models: a string key/value map and an integer compare-and-set register."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sentinel.lin.history import UNKNOWN, Operation
from sentinel.lin.model import Model


class KvInput(NamedTuple):
    """Input of a key/value operation; ``f`` is get, put, append or delete."""

    f: str
    key: str
    value: str | None = None


KV_FUNCTIONS = ("get", "put", "append", "delete")


class KvModel(Model):
    """Map from string keys to strings, checked one key at a time.

    Per key the state is a string, ``""`` at first and after a delete.  A get
    is legal iff its output equals the state; a get whose output is
    :data:`UNKNOWN` (or ``None``) constrains nothing.
    """

    name = "kv"

    def init(self) -> str:
        return ""

    def step(self, state: str, input: KvInput, output: Any) -> tuple[bool, str]:
        f = input[0]
        if f == "get":
            return (output is UNKNOWN or output is None or output == state), state
        if f == "append":
            return True, state + input[2]
        if f == "put":
            return True, input[2]
        if f == "delete":
            return True, ""
        raise ValueError(f"kv model: unknown operation {f!r}")

    def is_read_only(self, input: KvInput, output: Any) -> bool:
        """A get never changes the state; the checker uses this to prune its search."""
        return input[0] == "get"

    def compile_operation(self, input: KvInput, output: Any) -> tuple[str, Any] | None:
        f = input[0]
        if f == "get":
            return ("read_any", None) if output is UNKNOWN or output is None else ("read", output)
        if f == "put":
            return "set", input[2]
        if f == "delete":
            return "set", ""
        if f == "append":
            return "concat", input[2]
        return None

    def partition(self, history: Sequence[Operation]) -> list[list[Operation]]:
        """One sub-history per key: keys are independent (P-compositionality)."""
        by_key: dict[str, list[Operation]] = {}
        for op in history:
            by_key.setdefault(op.input[1], []).append(op)
        return list(by_key.values())

    def describe_partition(self, history: Sequence[Operation]) -> str:
        """Title of a per-key sub-history in the picture."""
        return f"key {history[0].input[1]!r}"

    def describe_operation(self, input: KvInput, output: Any) -> str:
        f, key, value = input
        if f == "get":
            shown = "?" if output is UNKNOWN or output is None else repr(output)
            return f"get({key!r}) -> {shown}"
        if f == "delete":
            return f"delete({key!r})"
        return f"{f}({key!r}, {value!r})"

    def describe_state(self, state: str) -> str:
        return repr(state)


class RegisterInput(NamedTuple):
    """Input of a register operation: read, write ``value``, or cas ``value=(from, to)``."""

    f: str
    value: Any = None


class RegisterModel(Model):
    """Porcupine's etcd register: one integer, empty (``None``) at first, with read, write, cas.

    Unlike Knossos's registers (:mod:`sentinel.lin.knossos`), a read of ``nil``
    saw the register empty, and a cas that failed is kept as "did not apply".

    A read's output is the value seen, ``None`` when it saw the register
    empty, or :data:`UNKNOWN` when the read's result was never observed (it
    then constrains nothing).  A cas outputs ``True`` (applied), ``False``
    (did not apply, legal only if the state differs from ``from``) or
    :data:`UNKNOWN`.
    """

    name = "etcd-register"

    def init(self) -> int | None:
        return None

    def step(self, state: int | None, input: RegisterInput, output: Any) -> tuple[bool, Any]:
        f = input[0]
        if f == "read":
            return (output is UNKNOWN or output == state), state
        if f == "write":
            return True, input[1]
        if f == "cas":
            expected, new = input[1]
            matches = state == expected
            if output is UNKNOWN:
                return True, new if matches else state
            if output:
                return matches, new
            return not matches, state
        raise ValueError(f"register model: unknown operation {f!r}")

    def is_read_only(self, input: RegisterInput, output: Any) -> bool:
        """Reads and cas calls known not to have applied never change the state."""
        return input[0] == "read" or (input[0] == "cas" and output is False)

    def compile_operation(self, input: RegisterInput, output: Any) -> tuple[str, Any] | None:
        f = input[0]
        if f == "read":
            return ("read_any", None) if output is UNKNOWN else ("read", output)
        if f == "write":
            return "set", input[1]
        return None

    def describe_operation(self, input: RegisterInput, output: Any) -> str:
        f, value = input
        if f == "read":
            shown = "?" if output is UNKNOWN else ("nil" if output is None else str(output))
            return f"read() -> {shown}"
        if f == "write":
            return f"write({value})"
        shown = "?" if output is UNKNOWN else ("ok" if output else "fail")
        return f"cas({value[0]}, {value[1]}) -> {shown}"

    def describe_state(self, state: int | None) -> str:
        return "nil" if state is None else str(state)


kv_model = KvModel()
"""The built-in key/value model."""

register_model = RegisterModel()
"""The porcupine/etcd integer register model (for ``jepsen.util`` register logs)."""

MODELS: dict[str, Model] = {"kv": kv_model, "etcd-register": register_model}
"""The porcupine-style models by command-line name (Knossos's: :mod:`sentinel.lin.knossos`)."""
