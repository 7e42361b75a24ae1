"""Connecting to a cluster directory whose router is not there says so and names the socket."""

from __future__ import annotations

import socket

import pytest

from sentinel.netsim import protocol as p
from sentinel.netsim.client import connect


def test_a_stopped_cluster_is_named(tmp_path):
    p.create_authkey(tmp_path)
    with pytest.raises(FileNotFoundError) as info:
        connect(tmp_path)
    assert "is the cluster running?" in str(info.value)
    assert str(p.socket_path(tmp_path)) in str(info.value)


def test_a_dead_router_is_named(tmp_path):
    p.create_authkey(tmp_path)
    with socket.socket(socket.AF_UNIX) as stale:  # bound, never listening: a router that died
        stale.bind(str(p.socket_path(tmp_path)))
        with pytest.raises(ConnectionRefusedError) as info:
            connect(tmp_path)
    assert "is the cluster running?" in str(info.value)
    assert str(p.socket_path(tmp_path)) in str(info.value)
