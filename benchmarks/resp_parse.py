"""How fast does the Redis front door parse client requests: hiredis's C Reader or ours?

    python benchmarks/resp_parse.py [--json] [--requests N] [--bulks N] [--bulk-bytes B]

Two workloads, each one byte stream fed in 64 KiB pieces (what one socket read gives):
`small`: N pipelined `SET key:<i> value` multibulk requests; `large`: N `SET key:<i> <B bytes>`
requests. Parsers: `pure` = sentinel.redis.resp.RequestReader (inline commands, Redis's error
texts and the limits of sentinel.redis.limits included) taking all it can per call;
`pure_per_turn` = the same taking REQUESTS_PER_TURN_MAX per call, as the server does;
`hiredis` = hiredis.Reader (`feed`/`gets`), which parses any RESP but checks no limit and
knows no inline command.
Every figure is the median of REPEATS runs in this process: requests/s and MB/s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Iterator

from sentinel.redis import limits
from sentinel.redis.replies import encode  # an array of bulks is a multibulk request
from sentinel.redis.resp import RequestReader

REPEATS = 5
CHUNK_BYTES = 64 * 1024


def chunks(stream: bytes) -> Iterator[bytes]:
    """The stream in socket-read-sized pieces."""
    for start in range(0, len(stream), CHUNK_BYTES):
        yield stream[start : start + CHUNK_BYTES]


def run_pure(pieces: list[bytes], limit: int = 1 << 30) -> int:
    """Parse with RequestReader, taking at most `limit` requests a call; how many."""
    reader = RequestReader()
    count = 0
    for piece in pieces:
        reader.feed(piece)
        while batch := reader.requests(limit):
            count += len(batch)
    return count


def run_pure_per_turn(pieces: list[bytes]) -> int:
    """As the server calls it: REQUESTS_PER_TURN_MAX requests a call."""
    return run_pure(pieces, limits.REQUESTS_PER_TURN_MAX)


def run_hiredis(pieces: list[bytes]) -> int:
    """Parse with hiredis.Reader; the number of requests."""
    import hiredis

    reader = hiredis.Reader()
    count = 0
    for piece in pieces:
        reader.feed(piece)
        request = reader.gets()
        while request is not False:
            count += 1
            request = reader.gets()
    return count


def measure(parse: Callable[[list[bytes]], int], pieces: list[bytes], expect: int) -> dict:
    """Median requests/s and MB/s of `parse` over REPEATS runs."""
    size = sum(map(len, pieces))
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        assert parse(pieces) == expect
        times.append(time.perf_counter() - start)
    elapsed = statistics.median(times)
    return {"requests_per_s": round(expect / elapsed), "mb_per_s": round(size / elapsed / 1e6, 1)}


def main() -> None:
    """Measure both parsers on both workloads; print a table or one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--requests", type=int, default=100_000, help="small SETs")
    parser.add_argument("--bulks", type=int, default=1_000, help="large SETs")
    parser.add_argument("--bulk-bytes", type=int, default=256 * 1024, help="large value size")
    args = parser.parse_args()
    value = b"x" * args.bulk_bytes
    small = b"".join(encode([b"SET", b"key:%d" % i, b"value"]) for i in range(args.requests))
    large = b"".join(encode([b"SET", b"key:%d" % i, value]) for i in range(args.bulks))
    workloads = {"small": (list(chunks(small)), args.requests),
                 "large": (list(chunks(large)), args.bulks)}  # fmt: skip
    parsers: dict[str, Callable[[list[bytes]], int]] = {
        "pure": run_pure,
        "pure_per_turn": run_pure_per_turn,
    }
    try:
        import hiredis  # noqa: F401

        parsers["hiredis"] = run_hiredis
    except ImportError:
        pass
    result = {
        name: {parser: measure(parse, pieces, n) for parser, parse in parsers.items()}
        for name, (pieces, n) in workloads.items()
    }
    result["config"] = {"requests": args.requests, "bulks": args.bulks,
                        "bulk_bytes": args.bulk_bytes, "chunk_bytes": CHUNK_BYTES}  # fmt: skip
    if args.json:
        print(json.dumps(result))
        return
    for name in workloads:
        for parser, fig in result[name].items():
            print(
                f"{name:6} {parser:14} {fig['requests_per_s']:>12,} req/s {fig['mb_per_s']:>9} MB/s"
            )


if __name__ == "__main__":
    main()
