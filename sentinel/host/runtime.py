"""A node's loop and its state (`NodeRuntime`, also the application's `NodeContext`).

One thread, one loop (docs/design.md, "The node driver"):

    wait on the endpoint connection until the next tick deadline
    for each arrival: from a peer, a raft message -> core.step (invalid ones are logged);
                      from a client, into the client inbox (inbox.py), drained in order
                      under a budget per turn: client RPCs -> the services (RpcServer)
    for each elapsed tick: core.tick(), app.on_tick()
    the Readys: the driver (driver.py: persist with one fsync per batch, send, apply,
                serve reads, advance; a Ready the disk has no room for waits: stall.py)
    a few times a second: post a NodeStatus blob to the router

Raft messages are one-way router messages flagged REQUEST or REPLY (`Message.is_response`), so
the router's fault policy treats them like 6.824 requests and replies. SIGKILL at any moment
is safe: nothing is sent before the state it depends on is on disk. The process around the
loop (start, logging, exit) is node.py. Bad input is logged through a LogThrottle (the first
of a burst in full, then a count at most once a second), so a flood cannot fill the log.
"""

from __future__ import annotations

import importlib
import logging
import os
import random
import select
import time
from collections.abc import Callable, Mapping

from sentinel.host.bgsnap import SnapshotFork
from sentinel.host.inbox import ClientInbox, from_client
from sentinel.host.lowprio import run_niced
from sentinel.host.members import MembershipService
from sentinel.host.nodespec import NodeSpec
from sentinel.host.nodestatus import NodeStatus
from sentinel.host.stall import StallingSaver
from sentinel.host.storage import Storage
from sentinel.netsim import protocol as p
from sentinel.netsim.endpoint import READ_BYTES, Endpoint, Message, Request
from sentinel.netsim.logthrottle import LogThrottle
from sentinel.netsim.rpc import RpcCall, RpcServer
from sentinel.raft.app import Application
from sentinel.raft.core import Raft
from sentinel.raft.driver import NodeDriver
from sentinel.raft.errors import InvalidMessage, ProposalDropped
from sentinel.raft.membership import app_data, wrap_snapshot
from sentinel.raft.messages import Entry, Role, SnapshotMeta, Status
from sentinel.raft.messages import Message as RaftMessage
from sentinel.raft.ready import Ready
from sentinel.wire import WireError, encode

__all__ = ["NodeRuntime", "load_app"]

log = logging.getLogger(__name__)

#: Ticks run at once after the loop fell behind (a paused or starved process must not fire
#: a burst of elections on waking; messages that queued meanwhile are stepped first).
TICK_CATCHUP_MAX = 3
#: Ready batches handled per loop iteration before polling again.
READY_BATCHES_MAX = 64
#: Arrivals handled per read: no message is shorter than its route header.
ARRIVALS_MAX = READ_BYTES // p.ROUTE_BYTES
#: A loop turn this long (a stall every client of this node saw) is logged as a warning.
SLOW_TURN_MS = 50.0


def load_app(path: str) -> Application:
    """Build the application named "module:attribute"."""
    module_name, _, attr = path.partition(":")
    factory: Callable[[], Application] = getattr(importlib.import_module(module_name), attr)
    return factory()


class NodeRuntime:
    """The loop's state; also the application's `NodeContext` and the driver's host."""

    def __init__(self, spec: NodeSpec, endpoint: Endpoint, storage: Storage) -> None:
        self.spec = spec
        self.node_id = spec.node_id
        self.peer_ids = tuple(spec.peer_ids)
        self.directory = str(spec.directory)
        self.options = dict(spec.app_options)
        self.endpoint = endpoint
        #: The driver's `flush`: every frame queued (messages and answers) in one write (the
        #: endpoint's own method, called a few times per Ready, so no wrapper in between).
        self.flush: Callable[[], None] = endpoint.flush
        self.storage = storage
        self.rpc = RpcServer(endpoint)
        self.app = load_app(spec.app)
        seed = spec.seed if spec.seed is not None else int.from_bytes(os.urandom(8), "little")
        log.info("node %d starting, pid %d, seed %d", spec.node_id, os.getpid(), seed)
        state = storage.take_recovered()
        self.core = Raft(spec.raft_config(), random.Random(seed), state)
        # Commit news waits for the next APPEND or tick (tick_ms) rather than costing every
        # write a second APPEND round to each follower (4 of a sequential write's 10 hops).
        self.core.commit_news_on_tick = True
        self.members = MembershipService(self.core)
        self.rpc.add_service(self.members, "Membership")
        self.app.start(self)  # the core exists: the application may ask for its status
        if state.snapshot is not None:  # below the serving nodes' priority (lowprio.py)
            snap = state.snapshot
            run_niced(lambda: self.app.restore(snap.meta.index, app_data(snap.data)))
        self.started = time.monotonic()
        self.counts = dict.fromkeys(
            ("raft_msgs_received", "raft_bytes_received", "raft_requests_received",
             "raft_msgs_sent", "raft_bytes_sent", "invalid_msgs", "slow_turns"), 0,
        )  # fmt: skip
        self.snapshot_fork = SnapshotFork(storage, close_in_child=(endpoint.fileno(),))
        #: Lease reads: a read round asked at time t and confirmed by a quorum makes this
        #: node's leadership good for reads until t + lease (monotonic seconds).
        lease_s = spec.lease_ms() / 1000.0 if spec.lease_reads else 0.0
        self.driver = NodeDriver(self.core, self.app, self, lease_s)
        # One poll object for the life of the loop: Connection.poll builds a selector on
        # every call, which costs more than the message it waits for.
        self.poller = select.poll()
        self.poller.register(endpoint.fileno(), select.POLLIN)
        self.saver = StallingSaver(storage, spec.node_id)
        self.invalid_log = LogThrottle(log, "invalid raft messages")
        self.inbox = ClientInbox(spec.node_id)

    # -- NodeContext ---------------------------------------------------------------------

    def propose(self, data: bytes) -> tuple[int, int]:
        self.refuse_while_stalled()
        return self.driver.propose(data)

    def refuse_while_stalled(self) -> None:
        """A node that cannot persist says so at once (ProposalDropped) when it leads, or
        knows no leader to send the caller to, rather than take work it cannot finish or
        answer "not the leader" with no hint; else NotLeader, with the hint, as usual."""
        core = self.core
        if self.saver.stalled is not None and (core.role is Role.LEADER or not core.lead):
            raise ProposalDropped(f"node {self.node_id} cannot persist ({self.saver.error})")

    def read_index(self, context: bytes) -> None:
        self.refuse_while_stalled()
        self.driver.read_index(context, time.monotonic())

    def compact(self, index: int, data: bytes) -> None:
        self.driver.compact(index, data)

    def compact_in_background(
        self, index: int, make_snapshot: Callable[[], bytes], state_bytes: int
    ) -> bool:
        if not self.snapshot_fork.can_start() or not self.core.can_compact(index):
            return False
        wrapped_bytes = state_bytes + self.core.snapshot_wrap_bytes(index)
        if not self.driver.snapshot_fits(wrapped_bytes):  # no child to build what is refused
            return False
        limit = self.spec.background_snapshot_bytes_min
        if limit < 0 or state_bytes < limit:
            self.compact(index, make_snapshot())  # a small state: cheaper than a fork
            return True
        term = self.core.log.term(index)
        assert term is not None, f"{index} is applied, so in the log"
        self.endpoint.flush()  # the child must not inherit (and drop) unsent frames
        began = time.monotonic()
        # The file holds what the core's snapshot will: the configuration, then the state.
        conf = self.core.log.membership_at(index)
        self.snapshot_fork.start(
            SnapshotMeta(index, term), lambda: wrap_snapshot(conf, make_snapshot())
        )
        fork_ms = (time.monotonic() - began) * 1000.0
        log.info(
            "node %d: snapshot at %d forked in %.1f ms (state ~%d bytes)",
            self.node_id, index, fork_ms, state_bytes,
        )  # fmt: skip
        return True

    def raft_status(self) -> Status:
        return self.core.status()

    def entry(self, index: int) -> Entry | None:
        lg = self.core.log
        return lg.entry(index) if lg.snapshot_index < index <= lg.last_index else None

    def raft_state_bytes(self) -> int:
        return self.storage.raft_state_bytes()

    def snapshot_bytes(self) -> int:
        return self.storage.snapshot_bytes()

    def counters(self) -> Mapping[str, int]:
        return dict(
            self.counts,
            bad_frames=self.endpoint.bad_frames,
            rpc_calls=self.rpc.calls,
            disk_full=self.saver.failures,
            client_msgs_shed=self.inbox.shed,
        )

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> None:
        """Serve until the router connection closes (EOFError / ConnectionError), or until
        a committed configuration removed this node (it returns then)."""
        tick_s = self.spec.tick_ms / 1000.0
        status_s = self.spec.status_interval_ms / 1000.0
        next_tick = time.monotonic() + tick_s
        next_status = time.monotonic()
        endpoint = self.endpoint
        # Everything a loop turn sends leaves in one write, just before the loop waits
        # (and a leader's early APPENDs before its fsync, see NodeDriver.process).
        endpoint.cork()
        poller = self.poller
        while True:
            endpoint.flush()
            wait_ms = 0.0 if self.inbox else (next_tick - time.monotonic()) * 1000.0
            readable = poller.poll(max(0.0, wait_ms))
            woke, woke_cpu = time.monotonic(), time.process_time()
            arrivals = self.inbox.read(endpoint, lambda: poller.poll(0)) if readable else []
            if arrivals:
                self.receive(arrivals)
            if self.inbox:
                self.inbox.serve(self.handle, self.bad_input)
            now = time.monotonic()
            if now >= next_tick:
                due = min(TICK_CATCHUP_MAX, int((now - next_tick) / tick_s) + 1)
                for _ in range(due):
                    self.driver.tick()
                next_tick = max(next_tick + due * tick_s, now)
                endpoint.bad_frame_log.flush()  # a burst's last count, once its second is up
                self.invalid_log.flush()
                self.inbox.on_tick()
                self.finish_background_snapshot()
            ready_began = time.monotonic()
            self.driver.process(READY_BATCHES_MAX, lambda: bool(self.poller.poll(0)))
            if self.members.pending:  # (a call per loop turn saved while none waits)
                self.members.poll()
            if now >= next_status:
                self.post_status()
                next_status = now + status_s
                if self.core.removed:
                    log.info("node %d: removed from the cluster (configuration index %d); "
                             "stopping", self.node_id, self.core.membership.index)  # fmt: skip
                    self.endpoint.flush()
                    return
            ended = time.monotonic()
            if (ended - woke) * 1000.0 >= SLOW_TURN_MS:  # nothing else ran meanwhile: say so
                self.counts["slow_turns"] += 1
                log.warning(
                    "node %d: one loop turn took %.0f ms (%.0f ms of CPU; %d messages in "
                    "%.0f ms, ticks %.0f ms, ready %.0f ms)",
                    self.node_id, (ended - woke) * 1000.0,
                    (time.process_time() - woke_cpu) * 1000.0, len(arrivals),
                    (now - woke) * 1000.0, (ready_began - now) * 1000.0,
                    (ended - ready_began) * 1000.0,
                )  # fmt: skip

    def finish_background_snapshot(self) -> None:
        """Hand the driver a snapshot a forked child has written (checked once per tick):
        the driver compacts to it at its next `process`."""
        began = time.monotonic()
        done = self.snapshot_fork.collect(self.core.log.snapshot_index, self.driver.snapshot_fits)
        if done is not None:
            self.driver.compact(done[0], app_data(done[1]))
            log.info(
                "node %d: snapshot at %d written in the background, read back in %.1f ms",
                self.node_id, done[0], (time.monotonic() - began) * 1000.0,
            )  # fmt: skip

    def receive(self, arrivals: list[bytes]) -> None:
        """Sort the messages of one read (as many as the kernel held, up to
        endpoint.READ_BYTES of them): those of peers and the router are handled now, in
        order; those of clients join the inbox (drained after, see inbox.py)."""
        assert len(arrivals) <= ARRIVALS_MAX, "a read returns fewer messages than its bytes"
        clients = []
        for raw in arrivals:
            if from_client(raw):
                clients.append(raw)
            else:
                self.handle(raw)
        if clients:
            self.inbox.put(clients)

    def bad_input(self) -> int:
        """Bad frames and invalid raft messages so far (what the inbox's budget counts)."""
        return self.endpoint.bad_frames + self.counts["invalid_msgs"]

    def handle(self, raw: bytes) -> None:
        """One message: a client RPC to the services, a raft message to the core."""
        item = self.endpoint.parse(raw)
        if isinstance(item, Request) and isinstance(item.obj, RpcCall):
            self.rpc.dispatch(item)
        elif isinstance(item, Message) and isinstance(item.obj, RaftMessage):
            self.step(item, len(raw) - p.ROUTE_BYTES)
        elif item is not None:
            self.app.on_message(item.src, item)

    def step(self, item: Message, size: int) -> None:
        """One raft message from the network; garbage is logged and counted, never fatal."""
        m: RaftMessage = item.obj
        # Raft traffic comes from node endpoints only (a client may not pose as a member:
        # the core takes messages from ids it does not know, for nodes that join).
        if item.src != m.src or item.src > p.NODE_ID_MAX or item.is_reply != m.is_response:
            self.counts["invalid_msgs"] += 1
            self.invalid_log.event(
                "refused %s claiming src %d from endpoint %d", m.type, m.src, item.src
            )
            return
        self.counts["raft_msgs_received"] += 1
        self.counts["raft_bytes_received"] += size
        self.counts["raft_requests_received"] += not m.is_response
        try:
            self.driver.step(m)
        except InvalidMessage as exc:
            self.counts["invalid_msgs"] += 1
            self.invalid_log.event("invalid raft message from %d refused: %s", item.src, exc)

    # -- the driver's host -----------------------------------------------------------------

    def save(self, rd: Ready) -> bool:
        """Persist `rd` (a full disk holds it, see stall.py)."""
        return self.saver.save(rd)

    def send(self, messages: tuple[RaftMessage, ...]) -> None:
        """Queue raft messages on the corked endpoint (they leave at `flush`)."""
        for m in messages:
            try:
                frame = encode(m)
            except WireError as exc:
                log.error("cannot send %s to %d: %s", m.type, m.dst, exc)
                continue
            flags = p.F_REPLY if m.is_response else p.F_REQUEST
            self.endpoint.send_frame(m.dst, frame, flags)
            self.counts["raft_msgs_sent"] += 1
            self.counts["raft_bytes_sent"] += len(frame)

    def post_status(self) -> None:
        st = self.core.status()
        c = self.counts
        self.endpoint.post_status(
            encode(
                NodeStatus(
                    self.node_id, os.getpid(), st.role.name, st.term, st.leader, st.commit,
                    st.applied, st.last_index, st.last_index - st.snapshot_index,
                    st.snapshot_index, self.storage.disk_bytes(),
                    self.storage.raft_state_bytes(), self.storage.snapshot_bytes(),
                    c["raft_msgs_received"], c["raft_bytes_received"],
                    c["raft_requests_received"], c["raft_msgs_sent"], c["raft_bytes_sent"],
                    self.endpoint.bad_frames, c["invalid_msgs"], self.rpc.calls,
                    int((time.monotonic() - self.started) * 1000), self.app.status(),
                    self.saver.error, st.voters, st.learners, st.conf_index,
                    {p: m for p, m in st.match.items() if p in st.learners},
                    {p: s for p, s in st.snapshot_sent.items() if p in st.learners},
                )
            )
        )  # fmt: skip
