"""Shared helpers for the simulator tests."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(autouse=True)
def _quiet_recovery_warnings(caplog: pytest.LogCaptureFixture) -> None:
    # Torn tails cut at recovery are expected in crash-heavy runs; keep reports readable.
    caplog.set_level(logging.ERROR, logger="sentinel.host.storage")
