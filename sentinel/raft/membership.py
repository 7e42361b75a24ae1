"""Cluster membership: who votes, who only learns, and how a configuration travels.

A configuration (`Membership`) lives in the log as a CONFIG entry and takes effect on a node
as soon as the entry is in its log, committed or not (dissertation §4.1); a node whose log
loses the entry (a conflicting suffix cut) falls back to the configuration before it. The
configuration at a snapshot's index travels inside the snapshot's data (`wrap_snapshot`),
ahead of the application's bytes, so storage and the wire carry it without knowing of it.

Changes are single-server (`ConfChangeOp`): add a learner, promote a learner, remove a
member. Ids are never reused: `id_max` is the highest id ever a member, and a new learner
must have a higher one.
"""

from __future__ import annotations

import dataclasses
import enum
import struct

from sentinel.wire import message

#: Snapshot data that starts with this carries the configuration ahead of the app's bytes.
SNAPSHOT_MAGIC = b"SNCONF1\x00"
_HEADER = struct.Struct(">8sI")
#: Members in one configuration (a bound on every loop over them and on the encoding).
MEMBERS_MAX = 64


@message
class ConfChangeOp(enum.Enum):
    """A single-server change."""

    ADD_LEARNER = 1
    PROMOTE = 2
    REMOVE = 3


@dataclasses.dataclass(frozen=True, slots=True)
class Membership:
    """Voters, learners, the log index of the entry that set them (0: the bootstrap
    configuration) and the highest node id ever a member (ids are never reused)."""

    voters: tuple[int, ...] = ()
    learners: tuple[int, ...] = ()
    index: int = 0
    id_max: int = 0

    @classmethod
    def bootstrap(cls, voters: tuple[int, ...]) -> Membership:
        """The configuration a cluster starts with (before any CONFIG entry)."""
        return cls(tuple(sorted(voters)), (), 0, max(voters, default=0))

    @property
    def members(self) -> tuple[int, ...]:
        """Voters and learners, sorted."""
        return tuple(sorted(self.voters + self.learners))

    @property
    def quorum(self) -> int:
        """Votes (or acks) that make a majority of the voters."""
        return len(self.voters) // 2 + 1

    @property
    def known(self) -> bool:
        """False for a joining node that has not yet learned any configuration."""
        return bool(self.voters)

    def changed(self, op: ConfChangeOp, node_id: int) -> Membership:
        """The configuration after `op` on `node_id` (index left 0 until it is appended).
        Raises ValueError for a change that cannot apply to this configuration."""
        voters, learners = set(self.voters), set(self.learners)
        if op is ConfChangeOp.ADD_LEARNER:
            if node_id <= self.id_max:
                raise ValueError(f"node id {node_id} was already used (ids are never reused)")
            if len(voters) + len(learners) >= MEMBERS_MAX:
                raise ValueError(f"at most {MEMBERS_MAX} members")
            learners.add(node_id)
        elif op is ConfChangeOp.PROMOTE:
            if node_id not in learners:
                raise ValueError(f"node {node_id} is not a learner")
            learners.discard(node_id)
            voters.add(node_id)
        else:
            if node_id not in voters | learners:
                raise ValueError(f"node {node_id} is not a member")
            if voters == {node_id}:
                raise ValueError(f"node {node_id} is the last voter")
            voters.discard(node_id)
            learners.discard(node_id)
        return Membership(
            tuple(sorted(voters)), tuple(sorted(learners)), 0, max(self.id_max, node_id)
        )

    def encode(self) -> bytes:
        """The data of a CONFIG entry (the index is the entry's own)."""
        voters = ",".join(map(str, self.voters))
        learners = ",".join(map(str, self.learners))
        return f"{self.id_max};{voters};{learners}".encode("ascii")

    @classmethod
    def decode(cls, data: bytes, index: int) -> Membership:
        """The configuration a CONFIG entry at `index` holds; ValueError for garbage."""
        try:
            id_max, voters, learners = data.decode("ascii").split(";")
            v = tuple(int(x) for x in voters.split(",") if x)
            lrn = tuple(int(x) for x in learners.split(",") if x)
            conf = cls(v, lrn, index, int(id_max))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"bad configuration entry at {index}: {data[:64]!r}") from exc
        ids = v + lrn
        if (
            not v
            or len(ids) > MEMBERS_MAX
            or len(set(ids)) != len(ids)
            or min(ids) < 1
            or max(ids) > conf.id_max
            or list(v) != sorted(v)
            or list(lrn) != sorted(lrn)
        ):
            raise ValueError(f"bad configuration entry at {index}: {data[:64]!r}")
        return conf


def wrap_snapshot(conf: Membership, app_data: bytes) -> bytes:
    """Snapshot data: the configuration at the snapshot's index, then the application's
    (just the application's while the configuration is not known yet: a joining node)."""
    if not conf.known:
        return app_data
    head = f"{conf.index};".encode("ascii") + conf.encode()
    return _HEADER.pack(SNAPSHOT_MAGIC, len(head)) + head + app_data


def unwrap_snapshot(data: bytes) -> tuple[Membership | None, bytes]:
    """(configuration or None for a snapshot without one, the application's bytes)."""
    if not data.startswith(SNAPSHOT_MAGIC) or len(data) < _HEADER.size:
        return None, data
    _, size = _HEADER.unpack_from(data)
    end = _HEADER.size + size
    head = bytes(data[_HEADER.size : end])
    index, _, rest = head.partition(b";")
    try:
        conf = Membership.decode(rest, int(index))
    except ValueError as exc:
        raise ValueError(f"snapshot with a bad configuration: {exc}") from exc
    return conf, data[end:]


def app_data(data: bytes) -> bytes:
    """The application's part of snapshot data (see `wrap_snapshot`)."""
    return unwrap_snapshot(data)[1]
