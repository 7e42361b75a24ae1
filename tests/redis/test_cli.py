"""`python -m sentinel.redis`: the options exist; protected mode refuses a public bind
without a password; with no backend built yet, it says so and starts nothing."""

from __future__ import annotations

import subprocess
import sys

DEADLINE_S = 60.0


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sentinel.redis", *args], capture_output=True,
                          text=True, timeout=DEADLINE_S)  # fmt: skip


def test_help_lists_the_options() -> None:
    done = cli("--help")
    assert done.returncode == 0
    for option in ("--dir", "--port", "--bind", "--password"):
        assert option in done.stdout


def test_a_public_bind_without_password_is_refused() -> None:
    done = cli("--dir", "x", "--bind", "0.0.0.0")
    assert done.returncode == 2 and "protected mode" in done.stderr


def test_without_a_backend_it_says_so() -> None:
    done = cli("--dir", "x")
    assert done.returncode == 1 and "no backend yet" in done.stderr
