"""Operations, events and the conversions between them.

An :class:`Operation` is one client call with its call and return times,
treated as a closed interval: two operations overlap unless one returns
strictly before the other is called.  An operation whose outcome is unknown
(the client timed out) has ``return_time == PENDING`` (``+inf``) and output
:data:`UNKNOWN`; it may take effect at any point after its call, or never.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

PENDING: float = math.inf
"""Return time of an operation whose outcome is unknown: after everything."""


class _Unknown:
    """Type of :data:`UNKNOWN`; a single, hashable, picklable marker."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
"""Output of an operation whose result was never observed (e.g. it timed out)."""


class HistoryError(ValueError):
    """A history could not be read; names the file and (1-based) line."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.path = path
        self.line = line
        where = path or "<history>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, slots=True)
class Operation:
    """One call: ``input`` at ``call_time``, ``output`` at ``return_time`` (closed interval)."""

    client_id: int
    input: Any
    call_time: float
    output: Any
    return_time: float

    @property
    def pending(self) -> bool:
        """True when the outcome is unknown and the operation stays open to the end."""
        return self.return_time == PENDING


class EventKind(enum.Enum):
    """Whether an event is the call or the return of an operation."""

    CALL = "call"
    RETURN = "return"


@dataclass(frozen=True, slots=True)
class Event:
    """A call or return; events sharing ``id`` belong to one operation, in list order."""

    kind: EventKind
    client_id: int
    value: Any
    id: int


def operations_from_events(events: Sequence[Event]) -> list[Operation]:
    """Pair call and return events by id; the list index is the time.

    A call without a return is an operation whose outcome is unknown.
    """
    calls: dict[int, tuple[int, Event]] = {}
    done: dict[int, Operation] = {}
    order: list[int] = []
    for index, event in enumerate(events):
        if event.kind is EventKind.CALL:
            if event.id in calls:
                raise HistoryError(f"operation id {event.id} called twice", line=index + 1)
            calls[event.id] = (index, event)
            order.append(event.id)
        else:
            if event.id not in calls or event.id in done:
                raise HistoryError(f"return for unknown operation id {event.id}", line=index + 1)
            call_index, call = calls[event.id]
            done[event.id] = Operation(call.client_id, call.value, call_index, event.value, index)
    ops = []
    for op_id in order:
        if op_id in done:
            ops.append(done[op_id])
        else:
            call_index, call = calls[op_id]
            ops.append(Operation(call.client_id, call.value, call_index, UNKNOWN, PENDING))
    return ops


def events_from_operations(operations: Iterable[Operation]) -> list[Event]:
    """Flatten operations into call/return events in time order.

    At equal times calls come first, because intervals are closed: an
    operation returning at ``t`` overlaps one called at ``t``.
    """
    stamped: list[tuple[float, int, int, Event]] = []
    for op_id, op in enumerate(operations):
        call = Event(EventKind.CALL, op.client_id, op.input, op_id)
        stamped.append((op.call_time, 0, op_id, call))
        stamped.append(
            (op.return_time, 1, op_id, Event(EventKind.RETURN, op.client_id, op.output, op_id))
        )
    stamped.sort(key=lambda item: item[:3])
    return [item[3] for item in stamped]


def validate_operations(operations: Sequence[Operation]) -> None:
    """Raise :class:`ValueError` if some operation returns before it is called."""
    for index, op in enumerate(operations):
        if not op.call_time <= op.return_time:
            raise ValueError(f"operation {index} returns before it is called: {op!r}")
        if math.isnan(op.call_time) or math.isinf(op.call_time):
            raise ValueError(f"operation {index} has no finite call time: {op!r}")
