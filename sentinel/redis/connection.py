"""One client connection: read requests, run them in order, write replies in order.

The connection is an asyncio `Protocol`. Requests are parsed into a backlog and started one by
one in request order. A command the front door answers itself gets its reply at once; a
backend call gets a slot in the reply queue (filled by a direct callback when the backend
answers with a `Pending`, by a task's otherwise); replies leave strictly in request order
whatever order the backend answers in (the queue is flushed from its head).

Per request at `-c 1` the cost is what the loop turns cost: the request is read, started and
its call sent in one turn (a connection served alone starts its calls at once, through
`Backend.together`, instead of at the end of the turn where other connections' calls would
join them), and its reply is written in the turn that reads the answer.

Ordering towards the backend (see `sentinel.redis.backend`): calls of one kind (reads, or
writes) run concurrently, so a pipeline of GETs or of SETs is in flight at once; a call of the
other kind waits until the ones in flight are done, so a GET after a SET on the same
connection sees it.

Bounds: at most `REQUESTS_PER_TURN_MAX` requests are started per event-loop turn (then the
connection yields, so one flooding client cannot starve the others); reading pauses while
`PIPELINE_MAX` requests are unanswered; a client whose unread replies pass `output_bytes_max`
is disconnected. Malformed input is answered with Redis's error and the connection closes once
every earlier reply is written.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import deque
from typing import Any

from sentinel.redis import limits
from sentinel.redis.backend import Pending
from sentinel.redis.commands import COMMANDS, Command
from sentinel.redis.frontdoor import HANDLERS, NOAUTH
from sentinel.redis.replies import INTERNAL_ERROR, encode, error
from sentinel.redis.resp import ProtocolError, RequestReader
from sentinel.redis.session import Client, FrontDoor
from sentinel.redis.transaction import IMMEDIATE_IN_MULTI, TRANSACTION, queue_in_multi

log = logging.getLogger(__name__)

_TABLE: dict[bytes, Command] = {name.encode(): cmd for name, cmd in COMMANDS.items()}
#: Local commands whose handler needs the backend (and so takes part in the read ordering).
_READS = {b"info", b"watch"}


def unknown_command(args: list[bytes]) -> Any:
    """Redis's reply to an unknown command, quoting its first arguments (128 bytes at most)."""
    quoted = ""
    for arg in args[1:]:
        if len(quoted) >= 128:
            break
        quoted += "'" + arg.decode("utf-8", "replace")[: 128 - len(quoted)] + "' "
    name = args[0].decode("utf-8", "replace")[:128]
    return error(f"unknown command '{name}', with args beginning with: {quoted}")


def check_command(args: list[bytes]) -> tuple[Command | None, Any]:
    """(the command, None) when the table accepts the request; (None, error reply) if not."""
    cmd = _TABLE.get(args[0].lower())
    if cmd is None:
        return None, unknown_command(args)
    if not cmd.arity_ok(len(args)):
        return None, error(f"wrong number of arguments for '{cmd.name}' command")
    if cmd.subcommands and len(args) > 1:
        sub = cmd.subcommands.get(args[1].decode("latin-1").lower())
        if sub is None:
            name = args[1].decode("utf-8", "replace")[:128]
            return None, error(f"unknown subcommand '{name}'. Try {cmd.name.upper()} HELP.")
        if not sub.arity_ok(len(args)):
            return None, error(f"wrong number of arguments for '{sub.name}' command")
    return cmd, None


class Slot:
    """A place in the reply queue: the encoded reply once known."""

    __slots__ = ("data",)

    def __init__(self, data: bytes | None = None) -> None:
        self.data = data


class Connection(asyncio.Protocol):
    """The protocol driver of one client connection."""

    def __init__(self, door: FrontDoor) -> None:
        self.door = door
        self.client = Client(0, "", "", authenticated=door.options.password is None)
        self.reader = RequestReader()
        self.transport: asyncio.Transport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._backlog: deque[list[bytes]] = deque()  # parsed, not started
        self._slots: deque[Slot] = deque()  # started, in request order
        self._kind = ""  # "r" or "w": the kind of the backend calls in flight
        self._inflight = 0
        self._closing = False  # read nothing more; close once the slots are written
        self._reading = True
        self._pump_scheduled = False
        self._yielded = False  # the last pump stopped at its budget: the next waits a turn

    # -- asyncio callbacks -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Register the client, or refuse it past maxclients."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._loop = asyncio.get_running_loop()
        door = self.door
        if len(door.clients) >= door.options.maxclients:
            door.rejected_connections += 1
            self._closing = True
            transport.write(b"-ERR max number of clients reached\r\n")
            transport.close()
            return
        self.client.id = door.new_client_id()
        self.client.addr = _address(transport.get_extra_info("peername"))
        self.client.laddr = _address(transport.get_extra_info("sockname"))
        door.clients[self.client.id] = self
        door.connections_total += 1
        self._restrict_reader()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the client; calls still in flight finish and their replies are dropped."""
        self.door.clients.pop(self.client.id, None)
        self.transport = None
        self._closing = True
        self._backlog.clear()

    def data_received(self, data: bytes) -> None:
        """Buffer the bytes and run what is complete."""
        if self._closing:
            return
        self.reader.feed(data)
        self._pump()

    # -- the pipeline -----------------------------------------------------------------------

    def output_bytes(self) -> int:
        """Reply bytes written but not yet taken by the client."""
        transport = self.transport
        return transport.get_write_buffer_size() if transport is not None else 0

    def _pump(self) -> None:
        """Start backlog requests in order, within this turn's budget; then flush and decide
        whether to keep reading. Served alone, the calls started leave when it returns."""
        self._pump_scheduled = False
        if len(self.door.clients) == 1:
            self.door.backend.together(self._pump_requests)
        else:
            self._pump_requests()

    def _pump_requests(self) -> None:
        budget = limits.REQUESTS_PER_TURN_MAX
        try:
            while budget and not self._closing:
                if not self._backlog:
                    if not self.reader.has_input():
                        break
                    room = min(budget, limits.PIPELINE_MAX - len(self._slots))
                    requests = self.reader.requests(room) if room > 0 else []
                    if not requests:
                        break
                    self._backlog.extend(requests)
                if not self._start_safely(self._backlog[0]):
                    break  # waits for the calls of the other kind
                self._backlog.popleft()
                budget -= 1
        except ProtocolError as exc:
            self._slots.append(Slot(encode(error(str(exc)))))
            self._closing = True
            log.info("client %d: %s; closing", self.client.id, exc)
        self._yielded = not budget
        if not budget:
            self._schedule_pump()
        self._flush_and_read()

    def _flush_and_read(self) -> None:
        """Write what is ready; read on unless requests wait, too many are unanswered, the
        connection is closing or the turn's budget ran out."""
        self._flush()
        busy = bool(self._backlog) or len(self._slots) >= limits.PIPELINE_MAX
        self._set_reading(not (busy or self._closing or self._yielded))

    def _schedule_pump(self) -> None:
        """Pump again on the next event-loop turn (once, however many reasons arrive): replies
        completed in one turn leave in one write."""
        if not self._pump_scheduled:
            self._pump_scheduled = True
            loop = self._loop or asyncio.get_running_loop()
            loop.call_soon(self._pump)

    def _set_reading(self, on: bool) -> None:
        """Pause or resume reading from the socket."""
        transport = self.transport
        if on == self._reading or transport is None or transport.is_closing():
            return
        self._reading = on
        if on:
            transport.resume_reading()
        else:
            transport.pause_reading()

    def _flush(self) -> None:
        """Write every reply at the head of the queue that is ready; enforce the output
        limit; close when closing and nothing is owed."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        slots = self._slots
        out = []
        while slots and slots[0].data is not None:
            out.append(slots.popleft().data)
        if out:
            transport.write(b"".join(out))  # type: ignore[arg-type]
        if transport.get_write_buffer_size() > self.door.options.output_bytes_max:
            log.warning("client %d: %d reply bytes unread, over the limit; disconnecting",
                        self.client.id, transport.get_write_buffer_size())  # fmt: skip
            self._closing = True
            self._backlog.clear()
            transport.abort()
        elif self._closing and not slots:
            transport.close()

    def _start_safely(self, args: list[bytes]) -> bool:
        """`_start`, but a bug in a handler answers an error instead of killing the client."""
        try:
            return self._start(args)
        except Exception:
            log.exception("client %d: %r failed", self.client.id, args[:1])
            self._slots.append(Slot(encode(INTERNAL_ERROR, self.client.proto)))
            return True

    def _start(self, args: list[bytes]) -> bool:
        """Start one request; False (nothing done) if it must wait for calls in flight."""
        client = self.client
        cmd, refusal = check_command(args)
        if cmd is not None and not client.authenticated and "no_auth" not in cmd.flags:
            cmd, refusal = None, NOAUTH
        if cmd is None:
            if client.multi is not None:
                client.multi_failed = True
            self._slots.append(Slot(encode(refusal, client.proto)))
            return True
        name = args[0].lower()
        if client.multi is not None and name not in IMMEDIATE_IN_MULTI:
            self._slots.append(Slot(encode(queue_in_multi(self.door, client, args), client.proto)))
            return True
        kind = "w" if cmd.is_write or name == b"exec" else "r"
        if (not cmd.local or name in _READS or name == b"exec") and not self._may_call(kind):
            return False
        self.door.commands_total += 1
        client.last_command = cmd.name
        client.last_command_s = time.monotonic()
        if not cmd.local:
            self._call(self.door.backend.execute(args, client.caller), kind)
            return True
        handler = TRANSACTION.get(name) or HANDLERS[cmd.name]
        reply = handler(self.door, client, args)
        if inspect.isawaitable(reply):
            self._call(reply, kind)
        else:
            self._slots.append(Slot(encode(reply, client.proto)))
        if client.quitting:
            self._closing = True
        self._restrict_reader()
        return True

    def _may_call(self, kind: str) -> bool:
        """A backend call of `kind` may start now (none of the other kind is in flight)."""
        return not self._inflight or self._kind == kind

    def _call(self, awaitable: Any, kind: str) -> None:
        """Run a backend call; its reply fills a slot taken now, in request order."""
        slot = Slot()
        self._slots.append(slot)
        proto = self.client.proto
        if type(awaitable) is Pending:
            if awaitable.done():  # (answered at once: no call in flight)
                slot.data = _encoded(awaitable.result(), proto)
                return
            self._inflight += 1
            self._kind = kind
            awaitable.then(lambda reply: self._answered(slot, _encoded(reply, proto)))
            return
        self._inflight += 1
        self._kind = kind
        task = asyncio.ensure_future(awaitable)
        task.add_done_callback(lambda done: self._done(slot, proto, done))

    def _done(self, slot: Slot, proto: int, task: asyncio.Future) -> None:
        """A backend task finished: its reply, or an internal error if it raised."""
        try:
            data = encode(task.result(), proto)
        except (Exception, asyncio.CancelledError):  # a bug must not break the reply order
            log.exception("client %d: backend call failed", self.client.id)
            data = encode(INTERNAL_ERROR, proto)
        self._answered(slot, data)

    def _answered(self, slot: Slot, data: bytes) -> None:
        """A backend call finished: fill its slot, write what is ready, start what waited."""
        slot.data = data
        self._inflight -= 1
        if self._inflight or self._yielded:
            self._schedule_pump()
        elif self._backlog or self.reader.has_input():
            self._pump()  # the last answer owed: now the requests that waited for it
        else:  # (the common case: write the reply now, nothing else to start)
            self._flush_and_read()

    def _restrict_reader(self) -> None:
        """Before AUTH, requests are held to Redis's small unauthenticated limits."""
        if self.client.authenticated:
            self.reader.restrict(limits.ARGS_MAX, limits.BULK_BYTES_MAX)
        else:
            self.reader.restrict(limits.UNAUTH_ARGS_MAX, limits.UNAUTH_BULK_BYTES_MAX)


def _encoded(reply: Any, proto: int) -> bytes:
    """`encode`, but a reply that cannot be encoded (a bug) is an internal error."""
    try:
        return encode(reply, proto)
    except Exception:
        log.exception("a backend reply could not be encoded: %r", type(reply))
        return encode(INTERNAL_ERROR, proto)


def _address(addr: Any) -> str:
    """host:port of a socket address."""
    if isinstance(addr, tuple) and len(addr) >= 2:
        return f"{addr[0]}:{addr[1]}"
    return str(addr)
