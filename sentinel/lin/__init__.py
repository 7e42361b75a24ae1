"""Linearizability checking for Sentinel (the job porcupine does for Go).

Typical use::

    from sentinel.lin import kv_model, read_history, check_operations
    result = check_operations(kv_model, read_history("history.txt"), timeout_s=10)
"""

from sentinel.lin.checker import (
    CheckResult,
    LinearizationInfo,
    PartitionInfo,
    check_events,
    check_events_verbose,
    check_operations,
    check_operations_verbose,
)
from sentinel.lin.edn import Keyword, edn_str, read_edn
from sentinel.lin.ednformat import read_jepsen_edn
from sentinel.lin.formats import (
    FORMATS,
    MODEL_NAMES,
    LoadedHistory,
    detect_format,
    load_history,
    make_model,
    parse_history,
    read_history,
)
from sentinel.lin.history import (
    PENDING,
    UNKNOWN,
    Event,
    EventKind,
    HistoryError,
    Operation,
    events_from_operations,
    operations_from_events,
)
from sentinel.lin.jepsenformat import read_jepsen_history
from sentinel.lin.knossos import KNOSSOS_MODELS, JepsenInput
from sentinel.lin.kvformat import KvRecord, read_kv_history, write_kv_history
from sentinel.lin.model import Model
from sentinel.lin.models import (
    MODELS,
    KvInput,
    KvModel,
    RegisterInput,
    RegisterModel,
    kv_model,
    register_model,
)
from sentinel.lin.recorder import HistoryRecorder
from sentinel.lin.visualize import render_html, visualize

__all__ = [
    "FORMATS",
    "KNOSSOS_MODELS",
    "MODELS",
    "MODEL_NAMES",
    "PENDING",
    "UNKNOWN",
    "CheckResult",
    "Event",
    "EventKind",
    "HistoryError",
    "HistoryRecorder",
    "JepsenInput",
    "Keyword",
    "KvInput",
    "KvModel",
    "KvRecord",
    "LinearizationInfo",
    "LoadedHistory",
    "Model",
    "Operation",
    "PartitionInfo",
    "RegisterInput",
    "RegisterModel",
    "check_events",
    "check_events_verbose",
    "check_operations",
    "check_operations_verbose",
    "detect_format",
    "edn_str",
    "events_from_operations",
    "kv_model",
    "load_history",
    "make_model",
    "operations_from_events",
    "parse_history",
    "read_edn",
    "read_history",
    "read_jepsen_edn",
    "read_jepsen_history",
    "read_kv_history",
    "register_model",
    "render_html",
    "visualize",
    "write_kv_history",
]
