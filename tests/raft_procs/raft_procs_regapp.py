"""A tiny register application for testing the Application interface in node processes:
writes go through the log (the reply is deferred until applied), reads use ReadIndex (the
reply is deferred until the read is ready). Loaded by the node as
"raft_procs_regapp:Register" (this folder is on sys.path; spawn children inherit it)."""

from __future__ import annotations

from sentinel.netsim.rpc import Deferred
from sentinel.raft.app import Application, NodeContext
from sentinel.raft.errors import NotLeader, ProposalDropped
from sentinel.raft.messages import Entry, EntryKind, Role

WAITING_MAX = 1000


class Register(Application):
    def __init__(self) -> None:
        self.value = ""
        self.writes: dict[tuple[int, int], Deferred] = {}  # (index, term) -> reply
        self.reads: dict[bytes, Deferred] = {}
        self.next_read = 0
        self.roles: list[str] = []

    def start(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        ctx.rpc.add_service(RegisterService(self), "Reg")

    def apply(self, entry: Entry) -> None:
        if entry.kind is EntryKind.NORMAL:
            self.value = entry.data.decode()
        for key in [k for k in self.writes if k[0] <= entry.index]:
            done = self.writes.pop(key)  # ours if the term matches, else overwritten
            done.resolve("ok" if key == (entry.index, entry.term) else "lost")

    def restore(self, index: int, data: bytes) -> None:
        self.value = data.decode()

    def read_ready(self, context: bytes) -> None:
        self.reads.pop(context).resolve(("ok", self.value))

    def read_failed(self, context: bytes) -> None:
        self.reads.pop(context).resolve(("retry", ""))

    def role_changed(self, role: Role, term: int, leader: int) -> None:
        self.roles.append(role.name)
        del self.roles[:-100]


class RegisterService:
    def __init__(self, reg: Register) -> None:
        self._reg = reg

    def put(self, value: str) -> object:
        reg = self._reg
        if len(reg.writes) >= WAITING_MAX:
            return "busy"
        try:
            index, term = reg.ctx.propose(value.encode())
        except (NotLeader, ProposalDropped):
            return "wrong leader"
        done = Deferred()
        reg.writes[(index, term)] = done
        return done

    def get(self, args: object = None) -> object:
        reg = self._reg
        if len(reg.reads) >= WAITING_MAX:
            return ("busy", "")
        reg.next_read += 1
        context = reg.next_read.to_bytes(8, "little")
        try:
            reg.ctx.read_index(context)
        except (NotLeader, ProposalDropped):
            return ("wrong leader", "")
        done = Deferred()
        reg.reads[context] = done
        return done

    def roles(self, args: object = None) -> list[str]:
        return list(self._reg.roles)
