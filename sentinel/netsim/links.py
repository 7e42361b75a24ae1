"""The router's side of one endpoint connection: non-blocking, batched, bounded.

The router never blocks on an endpoint: a paused (SIGSTOPped) or slow endpoint must not
stall the network. So each link owns a raw non-blocking file descriptor (a socketpair end or
an accepted Unix socket), reads big chunks and splits them into messages itself, and keeps a
bounded output queue that is written with one `os.writev` per loop turn. The byte format is
the one `multiprocessing.connection.Connection.send_bytes/recv_bytes` use (a 4-byte signed
big-endian length, then the bytes), so endpoints use ordinary Connection objects.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from itertools import islice

from sentinel.netsim.framing import LENGTH, ProtocolError, Splitter
from sentinel.netsim.stats import Counters

__all__ = ["LENGTH", "Link", "ProtocolError", "framed"]

READ_BYTES = 256 * 1024
IOV_MAX = 1024
OUT_MSGS_MAX = 20_000
OUT_BYTES_MAX = 192 * 1024 * 1024


def framed(msg: bytes) -> bytes:
    """`msg` with its 4-byte length prefix, as the router keeps and writes messages."""
    return LENGTH.pack(len(msg)) + msg


class Link:
    """One endpoint connection as the router sees it.

    `out_bytes` is the size of the messages queued in `out`, which stays within
    OUT_MSGS_MAX messages and OUT_BYTES_MAX bytes (the router asks `queue_room` first).
    """

    __slots__ = (
        "counters",
        "endpoint_id",
        "fd",
        "msg_bytes_max",
        "out",
        "out_bytes",
        "outstanding",
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
        self.out: deque[bytes | memoryview] = deque()  # framed messages, in order
        self.out_bytes = 0
        self.want_write = False  # registered for EVENT_WRITE
        self.outstanding: set[tuple[int, int]] = set()  # (caller, request id) handed to us

    def read_messages(self, buffer: bytearray) -> list[bytes] | None:
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

    def queue_room(self, size: int) -> bool:
        """Whether a message of `size` bytes fits the bounded output queue."""
        return len(self.out) < OUT_MSGS_MAX and self.out_bytes + size <= OUT_BYTES_MAX

    def queue(self, msg: bytes) -> None:
        """Append one framed message to the output queue (the caller checked `queue_room`)."""
        self.out.append(msg)
        self.out_bytes += len(msg)

    def flush(self) -> bool | None:
        """Write as much queued output as the kernel takes. True when everything is written,
        False when some is left (wait for EVENT_WRITE), None when the peer is gone."""
        out = self.out
        while out:
            batch = list(out) if len(out) <= IOV_MAX else list(islice(out, IOV_MAX))
            try:
                written = os.writev(self.fd, batch)
            except (BlockingIOError, InterruptedError):
                return False
            except OSError:
                return None
            self.out_bytes -= written
            while written:
                head = out[0]
                if len(head) <= written:
                    written -= len(head)
                    out.popleft()
                else:
                    out[0] = memoryview(head)[written:]
                    written = 0
                    return False
        return True

    def drop_output(self) -> None:
        """Forget queued output (the peer is gone)."""
        self.out.clear()
        self.out_bytes = 0

    def close(self) -> None:
        """Close the file descriptor (idempotent)."""
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1
        self.drop_output()
