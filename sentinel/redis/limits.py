"""The bounds of the Redis front door: every buffer, queue and loop it keeps has one here.

The protocol limits are separate from the store's: a bulk string may be longer than the
store's value limit (`sentinel.kvraft.limits.VALUE_BYTES_MAX`, 1 MiB), so that an oversize
value reaches the store and gets the store's clear error instead of a protocol error that
closes the connection. The protocol limits only stop a client from making the server buffer
without bound. The output limit is checked after each write, so one turn's replies may pass
it before the client is cut.

| name | value | what happens past it |
| --- | --- | --- |
| `BULK_BYTES_MAX` | 16 MiB | `-ERR Protocol error: invalid bulk length`, connection closed |
| `ARGS_MAX` | 1,048,576 | `-ERR Protocol error: invalid multibulk length`, closed |
| `INLINE_BYTES_MAX` | 64 KiB | `-ERR Protocol error: too big inline request`, closed |
| (the same) | | a `*`/`$` header line longer than that: `too big mbulk/bulk count string` |
| `QUERY_BYTES_MAX` | 64 MiB | one request's total size; `-ERR Protocol error: ...`, closed |
| `UNAUTH_ARGS_MAX` | 10 | as Redis: before AUTH, a request may hold 10 args ... |
| `UNAUTH_BULK_BYTES_MAX` | 16 KiB | ... of 16 KiB each, so a stranger cannot make us buffer much |
| `OUTPUT_BYTES_MAX` | 64 MiB | unread replies of a client: closed (checked per write) |
| `MAXCLIENTS_DEFAULT` | 1,000 | `-ERR max number of clients reached`, closed |
| `PIPELINE_MAX` | 1,024 | requests read but not yet answered, per connection: reading pauses |
| `REQUESTS_PER_TURN_MAX` | 128 | requests one connection handles per event-loop turn |
| `MULTI_COMMANDS_MAX` | 10,000 | commands queued in one MULTI: refused, EXEC aborts |
| `WATCHED_KEYS_MAX` | 10,000 | keys watched by one connection: WATCH refused |
"""

from __future__ import annotations

BULK_BYTES_MAX = 16 * 1024 * 1024
ARGS_MAX = 1024 * 1024
INLINE_BYTES_MAX = 64 * 1024
QUERY_BYTES_MAX = 64 * 1024 * 1024
UNAUTH_ARGS_MAX = 10
UNAUTH_BULK_BYTES_MAX = 16 * 1024
OUTPUT_BYTES_MAX = 64 * 1024 * 1024
MAXCLIENTS_DEFAULT = 1000
PIPELINE_MAX = 1024
REQUESTS_PER_TURN_MAX = 128
#: Client names and library names/versions (CLIENT SETNAME/SETINFO) are at most this long.
NAME_BYTES_MAX = 256
#: Commands one MULTI may queue; past it the command is refused and EXEC aborts.
MULTI_COMMANDS_MAX = 10_000
#: Keys one connection may WATCH at once (they travel with the EXEC into one log entry).
WATCHED_KEYS_MAX = 10_000
