"""A node's bounded line of client messages, so client traffic cannot delay raft traffic.

The router delivers one FIFO stream per node. A client that floods a node (200,000 junk
frames in a second) puts every peer's heartbeat reply behind its frames, and a leader that
hears no quorum within an election timeout steps down (check-quorum). So the node's loop
sorts each read by sender, which costs a 4-byte peek: messages from peers and the router are
handled at once, in order; client messages join this inbox, which the loop drains in order
with `serve` under a budget per turn (BAD_INPUT_PER_TURN_MAX bad frames or invalid messages,
CLIENT_BYTES_PER_TURN_MAX bytes); the rest wait a turn, behind the ticks, the heartbeats and
the Readys. Client ids are never forged (the router checks every sender's id).

Refusing a bad frame costs up to ~12 us; dropping a message unread costs ~1 us. So a client
that sends MUTE_BAD_FRAMES bad frames within a second is muted for MUTE_S: its messages are
dropped as they are read, uncopied (`Endpoint.read_available(drop)`), and counted as shed;
other clients are not affected. Many junk clients at once fill the inbox instead: it is
bounded (`INBOX_MSGS_MAX` messages, `INBOX_BYTES_MAX` bytes), and from half full on every
client's new messages are dropped as they are read, until it is below half again. A client
whose request was shed retries it after its RPC timeout, as after a loss in the network.
An empty inbox takes any one message, so a large valid request always gets in. Sheds and
mutes are logged at most once a second (LogThrottle).
"""

from __future__ import annotations

import logging
import struct
import time
from collections import deque
from collections.abc import Callable, Container

from sentinel.netsim import protocol as p
from sentinel.netsim.endpoint import Endpoint
from sentinel.netsim.logthrottle import LogThrottle

__all__ = [
    "BAD_INPUT_PER_TURN_MAX",
    "CLIENT_BYTES_PER_TURN_MAX",
    "INBOX_BYTES_MAX",
    "INBOX_MSGS_MAX",
    "MUTE_BAD_FRAMES",
    "MUTE_S",
    "ClientInbox",
    "from_client",
]

log = logging.getLogger(__name__)

#: Client messages a node holds unhandled. (Good traffic never waits here: without bad input
#: the inbox empties every turn.)
INBOX_MSGS_MAX = 16_384
#: Bytes of client messages a node holds unhandled.
INBOX_BYTES_MAX = 64 * 1024 * 1024
#: Bad frames plus invalid raft messages handled per turn. Refusing one costs ~12 us at
#: most (a checksummed frame whose pickle is garbage): a few ms of a turn, at most.
BAD_INPUT_PER_TURN_MAX = 512
#: Client message bytes handled per turn (at least one message): checksums cost ~1 ms/MiB.
CLIENT_BYTES_PER_TURN_MAX = 4 * 1024 * 1024
#: Bad frames from one client within a second that get it muted, and for how long.
MUTE_BAD_FRAMES = 64
MUTE_S = 5.0
#: Reads (of endpoint.READ_BYTES) per turn while dropping: ~1 us a message, ~6 ms a read.
READS_DROPPING_MAX = 4
#: Clients muted at once; past that, the inbox's bounds do the shedding.
MUTED_MAX = 1024

_SRC = struct.Struct("<I").unpack_from  # the first field of the route header (protocol.py)
_EVERY_CLIENT = range(p.CLIENT_ID_FIRST, 2**32)


def from_client(raw: bytes) -> bool:
    """Whether a message (route header first) comes from a client endpoint; a message too
    short to say is not (the endpoint refuses it as it would any other)."""
    return len(raw) >= p.ROUTE_BYTES and _SRC(raw)[0] >= p.CLIENT_ID_FIRST


class ClientInbox:
    """Client messages in arrival order, bounded; see the module docstring."""

    def __init__(self, node_id: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.node_id = node_id
        self.clock = clock
        self.messages: deque[bytes] = deque()
        self.bytes = 0
        self.shed = 0  # client messages dropped: the inbox was full, or the client muted
        self.muted: dict[int, float] = {}  # client id -> muted until (clock seconds)
        self.bad_counts: dict[int, int] = {}  # client id -> bad frames this second
        self.counts_since = clock()
        self.shed_log = LogThrottle(log, "client messages shed")
        self.mute_log = LogThrottle(log, "clients muted")

    def __len__(self) -> int:
        return len(self.messages)

    @property
    def shedding(self) -> bool:
        """Whether the inbox is half full: new client messages are dropped as they are read."""
        return len(self.messages) >= INBOX_MSGS_MAX // 2 or self.bytes >= INBOX_BYTES_MAX // 2

    def to_drop(self) -> Container[int]:
        """The senders whose messages a read should drop unread (empty: none)."""
        if self.shedding:
            return _EVERY_CLIENT
        return self.muted.keys()

    def read(self, endpoint: Endpoint, readable: Callable[[], object]) -> list[bytes]:
        """What `endpoint` holds (call it when readable), less what `to_drop` says. While it
        drops, reading goes on, READS_DROPPING_MAX times at most and while `readable()`,
        until a peer's message turns up: in a flood, peers' messages wait behind the
        client's in one stream, and a leader must hear from a quorum in time."""
        drop = self.to_drop()
        if not drop:
            return endpoint.read_available()
        before = endpoint.shed_msgs
        arrivals = endpoint.read_available(drop)
        for _ in range(READS_DROPPING_MAX - 1):
            if arrivals or not readable():
                break
            arrivals = endpoint.read_available(drop)
        self.note_shed(endpoint.shed_msgs - before)
        return arrivals

    def note_shed(self, count: int) -> None:
        """`count` client messages were dropped."""
        if count <= 0:
            return
        self.shed += count
        self.shed_log.event(
            "node %d: shedding client messages (inbox %d messages, %d bytes; %d clients "
            "muted)", self.node_id, len(self.messages), self.bytes, len(self.muted),
            count=count,
        )  # fmt: skip

    def put(self, messages: list[bytes]) -> None:
        """Queue client messages, in order, as far as the bounds allow, and shed the rest
        (an empty inbox takes one however large). Muted senders' messages never get here:
        `read` drops them, and `serve` those it finds queued."""
        size = sum(map(len, messages))
        if len(self.messages) + len(messages) <= INBOX_MSGS_MAX and (
            self.bytes + size <= INBOX_BYTES_MAX
        ):
            self.messages.extend(messages)  # the common case: they all fit
            self.bytes += size
            return
        taken = 0
        for raw in messages:
            if self.messages and (
                len(self.messages) >= INBOX_MSGS_MAX or self.bytes + len(raw) > INBOX_BYTES_MAX
            ):
                break
            self.messages.append(raw)
            self.bytes += len(raw)
            taken += 1
        self.note_shed(len(messages) - taken)

    def serve(self, handle: Callable[[bytes], None], bad_input: Callable[[], int]) -> None:
        """Pass messages to `handle`, oldest first, until the inbox is empty or this turn's
        budget is spent: BAD_INPUT_PER_TURN_MAX more bad ones (as `bad_input()` counts
        them) or CLIENT_BYTES_PER_TURN_MAX bytes. A muted sender's messages are dropped."""
        bad = bad_input()
        bad_max = bad + BAD_INPUT_PER_TURN_MAX
        budget_bytes = CLIENT_BYTES_PER_TURN_MAX
        messages, muted = self.messages, self.muted
        while messages and budget_bytes > 0:
            raw = messages.popleft()
            self.bytes -= len(raw)
            if muted and _SRC(raw)[0] in muted:
                self.note_shed(1)
                continue
            budget_bytes -= len(raw)
            handle(raw)
            now_bad = bad_input()
            if now_bad != bad:
                bad = now_bad
                self.blame(_SRC(raw)[0])
                if bad >= bad_max:
                    return

    def blame(self, src: int) -> None:
        """Client `src` sent a bad frame or message: mute it at MUTE_BAD_FRAMES a second."""
        count = self.bad_counts.get(src, 0) + 1
        if count < MUTE_BAD_FRAMES or len(self.muted) >= MUTED_MAX:
            if len(self.bad_counts) < MUTED_MAX or src in self.bad_counts:
                self.bad_counts[src] = count
            return
        self.bad_counts.pop(src, None)
        self.muted[src] = self.clock() + MUTE_S
        self.mute_log.event(
            "node %d: client %d sent %d bad frames or messages within a second; its "
            "messages are dropped unread for %.0f s", self.node_id, src, count, MUTE_S,
        )  # fmt: skip

    def on_tick(self) -> None:
        """Forget last second's counts of bad frames; end the mutes that are over."""
        now = self.clock()
        if now - self.counts_since >= 1.0:
            self.bad_counts.clear()
            self.counts_since = now
        if self.muted:
            for src in [s for s, until in self.muted.items() if until <= now]:
                del self.muted[src]
        self.shed_log.flush()
        self.mute_log.flush()
