"""Time the linearizability checker on porcupine's kv histories (tests/data/lin-histories)
and on generated Jepsen EDN histories.

    python benchmarks/lin_speed.py [--json] [--repeat N]

``cas_register_10k``: a linearizable cas-register history of 10,000 operations
from 10 processes (a simulation: each op takes effect at a random moment while
it is open; a cas that cannot apply completes ``:fail``), read from EDN and
checked (target: under 2 s).  ``edn_read``: reading a 100,000-map Jepsen EDN
history (target: 100,000 maps a second or more).  Each porcupine file's
time covers reading and checking it (partitioned per key), best of
``--repeat`` runs.  ``files``/``total_s`` are wall-clock seconds; ``cpu_s``
gives this process's CPU seconds for the same runs, which stay meaningful
when other work competes for the machine (see ``load_avg``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sentinel.lin import (  # noqa: E402
    CheckResult,
    check_operations,
    kv_model,
    make_model,
    parse_history,
    read_history,
)

CAS_OPS = 10_000
CAS_PROCESSES = 10
READ_MAPS = 100_000


def cas_register_history(ops: int, processes: int, seed: int = 1) -> str:
    """A linearizable cas-register history as Jepsen EDN, one map per line (initial 0)."""
    rng = random.Random(seed)
    state, lines = 0, []
    open_ops: dict[int, list] = {}  # process -> [f, value, applied result or None]
    started = 0
    while started < ops or open_ops:
        p = rng.randrange(processes)
        op = open_ops.get(p)
        if op is None:
            if started == ops:
                continue
            f = rng.choice(("read", "write", "cas"))
            value = None if f == "read" else rng.randrange(5)
            if f == "cas":
                value = (rng.randrange(5), rng.randrange(5))
            open_ops[p] = [f, value, None]
            started += 1
            lines.append(_op_map(p, "invoke", f, value, len(lines)))
        elif op[2] is None:  # its moment: it takes effect now
            f, value = op[0], op[1]
            if f == "read":
                op[2] = ("ok", state)
            elif f == "write":
                state, op[2] = value, ("ok", value)
            elif value[0] == state:
                state, op[2] = value[1], ("ok", value)
            else:
                op[2] = ("fail", value)
        else:
            kind, value = op[2]
            lines.append(_op_map(p, kind, op[0], value, len(lines)))
            del open_ops[p]
    return "\n".join(lines) + "\n"


def _op_map(p: int, kind: str, f: str, value: object, index: int) -> str:
    shown = (
        "nil"
        if value is None
        else f"[{value[0]} {value[1]}]"
        if isinstance(value, tuple)
        else value
    )
    stamps = f":time {index * 1000}, :index {index}"
    return f"{{:process {p}, :type :{kind}, :f :{f}, :value {shown}, {stamps}}}"


def jepsen_figures(repeat: int) -> dict[str, float]:
    """Best-of-``repeat`` wall and CPU seconds for the generated Jepsen histories."""
    cas_text = cas_register_history(CAS_OPS, CAS_PROCESSES)
    reader_text = cas_register_history(READ_MAPS // 2, CAS_PROCESSES, seed=2)
    maps = reader_text.count("\n")
    out: dict[str, float] = {}
    best = best_cpu = best_read = best_read_cpu = float("inf")
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        loaded = parse_history(cas_text, model_name="cas-register")
        result = check_operations(make_model("cas-register", 0), loaded.operations)
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
        if result is not CheckResult.OK:
            raise SystemExit(f"cas_register_10k: got {result.value}, expected ok")
        start, start_cpu = time.perf_counter(), time.process_time()
        parse_history(reader_text, model_name="cas-register")
        best_read = min(best_read, time.perf_counter() - start)
        best_read_cpu = min(best_read_cpu, time.process_time() - start_cpu)
    out["cas_register_10k_s"] = round(best, 4)
    out["cas_register_10k_cpu_s"] = round(best_cpu, 4)
    out["edn_read_maps"] = maps
    out["edn_read_maps_per_s"] = round(maps / best_read)
    out["edn_read_maps_per_cpu_s"] = round(maps / best_read_cpu)
    return out


def histories_dir() -> Path:
    """Where the porcupine histories live (copied into the repository, licence alongside)."""
    return REPO / "tests" / "data" / "lin-histories"


def run(repeat: int) -> dict[str, object]:
    """Check every history listed in expected.csv; returns the report."""
    root = histories_dir()
    with open(root / "expected.csv", newline="") as fh:
        expected = {row["file"]: row["linearizable"] == "true" for row in csv.DictReader(fh)}
    files: dict[str, float] = {}
    cpu: dict[str, float] = {}
    verdicts: dict[str, str] = {}
    for rel, linearizable in expected.items():
        best = best_cpu = float("inf")
        for _ in range(repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            result = check_operations(kv_model, read_history(root / rel))
            best = min(best, time.perf_counter() - start)
            best_cpu = min(best_cpu, time.process_time() - start_cpu)
        want = CheckResult.OK if linearizable else CheckResult.ILLEGAL
        if result is not want:
            raise SystemExit(f"{rel}: got {result.value}, expected {want.value}")
        name = Path(rel).name
        files[name] = round(best, 4)
        cpu[name] = round(best_cpu, 4)
        verdicts[name] = result.value
    return {
        "files": files,
        "total_s": round(sum(files.values()), 4),
        "cpu_s": cpu,
        "cpu_total_s": round(sum(cpu.values()), 4),
        "verdicts": verdicts,
        "jepsen": jepsen_figures(repeat),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeat", type=int, default=1, help="runs per file; the best counts")
    args = parser.parse_args()
    report = run(max(1, args.repeat))
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{'file':<16}{'verdict':<10}{'wall s':>9}{'cpu s':>9}")
    for name, seconds in report["files"].items():  # type: ignore[union-attr]
        verdict = report["verdicts"][name]  # type: ignore[index]
        print(f"{name:<16}{verdict:<10}{seconds:>9.3f}{report['cpu_s'][name]:>9.3f}")  # type: ignore[index]
    print(f"{'total':<26}{report['total_s']:>9.3f}{report['cpu_total_s']:>9.3f}")
    jepsen: dict[str, float] = report["jepsen"]  # type: ignore[assignment]
    print(
        f"cas-register, {CAS_OPS:,} ops from {CAS_PROCESSES} processes (EDN, read and checked): "
        f"{jepsen['cas_register_10k_s']:.3f} s wall, {jepsen['cas_register_10k_cpu_s']:.3f} s cpu"
    )
    print(
        f"EDN reader, {jepsen['edn_read_maps']:,} op maps: "
        f"{jepsen['edn_read_maps_per_s']:,} maps/s wall, "
        f"{jepsen['edn_read_maps_per_cpu_s']:,} maps/s cpu"
    )
    print(f"load average: {report['load_avg']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
