"""sentinel.cluster: the command line and the supervisor of a local cluster.

`python -m sentinel.cluster up -n 5` runs a `Supervisor` (router + node processes, a live
dashboard, a control socket); `status`, `kill`, `pause`, `resume`, `restart`, `partition`,
`heal`, `net`, `put`, `get`, `logs` and `down` act on it from another terminal.
"""

from sentinel.cluster.cli import main
from sentinel.cluster.ctlsock import ControlError, ControlServer, request
from sentinel.cluster.lock import DirectoryBusy, DirectoryLock, is_locked
from sentinel.cluster.settings import Identity, RunOptions, SettingsError
from sentinel.cluster.supervisor import ActionError, Supervisor
from sentinel.cluster.views import ViewBuilder, view_to_json

__all__ = [
    "ActionError",
    "ControlError",
    "ControlServer",
    "DirectoryBusy",
    "DirectoryLock",
    "Identity",
    "RunOptions",
    "SettingsError",
    "Supervisor",
    "ViewBuilder",
    "is_locked",
    "main",
    "request",
    "view_to_json",
]
