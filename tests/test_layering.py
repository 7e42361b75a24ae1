"""The layers of docs/design.md ("1. Layers"): each package imports only the sentinel packages
below it, and the packages that must run anywhere import nothing outside the standard library
but what the table allows. Imports inside functions count too."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import sentinel

PACKAGES = Path(sentinel.__file__).parent

#: package -> the sentinel packages it may import (docs/design.md, the layers table).
MAY_IMPORT: dict[str, set[str]] = {
    "wire": set(),
    "netsim": {"wire"},
    "lin": set(),
    "raft": {"wire", "netsim"},
    "host": {"wire", "netsim", "raft"},
    "kvraft": {"wire", "netsim", "raft"},
    "shard": {"wire", "netsim", "raft", "kvraft"},
    "sim": {"wire", "netsim", "raft", "host", "kvraft", "lin", "shard"},
    "dashboard": set(),
    "redis": {"wire", "netsim", "raft", "host", "kvraft", "shard"},
    "cluster": {
        "wire",
        "netsim",
        "lin",
        "raft",
        "host",
        "kvraft",
        "shard",
        "dashboard",
        "redis",
    },
}
#: package -> third-party top-level modules it may import (anything else: stdlib only).
THIRD_PARTY: dict[str, set[str]] = {
    "netsim": {"rich", "psutil"},  # the demo's table, the test helpers' process checks
    "dashboard": {"rich", "psutil"},
    "cluster": {"psutil"},
    "kvraft": {"sortedcontainers"},  # sorted sets' ordered index
}


def imported_modules(path: Path) -> set[str]:
    """Every absolute module name `path` imports, at any depth."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import (the code uses absolute ones)"
            assert node.module is not None
            names.add(node.module)
    return names


def test_every_package_is_in_the_table() -> None:
    found = {p.name for p in PACKAGES.iterdir() if (p / "__init__.py").exists()}
    assert found == set(MAY_IMPORT), "a package was added or removed: update docs/design.md"


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_a_package_imports_only_what_its_layer_allows(package: str) -> None:
    files = sorted((PACKAGES / package).rglob("*.py"))
    assert files
    allowed = MAY_IMPORT[package] | {package}
    third_party = THIRD_PARTY.get(package, set())
    for path in files:
        for name in imported_modules(path):
            parts = name.split(".")
            if parts[0] == "sentinel":
                # `import sentinel` is for `sentinel.connect`, which is kvraft's client.
                layer = parts[1] if len(parts) > 1 else "kvraft"
                assert layer in allowed, f"{package}/{path.name} imports {name}"
            else:
                ok = parts[0] in sys.stdlib_module_names or parts[0] in third_party
                assert ok or parts[0] == "__future__", f"{package}/{path.name} imports {name}"
