"""Command line: `python -m sentinel.netsim demo`."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Parse the command and run it."""
    parser = argparse.ArgumentParser(prog="python -m sentinel.netsim")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="router + echo nodes under every fault preset")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from sentinel.netsim.demo import main as demo_main

        return demo_main()
    return 2


if __name__ == "__main__":
    sys.exit(main())
