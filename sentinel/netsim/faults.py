"""The fault policy: what the network does to one message, as a pure seeded decision.

Both networks (the router process and the in-process virtual-time network) ask the same
question of a `FaultPolicy`: "this message goes from `src` to `dst`; is it a request or a
reply; what happens to it?" and get a frozen `Verdict`. The policy holds no clock, socket or
global random source: the caller passes a `random.Random`, so one seed gives one sequence of
verdicts.

The figures are those of the MIT 6.824 labrpc network (see the reference, section 3):

* unreliable: a request waits 0-26 ms, then 10% of requests are dropped; 10% of replies
  are dropped;
* long reordering (independent of reliability): about two thirds (600/900) of replies wait
  200 + rand[0, rand[0, 2000]] ms;
* a message that cannot reach its destination (disconnected, partitioned away, dead) is not
  delivered; the caller learns "unreachable" after 0-99 ms, or 0-6999 ms with long delays.

Delays are whole milliseconds (ints), as in labrpc. Endpoint ids are ints; endpoint 0 is
reserved for the network itself (the router) and is never subject to faults.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Iterable

from sentinel.wire import message

#: Endpoint id of the network itself (status posts, queries). Never faulted.
ROUTER_ID = 0

SHORT_UNREACHABLE_MS_MAX = 99
LONG_UNREACHABLE_MS_MAX = 6999
REORDER_BASE_MS = 200
REORDER_SPREAD_MS_MAX = 2000
PARTITION_GROUPS_MAX = 64
LINK_DELAYS_MAX = 4096


@message
class FaultConfig:
    """The knobs of the network. Probabilities are per mille so decisions use integers only.

    `reliable=False` turns on the request delay and the request/reply drops; `long_reordering`
    and `long_delays` are independent flags, as in labrpc. `duplicate_per_mille` and
    `link_delay_ms` are extra knobs for the simulator (0 in every 6.824 preset).
    """

    reliable: bool = True
    long_delays: bool = False
    long_reordering: bool = False
    request_delay_ms_max: int = 26
    request_drop_per_mille: int = 100
    reply_drop_per_mille: int = 100
    reorder_per_mille: int = 667
    duplicate_per_mille: int = 0
    link_delay_ms: int = 0

    def __post_init__(self) -> None:
        for name in ("request_drop_per_mille", "reply_drop_per_mille", "reorder_per_mille"):
            value = getattr(self, name)
            assert 0 <= value <= 1000, f"{name}={value} is not a per-mille figure"
        assert 0 <= self.duplicate_per_mille <= 1000, "duplicate_per_mille out of range"
        assert 0 <= self.request_delay_ms_max <= 60_000, "request_delay_ms_max out of range"
        assert 0 <= self.link_delay_ms <= 60_000, "link_delay_ms out of range"

    def with_(self, **changes: object) -> FaultConfig:
        """A copy with some fields changed (e.g. `UNRELIABLE.with_(long_delays=True)`)."""
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        fields.update(changes)
        return FaultConfig(**fields)  # type: ignore[arg-type]


RELIABLE = FaultConfig()
UNRELIABLE = FaultConfig(reliable=False)
LONG_REORDERING = FaultConfig(long_reordering=True)
LONG_DELAYS = FaultConfig(long_delays=True)

PRESETS: dict[str, FaultConfig] = {
    "reliable": RELIABLE,
    "unreliable": UNRELIABLE,
    "long_reordering": LONG_REORDERING,
    "long_delays": LONG_DELAYS,
    "unreliable_long_reordering": UNRELIABLE.with_(long_reordering=True),
    "unreliable_long_delays": UNRELIABLE.with_(long_delays=True),
}


@message
class Fate(enum.Enum):
    """What happens to one message."""

    DELIVER = "deliver"  # arrives after delay_ms
    DROP = "drop"  # lost by an unreliable network; a caller learns after delay_ms
    UNREACHABLE = "unreachable"  # no path (cut, disconnected, dead); caller learns after delay_ms


@message
class Verdict:
    """The decision for one message. For DROP and UNREACHABLE, `delay_ms` is when the caller
    of an RPC learns that the call failed (one-way messages simply vanish).
    `duplicate_delay_ms` is not None when a second copy is delivered after that delay."""

    fate: Fate
    delay_ms: int = 0
    duplicate_delay_ms: int | None = None

    @property
    def delivered(self) -> bool:
        """Whether the message (at least one copy) reaches its destination."""
        return self.fate is Fate.DELIVER


DELIVER_NOW = Verdict(Fate.DELIVER, 0)


@message
class Topology:
    """Who can talk to whom. Endpoints named in a partition group talk only within it;
    endpoints in no group (e.g. clients) talk to everyone. A disconnected endpoint talks
    to no one."""

    groups: tuple[frozenset[int], ...] = ()
    disconnected: frozenset[int] = frozenset()

    def can_talk(self, src: int, dst: int) -> bool:
        """Whether the link src -> dst is up (both directions are always cut together)."""
        if src in self.disconnected or dst in self.disconnected:
            return False
        if not self.groups:
            return True
        src_group = dst_group = None
        for index, group in enumerate(self.groups):
            if src in group:
                src_group = index
            if dst in group:
                dst_group = index
        return src_group is None or dst_group is None or src_group == dst_group


def make_topology(groups: Iterable[Iterable[int]], disconnected: Iterable[int] = ()) -> Topology:
    """A Topology from plain iterables; an endpoint may appear in at most one group."""
    frozen = tuple(frozenset(group) for group in groups)
    assert len(frozen) <= PARTITION_GROUPS_MAX, "too many partition groups"
    seen: set[int] = set()
    for group in frozen:
        assert not (group & seen), f"endpoints {sorted(group & seen)} are in two groups"
        seen |= group
    return Topology(frozen, frozenset(disconnected))


def unreachable_delay_ms(config: FaultConfig, rng: random.Random) -> int:
    """How long until a caller learns that its message had no path."""
    top = LONG_UNREACHABLE_MS_MAX if config.long_delays else SHORT_UNREACHABLE_MS_MAX
    return rng.randint(0, top)


def decide(
    config: FaultConfig,
    topology: Topology,
    src: int,
    dst: int,
    is_reply: bool,
    size: int,
    rng: random.Random,
    dst_up: bool = True,
    link_delay_ms: int = 0,
) -> Verdict:
    """The fate of one message: a pure function of its arguments and the rng's state.

    `size` (bytes) does not change the fate today; it is part of the question so a bandwidth
    model can be added without changing callers. `dst_up` is False when the destination is
    dead (no connection); `link_delay_ms` is an extra delay for this particular link.
    """
    assert size >= 0, "negative message size"
    if src == ROUTER_ID or dst == ROUTER_ID:
        return DELIVER_NOW
    if not dst_up or not topology.can_talk(src, dst):
        return Verdict(Fate.UNREACHABLE, unreachable_delay_ms(config, rng))
    delay_ms = config.link_delay_ms + link_delay_ms
    if not config.reliable:
        if not is_reply:
            delay_ms += rng.randint(0, config.request_delay_ms_max)
            if rng.randrange(1000) < config.request_drop_per_mille:
                return Verdict(Fate.DROP, delay_ms)
        elif rng.randrange(1000) < config.reply_drop_per_mille:
            return Verdict(Fate.DROP, delay_ms)
    if config.long_reordering and is_reply and rng.randrange(1000) < config.reorder_per_mille:
        delay_ms += REORDER_BASE_MS + rng.randint(0, rng.randint(0, REORDER_SPREAD_MS_MAX))
    duplicate_delay_ms = None
    if config.duplicate_per_mille and rng.randrange(1000) < config.duplicate_per_mille:
        duplicate_delay_ms = delay_ms + rng.randint(0, max(1, config.request_delay_ms_max))
    return Verdict(Fate.DELIVER, delay_ms, duplicate_delay_ms)


class FaultPolicy:
    """The mutable holder of a FaultConfig, a Topology and per-link delays.

    Every change replaces a frozen value, so `decide` is a pure function of the current
    (config, topology, link delays) and the rng passed in.
    """

    def __init__(self, config: FaultConfig = RELIABLE) -> None:
        self.config = config
        self.topology = Topology()
        self._link_delays_ms: dict[tuple[int, int], int] = {}

    @property
    def trivial(self) -> bool:
        """True when every message between live endpoints is delivered at once, in order:
        the router's fast path (no rng draw, no timer)."""
        config = self.config
        return (
            config.reliable
            and not config.long_reordering
            and not config.duplicate_per_mille
            and not config.link_delay_ms
            and not self.topology.groups
            and not self.topology.disconnected
            and not self._link_delays_ms
        )

    def set_config(self, config: FaultConfig) -> None:
        """Switch to another preset or custom configuration."""
        self.config = config

    def partition(self, groups: Iterable[Iterable[int]]) -> None:
        """Cut the network into groups (replacing any earlier partition)."""
        self.topology = make_topology(groups, self.topology.disconnected)

    def heal(self) -> None:
        """Remove every partition and reconnect every endpoint."""
        self.topology = Topology()

    def disconnect(self, endpoint: int) -> None:
        """Cut every link of one endpoint."""
        self.topology = Topology(self.topology.groups, self.topology.disconnected | {endpoint})

    def connect(self, endpoint: int) -> None:
        """Restore the links of one endpoint (partitions still apply)."""
        self.topology = Topology(self.topology.groups, self.topology.disconnected - {endpoint})

    def set_link_delay(self, src: int, dst: int, delay_ms: int) -> None:
        """An extra delay on the one-way link src -> dst (0 removes it)."""
        assert 0 <= delay_ms <= 60_000, "link delay out of range"
        if delay_ms:
            assert len(self._link_delays_ms) < LINK_DELAYS_MAX, "too many link delays"
            self._link_delays_ms[(src, dst)] = delay_ms
        else:
            self._link_delays_ms.pop((src, dst), None)

    def decide(
        self, src: int, dst: int, is_reply: bool, size: int, rng: random.Random, dst_up: bool = True
    ) -> Verdict:
        """The fate of one message under the current settings (see `decide`)."""
        link = self._link_delays_ms.get((src, dst), 0) if self._link_delays_ms else 0
        return decide(self.config, self.topology, src, dst, is_reply, size, rng, dst_up, link)
