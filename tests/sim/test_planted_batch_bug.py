"""The simulator must find a batch entry applied twice after a retry: plant it and sweep.

The kv clients' attempts go through the production `Coalescer` (sim/kv.py): the attempts
started in one burst go to a server as one batch, whose writes become one WriteBatch entry.
When a leader is deposed, it answers every pending write RETRY at once; the clients resend
the same (client id, seq) together, as one batch, to the next server. If the first copies
committed after all, the retries are duplicates, which the session table answers without
applying them again.

3. A batch entry applied twice after a retry: a write of a WriteBatch entry whose session
   already applied its seq is applied again (the duplicate is still answered as one).
"""

from __future__ import annotations

import pytest

from sentinel.kvraft.codec import WriteBatch
from sentinel.kvraft.statemachine import KVStateMachine
from sentinel.sim import SimOptions, sweep

#: The profile of test_kv.py's clean sweep (which checks that batches and expiry happen).
BATCHES = SimOptions(nodes=5, sim_seconds=10.0, workload="kv", profile="mixed")
SEEDS = range(0, 8)  # today seeds 3 and 4 find it
_apply_command = KVStateMachine._apply_command


def apply_retried_batch_writes_again(
    self: KVStateMachine, index: int, command: object, now_ms: int, term: int
) -> object:
    """KVStateMachine._apply_command that applies a batch's duplicate writes once more."""
    if type(command) is WriteBatch:
        for write in command.writes:
            session = self._sessions.get(write.client_id)
            if session is not None and write.seq == session.seq:
                self._write(write, now_ms)  # type: ignore[arg-type]
    return _apply_command(self, index, command, now_ms, term)  # type: ignore[arg-type]


def test_sweep_finds_a_batch_entry_applied_twice_after_a_retry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(KVStateMachine, "_apply_command", apply_retried_batch_writes_again)
    print(
        f"mixed kv seeds {SEEDS.start}..{SEEDS.stop - 1} with a retried batch write applied twice"
    )
    summary = sweep(SEEDS, BATCHES)
    print(summary.line())
    assert summary.failures, "the simulator missed a batch write applied twice"
    for failure in summary.failures:
        print(f"found by seed {failure.seed}")
        assert failure.seed in SEEDS
        assert failure.what.startswith("linearizability"), failure.what
        assert f"--seed {failure.seed}" in str(failure)
