"""Redis glob patterns: examples from Redis's docs, and a property test against a direct
transcription of redis's recursive `stringmatchlen` (src/util.c)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentinel.kvraft.keyspace.glob import compile_tokens, glob_match, match_tokens


def reference_match(pattern: bytes, text: bytes) -> bool:
    """Redis's stringmatchlen, step by step (bytes past the end read as NUL, as in C)."""

    def at(data: bytes, i: int) -> int:
        return data[i] if i < len(data) else 0

    def match(p: int, s: int) -> bool:
        plen, slen = len(pattern) - p, len(text) - s
        while plen > 0:
            c = pattern[p]
            if c == ord("*"):
                while at(pattern, p + 1) == ord("*"):
                    p, plen = p + 1, plen - 1
                if plen == 1:
                    return True
                while slen > 0:
                    if match(p + 1, s):
                        return True
                    s, slen = s + 1, slen - 1
                return False
            if c == ord("?"):
                if slen == 0:
                    return False
                s, slen = s + 1, slen - 1
            elif c == ord("["):
                p, plen = p + 1, plen - 1
                negate = at(pattern, p) == ord("^")
                if negate:
                    p, plen = p + 1, plen - 1
                hit = False
                while True:
                    if at(pattern, p) == ord("\\") and plen >= 2:
                        p, plen = p + 1, plen - 1
                        hit |= at(pattern, p) == at(text, s)
                    elif at(pattern, p) == ord("]"):
                        break
                    elif plen == 0:
                        p, plen = p - 1, plen + 1
                        break
                    elif plen >= 3 and at(pattern, p + 1) == ord("-"):
                        low, high = sorted((at(pattern, p), at(pattern, p + 2)))
                        hit |= low <= at(text, s) <= high
                        p, plen = p + 2, plen - 2
                    else:
                        hit |= at(pattern, p) == at(text, s)
                    p, plen = p + 1, plen - 1
                if negate:
                    hit = not hit
                if not hit:
                    return False
                s, slen = s + 1, slen - 1
            else:
                if c == ord("\\") and plen >= 2:
                    p, plen = p + 1, plen - 1
                if at(pattern, p) != at(text, s):
                    return False
                s, slen = s + 1, slen - 1
            p, plen = p + 1, plen - 1
            if slen == 0:
                while at(pattern, p) == ord("*"):
                    p, plen = p + 1, plen - 1
                break
        return plen == 0 and slen == 0

    return match(0, 0)


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        (b"h?llo", b"hello", True),
        (b"h?llo", b"hllo", False),
        (b"h*llo", b"hllo", True),
        (b"h*llo", b"heeeello", True),
        (b"h[ae]llo", b"hallo", True),
        (b"h[ae]llo", b"hillo", False),
        (b"h[^e]llo", b"hallo", True),
        (b"h[^e]llo", b"hello", False),
        (b"h[a-b]llo", b"hbllo", True),
        (b"h[b-a]llo", b"hallo", True),  # a range may come backwards
        (b"h\\*llo", b"h*llo", True),
        (b"h\\*llo", b"hello", False),
        (b"[]a]", b"a", False),  # ']' first closes an empty class
        (b"[^]", b"x", True),
        (b"ab[cd", b"abd", True),  # an unclosed class runs to the end
        (b"*", b"", True),
        (b"a\\", b"a\\", True),
        (b"user:*:name", b"user:42:name", True),
        (b"*a*a*a*a*b", b"a" * 1000, False),  # no exponential backtracking
    ],
)
def test_documented_patterns(pattern: bytes, key: bytes, expected: bool) -> None:
    assert glob_match(pattern, key) is expected


_ALPHABET = st.sampled_from(b"ab*?[]^-\\c")
_PATTERNS = st.lists(_ALPHABET, max_size=10).map(bytes)
_KEYS = st.lists(st.sampled_from(b"abc*?[]^-\\"), min_size=1, max_size=8).map(bytes)


@given(_PATTERNS, _KEYS)
def test_matches_redis_stringmatchlen(pattern: bytes, key: bytes) -> None:
    expected = reference_match(pattern, key)
    assert glob_match(pattern, key) is expected
    assert match_tokens(compile_tokens(pattern), key) is expected  # the non-regex path
