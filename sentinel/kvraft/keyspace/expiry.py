"""The expiry index: each volatile key's expiry time, and the keys in expiry order.

Times are absolute milliseconds of *log time* (the leader's stamp on each entry, see
`Keyspace`), never a replica's clock. A key is expired at `now_ms` when
`now_ms >= at_ms[key]`.

`at_ms` is the truth; `_heap` holds (at_ms, key) pairs in heap order with lazy deletion: a
pair is live only while `at_ms[key]` still equals its time. Stale pairs are dropped when
they reach the top, and the whole heap is rebuilt when stale pairs outnumber live ones, so
the heap never holds more than 2 * len(at_ms) + HEAP_SLACK pairs.

`due(now_ms, limit)` is a pure function of `at_ms`: the expired keys in (at_ms, key) order,
so every replica (and a replica restored from a snapshot, whose heap was built in another
order) names the same keys.
"""

from __future__ import annotations

import heapq

HEAP_SLACK = 1024


class ExpiryIndex:
    """Key -> expiry time, plus the keys ordered by (time, key)."""

    __slots__ = ("_heap", "at_ms")

    def __init__(self, at_ms: dict[bytes, int] | None = None) -> None:
        self.at_ms: dict[bytes, int] = dict(at_ms or {})
        self._heap: list[tuple[int, bytes]] = [(at, key) for key, at in self.at_ms.items()]
        heapq.heapify(self._heap)

    def __len__(self) -> int:
        return len(self.at_ms)

    def set(self, key: bytes, at_ms: int) -> None:
        """Make `key` expire at `at_ms`."""
        if self.at_ms.get(key) == at_ms:
            return
        self.at_ms[key] = at_ms
        heapq.heappush(self._heap, (at_ms, key))
        if len(self._heap) > 2 * len(self.at_ms) + HEAP_SLACK:
            self._heap = [(at, k) for k, at in self.at_ms.items()]
            heapq.heapify(self._heap)

    def remove(self, key: bytes) -> None:
        """Make `key` persistent (its heap pair goes stale)."""
        self.at_ms.pop(key, None)

    def clear(self) -> None:
        """Forget every expiry."""
        self.at_ms = {}
        self._heap = []

    def due(self, now_ms: int, limit: int) -> list[bytes]:
        """At most `limit` keys expired at `now_ms`, earliest (at_ms, key) first."""
        heap, at_ms = self._heap, self.at_ms
        found: list[tuple[int, bytes]] = []
        seen: set[bytes] = set()
        while heap and len(found) < limit and heap[0][0] <= now_ms:
            at, key = heapq.heappop(heap)
            if at_ms.get(key) != at or key in seen:
                continue  # stale or a duplicate pair: drop it
            seen.add(key)
            found.append((at, key))
        for pair in found:  # still live until a write deletes the key
            heapq.heappush(heap, pair)
        return [key for _at, key in found]
