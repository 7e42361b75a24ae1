"""Supervisor's start method: spawn by default, forkserver on request, nothing else."""

from __future__ import annotations

import pytest

from sentinel.cluster import Supervisor
from sentinel.cluster.settings import RunOptions, create_identity


def test_start_method_defaults_to_spawn_and_takes_forkserver(tmp_path):
    identity = create_identity(tmp_path, 3)
    assert Supervisor(tmp_path, identity, RunOptions()).group.context.get_start_method() == (
        "spawn"
    )
    sup = Supervisor(tmp_path, identity, RunOptions(), start_method="forkserver")
    assert sup.group.context.get_start_method() == "forkserver"


def test_an_unknown_start_method_is_refused(tmp_path):
    identity = create_identity(tmp_path, 3)
    with pytest.raises(ValueError, match="spawn or forkserver"):
        Supervisor(tmp_path, identity, RunOptions(), start_method="fork")
