"""Which application the nodes run: the key/value server (`--app` chooses another)."""

from __future__ import annotations

from sentinel.host.nodespec import DEFAULT_APP, KV_SERVER_APP, RECORDER_APP

__all__ = ["DEFAULT_APP", "KV_SERVER_APP", "RECORDER_APP", "default_app"]


def default_app() -> str:
    """The application nodes run unless `--app` says otherwise."""
    return DEFAULT_APP
