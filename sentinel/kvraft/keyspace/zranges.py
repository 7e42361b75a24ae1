"""The range commands of Redis sorted sets: ZRANGE (by rank, BYSCORE, BYLEX, REV, LIMIT,
WITHSCORES), the older ZRANGEBYSCORE / ZREVRANGEBYSCORE / ZRANGEBYLEX / ZREVRANGEBYLEX /
ZREVRANGE, ZCOUNT, ZLEXCOUNT and ZREMRANGEBYRANK / BYSCORE / BYLEX.

A range is turned into positions [first, end) of the set's SortedList by bisection
(O(log n)); the reply walks only the members it returns. Bounds are parsed as Redis parses
them: a score bound is a float, "-inf"/"+inf", or "(" before it for an exclusive bound
("ERR min or max is not a float"); a lex bound is "-", "+", or "[" / "(" before a member
("ERR min or max not valid string range item"). Lex ranges assume, as Redis does, that the
members compared have one score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sentinel.kvraft.keyspace import numbers
from sentinel.kvraft.keyspace.lists import bounds
from sentinel.kvraft.keyspace.replies import (
    EMPTY_ARRAY,
    NOT_INTEGER,
    SYNTAX,
    ZERO,
    Bulk,
    Bulks,
    Error,
    Int,
    Pairs,
    Reply,
)
from sentinel.kvraft.keyspace.zsets import ZSet, commit, lookup_zset, score_reply

if TYPE_CHECKING:
    from sentinel.kvraft.keyspace.store import Store

NOT_FLOAT_RANGE = Error("ERR min or max is not a float")
NOT_LEX_RANGE = Error("ERR min or max not valid string range item")
LIMIT_NEEDS_BY = Error(
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
)
WITHSCORES_BYLEX = Error("ERR syntax error, WITHSCORES not supported in combination with BYLEX")

RANK, SCORE, LEX = "rank", "score", "lex"


@dataclass(slots=True)
class RangeQuery:
    """What a ZRANGE-family command asks for."""

    kind: str = ""  # RANK, SCORE or LEX; "" until chosen
    reverse: bool | None = None  # None until chosen
    withscores: bool = False
    offset: int = 0
    limit: int = -1  # -1: no LIMIT (or LIMIT with a negative count: all)
    limited: bool = False


def score_position(zset: ZSet, text: bytes, upper: bool) -> int | Error:
    """The position in `zset` where a score bound cuts: the first member past the bound
    for an upper bound (`upper`), the first member inside it for a lower one."""
    exclusive = text[:1] == b"("
    value = numbers.parse_range_double(text[1:] if exclusive else text)
    if value is None:
        return NOT_FLOAT_RANGE
    order = zset.order
    if exclusive != upper:  # lower exclusive or upper inclusive: after every `value`
        if value == math.inf:
            return len(order)
        value = math.nextafter(value, math.inf)
    return order.bisect_left((value,))


def lex_position(zset: ZSet, text: bytes, upper: bool) -> int | Error:
    """The position where a lex bound cuts (see score_position)."""
    head = text[:1]
    if text == b"-" or text == b"+":
        return 0 if text == b"-" else len(zset)
    if head not in (b"[", b"("):
        return NOT_LEX_RANGE
    member, after = text[1:], (head == b"[") == upper
    order = zset.order
    low, high = 0, len(order)
    while low < high:  # members ordered, as they are when the scores are equal
        middle = (low + high) // 2
        probe = order[middle][1]
        if probe < member or (after and probe == member):
            low = middle + 1
        else:
            high = middle
    return low


def positions(zset: ZSet, kind: str, low: bytes, high: bytes) -> tuple[int, int] | Error:
    """[first, end) of a score or lex range from its min and max bounds."""
    cut = score_position if kind == SCORE else lex_position
    first = cut(zset, low, False)
    if isinstance(first, Error):
        return first
    end = cut(zset, high, True)
    return end if isinstance(end, Error) else (first, end)


def check_bounds(kind: str, low: bytes, high: bytes) -> Error | None:
    """The error of an unparseable range, checked before the key is looked up."""
    empty = ZSet()
    found = positions(empty, kind, low, high)
    return found if isinstance(found, Error) else None


def _parse_options(args: list[bytes], query: RangeQuery, zrange: bool) -> Error | None:
    index = 4
    while index < len(args):
        word = args[index].upper()
        if word == b"WITHSCORES":
            query.withscores = True
        elif word == b"LIMIT" and len(args) - index - 1 >= 2:
            offset, limit = numbers.parse_int(args[index + 1]), numbers.parse_int(args[index + 2])
            if offset is None or limit is None:
                return NOT_INTEGER
            query.offset, query.limit, query.limited = offset, limit, True
            index += 2
        elif zrange and word == b"REV" and query.reverse is None:
            query.reverse = True
        elif zrange and word in (b"BYSCORE", b"BYLEX") and not query.kind:
            query.kind = SCORE if word == b"BYSCORE" else LEX
        else:
            return SYNTAX
        index += 1
    query.kind = query.kind or RANK
    query.reverse = bool(query.reverse)
    if query.limited and query.limit != -1 and query.kind == RANK:
        return LIMIT_NEEDS_BY
    if query.withscores and query.kind == LEX:
        return WITHSCORES_BYLEX
    return None


_LEGACY = {
    b"ZRANGEBYSCORE": (SCORE, False),
    b"ZREVRANGEBYSCORE": (SCORE, True),
    b"ZRANGEBYLEX": (LEX, False),
    b"ZREVRANGEBYLEX": (LEX, True),
    b"ZREVRANGE": (RANK, True),
}


def zrange(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES], and
    the older forms -> the members in the range (with their scores)."""
    query = RangeQuery()
    legacy = _LEGACY.get(args[0].upper())
    if legacy is not None:
        query.kind, query.reverse = legacy
    error = _parse_options(args, query, legacy is None)
    if error is not None:
        return error
    low, high = args[2], args[3]
    if query.reverse and query.kind != RANK:
        low, high = high, low  # the reversed forms name max first
    if query.kind == RANK:
        start, stop = numbers.parse_int(low), numbers.parse_int(high)
        if start is None or stop is None:
            return NOT_INTEGER
    else:
        error = check_bounds(query.kind, low, high)
        if error is not None:
            return error
    zset = lookup_zset(store, args[1], now_ms)
    if zset is None or isinstance(zset, Error):
        return EMPTY_ARRAY if zset is None else zset
    if query.kind == RANK:
        first, end = bounds(start, stop, len(zset))  # type: ignore[arg-type]
        if query.reverse:
            first, end = len(zset) - end, len(zset) - first
    else:
        found = positions(zset, query.kind, low, high)
        assert not isinstance(found, Error)  # checked above
        first, end = found
    return _reply(zset, first, end, query)


def _reply(zset: ZSet, first: int, end: int, query: RangeQuery) -> Reply:
    """The members at positions [first, end), in the query's direction, after its LIMIT."""
    if end <= first or (query.offset < 0 and query.kind != RANK):
        return EMPTY_ARRAY
    count = end - first
    if query.kind != RANK:
        count = max(0, count - query.offset)
        if query.limit >= 0:
            count = min(count, query.limit)
        if query.reverse:
            end -= query.offset
            first = end - count
        else:
            first += query.offset
            end = first + count
    if count <= 0:
        return EMPTY_ARRAY
    picked = zset.order.islice(first, end, reverse=query.reverse)
    if not query.withscores:
        return Bulks(tuple(member for _, member in picked))
    return Pairs(tuple(item for s, m in picked for item in (Bulk(m), score_reply(s))))


def _span(
    store: Store, args: list[bytes], now_ms: int, kind: str
) -> tuple[ZSet, int, int] | Error | None:
    """The sorted set of `key min max` (or `key start stop` for RANK) and the positions
    [first, end) the range names; None without the set, or the error (the range is checked
    before the key, as Redis does)."""
    if kind == RANK:
        start, stop = numbers.parse_int(args[2]), numbers.parse_int(args[3])
        if start is None or stop is None:
            return NOT_INTEGER
    else:
        error = check_bounds(kind, args[2], args[3])
        if error is not None:
            return error
    zset = lookup_zset(store, args[1], now_ms)
    if zset is None or isinstance(zset, Error):
        return zset
    if kind == RANK:
        return (zset, *bounds(start, stop, len(zset)))  # type: ignore[arg-type]
    found = positions(zset, kind, args[2], args[3])
    assert not isinstance(found, Error)  # checked above
    return (zset, *found)


def zcount(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """ZCOUNT key min max / ZLEXCOUNT key min max -> the number of members in the range."""
    span = _span(store, args, now_ms, LEX if args[0].upper() == b"ZLEXCOUNT" else SCORE)
    if span is None or isinstance(span, Error):
        return ZERO if span is None else span
    return Int(max(0, span[2] - span[1]))


_REMOVE_KINDS = {b"ZREMRANGEBYRANK": RANK, b"ZREMRANGEBYSCORE": SCORE, b"ZREMRANGEBYLEX": LEX}


def zremrange(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """ZREMRANGEBYRANK key start stop / ZREMRANGEBYSCORE key min max / ZREMRANGEBYLEX key
    min max -> the number of members removed."""
    span = _span(store, args, now_ms, _REMOVE_KINDS[args[0].upper()])
    if span is None or isinstance(span, Error):
        return ZERO if span is None else span
    zset, first, end = span
    if end <= first:
        return ZERO
    doomed = list(zset.order.islice(first, end))
    changes = [(member, zset.assign(member, None)) for _, member in doomed]
    commit(store, args[1], zset, changes, now_ms)
    return Int(len(changes))
