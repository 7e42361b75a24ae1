"""The registry of message types and the import-time checks on their fields.

A message type is a frozen, slotted dataclass. `@message` checks every field's annotation
once, when the module that defines the type is imported, so a type that cannot travel fails
loudly at start-up rather than as a confusing error on the receiving side.
"""

from __future__ import annotations

import dataclasses
import enum
import io
import operator
import types
import typing
import warnings
from typing import Any, TypeVar

from sentinel.wire.errors import RegistrationError, WireWarning

T = TypeVar("T", bound=type)
F = TypeVar("F", bound=typing.Callable[..., Any])

#: Annotation for a field that holds any registered message (checked when it is decoded).
AnyMessage = typing.NewType("AnyMessage", object)

_ATOMS: frozenset[Any] = frozenset({int, float, str, bytes, bool, type(None), complex, bytearray})
_CONTAINERS: frozenset[Any] = frozenset({list, tuple, dict, set, frozenset})
_UNION_ORIGINS: frozenset[Any] = frozenset({typing.Union, types.UnionType})

# (module, qualname) -> class or constructor: the only names the restricted unpickler resolves.
_registered: dict[tuple[str, str], Any] = {}


def registered(module: str, qualname: str) -> Any:
    """The registered class (or constructor) with this module and qualified name, or None."""
    return _registered.get((module, qualname))


def is_registered(cls: type) -> bool:
    """Whether `cls` itself is a registered message or enum type."""
    return _registered.get((cls.__module__, cls.__qualname__)) is cls


def message(cls: T) -> T:
    """Class decorator: make `cls` a frozen, slotted dataclass and register it with the codec.

    Raises RegistrationError naming the class and the field when a field cannot travel.
    Enum classes are registered as they are (with an identity hash, see below).
    """
    if isinstance(cls, type) and issubclass(cls, enum.Enum):
        if cls.__hash__ is enum.Enum.__hash__:  # type: ignore[comparison-overlap]
            # Members are singletons that compare by identity, so an identity hash agrees
            # with ==, and it is C: Enum's own hashes the name in Python, and the raft core
            # looks message types and roles up in sets and tables on every message.
            cls.__hash__ = object.__hash__  # type: ignore[method-assign]
        return _register(cls)
    if not dataclasses.is_dataclass(cls):
        cls = dataclasses.dataclass(frozen=True, slots=True)(cls)
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    if not params.frozen or "__slots__" not in cls.__dict__:
        raise RegistrationError(
            f"{cls.__qualname__}: a message must be a frozen, slotted dataclass "
            "(use @message on a plain class, or @dataclass(frozen=True, slots=True))"
        )
    _install_fast_state(cls)
    _install_fast_init(cls)
    _register(cls)  # first, so a field may refer to its own class
    try:
        hints = typing.get_type_hints(cls, localns={cls.__name__: cls})
    except NameError as exc:
        _unregister(cls)
        raise RegistrationError(f"{cls.__qualname__}: cannot resolve a field type: {exc}") from exc
    for field in dataclasses.fields(cls):
        if field.name.startswith("_"):
            warnings.warn(
                f"{cls.__qualname__}.{field.name}: a leading-underscore field travels like any "
                "other; if it is meant to be private state, it should not be in a message",
                WireWarning,
                stacklevel=2,
            )
        problem = _problem(hints[field.name])
        if problem is not None:
            _unregister(cls)
            raise RegistrationError(f"{cls.__qualname__}.{field.name}: {problem}")
    return cls


def constructor(func: F) -> F:
    """Decorator: let the decoder call module-level function `func` to rebuild a message
    from plain data. A registered class whose `__reduce__` returns `(func, (plain,))`
    travels as that plain data (a tuple of ints, bytes, ...), which pickles in C, instead
    of as nested objects, each of which costs Python calls on both sides.

    `func` must accept only well-formed data: any exception it raises becomes a WireError.
    """
    if func.__name__ != func.__qualname__:  # "<locals>" or a class in its qualified name
        name = func.__qualname__
        raise RegistrationError(f"{name}: a constructor must be a module-level function")
    _register(func)
    return func


def _install_fast_state(cls: type) -> None:
    """Give `cls` pickle state methods over a precomputed field list.

    The dataclass defaults call `dataclasses.fields()` on every message (a tenth of the
    simulator's codec time); the state here is the same tuple of field values, read with one
    C-level attrgetter and written through the slots' descriptors.
    """
    names = tuple(field.name for field in dataclasses.fields(cls))
    count = len(names)
    if count == 0:
        getter: Any = lambda self: ()  # noqa: E731
    elif count == 1:
        one = operator.attrgetter(names[0])
        getter = lambda self: (one(self),)  # noqa: E731
    else:
        getter = operator.attrgetter(*names)

    def __getstate__(self: Any) -> tuple[Any, ...]:
        return getter(self)

    cls.__getstate__ = __getstate__  # type: ignore[attr-defined]
    cls.__setstate__ = _unrolled_setstate(tuple(_slot_setter(cls, name) for name in names))  # type: ignore[attr-defined]


def _install_fast_init(cls: type) -> None:
    """Replace the frozen dataclass's `__init__` (one `object.__setattr__` per field, a
    third of building a raft Message) by the same signature setting each slot through its
    descriptor. Only for the plain case: positional-or-keyword fields with plain defaults
    and no `__post_init__`; anything else keeps the dataclass's own."""
    fields = dataclasses.fields(cls)
    if hasattr(cls, "__post_init__") or any(
        not f.init
        or f.kw_only
        or f.default_factory is not dataclasses.MISSING
        or f.name == "self"
        or f.name.startswith("__")
        for f in fields
    ):
        return
    params, calls = [], []
    namespace: dict[str, Any] = {}
    for i, f in enumerate(fields):
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            params.append(f"{f.name}=__default{i}")
            namespace[f"__default{i}"] = f.default
        namespace[f"__set{i}"] = _slot_setter(cls, f.name)
        calls.append(f"    __set{i}(self, {f.name})\n")
    source = f"def __init__(self, {', '.join(params)}):\n{''.join(calls) or '    pass'}"
    exec(source, namespace)  # the source holds only field names and calls made here
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[misc]


def _unrolled_setstate(setters: tuple[Any, ...]) -> Any:
    """`__setstate__(self, state)`: one unpacking of `state` (a short or long one is refused)
    and one setter call per field, with no loop: half the cost of zipping the setters, and
    every decoded message pays it."""
    values = "".join(f"v{i}, " for i in range(len(setters)))
    calls = "".join(f"    s{i}(self, v{i})\n" for i in range(len(setters)))
    source = f"def __setstate__(self, state):\n    ({values}) = state\n{calls}"
    namespace: dict[str, Any] = {f"s{i}": setter for i, setter in enumerate(setters)}
    exec(source, namespace)  # the source holds only names and calls made here
    return namespace["__setstate__"]


def _slot_setter(cls: type, name: str) -> Any:
    """A function that sets field `name` on a (frozen) instance of `cls`: the slot's own
    descriptor when there is one (no frozen-dataclass check in the way), else setattr."""
    descriptor = cls.__dict__.get(name)
    if descriptor is not None and hasattr(descriptor, "__set__"):
        return descriptor.__set__
    return lambda self, value: object.__setattr__(self, name, value)


def _register(cls: Any) -> Any:
    key = (cls.__module__, cls.__qualname__)
    other = _registered.get(key)
    if other is not None and other is not cls:
        raise RegistrationError(f"{cls.__qualname__}: another class is registered as {key}")
    _registered[key] = cls
    return cls


def _unregister(cls: type) -> None:
    _registered.pop((cls.__module__, cls.__qualname__), None)


def _problem(tp: Any) -> str | None:
    """Why a value annotated `tp` cannot travel, or None when it can."""
    if tp is AnyMessage or tp in _ATOMS:
        return None
    if tp is Any or tp is object:
        return "type Any/object says nothing about what travels; use AnyMessage or a real type"
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return None
    if origin in _UNION_ORIGINS or origin in _CONTAINERS:
        for arg in typing.get_args(tp):
            if arg is Ellipsis:
                continue
            inner = _problem(arg)
            if inner is not None:
                return inner
        return None
    if tp in _CONTAINERS:
        return None
    if origin is not None:
        return f"type {tp!r} cannot travel (only list, tuple, dict, set, frozenset, unions)"
    if not isinstance(tp, type):
        return f"annotation {tp!r} is not a type"
    return _class_problem(tp)


def _class_problem(tp: type) -> str | None:
    if is_registered(tp):
        return None
    if issubclass(tp, io.IOBase) or tp.__module__ in {"io", "_io"}:
        return f"type {tp.__qualname__} is a file; files cannot travel"
    if "lock" in tp.__name__.lower() or tp.__module__ in {"_thread", "threading"}:
        return f"type {tp.__qualname__} is a lock or thread object; it cannot travel"
    if issubclass(tp, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        return f"type {tp.__qualname__} is a function; functions cannot travel"
    if tp.__module__ == "collections.abc" and tp.__name__ == "Callable":
        return "a callable cannot travel"
    return f"type {tp.__qualname__} is not a registered message (decorate it with @message)"
