"""A schedule as the two-column race diagram kernel commit messages draw (plain text, <= 72 columns).

`commit_diagram` is what diagram.txt serves: for a run with a violation, its story (story.py: the
few steps the violation depends on, in the shape of the fix's commit message, quoted there); else
the step-level diagram.
`full_diagram` draws every race step of any replayed schedule: one column per CPU, time running
down, each kernel function a CPU enters as a heading `function()` nested under its caller as in the
kernel (zswap_invalidate() under swap_range_free(), __list_lru_walk_one() under list_lru_walk_one()),
and under it only the steps that touch the state a zswap race is about (locks, frees, zswap trees
and entries, the crash); every other step is folded into its function's heading. A lock taken or
dropped by a kernel line other than the step's quoted one is that line, on a line of its own
(codetext.step_lines), so a lock mark never sits on a line that takes or drops no lock. Spaces,
never tabs, no line longer than 72 columns, and no identifier broken across lines: long lines wrap
at a call's parenthesis or comma, the way kernel code wraps.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.model.actors.programs import PROGRAMS
from app.model.kernel.lines import line_of
from app.model.views.codetext import WIDTH, code, step_lines, wrap
from app.model.views.lanes import crash_steps, ref_label
from app.model.views.story import story

RACE_KEYS = ("tree:", "entry:", "lru")  # written world parts that a zswap race is about
RACE_TYPES = "struct zswap_"  # heap objects whose allocation or pointer matters: trees, entries
CRASH_COMMENTS = {"use-after-free": "// UAF", "NULL dereference": "// NULL deref", "double free": "// double free"}
LEGEND = "f(): its steps that take no lock and touch no zswap state are left out"

# Who calls whom, as in the kernel, among the functions the actors step through (intermediate
# frames the model does not step through are left out, as commit messages leave them out).
CALLERS = {
    "__list_lru_walk_one": "list_lru_walk_one",
    "shrink_memcg_cb": "__list_lru_walk_one",
    "zswap_writeback_entry": "shrink_memcg_cb",
    "try_to_unuse": "sys_swapoff",
    "unuse_pte_range": "try_to_unuse",
    "zswap_swapoff": "sys_swapoff",
    "zswap_load": "swap_read_folio",
    "zswap_invalidate": "swap_range_free",
    "free_swap_and_cache": "zap_pte_range",
    "__try_to_reclaim_swap": "free_swap_and_cache",
    "add_to_swap": "shrink_folio_list",
    "zswap_store": "shrink_folio_list",
    "__remove_mapping": "shrink_folio_list",
}


@dataclass(frozen=True)
class _Row:
    cpu: int
    indent: int
    text: str


def _is_race_step(event: Mapping[str, Any], crashed: bool) -> bool:
    """Does this step belong in the diagram (rather than in its function's heading)?"""
    if crashed or event["locks_taken"] or event["locks_released"] or event["freed"]:
        return True
    if any(a["type"].startswith(RACE_TYPES) for a in [*event["allocated"], *event["pointers"]]):
        return True
    return any(k.startswith(RACE_KEYS) for k in event["changed"])


def _mentions(text: str, name: str) -> bool:
    return bool(name) and re.search(rf"\b{re.escape(name)}\b", text) is not None


def _lock_comment(taken: list[str], released: list[str], text: str) -> str:
    """What a lock line does that it does not say: `spin_unlock(lock)` // drops nlru->lock."""
    said = [f"takes {n}" for n in taken if n not in text] + [f"drops {n}" for n in released if n not in text]
    return "// " + ", ".join(said) if said else ""


def _heap_comment(event: Mapping[str, Any], text: str) -> str:
    """What the step freed or allocated that its line does not say: `// frees E`."""
    said = [f"frees {ref_label(r)}" for r in event["freed"] if not _mentions(text, r["name"])]
    said += [f"allocates {ref_label(r)}" for r in event["allocated"]
             if r["type"].startswith(RACE_TYPES) and not _mentions(text, r["name"])]
    return "// " + ", ".join(said) if said else ""


class _Frames:
    """One CPU's kernel call stack as the diagram nests it: [(function, listing depth)]."""

    def __init__(self, actor: str) -> None:
        self.listing = {line_of(step).function for step, _ in PROGRAMS.get(actor, ())}
        self.depths = {step: depth for step, depth in reversed(PROGRAMS.get(actor, ()))}
        self.stack: list[tuple[str, int]] = []

    def _ancestors(self, function: str) -> list[str]:
        """``function``'s callers in this actor's program, innermost first, up to one on the stack."""
        out: list[str] = []
        on_stack = {f for f, _ in self.stack}
        caller = CALLERS.get(function)
        while caller is not None and caller in self.listing and caller not in out:
            out.append(caller)
            if caller in on_stack:
                break
            caller = CALLERS.get(caller)
        return out

    def enter(self, function: str, step: str) -> list[str]:
        """Move to ``function`` for a step; the functions newly entered (headings), outermost first."""
        names = [f for f, _ in self.stack]
        if function in names:
            del self.stack[len(names) - names[::-1].index(function):]
            return []
        depth = self.depths.get(step, 0)
        chain = self._ancestors(function)
        names = [f for f, _ in self.stack]
        if chain and chain[-1] in names:  # return to the caller, then call down to the function
            del self.stack[len(names) - names[::-1].index(chain[-1]):]
            chain = chain[:-1]
        else:  # a call made by the line before it (deeper in the listing) or a sibling
            while self.stack and self.stack[-1][1] >= depth:
                self.stack.pop()
        new = [*reversed(chain), function]
        self.stack.extend((f, depth) for f in new)
        return new


def _rows(view: Mapping[str, Any], unit: int, deepest: int) -> list[_Row]:
    """The diagram's logical rows: function headings, race steps (a step's lock line on a line
    of its own) and their comments. Calls nest by ``unit`` columns, down to ``deepest`` levels
    (deeper ones line up with their caller)."""
    crashes = crash_steps(view["violations"])
    frames = {c["id"]: _Frames(c.get("actor", "")) for c in view["cpus"]}
    rows: list[_Row] = []

    def at(level: int) -> int:
        return min(level, deepest) * unit

    for e in view["events"]:
        cpu, f = e["cpu"], frames[e["cpu"]]
        new = f.enter(e["function"], e["step"])
        top = len(f.stack) - len(new)
        for n, name in enumerate(new):
            rows.append(_Row(cpu, at(top + n), f"{name}()"))
        crash = crashes.get(e["index"], "")
        if not _is_race_step(e, bool(crash)):
            continue
        level = len(f.stack)
        lines = step_lines(e)
        if crash:
            rows.append(_Row(cpu, at(level), CRASH_COMMENTS[crash]))
        for line in lines:
            indent = at(level + (1 if line["inside"] else 0))
            rows.append(_Row(cpu, indent, line["text"]))
            comment = _lock_comment(line["locks_taken"], line["locks_released"], line["text"])
            if comment:
                rows.append(_Row(cpu, indent, comment))
        main = next(line["text"] for line in lines if not line["locks_taken"] and not line["locks_released"]) \
            if len(lines) > 1 else lines[0]["text"]
        comment = _heap_comment(e, main)
        if comment:
            rows.append(_Row(cpu, at(level), comment))
    return rows


def _columns(view: Mapping[str, Any]) -> list[int]:
    """The CPUs that get a column: the I/O completion pseudo-CPU only once it has completed a write."""
    stepped = {e["cpu"] for e in view["events"]}
    return [c["id"] for c in view["cpus"] if c.get("actor") != "io" or c["id"] in stepped]


def full_diagram(view: Mapping[str, Any]) -> str:
    """Every race step of a RunView as a commit-message race diagram (no line over 72 columns)."""
    cpus = _columns(view)
    column = WIDTH // max(len(cpus), 1)
    unit, deepest = (2, 6) if len(cpus) <= 2 else (1, 6)  # narrower columns nest less
    x = {cpu: i * column for i, cpu in enumerate(cpus)}
    gap = 1 if len(cpus) <= 2 else 0  # a column's text stops short of the next one (room allowing)
    end = {cpu: (WIDTH if i == len(cpus) - 1 else x[cpu] + column - gap) for i, cpu in enumerate(cpus)}
    label = {c["id"]: c["label"] for c in view["cpus"]}
    lines = ["".join(label[cpu].ljust(column) for cpu in cpus).rstrip()]
    for row in _rows(view, unit, deepest):
        # Deep enough that its longest unbreakable piece would not fit: it moves left to fit.
        piece = max((len(p) for p in re.findall(r"[^\s(,]*[(,]?\)*", row.text)), default=0)
        start = min(x[row.cpu] + row.indent, WIDTH - piece)
        # Each row has a line to itself: a piece that cannot break inside its column runs on
        # into the empty room beside it rather than break an identifier.
        for chunk in wrap(row.text, max(end[row.cpu] - start, 12), unit, WIDTH - start):
            lines.append((" " * start + chunk).rstrip())
    if not view["events"]:
        lines.append("(no step taken yet)")
    else:
        lines += ["", LEGEND]
    return "\n".join(lines) + "\n"


def commit_diagram(view: Mapping[str, Any]) -> str:
    """What diagram.txt serves: the story of the run's violation (story.py), else full_diagram."""
    told = view.get("story") or story(view)
    return told["text"] if told else full_diagram(view)
