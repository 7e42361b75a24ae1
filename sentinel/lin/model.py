"""The shape of a sequential specification that the checker tests against."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from sentinel.lin.history import Operation


class Model:
    """A sequential specification.

    Subclasses implement :meth:`init` and :meth:`step`.  States must be
    hashable and compare equal exactly when they are the same state: the
    checker caches ``(linearised set, state)`` pairs it has already explored.
    Any object with ``init`` and ``step`` works; the rest is optional.
    """

    name: str = "model"

    def init(self) -> Hashable:
        """The state before any operation."""
        raise NotImplementedError

    def step(self, state: Any, input: Any, output: Any) -> tuple[bool, Any]:
        """Apply one operation: ``(legal, new_state)``; ``new_state`` is ignored if not legal."""
        raise NotImplementedError

    def is_read_only(self, input: Any, output: Any) -> bool:
        """True if this operation leaves every state unchanged (optional; enables pruning).

        Only say True when ``step`` returns the same state for *all* states in
        which it is legal; otherwise the checker could miss linearisations.
        """
        return False

    def compile_operation(self, input: Any, output: Any) -> tuple[str, Any] | None:
        """Optionally describe an operation so the search can skip calling :meth:`step`.

        Return ``("read", v)`` (legal iff the state equals ``v``; state
        unchanged), ``("read_any", None)`` (always legal; unchanged),
        ``("set", v)`` (always legal; the state becomes ``v``),
        ``("concat", v)`` (always legal; the state becomes ``state + v``) or
        ``None`` (call :meth:`step`).  It must agree with :meth:`step`.
        """
        return None

    def partition(self, history: Sequence[Operation]) -> list[list[Operation]]:
        """Split into independently checkable sub-histories (default: one)."""
        return [list(history)]

    def describe_operation(self, input: Any, output: Any) -> str:
        """Short human-readable text for one operation, for the picture."""
        return f"{input!r} -> {output!r}"

    def describe_state(self, state: Any) -> str:
        """Short human-readable text for a state, for the picture."""
        return repr(state)


def partition_of(model: Any, history: Sequence[Operation]) -> list[list[Operation]]:
    """Call the model's ``partition`` if it has one, else keep the history whole."""
    partition = getattr(model, "partition", None)
    if partition is None:
        return [list(history)]
    return [list(part) for part in partition(history)]


def describe_operation(model: Any, input: Any, output: Any) -> str:
    """The model's operation text, or a repr when it has none."""
    describe = getattr(model, "describe_operation", None)
    return describe(input, output) if describe else f"{input!r} -> {output!r}"


def describe_state(model: Any, state: Any) -> str:
    """The model's state text, or a repr when it has none."""
    describe = getattr(model, "describe_state", None)
    return describe(state) if describe else repr(state)
