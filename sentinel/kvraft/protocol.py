"""What a clerk and a kv server say to each other over RPC.

Requests are the commands of `sentinel.kvraft.commands` in their log-entry encoding
(`codec.encode_command`, checked by `decoded` at the server), one RPC method per operation:
"KVServer.Get" takes a `Get`, "KVServer.Put" a `Put`, ... "KVServer.Register" a `Register`.
Every answer is a `KVReply`:

- `OK`: `result` is the state machine's `Result` (its code may still be NO_KEY,
  CAS_MISMATCH, SESSION_EXPIRED, ...: those are answers, not transport errors);
- `WRONG_LEADER`: this server is not the leader and took nothing (or its entry was
  overwritten by another leader's: it will never apply); `leader` is a hint (node id,
  0 = unknown);
- `REFUSED`: the server took nothing, for the reason in `detail` (too many requests
  pending, a leadership transfer under way, a disk with no room); try elsewhere or later;
- `RETRY`: the server took the request but cannot answer it (no answer in time, or it lost
  the leadership, `leader` then naming the new one if known); the request may or may not be
  applied, so the clerk retries the same request (same seq: exactly-once) elsewhere;
- `INVALID`: the request breaks a type or a limit; nothing changed; retrying cannot help.

Batches ("KVServer.Batch", a `KVBatch`): a client that has several operations outstanding
towards one server at the same moment (different sessions) may send them as one request,
each operation as its log-entry encoding (`codec.encode_command`: its own client id and
seq). The answer is a `KVBatchReply` with one flat reply per operation, in order (see
`flat_reply`); a plain `KVReply` instead (INVALID for a malformed batch) answers every
operation of the batch alike. Each operation is validated, proposed and answered as if it
had come alone: exactly-once, deadlines and retries stay per operation.
"""

from __future__ import annotations

from typing import Any

from sentinel.kvraft.codec import CommandError, decode_command
from sentinel.kvraft.commands import Purge, RedisExec, RedisRead, RedisReads, RedisWrite
from sentinel.kvraft.keyspace import COMMANDS, validate
from sentinel.kvraft.limits import InvalidRequest
from sentinel.kvraft.results import Result, ResultCode
from sentinel.raft.config import Config
from sentinel.wire import constructor, message

OK = "OK"
WRONG_LEADER = "WRONG_LEADER"
RETRY = "RETRY"
REFUSED = "REFUSED"
INVALID = "INVALID"
ERRORS = (OK, WRONG_LEADER, RETRY, REFUSED, INVALID)

SERVICE = "KVServer"
#: RPC method name -> the command class it takes.
METHODS = ("Get", "Put", "Append", "Delete", "Cas", "Register", "RedisWrite", "RedisExec",
           "RedisRead", "RedisReads", "RedisVersions", "Batch")  # fmt: skip
BATCH_METHOD = f"{SERVICE}.Batch"
#: Operations in one batch, and their encoded bytes: a bigger batch is refused (INVALID).
BATCH_OPS_MAX = 256
BATCH_BYTES_MAX = 1024 * 1024

#: The largest encoded command raft takes as one log entry (its default max_entry_bytes).
#: A value near VALUE_BYTES_MAX plus a long key can pass the field limits and still not
#: fit; it is refused here, with a clear error, before it reaches the log.
ENTRY_BYTES_MAX: int = Config.__dataclass_fields__["max_entry_bytes"].default


def check_entry_size(data: bytes) -> bytes:
    """`data` (an encoded command) if it fits in one log entry, else InvalidRequest."""
    if len(data) > ENTRY_BYTES_MAX:
        raise InvalidRequest(
            f"the command encodes to {len(data)} bytes; one log entry holds at most "
            f"{ENTRY_BYTES_MAX} bytes (shorten the value)"
        )
    return data


def check_redis(command: object) -> object:
    """`command` if a client may send it: a Redis command whose args pass the keyspace's
    `validate` (a known command, its arity, the sizes), a RedisRead only of a read command
    (it is served outside the log), never a Purge (the leader logs those itself). Else
    InvalidRequest with the Redis error text."""
    cls = type(command)
    if cls is RedisWrite or cls is RedisRead:
        _check_args(command.args)  # type: ignore[attr-defined]
        if cls is RedisRead and COMMANDS[command.args[0].upper()].write:  # type: ignore[attr-defined]
            raise InvalidRequest(f"{command.args[0]!r} is a write: send it as a RedisWrite")  # type: ignore[attr-defined]
    elif cls is RedisExec or cls is RedisReads:
        for args in command.commands:  # type: ignore[attr-defined]
            _check_args(args)
            if cls is RedisReads and COMMANDS[args[0].upper()].write:
                raise InvalidRequest(f"{args[0]!r} is a write: send it as a RedisWrite")
    elif cls is Purge:
        raise InvalidRequest("a Purge is logged by the leader, not sent by a client")
    return command


def _check_args(args: tuple[bytes, ...]) -> None:
    error = validate(list(args))
    if error is not None:
        raise InvalidRequest(error.text)


def decoded(args: object, cls: type) -> tuple[Any, bytes] | KVReply:
    """The command of type `cls` that `args` (its `encode_command` bytes) holds, and those
    bytes, checked (every field, the entry size limit); else the INVALID answer."""
    name = cls.__name__
    if type(args) is not bytes:
        return KVReply(INVALID, detail=f"{name} takes an encoded {name} command (bytes), "
                       f"not {type(args).__name__}")  # fmt: skip
    try:
        command = check_redis(decode_command(check_entry_size(args)))
    except (CommandError, InvalidRequest) as exc:
        return KVReply(INVALID, detail=f"{name}: {exc}")
    if type(command) is not cls:
        return KVReply(
            INVALID, detail=f"{name} takes a {name} command, not {type(command).__name__}"
        )
    return command, args


@message
class KVReply:
    """The answer to one kv RPC (see the module docstring)."""

    err: str
    result: Result | None = None
    leader: int = 0
    detail: str = ""

    def __reduce__(self) -> tuple:
        """Travel as one flat tuple (see `kv_reply_from_wire`): pickling the Result and its
        ResultCode as objects costs a Get's reply ~11 us to encode and ~7 to decode."""
        r = self.result
        if r is None:
            return (kv_reply_from_wire, ((self.err, self.leader, self.detail),))
        flat = (self.err, self.leader, self.detail, r.code._value_, r.value, r.duplicate,
                r.client_id, r.detail)  # fmt: skip
        return (kv_reply_from_wire, (flat,))


@constructor
def kv_reply_from_wire(flat: tuple) -> KVReply:
    """The KVReply that `KVReply.__reduce__` flattened: (err, leader, detail) without a
    result, or with (code, value, duplicate, client_id, result detail) after it. Raises
    ValueError (a WireError to the decoder) for any other shape, an unknown err or code."""
    if type(flat) is not tuple:
        raise ValueError("a kv reply travels as a tuple")
    result = None
    if len(flat) == 3:
        err, leader, detail = flat
    else:
        err, leader, detail, code, value, duplicate, client_id, result_detail = flat
        if type(code) is not int or not 0 <= code < len(_CODES):
            raise ValueError(f"unknown result code {code!r:.20}")
        result = Result(_CODES[code], value, duplicate, client_id, result_detail)
    if err not in ERRORS:
        raise ValueError(f"unknown kv reply error {err!r:.40}")
    return KVReply(err, result, leader, detail)


#: One operation's answer in a batch, flat (a nested pickled KVReply and Result cost ~16x):
#: (err, result code or -1 for no result, value, duplicate, client_id, leader, detail).
FlatReply = tuple[str, int, str | None, bool, int, int, str]


@message
class KVBatch:
    """Several operations for one server, each in its log-entry encoding."""

    commands: tuple[bytes, ...]


@message
class KVBatchReply:
    """The answers to a KVBatch, one per operation, in order."""

    replies: tuple[FlatReply, ...]


def flat_reply(reply: KVReply) -> FlatReply:
    """`reply` as one element of a KVBatchReply."""
    result = reply.result
    if result is None:
        return (reply.err, -1, None, False, 0, reply.leader, reply.detail)
    return (reply.err, result.code.value, result.value, result.duplicate, result.client_id,
            reply.leader, reply.detail or result.detail)  # fmt: skip


_CODES = tuple(ResultCode)


def unflat_reply(flat: object) -> KVReply:
    """The KVReply of one element of a KVBatchReply. Raises ValueError if it is malformed
    (it comes off the network: a bad server must not crash the client)."""
    if type(flat) is not tuple or len(flat) != 7:
        raise ValueError(f"a batch reply element must be a 7-tuple, not {flat!r:.80}")
    err, code, value, duplicate, client_id, leader, detail = flat
    if err not in ERRORS or type(code) is not int or not -1 <= code < len(_CODES):
        raise ValueError(f"malformed batch reply element {flat!r:.80}")
    if code < 0:
        return KVReply(err, None, leader, detail)
    result = Result(_CODES[code], value, duplicate, client_id, detail)
    return KVReply(err, result, leader, detail)


@message
class ServerState:
    """A server's view of itself, for tests and tools ("KVServer.State")."""

    node_id: int
    term: int
    is_leader: bool
    leader: int
    applied: int
    raft_state_bytes: int
    snapshot_bytes: int
    keys: int = 0  # stored keys, expired ones not yet purged included (per replica)
    commit: int = 0  # the raft commit index this node knows
