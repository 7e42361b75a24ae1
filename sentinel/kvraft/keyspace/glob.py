"""Redis's glob patterns (KEYS, SCAN MATCH), with the rules of redis's `stringmatchlen`.

`fnmatch` differs from Redis (it has no backslash escapes, writes negation `[!...]`, and its
classes end differently), so the rules are implemented here, read from src/util.c:

- `*` matches any run of bytes (runs of stars are one star); `?` matches one byte.
- `[...]` matches one byte from the class; `[^...]` one byte not in it. Inside, `\\x` is the
  byte x, and `a-z` a range whose ends may come in either order. `]` right after `[` (or
  `[^`) closes an empty class (matches nothing; `[^]` matches any byte). A class that is
  never closed runs to the end of the pattern. A range's end may be the `]`: `[a-]` is
  the range `]`..`a` and runs on to the end of the pattern, as in Redis.
- `\\x` outside a class is the byte x; a trailing lone `\\` is a backslash.
- Any other byte matches itself (case-sensitive).

A pattern compiles to tokens: `None` for a star, else the `frozenset` of bytes it accepts.
Matching keeps only the last star to resume from, so it costs O(len(pattern) * len(key))
whatever the pattern (Redis bounds its recursion the same way); patterns with at most one
star are translated to a regular expression, which runs in C.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

Token = frozenset[int] | None
_ALL = frozenset(range(256))


def compile_tokens(pattern: bytes) -> list[Token]:
    """The tokens of `pattern` (see the module docstring)."""
    tokens: list[Token] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == 0x2A:  # '*'
            if not tokens or tokens[-1] is not None:
                tokens.append(None)
        elif c == 0x3F:  # '?'
            tokens.append(_ALL)
        elif c == 0x5B:  # '['
            accepted, i = _class(pattern, i + 1)
            tokens.append(accepted)
        else:
            if c == 0x5C and n - i >= 2:  # '\' escapes the next byte
                i += 1
            tokens.append(frozenset((pattern[i],)))
        i += 1
    return tokens


def _class(pattern: bytes, i: int) -> tuple[frozenset[int], int]:
    """The bytes a class accepts, reading from just after its '['; and the index of its
    last byte (the closing ']' or the pattern's last byte)."""
    n = len(pattern)
    negate = i < n and pattern[i] == 0x5E  # '^'
    if negate:
        i += 1
    members: set[int] = set()
    while True:
        if i >= n:  # never closed: the class ends with the pattern
            i = n - 1
            break
        c = pattern[i]
        if c == 0x5C and n - i >= 2:
            i += 1
            members.add(pattern[i])
        elif c == 0x5D:  # ']'
            break
        elif n - i >= 3 and pattern[i + 1] == 0x2D:  # 'a-z'
            low, high = sorted((c, pattern[i + 2]))
            members.update(range(low, high + 1))
            i += 2
        else:
            members.add(c)
        i += 1
    accepted = _ALL - members if negate else frozenset(members)
    return accepted, i


def match_tokens(tokens: list[Token], text: bytes) -> bool:
    """Whether `text` matches the compiled pattern."""
    t = s = 0
    star_t, star_s = -1, 0
    n_tokens, n_text = len(tokens), len(text)
    while s < n_text:
        if t < n_tokens:
            token = tokens[t]
            if token is None:
                star_t, star_s = t, s
                t += 1
                continue
            if text[s] in token:
                t += 1
                s += 1
                continue
        if star_t < 0:
            return False
        star_s += 1  # let the last star swallow one more byte and retry from there
        t, s = star_t + 1, star_s
    while t < n_tokens and tokens[t] is None:
        t += 1
    return t == n_tokens


def _regex(tokens: list[Token]) -> re.Pattern[bytes]:
    parts = []
    for token in tokens:
        if token is None:
            parts.append(b".*")
        elif len(token) == 1:
            parts.append(re.escape(bytes(token)))
        elif token == _ALL:
            parts.append(b".")
        elif not token:
            parts.append(b"(?!)")
        else:
            parts.append(b"[" + b"".join(re.escape(bytes((c,))) for c in sorted(token)) + b"]")
    return re.compile(b"".join(parts), re.DOTALL)


@lru_cache(maxsize=64)
def matcher(pattern: bytes) -> Callable[[bytes], bool]:
    """A function telling whether a key matches `pattern` (cached per pattern)."""
    tokens = compile_tokens(pattern)
    if tokens == [None]:
        return lambda _key: True
    if tokens.count(None) <= 1:
        fullmatch = _regex(tokens).fullmatch
        return lambda key: fullmatch(key) is not None
    return lambda key: match_tokens(tokens, key)


def glob_match(pattern: bytes, key: bytes) -> bool:
    """Whether `key` matches the Redis glob `pattern`."""
    return matcher(pattern)(key)
