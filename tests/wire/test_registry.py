"""Registration: a type that cannot travel fails at import time, naming class and field."""

from __future__ import annotations

import dataclasses
import enum
import io
import threading
from collections.abc import Callable

import pytest

from sentinel.wire import (
    AnyMessage,
    RegistrationError,
    WireError,
    WireWarning,
    constructor,
    decode,
    encode,
    is_registered,
    message,
)


def test_plain_class_becomes_frozen_slotted_dataclass() -> None:
    @message
    class Ping:
        seq: int
        note: str = ""

    ping = Ping(3)
    assert dataclasses.is_dataclass(ping)
    assert is_registered(Ping)
    assert not hasattr(ping, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ping.seq = 4  # type: ignore[misc]


@message
class Kind(enum.IntEnum):
    A = 1


def test_nested_containers_unions_and_self_reference_are_accepted() -> None:
    @message
    class Node:
        kind: Kind
        children: tuple[Node, ...]
        labels: dict[str, list[int]]
        parent: Node | None
        payload: AnyMessage

    assert is_registered(Node)


@pytest.mark.parametrize(
    ("annotation", "words"),
    [
        (threading.Lock().__class__, "lock"),
        (io.BufferedReader, "file"),
        (Callable[[], None], "cannot travel"),
        (object, "Any/object"),
    ],
)
def test_field_that_cannot_travel_names_class_and_field(annotation: object, words: str) -> None:
    namespace = {"__annotations__": {"good": int, "bad": annotation}}
    cls = type("Carrier", (), namespace)
    with pytest.raises(RegistrationError) as info:
        message(cls)
    text = str(info.value)
    assert "Carrier.bad" in text
    assert words in text
    assert not is_registered(cls)


def test_unregistered_class_field_is_refused() -> None:
    class Loose:
        pass

    namespace = {"__annotations__": {"thing": Loose}}
    with pytest.raises(RegistrationError, match=r"Holder\.thing: .*Loose is not a registered"):
        message(type("Holder", (), namespace))


def test_non_frozen_dataclass_is_refused() -> None:
    @dataclasses.dataclass
    class Mutable:
        x: int

    with pytest.raises(RegistrationError, match="frozen, slotted"):
        message(Mutable)


def test_leading_underscore_field_warns() -> None:
    with pytest.warns(WireWarning, match=r"Secretive\._hidden"):

        @message
        class Secretive:
            _hidden: int


def test_a_constructor_must_be_a_module_level_function() -> None:
    def local(flat: tuple) -> object:
        return flat

    with pytest.raises(RegistrationError, match="module-level"):
        constructor(local)


@message
class Point:
    x: int
    y: int

    def __reduce__(self) -> tuple:
        return (point_from_wire, ((self.x, self.y),))


@constructor
def point_from_wire(flat: tuple) -> Point:
    x, y = flat
    if type(x) is not int or type(y) is not int:
        raise TypeError("a point is two ints")
    return Point(x, y)


def test_a_message_may_travel_as_plain_data_through_its_constructor() -> None:
    assert decode(encode(Point(3, 4)), Point) == Point(3, 4)
    bad = encode(Point(3, "four"))  # type: ignore[arg-type]
    with pytest.raises(WireError, match="a point is two ints"):
        decode(bad)


def test_a_message_is_built_like_the_dataclass_it_is() -> None:
    @message
    class Move:
        src: int
        dst: int = 0
        note: str = ""

    assert Move(1) == Move(src=1) == Move(1, 0, "")
    assert (Move(1, note="x").dst, Move(1, note="x").note) == (0, "x")
    with pytest.raises(TypeError):
        Move()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Move(1, 2, "x", 4)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Move(1, bogus=2)  # type: ignore[call-arg]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Move(1).dst = 3  # type: ignore[misc]

    @message
    class Checked:  # a __post_init__ keeps the dataclass's own __init__, which calls it
        n: int

        def __post_init__(self) -> None:
            if self.n < 0:
                raise ValueError("negative")

    with pytest.raises(ValueError, match="negative"):
        Checked(-1)


@message
class Colour(enum.Enum):
    RED = 1
    BLUE = 2


def test_a_registered_enum_hashes_by_identity_unless_it_has_its_own_hash() -> None:
    assert Colour.__hash__ is object.__hash__  # C speed; members compare by identity
    assert {Colour.RED: "r"}[Colour.RED] == "r" and Colour.BLUE in {Colour.BLUE}
    assert decode(encode(Colour.BLUE)) is Colour.BLUE

    @message
    class Sized(enum.Enum):
        S = 1

        def __hash__(self) -> int:
            return 7

    assert hash(Sized.S) == 7
