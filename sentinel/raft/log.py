"""The in-memory raft log: the retained entries after a snapshot offset.

Invariants (checked by the core after every input): applied <= committed <= last_index,
stable <= last_index, snapshot_index <= applied except while a snapshot received from the
leader waits to be applied, last_index == snapshot_index + len(entries), and
entries[k].index == snapshot_index + 1 + k.
"""

from __future__ import annotations

from collections.abc import Sequence

from sentinel.raft.errors import InvariantError, invariant
from sentinel.raft.membership import Membership
from sentinel.raft.messages import ENTRY_OVERHEAD_BYTES, Entry, EntryKind, SnapshotMeta

_CONFIG = EntryKind.CONFIG


class RaftLog:
    """Entries `snapshot_index + 1 ..= last_index`, and the commit/apply/persist marks.

    The marks keep `applied <= committed <= last_index` and `stable <= last_index` (see
    the module docstring for the rest); `Raft.check_invariants` checks them.
    """

    def __init__(
        self, snapshot: SnapshotMeta, entries: Sequence[Entry], base: Membership | None = None
    ) -> None:
        self.snapshot_index = snapshot.index
        self.snapshot_term = snapshot.term
        self._entries: list[Entry] = []
        for k, entry in enumerate(entries):
            if entry.index != snapshot.index + 1 + k:
                raise ValueError(
                    f"entries must follow the snapshot contiguously: entry {k} has index "
                    f"{entry.index}, expected {snapshot.index + 1 + k}"
                )
            self._entries.append(entry)
        #: The index of the last entry, or the snapshot index when there is none. A plain
        #: attribute (kept equal to snapshot_index + len(entries) by every change) because
        #: the core reads it ~10 times per proposal.
        self.last_index = snapshot.index + len(self._entries)
        self.committed = snapshot.index
        self.applied = snapshot.index
        #: Entries up to here are on disk (the driver persisted a Ready that held them).
        self.stable = self.last_index
        #: The configuration at the snapshot (or the bootstrap one), then one per CONFIG
        #: entry in the log, in index order: the last one is in effect (§4.1).
        self.confs: list[Membership] = [base or Membership()]
        self._add_confs(self._entries)

    @property
    def membership(self) -> Membership:
        """The configuration in effect: the latest in the log, committed or not."""
        return self.confs[-1]

    def membership_at(self, index: int) -> Membership:
        """The configuration in effect once the log ended at `index`."""
        for conf in reversed(self.confs):
            if conf.index <= index:
                return conf
        return self.confs[0]

    def _add_confs(self, entries: Sequence[Entry]) -> None:
        for entry in entries:
            if entry.kind is _CONFIG:
                self.confs.append(Membership.decode(entry.data, entry.index))

    @property
    def first_index(self) -> int:
        """The first index still in memory (maybe last_index + 1 when empty)."""
        return self.snapshot_index + 1

    @property
    def last_term(self) -> int:
        """The term of the last entry (or of the snapshot)."""
        return self._entries[-1].term if self._entries else self.snapshot_term

    def term(self, index: int) -> int | None:
        """The term of the entry at `index`; None when compacted away or not there yet."""
        if index == self.snapshot_index:
            return self.snapshot_term
        if self.snapshot_index < index <= self.last_index:
            return self._entries[index - self.snapshot_index - 1].term
        return None

    def match_term(self, index: int, term: int) -> bool:
        """Whether this log holds an entry of `term` at `index` (0, 0 always matches)."""
        return self.term(index) == term

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """Raft §5.4.1: a candidate's log is at least as up to date as this one."""
        return last_term > self.last_term or (
            last_term == self.last_term and last_index >= self.last_index
        )

    def entry(self, index: int) -> Entry:
        """The entry at `index` (must be retained)."""
        if not self.snapshot_index < index <= self.last_index:
            raise InvariantError(f"no entry {index}")
        return self._entries[index - self.snapshot_index - 1]

    def slice(self, lo: int, hi: int, max_bytes: int, max_count: int) -> tuple[Entry, ...]:
        """Entries [lo, hi) within the limits; at least one entry when lo < hi."""
        if not self.first_index <= lo <= hi <= self.last_index + 1:
            raise InvariantError(f"bad slice {lo}:{hi}")
        base = self.snapshot_index + 1
        window = self._entries[lo - base : min(hi, lo + max_count) - base]
        size = 0
        for k, entry in enumerate(window):
            size += len(entry.data) + ENTRY_OVERHEAD_BYTES  # Entry.size_bytes, inlined
            if k and size > max_bytes:
                return tuple(window[:k])
        return tuple(window)

    def unstable_entries(self) -> tuple[Entry, ...]:
        """Entries not yet persisted."""
        return tuple(self._entries[self.stable - self.snapshot_index :])

    def retained_entries(self) -> tuple[Entry, ...]:
        """Every entry in memory: those after the snapshot."""
        return tuple(self._entries)

    def stable_to(self, index: int, term: int) -> None:
        """The driver persisted entries up to (index, term); ignored if since replaced."""
        if self.match_term(index, term) and index > self.stable:
            self.stable = index

    def find_conflict(self, entries: Sequence[Entry]) -> int:
        """The first index of `entries` that is new or differs in term here, or 0."""
        for entry in entries:
            if not self.match_term(entry.index, entry.term):
                return entry.index
        return 0

    def find_conflict_by_term(self, index: int, term: int) -> tuple[int, int]:
        """The largest index <= `index` whose term is <= `term`, and its term (0 if unknown).

        Used both ways for fast back-up (etcd's findConflictByTerm): a follower hints with it,
        and the leader uses it on the hint to skip a whole term of mismatching entries.
        """
        index = min(index, self.last_index)
        while index > self.snapshot_index:
            entry_term = self.term(index)
            if entry_term is not None and entry_term <= term:
                return index, entry_term
            index -= 1
        if index == self.snapshot_index and self.snapshot_term <= term:
            return index, self.snapshot_term
        return index, 0

    def maybe_append(
        self, prev_index: int, prev_term: int, commit: int, entries: Sequence[Entry]
    ) -> int | None:
        """Raft §5.3 AppendEntries receiver: None on mismatch, else the last new index."""
        if not self.match_term(prev_index, prev_term):
            return None
        last_new = prev_index + len(entries)
        conflict = self.find_conflict(entries)
        if conflict:
            if not conflict > self.committed:
                raise InvariantError(f"conflict {conflict} <= commit {self.committed}")
            self.append(entries[conflict - prev_index - 1 :])
        self.commit_to(min(commit, last_new))
        return last_new

    def append(self, entries: Sequence[Entry]) -> None:
        """Put `entries` at their indexes, dropping any suffix they replace."""
        if not entries:
            return
        first = entries[0].index
        if not self.committed < first <= self.last_index + 1:
            raise InvariantError(f"append at {first}")
        del self._entries[first - self.snapshot_index - 1 :]
        if self.confs[-1].index >= first:  # a cut suffix takes its configurations along
            self.confs = [self.confs[0]] + [c for c in self.confs[1:] if c.index < first]
        self._entries.extend(entries)
        self._add_confs(entries)
        self.last_index = self.snapshot_index + len(self._entries)
        self.stable = min(self.stable, first - 1)
        invariant(self.entry(self.last_index) is entries[-1], "append left a gap")

    def commit_to(self, index: int) -> None:
        """Raise the commit mark (never lowers it)."""
        if index > self.committed:
            if not index <= self.last_index:
                raise InvariantError(f"commit {index} past last {self.last_index}")
            self.committed = index

    def applied_to(self, index: int) -> None:
        """The application applied everything up to `index`."""
        if not self.applied <= index <= self.committed:
            raise InvariantError(f"applied_to {index}")
        self.applied = index

    def restore(self, meta: SnapshotMeta, conf: Membership) -> None:
        """Replace the whole log by a snapshot received from the leader (`conf`: the
        configuration at its index)."""
        self._entries.clear()
        self.confs = [conf]
        self.snapshot_index, self.snapshot_term = meta.index, meta.term
        self.last_index = meta.index
        self.committed = meta.index
        self.stable = meta.index

    def compact(self, index: int) -> None:
        """Drop the entries up to `index` (covered by a new snapshot)."""
        term = self.term(index)
        if term is None or index > self.applied:
            raise InvariantError(f"cannot compact to {index}")
        del self._entries[: index - self.snapshot_index]
        base = self.membership_at(index)
        self.confs = [base] + [c for c in self.confs if c.index > index]
        self.snapshot_index, self.snapshot_term = index, term or 0
        self.last_index = index + len(self._entries)
