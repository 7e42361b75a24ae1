"""Wing & Gong's linearizability search with Lowe's state cache (as in porcupine).

The history of one partition becomes a doubly linked list of call and return
entries in time order.  The search walks the list: at a call it tries to
linearise that operation next (the model step must be legal and the pair
(set of linearised operations, resulting state) must be new); linearising
lifts the call and its return out of the list and restarts from the head.
Reaching a return means the operation that returns there must already have
been linearised, so the search backtracks.  The history is linearizable when
the list empties, and not when backtracking runs out of choices.

Beyond porcupine: operations the model declares read-only (a get, a failed
cas) that are legal where they are met are linearised without trying
alternatives, which is sound because moving such an operation earlier changes
no state (tests compare the verdicts with a brute-force oracle).  The set of
linearised operations is kept as a count of those linearised from the first
on plus a bitset of the few past it, so a cache entry costs the span from
the oldest operation not yet linearised (one that timed out, say, can wait
long) to the newest, not the history's length (porcupine's bitset of every
operation made memory quadratic).  Partitions
take turns in slices, standing in for porcupine's goroutines, so a violation
in any partition ends a quick check as soon as it is found.
"""

from __future__ import annotations

import enum
import gc
import logging
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sentinel.lin.history import Event, Operation, operations_from_events, validate_operations
from sentinel.lin.model import partition_of

log = logging.getLogger(__name__)

# Lifts and backtracks a partition makes before the next one gets its turn
# and the clock is read (each costs at most one scan of the list): long enough
# to make switching cheap, short enough that a violation in any partition is
# found about as soon as the fastest search ends.
_SLICE = 300

# Operation shapes the search handles without calling the model.
_STEP, _READ, _READ_ANY, _SET, _CONCAT = "step", "read", "read_any", "set", "concat"
_RETURN = "return"  # the kind of a return node
_DEAD_END = object()
_KINDS = {"read": _READ, "read_any": _READ_ANY, "set": _SET, "concat": _CONCAT}


class CheckResult(enum.Enum):
    """Verdict of a check."""

    OK = "ok"
    ILLEGAL = "illegal"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class PartitionInfo:
    """What the verbose check learned about one partition.

    ``longest[i]`` is the longest partial linearisation found that contains
    operation ``i`` (a tuple of indices into ``operations``), or ``None`` if
    the search never linearised it.  For a linearizable partition every entry
    is the complete linearisation.
    """

    operations: list[Operation]
    result: CheckResult
    longest: list[tuple[int, ...] | None]

    def partial_linearizations(self) -> list[tuple[int, ...]]:
        """The distinct partial linearisations, longest first."""
        unique = {seq for seq in self.longest if seq is not None}
        return sorted(unique, key=lambda seq: (-len(seq), seq))


@dataclass(frozen=True)
class LinearizationInfo:
    """Per-partition details from :func:`check_operations_verbose`."""

    model: Any
    partitions: list[PartitionInfo] = field(default_factory=list)

    def partial_linearizations(self) -> list[list[tuple[int, ...]]]:
        """For each partition, its distinct partial linearisations (operation indices)."""
        return [part.partial_linearizations() for part in self.partitions]


class _Deadline:
    """Shared time budget across partitions; ``None`` means unlimited."""

    def __init__(self, timeout_s: float | None) -> None:
        self.at = None if timeout_s is None else time.monotonic() + timeout_s

    def passed(self) -> bool:
        return self.at is not None and time.monotonic() >= self.at


def _search(
    model: Any, ops: Sequence[Operation], verbose: bool, longest: list[tuple[int, ...] | None]
) -> Generator[None, None, CheckResult]:
    """Search one partition, yielding every ``_SLICE`` moves so partitions can take turns.

    Fills ``longest`` when ``verbose`` and returns the partition's verdict.
    """
    n = len(ops)
    if n == 0:
        return CheckResult.OK

    # Node 0 is the head sentinel, nodes 1..2n the entries, 2n+1 the tail
    # sentinel, so lifting never has to test for a missing neighbour.  Per-node
    # arrays (rather than per-operation ones) save an indirection in the scan.
    stamped = [(op.call_time, 0, i) for i, op in enumerate(ops)]
    stamped += [(op.return_time, 1, i) for i, op in enumerate(ops)]
    stamped.sort()
    head, tail = 0, 2 * n + 1
    nxt = [*range(1, 2 * n + 2), tail]
    prv = [0, *range(0, 2 * n + 1)]
    size = 2 * n + 2
    op_of = [-1] * size
    match = [0] * size  # call node -> its return node
    kind_of: list[str] = [_RETURN] * size
    arg_of: list[Any] = [None] * size
    kinds, args, read_only = _compile(model, ops)
    return_node = [0] * n
    for node, (_, is_return, i) in enumerate(stamped, start=1):
        op_of[node] = i
        if is_return:
            return_node[i] = node
    for node, (_, is_return, i) in enumerate(stamped, start=1):
        if not is_return:
            match[node] = return_node[i]
            kind_of[node] = kinds[i]
            arg_of[node] = args[i]

    inputs = [op.input for op in ops]
    outputs = [op.output for op in ops]
    step = model.step
    # The linearised set is (low, window): every operation below `low` and those at
    # `low + j` for each bit j of `window` (bit 0 always clear). Operations are mostly
    # linearised in call order, so the window stays a few bits wide where one bitset of
    # all n would make every cache key n bits: a 745,000-call history took over 11 GB.
    seen: set[tuple[int, int, Any]] = set()
    seen_add = seen.add
    # (call node, state before it, forced, low and window before it): a forced entry
    # linearised a read-only operation that was legal on the spot, which loses nothing
    # (see _compile), so its siblings need no trying.
    calls: list[tuple[int, Any, bool, int, int]] = []
    push = calls.append
    longest_len = [0] * n
    prefix = floor = 0  # see the verbose bookkeeping at the dead end below
    state = model.init()
    low = window = 0
    node = nxt[head]
    budget = _SLICE

    while True:
        kind = kind_of[node]
        # Inline the common shapes: failing reads are most of all steps.
        if kind is _READ:
            if arg_of[node] != state:
                node = nxt[node]
                continue
            new_state = state
        elif kind is _STEP:
            i = op_of[node]
            legal, new_state = step(state, inputs[i], outputs[i])
            if not legal:
                node = nxt[node]
                continue
        elif kind is _CONCAT:
            new_state = state + arg_of[node]
        elif kind is _SET:
            new_state = arg_of[node]
        elif kind is _READ_ANY:
            new_state = state
        else:  # a return: its operation was not linearised in time
            new_state = _DEAD_END
        if new_state is not _DEAD_END:
            i = op_of[node]
            grown = window | (1 << (i - low))  # i >= low: those below are linearised
            if grown & 1:  # the run of linearised operations from `low` grew: move past it
                shift = (~grown & (grown + 1)).bit_length() - 1
                key = (low + shift, grown >> shift, new_state)
            else:
                key = (low, grown, new_state)
            if key not in seen:
                seen_add(key)
                push((node, state, read_only[i], low, window))
                state = new_state
                low, window = key[0], key[1]
                # lift the call and its return out of the list
                p, q = prv[node], nxt[node]
                nxt[p] = q
                prv[q] = p
                ret = match[node]
                p, q = prv[ret], nxt[ret]
                nxt[p] = q
                prv[q] = p
                node = nxt[head]
                if node == tail:
                    break
                budget -= 1
                if not budget:
                    yield
                    budget = _SLICE
                continue
            if not read_only[i]:
                node = nxt[node]
                continue
            # Read-only and legal here, so trying it first is no loss, and
            # that subtree is already known to fail: so does this one.

        # Dead end: backtrack.
        if verbose and calls:
            depth = len(calls)
            # Operations low in the stack that were there at the last record
            # already have a partial at least `floor` long: skip them if that is enough.
            _record_longest(calls, prefix if depth <= floor else 0, op_of, longest, longest_len)
            prefix = floor = depth
        while True:
            if not calls:
                return CheckResult.ILLEGAL
            node, state, forced, low, window = calls.pop()
            ret = match[node]
            # unlift, in reverse order of lifting
            nxt[prv[ret]] = ret
            prv[nxt[ret]] = ret
            nxt[prv[node]] = node
            prv[nxt[node]] = node
            if not forced:
                break
        if prefix > len(calls):
            prefix = len(calls)
        node = nxt[node]
        budget -= 1
        if not budget:
            yield
            budget = _SLICE

    full = tuple(op_of[call] for call, *_ in calls)
    longest[:] = [full] * n
    return CheckResult.OK


def _compile(model: Any, ops: Sequence[Operation]) -> tuple[list[str], list[Any], list[bool]]:
    """Each operation's shape (see :meth:`Model.compile_operation`), argument and read-only flag.

    A read-only operation never changes the state, whatever it is.  If one is
    legal now and may come next in real time, some linearisation of the rest
    exists with it first whenever any exists at all: move it to the front and
    every later step sees the same states.  So the search need not try
    alternatives to it.
    """
    compile_op = getattr(model, "compile_operation", None)
    is_read_only = getattr(model, "is_read_only", None)
    kinds: list[str] = []
    args: list[Any] = []
    read_only: list[bool] = []
    for op in ops:
        shape = compile_op(op.input, op.output) if compile_op else None
        kind, arg = (_STEP, None) if shape is None else (_KINDS[shape[0]], shape[1])
        kinds.append(kind)
        args.append(arg)
        read_only.append(
            kind in (_READ, _READ_ANY)
            or (kind is _STEP and bool(is_read_only and is_read_only(op.input, op.output)))
        )
    return kinds, args, read_only


def _record_longest(
    calls: list[tuple[int, Any, bool, int, int]],
    start: int,
    op_of: list[int],
    longest: list[tuple[int, ...] | None],
    longest_len: list[int],
) -> None:
    """Remember the current prefix for every operation in it that had only shorter ones."""
    depth = len(calls)
    seq: tuple[int, ...] | None = None
    for k in range(start, depth):
        i = op_of[calls[k][0]]
        if depth > longest_len[i]:
            if seq is None:
                seq = tuple(op_of[call[0]] for call in calls)
            longest[i] = seq
            longest_len[i] = depth


def _run(
    model: Any,
    history: Sequence[Operation],
    timeout_s: float | None,
    verbose: bool,
    grace_s: float | None = None,
) -> tuple[CheckResult, LinearizationInfo]:
    validate_operations(history)
    deadline = _Deadline(timeout_s)
    partitions = partition_of(model, history)
    longest = [[None] * len(ops) for ops in partitions]
    results: list[CheckResult] = [CheckResult.UNKNOWN] * len(partitions)
    # Partitions take turns, as porcupine runs them in parallel: the first
    # violation found in any of them settles a quick check.
    active = {k: _search(model, ops, verbose, longest[k]) for k, ops in enumerate(partitions)}
    gc_was_enabled = gc.isenabled()
    gc.disable()  # the cache holds only tuples of ints and states: no cycles to find
    try:
        while active and not deadline.passed():
            for k, search in list(active.items()):
                try:
                    next(search)
                except StopIteration as done:
                    results[k] = done.value
                    del active[k]
                    log.debug("partition %d (%d ops): %s", k, len(partitions[k]), done.value)
                    if done.value is CheckResult.ILLEGAL:
                        if not verbose:
                            active.clear()
                            break
                        # The verdict is settled; the rest only add detail.
                        grace = _Deadline(grace_s)
                        if grace.at is not None and (deadline.at is None or grace.at < deadline.at):
                            deadline = grace
    finally:
        for search in active.values():
            search.close()
        if gc_was_enabled:
            gc.enable()
    if CheckResult.ILLEGAL in results:
        verdict = CheckResult.ILLEGAL
    elif CheckResult.UNKNOWN in results:
        verdict = CheckResult.UNKNOWN
    else:
        verdict = CheckResult.OK
    info = LinearizationInfo(
        model,
        [PartitionInfo(ops, results[k], longest[k]) for k, ops in enumerate(partitions)],
    )
    return verdict, info


def check_operations(
    model: Any, history: Sequence[Operation], timeout_s: float | None = None
) -> CheckResult:
    """Is ``history`` linearizable with respect to ``model``?

    Partitions are checked one after another and the first illegal one ends
    the check.  With ``timeout_s`` the whole check gives up after that many
    seconds and returns ``UNKNOWN`` unless a violation was already found.
    """
    return _run(model, history, timeout_s, verbose=False)[0]


def check_operations_verbose(
    model: Any,
    history: Sequence[Operation],
    timeout_s: float | None = None,
    grace_s: float | None = 2.0,
) -> tuple[CheckResult, LinearizationInfo]:
    """Like :func:`check_operations`, also keeping for each operation the longest
    partial linearisation containing it.

    Every partition is searched, but once one is found illegal the verdict is
    settled, so the others get at most ``grace_s`` more seconds (``None``: no
    limit but ``timeout_s``); any still unfinished are reported ``UNKNOWN`` in
    the info.
    """
    return _run(model, history, timeout_s, verbose=True, grace_s=grace_s)


def check_events(
    model: Any, events: Sequence[Event], timeout_s: float | None = None
) -> CheckResult:
    """:func:`check_operations` for a list of call/return events (list order is time)."""
    return check_operations(model, operations_from_events(events), timeout_s)


def check_events_verbose(
    model: Any,
    events: Sequence[Event],
    timeout_s: float | None = None,
    grace_s: float | None = 2.0,
) -> tuple[CheckResult, LinearizationInfo]:
    """:func:`check_operations_verbose` for a list of call/return events."""
    return check_operations_verbose(model, operations_from_events(events), timeout_s, grace_s)
