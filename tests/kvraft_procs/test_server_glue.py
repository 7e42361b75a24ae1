"""KVServerApp's glue rules on a fake node context (no processes): which reply a write or
read gets for every way its entry or read point can end, bad input, and snapshots."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from sentinel.kvraft import Append, Cas, Get, Put, Register, encode_command, server
from sentinel.kvraft.commands import COMMAND_TYPES
from sentinel.kvraft.limits import KEY_BYTES_MAX, VALUE_BYTES_MAX
from sentinel.kvraft.protocol import INVALID, OK, REFUSED, RETRY, WRONG_LEADER, KVReply
from sentinel.kvraft.results import ResultCode
from sentinel.kvraft.server import KVServerApp
from sentinel.netsim.rpc import Deferred
from sentinel.raft.errors import NotLeader, ProposalDropped
from sentinel.raft.messages import Entry, EntryKind, Role


class FakeContext:
    """Just enough of NodeContext: a log the test appends to by hand."""

    def __init__(self, maxraftstate: int = -1, reply_timeout_ms: int = 1000) -> None:
        self.node_id = 1
        self.options = {"maxraftstate": maxraftstate, "reply_timeout_ms": reply_timeout_ms}
        self.services: dict[str, object] = {}
        self.rpc = SimpleNamespace(add_service=lambda obj, name: self.services.update({name: obj}))
        self.leader = True
        self.refusal = ""  # raise ProposalDropped(refusal) when set
        self.term = 1
        self.proposed: list[tuple[int, int, bytes]] = []
        self.last_index = 0
        self.reads: list[bytes] = []
        self.compactions: list[tuple[int, bytes]] = []
        self.state_bytes = 0

    def propose(self, data: bytes) -> tuple[int, int]:
        if not self.leader:
            raise NotLeader(2)
        if self.refusal:
            raise ProposalDropped(self.refusal)
        self.last_index += 1
        self.proposed.append((self.last_index, self.term, data))
        return self.last_index, self.term

    def read_index(self, context: bytes) -> None:
        if not self.leader:
            raise NotLeader(2)
        if self.refusal:
            raise ProposalDropped(self.refusal)
        self.reads.append(context)

    def compact(self, index: int, data: bytes) -> None:
        self.compactions.append((index, data))

    def compact_in_background(self, index: int, make_snapshot, state_bytes: int) -> bool:
        self.compactions.append((index, make_snapshot()))
        return True

    def raft_state_bytes(self) -> int:
        return self.state_bytes


class Encoding:
    """The KVServer service as a client calls it: each command in its `encode_command` bytes
    (anything else, a KVBatch, as it is)."""

    def __init__(self, service: object) -> None:
        self.service = service

    def __getattr__(self, method: str):  # type: ignore[no-untyped-def]
        call = getattr(self.service, method)

        def encoded(args: object) -> object:
            return call(encode_command(args) if type(args) in COMMAND_TYPES else args)

        return encoded


def make(**options: int) -> tuple[KVServerApp, FakeContext, Encoding]:
    app, ctx = KVServerApp(), FakeContext(**options)
    app.start(ctx)  # type: ignore[arg-type]
    return app, ctx, Encoding(ctx.services["KVServer"])


def reply_of(deferred: KVReply | Deferred) -> KVReply:
    assert isinstance(deferred, Deferred) and deferred.resolved
    got: list[KVReply] = []
    deferred.on_resolve(got.append)
    return got[0]


def commit(app: KVServerApp, ctx: FakeContext, index: int, term: int | None = None) -> None:
    """Apply the entry the fake log holds at `index` (with another term: overwritten)."""
    _i, t, data = ctx.proposed[index - 1]
    app.apply(Entry(term if term is not None else t, index, data, EntryKind.NORMAL))


def test_write_answers_when_its_entry_applies_with_its_term():
    app, ctx, svc = make()
    reg = svc.Register(Register())
    commit(app, ctx, 1)
    client_id = reply_of(reg).result.client_id
    assert client_id == 1  # the Register entry's index
    put = svc.Put(Put("k", "v", client_id, 1))
    assert isinstance(put, Deferred) and not put.resolved
    commit(app, ctx, 2)
    assert reply_of(put).err == OK and reply_of(put).result.code is ResultCode.OK


def test_entry_overwritten_by_another_term_is_wrong_leader_and_retry_is_exactly_once():
    app, ctx, svc = make()
    svc.Register(Register())
    commit(app, ctx, 1)  # client 1
    first = svc.Append(Append("k", "x", 1, 1))
    commit(app, ctx, 2, term=5)  # another leader's entry landed at our index
    assert reply_of(first).err == WRONG_LEADER
    # The same (client, seq) retried twice and committed twice: applied once.
    a, b = svc.Append(Append("k", "x", 1, 1)), svc.Append(Append("k", "x", 1, 1))
    commit(app, ctx, 3)
    commit(app, ctx, 4)
    assert reply_of(a).result.ok and reply_of(b).result.duplicate
    assert app.sm.read("k").value == "x"


def test_an_answered_write_no_longer_counts_against_the_pending_bound(monkeypatch):
    # The bound is on writes waiting for their entry. Answered ones used to count until
    # their reply deadline passed, so more than WRITES_PENDING_MAX writes per reply timeout
    # (10,000/s by default) were refused "too many writes pending" though none waited.
    monkeypatch.setattr(server, "WRITES_PENDING_MAX", 3)
    app, ctx, svc = make()
    svc.Register(Register())
    commit(app, ctx, 1)
    for seq in range(1, 8):  # more answered writes than the bound, well within the timeout
        put = svc.Put(Put("k", str(seq), 1, seq))
        assert isinstance(put, Deferred), put
        commit(app, ctx, seq + 1)
        assert reply_of(put).err == OK
        assert app.status()["writes_pending"] == 0
    waiting = [svc.Put(Put(f"k{i}", "v", 1, 10 + i)) for i in range(3)]
    assert app.status()["writes_pending"] == 3
    assert svc.Put(Put("k", "v", 1, 20)) == KVReply(REFUSED, detail="too many writes pending")
    commit(app, ctx, 9)  # the first of the three applies: room for one more
    assert reply_of(waiting[0]).err == OK and app.status()["writes_pending"] == 2
    assert isinstance(svc.Put(Put("k", "v", 1, 20)), Deferred)


def test_answered_read_points_leave_the_deadline_queue():
    app, ctx, svc = make()
    for _ in range(5):
        got = svc.Get(Get("k"))
        app.read_ready(ctx.reads[-1])
        assert reply_of(got).err == OK
    assert len(app.read_deadlines) == 0 and app.status()["reads_pending"] == 0
    first, second = svc.Get(Get("k")), svc.Get(Get("k"))
    app.read_ready(ctx.reads[-1])  # out of order: the first still waits, and keeps its place
    assert reply_of(second).err == OK and not first.resolved
    assert len(app.read_deadlines) == 2
    app.read_failed(ctx.reads[-2])
    assert reply_of(first).err == WRONG_LEADER and len(app.read_deadlines) == 0


def test_losing_leadership_answers_pending_writes_at_once_as_maybe_applied():
    app, _ctx, svc = make()
    pending = svc.Register(Register())
    app.role_changed(Role.FOLLOWER, 2, 3)
    # Its entry may still commit under the new leader: not WRONG_LEADER ("took nothing").
    assert reply_of(pending).err == RETRY and reply_of(pending).leader == 3
    assert "may still be applied" in reply_of(pending).detail


def test_deferred_replies_time_out_with_retry():
    app, ctx, svc = make(reply_timeout_ms=1)
    write, read = svc.Register(Register()), svc.Get(Get("k"))
    time.sleep(0.01)
    app.on_tick()
    assert reply_of(write).err == RETRY and reply_of(read).err == RETRY
    commit(app, ctx, 1)  # the late commit changes nothing for the answered call
    app.read_ready(ctx.reads[0])


def test_get_goes_through_read_index_not_the_log():
    app, ctx, svc = make()
    got = svc.Get(Get("k"))
    assert ctx.proposed == [] and len(ctx.reads) == 1
    app.read_ready(ctx.reads[0])
    assert reply_of(got).result.code is ResultCode.NO_KEY
    failed = svc.Get(Get("k"))
    app.read_failed(ctx.reads[1])
    assert reply_of(failed).err == WRONG_LEADER


def test_a_request_raft_refused_is_refused_with_the_reason_and_nothing_is_pending():
    app, ctx, svc = make()
    ctx.refusal = "node 1 cannot persist (disk full: quota)"
    assert svc.Put(Put("k", "v", 1, 1)) == KVReply(REFUSED, detail=ctx.refusal)
    assert svc.Get(Get("k")) == KVReply(REFUSED, detail=ctx.refusal)
    assert ctx.proposed == [] and ctx.reads == []
    assert app.status()["writes_pending"] == app.status()["reads_pending"] == 0


def test_not_leader_is_wrong_leader_with_hint():
    _app, ctx, svc = make()
    ctx.leader = False
    assert svc.Put(Put("k", "v", 1, 1)) == KVReply(WRONG_LEADER, leader=2)
    assert svc.Get(Get("k")) == KVReply(WRONG_LEADER, leader=2)


@pytest.mark.parametrize(
    ("method", "args", "says"),
    [
        ("Put", encode_command(Get("k")), "Put takes a Put command, not Get"),
        ("Put", b"K\x01\x03\x01\x01\x00\x01v", "0-byte field is out of range [1, 1024]"),
        ("Put", Put("k", "v", 1, 1), "Put takes an encoded Put command (bytes), not Put"),
        ("Append", b"K\x01\x04\x01\x01\x01k\x02\xff\xfe", "invalid UTF-8"),
        ("Cas", b"K\x01\x06\x00\x01\x01k\x00\x01v", "number 0 is out of range"),
        ("Put", b"K\x01\x03\x01\x01\x01k\x81\x80\x40" + b"v" * (1024 * 1024 + 1),
         "1048577-byte field is out of range [0, 1048576]"),
        ("Get", "k", "Get takes an encoded Get command (bytes), not str"),
        ("Register", None, "Register takes an encoded Register command"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_clearly_and_changes_nothing(method, args, says):
    app, ctx, svc = make()
    reply = getattr(svc.service, method)(args)
    assert isinstance(reply, KVReply) and reply.err == INVALID and says in reply.detail
    assert ctx.proposed == [] and ctx.reads == [] and app.sm.applied_index == 0


def test_the_largest_commands_the_limits_allow_reach_the_log():
    """Every command within the kv limits fits one raft entry (max_entry_bytes has room
    for a Cas with two 1 MiB values and a 1 KiB key)."""
    _app, ctx, svc = make()
    big, key = "v" * VALUE_BYTES_MAX, "k" * KEY_BYTES_MAX
    assert isinstance(svc.Put(Put(key, big, 1, 1)), Deferred)
    assert isinstance(svc.Cas(Cas(key, big, big, 1, 2)), Deferred)
    assert len(ctx.proposed) == 2
    assert all(len(data) > 2 * VALUE_BYTES_MAX for *_, data in ctx.proposed[1:])


def test_snapshot_when_raft_state_reaches_maxraftstate_and_never_with_minus_one():
    app, ctx, svc = make(maxraftstate=100)
    svc.Register(Register())
    commit(app, ctx, 1)
    app.after_apply()
    assert ctx.compactions == []
    ctx.state_bytes = 100
    app.after_apply()
    index, data = ctx.compactions[0]
    assert index == 1
    restored = KVServerApp()
    restored.start(FakeContext())  # type: ignore[arg-type]
    restored.restore(index, data)
    assert restored.sm.snapshot() == app.sm.snapshot()

    never, ctx2, _svc = make()
    ctx2.state_bytes = 10**9
    never.after_apply()
    assert ctx2.compactions == []


def test_restore_answers_writes_it_covers_so_a_retry_learns_the_outcome():
    app, _ctx, svc = make()
    pending = svc.Register(Register())
    donor = KVServerApp()
    donor.start(FakeContext())  # type: ignore[arg-type]
    donor.apply(Entry(1, 1, encode_command(Register()), EntryKind.NORMAL))
    app.restore(1, donor.sm.snapshot())
    assert reply_of(pending).err == RETRY  # it may be the snapshot's entry: maybe applied
