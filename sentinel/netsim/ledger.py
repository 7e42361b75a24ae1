"""The router's books: every endpoint's traffic counters and status blob, and reports of them.

Departed clients are folded into one `retired` record, all but the newest DEPARTED_KEPT: a
full report lists every endpoint it holds, and a long run of short-lived clients (every CLI
`put` is one) must not make each report cost more (8,192 of them took the router ~100 ms a
report). The supervisor, which asks five times a second, asks for its nodes only
(GetReport.endpoints): with 1,000 live clients, a full report took ~15 ms and one of three
nodes ~2 ms.
"""

from __future__ import annotations

from collections.abc import Collection, Container

from sentinel.netsim import protocol as p
from sentinel.netsim.stats import COUNTER_FIELDS, Counters, EndpointStats, totals

#: Departed clients whose own counters a full report still lists (the newest).
DEPARTED_KEPT = 64


class Ledger:
    """Counters and statuses by endpoint id; `retired` sums the departed clients folded."""

    def __init__(self, statuses_max: int) -> None:
        self.counters: dict[int, Counters] = {}
        self.statuses: dict[int, bytes] = {}
        self.statuses_max = statuses_max
        self.retired = Counters()

    def counters_of(self, endpoint: int) -> Counters:
        """The live counters of `endpoint`, made on first use."""
        counters = self.counters.get(endpoint)
        if counters is None:
            counters = self.counters[endpoint] = Counters()
        return counters

    def post_status(self, endpoint: int, blob: bytes) -> None:
        """Keep `blob` as the endpoint's status (a new endpoint's only while there is room)."""
        if endpoint in self.statuses or len(self.statuses) < self.statuses_max:
            self.statuses[endpoint] = blob

    def nodes(self) -> list[int]:
        """The node endpoints ever seen."""
        return [e for e in self.counters if e <= p.NODE_ID_MAX]

    def retire_departed(self, live: Collection[int]) -> None:
        """Fold the counters of departed clients (not `live`, nothing in flight) into
        `retired`, which totals include, all but the newest DEPARTED_KEPT."""
        if len(self.counters) - len(live) <= DEPARTED_KEPT:
            return  # (every live endpoint has counters): no scan on most closes
        departed = [
            endpoint
            for endpoint, counters in self.counters.items()
            if endpoint >= p.CLIENT_ID_FIRST
            and endpoint not in live
            and not counters.in_flight_msgs
        ]
        if len(departed) <= DEPARTED_KEPT:
            return
        departed.sort()
        retired = self.retired
        for endpoint in departed[:-DEPARTED_KEPT]:
            counters = self.counters.pop(endpoint)
            for name in COUNTER_FIELDS:
                setattr(retired, name, getattr(retired, name) + getattr(counters, name))
            self.statuses.pop(endpoint, None)

    def listing(
        self, endpoints: tuple[int, ...] | None, live: Container[int]
    ) -> tuple[tuple[EndpointStats, ...], EndpointStats, dict[int, bytes]]:
        """Counters and statuses of `endpoints` (None: of every endpoint), and totals over
        every endpoint, departed ones included."""
        counters, statuses = self.counters, self.statuses
        if endpoints is None:
            listed = sorted(counters)
            shown = dict(statuses)
        else:
            listed = sorted(e for e in set(endpoints) if e in counters)
            shown = {e: statuses[e] for e in endpoints if e in statuses}
        stats = tuple(counters[e].snapshot(e, e in live) for e in listed)
        return stats, totals((*counters.values(), self.retired)), shown
