"""``python -m sentinel.lin check FILE...``: check history files from the shell.

Exit status: 3 if any file could not be read, else 1 if any history is not
linearizable, else 2 if any check timed out, else 0.  Usage errors also exit
with 3, so that 2 always means "unknown".
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from typing import NoReturn

from sentinel.lin.checker import CheckResult, check_operations, check_operations_verbose
from sentinel.lin.edn import read_edn
from sentinel.lin.formats import FORMATS, MODEL_NAMES, load_history, make_model
from sentinel.lin.history import HistoryError
from sentinel.lin.visualize import visualize

EXIT_OK, EXIT_ILLEGAL, EXIT_UNKNOWN, EXIT_UNREADABLE = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_UNREADABLE, f"{self.prog}: error: {message}\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m sentinel.lin", description="Linearizability checker for Sentinel."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser(
        "check", help="check history files (Jepsen EDN, porcupine kv lines, jepsen.util logs)"
    )
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument(
        "--model",
        choices=MODEL_NAMES,
        help="model to check against (default: from the format, or the operations in the file)",
    )
    check.add_argument(
        "--format", choices=FORMATS, help="read the files in this format (default: from content)"
    )
    check.add_argument(
        "--initial",
        metavar="EDN",
        help="initial value of a Knossos register (e.g. 0, or {:x 0 :y 0}); default nil",
    )
    check.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="give up on a file after S seconds (verdict: unknown)",
    )
    check.add_argument(
        "--html", metavar="OUT.html", help="write a picture of each non-linearizable history"
    )
    return parser


def _html_path(base: str, source: str, many: bool) -> str:
    if not many:
        return base
    root, ext = os.path.splitext(base)
    stem = os.path.splitext(os.path.basename(source))[0]
    return f"{root}.{stem}{ext or '.html'}"


def _check_file(path: str, args: argparse.Namespace, many: bool) -> int:
    try:
        loaded = load_history(path, args.format, args.model)
        model_name = loaded.model_name
        model = make_model(model_name, args.initial)
    except (HistoryError, ValueError) as exc:
        print(f"{path}: unreadable: {exc}", file=sys.stderr)
        print(f"{path}\terror\t-")
        return EXIT_UNREADABLE
    start = time.perf_counter()
    if args.html:
        result, info = check_operations_verbose(model, loaded.operations, args.timeout)
    else:
        result, info = check_operations(model, loaded.operations, args.timeout), None
    elapsed = time.perf_counter() - start
    print(
        f"{path}\t{result.value}\t{elapsed:.3f}s\t({len(loaded.operations)} ops, "
        f"model {model_name})"
    )
    if info is not None and result is CheckResult.ILLEGAL:
        out = _html_path(args.html, path, many)
        try:
            visualize(info, out, title=os.path.basename(path))
        except OSError as exc:
            print(f"{path}: cannot write picture {out}: {exc}", file=sys.stderr)
            return EXIT_UNREADABLE
        print(f"{path}: picture written to {out}", file=sys.stderr)
    return {
        CheckResult.OK: EXIT_OK,
        CheckResult.ILLEGAL: EXIT_ILLEGAL,
        CheckResult.UNKNOWN: EXIT_UNKNOWN,
    }[result]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _build_parser().parse_args(argv)
    if args.timeout is not None and args.timeout < 0:
        print("--timeout must not be negative", file=sys.stderr)
        return EXIT_UNREADABLE
    if args.initial is not None:
        try:
            (args.initial,) = read_edn(args.initial, "--initial").forms
        except (HistoryError, ValueError):
            print(f"--initial must be one EDN value, not {args.initial!r}", file=sys.stderr)
            return EXIT_UNREADABLE
    codes = {_check_file(path, args, len(args.files) > 1) for path in args.files}
    for code in (EXIT_UNREADABLE, EXIT_ILLEGAL, EXIT_UNKNOWN):
        if code in codes:
            return code
    return EXIT_OK
