"""A self-contained HTML picture of a verbose check (no network: inline CSS and JS).

For each partition: a timeline with one row per client and one box per
operation, the longest partial linearisation found (numbered boxes and a
table with the state before and after each step), and, for an illegal
partition, where it breaks: the operation whose return came before it could
be linearised, and the candidates that were tried in the final state.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sentinel.lin.checker import CheckResult, LinearizationInfo, PartitionInfo
from sentinel.lin.history import Operation
from sentinel.lin.model import describe_operation, describe_state

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em} h2{font-size:1.1em;margin-top:2em}
.verdict-illegal{color:#b00020} .verdict-ok{color:#1b5e20} .verdict-unknown{color:#8a6d00}
.timeline{position:relative;border:1px solid #ccc;background:#fafafa;margin:.5em 0}
.row{position:relative;height:30px;border-bottom:1px dotted #ddd}
.client{position:absolute;left:0;width:70px;top:6px;font-size:12px;color:#555}
.track{position:absolute;left:75px;right:8px;top:0;bottom:0}
.op{position:absolute;top:4px;height:20px;box-sizing:border-box;border:1px solid #777;
 border-radius:3px;font-size:11px;line-height:18px;white-space:nowrap;overflow:hidden;
 padding:0 3px;background:#e0e0e0;cursor:default;min-width:4px}
.op.linearized{background:#c8e6c9;border-color:#2e7d32}
.op.candidate{background:#ffe0b2;border-color:#e65100}
.op.blocker{background:#ffcdd2;border-color:#b00020;border-width:2px}
.op.pending{border-right:3px dashed #555}
.op:hover{outline:2px solid #1565c0;z-index:5}
.op .n{font-weight:bold;margin-right:3px}
table{border-collapse:collapse;font-size:12px;margin:.5em 0}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;font-family:monospace}
tr.break td{background:#ffcdd2}
#hover{position:fixed;right:1em;top:1em;max-width:40em;background:#fff;border:1px solid #888;
 padding:.6em;font-size:12px;font-family:monospace;white-space:pre-wrap;display:none;z-index:10}
.legend span{display:inline-block;padding:0 6px;margin-right:6px;border:1px solid #777}
"""

_JS = """
(function(){
  var box=document.getElementById('hover');
  document.querySelectorAll('.op').forEach(function(el){
    el.addEventListener('mouseenter',function(){
      box.textContent=el.getAttribute('data-detail');box.style.display='block';});
    el.addEventListener('mouseleave',function(){box.style.display='none';});
  });
})();
"""


@dataclass(frozen=True)
class _Step:
    order: int  # 1-based position in the partial linearisation
    before: str
    after: str


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _replay(
    model: Any, ops: Sequence[Operation], seq: Sequence[int]
) -> tuple[dict[int, _Step], Any]:
    """States along the partial linearisation ``seq``; returns the steps and the final state."""
    state = model.init()
    steps: dict[int, _Step] = {}
    for order, i in enumerate(seq, start=1):
        legal, new_state = model.step(state, ops[i].input, ops[i].output)
        if not legal:  # cannot happen for a sequence the checker built
            break
        steps[i] = _Step(order, describe_state(model, state), describe_state(model, new_state))
        state = new_state
    return steps, state


def _partition_title(model: Any, ops: Sequence[Operation], index: int) -> str:
    describe = getattr(model, "describe_partition", None)
    return describe(ops) if describe and ops else f"partition {index}"


def _render_partition(model: Any, part: PartitionInfo, index: int) -> str:
    ops = part.operations
    partials = part.partial_linearizations()
    seq = partials[0] if partials else ()
    steps, final_state = _replay(model, ops, seq)
    remaining = [i for i in range(len(ops)) if i not in steps]
    blocker: int | None = None
    candidates: dict[int, bool] = {}
    if part.result is CheckResult.ILLEGAL and remaining:
        blocker = min(remaining, key=lambda i: (ops[i].return_time, ops[i].call_time))
        for i in remaining:
            if ops[i].call_time <= ops[blocker].return_time:
                candidates[i] = model.step(final_state, ops[i].input, ops[i].output)[0]

    times = sorted({t for op in ops for t in (op.call_time, op.return_time) if t != float("inf")})
    rank = {t: r for r, t in enumerate(times)}
    span = len(times) + 1  # one slot past the end for pending operations

    def pos(t: float) -> float:
        return 100.0 * rank.get(t, len(times)) / span

    rows: dict[int, list[str]] = {}
    for i, op in enumerate(ops):
        text = describe_operation(model, op.input, op.output)
        classes = ["op"]
        label = _esc(text)
        detail = [f"op {i}, client {op.client_id}: {text}"]
        if op.pending:
            classes.append("pending")
            detail.append("outcome unknown: open until the end of the history")
        if i in steps:
            classes.append("linearized")
            st = steps[i]
            label = f'<span class="n">{st.order}</span>{label}'
            detail.append(f"linearised #{st.order} of {len(seq)}")
            detail.append(f"state before: {st.before}\nstate after:  {st.after}")
        else:
            detail.append("not in the longest partial linearisation")
        if i == blocker:
            classes.append("blocker")
            detail.append("BREAKS HERE: returns before it can be linearised")
        elif i in candidates:
            classes.append("candidate")
        if i in candidates:
            verdict = "legal" if candidates[i] else "illegal"
            detail.append(
                f"in the final state {describe_state(model, final_state)} this step is {verdict}"
            )
        longest_here = part.longest[i]
        if longest_here is not None:
            detail.append(f"longest partial linearisation containing it: {len(longest_here)} ops")
        left = pos(op.call_time)
        width = max(pos(op.return_time) - left, 100.0 / span / 2)
        rows.setdefault(op.client_id, []).append(
            f'<div class="{" ".join(classes)}" data-op="{i}" '
            f'style="left:{left:.3f}%;width:{width:.3f}%" title="{_esc(text)}" '
            f'data-detail="{_esc(chr(10).join(detail))}">{label}</div>'
        )
    timeline = "".join(
        f'<div class="row"><div class="client">client {_esc(c)}</div>'
        f'<div class="track">{"".join(rows[c])}</div></div>'
        for c in sorted(rows)
    )
    table_rows = [
        f"<tr><td>{steps[i].order}</td><td>{i}</td><td>{_esc(ops[i].client_id)}</td>"
        f"<td>{_esc(describe_operation(model, ops[i].input, ops[i].output))}</td>"
        f"<td>{_esc(steps[i].before)}</td><td>{_esc(steps[i].after)}</td></tr>"
        for i in seq
        if i in steps
    ]
    if blocker is not None:
        tried = ", ".join(
            f"op {i} {describe_operation(model, ops[i].input, ops[i].output)} "
            f"({'legal' if ok else 'illegal'})"
            for i, ok in candidates.items()
        )
        table_rows.append(
            f'<tr class="break"><td colspan="6">breaks here: in state '
            f"{_esc(describe_state(model, final_state))} no order of the candidates "
            f"[{_esc(tried)}] lets op {blocker} "
            f"({_esc(describe_operation(model, ops[blocker].input, ops[blocker].output))}, "
            f"client {_esc(ops[blocker].client_id)}) be linearised before it returns</td></tr>"
        )
    verdict = part.result.value
    body = (
        f'<div class="timeline">{timeline}</div>'
        f"<p>Longest partial linearisation: {len(steps)} of {len(ops)} operations.</p>"
        '<table class="linearization"><tr><th>#</th><th>op</th><th>client</th>'
        "<th>operation</th><th>state before</th><th>state after</th></tr>"
        f"{''.join(table_rows)}</table>"
    )
    heading = (
        f"{_esc(_partition_title(model, ops, index))}: "
        f'<span class="verdict-{verdict}">{verdict}</span> ({len(ops)} operations)'
    )
    if part.result is CheckResult.OK:
        return f'<details class="partition"><summary>{heading}</summary>{body}</details>'
    return f'<section class="partition"><h2>{heading}</h2>{body}</section>'


def render_html(info: LinearizationInfo, title: str = "Linearizability check") -> str:
    """The picture as one HTML string; illegal partitions come first and open."""
    model = info.model
    order = {CheckResult.ILLEGAL: 0, CheckResult.UNKNOWN: 1, CheckResult.OK: 2}
    indexed = sorted(enumerate(info.partitions), key=lambda kp: (order[kp[1].result], kp[0]))
    results = {p.result for p in info.partitions}
    overall = (
        CheckResult.ILLEGAL
        if CheckResult.ILLEGAL in results
        else CheckResult.UNKNOWN
        if CheckResult.UNKNOWN in results
        else CheckResult.OK
    )
    sections = "".join(_render_partition(model, part, k) for k, part in indexed)
    legend = (
        '<p class="legend"><span class="op linearized" style="position:static">linearised</span>'
        '<span class="op candidate" style="position:static">candidate at the break</span>'
        '<span class="op blocker" style="position:static">breaks here</span>'
        '<span class="op" style="position:static">not linearised</span>'
        " Hover over an operation for the states before and after it.</p>"
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{_esc(title)}: <span class="verdict-{overall.value}">{overall.value}</span></h1>'
        f'{legend}{sections}<div id="hover"></div><script>{_JS}</script></body></html>'
    )


def visualize(
    info: LinearizationInfo, path: str | os.PathLike[str], title: str = "Linearizability check"
) -> None:
    """Write the picture of a verbose check to ``path``."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(render_html(info, title))
