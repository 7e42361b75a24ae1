"""A small EDN reader and printer, enough for the histories Jepsen stores.

Reads keywords, symbols, strings, characters, integers, floats, ``nil``,
``true``/``false``, vectors and lists (as tuples), maps (as dicts), sets (as
frozensets), tagged literals (the tag is dropped: ``#inst "..."`` reads as its
string), ``#_`` discards and ``;`` comments; commas are whitespace.  The
tokens come from one ``re.findall`` over the whole text and one loop with an
explicit stack builds the values, so deep nesting cannot overflow Python's
stack.  A Python step per token is what a history's reading costs, so the flat
op maps that make up nearly all of one are read whole, one regular expression
per sequence of keys (:mod:`sentinel.lin.ednmaps`): that makes a history of
uniform op maps read more than twice as fast, past the 100,000 maps a second
``benchmarks/lin_speed.py`` asks of it (a general parser built on ply, such as
PyPI's ``edn_format``, is over ten times slower).  Anything malformed raises
:class:`~sentinel.lin.history.HistoryError` with the line and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sentinel.lin.ednmaps import (
    ATOM,
    DELIMITERS,
    FLAT_MAP,
    STRING,
    VECTOR_ELEMENT,
    FlatMaps,
    read_flat,
)
from sentinel.lin.history import HistoryError


class Keyword(str):
    """An EDN keyword, named without its colon: ``:read`` is ``Keyword("read")``.

    Never equal to a plain string, so ``:read`` and ``"read"`` stay apart.
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return type(other) is Keyword and str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = str.__hash__

    def __repr__(self) -> str:
        return ":" + str.__str__(self)


class Symbol(str):
    """An EDN symbol (a bare word that is not nil, true, false or a number)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return type(other) is Symbol and str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = str.__hash__

    def __repr__(self) -> str:
        return str.__str__(self)


_KEYWORDS: dict[str, Keyword] = {}
_KEYWORDS_MAX = 100_000


def keyword(name: str) -> Keyword:
    """The keyword ``:name``, one object per name (so dict lookups match by identity)."""
    found = _KEYWORDS.get(name)
    if found is None:
        found = Keyword(name)
        if len(_KEYWORDS) < _KEYWORDS_MAX:
            _KEYWORDS[name] = found
    return found


# Atoms first: they are most tokens, and the engine tries alternatives in order.
_GENERAL = (
    ATOM + r"|[\[\]{}()]|" + STRING + r"|;[^\n]*|#_|#\{|##\w+|#[A-Za-z][^" + DELIMITERS + "]*"
    r"|\\(?:newline|space|tab|return|u[0-9a-fA-F]{4}|[^\s])|[\"#\\]"
)
_TOKEN = re.compile(_GENERAL, re.DOTALL)
_FAST_TOKEN = re.compile(FLAT_MAP + "|" + _GENERAL, re.DOTALL)  # a flat map is one token
_INT = re.compile(r"[+-]?\d+N?")
_FLOAT = re.compile(r"[+-]?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?M?")
_STRING_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", '"': '"', "\\": "\\"}
_CHARS = {"newline": "\n", "space": " ", "tab": "\t", "return": "\r"}
_CLOSER = {"[": "]", "(": ")", "{": "}", "#{": "}"}
_WHAT = {"[": "vector", "(": "list", "{": "map", "#{": "set"}
_SPECIAL: dict[str, Any] = {"nil": None, "true": True, "false": False}
_ATOMS_MAX = 100_000  # distinct atoms remembered while reading one text


@dataclass(frozen=True, slots=True)
class EdnForms:
    """The top-level forms of a text and where each starts.

    ``starts[i]`` is the token index of ``forms[i]``; ``item_starts[i]``, when
    ``forms[i]`` is a vector or list, holds the token index of each element.
    :meth:`line_of` turns a token index into a 1-based line number.
    """

    text: str
    forms: list[Any]
    starts: list[int]
    item_starts: dict[int, list[int]]
    pattern: re.Pattern[str] = _TOKEN  # the tokens that the indices count

    def line_of(self, token_index: int) -> int:
        """The line on which token ``token_index`` starts."""
        return _line_of(self.text, token_index, self.pattern)


def _line_of(text: str, token_index: int, pattern: re.Pattern[str] = _TOKEN) -> int:
    pos = len(text)
    for n, m in enumerate(pattern.finditer(text)):
        if n == token_index:
            pos = m.start()
            break
    return text.count("\n", 0, pos) + 1


def unescape_string(token: str) -> str:
    """The text of a double-quoted EDN string token (quotes included)."""
    body = token[1:-1]
    if "\\" not in body:
        return body

    def one(m: re.Match[str]) -> str:
        code = m.group(1)
        return chr(int(code[1:], 16)) if len(code) == 5 else _ESCAPES.get(code, code)

    return _STRING_ESCAPE.sub(one, body)


def _atom(token: str) -> Any:
    """The value of a bare token; raises ValueError when it is no EDN value."""
    c = token[0]
    if c == ":":
        if len(token) == 1 or token[1] == ":":
            raise ValueError("a keyword needs a name")
        return keyword(token[1:])
    if c == "\\":
        name = token[1:]
        if not name:
            raise ValueError("a character needs a name")
        if name in _CHARS:
            return _CHARS[name]
        return chr(int(name[1:], 16)) if len(name) == 5 and name[0] == "u" else name
    if c.isdigit() or (c in "+-" and len(token) > 1 and token[1].isdigit()):
        if _INT.fullmatch(token):
            return int(token.rstrip("N"))
        if _FLOAT.fullmatch(token):
            return float(token.rstrip("M"))
        raise ValueError("not a number")
    if token in _SPECIAL:
        return _SPECIAL[token]
    return Symbol(token)


class _Mark:
    """A token that is no value: an opener, a closer, or something to skip."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


_OPEN, _CLOSE, _SKIP, _DISCARD, _MISSING = (
    _Mark("open"), _Mark("close"), _Mark("skip"), _Mark("discard"), _Mark("missing")
)  # fmt: skip
_MARKS: dict[str, Any] = {
    **dict.fromkeys(("[", "(", "{", "#{"), _OPEN),
    **dict.fromkeys(("]", ")", "}"), _CLOSE),
    "#_": _DISCARD,
}


def _slow_token(token: str, fail: Any, index: int) -> Any:
    """The value of a token not seen before (or a mark); ``fail`` builds the error."""
    if token.isdecimal():  # most new tokens: every op's :time and :index
        try:
            return int(token)
        except ValueError:
            pass  # more digits than int() takes: _atom words the error
    c = token[0]
    if c == '"':
        if len(token) == 1:
            raise fail(index, "expected the closing '\"' of a string, found the end of the file")
        return unescape_string(token)
    if c == ";":
        return _SKIP
    if c == "#":
        if len(token) == 1:
            raise fail(index, f"expected a dispatch ('#{{', '#_' or a tag), found {token!r}")
        if token.startswith("##"):
            return {"##Inf": float("inf"), "##-Inf": float("-inf")}.get(token, float("nan"))
        return _SKIP  # a tag: the value that follows stands for itself
    try:
        return _atom(token)
    except ValueError as exc:
        raise fail(index, f"expected a value, found {token!r} ({exc})") from None


def _close(opener: str, items: list[Any], start: int, fail: Any) -> Any:
    """The value of a finished container."""
    if opener == "{":
        if len(items) % 2:
            raise fail(start, "expected a value for every key of a map, found an odd count")
        pairs = iter(items)
        try:
            return dict(zip(pairs, pairs, strict=False))  # an even count: checked above
        except TypeError:
            raise fail(start, "expected hashable map keys") from None
    if opener == "#{":
        try:
            return frozenset(items)
        except TypeError:
            raise fail(start, "expected hashable set elements") from None
    return tuple(items)


class _Values(dict[str, Any]):
    """The reader's cache, from token to value: ``values[token]`` reads a new token.

    A flat map's values are looked up in C (``map(values.__getitem__, ...)``); only
    tokens not seen before reach :meth:`__missing__`.  Errors here carry no line:
    the fast reading is then repeated token by token, which words them.
    """

    def __missing__(self, token: str) -> Any:
        if token[0] == "[":
            value: Any = tuple(map(self.__getitem__, VECTOR_ELEMENT.findall(token)))
        else:
            value = _slow_token(token, _no_line, 0)
        if len(self) < _ATOMS_MAX:
            self[token] = value
        return value


def _no_line(index: int, message: str) -> HistoryError:
    return HistoryError(message)


def read_edn(text: str, path: str | None = None, fast: bool = True) -> EdnForms:
    """Read every top-level form of ``text``.

    Flat op maps, nearly all of a history, are read whole (see
    :mod:`sentinel.lin.ednmaps`); should that fail, the token-by-token reading
    words the error.  ``fast=False`` reads token by token only: the reference
    the fast lanes are tested against.
    """
    if fast:
        try:
            flat = read_flat(text, _Values(_MARKS).__getitem__)
            if flat is not None:
                maps, pattern, vector = flat
                if vector:  # token 0 is its '[', the maps tokens 1 to n
                    items = {0: list(range(1, len(maps) + 1))}
                    return EdnForms(text, [tuple(maps)], [0], items, pattern)
                return EdnForms(text, maps, list(range(len(maps))), {}, pattern)
            return _read(text, path, _FAST_TOKEN)
        except (HistoryError, ValueError):  # ValueError: int() of too many digits
            pass
    return _read(text, path, _TOKEN)


def _read(text: str, path: str | None, pattern: re.Pattern[str]) -> EdnForms:
    tokens: list[str] = pattern.findall(text)
    forms: list[Any] = []
    starts: list[int] = []
    item_starts: dict[int, list[int]] = {}
    # Open containers: (opener, items, start token, element starts); element starts
    # are kept only for a container at the top level (a history's vector of ops).
    stack: list[tuple[str, list[Any], int, list[int] | None]] = []
    items, elements = forms, starts  # where the next value goes
    discards: list[int] = []  # depths at which a #_ waits for its form
    cache = _Values(_MARKS)
    get = cache.get

    def fail(index: int, message: str) -> HistoryError:
        return HistoryError(message, path, _line_of(text, index, pattern))

    read_map = FlatMaps(cache.__getitem__).read

    for index, token in enumerate(tokens):
        value = get(token, _MISSING)
        if value is _MISSING:
            if token[0] == "{":  # a flat map, read whole (never cached: dicts are mutable)
                value = read_map(token)
            else:
                value = _slow_token(token, fail, index)
                if len(cache) < _ATOMS_MAX and value is not _SKIP:
                    cache[token] = value
        if value.__class__ is _Mark:
            if value is _OPEN:
                stack.append((token, items, index, elements))
                items, elements = [], ([] if len(stack) == 1 else None)
                continue
            if value is _SKIP:
                continue
            if value is _DISCARD:
                discards.append(len(stack))
                continue
            if not stack:
                raise fail(index, f"expected a value, found {token!r} with nothing open")
            opener, outer, start, outer_elements = stack.pop()
            if _CLOSER[opener] != token:
                raise fail(
                    index,
                    f"expected {_CLOSER[opener]!r} to close the {_WHAT[opener]} opened on "
                    f"line {_line_of(text, start, pattern)}, found {token!r}",
                )
            if elements is not None and opener in "[(":
                item_starts[len(forms)] = elements
            value = _close(opener, items, start, fail)
            items, elements = outer, outer_elements
        else:
            start = index
        if discards and discards[-1] == len(stack):
            discards.pop()
            if not stack:
                item_starts.pop(len(forms), None)
            continue
        items.append(value)
        if elements is not None:
            elements.append(start)
    if stack:
        opener, _, start, _ = stack[-1]
        raise HistoryError(
            f"expected {_CLOSER[opener]!r} to close the {_WHAT[opener]} opened on line "
            f"{_line_of(text, start, pattern)}, found the end of the file",
            path,
            text.count("\n") + 1,
        )
    if discards:
        raise HistoryError("expected a form after '#_', found the end of the file", path)
    return EdnForms(text, forms, starts, item_starts, pattern)


def _print_string(text: str) -> str:
    out = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + out.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'


def edn_str(value: Any) -> str:
    """EDN text for a value read by :func:`read_edn` (one line: newlines are escaped)."""
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Keyword | Symbol):
        return repr(value)
    if isinstance(value, str):
        return _print_string(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{edn_str(k)} {edn_str(v)}" for k, v in value.items()) + "}"
    if isinstance(value, frozenset | set):
        return "#{" + " ".join(edn_str(v) for v in value) + "}"
    if isinstance(value, Sequence):
        return "[" + " ".join(edn_str(v) for v in value) + "]"
    return str(value)
