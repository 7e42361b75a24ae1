"""What a clerk and a kv server say to each other over RPC.

Requests are the commands of `sentinel.kvraft.commands` themselves, one RPC method per
operation: "KVServer.Get" takes a `Get`, "KVServer.Put" a `Put`, ... "KVServer.Register" a
`Register`. Every answer is a `KVReply`:

- `OK`: `result` is the state machine's `Result` (its code may still be NO_KEY,
  CAS_MISMATCH, SESSION_EXPIRED, ...: those are answers, not transport errors);
- `WRONG_LEADER`: this server cannot serve the request (not the leader, or it lost the
  leadership before the request committed); `leader` is a hint (node id, 0 = unknown);
- `RETRY`: the server accepted the request but could not answer in time (a deposed leader
  that does not know it yet, a busy log); the request may or may not be applied, so the
  clerk retries the same request (same seq: exactly-once) elsewhere;
- `INVALID`: the request breaks a type or a limit; nothing changed; retrying cannot help.
"""

from __future__ import annotations

from sentinel.kvraft.limits import InvalidRequest
from sentinel.kvraft.results import Result
from sentinel.raft.config import Config
from sentinel.wire import message

OK = "OK"
WRONG_LEADER = "WRONG_LEADER"
RETRY = "RETRY"
INVALID = "INVALID"
ERRORS = (OK, WRONG_LEADER, RETRY, INVALID)

SERVICE = "KVServer"
#: RPC method name -> the command class it takes.
METHODS = ("Get", "Put", "Append", "Delete", "Cas", "Register")

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


@message
class KVReply:
    """The answer to one kv RPC (see the module docstring)."""

    err: str
    result: Result | None = None
    leader: int = 0
    detail: str = ""


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
