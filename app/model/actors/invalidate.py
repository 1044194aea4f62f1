"""zswap_invalidate() and the end of swap_range_free(), spec section 4.4.

Reached when a swap slot is really freed. The caller sets ``inv_offset``.
"""
from __future__ import annotations

from app.model.kernel.engine import Ctx, step_def
from app.model.actors.common import entry_name, invalidate_entry, need_tree, rb_search


@step_def("I1")
def i1_tree(c: Ctx) -> None:
    tree = need_tree(c)
    c.set("inv_tree", tree)
    c.say(f"zswap_invalidate() looks up the zswap tree for slot {c.get('inv_offset')}.")
    c.goto("I2")


@step_def("I2")
def i2_lock(c: Ctx) -> None:
    c.tree_lock(c.get("inv_tree"))  # type: ignore[arg-type]
    c.say(f"{c.me} takes tree->lock.")
    c.goto("I3")


@step_def("I3")
def i3_search(c: Ctx) -> None:
    found = rb_search(c, c.get("inv_tree"), c.get("inv_offset"))  # type: ignore[arg-type]
    c.set("inv_entry", found)
    if found is None:
        c.say("zswap_rb_search() finds no entry for the slot (it was already written back or loaded).")
        c.goto("I5")
        return
    c.say(f"zswap_rb_search() finds {entry_name(c, found)} for the slot.")
    c.goto("I4")


@step_def("I4")
def i4_invalidate(c: Ctx) -> None:
    addr = c.get("inv_entry")
    c.say(f"zswap_invalidate_entry() erases {entry_name(c, addr)} from the tree and drops the tree's reference.")  # type: ignore[arg-type]
    invalidate_entry(c, c.get("inv_tree"), addr)  # type: ignore[arg-type]
    if addr not in c.freed:
        c.say(f"Someone else still holds a reference, so {entry_name(c, addr)} stays allocated (refcount {c.entry(addr).refcount}).")  # type: ignore[arg-type]
    c.goto("I5")


@step_def("I5")
def i5_unlock(c: Ctx) -> None:
    c.tree_unlock(c.get("inv_tree"))  # type: ignore[arg-type]
    c.say(f"{c.me} releases tree->lock.")
    c.goto("I6")


@step_def("I6")
def i6_inuse(c: Ctx) -> None:
    c.set_swap(inuse_pages=c.swap.inuse_pages - 1)
    c.say(f"swap_range_free() ends with smp_wmb() and inuse_pages-- (now {c.swap.inuse_pages}).")
    for name in ("inv_tree", "inv_entry", "inv_offset"):
        c.set(name, None)
    c.ret()
