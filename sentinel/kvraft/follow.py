"""A client follows the cluster's membership: the servers it talks to are the voters and
learners of the newest committed configuration it has heard of, not the list it started
with. Without this, a client (and the Redis front door, one such client) that outlived the
replacement of every node it started with could reach none of the cluster.

How: every REFRESH_S the client asks one server "Membership.Status" (every node's RPC
server has it, whatever its application: host/members.py) through the router, as it sends
any call, so it works wherever calls do, partitions included. It asks the server that
answered its calls last (the leader, most likely); a server that names another leader
sends it there next (once a round); a silent one, to the next server. A configuration is
taken only when the server that reports it knows it committed, and only if it is newer (a
higher index) than the one taken before: committed configurations only grow in index, so a
removed node that never heard of its removal (it reports its old one) cannot lead the
client back. When none of the known servers answers a whole round, the client also tries
the nodes whose directories the cluster directory holds (`rediscover`): new members appear there.

Why polling rather than a configuration in every reply: the reply format (and the front
door's hot path) stays as it is, and one small RPC a second per client costs nothing next
to the calls; a change takes effect in the client within about REFRESH_S, while the old
members it replaces still answer (a removal commits only after the new member caught up).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sentinel.netsim.client import NetworkClosed
from sentinel.netsim.protocol import NODE_ID_MAX
from sentinel.netsim.rpc import RpcReply
from sentinel.raft.membership import MEMBERS_MAX

if TYPE_CHECKING:
    from sentinel.kvraft.client import Client

log = logging.getLogger(__name__)

METHOD = "Membership.Status"
#: How often a client asks for the configuration.
REFRESH_S = 1.0
#: The wait before asking the next server, after a silent one or a hint to follow.
NEXT_S = 0.05
#: One Status call's wait for an answer.
STATUS_TIMEOUT_S = 1.0


class MembershipFollower:
    """Keeps `client.servers` on the cluster's committed configuration (see the module).
    Runs on the client's router connection (its timers and replies); `stop` or closing
    the client ends it."""

    def __init__(
        self, client: Client, rediscover: Callable[[], Sequence[int]] | None = None
    ) -> None:
        self.client = client
        self.rediscover = rediscover
        #: The index of the configuration taken last (-1: none yet).
        self.conf_index = -1
        self.stopped = False
        self._asked: set[int] = set()  # servers asked in this round without an answer
        self._hint = 0  # a leader a server named, asked next

    def start(self, delay_s: float = REFRESH_S) -> None:
        """Ask after `delay_s`, and then every REFRESH_S."""
        self._later(delay_s)

    def stop(self) -> None:
        """Ask no more."""
        self.stopped = True

    def _later(self, delay_s: float) -> None:
        if self.stopped or self.client.closed:
            return
        try:
            self.client.network.call_later(delay_s, self._ask)
        except (NetworkClosed, RuntimeError):  # closed, or over the timers' bound
            self.stopped = True

    def _ask(self) -> None:
        if self.stopped or self.client.closed:
            return
        target = self._target()
        self._asked.add(target)
        try:
            self.client.network.call_async(
                target, METHOD, None, STATUS_TIMEOUT_S, lambda r: self._on_reply(target, r)
            )
        except (NetworkClosed, RuntimeError):
            self.stopped = True

    def _target(self) -> int:
        """Whom to ask: a named leader, the client's last leader, then the servers and
        (once they are all asked) the rediscovered nodes in turn."""
        hint, self._hint = self._hint, 0
        if hint and hint not in self._asked:
            return hint
        candidates = [self.client.leader, *self.client.servers]
        untried = [s for s in candidates if s not in self._asked]
        if not untried and self.rediscover is not None:
            untried = [s for s in self._rediscovered() if s not in self._asked]
        if not untried:  # every one asked: a new round
            self._asked.clear()
            untried = candidates
        return untried[0]

    def _rediscovered(self) -> list[int]:
        assert self.rediscover is not None
        try:
            return [i for i in self.rediscover() if 0 < i <= NODE_ID_MAX]
        except OSError as exc:  # the cluster directory is gone: nothing to add
            log.debug("rediscovering servers: %s", exc)
            return []

    def _on_reply(self, server: int, reply: RpcReply | None) -> None:
        status = reply.value if reply is not None and reply.error is None else None
        if status is None:
            self._later(NEXT_S)  # silent: the next server
            return
        conf = _committed_conf(status)
        if conf is not None and conf[0] > self.conf_index:
            self.conf_index = conf[0]
            if conf[1] != tuple(self.client.servers):
                log.info("servers now %s (configuration index %d)", conf[1], conf[0])
                self.client.set_servers(conf[1])
        leader = status.get("leader") if isinstance(status, dict) else None
        if isinstance(leader, int) and 0 < leader <= NODE_ID_MAX and leader not in self._asked:
            self._hint = leader  # not the leader: ask the one it names, at once
            self._later(NEXT_S)
            return
        self._asked.clear()
        self._later(REFRESH_S)


def _committed_conf(status: Any) -> tuple[int, tuple[int, ...]] | None:
    """(index, voters then learners) of the configuration a Status answer reports, when
    the answering node knows it committed and the answer is well formed; else None."""
    if not isinstance(status, dict):
        return None
    index, commit = status.get("conf_index"), status.get("commit")
    voters, learners = status.get("voters"), status.get("learners")
    if not (isinstance(index, int) and isinstance(commit, int) and commit >= index >= 0):
        return None
    if not (isinstance(voters, list) and isinstance(learners, list)):
        return None
    ids = voters + learners
    if not voters or len(ids) > MEMBERS_MAX or len(set(ids)) != len(ids):
        return None
    if not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i <= NODE_ID_MAX
               for i in ids):  # fmt: skip
        return None
    return index, (*sorted(voters), *sorted(learners))
