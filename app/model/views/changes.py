"""Which pane rows the last step changed, derived from what the step wrote.

A step records the keys of the world parts it wrote (``StepResult.changed``: "lru", "locks",
"tree:0x…", "entry:0x…", "folio:0x…", "heap:0x…", "swap", "pte:A"). A pane shows several
parts: the tree pane shows the trees (which live inside the kvcalloc'd array, a heap object),
their locks and the entries; freeing the array changes the tree and its tree->lock even though
the step wrote only "heap:<array>". This module maps written keys to the rows each pane shows,
so the web marks exactly what changed and nothing else.
"""
from __future__ import annotations

from app.model.kernel.state import World
from app.model.views.stepfacts import lock_changes

Changes = dict[str, list[str]]  # pane -> the ids of its rows that changed ("" = the pane as a whole)


def _add(out: Changes, pane: str, row: str) -> None:
    rows = out.setdefault(pane, [])
    if row not in rows:
        rows.append(row)


def pane_changes(changed: list[str], before: World, after: World) -> Changes:
    """Map one step's written keys to {pane: [row ids]} for the panes tree, lru, swapcache,
    locks, heap and swap. Row ids are the ones the panes use: "tree:<addr>", "entry:<addr>",
    "zswap_trees", "folio:<addr>", "lock:lru", "lock:tree:<addr>", "lock:folio:<addr>",
    "heap:<addr>", "pte:<process>", and "" for a pane-wide change."""
    out: Changes = {}
    heap = {o.addr: o for o in after.heap}
    for key in changed:
        kind, _, addr = key.partition(":")
        if kind == "lru":
            _add(out, "lru", "")
        elif kind == "tree":
            _add(out, "tree", key)
        elif kind == "entry":
            _add(out, "tree", key)
        elif kind == "folio":
            _add(out, "swapcache", key)
        elif kind in ("swap", "pte"):
            _add(out, "swap", key if kind == "pte" else "")
        elif kind == "heap":
            _add(out, "heap", key)
            obj = heap.get(int(addr, 16))
            if obj is None:
                continue
            if obj.kind == "trees":
                # The trees live inside this array: freeing it frees every tree and tree->lock.
                for t in after.trees:
                    if t.array == obj.addr:
                        _add(out, "tree", f"tree:{t.addr:#x}")
                        if obj.freed:
                            _add(out, "locks", f"lock:tree:{t.addr:#x}")
            elif obj.kind == "entry":
                _add(out, "tree", f"entry:{addr}")
            elif obj.kind == "folio":
                _add(out, "swapcache", f"folio:{addr}")
    if before.zswap_trees != after.zswap_trees:
        _add(out, "tree", "zswap_trees")
    for key, _name, _was, _now in lock_changes(before, after):
        _add(out, "locks", key)
    return out
