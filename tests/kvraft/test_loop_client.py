"""The kvraft Client over a Network read by an asyncio loop (the Redis front door's setup):
calls started together on the loop leave as one batch when `run_together` returns, and
their answers arrive on the loop thread. The test plays the router and the server."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from multiprocessing import Pipe

from sentinel.kvraft.client import Client
from sentinel.kvraft.keyspace import Bulk, Null
from sentinel.kvraft.protocol import BATCH_METHOD, OK, KVBatch, KVBatchReply, KVReply, flat_reply
from sentinel.kvraft.replycodec import encode_reply
from sentinel.kvraft.results import Result, ResultCode
from sentinel.netsim.client import Network
from sentinel.netsim.endpoint import Endpoint
from tests.netsim.test_call_async import ME, WAIT_S, Router


def test_run_together_on_the_loop_sends_one_batch_and_answers_on_the_loop() -> None:
    theirs, mine = Pipe(duplex=True)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        client = Client(Network(Endpoint(mine, ME), loop), [2])
        answers: list[tuple[object, int]] = []
        done = asyncio.Event()

        def answered(future: Future) -> None:
            answers.append((future.result(), threading.get_ident()))
            if len(answers) == 2:
                done.set()  # a loop Event: only the loop thread may set it

        def start() -> None:
            for key in (b"a", b"b"):
                client.redis_async([b"GET", key], WAIT_S).add_done_callback(answered)

        try:
            client.run_together(start)
            dst, request_id, call = await asyncio.to_thread(router.request)
            assert (dst, call.method) == (2, BATCH_METHOD)
            assert isinstance(call.args, KVBatch) and len(call.args.commands) == 2
            replies = [encode_reply(Bulk(b"1")), encode_reply(Null())]
            ok = [flat_reply(KVReply(OK, Result(ResultCode.OK, data))) for data in replies]
            router.reply(dst, request_id, KVBatchReply(tuple(ok)))
            await asyncio.wait_for(done.wait(), WAIT_S)
            here = threading.get_ident()
            assert [ident for _reply, ident in answers] == [here, here]
            assert sorted(map(repr, (reply for reply, _ident in answers))) == sorted(
                [repr(Bulk(b"1")), repr(Null())]
            )
        finally:
            await asyncio.to_thread(client.close)

    router = Router(theirs)
    try:
        asyncio.run(asyncio.wait_for(main(), 3 * WAIT_S))
    finally:
        theirs.close()
