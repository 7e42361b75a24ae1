"""The fault scenarios. Each runs one round against a loaded cluster and returns its
measurements (milliseconds; None where a figure does not apply).

Every scenario ends with every node running again, a leader, and the faulted nodes caught
up, so the next round starts from a healthy cluster.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from crash.cluster import BenchCluster
from crash.load import PROBE_ID, Load, RoundLoad
from sentinel.kvraft.client import Client

log = logging.getLogger(__name__)

LEADER_DEADLINE_S = 30.0
CATCHUP_DEADLINE_S = 60.0
SNAPSHOT_DEADLINE_S = 120.0
FILLER_BYTES = 4096


@dataclass
class Knobs:
    """Timings of the faults (seconds)."""

    down_s: float = 1.0  # how long a killed node stays down
    hold_s: float = 1.5  # kill-majority / isolate-leader outage
    pause_s: float = 1.5  # SIGSTOP; must exceed the longest election timeout (300 ms)
    settle_s: float = 0.5  # load after the fault is over, before the round ends


@dataclass
class Ctx:
    cluster: BenchCluster
    load: Load
    rnd: RoundLoad
    rng: random.Random
    knobs: Knobs
    on_phase: Callable[[str], None]


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 1)


def _leader(ctx: Ctx) -> tuple[int, int]:
    st, _ = ctx.cluster.wait_leader(LEADER_DEADLINE_S)
    return st.node_id, st.term


def _catch_up(ctx: Ctx, nodes: list[int], t_start: float, out: dict) -> None:
    """Wait until each of `nodes` has caught up; record the slowest and how it was done:
    `snapshot` when the live nodes had compacted past what the node held when it went down
    (so the leader had to send it a snapshot), else `log`."""
    ctx.on_phase("catch-up")
    done = [ctx.cluster.wait_caught_up(n, CATCHUP_DEADLINE_S) for n in nodes]
    out["catchup_ms"] = ms(max(done) - t_start)


def _method(ctx: Ctx, held: dict[int, int]) -> str:
    """`snapshot` if some restarted node held less than every live node's snapshot index."""
    live = ctx.cluster.statuses()
    floor = min((live[n].snapshot_index for n in live if n not in held), default=0)
    return "snapshot" if any(last < floor for last in held.values()) else "log"


def _held(ctx: Ctx, nodes: list[int]) -> dict[int, int]:
    """The last log index each of `nodes` reported (read while it is down)."""
    out = {}
    for n in nodes:
        st = ctx.cluster.last_status(n)
        out[n] = st.last_index if st is not None else 0
    return out


def _kill_restart(ctx: Ctx, victims: list[int], leader: int, term: int, hold_s: float) -> dict:
    out: dict = {"victims": victims}
    t0 = time.monotonic()
    out["t_fault"] = t0
    for n in victims:
        ctx.cluster.sup.kill(n)
    ctx.on_phase(f"killed {victims}")
    survivors_majority = len(victims) <= (len(ctx.cluster.node_ids) - 1) // 2
    if leader in victims and survivors_majority:
        _st, t1 = ctx.cluster.wait_leader(LEADER_DEADLINE_S, frozenset(victims), term)
        out["new_leader_ms"] = ms(t1 - t0)
    time.sleep(max(0.0, t0 + hold_s - time.monotonic()))
    held = _held(ctx, victims)
    t_restart = time.monotonic()
    out["t_restart"] = t_restart
    for n in victims:
        ctx.cluster.sup.restart(n)
    out["restart_call_ms"] = ms(time.monotonic() - t_restart)
    ctx.on_phase(f"restarted {victims}")
    if not survivors_majority:  # no quorum until the restart: the leader comes after it
        _st, t1 = ctx.cluster.wait_leader(LEADER_DEADLINE_S)
        out["new_leader_ms"] = ms(t1 - t_restart)
    _catch_up(ctx, victims, t_restart, out)
    out["catchup_method"] = _method(ctx, held)
    return out


def kill_leader(ctx: Ctx) -> dict:
    leader, term = _leader(ctx)
    return _kill_restart(ctx, [leader], leader, term, ctx.knobs.down_s)


def kill_follower(ctx: Ctx) -> dict:
    leader, term = _leader(ctx)
    follower = ctx.rng.choice([n for n in ctx.cluster.node_ids if n != leader])
    return _kill_restart(ctx, [follower], leader, term, ctx.knobs.down_s)


def kill_minority(ctx: Ctx) -> dict:
    leader, term = _leader(ctx)
    k = (len(ctx.cluster.node_ids) - 1) // 2
    victims = sorted(ctx.rng.sample(list(ctx.cluster.node_ids), k))
    return _kill_restart(ctx, victims, leader, term, ctx.knobs.down_s)


def kill_majority(ctx: Ctx) -> dict:
    leader, term = _leader(ctx)
    k = len(ctx.cluster.node_ids) // 2 + 1
    victims = sorted(ctx.rng.sample(list(ctx.cluster.node_ids), k))
    out = _kill_restart(ctx, victims, leader, term, ctx.knobs.hold_s)
    # writes must stop: none may be acknowledged that was sent after the kill took effect
    t0, t1 = out["t_fault"], out["t_restart"]
    out["writes_acked_without_quorum"] = sum(
        1
        for s in ctx.load.samples
        if s.write and s.ok and t0 + 0.1 < s.t_end - s.latency_s and s.t_end < t1
    )
    return out


def kill_all(ctx: Ctx) -> dict:
    """Cold restart: every node SIGKILLed, then all restarted from their disks."""
    nodes = list(ctx.cluster.node_ids)
    t0 = time.monotonic()
    for n in nodes:
        ctx.cluster.sup.kill(n)
    ctx.on_phase("all killed")
    time.sleep(ctx.knobs.down_s)
    t_restart = time.monotonic()
    for n in nodes:
        ctx.cluster.sup.restart(n)
    restart_call_ms = ms(time.monotonic() - t_restart)
    ctx.on_phase("cold restart")
    _st, t1 = ctx.cluster.wait_leader(LEADER_DEADLINE_S)
    first = _first_write(ctx, t_restart)
    return {
        "victims": nodes,
        "t_fault": t0,
        "t_restart": t_restart,
        "new_leader_ms": ms(t1 - t_restart),
        "cold_restart_ms": ms(first - t_restart),
        "restart_call_ms": restart_call_ms,
    }


def _first_write(ctx: Ctx, since: float) -> float:
    """When the first write after `since` was acknowledged: a probe put of this thread, or
    a load write if one was faster."""
    assert ctx.cluster.client is not None
    deadline = time.monotonic() + LEADER_DEADLINE_S
    while True:
        try:
            ctx.cluster.client.put("probe.cold", str(since), timeout_s=0.5)
            probe = time.monotonic()
            break
        except Exception:
            if time.monotonic() > deadline:
                raise TimeoutError("no write committed after the cold restart") from None
    done = [s.t_end for s in ctx.load.samples[-2000:] if s.write and s.ok and s.t_end > since]
    return min([probe, *done])


def pause_leader(ctx: Ctx) -> dict:
    """SIGSTOP the leader past an election timeout; after SIGCONT it must step down, and a
    read sent to it alone (recorded in the history) must not be stale."""
    leader, term = _leader(ctx)
    t0 = time.monotonic()
    ctx.cluster.sup.pause(leader)
    ctx.on_phase(f"paused {leader}")
    _st, t1 = ctx.cluster.wait_leader(LEADER_DEADLINE_S, frozenset([leader]), term)
    time.sleep(max(0.0, t0 + ctx.knobs.pause_s - time.monotonic()))
    t_resume = time.monotonic()
    ctx.cluster.sup.resume(leader)
    ctx.on_phase(f"resumed {leader}")
    probe_reads: list[int] = []
    prober = threading.Thread(target=lambda: probe_reads.append(_probe_old_leader(ctx, leader)))
    prober.start()  # the stale-read probe runs while this thread watches the step-down
    step_down = None
    deadline = time.monotonic() + LEADER_DEADLINE_S
    while step_down is None and time.monotonic() < deadline:
        st = ctx.cluster.state(leader)
        if st is not None and not (st.is_leader and st.term == term):
            step_down = time.monotonic()
        time.sleep(0.005)
    prober.join()
    out = {
        "victims": [leader],
        "t_fault": t0,
        "t_restart": t_resume,
        "new_leader_ms": ms(t1 - t0),
        "probe_reads_served": probe_reads[0] if probe_reads else None,
        "step_down_ms": ms(step_down - t_resume) if step_down else None,
    }
    _catch_up(ctx, [leader], t_resume, out)
    return out


def _probe_old_leader(ctx: Ctx, old: int) -> int:
    """Reads sent only to the old leader right after it wakes; recorded in the history, so a
    stale answer fails the linearizability check. How many it answered."""
    assert ctx.cluster.net is not None
    probe = Client(ctx.cluster.net, [old], clerks_max=1, owns_network=False)
    served = 0
    for i in range(3):
        key = ctx.rnd.key(ctx.rng.randrange(ctx.load.clients), ctx.rng.randrange(4))
        tok = ctx.rnd.recorder.invoke(PROBE_ID + i, "get", key)
        try:
            value = probe.get(key, timeout_s=0.5)
        except Exception:
            ctx.rnd.recorder.fail(tok)  # refused or timed out: no answer, nothing stale
        else:
            ctx.rnd.recorder.ok(tok, value if value is not None else "")
            served += 1
    probe.close()
    return served


def isolate_leader(ctx: Ctx) -> dict:
    leader, term = _leader(ctx)
    t0 = time.monotonic()
    ctx.cluster.sup.partition([[leader]])
    ctx.on_phase(f"isolated {leader}")
    try:
        _st, t1 = ctx.cluster.wait_leader(LEADER_DEADLINE_S, frozenset([leader]), term)
        time.sleep(max(0.0, t0 + ctx.knobs.hold_s - time.monotonic()))
    finally:
        t_heal = time.monotonic()
        ctx.cluster.sup.heal()
    ctx.on_phase("healed")
    out = {"victims": [leader], "t_fault": t0, "t_restart": t_heal, "new_leader_ms": ms(t1 - t0)}
    _catch_up(ctx, [leader], t_heal, out)
    return out


def lagging_follower(ctx: Ctx) -> dict:
    """A follower down until every live node has compacted its log past the follower's last
    entry (filler writes push the raft state over maxraftstate), so it needs a snapshot."""
    leader, _term = _leader(ctx)
    victim = ctx.rng.choice([n for n in ctx.cluster.node_ids if n != leader])
    t0 = time.monotonic()
    ctx.cluster.sup.kill(victim)
    ctx.on_phase(f"killed {victim}; compacting")
    held = _held(ctx, [victim])
    # the victim's last blob may be 200 ms old: bound what it held from above by the live
    # nodes' last index reported after the kill, so a snapshot is surely needed
    time.sleep(0.3)
    live_last = max((st.last_index for st in ctx.cluster.statuses().values()), default=0)
    _fill_until_compacted(ctx, victim, max(held[victim], live_last))
    t_restart = time.monotonic()
    ctx.cluster.sup.restart(victim)
    ctx.on_phase(f"restarted {victim}: snapshot")
    live = ctx.cluster.statuses()
    out = {
        "victims": [victim],
        "t_fault": t0,
        "t_restart": t_restart,
        "snapshot_bytes": max((s.snapshot_bytes for s in live.values()), default=0),
    }
    _catch_up(ctx, [victim], t_restart, out)
    out["catchup_method"] = _method(ctx, held)
    return out


def _fill_until_compacted(ctx: Ctx, victim: int, last_index: int) -> None:
    assert ctx.cluster.client is not None
    deadline = time.monotonic() + SNAPSHOT_DEADLINE_S
    value = "f" * FILLER_BYTES
    i = 0
    while True:
        live = {n: s for n, s in ctx.cluster.statuses().items() if n != victim}
        if live and min(s.snapshot_index for s in live.values()) > last_index:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("the live nodes did not compact their logs (is maxraftstate set?)")
        for _ in range(16):  # overwrite a few filler keys: the data size stays the same
            ctx.cluster.client.put(f"filler.{i % 64}", value, timeout_s=30)
            i += 1


SCENARIOS: dict[str, Callable[[Ctx], dict]] = {
    "kill-leader": kill_leader,
    "kill-follower": kill_follower,
    "kill-minority": kill_minority,
    "kill-majority": kill_majority,
    "kill-all": kill_all,
    "pause-leader": pause_leader,
    "isolate-leader": isolate_leader,
    "lagging-follower": lagging_follower,
}
