"""Redis's number rules: the integers of INCR and the long doubles of INCRBYFLOAT.

Integers (`parse_int`) follow `string2ll`: an optional '-', no '+', no leading zeros, no
spaces, within a signed 64-bit range.

INCRBYFLOAT computes in C `long double` and prints with `%.17Lf`, trailing zeros removed
(src/util.c `ld2string`, LD_STR_HUMAN). Python's float is a double, and `10.5 + 0.1` in
double prints as 10.59999999999999964 with 17 decimals; so this module emulates x86-64's
80-bit long double exactly with `Fraction`s: parse the text as `strtold` does (decimal or
hex, `inf`; not `nan`), round to a 64-bit significand (ties to even), add, round again,
print exactly. Redis on x86-64 gives the same bytes; on a machine whose long double is
128-bit (aarch64) Redis itself would print some results differently.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: Redis refuses float text of this many bytes or more (MAX_LONG_DOUBLE_CHARS).
FLOAT_TEXT_BYTES_MAX = 5 * 1024 - 1

_INT = re.compile(rb"-?[1-9][0-9]{0,19}|0")
_DEC = re.compile(rb"([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?")
_HEX = re.compile(rb"([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?[0-9]+))?")
_INF = re.compile(rb"([+-]?)(?:inf|infinity)", re.IGNORECASE)

_SIGNIFICAND_BITS = 64
_EXP_MAX = 16383  # a finite long double is below 2**16384
_LSB_EXP_MIN = -16445  # the smallest subnormal is 2**-16445
_DIGITS_KEPT = 4000  # decimal digits read exactly; the rest only count as "nonzero"
_EXPONENT_DIGITS_MAX = 6


class Infinite:
    """A parsed infinity (strtold accepts "inf"; any sum with it is refused)."""


INFINITE = Infinite()


def parse_int(text: bytes) -> int | None:
    """The signed 64-bit integer `text` spells as Redis's string2ll reads it, or None."""
    if _INT.fullmatch(text) is None:
        return None
    value = int(text)
    return value if INT64_MIN <= value <= INT64_MAX else None


def round_long_double(value: Fraction) -> Fraction | None:
    """`value` rounded to the nearest x86-64 long double (ties to even); None if it
    overflows to infinity."""
    if value == 0:
        return value
    sign = -1 if value < 0 else 1
    size = abs(value)
    exp = size.numerator.bit_length() - size.denominator.bit_length() - (_SIGNIFICAND_BITS - 1)
    while size >= Fraction(2) ** (exp + _SIGNIFICAND_BITS):
        exp += 1
    while size < Fraction(2) ** (exp + _SIGNIFICAND_BITS - 1):
        exp -= 1
    exp = max(exp, _LSB_EXP_MIN)
    significand = round(size / Fraction(2) ** exp)
    if significand >= 2**_SIGNIFICAND_BITS:
        significand >>= 1
        exp += 1
    if exp + _SIGNIFICAND_BITS > _EXP_MAX + 1:
        return None
    return sign * significand * Fraction(2) ** exp


def _digits_value(digits: bytes, base: int) -> int:
    """int(digits, base), reading at most _DIGITS_KEPT decimal digits exactly and the rest as
    a sticky last digit (enough to round correctly)."""
    if base == 10 and len(digits) > _DIGITS_KEPT:
        head, tail = digits[:_DIGITS_KEPT], digits[_DIGITS_KEPT:]
        sticky = 1 if tail.strip(b"0") else 0
        return (int(head) * 10 + sticky) * 10 ** (len(tail) - 1)
    return int(digits, base) if digits else 0


def parse_long_double(text: bytes) -> Fraction | Infinite | None:
    """What `strtold` makes of the whole of `text`, as Redis's string2ld accepts it: the
    exact long double value, INFINITE, or None when Redis answers "not a valid float"
    (empty, too long, spaces, trailing bytes, nan, overflow, underflow to zero)."""
    if not text or len(text) > FLOAT_TEXT_BYTES_MAX:
        return None
    if _INF.fullmatch(text):
        return INFINITE
    hex_match = _HEX.fullmatch(text)
    match = hex_match or _DEC.fullmatch(text)
    if match is None:
        return None
    sign, whole, frac, exponent = match.groups()
    whole, frac = whole.lstrip(b"0"), frac or b""
    if not (match.group(2) or frac):
        return None  # no digit at all: ".", "e5", "0x"
    base, radix_bits = (16, 4) if hex_match else (10, 0)
    digits = (whole + frac).lstrip(b"0")
    if not digits:
        return Fraction(0)
    exponent = exponent or b"0"
    magnitude = exponent.lstrip(b"+-").lstrip(b"0")
    if len(magnitude) > _EXPONENT_DIGITS_MAX:
        return None  # an exponent of a million or more: overflow or underflow either way
    exp = int(exponent)
    if base == 10:
        scale = exp - len(frac)
        if len(digits) + scale > 4934 or len(digits) + scale < -4960:
            return None  # far above the largest or below half the smallest long double
        value = Fraction(_digits_value(digits, 10)) * Fraction(10) ** scale
    else:
        scale = exp - radix_bits * len(frac)
        if len(digits) * 4 + scale > _EXP_MAX + 8 or len(digits) * 4 + scale < _LSB_EXP_MIN - 8:
            return None
        value = Fraction(_digits_value(digits, 16)) * Fraction(2) ** scale
    rounded = round_long_double(value)
    if rounded is None or rounded == 0:
        return None  # ERANGE: HUGE_VALL or an underflow to zero
    return -rounded if sign == b"-" else rounded


def format_long_double(value: Fraction) -> bytes:
    """`value` as Redis prints a long double for humans: `%.17Lf` with the trailing zeros
    (and a trailing '.') removed, and "-0" written "0"."""
    scaled = round(abs(value) * 10**17)  # exact, ties to even as glibc's printf
    whole, frac = divmod(scaled, 10**17)
    text = f"{whole}.{frac:017d}".rstrip("0").rstrip(".")
    if value < 0 and text != "0":
        text = "-" + text
    return text.encode()


def add_long_doubles(current: bytes, increment: bytes) -> bytes | str:
    """The text INCRBYFLOAT stores for `current + increment`, or the reason it refuses
    ("float": an operand is not a float; "nan": the sum would be NaN or infinite)."""
    left = parse_long_double(current)
    right = parse_long_double(increment)
    if left is None or right is None:
        return "float"
    if isinstance(left, Infinite) or isinstance(right, Infinite):
        return "nan"
    total = round_long_double(left + right)
    if total is None:
        return "nan"
    return format_long_double(total)


_C_SPACE = b" \t\n\v\f\r"


def _strtod(text: bytes) -> float | None:
    """What C's `strtod` makes of the whole of `text` (decimal, hex, inf; not nan), with
    overflow to +-inf and underflow to 0 as it rounds; None if it does not read all of it."""
    if _INF.fullmatch(text):
        return -math.inf if text[:1] == b"-" else math.inf
    if _HEX.fullmatch(text):
        match = _HEX.fullmatch(text)
        assert match is not None
        sign, whole, frac, exponent = match.groups()
        if not (whole or frac):
            return None
        body = b"0x" + (whole or b"0") + b"." + (frac or b"0") + b"p" + (exponent or b"0")
        try:
            value = float.fromhex(body.decode())
        except OverflowError:
            value = math.inf
        return -value if sign == b"-" else value
    match = _DEC.fullmatch(text)
    if match is None or not (match.group(2) or match.group(3)):
        return None
    return float(text)  # the grammar matched: Python reads it as strtod does


def parse_double(text: bytes) -> float | None:
    """A score as Redis's getDoubleFromObject reads it, or None ("value is not a valid
    float"): the whole text, no leading space, no nan, no overflow and no underflow to 0."""
    if not text or text[:1] in _C_SPACE:
        return None
    value = _strtod(text)
    if value is None:
        return None
    if math.isinf(value) and not _INF.fullmatch(text):
        return None  # ERANGE: HUGE_VAL
    if value == 0 and _nonzero_digits(text):
        return None  # ERANGE: an underflow to zero
    return value


def _nonzero_digits(text: bytes) -> bool:
    """Whether the significand of a float text has a digit other than 0."""
    hexed = _HEX.fullmatch(text)
    if hexed:
        return bool((hexed.group(2) + (hexed.group(3) or b"")).strip(b"0"))
    match = _DEC.fullmatch(text)
    return match is not None and bool((match.group(2) + (match.group(3) or b"")).strip(b"0"))


def parse_range_double(text: bytes) -> float | None:
    """A bound of ZRANGEBYSCORE / ZCOUNT as Redis's zslParseRange reads it with strtod:
    leading spaces allowed, overflow gives +-inf, no nan, the whole text; None if not."""
    if not text:
        return 0.0  # strtod reads nothing and its end is the (empty) end: Redis takes 0
    value = _strtod(text.lstrip(_C_SPACE))
    return None if value is None or math.isnan(value) else value


def format_double(value: float) -> str:
    """A double as Redis writes it: the shortest text that reads back the same, `inf`,
    `-inf` or `nan`, and integral values without a fraction (`3`, not `3.0`)."""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if math.isnan(value):
        return "nan"
    if value.is_integer() and abs(value) < 1e17:
        return str(int(value))
    return repr(value)
