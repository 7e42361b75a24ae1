"""`python -m sentinel.redis --dir DIR [--port P] [--bind ADDR] [--password PW]`: serve a
running cluster over the Redis protocol (RESP2/RESP3) until SIGINT or SIGTERM.

It reaches the nodes through the cluster's router as a client (see `service`); DIR may hold
a plain cluster (`up`) or a sharded store (`up --groups`: shards.json), whose commands it
routes by key (sharded_backend.py). Bound beyond
loopback it refuses to start without a password (exit status 2); a cluster it cannot reach
(no router in DIR) is exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from sentinel.redis.session import DEFAULT_PORT, Options, ProtectedModeError


def parser() -> argparse.ArgumentParser:
    """The command line."""
    ap = argparse.ArgumentParser(
        prog="python -m sentinel.redis",
        description="Serve a running Sentinel cluster to Redis clients (RESP2/RESP3).",
    )
    ap.add_argument(
        "--dir", required=True, help="the cluster's directory (as given to `up`; sharded or not)"
    )
    ap.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port (default %(default)s)")
    ap.add_argument(
        "--bind", default="127.0.0.1", help="address to listen on (default %(default)s)"
    )
    ap.add_argument("--password", default=None, help="require AUTH with this password")
    return ap


def main(argv: list[str] | None = None) -> int:
    """Serve until told to stop; the exit status (2: bad options, 1: could not serve)."""
    args = parser().parse_args(argv)
    options = Options(bind=args.bind, port=args.port, password=args.password)
    try:
        options.check()
    except (ProtectedModeError, ValueError) as exc:
        print(f"sentinel.redis: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s redis %(levelname)s %(message)s")
    try:
        asyncio.run(_run(Path(args.dir), options))
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"sentinel.redis: cannot serve {args.dir}: {exc}", file=sys.stderr)
        return 1
    return 0


async def _run(directory: Path, options: Options) -> None:
    """`serve` until SIGINT or SIGTERM."""
    from sentinel.redis.service import serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await serve(directory, options, stop)


if __name__ == "__main__":
    sys.exit(main())
