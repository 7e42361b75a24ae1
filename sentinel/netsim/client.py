"""The client side: connect to a cluster's router and make RPCs from many threads.

`connect(cluster_dir)` opens `<dir>/router.sock` with the auth key in `<dir>/authkey`, learns
this client's endpoint id from the router's HELLO, and starts one reader thread that matches
replies to calls by request id. Any number of threads may use one `Network`:

- `call(dst, method, args, timeout_s)` blocks the calling thread until the reply, a router
  Failure or the timeout (each call waits on its own slot with its own timeout);
- `call_async(dst, method, args, timeout_s, callback)` returns at once; `callback(reply)`
  (the RpcReply, or None for loss, unreachable peer, timeout or close) runs exactly once,
  on the reader thread, which also keeps the timeouts: a heap of deadlines it checks while
  it waits for traffic (`select.poll` until the nearest deadline). Callbacks must be quick
  and must not block (they hold up every other reply); an exception in one is logged and
  does not stop the reader. A callback may call `call_async` / `call_later` again (a
  blocking `call` there raises RuntimeError: it would wait for its own thread).
- `call_later(delay_s, callback)`: `callback()` on the reader thread after `delay_s`.
- `add_flush_hook(hook)`: `hook()` runs on the reader thread once per batch of replies,
  just before what the batch's callbacks sent is written out: a caller that coalesces the
  calls its callbacks make (kvraft's batching) sends them there. `on_reader_thread()` says
  whether the current thread is the reader (elsewhere nothing would run the hook soon).

The reader reads every whole message that has arrived with one system call
(`Endpoint.read_available`), and the endpoint is corked: what callbacks send during a batch
goes out in one write before the reader waits again (other threads flush their own sends
at once). Small replies that repeat byte for byte (a write's OK) are decoded once.

An asyncio program can make its loop the reader instead (`connect(dir, loop=loop)`,
loopreader.py): the connection is one of the loop's readers, and callbacks, timers and
flush hooks run on the loop thread, so calls made there are answered there, with no other
thread between a request and its reply.

Closing (or losing the router) completes every waiting call at once: blocking calls return
None, async callbacks get None, and pending `call_later` callbacks run early. After that,
`call_async` and `call_later` raise `NetworkClosed`. Both are bounded (PENDING_CALLS_MAX,
TIMERS_MAX): past the bound they raise RuntimeError, before sending anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import math
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sentinel.netsim import protocol as p
from sentinel.netsim.dial import dial, not_accepting
from sentinel.netsim.endpoint import Endpoint, Failure, Reply
from sentinel.netsim.loopreader import LoopReader
from sentinel.netsim.pending import AsyncCall, ReplyCallback, Slot, run_quietly
from sentinel.netsim.rpc import ClientEnd, RpcCall, RpcReply
from sentinel.wire import encode

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
PENDING_CALLS_MAX = 10_000
TIMERS_MAX = 10_000
FLUSH_HOOKS_MAX = 8
#: Replies up to this size (route header included) are remembered by their bytes ...
REPLY_CACHE_MSG_BYTES_MAX = 512
#: ... this many of them (the oldest is forgotten first).
REPLY_CACHE_ENTRIES_MAX = 64
_FLAGS_AT = p.ROUTE_BYTES - 1  # the flags byte of the route header
#: The deadline heap drops entries of finished calls when it grows past this.
_HEAP_COMPACT_SIZE = 4 * (PENDING_CALLS_MAX + TIMERS_MAX)


class NetworkClosed(ConnectionError):
    """The network is closed: no more calls can be made on it."""


class Network:
    """A client's connection to the router, shared by many threads."""

    def __init__(self, endpoint: Endpoint, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """`loop`: read on that asyncio loop (loopreader.py) rather than a reader thread."""
        self.endpoint = endpoint
        self._pending: dict[int, Slot | AsyncCall] = {}
        # (deadline, tie, request_id, timer callback): a call's timeout (request_id > 0;
        # stale once the call left _pending) or a call_later timer (request_id 0).
        self._heap: list[tuple[float, int, int, Callable[[], None] | None]] = []
        self._ties = itertools.count()
        self._timers = 0  # call_later entries in the heap
        self._lock = threading.Lock()
        self._closed = False
        self._sleeps_until = math.inf  # the deadline the reader's poll waits for
        self._reply_cache: dict[bytes, Any] = {}  # reader thread only
        self._reader_ident = 0
        self._flush_hooks: list[Callable[[], None]] = []
        # Sends are corked: the reader writes what its callbacks sent once per batch of
        # replies (one system call, one router wake-up); other threads flush their own.
        endpoint.cork()
        self._reader: threading.Thread | None = None
        self._loop_reader: LoopReader | None = None
        self._wake_r = self._wake_w = -1
        if loop is not None:
            self._loop_reader = LoopReader(self, loop)
            return
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._reader = threading.Thread(target=self._read_loop, name="netsim-reader", daemon=True)
        self._reader.start()

    @property
    def endpoint_id(self) -> int:
        """This client's endpoint id (assigned by the router)."""
        return self.endpoint.endpoint_id

    @property
    def closed(self) -> bool:
        """Whether the connection is closed (or lost)."""
        return self._closed

    def on_reader_thread(self) -> bool:
        """Whether the calling thread is this network's reader (callbacks run there)."""
        return threading.get_ident() == self._reader_ident

    def burst(self, fn: Callable[[], None]) -> None:
        """On the reader thread: `fn()`, whose sends leave (after the flush hooks) when it
        returns, as a batch of replies' do; for a loop reader's own callbacks that start
        calls (a reader thread flushes before it waits anyway)."""
        if self._loop_reader is not None:
            self._loop_reader.burst(fn)
        else:
            fn()

    def flush_soon(self) -> None:
        """On the reader thread: run the flush hooks and write out what is held before the
        reader waits again. Only a loop reader needs telling (its loop's own callbacks are
        not the network's); a reader thread always does so before it waits."""
        if self._loop_reader is not None:
            self._loop_reader.turn_soon()

    def add_flush_hook(self, hook: Callable[[], None]) -> None:
        """Run `hook()` on the reader thread before every write-out of what its callbacks
        sent (once per batch of arrivals or timers), and once more at close, after the
        waiting calls were completed (a hook's `call_async` then raises NetworkClosed).
        Hooks must be quick; an exception in one is logged."""
        assert len(self._flush_hooks) < FLUSH_HOOKS_MAX, "too many flush hooks"
        self._flush_hooks.append(hook)

    def _run_flush_hooks(self) -> None:
        for hook in self._flush_hooks:
            run_quietly(hook)

    def end(self, dst: int) -> ClientEnd:
        """A ClientEnd for calling endpoint `dst`."""
        return ClientEnd(self, dst)

    def send(self, dst: int, obj: Any, reply: bool = False) -> None:
        """Send a one-way message."""
        self._send_frame(dst, encode(obj), p.F_REPLY if reply else p.F_REQUEST, 0)

    def _send_frame(self, dst: int, frame: bytes, flags: int, request_id: int) -> None:
        self.endpoint.send_frame(dst, frame, flags, request_id)
        if threading.get_ident() != self._reader_ident:
            self.endpoint.flush()  # the reader flushes its own before it waits
        elif self._loop_reader is not None:
            self._loop_reader.turn_soon()

    # -- blocking calls ---------------------------------------------------------------------

    def call(self, dst: int, method: str, args: Any, timeout_s: float) -> RpcReply | None:
        """One RPC; the RpcReply, or None on loss, unreachable peer or timeout."""
        reply = self._request(dst, lambda rid: self._send_call(dst, rid, method, args), timeout_s)
        return reply if isinstance(reply, RpcReply) else None

    def report(self, timeout_s: float = 5.0) -> p.RouterReport | None:
        """The router's report as this connection may see it: the nodes' counters and status
        blobs and this endpoint's own counters, with totals over every endpoint."""
        answer = self._request(
            p.ROUTER_ID,
            lambda rid: self._send_frame(p.ROUTER_ID, b"", p.F_QUERY, rid),
            timeout_s,
        )
        return answer if isinstance(answer, p.RouterReport) else None

    def _send_call(self, dst: int, request_id: int, method: str, args: Any) -> None:
        self._send_frame(dst, encode(RpcCall(method, args)), p.F_REQUEST, request_id)

    def _request(self, dst: int, send: Any, timeout_s: float) -> Any:
        if threading.get_ident() == self._reader_ident:
            raise RuntimeError("a blocking call from a callback would wait for its own thread")
        request_id = self.endpoint.new_request_id()
        slot = Slot(dst)
        with self._lock:
            if self._closed:
                return None
            if len(self._pending) >= PENDING_CALLS_MAX:
                raise RuntimeError(f"more than {PENDING_CALLS_MAX} calls pending")
            self._pending[request_id] = slot
        try:
            send(request_id)
            slot.wait(timeout_s)
        except (OSError, EOFError):
            return None
        finally:
            with self._lock:
                self._pending.pop(request_id, None)
        return slot.result

    # -- asynchronous calls -----------------------------------------------------------------

    def call_async(
        self, dst: int, method: str, args: Any, timeout_s: float, callback: ReplyCallback
    ) -> None:
        """Send one RPC and return; `callback(RpcReply | None)` runs exactly once on the
        reader thread (see the module docstring). Raises NetworkClosed once closed and
        RuntimeError past PENDING_CALLS_MAX (the callback is then never called)."""
        frame = encode(RpcCall(method, args))  # a bad argument raises here, before any state
        request_id = self.endpoint.new_request_id()
        deadline = time.monotonic() + max(0.0, timeout_s)
        with self._lock:
            if self._closed:
                raise NetworkClosed("the network is closed")
            if len(self._pending) >= PENDING_CALLS_MAX:
                raise RuntimeError(f"more than {PENDING_CALLS_MAX} calls pending")
            self._pending[request_id] = AsyncCall(dst, callback)
            self._push(deadline, request_id, None)
        # If the router is gone, the reader's end-of-file sweep answers None. (No
        # contextlib.suppress: it costs more than the rest of this line, once per call.)
        try:  # noqa: SIM105
            self._send_frame(dst, frame, p.F_REQUEST, request_id)
        except (OSError, EOFError):
            pass

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> None:
        """Run `callback()` on the reader thread after `delay_s` (early, at close). Raises
        NetworkClosed once closed and RuntimeError past TIMERS_MAX."""
        deadline = time.monotonic() + max(0.0, delay_s)
        with self._lock:
            if self._closed:
                raise NetworkClosed("the network is closed")
            if self._timers >= TIMERS_MAX:
                raise RuntimeError(f"more than {TIMERS_MAX} timers pending")
            self._timers += 1
            self._push(deadline, 0, callback)

    def _push(self, deadline: float, request_id: int, timer: Callable[[], None] | None) -> None:
        """Add a deadline (lock held); wake the reader if it sleeps past it."""
        heap = self._heap
        if len(heap) >= _HEAP_COMPACT_SIZE:
            pending = self._pending
            heap[:] = [e for e in heap if e[2] == 0 or e[2] in pending]
            heapq.heapify(heap)
        heapq.heappush(heap, (deadline, next(self._ties), request_id, timer))
        if deadline < self._sleeps_until:
            self._sleeps_until = deadline
            if self._loop_reader is not None:
                self._loop_reader.kick()
                return
            with contextlib.suppress(BlockingIOError):  # full of wake-ups already
                os.write(self._wake_w, b"!")

    # -- the reader thread ------------------------------------------------------------------

    def _read_loop(self) -> None:
        self._reader_ident = threading.get_ident()
        endpoint = self.endpoint
        poller = select.poll()  # one poll object for the thread's life (Connection.poll
        poller.register(endpoint.fileno(), select.POLLIN)  # makes a selector per call)
        poller.register(self._wake_r, select.POLLIN)
        try:
            while True:
                if self._flush_hooks:
                    self._run_flush_hooks()  # calls the callbacks held back, sent now
                endpoint.flush()  # what the callbacks sent, in one write
                ready = poller.poll(self._wait_ms())
                self._sleeps_until = -math.inf  # awake: a new deadline needs no wake-up
                for fd, _events in ready:
                    if fd == self._wake_r:
                        os.read(self._wake_r, 4096)
                        continue
                    for msg in endpoint.read_available():  # every whole message, one read
                        self._deliver(self._parse(msg))
                self._expire(time.monotonic())
        except (EOFError, OSError, ValueError):
            pass  # end of file, or the connection was closed under us
        finally:
            self._sweep()

    def _parse(self, msg: bytes) -> Any:
        """`endpoint.parse(msg)`, but a small reply whose very bytes came before reuses the
        decoded object (decoding is most of a reply's cost; the objects are immutable and
        many replies are alike, e.g. a write's OK)."""
        size = len(msg)
        if not p.ROUTE_BYTES <= size <= REPLY_CACHE_MSG_BYTES_MAX or msg[_FLAGS_AT] != p.F_REPLY:
            return self.endpoint.parse(msg)
        payload = msg[p.ROUTE_BYTES :]
        cache = self._reply_cache
        obj = cache.get(payload)
        if obj is not None:
            src, _dst, request_id, _flags = p.ROUTE.unpack_from(msg)
            return Reply(src, request_id, obj)
        item = self.endpoint.parse(msg)
        if isinstance(item, Reply) and item.request_id:
            if len(cache) >= REPLY_CACHE_ENTRIES_MAX:
                del cache[next(iter(cache))]  # the oldest entry
            cache[payload] = item.obj
        return item

    def _wait_ms(self) -> int:
        """How long the reader may sleep: until the nearest deadline (-1: no deadline)."""
        deadline = self._next_deadline()
        if deadline == math.inf:
            return -1
        return max(0, math.ceil((deadline - time.monotonic()) * 1000.0))

    def _next_deadline(self, wakes_at: float = math.inf) -> float:
        """The nearest live deadline (inf: none). The reader wakes by it, or by `wakes_at`
        when earlier: a deadline added later wakes the reader only if it is earlier still."""
        with self._lock:
            heap, pending = self._heap, self._pending
            # A finished call's deadline stays in the heap; waking for it would cost one
            # idle wake-up per call (each RPC leaves one behind, due 1.5 s later).
            while heap and heap[0][2] and heap[0][2] not in pending:
                heapq.heappop(heap)
            deadline = heap[0][0] if heap else math.inf
            self._sleeps_until = min(deadline, wakes_at)
        return deadline

    def _deliver(self, item: Any) -> None:
        if isinstance(item, Reply | Failure):
            with self._lock:
                entry = self._pending.get(item.request_id)
                if entry is None or entry.dst != item.src:
                    return  # late (timed out) or not ours
                del self._pending[item.request_id]
            entry.finish(item.obj if isinstance(item, Reply) else None)
        elif item is not None:
            log.debug("client %d ignores %s", self.endpoint.endpoint_id, type(item).__name__)

    def _expire(self, now: float) -> None:
        """Time out the calls and fire the timers whose deadline has come."""
        due: list[Slot | AsyncCall | Callable[[], None]] = []
        with self._lock:
            heap = self._heap
            while heap and heap[0][0] <= now:
                _deadline, _tie, request_id, timer = heapq.heappop(heap)
                if timer is not None:
                    self._timers -= 1
                    due.append(timer)
                else:
                    entry = self._pending.pop(request_id, None)
                    if isinstance(entry, AsyncCall):
                        due.append(entry)
        for item in due:
            if isinstance(item, AsyncCall):
                item.finish(None)
            else:
                run_quietly(item)  # type: ignore[arg-type]

    def _sweep(self) -> None:
        """The connection is gone: complete every waiting call and timer, once."""
        with self._lock:
            self._closed = True
            entries = list(self._pending.values())
            self._pending.clear()
            timers = [e[3] for e in self._heap if e[3] is not None]
            self._heap.clear()
            self._timers = 0
            if self._wake_w >= 0:  # under the lock: no _push writes to a reused fd
                os.close(self._wake_w)
                os.close(self._wake_r)
                self._wake_r = self._wake_w = -1
        for entry in entries:
            entry.finish(None)
        for timer in timers:
            run_quietly(timer)
        self._run_flush_hooks()  # what the completions held back fails now, not never

    def close(self) -> None:
        """Close the connection; waiting calls complete with None (see the module docstring)."""
        self._closed = True
        try:  # wake the reader: closing an fd does not interrupt a blocked read
            with socket.socket(fileno=os.dup(self.endpoint.fileno())) as view:
                view.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if self._loop_reader is not None:
            self._loop_reader.stop()
        elif threading.current_thread() is not self._reader:
            assert self._reader is not None
            self._reader.join(2.0)
        self.endpoint.close()

    def __enter__(self) -> Network:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(
    cluster_dir: str | os.PathLike[str],
    timeout_s: float = CONNECT_TIMEOUT_S,
    loop: asyncio.AbstractEventLoop | None = None,
) -> Network:
    """Connect to the router of the cluster in `cluster_dir`, all within `timeout_s`
    (see `dial` for the errors); `loop`: read on that running asyncio loop, not a thread
    (call from another thread then: a blocking call on the loop would wait for itself)."""
    deadline = time.monotonic() + timeout_s
    directory = Path(cluster_dir)
    conn = dial(directory, timeout_s)
    try:
        endpoint = Endpoint.after_hello(conn, max(0.0, deadline - time.monotonic()))
    except (OSError, EOFError) as exc:  # the router let it in, then hung up or went quiet
        conn.close()
        raise not_accepting(directory, exc, timeout_s) from None
    except BaseException:
        conn.close()
        raise
    return Network(endpoint, loop)
