"""`sentinel.cluster.load` against fake clients: what a run reports when the store answers
well, loses writes, cannot say whether writes were applied, or goes away. (The command
against a real cluster: test_cli_load.py.)"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from sentinel.cluster.load import HISTORY_NAME, LoadOptions, run_load
from sentinel.kvraft.errors import OutcomeUnknown, Unavailable
from sentinel.lin import CheckResult, check_operations, kv_model, load_history, read_history

#: Each fake call takes at least this long, so a run's call count has a bound that does not
#: depend on the machine: 3 clients x 1.5 s / 100 us = 45,000 calls, under one round's
#: 50,000 (a fast host once made 50,000 bare calls in 1.5 s: two rounds, a failed test).
CALL_S_MIN = 100e-6


class FakeStore:
    """A thread-safe dict with the client's call signatures: linearizable by construction
    (one lock), unless told to drop every `lose_every`-th append. Each call takes at least
    CALL_S_MIN."""

    def __init__(self, lose_every: int = 0, unknown_every: int = 0) -> None:
        self.data: dict[str, str] = {}
        self.lock = threading.Lock()
        self.appends = 0
        self.lose_every = lose_every
        self.unknown_every = unknown_every
        self.closed = False

    def get(self, key: str, timeout_s: float) -> str | None:
        time.sleep(CALL_S_MIN)
        with self.lock:
            return self.data.get(key)

    def put(self, key: str, value: str, timeout_s: float) -> None:
        time.sleep(CALL_S_MIN)
        with self.lock:
            self.data[key] = value

    def append(self, key: str, value: str, timeout_s: float) -> None:
        time.sleep(CALL_S_MIN)
        with self.lock:
            self.appends += 1
            if self.unknown_every and self.appends % self.unknown_every == 0:
                self.data[key] = self.data.get(key, "") + value  # applied, but no answer
                raise OutcomeUnknown("no answer before the deadline")
            if self.lose_every and self.appends % self.lose_every == 0:
                return  # acknowledged, never applied
            self.data[key] = self.data.get(key, "") + value

    def delete(self, key: str, timeout_s: float) -> bool:
        time.sleep(CALL_S_MIN)
        with self.lock:
            return self.data.pop(key, None) is not None


class Gone(FakeStore):
    def get(self, key: str, timeout_s: float) -> str | None:
        raise ConnectionError("the router closed the connection")


class Closing(FakeStore):
    """Calls fail at once, as the real client's do, once the router connection is gone."""

    def put(self, key: str, value: str, timeout_s: float) -> None:
        with self.lock:
            self.closed = True
        raise Unavailable("Put: could not send (the network is closed); it changed nothing")


def options(**changes: object) -> LoadOptions:
    base = dict(
        clients=3, keys=2, seconds=1.5, op_timeout_s=1.0, check_timeout_s=30.0, seed=7,
        round_calls=50_000,
    )  # fmt: skip
    base.update(changes)
    return LoadOptions(**base)  # type: ignore[arg-type]


def run(tmp_path: Path, store: FakeStore, **changes: object) -> tuple[int, list[str]]:
    lines: list[str] = []
    status = run_load(tmp_path, store, options(**changes), lines.append)  # type: ignore[arg-type]
    return status, lines


def test_a_linearizable_store_passes_and_its_keys_are_gone(tmp_path):
    store = FakeStore()
    status, lines = run(tmp_path, store)
    assert status == 0, lines
    assert any(line.startswith("round 1: ") and ": linearizable" in line for line in lines)
    assert lines[-1] == "rounds: 1 checked, 1 linearizable"
    assert store.data == {}, "the run deletes the keys it made"
    history = read_history(str(tmp_path / HISTORY_NAME))
    assert len(history) > 100
    assert check_operations(kv_model, history) is CheckResult.OK


def test_lost_appends_are_caught_and_kept_with_a_picture(tmp_path):
    status, lines = run(tmp_path, FakeStore(lose_every=50))
    assert status == 1, lines
    assert any("NOT linearizable" in line for line in lines), lines
    assert (tmp_path / "load-history-1.edn").exists()
    assert (tmp_path / "load-history-1.html").read_text().startswith("<!DOCTYPE html>")
    assert lines[-1] == "rounds: 1 checked, 0 linearizable"


def test_outcome_unknown_is_recorded_as_such_and_still_checks(tmp_path):
    status, lines = run(tmp_path, FakeStore(unknown_every=40))
    assert status == 0, lines
    done = next(line for line in lines if line.startswith("done: "))
    assert "outcome unknown 0" not in done, done


def test_jepsen_history_format_reads_back_with_the_same_verdict(tmp_path):
    status, lines = run(tmp_path, FakeStore(unknown_every=40), history_format="jepsen")
    assert status == 0, lines
    loaded = load_history(tmp_path / HISTORY_NAME)
    assert (loaded.format, loaded.model_name) == ("jepsen-edn", "kv")
    assert any(op.pending for op in loaded.operations)
    assert check_operations(kv_model, loaded.operations) is CheckResult.OK
    first = (tmp_path / HISTORY_NAME).read_text().splitlines()[0]
    assert first.startswith("{:process ") and ':value ["load-' in first and ":index 0}" in first
    status, lines = run(tmp_path, FakeStore(lose_every=50), history_format="jepsen")
    assert status == 1, lines
    kept = load_history(tmp_path / "load-history-1.edn")
    assert check_operations(kv_model, kept.operations) is CheckResult.ILLEGAL


def test_rounds_have_their_own_keys_and_checks(tmp_path):
    status, lines = run(tmp_path, FakeStore(), seconds=3.5, round_calls=100)
    assert status == 0, lines
    rounds = [line for line in lines if line.startswith("round ")]
    assert len(rounds) >= 3 and all(": linearizable" in line for line in rounds), lines
    assert lines[-1] == f"rounds: {len(rounds)} checked, {len(rounds)} linearizable"


def test_a_store_that_goes_away_ends_the_run_with_an_error(tmp_path):
    status, lines = run(tmp_path, Gone(), seconds=30.0)
    assert status == 1, lines
    assert any(line.startswith("error: client ") and "ConnectionError" in line for line in lines)


def test_a_closed_connection_ends_the_run_instead_of_spinning(tmp_path):
    status, lines = run(tmp_path, Closing(), seconds=30.0)
    assert status == 1, lines
    assert any("the connection to the router closed" in line for line in lines), lines
    done = next(line for line in lines if line.startswith("done: "))
    assert " in 30." not in done, "the run stopped when the connection closed"


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"clients": 0}, "--clients must be 1..64"),
        ({"keys": 1001}, "--keys must be 1..1000"),
        ({"seconds": -1.0}, "--seconds must not be negative"),
        ({"round_calls": 0}, "--round-calls must be 1..200000"),
        ({"op_timeout_s": 0.0}, "timeouts must be positive"),
        ({"history_format": "xml"}, "--history-format must be one of kv, jepsen"),
    ],
)
def test_bad_options_are_named(changes, words):
    problems = options(**changes).problems()
    assert len(problems) == 1 and words in problems[0], problems
    assert options().problems() == []
