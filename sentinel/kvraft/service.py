"""The RPC face of a kv server ("KVServer.<Method>", protocol.py): each method checks and
decodes its argument (an INVALID reply for anything else) and hands the command to the
server app (server.py), which answers a KVReply or a Deferred."""

from __future__ import annotations

from typing import Any, Protocol

from sentinel.kvraft.commands import (
    Append,
    Cas,
    Delete,
    Get,
    Put,
    RedisExec,
    RedisRead,
    RedisReads,
    RedisVersions,
    RedisWrite,
    Register,
)
from sentinel.kvraft.protocol import INVALID, KVBatch, KVBatchReply, KVReply, ServerState, decoded
from sentinel.netsim.rpc import Deferred


class ServerApp(Protocol):
    """What the service needs of the server app."""

    def read(self, command: Any) -> KVReply | Deferred: ...
    def write(self, command: Any, data: bytes) -> KVReply | Deferred: ...
    def batch(self, request: KVBatch) -> KVReply | KVBatchReply | Deferred: ...
    def state(self) -> ServerState: ...


def _expect(args: object, cls: type) -> KVReply | None:
    if type(args) is cls:
        return None
    return KVReply(INVALID, detail=f"{cls.__name__} takes a {cls.__name__}, "
                   f"not {type(args).__name__}")  # fmt: skip


class KVService:
    """The RPC face of a KVServerApp, registered as "KVServer" (see protocol.py). The
    method names are 6.824's RPC names ("KVServer.Get", ...), hence the capitals. Each of
    Get ... Register takes the command of its name as `encode_command` bytes (the one form
    a command travels in, and goes into the log as) and answers a KVReply or a Deferred."""

    def __init__(self, app: ServerApp) -> None:
        self._app = app

    def Get(self, args: Any) -> KVReply | Deferred:
        return self._read(args, Get)

    def Put(self, args: Any) -> KVReply | Deferred:
        return self._write(args, Put)

    def Append(self, args: Any) -> KVReply | Deferred:
        return self._write(args, Append)

    def Delete(self, args: Any) -> KVReply | Deferred:
        return self._write(args, Delete)

    def Cas(self, args: Any) -> KVReply | Deferred:
        return self._write(args, Cas)

    def Register(self, args: Any) -> KVReply | Deferred:
        return self._write(args, Register)

    def RedisWrite(self, args: Any) -> KVReply | Deferred:
        return self._write(args, RedisWrite)

    def RedisExec(self, args: Any) -> KVReply | Deferred:
        return self._write(args, RedisExec)

    def RedisRead(self, args: Any) -> KVReply | Deferred:
        return self._read(args, RedisRead)

    def RedisReads(self, args: Any) -> KVReply | Deferred:
        return self._read(args, RedisReads)

    def RedisVersions(self, args: Any) -> KVReply | Deferred:
        return self._read(args, RedisVersions)

    def _read(self, args: Any, cls: type) -> KVReply | Deferred:
        got = decoded(args, cls)
        return got if type(got) is KVReply else self._app.read(got[0])  # type: ignore[index]

    def _write(self, args: Any, cls: type) -> KVReply | Deferred:
        got = decoded(args, cls)
        return got if type(got) is KVReply else self._app.write(*got)  # type: ignore[misc]

    def Batch(self, args: Any) -> KVReply | KVBatchReply | Deferred:
        """Several operations at once (protocol.py): one KVBatchReply, one answer each."""
        return _expect(args, KVBatch) or self._app.batch(args)

    def State(self, args: Any = None) -> ServerState:
        """This server's term, role, applied index and sizes on disk."""
        return self._app.state()
