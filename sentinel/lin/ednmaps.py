"""Flat EDN op maps read whole: the fast lane of :func:`sentinel.lin.edn.read_edn`.

Nearly every form of a Jepsen history is a flat map whose keys are keywords
and whose values are atoms, strings or flat vectors of those, such as
``{:process 7, :type :invoke, :f :cas, :value [2 3], :time 123}``.  Reading
such a map token by token costs a Python step per token; here each sequence of
keys (a *shape*) gets a regular expression of its own whose groups are the
values, so a map costs one match and C-level lookups.  A history that is
nothing but maps of a few shapes is read by a single ``findall``
(:func:`read_flat`); other texts take flat maps whole as single tokens
(:data:`FAST_TOKEN`, :class:`FlatMaps`) within the general reader.

Every quantifier is possessive, so the patterns split a map exactly as the
general tokenizer would (no atom is ever cut short).  Values come from a
``values`` mapping (the reader's cache) whose ``__getitem__`` reads tokens
not seen before; whatever it raises makes the caller read token by token.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import repeat
from typing import Any

DELIMITERS = r"\s,\[\]{}()\";"
ATOM = r"[^" + DELIMITERS + r"#\\][^" + DELIMITERS + r"]*+"
STRING = r'"(?:[^"\\]|\\.)*+"'
_SEP = r"[\s,]*+"
# An element of a flat map: an atom, a string or a flat vector of those.
_ELEMENT_PATTERN = (
    ATOM + "|" + STRING + r"|\[" + _SEP + "(?:(?:" + ATOM + "|" + STRING + ")" + _SEP + r")*+\]"
)
_ELEMENT = re.compile(_ELEMENT_PATTERN, re.DOTALL)
VECTOR_ELEMENT = re.compile(ATOM + "|" + STRING, re.DOTALL)
_ELEMENTS = "(?:(?:" + _ELEMENT_PATTERN + ")" + _SEP + ")"
FLAT_MAP = r"\{" + _SEP + "(?:" + _ELEMENTS + _ELEMENTS + r")*+\}"
_SHAPES_MAX = 64  # key sequences given a pattern of their own, per text
_SHAPE_KEYS_MAX = 32
SAMPLE_MAPS = 1000  # maps of a text whose shapes the whole-text pattern knows
_TEXT_SHAPES_MAX = 16  # more shapes than this in a text: read it map by map

Values = Callable[[str], Any]  # a token's value (the reader cache's __getitem__)


def _shape_pattern(names: tuple[str, ...]) -> str:
    value = "(" + _ELEMENT_PATTERN + ")" + _SEP
    keys = "".join(re.escape(n) + "(?=[" + DELIMITERS + "])" + _SEP + value for n in names)
    return r"\{" + _SEP + keys + r"\}"


def _names(elements: list[str]) -> tuple[str, ...] | None:
    """The keys of a flat map's elements when they are keywords (so it has a shape)."""
    names = tuple(elements[0::2])
    if 0 < len(names) <= _SHAPE_KEYS_MAX and all(n[0] == ":" for n in names):
        return names
    return None


class FlatMaps:
    """Reads the flat maps that :data:`FAST_TOKEN` takes whole, into dicts.

    Shapes are learnt as maps come (up to ``_SHAPES_MAX``); a map of a known shape
    costs one match, a map of another its elements split by ``_ELEMENT``.
    """

    def __init__(self, value: Values) -> None:
        self.value = value
        self.shapes: list[tuple[re.Pattern[str], tuple[Any, ...]]] = []

    def read(self, token: str) -> dict[Any, Any]:
        """The map of ``token``."""
        value = self.value
        for shape, keys in self.shapes:
            match = shape.fullmatch(token)
            if match is not None:
                return dict(zip(keys, map(value, match.groups()), strict=True))
        elements = _ELEMENT.findall(token)
        values = list(map(value, elements))
        names = _names(elements)
        if names is not None and len(self.shapes) < _SHAPES_MAX:
            pattern = re.compile(_shape_pattern(names), re.DOTALL)
            self.shapes.append((pattern, tuple(values[0::2])))
        pairs = iter(values)
        return dict(zip(pairs, pairs, strict=False))  # an even count: FLAT_MAP's


def read_flat(text: str, value: Values) -> tuple[list[Any], re.Pattern[str], bool] | None:
    """``(maps, pattern, in a vector)`` when ``text`` is flat maps of the shapes of its
    first ``SAMPLE_MAPS`` maps and nothing else (commas and whitespace between them),
    or one vector of such maps; else None.

    Map ``i`` is match ``i`` of ``pattern`` over ``text``, ``i + 1`` in a vector (whose
    brackets are matches too), for finding its line.
    """
    vector = _VECTOR.fullmatch(text)
    if vector is not None:
        text = vector.group(1)
    shapes: dict[tuple[str, ...], None] = {}
    for n, match in enumerate(_SAMPLE.finditer(text)):
        if n == SAMPLE_MAPS:
            break
        names = None if match.group(1) is None else _names(_ELEMENT.findall(match.group(1)))
        if names is None:
            return None
        shapes[names] = None
    if not shapes or len(shapes) > _TEXT_SHAPES_MAX:
        return None
    layout = [(names, sum(map(len, list(shapes)[:k]))) for k, names in enumerate(shapes)]
    pattern = re.compile(
        "|".join(_shape_pattern(names) for names in shapes) + r"|([^\s,])", re.DOTALL
    )
    rows = pattern.findall(text)
    if any(row[-1] for row in rows):  # something the shapes do not cover
        return None
    if len(layout) == 1:
        return _dicts(rows, *layout[0], value), pattern, vector is not None
    maps: list[Any] = [None] * len(rows)
    for names, start in layout:
        picked = [n for n, row in enumerate(rows) if row[start]]  # a value is never empty
        for n, one in zip(
            picked, _dicts([rows[n] for n in picked], names, start, value), strict=True
        ):
            maps[n] = one
    return maps, pattern, vector is not None


def _dicts(
    rows: list[tuple[str, ...]], names: tuple[str, ...], start: int, value: Values
) -> list[Any]:
    """The maps of ``rows`` whose values are groups ``start`` on, keyed by ``names``.

    Converted a column at a time: a column of integers (:time, :index, mostly new)
    goes to ``int`` in C rather than through the cache one by one.
    """
    columns = list(zip(*rows, strict=True))[start : start + len(names)]
    values = [
        list(map(int, column) if "".join(column).isdecimal() else map(value, column))
        for column in columns
    ]
    keys = tuple(map(value, names))
    return list(map(dict, map(zip, repeat(keys), zip(*values, strict=True))))  # all in C


_SAMPLE = re.compile("(" + FLAT_MAP + r")|[^\s,]", re.DOTALL)
_VECTOR = re.compile(r"[\s,]*+\[(.*)\][\s,]*+", re.DOTALL)
