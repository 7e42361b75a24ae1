"""Jepsen's own history files: EDN op maps (``history.edn``), read for any model.

A history is a vector of op maps or one map after another (either may span
lines), such as ``{:process 7, :type :invoke, :f :cas, :value [2 3], :time 123}``.
The file order is the real-time order; ``:time`` and ``:index``, when
present, must be integers but do not reorder anything.  Operations whose
``:process`` is not an integer (``:nemesis`` and other non-clients) are
skipped.

Pairing follows Knossos: a completion ends its process's pending invocation
whatever its ``:f`` says (Jepsen's ``:info :crash`` ends any op); ``:ok``
happened; ``:fail`` did not, and is left out; ``:info``, or no completion at
all, leaves the outcome unknown (:data:`~sentinel.lin.history.UNKNOWN`, open
to the end).  When every value is a ``jepsen.independent`` tuple ``[k v]``
(porcupine's kv maps, whose ``:key`` stands apart, are read as such tuples)
(and the bare values are not what the model takes), ``k`` becomes the
operation's key and each key is checked on its own.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any, NamedTuple

from sentinel.lin.edn import EdnForms, Keyword, edn_str, keyword, read_edn
from sentinel.lin.history import PENDING, UNKNOWN, HistoryError, Operation
from sentinel.lin.knossos import KNOSSOS_MODELS, NO_KEY, JepsenInput, default_model_name
from sentinel.lin.models import KV_FUNCTIONS, KvInput

TYPES = ("invoke", "ok", "fail", "info")
_TYPE_KEYWORDS = {keyword(name): name for name in TYPES}
_K = {name: keyword(name) for name in ("process", "type", "f", "value", "key", "time", "index")}
_NAMES_MAX = 1000  # distinct :f names remembered while reading one history
_MICRO_OPS = {"read": "read", "r": "read", "write": "write", "w": "write"}


class JepsenEvent(NamedTuple):
    """One client op map: ``token`` locates it in the file (see :meth:`EdnForms.line_of`)."""

    process: int
    type: str
    f: str
    value: Any
    token: int


def _fits_register(f: str, value: Any) -> bool:
    if f == "cas":
        return isinstance(value, tuple) and len(value) == 2
    return not isinstance(value, tuple)


def _fits_txn(f: str, value: Any) -> bool:
    return isinstance(value, tuple) and all(
        isinstance(mop, tuple) and len(mop) == 3 and mop[0] in _MICRO_KEYWORDS for mop in value
    )


_MICRO_KEYWORDS = {keyword(name) for name in _MICRO_OPS}
_SHAPES = {
    "cas": "[old new]",
    "txn": "a vector of [:read k v] and [:write k v]",
    "acquire": "nil",
    "release": "nil",
}

# What a model takes as the bare value of an invocation (kv: as the value beside its key).
_FITS: dict[str, Callable[[str, Any], bool]] = {
    "register": _fits_register,
    "cas-register": _fits_register,
    "multi-register": _fits_txn,
    "mutex": lambda f, value: value is None,
    "kv": lambda f, value: value is None or isinstance(value, str),  # with a key (below)
}


def jepsen_events(forms: EdnForms, path: str | None = None) -> list[JepsenEvent]:
    """The client op maps of a read EDN text, in file order."""
    if len(forms.forms) == 1 and isinstance(forms.forms[0], tuple):
        ops, starts = forms.forms[0], forms.item_starts.get(0, [])
    else:
        ops, starts = forms.forms, forms.starts
    events: list[JepsenEvent] = []
    append = events.append
    k_process, k_type, k_f, k_value, k_key = (
        _K[n] for n in ("process", "type", "f", "value", "key")
    )
    k_time, k_index = _K["time"], _K["index"]
    types: dict[Any, Any] = _TYPE_KEYWORDS
    names: dict[Any, str] = {}  # :f keyword -> plain name, made once per name
    for op, token in zip(ops, starts, strict=True):
        if op.__class__ is not dict:
            raise HistoryError(
                f"expected an op map, found {edn_str(op)[:60]}", path, forms.line_of(token)
            )
        get = op.get
        process = get(k_process)
        if process.__class__ is not int:
            continue  # :nemesis and other non-clients
        op_type, f = get(k_type), get(k_f)  # keywords, or else possibly unhashable
        kind: Any = types.get(op_type) if op_type.__class__ is Keyword else None
        name = names.get(f) if f.__class__ is Keyword else None
        if kind is None or name is None or get(k_time, 0).__class__ is not int:
            name = _checked(op, path, forms.line_of(token), names)
        elif get(k_index, 0).__class__ is not int:
            _checked(op, path, forms.line_of(token), names)
        if k_key in op:  # porcupine's kv maps name the key apart: make it a [k v] tuple
            append(JepsenEvent(process, kind, name, (op[k_key], get(k_value)), token))
        else:
            append(JepsenEvent(process, kind, name, get(k_value), token))
    return events


def _checked(op: dict[Any, Any], path: str | None, line: int, names: dict[Keyword, str]) -> str:
    """The name of the :f of a client op map whose :type, :f, :time and :index are
    checked (the ones the fast test in :func:`jepsen_events` doubted); raises if wrong."""
    kind, f = op.get(_K["type"]), op.get(_K["f"])
    if not isinstance(kind, Keyword) or kind not in _TYPE_KEYWORDS:
        raise HistoryError(
            f"expected :type :invoke, :ok, :fail or :info, found {edn_str(kind)}", path, line
        )
    if not isinstance(f, Keyword):
        raise HistoryError(f"expected a keyword :f, found {edn_str(f)}", path, line)
    for name in ("time", "index"):
        stamp = op.get(_K[name], 0)
        if type(stamp) is not int:
            raise HistoryError(f"expected an integer :{name}, found {edn_str(stamp)}", path, line)
    if len(names) < _NAMES_MAX:
        names[f] = str(f)
    return str(f)


def _pair(events: list[JepsenEvent], forms: EdnForms, path: str | None) -> list[list[Any]]:
    """``[call time, invoke, return time, completion or None]`` per invocation, Knossos's way."""
    pending: dict[int, list[Any]] = {}  # process -> its entry in `pairs`
    pairs: list[list[Any]] = []
    pair: list[Any] | None
    for time, event in enumerate(events, start=1):
        process = event.process
        if event.type == "invoke":
            if process in pending:
                earlier = pending[process][1].token
                raise HistoryError(
                    f"process {process} invokes again while its op on line "
                    f"{forms.line_of(earlier)} is pending",
                    path,
                    forms.line_of(event.token),
                )
            pending[process] = pair = [time, event, 0, None]
            pairs.append(pair)
            continue
        pair = pending.pop(process, None)
        if pair is None:
            raise HistoryError(
                f"expected an :invoke before this :{event.type} of process {process}",
                path,
                forms.line_of(event.token),
            )
        pair[2], pair[3] = time, event
    return pairs


def _shape(model_name: str, f: str, independent: bool) -> str:
    shape = _SHAPES.get(f, "a value that is not a vector")
    return f"[key {shape}]" if independent or model_name == "kv" else shape


def _independent(model_name: str, invokes: list[JepsenEvent]) -> bool:
    fits = _FITS[model_name]
    if model_name != "kv" and all(fits(e.f, e.value) for e in invokes):
        return False
    return all(
        isinstance(e.value, tuple) and len(e.value) == 2 and fits(e.f, e.value[1]) for e in invokes
    )


def _input(model_name: str, f: str, value: Any, process: int, key: Any) -> Any:
    if model_name == "kv":
        return KvInput(f, key, value)
    if model_name == "multi-register":
        value = tuple((_MICRO_OPS[str(mop[0])], mop[1], mop[2]) for mop in value)
    return JepsenInput(f, value, process, key)


def operations_from_jepsen(
    events: list[JepsenEvent], forms: EdnForms, model_name: str, path: str | None = None
) -> list[Operation]:
    """Operations for ``model_name`` (a Knossos model or ``kv``) from client events."""
    functions = KV_FUNCTIONS if model_name == "kv" else KNOSSOS_MODELS[model_name].functions
    pairs = _pair(events, forms, path)
    for _, call, _, _ in pairs:
        if call.f not in functions:
            raise HistoryError(
                f"expected :f {' or '.join(':' + f for f in functions)} for model {model_name}, "
                f"found :{call.f}",
                path,
                forms.line_of(call.token),
            )
    independent = _independent(model_name, [call for _, call, _, _ in pairs])
    fits = _FITS[model_name]
    plain = model_name not in ("kv", "multi-register")
    ops = []
    for call_time, call, return_time, done in pairs:
        if done is not None and done.type == "fail":
            continue
        key, value = call.value if independent else (NO_KEY, call.value)
        if not fits(call.f, value) and not (model_name == "kv" and independent):
            raise HistoryError(
                f"expected {_shape(model_name, call.f, independent)} as the :value of "
                f":{call.f} for model {model_name}, found {edn_str(call.value)}",
                path,
                forms.line_of(call.token),
            )
        reads = call.f in ("read", "txn", "get")
        if done is None or done.type == "info":
            op_input = _input(
                model_name, call.f, None if call.f == "get" else value, call.process, key
            )
            ops.append(Operation(call.process, op_input, call_time, UNKNOWN, PENDING))
            continue
        if reads:
            done_value = (
                done.value[1] if independent and isinstance(done.value, tuple) else done.value
            )
            if model_name != "kv" and done_value is not None:
                if not fits(call.f, done_value):
                    raise HistoryError(
                        f"expected {_shape(model_name, call.f, independent)} as the :value of "
                        f":{call.f} for model {model_name}, found {edn_str(done.value)}",
                        path,
                        forms.line_of(done.token),
                    )
                value = done_value
        if plain:  # register, cas-register, mutex: the input as it stands
            op_input = JepsenInput(call.f, value, call.process, key)
        else:
            op_input = _input(
                model_name, call.f, None if call.f == "get" else value, call.process, key
            )
        output = (done_value if reads else None) if model_name == "kv" else None
        ops.append(Operation(call.process, op_input, call_time, output, return_time))
    return ops


def read_jepsen_edn(
    text: str, path: str | None = None, model_name: str | None = None
) -> tuple[str, list[Operation]]:
    """``(model name, operations)`` of a Jepsen EDN history; the model is guessed if not given."""
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a history is many small acyclic objects: collections would find nothing
    try:
        return _read_jepsen_edn(text, path, model_name)
    finally:
        if gc_was_enabled:
            gc.enable()


def _read_jepsen_edn(
    text: str, path: str | None, model_name: str | None
) -> tuple[str, list[Operation]]:
    forms = read_edn(text, path)
    events = jepsen_events(forms, path)
    if model_name is None:
        functions = {e.f for e in events if e.type == "invoke"}
        model_name = default_model_name(functions) or (
            "kv" if functions <= set(KV_FUNCTIONS) else None
        )
        if model_name is None:
            raise HistoryError(
                f"no model takes the functions {sorted(functions)}: name one with --model", path
            )
    return model_name, operations_from_jepsen(events, forms, model_name, path)
