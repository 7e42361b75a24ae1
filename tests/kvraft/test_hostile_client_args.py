"""Hostile arguments to every client call: each is refused before anything is sent.

Every verb of the blocking `Client` and its `*_async` twin gets keys and values of the wrong
type (a str subclass and an enum member included: they cannot travel in a frame), and
timeouts of the wrong type or value. Each call must raise InvalidRequest (TypeError for a
timeout of the wrong type) and send nothing; the client then
still serves a good call. The network here encodes what it is given, as the real one does,
so a value that cannot travel would fail there, later and less clearly.
"""

from __future__ import annotations

import enum
import math
import threading

import pytest

import sentinel
from sentinel.kvraft.client import Client
from sentinel.kvraft.limits import KEY_BYTES_MAX, TIMEOUT_S_MAX, InvalidRequest
from sentinel.kvraft.protocol import OK, KVReply
from sentinel.kvraft.results import Result, ResultCode
from sentinel.netsim.rpc import RpcCall, RpcReply
from sentinel.wire import encode

REGISTERED = RpcReply(KVReply(OK, Result(ResultCode.OK, client_id=7)))
DONE = RpcReply(KVReply(OK, Result(ResultCode.OK, value="v")))


class Tagged(str):
    """A str subclass, as a caller's own key type might be."""


class Color(enum.StrEnum):
    RED = "red"


class RecordingNetwork:
    """Answers every call at once, after encoding it as the real network does."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: list[str] = []
        self.closed = False

    def _record(self, method: str, args: object) -> RpcReply:
        encode(RpcCall(method, args))  # a value that cannot travel fails here
        with self.lock:
            self.sent.append(method)
        return REGISTERED if method.endswith("Register") else DONE

    def call(self, dst, method, args, timeout_s):
        return self._record(method, args)

    def call_async(self, dst, method, args, timeout_s, callback) -> None:
        callback(self._record(method, args))

    def call_later(self, delay_s, callback) -> None:
        raise AssertionError("no call here needs a pause")

    def on_reader_thread(self) -> bool:
        return False

    def add_flush_hook(self, hook) -> None:
        pass

    def close(self) -> None:
        self.closed = True


#: verb -> good arguments; position i of each is text (cas's `expected` may also be None).
VERBS = {
    "get": ("k",),
    "put": ("k", "v"),
    "append": ("k", "v"),
    "delete": ("k",),
    "cas": ("k", "old", "new"),
}
NOT_STR = [3, 2.5, b"k", bytearray(b"k"), None, ["k"], Tagged("k"), Color.RED]
BAD_KEYS = ["", "k" * (KEY_BYTES_MAX + 1), "\udc80"]


def _cases() -> list[tuple[str, tuple]]:
    cases = []
    for verb, good in VERBS.items():
        for i in range(len(good)):
            bad_values = NOT_STR + (BAD_KEYS if i == 0 else ["\udc80"])
            for bad in bad_values:
                if verb == "cas" and i == 1 and bad is None:
                    continue  # "expected absent": valid
                args = (*good[:i], bad, *good[i + 1 :])
                cases.append((verb, args))
    return cases


CASES = _cases()


def _call(kind: str, target, verb: str, args: tuple, timeout_s=5.0):
    if kind == "sync":
        return getattr(target, verb)(*args, timeout_s=timeout_s)
    return getattr(target, f"{verb}_async")(*args, timeout_s=timeout_s)


@pytest.fixture(params=["sync", "async"])
def client(request):
    net = RecordingNetwork()
    return request.param, Client(net, [1], clerks_max=2), net  # type: ignore[arg-type]


@pytest.mark.parametrize(("verb", "args"), CASES, ids=[f"{v}{a!r}"[:60] for v, a in CASES])
def test_a_wrong_key_or_value_is_refused_before_anything_is_sent(client, verb, args):
    kind, target, net = client
    with pytest.raises(InvalidRequest) as caught:
        _call(kind, target, verb, args)
    assert type(caught.value) is InvalidRequest
    said = str(caught.value)
    assert any(word in said for word in ("key", "value", "expected", "new")), said
    if any(isinstance(a, str) and type(a) is not str for a in args):
        assert "subclass of str" in said, said
    assert net.sent == []
    done = _call(kind, target, "put", ("k", "v"))  # the client still serves
    assert (done.result(5.0) if kind == "async" else done) is None
    assert net.sent == ["KVServer.Register", "KVServer.Put"]


WRONG_TYPE = (TypeError, "timeout_s must be a number of seconds")
OUT_OF_RANGE = (InvalidRequest, "timeout_s must be more than 0")
BAD_TIMEOUTS = [
    *((t, *WRONG_TYPE) for t in ["5", b"5", None, True, [5], 5j]),
    *((t, *OUT_OF_RANGE) for t in [0, -1, 0.0, -0.5, math.nan, math.inf, -math.inf]),
    *((t, *OUT_OF_RANGE) for t in [TIMEOUT_S_MAX + 1, 10**400]),
]


@pytest.mark.parametrize(("timeout_s", "error", "says"), BAD_TIMEOUTS)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_bad_timeout_is_refused_with_a_clear_error(kind, timeout_s, error, says):
    """A wrong type is a TypeError, a wrong value an InvalidRequest; nothing is sent."""
    net = RecordingNetwork()
    kv = Client(net, [1])  # type: ignore[arg-type]
    for verb, args in VERBS.items():
        with pytest.raises(error, match=says) as caught:
            _call(kind, kv, verb, args, timeout_s)
        assert type(caught.value) is error
    assert net.sent == []


def test_an_int_timeout_and_the_longest_are_fine():
    net = RecordingNetwork()
    kv = Client(net, [1])  # type: ignore[arg-type]
    kv.put("k", "v", timeout_s=5)
    assert kv.get("k", timeout_s=TIMEOUT_S_MAX) == "v"
    assert kv.put_async("k", "w", timeout_s=1).result(5.0) is None


@pytest.mark.parametrize(
    ("options", "error", "says"),
    [
        ({"servers": "123"}, TypeError, "servers must be a sequence"),
        ({"servers": 3}, TypeError, "servers must be a sequence"),
        ({"servers": []}, InvalidRequest, "at least one node"),
        ({"servers": [0]}, InvalidRequest, "a server id 0 is out of range"),
        ({"servers": [True]}, InvalidRequest, "a server id must be an int, not bool"),
        ({"servers": ["1"]}, InvalidRequest, "a server id must be an int, not str"),
        ({"clerks_max": "3"}, InvalidRequest, "clerks_max must be an int, not str"),
        ({"clerks_max": 0}, InvalidRequest, "clerks_max 0 is out of range"),
        ({"rpc_timeout_s": 0}, InvalidRequest, "rpc_timeout_s must be more than 0"),
        ({"silence_s": "1"}, TypeError, "silence_s must be a number of seconds"),
    ],
)
def test_connect_checks_its_options_before_contacting_the_router(tmp_path, options, error, says):
    # tmp_path holds no cluster: any attempt to connect would fail differently.
    with pytest.raises(error, match=says):
        sentinel.connect(tmp_path, **options)
    with pytest.raises(error, match=says):
        Client(RecordingNetwork(), **{"servers": [1], **options})  # type: ignore[arg-type]
