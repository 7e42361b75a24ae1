"""Splitting an inline command line into arguments exactly as Redis does (`sdssplitargs`).

Inline commands are what a person types into `nc`/`telnet`; redis-cli's own syntax for
quoting is the same function. Words are separated by whitespace; `"double quotes"` allow
the escapes `\\n \\r \\t \\b \\a \\\\ \\"` and `\\xHH`; `'single quotes'` allow only `\\'`. A
closing quote must be followed by whitespace or the end of the line, and a quote must be
closed: otherwise the line is malformed (`None`). As in Redis (a C string), a NUL byte ends
the line.
"""

from __future__ import annotations

_SPACE = frozenset(b" \t\n\r\x0b\x0c")
_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_HEX = frozenset(b"0123456789abcdefABCDEF")
_DQ, _SQ, _BS = ord('"'), ord("'"), ord("\\")


def split_args(line: bytes) -> list[bytes] | None:
    """The arguments of one inline line (without its newline); None if quotes are unbalanced."""
    nul = line.find(b"\0")
    if nul >= 0:
        line = line[:nul]
    if b'"' not in line and b"'" not in line:
        return line.split()
    args: list[bytes] = []
    pos, size = 0, len(line)
    while True:
        while pos < size and line[pos] in _SPACE:
            pos += 1
        if pos >= size:
            return args
        word = bytearray()
        pos = _word(line, pos, word)
        if pos < 0:
            return None
        args.append(bytes(word))


def _closed(line: bytes, pos: int) -> int:
    """After the closing quote at `pos`: the next position, or -1 if a word goes on."""
    return -1 if pos + 1 < len(line) and line[pos + 1] not in _SPACE else pos + 1


def _word(line: bytes, pos: int, word: bytearray) -> int:
    """Read one word from `pos` into `word`; the position after it, or -1 if malformed."""
    size = len(line)
    quote = 0  # the open quote character, 0 outside quotes
    while True:
        if pos >= size:
            return -1 if quote else pos
        ch = line[pos]
        if quote == _DQ:
            if (
                ch == _BS
                and pos + 3 < size
                and line[pos + 1] == ord("x")
                and (line[pos + 2] in _HEX and line[pos + 3] in _HEX)
            ):
                word.append(int(line[pos + 2 : pos + 4], 16))
                pos += 3
            elif ch == _BS and pos + 1 < size:
                pos += 1
                word.append(_ESCAPES.get(line[pos], line[pos]))
            elif ch == _DQ:
                return _closed(line, pos)
            else:
                word.append(ch)
        elif quote == _SQ:
            if ch == _BS and pos + 1 < size and line[pos + 1] == _SQ:
                pos += 1
                word.append(_SQ)
            elif ch == _SQ:
                return _closed(line, pos)
            else:
                word.append(ch)
        elif ch in _SPACE:
            return pos
        elif ch in (_DQ, _SQ):
            quote = ch
        else:
            word.append(ch)
        pos += 1
