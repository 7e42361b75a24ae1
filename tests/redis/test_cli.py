"""`python -m sentinel.redis`: the options exist; protected mode refuses a public bind
without a password; a directory with no running cluster is refused with the reason."""

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


def test_without_a_running_cluster_it_says_so(tmp_path) -> None:
    done = cli("--dir", str(tmp_path / "none"))
    assert done.returncode == 1 and "cannot serve" in done.stderr and "authkey" in done.stderr
