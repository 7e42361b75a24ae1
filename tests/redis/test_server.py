"""The front door over real sockets with the fake backend: inline commands, pipelining
order, the connection's own commands, AUTH, protected mode, transactions, garbage."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from sentinel.redis import frontdoor
from sentinel.redis.commands import COMMANDS
from sentinel.redis.replies import Error, encode
from sentinel.redis.session import Options, ProtectedModeError


def req(*args: bytes | str) -> bytes:
    """One multibulk request."""
    return encode([a.encode() if isinstance(a, str) else a for a in args])


def test_inline_ping_as_typed_into_nc(raw: Any) -> None:
    raw.send(b"PING\r\n")
    raw.expect(b"+PONG\r\n")
    raw.send(b'SET k "a b"\nGET k\n')
    raw.expect(b"+OK\r\n$3\r\na b\r\n")


def test_garbage_closes_that_connection_only(server: Any, raw: Any) -> None:
    other = server.connect()
    raw.send(req("SET", "k", "v") + b"*1\r\n$x\r\n" + req("GET", "k"))
    assert raw.until_closed() == b"+OK\r\n-ERR Protocol error: invalid bulk length\r\n"
    other.send(req("GET", "k"))
    other.expect(b"$1\r\nv\r\n")
    assert server.backend.calls == [[b"SET", b"k", b"v"], [b"GET", b"k"]]  # nothing after
    other.close()


def test_unbalanced_quotes_close_the_connection(raw: Any) -> None:
    raw.send(b'SET k "v\r\n')
    assert raw.until_closed() == b"-ERR Protocol error: unbalanced quotes in request\r\n"


def test_replies_keep_request_order_when_the_backend_answers_reversed(server: Any) -> None:
    server.backend.reverse_after = 20
    server.backend.data = {b"k%d" % i: b"v%d" % i for i in range(20)}
    client = server.connect()
    client.send(b"".join(req("GET", f"k{i}") for i in range(20)) + b"PING\r\n")
    client.expect(b"".join(b"$%d\r\nv%d\r\n" % (len(b"v%d" % i), i) for i in range(20)))
    client.expect(b"+PONG\r\n")
    assert server.backend.max_inflight == 20  # all in flight at once: the pipeline overlapped
    client.close()


def test_a_read_after_a_write_waits_for_it(server: Any) -> None:
    client = server.connect()
    client.send(req("SET", "a", "1") + req("SET", "b", "2") + req("GET", "a") + req("INCR", "a"))
    client.expect(b"+OK\r\n+OK\r\n$1\r\n1\r\n:2\r\n")
    assert server.backend.started == [(b"set", []), (b"set", [b"set"]), (b"get", []),
                                      (b"incr", [])]  # fmt: skip
    client.close()


def test_unknown_command_and_arity_texts(raw: Any) -> None:
    raw.send(req("FOO", "a", "b") + req("GET") + req("CONFIG", "NOPE"))
    raw.expect(b"-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n"
               b"-ERR wrong number of arguments for 'get' command\r\n"
               b"-ERR unknown subcommand 'NOPE'. Try CONFIG HELP.\r\n")  # fmt: skip


def test_hello_3_switches_to_resp3_and_answers_a_map(raw: Any) -> None:
    raw.send(req("HELLO", "3"))
    head = b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2.0\r\n"
    raw.expect(head + b"$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:1\r\n$4\r\nmode\r\n$10\r\nstandalone"
               b"\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n")  # fmt: skip
    raw.send(req("GET", "missing") + req("CONFIG", "GET", "save"))
    raw.expect(b"_\r\n%1\r\n$4\r\nsave\r\n$0\r\n\r\n")
    raw.send(req("HELLO", "2") + req("GET", "missing") + req("CONFIG", "GET", "save"))
    hello2 = {"server": "redis", "version": "7.2.0", "proto": 2, "id": 1, "mode": "standalone",
              "role": "master", "modules": []}  # fmt: skip
    raw.expect(encode(hello2, 2) + b"$-1\r\n*2\r\n$4\r\nsave\r\n$0\r\n\r\n")


def test_hello_errors(raw: Any) -> None:
    raw.send(req("HELLO", "4") + req("HELLO", "x") + req("HELLO", "3", "SETNAME"))
    raw.expect(b"-NOPROTO unsupported protocol version\r\n"
               b"-ERR Protocol version is not an integer or out of range\r\n"
               b"-ERR Syntax error in HELLO option 'SETNAME'\r\n")  # fmt: skip


def test_connection_commands(raw: Any) -> None:
    raw.send(
        req("ECHO", "hi")
        + req("PING", "x")
        + req("SELECT", "0")
        + req("SELECT", "1")
        + req("SELECT", "x")
        + req("CLIENT", "SETNAME", "me")
        + req("CLIENT", "GETNAME")
        + req("CLIENT", "ID")
        + req("CLIENT", "SETNAME", "a b")
    )
    raw.expect(
        b"$2\r\nhi\r\n$1\r\nx\r\n+OK\r\n-ERR DB index is out of range\r\n"
        b"-ERR value is not an integer or out of range\r\n+OK\r\n$2\r\nme\r\n:1\r\n"
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    )


def test_config_get_is_truthful_and_config_set_refuses(raw: Any) -> None:
    raw.send(
        req("CONFIG", "GET", "appendonly")
        + req("CONFIG", "GET", "nothing*")
        + req("CONFIG", "SET", "maxmemory", "1")
        + req("CONFIG", "SET", "foo", "1")
    )
    raw.expect(
        b"*2\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n*0\r\n"
        b"-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - can't set"
        b" immutable config\r\n"
        b"-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n"
    )


def test_quit_answers_then_closes(raw: Any) -> None:
    raw.send(req("QUIT") + req("PING"))
    assert raw.until_closed() == b"+OK\r\n"


def test_multi_exec_queues_and_runs_as_one_batch(server: Any, raw: Any) -> None:
    raw.send(req("MULTI") + req("SET", "a", "1") + req("INCR", "a") + req("PING") + req("EXEC"))
    raw.expect(b"+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n:2\r\n+PONG\r\n")
    assert server.backend.batches == [[[b"SET", b"a", b"1"], [b"INCR", b"a"]]]
    assert server.backend.calls == []  # nothing went through execute()


def test_transaction_errors(raw: Any) -> None:
    raw.send(req("EXEC") + req("DISCARD") + req("MULTI") + req("MULTI") + req("WATCH", "k")
             + req("GET") + req("EXEC") + req("GET", "k"))  # fmt: skip
    raw.expect(
        b"-ERR EXEC without MULTI\r\n-ERR DISCARD without MULTI\r\n+OK\r\n"
        b"-ERR MULTI calls can not be nested\r\n-ERR WATCH inside MULTI is not allowed\r\n"
        b"-ERR wrong number of arguments for 'get' command\r\n"
        b"-EXECABORT Transaction discarded because of previous errors.\r\n$-1\r\n"
    )


def test_a_command_the_backend_refuses_when_queued_aborts_exec(server: Any, raw: Any) -> None:
    server.backend.refused_in_multi[b"incr"] = Error("CROSSSLOT Keys in request don't hash")
    raw.send(req("MULTI") + req("SET", "a", "1") + req("INCR", "b") + req("PING") + req("EXEC"))
    raw.expect(b"+OK\r\n+QUEUED\r\n-CROSSSLOT Keys in request don't hash\r\n+QUEUED\r\n"
               b"-EXECABORT Transaction discarded because of previous errors.\r\n")  # fmt: skip
    raw.send(req("INCR", "b") + req("GET", "a"))  # outside MULTI it runs; nothing was applied
    raw.expect(b":1\r\n$-1\r\n")
    assert server.backend.batches == []


def test_a_watch_the_backend_refuses_watches_nothing(server: Any, raw: Any) -> None:
    server.backend.refused_in_multi[b"watch"] = Error("CROSSSLOT Keys in request don't hash")
    other = server.connect()
    raw.send(req("WATCH", "k"))
    raw.expect(b"-CROSSSLOT Keys in request don't hash\r\n")
    other.send(req("SET", "k", "theirs"))
    other.expect(b"+OK\r\n")
    raw.send(req("MULTI") + req("SET", "k", "mine") + req("EXEC"))  # k was not watched
    raw.expect(b"+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n")
    other.close()


def test_watch_conflict_aborts_exec_with_a_null_array(server: Any, raw: Any) -> None:
    other = server.connect()
    raw.send(req("WATCH", "k"))
    raw.expect(b"+OK\r\n")
    other.send(req("SET", "k", "theirs"))
    other.expect(b"+OK\r\n")
    raw.send(req("MULTI") + req("SET", "k", "mine") + req("EXEC") + req("GET", "k"))
    raw.expect(b"+OK\r\n+QUEUED\r\n*-1\r\n$6\r\ntheirs\r\n")
    raw.send(req("WATCH", "k") + req("MULTI") + req("SET", "k", "mine") + req("EXEC"))
    raw.expect(b"+OK\r\n+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n")
    other.close()


def test_auth_is_required_when_a_password_is_set(serve: Any) -> None:
    with serve(password="s3cret") as server:
        client = server.connect()
        client.send(req("GET", "k") + req("AUTH", "wrong") + req("AUTH", "s3cret")
                    + req("GET", "k"))  # fmt: skip
        client.expect(b"-NOAUTH Authentication required.\r\n-WRONGPASS invalid username-password"
                      b" pair or user is disabled.\r\n+OK\r\n$-1\r\n")  # fmt: skip
        client.send(req("RESET") + req("GET", "k") + req("HELLO", "3", "AUTH", "default", "s3cret"))
        client.expect(b"+RESET\r\n-NOAUTH Authentication required.\r\n%7\r\n")
        client.close()
        stranger = server.connect()
        stranger.send(b"*11\r\n")  # before AUTH, Redis's small limits hold
        assert stranger.until_closed() == b"-ERR Protocol error: invalid multibulk length\r\n"


def test_auth_without_a_password_configured(raw: Any) -> None:
    raw.send(req("AUTH", "x") + req("AUTH", "default", "x") + req("AUTH", "bob", "x"))
    raw.expect(b"-ERR AUTH <password> called without any password configured for the default"
               b" user. Are you sure your configuration is correct?\r\n+OK\r\n"
               b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")  # fmt: skip


@pytest.mark.parametrize("bind", ["0.0.0.0", "10.1.2.3", "::"])
def test_protected_mode_refuses_a_public_bind_without_password(bind: str) -> None:
    with pytest.raises(ProtectedModeError, match="without a password"):
        Options(bind=bind).check()
    Options(bind=bind, password="p").check()
    Options(bind="::1").check()
    Options(bind="localhost").check()


def test_maxclients_refuses_the_next_and_serves_the_rest(serve: Any, wait_for: Any) -> None:
    with serve(maxclients=2) as server:
        first, second = server.connect(), server.connect()
        wait_for(lambda: server.call(lambda: server.server.connections) == 2, "2 clients")
        third = server.connect()
        assert third.until_closed() == b"-ERR max number of clients reached\r\n"
        first.send(req("PING"))
        first.expect(b"+PONG\r\n")
        second.close()
        wait_for(lambda: server.call(lambda: server.server.connections) == 1, "a free place")
        fourth = server.connect()
        fourth.send(req("PING"))
        fourth.expect(b"+PONG\r\n")
        for client in (first, third, fourth):
            client.close()


def test_a_client_that_never_reads_is_disconnected(serve: Any, wait_for: Any) -> None:
    with serve(output_bytes_max=256 * 1024) as server:
        server.backend.data[b"big"] = b"x" * 100_000
        lazy = server.connect()
        ok = server.connect()
        wait_for(lambda: server.call(lambda: server.server.connections) == 2, "2 clients")
        with contextlib.suppress(OSError):  # the server may hang up while we still send
            for _ in range(1000):
                lazy.send(req("GET", "big") * 10)
        wait_for(lambda: server.call(lambda: server.server.connections) == 1, "disconnect")
        lazy.until_closed()  # what was sent before the cut, then the end
        ok.send(req("PING"))
        ok.expect(b"+PONG\r\n")
        lazy.close()
        ok.close()


def test_a_flooding_client_does_not_starve_another(server: Any) -> None:
    flood = server.connect()
    flood.send(req("INCR", "n") * 20_000)
    other = server.connect()
    other.send(req("GET", "x"))
    other.expect(b"$-1\r\n")
    flood.expect(b"".join(b":%d\r\n" % i for i in range(1, 20_001)))
    calls = server.backend.calls
    # The GET was served while the flood was still being worked through.
    assert calls.index([b"GET", b"x"]) < len(calls) - 2_000
    flood.close()
    other.close()


def test_info_has_the_raft_and_keyspace_sections(server: Any, raw: Any) -> None:
    raw.send(req("SET", "k", "v") + req("INFO"))
    raw.expect(b"+OK\r\n")
    text = raw.bulk().decode()
    for line in ("# Raft", "role:leader", "term:3", "leader:n2", "commit_index:41",
                 "applied_index:40", "db0:keys=1,expires=0,avg_ttl=0", "connected_clients:1",
                 "redis_version:7.2.0"):  # fmt: skip
        assert line in text


def test_command_count_info_docs(raw: Any) -> None:
    raw.send(req("COMMAND", "COUNT") + req("COMMAND", "INFO", "get", "nope"))
    raw.expect(
        b":%d\r\n*2\r\n*10\r\n$3\r\nget"
        % len(COMMANDS)
        + b"\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n"
        b":1\r\n*3\r\n+@read\r\n+@fast\r\n+@string\r\n*0\r\n*0\r\n*0\r\n$-1\r\n"
    )
    raw.send(req("COMMAND", "DOCS", "get"))
    raw.expect(b"*2\r\n$3\r\nget\r\n*6\r\n$7\r\nsummary\r\n")


def test_a_handler_bug_answers_an_error_and_the_connection_lives_on(
    server: Any, raw: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setitem(frontdoor.HANDLERS, "echo", broken)
    raw.send(req("ECHO", "x") + req("PING"))
    raw.expect(b"-ERR internal error (see the server log)\r\n+PONG\r\n")


def test_command_alone_lists_every_command(raw: Any) -> None:
    raw.send(req("COMMAND"))
    raw.expect(b"*%d\r\n*10\r\n$4\r\nping\r\n" % len(COMMANDS))
