"""Pick the history reader from a file's content, and the model by name."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from sentinel.lin.ednformat import read_jepsen_edn
from sentinel.lin.history import HistoryError, Operation
from sentinel.lin.jepsenformat import MARKER, read_jepsen_history
from sentinel.lin.knossos import KNOSSOS_MODELS
from sentinel.lin.kvformat import is_kv_line, read_kv_history
from sentinel.lin.models import MODELS

# How far into a file to look for its first event line.
_SNIFF_LINES = 200

FORMATS = ("kv", "jepsen-log", "jepsen-edn")
"""History formats: porcupine's kv lines, Jepsen ``jepsen.util`` log lines, Jepsen EDN."""

MODEL_NAMES = (*MODELS, *KNOSSOS_MODELS)
"""Every model the command line can name."""

# The models each format can be read for; the first is the default unless the file says.
_FORMAT_MODELS = {
    "kv": ("kv",),
    "jepsen-log": ("etcd-register",),
    "jepsen-edn": ("kv", *KNOSSOS_MODELS),
}


@dataclass(frozen=True)
class LoadedHistory:
    """A history read from a file, with its format and the name of the model it was read for."""

    path: str
    format: str  # one of FORMATS
    model_name: str  # one of MODEL_NAMES
    operations: list[Operation]


def make_model(name: str, initial: Any = None) -> Any:
    """The model called ``name``; ``initial`` is the start value of Knossos's registers."""
    if name in KNOSSOS_MODELS:
        return KNOSSOS_MODELS[name](initial)
    if initial is not None:
        raise ValueError(f"model {name} has no initial value to set")
    return MODELS[name]


def detect_format(text: str, path: str | None = None) -> str:
    """``kv`` for porcupine kv lines, ``jepsen-log`` for ``jepsen.util`` lines, else
    ``jepsen-edn`` for EDN op maps."""
    for lineno, line in enumerate(text.split("\n", _SNIFF_LINES)[:_SNIFF_LINES], start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(";"):
            continue
        if stripped.startswith("{"):
            return "kv" if is_kv_line(stripped) else "jepsen-edn"
        if stripped.startswith("["):
            return "jepsen-edn"
        if MARKER in stripped:
            return "jepsen-log"
        if lineno == _SNIFF_LINES:
            break
    raise HistoryError(
        "unrecognised history format (want Jepsen EDN op maps '{:process ...}', "
        "porcupine kv lines or Jepsen 'INFO  jepsen.util - ...' lines)",
        path,
        1,
    )


def parse_history(
    text: str, path: str | None = None, fmt: str | None = None, model_name: str | None = None
) -> LoadedHistory:
    """Parse history text in format ``fmt`` (default: from the content) for ``model_name``
    (default: the format's, or for EDN the one whose operations the file holds)."""
    fmt = fmt or detect_format(text, path)
    if fmt not in FORMATS:
        raise HistoryError(f"unknown format {fmt!r} (want one of {', '.join(FORMATS)})", path)
    allowed = _FORMAT_MODELS[fmt]
    if model_name is not None and model_name not in allowed:
        raise HistoryError(
            f"a {fmt} history needs --model {' or '.join(allowed)}, not {model_name}", path
        )
    name = path or "<text>"
    if fmt == "kv":
        return LoadedHistory(name, fmt, "kv", read_kv_history(text, path))
    if fmt == "jepsen-log":
        return LoadedHistory(name, fmt, "etcd-register", read_jepsen_history(text, path))
    model_name, ops = read_jepsen_edn(text, path, model_name)
    return LoadedHistory(name, fmt, model_name, ops)


def load_history(
    path: str | os.PathLike[str], fmt: str | None = None, model_name: str | None = None
) -> LoadedHistory:
    """Read a history file (see :func:`parse_history`); unreadable files raise
    :class:`HistoryError`."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise HistoryError(f"cannot read file: {exc}", name) from exc
    return parse_history(text, name, fmt, model_name)


def read_history(path: str | os.PathLike[str]) -> list[Operation]:
    """The operations of a history file in any format, for its default model."""
    return load_history(path).operations
