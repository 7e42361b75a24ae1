"""Shared fixtures for the sentinel.lin tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def shared_histories() -> Path:
    """The shared lin-histories directory ($SENTINEL_SHARED or <repo>/../shared)."""
    base = os.environ.get("SENTINEL_SHARED")
    return (Path(base) if base else REPO.parent / "shared") / "lin-histories"


@pytest.fixture
def histories_dir() -> Path:
    path = shared_histories()
    if not (path / "expected.csv").exists():
        pytest.skip(f"shared histories not found at {path}")
    return path
