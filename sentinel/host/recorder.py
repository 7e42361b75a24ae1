"""The recorder: the application the 6.824 Raft tests run on top of raft (config.go's view).

It records every applied command and exposes 6.824's Raft API as RPC services, "Raft.*":

    start((token, command))   -> (index, term, is_leader)     6.824 Start
    start_many([(token, command), ...]) -> [(index, term, is_leader), ...]
    state(None)               -> (term, is_leader)            6.824 GetState
    applied((from_index, n))  -> (incarnation, last_index, errors, [(index, command), ...])
    sizes(None)               -> (raft_state_bytes, snapshot_bytes)
    counters(None)            -> the node's traffic counters (raft messages/bytes received...)

Indices are 6.824 *command* indices: our leader appends an EMPTY entry at the start of each
term (Raft §8), which the 6.824 tests do not expect to take an index, so the command index
of an entry is the number of NORMAL entries up to it (a membership change's CONFIG entry takes
none either). It is the same on every node, because
committed logs are identical; a leader computes it at Start from its own log, whose prefix
up to a new entry becomes the committed log if that entry commits.

`token` makes Start idempotent: the tester retries a call whose request or reply the network
lost, and a retry with the same token answers what the first call answered.

Like 6.824's applier, it checks that entries come in order ("apply out of order") and, with
snapshots on (option "snapshots"), compacts every SNAPSHOT_INTERVAL commands like
applierSnap: at command indices 9, 19, 29, ... with a blob of every command so far. The tester
reads errors through `applied` (an error here is the test's failure, not the node's).
"""

from __future__ import annotations

import collections
import logging
import os

from sentinel.raft.app import Application, NodeContext
from sentinel.raft.errors import NotLeader, ProposalDropped
from sentinel.raft.messages import Entry, EntryKind, Role
from sentinel.wire import WireError, decode, encode

log = logging.getLogger(__name__)

SNAPSHOT_INTERVAL = 10
START_TOKENS_MAX = 4096
ERRORS_MAX = 100
APPLIED_PAIRS_MAX = 2000


class Recorder(Application):
    """Applied-command recorder with the 6.824 Raft services (see the module docstring)."""

    def __init__(self) -> None:
        #: 6.824's logs[i]: command index -> command; index 0 is None (as in applierSnap).
        self.commands: list[object] = [None]
        self.raft_applied = 0
        self.errors: list[str] = []
        self.incarnation = int.from_bytes(os.urandom(6), "little")
        self.starts: collections.OrderedDict[int, tuple[int, int, bool]] = collections.OrderedDict()
        self.snapshots = False

    def start(self, ctx: NodeContext) -> None:
        """Read the "snapshots" option and register the "Raft" service."""
        self.ctx = ctx
        self.snapshots = bool(ctx.options.get("snapshots", False))
        ctx.rpc.add_service(RaftService(self), "Raft")

    # -- the applier -------------------------------------------------------------------------

    def error(self, text: str) -> None:
        """Log an applier error and keep it (up to ERRORS_MAX) for the tester to read."""
        log.error("recorder: %s", text)
        if len(self.errors) < ERRORS_MAX:
            self.errors.append(text)

    def apply(self, entry: Entry) -> None:
        """Record the entry's command (EMPTY and CONFIG entries take no command index, as
        `command_index` counts) and snapshot every SNAPSHOT_INTERVAL commands when snapshots
        are on."""
        if entry.index != self.raft_applied + 1:
            self.error(f"apply out of order: expected {self.raft_applied + 1}, got {entry.index}")
        self.raft_applied = entry.index
        if entry.kind is not EntryKind.NORMAL:
            return
        try:
            command = decode(entry.data)
        except WireError as exc:
            self.error(f"undecodable command at raft index {entry.index}: {exc}")
            command = None
        self.commands.append(command)
        index = len(self.commands) - 1
        if self.snapshots and (index + 1) % SNAPSHOT_INTERVAL == 0:
            blob = encode((index, entry.index, self.commands))
            self.ctx.compact(entry.index, blob)

    def restore(self, index: int, data: bytes) -> None:
        """Take the commands from a snapshot at raft index `index` (an error if it lies)."""
        try:
            cmd_index, raft_index, commands = decode(data)
            ok = isinstance(commands, list) and len(commands) == cmd_index + 1
        except (WireError, TypeError, ValueError) as exc:
            self.error(f"snapshot at {index} does not decode: {exc}")
            return
        if raft_index != index or not ok:
            self.error(f"snapshot doesn't match m.SnapshotIndex ({raft_index} != {index})")
            return
        self.commands = commands
        self.raft_applied = index
        log.info("recorder: restored a snapshot at raft index %d (%d commands)", index, cmd_index)

    # -- 6.824 Start and friends -------------------------------------------------------------

    def command_index(self, raft_index: int) -> int:
        """The command index of our log's entry at `raft_index` (> raft_applied)."""
        count = len(self.commands) - 1
        for index in range(self.raft_applied + 1, raft_index + 1):
            entry = self.ctx.entry(index)
            assert entry is not None, "entries past applied are never compacted"
            count += entry.kind is EntryKind.NORMAL
        return count

    def start_command(self, token: int, command: object) -> tuple[int, int, bool]:
        """6.824's Start: (command index, term, is_leader); the same answer for a repeated
        `token`."""
        known = self.starts.get(token)
        if known is not None:
            return known
        try:
            raft_index, term = self.ctx.propose(encode(command))
            result = (self.command_index(raft_index), term, True)
        except (NotLeader, ProposalDropped):
            result = (0, self.ctx.raft_status().term, False)
        except WireError as exc:
            raise ValueError(f"command cannot be encoded: {exc}") from exc
        self.starts[token] = result
        if len(self.starts) > START_TOKENS_MAX:
            self.starts.popitem(last=False)
        return result

    def status(self) -> dict[str, int]:
        """Commands recorded and errors seen, for the node's status blob."""
        return {"commands": len(self.commands) - 1, "errors": len(self.errors)}


class RaftService:
    """The RPC face of a Recorder (registered as "Raft")."""

    def __init__(self, recorder: Recorder) -> None:
        self._rec = recorder

    def start(self, args: tuple[int, object]) -> tuple[int, int, bool]:
        """6.824 Start(command): (index, term, is_leader); idempotent per token."""
        token, command = args
        return self._rec.start_command(int(token), command)

    def start_many(self, args: list[tuple[int, object]]) -> list[tuple[int, int, bool]]:
        """Several Starts in a row in one call, as 6.824's tester makes them (a loop of
        direct calls, microseconds apart): they land in one batch of the node loop."""
        if len(args) > START_TOKENS_MAX // 2:
            raise ValueError(f"at most {START_TOKENS_MAX // 2} commands per call")
        return [self.start(item) for item in args]

    def state(self, args: object = None) -> tuple[int, bool]:
        """6.824 GetState: (term, is_leader)."""
        st = self._rec.ctx.raft_status()
        return st.term, st.role is Role.LEADER

    def applied(self, args: tuple[int, int]) -> tuple[int, int, list[str], list[tuple]]:
        """(incarnation, last command index, errors, [(index, command)] from `from_index`)."""
        from_index, count = args
        rec = self._rec
        lo = max(1, int(from_index))
        hi = min(len(rec.commands), lo + min(int(count), APPLIED_PAIRS_MAX))
        pairs = [(i, rec.commands[i]) for i in range(lo, hi)]
        return rec.incarnation, len(rec.commands) - 1, list(rec.errors), pairs

    def sizes(self, args: object = None) -> tuple[int, int]:
        """(raft state bytes, snapshot bytes) on disk: 6.824's RaftStateSize, SnapshotSize."""
        return self._rec.ctx.raft_state_bytes(), self._rec.ctx.snapshot_bytes()

    def counters(self, args: object = None) -> dict[str, int]:
        """The node's traffic counters since this process started."""
        return dict(self._rec.ctx.counters())
