"""One call of the client (client.py) in flight: its `Operation` (attempts.py) driven by
RPC completions and timers, and the Future it settles."""

from __future__ import annotations

import time
from concurrent.futures import Future
from typing import Any

from sentinel.kvraft.attempts import Done, Fail, Operation, Pause, Request, Send, SessionState
from sentinel.kvraft.codec import encode_prepared
from sentinel.netsim.rpc import RpcReply


class ClientClosed(RuntimeError):
    """The client is closed."""


class Job:
    """One call, driven by RPC completions and timers. One thread at a time touches it: the
    submitter until its first send, then the one running its callback."""

    __slots__ = ("client", "deadline", "future", "op", "outcome", "request", "session")

    def __init__(self, client: Any, request: Request, deadline: float) -> None:
        self.client = client
        self.request = request
        self.deadline = deadline
        self.future: Future = Future()
        self.session: SessionState | None = None
        self.op: Operation | None = None
        self.outcome: Done | Fail | None = None

    def begin(self, session: SessionState) -> bool:
        """Start on `session`; whether the call is now in flight (else it is over)."""
        if not self.future.set_running_or_notify_cancel():
            return False  # cancelled while it waited in the queue
        self.session = session
        client = self.client
        self.op = Operation(
            session, self.request, self.deadline, client.rpc_timeout_s, client.silence_s
        )
        return self._act(self.op.start(time.monotonic()))

    def _act(self, action: Any) -> bool:
        """Do what the Operation says; whether the call is still in flight."""
        network = self.client.network
        while True:
            try:
                if isinstance(action, Send):
                    data = encode_prepared(action.command)  # validated when prepared
                    coalescer = self.client.coalescer
                    if coalescer is None:
                        network.call_async(
                            action.server, action.method, data, action.timeout_s,
                            self._on_reply,
                        )  # fmt: skip
                    else:
                        coalescer.send(
                            action.server, action.method, data, action.timeout_s,
                            self._on_reply, self._on_send_error,
                        )  # fmt: skip
                    return True  # the reply may already be handled on the reader thread
                if isinstance(action, Pause):
                    network.call_later(action.pause_s, self._on_resume)
                    return True
            except Exception as exc:  # closed, or over a bound: end as at the deadline
                why = f"could not send ({type(exc).__name__}: {exc})"
                action = self.op.cancel(why)  # type: ignore[union-attr]
                action.error.__cause__ = exc
                continue
            assert isinstance(action, Done | Fail), action
            self.outcome = action
            return False

    def _on_reply(self, reply: RpcReply | None, resumed: bool = False) -> None:
        op: Operation = self.op  # type: ignore[assignment]
        try:
            now = time.monotonic()
            action = op.resume(now) if resumed else op.on_reply(reply, now)
        except Exception as exc:  # a bug must still end the call, not leave it hanging
            action = Fail(exc)
        if not self._act(action):
            self.client._job_done(self)

    def _on_send_error(self, exc: Exception) -> None:
        """A held attempt could not be sent (closed, or over a bound): end as at the deadline."""
        action = self.op.cancel(f"could not send ({type(exc).__name__}: {exc})")  # type: ignore[union-attr]
        action.error.__cause__ = exc
        if not self._act(action):
            self.client._job_done(self)

    def _on_resume(self) -> None:
        self._on_reply(None, resumed=True)

    def settle(self) -> None:
        """Hand the outcome to the future (after the session went back to the pool)."""
        if isinstance(self.outcome, Done):
            self.future.set_result(self.outcome.value)
        elif isinstance(self.outcome, Fail):
            self.future.set_exception(self.outcome.error)

    def abandon(self) -> None:
        """The client closed while this call waited for a session: nothing was sent."""
        if self.future.set_running_or_notify_cancel():
            self.future.set_exception(ClientClosed("the client closed before the call started"))
