"""The simulator must find real bugs: plant them in the core and sweep the CI seeds.

1. The Figure 8 bug (Raft §5.4.2): a leader commits an entry of an earlier term by counting
   replicas. The figure8 profile (leaders crashed within milliseconds of winning, a quorum
   just barely up, one entry per round trip) makes that situation common.
2. One vote per term forgotten: a follower grants every up-to-date candidate of a term.
3. A vote forgotten after a full disk: storage takes a new term and vote as saved before
   its file is written, so saving the same Ready again, once there is room, skips it.
4. Snapshot chunks kept out of order: a follower appends every chunk of a transfer to what
   it holds, so a duplicated (or resent) chunk is kept twice and the installed snapshot is
   not the leader's.
5. A snapshot bounded by its data alone: with max_snapshot_bytes checked before the
   configuration is wrapped around the data, a leader makes a snapshot a few bytes over
   the bound its followers hold a transfer to; each would refuse the first chunk, and the
   leader send it again at once, for ever (a livelock, which the simulator also finds,
   slowly). Swept with a 300-byte bound, which the kv workload's states outgrow, so
   snapshots are also refused and the log grows.
6. A membership change taken for a command: the 6.824 recorder decodes every entry but the
   EMPTY ones, so a committed CONFIG entry is an "undecodable command" and takes a command
   index that its Start never gave. The raft workload now counts an application's error as
   a violation; the membership profile commits CONFIG entries in every run.
7. A joiner's snapshot without its configuration: a joining node compacts at an index
   before its own addition, where it does not know the configuration (the founders'
   bootstrap is not in the log), so its snapshot differs from every other node's there and
   a node restoring it would take its own bootstrap for the configuration. Rare: a joiner
   must catch up past a compaction point from a log nobody had compacted yet.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap

import pytest

from sentinel.host import Storage
from sentinel.host.recorder import Recorder
from sentinel.raft import Message, MessageType, Raft, Ready, election, follower, leader
from sentinel.raft.membership import wrap_snapshot
from sentinel.raft.messages import Entry, EntryKind, Snapshot, SnapshotMeta
from sentinel.sim import SimOptions, runner, sweep

FIGURE8 = SimOptions(nodes=5, sim_seconds=10.0, profile="figure8")
MIXED = SimOptions(nodes=5, sim_seconds=10.0, profile="mixed")
FIGURE8_SEEDS = range(0, 16)  # seeds 7, 12 and 15 find it today
DOUBLE_VOTE_SEEDS = range(0, 15)  # seeds 6, 10, 11, 12 and 13 find it today
DISKS = SimOptions(nodes=5, sim_seconds=10.0, profile="disks")
FULL_DISK_VOTE_SEEDS = range(0, 8)  # seeds 0, 4 and 7 find it today
CHUNK_ORDER_SEEDS = range(0, 24)  # seeds 14 and 21 find it today
MIXED_KV = SimOptions(nodes=5, sim_seconds=10.0, profile="mixed", workload="kv")
SNAPSHOT_BOUND_BYTES = 300
SNAPSHOT_BOUND_SEEDS = range(0, 12)  # seeds 2, 3, 9 and 10 find it today
MEMBERSHIP = SimOptions(nodes=5, sim_seconds=10.0, profile="membership")
CONFIG_AS_COMMAND_SEEDS = range(0, 4)  # every one finds it today
UNKNOWN_CONFIG_SEEDS = range(144, 150)  # seed 148 finds it today (1 in 150 of 0-149)
_save = Storage.save
_recorder_apply = Recorder.apply


def hard_state_first(self: Storage, rd: Ready) -> None:
    """Storage.save as it was: the new term and vote count as saved before the write."""
    if rd.hard_state is not None:
        old, self._hard_state = self._hard_state, rd.hard_state
        if (old.term, old.vote) != (rd.hard_state.term, rd.hard_state.vote):
            self._write_hard_state(rd.hard_state)
    _save(self, rd)


def commit_by_counting(self: Raft) -> bool:
    """leader.maybe_commit without the "entry of our term" rule: the Figure 8 bug."""
    matches = sorted((self.prs[p].match for p in self.peers), reverse=True)
    candidate = matches[self.config.quorum - 1]
    if candidate <= self.log.committed:
        return False
    first_in_term = not self.committed_in_current_term()
    self.log.commit_to(candidate)
    self.pending_commit_news = True
    if not self.commit_news_on_tick:
        self.pending_append = True
    if first_in_term and self.committed_in_current_term():
        leader.release_deferred_reads(self)
    return True


def vote_for_anyone(self: Raft, m: Message) -> None:
    """election.handle_vote_request without "at most one vote per term"."""
    resp = MessageType.VOTE_RESP if m.type is MessageType.VOTE else MessageType.PRE_VOTE_RESP
    if self.log.is_up_to_date(m.index, m.log_term):
        self.send(Message(resp, self.id, m.src, m.term))
        if m.type is MessageType.VOTE:
            self.election_elapsed = 0
            self.vote = m.src
    else:
        self.send(Message(resp, self.id, m.src, self.term, reject=True))


def keep_every_chunk(r: Raft, m: Message) -> Snapshot | None:
    """follower.take_chunk without its order check: each chunk of the transfer is appended
    to what is held, whatever its offset."""
    assert m.snapshot is not None
    key = follower._transfer(m)
    held = r.snapshot_partial
    if m.offset == 0 or held is None or held[0] != key:
        held = r.snapshot_partial = (key, bytearray())
    held[1].extend(m.snapshot.data)
    if not m.done:
        return None
    r.snapshot_partial = None
    return Snapshot(m.snapshot.meta, bytes(held[1]))


def compact_bounding_the_data(self: Raft, index: int, data: bytes) -> bool:
    """Raft.compact checking max_snapshot_bytes on the data before its configuration is
    wrapped around it (and a driver that counts no configuration either)."""
    if index <= self.log.snapshot_index:
        return False
    if len(data) > self.config.max_snapshot_bytes:
        raise ValueError(f"snapshot of {len(data)} bytes is over max_snapshot_bytes")
    meta = SnapshotMeta(index, self.log.term(index) or 0)
    conf = self.log.membership_at(index)
    self.log.compact(index)
    self.snapshot = Snapshot(meta, wrap_snapshot(conf, bytes(data)))
    self.snapshot_to_persist = self.snapshot
    self.check_invariants()
    return True


def apply_config_as_command(self: Recorder, entry: Entry) -> None:
    """Recorder.apply as it was: every entry but an EMPTY one is taken for a command."""
    if entry.kind is EntryKind.CONFIG:
        entry = dataclasses.replace(entry, kind=EntryKind.NORMAL)
    _recorder_apply(self, entry)


def compact_without_a_configuration(self: Raft, index: int, data: bytes) -> bool:
    """Raft.compact as it was: a joining node compacts before it knows the configuration."""
    if index <= self.log.snapshot_index:
        return False
    conf = self.log.membership_at(index)
    meta = SnapshotMeta(index, self.log.term(index) or 0)
    self.log.compact(index)
    self.snapshot = Snapshot(meta, wrap_snapshot(conf, bytes(data)))
    self.snapshot_to_persist = self.snapshot
    self.check_invariants()
    return True


def bound_snapshots(monkeypatch: pytest.MonkeyPatch, bound_bytes: int) -> None:
    """Every seed keeps its own raft config, with snapshots bounded to `bound_bytes`."""
    pick = runner.seed_raft_config
    monkeypatch.setattr(
        runner,
        "seed_raft_config",
        lambda seed, profile="mixed": {**pick(seed, profile), "max_snapshot_bytes": bound_bytes},
    )


def planted_failures(seeds: range, options: SimOptions, bug: str, kinds: tuple[str, ...]):
    """Sweep `seeds` with `bug` planted (monkeypatched by the caller): its failures, each an
    invariant of `kinds`, named with its seed and a replay command."""
    print(f"{options.profile} seeds {seeds.start}..{seeds.stop - 1} with {bug} planted")
    summary = sweep(seeds, options)
    print(summary.line())
    assert summary.failures, f"the simulator missed {bug}"
    for failure in summary.failures:
        assert failure.seed in seeds
        assert failure.what.startswith(kinds), failure.what
        assert f"--seed {failure.seed}" in str(failure)
    return summary.failures


def test_sweep_finds_the_figure8_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(leader, "maybe_commit", commit_by_counting)
    kinds = ("leader completeness", "committed entry changed")
    for failure in planted_failures(FIGURE8_SEEDS, FIGURE8, "commit-by-counting", kinds):
        assert failure.trace_tail and len(failure.trace_tail) <= 200


def test_sweep_finds_a_double_vote(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(election, "handle_vote_request", vote_for_anyone)
    planted_failures(DOUBLE_VOTE_SEEDS, MIXED, "two votes in one term", ("election safety",))


def test_sweep_finds_a_vote_forgotten_after_a_full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Storage, "save", hard_state_first)
    # The disk then disagrees with itself (a log term past the hard state's), or worse.
    kinds = ("a node cannot recover", "election safety", "committed entry")
    planted_failures(FULL_DISK_VOTE_SEEDS, DISKS, "a vote lost to a full disk", kinds)


def test_sweep_finds_snapshot_chunks_kept_out_of_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(follower, "take_chunk", keep_every_chunk)
    kinds = ("state machine safety",)  # a snapshot that differs from the state it names
    planted_failures(CHUNK_ORDER_SEEDS, DISKS, "snapshot chunks kept out of order", kinds)


def test_snapshots_past_their_bound_are_skipped_and_nothing_breaks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same seeds without the bug: snapshots over the bound are skipped (the log keeps
    the entries), those under it travel and install, and every invariant holds."""
    bound_snapshots(monkeypatch, SNAPSHOT_BOUND_BYTES)
    summary = sweep(SNAPSHOT_BOUND_SEEDS, MIXED_KV)
    print(summary.line())
    assert not summary.failures, summary.failures[0]
    assert summary.installs > 0, "no snapshot under the bound travelled"


def test_sweep_finds_a_snapshot_bounded_by_its_data_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    bound_snapshots(monkeypatch, SNAPSHOT_BOUND_BYTES)
    monkeypatch.setattr(Raft, "compact", compact_bounding_the_data)
    monkeypatch.setattr(Raft, "snapshot_wrap_bytes", lambda self, index: 0)
    kinds = ("snapshot bound",)
    planted_failures(SNAPSHOT_BOUND_SEEDS, MIXED_KV, "a snapshot bounded by its data", kinds)


def test_sweep_finds_a_config_entry_taken_for_a_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Recorder, "apply", apply_config_as_command)
    kinds = ("node ",)  # "node N's application reported an error"
    bug = "a CONFIG entry taken for a command"
    for failure in planted_failures(CONFIG_AS_COMMAND_SEEDS, MEMBERSHIP, bug, kinds):
        assert "undecodable command" in failure.what, failure.what


def test_sweep_finds_a_joiners_snapshot_without_its_configuration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Raft, "compact", compact_without_a_configuration)
    monkeypatch.setattr(Raft, "can_compact", lambda self, index: index > self.log.snapshot_index)
    kinds = ("state machine safety",)  # a snapshot that differs from the others' there
    bug = "a joiner's snapshot without its configuration"
    planted_failures(UNKNOWN_CONFIG_SEEDS, MEMBERSHIP, bug, kinds)


def test_cli_replays_a_failing_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(leader, "maybe_commit", commit_by_counting)
    summary = sweep(range(12, 13), FIGURE8)  # seed 12 fails (see the test above)
    assert summary.failures, "seed 12 no longer shows the planted bug; pick another"
    failure = summary.failures[0]
    script = textwrap.dedent(
        f"""
        import sys
        from sentinel.raft import leader
        sys.path.insert(0, {str(__file__.rsplit("/", 1)[0])!r})
        from test_planted_bugs import commit_by_counting
        leader.maybe_commit = commit_by_counting
        from sentinel.sim.__main__ import main
        sys.exit(main(["--seed", "12", "--profile", "figure8"]))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "seed 12: VIOLATION" in out.stdout
    assert failure.what in out.stdout
    assert "last events:" in out.stdout
