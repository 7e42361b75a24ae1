"""Knossos's models: register, cas-register, multi-register and mutex.

Their rules are Knossos's (Jepsen's checker), which differ from the
porcupine/etcd register of :mod:`sentinel.lin.models`:

* a read whose value is ``nil`` constrains nothing (in the etcd register it
  saw the register empty);
* a cas that completes ``:ok`` applied; one that completes ``:fail`` did not
  happen and is left out of the history (the etcd register keeps it as "did
  not apply", which asserts the register held something else);
* an operation whose outcome is unknown (``:info``, or never completed) may
  take effect at any point after its invocation, or never: where its step
  would be illegal it is taken as not having happened (so a crashed cas that
  could never succeed is simply left out);
* the initial value is a parameter (Knossos's data sets use 0 and
  ``{:x 0 :y 0}``); ``nil`` unless given.

An operation's input is a :class:`JepsenInput`; its value is the completion's
for an ``:ok`` read or txn (what was read) and the invocation's otherwise.
With ``jepsen.independent`` keys, ``key`` names the register, and each key is
checked on its own.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, NamedTuple

from sentinel.lin.edn import edn_str
from sentinel.lin.history import UNKNOWN, Operation
from sentinel.lin.model import Model

NO_KEY: Any = None
"""``JepsenInput.key`` of an operation without a ``jepsen.independent`` key."""


class JepsenInput(NamedTuple):
    """One Jepsen client operation: ``:f``, ``:value``, its process and independent key."""

    f: str
    value: Any
    process: int
    key: Any = NO_KEY


class KnossosModel(Model):
    """What the four models share: the unknown-outcome rule, partitions by key, pictures."""

    functions: tuple[str, ...] = ()

    def __init__(self, initial: Any = None) -> None:
        self.initial = initial

    def init(self) -> Hashable:
        return self.initial

    def apply(self, state: Any, input: JepsenInput) -> tuple[bool, Any]:
        """The Knossos step: ``(legal, new_state)``."""
        raise NotImplementedError

    def step(self, state: Any, input: JepsenInput, output: Any) -> tuple[bool, Any]:
        legal, new_state = self.apply(state, input)
        if legal:
            return True, new_state
        # An unknown outcome that cannot happen here did not happen here.
        return output is UNKNOWN, state

    def partition(self, history: Sequence[Operation]) -> list[list[Operation]]:
        """One sub-history per ``jepsen.independent`` key (one in all without keys)."""
        by_key: dict[Any, list[Operation]] = {}
        for op in history:
            by_key.setdefault(op.input.key, []).append(op)
        return list(by_key.values())

    def describe_partition(self, history: Sequence[Operation]) -> str:
        key = history[0].input.key
        return f"{self.name}" if key is NO_KEY else f"key {edn_str(key)}"

    def describe_operation(self, input: JepsenInput, output: Any) -> str:
        shown = "nil" if input.value is None else edn_str(input.value)
        unknown = " ?" if output is UNKNOWN else ""
        return f"{input.f} {shown}{unknown}"

    def describe_state(self, state: Any) -> str:
        return edn_str(state)


class KnossosRegister(KnossosModel):
    """Knossos's read/write register."""

    name = "register"
    functions = ("read", "write")

    def apply(self, state: Any, input: JepsenInput) -> tuple[bool, Any]:
        f, value = input.f, input.value
        if f == "read":
            return value is None or value == state, state
        if f == "write":
            return True, value
        return False, state

    def is_read_only(self, input: JepsenInput, output: Any) -> bool:
        return input.f == "read"

    def compile_operation(self, input: JepsenInput, output: Any) -> tuple[str, Any] | None:
        if input.f == "read":
            unknown = input.value is None or output is UNKNOWN
            return ("read_any", None) if unknown else ("read", input.value)
        if input.f == "write":
            return "set", input.value
        return None


class KnossosCasRegister(KnossosRegister):
    """Knossos's compare-and-set register: read, write and cas ``[old new]``."""

    name = "cas-register"
    functions = ("read", "write", "cas")

    def apply(self, state: Any, input: JepsenInput) -> tuple[bool, Any]:
        if input.f == "cas":
            old, new = input.value
            return (True, new) if old == state else (False, state)
        return super().apply(state, input)


class MultiRegister(KnossosModel):
    """Several registers by key, changed by ``:txn`` ops of ``[:read k v]``/``[:write k v]``.

    The state is a frozenset of ``(key, value)`` pairs (hashable, as the
    checker caches states); a key never written reads as ``nil``.  Micro-ops
    apply in order, so a read after a write in the same txn sees that write.
    """

    name = "multi-register"
    functions = ("txn",)

    def __init__(self, initial: Any = None) -> None:
        super().__init__(frozenset(dict(initial or {}).items()))

    def apply(self, state: frozenset[tuple[Any, Any]], input: JepsenInput) -> tuple[bool, Any]:
        values = dict(state)
        for f, key, value in input.value:
            if f == "read":
                if value is not None and values.get(key) != value:
                    return False, state
            else:
                values[key] = value
        return True, frozenset(values.items())

    def is_read_only(self, input: JepsenInput, output: Any) -> bool:
        return all(mop[0] == "read" for mop in input.value)

    def describe_operation(self, input: JepsenInput, output: Any) -> str:
        mops = " ".join(f"[:{f} {edn_str(k)} {edn_str(v)}]" for f, k, v in input.value)
        return f"txn [{mops}]" + (" ?" if output is UNKNOWN else "")

    def describe_state(self, state: frozenset[tuple[Any, Any]]) -> str:
        items = sorted(state, key=lambda kv: edn_str(kv[0]))
        return "{" + ", ".join(f"{edn_str(k)} {edn_str(v)}" for k, v in items) + "}"


class Mutex(KnossosModel):
    """Knossos's mutex: acquire when free, release when held.

    The state is the process holding it (``None``: free), for the picture;
    like Knossos, a release by another process than the holder is legal.
    """

    name = "mutex"
    functions = ("acquire", "release")

    def __init__(self, initial: Any = None) -> None:
        super().__init__(None)

    def apply(self, state: int | None, input: JepsenInput) -> tuple[bool, Any]:
        if input.f == "acquire":
            return (True, input.process) if state is None else (False, state)
        return (True, None) if state is not None else (False, state)

    def describe_operation(self, input: JepsenInput, output: Any) -> str:
        return f"{input.f} (process {input.process})" + (" ?" if output is UNKNOWN else "")

    def describe_state(self, state: int | None) -> str:
        return "free" if state is None else f"held by process {state}"


KNOSSOS_MODELS: dict[str, type[KnossosModel]] = {
    model.name: model for model in (KnossosRegister, KnossosCasRegister, MultiRegister, Mutex)
}
"""Knossos's models by command-line name; each takes the initial value."""


def default_model_name(functions: set[str]) -> str | None:
    """The model whose functions cover ``functions`` (cas-register over register), if any."""
    for name in ("register", "cas-register", "multi-register", "mutex"):
        if functions <= set(KNOSSOS_MODELS[name].functions):
            return name
    return None
