"""sentinel.dashboard imports only rich, psutil, the standard library and itself."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import sentinel.dashboard

ALLOWED_THIRD_PARTY = {"rich", "psutil"}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_dashboard_imports_nothing_else_from_sentinel() -> None:
    package = Path(sentinel.dashboard.__file__).parent
    files = sorted(package.glob("*.py"))
    assert len(files) >= 8
    for path in files:
        for name in imported_modules(path):
            top = name.split(".")[0]
            if top == "sentinel":
                assert name.startswith("sentinel.dashboard"), f"{path.name} imports {name}"
            else:
                allowed = top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY
                assert allowed or top == "__future__", f"{path.name} imports {name}"
