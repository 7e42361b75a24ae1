"""MULTI/EXEC as `apply_batch`: all or nothing, WATCH versions, Redis's in-place errors."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentinel.kvraft.keyspace import BATCH_COMMANDS_MAX, TOMBSTONES_MAX, Keyspace, commands
from sentinel.kvraft.keyspace.replies import Error
from tests.kvraft.keyspace.helpers import args_of, plain, random_commands

NOW = 1_000_000


def batch(ks: Keyspace, *cmds: list[str], watched: dict[bytes, int] | None = None) -> object:
    replies = ks.apply_batch([args_of(*c) for c in cmds], NOW, 0, watched)
    return None if replies is None else [plain(r) for r in replies]


def test_exec_applies_every_command_and_answers_errors_in_place() -> None:
    ks = Keyspace()
    ks.apply(args_of("SET", "s", "text"), NOW)
    replies = batch(ks, ["INCR", "n"], ["INCR", "s"], ["SET", "t", "v"], ["GET", "t"])
    assert replies == [1, "-ERR value is not an integer or out of range", "+OK", b"v"]
    assert batch(ks, ["GET", "nokey", "extra"]) == [
        "-ERR wrong number of arguments for 'get' command"
    ]


def test_a_watched_key_that_changed_aborts_the_exec() -> None:
    ks = Keyspace()
    ks.apply(args_of("SET", "k", "1"), NOW)
    seen = ks.versions([b"k", b"other"], NOW)
    assert batch(ks, ["INCR", "k"], watched=seen) == [2]  # nothing changed since WATCH
    seen = ks.versions([b"k"], NOW)
    ks.apply(args_of("SET", "unrelated", "x"), NOW)
    assert batch(ks, ["INCR", "k"], watched=seen) == [3]
    seen = ks.versions([b"k"], NOW)
    ks.apply(args_of("SET", "k", "3"), NOW)  # same value, still a change (as Redis)
    before = ks.encode()
    assert batch(ks, ["INCR", "k"], ["SET", "z", "1"], watched=seen) is None
    assert ks.encode() == before


@pytest.mark.parametrize(
    "change",
    [
        [["SET", "k", "v"], ["DEL", "k"]],  # created and deleted again: still a change
        [["FLUSHALL"]],
        [["SET", "k", "v", "PX", "5"]],
    ],
)
def test_watching_an_absent_key_sees_it_come_and_go(change: list[list[str]]) -> None:
    ks = Keyspace()
    seen = ks.versions([b"k"], NOW)
    for command in change:
        ks.apply(args_of(*command), NOW)
    assert ks.versions([b"k"], NOW) != seen
    assert batch(ks, ["SET", "x", "1"], watched=seen) is None


def test_expiry_counts_as_a_change_and_its_purge_does_not() -> None:
    ks = Keyspace()
    ks.apply(args_of("SET", "k", "v", "PX", "10"), NOW)
    live = ks.versions([b"k"], NOW)
    expired = ks.versions([b"k"], NOW + 10)
    assert expired != live
    assert ks.apply_batch([args_of("GET", "k")], NOW + 10, 0, live) is None
    assert ks.purge_expired([b"k"], NOW + 10) == 1
    assert ks.versions([b"k"], NOW + 10) == expired  # deleting an expired key changes nothing
    assert ks.apply_batch([args_of("GET", "k")], NOW + 10, 0, expired) == [
        ks.apply(args_of("GET", "k"), NOW + 10)
    ]


def test_versions_of_long_deleted_keys_still_change() -> None:
    """Past TOMBSTONES_MAX deletions the oldest tombstones go, and `floor` moves: a key
    watched while live still reads as changed."""
    ks = Keyspace()
    ks.apply(args_of("SET", "k", "v"), NOW)
    seen = ks.versions([b"k"], NOW)
    ks.apply(args_of("DEL", "k"), NOW)
    for i in range(TOMBSTONES_MAX + 1):
        ks.apply([b"SET", b"t%d" % i, b"v"], NOW)
        ks.apply([b"DEL", b"t%d" % i], NOW)
    assert ks.versions([b"k"], NOW) != seen
    assert len(ks._store.tombstones) == TOMBSTONES_MAX


class Boom(RuntimeError):
    pass


def explode(store, args, now_ms):  # type: ignore[no-untyped-def]
    store.put(b"half", b"applied", None)
    raise Boom("a bug in a command")


def state_of(ks: Keyspace) -> tuple:  # type: ignore[type-arg]
    """Everything a rollback restores: every key's value and expiry, the WATCH counters and
    every tombstone's stamp. (Not the tombstones' eviction order: a tombstone that a rollback
    puts back goes to the newest end, as store.py says.)"""
    store = Keyspace.decode(ks.encode())._store
    return (ks.items(), store.clock, store.floor, store.now_floor_ms, dict(store.tombstones))


@pytest.fixture
def exploding_append(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = dataclasses.replace(commands.COMMANDS[b"APPEND"], handler=explode)
    monkeypatch.setitem(commands.COMMANDS, b"APPEND", spec)


@pytest.mark.usefixtures("exploding_append")
@given(before=random_commands(), inside=random_commands(), after=random_commands())
def test_a_command_that_raises_rolls_the_whole_exec_back(
    before: list[list[bytes]], inside: list[list[bytes]], after: list[list[bytes]]
) -> None:
    ks = Keyspace()
    for command in before:
        if command[0] != b"APPEND":
            ks.apply(command, NOW)
    before_state, watched = state_of(ks), ks.versions([b"a", b"b", b"half"], NOW)
    block = [c for c in inside if c[0] != b"APPEND"] + [args_of("APPEND", "a", "x")] + after
    replies = ks.apply_batch(block, NOW, 0)
    assert replies is not None and len(replies) == len(block)
    assert all(isinstance(r, Error) and "no command of it" in r.text for r in replies)
    assert state_of(ks) == before_state
    assert ks.versions([b"a", b"b", b"half"], NOW) == watched


@pytest.mark.usefixtures("exploding_append")
def test_a_single_command_that_raises_changes_nothing() -> None:
    ks = Keyspace()
    ks.apply(args_of("SET", "a", "1"), NOW)
    snapshot = ks.encode()
    reply = ks.apply(args_of("APPEND", "a", "x"), NOW)
    assert isinstance(reply, Error) and reply.text.startswith("ERR internal error")
    assert ks.encode() == snapshot
    assert plain(ks.apply(args_of("GET", "a"), NOW)) == b"1"  # it goes on serving


def test_too_big_a_transaction_is_refused_whole() -> None:
    ks = Keyspace()
    replies = ks.apply_batch([args_of("SET", "k", "v")] * (BATCH_COMMANDS_MAX + 1), NOW)
    assert replies is not None and all(isinstance(r, Error) for r in replies)
    assert len(ks) == 0


@given(st.data())
def test_a_batch_equals_its_commands_one_by_one(data: st.DataObject) -> None:
    block = data.draw(random_commands())
    one, other = Keyspace(), Keyspace()
    replies = one.apply_batch(block, NOW)
    assert replies == [other.apply(command, NOW) for command in block]
    assert one.encode() == other.encode()
