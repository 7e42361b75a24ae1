"""A net/rpc-like layer over endpoints (labrpc's shape).

Server side: `RpcServer(endpoint)` holds service objects; every public method of a service
registered as "KVServer" is callable as "KVServer.method". A handler takes the (freshly
decoded) args and returns the reply, or a `Deferred` that it resolves later (the kv server
answers when the command is applied). An unknown service or method, or a handler that
raises, produces an error reply; the server never crashes on a request.

Client side: `ClientEnd(caller, dst).call(method, args, timeout_s)` returns the reply, or
None when the request or reply was lost, the peer is dead, paused or cut off, or the timeout
passed (labrpc's `false`). An error reply raises `RpcError`: that is a programming error,
not a network failure, and retrying would not help.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from sentinel.netsim import protocol as p
from sentinel.netsim.endpoint import Endpoint, Incoming, Request
from sentinel.wire import AnyMessage, encode, message

log = logging.getLogger(__name__)

SERVICES_MAX = 64
#: Replies whose frame is encoded once (see `constant_reply`).
CONSTANT_REPLIES_MAX = 64


@message
class RpcCall:
    """The payload of an RPC request."""

    method: str
    args: AnyMessage


@message
class RpcReply:
    """The payload of an RPC reply: a value, or an error text."""

    value: AnyMessage
    error: str | None = None


#: id(value) -> (value, the frame of RpcReply(value)); the value is kept so its id stays its own.
_constant_frames: dict[int, tuple[Any, bytes]] = {}


def constant_reply(value: Any) -> Any:
    """Declare `value` (an immutable message a server answers often, such as "OK") a
    constant reply: its reply frame is encoded once, here, and reused whenever a handler
    returns or resolves with this very object. Returns `value`."""
    if id(value) not in _constant_frames:
        assert len(_constant_frames) < CONSTANT_REPLIES_MAX, "too many constant replies"
        _constant_frames[id(value)] = (value, encode(RpcReply(value)))
    return value


class RpcError(RuntimeError):
    """The server answered with an error (unknown method, handler exception)."""


class Deferred:
    """A reply that a handler will produce later: return it, then call `resolve(value)`.

    Not thread-safe, on purpose: handlers, their Deferreds and the replies all live on the
    one loop thread of a server (a node), where a lock per request is measurable."""

    __slots__ = ("_callback", "_value")
    _UNSET: Any = object()

    def __init__(self) -> None:
        self._value: Any = Deferred._UNSET
        self._callback: Callable[[Any], None] | None = None

    def resolve(self, value: Any) -> None:
        """Provide the reply (once)."""
        assert self._value is Deferred._UNSET, "a Deferred is resolved once"
        self._value = value
        if self._callback is not None:
            self._callback(value)

    @property
    def resolved(self) -> bool:
        """Whether `resolve` was called."""
        return self._value is not Deferred._UNSET

    def on_resolve(self, callback: Callable[[Any], None]) -> None:
        """Run `callback(value)` when resolved (at once if it already is)."""
        if self._value is Deferred._UNSET:
            self._callback = callback
        else:
            callback(self._value)


class RpcServer:
    """Dispatches RPC requests arriving at one endpoint to registered service objects."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self._methods: dict[str, Callable[[Any], Any]] = {}
        self._services: set[str] = set()
        self.calls = 0  # requests dispatched to a handler (labrpc's per-server count)

    def add_service(self, service: object, name: str | None = None) -> None:
        """Make every public method of `service` callable as "<name>.<method>"."""
        name = name or type(service).__name__
        assert name not in self._services, f"service {name!r} is already registered"
        assert len(self._services) < SERVICES_MAX, "too many services"
        self._services.add(name)
        for attr in dir(service):
            if attr.startswith("_"):
                continue
            handler = getattr(service, attr)
            if callable(handler):
                self._methods[f"{name}.{attr}"] = handler

    def handler(self, method: str) -> Callable[[Any], Any] | None:
        """The handler registered for `method` ("<service>.<method>"), if any (for a host
        that delivers calls itself, as the simulator does)."""
        return self._methods.get(method)

    def dispatch(self, request: Request) -> None:
        """Run the handler for one request and send (or arrange) its reply."""
        call = request.obj
        if not isinstance(call, RpcCall):
            request.respond(RpcReply(None, f"not an RPC call: {type(call).__qualname__}"))
            return
        handler = self._methods.get(call.method)
        if handler is None:
            request.respond(RpcReply(None, f"unknown method {call.method!r}"))
            return
        self.calls += 1
        try:
            result = handler(call.args)
        except Exception as exc:  # a handler bug must not take the server down
            log.exception("handler %s failed", call.method)
            request.respond(RpcReply(None, f"{call.method} raised {type(exc).__name__}: {exc}"))
            return
        if isinstance(result, Deferred):
            result.on_resolve(lambda value: _respond_quietly(request, value))
        else:
            _respond_quietly(request, result)

    def handle(self, incoming: Iterable[Incoming]) -> list[Incoming]:
        """Dispatch every Request carrying an RpcCall; return the other items untouched."""
        rest: list[Incoming] = []
        for item in incoming:
            if isinstance(item, Request) and isinstance(item.obj, RpcCall):
                self.dispatch(item)
            else:
                rest.append(item)
        return rest


def _respond_quietly(request: Request, value: Any) -> None:
    try:
        constant = _constant_frames.get(id(value))
        if constant is not None and constant[0] is value:
            request.endpoint.send_frame(request.src, constant[1], p.F_REPLY, request.request_id)
        else:
            request.respond(RpcReply(value))
    except (OSError, EOFError) as exc:  # the router is gone: nobody to answer
        log.warning("reply to %d not sent: %s", request.src, exc)


class Caller(Protocol):
    """Anything that can make a blocking RPC to an endpoint (see `client.Network`)."""

    def call(self, dst: int, method: str, args: Any, timeout_s: float) -> RpcReply | None:
        """Call `method` at endpoint `dst`; the reply, or None if none came within `timeout_s`."""
        ...

    @property
    def closed(self) -> bool:
        """Whether the connection is gone for good (no call can be sent any more)."""
        ...


class ClientEnd:
    """labrpc's ClientEnd: a handle for calling one server endpoint."""

    def __init__(self, caller: Caller, dst: int) -> None:
        self.caller = caller
        self.dst = dst

    def call(self, method: str, args: Any = None, timeout_s: float = 1.0) -> Any:
        """The reply, or None when the network or the server failed the call in time.
        Raises RpcError when the server answered with an error."""
        reply = self.caller.call(self.dst, method, args, timeout_s)
        if reply is None:
            return None
        if reply.error is not None:
            raise RpcError(reply.error)
        return reply.value
