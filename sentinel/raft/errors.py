"""Errors raised by the raft core and its storage."""

from __future__ import annotations


class RaftError(Exception):
    """Base class of every error the raft package raises on purpose."""


class NotLeader(RaftError):
    """The request needs the leader and this node is not it.

    `leader_hint` is the node this one believes leads its current term, or None.
    """

    def __init__(self, leader_hint: int | None) -> None:
        super().__init__(f"not the leader (leader hint: {leader_hint})")
        self.leader_hint = leader_hint


class ProposalDropped(RaftError):
    """The leader refused a proposal or read: a limit is reached or a transfer is under way."""


class ConfChangeRefused(RaftError):
    """A membership change that may not start now (the message says why); nothing changed."""


class InvalidMessage(RaftError):
    """A message that no correct peer sends (wrong recipient, unknown sender, bad entries).

    The core rejects it without changing any state; the driver logs it and keeps serving.
    """


class InvariantError(AssertionError):
    """A safety invariant of the core does not hold: a bug, never a recoverable condition."""


class StorageError(RaftError):
    """The node's directory cannot be trusted; the node must stop. Files are left untouched."""


class CorruptLogError(StorageError):
    """A record in the middle of the write-ahead log is corrupt (not a torn tail)."""


class CorruptStateError(StorageError):
    """The hard state or metadata file is corrupt, or the files contradict each other."""


class CorruptSnapshotError(StorageError):
    """The snapshot file the log depends on is corrupt."""


class MissingSnapshotError(StorageError):
    """The log starts after a snapshot that is not in the directory."""


class ClusterMismatchError(StorageError):
    """The directory belongs to another cluster or another node."""


def invariant(condition: bool, what: str) -> None:
    """Raise InvariantError when `condition` is false (unlike `assert`, never compiled out).
    On hot paths the core writes `if not ...: raise InvariantError(f"...")` instead, so the
    message is formatted only on failure (an f-string per call costs ~5% of a leader's CPU)."""
    if not condition:
        raise InvariantError(what)
