"""`sentinel.connect` is the public face of the client: every option the client's own `connect`
takes must reach it, none silently dropped."""

import inspect

import sentinel
from sentinel.kvraft import client


def test_sentinel_connect_passes_every_client_option_through(monkeypatch) -> None:
    seen: dict[str, object] = {}

    def fake_connect(cluster_dir, **options):
        seen.update(options, cluster_dir=cluster_dir)
        return "client"

    # The real signature, read before the patch, names what must pass through.
    names = [p for p in inspect.signature(client.connect).parameters if p != "cluster_dir"]
    monkeypatch.setattr(client, "connect", fake_connect)
    assert set(names) >= {"servers", "clerks_max", "queue_max", "coalesce"}
    options = {"servers": [1, 2], "clerks_max": 3, "queue_max": 7, "coalesce": False}
    assert sentinel.connect("/tmp/x", **options) == "client"
    assert seen == {**options, "cluster_dir": "/tmp/x"}
