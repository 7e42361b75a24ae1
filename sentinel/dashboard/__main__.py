"""`python -m sentinel.dashboard --sample`: print the sample dashboard once.

`--demo` runs the live dashboard on a toy cluster with no processes, to try the keys.
"""

from __future__ import annotations

import argparse
import sys
import threading

from rich.console import Console

from sentinel.dashboard.demo import DemoCluster, sample_view
from sentinel.dashboard.live import run_dashboard
from sentinel.dashboard.render import plain_event_line, plain_status_line, render


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and print the sample frame (or its plain-mode lines)."""
    parser = argparse.ArgumentParser(prog="python -m sentinel.dashboard", description=__doc__)
    parser.add_argument("--sample", action="store_true", help="print a sample dashboard frame")
    parser.add_argument("--demo", action="store_true", help="live dashboard on a toy cluster")
    parser.add_argument("-n", "--nodes", type=int, default=5, help="nodes in the sample (1-15)")
    parser.add_argument("--width", type=int, default=None, help="columns (default: terminal)")
    parser.add_argument("--plain", action="store_true", help="print plain-mode lines instead")
    parser.add_argument("--no-color", action="store_true", help="no colours")
    args = parser.parse_args(argv)
    if not 1 <= args.nodes <= 15:
        parser.error("--nodes must be between 1 and 15")
    if args.demo:
        demo = DemoCluster(args.nodes)
        try:
            reason = run_dashboard(demo.view, demo.act, stop=threading.Event(), plain=args.plain)
        except KeyboardInterrupt:
            reason = "interrupted"
        print(f"dashboard ended: {reason}")
        return 0
    if not args.sample:
        parser.print_help()
        return 2
    view = sample_view(args.nodes)
    if args.plain:
        for event in view.events:
            print(plain_event_line(event))
        print(plain_status_line(view))
        return 0
    console = Console(width=args.width, no_color=args.no_color, highlight=False)
    console.print(render(view, width=console.width, notice="sample frame: keys do nothing here"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
