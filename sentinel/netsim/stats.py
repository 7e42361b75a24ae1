"""Per-endpoint traffic counters, shared by the router and the virtual-time network.

Attribution: `sent_*` counts everything an endpoint handed to the network; `received_*`
counts what the network delivered to it. `dropped_msgs` (lost by an unreliable network),
`unreachable_msgs` (no path, or destination dead), `overflow_msgs` (a bounded queue was
full), `delayed_msgs` (held on a timer) and `in_flight_msgs` (on a timer right now) are
charged to the SENDER of the message. `duplicated_msgs` counts extra copies delivered.
`bad_frames` counts frames from this endpoint that the network refused (too short, forged
source, unknown destination flag).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable

from sentinel.wire import message

COUNTER_FIELDS = (
    "sent_msgs",
    "sent_bytes",
    "received_msgs",
    "received_bytes",
    "dropped_msgs",
    "unreachable_msgs",
    "overflow_msgs",
    "delayed_msgs",
    "duplicated_msgs",
    "in_flight_msgs",
    "bad_frames",
)


class Counters:
    """Mutable counters of one endpoint (hot path: plain attribute increments)."""

    __slots__ = COUNTER_FIELDS

    def __init__(self) -> None:
        for name in COUNTER_FIELDS:
            setattr(self, name, 0)

    def snapshot(self, endpoint_id: int, connected: bool) -> EndpointStats:
        """A frozen copy, safe to send or keep."""
        return EndpointStats(
            endpoint_id, connected, *(getattr(self, name) for name in COUNTER_FIELDS)
        )


@message
class EndpointStats:
    """A frozen copy of one endpoint's counters (endpoint_id 0 in a totals record)."""

    endpoint_id: int
    connected: bool
    sent_msgs: int = 0
    sent_bytes: int = 0
    received_msgs: int = 0
    received_bytes: int = 0
    dropped_msgs: int = 0
    unreachable_msgs: int = 0
    overflow_msgs: int = 0
    delayed_msgs: int = 0
    duplicated_msgs: int = 0
    in_flight_msgs: int = 0
    bad_frames: int = 0


def totals(stats: Iterable[EndpointStats | Counters]) -> EndpointStats:
    """The sum of several endpoints' counters (frozen or live), as one record with
    endpoint_id 0."""
    rows = list(map(operator.attrgetter(*COUNTER_FIELDS), stats))  # a value per field each
    if not rows:
        return EndpointStats(0, True)
    sums = [sum(column) for column in zip(*rows, strict=True)]
    return EndpointStats(0, True, *sums)
