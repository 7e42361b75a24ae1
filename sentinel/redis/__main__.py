"""`python -m sentinel.redis`: serve a running cluster over the Redis protocol (skeleton).

The options are final; the backend that reaches the cluster through the router is not in
this package yet, so the command checks its options and then stops with a clear message
instead of serving.
"""

from __future__ import annotations

import argparse
import sys

from sentinel.redis.session import DEFAULT_PORT, Options, ProtectedModeError


def parser() -> argparse.ArgumentParser:
    """The command line."""
    ap = argparse.ArgumentParser(
        prog="python -m sentinel.redis",
        description="Serve a running Sentinel cluster to Redis clients (RESP2/RESP3).",
    )
    ap.add_argument("--dir", required=True, help="the cluster's directory (as given to `up`)")
    ap.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port (default %(default)s)")
    ap.add_argument(
        "--bind", default="127.0.0.1", help="address to listen on (default %(default)s)"
    )
    ap.add_argument("--password", default=None, help="require AUTH with this password")
    return ap


def main(argv: list[str] | None = None) -> int:
    """Check the options; exit 2 on bad ones, 1 because no backend exists yet."""
    args = parser().parse_args(argv)
    try:
        Options(bind=args.bind, port=args.port, password=args.password).check()
    except ProtectedModeError as exc:
        print(f"sentinel.redis: {exc}", file=sys.stderr)
        return 2
    print("sentinel.redis: no backend yet: serving a cluster needs the router client backend,"
          " which is not built; nothing was started", file=sys.stderr)  # fmt: skip
    return 1


if __name__ == "__main__":
    sys.exit(main())
