"""The node's membership service: the supervisor's way to change and read the membership.

Registered on every node's RPC server as "Membership" (whatever the application):

    Membership.Change((op, node_id, expected_index))  -> {"ok": True, "index": i}
        on the leader: propose the change (op: "add", "promote", "remove"; expected_index:
        the configuration index the caller saw, or None) and answer once it is committed;
        {"ok": False, "error": ..., "leader": hint} when refused, not the leader, or not
        committed within CHANGE_TIMEOUT_S (then "unknown": True: it may still commit).
    Membership.Status(None) -> {"leader", "voters", "learners", "conf_index", "commit",
        "last_index", "match"}  (match: the leader's view of every member; {} elsewhere)

A node that a committed configuration removed stops itself (`NodeRuntime.run` returns).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sentinel.netsim.rpc import Deferred
from sentinel.raft.core import Raft
from sentinel.raft.errors import ConfChangeRefused, NotLeader
from sentinel.raft.membership import ConfChangeOp

log = logging.getLogger(__name__)

OPS = {"add": ConfChangeOp.ADD_LEARNER, "promote": ConfChangeOp.PROMOTE,
       "remove": ConfChangeOp.REMOVE}  # fmt: skip
#: A change not committed within this long is answered "unknown" (it may still commit).
CHANGE_TIMEOUT_S = 10.0
#: Changes waiting for their commit (one at a time is the rule; a bound all the same).
PENDING_MAX = 16


class MembershipService:
    """See the module docstring; `poll` is called by the node's loop every turn."""

    def __init__(self, core: Raft) -> None:
        self.core = core
        #: (index, term, deadline, deferred) of changes proposed here.
        self.pending: list[tuple[int, int, float, Deferred]] = []

    def Change(self, args: Any) -> Any:
        """Propose a change; the reply comes once it is committed (see the module)."""
        try:
            op_name, node_id, expected = args
            op = OPS[op_name]
            if not isinstance(node_id, int) or not (expected is None or isinstance(expected, int)):
                raise TypeError
        except (TypeError, ValueError, KeyError):
            return {"ok": False, "error": f"bad membership change request {args!r}"}
        if len(self.pending) >= PENDING_MAX:
            return {"ok": False, "error": "too many changes waiting"}
        try:
            index, term = self.core.change_membership(op, node_id, expected)
        except NotLeader as exc:
            return {"ok": False, "error": "not the leader", "leader": exc.leader_hint or 0}
        except ConfChangeRefused as exc:
            return {"ok": False, "error": str(exc)}
        log.info("membership change %s %d proposed at index %d", op_name, node_id, index)
        deferred = Deferred()
        self.pending.append((index, term, time.monotonic() + CHANGE_TIMEOUT_S, deferred))
        return deferred

    def Status(self, args: Any) -> dict[str, Any]:
        """This node's view of the membership."""
        st = self.core.status()
        conf = self.core.membership
        match = {p: m for p, m in st.match.items() if p in conf.members}
        return {
            "node": st.id, "leader": st.leader, "voters": list(conf.voters),
            "learners": list(conf.learners), "conf_index": conf.index, "id_max": conf.id_max,
            "commit": st.commit, "last_index": st.last_index, "match": match,
        }  # fmt: skip

    def poll(self) -> None:
        """Answer the changes that committed, were lost, or ran out of time."""
        if not self.pending:
            return
        core, now = self.core, time.monotonic()
        still = []
        for index, term, deadline, deferred in self.pending:
            if core.log.committed >= index:
                ours = core.log.term(index) == term or (
                    core.log.term(index) is None and core.term == term
                )
                if ours:
                    deferred.resolve({"ok": True, "index": index})
                else:
                    deferred.resolve({"ok": False, "error": "the change was lost with the "
                                      "leadership (a new leader replaced it)"})  # fmt: skip
            elif now >= deadline or core.term != term:
                deferred.resolve({
                    "ok": False, "unknown": True, "leader": core.lead,
                    "error": f"not committed yet (index {index}); it may still commit",
                })  # fmt: skip
            else:
                still.append((index, term, deadline, deferred))
        self.pending = still
