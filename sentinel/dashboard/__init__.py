"""sentinel.dashboard: the cluster's live status, drawn with rich.

The supervisor fills `ClusterView` snapshots (its own record types: this package imports no
other sentinel package); `derive_events` turns two successive snapshots into `Event`s for an
`EventLog`; `ProcessSampler` reads CPU % and RSS with psutil; `render` draws one frame;
`run_live` / `run_plain` (or `run_dashboard`, which picks) show frames until stopped and hand
key presses back as `Action`s.
"""

from sentinel.dashboard.events import derive_events, describe_partition, partition_groups
from sentinel.dashboard.formatting import (
    format_bytes,
    format_count,
    format_duration,
    format_percent,
    format_rate,
)
from sentinel.dashboard.keys import (
    KEYMAP,
    Action,
    ActionName,
    KeyBinding,
    KeyParser,
    KeyResult,
    parse_keys,
)
from sentinel.dashboard.live import run_dashboard, run_live, run_plain
from sentinel.dashboard.procstats import ProcessSample, ProcessSampler
from sentinel.dashboard.records import (
    ClusterView,
    Event,
    EventKind,
    EventLog,
    NodeView,
    ProcessState,
    RedisTotals,
    Role,
    RouterTotals,
)
from sentinel.dashboard.render import (
    plain_event_line,
    plain_status_line,
    render,
)
from sentinel.dashboard.terminal import KeySource, NoKeys, SignalGuard, StdinKeys

__all__ = [
    "KEYMAP",
    "Action",
    "ActionName",
    "ClusterView",
    "Event",
    "EventKind",
    "EventLog",
    "KeyBinding",
    "KeyParser",
    "KeyResult",
    "KeySource",
    "NoKeys",
    "NodeView",
    "ProcessSample",
    "ProcessSampler",
    "ProcessState",
    "RedisTotals",
    "Role",
    "RouterTotals",
    "SignalGuard",
    "StdinKeys",
    "derive_events",
    "describe_partition",
    "format_bytes",
    "format_count",
    "format_duration",
    "format_percent",
    "format_rate",
    "parse_keys",
    "partition_groups",
    "plain_event_line",
    "plain_status_line",
    "render",
    "run_dashboard",
    "run_live",
    "run_plain",
]
