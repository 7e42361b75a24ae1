"""One simulated node: a raft core, its storage on a simulated disk, and its application.

The node owns its disk for the whole run. A crash loses the core, the application and every
unsynced write (torn tails included); a restart recovers from the disk, exactly as the node
process does from its directory.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sentinel.host import StallingSaver, Storage
from sentinel.raft import Application, Config, Message, PersistentState, Raft, SnapshotMeta
from sentinel.raft.driver import NodeDriver
from sentinel.sim.disk import SimDisk
from sentinel.sim.invariants import DurableLog

if TYPE_CHECKING:
    from sentinel.sim.host import SimContext

#: Messages a paused node keeps queued (the oldest are dropped beyond it, like a full socket).
INBOX_MAX = 10_000


class SimNode:
    """A node's lifetime: start, crash, restart, pause, resume.

    `core`, `storage` and `app` are all set while the node is up and all None after a crash;
    `durable` is what the disk held at the last crash. `incarnation` counts starts, so a
    (node id, incarnation) names one life of the node.
    """

    def __init__(
        self,
        node_id: int,
        peer_ids: tuple[int, ...],
        seed: int,
        cluster_id: str,
        app_factory: Callable[[], Application],
        config_kw: dict[str, Any],
        clock: Callable[[], float],
    ) -> None:
        self.id = node_id
        self.peer_ids = peer_ids
        self.seed = seed
        self.cluster_id = cluster_id
        self.app_factory = app_factory
        self.config = Config(node_id, peer_ids, **config_kw)
        self.clock = clock  # the cluster's virtual time, in seconds (for the saver's retries)
        self.disk = SimDisk()
        self.storage: Storage | None = None
        #: Saves this incarnation's Ready batches; holds one the disk had no room for.
        self.saver: StallingSaver | None = None
        self.core: Raft | None = None
        self.app: Application | None = None
        #: Drives the core for this incarnation, and is the application's node (the
        #: simulator sets both at each start).
        self.driver: NodeDriver | None = None
        self.ctx: SimContext | None = None
        self.incarnation = 0
        self.paused = False
        self.inbox: deque[Message] = deque()
        self.inbox_dropped = 0
        #: What the disk held at the last crash (for the durability check while down).
        self.durable: DurableLog | None = None
        #: (role, term, leader) last traced.
        self.last_role: tuple[int, int, int] = (0, 0, 0)

    @property
    def up(self) -> bool:
        """Whether the node runs (it may still be paused)."""
        return self.core is not None

    @property
    def active(self) -> bool:
        """Whether the node runs and is not paused."""
        return self.core is not None and not self.paused

    def start(self) -> PersistentState:
        """(Re)start from the disk: recover storage, build the core and a new application
        (which the cluster starts and restores)."""
        assert self.core is None, f"node {self.id} is already running"
        self.incarnation += 1
        storage = Storage.open_fs(self.disk, self.cluster_id, self.id)
        state = storage.take_recovered()
        app = self.app_factory()  # started and restored by the cluster (with its context)
        rng = random.Random(f"{self.seed}/node/{self.id}/{self.incarnation}")
        self.core = Raft(self.config, rng, state)
        self.storage, self.app = storage, app
        self.saver = StallingSaver(storage, self.id, self.clock)
        self.paused = False
        self.durable = None
        return state

    def crash(self, rng: random.Random) -> None:
        """Lose everything in memory and every unsynced write; remember what the disk kept."""
        assert self.core is not None, f"node {self.id} is not running"
        self.disk.crash(rng)
        assert self.storage is not None
        self.storage.close()
        self.core = self.storage = self.app = self.driver = self.ctx = None
        self.saver = None
        self.paused = False
        self.inbox.clear()
        self.last_role = (0, 0, 0)
        # Peek at what a restart will recover (open_fs also finishes torn tails; a restart
        # would do exactly the same, so doing it now changes nothing observable).
        peek = Storage.open_fs(self.disk, self.cluster_id, self.id)
        state = peek.recovered
        peek.close()
        meta = state.snapshot.meta if state.snapshot else None
        self.durable = DurableLog(meta or SnapshotMeta(), state.entries)

    def queue(self, m: Message) -> None:
        """Keep a message for when the node resumes (bounded)."""
        if len(self.inbox) >= INBOX_MAX:
            self.inbox.popleft()
            self.inbox_dropped += 1
        self.inbox.append(m)
