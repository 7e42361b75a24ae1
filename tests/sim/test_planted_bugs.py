"""The simulator must find real bugs: plant them in the core and sweep the CI seeds.

1. The Figure 8 bug (Raft §5.4.2): a leader commits an entry of an earlier term by counting
   replicas. The figure8 profile (leaders crashed within milliseconds of winning, a quorum
   just barely up, one entry per round trip) makes that situation common.
2. One vote per term forgotten: a follower grants every up-to-date candidate of a term.
3. A vote forgotten after a full disk: storage takes a new term and vote as saved before
   its file is written, so saving the same Ready again, once there is room, skips it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from sentinel.raft import Message, MessageType, Raft, Ready, Storage
from sentinel.sim import SimOptions, sweep

FIGURE8 = SimOptions(nodes=5, sim_seconds=10.0, profile="figure8")
MIXED = SimOptions(nodes=5, sim_seconds=10.0, profile="mixed")
FIGURE8_SEEDS = range(0, 16)  # seeds 3, 4, 11 and 15 find it today
DOUBLE_VOTE_SEEDS = range(0, 15)  # seeds 2, 6, 9 and 12 find it today
DISKS = SimOptions(nodes=5, sim_seconds=10.0, profile="disks")
FULL_DISK_VOTE_SEEDS = range(0, 8)  # seeds 0, 1 and 4 find it today
_save = Storage.save


def hard_state_first(self: Storage, rd: Ready) -> None:
    """Storage.save as it was: the new term and vote count as saved before the write."""
    if rd.hard_state is not None:
        old, self._hard_state = self._hard_state, rd.hard_state
        if (old.term, old.vote) != (rd.hard_state.term, rd.hard_state.vote):
            self._write_hard_state(rd.hard_state)
    _save(self, rd)


def commit_by_counting(self: Raft) -> bool:
    """maybe_commit without the "entry of our term" rule: the Figure 8 bug."""
    matches = sorted((self.prs[p].match for p in self.peers), reverse=True)
    candidate = matches[self.config.quorum - 1]
    if candidate <= self.log.committed:
        return False
    first_in_term = not self.committed_in_current_term()
    self.log.commit_to(candidate)
    self.pending_append = True
    if first_in_term and self.committed_in_current_term():
        self.release_deferred_reads()
    return True


def vote_for_anyone(self: Raft, m: Message) -> None:
    """handle_vote_request without "at most one vote per term"."""
    resp = MessageType.VOTE_RESP if m.type is MessageType.VOTE else MessageType.PRE_VOTE_RESP
    if self.log.is_up_to_date(m.index, m.log_term):
        self.send(Message(resp, self.id, m.src, m.term))
        if m.type is MessageType.VOTE:
            self.election_elapsed = 0
            self.vote = m.src
    else:
        self.send(Message(resp, self.id, m.src, self.term, reject=True))


def test_sweep_finds_the_figure8_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Raft, "maybe_commit", commit_by_counting)
    seeds = FIGURE8_SEEDS
    print(f"figure8 seeds {seeds.start}..{seeds.stop - 1} with commit-by-counting planted")
    summary = sweep(seeds, FIGURE8)
    print(summary.line())
    assert summary.failures, "the simulator missed the Figure 8 bug"
    for failure in summary.failures:
        assert failure.seed in seeds
        assert failure.what.startswith(("leader completeness", "committed entry changed")), (
            failure.what
        )
        assert f"--seed {failure.seed}" in str(failure)
        assert failure.trace_tail and len(failure.trace_tail) <= 200


def test_sweep_finds_a_double_vote(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Raft, "handle_vote_request", vote_for_anyone)
    seeds = DOUBLE_VOTE_SEEDS
    print(f"mixed seeds {seeds.start}..{seeds.stop - 1} with one-vote-per-term forgotten")
    summary = sweep(seeds, MIXED)
    print(summary.line())
    assert summary.failures, "the simulator missed two votes in one term"
    assert all("election safety" in f.what for f in summary.failures), [
        f.what for f in summary.failures
    ]


def test_sweep_finds_a_vote_forgotten_after_a_full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Storage, "save", hard_state_first)
    seeds = FULL_DISK_VOTE_SEEDS
    print(f"disks seeds {seeds.start}..{seeds.stop - 1} with the hard state taken as saved early")
    summary = sweep(seeds, DISKS)
    print(summary.line())
    assert summary.failures, "the simulator missed a vote lost to a full disk"
    for failure in summary.failures:  # the disk disagrees with itself, or worse
        assert failure.what.startswith(
            ("a node cannot recover", "election safety", "committed entry")
        ), failure.what


def test_cli_replays_a_failing_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Raft, "maybe_commit", commit_by_counting)
    summary = sweep(range(3, 4), FIGURE8)  # seed 3 fails (see the test above)
    assert summary.failures, "seed 3 no longer shows the planted bug; pick another"
    failure = summary.failures[0]
    script = textwrap.dedent(
        f"""
        import sys
        from sentinel.raft import Raft
        sys.path.insert(0, {str(__file__.rsplit("/", 1)[0])!r})
        from test_planted_bugs import commit_by_counting
        Raft.maybe_commit = commit_by_counting
        from sentinel.sim.__main__ import main
        sys.exit(main(["--seed", "3", "--profile", "figure8"]))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert "seed 3: VIOLATION" in out.stdout
    assert failure.what in out.stdout
    assert "last events:" in out.stdout
