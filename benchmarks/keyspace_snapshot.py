"""Time the Redis keyspace's snapshot encode and decode (sentinel.kvraft.keyspace).

What a node pays at compaction (encode) and at restore (decode) for a keyspace of string keys,
a quarter of them with an expiry, and for a mixed keyspace of as many keys: a fifth each of
strings, lists, sets, sorted sets and hashes, the collections of `--elements` elements each.
Prints one line per case, or one JSON object with `--json`. The target of a restore is the
crash benchmark's cold restart of 100,000 keys, 3,000 ms (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import time

from sentinel.kvraft.keyspace import Keyspace

NOW_MS = 1_700_000_000_000


COLD_RESTART_TARGET_S = 3.0


def _string_command(i: int, elements: int) -> list[bytes]:
    command = [b"SET", b"key:%08d" % i, b"value-%d" % i]
    return [*command, b"PX", b"60000"] if i % 4 == 0 else command


def _mixed_command(i: int, elements: int) -> list[bytes]:
    key, kind = b"key:%08d" % i, i % 5
    if kind == 0:
        return _string_command(i, elements)
    if kind == 1:
        return [b"RPUSH", key, *(b"item-%d-%d" % (i, n) for n in range(elements))]
    if kind == 2:
        return [b"SADD", key, *(b"member-%d" % n for n in range(elements))]
    pairs = [(b"%d.5" % n, b"member-%d" % n) for n in range(elements)]
    if kind == 3:
        return [b"ZADD", key, *(word for pair in pairs for word in pair)]
    return [b"HSET", key, *(word for pair in pairs for word in reversed(pair))]


CASES = {"strings": _string_command, "mixed": _mixed_command}


def measure(keys: int, repeat: int, case: str = "strings", elements: int = 10) -> dict[str, float]:
    """Best encode and decode times over `repeat` runs of a keyspace of `keys` keys."""
    ks = Keyspace()
    build = CASES[case]
    for i in range(keys):
        ks.apply(build(i, elements), NOW_MS)
    encode_s = decode_s = decode_cpu_s = float("inf")
    data = b""
    for _ in range(repeat):
        start = time.perf_counter()
        data = ks.encode()
        encoded, cpu = time.perf_counter(), time.process_time()
        restored = Keyspace.decode(data)
        decode_cpu_s = min(decode_cpu_s, time.process_time() - cpu)
        decode_s = min(decode_s, time.perf_counter() - encoded)
        encode_s = min(encode_s, encoded - start)
        assert len(restored) == keys
    return {"case": case, "keys": keys, "bytes": len(data), "encode_s": encode_s,
            "decode_s": decode_s, "decode_cpu_s": decode_cpu_s,
            "restore_target_s": COLD_RESTART_TARGET_S}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best counts")
    parser.add_argument("--elements", type=int, default=10, help="per list / sorted set")
    parser.add_argument("--case", choices=[*CASES, "all"], default="all")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    cases = list(CASES) if args.case == "all" else [args.case]
    results = [measure(args.keys, args.repeat, case, args.elements) for case in cases]
    if args.json:
        print(json.dumps(results if len(results) > 1 else results[0]))
        return
    for result in results:
        met = "met" if result["decode_s"] <= COLD_RESTART_TARGET_S else "MISSED"
        print(f"{result['case']}: {result['keys']:,} keys, {result['bytes']:,} bytes: "
              f"encode {result['encode_s']:.3f} s, decode {result['decode_s']:.3f} s "
              f"({result['decode_cpu_s']:.3f} s CPU) "
              f"(cold-restart target {COLD_RESTART_TARGET_S:.0f} s: {met})")  # fmt: skip


if __name__ == "__main__":
    main()
