"""`sentinel.connect` is the public face of the client: every option the client's own `connect`
takes must reach it, none silently dropped."""

import inspect

import sentinel
from sentinel.kvraft import client, connect


def test_sentinel_connect_passes_every_client_option_through(monkeypatch) -> None:
    seen: dict[str, object] = {}

    def fake_connect(cluster_dir, **options):
        seen.update(options, cluster_dir=cluster_dir)
        return "client"

    # The real signature, read before the patch, names what must pass through.
    names = [p for p in inspect.signature(connect.connect).parameters if p != "cluster_dir"]
    monkeypatch.setattr(connect, "connect", fake_connect)
    assert set(names) >= {"servers", "clerks_max", "queue_max", "coalesce", "silence_s"}
    options = {"servers": [1, 2], "clerks_max": 3, "queue_max": 7, "coalesce": False,
               "rpc_timeout_s": 2.0, "silence_s": 0.2}  # fmt: skip
    assert sentinel.connect("/tmp/x", **options) == "client"
    assert seen == {**options, "cluster_dir": "/tmp/x"}


def test_the_client_takes_every_option_connect_takes() -> None:
    """`connect` builds a Client: its options are the client's, bar the network ones (the
    cluster and the loop that reads the router connection are the network's) and
    `follow_members` (the follower connect starts beside the client, follow.py)."""
    made = set(inspect.signature(client.Client).parameters) - {"network", "owns_network"}
    own = {"cluster_dir", "loop", "follow_members"}
    assert made == set(inspect.signature(connect.connect).parameters) - own
