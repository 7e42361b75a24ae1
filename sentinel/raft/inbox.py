"""A node's bounded line of client messages, so client traffic cannot delay raft traffic.

The router delivers one FIFO stream per node. A client that floods a node (200,000 junk
frames in a second) would put every peer's heartbeat reply behind its frames, and a leader
that hears no quorum within an election timeout steps down (check-quorum). So a node's loop
sorts each read by sender, which costs a 4-byte peek: messages from peers and the router are
handled at once, in order; client messages join this inbox, which the loop drains in
order with `serve` under a budget per turn: BAD_INPUT_PER_TURN_MAX bad frames or invalid
messages, CLIENT_BYTES_PER_TURN_MAX bytes; the rest wait a turn, behind the ticks, the
heartbeats and the Readys. Client ids are never forged (the router checks every sender's
id), so a client cannot jump the line.

The inbox is bounded (`INBOX_MSGS_MAX` messages, `INBOX_BYTES_MAX` bytes): past either
bound, new client messages are shed, counted and logged (rate limited), as the router's
overflow would shed them; a client whose request is shed retries it after its RPC timeout.
An empty inbox takes any one message, so a large valid request always gets in.
"""

from __future__ import annotations

import logging
import struct
from collections import deque
from collections.abc import Callable

from sentinel.netsim import protocol as p
from sentinel.netsim.logthrottle import LogThrottle

__all__ = [
    "BAD_INPUT_PER_TURN_MAX",
    "CLIENT_BYTES_PER_TURN_MAX",
    "INBOX_BYTES_MAX",
    "INBOX_MSGS_MAX",
    "ClientInbox",
    "from_client",
]

log = logging.getLogger(__name__)

#: Client messages a node holds unhandled: a few turns' worth of a flood's reads. (Good
#: traffic never waits here: without bad input the inbox empties every turn.)
INBOX_MSGS_MAX = 16_384
#: Bytes of client messages a node holds unhandled.
INBOX_BYTES_MAX = 64 * 1024 * 1024
#: Bad frames plus invalid raft messages handled per turn. Refusing one costs ~12 us at
#: most (a checksummed frame whose pickle is garbage): a few ms of a turn, at most.
BAD_INPUT_PER_TURN_MAX = 512
#: Client message bytes handled per turn (at least one message): checksums cost ~1 ms/MiB.
CLIENT_BYTES_PER_TURN_MAX = 4 * 1024 * 1024

_SRC = struct.Struct("<I").unpack_from  # the first field of the route header (protocol.py)


def from_client(raw: bytes) -> bool:
    """Whether a message (route header first) comes from a client endpoint; a message too
    short to say is not (the endpoint refuses it as it would any other)."""
    return len(raw) >= p.ROUTE_BYTES and _SRC(raw)[0] >= p.CLIENT_ID_FIRST


class ClientInbox:
    """Client messages in arrival order, bounded; see the module docstring."""

    __slots__ = ("bytes", "messages", "node_id", "shed", "shed_log")

    def __init__(self, node_id: int) -> None:
        self.node_id = node_id
        self.messages: deque[bytes] = deque()
        self.bytes = 0
        self.shed = 0  # client messages refused because the inbox was full
        self.shed_log = LogThrottle(log, "client messages shed")

    def __len__(self) -> int:
        return len(self.messages)

    def put(self, raw: bytes) -> None:
        """Queue one client message, or shed it when the inbox is full."""
        size = len(raw)
        if self.messages and (
            len(self.messages) >= INBOX_MSGS_MAX or self.bytes + size > INBOX_BYTES_MAX
        ):
            self.shed += 1
            self.shed_log.event(
                "node %d: client inbox full (%d messages, %d bytes); shedding new client "
                "messages", self.node_id, len(self.messages), self.bytes,
            )  # fmt: skip
            return
        self.messages.append(raw)
        self.bytes += size

    def take(self) -> bytes:
        """The oldest client message (the inbox must not be empty)."""
        raw = self.messages.popleft()
        self.bytes -= len(raw)
        return raw

    def serve(self, handle: Callable[[bytes], None], bad_input: Callable[[], int]) -> None:
        """Pass messages to `handle`, oldest first, until the inbox is empty or this turn's
        budget is spent: BAD_INPUT_PER_TURN_MAX more bad ones (as `bad_input()` counts
        them) or CLIENT_BYTES_PER_TURN_MAX bytes."""
        bad_max = bad_input() + BAD_INPUT_PER_TURN_MAX
        budget_bytes = CLIENT_BYTES_PER_TURN_MAX
        while self.messages and budget_bytes > 0:
            raw = self.take()
            budget_bytes -= len(raw)
            handle(raw)
            if bad_input() >= bad_max:
                return
