"""Membership changes among the simulator's faults (the "membership" profile): adds with
automatic promotion, follower removals, the leader removing itself and two removals at one
instant, and races (Ongaro's 2015 scenario: a change, the leader cut off, the next leader's
change the instant it is elected, a split), during crashes, power cuts, pauses and
partitions. Every invariant holds after every step, and both planted bugs (a second change
accepted before the first commits; a change accepted by a leader that has not yet committed
an entry of its term) are found.
"""

from __future__ import annotations

import pytest

from sentinel.raft import ConfChangeOp, Entry, EntryKind, Membership, SnapshotMeta, reconfig
from sentinel.raft.messages import NONE
from sentinel.sim import SimOptions, run_seed, sweep
from sentinel.sim.invariants import (
    DurableLog,
    InvariantChecker,
    InvariantViolation,
    check_overlap,
)

OPTIONS = SimOptions(nodes=5, sim_seconds=10.0, profile="membership")
SEEDS = range(3000, 3024)
PLANTED_SEEDS = range(0, 6)  # seeds 0, 2, 3 and 4 find it today
#: Seeds swept with the own-term rule planted away: 2, 3 and 4 find it today.
OWN_TERM_SEEDS = range(0, 8)


@pytest.mark.parametrize("first", range(SEEDS.start, SEEDS.stop, 8))
def test_membership_changes_keep_every_invariant(first: int) -> None:
    seeds = range(first, first + 8)
    print(
        f"membership seeds {seeds.start}..{seeds.stop - 1} (replay: --seed S --profile membership)"
    )
    changes = refused = retired = 0
    for seed in seeds:
        result = run_seed(seed, OPTIONS)
        counts = result.counts
        print(
            f"seed {seed}: changes={counts['conf_changes']} refused={counts['conf_refused']} "
            f"retired={counts['retired']} commits={result.commits}"
        )
        assert result.ok, str(result.failure)
        changes += counts["conf_changes"]
        refused += counts["conf_refused"]
        retired += counts["retired"]
        assert result.acked > 20  # the cluster kept making progress
    # Changes really happened, some were refused (one at a time), removed nodes stopped.
    assert changes > 3 * len(seeds) and refused > len(seeds) and retired > 0


def stacking_refusal(r, expected_index):  # type: ignore[no-untyped-def]
    """reconfig.refusal without "the previous change is committed": changes stack."""
    if r.lead_transferee != NONE:
        return "transfer under way"
    return "" if r.committed_in_current_term() else "no own-term commit yet"


def test_planted_bug_a_second_change_before_the_first_commits_is_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reconfig, "refusal", stacking_refusal)
    print(f"membership seeds {PLANTED_SEEDS.start}..{PLANTED_SEEDS.stop - 1}, stacking planted")
    summary = sweep(PLANTED_SEEDS, OPTIONS)
    print(summary.line())
    assert summary.failures, "the simulator missed changes accepted before the last committed"
    for failure in summary.failures:
        print(f"seed {failure.seed}: {failure.what[:160]}")
        assert failure.what.startswith(("configuration overlap", "committed entry")), failure.what
        assert f"--seed {failure.seed}" in str(failure)


def no_own_term_refusal(r, expected_index):  # type: ignore[no-untyped-def]
    """reconfig.refusal without "the leader has committed an entry of its term"."""
    if r.lead_transferee != NONE:
        return "transfer under way"
    conf = r.membership
    return f"change at {conf.index} uncommitted" if conf.index > r.log.committed else ""


def test_planted_bug_a_change_before_the_leaders_own_term_commit_is_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reconfig, "refusal", no_own_term_refusal)
    seeds = OWN_TERM_SEEDS
    print(f"membership seeds {seeds.start}..{seeds.stop - 1}, own-term rule planted away")
    summary = sweep(seeds, OPTIONS)
    print(summary.line())
    assert len(summary.failures) >= 2, "the races missed a change before the own-term commit"
    for failure in summary.failures:
        print(f"seed {failure.seed}: {failure.what[:160]}")
        assert isinstance(failure.what, str) and failure.what.startswith(
            ("leader completeness", "committed entry", "election safety", "log matching")
        ), failure.what
        assert f"--seed {failure.seed}" in str(failure)


@pytest.mark.parametrize("first", range(OWN_TERM_SEEDS.start, OWN_TERM_SEEDS.stop, 4))
def test_the_seeds_that_find_the_own_term_bug_pass_with_the_rule(first: int) -> None:
    races = 0
    for seed in range(first, first + 4):
        result = run_seed(seed, OPTIONS)
        print(f"membership seed {seed}: races={result.counts['conf_races']}")
        assert result.ok, str(result.failure)
        races += result.counts["conf_races"]
    assert races >= 2  # races started: a change appended, its leader cut off


def test_overlap_check_accepts_one_step_and_refuses_two() -> None:
    five = Membership.bootstrap((1, 2, 3, 4, 5))
    check_overlap(1, five.changed(ConfChangeOp.REMOVE, 5), five)
    check_overlap(1, Membership((1, 2, 3, 4, 5, 6), (), 7, 6), five)
    with pytest.raises(InvariantViolation, match="configuration overlap"):
        check_overlap(1, Membership((1, 2, 3), (), 9, 5), five)


def test_durability_counts_the_voters_of_the_configuration_in_effect() -> None:
    checker = InvariantChecker((1, 2, 3))
    conf = Membership((1, 2, 3, 4, 5), (), 1, 5)
    entry = Entry(1, 1, conf.encode(), EntryKind.CONFIG)
    checker.observe_persist(1, 0, (entry,))
    checker.observe_commit(1, entry)
    assert checker.confs[-1] == conf
    held = DurableLog(SnapshotMeta(), (entry,))
    # Three of five voters hold it: fine; two are not a majority of the five.
    checker.check_durability({}, {1: held, 2: held, 4: held})
    with pytest.raises(InvariantViolation, match="committed entry lost"):
        checker.check_durability({}, {1: held, 2: held})


#: Seeds that once failed, with what they caught; each must keep passing.
ONCE_FAILED = [
    # A leader paused for over a second resumed and committed, on acks queued before its
    # pause, with a configuration three changes old; the overlap check compared it with the
    # newest committed one anywhere instead of the newest in its own log (a false alarm).
    27,
]


@pytest.mark.parametrize("seed", ONCE_FAILED)
def test_seeds_that_once_failed_keep_passing(seed: int) -> None:
    print(f"membership seed {seed}")
    result = run_seed(seed, OPTIONS)
    assert result.ok, str(result.failure)
    assert result.counts["conf_changes"] > 3
