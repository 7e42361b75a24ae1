"""Figures from the samples and rounds: unavailability, percentiles, the summary, the table
and the PNG timeline."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path

from crash.load import Sample

PLOT_HINT = 'the PNG timeline needs matplotlib: pip install -e ".[plot]"'
BUCKET_S = 0.1


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (nearest rank) of `values`; None when empty."""
    data = sorted(v for v in values if v is not None)
    if not data:
        return None
    rank = max(1, math.ceil(q / 100.0 * len(data)))
    return data[min(rank, len(data)) - 1]


def longest_gap_ms(samples: Sequence[Sample], t_from: float, t_to: float) -> float:
    """The longest time without a successful call between `t_from` (the fault) and `t_to`
    (the end of the round): what a client sees as unavailability."""
    return longest_gap(samples, t_from, t_to)[0]


def longest_gap(samples: Sequence[Sample], t_from: float, t_to: float) -> tuple[float, float]:
    """(the longest gap, when it began after `t_from`), both in ms."""
    times = sorted(s.t_end for s in samples if s.ok and t_from <= s.t_end <= t_to)
    points = [t_from, *times, t_to]
    gap, start = max((b - a, a) for a, b in itertools.pairwise(points))
    return round(gap * 1000.0, 1), round((start - t_from) * 1000.0, 1)


def latency_p99_ms(samples: Sequence[Sample], t_from: float, t_to: float) -> float | None:
    lat = [s.latency_s * 1000.0 for s in samples if s.ok and t_from <= s.t_end <= t_to]
    p = percentile(lat, 99)
    return round(p, 2) if p is not None else None


def _fig(values: list, q: float) -> float | None:
    p = percentile([v for v in values if v is not None], q)
    return round(p, 1) if p is not None else None


def summarize(rounds: list[dict]) -> dict[str, dict]:
    """scenario -> rounds, medians and p99s, lost writes, linearizable."""
    out: dict[str, dict] = {}
    for name in dict.fromkeys(r["scenario"] for r in rounds):
        rs = [r for r in rounds if r["scenario"] == name]

        def col(key: str, rs: list[dict] = rs) -> list:
            return [r.get(key) for r in rs]

        lin = [r.get("linearizable") for r in rs]
        out[name] = {
            "rounds": len(rs),
            "new_leader_ms_p50": _fig(col("new_leader_ms"), 50),
            "new_leader_ms_p99": _fig(col("new_leader_ms"), 99),
            "unavailable_ms_p50": _fig(col("unavailable_ms"), 50),
            "unavailable_ms_p99": _fig(col("unavailable_ms"), 99),
            "catchup_ms_p50": _fig(col("catchup_ms"), 50),
            "catchup_ms_p99": _fig(col("catchup_ms"), 99),
            "catchup_methods": sorted({m for m in col("catchup_method") if m}),
            "cold_restart_ms_p50": _fig(col("cold_restart_ms"), 50),
            "lost_writes": sum(r.get("lost_writes", 0) for r in rs),
            "linearizable": all(x is True for x in lin) if lin else None,
            "lin_unknown_rounds": sum(1 for x in lin if x == "unknown"),
        }
    return out


def table(summary: dict[str, dict], baseline: dict) -> object:
    """A rich Table of the summary."""
    from rich.table import Table

    t = Table(title="crash recovery: medians / p99 per scenario (ms)")
    for head in (
        "scenario",
        "rounds",
        "new leader",
        "unavailable",
        "catch-up",
        "cold start",
        "lost",
        "linearizable",
    ):
        t.add_column(head, justify="left" if head == "scenario" else "right")

    def pair(a: float | None, b: float | None) -> str:
        return "-" if a is None else f"{a:.0f} / {b:.0f}"

    for name, s in summary.items():
        methods = ",".join(s["catchup_methods"])
        t.add_row(
            name,
            str(s["rounds"]),
            pair(s["new_leader_ms_p50"], s["new_leader_ms_p99"]),
            pair(s["unavailable_ms_p50"], s["unavailable_ms_p99"]),
            pair(s["catchup_ms_p50"], s["catchup_ms_p99"]) + (f" {methods}" if methods else ""),
            "-" if s["cold_restart_ms_p50"] is None else f"{s['cold_restart_ms_p50']:.0f}",
            str(s["lost_writes"]),
            {True: "yes", False: "NO"}.get(s["linearizable"], "?")
            + (f" ({s['lin_unknown_rounds']} unknown)" if s["lin_unknown_rounds"] else ""),
        )
    t.caption = (
        f"no faults: {baseline.get('ops_per_s')} ops/s, latency p50 {baseline.get('p50_ms')} ms"
        f" p99 {baseline.get('p99_ms')} ms, longest gap {baseline.get('longest_gap_ms')} ms"
    )
    return t


def plot(samples: Sequence[Sample], rounds: list[dict], t_zero: float, path: Path) -> str:
    """Write the PNG timeline (throughput, latency, faults); a message saying where, or how
    to get it when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return PLOT_HINT
    if not samples:
        return "no samples to plot"
    end = max(s.t_end for s in samples) - t_zero
    n = int(end / BUCKET_S) + 1
    ok = [0] * n
    failed = [0] * n
    for s in samples:
        i = min(n - 1, max(0, int((s.t_end - t_zero) / BUCKET_S)))
        (ok if s.ok else failed)[i] += 1
    xs = [i * BUCKET_S for i in range(n)]
    fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=(14, 7))
    ax1.plot(xs, [c / BUCKET_S for c in ok], lw=0.8, label="successful ops/s")
    ax1.plot(xs, [c / BUCKET_S for c in failed], lw=0.8, color="red", label="failed ops/s")
    ax1.set_ylabel("ops/s")
    good = [s for s in samples if s.ok]
    ax2.scatter(
        [s.t_end - t_zero for s in good],
        [s.latency_s * 1000 for s in good],
        s=1,
        alpha=0.4,
        label="latency of successful ops",
    )
    ax2.set_yscale("log")
    ax2.set_ylabel("latency (ms)")
    ax2.set_xlabel("time (s)")
    for r in rounds:
        if "t_fault" not in r:
            continue
        a, b = r["t_fault"] - t_zero, r.get("t_restart", r["t_fault"]) - t_zero
        for ax in (ax1, ax2):
            ax.axvspan(a, max(b, a + 0.05), color="orange", alpha=0.25)
        ax1.annotate(
            r["scenario"],
            (a, 1.0),
            xycoords=("data", "axes fraction"),
            fontsize=7,
            rotation=90,
            va="top",
        )
    ax1.legend(loc="lower right", fontsize=8)
    ax1.set_title("client throughput and latency; faults shaded (fault -> restart/heal)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"timeline: {path}"


def targets(summary: dict[str, dict], baseline: dict) -> dict[str, dict]:
    """The issue's targets that this run measured: value, limit and whether it was met."""
    out: dict[str, dict] = {}

    def add(name: str, value: float | None, limit: float | None) -> None:
        if value is not None and limit is not None:
            out[name] = {"value": value, "limit": round(limit, 1), "met": value <= limit}

    leader = summary.get("kill-leader", {})
    add("kill-leader new_leader_ms_p50", leader.get("new_leader_ms_p50"), 350)
    add("kill-leader new_leader_ms_p99", leader.get("new_leader_ms_p99"), 800)
    p99 = baseline.get("p99_ms")
    follower = summary.get("kill-follower", {})
    add("kill-follower unavailable_ms_p99", follower.get("unavailable_ms_p99"),
        3 * p99 if p99 else None)  # fmt: skip
    add("lagging-follower catchup_ms_p99", summary.get("lagging-follower", {}).get(
        "catchup_ms_p99"), 2000)  # fmt: skip
    add("kill-all cold_restart_ms_p50", summary.get("kill-all", {}).get("cold_restart_ms_p50"),
        3000)  # fmt: skip
    for name, s in summary.items():
        out[f"{name} lost_writes"] = {"value": s["lost_writes"], "limit": 0,
                                      "met": s["lost_writes"] == 0}  # fmt: skip
    return out
