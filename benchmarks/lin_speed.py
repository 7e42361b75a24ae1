"""Time the linearizability checker on porcupine's kv histories (tests/data/lin-histories).

    python benchmarks/lin_speed.py [--json] [--repeat N]

Each file's
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
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sentinel.lin import CheckResult, check_operations, kv_model, read_history  # noqa: E402


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
    print(f"load average: {report['load_avg']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
