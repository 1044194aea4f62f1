"""Two runs side by side: where they part, and what differs between their states.

Two runs of one scenario (old and new code on one schedule, or two schedules on one code) are
compared step by step on what each step did (its CPU, function, kernel line and narration); the
first step where they disagree is where they part. Their final states are compared pane by pane
(CPUs, zswap tree, LRU, swap cache, locks, heap, swap, reports) on what the stage shows, with heap
objects matched by their names (E, trees, F_sw), which are the same under every code.
"""
from __future__ import annotations

from typing import Any, TypedDict

from app.model.views.viewtypes import RunView

PANES = ("cpus", "report", "tree", "lru", "swapcache", "locks", "heap", "swap")
PANE_TITLES = {"cpus": "CPUs", "report": "Reports", "tree": "zswap tree", "lru": "zswap LRU",
               "swapcache": "Swap cache", "locks": "Locks", "heap": "Heap", "swap": "Swap device"}


class Difference(TypedDict):
    pane: str  # one of PANES
    what: str  # "CPU1 status", "entry E", "tree->lock (trees[0])"
    a: str  # how run A shows it ("—" when A has no such thing)
    b: str


class Parting(TypedDict):
    index: int  # 0-based step where the runs part
    a: str | None  # what A did at that step ("CPU1 shrink_memcg_cb b:883 spin_lock(...)"), None: A has no such step
    b: str | None


class Comparison(TypedDict):
    parting: Parting | None  # None: the same steps all along, and the same number of them
    differences: list[Difference]  # of the final states, in PANES order
    by_pane: dict[str, list[Difference]]


def _step_key(e: dict[str, Any]) -> tuple[Any, ...]:
    return (e["cpu"], e["function"], e["text"], e["narration"])


def step_text(e: dict[str, Any], label: str | None = None) -> str:
    where = " ".join(p for p in (e["function"], e["line_label"]) if p)
    return f"{label or 'CPU' + str(e['cpu'])} {where}: {e['text']}"


def parting(a: RunView, b: RunView) -> Parting | None:
    """The first step where the runs do different things, or where one stops and the other goes on."""
    ea, eb = a["events"], b["events"]
    labels_a = {c["id"]: c["label"] for c in a["cpus"]}
    labels_b = {c["id"]: c["label"] for c in b["cpus"]}
    for i, (x, y) in enumerate(zip(ea, eb)):
        if _step_key(x) != _step_key(y):  # type: ignore[arg-type]
            return {"index": i, "a": step_text(x, labels_a.get(x["cpu"])), "b": step_text(y, labels_b.get(y["cpu"]))}  # type: ignore[arg-type]
    if len(ea) == len(eb):
        return None
    i = min(len(ea), len(eb))
    return {"index": i,
            "a": step_text(ea[i], labels_a.get(ea[i]["cpu"])) if i < len(ea) else None,  # type: ignore[arg-type]
            "b": step_text(eb[i], labels_b.get(eb[i]["cpu"])) if i < len(eb) else None}  # type: ignore[arg-type]


def _line(line: dict[str, Any] | None) -> str:
    if line is None:
        return "—"
    return " ".join(p for p in (line["function"], line["line_label"], line["text"]) if p)


def facts(view: RunView) -> dict[str, tuple[str, str, str]]:
    """What the stage shows of a state, as {key: (pane, label, text)}; keys match across codes."""
    out: dict[str, tuple[str, str, str]] = {}
    for c in view["cpus"]:
        who = c["label"]
        out[f"cpu{c['id']}.status"] = ("cpus", f"{who} status", c["status_text"])
        out[f"cpu{c['id']}.next"] = ("cpus", f"{who} next line", _line(c["next"]))  # type: ignore[arg-type]
        if c["result"]:
            out[f"cpu{c['id']}.result"] = ("cpus", f"{who} result", c["result"])
        for local in c["locals"]:
            mark = " (dangling)" if local["dangling"] else ""
            out[f"cpu{c['id']}.local.{local['name']}"] = ("cpus", f"{who} {local['name']}", local["value"] + mark)
    kinds = [f"{v['kind']} in {v['function']} {v['line_label']}".strip() for v in view["violations"]]
    out["report"] = ("report", "violations", "; ".join(kinds) or "none")
    world = view["world"]
    out["tree.zswap_trees"] = ("tree", "zswap_trees[0]", world["zswap_trees"] or "NULL")
    for tr in world["trees"]:
        names = ", ".join(f"slot {e['offset']} → {e['name']}" for e in tr["entries"]) or "empty"
        out[f"tree.{tr['index']}"] = ("tree", f"trees[{tr['index']}]", ("freed · " if tr["freed"] else "") + names)
    for e in world["entries"]:
        state = [f"ref {e['refcount']}", "in tree" if e["in_tree"] else "not in tree",
                 "on LRU" if e["on_lru"] else "off LRU"] + (["freed"] if e["freed"] else [])
        out[f"entry.{e['name']}"] = ("tree", f"entry {e['name']}", " · ".join(state))
    out["lru"] = ("lru", "LRU", " → ".join(world["lru"]["names"]) or "(empty)")
    for f in world["swapcache"]:
        state = ["in swap cache" if f["in_swapcache"] else "not in swap cache",
                 f"locked by CPU{f['locked_by']}" if f["locked_by"] else "unlocked",
                 "uptodate" if f["uptodate"] else "!uptodate"] + (["freed"] if f["freed"] else [])
        out[f"folio.{f['name']}"] = ("swapcache", f"folio {f['name']}", " · ".join(state))
    for lock in world["locks"]:
        holder = f"held by CPU{lock['holder']}" if lock["holder"] else "free"
        waiting = f", CPU{', CPU'.join(str(w) for w in lock['waiters'])} waiting" if lock["waiters"] else ""
        out[f"lock.{lock['name']}"] = ("locks", lock["name"], holder + waiting)
    for o in world["heap"]:
        state = "live"
        if o["freed"]:
            state = "freed" + (f" by CPU{o['free_cpu']}" if o["free_cpu"] else "") + (
                f" at step {o['free_step'] + 1}" if o["free_step"] is not None else "")
        out[f"heap.{o['name'] or o['addr']}"] = ("heap", f"{o['name']} ({o['type']})", state)
    swap = world["swap"]
    out["swap.writeok"] = ("swap", "SWP_WRITEOK", "set" if swap["writeok"] else "clear")
    for s in swap["slots"]:
        out[f"swap.slot.{s['offset']}"] = ("swap", f"swap_map[{s['offset']}]", s["map_text"])
    for p in world["ptes"]:
        out[f"pte.{p['key']}"] = ("swap", f"PTE of {p['name']}", p["value"])
    return out


def differences(a: RunView, b: RunView) -> list[Difference]:
    fa, fb = facts(a), facts(b)
    out: list[Difference] = []
    for key in list(fa) + [k for k in fb if k not in fa]:
        pane, what, _ = fa.get(key) or fb[key]
        va, vb = fa.get(key, (pane, what, "—"))[2], fb.get(key, (pane, what, "—"))[2]
        if va != vb:
            out.append({"pane": pane, "what": what, "a": va, "b": vb})
    # By pane, and on the CPUs pane by CPU (a line only B has joins its CPU's lines, not the end).
    out.sort(key=lambda d: (PANES.index(d["pane"]), d["what"].split(" ")[0] if d["pane"] == "cpus" else ""))
    return out


def compare(a: RunView, b: RunView) -> Comparison:
    diffs = differences(a, b)
    return {"parting": parting(a, b), "differences": diffs,
            "by_pane": {p: [d for d in diffs if d["pane"] == p] for p in PANES}}
