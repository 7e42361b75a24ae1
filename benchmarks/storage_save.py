"""CPU time of `Storage.save` on the hot path: Readys of 1 and of 32 entries, no snapshot.

    python benchmarks/storage_save.py [--json] [--base REF] [--rounds N] [--saves N]

The appends go nowhere (`SinkFileSystem`), so the figure is the save path's own work
(framing, CRC, encoding the entries, keeping what the stored log needs) without the disk's,
whose write and fsync are the same for any version. With `--base REF`, the
`sentinel/host/storage.py` of git ref REF (importing everything else from this tree) runs
too, interleaved with this tree's round by round in alternating order, so both see the
same load on a shared machine. Each
figure is microseconds of CPU per save (time.process_time): the median and the range over
the rounds (after one round of warm-up each); `ratio` is this tree's over the base's, round
by round (the pairs ran back to back), its median and range.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from sentinel.host import MemFileSystem, storage
from sentinel.raft import Entry, HardState, Ready

CLUSTER = "bench"
SIZES = (1, 32)
DATA_BYTES = 64


class SinkFileSystem(MemFileSystem):
    """A MemFileSystem whose log appends and syncs only count: MemFileSystem copies the
    whole file at every sync (to model what a crash keeps), which would be most of the
    time measured, and more the longer the run."""

    def __init__(self) -> None:
        super().__init__()
        self.appended_bytes = 0

    def append(self, name: str, data: bytes) -> None:
        """Count the bytes."""
        self.appended_bytes += len(data)

    def sync(self, name: str) -> None:
        """Count the fsync."""
        self.fsyncs += 1


def load_base(ref: str, directory: Path) -> ModuleType:
    """storage.py as it is at git ref `ref`, imported as a module of its own."""
    source = subprocess.run(
        ["git", "show", f"{ref}:sentinel/host/storage.py"], check=True, capture_output=True
    ).stdout
    path = directory / "storage_base.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("storage_base", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def readys(size: int, saves: int) -> list[Ready]:
    """`saves` Readys of `size` entries each, one after the other, as a leader makes them:
    new entries and a commit that moved (term and vote unchanged: no hard state write)."""
    out = []
    for k in range(saves):
        first = 1 + k * size
        entries = tuple(Entry(1, i, b"v" * DATA_BYTES) for i in range(first, first + size))
        out.append(Ready(HardState(1, 1, first - 1), entries, None, (), None, (), (), True))
    return out


def one_round(module: ModuleType, batches: list[Ready]) -> float:
    """Microseconds of CPU per save of `batches` into a new storage."""
    st = module.Storage.open_fs(SinkFileSystem(), CLUSTER, 1)
    st.save(Ready(HardState(1, 1, 0), (), None, (), None, (), (), True))  # term and vote
    save = st.save
    start = time.process_time()
    for rd in batches:
        save(rd)
    spent = time.process_time() - start
    st.close()
    return spent / len(batches) * 1e6


def measure(modules: dict[str, ModuleType], rounds: int, saves: int) -> dict[str, dict]:
    """Per version and Ready size: the median and range of CPU us per save over `rounds`."""
    batches = {size: readys(size, saves) for size in SIZES}
    got: dict[str, dict[int, list[float]]] = {name: {s: [] for s in SIZES} for name in modules}
    names = list(modules)
    for k in range(rounds + 1):
        for size in SIZES:
            for name in names if k % 2 == 0 else names[::-1]:
                spent_us = one_round(modules[name], batches[size])
                if k:  # round 0 warms up
                    got[name][size].append(spent_us)
    result: dict[str, dict] = {
        name: {f"entries_{size}": _spread(v) for size, v in by_size.items()}
        for name, by_size in got.items()
    }
    if len(names) == 2:
        this, base = (got[name] for name in names)
        result["ratio"] = {
            f"entries_{size}": _spread([a / b for a, b in zip(this[size], base[size], strict=True)])
            for size in SIZES
        }
    return result


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="git ref whose storage.py runs interleaved with this one")
    parser.add_argument("--rounds", type=int, default=8, help="rounds per version")
    parser.add_argument("--saves", type=int, default=2000, help="saves per round")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        modules = {"this tree": storage}
        if args.base:
            modules[args.base] = load_base(args.base, Path(tmp))
        result = measure(modules, args.rounds, args.saves)
    if args.json:
        print(json.dumps(result))
        return
    for name, by_size in result.items():
        for key, fig in by_size.items():
            unit = "" if name == "ratio" else " us CPU per save"
            print(f"{name:>12} {key:>10}: {fig['median']:7.2f}{unit} "
                  f"({fig['min']:.2f}-{fig['max']:.2f})")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
