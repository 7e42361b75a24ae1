"""Time the Redis keyspace's snapshot encode and decode (sentinel.kvraft.keyspace).

What a node pays at compaction (encode) and at restore (decode) for a keyspace of string keys,
a quarter of them with an expiry. Prints one line, or one JSON object with `--json`.
"""

from __future__ import annotations

import argparse
import json
import time

from sentinel.kvraft.keyspace import Keyspace

NOW_MS = 1_700_000_000_000


def measure(keys: int, repeat: int) -> dict[str, float]:
    """Best encode and decode times over `repeat` runs of a keyspace of `keys` keys."""
    ks = Keyspace()
    for i in range(keys):
        command = [b"SET", b"key:%08d" % i, b"value-%d" % i]
        if i % 4 == 0:
            command += [b"PX", b"60000"]
        ks.apply(command, NOW_MS)
    encode_s = decode_s = float("inf")
    data = b""
    for _ in range(repeat):
        start = time.perf_counter()
        data = ks.encode()
        encoded = time.perf_counter()
        restored = Keyspace.decode(data)
        decode_s = min(decode_s, time.perf_counter() - encoded)
        encode_s = min(encode_s, encoded - start)
        assert len(restored) == keys
    return {"keys": keys, "bytes": len(data), "encode_s": encode_s, "decode_s": decode_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best counts")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result = measure(args.keys, args.repeat)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['keys']:,} keys, {result['bytes']:,} bytes: "
              f"encode {result['encode_s']:.3f} s, decode {result['decode_s']:.3f} s")  # fmt: skip


if __name__ == "__main__":
    main()
