"""The HTML picture of an illegal history."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from sentinel.lin import (
    CheckResult,
    KvInput,
    Operation,
    check_operations_verbose,
    kv_model,
    read_history,
    render_html,
    visualize,
)

HISTORIES = Path(__file__).resolve().parents[1] / "data" / "lin-histories"


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _bad_history() -> list[Operation]:
    return [
        Operation(0, KvInput("put", "k", "a"), 0, None, 10),
        Operation(1, KvInput("append", "k", "b"), 5, None, 15),
        Operation(2, KvInput("get", "k"), 20, "ab", 30),
        Operation(0, KvInput("get", "k"), 40, "a", 50),  # cannot un-append "b"
        Operation(3, KvInput("put", "other", "z"), 0, None, 5),
    ]


def test_picture_of_an_illegal_history(tmp_path: Path) -> None:
    result, info = check_operations_verbose(kv_model, _bad_history())
    assert result is CheckResult.ILLEGAL
    path = tmp_path / "bad.html"
    visualize(info, path, title="my <bad> history")
    text = path.read_text()
    parser = _Collect()
    parser.feed(text)
    tags = parser.tags
    # Self-contained: inline style and script, nothing fetched from elsewhere.
    assert any(tag == "style" for tag, _ in tags) and any(tag == "script" for tag, _ in tags)
    assert not any(a.get("src") or (tag == "link") for tag, a in tags)
    assert "http://" not in text and "https://" not in text
    assert "my &lt;bad&gt; history" in text
    ops = [a for tag, a in tags if tag == "div" and "op" in (a.get("class") or "").split()]
    assert len(ops) == 5
    classes = {a["data-op"]: a["class"] for a in ops}
    # Partition "k" is first; its longest linearisation has the first three ops.
    section = text[text.index("<section") : text.index("</section>")]
    assert "key &#x27;k&#x27;" in section and "verdict-illegal" in section
    assert len(re.findall(r'class="op linearized', section)) == 3
    assert "blocker" in classes["3"]
    details = {a["data-op"]: a["data-detail"] for a in ops}
    assert "state before: &#x27;a&#x27;" in text  # the append's state, shown on hover
    assert "BREAKS HERE" in (details["3"] or "")
    assert "breaks here" in section
    # one row per client of the bad partition
    assert section.count('class="client"') == 3
    # the linearizable partition is there too, folded away
    assert "<details" in text and "key &#x27;other&#x27;" in text


def test_picture_of_porcupine_bad_history() -> None:
    path = HISTORIES / "porcupine-kv" / "c10-bad.txt"
    result, info = check_operations_verbose(kv_model, read_history(path), grace_s=0.5)
    assert result is CheckResult.ILLEGAL
    text = render_html(info, "c10-bad")
    assert text.count("<section") == sum(p.result is CheckResult.ILLEGAL for p in info.partitions)
    assert text.count("breaks here") >= 1
