"""sentinel.kvraft: the key/value service on top of raft.

This package's pure half (importable without raft): the commands and their limits, the
compact log-entry codec, the exactly-once session table, and `KVStateMachine`, the
deterministic state machine every replica runs. See the module docstrings of `limits`
(the limits), `sessions` (the exactly-once rules) and `snapshot` (the snapshot format).
"""

from sentinel.kvraft.codec import CommandError, decode_command, encode_command
from sentinel.kvraft.commands import (
    OPERATIONS,
    Append,
    Cas,
    Command,
    Delete,
    Get,
    Put,
    Register,
    Write,
    make_command,
    validate_command,
)
from sentinel.kvraft.limits import (
    CLIENT_ID_MAX,
    KEY_BYTES_MAX,
    SEQ_MAX,
    SESSIONS_MAX_DEFAULT,
    VALUE_BYTES_MAX,
    InvalidRequest,
    validate_key,
    validate_value,
)
from sentinel.kvraft.results import Result, ResultCode
from sentinel.kvraft.sessions import Session, SessionTable
from sentinel.kvraft.snapshot import SnapshotError
from sentinel.kvraft.statemachine import KVStateMachine, KVStats

__all__ = [
    "CLIENT_ID_MAX",
    "KEY_BYTES_MAX",
    "OPERATIONS",
    "SEQ_MAX",
    "SESSIONS_MAX_DEFAULT",
    "VALUE_BYTES_MAX",
    "Append",
    "Cas",
    "Command",
    "CommandError",
    "Delete",
    "Get",
    "InvalidRequest",
    "KVStateMachine",
    "KVStats",
    "Put",
    "Register",
    "Result",
    "ResultCode",
    "Session",
    "SessionTable",
    "SnapshotError",
    "Write",
    "decode_command",
    "encode_command",
    "make_command",
    "validate_command",
    "validate_key",
    "validate_value",
]
