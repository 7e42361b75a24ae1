"""Redis sorted sets: the value class and the commands on single members.

A sorted set is a `ZSet`: a dict member -> score (ZSCORE in O(1)) and a
`sortedcontainers.SortedList` of (score, member) pairs in Redis's order (by score, then by
member bytes), so ZADD, ZREM, ZRANK and finding a score range are O(log n) and walking a
range is O(log n + count). Scores are floats, never NaN. A sorted set is never empty: the
command that removes its last member deletes the key.

Every change goes through `ZSet.assign`, which returns the member's previous score; a
command collects those and hands them to `commit`, which logs their inverse with the store
(`lists.changed`) so a failing transaction rolls the change back, and deletes an emptied
key. Arguments and the element bound (COLLECTION_ELEMENTS_MAX) are checked before the first
change, so an error changes nothing. The range commands are in zranges.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sortedcontainers import SortedList

from sentinel.kvraft.keyspace import numbers
from sentinel.kvraft.keyspace.glob import matcher
from sentinel.kvraft.keyspace.lists import changed
from sentinel.kvraft.keyspace.numbers import format_double
from sentinel.kvraft.keyspace.replies import (
    EMPTY_ARRAY,
    MUST_BE_POSITIVE,
    NOT_FLOAT,
    NULL,
    SYNTAX,
    TOO_MANY,
    WRONGTYPE,
    ZERO,
    Array,
    Bulk,
    Double,
    Error,
    Int,
    Pairs,
    Reply,
)
from sentinel.kvraft.keyspace.scan import SCAN_BUCKETS, ScanIndex, parse_scan
from sentinel.kvraft.limits import COLLECTION_ELEMENTS_MAX

if TYPE_CHECKING:
    from sentinel.kvraft.keyspace.store import Store

NAN_SCORE = Error("ERR resulting score is not a number (NaN)")
NX_XX = Error("ERR XX and NX options at the same time are not compatible")
GT_LT_NX = Error("ERR GT, LT, and/or NX options at the same time are not compatible")
INCR_PAIRS = Error("ERR INCR option supports a single increment-element pair")

_ZADD_FLAGS = {b"NX", b"XX", b"CH", b"INCR", b"GT", b"LT"}

#: (member, its score before a change; None: it was absent).
Change = tuple[bytes, float | None]


class ZSet:
    """A Redis sorted set (see the module docstring)."""

    __slots__ = ("_scan", "order", "scores")

    def __init__(self) -> None:
        self.scores: dict[bytes, float] = {}
        self.order: SortedList = SortedList()
        self._scan: ScanIndex | None = None  # ZSCAN's buckets, built at the first big ZSCAN

    @classmethod
    def of_sorted(cls, scores: Sequence[float], members: list[bytes]) -> ZSet:
        """A sorted set of members and their scores already in order (a snapshot's)."""
        zset = cls.__new__(cls)
        zset.scores = dict(zip(members, scores, strict=True))
        zset.order = SortedList(zip(scores, members, strict=True))
        zset._scan = None
        return zset

    def __len__(self) -> int:
        return len(self.scores)

    @property
    def size_bytes(self) -> int:
        """The bytes of the members and 8 per score (O(n): for a compaction's decision)."""
        return sum(map(len, self.scores)) + 8 * len(self.scores)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ZSet) and self.scores == other.scores

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"ZSet({list(self.order)!r})"

    def assign(self, member: bytes, score: float | None) -> float | None:
        """Give `member` the `score` (None: remove it); its previous score or None."""
        old = self.scores.get(member)
        if old is not None:
            self.order.remove((old, member))
        if score is None:
            if old is not None:
                del self.scores[member]
                if self._scan is not None:
                    self._scan.discard(member)
            return old
        self.scores[member] = score
        self.order.add((score, member))
        if old is None and self._scan is not None:
            self._scan.add(member)
        return old

    def rank(self, member: bytes) -> int | None:
        """The 0-based position of `member` in score order, or None if absent."""
        score = self.scores.get(member)
        return None if score is None else self.order.index((score, member))

    def scan_index(self) -> ScanIndex:
        """ZSCAN's buckets of the members (built on first use, kept up to date after)."""
        if self._scan is None:
            self._scan = ScanIndex.of(list(self.scores))
        return self._scan


def lookup_zset(store: Store, key: bytes, now_ms: int) -> ZSet | Error | None:
    """The sorted set at `key`, None if absent, or WRONGTYPE if it holds another type."""
    value = store.live(key, now_ms)
    if value is None or type(value) is ZSet:
        return value
    return WRONGTYPE


def commit(store: Store, key: bytes, zset: ZSet, changes: list[Change], now_ms: int) -> None:
    """Report the `changes` made to the sorted set stored at `key` (a version change and
    their inverse in the undo log); delete the key if it is now empty."""
    if not changes:
        return

    def undo() -> None:
        for member, score in reversed(changes):
            zset.assign(member, score)

    changed(store, key, zset, undo)
    if not zset.scores:
        store.remove(key, now_ms)


def score_reply(score: float) -> Double:
    """A score as a reply (a bulk string in RESP2, a double in RESP3)."""
    return Double(score)


def _zadd_flags(args: list[bytes]) -> tuple[set[bytes], int] | Error:
    """ZADD's flags and the index of its first score, checked as Redis checks them."""
    flags: set[bytes] = set()
    index = 2
    while index < len(args) and args[index].upper() in _ZADD_FLAGS:
        flags.add(args[index].upper())
        index += 1
    elements = len(args) - index
    if elements == 0 or elements % 2:
        return SYNTAX
    if {b"NX", b"XX"} <= flags:
        return NX_XX
    if len(flags & {b"GT", b"LT", b"NX"}) > 1:
        return GT_LT_NX
    if b"INCR" in flags and elements > 2:
        return INCR_PAIRS
    return flags, index


def zadd(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...] -> the number
    of members added (with CH: added or changed); with INCR the new score or nil."""
    parsed = _zadd_flags(args)
    if isinstance(parsed, Error):
        return parsed
    flags, index = parsed
    scores = [numbers.parse_double(text) for text in args[index::2]]
    if None in scores:
        return NOT_FLOAT
    members = args[index + 1 :: 2]
    zset = lookup_zset(store, args[1], now_ms)
    if isinstance(zset, Error):
        return zset
    incr = b"INCR" in flags
    if zset is None and b"XX" in flags:
        return NULL if incr else ZERO
    stored = zset is not None
    zset = zset if zset is not None else ZSet()
    new = 0 if b"XX" in flags else len({m for m in members if m not in zset.scores})
    if len(zset) + new > COLLECTION_ELEMENTS_MAX:
        return TOO_MANY
    changes: list[Change] = []
    added = updated = 0
    result: float | None = None
    for score, member in zip(scores, members, strict=True):
        old = zset.scores.get(member)
        if incr and old is not None:
            score = old + score  # type: ignore[operator]
            if math.isnan(score):
                return NAN_SCORE  # INCR has one pair: nothing was changed yet
        if not _zadd_allows(flags, old, score):  # type: ignore[arg-type]
            continue
        result = score
        if old is None:
            added += 1
        elif old == score:
            continue
        else:
            updated += 1
        changes.append((member, zset.assign(member, score)))
    if not stored and zset.scores:
        store.put(args[1], zset, None)
    else:
        commit(store, args[1], zset, changes, now_ms)
    if incr:
        return NULL if result is None else score_reply(result)
    return Int(added + updated if b"CH" in flags else added)


def _zadd_allows(flags: set[bytes], old: float | None, score: float) -> bool:
    """Whether ZADD's NX/XX/GT/LT let `score` replace `old` (None: a new member)."""
    if old is None:
        return b"XX" not in flags
    if b"NX" in flags:
        return False
    if b"GT" in flags and score <= old:
        return False
    return not (b"LT" in flags and score >= old)


def zincrby(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """ZINCRBY key increment member -> the member's new score."""
    increment = numbers.parse_double(args[2])
    if increment is None:
        return NOT_FLOAT
    return zadd(store, [b"ZADD", args[1], b"INCR", args[2], args[3]], now_ms)


def zrem(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """ZREM key member [member ...] -> the number of members removed."""
    zset = lookup_zset(store, args[1], now_ms)
    if zset is None or isinstance(zset, Error):
        return ZERO if zset is None else zset
    changes = [(m, zset.assign(m, None)) for m in args[2:] if m in zset.scores]
    commit(store, args[1], zset, changes, now_ms)
    return Int(len(changes))


def zscore(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """ZSCORE key member -> the member's score, or nil."""
    zset = lookup_zset(store, args[1], now_ms)
    if zset is None or isinstance(zset, Error):
        return NULL if zset is None else zset
    score = zset.scores.get(args[2])
    return NULL if score is None else score_reply(score)


def zmscore(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """ZMSCORE key member [member ...] -> the score of each member (nil if absent)."""
    zset = lookup_zset(store, args[1], now_ms)
    if isinstance(zset, Error):
        return zset
    scores = {} if zset is None else zset.scores
    return Array(tuple(NULL if m not in scores else score_reply(scores[m]) for m in args[2:]))


def zcard(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """ZCARD key -> the number of members (0 if absent)."""
    zset = lookup_zset(store, args[1], now_ms)
    if isinstance(zset, Error):
        return zset
    return Int(0 if zset is None else len(zset))


def zrank(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """ZRANK / ZREVRANK key member -> the member's 0-based rank (low to high, or high to
    low), or nil."""
    zset = lookup_zset(store, args[1], now_ms)
    if zset is None or isinstance(zset, Error):
        return NULL if zset is None else zset
    rank = zset.rank(args[2])
    if rank is None:
        return NULL
    return Int(len(zset) - 1 - rank if args[0].upper() == b"ZREVRANK" else rank)


def zpop(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """ZPOPMIN / ZPOPMAX key [count] -> the popped member and score (lowest or highest);
    with a count, up to count pairs."""
    if len(args) > 3:
        return SYNTAX
    count = 1
    if len(args) == 3:
        parsed = numbers.parse_int(args[2])
        if parsed is None or parsed < 0:
            return MUST_BE_POSITIVE
        count = parsed
    zset = lookup_zset(store, args[1], now_ms)
    if zset is None or isinstance(zset, Error):
        return EMPTY_ARRAY if zset is None else zset
    count = min(count, len(zset))
    top = args[0].upper() == b"ZPOPMAX"
    picked = [zset.order[-1 - i] if top else zset.order[i] for i in range(count)]
    changes = [(member, zset.assign(member, None)) for _, member in picked]
    commit(store, args[1], zset, changes, now_ms)
    flat = [item for score, member in picked for item in (Bulk(member), score_reply(score))]
    return Array(tuple(flat)) if len(args) == 2 else Pairs(tuple(flat))


#: A sorted set of at most this many members comes back whole from one ZSCAN, cursor 0
#: (Redis does the same for its small, listpack-encoded sets).
ZSCAN_WHOLE_MAX = 128


def zscan(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """ZSCAN key cursor [MATCH pattern] [COUNT count] -> [next cursor, [member, score ...]].
    A big set is walked by its members' buckets, so a member present from the start to
    the end of a full iteration is returned at least once, as Redis promises."""
    options = parse_scan(args, 2, allow_type=False)
    if isinstance(options, Error):
        return options
    zset = lookup_zset(store, args[1], now_ms)
    if zset is None or isinstance(zset, Error):
        return Array((Bulk(b"0"), EMPTY_ARRAY)) if zset is None else zset
    if len(zset) <= ZSCAN_WHOLE_MAX:
        cursor, members = 0, [member for _, member in zset.order]
    else:
        cursor, members = zset.scan_index().scan(min(options.cursor, SCAN_BUCKETS), options.count)
    if options.pattern is not None:
        match = matcher(options.pattern)
        members = [member for member in members if match(member)]
    scores = zset.scores
    flat = [item for m in members for item in (Bulk(m), Bulk(format_double(scores[m]).encode()))]
    return Array((Bulk(str(cursor).encode()), Array(tuple(flat))))
