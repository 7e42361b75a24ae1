"""The router process: the network between every endpoint of a cluster.

One loop, one thread (plus short handshake threads, see `listener`). It waits with a
epoll on every endpoint connection, the control pipe and the client socket, with a timeout
to the next timed delivery; reads every ready connection in big chunks; routes each message on
its 17-byte header (never unpickling the payload); and writes each destination's batch with
one writev. On a reliable, uncut network the fault policy is not even consulted (fast path).
Clients cannot crowd out raft: what nodes send is written before what clients send, each
client holds a bounded share of a destination's queue (links.py), and a client that sends
junk is cut off (BAD_FRAMES_MAX, REFUSED_FRAMES_MAX).

Node connections arrive over the control pipe as passed file descriptors (`RegisterNode`
followed by `multiprocessing.reduction.send_handle`): the supervisor makes a fresh Pipe for
every (re)start, so a restarted node never shares a connection with its zombie, and the
router closes the zombie's old link when the new one registers. Clients connect on
`<dir>/router.sock` with the auth key and get ids from CLIENT_ID_FIRST upwards.
epoll rather than `multiprocessing.connection.wait` because the router also needs
writability (it must never block writing to a paused endpoint), and it is cheaper per turn.
"""

from __future__ import annotations

import heapq
import logging
import os
import random
import select
import signal
import time
from multiprocessing.connection import Connection
from multiprocessing.reduction import recv_handle
from pathlib import Path

from sentinel.netsim import protocol as p
from sentinel.netsim.faults import Fate, FaultPolicy, make_topology
from sentinel.netsim.framing import SENDER
from sentinel.netsim.ledger import Ledger
from sentinel.netsim.links import CLIENT_READ_BYTES, READ_BYTES, Link, ProtocolError, framed
from sentinel.netsim.listener import ClientListener
from sentinel.netsim.stats import Counters
from sentinel.wire import WireError, decode, encode
from sentinel.wire.codec import MAGIC, VERSION

log = logging.getLogger(__name__)

ENDPOINTS_MAX = 4096
IN_FLIGHT_MAX = 200_000
_CONTROL, _LISTENER, _WAKE = "control", "listener", "wake"
EVENTS_MAX = 1024
OUTSTANDING_MAX = 100_000  # remembered requests per endpoint; beyond, calls just time out
_DELIVER, _NOTICE = 0, 1
#: A client that sends more malformed frames than this (bad route headers, payloads that are
#: not wire frames) is cut off: it is broken or hostile, and each one costs the router work.
BAD_FRAMES_MAX = 1000
#: A client whose frames nodes refused more often than this is cut off likewise (nodes
#: report each refusal: F_REFUSED). A node mutes such a client after 64 (its inbox) and
#: drops the rest unread, but the router would still route its whole flood: 200,000 frames
#: cost the router ~0.5 s and the leader ~0.15 s of CPU, which starves raft on a loaded host.
REFUSED_FRAMES_MAX = 32
#: How every payload a client sends to another endpoint begins (the wire codec's header).
_WIRE_PREFIX = MAGIC + bytes([VERSION])
unpack_route = p.ROUTE.unpack_from
_unpack_id = SENDER.unpack_from  # an endpoint id: a little-endian u32
#: Every message inside the router is kept framed: 4-byte length prefix, route header, payload.
_OVERHEAD = 4 + p.ROUTE_BYTES
_WIRE_END = _OVERHEAD + len(_WIRE_PREFIX)  # (a slice compare costs half a startswith)
_READABLE = select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR


class Router:
    """Routing state and the loop. Built inside the router process by `router_main`."""

    def __init__(
        self, control: Connection, cluster_dir: Path, seed: int, msg_bytes_max: int
    ) -> None:
        self.control = control
        self.policy = FaultPolicy()
        self.rng = random.Random(seed)
        self.msg_bytes_max = msg_bytes_max
        self.links: dict[int, Link] = {}
        self.ledger = Ledger(ENDPOINTS_MAX)  # every endpoint's counters and status
        self.timers: list[tuple[float, int, int, int, bytes]] = []
        self.timer_seq = 0
        self.next_client_id = p.CLIENT_ID_FIRST
        self.dirty: set[Link] = set()
        self.read_buffer = bytearray(READ_BYTES)  # scratch for every read: no per-read malloc
        self.client_read_buffer = memoryview(self.read_buffer)[:CLIENT_READ_BYTES]
        self.running = True
        self.epoll = select.epoll()
        self.handlers: dict[int, Link | str] = {}  # fd -> what its readiness means
        self.watch(control.fileno(), _CONTROL)
        self.listener = ClientListener(p.socket_path(cluster_dir), p.read_authkey(cluster_dir))
        self.watch(self.listener.sock.fileno(), _LISTENER)
        self.listener_watched = True
        self.watch(self.listener.wake_fd, _WAKE)
        self.fast = True  # policy.trivial, cached: recomputed after every control change

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> None:
        """Serve until Shutdown or until the supervisor's control pipe closes."""
        poll, handlers, timers = self.epoll.poll, self.handlers, self.timers
        while self.running:
            timeout = max(0.0, timers[0][0] - time.monotonic()) if timers else -1
            for fd, mask in poll(timeout, EVENTS_MAX):
                data = handlers.get(fd)
                if data is None:
                    continue  # closed earlier in this same turn
                if type(data) is Link:
                    if mask & _READABLE:
                        self.on_readable(data)
                    if mask & select.EPOLLOUT and data.fd >= 0:
                        self.dirty.add(data)
                elif data == _CONTROL:
                    self.on_control()
                elif data == _LISTENER:
                    if not self.listener.accept_pending():  # every handshake slot is taken:
                        self.watch_listener(False)  # the rest wait in the backlog
                else:
                    self.add_clients(self.listener.take_ready())
                    self.watch_listener(True)  # a handshake ended: a slot is free
            if timers:
                self.run_timers(time.monotonic())
            if self.dirty:
                self.flush_dirty()

    def on_readable(self, link: Link) -> None:
        node = link.endpoint_id <= p.NODE_ID_MAX  # (a client's flood must not fill a turn)
        try:
            messages = link.read_messages(self.read_buffer if node else self.client_read_buffer)
        except ProtocolError as exc:
            log.warning("closing endpoint %d: %s", link.endpoint_id, exc)
            link.counters.bad_frames += 1
            messages = None
        if messages is None:
            self.close_link(link)
            return
        route = self.route
        for msg in messages:
            route(link, msg)
        if link.counters.bad_frames > BAD_FRAMES_MAX and link.endpoint_id >= p.CLIENT_ID_FIRST:
            log.warning("cutting off client %d: too many bad frames", link.endpoint_id)
            self.close_link(link)

    def route(self, link: Link, msg: bytes) -> None:
        """One message from `link`: check its header, then deliver, delay, drop or answer."""
        counters = link.counters
        if len(msg) < _OVERHEAD:
            counters.bad_frames += 1
            return
        src, dst, request_id, flags = unpack_route(msg, 4)
        if src != link.endpoint_id or flags & ~p.ENDPOINT_FLAGS:
            counters.bad_frames += 1
            return
        if request_id and flags & p.F_REPLY and link.outstanding:
            link.outstanding.discard((dst, request_id))  # answered (even if the reply is lost)
        if dst == p.ROUTER_ID:  # status posts and queries are not network traffic
            self.on_router_message(link, msg, request_id, flags)
            return
        if src >= p.CLIENT_ID_FIRST and msg[_OVERHEAD:_WIRE_END] != _WIRE_PREFIX:
            counters.bad_frames += 1  # not even a wire frame: no node needs to see it
            return
        size = len(msg) - _OVERHEAD
        counters.sent_msgs += 1
        counters.sent_bytes += size
        target = self.links.get(dst)
        if target is not None and self.fast:
            self.hand_over(target, msg, counters, src, request_id, flags)  # the fast path
            return
        is_reply = bool(flags & p.F_REPLY)
        verdict = self.policy.decide(src, dst, is_reply, size, self.rng, target is not None)
        if verdict.fate is Fate.DELIVER:
            now = time.monotonic()
            self.schedule(now, verdict.delay_ms, _DELIVER, dst, msg, counters)
            if verdict.duplicate_delay_ms is not None:
                counters.duplicated_msgs += 1
                self.schedule(now, verdict.duplicate_delay_ms, _DELIVER, dst, msg, counters)
            return
        if verdict.fate is Fate.DROP:
            counters.dropped_msgs += 1
        else:
            counters.unreachable_msgs += 1
        if request_id:
            self.schedule_notice(time.monotonic(), verdict.delay_ms, src, dst, request_id, flags)

    def hand_over(
        self, target: Link, msg: bytes, sender: Counters, src: int, request_id: int, flags: int
    ) -> None:
        """Queue `msg` on its destination's link, or count an overflow (and notify): a full
        lane, or a client past its share of one (links.py: a flooding client loses its own
        messages, never a peer's). An RPC request is remembered as outstanding at the target
        until its reply passes, so that the caller is told at once if the target dies first
        (labrpc fails such calls too)."""
        if not target.put(msg, src):
            sender.overflow_msgs += 1
            if request_id:
                now = time.monotonic()
                self.schedule_notice(now, 0, src, target.endpoint_id, request_id, flags)
            return
        if request_id and not flags & p.F_REPLY and len(target.outstanding) < OUTSTANDING_MAX:
            target.outstanding.add((src, request_id))
        received = target.counters
        received.received_msgs += 1
        received.received_bytes += len(msg) - _OVERHEAD
        if not target.want_write:  # else the kernel buffer is full: wait for EPOLLOUT
            self.dirty.add(target)

    def post(self, link: Link, msg: bytes) -> None:
        """Queue a message the router itself sends (a failure notice, a hello, a report)
        on `link`'s peer lane; one that does not fit is dropped (the caller times out)."""
        if link.put(msg, p.ROUTER_ID) and not link.want_write:
            self.dirty.add(link)  # (else the kernel buffer is full: wait for EPOLLOUT)

    # -- timers ----------------------------------------------------------------------------

    def schedule(
        self, now: float, delay_ms: int, kind: int, dst: int, msg: bytes, sender: Counters
    ) -> None:
        if delay_ms <= 0 and kind == _DELIVER:
            target = self.links.get(dst)
            if target is not None:
                src, _dst, request_id, flags = unpack_route(msg, 4)
                self.hand_over(target, msg, sender, src, request_id, flags)
                return
        if len(self.timers) >= IN_FLIGHT_MAX:
            sender.overflow_msgs += 1
            return
        if kind == _DELIVER:
            sender.delayed_msgs += delay_ms > 0
            sender.in_flight_msgs += 1
        self.timer_seq += 1
        heapq.heappush(self.timers, (now + delay_ms / 1000.0, self.timer_seq, kind, dst, msg))

    def schedule_notice(
        self, now: float, delay_ms: int, src: int, dst: int, request_id: int, flags: int
    ) -> None:
        """Tell the caller of RPC `request_id` (src of a request, dst of a reply) it failed."""
        is_reply = flags & p.F_REPLY
        peer, caller = (src, dst) if is_reply else (dst, src)
        notice = framed(p.ROUTE.pack(peer, caller, request_id, p.F_FAILED | is_reply))
        counters = self.ledger.counters_of(caller)
        self.schedule(now, max(delay_ms, 0), _NOTICE, caller, notice, counters)

    def run_timers(self, now: float) -> None:
        timers = self.timers
        while timers and timers[0][0] <= now:
            _due, _seq, kind, dst, msg = heapq.heappop(timers)
            target = self.links.get(dst)
            if kind == _NOTICE:
                if target is not None:
                    self.post(target, msg)
                continue
            src, _dst, request_id, flags = unpack_route(msg, 4)
            sender = self.ledger.counters_of(src)
            sender.in_flight_msgs -= 1
            if target is None or not self.policy.topology.can_talk(src, dst):
                sender.unreachable_msgs += 1  # cut or dead while the message was in flight
                if request_id:
                    self.schedule_notice(now, 0, src, dst, request_id, flags)
                continue
            self.hand_over(target, msg, sender, src, request_id, flags)

    def flush_dirty(self) -> None:
        dirty, self.dirty = self.dirty, set()
        for link in dirty:
            if link.fd < 0:
                continue
            done = link.flush()
            if done is None:
                self.close_link(link)
            elif done == link.want_write:  # registration must change
                link.want_write = not done
                self.epoll.modify(link.fd, select.EPOLLIN | (0 if done else select.EPOLLOUT))

    # -- endpoints ---------------------------------------------------------------------------

    def watch(self, fd: int, what: Link | str) -> None:
        """Wake the loop when `fd` is readable."""
        self.epoll.register(fd, select.EPOLLIN)
        self.handlers[fd] = what

    def watch_listener(self, watching: bool) -> None:
        """Wake for new clients, or not (while no handshake slot is free)."""
        if watching != self.listener_watched:
            self.listener_watched = watching
            self.epoll.modify(self.listener.sock.fileno(), select.EPOLLIN if watching else 0)

    def add_link(self, fd: int, endpoint: int) -> Link | None:
        if len(self.links) >= ENDPOINTS_MAX:
            log.warning("refusing endpoint %d: %d endpoints connected", endpoint, ENDPOINTS_MAX)
            os.close(fd)
            return None
        old = self.links.get(endpoint)
        if old is not None:
            self.close_link(old)  # the zombie of a restarted node
        link = Link(fd, endpoint, self.ledger.counters_of(endpoint), self.msg_bytes_max)
        self.links[endpoint] = link
        self.watch(fd, link)
        return link

    def add_clients(self, fds: list[int]) -> None:
        for fd in fds:
            endpoint = self.next_client_id
            self.next_client_id += 1
            link = self.add_link(fd, endpoint)
            if link is not None:
                self.post(link, framed(p.ROUTE.pack(p.ROUTER_ID, endpoint, 0, p.F_HELLO)))

    def close_link(self, link: Link) -> None:
        """Forget a connection (end of file, protocol error, replaced by a restart): its
        outstanding requests fail at once."""
        now = time.monotonic()
        for caller, request_id in link.outstanding:
            self.schedule_notice(now, 0, caller, link.endpoint_id, request_id, p.F_REQUEST)
        link.outstanding.clear()
        if link.fd >= 0:
            self.epoll.unregister(link.fd)
            del self.handlers[link.fd]
            link.close()
        if self.links.get(link.endpoint_id) is link:
            del self.links[link.endpoint_id]
        self.dirty.discard(link)
        self.ledger.retire_departed(self.links)

    def on_router_message(self, link: Link, msg: bytes, request_id: int, flags: int) -> None:
        if flags & p.F_STATUS:
            if len(msg) - _OVERHEAD > p.STATUS_BYTES_MAX:
                link.counters.bad_frames += 1
                return
            self.ledger.post_status(link.endpoint_id, msg[_OVERHEAD:])
        elif flags & p.F_QUERY:
            answer = p.ROUTE.pack(p.ROUTER_ID, link.endpoint_id, request_id, p.F_REPLY)
            answer = framed(answer + encode(self.report(self.query_endpoints(link))))
            self.post(link, answer)
        elif flags & p.F_REFUSED and link.endpoint_id <= p.NODE_ID_MAX:
            self.on_refused(msg)
        else:
            link.counters.bad_frames += 1

    def on_refused(self, msg: bytes) -> None:
        """A node refused a frame from the client named in `msg`: cut off one refused too
        often (its connection closes; it is broken or hostile)."""
        if len(msg) != _OVERHEAD + 4:
            return
        client = self.links.get(_unpack_id(msg, _OVERHEAD)[0])
        if client is None or client.endpoint_id < p.CLIENT_ID_FIRST:
            return
        client.refused_frames += 1
        if client.refused_frames > REFUSED_FRAMES_MAX:
            log.warning("cutting off client %d: nodes refused its frames", client.endpoint_id)
            self.close_link(client)

    def query_endpoints(self, link: Link) -> tuple[int, ...]:
        """What an endpoint's own query lists: the nodes and itself. Any client may ask, on
        the data path that every message waits behind, so its answer must not list every
        connected client (68 ms to build and 287 KB with 8,192 of them)."""
        return (*self.ledger.nodes(), link.endpoint_id)

    # -- control -----------------------------------------------------------------------------

    def report(self, endpoints: tuple[int, ...] | None = None) -> p.RouterReport:
        """Counters and statuses of `endpoints` (None: of every endpoint), with totals over
        every endpoint, departed ones included."""
        stats, total, shown = self.ledger.listing(endpoints, self.links)
        return p.RouterReport(
            stats, total, shown, self.policy.config, self.policy.topology, len(self.timers)
        )

    def on_control(self) -> None:
        try:
            request = decode(self.control.recv_bytes(p.MSG_BYTES_MAX))
        except (EOFError, OSError):
            log.info("control pipe closed: the supervisor is gone; stopping")
            self.running = False
            return
        except WireError as exc:
            self.control.send_bytes(encode(p.Ack(False, f"bad control message: {exc}")))
            return
        try:
            answer = self.apply_control(request)
        except (AssertionError, ValueError, OSError, TypeError) as exc:
            answer = p.Ack(False, f"{type(exc).__name__}: {exc}")
        self.fast = self.policy.trivial
        self.control.send_bytes(encode(answer))

    def apply_control(self, request: object) -> p.Ack | p.RouterReport:
        policy = self.policy
        if isinstance(request, p.GetReport):
            return self.report(p.checked_endpoints(request.endpoints, ENDPOINTS_MAX))
        if isinstance(request, p.SetFaults):
            policy.set_config(request.config)
        elif isinstance(request, p.Partition):
            policy.topology = make_topology(request.groups, policy.topology.disconnected)
        elif isinstance(request, p.Heal):
            policy.heal()
        elif isinstance(request, p.SetConnected):
            (policy.connect if request.connected else policy.disconnect)(request.endpoint)
        elif isinstance(request, p.SetLinkDelay):
            policy.set_link_delay(request.src, request.dst, request.delay_ms)
        elif isinstance(request, p.RegisterNode):
            fd = recv_handle(self.control)  # sent right after the message, same pipe
            if not 1 <= request.endpoint <= p.NODE_ID_MAX:
                os.close(fd)
                return p.Ack(False, f"node ids are 1..{p.NODE_ID_MAX}, not {request.endpoint}")
            self.add_link(fd, request.endpoint)
        elif isinstance(request, p.Shutdown):
            self.running = False
        else:
            return p.Ack(False, f"unknown control message {type(request).__qualname__}")
        return p.Ack(True)

    def close(self) -> None:
        for link in list(self.links.values()):
            self.close_link(link)
        self.listener.close()
        self.epoll.close()


def router_main(
    control: Connection, cluster_dir: str, seed: int = 0, msg_bytes_max: int = p.MSG_BYTES_MAX
) -> None:
    """Entry point of the router process (spawned by `control.RouterHandle.start`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the supervisor's to handle
    router = Router(control, Path(cluster_dir), seed, msg_bytes_max)
    try:
        control.send_bytes(encode(p.Ack(True, "ready")))
        router.run()
    finally:
        router.close()
        control.close()
