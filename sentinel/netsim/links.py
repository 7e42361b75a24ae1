"""The router's side of one endpoint connection: non-blocking, batched, bounded, fair.

The router never blocks on an endpoint: a paused (SIGSTOPped) or slow endpoint must not
stall the network. So each link owns a raw non-blocking file descriptor (a socketpair end or
an accepted Unix socket), reads big chunks and splits them into messages itself, and keeps
bounded output queues that are written with `os.writev` each loop turn. The byte format is
the one `multiprocessing.connection.Connection.send_bytes/recv_bytes` use (a 4-byte signed
big-endian length, then the bytes), so endpoints use ordinary Connection objects.

Output goes in two lanes, so that clients can never delay or crowd out raft traffic: the
peer lane holds what nodes and the router send and is always written first; the client
lane holds what clients send, and each client may hold only a share of it
(CLIENT_SHARE_MSGS_MAX messages, CLIENT_SHARE_BYTES_MAX bytes), so a flooding client
overflows its own share and nobody else's. (A leader whose peers' heartbeat replies wait
behind a client's flood, or are dropped for it, steps down on check-quorum.)
Each sender's messages stay in order: a sender's messages always take the same lane.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable
from itertools import islice

from sentinel.netsim.framing import LENGTH, SENDER, ProtocolError, Splitter
from sentinel.netsim.protocol import CLIENT_ID_FIRST
from sentinel.netsim.stats import Counters

__all__ = ["LENGTH", "Link", "ProtocolError", "framed"]

#: What the router reads from a node's connection in one loop turn.
READ_BYTES = 256 * 1024
#: What it reads from a client's: routing costs ~3 us a message, so a read of a client's
#: flood of small junk frames (256 KiB: ~9,000 of them, ~25 ms) would hold every peer's
#: message in that turn for as long, or for ten times as long on a starved router.
CLIENT_READ_BYTES = 32 * 1024
IOV_MAX = 1024
#: Bounds of each lane (peer, client) of one link's output.
OUT_MSGS_MAX = 20_000
OUT_BYTES_MAX = 192 * 1024 * 1024
#: What one client may hold in one link's client lane. A kv client has at most 64 calls
#: out (kvraft.client.CLERKS_MAX_DEFAULT); an empty share takes any one message that fits
#: the lane, so a large request always gets in.
CLIENT_SHARE_MSGS_MAX = 4096
CLIENT_SHARE_BYTES_MAX = 16 * 1024 * 1024
_sender = SENDER.unpack_from


def framed(msg: bytes) -> bytes:
    """`msg` with its 4-byte length prefix, as the router keeps and writes messages."""
    return LENGTH.pack(len(msg)) + msg


class Link:
    """One endpoint connection as the router sees it.

    `out` (the peer lane: from nodes and the router) and `client_out` (the client lane)
    hold framed messages; `out_bytes` and `client_bytes` are their sizes, each within
    OUT_MSGS_MAX messages and OUT_BYTES_MAX bytes (`put` refuses what does not fit).
    `share_msgs` and `share_bytes` are what each client holds in the client lane.
    """

    __slots__ = (
        "client_bytes",
        "client_out",
        "counters",
        "endpoint_id",
        "fd",
        "msg_bytes_max",
        "out",
        "out_bytes",
        "outstanding",
        "refused_frames",
        "share_bytes",
        "share_msgs",
        "splitter",
        "want_write",
    )

    def __init__(self, fd: int, endpoint_id: int, counters: Counters, msg_bytes_max: int) -> None:
        os.set_blocking(fd, False)
        self.fd = fd
        self.endpoint_id = endpoint_id
        self.counters = counters
        self.msg_bytes_max = msg_bytes_max
        self.splitter = Splitter(msg_bytes_max, keep_prefix=True)
        self.out: deque[bytes | memoryview] = deque()  # the peer lane, in order
        self.out_bytes = 0
        self.client_out: deque[bytes] = deque()  # the client lane, in order
        self.client_bytes = 0
        self.share_msgs: dict[int, int] = {}  # client id -> its messages in client_out
        self.share_bytes: dict[int, int] = {}  # client id -> their bytes
        self.want_write = False  # registered for EVENT_WRITE
        self.outstanding: set[tuple[int, int]] = set()  # (caller, request id) handed to us
        self.refused_frames = 0  # frames of this client that nodes refused (F_REFUSED)

    def read_messages(self, buffer: bytearray | memoryview) -> list[bytes] | None:
        """Read what is available into `buffer` (scratch space shared by every link, so no
        big allocation per read); return the complete messages, in order, each still FRAMED
        (with its 4-byte length prefix, so it is forwarded as is); None at end of file.
        Raises ProtocolError when the peer announces an impossible length."""
        try:
            count = os.readv(self.fd, (buffer,))
        except (BlockingIOError, InterruptedError):
            return []
        except OSError:
            return None
        if not count:
            return None
        try:
            return self.splitter.feed(memoryview(buffer)[:count])
        except ProtocolError as exc:
            raise ProtocolError(f"{exc} from endpoint {self.endpoint_id}") from None

    def put(self, msg: bytes, src: int) -> bool:
        """Queue one framed message from endpoint `src` (the router is 0) in its lane; False
        (nothing queued) when the lane, or the client's share of it, is full."""
        size = len(msg)
        if src < CLIENT_ID_FIRST:
            if len(self.out) >= OUT_MSGS_MAX or self.out_bytes + size > OUT_BYTES_MAX:
                return False
            self.out.append(msg)
            self.out_bytes += size
            return True
        held = self.share_msgs.get(src, 0)
        if held and (
            held >= CLIENT_SHARE_MSGS_MAX or self.share_bytes[src] + size > CLIENT_SHARE_BYTES_MAX
        ):
            return False
        if len(self.client_out) >= OUT_MSGS_MAX or self.client_bytes + size > OUT_BYTES_MAX:
            return False
        self.client_out.append(msg)
        self.client_bytes += size
        self.share_msgs[src] = held + 1
        self.share_bytes[src] = self.share_bytes.get(src, 0) + size
        return True

    def flush(self) -> bool | None:
        """Write as much queued output as the kernel takes, the peer lane first. True when
        everything is written, False when some is left (wait for EVENT_WRITE), None when
        the peer is gone."""
        done = self._write(self.out, self._sent_peer)
        if done and self.client_out:
            done = self._write(self.client_out, self._sent_client)
        return done

    def _write(self, lane: deque, sent: Callable[[int], bool]) -> bool | None:
        """Write `lane` until it is empty (True), the kernel is full (False) or the peer is
        gone (None); `sent(bytes_written)` takes the written messages off the lane."""
        while lane:
            batch = list(lane) if len(lane) <= IOV_MAX else list(islice(lane, IOV_MAX))
            try:
                written = os.writev(self.fd, batch)
            except (BlockingIOError, InterruptedError):
                return False
            except OSError:
                return None
            if not sent(written):
                return False
        return True

    def _sent_peer(self, written: int) -> bool:
        """Take `written` bytes off the peer lane; False when its head is half written."""
        out = self.out
        self.out_bytes -= written
        while written:
            head = out[0]
            if len(head) > written:
                out[0] = memoryview(head)[written:]
                return False
            written -= len(head)
            out.popleft()
        return True

    def _sent_client(self, written: int) -> bool:
        """Take `written` bytes off the client lane and its senders' shares. A half-written
        message's rest moves to the head of the peer lane (empty now: it is written first),
        so that it is finished before anything else enters the byte stream."""
        lane, msgs, sizes = self.client_out, self.share_msgs, self.share_bytes
        self.client_bytes -= written
        while written:
            head = lane.popleft()
            size = len(head)
            src = _sender(head, 4)[0]
            if msgs[src] > 1:
                msgs[src] -= 1
                sizes[src] -= size
            else:
                del msgs[src], sizes[src]
            if size > written:
                rest = memoryview(head)[written:]
                self.client_bytes -= len(rest)
                self.out.appendleft(rest)
                self.out_bytes += len(rest)
                return False
            written -= size
        return True

    def drop_output(self) -> None:
        """Forget queued output (the peer is gone)."""
        self.out.clear()
        self.out_bytes = 0
        self.client_out.clear()
        self.client_bytes = 0
        self.share_msgs.clear()
        self.share_bytes.clear()

    def close(self) -> None:
        """Close the file descriptor (idempotent)."""
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1
        self.drop_output()
