"""What runs on top of raft in a node process: the `Application` interface and its view of
the node (`NodeContext`).

The node process (node.py, its loop in runtime.py) owns one single-threaded loop. Every
method below is called from that loop, never concurrently, so an application needs no locks:

    start(ctx)                 once, before anything else: register RPC services
                               (`ctx.rpc.add_service(obj, "KVServer")`)
    restore(index, data)       a snapshot: at start (from disk) and whenever the leader sends one
    apply(entry)               each committed entry, in log order (EMPTY entries included: they
                               carry no command but do take a log index)
    read_ready(context)        a ReadIndex read is safe to serve now (applied >= its index)
    read_failed(context)       a pending read was dropped (leadership lost): answer "retry"
    role_changed(role, term, leader)
    after_apply()              once per batch, after the batch's entries were applied: the place
                               to decide on compaction (`ctx.compact(index, data)` or
                               `ctx.compact_in_background(index, make, size)`)
    on_tick()                  once per tick (~10 ms): time out deferred replies, etc.
    on_message(src, obj)       a one-way message or reply from a non-raft source (rarely needed)
    status()                   a few application figures for the node's status blob

The application answers client RPCs through the node's `RpcServer`: a handler returns its
reply, or a `Deferred` resolved later (e.g. when its command was applied, or when its
ReadIndex read is ready). It drives raft through the context: `propose(data)`,
`read_index(context)`, `compact(index, data)`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from sentinel.raft.messages import Entry, Role

if TYPE_CHECKING:
    from sentinel.netsim.rpc import RpcServer
    from sentinel.raft.messages import Status


class NodeContext(Protocol):
    """The application's handle on its node (implemented by runtime.py's `NodeRuntime`)."""

    node_id: int
    peer_ids: tuple[int, ...]
    #: The node's RPC dispatcher: register services on it in `start`.
    rpc: RpcServer
    #: The node's directory (`<cluster_dir>/node-<id>`), for application files if any.
    directory: str
    #: Options from the NodeSpec (e.g. {"snapshots": True, "maxraftstate": 1000}).
    options: Mapping[str, object]

    def propose(self, data: bytes) -> tuple[int, int]:
        """Append a command to the log; its raft (index, term). Raises NotLeader or
        ProposalDropped. The command is applied (through `apply`) once committed, which may
        never happen if leadership is lost."""
        ...

    def read_index(self, context: bytes) -> None:
        """Ask for a linearizable read point for `context` (non-empty, unique among pending
        reads): `read_ready(context)` is called once it may be served. Raises NotLeader or
        ProposalDropped."""
        ...

    def compact(self, index: int, data: bytes) -> None:
        """Ask for a snapshot `data` of the state machine at raft index `index` (<= the index
        of the last entry given to `apply`). It is taken after the current batch is applied;
        when asked several times in one batch, the highest index wins."""
        ...

    def compact_in_background(
        self, index: int, make_snapshot: Callable[[], bytes], state_bytes: int
    ) -> bool:
        """Like `compact`, for a state too big to encode and write on the loop: the node
        forks, the copy calls `make_snapshot()` (it sees the state as it is now, at `index`)
        and writes and fsyncs the snapshot file while the node keeps serving; the log is
        compacted once the file is on disk. A small state (`state_bytes`, roughly the
        snapshot's size) is encoded here at once, as `compact` would. Returns False, and
        does nothing, while an earlier snapshot is still being written, or while the core
        would refuse one at `index` (see `Raft.compact`): ask again later."""
        ...

    def raft_status(self) -> Status:
        """The raft core's status (role, term, leader, commit, applied, indices)."""
        ...

    def entry(self, index: int) -> Entry | None:
        """The log entry at `index` if this node still holds it (not compacted), else None."""
        ...

    def raft_state_bytes(self) -> int:
        """Raft state on disk (log + hard state): the figure to compare with maxraftstate."""
        ...

    def snapshot_bytes(self) -> int:
        """Bytes of the snapshot on disk (0 when there is none)."""
        ...

    def counters(self) -> Mapping[str, int]:
        """The node's traffic counters (raft messages and bytes received from peers, ...)."""
        ...


class Application:
    """Base class with do-nothing defaults; override what the application needs."""

    def start(self, ctx: NodeContext) -> None:
        """Called once before anything else: keep `ctx`, register services."""
        self.ctx = ctx

    def restore(self, index: int, data: bytes) -> None:
        """Replace the state machine with snapshot `data`, which covers raft indices <= index."""

    def apply(self, entry: Entry) -> None:
        """Apply one committed entry (called in index order, exactly once per incarnation)."""

    def read_ready(self, context: bytes) -> None:
        """The ReadIndex read `context` may be served now."""

    def read_failed(self, context: bytes) -> None:
        """The ReadIndex read `context` will never be ready (leadership changed)."""

    def role_changed(self, role: Role, term: int, leader: int) -> None:
        """This node's role, term or known leader changed (leader 0: unknown)."""

    def after_apply(self) -> None:
        """A batch of entries was applied: decide on compaction here."""

    def on_tick(self) -> None:
        """One tick passed."""

    def on_message(self, src: int, obj: object) -> None:
        """A one-way message, reply or failure notice that is not raft traffic."""

    def status(self) -> dict[str, int]:
        """Application figures for the node's status blob (small ints)."""
        return {}
