"""Which application the nodes run: the key/value server (`--app` chooses another)."""

from __future__ import annotations

RECORDER_APP = "sentinel.host.recorder:Recorder"
KV_SERVER_APP = "sentinel.kvraft.server:KVServerApp"
DEFAULT_APP = KV_SERVER_APP


def default_app() -> str:
    """The application nodes run unless `--app` says otherwise."""
    return DEFAULT_APP
