"""The supervisor's side of the control protocol: validate a request, run it, answer.

Requests are JSON objects with a "cmd" and its arguments:

    {"cmd": "status"}                       -> {"ok": true, "status": {...}}
    {"cmd": "kill" | "pause" | "resume" | "restart", "node": 3}
    {"cmd": "partition", "groups": [[1, 2], [3, 4, 5]]}
    {"cmd": "heal"} | {"cmd": "isolate-leader"} | {"cmd": "partition-random"}
    {"cmd": "net", "preset": "unreliable"}  (a name from netsim's PRESETS)
    {"cmd": "down"}
    {"cmd": "add"} | {"cmd": "remove" | "replace", "node": 3, "force": false}
    {"cmd": "members"}                      -> {"ok": true, "members": {...}}

Every answer has "ok"; a refused request has "error" with the reason and changes nothing
(and "busy": true when it may simply be sent again). Actions run on the main thread (see
`jobs`); "status" and "down" do not need it. "restart" answers once the new process has
posted its first status, or with an error saying why it ended if it did not stay up.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from sentinel.cluster.ctlsock import BUSY_KEY
from sentinel.cluster.jobs import JobsFull, JobTimeout
from sentinel.cluster.members import MembershipError
from sentinel.cluster.supervisor import STARTED_POLL_S, ActionError, Supervisor
from sentinel.cluster.views import view_to_json
from sentinel.dashboard import Action, ActionName, ProcessState
from sentinel.netsim.faults import PRESETS

log = logging.getLogger(__name__)

ACTION_TIMEOUT_S = 30.0
#: How long `restart` waits for the new process's first status report (or its exit).
RESTART_WAIT_S = 20.0
NODE_COMMANDS = ("kill", "pause", "resume", "restart")
GROUPS_MAX = 64


class BadRequest(ValueError):
    """A request that does not follow the protocol."""


def _node_arg(request: dict[str, Any]) -> int:
    node = request.get("node")
    if isinstance(node, bool) or not isinstance(node, int):
        raise BadRequest(f"'node' must be a node number, not {node!r}")
    return node


def _groups_arg(request: dict[str, Any]) -> list[list[int]]:
    groups = request.get("groups")
    if not isinstance(groups, list) or not 1 <= len(groups) <= GROUPS_MAX:
        raise BadRequest("'groups' must be a list of lists of node numbers")
    for group in groups:
        if not isinstance(group, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in group
        ):
            raise BadRequest("'groups' must be a list of lists of node numbers")
    return groups


def _action(sup: Supervisor, request: dict[str, Any]) -> Callable[[], str]:
    cmd = request.get("cmd")
    if cmd in NODE_COMMANDS:
        node = _node_arg(request)
        return lambda: getattr(sup, cmd)(node)
    if cmd == "partition":
        groups = _groups_arg(request)
        return lambda: sup.partition(groups)
    if cmd == "net":
        preset = request.get("preset")
        if preset not in PRESETS:
            raise BadRequest(f"unknown network preset {preset!r}; one of {', '.join(PRESETS)}")
        if preset in ("reliable", "unreliable"):  # keep the other flags (long reordering)
            return lambda: sup.set_net(sup.faults.with_(reliable=preset == "reliable"))
        return lambda: sup.set_net(PRESETS[preset])
    simple = {
        "heal": sup.heal,
        "isolate-leader": sup.isolate_leader,
        "partition-random": sup.partition_random,
    }
    if cmd in simple:
        return simple[cmd]
    raise BadRequest(f"unknown command {cmd!r}")


MEMBER_COMMANDS = ("add", "remove", "replace", "members")


def _membership(sup: Supervisor, request: dict[str, Any]) -> dict[str, Any]:
    """add / remove / replace / members: on this control thread (they wait for commits)."""
    cmd = request["cmd"]
    try:
        if cmd == "members":
            return {"ok": True, "members": sup.members.members()}
        if cmd == "add":
            message = sup.members.add()
        else:
            force = request.get("force", False)
            if not isinstance(force, bool):
                raise BadRequest("'force' must be true or false")
            message = getattr(sup.members, cmd)(_node_arg(request), force)
    except (BadRequest, MembershipError, JobTimeout, ActionError) as e:
        log.info("control request %s refused: %s", cmd, e)
        return {"ok": False, "error": str(e)}
    except OSError as e:  # the supervisor's own connection to the router
        return {"ok": False, "error": f"cannot reach the nodes: {e}"}
    log.info("control request %s: %s", cmd, message)
    return {"ok": True, "message": message}


def handle_request(sup: Supervisor, request: dict[str, Any]) -> dict[str, Any]:
    """Answer one control request (any thread)."""
    cmd = request.get("cmd")
    if cmd == "status":
        extra = {"cluster_id": sup.identity.cluster_id, "supervisor_pid": os.getpid()}
        return {"ok": True, "status": view_to_json(sup.view(), extra)}
    if cmd == "down":
        log.info("down requested over the control socket")
        return {"ok": True, "message": sup.down(), "supervisor_pid": os.getpid()}
    if cmd in MEMBER_COMMANDS:
        return _membership(sup, request)
    try:
        action = _action(sup, request)
        message = sup.jobs.call(action, ACTION_TIMEOUT_S)
        if cmd == "restart":  # off the main thread: the dashboard keeps drawing meanwhile
            message = wait_started(sup, _node_arg(request), message, RESTART_WAIT_S)
    except JobsFull as e:
        return {"ok": False, "error": str(e), BUSY_KEY: True}  # nothing done: ask again
    except (BadRequest, ActionError, JobTimeout) as e:
        log.info("control request %s refused: %s", cmd, e)
        return {"ok": False, "error": str(e)}
    log.info("control request %s: %s", cmd, message)
    return {"ok": True, "message": message}


def wait_started(sup: Supervisor, node_id: int, message: str, timeout_s: float) -> str:
    """After `restart`, on a control thread (never the main one, which must keep
    serving the dashboard): wait until the node's new process posts its first status,
    then `message`; ActionError with the reason if it ended first. A node still silent
    after `timeout_s` is said to be so (it runs, maybe replaying a long log)."""
    pid = sup.started_pids[node_id]
    deadline = time.monotonic() + timeout_s
    while not sup.stop_event.wait(STARTED_POLL_S):
        info = sup.process_info()[node_id]
        if info.state in (ProcessState.EXITED, ProcessState.KILLED) and (
            info.pid is None and sup.started_pids[node_id] == pid
        ):
            verb = "was killed" if info.state == ProcessState.KILLED else "exited"
            raise ActionError(
                f"node {node_id} was restarted (pid {pid}) but {verb}: {info.exit_reason}"
            )
        node = sup.view().node(node_id)
        if info.pid != pid or (node is not None and node.pid == pid and node.role):
            return message  # it reports (or someone restarted it again meanwhile)
        if time.monotonic() >= deadline:
            return f"{message}; it has not reported its state within {timeout_s:g} s"
    return message  # the cluster is stopping


def on_key_action(sup: Supervisor, action: Action) -> str:
    """The dashboard's key actions (main thread); the footer's message."""
    name = action.name
    try:
        if name in (ActionName.KILL, ActionName.PAUSE, ActionName.RESUME, ActionName.RESTART):
            assert action.node_id is not None
            return getattr(sup, str(name))(action.node_id)
        if name == ActionName.ISOLATE_LEADER:
            return sup.isolate_leader()
        if name == ActionName.PARTITION_RANDOM:
            return sup.partition_random()
        if name == ActionName.HEAL:
            return sup.heal()
        if name == ActionName.TOGGLE_UNRELIABLE:
            return sup.toggle_unreliable()
    except ActionError as e:
        return str(e)
    return f"{action.describe()}: not supported"
