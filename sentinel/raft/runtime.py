"""A node's loop and its state (`NodeRuntime`, also the application's `NodeContext`).

One thread, one loop (docs/design.md, "The node driver"):

    wait on the endpoint connection until the next tick deadline
    for each arrival: from a peer, a raft message -> core.step (invalid ones are logged);
                      from a client, into the client inbox (inbox.py), drained in order
                      under a budget per turn: client RPCs -> the services (RpcServer)
    for each elapsed tick: core.tick(), app.on_tick()
    while the core has a Ready: persist (one fsync per batch), send, apply, advance
                                (a Ready the disk has no room for waits: stall.py)
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
import math
import os
import random
import select
import time
from collections.abc import Callable, Mapping

from sentinel.netsim import protocol as p
from sentinel.netsim.endpoint import READ_BYTES, Endpoint, Message, Request
from sentinel.netsim.logthrottle import LogThrottle
from sentinel.netsim.rpc import RpcCall, RpcServer
from sentinel.raft.app import Application
from sentinel.raft.bgsnap import SnapshotFork
from sentinel.raft.core import Raft
from sentinel.raft.errors import InvalidMessage, ProposalDropped
from sentinel.raft.inbox import ClientInbox, from_client
from sentinel.raft.lowprio import run_niced
from sentinel.raft.messages import Entry, Role, SnapshotMeta, Status
from sentinel.raft.messages import Message as RaftMessage
from sentinel.raft.nodespec import NodeSpec
from sentinel.raft.nodestatus import NodeStatus
from sentinel.raft.ready import Ready
from sentinel.raft.stall import StallingSaver
from sentinel.raft.storage import Storage
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
    """The loop's state; also the application's `NodeContext`."""

    def __init__(self, spec: NodeSpec, endpoint: Endpoint, storage: Storage) -> None:
        self.spec = spec
        self.node_id = spec.node_id
        self.peer_ids = tuple(spec.peer_ids)
        self.directory = str(spec.directory)
        self.options = dict(spec.app_options)
        self.endpoint = endpoint
        self.storage = storage
        self.rpc = RpcServer(endpoint)
        self.app = load_app(spec.app)
        seed = spec.seed if spec.seed is not None else int.from_bytes(os.urandom(8), "little")
        log.info("node %d starting, pid %d, seed %d", spec.node_id, os.getpid(), seed)
        state = storage.recovered
        self.core = Raft(spec.raft_config(), random.Random(seed), state)
        # Commit news waits for the next APPEND or tick (tick_ms) rather than costing every
        # write a second APPEND round to each follower (4 of a sequential write's 10 hops).
        self.core.commit_news_on_tick = True
        self.app.start(self)  # the core exists: the application may ask for its status
        if state.snapshot is not None:  # below the serving nodes' priority (lowprio.py)
            snap = state.snapshot
            run_niced(lambda: self.app.restore(snap.meta.index, snap.data))
        self.started = time.monotonic()
        self.counts = dict.fromkeys(
            ("raft_msgs_received", "raft_bytes_received", "raft_requests_received",
             "raft_msgs_sent", "raft_bytes_sent", "invalid_msgs", "slow_turns"), 0,
        )  # fmt: skip
        self.compact_wish: tuple[int, bytes] | None = None
        self.snapshot_fork = SnapshotFork(storage, close_in_child=(endpoint.fileno(),))
        self.reads_asked: set[bytes] = set()
        #: Lease reads: a read round asked at time t and confirmed by a quorum makes this
        #: node's leadership good for reads until t + lease (monotonic seconds).
        self.lease_s = spec.lease_ms() / 1000.0 if spec.lease_reads else 0.0
        self.lease_until = -math.inf
        self.round_asked: dict[bytes, float] = {}  # read context -> when it was asked
        self.reads_waiting: list[tuple[int, bytes]] = []  # (index, context) until applied
        self.last_role = (self.core.role, self.core.term, self.core.lead)
        #: (term, vote) as last written to disk: what a message sent before a save may rely on.
        self.durable_term_vote = (state.hard_state.term, state.hard_state.vote)
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
        return self.core.propose(data)

    def refuse_while_stalled(self) -> None:
        """A node that cannot persist says so at once (ProposalDropped) when it leads, or
        knows no leader to send the caller to, rather than take work it cannot finish or
        answer "not the leader" with no hint; else NotLeader, with the hint, as usual."""
        core = self.core
        if self.saver.stalled is not None and (core.role is Role.LEADER or not core.lead):
            raise ProposalDropped(f"node {self.node_id} cannot persist ({self.saver.error})")

    def read_index(self, context: bytes) -> None:
        self.refuse_while_stalled()
        # The lease starts when a round was asked, before its heartbeats left: every
        # follower that acked heard from us after that, so refuses votes for longer.
        now = time.monotonic()
        leased = now < self.lease_until
        self.core.read_index(context, lease=leased)
        if not leased and self.lease_s > 0:
            self.round_asked[bytes(context)] = now
        self.reads_asked.add(bytes(context))

    def compact(self, index: int, data: bytes) -> None:
        if self.compact_wish is None or index > self.compact_wish[0]:
            self.compact_wish = (index, bytes(data))

    def compact_in_background(
        self, index: int, make_snapshot: Callable[[], bytes], state_bytes: int
    ) -> bool:
        if not self.snapshot_fork.can_start() or index <= self.core.log.snapshot_index:
            return False
        limit = self.spec.background_snapshot_bytes_min
        if limit < 0 or state_bytes < limit:
            self.compact(index, make_snapshot())  # a small state: cheaper than a fork
            return True
        term = self.core.log.term(index)
        assert term is not None, f"{index} is applied, so in the log"
        self.endpoint.flush()  # the child must not inherit (and drop) unsent frames
        began = time.monotonic()
        self.snapshot_fork.start(SnapshotMeta(index, term), make_snapshot)
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
        """Serve until the router connection closes (EOFError / ConnectionError)."""
        tick_s = self.spec.tick_ms / 1000.0
        status_s = self.spec.status_interval_ms / 1000.0
        next_tick = time.monotonic() + tick_s
        next_status = time.monotonic()
        endpoint = self.endpoint
        # Everything a loop turn sends leaves in one write, just before the loop waits
        # (and a leader's early APPENDs before its fsync, see handle_ready).
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
                    self.core.tick()
                    self.app.on_tick()
                next_tick = max(next_tick + due * tick_s, now)
                endpoint.bad_frame_log.flush()  # a burst's last count, once its second is up
                self.invalid_log.flush()
                self.inbox.on_tick()
                if self.saver.stalled is None:  # (its compaction would join a Ready in flight)
                    self.finish_background_snapshot()
            ready_began = time.monotonic()
            self.handle_ready()
            if now >= next_status:
                self.post_status()
                next_status = now + status_s
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
        """Compact to a snapshot a forked child has written (checked once per tick)."""
        began = time.monotonic()
        done = self.snapshot_fork.collect(self.core.log.snapshot_index)
        if done is not None and self.core.compact(*done):
            log.info(
                "node %d compacted to %d (snapshot written in the background, read back in "
                "%.1f ms)", self.node_id, done[0], (time.monotonic() - began) * 1000.0,
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
        self.check_role()

    def step(self, item: Message, size: int) -> None:
        """One raft message from the network; garbage is logged and counted, never fatal."""
        m: RaftMessage = item.obj
        if item.src != m.src or item.is_reply != m.is_response:
            self.counts["invalid_msgs"] += 1
            self.invalid_log.event(
                "refused %s claiming src %d from endpoint %d", m.type, m.src, item.src
            )
            return
        self.counts["raft_msgs_received"] += 1
        self.counts["raft_bytes_received"] += size
        self.counts["raft_requests_received"] += not m.is_response
        try:
            self.core.step(m)
        except InvalidMessage as exc:
            self.counts["invalid_msgs"] += 1
            self.invalid_log.event("invalid raft message from %d refused: %s", item.src, exc)

    def check_role(self) -> None:
        """Tell the application about role, term or leader changes; fail lost reads."""
        now = (self.core.role, self.core.term, self.core.lead)
        if now == self.last_role:
            return
        before, self.last_role = self.last_role, now
        if before[0] is Role.LEADER and (now[0] is not Role.LEADER or now[1] != before[1]):
            self.lease_until, self.round_asked = -math.inf, {}
            lost, self.reads_asked = self.reads_asked, set()
            for context in lost:
                self.app.read_failed(context)
        log.info("node %d: %s term %d leader %d", self.node_id, now[0].name, now[1], now[2])
        self.app.role_changed(*now)

    def handle_ready(self) -> None:
        """Persist, send, apply, advance, for every Ready (a leader sends first when that is
        safe, see `may_send_before_persist`); then compact if asked. Everything sent is
        written out before the next fsync: nobody waits on a message held behind a disk.
        A Ready the disk had no room for waits and is saved again later (see stall.py)."""
        saver = self.saver
        if saver.stalled is not None:
            done = saver.retry()
            if done is None:
                return
            self.finish_ready(*done)
        for batch in range(READY_BATCHES_MAX):
            if not self.core.has_ready():
                break
            if batch and self.poller.poll(0):
                break  # messages are waiting: a long replay must not starve votes and acks
            rd = self.core.ready()
            early = self.may_send_before_persist(rd)
            if early:  # a leader's APPENDs go out before its own fsync (thesis §10.2.1)
                self.send_all(rd)
                self.endpoint.flush()
            if not saver.save(rd, early):  # 1. persist: one fsync for the batch (when needed)
                return
            self.finish_ready(rd, early)

    def finish_ready(self, rd: Ready, early: bool) -> None:
        """Everything after `rd` is on disk: send, apply, advance, compact."""
        if rd.hard_state is not None:
            self.durable_term_vote = (rd.hard_state.term, rd.hard_state.vote)
        if not early:  # 2. send: a follower's acks leave before it spends time applying
            self.send_all(rd)
            self.endpoint.flush()
        self.apply(rd)  # 3. apply, answering clients
        self.serve_reads(_applied_after(rd, self.core.log.applied))
        self.endpoint.flush()  # the answers leave now, not after the next batch's fsync
        self.core.advance(rd)  # 4. advance
        self.check_role()
        if self.compact_wish is not None:
            index, data = self.compact_wish
            self.compact_wish = None
            if self.core.compact(index, data):
                log.debug("node %d compacted to %d", self.node_id, index)

    def may_send_before_persist(self, rd: Ready) -> bool:
        """Whether `rd`'s messages may leave before `rd` is on disk: a leader's batch that
        changes neither term nor vote and installs no snapshot. Its messages then depend only
        on the durable term and on its own new entries, which followers may store first
        (the core counts the leader toward commit only once its copy is durable); replies
        that acknowledge entries come from followers, which always persist first."""
        if self.core.role is not Role.LEADER or rd.apply_snapshot is not None:
            return False
        # A snapshot that is not to be applied is the leader's own compaction: it covers
        # only applied entries, so no message depends on it being on disk, and its heartbeats
        # must not wait for the log rewrite that comes with it.
        hs = rd.hard_state
        return hs is None or (hs.term, hs.vote) == self.durable_term_vote

    def send_all(self, rd: Ready) -> None:
        for m in rd.messages:
            try:
                frame = encode(m)
            except WireError as exc:
                log.error("cannot send %s to %d: %s", m.type, m.dst, exc)
                continue
            flags = p.F_REPLY if m.is_response else p.F_REQUEST
            self.endpoint.send_frame(m.dst, frame, flags)
            self.counts["raft_msgs_sent"] += 1
            self.counts["raft_bytes_sent"] += len(frame)

    def apply(self, rd: Ready) -> None:
        if rd.apply_snapshot is not None:
            snap = rd.apply_snapshot
            self.app.restore(snap.meta.index, snap.data)
        for entry in rd.committed_entries:
            self.app.apply(entry)
        for rs in rd.read_states:  # confirmed: served once applied, even if leadership goes
            self.reads_asked.discard(rs.context)
            asked = self.round_asked.pop(rs.context, None)
            if asked is not None:
                self.lease_until = max(self.lease_until, asked + self.lease_s)
            self.reads_waiting.append((rs.index, rs.context))
        if rd.committed_entries or rd.apply_snapshot is not None:
            self.app.after_apply()

    def serve_reads(self, applied: int) -> None:
        """Answer the confirmed reads whose read index is applied (`applied`)."""
        if not self.reads_waiting:
            return
        still = []
        for index, context in self.reads_waiting:
            if index <= applied:
                self.app.read_ready(context)
            else:
                still.append((index, context))
        self.reads_waiting = still

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
                    self.saver.error,
                )
            )
        )  # fmt: skip


def _applied_after(rd: Ready, applied: int) -> int:
    """The applied index once `rd`'s snapshot and committed entries are applied."""
    if rd.apply_snapshot is not None:
        applied = max(applied, rd.apply_snapshot.meta.index)
    if rd.committed_entries:
        applied = max(applied, rd.committed_entries[-1].index)
    return applied
