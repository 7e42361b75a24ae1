"""Redis's list commands that move an element between two lists (LMOVE, RPOPLPUSH), and
the refusal of the blocking commands.

LMOVE pops from one end of the source and pushes to one end of the destination in one
step (the same key for both rotates the list). The destination's type and the element
bound are checked before the pop, so an error changes nothing.

Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BZPOPMIN, BZPOPMAX) are refused
before they reach the log: a state machine applies each entry at once and cannot wait for
another client's push, and a wait held by the front door is not built. Clients poll the
non-blocking command instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sentinel.kvraft.keyspace.lists import ListValue, changed, lookup_list, pop_items
from sentinel.kvraft.keyspace.replies import NULL, SYNTAX, TOO_MANY, Bulk, Error, Reply
from sentinel.kvraft.limits import COLLECTION_ELEMENTS_MAX

if TYPE_CHECKING:
    from sentinel.kvraft.keyspace.store import Store

_ENDS = {b"LEFT": True, b"RIGHT": False}

#: The blocking commands, refused with this error by the command table's check.
BLOCKING = ("blpop", "brpop", "blmove", "brpoplpush", "bzpopmin", "bzpopmax")


def blocking_refused(name: str) -> Error:
    """The error a blocking command gets (it never reaches the log)."""
    plain = name[1:].upper()
    return Error(
        f"ERR {name.upper()} is not supported: Sentinel does not block; poll {plain} instead"
    )


def lmove(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """LMOVE source destination LEFT|RIGHT LEFT|RIGHT -> the element moved, or nil when
    the source is absent."""
    source_left = _ENDS.get(args[3].upper())
    target_left = _ENDS.get(args[4].upper())
    if source_left is None or target_left is None:
        return SYNTAX
    return move(store, args[1], args[2], source_left, target_left, now_ms)


def rpoplpush(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """RPOPLPUSH source destination: LMOVE source destination RIGHT LEFT."""
    return move(store, args[1], args[2], False, True, now_ms)


def move(
    store: Store, source: bytes, target: bytes, source_left: bool, target_left: bool, now_ms: int
) -> Reply:
    """Pop one element from `source` and push it on `target` (see lmove)."""
    items = lookup_list(store, source, now_ms)
    if items is None or isinstance(items, Error):
        return NULL if items is None else items
    if target == source:
        return _rotate(store, source, items, source_left, target_left)
    destination = lookup_list(store, target, now_ms)
    if isinstance(destination, Error):
        return destination
    if destination is not None and len(destination) >= COLLECTION_ELEMENTS_MAX:
        return TOO_MANY
    (item,) = pop_items(store, source, items, source_left, 1, now_ms)
    if destination is None:
        store.put(target, ListValue((item,)), None)
    elif target_left:
        destination.appendleft(item)
        changed(store, target, destination, destination.popleft)
    else:
        destination.append(item)
        changed(store, target, destination, destination.pop)
    return Bulk(item)


def _rotate(store: Store, key: bytes, items: ListValue, from_left: bool, to_left: bool) -> Reply:
    """LMOVE of a list onto itself: the element goes from one end to the other (or back)."""
    item = items.popleft() if from_left else items.pop()
    (items.appendleft if to_left else items.append)(item)

    def undo() -> None:
        moved = items.popleft() if to_left else items.pop()
        (items.appendleft if from_left else items.append)(moved)

    changed(store, key, items, undo)
    return Bulk(item)
