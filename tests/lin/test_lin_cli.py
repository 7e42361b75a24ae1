"""The command line, run as a real subprocess: verdict lines and exit codes 0/1/2/3."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sentinel.lin", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def kv_line(process: int, kind: str, f: str, value: str) -> str:
    return f'{{:process {process}, :type :{kind}, :f :{f}, :key "k", :value {value}}}\n'


OK_KV = (
    kv_line(0, "invoke", "put", '"a"')
    + kv_line(0, "ok", "put", '"a"')
    + kv_line(1, "invoke", "get", "nil")
    + kv_line(1, "ok", "get", '"a"')
)
BAD_KV = OK_KV + kv_line(2, "invoke", "get", "nil") + kv_line(2, "ok", "get", '"b"')
OK_JEPSEN = (
    "INFO  jepsen.util - 0\t:invoke\t:write\t3\n"
    "INFO  jepsen.util - 0\t:ok\t:write\t3\n"
    "INFO  jepsen.util - 1\t:invoke\t:cas\t[3 4]\n"
    "INFO  jepsen.util - 1\t:ok\t:cas\t[3 4]\n"
    "INFO  jepsen.util - 2\t:invoke\t:read\tnil\n"
    "INFO  jepsen.util - 2\t:ok\t:read\t4\n"
)
BAD_JEPSEN = OK_JEPSEN + (
    "INFO  jepsen.util - 3\t:invoke\t:read\tnil\nINFO  jepsen.util - 3\t:ok\t:read\t3\n"
)


def hard_kv(n: int = 40) -> str:
    """Overlapping appends then an impossible get: far too slow to settle."""
    text = "".join(kv_line(i, "invoke", "append", f'"<{i}>"') for i in range(n))
    text += "".join(kv_line(i, "ok", "append", f'"<{i}>"') for i in range(n))
    return text + kv_line(n, "invoke", "get", "nil") + kv_line(n, "ok", "get", '"nope"')


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    texts = {
        "ok.txt": OK_KV,
        "bad.txt": BAD_KV,
        "ok.log": OK_JEPSEN,
        "bad.log": BAD_JEPSEN,
        "hard.txt": hard_kv(),
        "broken.txt": OK_KV + "{:process 1, :type :ok, :f :get}\n",
        "broken.log": OK_JEPSEN + "INFO  jepsen.util - 5\t:invoke\t:write\tseven\n",
        "empty.txt": "nothing to see here\n",
    }
    for name, text in texts.items():
        (tmp_path / name).write_text(text)
    return {name: tmp_path / name for name in texts}


def test_all_ok_exits_0(files: dict[str, Path]) -> None:
    proc = run("check", str(files["ok.txt"]), str(files["ok.log"]))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2
    assert "\tok\t" in lines[0] and "model kv" in lines[0]
    assert "\tok\t" in lines[1] and "model etcd-register" in lines[1]


def test_any_illegal_exits_1(files: dict[str, Path]) -> None:
    proc = run("check", str(files["ok.txt"]), str(files["bad.log"]))
    assert proc.returncode == 1
    assert "illegal" in proc.stdout
    assert run("check", str(files["bad.txt"])).returncode == 1


def test_timeout_exits_2(files: dict[str, Path]) -> None:
    proc = run("check", str(files["hard.txt"]), "--timeout", "0.3")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "unknown" in proc.stdout


@pytest.mark.parametrize(("name", "line"), [("broken.txt", 5), ("broken.log", 7), ("empty.txt", 1)])
def test_unreadable_input_exits_3_naming_file_and_line(
    files: dict[str, Path], name: str, line: int
) -> None:
    proc = run("check", str(files[name]), str(files["ok.txt"]))
    assert proc.returncode == 3
    assert f"{files[name]}:{line}:" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "\tok\t" in proc.stdout  # the other file is still checked


def test_missing_file_and_wrong_model_exit_3(files: dict[str, Path], tmp_path: Path) -> None:
    proc = run("check", str(tmp_path / "nope.txt"))
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    proc = run("check", "--model", "etcd-register", str(files["ok.txt"]))
    assert proc.returncode == 3 and "--model kv" in proc.stderr


def test_unreadable_beats_illegal_beats_unknown(files: dict[str, Path]) -> None:
    hard, bad, broken = str(files["hard.txt"]), str(files["bad.txt"]), str(files["broken.txt"])
    assert run("check", "--timeout", "0.2", hard, bad).returncode == 1
    assert run("check", "--timeout", "0.2", hard, bad, broken).returncode == 3


def test_html_for_a_bad_history(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "pic.html"
    proc = run("check", str(files["bad.log"]), "--html", str(out))
    assert proc.returncode == 1
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>") and "breaks here" in text
    assert "read() -&gt; 3" in text


def test_bad_usage_is_argparse_error() -> None:
    proc = run("frobnicate")
    # 2 is reserved for "unknown", so usage errors exit 3 too.
    assert proc.returncode == 3 and "usage" in proc.stderr.lower()
