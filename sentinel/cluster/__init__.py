"""sentinel.cluster: the command line and the supervisor of a local cluster.

`python -m sentinel.cluster up -n 5` runs a `Supervisor` (router + node processes, a live
dashboard, a control socket); `status`, `kill`, `pause`, `resume`, `restart`, `partition`,
`heal`, `net`, `put`, `get`, `append`, `delete`, `cas`, `logs` and `down` act on it from
another terminal, and `load` keeps it busy with clients whose history it checks (`run_load`).

Names are imported on first use, so that the small commands do not pay for raft, netsim and
rich at start-up.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "main": "sentinel.cluster.cli",
    "ControlError": "sentinel.cluster.ctlsock",
    "ControlServer": "sentinel.cluster.ctlsock",
    "request": "sentinel.cluster.ctlsock",
    "LoadOptions": "sentinel.cluster.load",
    "run_load": "sentinel.cluster.load",
    "DirectoryBusy": "sentinel.cluster.lock",
    "DirectoryLock": "sentinel.cluster.lock",
    "is_locked": "sentinel.cluster.lock",
    "Identity": "sentinel.cluster.settings",
    "RunOptions": "sentinel.cluster.settings",
    "SettingsError": "sentinel.cluster.settings",
    "ActionError": "sentinel.cluster.supervisor",
    "Supervisor": "sentinel.cluster.supervisor",
    "ViewBuilder": "sentinel.cluster.views",
    "view_to_json": "sentinel.cluster.views",
    "handle_request": "sentinel.cluster.commands",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'sentinel.cluster' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
