"""Raft's safety invariants, checked by the simulator after every step.

The checker sees the cluster through a few observations (a node persisted entries, applied
an entry, restored a snapshot, is in some state now), so tests can feed it hand-made bad
states. It remembers the whole run, crashed nodes included:

* election safety: at most one leader per term;
* log matching: an (index, term) names one entry with one predecessor term, so two logs with
  the same (index, term) hold identical prefixes; checked on every persisted entry and, for
  the literal statement over live nodes, by `check_cluster`;
* committed entries are never lost or changed: the entry known committed at an index is the
  same on every node whose commit covers it, the highest one sits on a quorum of durable
  logs (crashed nodes count by what their disk kept), and every new leader holds them all
  (leader completeness);
* state machine safety: every node applies, in order and without gaps, a prefix of one
  global sequence; snapshots taken at the same index are byte-identical;
* snapshot bound: no snapshot a node saves is over its max_snapshot_bytes, the most a
  follower holds of a transfer (a leader's bigger one would be refused by every follower);
* applied <= committed <= last index on every node;
* membership: when a leader's commit advances, its voter set's majorities overlap those of
  the newest configuration known committed that its log holds (consecutive voter sets
  overlap: a leader that stacked two changes before the first committed is caught here),
  and the durability quorum is counted among the voters of the configuration in effect.

When (in the simulator): everything but the whole-log scan runs after every step of every
node (each delivered message, tick, proposal, restart), incrementally: each persisted entry,
each commit advance, each applied entry, each new leader is checked as it happens. The
whole-log scan of `check_cluster` (every retained entry of every live log against the
registry) runs every 100 virtual ms and at the end of a run; the durability count runs at
every instant when the highest commit or the crash count changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sentinel.raft import Entry, EntryKind, Membership, Raft, Role, Snapshot, SnapshotMeta

_ENTRIES_MAX = 4096  # entries read from one log per slice
_CONFIG = EntryKind.CONFIG


class InvariantViolation(AssertionError):
    """A safety (or liveness) property of the cluster does not hold."""

    def __init__(self, invariant: str, detail: str) -> None:
        super().__init__(f"{invariant}: {detail}")
        self.invariant = invariant
        self.detail = detail


@dataclass(frozen=True, slots=True)
class DurableLog:
    """What a node's disk holds (for a crashed node): its snapshot point and its entries."""

    snapshot: SnapshotMeta
    entries: tuple[Entry, ...]

    def covers(self, index: int, term: int) -> bool:
        """Whether this log (or its snapshot) holds the entry (index, term)."""
        if index <= self.snapshot.index:
            return True  # a snapshot holds only committed entries (checked when taken)
        k = index - self.snapshot.index - 1
        return k < len(self.entries) and self.entries[k].term == term


def _retained(core: Raft, saved_only: bool = False) -> tuple[Entry, ...]:
    """The entries in a core's memory (`saved_only`: those its driver saved; a node whose
    disk is full holds more, which are checked once they are saved)."""
    log = core.log
    last = log.stable if saved_only else log.last_index
    if last < log.first_index:
        return ()
    out: list[Entry] = []
    lo = log.first_index
    while lo <= last:
        chunk = log.slice(lo, last + 1, 1 << 62, _ENTRIES_MAX)
        out.extend(chunk)
        lo += len(chunk)
    return tuple(out)


class InvariantChecker:
    """Remembers what the run has shown so far and raises InvariantViolation on a breach."""

    def __init__(self, node_ids: Iterable[int]) -> None:
        self.node_ids = tuple(sorted(node_ids))
        self.quorum = len(self.node_ids) // 2 + 1
        #: The configurations known committed, in index order (the founders' first).
        self.confs: list[Membership] = [Membership.bootstrap(self.node_ids)]
        #: index -> the configurations CONFIG entries at that index hold in any log.
        self.conf_entries: dict[int, set[Membership]] = {}
        #: term -> the one node that led it.
        self.leaders: dict[int, int] = {}
        self._completeness_checked: set[int] = set()
        #: (index, term) -> (term of the entry before it, data, kind): one entry per name.
        self.entries: dict[tuple[int, int], tuple[int, bytes, EntryKind]] = {}
        #: index -> the entry known committed there.
        self.committed: dict[int, Entry] = {}
        #: index -> the lowest current term of a node that saw it committed: it was
        #: committed in that term or earlier, so every leader of a later term must hold it.
        self.committed_term: dict[int, int] = {}
        self.commit_max = 0
        #: index -> the entry applied there (by whichever node applied it first).
        self.applied: dict[int, Entry] = {}
        #: index -> digest of the snapshot data taken there.
        self.snapshots: dict[int, bytes] = {}
        self.node_commit: dict[int, int] = {}
        self.node_applied: dict[int, int] = {}

    # --------------------------------------------------------------- observations

    def node_started(
        self, node_id: int, snapshot: Snapshot | None, entries: Iterable[Entry]
    ) -> None:
        """A node (re)started from what its disk recovered."""
        meta = snapshot.meta if snapshot else SnapshotMeta()
        if snapshot is not None:
            self.observe_snapshot(node_id, snapshot)
        self.observe_persist(node_id, meta.term, tuple(entries))
        self.node_commit[node_id] = meta.index
        self.node_applied[node_id] = meta.index

    def observe_leader(self, node_id: int, term: int) -> None:
        """`node_id` acts as leader of `term` (it is leader, or sent a leader's message)."""
        other = self.leaders.setdefault(term, node_id)
        if other != node_id:
            raise InvariantViolation(
                "election safety", f"term {term} has two leaders: nodes {other} and {node_id}"
            )

    def observe_persist(self, node_id: int, prev_term: int, entries: tuple[Entry, ...]) -> None:
        """`node_id` wrote `entries` (contiguous); `prev_term` is its term before the first."""
        registry = self.entries
        for entry in entries:
            name = (entry.index, entry.term)
            value = (prev_term, entry.data, entry.kind)
            seen = registry.setdefault(name, value)
            if entry.kind is _CONFIG and seen is value:
                conf = Membership.decode(entry.data, entry.index)
                self.conf_entries.setdefault(entry.index, set()).add(conf)
            if seen != value:
                raise InvariantViolation(
                    "log matching",
                    f"node {node_id} holds entry index {entry.index} term {entry.term} with "
                    f"prev term {prev_term} and data {entry.data[:40]!r}; another log holds it "
                    f"with prev term {seen[0]} and data {seen[1][:40]!r}",
                )
            prev_term = entry.term

    def observe_snapshot(
        self, node_id: int, snapshot: Snapshot, bytes_max: int | None = None
    ) -> None:
        """`node_id` took, received or recovered `snapshot` (saved under a bound of
        `bytes_max`, when given)."""
        meta = snapshot.meta
        if bytes_max is not None and len(snapshot.data) > bytes_max:
            raise InvariantViolation(
                "snapshot bound",
                f"node {node_id}'s snapshot at {meta.index} is {len(snapshot.data)} bytes, "
                f"over max_snapshot_bytes {bytes_max}: every follower refuses it",
            )
        known = self.committed.get(meta.index)
        if known is not None and known.term != meta.term:
            raise InvariantViolation(
                "committed entry changed",
                f"node {node_id} has a snapshot at {meta.index} term {meta.term}, but index "
                f"{meta.index} was committed with term {known.term}",
            )
        digest = hashlib.blake2b(snapshot.data, digest_size=16).digest()
        seen = self.snapshots.setdefault(meta.index, digest)
        if seen != digest:
            raise InvariantViolation(
                "state machine safety",
                f"node {node_id}'s snapshot at index {meta.index} differs from another node's",
            )

    def observe_restore(self, node_id: int, snapshot: Snapshot) -> None:
        """`node_id`'s application restored `snapshot` from the leader."""
        self.observe_snapshot(node_id, snapshot)
        applied = self.node_applied.get(node_id, 0)
        if snapshot.meta.index < applied:
            raise InvariantViolation(
                "state machine safety",
                f"node {node_id} restores snapshot {snapshot.meta.index} below applied {applied}",
            )
        self.node_applied[node_id] = snapshot.meta.index

    def observe_apply(self, node_id: int, entry: Entry) -> None:
        """`node_id` applied `entry`."""
        expected = self.node_applied.get(node_id, 0) + 1
        if entry.index != expected:
            raise InvariantViolation(
                "state machine safety",
                f"node {node_id} applies index {entry.index}, expected {expected}",
            )
        self.node_applied[node_id] = entry.index
        seen = self.applied.setdefault(entry.index, entry)
        if seen != entry:
            raise InvariantViolation(
                "state machine safety",
                f"node {node_id} applies {_describe(entry)} at index {entry.index}, another "
                f"node applied {_describe(seen)}",
            )

    def observe_commit(self, node_id: int, entry: Entry, term: int | None = None) -> None:
        """`node_id`, now in `term` (default: the entry's term), sees `entry` committed."""
        term = entry.term if term is None else term
        known = self.committed_term.get(entry.index)
        if known is None or term < known:
            self.committed_term[entry.index] = term
        seen = self.committed.setdefault(entry.index, entry)
        if seen != entry:
            raise InvariantViolation(
                "committed entry changed",
                f"node {node_id} commits {_describe(entry)} at index {entry.index}, but "
                f"{_describe(seen)} was committed there before",
            )
        if entry.index > self.commit_max:
            self.commit_max = entry.index
        if entry.kind is EntryKind.CONFIG and entry.index > self.confs[-1].index:
            self.confs.append(Membership.decode(entry.data, entry.index))

    # ------------------------------------------------------------------- checks

    def check_node(self, node_id: int, core: Raft) -> None:
        """After each step of a node: bounds, newly committed entries, leadership."""
        log = core.log
        if not log.applied <= log.committed <= log.last_index:
            raise InvariantViolation(
                "bounds",
                f"node {node_id}: applied {log.applied}, committed {log.committed}, "
                f"last index {log.last_index}",
            )
        seen = self.node_commit.get(node_id, 0)
        if log.committed > seen and core.role is Role.LEADER:
            check_overlap(node_id, core.membership, self.committed_conf_in(core))
        if log.committed > seen:
            if log.snapshot_index > seen:
                known = self.committed.get(log.snapshot_index)
                if known is not None and known.term != log.snapshot_term:
                    raise InvariantViolation(
                        "committed entry changed",
                        f"node {node_id}'s snapshot ends at {log.snapshot_index} term "
                        f"{log.snapshot_term}, committed there: term {known.term}",
                    )
            for index in range(max(seen, log.snapshot_index) + 1, log.committed + 1):
                self.observe_commit(node_id, log.entry(index), core.term)
            self.node_commit[node_id] = log.committed
        elif log.committed < seen:
            self.node_commit[node_id] = log.committed  # a restart may forget the lazy commit
        if core.role is Role.LEADER:
            self.observe_leader(node_id, core.term)
            if core.term not in self._completeness_checked:
                self._completeness_checked.add(core.term)
                self.check_leader_completeness(node_id, core)

    def check_leader_completeness(self, node_id: int, core: Raft) -> None:
        """A new leader of term T holds every entry committed in a term before T (Raft
        §5.4.1). A leader of an old term may appear late (a candidate paused with its votes
        in flight); entries committed in later terms are not its business."""
        log = core.log
        committed_term = self.committed_term
        for index in range(self.commit_max, log.last_index, -1):
            if committed_term.get(index, core.term) < core.term:
                raise InvariantViolation(
                    "leader completeness",
                    f"node {node_id} leads term {core.term} with last index {log.last_index}, "
                    f"but index {index} was committed in term {committed_term[index]}",
                )
        for index in range(log.first_index, min(self.commit_max, log.last_index) + 1):
            want = self.committed.get(index)
            if want is not None and committed_term[index] >= core.term:
                continue
            if want is not None and log.term(index) != want.term:
                raise InvariantViolation(
                    "leader completeness",
                    f"node {node_id} leads term {core.term} with term {log.term(index)} at "
                    f"index {index}, where {_describe(want)} is committed",
                )

    def check_cluster(
        self, live: Mapping[int, Raft], durable: Mapping[int, DurableLog] | None = None
    ) -> None:
        """The whole-cluster statements, over quiescent nodes (every Ready handled, or the
        node is stalled on a full disk: only what it saved counts).

        `live`: the running (or paused) cores; `durable`: what each crashed node's disk holds.
        """
        for node_id, core in live.items():
            self._check_log(node_id, core)
        self.check_durability(live, durable or {})

    def _check_log(self, node_id: int, core: Raft) -> None:
        """Every retained entry is a registered one, chained to its predecessor's term, and
        agrees with what is committed up to this node's commit index."""
        log = core.log
        prev_term = log.snapshot_term
        for entry in _retained(core, saved_only=True):
            seen = self.entries.get((entry.index, entry.term))
            if seen is None or seen != (prev_term, entry.data, entry.kind):
                raise InvariantViolation(
                    "log matching",
                    f"node {node_id} holds {_describe(entry)} at index {entry.index} after "
                    f"term {prev_term}; the entry named so is {seen and seen[:2]}",
                )
            if entry.index <= log.committed:
                want = self.committed.get(entry.index)
                if want is not None and want != entry:
                    raise InvariantViolation(
                        "committed entry changed",
                        f"node {node_id} holds {_describe(entry)} at committed index "
                        f"{entry.index}, committed was {_describe(want)}",
                    )
            prev_term = entry.term

    def check_durability(self, live: Mapping[int, Raft], durable: Mapping[int, DurableLog]) -> None:
        """The highest committed entry sits on a quorum of disks."""
        if not self.commit_max:
            return
        top = self.committed[self.commit_max]
        holders = {i for i, core in live.items() if _core_covers(core, top)}
        holders |= {i for i, disk in durable.items() if disk.covers(top.index, top.term)}
        confs = self.quorum_confs(top.index)
        if not any(len(holders & set(c.voters)) >= c.quorum for c in confs):
            raise InvariantViolation(
                "committed entry lost",
                f"{_describe(top)} at index {top.index} is committed but only nodes "
                f"{sorted(holders)} hold it (voters {[c.voters for c in confs]})",
            )

    def committed_conf_in(self, core: Raft) -> Membership:
        """The newest configuration known committed that this node's log holds. (A leader
        paused for long may commit, on acks from before its pause, with a configuration
        several changes old: safe, as its quorum acked before the next leader was elected.)"""
        log = core.log
        for conf in reversed(self.confs):
            if conf.index <= log.snapshot_index or (
                log.term(conf.index) == self.committed[conf.index].term
            ):
                return conf
        return self.confs[0]

    def quorum_confs(self, index: int) -> list[Membership]:
        """The configurations whose quorum may have committed `index`: the one in effect
        at it, and those of CONFIG entries past it in any log (a leader's uncommitted one
        is in effect when it commits)."""
        at = next(c for c in reversed(self.confs) if c.index <= index)
        return [at, *(c for i, cs in self.conf_entries.items() if i > index for c in cs)]


def check_log_matching(logs: Mapping[int, Raft]) -> None:
    """The literal Log Matching Property over some cores, pairwise (slow; for tests)."""
    views = {i: {e.index: e for e in _retained(core)} for i, core in logs.items()}
    ids = sorted(views)
    for a_pos, a in enumerate(ids):
        for b in ids[a_pos + 1 :]:
            va, vb = views[a], views[b]
            common = sorted(set(va) & set(vb), reverse=True)
            top = next((i for i in common if va[i].term == vb[i].term), None)
            if top is None:
                continue
            for index in common:
                if index <= top and va[index] != vb[index]:
                    raise InvariantViolation(
                        "log matching",
                        f"nodes {a} and {b} agree on index {top} term {va[top].term} but differ "
                        f"at index {index}: {_describe(va[index])} vs {_describe(vb[index])}",
                    )


def check_overlap(node_id: int, conf: Membership, committed: Membership) -> None:
    """Every majority of `conf`'s voters meets every majority of `committed`'s."""
    union = set(conf.voters) | set(committed.voters)
    if conf.quorum + committed.quorum <= len(union):
        raise InvariantViolation(
            "configuration overlap",
            f"leader {node_id} commits with voters {conf.voters} (index {conf.index}), whose "
            f"majorities need not meet those of the committed {committed.voters} "
            f"(index {committed.index})",
        )


def _core_covers(core: Raft, entry: Entry) -> bool:
    """Whether a running node has `entry` on its disk (its driver saved it: a node whose
    disk is full may hold newer entries in memory only)."""
    log = core.log
    return entry.index <= log.snapshot_index or (
        entry.index <= log.stable and log.term(entry.index) == entry.term
    )


def _describe(entry: Entry) -> str:
    if entry.kind is EntryKind.EMPTY:
        return f"(empty, term {entry.term})"
    return f"({entry.data[:40]!r}, term {entry.term})"
