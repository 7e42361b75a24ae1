"""The EDN reader's fast lanes read every text exactly as token-by-token reading does."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentinel.lin import HistoryError, read_edn
from sentinel.lin.edn import EdnForms
from sentinel.lin.ednmaps import SAMPLE_MAPS

KEYS = [":process", ":type", ":f", ":value", ":time", ":index", ":error", ":k/x", "1", '"s"']
SEPARATORS = st.sampled_from([" ", ", ", ",", "\n", "  \t", " ; a comment\n", ",\n "])
ATOMS = st.one_of(
    st.sampled_from([":invoke", ":ok", ":cas", "nil", "true", "false", "sym", "a#b", "-0"]),
    st.integers(-(10**20), 10**20).map(str),
    st.integers(0, 99).map(lambda n: f"{n}N"),
    st.sampled_from(["1.5", "-2e3", "3M", "1.2.3", "::x", ":", "\\c", "\\u0041", "##Inf"]),
    st.text(st.sampled_from('ab"\\\n\u00e9 {}[];,#'), max_size=6).map(
        lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'
    ),
    st.sampled_from(['"\\u0041\\n"', '"\\t\\q"', '"unterminated', '"a\nb"', "\u00b2"]),
)


def values(depth: int = 2) -> st.SearchStrategy[str]:
    """EDN text of one value: mostly atoms and flat vectors, sometimes nested or odd."""
    if depth == 0:
        return ATOMS
    inner = values(depth - 1)
    return st.one_of(
        ATOMS,
        st.lists(ATOMS, max_size=4).map(lambda xs: "[" + " ".join(xs) + "]"),
        st.lists(inner, max_size=3).map(lambda xs: "[" + " ".join(xs) + "]"),
        st.lists(inner, max_size=3).map(lambda xs: "(" + " ".join(xs) + ")"),
        st.lists(inner, max_size=2).map(lambda xs: "#{" + " ".join(xs) + "}"),
        inner.map(lambda x: "#_ 9 " + x),
        inner.map(lambda x: "#inst " + x),
        st.tuples(st.sampled_from(KEYS), inner).map(lambda kv: "{" + kv[0] + " " + kv[1] + "}"),
    )


FLAT_VALUES = st.one_of(ATOMS, st.lists(ATOMS, max_size=4).map(lambda xs: "[" + " ".join(xs) + "]"))


@st.composite
def op_map(draw: st.DrawFn, flat: bool) -> str:
    """An op map, usually in one of a few shapes; sometimes odd, spanning lines or broken.

    A ``flat`` map's values are atoms and flat vectors, what the fast lanes take whole.
    """
    keys = draw(
        st.one_of(
            st.sampled_from([KEYS[:6], KEYS[1:7], [":type", ":f", ":value", ":process"]]),
            st.lists(st.sampled_from(KEYS), max_size=5),
        )
    )
    parts = []
    for key in keys:
        parts += [key, draw(SEPARATORS), draw(FLAT_VALUES if flat else values()), draw(SEPARATORS)]
    if draw(st.integers(0, 20)) == 0:
        parts.append(draw(st.sampled_from([":odd", "}", "{", "]", ":a 1"])))
    return "{" + draw(st.sampled_from(["", " ", "\n"])) + "".join(parts) + "}"


@st.composite
def histories(draw: st.DrawFn) -> str:
    """A history text: op maps one after another or in a vector, with what may surround them."""
    flat = draw(st.sampled_from([True, True, True, False]))
    maps = draw(st.lists(op_map(flat), max_size=8))
    text = "".join(m + draw(SEPARATORS) for m in maps)
    if draw(st.booleans()):
        text = "[" + text + "]"
    return draw(st.sampled_from(["", "\n", " ; head\n", "#_ {:a 1} "])) + text


def lines(forms: EdnForms) -> list[int]:
    """The line of each top-level form and of each element of a top-level vector."""
    found = [forms.line_of(start) for start in forms.starts]
    for starts in forms.item_starts.values():
        found += [forms.line_of(start) for start in starts]
    return found


def read_both(text: str) -> tuple[object, object]:
    """What the fast and the token-by-token reading give: forms and lines, or the error."""
    results = []
    for fast in (True, False):
        try:
            forms = read_edn(text, "h.edn", fast=fast)
            results.append((forms.forms, lines(forms)))
        except HistoryError as exc:
            results.append(str(exc))
    return results[0], results[1]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_fast_reading_matches_token_by_token_reading(text: str) -> None:
    fast, general = read_both(text)
    assert fast == general


@pytest.mark.parametrize(
    "text",
    [
        "[{:process 0, :type :ok, :value [1 2]}\n{:process 1, :type :ok, :value [3 4]}]",
        "{:process 0, :type :invoke, :f :read, :value nil}\n" * 3,
        '{:process 0, :type :invoke}\n{:type :ok, :process 0, :value [1 "a\\"b"]}\n',
        "[{:process 0, :value [1 2]}\n{:process 1, :value [[1] 2]}]",
        "{:process 0, :value 1}\n{:process 1, :value 1.2.3}\n",
        '{:process 0, :value "a\n b"}\n{:process 1,\n :value ::x}\n',
        "{:process 0}\n{:process 1}\n;\n",
        "{:a 1 :a 2}",
        "{:process 0, :time 1}\n{:process 0, :time " + "9" * 5000 + "}\n",  # past int()'s limit
        "{:process 1}\n" * SAMPLE_MAPS + "{:processX}\n",  # past the maps whose shapes are learnt
        "{:process 1}\n" * SAMPLE_MAPS + "{:process 1 :type :ok}\n",
    ],
    ids=lambda text: f"{len(text)} chars: {text[:24]!r}",
)
def test_fast_lanes_on_chosen_texts(text: str) -> None:
    fast, general = read_both(text)
    assert fast == general


@pytest.mark.parametrize(("head", "tail"), [("", ""), (" [\n", "]\n"), ("[", "] ,")])
def test_a_uniform_history_takes_the_whole_text_lane(head: str, tail: str) -> None:
    maps = "".join(f"{{:process {p}, :type :invoke, :f :read, :value nil}}\n" for p in range(3))
    forms = read_edn(head + maps + tail)
    assert forms.pattern.pattern.startswith(r"\{")  # the lane's pattern, not _TOKEN's
    fast, general = read_both(head + maps + tail)
    assert fast == general
