"""After a round: acknowledged writes and linearizability; on a violation, the evidence."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from crash.cluster import BenchCluster
from crash.load import RoundLoad, verify_writes
from sentinel.lin import (
    CheckResult,
    check_operations,
    check_operations_verbose,
    kv_model,
    visualize,
)

log = logging.getLogger(__name__)


def check_round(
    cluster: BenchCluster, rnd: RoundLoad, clients: int, lin_timeout_s: float, m: dict, out: Path
) -> str | None:
    """Fill `m` with the checks of the round; a description of the violation, or None."""
    assert cluster.client is not None
    check = verify_writes(cluster.client, rnd, clients)
    m.update(
        acked_writes=check.acked,
        unknown_writes=check.unknown,
        lost_writes=check.lost,
        duplicated_writes=check.duplicated,
        reordered_writes=check.reordered,
    )
    history = rnd.recorder.history()
    m["ops"] = len(history)
    verdict = check_operations(kv_model, history, timeout_s=lin_timeout_s)
    m["linearizable"] = {CheckResult.OK: True, CheckResult.ILLEGAL: False}.get(verdict, "unknown")
    problems = []
    if check.lost or check.duplicated or check.reordered:
        problems.append(
            f"writes lost {check.lost} (e.g. {list(check.lost_examples)}), "
            f"duplicated {check.duplicated}, reordered {check.reordered}"
        )
    if verdict is CheckResult.ILLEGAL:
        problems.append("history not linearizable")
    if not problems:
        return None
    stem = out / f"round-{rnd.round_id}-{m.get('scenario', 'round')}"
    rnd.recorder.write(str(stem) + ".history.txt")
    if verdict is CheckResult.ILLEGAL:
        _result, info = check_operations_verbose(kv_model, history, timeout_s=lin_timeout_s)
        visualize(info, str(stem) + ".html", title=f"round {rnd.round_id}: {m.get('scenario')}")
    m["evidence"] = str(stem)
    return f"round {rnd.round_id} ({m.get('scenario')}): " + "; ".join(problems)


def keep_evidence(out: Path, cluster_dir: Path) -> None:
    """Copy the node logs and the supervisor's logs next to the results."""
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    for path in sorted(cluster_dir.glob("node-*/node.log*")):
        shutil.copy2(path, logs / f"{path.parent.name}-{path.name}")
    for name in ("stderr.log", "supervisor.log"):
        if (cluster_dir / name).exists():
            shutil.copy2(cluster_dir / name, logs / name)
