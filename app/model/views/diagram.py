"""A schedule as the two-column race diagram kernel commit messages draw (plain text, <= 72 columns).

The patch that fixed this race explains it with

    CPU1                    CPU2
    shrink_memcg_cb         swap_off
      list_lru_isolate        zswap_invalidate
                              zswap_swapoff
                                kfree(tree)
      // UAF
      spin_lock(&tree->lock)

`commit_diagram` draws any replayed schedule the same way, so that a race found in the visualizer
can be pasted into a commit message or a mail: one column per CPU, time running down, each kernel
function a CPU enters as a heading `function()`, and under it only the steps that touch the state
a zswap race is about (locks, frees, zswap trees and entries, the crash); every other step is
folded into its function's heading. Spaces, never tabs, and no line longer than 72 columns: long
lines wrap at a call's parenthesis or comma, the way kernel code wraps.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.model.views.lanes import crash_steps, ref_label
from app.model.views.view import PLAIN_CALLS

WIDTH = 72
RACE_KEYS = ("tree:", "entry:", "lru")  # written world parts that a zswap race is about
RACE_TYPES = "struct zswap_"  # heap objects whose allocation or pointer matters: trees, entries
CRASH_COMMENTS = {"use-after-free": "// UAF", "NULL dereference": "// NULL deref", "double free": "// double free"}
LEGEND = "f(): its steps that take no lock and touch no zswap state are left out"

_WORD_NEXT = re.compile(r"\s*[^\s)]")  # a wrapped line must not start with a lone `)`
_DECLARATION = re.compile(r"^(?:const\s+)?(?:struct\s+\w+|unsigned\s+\w+|\w+)(?:\s*\*\s*|\s+)(?=\w+\s*=[^=])")


@dataclass(frozen=True)
class _Row:
    cpu: int
    indent: int
    text: str


def _code(text: str) -> str:
    """A quoted kernel line as diagrams write it: no `;` or `{`, no declaration type."""
    text = text.strip().rstrip("{").rstrip().rstrip(";").rstrip()
    return _DECLARATION.sub("", text, count=1)


def _cut(text: str, room: int, lead: int) -> int:
    """Where to break ``text`` so that its first line fits ``room`` columns, the way kernel code
    wraps: after a call's `(` or a `,` (the longest such line), else after `x =`, else at a
    space, else after a `_` inside a long name, else anywhere."""
    third = max(lead, room // 3)
    tiers: tuple[tuple[tuple[tuple[str, int], ...], int], ...] = (  # ((mark, columns kept), ...), floor
        ((("(", 1), (", ", 1)), third),
        (((" = ", 2),), lead),
        (((" ", 0),), third),
        ((("_", 1),), lead),
    )
    for marks, floor in tiers:
        cuts = [m.start() + keep for mark, keep in marks for m in re.finditer(re.escape(mark), text)]
        cuts = [c for c in cuts if floor < c <= room and _WORD_NEXT.match(text, c)]
        if cuts:
            return max(cuts)
    return room


def _wrap(text: str, width: int, continuation: int) -> list[str]:
    """Lines of at most ``width`` columns; a continuation is indented (or stays a `//` comment)."""
    more = "// " if text.startswith("//") else " " * continuation
    if len(more) * 2 >= width:  # a very narrow column: no room for indented continuations
        more = ""
    lines: list[str] = []
    lead = 0
    while len(text) > width:
        cut = _cut(text, width, lead)
        lines.append(text[:cut].rstrip())
        text = more + text[cut:].lstrip()
        lead = len(more)
    lines.append(text)
    return lines


def _is_race_step(event: Mapping[str, Any], crashed: bool) -> bool:
    """Does this step belong in the diagram (rather than in its function's heading)?"""
    if crashed or event["locks_taken"] or event["locks_released"] or event["freed"]:
        return True
    if any(a["type"].startswith(RACE_TYPES) for a in [*event["allocated"], *event["pointers"]]):
        return True
    return any(k.startswith(RACE_KEYS) for k in event["changed"])


def _mentions(text: str, name: str) -> bool:
    return bool(name) and re.search(rf"\b{re.escape(name)}\b", text) is not None


def _comment(event: Mapping[str, Any], text: str) -> str:
    """What the step did that its line does not say: `// drops nlru->lock, frees E`."""
    said = [f"takes {n}" for n in event["locks_taken"] if n not in text]
    said += [f"drops {n}" for n in event["locks_released"] if n not in text]
    said += [f"frees {ref_label(r)}" for r in event["freed"] if not _mentions(text, r["name"])]
    said += [f"allocates {ref_label(r)}" for r in event["allocated"]
             if r["type"].startswith(RACE_TYPES) and not _mentions(text, r["name"])]
    return "// " + ", ".join(said) if said else ""


def _depths(view: Mapping[str, Any]) -> dict[int, dict[str, int]]:
    """CPU -> step id -> nesting depth in its actor's program listing (0 = the actor's function)."""
    out: dict[int, dict[str, int]] = {}
    for cpu in view["cpus"]:
        depths = out[cpu["id"]] = {}
        for line in cpu["program"]:
            depths.setdefault(line["step"], line["depth"])
    return out


def _enter(stack: list[tuple[str, int]], function: str, depth: int) -> bool:
    """Track one CPU's call stack of (function, listing depth); True when ``function`` is newly
    entered (it gets a heading). Returning to a function on the stack pops back to it; a deeper
    listing depth, or a call the model makes in its caller's frame (view.PLAIN_CALLS), nests."""
    for i, (name, d) in enumerate(stack):
        if (name, d) == (function, depth):
            del stack[i + 1:]
            return False
    while stack and (stack[-1][1] > depth or
                     (stack[-1][1] == depth and function not in PLAIN_CALLS.get(stack[-1][0], ()))):
        stack.pop()
    stack.append((function, depth))
    return True


def _rows(view: Mapping[str, Any], unit: int, deepest: int) -> list[_Row]:
    """The diagram's logical rows: function headings, race steps and their comments. Calls nest
    by ``unit`` columns, down to ``deepest`` levels (deeper ones line up with their caller)."""
    crashes = crash_steps(view["violations"])
    depths = _depths(view)
    stacks: dict[int, list[tuple[str, int]]] = {c["id"]: [] for c in view["cpus"]}
    rows: list[_Row] = []
    for e in view["events"]:
        cpu, stack = e["cpu"], stacks[e["cpu"]]
        if _enter(stack, e["function"], depths[cpu].get(e["step"], 0)):
            rows.append(_Row(cpu, min(len(stack) - 1, deepest) * unit, f"{e['function']}()"))
        crash = crashes.get(e["index"], "")
        if not _is_race_step(e, bool(crash)):
            continue
        indent = (min(len(stack) - 1, deepest) + 1) * unit
        text = _code(e["text"])
        if crash:
            rows.append(_Row(cpu, indent, CRASH_COMMENTS[crash]))
        rows.append(_Row(cpu, indent, text))
        comment = _comment(e, text)
        if comment:
            rows.append(_Row(cpu, indent, comment))
    return rows


def commit_diagram(view: Mapping[str, Any]) -> str:
    """The run of a RunView as a commit-message race diagram (no line over 72 columns)."""
    # The I/O completion pseudo-CPU gets a column only once it has completed a write.
    stepped = {e["cpu"] for e in view["events"]}
    cpus = [c["id"] for c in view["cpus"] if c.get("actor") != "io" or c["id"] in stepped]
    column = WIDTH // max(len(cpus), 1)
    unit, deepest = (2, 4) if len(cpus) <= 2 else (1, 2)  # narrower columns nest less
    x = {cpu: i * column for i, cpu in enumerate(cpus)}
    gap = 1 if len(cpus) <= 2 else 0  # a column's text stops short of the next one (room allowing)
    end = {cpu: (WIDTH if i == len(cpus) - 1 else x[cpu] + column - gap) for i, cpu in enumerate(cpus)}
    label = {c["id"]: c["label"] for c in view["cpus"]}
    lines = ["".join(label[cpu].ljust(column) for cpu in cpus).rstrip()]
    rows = _rows(view, unit, deepest)
    for row in rows:
        start = x[row.cpu] + row.indent
        for chunk in _wrap(row.text, end[row.cpu] - start, unit):
            lines.append((" " * start + chunk).rstrip())
    if not view["events"]:
        lines.append("(no step taken yet)")
    else:
        lines += ["", LEGEND]
    return "\n".join(lines) + "\n"
