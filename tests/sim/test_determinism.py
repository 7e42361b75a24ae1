"""One seed = one run: same digest twice, in this process and from the command line."""

from __future__ import annotations

import subprocess
import sys

from sentinel.sim import SimOptions, run_seed

SHORT = SimOptions(nodes=5, sim_seconds=3.0)


def test_same_seed_gives_the_same_trace() -> None:
    for seed in (7, 123):
        print(f"seed {seed}")
        a = run_seed(seed, SHORT)
        b = run_seed(seed, SHORT)
        assert a.ok and b.ok
        assert a.digest == b.digest
        assert a.counts == b.counts
        assert a.trace.tail() == b.trace.tail()
        assert a.trace.events == b.trace.events


def test_different_seeds_give_different_runs() -> None:
    digests = {run_seed(seed, SHORT).digest for seed in range(4)}
    assert len(digests) == 4


def test_cli_replays_a_seed_with_the_same_digest() -> None:
    seed = 11
    expected = run_seed(seed, SHORT).digest
    out = subprocess.run(
        [sys.executable, "-m", "sentinel.sim", "--seed", str(seed), "--sim-seconds", "3"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"seed {seed}: ok digest={expected}" in out.stdout


def test_cli_verbose_prints_the_whole_trace() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sentinel.sim", "--seed", "5", "--sim-seconds", "1", "--verbose"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) > 300  # far more than the 200-event ring
    assert "role      node" in out.stdout and "deliver" in out.stdout


def test_cli_sweep_prints_a_summary() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sentinel.sim",
            "--seeds",
            "2",
            "--first-seed",
            "40",
            "--nodes",
            "3",
            "--sim-seconds",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "runs=2 violations=0" in out.stdout
    assert "sim-s/wall-s" in out.stdout
