"""MULTI/EXEC/DISCARD/WATCH/UNWATCH: the connection's transaction state.

Between MULTI and EXEC, commands are checked (unknown command, arity, AUTH, and the
backend's `refuse_queued`: a sharded store's CROSSSLOT) and queued with `+QUEUED`; a refused
command marks the transaction failed and EXEC then answers EXECABORT, as
Redis does. EXEC hands every queued data command to the backend as ONE `execute_batch` call,
with the versions WATCH took, so the data layer can apply the whole transaction as one log
entry or, when a watched key changed, nothing (EXEC's reply is then a null array). Queued
commands the front door answers itself (PING, ECHO, CLIENT ...) run after the batch, and only
if it ran.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from sentinel.redis import limits
from sentinel.redis.backend import Pending, Version
from sentinel.redis.commands import COMMANDS
from sentinel.redis.frontdoor import HANDLERS, Handler
from sentinel.redis.replies import INTERNAL_ERROR, NULL_ARRAY, OK, QUEUED, Error, error
from sentinel.redis.session import Client, FrontDoor

log = logging.getLogger(__name__)

EXECABORT = Error("EXECABORT Transaction discarded because of previous errors.")


def queue_in_multi(door: FrontDoor, client: Client, args: list[bytes]) -> Any:
    """Queue a checked command inside MULTI; its reply (`+QUEUED` or an error). A data
    command the backend refuses at queue time (a sharded store's CROSSSLOT) is not queued."""
    assert client.multi is not None
    if len(client.multi) >= limits.MULTI_COMMANDS_MAX:
        client.multi_failed = True
        return error(f"a transaction may queue at most {limits.MULTI_COMMANDS_MAX} commands")
    if _local(args) is None:
        refused = door.backend.refuse_queued(client.multi, args, client.watched)
        if refused is not None:
            client.multi_failed = True
            return refused
    client.multi.append(args)
    return QUEUED


def cmd_multi(door: FrontDoor, client: Client, args: list[bytes]) -> Any:
    """MULTI: start queueing."""
    if client.multi is not None:
        return error("MULTI calls can not be nested")
    client.multi = []
    client.multi_failed = False
    return OK


def cmd_discard(door: FrontDoor, client: Client, args: list[bytes]) -> Any:
    """DISCARD: drop the queue and the watches."""
    if client.multi is None:
        return error("DISCARD without MULTI")
    client.multi = None
    client.multi_failed = False
    client.watched = {}
    return OK


def cmd_unwatch(door: FrontDoor, client: Client, args: list[bytes]) -> Any:
    """UNWATCH: forget the watched keys."""
    client.watched = {}
    return OK


def cmd_watch(door: FrontDoor, client: Client, args: list[bytes]) -> Any:
    """WATCH key [key ...]: take the keys' versions from the backend (an awaitable reply),
    unless the backend refuses the keys beside those already watched (`refuse_queued`: a
    sharded store's CROSSSLOT), as Redis Cluster does when WATCH is issued."""
    if client.multi is not None:
        return error("WATCH inside MULTI is not allowed")
    keys = args[1:]
    if len(client.watched) + len(keys) > limits.WATCHED_KEYS_MAX:
        return error(f"a connection may watch at most {limits.WATCHED_KEYS_MAX} keys")
    refused = door.backend.refuse_queued([], args, client.watched)
    if refused is not None:
        return refused
    versions = door.backend.watch(keys, client.caller)
    if type(versions) is Pending:  # no task: the reply is made in the answer's turn
        done = Pending()
        versions.then(lambda answer: done.set(_record(client, keys, answer)))
        return done
    return _watch(versions, client, keys)


async def _watch(versions: Any, client: Client, keys: list[bytes]) -> Any:
    """WATCH's reply once `versions` (an awaitable) gives the keys' versions."""
    return _record(client, keys, await versions)


def _record(client: Client, keys: list[bytes], versions: Any) -> Any:
    """Record each key's version the first time it is watched; WATCH's reply."""
    if isinstance(versions, Error):
        return versions  # the versions could not be read (TRYAGAIN): nothing is watched
    if not isinstance(versions, list) or len(versions) != len(keys):
        log.error("WATCH got %r for %d keys", type(versions), len(keys))
        return INTERNAL_ERROR
    for key, version in zip(keys, versions, strict=True):
        client.watched.setdefault(key, version)
    return OK


def cmd_exec(door: FrontDoor, client: Client, args: list[bytes]) -> Any:
    """EXEC: run the queue (an awaitable reply), or EXECABORT after a refused command."""
    if client.multi is None:
        return error("EXEC without MULTI")
    queued, failed, watched = client.multi, client.multi_failed, client.watched
    client.multi, client.multi_failed, client.watched = None, False, {}
    if failed:
        return EXECABORT
    return _exec(door, client, queued, watched)


def _local(args: list[bytes]) -> Handler | None:
    """The front door's handler for a queued command, None for a data command."""
    name = args[0].lower()
    cmd = COMMANDS[name.decode("latin-1")]
    return (TRANSACTION.get(name) or HANDLERS[cmd.name]) if cmd.local else None


async def _exec(
    door: FrontDoor, client: Client, queued: list[list[bytes]], watched: dict[bytes, Version]
) -> Any:
    """One backend batch for the data commands, then the local ones; replies in order."""
    handlers = [_local(args) for args in queued]
    batch = [args for args, handler in zip(queued, handlers, strict=True) if handler is None]
    results: list[Any] = []
    if batch or watched:
        answer = await door.backend.execute_batch(batch, watched, client.caller)
        if answer is None:
            return NULL_ARRAY
        if isinstance(answer, Error):
            return answer  # the batch's outcome (UNKNOWN) or its refusal (CLUSTERDOWN)
        if len(answer) != len(batch):
            raise RuntimeError(f"execute_batch answered {len(answer)} of {len(batch)} commands")
        results = list(answer)
    results.reverse()
    replies: list[Any] = []
    for args, handler in zip(queued, handlers, strict=True):
        if handler is None:
            replies.append(results.pop())
            continue
        reply = handler(door, client, args)
        replies.append(await reply if inspect.isawaitable(reply) else reply)
    return replies


#: Transaction commands by name (bytes, lower case).
TRANSACTION: dict[bytes, Handler] = {
    b"multi": cmd_multi, b"exec": cmd_exec, b"discard": cmd_discard,
    b"watch": cmd_watch, b"unwatch": cmd_unwatch,
}  # fmt: skip
#: Commands that run at once inside MULTI instead of being queued (as in Redis).
IMMEDIATE_IN_MULTI = frozenset({b"multi", b"exec", b"discard", b"watch", b"quit", b"reset"})
