"""Membership of a running cluster: `add`, `remove N`, `replace N`, `members`.

The raft log is the truth (every node's configuration, see sentinel.raft.membership); the
supervisor keeps `<dir>/members.json` ({"members": [...], "id_max": n, "conf_index": i}) as
its record of which node directories to run: written before a new node starts (so its id is
never handed out again, even if the add fails), after a removal commits, and whenever a
leader reports a newer committed configuration (its status blob, from its disk). `up` on an
existing directory takes the membership from the nodes' disks (`restore`: the newest
configuration any node directory holds), and from members.json only when no disk holds one;
where the two disagree the disks win and members.json is rewritten.

Each change goes to the leader as a `Membership.Change` RPC (host/members.py), which answers
once the change is committed. A change that is refused changes nothing: an added node's
process and fresh directory are removed again.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentinel.dashboard import ProcessState
from sentinel.host import diskconf
from sentinel.host.nodespec import node_name

if TYPE_CHECKING:
    from sentinel.cluster.supervisor import Supervisor

log = logging.getLogger(__name__)

MEMBERS_NAME = "members.json"
RPC_TIMEOUT_S = 12.0
#: How long `add` waits for the leader to promote the new learner.
PROMOTE_WAIT_S = 60.0
#: How long a change keeps looking for a leader (an election takes 0.15-0.3 s).
LEADER_WAIT_S = 5.0
POLL_S = 0.1
#: How long a removed node gets to stop by itself before it is killed. One cut off when it
#: was removed never learns of it (the leader no longer writes to it), and keeps trying
#: pre-votes that nobody grants until then: harmless, and shown by the process tests.
REMOVED_EXIT_S = 30.0


class MembershipError(RuntimeError):
    """A membership request that was refused or failed; the message says why."""


def load(directory: Path) -> dict[str, Any] | None:
    """The recorded membership, or None when there is none (a cluster never changed)."""
    try:
        data = json.loads((directory / MEMBERS_NAME).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise MembershipError(f"{directory / MEMBERS_NAME} is unreadable: {exc}") from None
    members = data.get("members")
    if not isinstance(members, list) or not all(isinstance(i, int) and i > 0 for i in members):
        raise MembershipError(f"{directory / MEMBERS_NAME} names no valid members")
    return data


def current_ids(directory: Path, founders: tuple[int, ...]) -> tuple[int, ...]:
    """The members the supervisor runs (the founders while the membership never changed)."""
    try:
        recorded = load(directory)
    except MembershipError:
        recorded = None
    return tuple(recorded["members"]) if recorded else founders


def restore(directory: Path, cluster_id: str, founders: tuple[int, ...]) -> dict[str, Any]:
    """The membership to start the cluster in `directory` with, as members.json holds it:
    the newest configuration on the nodes' disks (see diskconf), else members.json, else
    the founders. When members.json disagrees with the disks it is rewritten."""
    try:
        recorded = load(directory)
    except MembershipError as exc:
        log.warning("%s; the membership comes from the nodes' disks", exc)
        recorded = None
    found = diskconf.stored_confs(directory, cluster_id)
    best = diskconf.newest(found)
    if best is None:
        if recorded is not None:
            return recorded
        return {"members": list(founders), "id_max": max(founders), "conf_index": 0}
    id_max = max([c.conf.id_max for c in found] + [int((recorded or {}).get("id_max", 0))])
    restored = {"members": list(best.conf.members), "id_max": id_max,
                "conf_index": best.conf.index}  # fmt: skip
    if recorded != restored:
        log.warning(
            "membership from node %d's disk (configuration index %d, term %d): %s; %s said %s",
            best.node_id, best.conf.index, best.term, restored["members"], MEMBERS_NAME,
            recorded and recorded.get("members"),
        )  # fmt: skip
        save(directory, tuple(best.conf.members), id_max, best.conf.index)
    return restored


def save(directory: Path, members: tuple[int, ...], id_max: int, conf_index: int) -> None:
    """Record the membership atomically (write, fsync, rename)."""
    path = directory / MEMBERS_NAME
    tmp = path.with_suffix(".tmp")
    body = {"members": sorted(members), "id_max": id_max, "conf_index": conf_index}
    with open(tmp, "w") as f:
        json.dump(body, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Membership:
    """The supervisor's membership actions (control threads; spawning on the main one)."""

    def __init__(self, sup: Supervisor, restored: dict[str, Any]) -> None:
        """`restored`: the membership the supervisor started with (see `restore`)."""
        self.sup = sup
        self.id_max = int(restored["id_max"])
        self.conf_index = int(restored.get("conf_index", 0))
        self._net: Any = None
        #: Removed nodes whose processes still run: node id -> when to kill them.
        self.retiring: dict[int, float] = {}

    # -- talking to the leader ------------------------------------------------------------

    def net(self) -> Any:
        """The supervisor's own client connection to the router (made on first use)."""
        if self._net is None or self._net.closed:
            from sentinel.netsim.client import connect

            self._net = connect(self.sup.directory)
        return self._net

    def ask(self, node_id: int, method: str, args: Any) -> dict[str, Any] | None:
        """One Membership RPC to `node_id`; None when it did not answer."""
        reply = self.net().call(node_id, f"Membership.{method}", args, RPC_TIMEOUT_S)
        if reply is None or reply.error is not None or not isinstance(reply.value, dict):
            return None
        return reply.value

    def leader_status(self) -> dict[str, Any]:
        """The leader's view of the membership (MembershipError without a leader)."""
        deadline = time.monotonic() + LEADER_WAIT_S
        while True:
            for node_id in self._candidates():
                st = self.ask(node_id, "Status", None)
                if st is not None and st["leader"] == st["node"]:
                    return st
            if time.monotonic() >= deadline:
                raise MembershipError("no leader: the cluster cannot change its membership now")
            time.sleep(POLL_S)

    def _candidates(self) -> list[int]:
        leader = self.sup.view().leader
        others = [i for i in self.sup.node_ids if i != leader]
        return ([leader] if leader else []) + others

    def change(self, op: str, node_id: int, expected_index: int | None) -> int:
        """Propose through the leader and wait for the commit; the change's log index."""
        deadline = time.monotonic() + LEADER_WAIT_S
        while True:
            leader = self.leader_status()["node"]
            answer = self.ask(leader, "Change", (op, node_id, expected_index))
            if answer is not None and answer.get("ok"):
                return int(answer["index"])
            if answer is not None and answer.get("error") != "not the leader":
                raise MembershipError(answer.get("error", "refused"))
            if time.monotonic() >= deadline:
                why = "no answer" if answer is None else answer["error"]
                raise MembershipError(f"{op} {node_id}: {why}; the outcome is unknown")

    # -- actions --------------------------------------------------------------------------

    def add(self) -> str:
        """Start a fresh node with a new id as a learner; wait until it is a voter."""
        st = self.leader_status()
        if st["learners"]:
            raise MembershipError(f"a change is in progress: node {st['learners'][0]} is joining")
        new_id = max(self.id_max, st["id_max"]) + 1
        self.id_max = new_id
        self.record()  # before it starts: the id is used from now on, whatever happens
        self.sup.jobs.call(lambda: self.sup.start_member(new_id), RPC_TIMEOUT_S)
        try:
            index = self.change("add", new_id, st["conf_index"])
        except MembershipError:
            # An unknown outcome may still have put the change in the leader's log: then
            # it is a member (a learner at least) and stays; else it goes, process and all.
            index = self.member_since(new_id)
            if index is None:
                self.sup.jobs.call(lambda: self.sup.forget_member(new_id, True), RPC_TIMEOUT_S)
                shutil.rmtree(self.sup.spec(new_id).directory, ignore_errors=True)
                self.record()
                raise
        self.conf_index = index
        promoted = self.wait_promoted(new_id)
        return f"node {new_id} added: learner at index {index}, voter at index {promoted}"

    def member_since(self, node_id: int) -> int | None:
        """The leader's configuration index if it holds `node_id`, else None."""
        try:
            st = self.leader_status()
        except MembershipError:
            return None
        return st["conf_index"] if node_id in st["voters"] + st["learners"] else None

    def wait_promoted(self, node_id: int) -> int:
        """Wait until the leader has promoted `node_id` and committed it; its index."""
        deadline = time.monotonic() + PROMOTE_WAIT_S
        while time.monotonic() < deadline:
            try:
                st = self.leader_status()
            except MembershipError:
                st = None
            if st and node_id in st["voters"] and st["commit"] >= st["conf_index"]:
                self.conf_index = st["conf_index"]
                self.record()
                return st["conf_index"]
            time.sleep(POLL_S)
        raise MembershipError(
            f"node {node_id} was added as a learner but not promoted within "
            f"{PROMOTE_WAIT_S:g} s (is it catching up? see `members`)"
        )

    def remove(self, node_id: int, force: bool) -> str:
        """Remove a member; refused if it would leave the voters that are up short of a
        quorum, unless `force`."""
        st = self.leader_status()
        voters, learners = st["voters"], st["learners"]
        if node_id not in voters and node_id not in learners:
            raise MembershipError(f"node {node_id} is not a member (members: {voters + learners})")
        if voters == [node_id]:
            raise MembershipError(f"node {node_id} is the last voter")
        if st["commit"] < st["conf_index"]:
            raise MembershipError("a change is in progress (not committed yet)")
        rest = [v for v in voters if v != node_id]
        info = self.sup.process_info()
        up = [v for v in rest if info.get(v) and info[v].state is ProcessState.RUNNING]
        if len(up) < len(rest) // 2 + 1 and not force:
            raise MembershipError(
                f"removing node {node_id} would leave voters {rest} of which only {up} are "
                f"up: not a quorum (use --force to remove it anyway)"
            )
        index = self.change("remove", node_id, st["conf_index"])
        self.conf_index = index
        self.sup.jobs.call(lambda: self.sup.forget_member(node_id), RPC_TIMEOUT_S)
        self.record()
        return f"node {node_id} removed at index {index}"

    def replace(self, node_id: int, force: bool) -> str:
        """Add a fresh node, then remove `node_id` (the way back for a node whose disk is
        lost)."""
        if node_id not in self.sup.node_ids:
            raise MembershipError(f"node {node_id} is not a member")
        added = self.add()
        return f"{added}; {self.remove(node_id, force)}"

    def members(self) -> dict[str, Any]:
        """Every member: id, voter or learner, match index, pid, directory."""
        st = self.leader_status()
        info = self.sup.process_info()
        rows = []
        for node_id in sorted(st["voters"] + st["learners"]):
            proc = info.get(node_id)
            rows.append({
                "id": node_id,
                "role": "voter" if node_id in st["voters"] else "learner",
                "match": st["match"].get(node_id, st["last_index"] if node_id == st["node"] else 0),
                "pid": proc.pid if proc else None,
                "directory": str(self.sup.spec(node_id).directory),
            })  # fmt: skip
        return {"leader": st["node"], "conf_index": st["conf_index"], "members": rows}

    # -- bookkeeping ----------------------------------------------------------------------

    def reap(self) -> None:
        """Main thread: kill the removed nodes' processes that outstayed REMOVED_EXIT_S,
        forget those that stopped by themselves."""
        now = time.monotonic()
        for node_id, deadline in list(self.retiring.items()):
            name = node_name(node_id)
            if not self.sup.group.is_alive(name) or now >= deadline:
                self.sup.group.kill(name)
                del self.retiring[node_id]

    def record(self) -> None:
        """Write members.json from what the supervisor runs now."""
        save(self.sup.directory, self.sup.node_ids, self.id_max, self.conf_index)

    def close(self) -> None:
        """Close the client connection."""
        if self._net is not None:
            self._net.close()
