"""The lane diagram: a schedule as a message sequence chart, one lane per CPU, time running down.

Built from a RunView dict (its events, violations and CPUs) and nothing else, so the HTML pane,
the SVG export and the JSON API show the same rows. Long stretches in which a CPU only walks
through kernel code are collapsed into one block row; a step that takes or drops a lock, frees or
allocates, caches a pointer to a heap object, writes the zswap state (LRU, tree, entries, folios),
crashes, or is the current step always keeps a row of its own, because those are the steps a race
is made of.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from app.model.views.codetext import step_lines
from app.model.views.viewtypes import LaneMark, LaneRow, LaneView

# Memory errors that stop the CPU where they happen, with the words a row shows for them.
CRASH_LABELS: dict[str, str] = {
    "use-after-free": "use-after-free",
    "null-deref": "NULL dereference",
    "double-free": "double free",
}
MIN_BLOCK = 3  # this many plain steps of one CPU in a row or more become one block row
# Written parts of the world (StepResult.changed keys) that the race is about: a step writing
# one of them keeps its own row even without a mark (list_lru_isolate, zswap_entry_get, ...).
RACE_STATE = ("lru", "tree:", "entry:", "heap:", "folio:")
MAX_BLOCK_FUNCTIONS = 3  # a block names at most this many of the functions it went through


def crash_steps(violations: Iterable[Mapping[str, Any]]) -> dict[int, str]:
    """Schedule index -> crash label, for every memory error reported at a step."""
    out: dict[int, str] = {}
    for v in violations:
        label = CRASH_LABELS.get(v["kind"])
        if label is not None and v.get("step") is not None:
            out.setdefault(v["step"], label)
    return out


def step_marks(event: Mapping[str, Any], crash: str, current: bool) -> list[LaneMark]:
    """The marks of one step, in a fixed order; no marks means the step may be collapsed."""
    marks: list[LaneMark] = []
    if event["locks_taken"]:
        marks.append("lock")
    if event["locks_released"]:
        marks.append("unlock")
    if event["freed"]:
        marks.append("free")
    if event["allocated"]:
        marks.append("alloc")
    if event.get("pointers"):
        marks.append("pointer")
    if crash:
        marks.append("crash")
    if current:
        marks.append("current")
    return marks


def ref_label(ref: Mapping[str, str]) -> str:
    """A heap object as rows name it: its label ("trees", "E"), else its address."""
    return ref["name"] or ref["addr"]


def _names(refs: Iterable[Mapping[str, str]]) -> list[str]:
    return [ref_label(r) for r in refs]


def _step_row(event: Mapping[str, Any], marks: list[LaneMark], crash: str) -> LaneRow:
    i = event["index"]
    return {
        "cpu": event["cpu"], "first": i, "last": i, "count": 1,
        "function": event["function"], "line_label": event["line_label"], "text": event["text"],
        "step_id": event["step"], "marks": marks,
        "lock_names": [*event["locks_taken"], *event["locks_released"]],
        "locks_taken": list(event["locks_taken"]), "locks_released": list(event["locks_released"]),
        "freed_names": _names(event["freed"]), "allocated_names": _names(event["allocated"]),
        "pointer_names": [f"{p['local']} → {ref_label(p)}" for p in event.get("pointers", ())],
        "crash": crash, "narration": event["narration"],
        "lines": step_lines(event), "story": "", "fold": [],
    }


def _block_row(events: Sequence[Mapping[str, Any]]) -> LaneRow:
    last = events[-1]
    functions: list[str] = []
    for e in events:
        if e["function"] not in functions:
            functions.append(e["function"])
    shown = " → ".join(f"{f}()" for f in functions[:MAX_BLOCK_FUNCTIONS])
    if len(functions) > MAX_BLOCK_FUNCTIONS:
        shown += " → …"
    return {
        "cpu": last["cpu"], "first": events[0]["index"], "last": last["index"], "count": len(events),
        "function": functions[0], "line_label": last["line_label"],
        "text": f"{shown} ×{len(events)} steps", "step_id": last["step"], "marks": [],
        "lock_names": [], "locks_taken": [], "locks_released": [], "freed_names": [], "allocated_names": [],
        "pointer_names": [], "crash": "", "narration": last["narration"], "lines": [], "story": "", "fold": [],
    }


def writes_race_state(event: Mapping[str, Any]) -> bool:
    """The step wrote a part of the world the race is about (not only its own CPU or the swap
    device's bookkeeping)."""
    return any(key.startswith(RACE_STATE) for key in event.get("changed", ()))


def _flush(plain: list[Mapping[str, Any]], rows: list[LaneRow]) -> None:
    """Emit a stretch of plain steps of one CPU: a block when long enough."""
    if len(plain) >= MIN_BLOCK:
        rows.append(_block_row(plain))
    else:
        rows.extend(_step_row(e, [], "") for e in plain)
    plain.clear()


def _rows(events: Sequence[Mapping[str, Any]], crashes: Mapping[int, str], current: int) -> list[LaneRow]:
    """Rows for a stretch of events: a step of its own for each race step, blocks between."""
    rows: list[LaneRow] = []
    plain: list[Mapping[str, Any]] = []
    for e in events:
        crash = crashes.get(e["index"], "")
        marks = step_marks(e, crash, e["index"] == current)
        if plain and e["cpu"] != plain[-1]["cpu"]:
            _flush(plain, rows)
        if marks or writes_race_state(e):
            _flush(plain, rows)
            rows.append(_step_row(e, marks, crash))
        else:
            plain.append(e)
    _flush(plain, rows)
    return rows


def _fold_text(events: Sequence[Mapping[str, Any]], labels: Mapping[int, str]) -> str:
    """What a folded stretch did, per CPU: "CPU2: sys_swapoff(), try_to_unuse(), unuse_pte_range() …"."""
    order: dict[int, list[str]] = {}
    for e in events:
        functions = order.setdefault(e["cpu"], [])
        if e["function"] not in functions:
            functions.append(e["function"])
    parts = []
    for cpu, functions in order.items():
        shown = ", ".join(f"{f}()" for f in functions[:MAX_BLOCK_FUNCTIONS])
        parts.append(f"{labels.get(cpu, f'CPU{cpu}')}: {shown}{' …' if len(functions) > MAX_BLOCK_FUNCTIONS else ''}")
    return "; ".join(parts)


def _fold_row(events: Sequence[Mapping[str, Any]], rows: list[LaneRow], labels: Mapping[int, str]) -> LaneRow:
    row = _block_row(events)
    row.update({"cpu": events[0]["cpu"], "function": "", "line_label": "", "text": _fold_text(events, labels),
                "fold": rows})
    return row


def _story_rows(events: Sequence[Mapping[str, Any]], story: Mapping[str, Any], crashes: Mapping[int, str],
                labels: Mapping[int, str]) -> list[LaneRow]:
    """The rows up to the story's end: its steps, each a row of its own, and every stretch between
    them folded into one row that holds the stretch's usual rows."""
    keep = {int(i): role for i, role in story["roles"].items()}
    current = len(events) - 1
    rows: list[LaneRow] = []
    stretch: list[Mapping[str, Any]] = []

    def fold() -> None:
        if stretch:
            inner = _rows(stretch, crashes, current)
            rows.extend(inner) if len(inner) == 1 else rows.append(_fold_row(stretch, inner, labels))
            stretch.clear()

    for e in events:
        if e["index"] in keep:
            fold()
            crash = crashes.get(e["index"], "")
            row = _step_row(e, step_marks(e, crash, e["index"] == current), crash)
            row["story"] = keep[e["index"]]
            rows.append(row)
        else:
            stretch.append(e)
    fold()
    return rows


def lane_rows(view: Mapping[str, Any]) -> LaneView:
    """The lane diagram of a RunView: every step covered by exactly one row (or one folded row),
    in schedule order. Once a violation has happened, the rows up to it are its story's steps
    (story.py) with the stretches between them folded, so that the caching, the unlocking, the
    free and the access are on one screen; the steps after it get their usual rows."""
    events = view["events"]
    crashes = crash_steps(view["violations"])
    labels = {c["id"]: c["label"] for c in view["cpus"]}
    story = view.get("story")
    end = story.get("end") if story else None
    if story and end is not None and story["roles"]:
        rows = _story_rows(events[: end + 1], story, crashes, labels) + _rows(events[end + 1:], crashes, len(events) - 1)
    else:
        rows = _rows(events, crashes, len(events) - 1)
    return {"folded": bool(story and end is not None), "cpus": [c["id"] for c in view["cpus"]],
            "labels": [c["label"] for c in view["cpus"]], "rows": rows}
